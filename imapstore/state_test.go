package imapstore

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"

	"syncml-imap/internal/dovetest"
)

// TestStateCache: an Account keeps its index of the state folder and the
// records it read or wrote, and still sees every change another
// connection makes (saves, deletes, a mail client's expunge). A record
// it holds costs one STATUS (and a NOOP while the folder is selected);
// several records cost one FETCH.
func TestStateCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, p.profile)
			b := e.dial(t) // the other instance
			a := e.dial(t) // e.log records a's commands
			keys := []string{"device/X/slot", "device/X/devinf", "device/X/contacts", "device/X/calendar"}
			for i, k := range keys {
				if _, err := b.SaveState(ctx, k, []byte(fmt.Sprint("v1-", i)), 0); err != nil {
					t.Fatal(err)
				}
			}
			e.log.take()
			recs, err := a.LoadStates(ctx, append(keys, "device/X/none")...)
			if err != nil || len(recs) != len(keys) {
				t.Fatalf("LoadStates: %d records, %v", len(recs), err)
			}
			for i, k := range keys {
				if got := string(recs[k].Data); got != fmt.Sprint("v1-", i) {
					t.Errorf("%s = %q", k, got)
				}
			}
			if cmds := e.log.take(); count(cmds, "FETCH")+count(cmds, "UID FETCH") != 2 {
				t.Errorf("LoadStates of %d records sent %v, want one FETCH of the keys and one of the bodies", len(keys), cmds)
			}
			// Held records: no FETCH at all.
			for range 3 {
				rec, err := a.LoadState(ctx, keys[2])
				if err != nil || string(rec.Data) != "v1-2" {
					t.Fatalf("LoadState: %v %v", rec, err)
				}
			}
			if cmds := e.log.take(); count(cmds, "STATUS") != 3 || len(cmds) > 6 || count(cmds, "FETCH")+count(cmds, "UID FETCH")+count(cmds, "SELECT") != 0 {
				t.Errorf("three loads of a held record sent %v, want a STATUS (and NOOP) each", cmds)
			}
			// Own saves keep the index current: load, save, load sends
			// no SELECT or FETCH.
			if _, err := a.SaveState(ctx, keys[2], []byte("v2-2"), 0); err != nil {
				t.Fatal(err)
			}
			if rec, _ := a.LoadState(ctx, keys[2]); rec == nil || string(rec.Data) != "v2-2" {
				t.Errorf("after own save: %v", rec)
			}
			if cmds := e.log.take(); count(cmds, "SELECT")+count(cmds, "FETCH")+count(cmds, "UID FETCH") != 0 {
				t.Errorf("own save then load sent %v", cmds)
			}
			// The other instance saves, deletes, saves a new key.
			if _, err := b.SaveState(ctx, keys[0], []byte("v2-0"), 0); err != nil {
				t.Fatal(err)
			}
			if err := b.DeleteState(ctx, keys[1]); err != nil {
				t.Fatal(err)
			}
			if _, err := b.SaveState(ctx, "device/X/tasks", []byte("new"), 0); err != nil {
				t.Fatal(err)
			}
			recs, err = a.LoadStates(ctx, keys[0], keys[1], keys[2], "device/X/tasks")
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, r := range recs {
				got[k] = string(r.Data)
			}
			want := map[string]string{keys[0]: "v2-0", keys[2]: "v2-2", "device/X/tasks": "new"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("after the other's changes: %v, want %v", got, want)
			}
			if list, _ := a.ListState(ctx, "device/X/"); !slices.Equal(list, []string{"device/X/calendar", "device/X/contacts", "device/X/slot", "device/X/tasks"}) {
				t.Errorf("ListState: %v", list)
			}
			// A version the other saved replaces one a holds: a stale
			// conditional save by a is refused.
			held, _ := a.LoadState(ctx, keys[3])
			if _, err := b.SaveState(ctx, keys[3], []byte("v2-3"), 0); err != nil {
				t.Fatal(err)
			}
			if p.profile != dovetest.ProfileMinimal {
				if _, err := a.SaveState(ctx, keys[3], []byte("stale"), held.Version); err == nil {
					t.Errorf("a save over a version another connection replaced succeeded")
				}
			}
			// A mail client expunges a record.
			mc := e.mailClient(t)
			if _, err := mc.Select("SyncML State", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			if err := mc.Store(allSeq(), storeDeleted(), nil).Close(); err != nil {
				t.Fatal(err)
			}
			if err := mc.Expunge().Close(); err != nil {
				t.Fatal(err)
			}
			if recs, err := a.LoadStates(ctx, keys...); err != nil || len(recs) != 0 {
				t.Errorf("after a mail client emptied the folder: %d records, %v", len(recs), err)
			}
		})
	}
}

func count(cmds []string, name string) int {
	n := 0
	for _, c := range cmds {
		if c == name {
			n++
		}
	}
	return n
}

func allSeq() imap.SeqSet {
	var s imap.SeqSet
	s.AddRange(1, 0)
	return s
}

func storeDeleted() *imap.StoreFlags {
	return &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
}
