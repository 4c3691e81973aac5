package syncml

import (
	"context"
	"strings"
	"testing"

	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
)

// raceStore is a memstore on which another writer (a DAV client, a mail
// client) writes at a chosen moment: right after the session's next Get
// (afterGet, then disarmed unless always).
type raceStore struct {
	*memstore.Store
	afterGet func()
	always   bool
	// afterPut runs once after the next PutVersions.
	afterPut func()
}

func (r *raceStore) PutVersions(ctx context.Context, db pim.Kind, items []*pim.Item, wants []string) ([]error, error) {
	errs, err := r.Store.PutVersions(ctx, db, items, wants)
	if f := r.afterPut; f != nil {
		r.afterPut = nil
		f()
	}
	return errs, err
}

func (r *raceStore) Get(ctx context.Context, db pim.Kind, ids ...string) ([]*pim.Item, error) {
	items, err := r.Store.Get(ctx, db, ids...)
	if f := r.afterGet; f != nil && db == "contacts" {
		if !r.always {
			r.afterGet = nil
		}
		f()
	}
	return items, err
}

type storeAuth struct{ s pim.Store }

func (a storeAuth) Login(context.Context, string, string) (pim.Store, error) { return a.s, nil }

const raceCard = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Race\r\nN:Race;Ann;;;\r\nTEL:111\r\nNOTE:old\r\nEND:VCARD\r\n"

// otherWriter replaces the one contact's TEL as a DAV client would.
func otherWriter(t *testing.T, mem *memstore.Store, tel string) func() {
	return func() {
		t.Helper()
		for id, data := range mem.Items("contacts") {
			edited := strings.Replace(string(data), "TEL:111", "TEL:"+tel, 1)
			if err := mem.Put(context.Background(), "contacts", &pim.Item{ID: id, Data: []byte(edited)}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// raceSetup is a phone holding raceCard, synced once, on a server over rs.
func raceSetup(t *testing.T, rs pim.Store) (*simDevice, string) {
	srv := NewServer(ServerOptions{Auth: storeAuth{rs}})
	phone := newSimDevice(t, srv, "IMEI:race")
	luid := phone.add(raceCard)
	if !phone.sync(true) {
		t.Fatal("first sync failed")
	}
	return phone, luid
}

// replaceStatus is the code the server gave the device's Replace or Delete.
func changeStatus(t *testing.T, r *Message, cmd string) string {
	t.Helper()
	for _, c := range r.Body {
		if st, ok := c.(*Status); ok && st.Cmd == cmd {
			return st.Data
		}
	}
	t.Fatalf("no status for %s in %v", cmd, statuses(r))
	return ""
}

// oneItem is the only contact in the mailbox.
func oneItem(t *testing.T, mem *memstore.Store) string {
	t.Helper()
	items := mem.Items("contacts")
	if len(items) != 1 {
		t.Fatalf("%d contacts in the mailbox, want 1", len(items))
	}
	for _, data := range items {
		return string(data)
	}
	return ""
}

func wantFields(t *testing.T, where, data string, fields ...string) {
	t.Helper()
	for _, f := range fields {
		if !strings.Contains(data, f) {
			t.Errorf("%s lacks %s:\n%s", where, f, data)
		}
	}
}

// TestReplaceAfterForeignWrite: another writer changes an item after the
// session listed the changes (the phone was told nothing changed) and
// before the phone's Replace of another field of it arrives. The
// Replace is a conflict, merged field by field: both edits are kept, and
// the phone gets the merged item back.
func TestReplaceAfterForeignWrite(t *testing.T) {
	for _, tt := range []struct {
		name string
		arm  func(t *testing.T, rs *raceStore, phoneSync func())
	}{
		// The other write lands between the listing (package 1) and the
		// phone's changes (package 3).
		{"between packages", func(t *testing.T, rs *raceStore, phoneSync func()) {
			otherWriter(t, rs.Store, "222")()
			phoneSync()
		}},
		// It lands after the session read the stored item to merge into
		// and before it writes: the write stands back, the item is read
		// again and the change resolved against it.
		{"between read and write", func(t *testing.T, rs *raceStore, phoneSync func()) {
			rs.afterGet = otherWriter(t, rs.Store, "222")
			phoneSync()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs := &raceStore{Store: newMemStore()}
			phone, luid := raceSetup(t, rs)
			s := phone.begin()
			s.alert(false)
			phone.items[luid] = strings.Replace(raceCard, "NOTE:old", "NOTE:new", 1)
			phone.dirty[luid] = OpReplace
			var r *Message
			tt.arm(t, rs, func() { r = s.clientSync(false) })
			if code := changeStatus(t, r, "Replace"); code != StatusConflictMerged.String() {
				t.Errorf("Replace answered %s, want %s (merged)", code, StatusConflictMerged)
			}
			wantFields(t, "the mailbox's item", oneItem(t, rs.Store), "TEL:222", "NOTE:new")
			if !s.serverChanges(r) {
				t.Fatal("session failed")
			}
			wantFields(t, "the phone's item", phone.items[luid], "TEL:222", "NOTE:new")
			if len(phone.items) != 1 {
				t.Errorf("phone holds %d items, want 1", len(phone.items))
			}
			// Nothing left over: the next sync changes nothing.
			before := oneItem(t, rs.Store)
			if !phone.sync(false) {
				t.Fatal("third sync failed")
			}
			if after := oneItem(t, rs.Store); after != before {
				t.Errorf("a quiet sync changed the item:\n%s\nto\n%s", before, after)
			}
		})
	}
}

// TestDeleteAfterForeignWrite: the phone deletes an item another writer
// changed after the session's listing. The change is not lost with the
// deletion: the item stays, the phone is told the server won and gets
// the item back as new.
func TestDeleteAfterForeignWrite(t *testing.T) {
	rs := &raceStore{Store: newMemStore()}
	phone, luid := raceSetup(t, rs)
	s := phone.begin()
	s.alert(false)
	delete(phone.items, luid)
	phone.dirty[luid] = OpDelete
	otherWriter(t, rs.Store, "222")()
	r := s.clientSync(false)
	if code := changeStatus(t, r, "Delete"); code != StatusConflictServerWon.String() {
		t.Errorf("Delete answered %s, want %s", code, StatusConflictServerWon)
	}
	wantFields(t, "the mailbox's item", oneItem(t, rs.Store), "TEL:222", "NOTE:old")
	if !s.serverChanges(r) {
		t.Fatal("session failed")
	}
	if len(phone.items) != 1 {
		t.Fatalf("phone holds %d items, want the item back", len(phone.items))
	}
	for _, data := range phone.items {
		wantFields(t, "the phone's item", data, "TEL:222")
	}
	// Unchanged since: the next deletion goes through.
	for l := range phone.items {
		delete(phone.items, l)
		phone.dirty[l] = OpDelete
	}
	if !phone.sync(false) {
		t.Fatal("third sync failed")
	}
	if n := len(rs.Store.Items("contacts")); n != 0 {
		t.Errorf("%d contacts left after the phone's deletion, want 0", n)
	}
}

// TestReplaceAgainstBusyItem: an item another writer changes at every
// read. The device's change is resolved again a few times, then the
// database's sync fails (510) with every other write standing; the
// device's next sync is a normal two-way one that sends the change again,
// and it is merged.
func TestReplaceAgainstBusyItem(t *testing.T) {
	rs := &raceStore{Store: newMemStore()}
	phone, luid := raceSetup(t, rs)
	s := phone.begin()
	s.alert(false)
	phone.items[luid] = strings.Replace(raceCard, "NOTE:old", "NOTE:new", 1)
	phone.dirty[luid] = OpReplace
	n := 0
	rs.always = true
	rs.afterGet = func() {
		n++
		for id, data := range rs.Store.Items("contacts") {
			edited := strings.Replace(string(data), "END:VCARD", "X-EDIT:"+strings.Repeat("e", n)+"\r\nEND:VCARD", 1)
			if err := rs.Store.Put(context.Background(), "contacts", &pim.Item{ID: id, Data: []byte(edited)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := s.clientSync(false)
	rs.afterGet = nil
	if code := changeStatus(t, r, "Replace"); code != StatusDataStoreFailure.String() {
		t.Errorf("Replace answered %s, want %s", code, StatusDataStoreFailure)
	}
	got := oneItem(t, rs.Store)
	if want := "X-EDIT:" + strings.Repeat("e", n) + "\r\n"; !strings.Contains(got, want) {
		t.Errorf("the other writer's last edit (%d) is not there:\n%s", n, got)
	}
	if n != guardedTries {
		t.Errorf("%d reads of the busy item, want %d", n, guardedTries)
	}
	if s.serverChanges(r) {
		t.Fatal("the device took the session with a failed item for complete")
	}
	if !phone.sync(false) {
		t.Fatal("the next sync failed")
	}
	wantFields(t, "the mailbox's item", oneItem(t, rs.Store), "NOTE:new", "X-EDIT:"+strings.Repeat("e", n)+"\r\n")
	wantFields(t, "the phone's item", phone.items[luid], "NOTE:new") // X-EDIT is not a field it holds
}

// TestForeignWriteAfterReplace: another writer changes an item right
// after the session wrote the device's change of it, before the session
// ends. The new point does not take that version in: the next session
// sends it to the device.
func TestForeignWriteAfterReplace(t *testing.T) {
	rs := &raceStore{Store: newMemStore()}
	phone, luid := raceSetup(t, rs)
	phone.items[luid] = strings.Replace(raceCard, "NOTE:old", "NOTE:new", 1)
	phone.dirty[luid] = OpReplace
	rs.afterPut = otherWriter(t, rs.Store, "222")
	if !phone.sync(false) {
		t.Fatal("second sync failed")
	}
	if rs.afterPut != nil {
		t.Fatal("the device's Replace was not written with PutVersions")
	}
	wantFields(t, "the mailbox's item", oneItem(t, rs.Store), "TEL:222", "NOTE:new")
	if !phone.sync(false) {
		t.Fatal("third sync failed")
	}
	wantFields(t, "the phone's item", phone.items[luid], "TEL:222", "NOTE:new")
}

// unversionedStore hides the store's versions (a store without them).
type unversionedStore struct{ pim.Store }

// TestReplaceWithoutVersions: on a store without versions the device's
// Replace is written as before (last writer wins).
func TestReplaceWithoutVersions(t *testing.T) {
	mem := newMemStore()
	phone, luid := raceSetup(t, unversionedStore{mem})
	phone.items[luid] = strings.Replace(raceCard, "NOTE:old", "NOTE:new", 1)
	phone.dirty[luid] = OpReplace
	if !phone.sync(false) {
		t.Fatal("second sync failed")
	}
	wantFields(t, "the mailbox's item", oneItem(t, mem), "TEL:111", "NOTE:new")
	delete(phone.items, luid)
	phone.dirty[luid] = OpDelete
	if !phone.sync(false) {
		t.Fatal("third sync failed")
	}
	if n := len(mem.Items("contacts")); n != 0 {
		t.Errorf("%d contacts left, want 0", n)
	}
}
