package pim_test

import (
	"context"
	"testing"
	"time"

	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
)

// TestDefaultPolicySendsAllEvents: the default policy has no calendar
// window, so an event two years back and one three years ahead are both
// sent; a window set on a device keeps them off it, and CountFiltered
// says how many it hides.
func TestDefaultPolicySendsAllEvents(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	store := memstore.New(nil)
	for _, dt := range []string{"20241201T090000Z", "20261207T090000Z", "20291201T090000Z"} {
		if err := store.Put(ctx, "calendar", &pim.Item{Data: event("DTSTART:" + dt + "\r\nDURATION:PT1H")}); err != nil {
			t.Fatal(err)
		}
	}
	p := pim.DefaultPolicy()
	n, err := p.CountFiltered(ctx, store, "calendar", now)
	if err != nil {
		t.Fatal(err)
	}
	if n.Active || n.Hidden != 0 {
		t.Errorf("default policy: %+v, want no filter", n)
	}
	ch, err := store.Changes(ctx, "calendar", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ch.Added {
		items, _ := store.Get(ctx, "calendar", id)
		if !p.Filter("calendar").Matches("calendar", pim.FactsOf("calendar", items[0].Data), now) {
			t.Errorf("default policy does not send %s", items[0].Data)
		}
	}

	w, err := pim.DefaultPolicy().WithOverrides(map[string]string{"calendar_past": "30d", "calendar_future": "365d"})
	if err != nil {
		t.Fatal(err)
	}
	n, err = w.CountFiltered(ctx, store, "calendar", now)
	if err != nil {
		t.Fatal(err)
	}
	if n != (pim.FilterCount{Active: true, Total: 3, Hidden: 2}) {
		t.Errorf("window 30d/365d: %+v, want 2 of 3 hidden", n)
	}
	// A database without an active filter is not read.
	if n, err := w.CountFiltered(ctx, store, "contacts", now.Add(time.Hour)); err != nil || n != (pim.FilterCount{}) {
		t.Errorf("contacts without a filter: %+v, %v", n, err)
	}
}

// TestCountFilteredFolders: a device whose policy names contact
// sub-folders is counted over those folders, as it syncs them, not over
// the Contacts folder itself.
func TestCountFilteredFolders(t *testing.T) {
	ctx := context.Background()
	store := memstore.New(nil)
	store.Put(ctx, "contacts", &pim.Item{Data: []byte(catCard("Boss", ""))})
	store.Put(ctx, "contacts/Family", &pim.Item{Data: []byte(catCard("Mum", "VIP"))})
	store.Put(ctx, "contacts/Family", &pim.Item{Data: []byte(catCard("Dad", ""))})
	p, err := pim.DefaultPolicy().WithOverrides(map[string]string{"contact_folders": "Family", "contact_categories": "VIP"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := p.CountFiltered(ctx, store, "contacts", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n != (pim.FilterCount{Active: true, Total: 2, Hidden: 1}) {
		t.Errorf("contacts of Family, VIP only: %+v, want 1 of 2 hidden", n)
	}
}

func catCard(name, cats string) string {
	s := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + name + "\r\nN:" + name + ";;;;\r\n"
	if cats != "" {
		s += "CATEGORIES:" + cats + "\r\n"
	}
	return s + "END:VCARD\r\n"
}

// event wraps VEVENT properties in a VCALENDAR (as filtEvent does for
// package pim's own tests).
func event(props string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//filter//EN\r\nBEGIN:VEVENT\r\nUID:e1@example.org\r\n" +
		"DTSTAMP:20260101T000000Z\r\nSUMMARY:Meeting\r\n" + props + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
}
