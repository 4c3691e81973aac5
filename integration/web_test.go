package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"syncml-imap/config"
	"syncml-imap/imapstore"
	"syncml-imap/integration/syncevo"
	"syncml-imap/internal/browsertest"
)

// TestWebPages drives the people's pages in a real headless Chromium
// against a real Dovecot, with a real SyncEvolution phone: a wrong
// password is refused; after signing in, the phone that just synced is
// on the devices page; its calendar window is changed on the device's
// page and the phone's next sync follows it; the contacts backup the
// browser downloads holds what the mailbox holds; an import adds what is
// new and skips what is there; a form posted without its CSRF token is
// refused. Screenshots at phone and desktop widths go to the test's
// output (SYNCML_IMAP_SCREENSHOTS names the directory).
func TestWebPages(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.IMAP.MasterUser, c.IMAP.MasterPassword = "admin", "master-pw" }, nil)
	acct := e.account()
	ctx := context.Background()
	now := time.Now().UTC()
	const n = 24
	inWindow := 0
	for i := range n {
		start := now.AddDate(0, 0, (i-n/2)*60).Truncate(time.Hour)
		if start.After(now.AddDate(0, 0, -30)) && start.Before(now.AddDate(0, 0, 365)) {
			inWindow++
		}
		ev := fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:web-%02d@test\r\n"+
			"DTSTAMP:20260101T000000Z\r\nDTSTART:%s\r\nDURATION:PT1H\r\nSUMMARY:Event %02d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
			i, start.Format("20060102T150405Z"), i)
		if err := acct.Put(ctx, imapstore.KindCalendar, &imapstore.Item{Data: []byte(ev)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if err := acct.Put(ctx, imapstore.KindContacts, &imapstore.Item{Data: contact(i, "from the mailbox")}); err != nil {
			t.Fatal(err)
		}
	}
	cal := syncevo.Source{Name: "calendar", URI: "calendar", Format: "text/calendar"}
	book := syncevo.Source{Name: "addressbook", URI: "contacts", Format: "text/vcard"}
	phone := e.device(t, "web-phone-1", book, cal)
	mustSync(t, phone, syncevo.Slow)
	if got := len(phone.Items(t, "calendar")); got != n {
		t.Fatalf("the phone holds %d of %d events before the window", got, n)
	}

	b := browsertest.Start(t)
	shots := func(name string) {
		for _, w := range []int{390, 1280} {
			b.SetWidth(w)
			b.Screenshot(t, name)
		}
	}
	b.Go(e.base + "/")
	shots("signin")
	b.Fill("#user", e.user)
	b.Fill("#password", "not-the-password")
	b.Click("#signin")
	if b.Status() != http.StatusUnauthorized || !strings.Contains(b.Text("#error"), "wrong") {
		t.Fatalf("wrong password: status %d, %q", b.Status(), b.Text("#error"))
	}
	b.Fill("#user", e.user)
	b.Fill("#password", e.pass)
	b.Click("#signin")
	if !strings.HasSuffix(b.URL(), "/devices") {
		t.Fatalf("after signing in the browser is at %s:\n%s", b.URL(), b.HTML())
	}
	for _, c := range b.Cookies() {
		if c.Name == "syncml_imap_session" && (!c.HTTPOnly || c.SameSite != "Lax") {
			t.Errorf("session cookie %+v: not HttpOnly, SameSite=Lax", c)
		}
	}
	card := b.Text("#device-1")
	for _, want := range []string{"web-phone-1", "SyncML", "calendar", "contacts"} {
		if !strings.Contains(card, want) {
			t.Errorf("the devices page shows the phone without %q:\n%s", want, card)
		}
	}
	shots("devices")

	// The calendar window, set on the device's page.
	b.Click("#device-1 a")
	shots("device")
	b.Select("#calendar_past", "30d")
	b.Select("#calendar_future", "365d")
	b.Click("#save-policy")
	if !strings.Contains(b.Text("#message"), "Saved") {
		t.Fatalf("no confirmation after saving:\n%s", b.HTML())
	}
	mustSync(t, phone, syncevo.TwoWay)
	if got := len(phone.Items(t, "calendar")); got != inWindow {
		t.Errorf("window 30d/365d set on the page: the phone holds %d events, want the %d inside it", got, inWindow)
	}
	if got := len(e.mailbox(imapstore.KindCalendar)); got != n {
		t.Errorf("the mailbox holds %d of %d events after the window", got, n)
	}
	b.Go(e.base + "/devices")
	if card := b.Text("#device-1"); !strings.Contains(card, "two-way") {
		t.Errorf("the devices page does not show the last sync's mode:\n%s", card)
	}

	// The backup the browser downloads holds the mailbox's contacts.
	b.Go(e.base + "/backup")
	shots("backup")
	dl := b.Download(e.base + "/backup/contacts.vcf")
	if !strings.HasPrefix(dl.ContentType, "text/vcard") || !strings.Contains(dl.ContentDisposition, "attachment") {
		t.Errorf("download headers: %q, %q", dl.ContentType, dl.ContentDisposition)
	}
	mailbox := e.mailbox(imapstore.KindContacts)
	if got := strings.Count(string(dl.Body), "BEGIN:VCARD"); got != len(mailbox) {
		t.Errorf("the backup holds %d cards, the mailbox %d", got, len(mailbox))
	}
	for _, data := range mailbox {
		for _, f := range fields(data) {
			if strings.HasPrefix(f, "FN") && !strings.Contains(string(dl.Body), strings.TrimPrefix(f, "FN")) {
				t.Errorf("the backup lacks %s", f)
			}
		}
	}

	// Import: the backup again with one new card and one broken record.
	file := filepath.Join(t.TempDir(), "import.vcf")
	extra := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Imported Person\r\nN:Person;Imported;;;\r\nTEL:+1 555 0100\r\nEND:VCARD\r\n" +
		"BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n"
	if err := os.WriteFile(file, append(dl.Body, extra...), 0o600); err != nil {
		t.Fatal(err)
	}
	b.SetFile("#file", file)
	b.Click("#import")
	if added := b.Text("#added"); !strings.Contains(added, "1 contact") {
		t.Errorf("import report: %q\n%s", added, b.HTML())
	}
	if skipped := b.Text("#skipped"); !strings.Contains(skipped, fmt.Sprintf("%d already", len(mailbox))) {
		t.Errorf("import report: %q", skipped)
	}
	if broken := b.Text("#broken"); !strings.Contains(broken, "1") {
		t.Errorf("import report: %q", broken)
	}
	shots("imported")
	if got := len(e.mailbox(imapstore.KindContacts)); got != len(mailbox)+1 {
		t.Errorf("the mailbox holds %d contacts after the import, want %d", got, len(mailbox)+1)
	}

	// A form posted with the browser's session but without its token.
	var cookie *http.Cookie
	for _, c := range b.Cookies() {
		if c.Name == "syncml_imap_session" {
			cookie = &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	if cookie == nil {
		t.Fatal("the browser has no session cookie")
	}
	req, _ := http.NewRequest("POST", e.base+"/devices/1/policy", strings.NewReader(url.Values{"calendar_past": {"0"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a form without its CSRF token: %d\n%s", resp.StatusCode, body)
	}
	if ov := e.slotOverrides(t, "web-phone-1"); ov["calendar_past"] != "30d" {
		t.Errorf("the token-less form changed the policy: %v", ov)
	}

	b.Go(e.base + "/setup")
	if u := b.Text("#syncml-url"); u != e.url {
		t.Errorf("the setup page gives %q as the SyncML URL, want %q", u, e.url)
	}
	shots("setup")
	b.Click("#signout")
	b.Go(e.base + "/devices")
	if b.Status() != http.StatusUnauthorized {
		t.Errorf("after signing out the devices page answers %d", b.Status())
	}

	// The master user's admin page: the account that signed in, its
	// phone; a resync makes the phone's next sync a slow one.
	b.Go(e.base + "/")
	b.Fill("#user", "admin")
	b.Fill("#password", "master-pw")
	b.Click("#signin")
	if !strings.HasSuffix(b.URL(), "/admin") {
		t.Fatalf("the master user signed in is at %s:\n%s", b.URL(), b.HTML())
	}
	row := "#admin-" + strings.NewReplacer("@", "\\@", ".", "\\.").Replace(e.user) + "-1"
	if !b.Has(row) || !strings.Contains(b.Text(row), "web-phone-1") {
		t.Fatalf("the admin page does not list %s's phone:\n%s", e.user, b.HTML())
	}
	shots("admin")
	b.Click(row + " button.resync")
	if !strings.Contains(b.Text("#message"), "reset") {
		t.Errorf("no confirmation of the resync:\n%s", b.HTML())
	}
	// SyncEvolution refuses a slow sync it did not ask for (20048, its
	// preventSlowSync), as it should: its user then runs one.
	if r := phone.Sync(t, syncevo.TwoWay); r.OK() || !strings.Contains(r.Output, "slow sync") {
		t.Errorf("after the admin's resync the server did not ask the phone for a slow sync: %s\n%s", r, r.Output)
	}
	mustSync(t, phone, syncevo.Slow)
	if got := len(e.mailbox(imapstore.KindContacts)); got != len(mailbox)+1 {
		t.Errorf("the mailbox holds %d contacts after the resync's slow sync, want %d", got, len(mailbox)+1)
	}
	if got := len(phone.Items(t, "addressbook")); got != len(mailbox)+1 {
		t.Errorf("the phone holds %d contacts after the slow sync, want %d", got, len(mailbox)+1)
	}
}

// slotOverrides reads a device's policy overrides from its slot.
func (e *env) slotOverrides(t *testing.T, device string) map[string]string {
	t.Helper()
	s, err := e.slots(t).Get(context.Background(), device)
	if err != nil || s == nil {
		t.Fatalf("slot of %s: %v", device, err)
	}
	return s.Overrides
}
