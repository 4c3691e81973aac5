package plugin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"syncml-imap/pim"
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
	// MaxFailures is how many failed logins one device of a user, or an
	// address, may have within Lockout before further logins are
	// refused; 0: no limit.
	MaxFailures int
	// MaxUserFailures caps a user's failed logins over all devices
	// within Lockout; 0: 4 × MaxFailures (see Throttle).
	MaxUserFailures int
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

// Throttle is an Authenticator that refuses logins after too many
// failures, without asking the one it wraps: a password guesser gets a
// few tries per lockout period and the IMAP server does not see the rest.
//
// Failures are counted three ways, and any one of them locks:
//   - per user and device (pim.DeviceOf; "" for logins that name no
//     device, such as the admin endpoint's): MaxFailures. A phone with a
//     stale password locks out itself, not the user's other devices.
//   - per user over all devices: MaxUserFailures, by default four
//     devices' worth. Device IDs are the client's to choose, so without
//     this cap a guesser would get MaxFailures tries per invented ID; with
//     it, a few stale devices of one user still leave the rest working
//     (the default four matches the default [sync] max_devices without
//     tying the two together).
//   - per client address (see WithRemoteAddr): MaxFailures, all users
//     together, so one address cannot try many users.
//
// Addresses are counted per IPv4 address and per IPv6 /64 (one host's
// usual share). Loopback addresses are not counted: behind a reverse
// proxy on the same host every client has the proxy's address, and
// counting it would lock everybody out. Users and devices still are.
//
// Only wrong credentials (pim.ErrAuthFailed) count; an IMAP server
// that cannot answer (pim.ErrUnavailable, any other error) says
// nothing about the password, and an attempt refused here is not a
// failure either. A successful login clears its device's count and takes
// the device's failures off the user's count (they were the owner's).
//
// Basic logins are throttled here, in Login. MD5 digests are checked by
// the engine after it opened the mailbox itself (a secret's password or
// the master user: such logins are not counted); it reports them through
// Allow and Record (pim.AuthThrottle). Other checks of a password (the
// admin endpoint's master user) go through Guard.
//
// Lockouts lists what is counted and Unlock lifts a lockout, for the
// admin endpoint (AdminHTTP).
type Throttle struct {
	auth    pim.Authenticator
	max     int
	userMax int
	window  time.Duration
	log     *slog.Logger
	m       *Metrics
	now     func() time.Time

	mu        sync.Mutex
	devices   map[string]*failures // by deviceKey
	users     map[string]*failures // by lower-case user name
	addrs     map[string]*failures // by addrKey
	lastSweep time.Time
}

// failures is the record of one device, user or address.
type failures struct {
	n       int       // failures since start
	start   time.Time // the window began with the first failure
	until   time.Time // locked until; zero: not locked
	pending int       // logins under way (devices and users)

	// What the admin is shown.
	last     time.Time // the last failure
	lastErr  string    // its error
	lastAddr string    // the client's host, counted or not
	// from counts a device's failures per address key, so that lifting
	// its lockout takes them off those addresses too.
	from map[string]int
}

// deviceKey is the key of a user's device in Throttle.devices.
func deviceKey(user, device string) string { return strings.ToLower(user) + "\x00" + device }

// NewThrottle wraps auth. Use Authenticator to hand it to the engine.
func NewThrottle(auth pim.Authenticator, opts *ThrottleOptions) *Throttle {
	t := &Throttle{auth: auth, max: opts.MaxFailures, userMax: opts.MaxUserFailures, window: opts.Lockout,
		log: opts.Logger, m: opts.Metrics, now: opts.now,
		devices: map[string]*failures{}, users: map[string]*failures{}, addrs: map[string]*failures{}}
	if t.userMax <= 0 {
		t.userMax = 4 * t.max
	}
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
func (t *Throttle) Authenticator() pim.Authenticator { return keepMaster(t, t.auth) }

// errThrottled is what a refused attempt returns: a failed login to the
// engine, which answers 401.
var errThrottled = fmt.Errorf("%w: too many failed logins, try again later", pim.ErrAuthFailed)

func (t *Throttle) off() bool { return t == nil || t.max <= 0 || t.window <= 0 }

// Login implements pim.Authenticator.
func (t *Throttle) Login(ctx context.Context, user, password string) (pim.Store, error) {
	if t.off() || pim.IsSecretLogin(ctx) {
		return t.auth.Login(ctx, user, password)
	}
	var st pim.Store
	err := t.Guard(ctx, user, func() error {
		var err error
		st, err = t.auth.Login(ctx, user, password)
		return err
	})
	return st, err
}

// Guard runs check, a check of user's credentials for the device and
// address ctx names, as a login attempt: refused with an error matching
// pim.ErrAuthFailed, check not called, while any of them is locked
// out; counted as a failure when check returns pim.ErrAuthFailed.
func (t *Throttle) Guard(ctx context.Context, user string, check func() error) error {
	if t.off() {
		return check()
	}
	remote, device := RemoteAddr(ctx), pim.DeviceOf(ctx)
	ukey, dkey, akey := strings.ToLower(user), deviceKey(user, device), addrKey(remote)
	now := t.now()
	t.mu.Lock()
	t.sweep(now)
	d, u, a := t.current(t.devices, dkey, now), t.current(t.users, ukey, now), t.current(t.addrs, akey, now)
	// Logins under way count too, so that a guesser cannot get more tries
	// by sending them all at once.
	locked := blocked(d, t.max) || blocked(u, t.userMax) || a != nil && !a.until.IsZero()
	if !locked {
		d, u = t.record(t.devices, dkey, d), t.record(t.users, ukey, u)
		d.pending++
		u.pending++
	}
	t.mu.Unlock()
	if locked {
		t.m.login("throttled")
		t.log.Debug("login refused without asking IMAP: locked out", "user", user, "device", device, "remote", remote)
		return errThrottled
	}

	err := check()

	now = t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	d.pending--
	u.pending--
	switch {
	case err == nil:
		t.succeeded(ukey, dkey, d, u)
	case errors.Is(err, pim.ErrAuthFailed) && !errors.Is(err, pim.ErrUnavailable):
		t.log.Info("login refused", "user", user, "device", device, "remote", remote)
		// The server's words add nothing for the admin, and Dovecot
		// answers an unknown user like a wrong password.
		t.failed(user, device, remote, "wrong password or unknown user", now)
	}
	// Other errors (IMAP down) say nothing about the password.
	t.drop(t.devices, dkey, d)
	t.drop(t.users, ukey, u)
	return err
}

// blocked reports whether f stops a login: locked, or as many failures
// and logins under way as max allows.
func blocked(f *failures, max int) bool {
	return f != nil && (!f.until.IsZero() || f.n+f.pending >= max)
}

// Allow implements pim.AuthThrottle, for the MD5 digests the engine
// checks itself: false while the device, the user or the address is
// locked out.
func (t *Throttle) Allow(ctx context.Context, user string) bool {
	if t.off() {
		return true
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.current(t.devices, deviceKey(user, pim.DeviceOf(ctx)), now)
	u := t.current(t.users, strings.ToLower(user), now)
	a := t.current(t.addrs, addrKey(RemoteAddr(ctx)), now)
	if blocked(d, t.max) || blocked(u, t.userMax) || a != nil && !a.until.IsZero() {
		t.m.login("throttled")
		return false
	}
	return true
}

// Record implements pim.AuthThrottle: a failed digest counts like a
// failed login, a good one like a successful login.
func (t *Throttle) Record(ctx context.Context, user string, ok bool) {
	if t.off() {
		return
	}
	device, remote := pim.DeviceOf(ctx), RemoteAddr(ctx)
	ukey, dkey := strings.ToLower(user), deviceKey(user, device)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if ok {
		if d, u := t.current(t.devices, dkey, now), t.current(t.users, ukey, now); d != nil && u != nil {
			t.succeeded(ukey, dkey, d, u)
			t.drop(t.devices, dkey, d)
			t.drop(t.users, ukey, u)
		} else if d != nil {
			d.reset()
			t.drop(t.devices, dkey, d)
		}
		return
	}
	t.log.Info("MD5 credentials refused", "user", user, "device", device, "remote", remote)
	t.failed(user, device, remote, "wrong MD5 credentials", now)
}

// succeeded clears the device's count after a good login and takes its
// failures off the user's. Callers hold t.mu.
func (t *Throttle) succeeded(ukey, dkey string, d, u *failures) {
	u.n = max(u.n-d.n, 0)
	if u.n == 0 {
		u.reset()
	}
	// The address keeps its own count: other users' failures may be in it.
	d.reset()
}

// failed counts a failure of user's device at remote. Callers hold t.mu.
func (t *Throttle) failed(user, device, remote, why string, now time.Time) {
	host := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		host = h
	}
	akey := addrKey(remote)
	d, locked := t.fail(t.devices, deviceKey(user, device), now, t.max)
	d.lastErr, d.lastAddr = why, host
	if akey != "" {
		if d.from == nil {
			d.from = map[string]int{}
		}
		d.from[akey]++
	}
	if locked {
		t.log.Warn("too many failed logins: device locked out", "user", user, "device", device, "for", t.window.String())
	}
	u, locked := t.fail(t.users, strings.ToLower(user), now, t.userMax)
	u.lastErr, u.lastAddr = why, host
	if locked {
		t.log.Warn("too many failed logins: user locked out on all devices", "user", user, "for", t.window.String())
	}
	if akey != "" {
		a, locked := t.fail(t.addrs, akey, now, t.max)
		a.lastErr, a.lastAddr = why, host
		if locked {
			t.log.Warn("too many failed logins: address locked out", "remote", akey, "for", t.window.String())
		}
	}
}

// LoginAs implements syncml.MasterAuthenticator when the wrapped
// Authenticator does (see Authenticator); it is not throttled.
func (t *Throttle) LoginAs(ctx context.Context, user string) (pim.Store, error) {
	return loginAs(ctx, t.auth, user)
}

// Lockout is what a Throttle counts against one device, user or address,
// as the admin endpoint shows it.
type Lockout struct {
	// Scope is "device" (User and Device), "user" (all of User's
	// devices together) or "address" (Address, all users).
	Scope  string `json:"scope"`
	User   string `json:"user,omitempty"`
	Device string `json:"device,omitempty"`
	// Address is the counted address (scope "address"), or where the
	// last failure came from.
	Address     string    `json:"address,omitempty"`
	Failures    int       `json:"failures"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
	LastFailure time.Time `json:"last_failure,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// Scopes of a Lockout.
const (
	ScopeDevice  = "device"
	ScopeUser    = "user"
	ScopeAddress = "address"
)

func (f *failures) lockout(scope string) Lockout {
	return Lockout{Scope: scope, Address: f.lastAddr, Failures: f.n, LockedUntil: f.until, LastFailure: f.last, LastError: f.lastErr}
}

// Lockouts returns what is counted against user (any case; "" for every
// user): its devices with failures in the current window, the user's
// count over all devices, and the addresses its devices failed from,
// sorted by scope, user and device.
func (t *Throttle) Lockouts(user string) []Lockout {
	if t.off() {
		return nil
	}
	ukey := strings.ToLower(user)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Lockout
	addrs := map[string]bool{}
	for key := range t.devices {
		u, dev, _ := strings.Cut(key, "\x00")
		if ukey != "" && u != ukey {
			continue
		}
		if f := t.current(t.devices, key, now); f != nil && f.n > 0 {
			l := f.lockout(ScopeDevice)
			l.User, l.Device = u, dev
			out = append(out, l)
			for a := range f.from {
				addrs[a] = true
			}
		}
	}
	for key := range t.users {
		if ukey != "" && key != ukey {
			continue
		}
		if f := t.current(t.users, key, now); f != nil && f.n > 0 {
			l := f.lockout(ScopeUser)
			l.User = key
			out = append(out, l)
		}
	}
	for key := range t.addrs {
		if ukey != "" && !addrs[key] {
			continue
		}
		if f := t.current(t.addrs, key, now); f != nil && f.n > 0 {
			l := f.lockout(ScopeAddress)
			l.Address = key
			out = append(out, l)
		}
	}
	order := map[string]int{ScopeDevice: 0, ScopeUser: 1, ScopeAddress: 2}
	slices.SortFunc(out, func(a, b Lockout) int {
		if c := order[a.Scope] - order[b.Scope]; c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(a.User, b.User), strings.Compare(a.Device, b.Device), strings.Compare(a.Address, b.Address))
	})
	return out
}

// Unlock forgets the failures of user's device (all of the user's,
// and the user's own count, when device is ""), lifting their lockouts,
// and returns what it forgot. The device's failures are also taken off
// the user's count and off the addresses they came from, so a stale
// phone unlocked can log in at once; failures of others stay counted.
func (t *Throttle) Unlock(user, device string) []Lockout {
	if t.off() {
		return nil
	}
	ukey := strings.ToLower(user)
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Lockout
	for key := range t.devices {
		u, dev, _ := strings.Cut(key, "\x00")
		if u != ukey || device != "" && dev != device {
			continue
		}
		d := t.current(t.devices, key, now)
		if d == nil || d.n == 0 {
			continue
		}
		l := d.lockout(ScopeDevice)
		l.User, l.Device = u, dev
		out = append(out, l)
		if uf := t.current(t.users, ukey, now); uf != nil {
			uf.n = max(uf.n-d.n, 0)
			if uf.n < t.userMax {
				uf.until = time.Time{}
			}
			if uf.n == 0 {
				uf.reset()
			}
			t.drop(t.users, ukey, uf)
		}
		for akey, n := range d.from {
			if a := t.current(t.addrs, akey, now); a != nil {
				a.n = max(a.n-n, 0)
				if a.n < t.max {
					a.until = time.Time{}
				}
				if a.n == 0 {
					a.reset()
				}
				t.drop(t.addrs, akey, a)
			}
		}
		d.reset()
		t.drop(t.devices, key, d)
	}
	if device == "" {
		if uf := t.current(t.users, ukey, now); uf != nil && uf.n > 0 {
			l := uf.lockout(ScopeUser)
			l.User = ukey
			out = append(out, l)
			uf.reset()
			t.drop(t.users, ukey, uf)
		}
	}
	for _, l := range out {
		t.log.Info("lockout lifted", "scope", l.Scope, "user", l.User, "device", l.Device, "failures", l.Failures)
	}
	return out
}

func (f *failures) reset() {
	f.n, f.start, f.until, f.from = 0, time.Time{}, time.Time{}, nil
}

// record returns f, or a new record of key when f is nil. Callers hold
// t.mu.
func (t *Throttle) record(m map[string]*failures, key string, f *failures) *failures {
	if f == nil {
		f = &failures{}
		m[key] = f
	}
	return f
}

// drop forgets f, the record of key, once it holds nothing. Callers hold
// t.mu.
func (t *Throttle) drop(m map[string]*failures, key string, f *failures) {
	if f.n == 0 && f.pending == 0 && m[key] == f {
		delete(m, key)
	}
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
	f.reset()
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

// fail counts a failure of key, locking it at max, and returns its
// record and whether this failure started the lockout. Callers hold t.mu.
func (t *Throttle) fail(m map[string]*failures, key string, now time.Time, max int) (*failures, bool) {
	f := t.record(m, key, t.current(m, key, now))
	if f.n == 0 {
		f.start = now
	}
	f.n++
	f.last = now
	if f.n >= max && f.until.IsZero() {
		f.until = now.Add(t.window)
		return f, true
	}
	return f, false
}

// sweep forgets finished records now and then, so that guessing many
// user names or device IDs does not grow the maps without bound.
// Callers hold t.mu.
func (t *Throttle) sweep(now time.Time) {
	if now.Sub(t.lastSweep) < t.window {
		return
	}
	t.lastSweep = now
	for _, m := range []map[string]*failures{t.devices, t.users, t.addrs} {
		for k, f := range m {
			if f.pending == 0 && (f.n == 0 || t.expired(f, now)) {
				delete(m, k)
			}
		}
	}
}

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

// addrKey is what an address is counted as: the IP for IPv4, the /64
// for IPv6, "" for loopback and unparsable addresses.
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
type loginOnly struct{ pim.Authenticator }

// keepMaster returns a, which wraps inner, as a
// syncml.MasterAuthenticator only when inner is one: the engine finds
// LoginAs by type assertion, and a wrapper must neither hide nor invent it.
func keepMaster(a syncml.MasterAuthenticator, inner pim.Authenticator) pim.Authenticator {
	if _, ok := inner.(syncml.MasterAuthenticator); ok {
		return a
	}
	return loginOnly{a}
}

// loginAs calls inner's LoginAs.
func loginAs(ctx context.Context, inner pim.Authenticator, user string) (pim.Store, error) {
	m, ok := inner.(syncml.MasterAuthenticator)
	if !ok {
		return nil, errors.New("plugin: no master user configured")
	}
	return m.LoginAs(ctx, user)
}
