package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syncml-imap/pim"
	"testing"
	"time"
)

// adminSetup is an endpoint with the admin requests, on countingAuth
// ("right" is every user's password), with alice's phone locked out.
type adminSetup struct {
	t     *testing.T
	inner *countingAuth
	clock *fakeClock
	th    *Throttle
	h     *Handler
}

func newAdminSetup(t *testing.T) *adminSetup {
	s := &adminSetup{t: t, inner: &countingAuth{}, clock: &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	s.th = newTestThrottle(s.inner, s.clock)
	s.h = &Handler{Admin: &AdminHTTP{Auth: s.th.Authenticator(), Throttle: s.th, MasterUser: "admin", MasterPassword: "master-pw"}}
	for i := 0; i < 5; i++ {
		s.th.Login(deviceCtx("IMEI:1", "192.0.2.7:1"), "alice", "stale")
	}
	return s
}

// do makes an admin request from addr; form, when set, is POSTed.
func (s *adminSetup) do(method, query, login, password string, form url.Values) *httptest.ResponseRecorder {
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	r := httptest.NewRequest(method, "/syncml?"+query, body)
	r.RemoteAddr = "198.51.100.20:5555"
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if login != "" {
		r.SetBasicAuth(login, password)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

func (s *adminSetup) lockouts(w *httptest.ResponseRecorder) []Lockout {
	s.t.Helper()
	var out []Lockout
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		s.t.Fatalf("answer %d %q: %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		s.t.Fatalf("%v: %s", err, w.Body)
	}
	return out
}

func TestAdminLockouts(t *testing.T) {
	s := newAdminSetup(t)

	// A user sees their own lockouts.
	got := s.lockouts(s.do("GET", "admin=lockouts&user=alice", "alice", "right", nil))
	if len(got) != 3 || got[0].Scope != ScopeDevice || got[0].Device != "IMEI:1" || got[0].Failures != 5 ||
		got[0].LockedUntil.IsZero() || got[0].Address != "192.0.2.7" || got[0].LastError == "" {
		t.Errorf("alice's lockouts: %+v", got)
	}
	// Without user=, one's own.
	if own := s.lockouts(s.do("GET", "admin=lockouts", "alice", "right", nil)); len(own) != 3 {
		t.Errorf("own lockouts: %+v", own)
	}
	// Not another's.
	if w := s.do("GET", "admin=lockouts&user=bob", "alice", "right", nil); w.Code != http.StatusForbidden {
		t.Errorf("alice asking for bob's: %d %s", w.Code, w.Body)
	}
	// The master user sees anybody's, and all.
	if m := s.lockouts(s.do("GET", "admin=lockouts&user=ALICE", "admin", "master-pw", nil)); len(m) != 3 {
		t.Errorf("master, alice's: %+v", m)
	}
	if m := s.lockouts(s.do("GET", "admin=lockouts", "admin", "master-pw", nil)); len(m) != 3 {
		t.Errorf("master, all: %+v", m)
	}

	for _, c := range []struct {
		method, query, login, password string
		code                           int
	}{
		{"GET", "admin=lockouts", "", "", http.StatusUnauthorized},
		{"GET", "admin=lockouts", "alice", "nope", http.StatusUnauthorized},
		{"GET", "admin=lockouts", "admin", "nope", http.StatusUnauthorized},
		{"GET", "admin=lockouts", "alice", "imap-down", http.StatusServiceUnavailable},
		{"GET", "admin=unlock&user=alice", "alice", "right", http.StatusMethodNotAllowed},
		{"POST", "admin=lockouts", "alice", "right", http.StatusMethodNotAllowed},
		{"GET", "admin=frob", "alice", "right", http.StatusNotFound},
	} {
		w := s.do(c.method, c.query, c.login, c.password, nil)
		if w.Code != c.code {
			t.Errorf("%s ?%s as %q/%q: %d, want %d: %s", c.method, c.query, c.login, c.password, w.Code, c.code, w.Body)
		}
		if c.code == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("401 without a Basic challenge: %q", w.Header().Get("WWW-Authenticate"))
		}
		if c.code == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	}
}

func TestAdminUnlock(t *testing.T) {
	s := newAdminSetup(t)
	phone := deviceCtx("IMEI:1", "192.0.2.7:1")
	if _, err := s.th.Login(phone, "alice", "right"); !errors.Is(err, pim.ErrAuthFailed) {
		t.Fatalf("phone not locked: %v", err)
	}
	if w := s.do("POST", "admin=unlock", "bob", "right", url.Values{"user": {"alice"}}); w.Code != http.StatusForbidden {
		t.Errorf("bob unlocking alice: %d %s", w.Code, w.Body)
	}
	if w := s.do("POST", "admin=unlock", "alice", "right", url.Values{}); w.Code != http.StatusBadRequest {
		t.Errorf("unlock without user: %d %s", w.Code, w.Body)
	}
	got := s.lockouts(s.do("POST", "admin=unlock", "alice", "right", url.Values{"user": {"alice"}, "device": {"IMEI:1"}}))
	if len(got) != 1 || got[0].Device != "IMEI:1" || got[0].Failures != 5 {
		t.Errorf("unlocked: %+v", got)
	}
	if _, err := s.th.Login(phone, "alice", "right"); err != nil {
		t.Errorf("phone after unlock: %v", err)
	}
	// The address the phone failed from is free again too.
	if _, err := s.th.Login(deviceCtx("x", "192.0.2.7:2"), "carol", "right"); err != nil {
		t.Errorf("the phone's address after unlock: %v", err)
	}
	if got := s.lockouts(s.do("POST", "admin=unlock", "admin", "master-pw", url.Values{"user": {"alice"}})); len(got) != 0 {
		t.Errorf("nothing left to unlock, yet: %+v", got)
	}
}

// TestAdminThrottled: admin requests go through the throttle like
// logins: a guesser gets no more tries here, and the IMAP server does
// not see the rest.
func TestAdminThrottled(t *testing.T) {
	s := newAdminSetup(t)
	n := s.inner.count()
	for i := 0; i < 8; i++ {
		if w := s.do("GET", "admin=lockouts", "dave", "guess", nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, w.Code)
		}
	}
	if got := s.inner.count() - n; got != 5 {
		t.Errorf("%d of 8 guesses reached IMAP, want 5", got)
	}
	// The guesser's address is locked now, for everybody from it.
	if w := s.do("GET", "admin=lockouts", "dave", "right", nil); w.Code != http.StatusUnauthorized {
		t.Errorf("right password from a locked address: %d", w.Code)
	}
	// The master password is guarded too (from another address).
	s2 := newAdminSetup(t)
	for i := 0; i < 5; i++ {
		s2.do("GET", "admin=lockouts", "admin", "guess", nil)
	}
	if w := s2.do("GET", "admin=lockouts", "admin", "master-pw", nil); w.Code != http.StatusUnauthorized {
		t.Errorf("master password after 5 wrong ones: %d", w.Code)
	}
	if w := s2.do("GET", "admin=lockouts", "alice", "right", nil); w.Code != http.StatusUnauthorized {
		t.Errorf("alice from the address locked by the master guesses: %d", w.Code)
	}
	// Alice's locked phone does not stop her admin login from elsewhere.
	r := httptest.NewRequest("GET", "/syncml?admin=lockouts", nil)
	r.RemoteAddr = "203.0.113.1:1"
	r.SetBasicAuth("alice", "right")
	w := httptest.NewRecorder()
	s2.h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Errorf("alice, phone locked, from elsewhere: %d %s", w.Code, w.Body)
	}
}

// TestAdminNoThrottle: with the throttle off there is nothing to show,
// and credentials are still checked.
func TestAdminNoThrottle(t *testing.T) {
	h := &Handler{Admin: &AdminHTTP{Auth: &countingAuth{}}}
	for _, c := range []struct {
		password string
		code     int
	}{{"right", http.StatusOK}, {"wrong", http.StatusUnauthorized}} {
		r := httptest.NewRequest("GET", "/syncml?admin=lockouts", nil).WithContext(context.Background())
		r.SetBasicAuth("alice", c.password)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.code || c.code == http.StatusOK && strings.TrimSpace(w.Body.String()) != "[]" {
			t.Errorf("%s: %d %s", c.password, w.Code, w.Body)
		}
	}
}

// TestAdminAccounts: the master user gets the users who logged in since
// start, sorted, once each whatever the case; a failed login adds
// nobody; a user may not ask.
func TestAdminAccounts(t *testing.T) {
	s := newAdminSetup(t)
	accounts := NewAccounts()
	s.th = newTestThrottle(accounts.Authenticator(s.inner), s.clock)
	s.h = &Handler{Admin: &AdminHTTP{Auth: s.th.Authenticator(), Throttle: s.th, Accounts: accounts, MasterUser: "admin", MasterPassword: "master-pw"}}
	list := func() []string {
		t.Helper()
		w := s.do(http.MethodGet, "admin=accounts", "admin", "master-pw", nil)
		var out []string
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil {
			t.Fatalf("accounts: %d %s", w.Code, w.Body)
		}
		return out
	}
	if got := list(); len(got) != 0 {
		t.Errorf("accounts before any login: %q", got)
	}
	for _, u := range []string{"carol", "alice", "Carol"} {
		if _, err := s.th.Login(deviceCtx("IMEI:2", "192.0.2.8:1"), u, "right"); err != nil {
			t.Fatal(err)
		}
	}
	s.th.Login(deviceCtx("IMEI:3", "192.0.2.9:1"), "mallory", "stale")
	if got := list(); strings.Join(got, " ") != "alice carol" {
		t.Errorf("accounts: %q, want alice carol", got)
	}
	if w := s.do(http.MethodGet, "admin=accounts", "alice", "right", nil); w.Code != http.StatusForbidden {
		t.Errorf("accounts asked by a user: %d %s", w.Code, w.Body)
	}
	if w := s.do(http.MethodPost, "admin=accounts", "admin", "master-pw", url.Values{}); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST accounts: %d", w.Code)
	}
}
