package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"syncml-imap/pim"
)

// adminAccounts bounds the accounts the admin page opens at once; past
// it, the page lists their names and opens the one asked for.
const adminAccounts = 50

// accountView is an account on the admin page.
type accountView struct {
	User     string
	Devices  []*deviceView
	Lockouts []lockoutView
	Error    string
}

type lockoutView struct {
	User, Device, Until, LastError string
	Failures                       int
}

func (h *Handler) adminPage(w http.ResponseWriter, r *http.Request, s *session) {
	a := h.Admin
	ctx := r.Context()
	asked := strings.TrimSpace(r.URL.Query().Get("user"))
	var names []string
	if a.Accounts != nil {
		names = a.Accounts(ctx)
	}
	var locks []AccountLockout
	if a.Lockouts != nil {
		locks = a.Lockouts()
	}
	for _, l := range locks {
		if l.User != "" && !slices.Contains(names, l.User) {
			names = append(names, l.User)
		}
	}
	if asked != "" && !slices.Contains(names, asked) {
		names = append(names, asked)
	}
	sort.Strings(names)
	open := names
	if asked != "" {
		open = []string{asked}
	} else if len(open) > adminAccounts {
		open = nil
	}
	var accounts []*accountView
	for _, user := range open {
		av := &accountView{User: user}
		for _, l := range locks {
			if strings.EqualFold(l.User, user) {
				av.Lockouts = append(av.Lockouts, lockoutView{User: user, Device: l.Device, Until: when(l.LockedUntil), LastError: l.LastError, Failures: l.Failures})
			}
		}
		if a.Open == nil {
			av.Error = "Set [imap] master_user to see the devices of other accounts."
		} else if st, err := a.Open(ctx, user, false); err != nil {
			av.Error = "Could not open the account: " + err.Error()
		} else {
			devs := h.Devices(st)
			slots, err := devs.List(ctx)
			if err != nil {
				av.Error = "Could not read its devices: " + err.Error()
			}
			for _, sl := range slots {
				v, err := h.view(ctx, st, devs, user, sl, false)
				if err != nil {
					av.Error = err.Error()
					break
				}
				av.Devices = append(av.Devices, v)
			}
			st.Close()
		}
		accounts = append(accounts, av)
	}
	var other []lockoutView // by address, no user
	for _, l := range locks {
		if l.User == "" {
			other = append(other, lockoutView{Device: l.Device, Until: when(l.LockedUntil), LastError: l.LastError, Failures: l.Failures})
		}
	}
	h.render(w, r, s, http.StatusOK, "admin", "Admin", struct {
		Names    []string
		Accounts []*accountView
		Asked    string
		Other    []lockoutView
		CanOpen  bool
	}{names, accounts, asked, other, a.Open != nil})
}

func (h *Handler) adminAction(w http.ResponseWriter, r *http.Request, s *session) {
	user, device := strings.TrimSpace(r.PostFormValue("user")), strings.TrimSpace(r.PostFormValue("device"))
	back := "admin?user=" + url.QueryEscape(user)
	switch r.PathValue("action") {
	case "unlock":
		if h.Unlock == nil {
			h.redirect(w, r, s, back, "This server has no login lockouts.")
			return
		}
		n := h.Unlock(user, device)
		h.Logger.Info("web: admin unlock", "admin", s.user, "user", user, "device", device, "lifted", n)
		h.redirect(w, r, s, back, fmt.Sprintf("%d lockout(s) lifted for %s.", n, orAll(user, device)))
	case "reset":
		if h.Admin.Open == nil || user == "" || device == "" {
			h.redirect(w, r, s, back, "Give a user and a device.")
			return
		}
		st, err := h.Admin.Open(r.Context(), user, true)
		if err != nil {
			h.redirect(w, r, s, back, "Could not open the account: "+err.Error())
			return
		}
		defer st.Close()
		if _, err := h.Devices(st).Reset(r.Context(), device); err != nil {
			h.redirect(w, r, s, back, "Not reset: "+err.Error())
			return
		}
		h.Logger.Info("web: admin reset", "admin", s.user, "user", user, "device", device)
		h.redirect(w, r, s, back, fmt.Sprintf("Device %s of %s was reset: its next sync is a slow sync.", device, user))
	default:
		h.notFound(w, r)
	}
}

func orAll(user, device string) string {
	switch {
	case user == "":
		return "every user"
	case device == "":
		return user
	}
	return user + ", device " + device
}

// namesOf lists the database names a device may use for a database.
func (h *Handler) namesOf(db pim.Kind) []string {
	names := []string{string(db)}
	for k, v := range h.Setup.Aliases {
		if v == db && k != string(db) {
			names = append(names, k)
		}
	}
	sort.Strings(names[1:])
	return names
}
