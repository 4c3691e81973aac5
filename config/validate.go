package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
	_ "time/tzdata" // time_zone names resolve on hosts without a zoneinfo database

	"syncml-imap/internal/folderpath"
)

// Validate checks c for values that are out of range or inconsistent. It
// returns nil, one *Error, or errors.Join of several, each naming the key
// concerned. Load and Parse call it; call it yourself after changing a
// Config in code. Validate does not open any file or connection.
func (c *Config) Validate() error {
	return joinErrors(c.validate())
}

func joinErrors(errs []*Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

type checker struct {
	errs []*Error
}

func (ch *checker) fail(key, format string, args ...any) {
	ch.errs = append(ch.errs, &Error{Key: key, Msg: key + ": " + fmt.Sprintf(format, args...)})
}

func (ch *checker) required(key, v string) bool {
	if strings.TrimSpace(v) == "" {
		ch.fail(key, "must not be empty")
		return false
	}
	return true
}

func (ch *checker) hostPort(key, v, example string) {
	if !ch.required(key, v) {
		return
	}
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		ch.fail(key, "%q is not host:port, e.g. %q", v, example)
	}
}

func (ch *checker) notNegative(key string, d Duration) {
	if d.Duration < 0 {
		ch.fail(key, "must not be negative, got %q", d)
	}
}

func checkEnum[T ~string](ch *checker, key string, v T, allowed []T) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	ch.fail(key, "invalid value %q; want %s", v, choices(allowed))
}

func (c *Config) validate() []*Error {
	ch := &checker{}
	c.IMAP.check(ch)
	c.HTTP.check(ch)
	c.Folders.check(ch)
	c.Sync.check(ch)
	c.checkAuthLog(ch)
	c.checkDAV(ch)
	ch.notNegative("activesync.ping_poll", c.EAS.PingPoll)
	c.checkWeb(ch)
	c.checkEAS(ch)
	c.checkAdmin(ch)
	return ch.errs
}

// check checks [imap].
func (im *IMAP) check(ch *checker) {
	ch.hostPort("imap.address", im.Address, "imap.example.org:993")
	checkEnum(ch, "imap.tls", im.TLS, tlsModes())
	if im.CAFile != "" && im.TLS == TLSNone {
		ch.fail("imap.ca_file", "is set but imap.tls is %q, so it would not be used", TLSNone)
	}
	ch.required("imap.master_separator", im.MasterSeparator)
	switch {
	case im.MasterUser != "" && im.MasterPassword == "":
		ch.fail("imap.master_user", "is set but imap.master_password is empty")
	case im.MasterUser == "" && im.MasterPassword != "":
		ch.fail("imap.master_password", "is set but imap.master_user is empty")
	}
	if im.MasterUser != "" && im.MasterSeparator != "" && strings.Contains(im.MasterUser, im.MasterSeparator) {
		ch.fail("imap.master_user", "must not contain imap.master_separator %q", im.MasterSeparator)
	}
	ch.notNegative("imap.dial_timeout", im.DialTimeout)
	ch.notNegative("imap.command_timeout", im.CommandTimeout)
	ch.notNegative("imap.keep_idle", im.KeepIdle)
	if im.KeepPerUser < 0 {
		ch.fail("imap.keep_per_user", "must not be negative")
	}
	if im.MaxUserConnections < 0 {
		ch.fail("imap.max_user_connections", "must not be negative, got %d (0 means no limit)", im.MaxUserConnections)
	}
	ch.notNegative("imap.connection_wait", im.ConnectionWait)
}

// check checks [http].
func (h *HTTP) check(ch *checker) {
	ch.hostPort("http.listen", h.Listen, "127.0.0.1:8080")
	if ch.required("http.path", h.Path) && !strings.HasPrefix(h.Path, "/") {
		ch.fail("http.path", "%q must start with \"/\"", h.Path)
	}
	switch {
	case h.TLSCert != "" && h.TLSKey == "":
		ch.fail("http.tls_cert", "is set but http.tls_key is empty")
	case h.TLSCert == "" && h.TLSKey != "":
		ch.fail("http.tls_key", "is set but http.tls_cert is empty")
	}
	if h.PublicURL != "" {
		u, err := url.Parse(h.PublicURL)
		switch {
		case err != nil:
			ch.fail("http.public_url", "%q is not a URL", h.PublicURL)
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			ch.fail("http.public_url", "%q is not an absolute http:// or https:// URL", h.PublicURL)
		case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
			ch.fail("http.public_url", "%q must not have a query or fragment", h.PublicURL)
		}
	}
	if h.MaxBodyBytes < 0 {
		ch.fail("http.max_body_bytes", "must not be negative, got %d", h.MaxBodyBytes)
	}
	ch.notNegative("http.session_timeout", h.SessionTimeout)
	ch.notNegative("http.idle_release", h.IdleRelease)
	if h.PprofListen != "" {
		host, port, err := net.SplitHostPort(h.PprofListen)
		ip, perr := netip.ParseAddr(host)
		switch {
		case err != nil || port == "":
			ch.fail("http.pprof_listen", "%q is not host:port, e.g. %q", h.PprofListen, "127.0.0.1:6060")
		case host != "localhost" && (perr != nil || !ip.IsLoopback()):
			ch.fail("http.pprof_listen", "%q must be a loopback address (the profiler shows the daemon's memory)", h.PprofListen)
		}
	}
	if h.MaxSessions < 0 {
		ch.fail("http.max_sessions", "must not be negative, got %d", h.MaxSessions)
	}
	if h.MaxUserSessions < 0 {
		ch.fail("http.max_user_sessions", "must not be negative, got %d", h.MaxUserSessions)
	}
	// The endpoint, metrics and health check share one listener, so each
	// needs a path of its own.
	paths := map[string]string{}
	if h.Path != "" {
		paths[h.Path] = "http.path"
	}
	for i, p := range h.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			ch.fail("http.trusted_proxies", "entry %d (%q) is neither an IP address nor a CIDR range", i+1, p)
		}
	}
	for _, p := range []struct{ key, path string }{{"http.metrics_path", h.MetricsPath}, {"http.health_path", h.HealthPath}} {
		switch {
		case p.path == "":
		case !strings.HasPrefix(p.path, "/"):
			ch.fail(p.key, "%q must start with \"/\" (or be empty to disable it)", p.path)
		case paths[p.path] != "":
			ch.fail(p.key, "%q is also %s", p.path, paths[p.path])
		default:
			paths[p.path] = p.key
		}
	}
}

// checkDAV checks [dav]: its path is its own on the listener.
func (c *Config) checkDAV(ch *checker) {
	d := c.DAV
	if !d.Enabled {
		return
	}
	p := strings.TrimSuffix(d.Path, "/")
	switch {
	case !strings.HasPrefix(d.Path, "/") || p == "":
		ch.fail("dav.path", "%q must start with \"/\" and name a path below the root, e.g. \"/dav/\"", d.Path)
	case strings.HasPrefix(p, "/.well-known"):
		ch.fail("dav.path", "%q is under /.well-known, where the redirects to it are", d.Path)
	default:
		for _, o := range []struct{ key, path string }{{"http.path", c.HTTP.Path}, {"http.metrics_path", c.HTTP.MetricsPath}, {"http.health_path", c.HTTP.HealthPath}} {
			op := strings.TrimSuffix(o.path, "/")
			if o.path != "" && (op == p || strings.HasPrefix(op, p+"/") || strings.HasPrefix(p, op+"/")) {
				ch.fail("dav.path", "%q overlaps %s %q", d.Path, o.key, o.path)
			}
		}
	}
}

// checkEAS checks [activesync]'s device policy: MS-ASPROV's bounds, and
// no lock without a password.
func (c *Config) checkEAS(ch *checker) {
	if a := c.EAS; a.MinPasswordLength < 0 || a.MinPasswordLength > 16 {
		ch.fail("activesync.min_password_length", "must be 0 to 16 (MS-ASPROV), got %d", a.MinPasswordLength)
	} else if a.MinPasswordLength > 0 && !a.RequirePassword {
		ch.fail("activesync.min_password_length", "is %d, but require_password is false: set require_password = true or min_password_length = 0", a.MinPasswordLength)
	}
	if a := c.EAS; a.MaxInactivity.Duration < 0 || a.MaxInactivity.Duration > 9999*time.Second {
		ch.fail("activesync.max_inactivity", "must be 0s to 9999s (MS-ASPROV), got %s", a.MaxInactivity.Duration)
	} else if a.MaxInactivity.Duration > 0 && !a.RequirePassword {
		ch.fail("activesync.max_inactivity", "locks the device, which needs require_password = true")
	}
}

// checkWeb checks [web]: a path of its own (or the root, under which the
// other paths keep theirs) and sessions that end.
func (c *Config) checkWeb(ch *checker) {
	w := c.Web
	if !w.Enabled {
		return
	}
	if !strings.HasPrefix(w.Path, "/") || !strings.HasSuffix(w.Path, "/") {
		ch.fail("web.path", "%q must start and end with \"/\", e.g. \"/\" or \"/sync/\"", w.Path)
	} else if w.Path != "/" {
		p := strings.TrimSuffix(w.Path, "/")
		others := []struct{ key, path string }{{"http.path", c.HTTP.Path}, {"http.metrics_path", c.HTTP.MetricsPath}, {"http.health_path", c.HTTP.HealthPath}}
		if c.DAV.Enabled {
			others = append(others, struct{ key, path string }{"dav.path", c.DAV.Path})
		}
		for _, o := range others {
			op := strings.TrimSuffix(o.path, "/")
			if o.path != "" && (op == p || strings.HasPrefix(op, p+"/") || strings.HasPrefix(p, op+"/")) {
				ch.fail("web.path", "%q overlaps %s %q", w.Path, o.key, o.path)
			}
		}
		if strings.HasPrefix(p, "/.well-known") {
			ch.fail("web.path", "%q is under /.well-known", w.Path)
		}
	}
	if w.SessionIdle.Duration <= 0 {
		ch.fail("web.session_idle", "must be more than 0, e.g. \"30m\"")
	}
	if w.SessionMax.Duration < w.SessionIdle.Duration {
		ch.fail("web.session_max", "must be at least web.session_idle (%s)", w.SessionIdle.Duration)
	}
	for _, a := range w.Admins {
		if strings.TrimSpace(a) == "" {
			ch.fail("web.admins", "an empty user name")
		}
	}
}

// check checks [folders].
func (fo *Folders) check(ch *checker) {
	folders := []struct{ key, name string }{
		{"folders.contacts", fo.Contacts},
		{"folders.calendar", fo.Calendar},
		{"folders.tasks", fo.Tasks},
		{"folders.state", fo.State},
	}
	for i, f := range folders {
		if !ch.required(f.key, f.name) {
			continue
		}
		if strings.EqualFold(f.name, "INBOX") {
			ch.fail(f.key, "must not be INBOX")
			continue
		}
		for _, g := range folders[:i] {
			if strings.EqualFold(f.name, g.name) {
				ch.fail(f.key, "%q is also used for %s (names are compared ignoring case)", f.name, g.key)
				break
			}
		}
	}
}

// check checks [sync].
func (sy *Sync) check(ch *checker) {
	for name, db := range sy.Aliases {
		switch db {
		case "contacts", "calendar", "tasks":
		default:
			ch.fail("sync.aliases", "alias %q must map to \"contacts\", \"calendar\" or \"tasks\", not %q", name, db)
		}
	}
	if sy.MaxDevices < 1 {
		ch.fail("sync.max_devices", "must be at least 1, got %d", sy.MaxDevices)
	}
	if sy.StateCacheItems < 0 {
		ch.fail("sync.state_cache_items", "must not be negative, got %d", sy.StateCacheItems)
	}
	sy.Defaults.check(ch, "sync.defaults.")
}

// checkAuthLog checks [auth] and [log].
func (c *Config) checkAuthLog(ch *checker) {
	// [auth]
	if c.Auth.MaxFailures < 0 {
		ch.fail("auth.max_failures", "must not be negative, got %d (0 disables the throttle)", c.Auth.MaxFailures)
	}
	ch.notNegative("auth.lockout", c.Auth.Lockout)
	if c.Auth.MaxFailures > 0 && c.Auth.Lockout.Duration == 0 {
		ch.fail("auth.lockout", "must be more than 0 while auth.max_failures is %d", c.Auth.MaxFailures)
	}

	// [log]
	checkEnum(ch, "log.level", c.Log.Level, logLevels())
	checkEnum(ch, "log.format", c.Log.Format, logFormats())
}

// checkAdmin checks [admin]. The users file is only named here; the
// command that reads it opens it.
func (c *Config) checkAdmin(ch *checker) {
	if f := c.Admin.UsersFile; f != "" && strings.TrimSpace(f) != f {
		ch.fail("admin.users_file", "%q has spaces at its start or end", f)
	}
}

func (p *Policy) check(ch *checker, prefix string) {
	checkEnum(ch, prefix+"direction", p.Direction, directions())
	for key, d := range map[string]Direction{"contacts_direction": p.ContactsDirection, "calendar_direction": p.CalendarDirection, "tasks_direction": p.TasksDirection} {
		if d != "" {
			checkEnum(ch, prefix+key, d, directions())
		}
	}
	checkEnum(ch, prefix+"conflict", p.Conflict, conflicts())
	checkEnum(ch, prefix+"conflict_tie_break", p.ConflictTieBreak, tieBreaks())
	for i, cat := range p.ContactCategories {
		if strings.TrimSpace(cat) == "" {
			ch.fail(prefix+"contact_categories", "entry %d is empty", i+1)
		}
	}
	for i, f := range p.ContactFolders {
		if folderpath.Check(f) != nil {
			ch.fail(prefix+"contact_folders", "entry %d (%q) is not a sub-folder path such as \"Family\" or \"Friends/School\"", i+1, p.ContactFolders[i])
		}
	}
	ch.notNegative(prefix+"calendar_past", p.CalendarPast)
	ch.notNegative(prefix+"calendar_future", p.CalendarFuture)
	if p.TimeZone != "" {
		if _, err := time.LoadLocation(p.TimeZone); err != nil || strings.EqualFold(p.TimeZone, "local") {
			ch.fail(prefix+"time_zone", "unknown time zone %q (an IANA name such as \"Europe/Berlin\")", p.TimeZone)
		}
	}
}

// ParsePrefix reads a trusted proxy: an IP address (a prefix of its full
// length) or a CIDR range.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
