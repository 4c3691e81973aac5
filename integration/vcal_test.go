package integration

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"testing"

	"syncml-imap/imapstore"
	"syncml-imap/integration/syncevo"
)

// TestVCal10Device: SyncEvolution as a vCalendar 1.0 device (the file
// backend keeps vCalendar 1.0, and the wire format is forced to it, as an
// old phone's would be). A task due on a day (written as local midnight
// and as a date; SyncEvolution sends both as DUE:...T000000) is stored as
// DUE;VALUE=DATE, and weekly events with TZ/DAYLIGHT in the form
// SyncEvolution writes are stored in Europe/Berlin, not Etc/GMT-1. When the
// mailbox's edits come back, the phone's tasks show the dates as written.
func TestVCal10Device(t *testing.T) {
	e := newEnvWith(t, nil, func(o *syncevo.Options) {
		o.Sources = []syncevo.Source{
			{Name: "calendar", URI: "calendar", Format: "text/x-vcalendar", SyncFormat: "text/x-vcalendar"},
			{Name: "todo", URI: "tasks", Format: "text/x-vcalendar", SyncFormat: "text/x-vcalendar"},
		}
	})
	// Without forcing, SyncEvolution sends the iCalendar 2.0 the server
	// prefers.
	e.client.Configure(t, "calendar/forceSyncFormat=1", "todo/forceSyncFormat=1")
	vcal := func(body string) []byte {
		return []byte("BEGIN:VCALENDAR\r\nVERSION:1.0\r\n" + body + "END:VCALENDAR\r\n")
	}
	e.client.WriteItem(t, "todo", "t1.vcs", vcal("BEGIN:VTODO\r\nUID:t1\r\nSUMMARY:Pay rent\r\nDUE:20261210T000000\r\nEND:VTODO\r\n"))
	e.client.WriteItem(t, "todo", "t2.vcs", vcal("BEGIN:VTODO\r\nUID:t2\r\nSUMMARY:Renew passport\r\nDUE:20261211\r\nEND:VTODO\r\n"))
	// Weekly from a summer and a winter Monday: SyncEvolution sends UTC
	// times with TZ/DAYLIGHT, for the summer one (when run in the
	// autumn or winter) with DAYLIGHT's end before its start: this year's
	// end of summer time, next year's start.
	for i, start := range []string{"20260706", "20261207"} {
		e.client.WriteItem(t, "calendar", fmt.Sprintf("e%d.vcs", i), vcal("TZ:+01:00\r\nDAYLIGHT:TRUE;+02;20260329T010000Z;20261025T010000Z;CET;CEST\r\n"+
			"BEGIN:VEVENT\r\nUID:e"+start+"\r\nSUMMARY:Standup\r\nDTSTART:"+start+"T090000\r\nDTEND:"+start+"T091500\r\nRRULE:W1 MO #0\r\nEND:VEVENT\r\n"))
	}
	r := e.sync(t, syncevo.Slow)
	msgs, err := e.client.Messages(r)
	if err != nil {
		t.Fatal(err)
	}
	sent := false
	for _, m := range msgs {
		if m.Outgoing && bytes.Contains(m.Data, []byte("<Add>")) {
			sent = sent || bytes.Contains(m.Data, []byte("text/x-vcalendar"))
			if bytes.Contains(m.Data, []byte("text/calendar</Type>")) {
				t.Fatal("the client sent iCalendar 2.0 items")
			}
		}
	}
	if !sent {
		t.Fatal("the client sent no vCalendar 1.0 items")
	}

	tasks := e.mailbox(imapstore.KindTasks)
	byDue := map[string]string{}
	for id, d := range tasks {
		if m := regexp.MustCompile(`(?m)^DUE[;:].*$`).Find(d); m != nil {
			byDue[string(bytes.TrimSpace(m))] = id
		}
	}
	for _, want := range []string{"DUE;VALUE=DATE:20261210", "DUE;VALUE=DATE:20261211"} {
		if _, ok := byDue[want]; !ok {
			t.Errorf("no stored task with %s; stored: %v", want, byDue)
		}
	}
	events := e.mailbox(imapstore.KindCalendar)
	if len(events) != 2 {
		t.Fatalf("%d events stored, want 2", len(events))
	}
	for _, d := range events {
		if !regexp.MustCompile(`(?m)^DTSTART;TZID=Europe/Berlin:2026(0706|1207)T090000\r?$`).Match(d) || bytes.Contains(d, []byte("Etc/")) {
			t.Errorf("event not stored in Europe/Berlin at 09:00:\n%s", d)
		}
	}

	// A mail client edits both tasks and the summer series; the phone
	// gets them back.
	a := e.account()
	for due, id := range byDue {
		d := tasks[id]
		d = bytes.Replace(d, []byte("SUMMARY:"), []byte("SUMMARY:Edited "), 1)
		if err := a.Put(context.Background(), imapstore.KindTasks, &imapstore.Item{ID: id, Data: d}); err != nil {
			t.Fatalf("edit %s: %v", due, err)
		}
	}
	for id, d := range events {
		if bytes.Contains(d, []byte("20260706T090000")) {
			d = bytes.Replace(d, []byte("SUMMARY:"), []byte("SUMMARY:Edited "), 1)
			if err := a.Put(context.Background(), imapstore.KindCalendar, &imapstore.Item{ID: id, Data: d}); err != nil {
				t.Fatal(err)
			}
		}
	}
	r = e.sync(t, syncevo.TwoWay)
	// The server answers in the form the phone wrote on the wire: local
	// midnight, not a UTC time or a shifted one.
	msgs, err = e.client.Messages(r)
	if err != nil {
		t.Fatal(err)
	}
	var fromServer []byte
	for _, m := range msgs {
		if !m.Outgoing {
			fromServer = append(fromServer, m.Data...)
		}
	}
	for _, want := range []string{"DUE:20261210T000000\r", "DUE:20261211T000000\r"} {
		if !bytes.Contains(fromServer, []byte(want)) {
			t.Errorf("the server did not send %q; it sent:\n%s", want, fromServer)
		}
	}
	// The edited summer series goes back with its zone's summer time, so
	// the phone keeps it at 09:00 (07:00 UTC in July).
	if !bytes.Contains(fromServer, []byte("DAYLIGHT:TRUE;+02")) {
		t.Errorf("the server sent the series without its summer time:\n%s", fromServer)
	}
	edited := false
	for _, d := range e.client.Items(t, "calendar") {
		if bytes.Contains(d, []byte("SUMMARY:Edited Standup")) {
			edited = true
			if !regexp.MustCompile(`(?m)^DTSTART:20260706T070000Z\r?$`).Match(d) {
				t.Errorf("the phone's series moved:\n%s", d)
			}
		}
	}
	if !edited {
		t.Error("the mailbox's edit of the series did not reach the phone")
	}
	got := map[string]string{}
	for _, d := range e.client.Items(t, "todo") {
		s := string(d)
		for _, uid := range []string{"t1", "t2"} {
			if regexp.MustCompile(`(?m)^UID:` + uid + `\r?$`).MatchString(s) {
				got[uid] = s
			}
		}
	}
	// SyncEvolution's vCalendar 1.0 writes every date as local midnight,
	// in its files as on the wire (the date-only DUE:20261211 it was given
	// too).
	for uid, want := range map[string]string{"t1": "DUE:20261210T000000", "t2": "DUE:20261211T000000"} {
		s := got[uid]
		if !regexp.MustCompile(`(?m)^SUMMARY:Edited `).MatchString(s) {
			t.Errorf("task %s: the mailbox's edit did not reach the phone:\n%s", uid, s)
		}
		if !regexp.MustCompile(`(?m)^` + want + `\r?$`).MatchString(s) {
			t.Errorf("task %s on the phone lost %s:\n%s", uid, want, s)
		}
	}
}
