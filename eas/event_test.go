package eas

import (
	"strings"
	"testing"

	"syncml-imap/internal/vobject"
)

const storedEvent = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\n" +
	"BEGIN:VEVENT\r\nUID:e1@test\r\nDTSTAMP:20261201T000000Z\r\nDTSTART;TZID=Europe/Berlin:20261208T100000\r\n" +
	"DTEND;TZID=Europe/Berlin:20261208T110000\r\nSUMMARY:Team meeting\r\nLOCATION:Room 1\r\nDESCRIPTION:Agenda\\nitems\r\n" +
	"RRULE:FREQ=WEEKLY;BYDAY=TU\r\nEXDATE;TZID=Europe/Berlin:20261215T100000\r\nORGANIZER;CN=Ann:mailto:ann@example.org\r\n" +
	"ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.org\r\nX-MOZ-GENERATION:2\r\n" +
	"BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:e1@test\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261222T100000\r\nDTSTART;TZID=Europe/Berlin:20261222T120000\r\n" +
	"DTEND;TZID=Europe/Berlin:20261222T130000\r\nSUMMARY:Team meeting (moved)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

func TestEventFields(t *testing.T) {
	fs := EventFields([]byte(storedEvent))
	for name, want := range map[string]string{
		"StartTime": "20261208T090000Z", "EndTime": "20261208T100000Z", "AllDayEvent": "0", "Subject": "Team meeting",
		"Location": "Room 1", "Body": "Agenda\nitems", "UID": "e1@test", "OrganizerEmail": "ann@example.org", "Reminder": "15", "BusyStatus": "2",
	} {
		if got := fieldValue(fs, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	var rec, exc, att []Field
	for _, f := range fs {
		switch f.Name {
		case "Recurrence":
			rec = f.Sub
		case "Exceptions":
			exc = f.Sub
		case "Attendees":
			att = f.Sub
		case "TimeZone":
			z, err := parseTimeZone(f.Value)
			if err != nil || z.Bias != -60 || z.DstBias != -60 {
				t.Errorf("TimeZone: %+v %v", z, err)
			}
		}
	}
	if rule, ok := rruleOf(rec); !ok || rule != "FREQ=WEEKLY;BYDAY=TU" {
		t.Errorf("recurrence %v → %q", rec, rule)
	}
	if len(exc) != 2 || fieldValue(exc[0].Sub, "ExceptionStartTime") != "20261215T090000Z" || fieldValue(exc[0].Sub, "Deleted") != "1" ||
		fieldValue(exc[1].Sub, "ExceptionStartTime") != "20261222T090000Z" || fieldValue(exc[1].Sub, "StartTime") != "20261222T110000Z" ||
		fieldValue(exc[1].Sub, "Subject") != "Team meeting (moved)" || fieldValue(exc[1].Sub, "Deleted") != "" {
		t.Errorf("exceptions %+v", exc)
	}
	if len(att) != 1 || fieldValue(att[0].Sub, "Email") != "bob@example.org" || fieldValue(att[0].Sub, "AttendeeStatus") != "3" {
		t.Errorf("attendees %+v", att)
	}
}

func TestApplyEvent(t *testing.T) {
	// Sent back as it went out: nothing changes.
	if got := string(ApplyEvent([]byte(storedEvent), EventFields([]byte(storedEvent)), nil, "")); got != storedEvent {
		t.Errorf("round trip changed the event:\n%s", got)
	}
	// Moved an hour later and renamed on the client: the moved occurrence,
	// the organizer, X- lines and the zone stay; the times stay in Berlin.
	fs := EventFields([]byte(storedEvent))
	for i := range fs {
		switch fs[i].Name {
		case "StartTime":
			fs[i].Value = "20261208T100000Z"
		case "EndTime":
			fs[i].Value = "20261208T110000Z"
		case "Subject":
			fs[i].Value = "Team sync"
		case "Reminder":
			fs[i].Value = "30"
		}
	}
	out := string(ApplyEvent([]byte(storedEvent), fs, nil, ""))
	for _, want := range []string{"DTSTART;TZID=Europe/Berlin:20261208T110000\r\n", "DTEND;TZID=Europe/Berlin:20261208T120000\r\n", "SUMMARY:Team sync\r\n",
		"TRIGGER:-PT30M\r\n", "RECURRENCE-ID;TZID=Europe/Berlin:20261222T100000\r\n", "ORGANIZER;CN=Ann:mailto:ann@example.org\r\n", "X-MOZ-GENERATION:2\r\n",
		"RRULE:FREQ=WEEKLY;BYDAY=TU\r\n", "EXDATE;TZID=Europe/Berlin:20261215T100000\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the edited event lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "BEGIN:VALARM") != 1 || strings.Contains(out, "-PT15M") {
		t.Errorf("the reminder:\n%s", out)
	}
	// What TbSync 4.18 sends for a new event under EAS 16.1 (no TimeZone,
	// no UID, an empty Reminder).
	out = string(ApplyEvent(nil, []Field{{Page: "Calendar", Name: "Subject", Value: "Test event"},
		{Page: "Calendar", Name: "StartTime", Value: "20270115T100000Z"}, {Page: "Calendar", Name: "EndTime", Value: "20270115T110000Z"},
		{Page: "Calendar", Name: "AllDayEvent", Value: "0"}, {Page: "Calendar", Name: "BusyStatus", Value: "2"}, {Page: "Calendar", Name: "Reminder", Value: ""}}, nil, "new-1"))
	objs := vobject.Parse([]byte(out))
	if len(objs) != 1 || len(objs[0].Children) != 1 {
		t.Fatalf("new event:\n%s", out)
	}
	ev := objs[0].Children[0]
	if ev.PropValue("UID") != "new-1" || ev.PropValue("DTSTART") != "20270115T100000Z" || ev.PropValue("DTEND") != "20270115T110000Z" || len(ev.Children) != 0 {
		t.Errorf("new event:\n%s", out)
	}
	// An all-day event in Berlin: the dates of the client's local day.
	out = string(ApplyEvent(nil, []Field{{Page: "Calendar", Name: "Subject", Value: "Holiday"}, {Page: "Calendar", Name: "AllDayEvent", Value: "1"},
		{Page: "Calendar", Name: "TimeZone", Value: zoneOf(mustLoad(t, "Europe/Berlin"), 2026).encode()},
		{Page: "Calendar", Name: "StartTime", Value: "20261224T230000Z"}, {Page: "Calendar", Name: "EndTime", Value: "20261225T230000Z"}}, nil, "h1"))
	if !strings.Contains(out, "DTSTART;VALUE=DATE:20261225\r\n") || !strings.Contains(out, "DTEND;VALUE=DATE:20261226\r\n") {
		t.Errorf("all-day event:\n%s", out)
	}
}

func FuzzApplyEvent(f *testing.F) {
	f.Add([]byte(storedEvent), "StartTime", "20261208T100000Z", "Reminder")
	f.Add([]byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:x\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"), "Reminder", "-5", "")
	f.Fuzz(func(t *testing.T, stored []byte, name, value, ghost string) {
		out := ApplyEvent(stored, []Field{{Page: "Calendar", Name: name, Value: value}}, []string{ghost}, "u")
		if objs := vobject.Parse(out); len(objs) == 0 || objs[0].Name != "VCALENDAR" {
			t.Fatalf("not a calendar:\n%q", out)
		}
		EventFields(out)
	})
}
