package integration

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"syncml-imap/config"
	"syncml-imap/imapstore"
	"syncml-imap/integration/syncevo"
	"syncml-imap/internal/dovetest"
	"syncml-imap/plugin"
)

// env is one account on a real Dovecot, the syncml-imap endpoint in front
// of it, and a real SyncEvolution client.
type env struct {
	t      *testing.T
	dove   *dovetest.Server
	url    string
	base   string // the listener's root: the people's pages
	user   string
	pass   string
	client *syncevo.Client
	mu     sync.Mutex                            // guards cut and record, read by the HTTP server
	cut    func() bool                           // when set and true, the next POST fails
	record func(contentType string, body []byte) // when set, sees every request body
}

// setCut and setRecord change the hooks while the server runs.
func (e *env) setCut(f func() bool) { e.mu.Lock(); e.cut = f; e.mu.Unlock() }
func (e *env) setRecord(f func(string, []byte)) {
	e.mu.Lock()
	e.record = f
	e.mu.Unlock()
}

func (e *env) hooks() (func() bool, func(string, []byte)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cut, e.record
}

func newEnv(t *testing.T) *env { return newEnvWith(t, nil, nil) }

// newEnvWith lets a test adjust the server's configuration and the
// client's options.
func newEnvWith(t *testing.T, server func(*config.Config), client func(*syncevo.Options)) *env {
	t.Helper()
	dove := dovetest.Start(t, &dovetest.Options{MasterUser: "admin", MasterPassword: "master-pw"})
	e := &env{t: t, dove: dove, user: "carol@example.org", pass: "carol-pw"}
	dove.AddUser(t, e.user, e.pass)
	cfg := config.Default()
	cfg.IMAP.Address = dove.Addr
	if server != nil {
		server(cfg)
	}
	h, err := plugin.NewHandler(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/syncml", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cut, record := e.hooks()
		if r.Method == http.MethodPost && record != nil {
			body, _ := io.ReadAll(r.Body)
			record(r.Header.Get("Content-Type"), body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if r.Method == http.MethodPost && cut != nil && cut() {
			// The connection drops: the request never reaches the server.
			http.Error(w, "cut by the test", http.StatusBadGateway)
			return
		}
		h.ServeHTTP(w, r)
	}))
	if wh := h.WebHandler(); wh != nil {
		mux.Handle(cfg.Web.Path, wh)
	}
	if eh := h.EASHandler(); eh != nil {
		for _, p := range plugin.EASPaths {
			mux.Handle(p, eh)
		}
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close(); h.Server.Close() })
	e.base = "http://" + ln.Addr().String()
	e.url = e.base + "/syncml"
	opts := &syncevo.Options{
		URL: e.url, Username: e.user, Password: e.pass, DeviceID: "sc-test-device-1",
		RefreshSync: true,
		Sources: []syncevo.Source{
			{Name: "addressbook", URI: "contacts", Format: "text/vcard"},
			{Name: "calendar", URI: "calendar", Format: "text/calendar"},
			{Name: "todo", URI: "tasks", Format: "text/calendar"},
		},
	}
	if client != nil {
		client(opts)
	}
	e.client = syncevo.New(t, opts)
	return e
}

var kindOfSource = map[string]imapstore.Kind{"addressbook": imapstore.KindContacts, "calendar": imapstore.KindCalendar, "todo": imapstore.KindTasks}

// mailbox reads every item of the kind as a mail client's account sees it.
func (e *env) mailbox(kind imapstore.Kind) map[string][]byte {
	e.t.Helper()
	return imapMailbox(e.t, e.dove.Addr, e.user, e.pass, kind)
}

func (e *env) account() *imapstore.Account {
	a, err := imapstore.Dial(context.Background(), &imapstore.Options{Address: e.dove.Addr}, e.user, e.pass)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { a.Close() })
	return a
}

func (e *env) sync(t *testing.T, mode syncevo.Mode) *syncevo.Result {
	t.Helper()
	r := e.client.Sync(t, mode)
	if !r.OK() {
		var wire strings.Builder
		if msgs, err := e.client.Messages(r); err == nil {
			for _, m := range msgs[max(0, len(msgs)-3):] {
				fmt.Fprintf(&wire, "--- %s (outgoing %v)\n%s\n", m.File, m.Outgoing, m.Data)
			}
		}
		t.Fatalf("sync %q failed: %s\n%s\n%s", mode, r, r.Output, wire.String())
	}
	return r
}

// fields reduces an item to the properties that carry content, so that
// the client's and the mailbox's copies compare field by field whatever
// each side adds (PRODID, REV, X-properties, UID, line folding).
var ignored = regexp.MustCompile(`^(PRODID|REV|UID|DTSTAMP|LAST-MODIFIED|CREATED|X-[A-Z0-9-]+|VERSION|BEGIN|END)[;:]`)

func fields(data []byte) []string {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\n ", "")
	summary := ""
	for _, l := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(l, "SUMMARY:"); ok {
			summary = v
		}
	}
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l == "" || ignored.MatchString(l) {
			continue
		}
		if _, v, ok := strings.Cut(l, ":"); ok && strings.Trim(v, "; ") == "" {
			continue // an empty property carries no content (SyncEvolution sends them all)
		}
		if l == "DESCRIPTION:"+summary {
			continue // SyncEvolution's engine copies SUMMARY into DESCRIPTION when it sends
		}
		l = normParams(l)
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// normParams writes a property's parameters in one order and case
// (ENCODING=b and encoding=B mean the same); the value stays as it is.
func normParams(l string) string {
	head, value, ok := strings.Cut(l, ":")
	if !ok || !strings.Contains(head, ";") {
		return l
	}
	parts := strings.Split(head, ";")
	params := parts[1:]
	for i := range params {
		params[i] = strings.ToUpper(params[i])
	}
	slices.Sort(params)
	return parts[0] + ";" + strings.Join(params, ";") + ":" + value
}

func fieldSet(items map[string][]byte) []string {
	var out []string
	for _, d := range items {
		out = append(out, strings.Join(fields(d), "|"))
	}
	slices.Sort(out)
	return out
}

// same checks that the client and the mailbox hold the same items, field
// by field.
func (e *env) same(t *testing.T, source string) {
	t.Helper()
	client := fieldSet(e.client.Items(t, source))
	box := fieldSet(e.mailbox(kindOfSource[source]))
	if !slices.Equal(client, box) {
		t.Fatalf("%s: client and mailbox differ\nclient (%d):\n%s\nmailbox (%d):\n%s", source, len(client),
			strings.Join(client, "\n"), len(box), strings.Join(box, "\n"))
	}
}

func contact(i int, note string) []byte {
	return []byte(fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person %03d\r\nN:%03d;Person;;;\r\nTEL;TYPE=CELL:+49 170 %07d\r\n"+
		"EMAIL;TYPE=INTERNET:p%03d@example.org\r\nNOTE:%s\r\nEND:VCARD\r\n", i, i, i, i, note))
}

func event(i int, summary string) []byte {
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * 24 * time.Hour)
	return []byte(fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:event-%03d@test\r\n"+
		"DTSTART:%s\r\nDTEND:%s\r\nSUMMARY:%s\r\nLOCATION:Room %d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		i, start.Format("20060102T150405Z"), start.Add(time.Hour).Format("20060102T150405Z"), summary, i))
}

func todo(i int, summary string) []byte {
	return []byte(fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:task-%03d@test\r\n"+
		"DUE:20261215T170000Z\r\nSUMMARY:%s\r\nPRIORITY:%d\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\nEND:VCALENDAR\r\n", i, summary, i%9+1))
}

// TestSyncEvolution drives the real client through the sync modes against
// a real Dovecot, comparing client and mailbox item by item after each step.
func TestSyncEvolution(t *testing.T) {
	for _, wb := range []bool{false, true} {
		t.Run(fmt.Sprintf("wbxml=%v", wb), func(t *testing.T) {
			t.Parallel()
			fullSuite(t, wb)
		})
	}
}

// fullSuite is the engine issue's end-to-end suite, in one encoding.
func fullSuite(t *testing.T, wb bool) {
	e := newEnvWith(t, nil, func(o *syncevo.Options) { o.WBXML = wb })
	c := e.client
	for i := 0; i < 100; i++ {
		c.WriteItem(t, "addressbook", fmt.Sprintf("c%03d.vcf", i), contact(i, "first"))
	}
	for i := 0; i < 50; i++ {
		c.WriteItem(t, "calendar", fmt.Sprintf("e%03d.ics", i), event(i, fmt.Sprintf("Meeting %d", i)))
	}
	for i := 0; i < 20; i++ {
		c.WriteItem(t, "todo", fmt.Sprintf("t%03d.ics", i), todo(i, fmt.Sprintf("Task %d", i)))
	}

	t.Run("slow sync into an empty mailbox", func(t *testing.T) {
		r := e.sync(t, syncevo.Slow)
		if n := len(e.mailbox(imapstore.KindContacts)); n != 100 {
			t.Fatalf("%d contacts in the mailbox, want 100 (%s)", n, r)
		}
		for _, src := range []string{"addressbook", "calendar", "todo"} {
			e.same(t, src)
		}
	})

	t.Run("nothing changed", func(t *testing.T) {
		r := e.sync(t, syncevo.TwoWay)
		for name, s := range r.Sources {
			if s.Mode != "two-way" || s.LocalAdded+s.LocalUpdated+s.LocalRemoved+s.RemoteAdded+s.RemoteUpdated+s.RemoteRemoved != 0 {
				t.Errorf("%s: %+v", name, s)
			}
		}
	})

	t.Run("a change on each side", func(t *testing.T) {
		c.WriteItem(t, "addressbook", "c005.vcf", contact(5, "changed on the phone"))
		a := e.account()
		box := e.mailbox(imapstore.KindContacts)
		var target string
		for id, d := range box {
			if strings.Contains(string(d), "FN:Person 007") {
				target = id
			}
		}
		if err := a.Put(context.Background(), imapstore.KindContacts, &imapstore.Item{ID: target, Data: contact(7, "changed in the mailbox")}); err != nil {
			t.Fatal(err)
		}
		if err := a.Put(context.Background(), imapstore.KindCalendar, &imapstore.Item{Data: event(77, "Added by mail client")}); err != nil {
			t.Fatal(err)
		}
		r := e.sync(t, syncevo.TwoWay)
		ab := r.Sources["addressbook"]
		if ab.RemoteUpdated != 1 || ab.LocalUpdated != 1 {
			t.Errorf("addressbook counters %+v", ab)
		}
		if r.Sources["calendar"].LocalAdded != 1 {
			t.Errorf("calendar counters %+v", r.Sources["calendar"])
		}
		for _, src := range []string{"addressbook", "calendar", "todo"} {
			e.same(t, src)
		}
	})

	t.Run("deletes both ways", func(t *testing.T) {
		c.DeleteItem(t, "addressbook", "c010.vcf")
		c.DeleteItem(t, "todo", "t003.ics")
		a := e.account()
		box := e.mailbox(imapstore.KindContacts)
		for id, d := range box {
			if strings.Contains(string(d), "FN:Person 020") {
				if _, err := a.Delete(context.Background(), imapstore.KindContacts, id); err != nil {
					t.Fatal(err)
				}
			}
		}
		e.sync(t, syncevo.TwoWay)
		if n := len(e.mailbox(imapstore.KindContacts)); n != 98 {
			t.Errorf("%d contacts in the mailbox, want 98", n)
		}
		if n := len(c.Items(t, "addressbook")); n != 98 {
			t.Errorf("%d contacts on the client, want 98", n)
		}
		for _, src := range []string{"addressbook", "calendar", "todo"} {
			e.same(t, src)
		}
	})

	t.Run("refresh from server", func(t *testing.T) {
		c.WriteItem(t, "todo", "stray.ics", todo(99, "only on the client"))
		e.sync(t, syncevo.RefreshFromServer)
		for _, src := range []string{"addressbook", "calendar", "todo"} {
			e.same(t, src)
		}
	})

	t.Run("refresh from client", func(t *testing.T) {
		a := e.account()
		if err := a.Put(context.Background(), imapstore.KindTasks, &imapstore.Item{Data: todo(98, "only in the mailbox")}); err != nil {
			t.Fatal(err)
		}
		e.deleteOnClient(t, "addressbook", "FN:Person 030")
		e.sync(t, syncevo.RefreshFromClient)
		for _, src := range []string{"addressbook", "calendar", "todo"} {
			e.same(t, src)
		}
	})

	t.Run("one-way from client", func(t *testing.T) {
		c.WriteItem(t, "addressbook", "new1.vcf", contact(201, "one way up"))
		a := e.account()
		if err := a.Put(context.Background(), imapstore.KindContacts, &imapstore.Item{Data: contact(202, "stays on the server")}); err != nil {
			t.Fatal(err)
		}
		e.sync(t, syncevo.OneWayFromClient)
		box := fieldSet(e.mailbox(imapstore.KindContacts))
		if !containsField(box, "FN:Person 201") || !containsField(box, "FN:Person 202") {
			t.Errorf("mailbox lacks 201 or 202")
		}
		if containsField(fieldSet(c.Items(t, "addressbook")), "FN:Person 202") {
			t.Errorf("one-way from client sent a server item to the client")
		}
	})

	t.Run("one-way from server", func(t *testing.T) {
		e.sync(t, syncevo.OneWayFromServer)
		if !containsField(fieldSet(c.Items(t, "addressbook")), "FN:Person 202") {
			t.Errorf("one-way from server did not bring 202")
		}
		e.same(t, "addressbook")
	})
}

// deleteOnClient removes the client's item containing text (file names
// change when the client refreshes).
func (e *env) deleteOnClient(t *testing.T, source, text string) {
	t.Helper()
	for name, data := range e.client.Items(t, source) {
		if strings.Contains(string(data), text) {
			e.client.DeleteItem(t, source, name)
			return
		}
	}
	t.Fatalf("%s: no item with %q on the client", source, text)
}

func containsField(set []string, field string) bool {
	for _, s := range set {
		if strings.Contains(s, field) {
			return true
		}
	}
	return false
}

// TestInterruptedSession cuts a session after the client sent its changes
// (its package 5 never arrives, so nothing is committed), then repeats
// the sync: nothing is lost and nothing doubled on either side.
func TestInterruptedSession(t *testing.T) {
	e := newEnv(t)
	c := e.client
	for i := 0; i < 5; i++ {
		c.WriteItem(t, "addressbook", fmt.Sprintf("c%03d.vcf", i), contact(i, "first"))
	}
	e.sync(t, syncevo.Slow)
	e.same(t, "addressbook")

	c.WriteItem(t, "addressbook", "new-a.vcf", contact(50, "added before the cut"))
	c.WriteItem(t, "addressbook", "new-b.vcf", contact(51, "added before the cut"))
	a := e.account()
	if err := a.Put(context.Background(), imapstore.KindContacts, &imapstore.Item{Data: contact(60, "added in the mailbox")}); err != nil {
		t.Fatal(err)
	}
	posts := 0
	e.setCut(func() bool { posts++; return posts == 3 }) // package 5: statuses and Map
	r := c.Sync(t, syncevo.TwoWay)
	if r.OK() {
		t.Fatalf("the cut session succeeded: %s", r)
	}
	e.setCut(nil)
	e.sync(t, syncevo.TwoWay)
	e.same(t, "addressbook")
	if box := e.mailbox(imapstore.KindContacts); len(box) != 8 {
		t.Errorf("%d contacts in the mailbox, want 8:\n%s", len(box), strings.Join(fieldSet(box), "\n"))
	}
	if n := len(c.Items(t, "addressbook")); n != 8 {
		t.Errorf("%d contacts on the client, want 8", n)
	}
	// And the next sync is a quiet two-way one.
	r = e.sync(t, syncevo.TwoWay)
	if s := r.Sources["addressbook"]; s.Mode != "two-way" || s.LocalAdded+s.RemoteAdded != 0 {
		t.Errorf("after the repeat: %+v", s)
	}
}

// TestSmallMessages: with a small MaxMsgSize on both sides, packages
// span many messages each way; no message exceeds the limit and the data
// arrives whole.
func TestSmallMessages(t *testing.T) {
	const clientMax, serverMax = 5000, 6000 // the client raises its own to 10,240
	e := newEnvWith(t, func(c *config.Config) { c.HTTP.MaxBodyBytes = serverMax },
		func(o *syncevo.Options) { o.MaxMsgSize = clientMax })
	c := e.client
	for i := 0; i < 60; i++ {
		c.WriteItem(t, "addressbook", fmt.Sprintf("c%03d.vcf", i), contact(i, strings.Repeat("long note ", 20)))
	}
	r := e.sync(t, syncevo.Slow)
	e.same(t, "addressbook")
	a := e.account()
	var items []*imapstore.Item
	for i := 100; i < 140; i++ {
		items = append(items, &imapstore.Item{Data: contact(i, strings.Repeat("from the mailbox ", 15))})
	}
	if err := a.Put(context.Background(), imapstore.KindContacts, items...); err != nil {
		t.Fatal(err)
	}
	r2 := e.sync(t, syncevo.TwoWay)
	e.same(t, "addressbook")
	if n := len(c.Items(t, "addressbook")); n != 100 {
		t.Errorf("%d contacts on the client, want 100", n)
	}
	// SyncEvolution announces at least 10,240 whatever it is configured
	// with: the server must keep to what the client announces.
	announced := regexp.MustCompile(`MaxMsgSize[^>]*>([0-9]+)<`)
	for _, res := range []*syncevo.Result{r, r2} {
		msgs, err := c.Messages(res)
		if err != nil {
			t.Fatal(err)
		}
		limit, in := 0, 0
		for _, m := range msgs {
			if m.Outgoing {
				if len(m.Data) > serverMax {
					t.Errorf("client message of %d bytes over the server's %d", len(m.Data), serverMax)
				}
				if sm := announced.FindSubmatch(m.Data); sm != nil {
					limit, _ = strconv.Atoi(string(sm[1]))
				}
				continue
			}
			in++
			if limit == 0 {
				t.Fatalf("the client announced no MaxMsgSize")
			}
			if len(m.Data) > limit {
				t.Errorf("server message %s of %d bytes over the client's MaxMsgSize %d", m.File, len(m.Data), limit)
			}
		}
		if in < 4 {
			t.Errorf("only %d server messages: packages were not split", in)
		}
	}
}

// TestConflict: the same contact changed on both sides. Default policy:
// the server's version wins on the device, and the device's version is
// kept as a duplicate, so nothing anyone typed is lost.
func TestConflict(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.Sync.Defaults.Conflict = config.ConflictDuplicate }, nil)
	c := e.client
	for i := 0; i < 3; i++ {
		c.WriteItem(t, "addressbook", fmt.Sprintf("c%03d.vcf", i), contact(i, "original"))
	}
	e.sync(t, syncevo.Slow)
	c.WriteItem(t, "addressbook", "c001.vcf", contact(1, "edited on the phone"))
	a := e.account()
	for id, d := range e.mailbox(imapstore.KindContacts) {
		if strings.Contains(string(d), "FN:Person 001") {
			if err := a.Put(context.Background(), imapstore.KindContacts, &imapstore.Item{ID: id, Data: contact(1, "edited in the mailbox")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.sync(t, syncevo.TwoWay)
	e.same(t, "addressbook")
	box := strings.Join(fieldSet(e.mailbox(imapstore.KindContacts)), "\n")
	if len(e.mailbox(imapstore.KindContacts)) != 4 || !strings.Contains(box, "NOTE:edited on the phone") || !strings.Contains(box, "NOTE:edited in the mailbox") {
		t.Errorf("after the conflict the mailbox holds:\n%s", box)
	}
	// A quiet sync afterwards: the conflict is settled.
	r := e.sync(t, syncevo.TwoWay)
	if s := r.Sources["addressbook"]; s.LocalAdded+s.LocalUpdated+s.RemoteAdded+s.RemoteUpdated != 0 {
		t.Errorf("after the conflict: %+v", s)
	}
}

// TestSlowSyncMatchesExisting: the first sync of a device whose items are
// already in the mailbox (imported, or synced by another device) merges
// them instead of doubling them: same UID, or same name (contacts), or
// same summary and start (events).
func TestSlowSyncMatchesExisting(t *testing.T) {
	e := newEnv(t)
	c := e.client
	a := e.account()
	var contacts, events []*imapstore.Item
	for i := 0; i < 10; i++ {
		contacts = append(contacts, &imapstore.Item{Data: contact(i, "same everywhere")})
	}
	contacts = append(contacts, &imapstore.Item{Data: contact(10, "the mailbox's version")})
	contacts = append(contacts, &imapstore.Item{Data: contact(11, "only in the mailbox")})
	for i := 0; i < 3; i++ {
		events = append(events, &imapstore.Item{Data: event(i, fmt.Sprintf("Meeting %d", i))})
	}
	if err := a.Put(context.Background(), imapstore.KindContacts, contacts...); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(context.Background(), imapstore.KindCalendar, events...); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		c.WriteItem(t, "addressbook", fmt.Sprintf("c%03d.vcf", i), contact(i, "same everywhere"))
	}
	c.WriteItem(t, "addressbook", "c010.vcf", contact(10, "the phone's version"))
	c.WriteItem(t, "addressbook", "c020.vcf", contact(20, "only on the phone"))
	for i := 0; i < 3; i++ { // same UIDs as in the mailbox
		c.WriteItem(t, "calendar", fmt.Sprintf("e%03d.ics", i), event(i, fmt.Sprintf("Meeting %d", i)))
	}
	c.WriteItem(t, "calendar", "e010.ics", event(10, "Only on the phone"))

	e.sync(t, syncevo.Slow)
	for _, src := range []string{"addressbook", "calendar"} {
		e.same(t, src)
	}
	if n := len(e.mailbox(imapstore.KindContacts)); n != 13 {
		t.Errorf("%d contacts, want 13 (10 matched, 1 matched with differences, 1 from each side)", n)
	}
	if n := len(e.mailbox(imapstore.KindCalendar)); n != 4 {
		t.Errorf("%d events, want 4", n)
	}
	box := strings.Join(fieldSet(e.mailbox(imapstore.KindContacts)), "\n")
	if !strings.Contains(box, "NOTE:the mailbox's version") || strings.Contains(box, "NOTE:the phone's version") {
		t.Errorf("a slow-sync match with differences: the server's version stays (default policy)")
	}
}

// TestSyncML11: a SyncML 1.1 client is answered in 1.1.
func TestSyncML11(t *testing.T) {
	e := newEnvWith(t, nil, func(o *syncevo.Options) { o.SyncMLVersion = "1.1" })
	for i := 0; i < 5; i++ {
		e.client.WriteItem(t, "addressbook", fmt.Sprintf("c%03d.vcf", i), contact(i, "one-one"))
	}
	r := e.sync(t, syncevo.Slow)
	e.same(t, "addressbook")
	msgs, err := e.client.Messages(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if !m.Outgoing && !strings.Contains(string(m.Data), "<VerDTD>1.1</VerDTD>") {
			t.Errorf("server message %s not in SyncML 1.1", m.File)
		}
		if !m.Outgoing && !strings.Contains(string(m.Data), "SYNCML:SYNCML1.1") {
			t.Errorf("server message %s without the 1.1 namespace", m.File)
		}
	}
	r = e.sync(t, syncevo.TwoWay)
	if s := r.Sources["addressbook"]; s.Mode != "two-way" {
		t.Errorf("second 1.1 sync: %+v", s)
	}
}

// photoCard is a contact with a photo of n random bytes, base64 and
// folded as vCard 3.0 writes it.
func photoCard(i, n int) []byte {
	raw := make([]byte, n)
	for j := range raw {
		raw[j] = byte((j*7919 + i*104729) % 251)
	}
	b64 := base64.StdEncoding.EncodeToString(raw)
	var b strings.Builder
	fmt.Fprintf(&b, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Photo Person %d\r\nN:Person;Photo %d;;;\r\nPHOTO;ENCODING=b;TYPE=JPEG:", i, i)
	for len(b64) > 0 {
		k := min(72, len(b64))
		b.WriteString(b64[:k] + "\r\n ")
		b64 = b64[k:]
	}
	b.WriteString("\r\nEND:VCARD\r\n")
	return []byte(strings.Replace(b.String(), "\r\n \r\nEND", "\r\nEND", 1))
}

// TestLargeObjects: contact photos of several hundred kB go through intact
// both ways with small messages: the client's (at least 10,240 bytes, as
// SyncEvolution enforces) and the server's (max_body_bytes 20,000).
func TestLargeObjects(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.HTTP.MaxBodyBytes = 20000 },
		func(o *syncevo.Options) { o.MaxMsgSize = 10240; o.MaxObjSize = 4000000 })
	c := e.client
	c.WriteItem(t, "addressbook", "p1.vcf", photoCard(1, 300000))
	c.WriteItem(t, "addressbook", "small.vcf", contact(1, "small"))
	e.sync(t, syncevo.Slow)
	e.same(t, "addressbook")
	a := e.account()
	if err := a.Put(context.Background(), imapstore.KindContacts, &imapstore.Item{Data: photoCard(2, 400000)}); err != nil {
		t.Fatal(err)
	}
	r := e.sync(t, syncevo.TwoWay)
	e.same(t, "addressbook")
	if s := r.Sources["addressbook"]; s.LocalAdded != 1 {
		t.Errorf("photo from the mailbox: %+v", s)
	}
}

// TestMD5Auth: SyncEvolution authenticates with syncml:auth-md5 against a
// secrets file: a plain password (the IMAP login uses it), or only the
// hash B64(MD5(user:password)) (a Dovecot master user opens the mailbox).
func TestMD5Auth(t *testing.T) {
	for _, tc := range []struct{ name, secret string }{
		{"plain", "{PLAIN}carol-pw"},
		{"hash via master user", "{MD5}" + base64.StdEncoding.EncodeToString(md5sum("carol@example.org:carol-pw"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secrets := filepath.Join(t.TempDir(), "secrets")
			if err := os.WriteFile(secrets, []byte("# test\ncarol@example.org:"+tc.secret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			e := newEnvWith(t, func(c *config.Config) {
				c.Auth.SecretsFile = secrets
				c.IMAP.MasterUser, c.IMAP.MasterPassword = "admin", "master-pw"
			}, nil)
			e.client.Configure(t, "clientAuthType=md5")
			for i := 0; i < 3; i++ {
				e.client.WriteItem(t, "addressbook", fmt.Sprintf("c%03d.vcf", i), contact(i, "md5"))
			}
			r := e.sync(t, syncevo.Slow)
			e.same(t, "addressbook")
			msgs, err := e.client.Messages(r)
			if err != nil {
				t.Fatal(err)
			}
			md5Used := false
			for _, m := range msgs {
				if m.Outgoing && strings.Contains(string(m.Data), "syncml:auth-md5") {
					md5Used = true
				}
			}
			if !md5Used {
				t.Error("the client never sent MD5 credentials")
			}
			e.sync(t, syncevo.TwoWay) // the nonce from the last session works
		})
	}
}

func md5sum(s string) []byte {
	h := md5.Sum([]byte(s))
	return h[:]
}

// TestProtocolMatrix: the same syncs with SyncEvolution in WBXML and XML,
// SyncML 1.1 and 1.2, basic and MD5 authentication, including a change on
// each side and a photo larger than a message.
func TestProtocolMatrix(t *testing.T) {
	for _, wb := range []bool{true, false} {
		for _, ver := range []string{"1.1", "1.2"} {
			for _, auth := range []string{"basic", "md5"} {
				name := fmt.Sprintf("wbxml=%v/%s/%s", wb, ver, auth)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					secrets := filepath.Join(t.TempDir(), "secrets")
					os.WriteFile(secrets, []byte("carol@example.org:{PLAIN}carol-pw\n"), 0o600)
					e := newEnvWith(t, func(c *config.Config) {
						c.HTTP.MaxBodyBytes = 20000
						if auth == "md5" {
							c.Auth.SecretsFile = secrets
						}
					}, func(o *syncevo.Options) {
						o.WBXML, o.SyncMLVersion, o.MaxMsgSize = wb, ver, 10240
					})
					if auth == "md5" {
						e.client.Configure(t, "clientAuthType=md5")
					}
					c := e.client
					for i := 0; i < 5; i++ {
						c.WriteItem(t, "addressbook", fmt.Sprintf("c%03d.vcf", i), contact(i, "matrix"))
					}
					c.WriteItem(t, "addressbook", "photo.vcf", photoCard(1, 60000))
					c.WriteItem(t, "calendar", "e.ics", event(1, "Matrix meeting"))
					e.sync(t, syncevo.Slow)
					c.WriteItem(t, "addressbook", "c001.vcf", contact(1, "changed on the phone"))
					a := e.account()
					if err := a.Put(context.Background(), imapstore.KindContacts, &imapstore.Item{Data: photoCard(2, 50000)}); err != nil {
						t.Fatal(err)
					}
					r := e.sync(t, syncevo.TwoWay)
					for _, src := range []string{"addressbook", "calendar"} {
						e.same(t, src)
					}
					if s := r.Sources["addressbook"]; s.Mode != "two-way" || s.LocalAdded != 1 || s.RemoteUpdated != 1 {
						t.Errorf("two-way: %+v", s)
					}
				})
			}
		}
	}
}

// TestCaptureWBXML records a real SyncEvolution WBXML session (a slow
// sync of three contacts, then a two-way sync with one change) as
// fixtures for syncml's replay test. It runs only when SYNCML_CAPTURE
// names the directory to write to.
func TestCaptureWBXML(t *testing.T) {
	dir := os.Getenv("SYNCML_CAPTURE")
	if dir == "" {
		t.Skip("set SYNCML_CAPTURE=dir to record fixtures")
	}
	e := newEnvWith(t, nil, func(o *syncevo.Options) { o.WBXML = true; o.Sources = o.Sources[:1] })
	n := 0
	e.setRecord(func(ct string, body []byte) {
		n++
		if !strings.Contains(ct, "wbxml") {
			t.Errorf("request %d is %s", n, ct)
		}
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("syncevolution-%02d.wbxml", n)), body, 0o644)
	})
	for i := 0; i < 3; i++ {
		e.client.WriteItem(t, "addressbook", fmt.Sprintf("c%d.vcf", i), contact(i, "captured"))
	}
	e.sync(t, syncevo.Slow)
	e.client.WriteItem(t, "addressbook", "c1.vcf", contact(1, "changed"))
	e.sync(t, syncevo.TwoWay)
}

// TestLegacyFormats: SyncEvolution configured for vCard 2.1 and
// vCalendar 1.0 syncs the same data as the 3.0/2.0 run; the mailbox keeps
// the canonical forms, and its items compare equal field by field with
// those of a 3.0/2.0 client.
func TestLegacyFormats(t *testing.T) {
	run := func(t *testing.T, card, cal string) map[string][]string {
		e := newEnvWith(t, nil, func(o *syncevo.Options) {
			o.Sources = []syncevo.Source{
				{Name: "addressbook", URI: "contacts", Format: card},
				{Name: "calendar", URI: "calendar", Format: cal},
			}
		})
		for i := 0; i < 5; i++ {
			e.client.WriteItem(t, "addressbook", fmt.Sprintf("c%03d.vcf", i), contact(i, "Grüße aus Köln"))
			e.client.WriteItem(t, "calendar", fmt.Sprintf("e%03d.ics", i), event(i, fmt.Sprintf("Treffen %d", i)))
		}
		e.sync(t, syncevo.Slow)
		a := e.account()
		if err := a.Put(context.Background(), imapstore.KindContacts, &imapstore.Item{Data: contact(50, "from the mailbox")}); err != nil {
			t.Fatal(err)
		}
		e.sync(t, syncevo.TwoWay)
		if n := len(e.client.Items(t, "addressbook")); n != 6 {
			t.Errorf("%d contacts on the client, want 6", n)
		}
		out := map[string][]string{}
		for _, k := range []imapstore.Kind{imapstore.KindContacts, imapstore.KindCalendar} {
			for _, d := range e.mailbox(k) {
				if !bytes.Contains(d, []byte("VERSION:3.0")) && !bytes.Contains(d, []byte("VERSION:2.0")) {
					t.Errorf("stored item not canonical:\n%s", d)
				}
			}
			out[string(k)] = fieldSet(e.mailbox(k))
		}
		return out
	}
	modern := run(t, "text/vcard", "text/calendar")
	legacy := run(t, "text/x-vcard", "text/x-vcalendar")
	for k := range modern {
		if !slices.Equal(modern[k], legacy[k]) {
			t.Errorf("%s: mailbox after a legacy client differs:\nmodern:\n%s\nlegacy:\n%s", k,
				strings.Join(modern[k], "\n"), strings.Join(legacy[k], "\n"))
		}
	}
}

// TestTasksInCalendar: a device that keeps tasks in its calendar database
// (one vCalendar 1.0 datastore for events and to-dos, as many phones do)
// gets its to-dos stored in the Tasks folder, events in Calendar, and the
// mailbox's tasks come back to it in that calendar database.
func TestTasksInCalendar(t *testing.T) {
	e := newEnvWith(t, nil, func(o *syncevo.Options) {
		o.Sources = []syncevo.Source{{Name: "calendar", URI: "calendar", Format: "text/x-vcalendar"}}
	})
	e.client.WriteItem(t, "calendar", "e1.ics", event(1, "Planning"))
	e.client.WriteItem(t, "calendar", "t1.ics", todo(1, "Buy milk"))
	e.sync(t, syncevo.Slow)
	cal, tasks := e.mailbox(imapstore.KindCalendar), e.mailbox(imapstore.KindTasks)
	if len(cal) != 1 || len(tasks) != 1 {
		t.Fatalf("mailbox has %d events and %d tasks, want 1 and 1", len(cal), len(tasks))
	}
	for _, d := range tasks {
		if !bytes.Contains(d, []byte("BEGIN:VTODO")) || !bytes.Contains(d, []byte("Buy milk")) {
			t.Errorf("Tasks folder item is not the to-do:\n%s", d)
		}
	}
	// A task made in a mail client's task list reaches the device's
	// calendar database; one edited there comes back to the Tasks folder.
	a := e.account()
	if err := a.Put(context.Background(), imapstore.KindTasks, &imapstore.Item{Data: todo(2, "Call Bob")}); err != nil {
		t.Fatal(err)
	}
	e.sync(t, syncevo.TwoWay)
	got := e.client.Items(t, "calendar")
	var milk string
	found := false
	for name, d := range got {
		if bytes.Contains(d, []byte("Call Bob")) && bytes.Contains(d, []byte("BEGIN:VTODO")) {
			found = true
		}
		if bytes.Contains(d, []byte("Buy milk")) {
			milk = name
		}
	}
	if !found || len(got) != 3 {
		t.Fatalf("device calendar has %d items, want 3 with the mailbox's task:\n%v", len(got), got)
	}
	e.client.WriteItem(t, "calendar", milk, bytes.ReplaceAll(todo(1, "Buy oat milk"), []byte("\n"), []byte("\r\n")))
	e.sync(t, syncevo.TwoWay)
	tasks = e.mailbox(imapstore.KindTasks)
	if len(tasks) != 2 || len(e.mailbox(imapstore.KindCalendar)) != 1 {
		t.Fatalf("after the edit: %d tasks, %d events; want 2 and 1", len(tasks), len(e.mailbox(imapstore.KindCalendar)))
	}
	n := 0
	for _, d := range tasks {
		if bytes.Contains(d, []byte("Buy oat milk")) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the device's task edit is not in the Tasks folder once (%d)", n)
	}
	// A delete on the device removes the task from the Tasks folder.
	e.client.DeleteItem(t, "calendar", milk)
	e.sync(t, syncevo.TwoWay)
	if tasks = e.mailbox(imapstore.KindTasks); len(tasks) != 1 {
		t.Errorf("after the device's delete: %d tasks, want 1", len(tasks))
	}
}
