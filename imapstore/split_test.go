package imapstore

import (
	"bytes"
	"strings"
	"testing"

	"syncml-imap/internal/vobject"
)

func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(strings.TrimPrefix(s, "\n"), "\n", "\r\n"))
}

func FuzzVObject(f *testing.F) {
	f.Add([]byte("BEGIN:VCARD\r\nVERSION:2.1\r\nN;ENCODING=QUOTED-PRINTABLE:a=\r\nb\r\nEND:VCARD\r\n"))
	f.Add([]byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART;TZID=\"a:b\":20260101T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, k := range Kinds {
			out, _ := vobject.EnsureUID(data, k.component(), "U")
			if len(out) < len(data) {
				t.Fatalf("vobject.EnsureUID lost bytes")
			}
			inspectItem(k, data)
			checkItem(k, data)
			for _, obj := range splitObjects(k, data) {
				if len(obj) == 0 {
					t.Fatalf("empty object from split")
				}
			}
		}
	})
}

func TestSplitObjects(t *testing.T) {
	vcf := crlf(`
BEGIN:VCARD
VERSION:3.0
FN:One
END:VCARD
BEGIN:VCARD
VERSION:2.1
N;ENCODING=QUOTED-PRINTABLE:Tw=
o
END:VCARD
`)
	got := splitObjects(KindContacts, vcf)
	if len(got) != 2 || !bytes.Contains(got[1], []byte("Tw=\r\no")) {
		t.Fatalf("split vcf = %q", got)
	}
	ics := crlf(`
BEGIN:VCALENDAR
VERSION:2.0
METHOD:PUBLISH
PRODID:test
BEGIN:VTIMEZONE
TZID:Europe/Berlin
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:America/New_York
END:VTIMEZONE
BEGIN:VEVENT
UID:a
DTSTART;TZID=Europe/Berlin:20260101T100000
RRULE:FREQ=DAILY
END:VEVENT
BEGIN:VTODO
UID:t
END:VTODO
BEGIN:VEVENT
UID:b
DTSTART:20260101T100000Z
END:VEVENT
BEGIN:VEVENT
UID:a
RECURRENCE-ID;TZID=Europe/Berlin:20260102T100000
END:VEVENT
END:VCALENDAR
`)
	events := splitObjects(KindCalendar, ics)
	if len(events) != 2 {
		t.Fatalf("got %d events, want 2 (a with its exception, b)", len(events))
	}
	a := string(events[0])
	if strings.Count(a, "BEGIN:VEVENT") != 2 || !strings.Contains(a, "TZID:Europe/Berlin") ||
		strings.Contains(a, "America/New_York") || strings.Contains(a, "METHOD") || !strings.Contains(a, "PRODID:test") {
		t.Errorf("event a = %s", a)
	}
	if strings.Contains(string(events[1]), "VTIMEZONE") {
		t.Errorf("event b carries a zone it does not use: %s", events[1])
	}
	for _, e := range events {
		if err := checkItem(KindCalendar, e); err != nil {
			t.Errorf("split event is not a valid item: %v", err)
		}
	}
	tasks := splitObjects(KindTasks, ics)
	if len(tasks) != 1 || !strings.Contains(string(tasks[0]), "UID:t") {
		t.Errorf("tasks = %q", tasks)
	}
}
