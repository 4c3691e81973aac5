package pim_test

import (
	"context"
	"strings"
	"testing"

	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
)

const recurItem = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:w@x\r\nDTSTART:20261207T100000Z\r\n" +
	"RRULE:FREQ=WEEKLY;COUNT=10\r\nSUMMARY:Weekly\r\nATTENDEE:mailto:bob@example.org\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:w@x\r\nRECURRENCE-ID:20261214T100000Z\r\nDTSTART:20261215T140000Z\r\nSUMMARY:Moved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

// TestRecurView: a recurring event with an exception is two device items;
// a device holding exceptions gets them as stored, another the master with
// an EXDATE and the exception as an event of its own; an edit of either
// changes only its part of the one stored item, a deleted exception
// becomes an EXDATE.
func TestRecurView(t *testing.T) {
	for _, capable := range []bool{true, false} {
		ctx := context.Background()
		store := memstore.New(nil)
		it := &pim.Item{Data: []byte(recurItem)}
		store.Put(ctx, "calendar", it)
		store.Put(ctx, "calendar", &pim.Item{Data: []byte(strings.Replace(strings.Replace(recurItem, "w@x", "plain@x", 1), "RECURRENCE-ID", "X-NOT-AN-EXCEPTION", 1))})
		v := pim.NewRecurView(pim.DatabaseView(store, "calendar"), func() bool { return capable })
		ch, err := v.Changes(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var exc string // the exception's device-side ID
		for _, id := range ch.Added {
			if base, key := pim.RecurID(id); base == it.ID && key == "20261214T100000Z" {
				exc = id
			}
		}
		if len(ch.Added) != 3 || exc == "" {
			t.Fatalf("capable %v: listed %v, want the master %s, its exception 20261214T100000Z and the other item", capable, ch.Added, it.ID)
		}
		got, err := v.Get(ctx, it.ID, exc)
		if err != nil || got[0] == nil || got[1] == nil {
			t.Fatalf("Get: %v %v", got, err)
		}
		master, ex := string(got[0].Data), string(got[1].Data)
		if strings.Count(master, "BEGIN:VEVENT") != 1 || strings.Count(ex, "BEGIN:VEVENT") != 1 || !strings.Contains(master, "ATTENDEE") {
			t.Fatalf("capable %v: master\n%s\nexception\n%s", capable, master, ex)
		}
		if capable != strings.Contains(ex, "RECURRENCE-ID:20261214T100000Z") || capable == strings.Contains(master, "EXDATE:20261214T100000Z") ||
			capable == strings.Contains(ex, "UID:w@x-20261214T100000Z") {
			t.Errorf("capable %v: master\n%s\nexception\n%s", capable, master, ex)
		}
		// The device edits both parts.
		if err := v.Put(ctx, &pim.Item{ID: exc, Data: []byte(strings.Replace(ex, "Moved", "Moved again", 1))},
			&pim.Item{ID: it.ID, Data: []byte(strings.Replace(strings.Replace(master, "SUMMARY:Weekly", "SUMMARY:Weekly team", 1), "ATTENDEE:mailto:bob@example.org\r\n", "", 1))}); err != nil {
			t.Fatal(err)
		}
		stored := string(store.Items("calendar")[it.ID])
		checkHas(t, stored, []string{"SUMMARY:Weekly team", "SUMMARY:Moved again", "RECURRENCE-ID:20261214T100000Z", "UID:w@x\r\n"},
			[]string{"EXDATE", "w@x-", "ATTENDEE"})
		if n := strings.Count(stored, "BEGIN:VEVENT"); n != 2 {
			t.Errorf("capable %v: %d VEVENTs stored:\n%s", capable, n, stored)
		}
		// The device deletes the exception: the occurrence is gone.
		if missing, err := v.Delete(ctx, exc); err != nil || len(missing) != 0 {
			t.Fatalf("Delete: %v %v", missing, err)
		}
		stored = string(store.Items("calendar")[it.ID])
		checkHas(t, stored, []string{"SUMMARY:Weekly team", "EXDATE:20261214T100000Z"}, []string{"Moved again", "RECURRENCE-ID"})
	}
}

// TestRecurViewReadsOnce: in a sync with a few changes, the items the view
// read to find exceptions are sent without reading them again; a write
// drops what it read.
func TestRecurViewReadsOnce(t *testing.T) {
	ctx := context.Background()
	store := &countingStore{Store: memstore.New(nil)}
	it := &pim.Item{Data: []byte(recurItem)}
	store.Put(ctx, "calendar", it)
	v := pim.NewRecurView(pim.DatabaseView(store, "calendar"), func() bool { return true })
	ch, err := v.Changes(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Get(ctx, ch.Added...)
	if err != nil || len(got) != 2 || got[0] == nil || got[1] == nil {
		t.Fatalf("Get %v: %v %v", ch.Added, got, err)
	}
	if store.gets != 1 {
		t.Errorf("%d reads of the store, want 1 (the scan's)", store.gets)
	}
	if err := v.Put(ctx, &pim.Item{ID: it.ID, Data: got[0].Data}); err != nil {
		t.Fatal(err)
	}
	before := store.gets
	if _, err := v.Get(ctx, it.ID); err != nil || store.gets != before+1 {
		t.Errorf("after a write the item is read again: %d reads, want %d (%v)", store.gets, before+1, err)
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

// checkHas reports what of want got lacks and what of gone it holds.
func checkHas(t *testing.T, got string, want, gone []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
	for _, g := range gone {
		if strings.Contains(got, g) {
			t.Errorf("%q should be gone from\n%s", g, got)
		}
	}
}
