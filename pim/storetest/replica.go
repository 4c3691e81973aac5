package storetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
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

// workCard is a vCard of name in category cat ("" for none).
func workCard(name, cat string) []byte {
	c := string(Card(name))
	if cat != "" {
		c = strings.Replace(c, "END:VCARD", "CATEGORIES:"+cat+"\r\nEND:VCARD", 1)
	}
	return []byte(c)
}

// replicaFilter drives a device's category filter through the replica:
// a first sync sends only what matches; an item edited into the filter
// is sent as new, one edited out of it is deleted on the device, and the
// device's own item outside the filter stays on it.
func (c *contract) replicaFilter(t *testing.T, s pim.Store) {
	const device = "storetest-filtered"
	rule := pim.FilterRule{Categories: []string{"Work"}}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ann := put(t, s, pim.Contacts, workCard("Ann", "Work"))
	bob := put(t, s, pim.Contacts, workCard("Bob", ""))
	load := func(ids []string) map[string][]byte {
		items, err := s.Get(ctx, pim.Contacts, ids...)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		m := map[string][]byte{}
		for _, it := range items {
			m[it.ID] = it.Data
		}
		return m
	}
	// session runs one sync: the store's changes planned, filtered and
	// all taken by the device (new items mapped as "d"+ID, deleted ones
	// unmapped); it returns the plan.
	session := func(slow bool, add ...[]byte) pim.Plan {
		t.Helper()
		r, rec := openReplica(t, s, device, false)
		if _, err := r.List(ctx, slow); err != nil {
			t.Fatalf("List: %v", err)
		}
		for _, data := range add {
			it := &pim.Item{Data: data}
			if err := r.Put(ctx, it); err != nil {
				t.Fatalf("Put: %v", err)
			}
			r.Stored(it)
			r.State.Map["own"+it.ID] = it.ID
		}
		plan := pim.Plan{}
		for _, id := range r.Changes().Added {
			plan[id] = pim.OpAdd
		}
		for _, id := range r.Changes().Modified {
			plan[id] = pim.OpReplace
		}
		if _, _, err := r.Filter(ctx, rule, now, slow, plan, load); err != nil {
			t.Fatalf("Filter: %v", err)
		}
		for id, op := range plan {
			switch op {
			case pim.OpAdd:
				r.State.Map["d"+id] = id
			case pim.OpDelete:
				delete(r.State.Map, "d"+id)
			}
		}
		if err := r.Commit(ctx, now, false, rec); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		return plan
	}
	if plan := session(true, workCard("Own", "")); fmt.Sprint(plan) != fmt.Sprint(pim.Plan{ann: pim.OpAdd}) {
		t.Errorf("first sync sends %v, want only %s (in the filter)", plan, ann)
	}
	edit(t, s, pim.Contacts, bob, workCard("Bob", "Work"))
	if plan := session(false); fmt.Sprint(plan) != fmt.Sprint(pim.Plan{bob: pim.OpAdd}) {
		t.Errorf("an item edited into the filter: %v, want %s added", plan, bob)
	}
	edit(t, s, pim.Contacts, ann, workCard("Ann", "Home"))
	if plan := session(false); fmt.Sprint(plan) != fmt.Sprint(pim.Plan{ann: pim.OpDelete}) {
		t.Errorf("an item edited out of the filter: %v, want %s deleted", plan, ann)
	}
	if plan := session(false); len(plan) != 0 {
		t.Errorf("nothing changed, yet %v", plan)
	}
}
