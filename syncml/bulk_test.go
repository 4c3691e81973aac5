package syncml

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"testing"
)

// TestQuietSyncSkipsBulk: a sync in which nothing changed reads and
// writes only the small state record: the item map and the sync point
// (the bulk, which grows with the database) are neither read nor
// written. A change on either side reads the bulk and writes a delta
// of it (statelog.go). Without a store that can
// tell from a point's head, every sync reads the bulk, and all works the
// same.
func TestQuietSyncSkipsBulk(t *testing.T) {
	for _, quick := range []bool{true, false} {
		t.Run(fmt.Sprint("quick=", quick), func(t *testing.T) {
			ctx := context.Background()
			store := newMemStore()
			store.Configure(func(o *memstore.Options) { o.NoQuick = !quick })
			for i := 1; i <= 30; i++ {
				store.Put(ctx, "contacts", &pim.Item{Data: []byte(vc(fmt.Sprintf("Server %02d", i)))})
			}
			// Without the daemon's cache of states (TestStateCache), so
			// that every read of the bulk shows.
			srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw"), StateCacheItems: -1})
			defer srv.Close()
			phone := newSimDevice(t, srv, "IMEI:bulk")
			ann := phone.add(vc("Ann"))
			if !phone.sync(true) {
				t.Fatal("slow sync failed")
			}
			bulks := func() []string {
				keys, _ := store.ListState(ctx, pim.ReplicaBulkPrefix(phone.id, "contacts"))
				return keys
			}
			if n := len(bulks()); n != 1 {
				t.Fatalf("%d bulk records after the first sync, want 1", n)
			}
			step := func(name string, wantBulkLoads, wantBulkSaves, wantSaves int) {
				t.Helper()
				l, bs, s, ld := store.Stats().BulkLoads, store.Stats().BulkSaves, store.Stats().Saves, store.Stats().Loads
				if !phone.sync(false) {
					t.Fatalf("%s: sync failed", name)
				}
				// The slot, then the device's records in one batch.
				if quick && wantBulkLoads == 0 && store.Stats().Loads-ld != 2 {
					t.Errorf("%s: %d state reads, want 2 (the slot, one batch)", name, store.Stats().Loads-ld)
				}
				if got := store.Stats().BulkLoads - l; got != wantBulkLoads {
					t.Errorf("%s: %d bulk loads, want %d", name, got, wantBulkLoads)
				}
				if got := store.Stats().BulkSaves - bs; got != wantBulkSaves {
					t.Errorf("%s: %d bulk saves, want %d", name, got, wantBulkSaves)
				}
				if got := store.Stats().Saves - s; wantSaves >= 0 && got != wantSaves {
					t.Errorf("%s: %d state saves, want %d", name, got, wantSaves)
				}
				// The base and the deltas the state names, nothing else.
				st := dbStateOf(t, store, phone.id, "contacts")
				if n := len(bulks()); n != 1+len(st.Log) {
					t.Errorf("%s: %d bulk records, want the base and %d deltas", name, n, len(st.Log))
				}
			}
			loads := 0
			if !quick {
				loads = 1
			}
			step("quiet", loads, 0, 1)
			step("quiet again", loads, 0, 1)
			// The device edits Ann: the bulk is read (its map) and, the
			// point having moved, a delta written.
			phone.items[ann] = vc("Ann Edited")
			phone.dirty[ann] = OpReplace
			step("device change", 1, 1, -1)
			// A change on the server: read, sent, written.
			store.Put(ctx, "contacts", &pim.Item{Data: []byte(vc("Server new"))})
			step("server change", 1, 1, -1)
			step("quiet after changes", loads, 0, 1)
			// The device deletes an item.
			delete(phone.items, ann)
			phone.dirty[ann] = OpDelete
			step("device delete", 1, 1, -1)
			step("quiet at the end", loads, 0, 1)
			want := mailboxNames(store)
			if len(want) != 31 || slices.Contains(want, "Ann") || slices.Contains(want, "Ann Edited") {
				t.Errorf("mailbox %v", want)
			}
			if got := names(phone.items); !slices.Equal(got, want) {
				t.Errorf("phone %v, mailbox %v", got, want)
			}
		})
	}
}

// TestStateBeforeBulkRecords: a device whose state was kept in one
// record (map and point inside, as before bulk records) syncs on: its
// first sync after reads them from there and moves them out.
func TestStateBeforeBulkRecords(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:old")
	ann := phone.add(vc("Ann"))
	phone.add(vc("Bob"))
	if !phone.sync(true) {
		t.Fatal("slow sync failed")
	}
	// Rewrite the state as an older version kept it.
	st := dbStateOf(t, store, phone.id, "contacts")
	for _, k := range mustList(t, store, pim.ReplicaBulkPrefix(phone.id, "contacts")) {
		store.DeleteState(ctx, k)
	}
	st.Bulk, st.Head, st.Items = 0, nil, 0
	raw, _ := json.Marshal(st)
	store.SaveState(ctx, pim.ReplicaKey(phone.id, "contacts"), raw)

	phone.items[ann] = vc("Ann Edited")
	phone.dirty[ann] = OpReplace
	if !phone.sync(false) {
		t.Fatal("sync failed")
	}
	if got := mailboxNames(store); fmt.Sprint(got) != "[Ann Edited Bob]" {
		t.Errorf("mailbox %v", got)
	}
	if keys := mustList(t, store, pim.ReplicaBulkPrefix(phone.id, "contacts")); len(keys) != 1 {
		t.Errorf("bulk records %v, want one", keys)
	}
	if raw, _ := store.LoadState(ctx, pim.ReplicaKey(phone.id, "contacts")); strings.Contains(string(raw), `"Map"`) {
		t.Errorf("the state record still holds the map: %s", raw)
	}
}

// TestBulkRecordLost: the bulk record is gone (a mail client deleted it).
// The device's next change cannot be told apart, so nothing of it is
// applied and the state is forgotten; the sync after is slow and loses
// nothing. (It matches by content, as every slow sync: the contact the
// device renamed meanwhile is kept in both versions.)
func TestBulkRecordLost(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:lost")
	ann := phone.add(vc("Ann"))
	phone.add(vc("Bob"))
	if !phone.sync(true) {
		t.Fatal("slow sync failed")
	}
	for _, k := range mustList(t, store, pim.ReplicaBulkPrefix(phone.id, "contacts")) {
		store.DeleteState(ctx, k)
	}
	// A daemon started afresh: nothing of the state in memory.
	srv2 := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srv2.Close()
	phone.srv = srv2
	phone.items[ann] = vc("Ann Edited")
	phone.dirty[ann] = OpReplace
	if phone.sync(false) {
		t.Fatal("a sync without the item map succeeded")
	}
	if !phone.sync(false) {
		t.Fatal("the sync after failed")
	}
	got := mailboxNames(store)
	if fmt.Sprint(got) != "[Ann Ann Edited Bob]" {
		t.Errorf("mailbox %v", got)
	}
	if phone := names(phone.items); !slices.Equal(phone, got) {
		t.Errorf("phone %v, mailbox %v", phone, got)
	}
}

func mustList(t *testing.T, store *memstore.Store, prefix string) []string {
	t.Helper()
	keys, err := store.ListState(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestMessagesWithinMaxMsgSize: a slow sync that sends the device 300
// small contacts, many to a message: every message of the server stays
// within the device's MaxMsgSize, CmdIDs included (the scripted phone
// fails the test otherwise).
func TestMessagesWithinMaxMsgSize(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	for i := 0; i < 300; i++ {
		store.Put(ctx, "contacts", &pim.Item{Data: []byte(fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:P%d\r\nEND:VCARD\r\n", i))})
	}
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:small")
	phone.maxMsgSize = 20000
	if !phone.sync(true) {
		t.Fatal("sync failed")
	}
	if len(phone.items) != 300 {
		t.Errorf("phone holds %d, want 300", len(phone.items))
	}
}
