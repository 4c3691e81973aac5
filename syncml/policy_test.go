package syncml

import (
	"context"
	"encoding/base64"
	"strings"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"testing"
)

// TestSlotsFullRefused: a device beyond max_devices gets 403 with the
// reason, and nothing is read or written.
func TestSlotsFullRefused(t *testing.T) {
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw"), MaxDevices: 1})
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	d1 := &driver{t: t, srv: srv, sid: "1"}
	d1.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
	d1.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab")})

	before := len(store.State())
	m := &Message{Hdr: SyncHdr{VerDTD: "1.2", VerProto: "SyncML/1.2", SessionID: "9", MsgID: "1",
		Target: Loc{LocURI: "http://127.0.0.1/syncml"}, Source: Loc{LocURI: "IMEI:other"},
		Cred: &Cred{Meta: &Meta{Type: "syncml:auth-basic"}, Data: base64.StdEncoding.EncodeToString([]byte("alice:pw"))}},
		Body: []Command{&Alert{CmdID: "1", Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}}}, Final: true}
	var b strings.Builder
	EncodeXML(&b, m.Element())
	d2 := &driver{t: t, srv: srv, sid: "9"}
	r := d2.send(b.String())
	hdr := r.Body[0].(*Status)
	if hdr.Data != "403" || len(hdr.Items) == 0 || !strings.Contains(hdr.Items[0].Data.Text, "all 1 device slots") {
		t.Fatalf("header status %+v", hdr)
	}
	if got := statuses(r); len(got) != 2 || !strings.HasPrefix(got[1], "Alert 1 403") {
		t.Errorf("statuses %v", got)
	}
	if r.Hdr.RespURI != "" || len(commands[*Alert](r)) != 0 {
		t.Errorf("refused session goes on: %+v", r.Hdr)
	}
	if len(store.State()) != before {
		t.Errorf("refusal wrote state: %d records, had %d", len(store.State()), before)
	}
}

// TestDirections: server-to-device reverts the device's changes in the
// same session; device-to-server applies them and sends nothing; off
// refuses the database.
func TestDirections(t *testing.T) {
	ctx := context.Background()
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	setup := func(t *testing.T, dir pim.Direction) (*memstore.Store, *driver, *pim.Item) {
		store := newMemStore()
		ann := &pim.Item{Data: []byte(vc("Ann"))}
		store.Put(ctx, "contacts", ann)
		p := pim.DefaultPolicy()
		p.Directions = map[pim.Kind]pim.Direction{pim.Contacts: dir}
		d := &driver{t: t, sid: "1", srv: NewServer(ServerOptions{Auth: store.Auth("alice", "pw"), Policy: p})}
		return store, d, ann
	}
	sent := func(r *Message) []string {
		var ops []string
		for _, sy := range commands[*Sync](r) {
			for _, c := range sy.Commands {
				ch := c.(*Change)
				ops = append(ops, string(ch.Op)+":"+locURI(ch.Items[0].Target)+locURI(ch.Items[0].Source))
			}
		}
		return ops
	}

	t.Run("server-to-device", func(t *testing.T) {
		store, d, ann := setup(t, pim.DirServerToDevice)
		d.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
		r := d.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
			&Change{Op: OpAdd, Items: []Item{{Source: loc("L9"), Data: &Data{Text: vc("Mallory")}}}}}})
		if got := statuses(r); len(got) != 3 || !strings.HasPrefix(got[2], "Add 2 201") {
			t.Fatalf("statuses %v", got)
		}
		if ops := strings.Join(sent(r), " "); ops != "Add:"+ann.ID+" Delete:L9" {
			t.Errorf("sent %s, want the mailbox's item and a Delete of the device's new one", ops)
		}
		if len(store.Items("contacts")) != 1 {
			t.Errorf("the device changed the mailbox: %d items", len(store.Items("contacts")))
		}
		d.message(3, true, &Map{Target: *loc("contacts"), Source: *loc("ab"), MapItems: []MapItem{{Target: ann.ID, Source: "L1"}}})
		// Next session: an edit and a delete are reverted too.
		d2 := &driver{t: t, srv: d.srv, sid: "2"}
		d2.message(1, true, &Alert{Data: "200", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Last: "1", Next: "2"}}}}})
		r = d2.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
			&Change{Op: OpReplace, Items: []Item{{Source: loc("L1"), Data: &Data{Text: strings.Replace(vc("Ann"), "NOTE:", "NOTE:edited", 1)}}}}}})
		if ops := strings.Join(sent(r), " "); ops != "Replace:L1"+ann.ID {
			t.Errorf("edit: sent %s, want the server's version back", ops)
		}
		if strings.Contains(string(store.Items("contacts")[ann.ID]), "edited") {
			t.Error("the device's edit reached the mailbox")
		}
		d2.message(3, true)
		d3 := &driver{t: t, srv: d.srv, sid: "3"}
		d3.message(1, true, &Alert{Data: "200", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Last: "2", Next: "3"}}}}})
		r = d3.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
			&Change{Op: OpDelete, Items: []Item{{Source: loc("L1")}}}}})
		if ops := strings.Join(sent(r), " "); ops != "Add:"+ann.ID {
			t.Errorf("delete: sent %s, want the item added again", ops)
		}
		if len(store.Items("contacts")) != 1 {
			t.Error("the device's delete reached the mailbox")
		}
		// A refresh from the device would overwrite the mailbox: refused.
		d4 := &driver{t: t, srv: d.srv, sid: "4"}
		r = d4.message(1, true, &Alert{Data: "203", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "4"}}}}})
		if got := statuses(r); len(got) != 2 || !strings.HasPrefix(got[1], "Alert 1 406") {
			t.Errorf("refresh from a server-to-device device: %v", got)
		}
	})

	t.Run("device-to-server", func(t *testing.T) {
		store, d, _ := setup(t, pim.DirDeviceToServer)
		d.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
		r := d.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
			&Change{Op: OpAdd, Items: []Item{{Source: loc("L9"), Data: &Data{Text: vc("Bob")}}}}}})
		if ops := sent(r); len(ops) != 0 {
			t.Errorf("sent %v to a device-to-server device", ops)
		}
		if len(store.Items("contacts")) != 2 {
			t.Errorf("the device's item not stored: %d items", len(store.Items("contacts")))
		}
	})

	t.Run("off", func(t *testing.T) {
		_, d, _ := setup(t, pim.DirOff)
		r := d.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
		if got := statuses(r); len(got) != 2 || !strings.HasPrefix(got[1], "Alert 1 403") {
			t.Errorf("off: %v", got)
		}
	})
}

// TestSameDeviceTwoSessions: a device that starts a new session while
// its first is open takes over; the first answers 403 and commits nothing.
func TestSameDeviceTwoSessions(t *testing.T) {
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	first := &driver{t: t, srv: srv, sid: "1"}
	first.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "old"}}}}})
	second := &driver{t: t, srv: srv, sid: "2"}
	second.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "new"}}}}})
	r := first.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
		&Change{Op: OpAdd, Items: []Item{{Source: loc("L1"), Data: &Data{Text: vc("Stale")}}}}}})
	if hdr := r.Body[0].(*Status); hdr.Data != "403" || !strings.Contains(hdr.Items[0].Data.Text, "replaced by a newer session") {
		t.Fatalf("the replaced session: %+v", hdr)
	}
	if len(store.Items("contacts")) != 0 {
		t.Error("the replaced session wrote to the mailbox")
	}
	second.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab")})
	second.message(3, true)
	if !strings.Contains(string(store.State()["device/IMEI:3550000/contacts"]), `"ClientNext":"new"`) {
		t.Errorf("state after the newer session: %s", store.State()["device/IMEI:3550000/contacts"])
	}
}

// TestQuietSyncWrites: a sync in which nothing changed writes one state
// record (the database's anchors); the slot's times come from it.
func TestQuietSyncWrites(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	store.Put(ctx, "contacts", &pim.Item{Data: []byte(vc("Ann"))})
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	syncOps(t, srv, "1", "contacts", "201", "", "1")
	before := store.Stats().Saves
	syncOps(t, srv, "2", "contacts", "200", "1", "2")
	if n := store.Stats().Saves - before; n != 1 {
		t.Errorf("a quiet sync wrote %d state records, want 1", n)
	}
	s, err := pim.NewDevices(store, 4).Get(ctx, "IMEI:3550000")
	if err != nil || s == nil || s.LastSync.IsZero() || s.Databases["contacts"].IsZero() {
		t.Errorf("slot %+v %v: sync times missing", s, err)
	}
}
