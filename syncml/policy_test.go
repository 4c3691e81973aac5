package syncml

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syncml-imap/pim"
	"testing"
)

func TestPolicyOverrides(t *testing.T) {
	base := DefaultPolicy()
	p, err := base.WithOverrides(map[string]string{
		"contacts_direction": "server-to-device", "conflict": "Newest-Wins", "contact_categories": "Family, Work,",
		"calendar_past": "7d", "calendar_future": "36h", "tasks_open_only": "true", "time_zone": "Europe/Berlin",
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.DirectionOf("contacts") != DirServerToDevice || p.DirectionOf("calendar") != DirTwoWay || p.Conflict != ConflictNewestWins ||
		strings.Join(p.ContactCategories, "|") != "Family|Work" || p.CalendarPast.Hours() != 168 || p.CalendarFuture.Hours() != 36 ||
		!p.TasksOpenOnly || p.TimeZone != "Europe/Berlin" {
		t.Errorf("policy %+v", p)
	}
	if len(base.Directions) != 0 {
		t.Errorf("WithOverrides changed its receiver's map: %v", base.Directions)
	}
	for kv, want := range map[string]string{
		"direction=sideways":        "policy direction: invalid value",
		"conflict_tie_break=merge":  "policy conflict_tie_break: invalid value",
		"calendar_past=-3d":         "policy calendar_past: invalid duration",
		"colour=blue":               "policy colour: unknown key",
		"time_zone=Mars/Olympus":    "policy time_zone: unknown time zone",
		"tasks_open_only=sometimes": "policy tasks_open_only: want true or false",
	} {
		k, v, _ := strings.Cut(kv, "=")
		if _, err := base.WithOverrides(map[string]string{k: v}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", kv, err, want)
		}
	}
}

func TestDeviceSlots(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	devs := NewDevices(memSession{store}, 2)
	a, err := devs.Claim(ctx, "IMEI:1")
	if err != nil || a.Number != 1 {
		t.Fatalf("first device: %+v %v", a, err)
	}
	b, err := devs.Claim(ctx, "IMEI:2")
	if err != nil || b.Number != 2 {
		t.Fatalf("second device: %+v %v", b, err)
	}
	if again, err := devs.Claim(ctx, "IMEI:1"); err != nil || again.Number != 1 {
		t.Errorf("known device: %+v %v", again, err)
	}
	_, err = devs.Claim(ctx, "IMEI:3")
	var full *SlotsFullError
	if !errors.As(err, &full) || full.Max != 2 || !strings.Contains(err.Error(), "devices remove") {
		t.Fatalf("third device: %v", err)
	}
	if s, _ := devs.Get(ctx, "IMEI:3"); s != nil {
		t.Errorf("refused device left a slot: %+v", s)
	}
	store.SaveState(ctx, "device/IMEI:1/contacts", []byte("{}"))
	store.SaveState(ctx, "device/IMEI:1/devinf", []byte("<DevInf/>"))
	if _, err := devs.Reset(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	if store.state["device/IMEI:1/contacts"] != nil || store.state["device/IMEI:1/devinf"] == nil {
		t.Errorf("reset: state %v", store.state)
	}
	if _, err := devs.Remove(ctx, "IMEI:1"); err != nil {
		t.Fatal(err)
	}
	if store.state["device/IMEI:1/devinf"] != nil || store.state["slot/IMEI:1"] != nil {
		t.Errorf("remove left records: %v", store.state)
	}
	if c, err := devs.Claim(ctx, "IMEI:3"); err != nil || c.Number != 1 {
		t.Errorf("after remove, the new device gets slot 1: %+v %v", c, err)
	}
	if _, err := devs.Find(ctx, "IMEI:9"); !errors.Is(err, ErrNoSuchDevice) {
		t.Errorf("Find unknown: %v", err)
	}
}

// TestClaimRace: many new devices claim at once; exactly max get a slot,
// with distinct numbers.
func TestClaimRace(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = NewDevices(memSession{store}, 3).Claim(ctx, fmt.Sprint("dev-", i))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		}
	}
	all, _ := NewDevices(memSession{store}, 3).List(ctx)
	nums := map[int]bool{}
	for _, s := range all {
		nums[s.Number] = true
	}
	if ok != 3 || len(all) != 3 || len(nums) != 3 {
		t.Errorf("%d claims succeeded, %d slots, numbers %v; want 3 of each", ok, len(all), nums)
	}
}

// TestSlotsFullRefused: a device beyond max_devices gets 403 with the
// reason, and nothing is read or written.
func TestSlotsFullRefused(t *testing.T) {
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: memAuth{store}, MaxDevices: 1})
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	d1 := &driver{t: t, srv: srv, sid: "1"}
	d1.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
	d1.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab")})

	before := len(store.state)
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
	if len(store.state) != before {
		t.Errorf("refusal wrote state: %d records, had %d", len(store.state), before)
	}
}

// TestDirections: server-to-device reverts the device's changes in the
// same session; device-to-server applies them and sends nothing; off
// refuses the database.
func TestDirections(t *testing.T) {
	ctx := context.Background()
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	setup := func(t *testing.T, dir Direction) (*memStore, *driver, *pim.Item) {
		store := newMemStore()
		ann := &pim.Item{Data: []byte(vc("Ann"))}
		store.Put(ctx, "contacts", ann)
		p := DefaultPolicy()
		p.Directions = map[string]Direction{"contacts": dir}
		d := &driver{t: t, sid: "1", srv: NewServer(ServerOptions{Auth: memAuth{store}, Policy: p})}
		return store, d, ann
	}
	sent := func(r *Message) []string {
		var ops []string
		for _, sy := range commands[*Sync](r) {
			for _, c := range sy.Commands {
				ch := c.(*Change)
				ops = append(ops, ch.Op+":"+locURI(ch.Items[0].Target)+locURI(ch.Items[0].Source))
			}
		}
		return ops
	}

	t.Run("server-to-device", func(t *testing.T) {
		store, d, ann := setup(t, DirServerToDevice)
		d.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
		r := d.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
			&Change{Op: "Add", Items: []Item{{Source: loc("L9"), Data: &Data{Text: vc("Mallory")}}}}}})
		if got := statuses(r); len(got) != 3 || !strings.HasPrefix(got[2], "Add 2 201") {
			t.Fatalf("statuses %v", got)
		}
		if ops := strings.Join(sent(r), " "); ops != "Add:"+ann.ID+" Delete:L9" {
			t.Errorf("sent %s, want the mailbox's item and a Delete of the device's new one", ops)
		}
		if len(store.items["contacts"]) != 1 {
			t.Errorf("the device changed the mailbox: %d items", len(store.items["contacts"]))
		}
		d.message(3, true, &Map{Target: *loc("contacts"), Source: *loc("ab"), MapItems: []MapItem{{Target: ann.ID, Source: "L1"}}})
		// Next session: an edit and a delete are reverted too.
		d2 := &driver{t: t, srv: d.srv, sid: "2"}
		d2.message(1, true, &Alert{Data: "200", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Last: "1", Next: "2"}}}}})
		r = d2.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
			&Change{Op: "Replace", Items: []Item{{Source: loc("L1"), Data: &Data{Text: strings.Replace(vc("Ann"), "NOTE:", "NOTE:edited", 1)}}}}}})
		if ops := strings.Join(sent(r), " "); ops != "Replace:L1"+ann.ID {
			t.Errorf("edit: sent %s, want the server's version back", ops)
		}
		if strings.Contains(string(store.items["contacts"][ann.ID]), "edited") {
			t.Error("the device's edit reached the mailbox")
		}
		d2.message(3, true)
		d3 := &driver{t: t, srv: d.srv, sid: "3"}
		d3.message(1, true, &Alert{Data: "200", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Last: "2", Next: "3"}}}}})
		r = d3.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
			&Change{Op: "Delete", Items: []Item{{Source: loc("L1")}}}}})
		if ops := strings.Join(sent(r), " "); ops != "Add:"+ann.ID {
			t.Errorf("delete: sent %s, want the item added again", ops)
		}
		if len(store.items["contacts"]) != 1 {
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
		store, d, _ := setup(t, DirDeviceToServer)
		d.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
		r := d.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
			&Change{Op: "Add", Items: []Item{{Source: loc("L9"), Data: &Data{Text: vc("Bob")}}}}}})
		if ops := sent(r); len(ops) != 0 {
			t.Errorf("sent %v to a device-to-server device", ops)
		}
		if len(store.items["contacts"]) != 2 {
			t.Errorf("the device's item not stored: %d items", len(store.items["contacts"]))
		}
	})

	t.Run("off", func(t *testing.T) {
		_, d, _ := setup(t, DirOff)
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
	srv := NewServer(ServerOptions{Auth: memAuth{store}})
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	first := &driver{t: t, srv: srv, sid: "1"}
	first.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "old"}}}}})
	second := &driver{t: t, srv: srv, sid: "2"}
	second.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "new"}}}}})
	r := first.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
		&Change{Op: "Add", Items: []Item{{Source: loc("L1"), Data: &Data{Text: vc("Stale")}}}}}})
	if hdr := r.Body[0].(*Status); hdr.Data != "403" || !strings.Contains(hdr.Items[0].Data.Text, "replaced by a newer session") {
		t.Fatalf("the replaced session: %+v", hdr)
	}
	if len(store.items["contacts"]) != 0 {
		t.Error("the replaced session wrote to the mailbox")
	}
	second.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab")})
	second.message(3, true)
	if !strings.Contains(string(store.state["device/IMEI:3550000/contacts"]), `"ClientNext":"new"`) {
		t.Errorf("state after the newer session: %s", store.state["device/IMEI:3550000/contacts"])
	}
}

// TestQuietSyncWrites: a sync in which nothing changed writes one state
// record (the database's anchors); the slot's times come from it.
func TestQuietSyncWrites(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	store.Put(ctx, "contacts", &pim.Item{Data: []byte(vc("Ann"))})
	srv := NewServer(ServerOptions{Auth: memAuth{store}})
	syncOps(t, srv, "1", "contacts", "201", "", "1")
	before := store.saves
	syncOps(t, srv, "2", "contacts", "200", "1", "2")
	if n := store.saves - before; n != 1 {
		t.Errorf("a quiet sync wrote %d state records, want 1", n)
	}
	s, err := NewDevices(memSession{store}, 4).Get(ctx, "IMEI:3550000")
	if err != nil || s == nil || s.LastSync.IsZero() || s.Databases["contacts"].IsZero() {
		t.Errorf("slot %+v %v: sync times missing", s, err)
	}
}
