package plugin

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"syncml-imap/config"
	"syncml-imap/eas"
	"syncml-imap/pim"
	"syncml-imap/web"
)

// newWeb makes the people's pages of [web] over the daemon's
// Authenticator (throttled like the sync logins), its throttle's
// lockouts, and the master user for the admin page.
func newWeb(cfg *config.Config, auth pim.Authenticator, t *Throttle, h *Handler) (*web.Handler, error) {
	w := &web.Handler{
		Prefix:      cfg.Web.Path,
		Auth:        auth,
		Devices:     func(st pim.Store) *pim.Devices { return AdminDevices(cfg, st) },
		MaxDevices:  cfg.Sync.MaxDevices,
		Policy:      Policy(cfg.Sync.Defaults),
		SessionIdle: cfg.Web.SessionIdle.Duration,
		SessionMax:  cfg.Web.SessionMax.Duration,
		Secure:      strings.HasPrefix(cfg.HTTP.PublicURL, "https:"),
		Logger:      h.Logger,
		Setup: web.Setup{
			PublicURL: cfg.HTTP.PublicURL, SyncMLPath: cfg.HTTP.Path, Aliases: Aliases(cfg.Sync.Aliases),
			Folders:      map[pim.Kind]string{pim.Contacts: cfg.Folders.Contacts, pim.Calendar: cfg.Folders.Calendar, pim.Tasks: cfg.Folders.Tasks},
			BackupFolder: cfg.Folders.Backup,
		},
		Admin: &web.Admin{Master: cfg.IMAP.MasterUser, MasterPassword: cfg.IMAP.MasterPassword, Users: cfg.Web.Admins},
	}
	if cfg.DAV.Enabled {
		w.Setup.DAVPath = cfg.DAV.Path
	}
	if cfg.IMAP.MasterUser != "" {
		w.Admin.Open = func(ctx context.Context, user string, write bool) (pim.Store, error) {
			if write {
				return OpenAccount(ctx, cfg, user, "")
			}
			return OpenAccountReadOnly(ctx, cfg, user, "")
		}
	}
	if h.Admin != nil && h.Admin.Accounts != nil {
		// The users seen logging in and those of [admin] users_file, as
		// "devices list -all" gets them.
		seen := h.Admin.Accounts
		w.Admin.Accounts = func(context.Context) []string {
			users := seen.List()
			if f := cfg.Admin.UsersFile; f != "" {
				named, err := ReadUsersFile(f)
				if err != nil {
					h.Logger.Warn("web: admin page", "err", err)
				}
				for _, u := range named {
					if !slices.ContainsFunc(users, func(s string) bool { return strings.EqualFold(s, u) }) {
						users = append(users, u)
					}
				}
			}
			return users
		}
	}
	if t != nil {
		w.Guard = func(ctx context.Context, user string, check func() error) error {
			return t.Guard(pim.WithDevice(ctx, ""), user, check)
		}
		w.Lockouts = func(user string) []web.Lockout {
			var out []web.Lockout
			for _, l := range t.Lockouts(user) {
				if l.Scope != ScopeAddress {
					out = append(out, webLockout(l))
				}
			}
			return out
		}
		w.Unlock = func(user, device string) int { return len(t.Unlock(user, device)) }
		w.Admin.Lockouts = func() []web.AccountLockout {
			var out []web.AccountLockout
			for _, l := range t.Lockouts("") {
				out = append(out, web.AccountLockout{User: l.User, Lockout: webLockout(l)})
			}
			return out
		}
	}
	if err := w.Init(); err != nil {
		return nil, err
	}
	return w, nil
}

func webLockout(l Lockout) web.Lockout {
	return web.Lockout{Device: l.Device, Failures: l.Failures, LockedUntil: l.LockedUntil, LastFailure: l.LastFailure, LastError: l.LastError}
}

// WebHandler serves the people's pages ([web]), with the client's address
// in the request context for the login throttle; nil when they are off.
func (h *Handler) WebHandler() http.Handler {
	if h.Web == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Web.ServeHTTP(w, r.WithContext(WithRemoteAddr(r.Context(), ClientAddr(r, h.TrustedProxies))))
	})
}

// newEAS makes the ActiveSync front of [activesync] over the daemon's
// Authenticator, and its Autodiscover.
func newEAS(cfg *config.Config, auth pim.Authenticator, h *Handler) (*eas.Handler, *eas.Autodiscover) {
	e := &eas.Handler{Auth: auth, Devices: func(st pim.Store) *pim.Devices { return AdminDevices(cfg, st) },
		Policy: Policy(cfg.Sync.Defaults), Logger: h.Logger, Cache: h.Server.StateCache(),
		Security: eas.Security{RequirePassword: cfg.EAS.RequirePassword, MinPasswordLength: cfg.EAS.MinPasswordLength,
			Alphanumeric: cfg.EAS.AlphanumericPassword, MaxInactivity: cfg.EAS.MaxInactivity.Duration, RequireEncryption: cfg.EAS.RequireEncryption}}
	ad := &eas.Autodiscover{Auth: auth}
	if u, err := url.Parse(cfg.HTTP.PublicURL); err == nil && cfg.HTTP.PublicURL != "" {
		ad.URL = u.Scheme + "://" + u.Host + eas.Path
	}
	return e, ad
}

// EASHandler serves ActiveSync and Autodiscover ([activesync]), with the
// client's address in the request context for the login throttle; nil
// when they are off.
func (h *Handler) EASHandler() http.Handler {
	if h.EAS == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(WithRemoteAddr(r.Context(), ClientAddr(r, h.TrustedProxies)))
		if strings.HasPrefix(strings.ToLower(r.URL.Path), "/autodiscover/") {
			h.Autodiscover.ServeHTTP(w, r)
			return
		}
		h.EAS.ServeHTTP(w, r)
	})
}

// EASPaths are the paths EASHandler serves.
var EASPaths = []string{eas.Path, "/autodiscover/", "/Autodiscover/", "/AutoDiscover/"}
