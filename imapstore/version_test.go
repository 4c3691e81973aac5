package imapstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"syncml-imap/internal/dovetest"
)

// TestPutVersionRacesPut runs a write at a version (a DAV PUT with
// If-Match) against a plain Put of the same item (a SyncML Replace,
// last writer wins) on another connection, many times, in every order
// the scheduler makes. Whatever the order, the plain Put's content is
// what the item holds at the end (the conditional write either came
// before it and was replaced, or saw it and stood back), and the folder
// holds one message of the item: nothing lost, nothing doubled.
func TestPutVersionRacesPut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, dovetest.ProfileFull)
	a, b := e.dial(t), e.dial(t)
	it := &Item{Data: vcard("race", "Round Zero")}
	mustPut(t, a, KindContacts, it)
	id := it.ID
	var won, lost int
	for round := 1; round <= 20; round++ {
		vs, _, err := a.Versions(ctx, KindContacts)
		if err != nil {
			t.Fatal(err)
		}
		want := vs[id]
		var wg sync.WaitGroup
		var verr, perr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			verr = a.PutVersion(ctx, KindContacts, &Item{ID: id, Data: vcard("race", fmt.Sprintf("Versioned %d", round))}, want)
		}()
		go func() {
			defer wg.Done()
			perr = b.Put(ctx, KindContacts, &Item{ID: id, Data: vcard("race", fmt.Sprintf("Plain %d", round))})
		}()
		wg.Wait()
		if perr != nil {
			t.Fatalf("round %d: Put: %v", round, perr)
		}
		switch {
		case verr == nil:
			won++
		case errors.Is(verr, ErrVersionMismatch):
			lost++
		default:
			t.Fatalf("round %d: PutVersion: %v", round, verr)
		}
		c := e.dial(t)
		got, err := c.Get(ctx, KindContacts, id)
		if err != nil || got[0] == nil {
			t.Fatalf("round %d: Get: %v", round, err)
		}
		if !bytes.Contains(got[0].Data, []byte(fmt.Sprintf("Plain %d", round))) {
			t.Fatalf("round %d (PutVersion: %v): the plain Put was lost; the item holds\n%s", round, verr, got[0].Data)
		}
		c.Close()
	}
	if n := len(folderMessages(t, e.mailClient(t), "Contacts")); n != 1 {
		t.Errorf("%d messages in the folder at the end, want 1", n)
	}
	t.Logf("PutVersion succeeded %d times (then replaced), stood back %d times", won, lost)
}

// TestPutVersionRacesPutVersion: two writes at the same version on two
// connections; at most one succeeds, and the item holds its content (or
// the old one when both stood back).
func TestPutVersionRacesPutVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, dovetest.ProfileFull)
	a, b := e.dial(t), e.dial(t)
	it := &Item{Data: vcard("duel", "Start")}
	mustPut(t, a, KindContacts, it)
	id, cur := it.ID, "Start"
	for round := 1; round <= 20; round++ {
		vs, _, err := a.Versions(ctx, KindContacts)
		if err != nil {
			t.Fatal(err)
		}
		want := vs[id]
		names := []string{fmt.Sprintf("A %d", round), fmt.Sprintf("B %d", round)}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, acct := range []*Account{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = acct.PutVersion(ctx, KindContacts, &Item{ID: id, Data: vcard("duel", names[i])}, want)
			}()
		}
		wg.Wait()
		winners := 0
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
				cur = names[i]
			case !errors.Is(err, ErrVersionMismatch):
				t.Fatalf("round %d: %s: %v", round, names[i], err)
			}
		}
		if winners > 1 {
			t.Fatalf("round %d: both writes at version %s succeeded", round, want)
		}
		c := e.dial(t)
		got, err := c.Get(ctx, KindContacts, id)
		if err != nil || got[0] == nil || !bytes.Contains(got[0].Data, []byte("FN:"+cur+"\r\n")) {
			t.Fatalf("round %d: item is %v (%v), want %q", round, got, err, cur)
		}
		c.Close()
	}
	if n := len(folderMessages(t, e.mailClient(t), "Contacts")); n != 1 {
		t.Errorf("%d messages in the folder at the end, want 1", n)
	}
}

// TestPutVersionDeleteAndStale: DeleteVersion and PutVersion answer for
// what another connection did since the version was read.
func TestPutVersionDeleteAndStale(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, dovetest.ProfileFull)
	a, b := e.dial(t), e.dial(t)
	it := &Item{Data: vcard("s", "First")}
	mustPut(t, a, KindContacts, it)
	v1 := it.StoreVersion
	if v1 == "" {
		t.Fatal("Put gave no StoreVersion")
	}
	mustPut(t, b, KindContacts, &Item{ID: it.ID, Data: vcard("s", "Second")})
	if err := a.PutVersion(ctx, KindContacts, &Item{ID: it.ID, Data: vcard("s", "Stale")}, v1); !errors.Is(err, ErrVersionMismatch) {
		t.Errorf("PutVersion after another connection's write: %v", err)
	}
	if err := a.DeleteVersion(ctx, KindContacts, it.ID, v1); !errors.Is(err, ErrVersionMismatch) {
		t.Errorf("DeleteVersion after another connection's write: %v", err)
	}
	if _, err := b.Delete(ctx, KindContacts, it.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteVersion(ctx, KindContacts, it.ID, v1); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteVersion after another connection's delete: %v", err)
	}
	if msgs := folderMessages(t, e.mailClient(t), "Contacts"); len(msgs) != 0 {
		t.Errorf("%d messages left, want 0: UID %d, flags %v:\n%s", len(msgs), msgs[0].UID, msgs[0].Flags, msgs[0].BodySection[0].Bytes)
	}
}

// TestPendingLeftAlone: the crash clean-up keeps its hands off an item
// whose newer message is flagged pending (a PutVersion deciding), and
// cleans it once the flag is old.
func TestPendingLeftAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, age := range []time.Duration{0, pendingFor + time.Minute} {
		e := newEnv(t, dovetest.ProfileFull)
		a := e.dial(t)
		it := &Item{Data: vcard("p", "Old")}
		mustPut(t, a, KindContacts, it)
		newer := vcard("p", "Pending")
		mc := e.mailClient(t)
		raw, err := buildItemMessage(KindContacts, it.ID, newer, inspectItem(KindContacts, newer), "x@example.org", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		cmd := mc.Append("Contacts", int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{pendingFlag}, Time: time.Now().Add(-age)})
		cmd.Write(raw)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		b := e.dial(t)
		if _, err := b.Changes(ctx, KindContacts, nil); err != nil {
			t.Fatal(err)
		}
		b.Close()
		n := len(folderMessages(t, mc, "Contacts"))
		if age == 0 && n != 2 {
			t.Errorf("a fresh pending message: %d messages after a rescan, want both kept", n)
		}
		if age > 0 && n != 1 {
			t.Errorf("an old pending message: %d messages after a rescan, want the newest only", n)
		}
	}
}

// TestGetAfterReplaceElsewhere: an item another connection replaced
// since this one's index was up to date is read at its new message, not
// missed (its old message is gone).
func TestGetAfterReplaceElsewhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, dovetest.ProfileFull)
	a, b := e.dial(t), e.dial(t)
	it := &Item{Data: vcard("g", "Before")}
	mustPut(t, a, KindContacts, it)
	if got, err := a.Get(ctx, KindContacts, it.ID); err != nil || got[0] == nil {
		t.Fatalf("Get: %v %v", got, err)
	}
	mustPut(t, b, KindContacts, &Item{ID: it.ID, Data: vcard("g", "After")})
	got, err := a.Get(ctx, KindContacts, it.ID)
	if err != nil || got[0] == nil || !bytes.Contains(got[0].Data, []byte("FN:After")) {
		t.Fatalf("Get after another connection's replace: %v, %v\n%s", got, err, got[0].Data)
	}
	vs, _, _ := b.Versions(ctx, KindContacts)
	if got[0].StoreVersion != vs[it.ID] {
		t.Errorf("Get's version %q, Versions' %q", got[0].StoreVersion, vs[it.ID])
	}
}

// TestPutVersionsRacesPut: a batch written at the versions read, while
// another connection writes some of its items plainly. No plain write is
// lost; each batch item either went in or stood back, and the folder
// holds one message per item at the end.
func TestPutVersionsRacesPut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, dovetest.ProfileFull)
	a, b := e.dial(t), e.dial(t)
	const n = 8
	ids := make([]string, n)
	for i := range ids {
		it := &Item{Data: vcard(fmt.Sprintf("batch-%d", i), "Zero")}
		mustPut(t, a, KindContacts, it)
		ids[i] = it.ID
	}
	var won, lost int
	for round := 1; round <= 10; round++ {
		vs, _, err := a.Versions(ctx, KindContacts)
		if err != nil {
			t.Fatal(err)
		}
		items, wants := make([]*Item, n), make([]string, n)
		for i, id := range ids {
			items[i], wants[i] = &Item{ID: id, Data: vcard(fmt.Sprintf("batch-%d", i), fmt.Sprintf("Batch %d", round))}, vs[id]
		}
		var wg sync.WaitGroup
		var errs []error
		var verr, perr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs, verr = a.PutVersions(ctx, KindContacts, items, wants)
		}()
		go func() {
			defer wg.Done()
			for i := round % 2; i < n && perr == nil; i += 2 { // half of them
				perr = b.Put(ctx, KindContacts, &Item{ID: ids[i], Data: vcard(fmt.Sprintf("batch-%d", i), fmt.Sprintf("Plain %d", round))})
			}
		}()
		wg.Wait()
		if verr != nil || perr != nil {
			t.Fatalf("round %d: PutVersions: %v; Put: %v", round, verr, perr)
		}
		c := e.dial(t)
		got, err := c.Get(ctx, KindContacts, ids...)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ids {
			plain := i%2 == round%2
			switch {
			case errs[i] == nil:
				won++
			case errors.Is(errs[i], ErrVersionMismatch):
				lost++
				if !plain {
					t.Errorf("round %d: item %d, written by nobody else, stood back: %v", round, i, errs[i])
				}
			default:
				t.Fatalf("round %d: item %d: %v", round, i, errs[i])
			}
			if got[i] == nil {
				t.Fatalf("round %d: item %d gone", round, i)
			}
			if plain && !bytes.Contains(got[i].Data, []byte(fmt.Sprintf("Plain %d", round))) {
				t.Fatalf("round %d: the plain Put of item %d was lost (PutVersions: %v); it holds\n%s", round, i, errs[i], got[i].Data)
			}
			if !plain && !bytes.Contains(got[i].Data, []byte(fmt.Sprintf("Batch %d", round))) {
				t.Errorf("round %d: item %d holds\n%s", round, i, got[i].Data)
			}
		}
		c.Close()
	}
	if m := len(folderMessages(t, e.mailClient(t), "Contacts")); m != n {
		t.Errorf("%d messages in the folder at the end, want %d", m, n)
	}
	t.Logf("batch items written %d times, stood back %d times", won, lost)
}
