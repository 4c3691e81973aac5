package syncml

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"testing"
)

// TestConflictPolicies: one item changed on both sides, resolved by each
// policy; the status, the mailbox and what goes to the device follow.
func TestConflictPolicies(t *testing.T) {
	tests := []struct {
		res        pim.Resolution
		status     string
		items      int    // items stored afterwards
		stored     string // the note of the item with the original ID
		toDeviceOp string // what the server sends back ("" = nothing)
	}{
		{pim.ServerWins, "419", 1, "server", "Replace"},
		{pim.DeviceWins, "208", 1, "device", ""},
		{pim.KeepBoth, "209", 2, "server", "Replace+Add"},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			ctx := context.Background()
			store := newMemStore()
			orig := &pim.Item{Data: []byte(vc("Ann"))}
			store.Put(ctx, "contacts", orig)
			point, _ := store.Changes(ctx, "contacts", nil)
			st, _ := json.Marshal(&dbState{ClientNext: "1", ServerNext: "s1", ReplicaState: pim.ReplicaState{Point: point.Point, Map: map[string]string{"L1": orig.ID}}})
			store.SaveState(ctx, "device/IMEI:3550000/contacts", st)
			store.Put(ctx, "contacts", &pim.Item{ID: orig.ID, Data: []byte(strings.Replace(vc("Ann"), "NOTE:", "NOTE:server", 1))})

			d := &driver{t: t, sid: "1", srv: NewServer(ServerOptions{Auth: store.Auth("alice", "pw"),
				Conflicts: pim.ConflictFunc(func(c *pim.Conflict) pim.Resolution {
					if c.ID != orig.ID || !strings.Contains(string(c.Device), "NOTE:device") {
						t.Errorf("conflict %+v", c)
					}
					return tt.res
				})})}
			loc := func(s string) *Loc { return &Loc{LocURI: s} }
			r := d.message(1, true, &Alert{Data: "200", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Last: "1", Next: "2"}}}}})
			if got := statuses(r); len(got) != 2 || got[1] != "Alert 1 200 src=ab msg=1" {
				t.Fatalf("alert: %v", got)
			}
			r = d.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
				&Change{Op: OpReplace, Items: []Item{{Source: loc("L1"), Data: &Data{Text: strings.Replace(vc("Ann"), "NOTE:", "NOTE:device", 1)}}}}}})
			got := statuses(r)
			if len(got) != 3 || !strings.HasPrefix(got[2], "Replace 2 "+tt.status) {
				t.Fatalf("statuses %v, want Replace %s", got, tt.status)
			}
			if n := len(store.Items("contacts")); n != tt.items {
				t.Errorf("%d items stored, want %d", n, tt.items)
			}
			if note := string(store.Items("contacts")[orig.ID]); !strings.Contains(note, "NOTE:"+tt.stored) {
				t.Errorf("original item now %q, want NOTE:%s", note, tt.stored)
			}
			var ops []string
			for _, sy := range commands[*Sync](r) {
				for _, c := range sy.Commands {
					ops = append(ops, c.CmdName())
				}
			}
			if strings.Join(ops, "+") != tt.toDeviceOp {
				t.Errorf("sent to the device %v, want %s", ops, tt.toDeviceOp)
			}
		})
	}
}

// countingStore counts Get calls.
type countingStore struct {
	*memstore.Store
	gets int
}

func (c *countingStore) Get(ctx context.Context, db pim.Kind, ids ...string) ([]*pim.Item, error) {
	c.gets++
	return c.Store.Get(ctx, db, ids...)
}

// TestReplacesReadInOneGet: replacing many mapped items reads their stored
// versions (for the merge) in one store call, not one per item.
func TestReplacesReadInOneGet(t *testing.T) {
	ctx := context.Background()
	mem := newMemStore()
	m := map[string]string{}
	for i := 0; i < 20; i++ {
		it := &pim.Item{Data: []byte(vc(fmt.Sprintf("P%d", i)))}
		mem.Put(ctx, "contacts", it)
		m[fmt.Sprintf("L%d", i)] = it.ID
	}
	point, _ := mem.Changes(ctx, "contacts", nil)
	st, _ := json.Marshal(&dbState{ClientNext: "1", ServerNext: "s", ReplicaState: pim.ReplicaState{Point: point.Point, Map: m}})
	mem.SaveState(ctx, "device/IMEI:3550000/contacts", st)
	cs := &countingStore{Store: mem}
	d := &driver{t: t, sid: "1", srv: NewServer(ServerOptions{Auth: countingAuth{cs}})}
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	d.message(1, true, &Alert{Data: "200", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Last: "1", Next: "2"}}}}})
	sy := &Sync{Target: loc("contacts"), Source: loc("ab")}
	for i := 0; i < 20; i++ {
		sy.Commands = append(sy.Commands, &Change{Op: OpReplace, Items: []Item{{Source: loc(fmt.Sprintf("L%d", i)), Data: &Data{Text: vc(fmt.Sprintf("P%d edited", i))}}}})
	}
	before := cs.gets
	d.message(2, true, sy)
	if n := cs.gets - before; n > 2 {
		t.Errorf("%d Get calls for 20 replaces, want one read (plus at most one for sending)", n)
	}
}

type countingAuth struct{ s *countingStore }

func (a countingAuth) Login(context.Context, string, string) (pim.Store, error) { return a.s, nil }
