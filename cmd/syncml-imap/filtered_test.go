package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"syncml-imap/imapstore"
)

// TestDevicesShowFiltered: "devices show" says how many of the mailbox's
// events a device's calendar window keeps off it (the device itself gives
// no hint), and nothing when the device has the default, no window.
func TestDevicesShowFiltered(t *testing.T) {
	s := setupDevices(t)
	t.Setenv("SYNCML_IMAP_PASSWORD", devPassword)
	ctx := context.Background()
	acct, err := imapstore.Dial(ctx, &imapstore.Options{Address: s.srv.Addr}, devUser, devPassword)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, start := range []time.Time{now.AddDate(-2, 0, 0), now.AddDate(0, 0, 1), now.AddDate(3, 0, 0)} {
		ev := fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:ev%d@example.org\r\nDTSTAMP:20260101T000000Z\r\n"+
			"DTSTART:%s\r\nDURATION:PT1H\r\nSUMMARY:Event %d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", i, start.Format("20060102T150405Z"), i)
		if err := acct.Put(ctx, imapstore.KindCalendar, &imapstore.Item{Data: []byte(ev)}); err != nil {
			t.Fatal(err)
		}
	}
	acct.Close()
	base := []string{"-config", s.plainCfg, "-user", devUser}

	code, out, errs := runCmd(append([]string{"devices", "show", "-device", phone}, base...)...)
	if code != 0 {
		t.Fatalf("show: %d\n%s", code, errs)
	}
	mustContain(t, "show, default policy", out, "filter: no calendar window: every event is sent to this device", "calendar_past = 0", "calendar_future = 0")

	if code, _, errs = runCmd(append([]string{"devices", "set", "-device", phone, "calendar_past=30d", "calendar_future=365d"}, base...)...); code != 0 {
		t.Fatalf("set: %d\n%s", code, errs)
	}
	code, out, errs = runCmd(append([]string{"devices", "show", "-device", phone}, base...)...)
	if code != 0 {
		t.Fatalf("show: %d\n%s", code, errs)
	}
	mustContain(t, "show, window", out, "filter: 2 of 3 events and tasks in the calendar are not sent to this device (calendar_past = 30d, calendar_future = 365d)")
}
