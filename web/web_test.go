package web

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
)

// site is a Handler over in-memory accounts (password "secret") and a
// client with a cookie jar that does not follow redirects.
type site struct {
	t     *testing.T
	h     *Handler
	srv   *httptest.Server
	c     *http.Client
	accts *memstore.Accounts
	now   time.Time
}

func newSite(t *testing.T, configure func(*Handler)) *site {
	t.Helper()
	s := &site{t: t, accts: &memstore.Accounts{Password: "secret"}, now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	s.h = &Handler{Auth: s.accts, Devices: func(st pim.Store) *pim.Devices { return pim.NewDevices(st, 4) },
		MaxDevices: 4, Policy: pim.DefaultPolicy(), Now: func() time.Time { return s.now },
		Setup: Setup{SyncMLPath: "/syncml", DAVPath: "/dav/", BackupFolder: "SyncML Backup"},
		Admin: &Admin{Master: "admin", MasterPassword: "master-pw",
			Open:     func(_ context.Context, user string, _ bool) (pim.Store, error) { return s.accts.Store(user), nil },
			Accounts: func(context.Context) []string { return []string{"alice"} }}}
	if configure != nil {
		configure(s.h)
	}
	if err := s.h.Init(); err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewServer(s.h)
	t.Cleanup(s.srv.Close)
	jar, _ := cookiejar.New(nil)
	s.c = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return s
}

// do sends a request and returns the status, the Location and the body.
func (s *site) do(method, path string, form url.Values) (int, string, string) {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := s.c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

func (s *site) signIn(user, password string) (int, string, string) {
	s.t.Helper()
	_, _, page := s.do("GET", "/", nil)
	return s.do("POST", "/signin", url.Values{"user": {user}, "password": {password}, "csrf": {csrfOf(s.t, page)}})
}

func TestSignIn(t *testing.T) {
	s := newSite(t, nil)
	if code, _, page := s.signIn("alice", "wrong"); code != http.StatusUnauthorized || !strings.Contains(page, "wrong") {
		t.Fatalf("wrong password: %d\n%s", code, page)
	}
	// A sign-in form posted without its token (another site's form).
	if code, _, page := s.do("POST", "/signin", url.Values{"user": {"alice"}, "password": {"secret"}}); code != http.StatusForbidden || !strings.Contains(page, "Refused") {
		t.Fatalf("sign-in without token: %d\n%s", code, page)
	}
	code, loc, _ := s.signIn("alice", "secret")
	if code != http.StatusSeeOther || loc != "/devices" {
		t.Fatalf("sign-in: %d %q", code, loc)
	}
	u, _ := url.Parse(s.srv.URL)
	var found bool
	for _, c := range s.c.Jar.Cookies(u) {
		found = found || c.Name == sessionCookie
	}
	if !found {
		t.Fatal("no session cookie")
	}
	code, _, page := s.do("GET", "/devices", nil)
	if code != http.StatusOK || !strings.Contains(page, "No device has synced") {
		t.Fatalf("devices: %d\n%s", code, page)
	}
	// Idle past session_idle: signed out.
	s.now = s.now.Add(31 * time.Minute)
	if code, _, page := s.do("GET", "/devices", nil); code != http.StatusUnauthorized || !strings.Contains(page, "Sign in") {
		t.Fatalf("after expiry: %d\n%s", code, page)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	s := newSite(t, func(h *Handler) { h.Secure = true })
	_, _, page := s.do("GET", "/", nil)
	req, _ := http.NewRequest("POST", s.srv.URL+"/signin", strings.NewReader(url.Values{"user": {"alice"}, "password": {"secret"}, "csrf": {csrfOf(t, page)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	u, _ := url.Parse(s.srv.URL)
	for _, c := range s.c.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var got *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			got = c
		}
	}
	if got == nil || !got.HttpOnly || !got.Secure || got.SameSite != http.SameSiteLaxMode || got.Path != "/" {
		t.Fatalf("session cookie %+v", got)
	}
}

func TestDevicePolicyResetRemove(t *testing.T) {
	s := newSite(t, nil)
	st := s.accts.Store("alice")
	devs := pim.NewDevices(st, 4)
	ctx := context.Background()
	if _, err := devs.Claim(ctx, "IMEI:1"); err != nil {
		t.Fatal(err)
	}
	sl, _ := devs.Get(ctx, "IMEI:1")
	sl.Manufacturer, sl.Model = "Nokia", "E71"
	if err := devs.Save(ctx, sl); err != nil {
		t.Fatal(err)
	}
	st.SaveState(ctx, pim.LastErrorKey("IMEI:1"), []byte(`{"time":"2026-12-07T11:00:00Z","result":"failed","error":"the calendar could not be read"}`))
	s.signIn("alice", "secret")
	_, _, page := s.do("GET", "/devices", nil)
	for _, want := range []string{`id="device-1"`, "Nokia E71", "SyncML", "the calendar could not be read", "never completed"} {
		if !strings.Contains(page, want) {
			t.Errorf("devices page lacks %q", want)
		}
	}
	code, _, page := s.do("GET", "/devices/1", nil)
	if code != http.StatusOK {
		t.Fatalf("device page %d\n%s", code, page)
	}
	tok := csrfOf(t, page)
	form := url.Values{"direction": {"two-way"}, "contacts_direction": {"two-way"}, "calendar_direction": {"server-to-device"},
		"tasks_direction": {"two-way"}, "conflict": {"merge"}, "conflict_tie_break": {"server-wins"}, "contact_categories": {" Family , Work,"},
		"contact_folders": {""}, "calendar_past": {"30d"}, "calendar_future": {"0"}, "time_zone": {""}}
	// Without the token: refused, nothing changed.
	if code, _, page := s.do("POST", "/devices/1/policy", form); code != http.StatusForbidden || !strings.Contains(page, "expired") {
		t.Fatalf("policy without token: %d\n%s", code, page)
	}
	if sl, _ := devs.Get(ctx, "IMEI:1"); len(sl.Overrides) != 0 {
		t.Fatalf("changed without token: %v", sl.Overrides)
	}
	form.Set("csrf", tok)
	if code, loc, _ := s.do("POST", "/devices/1/policy", form); code != http.StatusSeeOther || loc != "/devices/1" {
		t.Fatalf("policy: %d %q", code, loc)
	}
	sl, _ = devs.Get(ctx, "IMEI:1")
	want := map[string]string{"calendar_direction": "server-to-device", "contact_categories": "Family,Work", "calendar_past": "30d"}
	if len(sl.Overrides) != len(want) {
		t.Fatalf("overrides %v, want %v", sl.Overrides, want)
	}
	for k, v := range want {
		if sl.Overrides[k] != v {
			t.Errorf("override %s = %q, want %q", k, sl.Overrides[k], v)
		}
	}
	_, _, page = s.do("GET", "/devices/1", nil)
	if !strings.Contains(page, `id="message"`) || !strings.Contains(page, `<option value="30d" selected>`) {
		t.Errorf("after saving, the page shows neither the message nor the new window:\n%s", page)
	}
	// An invalid value is refused with its reason.
	form.Set("calendar_past", "soon")
	s.do("POST", "/devices/1/policy", form)
	if _, _, page = s.do("GET", "/devices/1", nil); !strings.Contains(page, "Not saved") {
		t.Errorf("no refusal shown:\n%s", page)
	}

	// Reset: a confirmation saying what happens, then done.
	_, _, page = s.do("GET", "/devices/1/reset", nil)
	if !strings.Contains(page, "slow sync") {
		t.Errorf("reset confirmation says nothing of a slow sync:\n%s", page)
	}
	st.SaveState(ctx, pim.DeviceKey("IMEI:1", "contacts"), []byte(`{"Synced":"2026-12-07T10:00:00Z"}`))
	if code, _, _ := s.do("POST", "/devices/1/reset", url.Values{"csrf": {tok}}); code != http.StatusSeeOther {
		t.Fatalf("reset %d", code)
	}
	if raw, _ := st.LoadState(ctx, pim.DeviceKey("IMEI:1", "contacts")); raw != nil {
		t.Error("reset kept the database state")
	}
	// An ActiveSync device's reset is told as what it is: it starts over.
	eas, err := devs.Claim(ctx, "TBEAS1")
	if err != nil {
		t.Fatal(err)
	}
	eas.Protocol = "ActiveSync"
	devs.Save(ctx, eas)
	if _, _, page = s.do("GET", fmt.Sprintf("/devices/%d/reset", eas.Number), nil); !strings.Contains(page, "replaces its copy") || strings.Contains(page, "compare every item") {
		t.Errorf("an ActiveSync device's reset confirmation:\n%s", page)
	}
	devs.Remove(ctx, "TBEAS1")
	if code, _, _ := s.do("POST", "/devices/1/remove", url.Values{}); code != http.StatusForbidden {
		t.Errorf("remove without token: %d", code)
	}
	if code, loc, _ := s.do("POST", "/devices/1/remove", url.Values{"csrf": {tok}}); code != http.StatusSeeOther || loc != "/devices" {
		t.Fatalf("remove %d %q", code, loc)
	}
	if all, _ := devs.List(ctx); len(all) != 0 {
		t.Errorf("removed device still listed: %v", all)
	}
	if code, _, _ := s.do("GET", "/devices/1", nil); code != http.StatusNotFound {
		t.Errorf("removed device's page: %d", code)
	}
}

const card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:%s\r\nN:%s;;;;\r\nEND:VCARD\r\n"

func TestBackupDownloadAndImport(t *testing.T) {
	s := newSite(t, nil)
	st := s.accts.Store("alice")
	ctx := context.Background()
	st.Put(ctx, pim.Contacts, &pim.Item{Data: []byte(strings.NewReplacer("%s", "a").Replace(
		"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nFN:Ann Example\r\nN:Example;Ann;;;\r\nTEL:+49 30 1234\r\nEND:VCARD\r\n"))})
	s.signIn("alice", "secret")
	req, _ := http.NewRequest("GET", s.srv.URL+"/backup/contacts.vcf", nil)
	resp, err := s.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/vcard") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(string(body), "FN:Ann Example") {
		t.Fatalf("download: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	_, _, page := s.do("GET", "/backup", nil)
	tok := csrfOf(t, page)
	// The same file back and one new card, one broken: 1 added, 1
	// skipped, 1 broken.
	file := string(body) + "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob New\r\nN:New;Bob;;;\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n"
	pr, pw := io.Pipe()
	mw := newMultipart(pw, tok, "backup.vcf", file)
	go mw()
	req, _ = http.NewRequest("POST", s.srv.URL+"/backup/import", pr)
	req.Header.Set("Content-Type", multipartType)
	resp, err = s.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page = string(b)
	if resp.StatusCode != 200 || !strings.Contains(page, "Added: 1 contact") || !strings.Contains(page, "Skipped: 1 already") {
		t.Fatalf("import: %d\n%s", resp.StatusCode, page)
	}
	if n := len(st.Items(pim.Contacts)); n != 2 {
		t.Errorf("%d contacts after the import, want 2", n)
	}
}

func TestAdminPage(t *testing.T) {
	s := newSite(t, nil)
	devs := pim.NewDevices(s.accts.Store("alice"), 4)
	devs.Claim(context.Background(), "IMEI:9")
	// A user who is no admin gets no admin page.
	s.signIn("alice", "secret")
	if code, _, _ := s.do("GET", "/admin", nil); code != http.StatusForbidden {
		t.Errorf("admin page for a user: %d", code)
	}
	_, _, page := s.do("GET", "/devices", nil)
	s.do("POST", "/signout", url.Values{"csrf": {csrfOf(t, page)}})
	if code, _, _ := s.signIn("admin", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("master with a wrong password: %d", code)
	}
	code, loc, _ := s.signIn("admin", "master-pw")
	if code != http.StatusSeeOther || loc != "/admin" {
		t.Fatalf("master sign-in: %d %q", code, loc)
	}
	code, _, page = s.do("GET", "/admin", nil)
	if code != 200 || !strings.Contains(page, "IMEI:9") || !strings.Contains(page, `id="account-alice"`) {
		t.Fatalf("admin page: %d\n%s", code, page)
	}
	if code, _, _ := s.do("POST", "/admin/reset", url.Values{"csrf": {csrfOf(t, page)}, "user": {"alice"}, "device": {"IMEI:9"}}); code != http.StatusSeeOther {
		t.Errorf("admin reset: %d", code)
	}
	// The master has no mailbox of its own here.
	if code, loc, _ := s.do("GET", "/devices", nil); code != http.StatusSeeOther || loc != "/admin" {
		t.Errorf("master's devices page: %d %q", code, loc)
	}
}

const multipartBoundary = "syncml-imap-test-boundary"
const multipartType = "multipart/form-data; boundary=" + multipartBoundary

// newMultipart returns a func that writes an import form (the token and
// one file) to w and closes it.
func newMultipart(w *io.PipeWriter, csrf, name, content string) func() {
	return func() {
		mw := multipart.NewWriter(w)
		mw.SetBoundary(multipartBoundary)
		mw.WriteField("csrf", csrf)
		fw, _ := mw.CreateFormFile("file", name)
		io.WriteString(fw, content)
		w.CloseWithError(mw.Close())
	}
}

// TestLockoutShown: a locked device is shown locked with how it ends; a
// user locked out is told until when at the sign-in.
func TestLockoutShown(t *testing.T) {
	var userLocked bool
	s := newSite(t, nil)
	until := s.now.Add(5 * time.Minute)
	s.h.Lockouts = func(user string) []Lockout {
		out := []Lockout{{Device: "IMEI:7", Failures: 5, LockedUntil: until, LastError: "wrong password or unknown user"}}
		if userLocked {
			out = append(out, Lockout{Failures: 10, LockedUntil: until})
		}
		return out
	}
	pim.NewDevices(s.accts.Store("alice"), 4).Claim(context.Background(), "IMEI:7")
	s.signIn("alice", "secret")
	_, _, page := s.do("GET", "/devices", nil)
	if !strings.Contains(page, "Locked") || !strings.Contains(page, when(until)) || !strings.Contains(page, "right password") {
		t.Errorf("the devices page does not show the lockout:\n%s", page)
	}
	_, _, page = s.do("GET", "/devices", nil)
	s.do("POST", "/signout", url.Values{"csrf": {csrfOf(t, page)}})
	userLocked = true
	if code, _, page := s.signIn("alice", "wrong"); code != http.StatusTooManyRequests || !strings.Contains(page, "try again after") {
		t.Errorf("locked sign-in: %d\n%s", code, page)
	}
}

// TestAdminUnlock: the admin page shows a user's lockout and lifts it.
func TestAdminUnlock(t *testing.T) {
	locked := true
	var unlocked []string
	s := newSite(t, func(h *Handler) {
		h.Admin.Lockouts = func() []AccountLockout {
			if !locked {
				return nil
			}
			return []AccountLockout{{User: "bob", Lockout: Lockout{Device: "IMEI:5", Failures: 5, LockedUntil: time.Now().Add(time.Hour)}}}
		}
		h.Unlock = func(user, device string) int {
			unlocked = append(unlocked, user+"/"+device)
			locked = false
			return 1
		}
	})
	s.signIn("admin", "master-pw")
	_, _, page := s.do("GET", "/admin", nil)
	if !strings.Contains(page, `id="account-bob"`) || !strings.Contains(page, "IMEI:5") || !strings.Contains(page, "Unlock") {
		t.Fatalf("the admin page does not show bob's lockout:\n%s", page)
	}
	if code, _, _ := s.do("POST", "/admin/unlock", url.Values{"user": {"bob"}, "device": {"IMEI:5"}}); code != http.StatusForbidden {
		t.Errorf("unlock without token: %d", code)
	}
	if code, loc, _ := s.do("POST", "/admin/unlock", url.Values{"csrf": {csrfOf(t, page)}, "user": {"bob"}, "device": {"IMEI:5"}}); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin") {
		t.Fatalf("unlock: %d %q", code, loc)
	}
	if len(unlocked) != 1 || unlocked[0] != "bob/IMEI:5" {
		t.Errorf("unlocked %v", unlocked)
	}
	if _, _, page = s.do("GET", "/admin?user=bob", nil); !strings.Contains(page, "1 lockout(s) lifted") {
		t.Errorf("no confirmation:\n%s", page)
	}
}
