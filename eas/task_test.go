package eas

import (
	"strings"
	"testing"

	"syncml-imap/internal/vobject"
)

const storedTask = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\n" +
	"BEGIN:VTODO\r\nUID:t1\r\nDTSTAMP:20261201T000000Z\r\nSUMMARY:Pay the rent\r\nDESCRIPTION:By transfer\r\nPRIORITY:1\r\n" +
	"DUE;VALUE=DATE:20261210\r\nDTSTART;TZID=Europe/Berlin:20261201T090000\r\nCATEGORIES:Home\r\nRRULE:FREQ=MONTHLY\r\n" +
	"X-MOZ-GENERATION:3\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT1H\r\nEND:VALARM\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"

func TestTaskFields(t *testing.T) {
	fs := TaskFields([]byte(storedTask))
	for name, want := range map[string]string{
		"Subject": "Pay the rent", "Body": "By transfer", "Importance": "2", "UtcDueDate": "2026-12-10T00:00:00.000Z",
		"DueDate": "2026-12-10T00:00:00.000Z", "UtcStartDate": "2026-12-01T08:00:00.000Z", "StartDate": "2026-12-01T09:00:00.000Z",
		"Complete": "0", "Categories": "Home",
	} {
		if got := fieldValue(fs, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestApplyTask(t *testing.T) {
	// What the client got, sent back: nothing changes.
	if got := string(ApplyTask([]byte(storedTask), TaskFields([]byte(storedTask)), nil, "")); got != storedTask {
		t.Errorf("round trip changed the task:\n%s", got)
	}
	// Completed on the client, subject changed: the alarm, the
	// recurrence, the X- line, the all-day due date and the time zone stay.
	fs := TaskFields([]byte(storedTask))
	for i := range fs {
		switch fs[i].Name {
		case "Complete":
			fs[i].Value = "1"
		case "Subject":
			fs[i].Value = "Pay the rent, done"
		}
	}
	fs = append(fs, Field{Page: "Tasks", Name: "DateCompleted", Value: "2026-12-05T10:00:00.000Z"})
	out := string(ApplyTask([]byte(storedTask), fs, nil, ""))
	for _, want := range []string{"SUMMARY:Pay the rent\\, done\r\n", "STATUS:COMPLETED\r\n", "COMPLETED:20261205T100000Z\r\n", "PERCENT-COMPLETE:100\r\n",
		"RRULE:FREQ=MONTHLY\r\n", "BEGIN:VALARM\r\n", "X-MOZ-GENERATION:3\r\n", "DUE;VALUE=DATE:20261210\r\n", "TZID:Europe/Berlin\r\n", "UID:t1\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the edited task lacks %q:\n%s", want, out)
		}
	}
	// A new task.
	out = string(ApplyTask(nil, []Field{{Page: "Tasks", Name: "Subject", Value: "New"}, {Page: "Tasks", Name: "Importance", Value: "0"},
		{Page: "Tasks", Name: "UtcDueDate", Value: "2026-12-24T11:00:00.000Z"}, {Page: "Tasks", Name: "Complete", Value: "0"}}, nil, "new-1"))
	objs := vobject.Parse([]byte(out))
	if len(objs) != 1 || len(objs[0].Children) != 1 {
		t.Fatalf("new task:\n%s", out)
	}
	todo := objs[0].Children[0]
	if todo.PropValue("UID") != "new-1" || todo.PropValue("SUMMARY") != "New" || todo.PropValue("PRIORITY") != "9" || todo.PropValue("DUE") != "20261224T110000Z" || todo.PropValue("STATUS") != "NEEDS-ACTION" {
		t.Errorf("new task:\n%s", out)
	}
}

func FuzzApplyTask(f *testing.F) {
	f.Add([]byte(storedTask), "Subject", "x", "Body")
	f.Add([]byte("BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nDUE:2026\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"), "UtcDueDate", "2026-01-01T00:00:00.000Z", "")
	f.Fuzz(func(t *testing.T, stored []byte, name, value, ghost string) {
		out := ApplyTask(stored, []Field{{Page: "Tasks", Name: name, Value: value}}, []string{ghost}, "u")
		objs := vobject.Parse(out)
		if len(objs) == 0 || objs[0].Name != "VCALENDAR" {
			t.Fatalf("not a calendar:\n%q", out)
		}
		TaskFields(out)
	})
}
