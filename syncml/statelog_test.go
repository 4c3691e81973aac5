package syncml

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"testing"
)

// TestChangedSyncWritesDelta: once a device holds 2,000 contacts, a sync
// in which one contact changed (on either side) writes state of the size
// of the change, not of the database: a delta record a small share of
// the base. After pim.MaxLog deltas the next change writes a new base and
// the deltas go. At every step, a server that reads the state afresh
// (base and deltas) finds the map the device has, and the device and the
// mailbox agree. With a store that keeps its points whole, a delta
// carries the whole point and all works the same.
func TestChangedSyncWritesDelta(t *testing.T) {
	for _, deltas := range []bool{true, false} {
		t.Run(fmt.Sprint("point-deltas=", deltas), func(t *testing.T) {
			ctx := context.Background()
			store := newMemStore()
			store.Configure(func(o *memstore.Options) { o.NoDelta = !deltas })
			var ids []string
			for i := 0; i < 2000; i++ {
				it := &pim.Item{Data: []byte(vc(fmt.Sprintf("Server %04d", i)))}
				store.Put(ctx, "contacts", it)
				ids = append(ids, it.ID)
			}
			srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
			defer srv.Close()
			phone := newSimDevice(t, srv, "IMEI:delta")
			phone.maxMsgSize = 1 << 20
			if !phone.sync(true) {
				t.Fatal("slow sync failed")
			}
			baseSize := store.Stats().BulkBytesSaved
			luids := slices.Sorted(maps.Keys(phone.items))
			check := func(step int) {
				t.Helper()
				st := dbStateOf(t, store, phone.id, "contacts")
				if len(st.Map) != len(phone.items) {
					t.Fatalf("step %d: state maps %d items, the phone holds %d", step, len(st.Map), len(phone.items))
				}
				for luid := range phone.items {
					if st.Map[luid] == "" {
						t.Fatalf("step %d: the state has no server ID for the phone's %s", step, luid)
					}
				}
				keys := mustList(t, store, pim.ReplicaBulkPrefix(phone.id, "contacts"))
				if len(keys) != 1+len(st.Log) || len(st.Log) > pim.MaxLog {
					t.Fatalf("step %d: bulk records %d, state names a base and %d deltas", step, len(keys), len(st.Log))
				}
				if got, want := names(phone.items), mailboxNames(store); !slices.Equal(got, want) {
					t.Fatalf("step %d: phone and mailbox differ (%d, %d)", step, len(got), len(want))
				}
			}
			compactions := 0
			for step := 0; step < 2*pim.MaxLog+4; step++ {
				before := dbStateOf(t, store, phone.id, "contacts")
				saved := store.Stats().BulkBytesSaved
				if step%2 == 0 {
					luid := luids[step]
					phone.items[luid] = vc(fmt.Sprintf("Phone edit %d", step))
					phone.dirty[luid] = OpReplace
				} else {
					store.Put(ctx, "contacts", &pim.Item{ID: ids[step], Data: []byte(vc(fmt.Sprintf("Server edit %d", step)))})
				}
				if !phone.sync(false) {
					t.Fatalf("step %d: sync failed", step)
				}
				after := dbStateOf(t, store, phone.id, "contacts")
				wrote := store.Stats().BulkBytesSaved - saved
				switch {
				case after.Bulk != before.Bulk:
					compactions++
					// Without point deltas every delta would hold the whole
					// point: a new base is as cheap.
					if deltas && (len(after.Log) != 0 || len(before.Log) < pim.MaxLog && before.LogSize < len(before.Map)/2) {
						t.Errorf("step %d: a new base with %d deltas in force (%d before)", step, len(after.Log), len(before.Log))
					}
				case len(after.Log) != len(before.Log)+1:
					t.Errorf("step %d: %d deltas, %d before: the change was not written as one", step, len(after.Log), len(before.Log))
				case deltas && wrote*50 > baseSize:
					t.Errorf("step %d: a one-item change wrote %d bytes of bulk; the base is %d", step, wrote, baseSize)
				}
				check(step)
			}
			if compactions == 0 {
				t.Error("the deltas were never compacted")
			}
			// A fresh server (nothing in memory) reads base and deltas.
			srv2 := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
			defer srv2.Close()
			phone.srv = srv2
			phone.items[luids[1]] = vc("Last edit")
			phone.dirty[luids[1]] = "Replace"
			if !phone.sync(false) {
				t.Fatal("sync on a fresh server failed")
			}
			check(-1)
		})
	}
}

// TestDeltaLost: the state names a delta record that is gone (removed by
// hand, a broken restore): the map cannot be trusted, the sync fails
// without writing, and the next is a slow sync that doubles nothing.
func TestDeltaLost(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:lost")
	ann := phone.add(vc("Ann"))
	bob := phone.add(vc("Bob"))
	if !phone.sync(true) {
		t.Fatal("slow sync failed")
	}
	phone.items[bob] = vc("Bob Edited")
	phone.dirty[bob] = OpReplace
	if !phone.sync(false) {
		t.Fatal("sync failed")
	}
	st := dbStateOf(t, store, phone.id, "contacts")
	if len(st.Log) != 1 {
		t.Fatalf("%d deltas, want 1", len(st.Log))
	}
	store.DeleteState(ctx, pim.ReplicaBulkKeys(phone.id, "contacts", &st.ReplicaState)[1])
	// A daemon started afresh: nothing of the state in memory.
	srv2 := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srv2.Close()
	phone.srv = srv2
	phone.items[ann] = vc("Ann Edited")
	phone.dirty[ann] = OpReplace
	if phone.sync(false) {
		t.Fatal("a sync without its delta succeeded")
	}
	if !phone.sync(false) {
		t.Fatal("the sync after failed")
	}
	got := mailboxNames(store)
	if fmt.Sprint(got) != "[Ann Ann Edited Bob Edited]" {
		t.Errorf("mailbox %v", got)
	}
	if p := names(phone.items); !slices.Equal(p, got) {
		t.Errorf("phone %v, mailbox %v", p, got)
	}
}

// TestStateCache: a device's next session on the same daemon takes the
// bulk its last one committed from memory (no bulk record read), unless
// the state names other records: another daemon's session on the same
// mailbox wrote a delta, and the cached bulk is not used.
func TestStateCache(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	for i := 0; i < 50; i++ {
		store.Put(ctx, "contacts", &pim.Item{Data: []byte(vc(fmt.Sprintf("Server %02d", i)))})
	}
	srvA := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srvA.Close()
	srvB := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srvB.Close()
	phone := newSimDevice(t, srvA, "IMEI:cache")
	if !phone.sync(true) {
		t.Fatal("slow sync failed")
	}
	luids := slices.Sorted(maps.Keys(phone.items))
	edit := func(srv *Server, i int) int {
		t.Helper()
		phone.srv = srv
		phone.items[luids[i]] = vc(fmt.Sprintf("Edit %d", i))
		phone.dirty[luids[i]] = "Replace"
		before := store.Stats().BulkLoads
		if !phone.sync(false) {
			t.Fatalf("edit %d: sync failed", i)
		}
		return store.Stats().BulkLoads - before
	}
	if n := edit(srvA, 0); n != 0 {
		t.Errorf("same daemon: %d bulk reads, want 0", n)
	}
	if n := edit(srvB, 1); n != 1 {
		t.Errorf("other daemon, nothing cached: %d bulk reads, want 1", n)
	}
	if n := edit(srvA, 2); n != 1 {
		t.Errorf("back on the first daemon after the other wrote: %d bulk reads, want 1 (the cache is stale)", n)
	}
	if n := edit(srvA, 3); n != 0 {
		t.Errorf("same daemon again: %d bulk reads, want 0", n)
	}
	if got, want := names(phone.items), mailboxNames(store); !slices.Equal(got, want) {
		t.Errorf("phone %v, mailbox %v", got, want)
	}
	st := dbStateOf(t, store, phone.id, "contacts")
	if len(st.Map) != len(phone.items) {
		t.Errorf("state maps %d, phone holds %d", len(st.Map), len(phone.items))
	}
}

// TestDeltaWithoutState: the connection breaks after a session wrote its
// delta record but before the state record that names it. The session is
// reported failed; the delta is not in force, the daemon's cache is not
// taken for the new state, and the syncs after (the first a slow one, by
// the anchors) leave each contact once, on both sides.
func TestDeltaWithoutState(t *testing.T) {
	store := newMemStore()
	auth := newFaultAuth(store)
	srv := NewServer(ServerOptions{Auth: auth})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:nohead")
	ann := phone.add(vc("Ann"))
	phone.add(vc("Bob"))
	if !phone.sync(true) {
		t.Fatal("slow sync failed")
	}
	before := dbStateOf(t, store, phone.id, "contacts")
	phone.items[ann] = vc("Ann Edited")
	phone.dirty[ann] = OpReplace
	var reports []string
	srv.opts.OnSession = func(r *pim.SessionReport) { reports = append(reports, string(r.Result)) }
	auth.set(func(a *faultAuth) { a.failSave = pim.ReplicaKey(phone.id, "contacts") })
	// The device has its final answer before the commit: it takes the
	// session as done, and its next anchor is not the one the state
	// keeps (a slow sync, which matches by content).
	phone.sync(false)
	auth.set(func(a *faultAuth) { a.failSave = "" })
	if len(reports) != 1 || reports[0] == "ok" {
		t.Errorf("session results %v, want one that is not ok", reports)
	}
	if st := dbStateOf(t, store, phone.id, "contacts"); len(st.Log) != len(before.Log) || st.Bulk != before.Bulk {
		t.Fatalf("the state names %d deltas, want the %d before", len(st.Log), len(before.Log))
	}
	if keys := mustList(t, store, pim.ReplicaBulkPrefix(phone.id, "contacts")); len(keys) != 2 {
		t.Fatalf("bulk records %v: want the base and the delta left behind", keys)
	}
	if !phone.sync(false) {
		t.Fatal("the repeated sync failed")
	}
	phone.items[ann] = vc("Ann Twice")
	phone.dirty[ann] = OpReplace
	if !phone.sync(false) {
		t.Fatal("the next sync failed")
	}
	if got := mailboxNames(store); fmt.Sprint(got) != "[Ann Twice Bob]" {
		t.Errorf("mailbox %v", got)
	}
	if p := names(phone.items); !slices.Equal(p, mailboxNames(store)) {
		t.Errorf("phone %v", p)
	}
	if st := dbStateOf(t, store, phone.id, "contacts"); len(st.Map) != 2 {
		t.Errorf("state maps %d items, want 2", len(st.Map))
	}
}
