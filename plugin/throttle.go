package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"syncml-imap/syncml"
)

type remoteAddrKey struct{}

// WithRemoteAddr returns ctx carrying the client's address ("host:port"
// as in http.Request.RemoteAddr, or a bare host), for the login throttle.
// Handler.ServeHTTP does this for every request.
func WithRemoteAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteAddrKey{}, addr)
}

// RemoteAddr returns the address WithRemoteAddr put in ctx, "" if none.
func RemoteAddr(ctx context.Context) string {
	s, _ := ctx.Value(remoteAddrKey{}).(string)
	return s
}

// ThrottleOptions configure a Throttle; see config.Auth.
type ThrottleOptions struct {
	// MaxFailures is how many failed logins a user, or an address, may
	// have within Lockout before further logins are refused; 0: no limit.
	MaxFailures int
	// Lockout is the window failures are counted in and how long a
	// lockout lasts.
	Lockout time.Duration
	Logger  *slog.Logger
	// Metrics, when set, counts refused attempts as
	// syncml_imap_logins_total{result="throttled"}.
	Metrics *Metrics
	// now, for tests.
	now func() time.Time
}

// Throttle is an Authenticator that refuses logins of a user, or from a
// client address (see WithRemoteAddr), after too many failures, without
// asking the one it wraps: a password guesser gets a few tries per
// lockout period and the IMAP server does not see the rest.
//
// Addresses are counted per IPv4 address and per IPv6 /64 (one host's
// usual share). Loopback addresses are not counted: behind a reverse
// proxy on the same host every client has the proxy's address, and
// counting it would lock everybody out. Users are still counted.
//
// Basic logins are throttled here, in Login. MD5 digests are checked by
// the engine after it opened the mailbox itself (a secret's password or
// the master user: such logins are not counted); it reports them through
// Allow and Record (syncml.AuthThrottle).
type Throttle struct {
	auth   syncml.Authenticator
	max    int
	window time.Duration
	log    *slog.Logger
	m      *Metrics
	now    func() time.Time

	mu        sync.Mutex
	users     map[string]*failures
	addrs     map[string]*failures
	lastSweep time.Time
}

// failures is the record of one user or address.
type failures struct {
	n       int       // failures since start
	start   time.Time // the window began with the first failure
	until   time.Time // locked until; zero: not locked
	pending int       // logins under way (users only)
}

// NewThrottle wraps auth. Use Authenticator to hand it to the engine.
func NewThrottle(auth syncml.Authenticator, opts *ThrottleOptions) *Throttle {
	t := &Throttle{auth: auth, max: opts.MaxFailures, window: opts.Lockout, log: opts.Logger, m: opts.Metrics, now: opts.now,
		users: map[string]*failures{}, addrs: map[string]*failures{}}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.now == nil {
		t.now = time.Now
	}
	return t
}

// Authenticator returns t as the engine should see it: a
// syncml.MasterAuthenticator only when the wrapped one is.
func (t *Throttle) Authenticator() syncml.Authenticator { return keepMaster(t, t.auth) }

// errThrottled is what a refused attempt returns: a failed login to the
// engine, which answers 401.
var errThrottled = fmt.Errorf("%w: too many failed logins, try again later", syncml.ErrAuthFailed)

// Login implements syncml.Authenticator.
func (t *Throttle) Login(ctx context.Context, user, password string) (syncml.Store, error) {
	if t.max <= 0 || t.window <= 0 || syncml.IsSecretLogin(ctx) {
		return t.auth.Login(ctx, user, password)
	}
	remote := RemoteAddr(ctx)
	ukey, akey := strings.ToLower(user), addrKey(remote)
	now := t.now()
	t.mu.Lock()
	t.sweep(now)
	u, a := t.current(t.users, ukey, now), t.current(t.addrs, akey, now)
	// Logins under way count too, so that a guesser cannot get more tries
	// by sending them all at once.
	locked := u != nil && (!u.until.IsZero() || u.n+u.pending >= t.max) || a != nil && !a.until.IsZero()
	if !locked {
		if u == nil {
			u = &failures{}
			t.users[ukey] = u
		}
		u.pending++
	}
	t.mu.Unlock()
	if locked {
		t.m.login("throttled")
		t.log.Debug("login refused without asking IMAP: locked out", "user", user, "remote", remote)
		return nil, errThrottled
	}

	st, err := t.auth.Login(ctx, user, password)

	now = t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	u.pending--
	switch {
	case err == nil:
		// The user's count starts over; the address keeps its own.
		u.n, u.until = 0, time.Time{}
		if u.pending == 0 {
			delete(t.users, ukey)
		}
	case errors.Is(err, syncml.ErrAuthFailed):
		t.log.Info("login refused", "user", user, "remote", remote)
		if t.fail(t.users, ukey, now) {
			t.log.Warn("too many failed logins: user locked out", "user", user, "for", t.window.String())
		}
		if akey != "" && t.fail(t.addrs, akey, now) {
			t.log.Warn("too many failed logins: address locked out", "remote", akey, "for", t.window.String())
		}
	}
	// Other errors (IMAP down) say nothing about the password.
	return st, err
}

// Allow implements syncml.AuthThrottle, for the MD5 digests the engine
// checks itself: false while the user or the address is locked out.
func (t *Throttle) Allow(ctx context.Context, user string) bool {
	if t.max <= 0 || t.window <= 0 {
		return true
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	u, a := t.current(t.users, strings.ToLower(user), now), t.current(t.addrs, addrKey(RemoteAddr(ctx)), now)
	if u != nil && (!u.until.IsZero() || u.n >= t.max) || a != nil && !a.until.IsZero() {
		t.m.login("throttled")
		return false
	}
	return true
}

// Record implements syncml.AuthThrottle: a failed digest counts like a
// failed login; a good one clears the user's count.
func (t *Throttle) Record(ctx context.Context, user string, ok bool) {
	if t.max <= 0 || t.window <= 0 {
		return
	}
	ukey, akey := strings.ToLower(user), addrKey(RemoteAddr(ctx))
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if ok {
		if u := t.users[ukey]; u != nil {
			u.n, u.until = 0, time.Time{}
			if u.pending == 0 {
				delete(t.users, ukey)
			}
		}
		return
	}
	t.log.Info("MD5 credentials refused", "user", user, "remote", RemoteAddr(ctx))
	if t.fail(t.users, ukey, now) {
		t.log.Warn("too many failed logins: user locked out", "user", user, "for", t.window.String())
	}
	if akey != "" && t.fail(t.addrs, akey, now) {
		t.log.Warn("too many failed logins: address locked out", "remote", akey, "for", t.window.String())
	}
}

// LoginAs implements syncml.MasterAuthenticator when the wrapped
// Authenticator does (see Authenticator); it is not throttled.
func (t *Throttle) LoginAs(ctx context.Context, user string) (syncml.Store, error) {
	return loginAs(ctx, t.auth, user)
}

// current returns the live record of key, dropping one whose window or
// lockout is over. Callers hold t.mu.
func (t *Throttle) current(m map[string]*failures, key string, now time.Time) *failures {
	if key == "" {
		return nil
	}
	f := m[key]
	if f == nil || !t.expired(f, now) {
		return f
	}
	f.n, f.start, f.until = 0, time.Time{}, time.Time{}
	if f.pending == 0 {
		delete(m, key)
		return nil
	}
	return f
}

func (t *Throttle) expired(f *failures, now time.Time) bool {
	if !f.until.IsZero() {
		return !now.Before(f.until)
	}
	return f.n > 0 && now.Sub(f.start) >= t.window
}

// fail counts a failure and reports whether it started a lockout.
// Callers hold t.mu.
func (t *Throttle) fail(m map[string]*failures, key string, now time.Time) bool {
	f := t.current(m, key, now)
	if f == nil {
		f = &failures{}
		m[key] = f
	}
	if f.n == 0 {
		f.start = now
	}
	f.n++
	if f.n >= t.max && f.until.IsZero() {
		f.until = now.Add(t.window)
		return true
	}
	return false
}

// sweep forgets finished records now and then, so that guessing many
// user names does not grow the maps without bound. Callers hold t.mu.
func (t *Throttle) sweep(now time.Time) {
	if now.Sub(t.lastSweep) < t.window {
		return
	}
	t.lastSweep = now
	for _, m := range []map[string]*failures{t.users, t.addrs} {
		for k, f := range m {
			if f.pending == 0 && (f.n == 0 || t.expired(f, now)) {
				delete(m, k)
			}
		}
	}
}

// addrKey is what an address is counted as: the IP for IPv4, the /64
// for IPv6, "" for loopback and unparsable addresses.
// ClientAddr is the address a request came from: the connection's, or,
// when that is a trusted proxy, the last address in X-Forwarded-For that
// is not one (proxies append; the entries left of an untrusted one are
// whatever the client chose to send).
func ClientAddr(r *http.Request, trusted []netip.Prefix) string {
	isTrusted := func(s string) bool {
		host := strings.TrimSpace(s)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return false
		}
		ip = ip.Unmap()
		for _, p := range trusted {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
	if len(trusted) == 0 || !isTrusted(r.RemoteAddr) {
		return r.RemoteAddr
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		if hop := strings.TrimSpace(hops[i]); hop != "" && !isTrusted(hop) {
			if _, err := netip.ParseAddr(hop); err != nil {
				return r.RemoteAddr // garbage: count the proxy
			}
			return hop
		}
	}
	return r.RemoteAddr
}

func addrKey(remote string) string {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.IsLoopback() {
		return ""
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.WithZone("").Prefix(64)
		return p.String()
	}
	return ip.String()
}

// loginOnly hides the LoginAs of the Authenticator it holds.
type loginOnly struct{ syncml.Authenticator }

// keepMaster returns a, which wraps inner, as a
// syncml.MasterAuthenticator only when inner is one: the engine finds
// LoginAs by type assertion, and a wrapper must neither hide nor invent it.
func keepMaster(a syncml.MasterAuthenticator, inner syncml.Authenticator) syncml.Authenticator {
	if _, ok := inner.(syncml.MasterAuthenticator); ok {
		return a
	}
	return loginOnly{a}
}

// loginAs calls inner's LoginAs.
func loginAs(ctx context.Context, inner syncml.Authenticator, user string) (syncml.Store, error) {
	m, ok := inner.(syncml.MasterAuthenticator)
	if !ok {
		return nil, errors.New("plugin: no master user configured")
	}
	return m.LoginAs(ctx, user)
}
