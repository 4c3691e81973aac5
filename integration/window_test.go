package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"syncml-imap/imapstore"
	"syncml-imap/integration/syncevo"
	"syncml-imap/pim"
)

// TestDefaultSendsAllEvents: with the daemon's default configuration a
// phone gets every event of the mailbox, years back and years ahead (a
// default window once gave a second phone 1 of 40 events, with no hint).
// A window is what the admin sets per device: then the same phone gets
// only the events inside it, and the mailbox keeps all of them.
func TestDefaultSendsAllEvents(t *testing.T) {
	e := newEnv(t)
	acct := e.account()
	now := time.Now().UTC()
	const n = 40
	inWindow := 0
	for i := range n {
		// From about five years back to five years ahead.
		start := now.AddDate(0, 0, (i-n/2)*90).Truncate(time.Hour)
		if start.After(now.AddDate(0, 0, -30)) && start.Before(now.AddDate(0, 0, 365)) {
			inWindow++
		}
		ev := fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:window-%02d@test\r\n"+
			"DTSTAMP:20260101T000000Z\r\nDTSTART:%s\r\nDURATION:PT1H\r\nSUMMARY:Event %02d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
			i, start.Format("20060102T150405Z"), i)
		if err := acct.Put(context.Background(), imapstore.KindCalendar, &imapstore.Item{Data: []byte(ev)}); err != nil {
			t.Fatal(err)
		}
	}
	cal := syncevo.Source{Name: "calendar", URI: "calendar", Format: "text/calendar"}

	phone := e.device(t, "window-phone-1", cal)
	mustSync(t, phone, syncevo.Slow)
	if got := len(phone.Items(t, "calendar")); got != n {
		t.Errorf("default policy: the phone holds %d of %d events", got, n)
	}

	// The admin sets a window on a second phone: it gets what falls in it.
	second := e.device(t, "window-phone-2", cal)
	mustSync(t, second, syncevo.Slow)
	d := e.slots(t)
	if _, _, err := d.SetPolicy(context.Background(), "window-phone-2", pim.DefaultPolicy(), map[string]string{"calendar_past": "30d", "calendar_future": "365d"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, second, syncevo.TwoWay)
	if got := len(second.Items(t, "calendar")); got != inWindow {
		t.Errorf("window 30d/365d: the second phone holds %d events, want the %d inside it", got, inWindow)
	}
	if got := len(e.mailbox(imapstore.KindCalendar)); got != n {
		t.Errorf("the mailbox holds %d of %d events after the window", got, n)
	}
}
