package storetest

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"syncml-imap/pim"
)

// folderRecord is what a front keeps for a device's folder, as an
// ActiveSync front would: its own SyncKey beside the core's replica.
type folderRecord struct {
	pim.ReplicaState
	SyncKey int
}

// openReplica reads the front's record of device's contacts from s and
// opens the replica on it.
func openReplica(t *testing.T, s pim.Store, device string, merge bool) (*pim.Replica, *folderRecord) {
	t.Helper()
	rec := &folderRecord{}
	raw, err := s.LoadState(ctx, pim.ReplicaKey(device, pim.Contacts))
	if err != nil {
		t.Fatalf("LoadState: %v", err)
	}
	if raw != nil {
		if err := json.Unmarshal(raw, rec); err != nil {
			t.Fatalf("the front's record: %v", err)
		}
		if rec.Map != nil || rec.Point != nil {
			t.Errorf("the front's record holds the bulk (%d map entries)", len(rec.Map))
		}
	}
	r := pim.NewReplica(&rec.ReplicaState, pim.ReplicaOptions{Store: s, View: pim.DatabaseView(s, pim.Contacts),
		Device: device, Kind: pim.Contacts, Merge: merge})
	return r, rec
}

// replica drives the change feed as a front does, session after session,
// each from what the store holds: a first (slow) sync, a device's add,
// the store's edits and deletions seen by the next sync and only them,
// the device's own writes never coming back to it, a sync with nothing
// changed, a journal delta rather than a new base for a small change,
// and merge bases kept across sessions.
func (c *contract) replica(t *testing.T, s pim.Store) {
	const device = "storetest-phone"
	a := put(t, s, pim.Contacts, Card("Ann"))
	b := put(t, s, pim.Contacts, Card("Bob"))
	x := put(t, s, pim.Contacts, Card("Xan"))
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

	// Session 1: a slow sync; the device gets the three and adds one.
	r, rec := openReplica(t, s, device, true)
	if reslow, err := r.List(ctx, true); err != nil || reslow != "" {
		t.Fatalf("List (slow): %q %v", reslow, err)
	}
	wantChanges(t, "first sync", r.Changes(), []string{a, b, x}, nil, nil)
	for i, id := range r.Changes().Added {
		r.State.Map["d"+string(rune('1'+i))] = id
		r.Agree(id, Card("?"))
	}
	mine := &pim.Item{Data: Card("Dee")}
	if err := r.Put(ctx, mine); err != nil || mine.ID == "" {
		t.Fatalf("Put of the device's item: %q %v", mine.ID, err)
	}
	r.Stored(mine)
	r.State.Map["d4"] = mine.ID
	rec.SyncKey = 1
	if err := r.Commit(ctx, now, false, rec); err != nil {
		t.Fatalf("Commit 1: %v", err)
	}

	// Session 2: nothing changed.
	r, rec = openReplica(t, s, device, true)
	if rec.SyncKey != 1 || rec.Bulk == 0 || rec.Items != 4 || !rec.Synced.Equal(now) {
		t.Fatalf("record after the first sync: key %d, bulk %d, items %d, synced %v", rec.SyncKey, rec.Bulk, rec.Items, rec.Synced)
	}
	quiet, err := r.Quiet(ctx)
	if err != nil {
		t.Fatalf("Quiet: %v", err)
	}
	if _, ok := s.(pim.QuickStore); ok && !quiet {
		t.Error("a quick store was not quiet with nothing changed")
	}
	if !quiet {
		if _, err := r.List(ctx, false); err != nil {
			t.Fatalf("List: %v", err)
		}
		wantChanges(t, "nothing changed (the device's own item is not sent back)", r.Changes(), nil, nil, nil)
	}
	if err := r.Ensure(ctx); err != nil || len(r.State.Map) != 4 {
		t.Fatalf("Ensure: %d map entries, %v", len(r.State.Map), err)
	}

	// The store changes: one edit, one deletion.
	edit(t, s, pim.Contacts, b, Card("Bob Edited"))
	del(t, s, pim.Contacts, x)

	// Session 3: only those.
	r, rec = openReplica(t, s, device, true)
	if quiet, _ := r.Quiet(ctx); quiet {
		t.Fatal("quiet after the store changed")
	}
	if reslow, err := r.List(ctx, false); err != nil || reslow != "" {
		t.Fatalf("List: %q %v", reslow, err)
	}
	wantChanges(t, "after an edit and a deletion", r.Changes(), nil, []string{b}, []string{x})
	maps.DeleteFunc(r.State.Map, func(_, id string) bool { return id == x }) // the device deletes it
	r.Agree(x, nil)
	r.Agree(b, Card("Bob Edited"))
	rec.SyncKey = 2
	if err := r.Commit(ctx, now.Add(time.Hour), false, rec); err != nil {
		t.Fatalf("Commit 3: %v", err)
	}

	// Session 4: the change was journalled, and nothing is pending.
	r, rec = openReplica(t, s, device, true)
	if rec.SyncKey != 2 || len(rec.Log) != 1 {
		t.Errorf("after a small change: key %d, %d deltas, want 2 and 1", rec.SyncKey, len(rec.Log))
	}
	if _, err := r.List(ctx, false); err != nil {
		t.Fatalf("List: %v", err)
	}
	wantChanges(t, "after the store's changes went", r.Changes(), nil, nil, nil)
	if got, want := slices.Sorted(maps.Values(r.State.Map)), sorted([]string{a, b, mine.ID}); !slices.Equal(got, want) {
		t.Errorf("map %v, want %v", got, want)
	}
	if got, want := r.Base(ctx, b), pim.FingerprintOf(Card("Bob Edited")); !maps.Equal(got, want) {
		t.Errorf("merge base of the edited item %v, want %v", got, want)
	}
	if got := r.Base(ctx, mine.ID); !maps.Equal(got, pim.FingerprintOf(Card("Dee"))) {
		t.Errorf("merge base of the device's item %v", got)
	}
	if r.Base(ctx, x) != nil {
		t.Error("a merge base kept for a deleted item")
	}

	// A slow sync forgets what the device's IDs meant.
	if _, err := r.List(ctx, true); err != nil {
		t.Fatalf("List (slow): %v", err)
	}
	if len(r.State.Map) != 0 {
		t.Errorf("a slow sync kept %d map entries", len(r.State.Map))
	}
	wantChanges(t, "slow sync", r.Changes(), []string{a, b, mine.ID}, nil, nil)
}
