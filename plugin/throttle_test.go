package plugin

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"syncml-imap/config"
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

func (a *countingAuth) Login(ctx context.Context, user, password string) (syncml.Store, error) {
	a.mu.Lock()
	a.logins++
	a.mu.Unlock()
	if a.block != nil {
		<-a.block
	}
	if password != "right" {
		return nil, fmt.Errorf("%w: wrong password for %s", syncml.ErrAuthFailed, user)
	}
	return nopStore{}, nil
}

func (a *countingAuth) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.logins
}

type countingMaster struct{ countingAuth }

func (a *countingMaster) LoginAs(ctx context.Context, user string) (syncml.Store, error) {
	return nopStore{}, nil
}

// nopStore is an empty syncml.Store.
type nopStore struct{}

func (nopStore) Changes(context.Context, string, []byte) (*syncml.StoreChanges, error) {
	return &syncml.StoreChanges{}, nil
}
func (nopStore) Get(context.Context, string, ...string) ([]*syncml.StoreItem, error) { return nil, nil }
func (nopStore) Put(context.Context, string, ...*syncml.StoreItem) error             { return nil }
func (nopStore) Delete(context.Context, string, ...string) ([]string, error)         { return nil, nil }
func (nopStore) Advance(context.Context, string, []byte, []string) ([]byte, error) {
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

func newTestThrottle(inner syncml.Authenticator, clock *fakeClock) *Throttle {
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
		if err := login("alice", "wrong"); !errors.Is(err, syncml.ErrAuthFailed) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if inner.count() != 5 {
		t.Fatalf("%d logins reached IMAP, want 5", inner.count())
	}
	// The 6th attempt, and even the right password, are refused unasked.
	if err := login("alice", "wrong"); !errors.Is(err, syncml.ErrAuthFailed) {
		t.Fatalf("6th attempt: %v", err)
	}
	if err := login("ALICE", "right"); !errors.Is(err, syncml.ErrAuthFailed) {
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
	if _, err := th.Login(from("198.51.100.7:5001"), "someone-else", "right"); !errors.Is(err, syncml.ErrAuthFailed) || inner.count() != n {
		t.Errorf("locked address: %v, %d logins reached IMAP", err, inner.count()-n)
	}
	if _, err := th.Login(from("198.51.100.8:5000"), "someone-else", "right"); err != nil {
		t.Errorf("other address: %v", err)
	}

	// IPv6 addresses of one /64 count together.
	for i := 0; i < 5; i++ {
		th.Login(from(fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1)), fmt.Sprintf("v6user%d", i), "wrong")
	}
	if _, err := th.Login(from("[2001:db8:1:2:ffff::1]:443"), "dave", "right"); !errors.Is(err, syncml.ErrAuthFailed) {
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
	if !errors.Is(err, syncml.ErrAuthFailed) || inner.count() != 5 {
		t.Errorf("6th login while 5 are under way: %v, %d logins reached IMAP", err, inner.count())
	}
}

func TestWrappersKeepMaster(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	m := NewMetrics()
	for _, tt := range []struct {
		inner  syncml.Authenticator
		master bool
	}{{&countingAuth{}, false}, {&countingMaster{}, true}} {
		for name, a := range map[string]syncml.Authenticator{
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
	h, err := NewHandler(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Server.Close()
	ts := httptest.NewServer(h)
	defer ts.Close()

	for i := 1; i <= 6; i++ {
		c := &client{t: t, url: ts.URL + "/syncml", device: "IMEI:6", session: fmt.Sprint(i),
			cred: &syncml.Cred{Meta: &syncml.Meta{Type: "syncml:auth-basic", Format: "b64"},
				Data: base64.StdEncoding.EncodeToString([]byte("mallory@example.org:guess" + fmt.Sprint(i)))}}
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
		if _, err := th.Login(syncml.WithSecretLogin(ctx), "alice", "right"); err != nil {
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
