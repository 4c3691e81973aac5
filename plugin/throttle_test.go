package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"syncml-imap/config"
	"syncml-imap/pim"
	"syncml-imap/syncml"
)

// countingAuth is an Authenticator that counts the logins reaching it;
// "right" is the only password it takes.
type countingAuth struct {
	mu     sync.Mutex
	logins int
	// block, when set, holds every login until it is closed.
	block chan struct{}
}

func (a *countingAuth) Login(ctx context.Context, user, password string) (pim.Store, error) {
	a.mu.Lock()
	a.logins++
	a.mu.Unlock()
	if a.block != nil {
		<-a.block
	}
	if password == "imap-down" {
		return nil, fmt.Errorf("login: %w: connection refused", pim.ErrUnavailable)
	}
	if password != "right" {
		return nil, fmt.Errorf("%w: wrong password for %s", pim.ErrAuthFailed, user)
	}
	return nopStore{}, nil
}

func (a *countingAuth) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.logins
}

type countingMaster struct{ countingAuth }

func (a *countingMaster) LoginAs(ctx context.Context, user string) (pim.Store, error) {
	return nopStore{}, nil
}

// nopStore is an empty pim.Store.
type nopStore struct{}

func (nopStore) Changes(context.Context, pim.Kind, []byte) (*pim.Changes, error) {
	return &pim.Changes{}, nil
}
func (nopStore) Get(context.Context, pim.Kind, ...string) ([]*pim.Item, error) { return nil, nil }
func (nopStore) Put(context.Context, pim.Kind, ...*pim.Item) error             { return nil }
func (nopStore) Delete(context.Context, pim.Kind, ...string) ([]string, error) { return nil, nil }
func (nopStore) Advance(context.Context, pim.Kind, []byte, []string) ([]byte, error) {
	return nil, nil
}
func (nopStore) LoadState(context.Context, string) ([]byte, error)   { return nil, nil }
func (nopStore) SaveState(context.Context, string, []byte) error     { return nil }
func (nopStore) DeleteState(context.Context, string) error           { return nil }
func (nopStore) ListState(context.Context, string) ([]string, error) { return nil, nil }
func (nopStore) Close() error                                        { return nil }

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestThrottle(inner pim.Authenticator, clock *fakeClock) *Throttle {
	return NewThrottle(inner, &ThrottleOptions{MaxFailures: 5, Lockout: 5 * time.Minute, now: clock.now})
}

func TestThrottleUser(t *testing.T) {
	inner := &countingAuth{}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	th := newTestThrottle(inner, clock)
	// Behind a local proxy: users are counted, the address is not (a
	// success clears the user's count only; see TestThrottleAddress).
	ctx := WithRemoteAddr(context.Background(), "127.0.0.1:40000")
	login := func(user, pw string) error {
		_, err := th.Login(ctx, user, pw)
		return err
	}

	for i := 1; i <= 5; i++ {
		if err := login("alice", "wrong"); !errors.Is(err, pim.ErrAuthFailed) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if inner.count() != 5 {
		t.Fatalf("%d logins reached IMAP, want 5", inner.count())
	}
	// The 6th attempt, and even the right password, are refused unasked.
	if err := login("alice", "wrong"); !errors.Is(err, pim.ErrAuthFailed) {
		t.Fatalf("6th attempt: %v", err)
	}
	if err := login("ALICE", "right"); !errors.Is(err, pim.ErrAuthFailed) {
		t.Fatalf("right password while locked out: %v", err)
	}
	if inner.count() != 5 {
		t.Fatalf("locked out, yet %d logins reached IMAP", inner.count())
	}

	// Another user from another address is not concerned.
	if _, err := th.Login(WithRemoteAddr(context.Background(), "192.0.2.2:1"), "bob", "right"); err != nil {
		t.Fatalf("bob: %v", err)
	}

	// After the lockout the right password works, and the count starts
	// over: four more failures do not lock, a fifth does.
	clock.advance(5 * time.Minute)
	if err := login("alice", "right"); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	for i := 1; i <= 4; i++ {
		login("alice", "wrong")
	}
	if err := login("alice", "right"); err != nil {
		t.Fatalf("4 failures after a success locked: %v", err)
	}
	before := inner.count()
	for i := 1; i <= 6; i++ {
		login("alice", "wrong")
	}
	if got := inner.count() - before; got != 5 {
		t.Errorf("after a success, %d of 6 wrong attempts reached IMAP, want 5", got)
	}
}

func TestThrottleWindow(t *testing.T) {
	inner := &countingAuth{}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	th := newTestThrottle(inner, clock)
	ctx := context.Background()
	// Four failures, then four more in a new window: never five in one.
	for i := 0; i < 4; i++ {
		th.Login(ctx, "carol", "wrong")
	}
	clock.advance(5*time.Minute + time.Second)
	for i := 0; i < 4; i++ {
		th.Login(ctx, "carol", "wrong")
	}
	if _, err := th.Login(ctx, "carol", "right"); err != nil {
		t.Errorf("failures spread over two windows locked the user: %v", err)
	}
}

func TestThrottleAddress(t *testing.T) {
	inner := &countingAuth{}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	th := newTestThrottle(inner, clock)
	from := func(addr string) context.Context { return WithRemoteAddr(context.Background(), addr) }

	// Five users, one wrong password each, from one address.
	for i := 0; i < 5; i++ {
		th.Login(from("198.51.100.7:5000"), fmt.Sprintf("user%d", i), "wrong")
	}
	n := inner.count()
	if _, err := th.Login(from("198.51.100.7:5001"), "someone-else", "right"); !errors.Is(err, pim.ErrAuthFailed) || inner.count() != n {
		t.Errorf("locked address: %v, %d logins reached IMAP", err, inner.count()-n)
	}
	if _, err := th.Login(from("198.51.100.8:5000"), "someone-else", "right"); err != nil {
		t.Errorf("other address: %v", err)
	}

	// IPv6 addresses of one /64 count together.
	for i := 0; i < 5; i++ {
		th.Login(from(fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1)), fmt.Sprintf("v6user%d", i), "wrong")
	}
	if _, err := th.Login(from("[2001:db8:1:2:ffff::1]:443"), "dave", "right"); !errors.Is(err, pim.ErrAuthFailed) {
		t.Errorf("same /64: %v", err)
	}
	if _, err := th.Login(from("[2001:db8:1:3::1]:443"), "dave", "right"); err != nil {
		t.Errorf("other /64: %v", err)
	}

	// Loopback (a local reverse proxy) is not counted, only its users.
	n = inner.count()
	for i := 0; i < 10; i++ {
		th.Login(from("127.0.0.1:9999"), fmt.Sprintf("proxied%d", i), "wrong")
	}
	if _, err := th.Login(from("[::1]:9999"), "erin", "right"); err != nil || inner.count() != n+11 {
		t.Errorf("loopback: %v, %d of 11 logins reached IMAP", err, inner.count()-n)
	}
}

// TestThrottleConcurrent: logins under way count, so a guesser gains
// nothing by sending many at once.
func TestThrottleConcurrent(t *testing.T) {
	inner := &countingAuth{block: make(chan struct{})}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	th := newTestThrottle(inner, clock)
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			th.Login(context.Background(), "frank", "wrong")
		}()
	}
	for inner.count() < 5 {
		time.Sleep(time.Millisecond)
	}
	_, err := th.Login(context.Background(), "frank", "guess")
	close(inner.block)
	wg.Wait()
	if !errors.Is(err, pim.ErrAuthFailed) || inner.count() != 5 {
		t.Errorf("6th login while 5 are under way: %v, %d logins reached IMAP", err, inner.count())
	}
}

func TestWrappersKeepMaster(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	m := NewMetrics()
	for _, tt := range []struct {
		inner  pim.Authenticator
		master bool
	}{{&countingAuth{}, false}, {&countingMaster{}, true}} {
		for name, a := range map[string]pim.Authenticator{
			"throttle": newTestThrottle(tt.inner, clock).Authenticator(),
			"metrics":  m.Authenticator(tt.inner),
		} {
			if _, ok := a.(syncml.MasterAuthenticator); ok != tt.master {
				t.Errorf("%s around %T: MasterAuthenticator %v, want %v", name, tt.inner, ok, tt.master)
			}
		}
	}
}

func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:1234":         "192.0.2.1",
		"192.0.2.1":              "192.0.2.1",
		"[::ffff:192.0.2.1]:1":   "192.0.2.1",
		"[2001:db8::1]:80":       "2001:db8::/64",
		"[fe80::1%eth0]:80":      "fe80::/64",
		"127.0.0.1:80":           "",
		"[::1]:80":               "",
		"":                       "",
		"not an address":         "",
		"@/run/syncml-imap.sock": "",
	} {
		if got := addrKey(in); got != want {
			t.Errorf("addrKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestThrottleOverHTTP: through the HTTP front and the real IMAP login,
// the 6th wrong password does not reach the IMAP server.
func TestThrottleOverHTTP(t *testing.T) {
	imap := startFakeIMAP(t, "* OK fake IMAP ready")
	cfg := config.Default()
	cfg.IMAP.Address = imap.addr()
	h, ts := serve(t, cfg)

	for i := 1; i <= 6; i++ {
		c := &client{t: t, url: ts.URL + "/syncml", device: "IMEI:6", session: fmt.Sprint(i),
			cred: basicCred("mallory@example.org", "guess"+fmt.Sprint(i))}
		r := c.send(true, alert("200", "contacts", "", "1"))
		if got := fmt.Sprint(statusOf(r, "SyncHdr")); got != "[401]" {
			t.Fatalf("attempt %d: SyncHdr status %s, want [401]", i, got)
		}
	}
	if n := imap.logins.Load(); n != 5 {
		t.Errorf("%d LOGINs reached the IMAP server, want 5", n)
	}
	text := scrape(t, h.Metrics)
	for _, want := range []string{`syncml_imap_logins_total{result="refused"} 5`, `syncml_imap_logins_total{result="throttled"} 1`} {
		if !hasLine(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestThrottleMD5: wrong MD5 digests lock the user out even though the
// engine logs in with the stored password before each check (that login
// is the server's, marked WithSecretLogin, and resets nothing).
func TestThrottleMD5(t *testing.T) {
	inner := &countingAuth{}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	th := newTestThrottle(inner, clock)
	ctx := WithRemoteAddr(context.Background(), "127.0.0.1:40000")
	for i := 0; i < 5; i++ {
		if !th.Allow(ctx, "alice") {
			t.Fatalf("attempt %d refused", i+1)
		}
		if _, err := th.Login(pim.WithSecretLogin(ctx), "alice", "right"); err != nil {
			t.Fatal(err)
		}
		th.Record(ctx, "alice", false)
	}
	if th.Allow(ctx, "alice") {
		t.Error("five wrong digests, still allowed")
	}
	clock.advance(6 * time.Minute)
	if !th.Allow(ctx, "alice") {
		t.Error("still locked after the lockout")
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct {
		remote, xff string
		trusted     []netip.Prefix
		want        string
	}{
		{"203.0.113.5:4000", "198.51.100.1", trusted, "203.0.113.5:4000"},                              // not from a proxy: header ignored
		{"127.0.0.1:4000", "198.51.100.1", trusted, "198.51.100.1"},                                    // local proxy
		{"127.0.0.1:4000", "6.6.6.6, 198.51.100.1, 10.1.2.3", trusted, "198.51.100.1"},                 // two proxies; the client's own claim ignored
		{"127.0.0.1:4000", "", trusted, "127.0.0.1:4000"},                                              // no header
		{"127.0.0.1:4000", "not-an-address", trusted, "127.0.0.1:4000"},                                // garbage
		{"127.0.0.1:4000", "198.51.100.1", nil, "127.0.0.1:4000"},                                      // nothing trusted
		{"[::1]:4000", "2001:db8::7", []netip.Prefix{netip.MustParsePrefix("::1/128")}, "2001:db8::7"}, // IPv6
	} {
		r := httptest.NewRequest("POST", "/syncml", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ClientAddr(r, c.trusted); got != c.want {
			t.Errorf("%s with X-Forwarded-For %q: %q, want %q", c.remote, c.xff, got, c.want)
		}
	}
}

// deviceCtx is a login of device from addr.
func deviceCtx(device, addr string) context.Context {
	return pim.WithDevice(WithRemoteAddr(context.Background(), addr), device)
}

// TestThrottleDevices: a stale phone locks out itself, not the user's
// other devices nor another user.
func TestThrottleDevices(t *testing.T) {
	inner := &countingAuth{}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	th := newTestThrottle(inner, clock)
	// Behind a local proxy, so that only users and devices count.
	phone, laptop := deviceCtx("IMEI:1", "127.0.0.1:1"), deviceCtx("sc-laptop", "127.0.0.1:2")
	for i := 1; i <= 5; i++ {
		if _, err := th.Login(phone, "alice", "stale"); !errors.Is(err, pim.ErrAuthFailed) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	n := inner.count()
	if _, err := th.Login(phone, "alice", "right"); !errors.Is(err, pim.ErrAuthFailed) || inner.count() != n {
		t.Errorf("locked phone, right password: %v, %d logins reached IMAP", err, inner.count()-n)
	}
	if _, err := th.Login(laptop, "Alice", "right"); err != nil {
		t.Errorf("alice's other device: %v", err)
	}
	if _, err := th.Login(context.Background(), "alice", "right"); err != nil {
		t.Errorf("alice without a device (admin): %v", err)
	}
	if _, err := th.Login(deviceCtx("IMEI:1", "127.0.0.1:3"), "bob", "right"); err != nil {
		t.Errorf("bob with the same device ID: %v", err)
	}
	// The phone's refused attempts were not counted: once the lockout is
	// over, four more failures do not lock it again.
	for i := 0; i < 20; i++ {
		th.Login(phone, "alice", "stale")
	}
	clock.advance(5 * time.Minute)
	for i := 0; i < 4; i++ {
		th.Login(phone, "alice", "stale")
	}
	if _, err := th.Login(phone, "alice", "right"); err != nil {
		t.Errorf("after the lockout, 4 failures locked the phone: %v", err)
	}
}

// TestThrottleUserCap: inventing device IDs gets a guesser no more than
// the per-user cap over all devices.
func TestThrottleUserCap(t *testing.T) {
	inner := &countingAuth{}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	th := newTestThrottle(inner, clock)
	for i := 0; i < 50; i++ {
		th.Login(deviceCtx(fmt.Sprintf("guess-%d", i), "127.0.0.1:1"), "carol", "guess")
	}
	if got := inner.count(); got != 20 {
		t.Errorf("%d guesses with rotating device IDs reached IMAP, want 20 (4 × max_failures)", got)
	}
	if _, err := th.Login(deviceCtx("IMEI:carol", "127.0.0.1:1"), "carol", "right"); !errors.Is(err, pim.ErrAuthFailed) {
		t.Errorf("user cap reached, a fresh device still logs in: %v", err)
	}
	if _, err := th.Login(deviceCtx("IMEI:dave", "127.0.0.1:1"), "dave", "right"); err != nil {
		t.Errorf("another user: %v", err)
	}
	// A device that logs in takes its own failures off the user's count.
	th2 := newTestThrottle(inner, clock)
	for i := 0; i < 4; i++ {
		for _, dev := range []string{"a", "b", "c", "d"} {
			th2.Login(deviceCtx(dev, "127.0.0.1:1"), "erin", "wrong")
		}
	}
	if _, err := th2.Login(deviceCtx("a", "127.0.0.1:1"), "erin", "right"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		th2.Login(deviceCtx("e", "127.0.0.1:1"), "erin", "wrong")
	}
	if _, err := th2.Login(deviceCtx("f", "127.0.0.1:1"), "erin", "right"); err != nil {
		t.Errorf("16 failures, 4 of them forgiven, 4 more: %v", err)
	}
}

// TestThrottleDeviceAddress: a device's failures count for its address
// too, across users.
func TestThrottleDeviceAddress(t *testing.T) {
	inner := &countingAuth{}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	th := newTestThrottle(inner, clock)
	for i := 0; i < 5; i++ {
		th.Login(deviceCtx(fmt.Sprintf("d%d", i), "203.0.113.9:1"), fmt.Sprintf("user%d", i), "wrong")
	}
	if _, err := th.Login(deviceCtx("x", "203.0.113.9:2"), "frank", "right"); !errors.Is(err, pim.ErrAuthFailed) {
		t.Errorf("locked address: %v", err)
	}
	if _, err := th.Login(deviceCtx("x", "203.0.113.10:2"), "frank", "right"); err != nil {
		t.Errorf("other address: %v", err)
	}
}

// TestThrottleUnavailable: an IMAP server that cannot answer says
// nothing about the password: never counted.
func TestThrottleUnavailable(t *testing.T) {
	inner := &countingAuth{}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	th := newTestThrottle(inner, clock)
	ctx := deviceCtx("IMEI:1", "198.51.100.3:1")
	for i := 0; i < 30; i++ {
		if _, err := th.Login(ctx, "grace", "imap-down"); !errors.Is(err, pim.ErrUnavailable) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if inner.count() != 30 {
		t.Errorf("%d of 30 logins reached IMAP", inner.count())
	}
	if _, err := th.Login(ctx, "grace", "right"); err != nil {
		t.Errorf("after IMAP was down: %v", err)
	}
	if l := th.Lockouts(""); len(l) != 0 {
		t.Errorf("counted: %+v", l)
	}
}

// TestThrottleMD5Devices: digests checked by the engine are counted per
// device as logins are.
func TestThrottleMD5Devices(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	th := newTestThrottle(&countingAuth{}, clock)
	phone, tablet := deviceCtx("IMEI:1", "127.0.0.1:1"), deviceCtx("IMEI:2", "127.0.0.1:1")
	for i := 0; i < 5; i++ {
		th.Record(phone, "alice", false)
	}
	if th.Allow(phone, "alice") {
		t.Error("five wrong digests, the phone is still allowed")
	}
	if !th.Allow(tablet, "alice") {
		t.Error("the tablet is refused for the phone's digests")
	}
	// A basic login of the locked phone is refused too.
	if _, err := th.Login(phone, "alice", "right"); !errors.Is(err, pim.ErrAuthFailed) {
		t.Errorf("basic login of the locked phone: %v", err)
	}
	th.Record(tablet, "alice", true)
	th.Unlock("alice", "IMEI:1")
	if !th.Allow(phone, "alice") {
		t.Error("unlocked, still refused")
	}
}

// TestThrottleUnlock: Lockouts shows what is counted, Unlock lifts a
// device's lockout (and gives its failures back to the user and the
// address), and the device logs in at once.
func TestThrottleUnlock(t *testing.T) {
	inner := &countingAuth{}
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	th := newTestThrottle(inner, clock)
	phone := deviceCtx("IMEI:1", "192.0.2.7:4000")
	for i := 0; i < 5; i++ {
		th.Login(phone, "Alice", "stale")
	}
	th.Login(deviceCtx("IMEI:2", "127.0.0.1:1"), "alice", "typo")
	th.Login(deviceCtx("IMEI:9", "192.0.2.8:1"), "bob", "typo")

	got := th.Lockouts("ALICE")
	if len(got) != 4 {
		t.Fatalf("lockouts of alice: %+v", got)
	}
	until := clock.now().Add(5 * time.Minute)
	want := []Lockout{
		{Scope: ScopeDevice, User: "alice", Device: "IMEI:1", Address: "192.0.2.7", Failures: 5, LockedUntil: until, LastFailure: clock.now()},
		{Scope: ScopeDevice, User: "alice", Device: "IMEI:2", Address: "127.0.0.1", Failures: 1, LastFailure: clock.now()},
		{Scope: ScopeUser, User: "alice", Address: "127.0.0.1", Failures: 6, LastFailure: clock.now()},
		{Scope: ScopeAddress, Address: "192.0.2.7", Failures: 5, LockedUntil: until, LastFailure: clock.now()},
	}
	for i := range want {
		g := got[i]
		if g.LastError == "" {
			t.Errorf("lockout %d: no last error", i)
		}
		g.LastError = ""
		if g != want[i] {
			t.Errorf("lockout %d:\n got %+v\nwant %+v", i, g, want[i])
		}
	}
	if all := th.Lockouts(""); len(all) != 7 {
		t.Errorf("all lockouts: %d, want 7 (bob's device, user and address too): %+v", len(all), all)
	}

	lifted := th.Unlock("alice", "IMEI:1")
	if len(lifted) != 1 || lifted[0].Device != "IMEI:1" || lifted[0].Failures != 5 {
		t.Errorf("unlocked: %+v", lifted)
	}
	n := inner.count()
	if _, err := th.Login(phone, "alice", "right"); err != nil || inner.count() != n+1 {
		t.Errorf("unlocked phone: %v", err)
	}
	got = th.Lockouts("alice")
	if len(got) != 2 || got[0].Device != "IMEI:2" || got[1].Scope != ScopeUser || got[1].Failures != 1 {
		t.Errorf("after unlocking the phone: %+v", got)
	}
	// The user's count held only IMEI:2's failure, which goes with it.
	if l := th.Unlock("alice", ""); len(l) != 1 || l[0].Device != "IMEI:2" {
		t.Errorf("unlock all of alice: %+v", l)
	}
	if l := th.Lockouts("alice"); len(l) != 0 {
		t.Errorf("after unlocking all: %+v", l)
	}
	if l := th.Lockouts("bob"); len(l) != 3 {
		t.Errorf("bob's lockouts went too: %+v", l)
	}
	if l := th.Unlock("alice", "IMEI:1"); len(l) != 0 {
		t.Errorf("nothing to unlock, yet: %+v", l)
	}
}

// TestThrottleSweep: records of many guessed devices are forgotten.
func TestThrottleSweep(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	th := newTestThrottle(&countingAuth{}, clock)
	for i := 0; i < 100; i++ {
		th.Login(deviceCtx(fmt.Sprint(i), fmt.Sprintf("192.0.2.%d:1", i)), fmt.Sprint("user", i), "wrong")
	}
	clock.advance(6 * time.Minute)
	th.Login(context.Background(), "someone", "right")
	th.mu.Lock()
	defer th.mu.Unlock()
	if n := len(th.devices) + len(th.users) + len(th.addrs); n != 0 {
		t.Errorf("%d records kept after their window", n)
	}
}
