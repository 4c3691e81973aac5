// Package storetest is the contract every pim.Store keeps, as tests that
// any store runs on itself: Run(t, open, nil) in the store's own tests
// (pim/memstore's on memory, plugin's on imapstore over Dovecot). It
// checks what the engine relies on, and the optional capabilities the
// store has; it is no benchmark and knows no store's insides.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"syncml-imap/pim"
)

// Options adjust Run to a store; nil: the defaults.
type Options struct {
	// Recreate, when set, makes the store's db anew outside the store
	// (an admin recreating a folder): a point of before then no longer
	// applies. Nil: that case is not checked, only a malformed point.
	Recreate func(t *testing.T, db pim.Kind)
}

// Run checks the contract on stores that open makes; each call must give
// an empty store of its own.
func Run(t *testing.T, open func(t *testing.T) pim.Store, opts *Options) {
	if opts == nil {
		opts = &Options{}
	}
	c := &contract{open: open, opts: opts}
	for _, tt := range []struct {
		name string
		run  func(t *testing.T, s pim.Store)
	}{
		{"PutFillsID", c.putFillsID},
		{"GetMissing", c.getMissing},
		{"DeleteMissing", c.deleteMissing},
		{"ChangesSinceNil", c.changesSinceNil},
		{"ChangesSincePoint", c.changesSincePoint},
		{"AdvanceHidesOwn", c.advanceHidesOwn},
		{"SyncPointInvalid", c.syncPointInvalid},
		{"InvalidItem", c.invalidItem},
		{"Kinds", c.kinds},
		{"State", c.state},
		{"QuickStore", c.quick},
		{"PointDeltas", c.pointDeltas},
		{"StateBatch", c.stateBatch},
		{"Versions", c.versions},
		{"Replica", c.replica},
		{"ReplicaFilter", c.replicaFilter},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.run(t, s)
		})
	}
}

type contract struct {
	open func(t *testing.T) pim.Store
	opts *Options
}

var ctx = context.Background()

// Card is a vCard 3.0 of name, as the engine stores contacts.
func Card(name string) []byte {
	return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + name + "\r\nN:" + name + ";;;;\r\nEND:VCARD\r\n")
}

// Event is an iCalendar event called summary, Task a task.
func Event(summary string) []byte { return calendar("VEVENT", summary) }

// Task is an iCalendar task called summary.
func Task(summary string) []byte { return calendar("VTODO", summary) }

func calendar(comp, summary string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//storetest//EN\r\nBEGIN:" + comp +
		"\r\nDTSTAMP:20260101T120000Z\r\nDTSTART:20260102T090000Z\r\nSUMMARY:" + summary + "\r\nEND:" + comp + "\r\nEND:VCALENDAR\r\n")
}

// put stores a new item of data in db and returns its ID.
func put(t *testing.T, s pim.Store, db pim.Kind, data []byte) string {
	t.Helper()
	it := &pim.Item{Data: data}
	if err := s.Put(ctx, db, it); err != nil {
		t.Fatalf("Put to %s: %v", db, err)
	}
	return it.ID
}

// edit replaces item id of db by data.
func edit(t *testing.T, s pim.Store, db pim.Kind, id string, data []byte) {
	t.Helper()
	if err := s.Put(ctx, db, &pim.Item{ID: id, Data: data}); err != nil {
		t.Fatalf("Put of %s to %s: %v", id, db, err)
	}
}

// del deletes item id of db.
func del(t *testing.T, s pim.Store, db pim.Kind, id string) {
	t.Helper()
	if _, err := s.Delete(ctx, db, id); err != nil {
		t.Fatalf("Delete of %s from %s: %v", id, db, err)
	}
}

func changes(t *testing.T, s pim.Store, db pim.Kind, since []byte) *pim.Changes {
	t.Helper()
	d, err := s.Changes(ctx, db, since)
	if err != nil {
		t.Fatalf("Changes of %s: %v", db, err)
	}
	if d.Point == nil {
		t.Fatalf("Changes of %s gave no point", db)
	}
	return d
}

// wantChanges compares d with the IDs expected in each list.
func wantChanges(t *testing.T, what string, d *pim.Changes, added, modified, deleted []string) {
	t.Helper()
	got := fmt.Sprint(sorted(d.Added), sorted(d.Modified), sorted(d.Deleted))
	if want := fmt.Sprint(sorted(added), sorted(modified), sorted(deleted)); got != want {
		t.Errorf("%s: changes (added, modified, deleted) %s, want %s", what, got, want)
	}
}

func sorted(ids []string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	if ids == nil {
		ids = []string{}
	}
	return ids
}

// holds reports whether item it has the text of name (a store may add a
// UID or refold, never drop what it was given).
func holds(it *pim.Item, name string) bool {
	return it != nil && bytes.Contains(it.Data, []byte(name))
}

func (c *contract) putFillsID(t *testing.T, s pim.Store) {
	a := &pim.Item{Data: Card("Ann Alpha")}
	b := &pim.Item{Data: Card("Bo Beta")}
	if err := s.Put(ctx, "contacts", a, b); err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || b.ID == "" || a.ID == b.ID {
		t.Fatalf("Put filled IDs %q and %q, want two different ones", a.ID, b.ID)
	}
	got, err := s.Get(ctx, "contacts", b.ID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !holds(got[0], "FN:Bo Beta") || !holds(got[1], "FN:Ann Alpha") || got[0].ID != b.ID || got[1].ID != a.ID {
		t.Errorf("Get after Put: %v", itemsString(got))
	}
	// An ID given is kept, and its Put replaces the item.
	edit(t, s, "contacts", a.ID, Card("Ann Again"))
	got, err = s.Get(ctx, "contacts", a.ID)
	if err != nil || len(got) != 1 || !holds(got[0], "FN:Ann Again") || holds(got[0], "FN:Ann Alpha") {
		t.Errorf("Get after a Put with the ID: %v, %v", itemsString(got), err)
	}
	if n := len(changes(t, s, "contacts", nil).Added); n != 2 {
		t.Errorf("%d items after two adds and a replace, want 2", n)
	}
}

func itemsString(items []*pim.Item) string {
	var parts []string
	for _, it := range items {
		if it == nil {
			parts = append(parts, "nil")
		} else {
			parts = append(parts, fmt.Sprintf("%s:%q", it.ID, it.Data))
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func (c *contract) getMissing(t *testing.T, s pim.Store) {
	id := put(t, s, "contacts", Card("Cy Gamma"))
	got, err := s.Get(ctx, "contacts", "no-such-id", id, "other-missing")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != nil || !holds(got[1], "FN:Cy Gamma") || got[2] != nil {
		t.Errorf("Get of missing, present, missing: %v", itemsString(got))
	}
	if got, err := s.Get(ctx, "calendar", id); err != nil || len(got) != 1 || got[0] != nil {
		t.Errorf("Get of a contact's ID in calendar: %v, %v", itemsString(got), err)
	}
}

func (c *contract) deleteMissing(t *testing.T, s pim.Store) {
	a := put(t, s, "contacts", Card("Di Delta"))
	b := put(t, s, "contacts", Card("Ed Epsilon"))
	missing, err := s.Delete(ctx, "contacts", a, "no-such-id")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(missing) != "[no-such-id]" {
		t.Errorf("Delete returned missing %v, want [no-such-id]", missing)
	}
	got, err := s.Get(ctx, "contacts", a, b)
	if err != nil || got[0] != nil || !holds(got[1], "FN:Ed Epsilon") {
		t.Errorf("after Delete: %v, %v", itemsString(got), err)
	}
	if missing, err := s.Delete(ctx, "contacts", a); err != nil || fmt.Sprint(missing) != fmt.Sprint([]string{a}) {
		t.Errorf("deleting again: missing %v, %v", missing, err)
	}
	wantChanges(t, "after Delete", changes(t, s, "contacts", nil), []string{b}, nil, nil)
}

func (c *contract) changesSinceNil(t *testing.T, s pim.Store) {
	wantChanges(t, "empty store", changes(t, s, "contacts", nil), nil, nil, nil)
	var ids []string
	for i := range 3 {
		ids = append(ids, put(t, s, "contacts", Card(fmt.Sprintf("Person %d", i))))
	}
	put(t, s, "calendar", Event("Not a contact"))
	wantChanges(t, "since nil", changes(t, s, "contacts", nil), ids, nil, nil)
}

func (c *contract) changesSincePoint(t *testing.T, s pim.Store) {
	put(t, s, "contacts", Card("Kept"))
	edited := put(t, s, "contacts", Card("Edited"))
	gone := put(t, s, "contacts", Card("Gone"))
	p := changes(t, s, "contacts", nil).Point
	wantChanges(t, "nothing since the point", changes(t, s, "contacts", p), nil, nil, nil)

	added := put(t, s, "contacts", Card("Added"))
	edit(t, s, "contacts", edited, Card("Edited Later"))
	del(t, s, "contacts", gone)
	d := changes(t, s, "contacts", p)
	wantChanges(t, "since the point", d, []string{added}, []string{edited}, []string{gone})
	wantChanges(t, "since the newest point", changes(t, s, "contacts", d.Point), nil, nil, nil)
	// The older point still lists the same.
	wantChanges(t, "since the point, again", changes(t, s, "contacts", p), []string{added}, []string{edited}, []string{gone})
}

func (c *contract) advanceHidesOwn(t *testing.T, s pim.Store) {
	// From the point of a database never written to.
	empty := changes(t, s, "tasks", nil).Point
	task := put(t, s, "tasks", Task("First Task"))
	p, err := s.Advance(ctx, "tasks", empty, []string{task})
	if err != nil {
		t.Fatalf("Advance from an empty database's point: %v", err)
	}
	wantChanges(t, "after Advance from an empty database's point", changes(t, s, "tasks", p), nil, nil, nil)

	edited := put(t, s, "contacts", Card("Edited By Session"))
	gone := put(t, s, "contacts", Card("Deleted By Session"))
	other := put(t, s, "contacts", Card("Edited Elsewhere"))
	base := changes(t, s, "contacts", nil).Point

	// The session's own writes...
	added := put(t, s, "contacts", Card("Added By Session"))
	edit(t, s, "contacts", edited, Card("Edited By Session Now"))
	del(t, s, "contacts", gone)
	// ...and a mail client's, at the same time.
	theirs := put(t, s, "contacts", Card("Added Elsewhere"))
	edit(t, s, "contacts", other, Card("Edited Elsewhere Now"))

	next, err := s.Advance(ctx, "contacts", base, []string{added, edited, gone})
	if err != nil {
		t.Fatal(err)
	}
	wantChanges(t, "after Advance with the session's own", changes(t, s, "contacts", next), []string{theirs}, []string{other}, nil)
	if next, err = s.Advance(ctx, "contacts", nil, nil); err != nil {
		t.Fatalf("Advance from no point: %v", err)
	}
	d, err := s.Changes(ctx, "contacts", next)
	if err != nil {
		t.Fatalf("Changes since Advance from no point: %v", err)
	}
	wantChanges(t, "after Advance from no point, own nothing", d, []string{edited, other, added, theirs}, nil, nil)
}

func (c *contract) syncPointInvalid(t *testing.T, s pim.Store) {
	put(t, s, "contacts", Card("Somebody"))
	if _, err := s.Changes(ctx, "contacts", []byte("\x00no point of any store\xff")); !errors.Is(err, pim.ErrSyncPointInvalid) {
		t.Errorf("Changes since a malformed point: %v, want ErrSyncPointInvalid", err)
	}
	if c.opts.Recreate == nil {
		return
	}
	p := changes(t, s, "contacts", nil).Point
	c.opts.Recreate(t, "contacts")
	if _, err := s.Changes(ctx, "contacts", p); !errors.Is(err, pim.ErrSyncPointInvalid) {
		t.Errorf("Changes since a point of the database before it was made anew: %v, want ErrSyncPointInvalid", err)
	}
	wantChanges(t, "the new database", changes(t, s, "contacts", nil), nil, nil, nil)
}

func (c *contract) invalidItem(t *testing.T, s pim.Store) {
	for _, tt := range []struct {
		db   pim.Kind
		data []byte
	}{
		{"contacts", []byte("not a vCard at all")},
		{"contacts", Event("An event")},
		{"contacts", append(Card("One"), Card("Two")...)},
		{"calendar", Card("A card")},
		{"calendar", Task("A task")},
		{"tasks", Event("An event")},
	} {
		good := &pim.Item{Data: map[pim.Kind][]byte{pim.Contacts: Card("Good"), pim.Calendar: Event("Good"), pim.Tasks: Task("Good")}[tt.db]}
		err := s.Put(ctx, tt.db, good, &pim.Item{Data: tt.data})
		if !errors.Is(err, pim.ErrInvalidItem) {
			t.Errorf("Put of %.30q to %s: %v, want ErrInvalidItem", tt.data, tt.db, err)
		}
		// The store is fine, and nothing of the refused Put was stored.
		wantChanges(t, "after a refused Put to "+string(tt.db), changes(t, s, tt.db, nil), nil, nil, nil)
	}
}

func (c *contract) kinds(t *testing.T, s pim.Store) {
	for db, data := range map[pim.Kind][]byte{pim.Contacts: Card("Kind Card"), pim.Calendar: Event("Kind Event"), pim.Tasks: Task("Kind Task")} {
		id := put(t, s, db, data)
		got, err := s.Get(ctx, db, id)
		if err != nil || len(got) != 1 || !holds(got[0], "Kind ") {
			t.Errorf("%s: Get after Put: %v, %v", db, itemsString(got), err)
		}
		wantChanges(t, string(db), changes(t, s, db, nil), []string{id}, nil, nil)
	}
}

func (c *contract) state(t *testing.T, s pim.Store) {
	if data, err := s.LoadState(ctx, "device/none"); err != nil || data != nil {
		t.Errorf("LoadState of no record: %q, %v; want nil", data, err)
	}
	recs := map[string]string{"device/b/contacts": "b1", "device/a/contacts": "a1", "device/a/calendar": "a2", "slot/a": "s"}
	for k, v := range recs {
		if err := s.SaveState(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveState(ctx, "device/a/contacts", []byte("a1 again")); err != nil {
		t.Fatal(err)
	}
	if data, err := s.LoadState(ctx, "device/a/contacts"); err != nil || string(data) != "a1 again" {
		t.Errorf("LoadState after a second save: %q, %v", data, err)
	}
	wantKeys := func(prefix string, want ...string) {
		t.Helper()
		keys, err := s.ListState(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(keys) != fmt.Sprint(want) {
			t.Errorf("ListState(%q) = %q, want %q", prefix, keys, want)
		}
	}
	wantKeys("device/", "device/a/calendar", "device/a/contacts", "device/b/contacts")
	wantKeys("device/a/", "device/a/calendar", "device/a/contacts")
	wantKeys("none/")
	if err := s.DeleteState(ctx, "device/a/calendar"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteState(ctx, "device/a/calendar"); err != nil {
		t.Errorf("DeleteState of no record: %v", err)
	}
	if data, err := s.LoadState(ctx, "device/a/calendar"); err != nil || data != nil {
		t.Errorf("LoadState after DeleteState: %q, %v", data, err)
	}
	wantKeys("device/a/", "device/a/contacts")
	// Records are no items.
	wantChanges(t, "items besides state records", changes(t, s, "contacts", nil), nil, nil, nil)
	big := bytes.Repeat([]byte("0123456789\x00\xff"), 20000)
	if err := s.SaveState(ctx, "device/big", big); err != nil {
		t.Fatal(err)
	}
	if data, err := s.LoadState(ctx, "device/big"); err != nil || !bytes.Equal(data, big) {
		t.Errorf("a binary record of %d bytes came back as %d bytes, %v", len(big), len(data), err)
	}
}

func (c *contract) quick(t *testing.T, s pim.Store) {
	q, ok := s.(pim.QuickStore)
	if !ok {
		t.Skip("not a pim.QuickStore")
	}
	id := put(t, s, "contacts", Card("Quick"))
	p := changes(t, s, "contacts", nil).Point
	head := q.PointHead("contacts", p)
	if head == nil {
		t.Skip("no head in the store's points")
	}
	unchanged := func(what string, want bool) {
		t.Helper()
		got, err := q.Unchanged(ctx, "contacts", head)
		if err != nil || got != want {
			t.Errorf("Unchanged %s: %v, %v; want %v", what, got, err, want)
		}
	}
	unchanged("after nothing", true)
	put(t, s, "calendar", Event("Elsewhere"))
	unchanged("after a change of another database", true)
	edit(t, s, "contacts", id, Card("Quick Edited"))
	unchanged("after a change", false)
	p = changes(t, s, "contacts", nil).Point
	head = q.PointHead("contacts", p)
	unchanged("at the new point", true)
	del(t, s, "contacts", id)
	unchanged("after a delete", false)
}

func (c *contract) pointDeltas(t *testing.T, s pim.Store) {
	pd, ok := s.(pim.PointDeltas)
	if !ok {
		t.Skip("not a pim.PointDeltas")
	}
	a := put(t, s, "contacts", Card("Delta A"))
	b := put(t, s, "contacts", Card("Delta B"))
	p0 := changes(t, s, "contacts", nil).Point
	c1 := put(t, s, "contacts", Card("Delta C"))
	edit(t, s, "contacts", a, Card("Delta A Edited"))
	p1 := changes(t, s, "contacts", nil).Point
	del(t, s, "contacts", b)
	p2 := changes(t, s, "contacts", nil).Point

	d1, err := pd.PointDelta("contacts", p0, p1)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := pd.PointDelta("contacts", p1, p2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		deltas [][]byte
		want   []byte
	}{
		{"none", nil, p0},
		{"one", [][]byte{d1}, p1},
		{"two", [][]byte{d1, d2}, p2},
	} {
		got, err := pd.ApplyPointDelta("contacts", p0, tt.deltas...)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		// The point led to lists what the point it stands for lists.
		g, w := changes(t, s, "contacts", got), changes(t, s, "contacts", tt.want)
		wantChanges(t, "applied deltas: "+tt.name, g, w.Added, w.Modified, w.Deleted)
	}
	// Since p0, the applied point of two deltas has everything seen.
	got, _ := pd.ApplyPointDelta("contacts", p0, d1, d2)
	wantChanges(t, "since the point of two deltas", changes(t, s, "contacts", got), nil, nil, nil)
	wantChanges(t, "since the first point", changes(t, s, "contacts", p0), []string{c1}, []string{a}, []string{b})
}

func (c *contract) stateBatch(t *testing.T, s pim.Store) {
	sb, ok := s.(pim.StateBatch)
	if !ok {
		t.Skip("not a pim.StateBatch")
	}
	for k, v := range map[string]string{"device/x/contacts": "x1", "device/x/map/1": "m1", "device/y/contacts": "y1"} {
		if err := s.SaveState(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := sb.LoadStates(ctx, "device/x/contacts", "device/x/map/1", "device/x/none")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got["device/x/contacts"]) != "x1" || string(got["device/x/map/1"]) != "m1" {
		t.Errorf("LoadStates: %q, want the two that exist", got)
	}
	if _, ok := got["device/x/none"]; ok {
		t.Error("LoadStates holds a record that does not exist")
	}
}

func (c *contract) versions(t *testing.T, s pim.Store) {
	v, ok := s.(pim.Versioner)
	if !ok {
		t.Skip("not a pim.Versioner")
	}
	list := func(what string) (map[string]string, []byte) {
		t.Helper()
		vs, p, err := v.Versions(ctx, "contacts")
		if err != nil || p == nil {
			t.Fatalf("Versions %s: %v, point %v", what, err, p)
		}
		return vs, p
	}
	// Put and Get name the version that Versions lists.
	a := &pim.Item{Data: Card("Vera Alpha")}
	if err := s.Put(ctx, "contacts", a); err != nil {
		t.Fatal(err)
	}
	vs, p0 := list("after a Put")
	if a.Version == "" || vs[a.ID] != a.Version || len(vs) != 1 {
		t.Fatalf("Put gave version %q; Versions lists %v", a.Version, vs)
	}
	got, err := s.Get(ctx, "contacts", a.ID)
	if err != nil || got[0] == nil || got[0].Version != a.Version {
		t.Fatalf("Get: %v, %v; want version %q", itemsString(got), err, a.Version)
	}
	put(t, s, "calendar", Event("Elsewhere"))
	if vs2, _ := list("after a write elsewhere"); vs2[a.ID] != a.Version {
		t.Errorf("a write to another database changed the version: %q → %q", a.Version, vs2[a.ID])
	}

	// A write at the current version succeeds and makes a new one.
	b := &pim.Item{ID: a.ID, Data: Card("Vera Alpha Edited")}
	if err := v.PutVersion(ctx, "contacts", b, a.Version); err != nil {
		t.Fatalf("PutVersion at the current version: %v", err)
	}
	if b.Version == "" || b.Version == a.Version {
		t.Fatalf("PutVersion gave version %q (was %q)", b.Version, a.Version)
	}
	if vs, _ := list("after PutVersion"); vs[a.ID] != b.Version {
		t.Errorf("Versions lists %q after PutVersion, want %q", vs[a.ID], b.Version)
	}
	// The listing's point is one Changes takes: the write is since it.
	wantChanges(t, "since the listing before PutVersion", changes(t, s, "contacts", p0), nil, []string{a.ID}, nil)

	// A write at an old version is refused and changes nothing.
	stale := &pim.Item{ID: a.ID, Data: Card("Vera Lost Update")}
	if err := v.PutVersion(ctx, "contacts", stale, a.Version); !errors.Is(err, pim.ErrVersionMismatch) {
		t.Errorf("PutVersion at an old version: %v, want ErrVersionMismatch", err)
	}
	if err := v.PutVersion(ctx, "contacts", &pim.Item{ID: a.ID, Data: Card("Vera New")}, ""); !errors.Is(err, pim.ErrVersionMismatch) {
		t.Errorf("PutVersion of a new item over an existing one: %v, want ErrVersionMismatch", err)
	}
	got, _ = s.Get(ctx, "contacts", a.ID)
	if !holds(got[0], "Vera Alpha Edited") || got[0].Version != b.Version {
		t.Errorf("after refused writes the item is %s, want the edited one at %q", itemsString(got), b.Version)
	}

	// "" creates an item of the given ID, once.
	n := &pim.Item{ID: "dav-new-1", Data: Card("Nadia New")}
	if err := v.PutVersion(ctx, "contacts", n, ""); err != nil {
		t.Fatalf("PutVersion of a new item: %v", err)
	}
	if n.ID != "dav-new-1" || n.Version == "" {
		t.Errorf("new item: ID %q, version %q", n.ID, n.Version)
	}
	if err := v.PutVersion(ctx, "contacts", &pim.Item{ID: "dav-new-1", Data: Card("Nadia Twice")}, ""); !errors.Is(err, pim.ErrVersionMismatch) {
		t.Errorf("second create of the same ID: %v, want ErrVersionMismatch", err)
	}
	if err := v.PutVersion(ctx, "contacts", &pim.Item{ID: "dav-none", Data: Card("Nobody")}, n.Version); !errors.Is(err, pim.ErrVersionMismatch) {
		t.Errorf("PutVersion of a missing item at a version: %v, want ErrVersionMismatch", err)
	}
	if err := v.PutVersion(ctx, "contacts", &pim.Item{ID: "dav-bad", Data: []byte("not a card")}, ""); !errors.Is(err, pim.ErrInvalidItem) {
		t.Errorf("PutVersion of no card: %v, want ErrInvalidItem", err)
	}

	// DeleteVersion: only at the current version; a missing item is
	// ErrNotFound.
	if err := v.DeleteVersion(ctx, "contacts", n.ID, a.Version); !errors.Is(err, pim.ErrVersionMismatch) {
		t.Errorf("DeleteVersion at another version: %v, want ErrVersionMismatch", err)
	}
	if err := v.DeleteVersion(ctx, "contacts", n.ID, n.Version); err != nil {
		t.Errorf("DeleteVersion at the current version: %v", err)
	}
	if err := v.DeleteVersion(ctx, "contacts", n.ID, n.Version); !errors.Is(err, pim.ErrNotFound) {
		t.Errorf("DeleteVersion of a deleted item: %v, want ErrNotFound", err)
	}
	vs, _ = list("before PutVersions")
	if len(vs) != 1 || vs[a.ID] != b.Version {
		t.Errorf("Versions before PutVersions: %v, want only %s at %q", vs, a.ID, b.Version)
	}

	// PutVersions answers item by item: a write at the current version
	// and a new item go in, a stale one and no card are refused, and
	// nothing refused changes the store.
	other := put(t, s, "contacts", Card("Otto Other"))
	vs, _ = list("before PutVersions")
	batch := []*pim.Item{
		{ID: a.ID, Data: Card("Vera Batch")},
		{ID: other, Data: Card("Otto Lost Update")},
		{ID: "dav-batch-new", Data: Card("Bea Batch")},
		{ID: "dav-batch-bad", Data: []byte("not a card")},
	}
	errs, err := v.PutVersions(ctx, "contacts", batch, []string{vs[a.ID], a.Version, "", ""})
	if err != nil || len(errs) != len(batch) {
		t.Fatalf("PutVersions: %v, %d answers", err, len(errs))
	}
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], pim.ErrVersionMismatch) || !errors.Is(errs[3], pim.ErrInvalidItem) {
		t.Errorf("PutVersions answered %v, want nil, ErrVersionMismatch, nil, ErrInvalidItem", errs)
	}
	after, _ := list("after PutVersions")
	if batch[0].Version == "" || after[a.ID] != batch[0].Version || after[other] != vs[other] ||
		batch[2].Version == "" || after["dav-batch-new"] != batch[2].Version || len(after) != 3 {
		t.Errorf("after PutVersions the versions are %v (written %q, %q; %s was %q)", after, batch[0].Version, batch[2].Version, other, vs[other])
	}
	got, _ = s.Get(ctx, "contacts", a.ID, other, "dav-batch-new")
	if !holds(got[0], "Vera Batch") || !holds(got[1], "Otto Other") || !holds(got[2], "Bea Batch") {
		t.Errorf("after PutVersions the items are %s", itemsString(got))
	}
}
