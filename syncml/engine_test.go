package syncml

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"testing"
	"time"
)

// driver replays client messages against a Server, following RespURI.
type driver struct {
	t   *testing.T
	srv *Server
	key string
	sid string
}

func (d *driver) send(body string) *Message {
	d.t.Helper()
	resp, err := d.srv.Handle(context.Background(), &Request{Body: []byte(body), SessionKey: d.key, BaseURL: "http://127.0.0.1/syncml"})
	if err != nil {
		d.t.Fatalf("Handle: %v", err)
	}
	m := parse(d.t, resp.Body)
	if m.Hdr.RespURI != "" {
		u, err := url.Parse(m.Hdr.RespURI)
		if err != nil {
			d.t.Fatal(err)
		}
		d.key = u.Query().Get("s")
	}
	return m
}

func (d *driver) fixture(name string) *Message {
	d.t.Helper()
	return d.send(strings.ReplaceAll(string(readFixture(d.t, name)), "<SessionID>SID</SessionID>", "<SessionID>"+d.sid+"</SessionID>"))
}

func (d *driver) message(msgID int, final bool, cmds ...Command) *Message {
	d.t.Helper()
	m := &Message{Hdr: SyncHdr{VerDTD: "1.2", VerProto: "SyncML/1.2", SessionID: d.sid, MsgID: fmt.Sprint(msgID),
		Target: Loc{LocURI: "http://127.0.0.1/syncml"}, Source: Loc{LocURI: "IMEI:3550000"},
		Meta: &Meta{MaxMsgSize: 3000}}, Body: cmds, Final: final}
	if msgID == 1 {
		m.Hdr.Cred = &Cred{Meta: &Meta{Type: "syncml:auth-basic"}, Data: "YWxpY2U6cHc="}
	}
	id := 0
	var number func([]Command)
	number = func(cs []Command) {
		for _, c := range cs {
			id++
			c.SetID(fmt.Sprint(id))
			if sy, ok := c.(*Sync); ok {
				number(sy.Commands)
			}
		}
	}
	number(cmds)
	var b bytes.Buffer
	EncodeXML(&b, m.Element())
	return d.send(b.String())
}

// statuses lists the reply's statuses as "Cmd CmdRef Data [refs]".
func statuses(m *Message) []string {
	var out []string
	for _, c := range m.Body {
		if st, ok := c.(*Status); ok {
			s := fmt.Sprintf("%s %s %s", st.Cmd, st.CmdRef, st.Data)
			if len(st.SourceRef) > 0 && st.Cmd != "SyncHdr" {
				s += " src=" + strings.Join(st.SourceRef, ",")
			}
			if st.MsgRef != "" && st.Cmd != "SyncHdr" {
				s += " msg=" + st.MsgRef
			}
			out = append(out, s)
		}
	}
	return out
}

func commands[T Command](m *Message) []T {
	var out []T
	for _, c := range m.Body {
		if x, ok := c.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

// newMemStore is the engine tests' store: in memory, the item maps and
// points (keys with "/map/") counted apart in its Stats.
func newMemStore() *memstore.Store {
	return memstore.New(&memstore.Options{Bulk: func(k string) bool { return strings.Contains(k, "/map/") }})
}

// dbStateOf is the committed state of a device's database in store, its
// bulk record read in.
func dbStateOf(t *testing.T, store *memstore.Store, device string, db pim.Kind) *dbState {
	t.Helper()
	raws := store.State()
	var st dbState
	if err := json.Unmarshal(raws[pim.ReplicaKey(device, db)], &st); err != nil {
		t.Fatalf("state of %s %s: %v", device, db, err)
	}
	if err := pim.ReadBulk(context.Background(), store, pim.DatabaseView(store, db), device, db, &st.ReplicaState); err != nil {
		t.Fatalf("bulk of %s %s: %v", device, db, err)
	}
	return &st
}

func newDriver(t *testing.T, store *memstore.Store) *driver {
	return &driver{t: t, srv: NewServer(ServerOptions{Auth: store.Auth("alice", "pw")}), sid: "7"}
}

// TestFixtureSession replays a whole slow sync: package 1 with devinf
// Put/Get and one unknown database, package 3 with every item command
// and status path, package 5 with a Map.
func TestFixtureSession(t *testing.T) {
	store := newMemStore()
	d := newDriver(t, store)

	r := d.fixture("pkg1-slow.xml")
	want := []string{
		"SyncHdr 0 212",
		"Put 1 200 src=./devinf12 msg=1",
		"Get 2 200 msg=1",
		"Alert 3 200 src=./addressbook msg=1",
		"Alert 4 404 src=./notes msg=1", // memos: unknown database; contacts still syncs
	}
	if got := statuses(r); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("package 2 statuses:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	res := commands[*Results](r)
	if len(res) != 1 || res[0].CmdRef != "2" || res[0].Items[0].Data.XML.ChildText("DevTyp") != "server" {
		t.Errorf("Results %+v", res)
	}
	alerts := commands[*Alert](r)
	if len(alerts) != 1 || alerts[0].Data != "201" || alerts[0].Items[0].Target.LocURI != "./addressbook" || alerts[0].Items[0].Meta.Anchor.Next == "" {
		t.Fatalf("server alerts %+v", alerts)
	}
	if st := r.Body[3].(*Status); st.Items[0].Data.XML.ChildText("Next") != "42" {
		t.Errorf("Alert status does not echo the client's Next anchor: %+v", st.Items)
	}
	if !r.Final || r.Hdr.RespURI == "" || r.Hdr.SessionID != "7" || r.Hdr.Target.LocURI != "IMEI:3550000" {
		t.Errorf("header %+v final %v", r.Hdr, r.Final)
	}

	r = d.fixture("s1-pkg3.xml")
	want = []string{
		"SyncHdr 0 200",
		"Sync 3 200 src=./addressbook msg=2",
		"Add 4 201 src=101 msg=2",
		"Replace 5 201 src=102 msg=2", // unknown LUID: added
		"Delete 6 211 src=103 msg=2",  // unknown LUID: not deleted
		// Add 7 has NoResp
		"Add 8 412 msg=2",               // no LUID
		"Replace 9 400 msg=2",           // outside a Sync
		"Sync 10 404 src=./notes msg=2", // unknown database
		"Add 11 404 msg=2",
		"Exec 12 501 msg=2",
	}
	if got := statuses(r); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("package 4 statuses:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if store.Stats().Puts != 1 {
		t.Errorf("%d Put calls for one Sync, want 1 batch", store.Stats().Puts)
	}
	if n := len(store.Items("contacts")); n != 3 {
		t.Errorf("%d contacts stored, want 3 (Ann, Bo, Quiet One)", n)
	}
	syncs := commands[*Sync](r)
	if len(syncs) != 1 || len(syncs[0].Commands) != 0 || *syncs[0].NumberOfChanges != 0 || !r.Final {
		t.Fatalf("server Sync %+v", syncs)
	}
	if store.State()["device/IMEI:3550000/contacts"] != nil {
		t.Fatal("sync state committed before the session ended")
	}
	if store.State()["device/IMEI:3550000/devinf"] == nil {
		t.Error("the device's DevInf was not kept")
	}

	r = d.fixture("s1-pkg5.xml")
	if got := statuses(r); fmt.Sprint(got) != "[SyncHdr 0 200 Map 3 200 src=./addressbook msg=3]" || !r.Final {
		t.Fatalf("package 6: %v", got)
	}
	st := dbStateOf(t, store, "IMEI:3550000", "contacts")
	if st.ClientNext != "42" || st.ServerNext == "" || len(st.Map) != 4 || st.Map["101"] == "" || st.Map["900"] != "g-unknown" {
		t.Errorf("committed state %+v", st)
	}

	// Next session: matching anchors give a two-way sync with our Last.
	d2 := &driver{t: t, srv: d.srv, sid: "8"}
	r = d2.fixture("s2-pkg1.xml")
	if got := statuses(r); fmt.Sprint(got) != "[SyncHdr 0 212 Alert 1 200 src=./addressbook msg=1]" {
		t.Fatalf("anchors match: %v", got)
	}
	if a := commands[*Alert](r)[0]; a.Data != "200" || a.Items[0].Meta.Anchor.Last != st.ServerNext {
		t.Errorf("server alert %+v", a.Items[0].Meta.Anchor)
	}
	d3 := &driver{t: t, srv: d.srv, sid: "9"}
	r = d3.fixture("s2-pkg1-badanchor.xml")
	if got := statuses(r); fmt.Sprint(got) != "[SyncHdr 0 212 Alert 1 508 src=./addressbook msg=1]" || commands[*Alert](r)[0].Data != "201" {
		t.Fatalf("anchor mismatch: %v", got)
	}
}

func vc(name string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + name + "\r\nNOTE:" + strings.Repeat("x", 200) + "\r\nEND:VCARD\r\n"
}

// TestMultiMessagePackages: the server splits its package to stay under
// the client's MaxMsgSize and the client pulls with Alert 222; the
// client's own package may span messages too.
func TestMultiMessagePackages(t *testing.T) {
	store := newMemStore()
	for i := 0; i < 30; i++ {
		store.Put(context.Background(), "contacts", &pim.Item{Data: []byte(vc(fmt.Sprintf("Server %02d", i)))})
	}
	d := newDriver(t, store)
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	r := d.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
	if !r.Final {
		t.Fatal("package 2 not final")
	}
	// The client's package 3 in two messages.
	add := func(luid string) *Change {
		return &Change{Op: OpAdd, Items: []Item{{Source: loc(luid), Data: &Data{Text: vc("Client " + luid)}}}}
	}
	r = d.message(2, false, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{add("1"), add("2")}})
	if r.Final || len(commands[*Sync](r)) != 0 {
		t.Fatalf("server sent its Sync before the client's package ended")
	}
	r = d.message(3, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{add("3")}})
	seen := map[string]bool{}
	msg := 4
	for {
		var b bytes.Buffer
		EncodeXML(&b, r.Element())
		if b.Len() > 3000 {
			t.Errorf("message of %d bytes exceeds MaxMsgSize 3000", b.Len())
		}
		for _, sy := range commands[*Sync](r) {
			for _, c := range sy.Commands {
				id := c.(*Change).Items[0].Source.LocURI
				if seen[id] {
					t.Errorf("%s sent twice", id)
				}
				seen[id] = true
			}
		}
		if r.Final {
			break
		}
		if msg > 40 {
			t.Fatal("package never ends")
		}
		r = d.message(msg, false, &Alert{Data: "222", Items: []Item{{Target: loc("http://127.0.0.1/syncml"), Source: loc("IMEI:3550000")}}})
		msg++
	}
	if len(seen) != 30 || msg < 6 {
		t.Errorf("%d items in %d messages; want 30 items over several messages", len(seen), msg-4)
	}
}

func TestSessionExpiry(t *testing.T) {
	store := newMemStore()
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	d := &driver{t: t, sid: "7", srv: NewServer(ServerOptions{Auth: store.Auth("alice", "pw"), SessionTimeout: time.Minute,
		now: func() time.Time { return now }})}
	d.fixture("pkg1-slow.xml")
	now = now.Add(2 * time.Minute)
	r := d.fixture("s1-pkg3.xml") // no Cred: the expired session is gone
	if got := statuses(r); len(got) != 1 || got[0] != "SyncHdr 0 407" {
		t.Errorf("after expiry: %v", got)
	}
}

func TestHeaderNoResp(t *testing.T) {
	d := newDriver(t, newMemStore())
	body := strings.Replace(string(readFixture(t, "pkg1-slow.xml")), "<Cred>", "<NoResp/><Cred>", 1)
	r := d.send(strings.ReplaceAll(body, "SID", "7"))
	// NoResp in the header: no Status at all, not even for the header
	// (RepPro; Synthesis suppresses the header status too).
	if got := statuses(r); len(got) != 0 {
		t.Errorf("NoResp message got statuses %v", got)
	}
	if len(commands[*Alert](r)) != 1 {
		t.Errorf("the server's own commands must still come")
	}
}

func TestResolveDB(t *testing.T) {
	s := NewServer(ServerOptions{Aliases: map[string]pim.Kind{"phonebook": "contacts"}})
	for uri, want := range map[string]pim.Kind{"./PhoneBook": "contacts", "phonebook/": "contacts", "phonebook?CATEGORIES&EQ;x": "contacts", "contacts": ""} {
		got, _ := s.resolveDB(uri)
		if got != want {
			t.Errorf("resolveDB(%q) = %q, want %q", uri, got, want)
		}
	}
	d := NewServer(ServerOptions{})
	for _, uri := range []string{"./contacts", "Card", "addressbook", "./cal", "event", "calendar", "./task", "todo", "tasks"} {
		if _, ok := d.resolveDB(uri); !ok {
			t.Errorf("built-in alias %q not resolved", uri)
		}
	}
}

// TestInvalidSyncPointForcesSlowSync: anchors match, but the store says
// the sync point no longer applies (UIDVALIDITY changed): 508 + slow sync.
func TestInvalidSyncPointForcesSlowSync(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	st, _ := json.Marshal(&dbState{ClientNext: "1", ServerNext: "s1", ReplicaState: pim.ReplicaState{Point: []byte("not a point"), Map: map[string]string{"L1": "g1"}}})
	store.SaveState(ctx, "device/IMEI:3550000/contacts", st)
	d := newDriver(t, store)
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	r := d.message(1, true, &Alert{Data: "200", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Last: "1", Next: "2"}}}}})
	if got := statuses(r); len(got) != 2 || got[1] != "Alert 1 508 src=ab msg=1" || commands[*Alert](r)[0].Data != "201" {
		t.Fatalf("got %v, want 508 and a slow sync", got)
	}
}

// TestSlowSyncKnownLUID: in a slow sync the device resends an item the
// server already maps to its LUID, with other content: it is merged into
// the server's item (the server's version goes back), never doubled.
func TestSlowSyncKnownLUID(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	orig := &pim.Item{Data: []byte(vc("Ann"))}
	store.Put(ctx, "contacts", orig)
	st, _ := json.Marshal(&dbState{ClientNext: "1", ServerNext: "s1", ReplicaState: pim.ReplicaState{Map: map[string]string{"L1": orig.ID}}})
	store.SaveState(ctx, "device/IMEI:3550000/contacts", st)
	d := newDriver(t, store)
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	d.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "2"}}}}})
	r := d.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
		&Change{Op: OpReplace, Items: []Item{{Source: loc("L1"), Data: &Data{Text: strings.Replace(vc("Ann"), "NOTE:", "NOTE:phone", 1)}}}}}})
	if got := statuses(r); len(got) != 3 || !strings.HasPrefix(got[2], "Replace 2 200") {
		t.Fatalf("statuses %v", got)
	}
	if n := len(store.Items("contacts")); n != 1 {
		t.Errorf("%d items after the slow sync, want 1", n)
	}
	sy := commands[*Sync](r)
	if len(sy) != 1 || len(sy[0].Commands) != 1 || sy[0].Commands[0].CmdName() != "Replace" ||
		sy[0].Commands[0].(*Change).Items[0].Target.LocURI != "L1" {
		t.Errorf("server sends %+v, want its version as Replace to L1", sy)
	}
}

// TestSyncML10: a SyncML 1.0 phone's init package (P800/P900 style: no
// root namespace, ./devinf10) is answered in 1.0 by the same engine.
func TestSyncML10(t *testing.T) {
	d := newDriver(t, newMemStore())
	r := d.fixture("v10-pkg1.xml")
	if r.Hdr.VerDTD != "1.0" || r.Hdr.VerProto != "SyncML/1.0" {
		t.Fatalf("answered in %s %s", r.Hdr.VerDTD, r.Hdr.VerProto)
	}
	if got := statuses(r); fmt.Sprint(got) != "[SyncHdr 0 212 Put 1 200 src=./devinf10 msg=1 Alert 2 508 src=Contacts msg=1]" {
		t.Fatalf("statuses %v", got)
	}
	if a := commands[*Alert](r); len(a) != 1 || a[0].Data != "201" {
		t.Fatalf("alerts %+v", a)
	}
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	m := &Message{Hdr: SyncHdr{VerDTD: "1.0", VerProto: "SyncML/1.0", SessionID: d.sid, MsgID: "2",
		Target: Loc{LocURI: "http://127.0.0.1/syncml"}, Source: Loc{LocURI: "IMEI:3550000"}},
		Body: []Command{&Sync{CmdID: "1", Target: loc("./Contacts"), Source: loc("Contacts")}}, Final: true}
	var b bytes.Buffer
	EncodeXML(&b, m.Element())
	r = d.send(b.String())
	if sy := commands[*Sync](r); len(sy) != 1 || sy[0].NumberOfChanges != nil {
		t.Errorf("1.0 Sync must not carry NumberOfChanges: %+v", sy)
	}
	var enc bytes.Buffer
	EncodeXML(&enc, r.Element())
	if !strings.Contains(enc.String(), `<SyncML xmlns="SYNCML:SYNCML1.0">`) {
		t.Errorf("reply namespace: %.120s", enc.String())
	}
}

// TestSuspendResume: a device suspends (224) in the middle; nothing is
// committed; the session settled nothing (no position saved), so its
// resume (225) gets an ordinary sync, slow without anchors. Resumes from
// a saved position: resume_test.go.
func TestSuspendResume(t *testing.T) {
	store := newMemStore()
	d := slowSession(t, store)
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	r := d.message(2, true, &Alert{Data: "224", Items: []Item{{Target: loc("http://127.0.0.1/syncml"), Source: loc("IMEI:3550000")}}})
	if got := statuses(r); len(got) != 2 || !strings.HasPrefix(got[1], "Alert 1 200") || !r.Final || len(commands[*Sync](r)) != 0 {
		t.Fatalf("suspend: %v", got)
	}
	if store.State()["device/IMEI:3550000/contacts"] != nil {
		t.Fatal("a suspended session committed state")
	}
	d2 := &driver{t: t, srv: d.srv, sid: "2"}
	r = d2.message(1, true, &Alert{Data: "225", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "2"}}}}})
	got := statuses(r)
	if len(got) != 2 || !strings.HasPrefix(got[1], "Alert 1 508") {
		// No anchors were ever committed: the ordinary sync becomes slow.
		t.Fatalf("resume: %v", got)
	}
	if a := commands[*Alert](r); len(a) != 1 || a[0].Data != "201" {
		t.Fatalf("resume alert %+v", a)
	}
}

// TestDeviceInfoDriven: a device with MaxGUIDSize 8 gets short temporary
// IDs for the server's items, its Map is translated back, its preferred
// receive type is remembered, and its DevInf is kept for later sessions.
func TestDeviceInfoDriven(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	long1, long2 := &pim.Item{ID: "0123456789-long-id-1", Data: []byte(vc("One"))}, &pim.Item{ID: "0123456789-long-id-2", Data: []byte(vc("Two"))}
	store.Put(ctx, "contacts", long1, long2)
	devinf := &Element{Name: "DevInf", NS: NSDevInf}
	devinf.addText("VerDTD", "1.2")
	devinf.addText("DevID", "IMEI:3550000")
	devinf.addText("DevTyp", "phone")
	ds := devinf.add("DataStore")
	ds.addText("SourceRef", "ab")
	ds.addText("MaxGUIDSize", "8")
	rx := ds.add("Rx-Pref")
	rx.addText("CTType", "text/x-vcard")
	rx.addText("VerCT", "2.1")
	d := newDriver(t, store)
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	d.message(1, true,
		&Access{Op: "Put", Meta: &Meta{Type: devInfType}, Items: []Item{{Source: loc("./devinf12"), Data: &Data{XML: devinf}}}},
		&Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
	r := d.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab")})
	var temps []string
	for _, sy := range commands[*Sync](r) {
		for _, c := range sy.Commands {
			temps = append(temps, c.(*Change).Items[0].Source.LocURI)
		}
	}
	if fmt.Sprint(temps) != "[#1 #2]" {
		t.Fatalf("IDs sent %v, want temporary ones", temps)
	}
	d.message(3, true, &Map{Target: *loc("contacts"), Source: *loc("ab"), MapItems: []MapItem{{Target: "#1", Source: "L1"}}})
	st := dbStateOf(t, store, "IMEI:3550000", "contacts")
	if st.Map["L1"] != long1.ID || st.TempIDs["#2"] != long2.ID || st.RxType != "text/x-vcard" {
		t.Fatalf("state %+v", st)
	}
	// A later session without a DevInf Put still knows the device.
	store.Put(ctx, "contacts", &pim.Item{ID: "0123456789-long-id-3", Data: []byte(vc("Three"))})
	d2 := &driver{t: t, srv: d.srv, sid: "2"}
	d2.message(1, true, &Alert{Data: "200", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Last: "1", Next: "2"}}}}})
	r = d2.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab")})
	for _, sy := range commands[*Sync](r) {
		for _, c := range sy.Commands {
			if ch := c.(*Change); ch.Op == OpAdd && len(ch.Items[0].Source.LocURI) > 8 {
				t.Errorf("second session sent %q to a device with MaxGUIDSize 8", ch.Items[0].Source.LocURI)
			}
		}
	}
}

// TestPackage2PulledWith222: when the server's package 2 (results,
// alerts) spans messages, the client's Alert 222 pulls the rest.
func TestPackage2PulledWith222(t *testing.T) {
	d := newDriver(t, newMemStore())
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	var alerts []Command
	for _, db := range []string{"contacts", "calendar", "tasks"} {
		alerts = append(alerts, &Alert{Data: "201", Items: []Item{{Target: loc(db), Source: loc("x" + db), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
	}
	cmds := append([]Command{&Access{Op: "Get", Meta: &Meta{Type: devInfType}, Items: []Item{{Target: loc("./devinf12")}}}}, alerts...)
	r := d.message(1, true, cmds...)
	got := len(commands[*Alert](r)) + len(commands[*Results](r))
	for msg := 2; !r.Final; msg++ {
		if msg > 10 {
			t.Fatal("package 2 never ends")
		}
		r = d.message(msg, false, &Alert{Data: "222", Items: []Item{{Target: loc("http://127.0.0.1/syncml"), Source: loc("IMEI:3550000")}}})
		got += len(commands[*Alert](r)) + len(commands[*Results](r))
	}
	if got != 4 {
		t.Errorf("got %d of 3 alerts + 1 results", got)
	}
}

// wbxmlFixture is the package 1 fixture as WBXML, in session sid.
func wbxmlFixture(t *testing.T, sid string) []byte {
	t.Helper()
	xmlBody := strings.ReplaceAll(string(readFixture(t, "pkg1-slow.xml")), "SID", sid)
	root, err := DecodeXML(strings.NewReader(xmlBody))
	if err != nil {
		t.Fatal(err)
	}
	var wb bytes.Buffer
	if err := Encode(EncodingWBXML, &wb, root); err != nil {
		t.Fatal(err)
	}
	return wb.Bytes()
}

// TestFixtureSessionWBXML replays the package 1 fixture in WBXML: the
// reply comes in WBXML, with the DevInf Results as an embedded WBXML
// document, and says the same as in XML.
func TestFixtureSessionWBXML(t *testing.T) {
	srv := NewServer(ServerOptions{Auth: newMemStore().Auth("alice", "pw")})
	resp, err := srv.Handle(context.Background(), &Request{Body: wbxmlFixture(t, "7"), Encoding: EncodingWBXML, BaseURL: "http://x/syncml"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentType != ContentTypeWBXML || resp.Body[0] != 0x02 {
		t.Fatalf("reply %s % x", resp.ContentType, resp.Body[:8])
	}
	if !bytes.Contains(resp.Body, []byte{0xC3}) {
		t.Error("no OPAQUE (embedded DevInf) in the reply")
	}
	rt, err := Decode(EncodingWBXML, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMessage(rt)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"SyncHdr 0 212", "Put 1 200 src=./devinf12 msg=1", "Get 2 200 msg=1", "Alert 3 200 src=./addressbook msg=1", "Alert 4 404 src=./notes msg=1"}
	if got := statuses(m); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("statuses %v", got)
	}
	res := commands[*Results](m)
	if len(res) != 1 || res[0].Meta.Type != "application/vnd.syncml-devinf+wbxml" || res[0].Items[0].Data.XML == nil ||
		res[0].Items[0].Data.XML.ChildText("DevTyp") != "server" {
		t.Errorf("results %+v", res)
	}
}

// TestServerDevInfOffered: a device that did not ask gets the server's
// DevInf in package 2 (Put); once it accepted it (200), later sessions do
// not repeat it.
func TestServerDevInfOffered(t *testing.T) {
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	run := func(sid string, last, next string) *Message {
		d := &driver{t: t, srv: srv, sid: sid}
		m := &Message{Hdr: SyncHdr{VerDTD: "1.2", VerProto: "SyncML/1.2", SessionID: sid, MsgID: "1",
			Target: Loc{LocURI: "http://127.0.0.1/syncml"}, Source: Loc{LocURI: "IMEI:3550000"},
			Cred: &Cred{Data: "YWxpY2U6cHc="}, Meta: &Meta{MaxMsgSize: 60000}},
			Body:  []Command{&Alert{CmdID: "1", Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Last: last, Next: next}}}}}},
			Final: true}
		var b bytes.Buffer
		EncodeXML(&b, m.Element())
		r := d.send(b.String())
		puts := accessOps(r, "Put")
		if len(puts) == 1 {
			// The device accepts it.
			d.message(2, true, &Status{MsgRef: "1", CmdRef: puts[0].CmdID, Cmd: "Put", Data: "200", SourceRef: []string{"./devinf12"}})
		}
		return r
	}
	r := run("1", "", "1")
	puts := accessOps(r, "Put")
	if len(puts) != 1 || puts[0].Items[0].Data.XML.ChildText("DevTyp") != "server" {
		t.Fatalf("first session: no DevInf Put: %+v", puts)
	}
	// The device put no DevInf of its own: the server asks for it.
	if gets := accessOps(r, "Get"); len(gets) != 1 || gets[0].Items[0].Target.LocURI != "./devinf12" {
		t.Errorf("first session: no Get of the device's DevInf: %+v", gets)
	}
	if r := run("2", "", "2"); len(accessOps(r, "Put")) != 0 {
		t.Error("DevInf offered again after the device accepted it")
	}
}

func accessOps(m *Message, op string) []*Access {
	var out []*Access
	for _, a := range commands[*Access](m) {
		if a.Op == op {
			out = append(out, a)
		}
	}
	return out
}

// TestWBXMLTrailingBytes: a WBXML message with a stray newline after the
// root element (as some recorded devices send) is answered like the same
// message without it, not refused.
func TestWBXMLTrailingBytes(t *testing.T) {
	srv := NewServer(ServerOptions{Auth: newMemStore().Auth("alice", "pw")})
	body := append(wbxmlFixture(t, "8"), "\r\n"...)
	resp, err := srv.Handle(context.Background(), &Request{Body: body, Encoding: EncodingWBXML, BaseURL: "http://x/syncml"})
	if err != nil {
		t.Fatalf("a message with a trailing newline: %v", err)
	}
	rt, err := Decode(EncodingWBXML, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMessage(rt)
	if err != nil {
		t.Fatal(err)
	}
	checkPkg1SlowReply(t, m, "8")
}

// checkPkg1SlowReply checks the server's answer to pkg1-slow.xml sent as
// session sid.
func checkPkg1SlowReply(t *testing.T, m *Message, sid string) {
	t.Helper()
	if m.Hdr.SessionID != sid {
		t.Errorf("reply to session %q, want %s", m.Hdr.SessionID, sid)
	}
	want := []string{"SyncHdr 0 212", "Put 1 200 src=./devinf12 msg=1", "Get 2 200 msg=1", "Alert 3 200 src=./addressbook msg=1", "Alert 4 404 src=./notes msg=1"}
	if got := statuses(m); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

// TestXMLTrailingBytes: an XML message followed by a NUL and a newline
// (as some devices send) is answered like the same message without them,
// not refused.
func TestXMLTrailingBytes(t *testing.T) {
	srv := NewServer(ServerOptions{Auth: newMemStore().Auth("alice", "pw")})
	body := strings.ReplaceAll(string(readFixture(t, "pkg1-slow.xml")), "SID", "9") + "\x00\r\n"
	resp, err := srv.Handle(context.Background(), &Request{Body: []byte(body), Encoding: EncodingXML, BaseURL: "http://x/syncml"})
	if err != nil {
		t.Fatalf("a message with a trailing NUL and newline: %v", err)
	}
	checkPkg1SlowReply(t, parse(t, resp.Body), "9")
}
