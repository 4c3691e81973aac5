package dav

import (
	"bytes"
	"context"

	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"

	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
)

const password = "secret"

// server is a DAV handler over in-memory stores, one per user.
type server struct {
	*httptest.Server
	accounts *memstore.Accounts
}

func newServer(t *testing.T) *server {
	t.Helper()
	acc := &memstore.Accounts{Password: password}
	srv := httptest.NewServer(&Handler{Auth: acc, Prefix: "/dav"})
	t.Cleanup(srv.Close)
	return &server{srv, acc}
}

// client is an HTTP client that logs in as user.
func (s *server) client(user, pass string) webdav.HTTPClient {
	return webdav.HTTPClientWithBasicAuth(s.Client(), user, pass)
}

func (s *server) do(t *testing.T, user, pass, method, path, body string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func card(uid, name string) vcard.Card {
	c := vcard.Card{}
	c.SetValue(vcard.FieldVersion, "3.0")
	c.SetValue(vcard.FieldUID, uid)
	c.SetValue(vcard.FieldFormattedName, name)
	c.SetName(&vcard.Name{FamilyName: name})
	return c
}

func event(uid, summary string, start time.Time, rrule string) *ical.Calendar {
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, "-//test//dav//EN")
	ev := ical.NewEvent()
	ev.Props.SetText(ical.PropUID, uid)
	ev.Props.SetText(ical.PropSummary, summary)
	ev.Props.SetDateTime(ical.PropDateTimeStamp, start)
	ev.Props.SetDateTime(ical.PropDateTimeStart, start)
	ev.Props.SetDateTime(ical.PropDateTimeEnd, start.Add(time.Hour))
	if rrule != "" {
		prop := ical.NewProp(ical.PropRecurrenceRule)
		prop.Value = rrule
		ev.Props.Set(prop)
	}
	cal.Children = append(cal.Children, ev.Component)
	return cal
}

func TestWellKnownAndDiscovery(t *testing.T) {
	s := newServer(t)
	for _, p := range []string{"/.well-known/carddav", "/.well-known/caldav"} {
		resp := s.do(t, "", "", "PROPFIND", p, "")
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/dav/" {
			t.Errorf("%s: %d to %q, want 301 to /dav/", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	ctx := context.Background()
	cc, err := carddav.NewClient(s.client("alice@example.org", password), s.URL+"/dav/")
	if err != nil {
		t.Fatal(err)
	}
	principal, err := cc.FindCurrentUserPrincipal(ctx)
	if err != nil || principal != "/dav/alice@example.org/" {
		t.Fatalf("principal %q, %v", principal, err)
	}
	home, err := cc.FindAddressBookHomeSet(ctx, principal)
	if err != nil || home != "/dav/alice@example.org/contacts/" {
		t.Fatalf("address book home %q, %v", home, err)
	}
	books, err := cc.FindAddressBooks(ctx, home)
	if err != nil || len(books) != 1 || books[0].Path != home+"default/" || books[0].Name != "Contacts" {
		t.Fatalf("address books %+v, %v", books, err)
	}
	dc, err := caldav.NewClient(s.client("alice@example.org", password), s.URL+"/dav/")
	if err != nil {
		t.Fatal(err)
	}
	calHome, err := dc.FindCalendarHomeSet(ctx, principal)
	if err != nil || calHome != "/dav/alice@example.org/calendars/" {
		t.Fatalf("calendar home %q, %v", calHome, err)
	}
	cals, err := dc.FindCalendars(ctx, calHome)
	if err != nil || len(cals) != 2 {
		t.Fatalf("calendars %+v, %v", cals, err)
	}
	for _, c := range cals {
		want := map[string]string{calHome + "events/": "VEVENT", calHome + "tasks/": "VTODO"}[c.Path]
		if want == "" || !slices.Equal(c.SupportedComponentSet, []string{want}) {
			t.Errorf("calendar %s: components %v", c.Path, c.SupportedComponentSet)
		}
	}
	// The collection says which reports it answers, sync-collection
	// among them, and gives a ctag.
	resp := s.do(t, "alice@example.org", password, "PROPFIND", "/dav/alice@example.org/contacts/default/",
		`<propfind xmlns="DAV:" xmlns:cs="http://calendarserver.org/ns/"><prop><supported-report-set/><cs:getctag/><sync-token/><current-user-privilege-set/></prop></propfind>`,
		"Depth", "0")
	body := readAll(t, resp)
	for _, want := range []string{"<d:sync-collection/>", "<card:addressbook-multiget/>", "<cs:getctag>" + tokenURI, "<d:sync-token>" + tokenURI, "<d:write/>"} {
		if !strings.Contains(body, want) {
			t.Errorf("collection PROPFIND lacks %s:\n%s", want, body)
		}
	}
}

func TestLogin(t *testing.T) {
	s := newServer(t)
	if resp := s.do(t, "", "", "PROPFIND", "/dav/", ""); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no credentials: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if resp := s.do(t, "alice", "wrong", "PROPFIND", "/dav/", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", resp.StatusCode)
	}
	if resp := s.do(t, "alice", password, "PROPFIND", "/dav/bob/contacts/default/", "", "Depth", "1"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another user's collection: %d", resp.StatusCode)
	}
	if resp := s.do(t, "alice", password, "PROPFIND", "/dav/alice/nothing/", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
	if resp := s.do(t, "alice", password, "MKCOL", "/dav/alice/contacts/new/", ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("MKCOL: %d", resp.StatusCode)
	}
}

// unavailable is an Authenticator whose mail server cannot answer.
type unavailable struct{}

func (unavailable) Login(context.Context, string, string) (pim.Store, error) {
	return nil, pim.ErrUnavailable
}

func TestUnavailableIs503(t *testing.T) {
	srv := httptest.NewServer(&Handler{Auth: unavailable{}, Prefix: "/dav"})
	defer srv.Close()
	req, _ := http.NewRequest("PROPFIND", srv.URL+"/dav/", nil)
	req.SetBasicAuth("alice", password)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("IMAP down: %d, Retry-After %q; want 503 with Retry-After, never 401", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestCardDAVItems(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c, err := carddav.NewClient(s.client("alice", password), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	book := "/dav/alice/contacts/default/"
	// A name the client chose, not one this server would: read back
	// under the same name.
	names := []string{"3f1c9a.vcf", "Ann Example (home).vcf"}
	var etags []string
	for i, n := range names {
		ao, err := c.PutAddressObject(ctx, book+n, card("uid-"+n, []string{"Ann", "Bob"}[i]))
		if err != nil {
			t.Fatalf("PUT %s: %v", n, err)
		}
		etags = append(etags, ao.ETag)
	}
	store := s.accounts.Store("alice")
	if got := len(store.Items(pim.Contacts)); got != 2 {
		t.Fatalf("%d items in the store, want 2", got)
	}
	objs, err := c.QueryAddressBook(ctx, book, &carddav.AddressBookQuery{DataRequest: carddav.AddressDataRequest{AllProp: true}})
	if err != nil || len(objs) != 2 {
		t.Fatalf("query: %d objects, %v", len(objs), err)
	}
	var paths []string
	for _, o := range objs {
		paths = append(paths, o.Path)
		if o.ETag == "" {
			t.Errorf("%s: no ETag", o.Path)
		}
	}
	slices.Sort(paths)
	if want := []string{book + names[0], book + names[1]}; !slices.Equal(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
	got, err := c.GetAddressObject(ctx, book+names[1])
	if err != nil || got.Card.Value(vcard.FieldFormattedName) != "Bob" {
		t.Fatalf("GET: %+v, %v", got, err)
	}
	// The ETag names the version: the same until the item is written.
	again, _ := c.GetAddressObject(ctx, book+names[1])
	if got.ETag != again.ETag {
		t.Errorf("ETag moved without a write: %q, %q", got.ETag, again.ETag)
	}

	// A stale If-Match is refused and changes nothing.
	path := book + names[0]
	if _, err := c.PutAddressObject(ctx, path, card("uid-"+names[0], "Ann Edited")); err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	vcard.NewEncoder(&raw).Encode(card("uid-"+names[0], "Lost Update"))
	resp := s.do(t, "alice", password, http.MethodPut, "/dav/alice/contacts/default/"+names[0], raw.String(),
		"Content-Type", "text/vcard", "If-Match", `"`+etags[0]+`"`)
	if resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("PUT with a stale If-Match: %d, want 412", resp.StatusCode)
	}
	resp = s.do(t, "alice", password, http.MethodPut, "/dav/alice/contacts/default/"+names[0], raw.String(),
		"Content-Type", "text/vcard", "If-None-Match", "*")
	if resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("PUT If-None-Match * on an existing item: %d, want 412", resp.StatusCode)
	}
	resp = s.do(t, "alice", password, http.MethodDelete, "/dav/alice/contacts/default/"+names[0], "", "If-Match", `"`+etags[0]+`"`)
	if resp.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("DELETE with a stale If-Match: %d, want 412", resp.StatusCode)
	}
	cur, _ := c.GetAddressObject(ctx, path)
	if cur.Card.Value(vcard.FieldFormattedName) != "Ann Edited" {
		t.Errorf("after refused writes: %q", cur.Card.Value(vcard.FieldFormattedName))
	}
	resp = s.do(t, "alice", password, http.MethodDelete, "/dav/alice/contacts/default/"+names[0], "", "If-Match", `"`+cur.ETag+`"`)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE with the current If-Match: %d", resp.StatusCode)
	}
	if resp := s.do(t, "alice", password, http.MethodGet, "/dav/alice/contacts/default/"+names[0], ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET of a deleted item: %d", resp.StatusCode)
	}
}

func TestSyncCollection(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c, err := carddav.NewClient(s.client("alice", password), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	book := "/dav/alice/contacts/default/"
	for _, n := range []string{"a", "b", "c"} {
		if _, err := c.PutAddressObject(ctx, book+n+".vcf", card(n, n)); err != nil {
			t.Fatal(err)
		}
	}
	first, err := c.SyncCollection(ctx, book, &carddav.SyncQuery{DataRequest: carddav.AddressDataRequest{AllProp: true}})
	if err != nil || len(first.Updated) != 3 || len(first.Deleted) != 0 || first.SyncToken == "" {
		t.Fatalf("first sync-collection: %+v, %v", first, err)
	}
	// Nothing changed: nothing listed, the same token.
	same, err := c.SyncCollection(ctx, book, &carddav.SyncQuery{SyncToken: first.SyncToken})
	if err != nil || len(same.Updated)+len(same.Deleted) != 0 || same.SyncToken != first.SyncToken {
		t.Fatalf("unchanged: %+v, %v", same, err)
	}
	// A change made elsewhere (a SyncML device, a mail client): only it
	// is listed.
	store := s.accounts.Store("alice")
	if err := store.Put(ctx, pim.Contacts, &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:d\r\nFN:d\r\nN:d;;;;\r\nEND:VCARD\r\n")}); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveAll(ctx, book+"b.vcf"); err != nil {
		t.Fatal(err)
	}
	next, err := c.SyncCollection(ctx, book, &carddav.SyncQuery{SyncToken: first.SyncToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Updated) != 1 || len(next.Deleted) != 1 || next.Deleted[0] != book+"b.vcf" || next.SyncToken == first.SyncToken {
		t.Errorf("after an add and a delete: updated %v, deleted %v, token %q", next.Updated, next.Deleted, next.SyncToken)
	}
	// The old token still works (a second client holding it).
	again, err := c.SyncCollection(ctx, book, &carddav.SyncQuery{SyncToken: first.SyncToken})
	if err != nil || len(again.Updated) != 1 || len(again.Deleted) != 1 {
		t.Errorf("the old token again: %+v, %v", again, err)
	}
	// An unknown token is refused the way RFC 6578 says.
	resp := s.do(t, "alice", password, "REPORT", book,
		`<sync-collection xmlns="DAV:"><sync-token>`+tokenURI+`1-deadbeef</sync-token><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>`)
	if body := readAll(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "valid-sync-token") {
		t.Errorf("unknown token: %d %s", resp.StatusCode, body)
	}
}

func TestCalDAVQueries(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	c, err := caldav.NewClient(s.client("alice", password), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	cal := "/dav/alice/calendars/events/"
	day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, e := range []struct {
		uid   string
		start time.Time
		rrule string
	}{
		{"march", day, ""},
		{"june", day.AddDate(0, 3, 0), ""},
		{"weekly", day.AddDate(0, 0, -14), "FREQ=WEEKLY;COUNT=20"}, // an instance on March 2
	} {
		if _, err := c.PutCalendarObject(ctx, cal+e.uid+".ics", event(e.uid, e.uid, e.start, e.rrule)); err != nil {
			t.Fatalf("PUT %s: %v", e.uid, err)
		}
	}
	objs, err := c.QueryCalendar(ctx, cal, &caldav.CalendarQuery{
		CompRequest: caldav.CalendarCompRequest{Name: "VCALENDAR", AllProps: true, AllComps: true},
		CompFilter: caldav.CompFilter{Name: "VCALENDAR", Comps: []caldav.CompFilter{{
			Name: "VEVENT", Start: day.AddDate(0, 0, -1), End: day.AddDate(0, 0, 3)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, strings.TrimSuffix(strings.TrimPrefix(o.Path, cal), ".ics"))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"march", "weekly"}) {
		t.Errorf("time-range query found %v, want [march weekly]", got)
	}
	// A task does not go into the events calendar.
	task := ical.NewCalendar()
	task.Props.SetText(ical.PropVersion, "2.0")
	task.Props.SetText(ical.PropProductID, "-//test//dav//EN")
	todo := ical.NewComponent(ical.CompToDo)
	todo.Props.SetText(ical.PropUID, "t1")
	todo.Props.SetText(ical.PropSummary, "a task")
	todo.Props.SetDateTime(ical.PropDateTimeStamp, day)
	task.Children = append(task.Children, todo)
	if _, err := c.PutCalendarObject(ctx, cal+"t1.ics", task); err == nil {
		t.Error("a VTODO was taken into the events calendar")
	}
	if _, err := c.PutCalendarObject(ctx, "/dav/alice/calendars/tasks/t1.ics", task); err != nil {
		t.Errorf("a VTODO into the tasks calendar: %v", err)
	}
	if n := len(s.accounts.Store("alice").Items(pim.Tasks)); n != 1 {
		t.Errorf("%d tasks stored, want 1", n)
	}
}

func TestNames(t *testing.T) {
	for _, name := range []string{"abc.vcf", "3F2504E0-4F89-11D3-9A0C-0305E82C3301.vcf", "Ann Example.vcf",
		"with~tilde.vcf", "~x.vcf", "~~eA.vcf", "no-extension", "é.vcf", ".hidden.vcf", "a.ics"} {
		id, ok := idOf(name, ".vcf")
		if !ok {
			t.Errorf("%q: no ID", name)
			continue
		}
		if back := nameOf(id, ".vcf"); back != name {
			t.Errorf("%q → ID %q → %q", name, id, back)
		}
	}
	// IDs of items from elsewhere, plain or not: their names lead back
	// to them.
	for _, id := range []string{"0123-abcd", "mail/client@x", "~odd", "a b", "~~"} {
		name := nameOf(id, ".ics")
		if strings.Contains(name, "/") {
			t.Errorf("ID %q named %q", id, name)
		}
		if back, ok := idOf(name, ".ics"); !ok || back != id {
			t.Errorf("ID %q → %q → %q (%v)", id, name, back, ok)
		}
	}
	if _, ok := idOf(strings.Repeat("x", 300)+" .vcf", ".vcf"); ok {
		t.Error("a name too long for an ID was taken")
	}
}
