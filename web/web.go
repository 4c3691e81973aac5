// Package web serves the pages where people sign in with their mail login
// to see and set up their own devices, back up and import their items, and
// read how to set up a device; and the admin page, where the master user
// (or a configured admin) sees every account. It is a front like the
// SyncML and DAV ones: it reaches the mailbox through pim (the device
// slots and policies) and backup (export and import), never IMAP itself.
//
// The pages are plain HTML, made on the server, with one stylesheet and no
// scripts; every form works without JavaScript. A session is a random
// cookie (HttpOnly, SameSite=Lax, Secure under TLS) naming a session in
// this process's memory; every form carries the session's CSRF token, and
// the sign-in form a token of its own (double-submit cookie), so that no
// other site can post a form on a person's behalf or sign them in to an
// account of its choosing.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"syncml-imap/pim"
)

// Names of the cookies.
const (
	sessionCookie = "syncml_imap_session"
	signinCookie  = "syncml_imap_signin"
)

// Lockout is a login lockout the daemon's throttle holds for a user (or
// one of their devices).
type Lockout struct {
	// Device is the locked device ("" for the user as a whole).
	Device      string
	Failures    int
	LockedUntil time.Time
	LastFailure time.Time
	LastError   string
}

// Setup is what the setup page tells people about this server.
type Setup struct {
	// PublicURL is [http] public_url: the server as devices reach it
	// ("" : taken from the request).
	PublicURL string
	// SyncMLPath is the SyncML endpoint's path, DAVPath DAV's ("" : DAV
	// off).
	SyncMLPath, DAVPath string
	// Aliases are the database names devices may use, besides
	// "contacts", "calendar" and "tasks".
	Aliases map[string]pim.Kind
	// Folders names the mail folders of the databases and the backup
	// folder (the automatic copies before first syncs).
	Folders      map[pim.Kind]string
	BackupFolder string
}

// Admin is what the admin page needs; nil: no admin page.
type Admin struct {
	// Master and MasterPassword are [imap] master_user and its password
	// (""): no master user, and the admin page can open no account).
	Master, MasterPassword string
	// Users may open the admin page with their own mail login.
	Users []string
	// Open opens another user's mailbox (with the master user); read
	// only (no folder is created) unless write.
	Open func(ctx context.Context, user string, write bool) (pim.Store, error)
	// Accounts lists the accounts known to the daemon (nil: none), which
	// the admin page lists besides any named.
	Accounts func(ctx context.Context) []string
	// Lockouts lists every lockout, all users (nil: none).
	Lockouts func() []AccountLockout
}

// AccountLockout is a Lockout with its user.
type AccountLockout struct {
	User string
	Lockout
}

// Handler serves the pages under Prefix.
type Handler struct {
	// Prefix is the pages' path, "/" or "/something/".
	Prefix string
	// Auth checks a user's password by logging in to IMAP (throttled: the
	// daemon's Authenticator of the sync logins).
	Auth pim.Authenticator
	// Guard runs a check of the master password as a login attempt of the
	// throttle (nil: the check alone).
	Guard func(ctx context.Context, user string, check func() error) error
	// Devices manages the slots of the account behind a store.
	Devices func(pim.Store) *pim.Devices
	// MaxDevices is [sync] max_devices.
	MaxDevices int
	// Policy is the server's default policy ([sync.defaults]).
	Policy pim.Policy
	// Lockouts lists the user's lockouts (nil: none).
	Lockouts func(user string) []Lockout
	// Unlock lifts a user's (device's) lockouts; nil: no unlocking.
	Unlock func(user, device string) int
	Setup  Setup
	Admin  *Admin
	// SessionIdle, SessionMax end sessions; defaults 30 minutes, 12 hours.
	SessionIdle, SessionMax time.Duration
	// Secure: cookies are Secure whatever the request (the daemon is
	// behind a TLS proxy); a TLS request makes them so anyway.
	Secure bool
	Logger *slog.Logger
	// Now is the clock (time.Now unless a test sets it).
	Now func() time.Time

	mux  *http.ServeMux
	sess *sessions
}

// Init prepares the handler; call it once before serving.
func (h *Handler) Init() error {
	if h.Prefix == "" {
		h.Prefix = "/"
	}
	if !strings.HasPrefix(h.Prefix, "/") || !strings.HasSuffix(h.Prefix, "/") {
		return fmt.Errorf("web: prefix %q must start and end with /", h.Prefix)
	}
	if h.Auth == nil || h.Devices == nil {
		return errors.New("web: Auth and Devices are needed")
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.SessionIdle <= 0 {
		h.SessionIdle = 30 * time.Minute
	}
	if h.SessionMax <= 0 {
		h.SessionMax = 12 * time.Hour
	}
	if h.MaxDevices < 1 {
		h.MaxDevices = 4
	}
	h.sess = newSessions(h.SessionIdle, h.SessionMax, h.Now)
	p := h.Prefix
	m := http.NewServeMux()
	m.HandleFunc("GET "+p+"{$}", h.home)
	m.HandleFunc("POST "+p+"signin", h.signin)
	m.HandleFunc("POST "+p+"signout", h.signedIn(h.signout))
	m.HandleFunc("GET "+p+"style.css", serveStyle)
	m.HandleFunc("GET "+p+"devices", h.own(h.devicesPage))
	m.HandleFunc("GET "+p+"devices/{slot}", h.own(h.onDevice(h.devicePage)))
	m.HandleFunc("POST "+p+"devices/{slot}/policy", h.own(h.onDevice(h.savePolicy)))
	m.HandleFunc("GET "+p+"devices/{slot}/{action}", h.own(h.onDevice(h.confirmPage)))
	m.HandleFunc("POST "+p+"devices/{slot}/{action}", h.own(h.onDevice(h.deviceAction)))
	m.HandleFunc("GET "+p+"backup", h.own(h.backupPage))
	m.HandleFunc("GET "+p+"backup/{file}", h.own(h.download))
	m.HandleFunc("POST "+p+"backup/import", h.own(h.importFile))
	m.HandleFunc("GET "+p+"setup", h.signedIn(h.setupPage))
	m.HandleFunc("GET "+p+"admin", h.adminOnly(h.adminPage))
	m.HandleFunc("POST "+p+"admin/{action}", h.adminOnly(h.adminAction))
	m.HandleFunc(p, h.notFound)
	h.mux = m
	return nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "same-origin")
	// No scripts at all; styles only from the page's own stylesheet.
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	if r.Method == http.MethodPost {
		// The largest form is an import: its file and a little more.
		r.Body = http.MaxBytesReader(w, r.Body, maxImportBytes+1<<20)
	}
	h.mux.ServeHTTP(w, r)
}

// secure reports whether the cookies of a response to r are Secure.
func (h *Handler) secure(r *http.Request) bool { return h.Secure || r.TLS != nil }

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: h.Prefix, MaxAge: maxAge,
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteLaxMode})
}

// current is the request's session, nil when not signed in.
func (h *Handler) current(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	return h.sess.get(c.Value)
}

type sessionHandler func(w http.ResponseWriter, r *http.Request, s *session)

// signedIn runs next for a signed-in request (a POST with the session's
// CSRF token); else the sign-in page (GET) or 403 (POST).
func (h *Handler) signedIn(next sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := h.current(r)
		if s == nil {
			if r.Method == http.MethodGet {
				h.signinPage(w, r, http.StatusUnauthorized, "Your session has ended. Please sign in again.")
				return
			}
			h.errorPage(w, r, nil, http.StatusForbidden, "Refused: you are not signed in, or your session expired. Sign in again and repeat what you did.")
			return
		}
		if r.Method == http.MethodPost && !h.csrfOK(r, s) {
			h.errorPage(w, r, s, http.StatusForbidden, "Refused: the form had expired or did not come from this page. Reload the page and try again.")
			return
		}
		next(w, r, s)
	}
}

// own is signedIn for the pages of a person's own mailbox.
func (h *Handler) own(next sessionHandler) http.HandlerFunc {
	return h.signedIn(func(w http.ResponseWriter, r *http.Request, s *session) {
		if !s.own {
			http.Redirect(w, r, h.Prefix+"admin", http.StatusSeeOther)
			return
		}
		next(w, r, s)
	})
}

func (h *Handler) adminOnly(next sessionHandler) http.HandlerFunc {
	return h.signedIn(func(w http.ResponseWriter, r *http.Request, s *session) {
		if !s.admin || h.Admin == nil {
			h.errorPage(w, r, s, http.StatusForbidden, "This page is for the administrators of this server.")
			return
		}
		next(w, r, s)
	})
}

// csrfOK checks the form's token against the session's. A multipart form
// is parsed with a bound on what it holds in memory.
func (h *Handler) csrfOK(r *http.Request, s *session) bool {
	var v string
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := r.ParseMultipartForm(maxImportBytes); err != nil {
			return false
		}
		v = r.FormValue("csrf")
	} else {
		v = r.PostFormValue("csrf")
	}
	return sameToken(v, s.csrf)
}

// open logs in to the user's mailbox with the session's password. A
// password the mail server no longer takes ends the session.
func (h *Handler) open(w http.ResponseWriter, r *http.Request, s *session) (pim.Store, bool) {
	st, err := h.Auth.Login(r.Context(), s.user, s.password)
	if err == nil {
		return st, true
	}
	switch {
	case errors.Is(err, pim.ErrUnavailable):
		h.errorPage(w, r, s, http.StatusServiceUnavailable, "The mail server cannot be reached now. Please try again in a few minutes.")
	case errors.Is(err, pim.ErrAuthFailed):
		h.sess.drop(s.id)
		h.signinPage(w, r, http.StatusUnauthorized, "The mail server no longer takes your password (was it changed?). Please sign in again.")
	default:
		h.Logger.Warn("web: open mailbox", "user", s.user, "err", err)
		h.errorPage(w, r, s, http.StatusInternalServerError, "Your mailbox could not be opened: "+err.Error())
	}
	return nil, false
}

// redirect answers 303 to a page of the prefix, with a message for it.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, s *session, page, msg string) {
	if msg != "" {
		h.sess.setFlash(s, msg)
	}
	http.Redirect(w, r, h.Prefix+page, http.StatusSeeOther)
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	if s := h.current(r); s != nil {
		if s.own {
			http.Redirect(w, r, h.Prefix+"devices", http.StatusSeeOther)
		} else {
			http.Redirect(w, r, h.Prefix+"admin", http.StatusSeeOther)
		}
		return
	}
	h.signinPage(w, r, http.StatusOK, "")
}

// signinPage shows the sign-in form with a fresh sign-in token.
func (h *Handler) signinPage(w http.ResponseWriter, r *http.Request, code int, msg string) {
	tok := token()
	h.setCookie(w, r, signinCookie, tok, 3600)
	h.render(w, r, nil, code, "signin", "Sign in", struct {
		Token, Error, User string
	}{tok, msg, r.PostFormValue("user")})
}

func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(signinCookie)
	if err != nil || !sameToken(r.PostFormValue("csrf"), c.Value) {
		h.errorPage(w, r, nil, http.StatusForbidden, "Refused: the sign-in form had expired or did not come from this page. Reload the page and sign in again.")
		return
	}
	user, password := strings.TrimSpace(r.PostFormValue("user")), r.PostFormValue("password")
	if user == "" || password == "" {
		h.signinPage(w, r, http.StatusUnauthorized, "Please give your user name and password.")
		return
	}
	own, admin, err := h.check(r.Context(), user, password)
	switch {
	case err == nil:
	case errors.Is(err, pim.ErrUnavailable):
		h.signinPage(w, r, http.StatusServiceUnavailable, "The mail server cannot check your password now. Please try again in a few minutes.")
		return
	case errors.Is(err, pim.ErrAuthFailed):
		if until := h.lockedUntil(user); !until.IsZero() {
			h.signinPage(w, r, http.StatusTooManyRequests, fmt.Sprintf(
				"Too many failed sign-ins for this account: try again after %s.", until.Local().Format("15:04")))
			return
		}
		h.Logger.Info("web: sign-in refused", "user", user)
		h.signinPage(w, r, http.StatusUnauthorized, "The user name or password is wrong.")
		return
	default:
		h.Logger.Warn("web: sign-in", "user", user, "err", err)
		h.signinPage(w, r, http.StatusInternalServerError, "Signing in failed: "+err.Error())
		return
	}
	s := h.sess.create(user, password, own, admin)
	h.setCookie(w, r, sessionCookie, s.id, 0)
	h.setCookie(w, r, signinCookie, "", -1)
	h.Logger.Info("web: signed in", "user", user, "admin", admin)
	if own {
		http.Redirect(w, r, h.Prefix+"devices", http.StatusSeeOther)
	} else {
		http.Redirect(w, r, h.Prefix+"admin", http.StatusSeeOther)
	}
}

// check checks a sign-in: the master user's password (an admin without a
// mailbox of their own), else the user's own with the mail server.
func (h *Handler) check(ctx context.Context, user, password string) (own, admin bool, err error) {
	if a := h.Admin; a != nil && a.Master != "" && user == a.Master {
		check := func() error {
			if !sameToken(password, a.MasterPassword) {
				return pim.ErrAuthFailed
			}
			return nil
		}
		if h.Guard != nil {
			err = h.Guard(ctx, user, check)
		} else {
			err = check()
		}
		return false, err == nil, err
	}
	st, err := h.Auth.Login(ctx, user, password)
	if err != nil {
		return false, false, err
	}
	st.Close()
	if h.Admin != nil {
		for _, a := range h.Admin.Users {
			if strings.EqualFold(a, user) {
				admin = true
			}
		}
	}
	return true, admin, nil
}

// lockedUntil is when the user's lockout ends (zero: not locked).
func (h *Handler) lockedUntil(user string) time.Time {
	if h.Lockouts == nil {
		return time.Time{}
	}
	for _, l := range h.Lockouts(user) {
		if l.Device == "" && l.LockedUntil.After(h.Now()) {
			return l.LockedUntil
		}
	}
	return time.Time{}
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request, s *session) {
	h.sess.drop(s.id)
	h.setCookie(w, r, sessionCookie, "", -1)
	h.Logger.Info("web: signed out", "user", s.user)
	http.Redirect(w, r, h.Prefix, http.StatusSeeOther)
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.errorPage(w, r, h.current(r), http.StatusNotFound, "There is no such page.")
}

func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, s *session, code int, msg string) {
	h.render(w, r, s, code, "error", http.StatusText(code), msg)
}

// slotOf finds the device of the {slot} path value.
func (h *Handler) slotOf(w http.ResponseWriter, r *http.Request, s *session, devs *pim.Devices) (*pim.Slot, bool) {
	n, err := strconv.Atoi(r.PathValue("slot"))
	if err == nil {
		all, err := devs.List(r.Context())
		if err != nil {
			h.storeError(w, r, s, err)
			return nil, false
		}
		for _, sl := range all {
			if sl.Number == n {
				return sl, true
			}
		}
	}
	h.errorPage(w, r, s, http.StatusNotFound, "There is no device in that slot (any more).")
	return nil, false
}

func (h *Handler) storeError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	if errors.Is(err, pim.ErrUnavailable) {
		h.errorPage(w, r, s, http.StatusServiceUnavailable, "The mail server cannot be reached now. Please try again in a few minutes.")
		return
	}
	h.Logger.Warn("web: store", "user", s.user, "err", err)
	h.errorPage(w, r, s, http.StatusInternalServerError, "Your mailbox could not be read: "+err.Error())
}
