package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"syncml-imap/config"
	"syncml-imap/imapstore"
	"syncml-imap/integration/syncevo"
	"syncml-imap/pim"
	"syncml-imap/plugin"
)

// device is one more SyncEvolution client (its own device ID) on the
// env's account.
func (e *env) device(t *testing.T, id string, sources ...syncevo.Source) *syncevo.Client {
	t.Helper()
	if len(sources) == 0 {
		sources = []syncevo.Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}}
	}
	return syncevo.New(t, &syncevo.Options{URL: e.url, Username: e.user, Password: e.pass, DeviceID: id, RefreshSync: true, Sources: sources})
}

// mustSync runs a sync that must succeed.
func mustSync(t *testing.T, c *syncevo.Client, mode syncevo.Mode) *syncevo.Result {
	t.Helper()
	r := c.Sync(t, mode)
	if !r.OK() {
		t.Fatalf("sync %q of %s failed: %s\n%s", mode, c.Opts.DeviceID, r, r.Output)
	}
	return r
}

// slots reads the account's device slots as the admin commands do.
func (e *env) slots(t *testing.T) *pim.Devices {
	t.Helper()
	return pim.NewDevices(e.stateStore(t), 4)
}

// stateStore is the account's state records through the plugin's store.
func (e *env) stateStore(t *testing.T) pim.StateStore {
	t.Helper()
	cfg := config.Default()
	cfg.IMAP.Address = e.dove.Addr
	st, err := plugin.OpenAccount(context.Background(), cfg, e.user, e.pass)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestDeviceSlotLimit: four devices sync; the fifth is refused with a
// status saying why and nothing of the mailbox changes; removing a slot
// lets it in.
func TestDeviceSlotLimit(t *testing.T) {
	e := newEnvWith(t, nil, func(o *syncevo.Options) {
		o.DeviceID = "phone-1"
		o.Sources = []syncevo.Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}}
	})
	e.client.WriteItem(t, "addressbook", "a.vcf", contact(1, "first phone"))
	e.sync(t, syncevo.Slow)
	for i := 2; i <= 4; i++ {
		mustSync(t, e.device(t, fmt.Sprint("phone-", i)), syncevo.Slow)
	}
	fifth := e.device(t, "phone-5")
	fifth.WriteItem(t, "addressbook", "x.vcf", contact(5, "from the fifth"))
	var replies [][]byte
	r := fifth.Sync(t, syncevo.Slow)
	if r.OK() {
		t.Fatal("the fifth device synced")
	}
	msgs, err := fifth.Messages(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if !m.Outgoing {
			replies = append(replies, m.Data)
		}
	}
	if len(replies) == 0 || !bytes.Contains(bytes.Join(replies, nil), []byte("403")) ||
		!bytes.Contains(bytes.Join(replies, nil), []byte("all 4 device slots")) || !bytes.Contains(bytes.Join(replies, nil), []byte("devices remove")) {
		t.Errorf("the refusal does not say why:\n%s", bytes.Join(replies, []byte("\n")))
	}
	if n := len(e.mailbox(imapstore.KindContacts)); n != 1 {
		t.Errorf("mailbox has %d contacts after the refusal, want 1", n)
	}
	if s, _ := e.slots(t).Get(context.Background(), "phone-5"); s != nil {
		t.Errorf("the refused device holds a slot: %+v", s)
	}
	// The admin frees slot 3; the fifth device takes it.
	if _, err := e.slots(t).Remove(context.Background(), "3"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, fifth, syncevo.Slow)
	s, err := e.slots(t).Get(context.Background(), "phone-5")
	if err != nil || s == nil || s.Number != 3 || s.LastSync.IsZero() || s.Databases["contacts"].IsZero() {
		t.Errorf("fifth device's slot %+v %v, want slot 3 with its sync recorded", s, err)
	}
	if n := len(e.mailbox(imapstore.KindContacts)); n != 2 {
		t.Errorf("mailbox has %d contacts, want 2", n)
	}
}

// TestDirectionPolicies: a server-to-device device cannot change the
// mailbox (its changes are reverted on it); a device-to-server device
// gets nothing back.
func TestDirectionPolicies(t *testing.T) {
	e := newEnvWith(t, nil, func(o *syncevo.Options) {
		o.DeviceID = "main-phone"
		o.Sources = []syncevo.Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}}
	})
	for i := 0; i < 3; i++ {
		e.client.WriteItem(t, "addressbook", fmt.Sprintf("c%d.vcf", i), contact(i, "shared"))
	}
	e.sync(t, syncevo.Slow)
	ctx := context.Background()

	kid := e.device(t, "kids-phone")
	mustSync(t, kid, syncevo.Slow)
	if _, _, err := e.slots(t).SetPolicy(ctx, "kids-phone", pim.DefaultPolicy(), map[string]string{"contacts_direction": "server-to-device"}); err != nil {
		t.Fatal(err)
	}
	items := kid.Items(t, "addressbook")
	var victim string
	for name := range items {
		victim = name
		break
	}
	kid.WriteItem(t, "addressbook", "new.vcf", contact(77, "kid's own"))
	kid.WriteItem(t, "addressbook", victim, bytes.Replace(items[victim], []byte("NOTE:shared"), []byte("NOTE:scribbled"), 1))
	mustSync(t, kid, syncevo.TwoWay)
	mb := e.mailbox(imapstore.KindContacts)
	if len(mb) != 3 {
		t.Errorf("mailbox has %d contacts after the server-to-device device's sync, want 3", len(mb))
	}
	for _, d := range mb {
		if bytes.Contains(d, []byte("scribbled")) || bytes.Contains(d, []byte("kid's own")) {
			t.Errorf("the server-to-device device changed the mailbox:\n%s", d)
		}
	}
	got := kid.Items(t, "addressbook")
	if len(got) != 3 {
		t.Errorf("server-to-device device has %d contacts, want the mailbox's 3", len(got))
	}
	for _, d := range got {
		if bytes.Contains(d, []byte("scribbled")) {
			t.Errorf("the device's edit was not reverted:\n%s", d)
		}
	}
	// It still receives the mailbox's changes.
	a := e.account()
	if err := a.Put(ctx, imapstore.KindContacts, &imapstore.Item{Data: contact(40, "new at home")}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, kid, syncevo.TwoWay)
	if n := len(kid.Items(t, "addressbook")); n != 4 {
		t.Errorf("server-to-device device has %d contacts, want 4", n)
	}

	// device-to-server: a desktop that only sends.
	desk := e.device(t, "desktop")
	mustSync(t, desk, syncevo.Slow)
	if _, _, err := e.slots(t).SetPolicy(ctx, "desktop", pim.DefaultPolicy(), map[string]string{"direction": "device-to-server"}); err != nil {
		t.Fatal(err)
	}
	desk.WriteItem(t, "addressbook", "d.vcf", contact(90, "from the desktop"))
	if err := a.Put(ctx, imapstore.KindContacts, &imapstore.Item{Data: contact(41, "not for the desktop")}); err != nil {
		t.Fatal(err)
	}
	before := len(desk.Items(t, "addressbook"))
	mustSync(t, desk, syncevo.TwoWay)
	mustSync(t, desk, syncevo.TwoWay)
	if n := len(desk.Items(t, "addressbook")); n != before {
		t.Errorf("device-to-server device got items: %d, had %d", n, before)
	}
	found := false
	for _, d := range e.mailbox(imapstore.KindContacts) {
		found = found || bytes.Contains(d, []byte("from the desktop"))
	}
	if !found {
		t.Error("the device-to-server device's contact is not in the mailbox")
	}
}

// TestConcurrentDevices: two devices of one account sync at the same
// time, each with changes; both finish, and the next sync of each brings
// the other's changes: nothing lost or doubled.
func TestConcurrentDevices(t *testing.T) {
	e := newEnvWith(t, nil, func(o *syncevo.Options) {
		o.DeviceID = "phone-a"
		o.Sources = []syncevo.Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}, {Name: "calendar", URI: "calendar", Format: "text/calendar"}}
	})
	b := e.device(t, "phone-b", syncevo.Source{Name: "addressbook", URI: "contacts", Format: "text/vcard"}, syncevo.Source{Name: "calendar", URI: "calendar", Format: "text/calendar"})
	e.sync(t, syncevo.Slow)
	mustSync(t, b, syncevo.Slow)
	for round := 0; round < 2; round++ {
		for i := 0; i < 20; i++ {
			e.client.WriteItem(t, "addressbook", fmt.Sprintf("a%d-%d.vcf", round, i), contact(100*round+i, "from A"))
			b.WriteItem(t, "addressbook", fmt.Sprintf("b%d-%d.vcf", round, i), contact(1000+100*round+i, "from B"))
			e.client.WriteItem(t, "calendar", fmt.Sprintf("a%d-%d.ics", round, i), event(50*round+i, "A's meeting"))
			// Within the default calendar window (a year ahead).
			b.WriteItem(t, "calendar", fmt.Sprintf("b%d-%d.ics", round, i), event(200+50*round+i, "B's meeting"))
		}
		var wg sync.WaitGroup
		results := make([]*syncevo.Result, 2)
		for i, c := range []*syncevo.Client{e.client, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = c.Sync(t, syncevo.TwoWay)
			}()
		}
		wg.Wait()
		for i, r := range results {
			if !r.OK() {
				t.Fatalf("round %d: concurrent sync of device %d failed: %s\n%s", round, i, r, r.Output)
			}
		}
	}
	// Each gets the other's.
	mustSync(t, e.client, syncevo.TwoWay)
	mustSync(t, b, syncevo.TwoWay)
	mustSync(t, e.client, syncevo.TwoWay)
	for _, c := range []*syncevo.Client{e.client, b} {
		if n := len(c.Items(t, "addressbook")); n != 80 {
			t.Errorf("%s has %d contacts, want 80", c.Opts.DeviceID, n)
		}
		if n := len(c.Items(t, "calendar")); n != 80 {
			t.Errorf("%s has %d events, want 80", c.Opts.DeviceID, n)
		}
	}
	if n := len(e.mailbox(imapstore.KindContacts)); n != 80 {
		t.Errorf("mailbox has %d contacts, want 80", n)
	}
	if n := len(e.mailbox(imapstore.KindCalendar)); n != 80 {
		t.Errorf("mailbox has %d events, want 80", n)
	}
	names := map[string]int{}
	for _, d := range e.mailbox(imapstore.KindContacts) {
		for _, l := range strings.Split(string(d), "\r\n") {
			if strings.HasPrefix(l, "FN:") {
				names[l]++
			}
		}
	}
	for n, c := range names {
		if c > 1 {
			t.Errorf("%s stored %d times", n, c)
		}
	}
}

// TestConflictPolicies: the same conflicting edit (the mailbox changes
// the phone number and the note, the device the e-mail address and the
// note) under each conflict policy, checked field by field on both sides.
func TestConflictPolicies(t *testing.T) {
	card := func(tel, email, note, rev string) []byte {
		return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:conflict-1\r\nFN:Clara Conflict\r\nN:Conflict;Clara;;;\r\n" +
			"TEL;TYPE=CELL:" + tel + "\r\nEMAIL;TYPE=INTERNET:" + email + "\r\nNOTE:" + note + "\r\nREV:" + rev + "\r\nEND:VCARD\r\n")
	}
	base := card("+49 30 1111", "clara@old.example", "base note", "20261101T080000Z")
	server := card("+49 30 2222", "clara@old.example", "server note", "20261125T090000Z")
	device := card("+49 30 1111", "clara@new.example", "device note", "20261125T100000Z")
	tests := []struct {
		policy config.Conflict
		want   [][]string // the mailbox's contacts, as TEL/EMAIL/NOTE values
	}{
		{config.ConflictServerWins, [][]string{{"+49 30 2222", "clara@old.example", "server note"}}},
		{config.ConflictDeviceWins, [][]string{{"+49 30 1111", "clara@new.example", "device note"}}},
		{config.ConflictNewestWins, [][]string{{"+49 30 1111", "clara@new.example", "device note"}}}, // the device's REV is later
		{config.ConflictDuplicate, [][]string{{"+49 30 1111", "clara@new.example", "device note"}, {"+49 30 2222", "clara@old.example", "server note"}}},
		{config.ConflictMerge, [][]string{{"+49 30 2222", "clara@new.example", "server note"}}}, // NOTE changed on both: tie-break server-wins
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			t.Parallel()
			e := newEnvWith(t, func(c *config.Config) { c.Sync.Defaults.Conflict = tt.policy }, func(o *syncevo.Options) {
				o.Sources = []syncevo.Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}}
			})
			e.client.WriteItem(t, "addressbook", "clara.vcf", base)
			e.sync(t, syncevo.Slow)
			a := e.account()
			for id := range e.mailbox(imapstore.KindContacts) {
				if err := a.Put(context.Background(), imapstore.KindContacts, &imapstore.Item{ID: id, Data: server}); err != nil {
					t.Fatal(err)
				}
			}
			e.client.WriteItem(t, "addressbook", "clara.vcf", device)
			e.sync(t, syncevo.TwoWay)
			values := func(items map[string][]byte) []string {
				var out []string
				for _, d := range items {
					var v []string
					for _, l := range strings.Split(strings.ReplaceAll(string(d), "\r\n", "\n"), "\n") {
						for _, p := range []string{"TEL", "EMAIL", "NOTE"} {
							if strings.HasPrefix(l, p+";") || strings.HasPrefix(l, p+":") {
								v = append(v, l[strings.Index(l, ":")+1:])
							}
						}
					}
					out = append(out, strings.Join(v, " | "))
				}
				slices.Sort(out)
				return out
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, strings.Join(w, " | "))
			}
			slices.Sort(want)
			if got := values(e.mailbox(imapstore.KindContacts)); !slices.Equal(got, want) {
				t.Errorf("mailbox:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			e.same(t, "addressbook")
			// Settled: a quiet sync changes nothing.
			r := e.sync(t, syncevo.TwoWay)
			if s := r.Sources["addressbook"]; s.LocalAdded+s.LocalUpdated+s.RemoteAdded+s.RemoteUpdated+s.LocalRemoved+s.RemoteRemoved != 0 {
				t.Errorf("after the conflict: %+v", s)
			}
		})
	}
}

// TestSameDeviceSecondSession: a device starts a session and is cut off
// after its first message (the session stays open on the server); its
// next session takes over cleanly, and the first session's late message
// is refused with a reason; nothing is lost or doubled.
func TestSameDeviceSecondSession(t *testing.T) {
	e := newEnvWith(t, nil, func(o *syncevo.Options) {
		o.Sources = []syncevo.Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}}
	})
	for i := 0; i < 3; i++ {
		e.client.WriteItem(t, "addressbook", fmt.Sprintf("c%d.vcf", i), contact(i, "first"))
	}
	e.sync(t, syncevo.Slow)
	e.client.WriteItem(t, "addressbook", "late.vcf", contact(9, "added before the cut"))
	posts := 0
	e.setCut(func() bool { posts++; return posts == 2 })
	r := e.client.Sync(t, syncevo.TwoWay)
	e.setCut(nil)
	if r.OK() {
		t.Fatal("the cut session succeeded")
	}
	msgs, err := e.client.Messages(r)
	if err != nil {
		t.Fatal(err)
	}
	var respURI string
	var second []byte
	for _, m := range msgs {
		if !m.Outgoing && respURI == "" {
			if i := bytes.Index(m.Data, []byte("<RespURI>")); i >= 0 {
				j := bytes.Index(m.Data[i:], []byte("</RespURI>"))
				respURI = string(m.Data[i+len("<RespURI>") : i+j])
			}
		}
		if m.Outgoing && bytes.Contains(m.Data, []byte("<MsgID>2</MsgID>")) {
			second = m.Data
		}
	}
	if respURI == "" || second == nil {
		t.Fatalf("no RespURI (%q) or second message (%d bytes) in the cut session", respURI, len(second))
	}
	// The device's next session: a clean sync.
	e.sync(t, syncevo.TwoWay)
	e.same(t, "addressbook")
	// The first session's late message.
	resp, err := http.Post(respURI, "application/vnd.syncml+xml", bytes.NewReader(second))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte("<Data>403</Data>")) || !bytes.Contains(body, []byte("replaced by a newer session")) {
		t.Errorf("the replaced session's message got:\n%s", body)
	}
	r = e.sync(t, syncevo.TwoWay)
	if s := r.Sources["addressbook"]; s.Mode != "two-way" || s.LocalAdded+s.RemoteAdded+s.LocalUpdated+s.RemoteUpdated != 0 {
		t.Errorf("after the takeover: %+v", s)
	}
	if n := len(e.mailbox(imapstore.KindContacts)); n != 4 {
		t.Errorf("mailbox has %d contacts, want 4", n)
	}
}

// TestFilterPolicies: a device that gets only "Family" contacts and the
// events of a window (30 days back, 90 ahead). Items moving in and out
// between syncs are added to and removed from the device; the mailbox
// keeps everything, and the device's own items stay on it.
func TestFilterPolicies(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) {
		c.Sync.Defaults.ContactCategories = []string{"Family"}
		c.Sync.Defaults.CalendarPast = config.Duration{Duration: 30 * 24 * time.Hour}
		c.Sync.Defaults.CalendarFuture = config.Duration{Duration: 90 * 24 * time.Hour}
	}, func(o *syncevo.Options) {
		o.Sources = []syncevo.Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}, {Name: "calendar", URI: "calendar", Format: "text/calendar"}}
	})
	ctx := context.Background()
	card := func(name, cats string) []byte {
		return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + name + "\r\nFN:" + name + "\r\nN:" + name + ";;;;\r\nCATEGORIES:" + cats + "\r\nEND:VCARD\r\n")
	}
	day := 24 * time.Hour
	today := time.Now().UTC().Truncate(day)
	ev := func(name string, start time.Time, extra string) []byte {
		return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" + name + "\r\nSUMMARY:" + name +
			"\r\nDTSTART:" + start.Add(9*time.Hour).Format("20060102T150405Z") + "\r\nDTEND:" + start.Add(10*time.Hour).Format("20060102T150405Z") +
			"\r\n" + extra + "END:VEVENT\r\nEND:VCALENDAR\r\n")
	}
	a := e.account()
	ids := map[string]string{}
	put := func(kind imapstore.Kind, name string, data []byte) {
		it := &imapstore.Item{ID: ids[name], Data: data}
		if err := a.Put(ctx, kind, it); err != nil {
			t.Fatal(err)
		}
		ids[name] = it.ID
	}
	put(imapstore.KindContacts, "Anna", card("Anna", "Family"))
	put(imapstore.KindContacts, "Bert", card("Bert", "Work"))
	put(imapstore.KindContacts, "Cleo", card("Cleo", ""))
	put(imapstore.KindCalendar, "Dentist", ev("Dentist", today.Add(10*day), ""))
	put(imapstore.KindCalendar, "Holiday", ev("Holiday", today.Add(200*day), ""))
	put(imapstore.KindCalendar, "Choir", ev("Choir", today.Add(-700*day), "RRULE:FREQ=WEEKLY\r\n"))
	put(imapstore.KindCalendar, "Party", ev("Party", today.Add(-60*day), ""))

	names := func(source, prop string) []string {
		var out []string
		for _, d := range e.client.Items(t, source) {
			for _, l := range strings.Split(strings.ReplaceAll(string(d), "\r\n", "\n"), "\n") {
				if v, ok := strings.CutPrefix(l, prop+":"); ok {
					out = append(out, v)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	check := func(step string, contacts, events string) {
		t.Helper()
		if got := strings.Join(names("addressbook", "FN"), " "); got != contacts {
			t.Errorf("%s: device contacts %q, want %q", step, got, contacts)
		}
		if got := strings.Join(names("calendar", "SUMMARY"), " "); got != events {
			t.Errorf("%s: device events %q, want %q", step, got, events)
		}
	}
	e.client.WriteItem(t, "addressbook", "own.vcf", card("Dora", ""))
	e.sync(t, syncevo.Slow)
	check("first sync", "Anna Dora", "Choir Dentist")

	// Anna leaves the family, Bert joins; the dentist moves to next
	// summer, the holiday to next month.
	put(imapstore.KindContacts, "Anna", card("Anna", "Work"))
	put(imapstore.KindContacts, "Bert", card("Bert", "Family,Work"))
	put(imapstore.KindCalendar, "Dentist", ev("Dentist", today.Add(200*day), ""))
	put(imapstore.KindCalendar, "Holiday", ev("Holiday", today.Add(20*day), ""))
	e.sync(t, syncevo.TwoWay)
	check("after the moves", "Bert Dora", "Choir Holiday")
	if n, m := len(e.mailbox(imapstore.KindContacts)), len(e.mailbox(imapstore.KindCalendar)); n != 4 || m != 4 {
		t.Errorf("mailbox has %d contacts and %d events, want 4 and 4", n, m)
	}
	// Anna comes back.
	put(imapstore.KindContacts, "Anna", card("Anna", "family"))
	e.sync(t, syncevo.TwoWay)
	check("Anna back", "Anna Bert Dora", "Choir Holiday")
	r := e.sync(t, syncevo.TwoWay)
	for _, src := range []string{"addressbook", "calendar"} {
		if s := r.Sources[src]; s.LocalAdded+s.LocalUpdated+s.LocalRemoved+s.RemoteAdded+s.RemoteUpdated+s.RemoteRemoved != 0 {
			t.Errorf("quiet sync of %s: %+v", src, s)
		}
	}
}

// TestContactFoldersPolicy: a device whose policy names the "Family"
// sub-folder gets those contacts only, and its new contact lands there.
func TestContactFoldersPolicy(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.Sync.Defaults.ContactFolders = []string{"Family"} }, func(o *syncevo.Options) {
		o.Sources = []syncevo.Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}}
	})
	ctx := context.Background()
	a := e.account()
	family := imapstore.KindContacts.Sub("Family")
	if err := a.Put(ctx, family, &imapstore.Item{Data: contact(1, "family")}); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(ctx, imapstore.KindContacts, &imapstore.Item{Data: contact(2, "main folder")}); err != nil {
		t.Fatal(err)
	}
	e.client.WriteItem(t, "addressbook", "own.vcf", contact(3, "from the phone"))
	e.sync(t, syncevo.Slow)
	got := e.client.Items(t, "addressbook")
	if len(got) != 2 {
		t.Errorf("device has %d contacts, want the family one and its own", len(got))
	}
	for _, d := range got {
		if bytes.Contains(d, []byte("main folder")) {
			t.Error("a contact of the main folder reached the device")
		}
	}
	d, err := a.Changes(ctx, family, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Added) != 2 {
		t.Errorf("Contacts/Family has %d contacts, want 2 (the phone's new one goes there)", len(d.Added))
	}
	if n := len(e.mailbox(imapstore.KindContacts)); n != 1 {
		t.Errorf("the main Contacts folder has %d, want 1", n)
	}
	e.sync(t, syncevo.TwoWay)
}

// TestBackupBeforeFirstSync: with the policy on, a device's first sync of
// a database copies its folder aside (server side) before anything is
// written; later syncs do not.
func TestBackupBeforeFirstSync(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.Sync.Defaults.BackupBeforeFirstSync = true }, func(o *syncevo.Options) {
		o.Sources = []syncevo.Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}}
	})
	a := e.account()
	for i := 0; i < 2; i++ {
		if err := a.Put(context.Background(), imapstore.KindContacts, &imapstore.Item{Data: contact(i, "before the phone")}); err != nil {
			t.Fatal(err)
		}
	}
	e.client.WriteItem(t, "addressbook", "p.vcf", contact(7, "from the phone"))
	e.sync(t, syncevo.Slow)
	e.sync(t, syncevo.TwoWay)
	c, err := imapclient.DialInsecure(e.dove.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(e.user, e.pass).Wait(); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "SyncML Backup/*/Contacts", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !strings.Contains(list[0].Mailbox, "sc-test-device-1") {
		t.Fatalf("backup folders %v, want one for the device", list)
	}
	st, err := c.Status(list[0].Mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != 2 {
		t.Errorf("backup holds %v messages (%v), want the 2 from before the first sync", st.NumMessages, err)
	}
}

// TestOpenTasksOnly: with tasks_open_only the device gets open tasks;
// one completed in the mailbox leaves the device (and stays in the
// mailbox); one reopened comes back.
func TestOpenTasksOnly(t *testing.T) {
	e := newEnvWith(t, func(c *config.Config) { c.Sync.Defaults.TasksOpenOnly = true }, func(o *syncevo.Options) {
		o.Sources = []syncevo.Source{{Name: "todo", URI: "tasks", Format: "text/calendar"}}
	})
	ctx := context.Background()
	a := e.account()
	task := func(name, status string) []byte {
		return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:" + name + "\r\nSUMMARY:" + name +
			"\r\nDUE:20261215T170000Z\r\nSTATUS:" + status + "\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")
	}
	ids := map[string]string{}
	put := func(name, status string) {
		it := &imapstore.Item{ID: ids[name], Data: task(name, status)}
		if err := a.Put(ctx, imapstore.KindTasks, it); err != nil {
			t.Fatal(err)
		}
		ids[name] = it.ID
	}
	put("Open", "NEEDS-ACTION")
	put("Done", "COMPLETED")
	summaries := func() string {
		var out []string
		for _, d := range e.client.Items(t, "todo") {
			for _, l := range strings.Split(strings.ReplaceAll(string(d), "\r\n", "\n"), "\n") {
				if v, ok := strings.CutPrefix(l, "SUMMARY:"); ok {
					out = append(out, v)
				}
			}
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	e.sync(t, syncevo.Slow)
	if got := summaries(); got != "Open" {
		t.Fatalf("device tasks %q, want the open one", got)
	}
	put("Open", "COMPLETED")
	put("Done", "IN-PROCESS")
	e.sync(t, syncevo.TwoWay)
	if got := summaries(); got != "Done" {
		t.Errorf("after the changes: device tasks %q, want the reopened one only", got)
	}
	if n := len(e.mailbox(imapstore.KindTasks)); n != 2 {
		t.Errorf("mailbox has %d tasks, want 2", n)
	}
}
