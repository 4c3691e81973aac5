package syncml

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"testing"
)

// refreshSession drives a refresh from the server (205) of the contacts
// of phone by hand (the scripted phone does two-way and slow syncs): the
// Alert, the empty Sync of package 3, then package 4 pulled with 222.
// after runs after each message r of package 4 with the session as the
// server holds it then. It returns every change the server sent and the
// NumberOfChanges of the first Sync part.
func refreshSession(t *testing.T, srv *Server, phone *simDevice, after func(s *session, r *Message)) (sent []*Change, announced int) {
	t.Helper()
	s := phone.begin()
	r := s.send(true, &Alert{Data: "205", Items: []Item{{Target: &Loc{LocURI: "contacts"}, Source: &Loc{LocURI: "ab"},
		Meta: &Meta{Anchor: &Anchor{Next: fmt.Sprint(phone.sessions)}}}}})
	if hdrCode(r) >= 300 || alertStatus(r) != int(StatusOK) {
		t.Fatalf("package 2: %v", statuses(r))
	}
	r = s.send(true, &Sync{Target: &Loc{LocURI: "contacts"}, Source: &Loc{LocURI: "ab"}})
	announced = -1
	for n := 0; ; n++ {
		if hdrCode(r) >= 300 {
			t.Fatalf("message %d: %v", s.msgID, statuses(r))
		}
		if after != nil {
			after(sessionOf(srv, s.key), r)
		}
		for _, sy := range commands[*Sync](r) {
			if sy.NumberOfChanges != nil {
				if announced >= 0 {
					t.Errorf("NumberOfChanges in more than one part of the Sync")
				}
				announced = *sy.NumberOfChanges
			}
			for _, c := range sy.Commands {
				sent = append(sent, c.(*Change))
			}
		}
		if r.Final {
			break
		}
		if n > 5000 {
			t.Fatal("package 4 never ends")
		}
		r = s.send(false, &Alert{Data: "222", Items: []Item{{Target: &Loc{LocURI: "http://127.0.0.1/syncml"}, Source: &Loc{LocURI: phone.id}}}})
	}
	// Package 5: the Map of what was added, in messages of 500.
	var maps []MapItem
	for _, c := range sent {
		if c.Op == OpAdd {
			maps = append(maps, MapItem{Target: c.Items[0].Source.LocURI, Source: "L" + c.Items[0].Source.LocURI})
		}
	}
	for {
		chunk := maps[:min(len(maps), 500)]
		maps = maps[len(chunk):]
		var cmds []Command
		if len(chunk) > 0 {
			cmds = append(cmds, &Map{Target: Loc{LocURI: "contacts"}, Source: Loc{LocURI: "ab"}, MapItems: chunk})
		}
		r = s.send(len(maps) == 0, cmds...)
		if hdrCode(r) >= 300 {
			t.Fatalf("package 5: %v", statuses(r))
		}
		if len(maps) == 0 {
			break
		}
	}
	return sent, announced
}

func sessionOf(srv *Server, key string) *session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.sessions[key]
}

// heldItems counts the item contents a session holds: read and cached
// (d.items), and produced as commands not yet sent (pending).
func heldItems(s *session) int {
	n := 0
	for _, d := range s.dbs {
		n += len(d.items)
	}
	for _, c := range s.pending {
		if sy, _, ok := syncOf(c); ok {
			n += len(sy.Commands)
		}
	}
	return n
}

// TestRefreshFromServerBounded: a refresh from the server of 3,000
// contacts in messages of a few KiB holds at most one batch of items at
// a time, not all of them: the store is read in batches, and what was
// sent is dropped. Every item arrives once, the count announced first is
// right, and the device's Map is committed whole.
func TestRefreshFromServerBounded(t *testing.T) {
	const n = 3000
	ctx := context.Background()
	store := newMemStore()
	var ids []string
	for i := 0; i < n; i++ {
		it := &pim.Item{Data: []byte(fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person %04d\r\nN:%04d;Person;;;\r\nEND:VCARD\r\n", i, i))}
		store.Put(ctx, "contacts", it)
		ids = append(ids, it.ID)
	}
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:refresh")
	phone.maxMsgSize = 6000
	most, messages := 0, 0
	sent, announced := refreshSession(t, srv, phone, func(s *session, _ *Message) {
		if s == nil {
			t.Fatal("session gone during package 4")
		}
		most = max(most, heldItems(s))
		messages++
	})
	if messages < 20 {
		t.Fatalf("package 4 took %d messages: the test needs many", messages)
	}
	if most > feedBatch {
		t.Errorf("the session held %d items at once, want at most a batch (%d)", most, feedBatch)
	}
	if store.Stats().MaxGet > feedBatch {
		t.Errorf("one store read asked for %d items, want at most %d", store.Stats().MaxGet, feedBatch)
	}
	if announced != n {
		t.Errorf("NumberOfChanges %d, want %d", announced, n)
	}
	seen := map[string]int{}
	for _, c := range sent {
		if c.Op != OpAdd {
			t.Errorf("refresh from server sent %s", c.Op)
			continue
		}
		seen[c.Items[0].Source.LocURI]++
		if name := fnOf(c.Items[0].Data.Text); !strings.HasPrefix(name, "Person ") {
			t.Errorf("item %s sent as %q", c.Items[0].Source.LocURI, c.Items[0].Data.Text)
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("item %s sent %d times, want once", id, seen[id])
		}
	}
	if len(seen) != n {
		t.Errorf("%d items sent, want %d", len(seen), n)
	}
	st := dbStateOf(t, store, phone.id, "contacts")
	if len(st.Map) != n {
		t.Errorf("committed map holds %d items, want %d", len(st.Map), n)
	}
	for _, id := range ids {
		if st.Map["L"+id] != id {
			t.Errorf("map of L%s: %q", id, st.Map["L"+id])
			break
		}
	}
}

// TestServerChangesAcrossMessages: a two-way sync after which the server
// sends hundreds of replaces and deletes over many small messages: the
// scripted phone checks that each names an item it has, it ends holding
// what the mailbox holds, and the next sync has nothing to send (the map
// committed after the last message is right).
func TestServerChangesAcrossMessages(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	var ids []string
	for i := 0; i < 600; i++ {
		it := &pim.Item{Data: []byte(vc(fmt.Sprintf("C%03d", i)))}
		store.Put(ctx, "contacts", it)
		ids = append(ids, it.ID)
	}
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:many")
	phone.maxMsgSize = 5000
	if !phone.sync(true) {
		t.Fatal("first sync failed")
	}
	for i, id := range ids {
		switch i % 3 {
		case 0:
			store.Put(ctx, "contacts", &pim.Item{ID: id, Data: []byte(vc(fmt.Sprintf("C%03d edited", i)))})
		case 1:
			store.Delete(ctx, "contacts", id)
		}
	}
	for i := 0; i < 100; i++ {
		store.Put(ctx, "contacts", &pim.Item{Data: []byte(vc(fmt.Sprintf("New %03d", i)))})
	}
	store.ResetStats()
	if !phone.sync(false) {
		t.Fatal("the sync of the server's changes failed")
	}
	if store.Stats().MaxGet > feedBatch {
		t.Errorf("one store read asked for %d items, want at most %d", store.Stats().MaxGet, feedBatch)
	}
	if got, want := names(phone.items), mailboxNames(store); !slices.Equal(got, want) {
		t.Errorf("phone holds %d items, the mailbox %d; first differences: %v", len(got), len(want), firstDiff(got, want))
	}
	st := dbStateOf(t, store, phone.id, "contacts")
	if len(st.Map) != len(store.Items("contacts")) {
		t.Errorf("map holds %d items, the mailbox %d", len(st.Map), len(store.Items("contacts")))
	}
	before := len(phone.items)
	if !phone.sync(false) || len(phone.items) != before {
		t.Errorf("the next sync changed the phone: %d items, had %d", len(phone.items), before)
	}
}

func firstDiff(a, b []string) []string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return []string{a[i], b[i]}
		}
	}
	return nil
}

// TestServerSendReadFailure: the store fails while a later message of
// package 4 is produced. The database fails as any failed read does: its
// Sync ends with what was sent, the package ends with Final in
// well-formed messages, the session ends in order, and nothing of the
// database is committed. The next refresh sends everything.
func TestServerSendReadFailure(t *testing.T) {
	const n = 1000
	ctx := context.Background()
	store := newMemStore()
	for i := 0; i < n; i++ {
		store.Put(ctx, "contacts", &pim.Item{Data: []byte(vc(fmt.Sprintf("C%04d", i)))})
	}
	auth := newFaultAuth(store)
	var reports []*pim.SessionReport
	srv := NewServer(ServerOptions{Auth: auth, OnSession: func(r *pim.SessionReport) { reports = append(reports, r) }})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:fail")
	phone.maxMsgSize = 6000
	// The store fails after the third message: what follows is what was
	// read before (at most a batch), then the end of the package.
	messages, before, after := 0, 0, 0
	sent, _ := refreshSession(t, srv, phone, func(_ *session, r *Message) {
		messages++
		for _, sy := range commands[*Sync](r) {
			if messages <= 3 {
				before += len(sy.Commands)
			} else {
				after += len(sy.Commands)
			}
		}
		if messages == 3 {
			auth.set(func(a *faultAuth) { a.failGet = true })
		}
	})
	auth.set(func(a *faultAuth) { a.failGet = false })
	if len(sent) == 0 || len(sent) >= n {
		t.Fatalf("%d items sent before and after the failure, want some but not all", len(sent))
	}
	if before == 0 || after > feedBatch {
		t.Errorf("%d items sent before the store failed, %d after, want at most a batch (%d)", before, after, feedBatch)
	}
	if raw, _ := store.LoadState(ctx, pim.ReplicaKey(phone.id, "contacts")); raw != nil {
		t.Error("the failed database committed its state")
	}
	if len(reports) != 1 || reports[0].Result == "ok" {
		t.Errorf("reports: %+v", reports)
	}
	again, _ := refreshSession(t, srv, phone, nil)
	if len(again) != n {
		t.Errorf("the next refresh sent %d items, want %d", len(again), n)
	}
	if st := dbStateOf(t, store, phone.id, "contacts"); len(st.Map) != n {
		t.Errorf("committed map holds %d items, want %d", len(st.Map), n)
	}
}

// TestSlowSyncFromDeviceHoldsNothing: a device's slow sync of 500 new
// contacts into an empty mailbox, in two messages: after the first, the
// session keeps none of what it stored (a slow sync of 100,000 would
// otherwise hold them all until its end), and every contact is stored
// once.
func TestSlowSyncFromDeviceHoldsNothing(t *testing.T) {
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:ingest")
	phone.maxMsgSize = 1 << 20
	s := phone.begin()
	s.alert(true)
	adds := func(from, to int) *Sync {
		sy := &Sync{Target: &Loc{LocURI: "contacts"}, Source: &Loc{LocURI: "ab"}}
		for i := from; i < to; i++ {
			sy.Commands = append(sy.Commands, &Change{Op: OpAdd, Meta: &Meta{Type: "text/vcard"},
				Items: []Item{{Source: &Loc{LocURI: fmt.Sprint(i)}, Data: &Data{Text: vc(fmt.Sprintf("Person %03d", i))}}}})
		}
		return sy
	}
	r := s.send(false, adds(0, 250))
	if hdrCode(r) >= 300 {
		t.Fatalf("message 2: %v", statuses(r))
	}
	if n := heldItems(sessionOf(srv, s.key)); n != 0 {
		t.Errorf("the session holds %d items after storing them, want 0", n)
	}
	r = s.send(true, adds(250, 500))
	if hdrCode(r) >= 300 {
		t.Fatalf("message 3: %v", statuses(r))
	}
	if got := mailboxNames(store); len(got) != 500 {
		t.Errorf("mailbox holds %d, want 500", len(got))
	}
}

// TestMergedItemSentBack: the device and the server change different
// fields of one contact; the merge (policy "merge") is stored and sent
// back to the device as stored, not as the server had it before: both
// sides end with both changes.
func TestMergedItemSentBack(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:merge")
	card := func(tel, email string) string {
		return "BEGIN:VCARD\r\nVERSION:3.0\r\nN:pim.Conflict;Clara;;;\r\nFN:Clara pim.Conflict\r\nTEL;TYPE=CELL:" + tel + "\r\nEMAIL;TYPE=INTERNET:" + email + "\r\nEND:VCARD\r\n"
	}
	luid := phone.add(card("+49 30 1111", "clara@old.example"))
	if !phone.sync(true) {
		t.Fatal("slow sync failed")
	}
	for id := range store.Items("contacts") {
		store.Put(ctx, "contacts", &pim.Item{ID: id, Data: []byte(card("+49 30 2222", "clara@old.example"))})
	}
	phone.items[luid] = card("+49 30 1111", "clara@new.example")
	phone.dirty[luid] = OpReplace
	if !phone.sync(false) {
		t.Fatal("sync failed")
	}
	for side, data := range map[string]string{"device": phone.items[luid], "mailbox": string(firstItem(store, "contacts"))} {
		if !strings.Contains(data, "+49 30 2222") || !strings.Contains(data, "clara@new.example") {
			t.Errorf("%s holds\n%s\nwant the server's TEL and the device's EMAIL", side, data)
		}
	}
}

func firstItem(store *memstore.Store, db pim.Kind) []byte {
	for _, d := range store.Items(db) {
		return d
	}
	return nil
}
