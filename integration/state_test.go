package integration

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"syncml-imap/integration/syncevo"
)

// TestStateDeltas: with the real SyncEvolution client, a real syncml-imap
// serve and Dovecot, every two-way sync that changed something writes a
// delta record of the device's state (base and deltas in the state
// folder), the daemon restarted in between (nothing of the state in
// memory) reads the base and its deltas back, and after many changes the
// deltas are folded into a new base; device and mailbox agree at every
// step, and the last sync is quiet.
func TestStateDeltas(t *testing.T) {
	t.Parallel()
	bin := buildDaemon(t, t.TempDir())
	de := newDaemonEnv(t, bin)
	want := book{}
	de.seed(t, want, 0, 60)
	st := de.stateStore(t)
	bulk := func() (bases, deltas int) {
		t.Helper()
		keys, err := st.ListState(context.Background(), "device/fault-phone/contacts/map/")
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if strings.Contains(k, "+") {
				deltas++
			} else {
				bases++
			}
		}
		return bases, deltas
	}
	if b, d := bulk(); b != 1 || d != 0 {
		t.Fatalf("after the slow sync: %d bases, %d deltas; want 1, 0", b, d)
	}
	edit := func(i int) {
		t.Helper()
		de.client.WriteItem(t, "addressbook", de.fileOf(t, i), contact(i, "edited"))
		want.add("edited", i, i+1)
		de.sync(t, syncevo.TwoWay)
		de.agree(t, want)
	}
	for i := 0; i < 3; i++ {
		edit(i)
	}
	if b, d := bulk(); b != 1 || d != 3 {
		t.Errorf("after 3 edits: %d bases, %d deltas; want 1, 3", b, d)
	}
	// Changes on both sides, then a new daemon that has to read it all.
	de.changeBoth(t, want, 10, 3)
	de.sync(t, syncevo.TwoWay)
	de.agree(t, want)
	de.d.kill(t)
	de.d = startDaemon(t, de.bin, de.conf, de.addr, de.log)
	edit(40)
	if b, d := bulk(); b != 1 || d != 5 {
		t.Errorf("after the restart: %d bases, %d deltas; want 1, 5", b, d)
	}
	// Up to 32 deltas (for a small map; a big one sooner, by weight):
	// then a new base, the deltas gone.
	compacted := false
	nums := slices.Sorted(maps.Keys(want))
	for i := 0; i < 33 && !compacted; i++ {
		edit(nums[i%len(nums)])
		b, d := bulk()
		if b != 1 {
			t.Fatalf("%d bases", b)
		}
		compacted = d == 0
	}
	if !compacted {
		t.Error("33 syncs with changes and still no new base")
	}
	de.quiet(t, want)
}
