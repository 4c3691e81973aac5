package pim

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

// crlfText turns a `...` literal (leading newline, LF line ends) into the
// canonical CRLF form.
func crlfText(s string) string {
	return strings.ReplaceAll(strings.TrimPrefix(s, "\n"), "\n", "\r\n")
}

// edit replaces whole lines of an item: pairs of old, new; an empty new
// removes the line, an old ending in "\n" + new inserts before old.
func edit(item string, pairs ...string) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		old, repl := pairs[i]+"\r\n", pairs[i+1]
		if !strings.Contains(item, old) {
			panic("edit: no line " + pairs[i])
		}
		if repl != "" {
			repl = crlfText(repl) + "\r\n"
		}
		item = strings.Replace(item, old, repl, 1)
	}
	return item
}

var mergeCard = crlfText(`
BEGIN:VCARD
VERSION:3.0
PRODID:-//syncml-imap//EN
UID:6f1c2a9e-3b1d-4c55-9d1e-0a7f3c2b9e41
N:Example;Anna;Maria;Dr.;
FN:Dr. Anna Maria Example
ORG:Example GmbH;Sales
TITLE:Head of Sales
TEL;TYPE=CELL:+49 170 1234567
TEL;TYPE=WORK,VOICE:+49 30 1234567
EMAIL;TYPE=INTERNET,WORK:anna.example@example.com
item1.EMAIL;TYPE=INTERNET:anna@example.org
item1.X-ABLabel:_$!<Other>!$_
ADR;TYPE=WORK:;;Hauptstraße 1;Berlin;;10115;Germany
BDAY:1985-04-12
NOTE:Met at the trade fair in Hannover\, prefers email over phone.
URL:https://example.com/team/anna
CATEGORIES:Customers,Berlin
REV:2026-01-10T09:00:00Z
END:VCARD
`)

var mergeEvent = crlfText(`
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//syncml-imap//EN
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:STANDARD
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:0b0e7c1e-5d2f-4a8b-b0a4-7f1d2c3e4f50
DTSTAMP:20260110T090000Z
LAST-MODIFIED:20260110T090000Z
SEQUENCE:2
SUMMARY:Team meeting
LOCATION:Room 4.12
DTSTART;TZID=Europe/Berlin:20260112T100000
DTEND;TZID=Europe/Berlin:20260112T110000
RRULE:FREQ=WEEKLY;BYDAY=MO
DESCRIPTION:Weekly sync of the sales team.
END:VEVENT
BEGIN:VEVENT
UID:0b0e7c1e-5d2f-4a8b-b0a4-7f1d2c3e4f50
RECURRENCE-ID;TZID=Europe/Berlin:20260119T100000
DTSTAMP:20260110T090000Z
SUMMARY:Team meeting (moved)
DTSTART;TZID=Europe/Berlin:20260119T140000
DTEND;TZID=Europe/Berlin:20260119T150000
END:VEVENT
END:VCALENDAR
`)

var mergeTask = crlfText(`
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//syncml-imap//EN
BEGIN:VTODO
UID:7d3b9f10-2c4e-4f6a-8e1b-5a6c7d8e9f01
DTSTAMP:20260110T090000Z
SUMMARY:Send the offer to Example GmbH
DUE;VALUE=DATE:20260115
PRIORITY:5
STATUS:NEEDS-ACTION
END:VTODO
END:VCALENDAR
`)

const alarm = `BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Reminder
TRIGGER:-PT15M
END:VALARM`

func TestMerge3(t *testing.T) {
	const (
		cell    = "TEL;TYPE=CELL:+49 170 1234567"
		email   = "EMAIL;TYPE=INTERNET,WORK:anna.example@example.com"
		note    = `NOTE:Met at the trade fair in Hannover\, prefers email over phone.`
		rev     = "REV:2026-01-10T09:00:00Z"
		revNew  = "REV:2026-01-12T08:30:00Z"
		revOld  = "REV:2026-01-09T08:30:00Z"
		loc     = "LOCATION:Room 4.12"
		lastMod = "LAST-MODIFIED:20260110T090000Z"
	)
	tests := []struct {
		name                 string
		base, server, device string
		tb                   TieBreak
		want                 string
		both                 []string
	}{
		{
			name:   "phone changed on the server, email on the device: both kept",
			base:   mergeCard,
			server: edit(mergeCard, cell, "TEL;TYPE=CELL:+49 170 7654321"),
			device: edit(mergeCard, email, "EMAIL;TYPE=INTERNET,WORK:anna@example.com", rev, revNew),
			want: edit(mergeCard, cell, "TEL;TYPE=CELL:+49 170 7654321",
				email, "EMAIL;TYPE=INTERNET,WORK:anna@example.com", rev, "REV:20260112T083000Z"),
		},
		{
			name:   "note changed on both, server wins",
			base:   mergeCard,
			server: edit(mergeCard, note, "NOTE:Server note."),
			device: edit(mergeCard, note, "NOTE:Device note.", rev, revNew),
			tb:     TieServer,
			want:   edit(mergeCard, note, "NOTE:Server note."),
			both:   []string{"NOTE"},
		},
		{
			name:   "note changed on both, device wins; older device time leaves REV",
			base:   mergeCard,
			server: edit(mergeCard, note, "NOTE:Server note."),
			device: edit(mergeCard, note, "NOTE:Device note.", rev, revOld),
			tb:     TieDevice,
			want:   edit(mergeCard, note, "NOTE:Device note."),
			both:   []string{"NOTE"},
		},
		{
			name:   "note changed on both, newest wins by REV: device newer",
			base:   mergeCard,
			server: edit(mergeCard, note, "NOTE:Server note."),
			device: edit(mergeCard, note, "NOTE:Device note.", rev, revNew),
			tb:     TieNewest,
			want:   edit(mergeCard, note, "NOTE:Device note.", rev, "REV:20260112T083000Z"),
			both:   []string{"NOTE"},
		},
		{
			name:   "newest wins by REV: server newer (basic vs extended format)",
			base:   mergeCard,
			server: edit(mergeCard, note, "NOTE:Server note.", rev, "REV:20260113T000000Z"),
			device: edit(mergeCard, note, "NOTE:Device note.", rev, revNew),
			tb:     TieNewest,
			want:   edit(mergeCard, note, "NOTE:Server note.", rev, "REV:20260113T000000Z"),
			both:   []string{"NOTE"},
		},
		{
			name:   "newest wins, device without REV: unknown, server",
			base:   mergeCard,
			server: edit(mergeCard, note, "NOTE:Server note."),
			device: edit(mergeCard, note, "NOTE:Device note.", rev, ""),
			tb:     TieNewest,
			want:   edit(mergeCard, note, "NOTE:Server note."),
			both:   []string{"NOTE"},
		},
		{
			name:   "newest wins by LAST-MODIFIED: device newer",
			base:   mergeEvent,
			server: edit(mergeEvent, loc, "LOCATION:Room 1.01"),
			device: edit(mergeEvent, loc, "LOCATION:Online", lastMod, "LAST-MODIFIED:20260111T120000Z"),
			tb:     TieNewest,
			want:   edit(mergeEvent, loc, "LOCATION:Online", lastMod, "LAST-MODIFIED:20260111T120000Z"),
			both:   []string{"LOCATION"},
		},
		{
			name:   "newest wins by LAST-MODIFIED: server newer, despite a newer device DTSTAMP",
			base:   mergeEvent,
			server: edit(mergeEvent, loc, "LOCATION:Room 1.01", lastMod, "LAST-MODIFIED:20260111T130000Z"),
			device: edit(mergeEvent, loc, "LOCATION:Online", lastMod, "LAST-MODIFIED:20260111T120000Z",
				"DTSTAMP:20260110T090000Z", "DTSTAMP:20260111T140000Z"),
			tb:   TieNewest,
			want: edit(mergeEvent, loc, "LOCATION:Room 1.01", lastMod, "LAST-MODIFIED:20260111T130000Z"),
			both: []string{"LOCATION"},
		},
		{
			name:   "newest wins by DTSTAMP when there is no LAST-MODIFIED",
			base:   mergeTask,
			server: edit(mergeTask, "PRIORITY:5", "PRIORITY:1"),
			device: edit(mergeTask, "PRIORITY:5", "PRIORITY:9", "DTSTAMP:20260110T090000Z", "DTSTAMP:20260111T090000Z"),
			tb:     TieNewest,
			want: edit(mergeTask, "PRIORITY:5", "PRIORITY:9",
				"END:VTODO", "LAST-MODIFIED:20260111T090000Z\nEND:VTODO"),
			both: []string{"PRIORITY"},
		},
		{
			name:   "device deleted a field the server did not touch: removed",
			base:   mergeCard,
			server: edit(mergeCard, cell, "TEL;TYPE=CELL:+49 170 7654321"),
			device: edit(mergeCard, "URL:https://example.com/team/anna", ""),
			want: edit(mergeCard, cell, "TEL;TYPE=CELL:+49 170 7654321",
				"URL:https://example.com/team/anna", ""),
		},
		{
			name:   "device deleted a field the server changed: tie-break (device)",
			base:   mergeCard,
			server: edit(mergeCard, "URL:https://example.com/team/anna", "URL:https://example.com/anna"),
			device: edit(mergeCard, "URL:https://example.com/team/anna", ""),
			tb:     TieDevice,
			want:   edit(mergeCard, "URL:https://example.com/team/anna", ""),
			both:   []string{"URL"},
		},
		{
			name:   "server added a field, device changed another: both kept",
			base:   mergeCard,
			server: edit(mergeCard, "TITLE:Head of Sales", "TITLE:Head of Sales\nNICKNAME:Annie"),
			device: edit(mergeCard, note, "NOTE:Call after 10."),
			want:   edit(mergeCard, "TITLE:Head of Sales", "TITLE:Head of Sales\nNICKNAME:Annie", note, "NOTE:Call after 10."),
		},
		{
			name:   "device added an alarm, server moved the room: both kept, exception and VTIMEZONE stay",
			base:   mergeEvent,
			server: edit(mergeEvent, loc, "LOCATION:Room 1.01"),
			device: edit(mergeEvent, "DESCRIPTION:Weekly sync of the sales team.", "DESCRIPTION:Weekly sync of the sales team.\n"+alarm),
			want: edit(mergeEvent, loc, "LOCATION:Room 1.01",
				"DESCRIPTION:Weekly sync of the sales team.", "DESCRIPTION:Weekly sync of the sales team.\n"+alarm),
		},
		{
			name: "device changed the alarm, server changed the summary",
			base: edit(mergeEvent, "DESCRIPTION:Weekly sync of the sales team.", "DESCRIPTION:Weekly sync of the sales team.\n"+alarm),
			server: edit(mergeEvent, "SUMMARY:Team meeting", "SUMMARY:Sales team meeting",
				"DESCRIPTION:Weekly sync of the sales team.", "DESCRIPTION:Weekly sync of the sales team.\n"+alarm),
			device: edit(mergeEvent, "RRULE:FREQ=WEEKLY;BYDAY=MO", "RRULE:FREQ=WEEKLY;BYDAY=MO\n"+strings.Replace(alarm, "-PT15M", "-PT1H", 1)),
			want: edit(mergeEvent, "SUMMARY:Team meeting", "SUMMARY:Sales team meeting",
				"DESCRIPTION:Weekly sync of the sales team.", "DESCRIPTION:Weekly sync of the sales team.\n"+strings.Replace(alarm, "-PT15M", "-PT1H", 1)),
		},
		{
			name:   "task: server moved the due date, device completed it",
			base:   mergeTask,
			server: edit(mergeTask, "DUE;VALUE=DATE:20260115", "DUE;VALUE=DATE:20260120"),
			device: edit(mergeTask, "STATUS:NEEDS-ACTION", "STATUS:COMPLETED\nCOMPLETED:20260111T163000Z\nPERCENT-COMPLETE:100"),
			want: edit(mergeTask, "DUE;VALUE=DATE:20260115", "DUE;VALUE=DATE:20260120",
				"STATUS:NEEDS-ACTION", "STATUS:COMPLETED", "END:VTODO", "COMPLETED:20260111T163000Z\nPERCENT-COMPLETE:100\nEND:VTODO"),
		},
		{
			name:   "device added a second phone number (TEL as one field), server changed email",
			base:   mergeCard,
			server: edit(mergeCard, email, "EMAIL;TYPE=INTERNET,WORK:anna@example.com"),
			device: edit(mergeCard, "TEL;TYPE=WORK,VOICE:+49 30 1234567", "TEL;TYPE=HOME:+49 30 7777777\nTEL;TYPE=WORK,VOICE:+49 30 1234567"),
			want: edit(mergeCard, email, "EMAIL;TYPE=INTERNET,WORK:anna@example.com",
				cell, "TEL;TYPE=CELL:+49 170 1234567\nTEL;TYPE=HOME:+49 30 7777777"),
		},
		{
			name:   "TEL changed on both: whole field by tie-break, no union",
			base:   mergeCard,
			server: edit(mergeCard, cell, cell+"\nTEL;TYPE=FAX:+49 30 1234568"),
			device: edit(mergeCard, cell, cell+"\nTEL;TYPE=HOME:+49 30 7777777"),
			tb:     TieDevice,
			want:   edit(mergeCard, cell, cell+"\nTEL;TYPE=HOME:+49 30 7777777"),
			both:   []string{"TEL"},
		},
		{
			name:   "grouped email changed on the device keeps its group",
			base:   mergeCard,
			server: edit(mergeCard, "TITLE:Head of Sales", "TITLE:Sales Director"),
			device: edit(mergeCard, email, "", "item1.EMAIL;TYPE=INTERNET:anna@example.org", "item1.EMAIL;TYPE=INTERNET:anna@example.net"),
			want: edit(mergeCard, "TITLE:Head of Sales", "TITLE:Sales Director",
				email, "item1.EMAIL;TYPE=INTERNET:anna@example.net", "item1.EMAIL;TYPE=INTERNET:anna@example.org", ""),
		},
		{
			name: "base from a differently written version (folding, parameter order and case, QP, order) still matches",
			base: crlfText(`
BEGIN:VCARD
VERSION:3.0
UID:6f1c2a9e-3b1d-4c55-9d1e-0a7f3c2b9e41
FN:Dr. Anna Maria Example
N:Example;Anna;Maria;Dr.;
TEL;TYPE=work;TYPE=voice:+49 30 1234567
TEL;type=cell:+49 170 1234567
EMAIL;TYPE=WORK,INTERNET:anna.example@example.com
item7.EMAIL;TYPE=internet:anna@example.org
item7.X-ABLabel:_$!<Other>!$_
ORG:Example GmbH;Sales
TITLE:Head of Sales
ADR;TYPE=WORK;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:;;Hauptstra=C3=9Fe 1;Berlin;;10115;Germany
BDAY:1985-04-12
NOTE:Met at the trade fair in Hannover\, prefers email
  over phone.
URL:https://example.com/team/anna
CATEGORIES:Customers,Berlin
REV:2025-12-01T09:00:00Z
END:VCARD
`),
			server: edit(mergeCard, cell, "TEL;TYPE=CELL:+49 170 7654321"),
			device: edit(mergeCard, "ADR;TYPE=WORK:;;Hauptstraße 1;Berlin;;10115;Germany", "ADR;TYPE=WORK:;;Hauptstraße 2;Berlin;;10115;Germany",
				email, "EMAIL;TYPE=INTERNET,WORK:anna@example.com", note, "NOTE:Prefers email."),
			tb: TieServer,
			want: edit(mergeCard, cell, "TEL;TYPE=CELL:+49 170 7654321",
				"ADR;TYPE=WORK:;;Hauptstraße 1;Berlin;;10115;Germany", "ADR;TYPE=WORK:;;Hauptstraße 2;Berlin;;10115;Germany",
				email, "EMAIL;TYPE=INTERNET,WORK:anna@example.com", note, "NOTE:Prefers email."),
		},
		{
			name:   "no base kept: differing fields go by the tie-break, one-sided fields stay",
			server: edit(mergeCard, note, "NOTE:Server note."),
			device: edit(mergeCard, note, "NOTE:Device note.", "TITLE:Head of Sales", "TITLE:Head of Sales\nNICKNAME:Annie"),
			tb:     TieDevice,
			want:   edit(mergeCard, note, "NOTE:Device note.", "END:VCARD", "NICKNAME:Annie\nEND:VCARD"),
			both:   []string{"NOTE"},
		},
		{
			name:   "server LF line ends: the result is CRLF",
			base:   mergeCard,
			server: strings.ReplaceAll(mergeCard, "\r\n", "\n"),
			device: edit(mergeCard, note, "NOTE:Device note."),
			want:   edit(mergeCard, note, "NOTE:Device note."),
		},
		{
			name:   "device sends garbage: server unchanged",
			base:   mergeCard,
			server: edit(mergeCard, note, "NOTE:Server note."),
			device: "BEGIN:VCARD\r\nFN:x\r\nBEGIN:VALARM\r\nEND:VCARD\r\n",
			want:   edit(mergeCard, note, "NOTE:Server note."),
		},
		{
			name:   "event against task: server unchanged",
			base:   mergeEvent,
			server: mergeEvent,
			device: mergeTask,
			tb:     TieDevice,
			want:   mergeEvent,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var base Fingerprint
			if tt.base != "" {
				base = FingerprintOf([]byte(tt.base))
			}
			got, both := Merge3(base, []byte(tt.server), []byte(tt.device), tt.tb)
			if string(got) != tt.want {
				t.Errorf("merged:\n%s\nwant:\n%s", got, tt.want)
			}
			if !slices.Equal(both, tt.both) {
				t.Errorf("both = %q, want %q", both, tt.both)
			}
		})
	}
}

func TestMerge3Garbage(t *testing.T) {
	for _, server := range []string{"", "garbage", "BEGIN:VCARD\r\nFN:unterminated\r\n", "BEGIN:VJOURNAL\r\nEND:VJOURNAL\r\n"} {
		got, both := Merge3(FingerprintOf([]byte(mergeCard)), []byte(server), []byte(mergeCard), TieDevice)
		if string(got) != server || both != nil {
			t.Errorf("server %q: got %q, %q; want the server unchanged", server, got, both)
		}
	}
}

func TestFingerprintSize(t *testing.T) {
	fp := FingerprintOf([]byte(mergeCard))
	js, err := json.Marshal(fp)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Fingerprint of a %d-byte contact with %d fields: %d bytes of JSON: %s", len(mergeCard), len(fp), len(js), js)
	if len(fp) != 12 {
		t.Errorf("%d fields, want 12 (bookkeeping left out, TEL and EMAIL one field each)", len(fp))
	}
	if len(js) > 300 {
		t.Errorf("Fingerprint JSON is %d bytes, want at most 300", len(js))
	}
	var back Fingerprint
	if err := json.Unmarshal(js, &back); err != nil || !maps.Equal(back, fp) {
		t.Errorf("JSON round trip: %v, %v", back, err)
	}
	ev := FingerprintOf([]byte(mergeEvent))
	if _, ok := ev["RECURRENCE-ID"]; len(ev) != 6 || ok {
		t.Errorf("event Fingerprint %v: want the 6 fields of the main VEVENT", ev)
	}
	js, _ = json.Marshal(ev)
	t.Logf("Fingerprint of a %d-byte event with %d fields: %d bytes of JSON", len(mergeEvent), len(ev), len(js))
	if FingerprintOf([]byte("garbage")) != nil {
		t.Error("Fingerprint of garbage not nil")
	}
}

func TestDeviceNewer(t *testing.T) {
	card := func(rev string) []byte {
		return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\n" + rev + "END:VCARD\r\n")
	}
	event := func(props string) []byte {
		return []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nRECURRENCE-ID:20260101T100000Z\r\nDTSTAMP:20300101T000000Z\r\nEND:VEVENT\r\n" +
			"BEGIN:VEVENT\r\nSUMMARY:x\r\n" + props + "END:VEVENT\r\nEND:VCALENDAR\r\n")
	}
	tests := []struct {
		name           string
		server, device []byte
		newer, known   bool
	}{
		{"REV extended vs basic", card("REV:2026-01-10T09:00:00Z\r\n"), card("REV:20260110T090001Z\r\n"), true, true},
		{"REV with offset", card("REV:2026-01-10T09:00:00Z\r\n"), card("REV:2026-01-10T10:00:00+01:00\r\n"), false, true},
		{"REV date only", card("REV:2026-01-10\r\n"), card("REV:2026-01-09T23:00:00Z\r\n"), false, true},
		{"REV vCard 4 with fraction", card("REV:20260110T090000Z\r\n"), card("REV:2026-01-10T09:00:00.5Z\r\n"), true, true},
		{"no REV on the device", card("REV:2026-01-10T09:00:00Z\r\n"), card(""), false, false},
		{"REV unreadable", card("REV:yesterday\r\n"), card("REV:2026-01-10T09:00:00Z\r\n"), false, false},
		{"LAST-MODIFIED before DTSTAMP", event("DTSTAMP:20260101T000000Z\r\nLAST-MODIFIED:20260105T000000Z\r\n"),
			event("DTSTAMP:20260110T000000Z\r\nLAST-MODIFIED:20260104T000000Z\r\n"), false, true},
		{"DTSTAMP of the main component, not the exception", event("DTSTAMP:20260101T000000Z\r\n"), event("DTSTAMP:20260102T000000Z\r\n"), true, true},
		{"no times", event(""), event("DTSTAMP:20260102T000000Z\r\n"), false, false},
		{"garbage", []byte("x"), card("REV:2026-01-10T09:00:00Z\r\n"), false, false},
	}
	for _, tt := range tests {
		newer, known := DeviceNewer(tt.server, tt.device)
		if newer != tt.newer || known != tt.known {
			t.Errorf("%s: DeviceNewer = %v, %v; want %v, %v", tt.name, newer, known, tt.newer, tt.known)
		}
	}
}

func FuzzMerge3(f *testing.F) {
	f.Add([]byte(mergeCard), []byte(strings.Replace(mergeCard, "+49 170", "+49 171", 1)), uint8(0))
	f.Add([]byte(mergeEvent), []byte(strings.Replace(mergeEvent, "END:VEVENT", alarm+"\r\nEND:VEVENT", 1)), uint8(1))
	f.Add([]byte(mergeTask), []byte(strings.Replace(mergeTask, "PRIORITY:5", "PRIORITY:1", 1)), uint8(2))
	f.Add([]byte(mergeEvent), []byte(mergeTask), uint8(1))
	f.Add([]byte("BEGIN:VCARD\nFN:a\n\n item1.TEL:1\nEND:VCARD"), []byte("BEGIN:VCARD\r\nTEL:2\r\nBEGIN:X\r\nEND:X\r\nEND:VCARD\r\n"), uint8(1))
	f.Add([]byte("BEGIN:VCARD\r\nN;ENCODING=QUOTED-PRINTABLE:a=\r\nb\r\nEND:FOO\r\nEND:VCARD\r\n"), []byte("garbage"), uint8(2))
	f.Fuzz(func(t *testing.T, x, y []byte, tb uint8) {
		tie := TieBreak(tb % 3)
		got, both := Merge3(FingerprintOf(x), x, x, tie)
		if !SameContent(got, x) || len(both) != 0 {
			t.Fatalf("merging x with itself: both = %q, content changed:\n%q\n%q", both, x, got)
		}
		Merge3(FingerprintOf(y), y, x, tie) // no panic
		Merge3(nil, x, y, tie)
		if !mergeable(parseDoc(x), parseDoc(y)) {
			return
		}
		// Against the server's base, everything that differs is the
		// device's change; against the device's, the server's.
		for _, c := range []struct {
			base []byte
			want []byte
		}{{x, y}, {y, x}} {
			got, both := Merge3(FingerprintOf(c.base), x, y, tie)
			if len(both) != 0 {
				t.Fatalf("changes on one side only reported on both: %q", both)
			}
			if fg, fw := FingerprintOf(got), FingerprintOf(c.want); !maps.Equal(fg, fw) {
				t.Fatalf("merged fields %v, want %v\nserver %q\ndevice %q\nmerged %q", fg, fw, x, y, got)
			}
		}
	})
}
