package plugin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"syncml-imap/pim"
)

// Admin requests are made to the SyncML endpoint's own URL with the query
// parameter "admin" naming the operation, so that they reach the daemon
// wherever the endpoint is mounted (and through a proxy that forwards only
// the endpoint):
//
//	GET  <endpoint>?admin=lockouts[&user=U]   JSON list of Lockout
//	POST <endpoint>?admin=unlock              form user=U [device=ID]
//	                                          JSON list of what was lifted
//	GET  <endpoint>?admin=accounts            JSON list of the users who
//	                                          logged in since the daemon
//	                                          started, sorted (master user only)
const (
	AdminParam    = "admin"
	AdminLockouts = "lockouts"
	AdminUnlock   = "unlock"
	AdminAccounts = "accounts"
)

// AdminHTTP answers the daemon's admin requests: the login throttle's
// lockouts, which live in this process's memory only, and lifting them;
// and the accounts seen logging in, which IMAP cannot list.
//
// Requests carry HTTP Basic credentials: a user's own mail login (checked
// by logging in to IMAP through Auth) allows requests about that user;
// the configured master user's allows requests about any user (and
// lockouts without a user: all of them). Either check goes through the
// throttle like a SyncML login (as a login without a device), so a
// password guesser gets no more tries here. Answers: 401 for missing or
// wrong credentials (or a lockout), 403 for another user's lockouts, 503
// when the IMAP server cannot check the password now.
type AdminHTTP struct {
	// Auth checks a user's password: the Authenticator the SyncML engine
	// uses, throttled.
	Auth pim.Authenticator
	// Throttle holds the lockouts; nil: no throttle, nothing to show.
	Throttle *Throttle
	// Accounts are the users seen logging in; nil: none.
	Accounts *Accounts
	// MasterUser and MasterPassword are [imap] master_user and
	// master_password; no master user: "".
	MasterUser, MasterPassword string
	Logger                     *slog.Logger
}

const adminRealm = `Basic realm="syncml-imap admin", charset="UTF-8"`

func (a *AdminHTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	op := r.URL.Query().Get(AdminParam)
	var method string
	switch op {
	case AdminLockouts, AdminAccounts:
		method = http.MethodGet
	case AdminUnlock:
		method = http.MethodPost
	default:
		http.Error(w, fmt.Sprintf("unknown admin request %q: want %s=%s, %s=%s or %s=%s", op,
			AdminParam, AdminLockouts, AdminParam, AdminUnlock, AdminParam, AdminAccounts), http.StatusNotFound)
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		http.Error(w, fmt.Sprintf("%s=%s takes %s", AdminParam, op, method), http.StatusMethodNotAllowed)
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	user := strings.TrimSpace(r.Form.Get("user"))
	login, master, ok := a.authenticate(w, r)
	if !ok {
		return
	}
	if op == AdminAccounts {
		a.accounts(w, r, login, master)
		return
	}
	switch {
	case user == "" && op == AdminLockouts:
		if !master {
			user = login // one's own
		} // the master's: everybody's
	case user == "":
		http.Error(w, "user is required", http.StatusBadRequest)
		return
	case !master && !strings.EqualFold(user, login):
		a.log().Info("admin request for another user refused", "login", login, "user", user, "remote", RemoteAddr(r.Context()))
		http.Error(w, fmt.Sprintf("%s may see and unlock only its own devices; use the master user for others", login), http.StatusForbidden)
		return
	}
	var out []Lockout
	if op == AdminUnlock {
		device := strings.TrimSpace(r.Form.Get("device"))
		out = a.Throttle.Unlock(user, device)
		a.log().Info("admin unlock", "login", login, "user", user, "device", device, "lifted", len(out), "remote", RemoteAddr(r.Context()))
	} else {
		out = a.Throttle.Lockouts(user)
	}
	if out == nil {
		out = []Lockout{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// accounts answers AdminAccounts: who logged in is the master user's to
// know, not a user's.
func (a *AdminHTTP) accounts(w http.ResponseWriter, r *http.Request, login string, master bool) {
	if !master {
		a.log().Info("admin accounts request refused", "login", login, "remote", RemoteAddr(r.Context()))
		http.Error(w, fmt.Sprintf("%s may not list the accounts; use the master user", login), http.StatusForbidden)
		return
	}
	out := a.Accounts.List()
	if out == nil {
		out = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// authenticate checks the request's credentials and returns the login
// name and whether it is the master user; when !ok it has answered.
func (a *AdminHTTP) authenticate(w http.ResponseWriter, r *http.Request) (login string, master, ok bool) {
	login, password, has := r.BasicAuth()
	if !has || login == "" {
		w.Header().Set("WWW-Authenticate", adminRealm)
		http.Error(w, "credentials required: HTTP Basic, a user's mail login or the master user", http.StatusUnauthorized)
		return "", false, false
	}
	ctx := r.Context()
	var err error
	if a.MasterUser != "" && login == a.MasterUser {
		master = true
		err = a.Throttle.Guard(pim.WithDevice(ctx, ""), login, func() error {
			if subtle.ConstantTimeCompare([]byte(password), []byte(a.MasterPassword)) != 1 {
				return fmt.Errorf("%w: wrong master password", pim.ErrAuthFailed)
			}
			return nil
		})
	} else {
		err = a.checkUser(ctx, login, password)
	}
	switch {
	case err == nil:
		return login, master, true
	case errors.Is(err, pim.ErrAuthFailed) && !errors.Is(err, pim.ErrUnavailable):
		a.log().Info("admin login refused", "login", login, "remote", RemoteAddr(ctx))
		w.Header().Set("WWW-Authenticate", adminRealm)
		http.Error(w, "wrong user name or password, or too many failed logins", http.StatusUnauthorized)
	default:
		a.log().Warn("admin login not checked: IMAP server failing", "login", login, "err", err)
		w.Header().Set("Retry-After", "30")
		http.Error(w, "the IMAP server cannot check the password now; try again later", http.StatusServiceUnavailable)
	}
	return "", false, false
}

// checkUser logs in as user, as a login that names no device.
func (a *AdminHTTP) checkUser(ctx context.Context, user, password string) error {
	st, err := a.Auth.Login(pim.WithDevice(ctx, ""), user, password)
	if err != nil {
		return err
	}
	st.Close()
	return nil
}

func (a *AdminHTTP) log() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}
