package imapstore

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/mail"

	"syncml-imap/internal/dovetest"
)

// These tests run against a real Dovecot started by internal/dovetest.

var profiles = []struct {
	name    string
	profile dovetest.Profile
}{
	{"condstore", dovetest.ProfileFull},
	{"nocondstore", dovetest.ProfileNoCondStore},
	{"minimal", dovetest.ProfileMinimal},
}

// cmdLog records the IMAP commands a connection sends.
type cmdLog struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *cmdLog) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.buf.Write(b)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

var cmdRE = regexp.MustCompile(`(?m)^T\d+ (UID [A-Z]+|[A-Z]+)`)

// take returns the commands sent since the last take.
func (c *cmdLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range cmdRE.FindAllStringSubmatch(c.buf.String(), -1) {
		out = append(out, m[1])
	}
	c.buf.Reset()
	return out
}

type testEnv struct {
	srv  *dovetest.Server
	user string
	pass string
	opts *Options
	log  *cmdLog
}

var userSeq struct {
	sync.Mutex
	n int
}

func newEnv(t testing.TB, profile dovetest.Profile) *testEnv {
	t.Helper()
	srv := dovetest.Start(t, &dovetest.Options{Profile: profile})
	return newEnvOn(t, srv)
}

func newEnvOn(t testing.TB, srv *dovetest.Server) *testEnv {
	userSeq.Lock()
	userSeq.n++
	user := fmt.Sprintf("user%d@example.org", userSeq.n)
	userSeq.Unlock()
	pass := "secret-" + user
	srv.AddUser(t, user, pass)
	e := &testEnv{srv: srv, user: user, pass: pass}
	e.opts = &Options{Address: srv.Addr, CommandTimeout: 30 * time.Second}
	return e
}

// dial opens an Account whose commands are recorded in e.log.
func (e *testEnv) dial(t testing.TB) *Account {
	t.Helper()
	o := *e.opts
	o.wrapConn = func(c net.Conn) net.Conn {
		e.log = &cmdLog{Conn: c}
		return e.log
	}
	a, err := Dial(context.Background(), &o, e.user, e.pass)
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, e.srv.Log())
	}
	t.Cleanup(func() { a.Close() })
	e.log.take()
	return a
}

// mailClient is a plain IMAP client standing for a person's mail program.
func (e *testEnv) mailClient(t testing.TB) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(e.srv.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(e.user, e.pass).Wait(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func vcard(uid, fn string) []byte {
	s := "BEGIN:VCARD\r\nVERSION:3.0\r\n"
	if uid != "" {
		s += "UID:" + uid + "\r\n"
	}
	return []byte(s + "FN:" + fn + "\r\nN:" + fn + ";;;;\r\nEMAIL:" + strings.ReplaceAll(fn, " ", ".") + "@example.org\r\nEND:VCARD\r\n")
}

func event(uid, summary string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20261120T080000Z\r\nDTSTART:20261201T090000Z\r\nDTEND:20261201T100000Z\r\nSUMMARY:" + summary +
		"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
}

func task(uid, summary string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:" + uid +
		"\r\nDTSTAMP:20261120T080000Z\r\nDUE:20261130T170000Z\r\nSUMMARY:" + summary + "\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")
}

func mustChanges(t testing.TB, a *Account, kind Kind, since *SyncPoint) *ChangesData {
	t.Helper()
	d, err := a.Changes(context.Background(), kind, since)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	return d
}

func mustPut(t testing.TB, a *Account, kind Kind, items ...*Item) {
	t.Helper()
	if err := a.Put(context.Background(), kind, items...); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

func changesString(d *ChangesData) string {
	return fmt.Sprintf("added %v modified %v deleted %v", d.Added, d.Modified, d.Deleted)
}

func sortedIDs(items ...*Item) []string {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	slices.Sort(ids)
	return ids
}

// folderMessages lists the messages of a folder as a mail client sees them.
func folderMessages(t testing.TB, c *imapclient.Client, name string) []*imapclient.FetchMessageBuffer {
	t.Helper()
	if _, err := c.Select(name, nil).Wait(); err != nil {
		t.Fatalf("select %q: %v", name, err)
	}
	body := &imap.FetchItemBodySection{Peek: true}
	var all imap.UIDSet
	all.AddRange(1, 0)
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{body}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestDialCapabilities(t *testing.T) {
	t.Parallel()
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, p.profile)
			caps := e.dial(t).Caps()
			full := p.profile == dovetest.ProfileFull
			if caps.CondStore != full {
				t.Errorf("CondStore = %v, want %v (Dovecot announces it after login)", caps.CondStore, full)
			}
			minimal := p.profile == dovetest.ProfileMinimal
			if caps.MultiAppend == minimal || caps.UIDPlus == minimal || caps.ESearch == minimal {
				t.Errorf("caps %+v for profile %s", caps, p.name)
			}
		})
	}
}

func TestDialAuthFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dovetest.ProfileFull)
	_, err := Dial(context.Background(), e.opts, e.user, "wrong-password-xyz")
	if !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("err = %v, want ErrAuthFailed", err)
	}
	if strings.Contains(err.Error(), "wrong-password-xyz") {
		t.Errorf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), e.user) {
		t.Errorf("error does not name the user: %v", err)
	}
	_, err = Dial(context.Background(), &Options{Address: "127.0.0.1:1"}, e.user, e.pass)
	if err == nil || errors.Is(err, ErrAuthFailed) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("unreachable server: %v", err)
	}
}

func TestDialTLS(t *testing.T) {
	t.Parallel()
	srv := dovetest.Start(t, &dovetest.Options{Profile: dovetest.ProfileFull, TLS: true})
	e := newEnvOn(t, srv)
	for _, tc := range []struct {
		mode TLSMode
		addr string
	}{{TLSStartTLS, srv.Addr}, {TLSImplicit, srv.TLSAddr}} {
		o := &Options{Address: tc.addr, TLS: tc.mode, TLSConfig: &tls.Config{RootCAs: srv.RootCAs}}
		a, err := Dial(context.Background(), o, e.user, e.pass)
		if err != nil {
			t.Fatalf("%s: %v", tc.mode, err)
		}
		if err := a.Put(context.Background(), KindContacts, &Item{Data: vcard("", "TLS Person")}); err != nil {
			t.Errorf("%s: put: %v", tc.mode, err)
		}
		a.Close()
		// Without the test CA the server's certificate is refused.
		o.TLSConfig = nil
		if _, err := Dial(context.Background(), o, e.user, e.pass); err == nil {
			t.Errorf("%s: untrusted certificate accepted", tc.mode)
		}
	}
}

// TestLifecycle runs add, no-op, replace, delete and re-add through Changes
// on each server profile, for each kind.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eachProfile(t, func(t *testing.T, e *testEnv) {
		a := e.dial(t)
		for _, kind := range Kinds {
			mk := map[Kind]func(string, string) []byte{KindContacts: vcard, KindCalendar: event, KindTasks: task}[kind]
			d := mustChanges(t, a, kind, nil)
			if !d.Empty() || d.SyncPoint.Len() != 0 {
				t.Fatalf("%s: new folder not empty: %s", kind, changesString(d))
			}
			sp0 := d.SyncPoint

			x, y, z := &Item{Data: mk("uid-x", "X Ray")}, &Item{Data: mk("uid-y", "Yan Kee")}, &Item{Data: mk("uid-z", "Zu Lu")}
			mustPut(t, a, kind, x, y, z)
			d = mustChanges(t, a, kind, sp0)
			if got, want := fmt.Sprint(d.Added), fmt.Sprint(sortedIDs(x, y, z)); got != want || len(d.Modified)+len(d.Deleted) > 0 {
				t.Fatalf("%s after 3 adds: %s, want added %s", kind, changesString(d), want)
			}
			sp1 := d.SyncPoint
			if d := mustChanges(t, a, kind, sp1); !d.Empty() {
				t.Fatalf("%s: nothing changed but %s", kind, changesString(d))
			}

			got, err := a.Get(ctx, kind, y.ID, "no-such-id", x.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got[0] == nil || !bytes.Equal(got[0].Data, y.Data) || got[1] != nil || got[2] == nil || got[2].ID != x.ID {
				t.Fatalf("%s: Get = %+v", kind, got)
			}

			y2 := &Item{ID: y.ID, Data: mk("uid-y", "Yan Kee Renamed")}
			mustPut(t, a, kind, y2)
			missing, err := a.Delete(ctx, kind, z.ID, "no-such-id")
			if err != nil || fmt.Sprint(missing) != "[no-such-id]" {
				t.Fatalf("Delete: missing %v, err %v", missing, err)
			}
			d = mustChanges(t, a, kind, sp1)
			if got, want := changesString(d), fmt.Sprintf("added [] modified [%s] deleted [%s]", y.ID, z.ID); got != want {
				t.Fatalf("%s: %s, want %s", kind, got, want)
			}
			got, _ = a.Get(ctx, kind, y.ID)
			if !bytes.Contains(got[0].Data, []byte("Renamed")) {
				t.Errorf("%s: Get after replace: %s", kind, got[0].Data)
			}
			// One message per item: the old version is gone.
			if n := len(folderMessages(t, e.mailClient(t), a.opts.Folders[kind])); n != 2 {
				t.Errorf("%s: %d messages, want 2", kind, n)
			}
		}
	})
}

// TestRoundTrips checks the cost promises by counting the IMAP commands sent.
func TestRoundTrips(t *testing.T) {
	t.Parallel()
	for _, p := range profiles[:2] {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, p.profile)
			a := e.dial(t)
			var items []*Item
			for i := 0; i < 20; i++ {
				items = append(items, &Item{Data: vcard("", fmt.Sprintf("Person %d", i))})
			}
			mustPut(t, a, KindContacts, items...)
			sp := mustChanges(t, a, KindContacts, nil).SyncPoint

			// A new session (new Account) starting from the stored sync point.
			b := e.dial(t)
			d := mustChanges(t, b, KindContacts, sp)
			cmds := e.log.take()
			want := []string{"STATUS"}
			if !a.caps.CondStore {
				want = []string{"SELECT", "UID SEARCH", "UID FETCH"} // one pipelined round trip
			}
			if !d.Empty() || !slices.Equal(cmds, want) {
				t.Errorf("unchanged folder: %s with commands %v, want %v", changesString(d), cmds, want)
			}

			// A change elsewhere: one more pipelined round trip, no extra fetch.
			mustPut(t, a, KindContacts, &Item{Data: vcard("", "Newcomer")})
			d = mustChanges(t, b, KindContacts, sp)
			cmds = e.log.take()
			if a.caps.CondStore {
				want = []string{"STATUS", "SELECT", "UID SEARCH", "UID FETCH"}
			}
			if len(d.Added) != 1 || !slices.Equal(cmds, want) {
				t.Errorf("one add: %s with commands %v, want %v", changesString(d), cmds, want)
			}
		})
	}
}

// TestGetAfterMultiAppend: the items of a Put of several (MULTIAPPEND, on
// the second connection) are read back at once on the main one, whose
// view of the folder had not seen them; so are those of a Put of one.
func TestGetAfterMultiAppend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eachProfile(t, func(t *testing.T, e *testEnv) {
		a := e.dial(t)
		for round, n := range []int{1, 3, 2} {
			items := make([]*Item, n)
			for i := range items {
				items[i] = &Item{Data: vcard("", fmt.Sprintf("Round%d Person%d", round, i))}
			}
			if err := a.Put(ctx, KindContacts, items...); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, it := range items {
				ids = append(ids, it.ID)
			}
			got, err := a.Get(ctx, KindContacts, ids...)
			if err != nil {
				t.Fatal(err)
			}
			for i, it := range got {
				if it == nil || !strings.Contains(string(it.Data), fmt.Sprintf("FN:Round%d Person%d", round, i)) {
					t.Errorf("round %d (a Put of %d): item %d read back as %v", round, n, i, it)
				}
			}
		}
	})
}

// TestCrashBetweenAppendAndExpunge leaves two versions of one item, as a
// crash after APPEND and before removing the old message would.
func TestCrashBetweenAppendAndExpunge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, dovetest.ProfileFull)
	a := e.dial(t)
	it := &Item{Data: vcard("u", "Old Name")}
	mustPut(t, a, KindContacts, it)
	sp := mustChanges(t, a, KindContacts, nil).SyncPoint

	newer := vcard("u", "New Name")
	raw, err := buildItemMessage(KindContacts, it.ID, newer, inspectItem(KindContacts, newer), "x@example.org", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	mc := e.mailClient(t)
	appendRaw(t, mc, "Contacts", raw)

	b := e.dial(t) // another instance, after the crash
	d := mustChanges(t, b, KindContacts, sp)
	if changesString(d) != fmt.Sprintf("added [] modified [%s] deleted []", it.ID) {
		t.Fatalf("after crash: %s", changesString(d))
	}
	got, err := b.Get(ctx, KindContacts, it.ID)
	if err != nil || !bytes.Contains(got[0].Data, []byte("New Name")) {
		t.Fatalf("Get: %v %v", got, err)
	}
	msgs := folderMessages(t, mc, "Contacts")
	if len(msgs) != 1 {
		t.Errorf("%d messages left, want the newest only", len(msgs))
	}
}

func appendRaw(t testing.TB, c *imapclient.Client, folder string, raw []byte) imap.UID {
	t.Helper()
	cmd := c.Append(folder, int64(len(raw)), nil)
	cmd.Write(raw)
	cmd.Close()
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("append to %q: %v", folder, err)
	}
	return data.UID
}

func TestUIDValidityChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eachProfile(t, func(t *testing.T, e *testEnv) {
		a := e.dial(t)
		mustPut(t, a, KindContacts, &Item{Data: vcard("", "Somebody")})
		sp := mustChanges(t, a, KindContacts, nil).SyncPoint
		// A restore from backup, or an admin recreating the folder.
		mc := e.mailClient(t)
		if err := mc.Delete("Contacts").Wait(); err != nil {
			t.Fatal(err)
		}
		if err := mc.Create("Contacts", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // Dovecot's UIDVALIDITY is a timestamp
		mc.Delete("Contacts").Wait()
		mc.Create("Contacts", nil).Wait()
		for _, acct := range []*Account{a, e.dial(t)} {
			_, err := acct.Changes(ctx, KindContacts, sp)
			if !errors.Is(err, ErrSyncPointInvalid) {
				t.Fatalf("Changes after UIDVALIDITY change: %v, want ErrSyncPointInvalid", err)
			}
		}
		d := mustChanges(t, a, KindContacts, nil)
		if !d.Empty() {
			t.Errorf("slow listing of the new folder: %s", changesString(d))
		}
	})
}

// TestForeignMessages: a mail with .vcf attachments dragged into the
// folder becomes items; a plain mail is left alone and not reported.
func TestForeignMessages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eachProfile(t, func(t *testing.T, e *testEnv) {
		a := e.dial(t)
		sp := mustChanges(t, a, KindContacts, nil).SyncPoint
		mc := e.mailClient(t)
		twoCards := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Dropped One\r\nEND:VCARD\r\n" +
			"BEGIN:VCARD\r\nVERSION:2.1\r\nUID:dropped-2\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Gr=C3=BC=\r\nn;Gr=C3=A9ta\r\nEND:VCARD\r\n"
		mail1 := "From: friend@example.org\r\nSubject: my contacts\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
			"--b1\r\nContent-Type: text/x-vcard; name=cards.vcf\r\nContent-Disposition: attachment; filename=cards.vcf\r\n\r\n" +
			twoCards + "--b1--\r\n"
		appendRaw(t, mc, "Contacts", []byte(mail1))
		appendRaw(t, mc, "Contacts", []byte("From: a@example.org\r\nSubject: just a note\r\n\r\nhello\r\n"))

		d := mustChanges(t, a, KindContacts, sp)
		if len(d.Added) != 2 || len(d.Modified)+len(d.Deleted) != 0 {
			t.Fatalf("after drop: %s", changesString(d))
		}
		items, err := a.Get(ctx, KindContacts, d.Added...)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, it := range items {
			names = append(names, inspectItem(KindContacts, it.Data).Subject)
			if inspectItem(KindContacts, it.Data).UID == "" {
				t.Errorf("adopted item without UID: %s", it.Data)
			}
		}
		slices.Sort(names)
		if fmt.Sprint(names) != "[Dropped One Gréta Grün]" {
			t.Errorf("adopted names %v", names)
		}
		// The folder now holds two messages of ours and the note.
		msgs := folderMessages(t, mc, "Contacts")
		var subjects []string
		for _, m := range msgs {
			r, err := mail.CreateReader(bytes.NewReader(m.BodySection[0].Bytes))
			if err != nil {
				t.Fatal(err)
			}
			s, _ := r.Header.Subject()
			subjects = append(subjects, s)
		}
		slices.Sort(subjects)
		if fmt.Sprint(subjects) != "[Dropped One Gréta Grün just a note]" {
			t.Errorf("folder subjects %q", subjects)
		}
		// Nothing new afterwards; the note is not reported, nor re-read.
		d2 := mustChanges(t, e.dial(t), KindContacts, d.SyncPoint)
		if !d2.Empty() {
			t.Errorf("second look: %s", changesString(d2))
		}
		// The same file dropped again yields the same IDs: no doubles.
		appendRaw(t, mc, "Contacts", []byte(mail1))
		d3 := mustChanges(t, a, KindContacts, d.SyncPoint)
		if len(d3.Added) != 0 || len(d3.Deleted) != 0 || d3.SyncPoint.Len() != 2 {
			t.Errorf("same file again: %s, %d items", changesString(d3), d3.SyncPoint.Len())
		}
	})
}

// TestMailClientDeletes: \Deleted set by a mail client (not yet expunged)
// and an expunge both read as deletions; \Deleted taken back reads as an
// add again.
func TestMailClientDeletes(t *testing.T) {
	t.Parallel()
	eachProfile(t, func(t *testing.T, e *testEnv) {
		a := e.dial(t)
		x, y := &Item{Data: vcard("", "Xavier")}, &Item{Data: vcard("", "Yvonne")}
		mustPut(t, a, KindContacts, x, y)
		sp := mustChanges(t, a, KindContacts, nil).SyncPoint
		mc := e.mailClient(t)
		msgs := folderMessages(t, mc, "Contacts")
		uidOf := map[string]imap.UID{}
		for _, m := range msgs {
			uidOf[headerValue(m.BodySection[0].Bytes, headerItemID)] = m.UID
		}
		flag := func(op imap.StoreFlagsOp, uid imap.UID) {
			if err := mc.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: op, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
				t.Fatal(err)
			}
		}
		flag(imap.StoreFlagsAdd, uidOf[x.ID])
		d := mustChanges(t, a, KindContacts, sp)
		if changesString(d) != fmt.Sprintf("added [] modified [] deleted [%s]", x.ID) {
			t.Fatalf("after \\Deleted: %s", changesString(d))
		}
		flag(imap.StoreFlagsDel, uidOf[x.ID])
		if d := mustChanges(t, e.dial(t), KindContacts, d.SyncPoint); changesString(d) != fmt.Sprintf("added [%s] modified [] deleted []", x.ID) {
			t.Fatalf("after undelete: %s", changesString(d))
		}
		flag(imap.StoreFlagsAdd, uidOf[y.ID])
		if err := mc.Expunge().Close(); err != nil {
			t.Fatal(err)
		}
		if d := mustChanges(t, a, KindContacts, sp); changesString(d) != fmt.Sprintf("added [] modified [] deleted [%s]", y.ID) {
			t.Fatalf("after expunge: %s", changesString(d))
		}
	})
}

func TestReadableMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dovetest.ProfileFull)
	a := e.dial(t)
	ev := &Item{Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Café meeting\r\n" +
		"DTSTART;TZID=Europe/Paris:20261203T150000\r\nLOCATION:Le Zinc\r\nLAST-MODIFIED:20261101T120000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")}
	mustPut(t, a, KindCalendar, ev)
	if !bytes.Contains(ev.Data, []byte("UID:"+ev.ID)) {
		t.Errorf("no UID property added: %s", ev.Data)
	}
	msgs := folderMessages(t, e.mailClient(t), "Calendar")
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	if !slices.Contains(msgs[0].Flags, imap.FlagSeen) {
		t.Errorf("item message not \\Seen: %v", msgs[0].Flags)
	}
	r, err := mail.CreateReader(bytes.NewReader(msgs[0].BodySection[0].Bytes))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := r.Header.Subject()
	date, _ := r.Header.Date()
	if subj != "Café meeting — 2026-12-03 15:00 Europe/Paris" || !date.Equal(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("Subject %q Date %v", subj, date)
	}
	if r.Header.Get(headerItemID) != ev.ID || r.Header.Get(headerItemType) != "text/calendar; version=2.0" {
		t.Errorf("headers %v", r.Header.Header.Map())
	}
	p, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	text.ReadFrom(p.Body)
	if !strings.Contains(text.String(), "Location: Le Zinc") || !strings.Contains(text.String(), "Start: 2026-12-03 15:00 Europe/Paris") {
		t.Errorf("summary %q", text.String())
	}
	p, err = r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	ah, ok := p.Header.(*mail.AttachmentHeader)
	if !ok {
		t.Fatalf("second part is not an attachment")
	}
	if fn, _ := ah.Filename(); !strings.HasSuffix(fn, ".ics") {
		t.Errorf("filename %q", fn)
	}
}

func TestNonASCIIFolders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, dovetest.ProfileFull)
	e.opts.Folders = map[Kind]string{KindContacts: "Adressbuch Privat – Ämter", KindCalendar: "Événements"}
	e.opts.StateFolder = "Sync-Zustand ✓"
	a := e.dial(t)
	mustPut(t, a, KindContacts, &Item{Data: vcard("", "Ärger Öz")})
	mustPut(t, a, KindCalendar, &Item{Data: event("e", "Fête")})
	if _, err := a.SaveState(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	mc := e.mailClient(t)
	for _, name := range []string{"Adressbuch Privat – Ämter", "Événements", "Sync-Zustand ✓"} {
		if n := len(folderMessages(t, mc, name)); n != 1 {
			t.Errorf("%q: %d messages", name, n)
		}
	}
	// Item folders are subscribed (a mail client shows them), state is not.
	subs, err := mc.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range subs {
		names = append(names, s.Mailbox)
	}
	if !slices.Contains(names, "Événements") || slices.Contains(names, "Sync-Zustand ✓") {
		t.Errorf("subscribed: %q", names)
	}
}

func TestInvalidItems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, dovetest.ProfileFull)
	a := e.dial(t)
	good := &Item{Data: vcard("", "Good")}
	for _, bad := range []*Item{
		{Data: []byte("hello")},
		{Data: event("e", "an event in contacts")},
		{ID: "bad id with spaces", Data: vcard("", "x")},
	} {
		err := a.Put(ctx, KindContacts, good, bad)
		if !errors.Is(err, ErrInvalidItem) {
			t.Errorf("Put(%q): %v, want ErrInvalidItem", bad.Data, err)
		}
	}
	if d := mustChanges(t, a, KindContacts, nil); !d.Empty() {
		t.Errorf("a refused batch wrote something: %s", changesString(d))
	}
	if _, err := a.Changes(ctx, Kind("memos"), nil); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, p.profile)
			a := e.dial(t)
			if rec, err := a.LoadState(ctx, "device/none"); rec != nil || err != nil {
				t.Fatalf("missing record: %v %v", rec, err)
			}
			key := "device/IMEI:35 \"odd\"/contacts"
			r1, err := a.SaveState(ctx, key, []byte("one"), 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.SaveState(ctx, "device/IMEI:35 \"odd\"/contacts-2", []byte("prefix-sibling"), 0); err != nil {
				t.Fatal(err)
			}
			// A second instance reads what the first wrote.
			b := e.dial(t)
			rec, err := b.LoadState(ctx, key)
			if err != nil || rec == nil || string(rec.Data) != "one" || rec.Key != key {
				t.Fatalf("load from second instance: %+v %v", rec, err)
			}
			r2, err := b.SaveState(ctx, key, []byte("two"), rec.Version)
			if err != nil {
				t.Fatal(err)
			}
			if p.profile != dovetest.ProfileMinimal {
				if _, err := a.SaveState(ctx, key, []byte("stale"), r1.Version); !errors.Is(err, ErrStateConflict) {
					t.Errorf("stale save: %v, want ErrStateConflict", err)
				}
				if r2.Version <= r1.Version {
					t.Errorf("versions %d then %d", r1.Version, r2.Version)
				}
			}
			rec, _ = a.LoadState(ctx, key)
			if string(rec.Data) != "two" {
				t.Errorf("after save: %q", rec.Data)
			}
			keys, err := a.ListState(ctx, "device/")
			if err != nil || len(keys) != 2 || keys[0] != key {
				t.Errorf("ListState: %q %v", keys, err)
			}
			// One message per record: the old version went.
			if n := len(folderMessages(t, e.mailClient(t), "SyncML State")); n != 2 {
				t.Errorf("%d state messages, want 2", n)
			}
			if err := a.DeleteState(ctx, key); err != nil {
				t.Fatal(err)
			}
			if rec, _ := a.LoadState(ctx, key); rec != nil {
				t.Errorf("deleted record still there")
			}
		})
	}
}

// TestStateDoesNotTouchItemFolders: saving state leaves the item folders'
// HIGHESTMODSEQ alone, so an unchanged folder stays one round trip.
func TestStateDoesNotTouchItemFolders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, dovetest.ProfileFull)
	a := e.dial(t)
	mustPut(t, a, KindContacts, &Item{Data: vcard("", "P")})
	sp := mustChanges(t, a, KindContacts, nil).SyncPoint
	blob, _ := sp.MarshalBinary()
	if _, err := a.SaveState(ctx, "device/x/contacts", blob, 0); err != nil {
		t.Fatal(err)
	}
	b := e.dial(t)
	rec, _ := b.LoadState(ctx, "device/x/contacts")
	var loaded SyncPoint
	if err := loaded.UnmarshalBinary(rec.Data); err != nil {
		t.Fatal(err)
	}
	e.log.take()
	if d := mustChanges(t, b, KindContacts, &loaded); !d.Empty() {
		t.Errorf("%s", changesString(d))
	}
	if cmds := e.log.take(); !slices.Equal(cmds, []string{"STATUS"}) {
		t.Errorf("commands %v, want [STATUS]", cmds)
	}
}

// TestAdvance: the session's own writes are folded in; a change made by
// someone else meanwhile is still reported next time.
func TestAdvance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, p := range profiles[:2] {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, p.profile)
			a := e.dial(t)
			base := mustChanges(t, a, KindContacts, nil).SyncPoint
			mine := &Item{Data: vcard("", "Mine")}
			mustPut(t, a, KindContacts, mine)
			next, err := a.Advance(ctx, KindContacts, base, []string{mine.ID})
			if err != nil {
				t.Fatal(err)
			}
			if d := mustChanges(t, e.dial(t), KindContacts, next); !d.Empty() {
				t.Errorf("own write echoed: %s", changesString(d))
			}
			if cmds := e.log.take(); a.caps.CondStore && !slices.Equal(cmds, []string{"STATUS"}) {
				t.Errorf("after a clean Advance: %v, want [STATUS]", cmds)
			}

			// Someone else adds while the session writes its own.
			other := e.dial(t)
			theirs := &Item{Data: vcard("", "Theirs")}
			mustPut(t, other, KindContacts, theirs)
			mine2 := &Item{ID: mine.ID, Data: vcard("", "Mine v2")}
			mustPut(t, a, KindContacts, mine2)
			next2, err := a.Advance(ctx, KindContacts, next, []string{mine.ID})
			if err != nil {
				t.Fatal(err)
			}
			d := mustChanges(t, e.dial(t), KindContacts, next2)
			if changesString(d) != fmt.Sprintf("added [%s] modified [] deleted []", theirs.ID) {
				t.Errorf("next session sees %s, want only theirs added", changesString(d))
			}
		})
	}
}

func TestBatchPut(t *testing.T) {
	t.Parallel()
	eachProfile(t, func(t *testing.T, e *testEnv) {
		var appends *cmdLog
		e.opts.wrapAppender = func(c net.Conn) net.Conn {
			appends = &cmdLog{Conn: c}
			return appends
		}
		a := e.dial(t)
		var items []*Item
		for i := 0; i < 250; i++ {
			items = append(items, &Item{Data: vcard("", fmt.Sprintf("Batch %03d", i))})
		}
		mustPut(t, a, KindContacts, items...)
		if a.caps.MultiAppend {
			// One command for the lot: every command is a transaction
			// of its own on the server.
			if n := strings.Count(appends.buf.String(), " APPEND "); n != 1 {
				t.Errorf("250 items went in %d MULTIAPPEND commands, want 1", n)
			}
		} else if appends != nil {
			t.Errorf("a MULTIAPPEND connection without MULTIAPPEND")
		}
		d := mustChanges(t, e.dial(t), KindContacts, nil)
		if fmt.Sprint(d.Added) != fmt.Sprint(sortedIDs(items...)) {
			t.Fatalf("%d added, want 250", len(d.Added))
		}
		// Replace them all at once: still 250 messages.
		for _, it := range items {
			it.Data = bytes.Replace(it.Data, []byte("Batch"), []byte("Again"), 1)
		}
		mustPut(t, a, KindContacts, items...)
		d2 := mustChanges(t, a, KindContacts, d.SyncPoint)
		if len(d2.Modified) != 250 || len(d2.Added)+len(d2.Deleted) != 0 {
			t.Errorf("after replacing all: %d/%d/%d", len(d2.Added), len(d2.Modified), len(d2.Deleted))
		}
		if n := len(folderMessages(t, e.mailClient(t), "Contacts")); n != 250 {
			t.Errorf("%d messages, want 250", n)
		}
	})
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dovetest.ProfileFull)
	a := e.dial(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Changes(ctx, KindContacts, nil); err == nil {
		t.Fatal("cancelled context: no error")
	}
	if _, err := a.Changes(context.Background(), KindContacts, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("after a cut connection: %v, want ErrClosed", err)
	}
}

// TestRescanSkipsOwnAppends: after a Put, reading the folder again does
// not fetch back the headers of the messages the Put appended (their
// UIDs came with APPENDUID), and still finds what others added.
func TestRescanSkipsOwnAppends(t *testing.T) {
	t.Parallel()
	for _, p := range profiles[:2] {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, p.profile)
			a := e.dial(t)
			log := e.log
			mustChanges(t, a, KindContacts, nil) // the folder exists, its index is read
			var items []*Item
			for i := 0; i < 20; i++ {
				items = append(items, &Item{Data: vcard("", fmt.Sprintf("Own %d", i))})
			}
			mustPut(t, a, KindContacts, items...)
			// Someone else adds one meanwhile.
			mustPut(t, e.dial(t), KindContacts, &Item{Data: vcard("", "Other")})
			log.take()
			log.mu.Lock()
			log.buf.Reset()
			log.mu.Unlock()
			d := mustChanges(t, a, KindContacts, nil)
			if len(d.Added) != 21 {
				t.Errorf("%d items, want 21", len(d.Added))
			}
			log.mu.Lock()
			sent := log.buf.String()
			log.mu.Unlock()
			fetches := regexp.MustCompile(`(?m)^T\d+ UID FETCH (\S+)`).FindAllStringSubmatch(sent, -1)
			if len(fetches) != 1 || fetches[0][1] != "21:*" {
				t.Errorf("the folder was read with %q, want one UID FETCH 21:* (the 20 own messages are UIDs 1:20)", fetches)
			}
		})
	}
}

// eachProfile runs f, in parallel, against a Dovecot of each capability
// profile.
func eachProfile(t *testing.T, f func(t *testing.T, e *testEnv)) {
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			f(t, newEnv(t, p.profile))
		})
	}
}
