package syncml

import (
	"context"
	"slices"
	"strings"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"testing"
	"time"
)

func catCard(name, cats string) string {
	s := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + name + "\r\nN:" + name + ";;;;\r\n"
	if cats != "" {
		s += "CATEGORIES:" + cats + "\r\n"
	}
	return s + "END:VCARD\r\n"
}

// syncOps runs one two-way (or slow) session of device "ab" on db and
// returns what the server sent, as "Op:name" (name = FN or SUMMARY, or
// the LUID for deletes), mapping every Add to a LUID "L-"+name.
func syncOps(t *testing.T, srv *Server, sid, db, code, last, next string, cmds ...Command) []string {
	t.Helper()
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	d := &driver{t: t, srv: srv, sid: sid}
	d.message(1, true, &Alert{Data: code, Items: []Item{{Target: loc(db), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Last: last, Next: next}}}}})
	r := d.message(2, true, &Sync{Target: loc(db), Source: loc("ab"), Commands: cmds})
	var ops []string
	var maps []MapItem
	for _, sy := range commands[*Sync](r) {
		for _, c := range sy.Commands {
			ch := c.(*Change)
			it := ch.Items[0]
			if ch.Op == OpDelete {
				ops = append(ops, "Delete:"+it.Target.LocURI)
				continue
			}
			name := vobjectField(it.Data.Text, "FN")
			if name == "" {
				name = vobjectField(it.Data.Text, "SUMMARY")
			}
			ops = append(ops, string(ch.Op)+":"+name)
			if ch.Op == OpAdd {
				maps = append(maps, MapItem{Target: it.Source.LocURI, Source: "L-" + name})
			}
		}
	}
	if len(maps) > 0 {
		d.message(3, true, &Map{Target: *loc(db), Source: *loc("ab"), MapItems: maps})
	} else {
		d.message(3, true)
	}
	slices.Sort(ops)
	return ops
}

func vobjectField(text, name string) string {
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return v
		}
	}
	return ""
}

// TestContactFilter: only contacts in the device's categories are sent;
// one that leaves them is deleted on the device (never in the mailbox),
// one that enters them is added; the device's own contacts stay.
func TestContactFilter(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	mum := &pim.Item{Data: []byte(catCard("Mum", "Family"))}
	boss := &pim.Item{Data: []byte(catCard("Boss", "Work"))}
	store.Put(ctx, "contacts", mum, boss, &pim.Item{Data: []byte(catCard("Nobody", ""))})
	p := pim.DefaultPolicy()
	p.ContactCategories = []string{"family"}
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw"), Policy: p})
	got := syncOps(t, srv, "1", "contacts", "201", "", "1",
		&Change{Op: OpAdd, Items: []Item{{Source: &Loc{LocURI: "own"}, Data: &Data{Text: catCard("Pal", "Friends")}}}})
	if strings.Join(got, " ") != "Add:Mum" {
		t.Fatalf("first sync sent %v, want Mum only", got)
	}
	if len(store.Items("contacts")) != 4 {
		t.Errorf("the device's own contact not stored")
	}
	// Mum leaves the family (!), the boss joins it.
	store.Put(ctx, "contacts", &pim.Item{ID: mum.ID, Data: []byte(catCard("Mum", "Work"))}, &pim.Item{ID: boss.ID, Data: []byte(catCard("Boss", "Work,Family"))})
	got = syncOps(t, srv, "2", "contacts", "200", "1", "2")
	if strings.Join(got, " ") != "Add:Boss Delete:L-Mum" {
		t.Errorf("second sync sent %v, want the boss added and Mum removed", got)
	}
	if len(store.Items("contacts")) != 4 {
		t.Errorf("the mailbox lost a contact: %d", len(store.Items("contacts")))
	}
	// Nothing changed: nothing sent (the device's own "Pal" stays).
	if got = syncOps(t, srv, "3", "contacts", "200", "2", "3"); len(got) != 0 {
		t.Errorf("quiet sync sent %v", got)
	}
	// The admin lifts the filter: the rest arrives.
	srv.opts.Policy = pim.DefaultPolicy()
	if got = syncOps(t, srv, "4", "contacts", "200", "3", "4"); strings.Join(got, " ") != "Add:Mum Add:Nobody" {
		t.Errorf("after lifting the filter: %v", got)
	}
}

// TestCalendarWindow: events are sent while they overlap the window;
// time passing moves them out (deleted on the device only) and in.
func TestCalendarWindow(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	ev := func(summary, start string) []byte {
		return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:" + summary + "\r\nSUMMARY:" + summary +
			"\r\nDTSTART:" + start + "\r\nDTEND:" + start[:9] + "235900Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	}
	store.Put(ctx, "calendar",
		&pim.Item{Data: ev("Old", "20250101T100000Z")},
		&pim.Item{Data: ev("Soon", "20261201T100000Z")},
		&pim.Item{Data: ev("Far", "20280301T100000Z")},
		&pim.Item{Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:weekly\r\nSUMMARY:Weekly\r\nDTSTART:20240101T080000Z\r\nDTEND:20240101T090000Z\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")})
	p := pim.DefaultPolicy()
	p.CalendarPast, p.CalendarFuture = 30*24*time.Hour, 365*24*time.Hour
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw"), Policy: p})
	srv.opts.now = func() time.Time { return now }
	if got := syncOps(t, srv, "1", "calendar", "201", "", "1"); strings.Join(got, " ") != "Add:Soon Add:Weekly" {
		t.Fatalf("first sync sent %v", got)
	}
	// Four months later: "Soon" is past the window, "Far" enters it.
	now = now.AddDate(0, 4, 0)
	if got := syncOps(t, srv, "2", "calendar", "200", "1", "2"); strings.Join(got, " ") != "Add:Far Delete:L-Soon" {
		t.Errorf("four months on: %v", got)
	}
	if len(store.Items("calendar")) != 4 {
		t.Errorf("the mailbox lost an event")
	}
	if got := syncOps(t, srv, "3", "calendar", "200", "2", "3"); len(got) != 0 {
		t.Errorf("quiet sync sent %v", got)
	}
}

// TestContactFolders: a device whose policy names sub-folders gets their
// contacts only; its new contact goes to the first; a change of the
// folders makes its next sync a slow sync.
func TestContactFolders(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	store.Put(ctx, "contacts", &pim.Item{Data: []byte(catCard("Main", ""))})
	store.Put(ctx, "contacts/Family", &pim.Item{Data: []byte(catCard("Mum", ""))})
	store.Put(ctx, "contacts/Friends/School", &pim.Item{Data: []byte(catCard("Tom", ""))})
	p := pim.DefaultPolicy()
	p.ContactFolders = []string{"Family", "Friends/School"}
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw"), Policy: p})
	got := syncOps(t, srv, "1", "contacts", "201", "", "1",
		&Change{Op: OpAdd, Items: []Item{{Source: &Loc{LocURI: "own"}, Data: &Data{Text: catCard("Pal", "")}}}})
	if strings.Join(got, " ") != "Add:Mum Add:Tom" {
		t.Fatalf("first sync sent %v", got)
	}
	if len(store.Items("contacts/Family")) != 2 || len(store.Items("contacts")) != 1 {
		all := map[pim.Kind]map[string][]byte{}
		for _, db := range store.Databases() {
			all[db] = store.Items(db)
		}
		t.Errorf("the device's contact went elsewhere: %v", all)
	}
	// Edit in a sub-folder reaches it; the main folder's do not.
	for id := range store.Items("contacts/Friends/School") {
		store.Put(ctx, "contacts/Friends/School", &pim.Item{ID: id, Data: []byte(catCard("Tom", "Pupil"))})
	}
	store.Put(ctx, "contacts", &pim.Item{Data: []byte(catCard("Other", ""))})
	if got = syncOps(t, srv, "2", "contacts", "200", "1", "2"); strings.Join(got, " ") != "Replace:Tom" {
		t.Errorf("second sync sent %v", got)
	}
	srv.opts.Policy.ContactFolders = []string{"Family"}
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	d := &driver{t: t, srv: srv, sid: "3"}
	r := d.message(1, true, &Alert{Data: "200", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Last: "2", Next: "3"}}}}})
	if st := statuses(r); len(st) != 2 || !strings.HasPrefix(st[1], "Alert 1 508") {
		t.Errorf("after the folders changed: %v, want 508", st)
	}
}

// TestSessionReport: a finished session is reported once, with its
// databases, modes and counts both ways, and never with item content.
func TestSessionReport(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	store.Put(ctx, "contacts", &pim.Item{Data: []byte(catCard("Secret Name", ""))})
	var reports []*pim.SessionReport
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw"), OnSession: func(r *pim.SessionReport) { reports = append(reports, r) }})
	syncOps(t, srv, "1", "contacts", "201", "", "1",
		&Change{Op: OpAdd, Items: []Item{{Source: &Loc{LocURI: "a"}, Data: &Data{Text: catCard("Pal", "")}}}},
		&Change{Op: OpAdd, Items: []Item{{Source: &Loc{LocURI: "b"}, Data: &Data{Text: catCard("Bud", "")}}}})
	if len(reports) != 1 {
		t.Fatalf("%d reports, want 1", len(reports))
	}
	r := reports[0]
	if r.Result != "ok" || r.User != "alice" || r.Device != "IMEI:3550000" || len(r.Databases) != 1 {
		t.Fatalf("report %+v", r)
	}
	if db := r.Databases[0]; db.Name != "contacts" || db.Mode != "slow" || db.FromDevice.Added != 2 || db.ToDevice.Added != 1 {
		t.Errorf("database report %+v", db)
	}
}

// snapStore is a memstore.Store that records snapshots (a
// pim.Snapshotter, which memstore is not).
type snapStore struct {
	*memstore.Store
	snaps *[]string
}

func (s snapStore) Snapshot(_ context.Context, db pim.Kind, label string) (int, error) {
	*s.snaps = append(*s.snaps, string(db))
	return 0, nil
}

var _ pim.Snapshotter = snapStore{}

type snapAuth struct {
	store *memstore.Store
	snaps *[]string
}

func (a snapAuth) Login(_ context.Context, user, pw string) (pim.Store, error) {
	if user != "alice" || pw != "pw" {
		return nil, pim.ErrAuthFailed
	}
	return snapStore{a.store, a.snaps}, nil
}

// TestSnapshotBeforeFirstSync: the copy covers every folder behind the
// device's view (sub-folders of its policy; Calendar and Tasks), once.
func TestSnapshotBeforeFirstSync(t *testing.T) {
	var snaps []string
	p := pim.DefaultPolicy()
	p.BackupFirstSync, p.ContactFolders = true, []string{"Family", "Work"}
	srv := NewServer(ServerOptions{Auth: snapAuth{newMemStore(), &snaps}, Policy: p})
	syncOps(t, srv, "1", "contacts", "201", "", "1")
	syncOps(t, srv, "2", "calendar", "201", "", "1")
	syncOps(t, srv, "3", "contacts", "200", "1", "2")
	// A first session cut before its end is repeated: no second copy.
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	cut := &driver{t: t, srv: srv, sid: "4"}
	cut.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("tasks"), Source: loc("todo"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
	syncOps(t, srv, "5", "tasks", "201", "", "1")
	if got := strings.Join(snaps, " "); got != "contacts/Family contacts/Work calendar tasks tasks" {
		t.Errorf("snapshots of %q", got)
	}
}

// TestWindowQuietWrites: hours later, with nothing changed, the window is
// decided again from the kept facts, and the facts are not rewritten.
func TestWindowQuietWrites(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	store.Put(ctx, "calendar", &pim.Item{Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY:A\r\nDTSTART:20261201T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")})
	p := pim.DefaultPolicy()
	p.CalendarPast, p.CalendarFuture = 24*time.Hour, 30*24*time.Hour
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw"), Policy: p})
	srv.opts.now = func() time.Time { return now }
	syncOps(t, srv, "1", "calendar", "201", "", "1")
	now = now.Add(3 * time.Hour)
	before := store.Stats().Saves
	if got := syncOps(t, srv, "2", "calendar", "200", "1", "2"); len(got) != 0 {
		t.Errorf("sent %v", got)
	}
	if n := store.Stats().Saves - before; n != 1 {
		t.Errorf("%d state records written, want 1 (the anchors; the facts did not change)", n)
	}
}
