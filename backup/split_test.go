package backup

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"syncml-imap/internal/vobject"
	"syncml-imap/pim"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// mainComp is the item's vCard, or its main event or to-do.
func mainComp(t testing.TB, it *Item) *vobject.Object {
	t.Helper()
	objs := vobject.Parse(it.Data)
	if len(objs) != 1 {
		t.Fatalf("item of line %d: %d objects", it.Line, len(objs))
	}
	if objs[0].Name == "VCARD" {
		return objs[0]
	}
	for _, c := range objs[0].Children {
		if (c.Name == "VEVENT" || c.Name == "VTODO") && c.Prop("RECURRENCE-ID") == nil {
			return c
		}
	}
	t.Fatalf("item of line %d has no main component:\n%s", it.Line, it.Data)
	return nil
}

func children(it *Item, name string) []*vobject.Object {
	var out []*vobject.Object
	for _, o := range vobject.Parse(it.Data) {
		for _, c := range o.Children {
			if c.Name == name {
				out = append(out, c)
			}
		}
	}
	return out
}

func countDB(items []*Item, db pim.Kind) int {
	n := 0
	for _, it := range items {
		if it.DB == db {
			n++
		}
	}
	return n
}

func problemsText(ps []*Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Error() + "\n")
	}
	return b.String()
}

// TestSplitFixtures reads files as Outlook, Thunderbird, Google and Apple
// export them.
func TestSplitFixtures(t *testing.T) {
	for _, tc := range []struct {
		file                      string
		contacts, calendar, tasks int
		lines                     []int // the items' first lines
		check                     func(t *testing.T, items []*Item)
	}{
		{file: "google-contacts.vcf", contacts: 5, lines: []int{1, 24, 35, 46, 55},
			check: func(t *testing.T, items []*Item) {
				anna := string(items[0].Data)
				for _, want := range []string{"item1.EMAIL;TYPE=INTERNET:anna@verein.example", "item1.X-ABLabel:Verein",
					"item3.X-ABLabel:Ferienhaus", "ADR;TYPE=HOME:;;Hauptstraße 1;Berlin;;10115;DE", `item4.URL:https\://anna.example.com`} {
					if !strings.Contains(anna, want) {
						t.Errorf("Anna lacks %q:\n%s", want, anna)
					}
				}
				if v := mainComp(t, items[2]).PropValue("NOTE"); v != "会议后联系" {
					t.Errorf("Chen's note %q", v)
				}
			}},
		{file: "apple-contacts.vcf", contacts: 3, lines: []int{1, 35, 47},
			check: func(t *testing.T, items []*Item) {
				j := mainComp(t, items[0])
				photo := j.Prop("PHOTO")
				if photo == nil || photo.Params["ENCODING"] != "b" || !strings.HasPrefix(photo.Value, "/9j/4") || len(photo.Value) < 900 {
					t.Errorf("the photo did not survive: %+v", photo)
				}
				if j.PropValue("X-ABUID") != "5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE:ABPerson" {
					t.Errorf("X-ABUID %q", j.PropValue("X-ABUID"))
				}
				if fn := mainComp(t, items[2]).PropValue("FN"); fn != "Søren Østergaard" {
					t.Errorf("FN %q", fn)
				}
			}},
		{file: "outlook-contacts.vcf", contacts: 3, lines: []int{1, 21, 38},
			check: func(t *testing.T, items []*Item) {
				j := mainComp(t, items[0])
				for prop, want := range map[string]string{
					"VERSION": "3.0", "FN": "Jürgen Müller", "TITLE": "Geschäftsführer",
					"NOTE":  "Bestellt jeden Freitag. Preis: 20 € pro Kiste.\nZweite Zeile: äöü.",
					"LABEL": "Schloßstraße 5\nMünchen 80331\nDeutschland",
				} {
					if got := j.PropValue(prop); got != want {
						t.Errorf("%s = %q, want %q", prop, got, want)
					}
				}
				a := mainComp(t, items[1])
				if p := a.Prop("PHOTO"); p == nil || !strings.HasPrefix(p.Value, "/9j/4") {
					t.Errorf("the 2.1 photo did not survive:\n%s", items[1].Data)
				}
				if got := mainComp(t, items[2]).PropValue("NOTE"); got != "Likes “smart quotes” and – dashes." {
					t.Errorf("Windows-1252 quotes: %q", got)
				}
			}},
		{file: "thunderbird.ics", calendar: 3, tasks: 1, lines: []int{40, 72, 83, 94},
			check: func(t *testing.T, items []*Item) {
				meeting := items[0]
				if n := len(children(meeting, "VEVENT")); n != 2 {
					t.Errorf("the series and its exception are %d events, want 2 in one item:\n%s", n, meeting.Data)
				}
				zones := children(meeting, "VTIMEZONE")
				if len(zones) != 1 || zones[0].PropValue("TZID") != "Europe/Berlin" {
					t.Errorf("the meeting's zones: %d", len(zones))
				}
				if z := children(items[1], "VTIMEZONE"); len(z) != 0 {
					t.Errorf("an all-day event got %d VTIMEZONEs", len(z))
				}
				if z := children(items[2], "VTIMEZONE"); len(z) != 1 || z[0].PropValue("TZID") != "America/New_York" {
					t.Errorf("the New York call's zones: %v", z)
				}
				todo := items[3]
				if todo.DB != "tasks" || len(children(todo, "VTIMEZONE")) != 1 || mainComp(t, todo).PropValue("SUMMARY") != "Steuererklärung abgeben" {
					t.Errorf("the to-do:\n%s", todo.Data)
				}
				if bytes.Contains(meeting.Data, []byte("METHOD")) {
					t.Error("METHOD kept")
				}
			}},
		{file: "google-calendar.ics", calendar: 130,
			check: func(t *testing.T, items []*Item) {
				series := items[5]
				if n := len(children(series, "VEVENT")); n != 2 {
					t.Errorf("the monthly series has %d events, want 2 (with its moved one)", n)
				}
				for i, it := range items {
					if bytes.Contains(it.Data, []byte("METHOD:PUBLISH")) {
						t.Fatalf("item %d keeps METHOD", i)
					}
					z := len(children(it, "VTIMEZONE"))
					if uses := bytes.Contains(it.Data, []byte("TZID=Europe/Berlin")); uses != (z == 1) {
						t.Fatalf("item %d: %d VTIMEZONEs, refers to Berlin: %t", i, z, uses)
					}
				}
			}},
		{file: "outlook.vcs", calendar: 2, tasks: 1, lines: []int{6, 17, 25},
			check: func(t *testing.T, items []*Item) {
				m := mainComp(t, items[0])
				if m.PropValue("LOCATION") != "Besprechungsraum München" || m.PropValue("DESCRIPTION") != "Agenda:\n1. Budget\n2. Planung Q3" {
					t.Errorf("converted event:\n%s", items[0].Data)
				}
				if v := vobject.Parse(items[0].Data)[0].PropValue("VERSION"); v != "2.0" {
					t.Errorf("VERSION %q, want 2.0", v)
				}
				if got := mainComp(t, items[1]).PropValue("RRULE"); got != "FREQ=YEARLY" {
					t.Errorf("birthday RRULE %q", got)
				}
				if items[2].DB != "tasks" || mainComp(t, items[2]).PropValue("STATUS") != "NEEDS-ACTION" {
					t.Errorf("to-do:\n%s", items[2].Data)
				}
			}},
		{file: "mixed.vcf", contacts: 9, lines: []int{1, 8, 14, 21, 28, 34, 40, 48, 55},
			check: func(t *testing.T, items []*Item) {
				// A 4.0 card is stored as 3.0, with all it holds.
				if c := mainComp(t, items[0]); c.PropValue("VERSION") != "3.0" || c.PropValue("EMAIL") != "vera@example.net" ||
					c.PropValue("UID") != "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1" {
					t.Errorf("the 4.0 card became:\n%s", items[0].Data)
				}
				if v := mainComp(t, items[1]).PropValue("VERSION"); v != "3.0" {
					t.Errorf("the 2.1 card became %q", v)
				}
				if fn := mainComp(t, items[6]).PropValue("FN"); fn != "Dora Doppel" {
					t.Errorf("folded FN %q", fn)
				}
				if fn := mainComp(t, items[8]).PropValue("FN"); fn != "Björn Bär" {
					t.Errorf("ISO-8859-1 FN %q", fn)
				}
			}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			d := Split(readFixture(t, tc.file))
			if len(d.Problems) > 0 {
				t.Errorf("problems:\n%s", problemsText(d.Problems))
			}
			if c, e, k := countDB(d.Items, "contacts"), countDB(d.Items, "calendar"), countDB(d.Items, "tasks"); c != tc.contacts || e != tc.calendar || k != tc.tasks {
				t.Fatalf("%d contacts, %d events, %d tasks; want %d, %d, %d", c, e, k, tc.contacts, tc.calendar, tc.tasks)
			}
			if tc.lines != nil {
				var lines []int
				for _, it := range d.Items {
					lines = append(lines, it.Line)
				}
				if !slicesEqual(lines, tc.lines) {
					t.Errorf("lines %v, want %v", lines, tc.lines)
				}
			}
			for _, it := range d.Items {
				if err := checkObject(it.DB, it.Data); err != nil {
					t.Errorf("item of line %d: %v", it.Line, err)
				}
			}
			tc.check(t, d.Items)
		})
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSplitBroken: broken records are named by their line and skipped,
// the rest is read.
func TestSplitBroken(t *testing.T) {
	for _, tc := range []struct {
		file     string
		lines    []int
		problems []string
	}{
		{"broken.vcf", []int{1, 10, 22}, []string{
			"line 6: vCard without END:VCARD, skipped",
			"line 16: vCard without BEGIN:VCARD (to line 18), skipped",
			"line 19: empty vCard, skipped",
			"line 28: vCard without END:VCARD, skipped",
		}},
		{"broken.ics", []int{4, 25}, []string{
			"line 9: event (VEVENT) without END:VEVENT, skipped",
			"line 13: event (VEVENT): BEGIN:VALARM of line 17 without END:VALARM, skipped",
			"line 21: journal entry (VJOURNAL) skipped: only events and to-dos are kept",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			d := Split(readFixture(t, tc.file))
			var lines []int
			for _, it := range d.Items {
				lines = append(lines, it.Line)
			}
			if !slicesEqual(lines, tc.lines) {
				t.Errorf("items at lines %v, want %v", lines, tc.lines)
			}
			if got, want := problemsText(d.Problems), strings.Join(tc.problems, "\n")+"\n"; got != want {
				t.Errorf("problems:\n%s\nwant:\n%s", got, want)
			}
			if d.Bad() != len(tc.problems) {
				t.Errorf("Bad() = %d", d.Bad())
			}
		})
	}
	// The stray soft break at the end of a quoted-printable value does not
	// swallow END:VCARD.
	d := Split(readFixture(t, "broken.vcf"))
	if note := mainComp(t, d.Items[2]).PropValue("NOTE"); note != "ends with a stray soft break" {
		t.Errorf("NOTE %q", note)
	}
}

// TestSplitLineEnds: the same file with CRLF, LF, CR, a byte order mark
// or in UTF-16 gives the same items on the same lines.
func TestSplitLineEnds(t *testing.T) {
	base := string(readFixture(t, "thunderbird.ics"))
	lf := strings.ReplaceAll(base, "\r\n", "\n")
	utf16le := func(s string) []byte {
		out := []byte{0xff, 0xfe}
		for _, u := range utf16.Encode([]rune(s)) {
			out = append(out, byte(u), byte(u>>8))
		}
		return out
	}
	want := Split([]byte(base))
	for name, data := range map[string][]byte{
		"LF":       []byte(lf),
		"CR":       []byte(strings.ReplaceAll(lf, "\n", "\r")),
		"BOM":      append([]byte("\xef\xbb\xbf"), lf...),
		"UTF-16LE": utf16le(lf),
		"no final": []byte(strings.TrimSuffix(lf, "\n")),
	} {
		got := Split(data)
		if len(got.Problems) > 0 || len(got.Items) != len(want.Items) {
			t.Errorf("%s: %d items, problems:\n%s", name, len(got.Items), problemsText(got.Problems))
			continue
		}
		for i := range got.Items {
			if got.Items[i].Line != want.Items[i].Line || !bytes.Equal(got.Items[i].Data, want.Items[i].Data) {
				t.Errorf("%s: item %d differs (line %d, want %d)", name, i, got.Items[i].Line, want.Items[i].Line)
			}
		}
	}
}

// TestSplitCalendars: components are grouped by UID across the
// VCALENDARs of a file; a second main component with a UID already seen
// is an item of its own (Import finds it a duplicate).
func TestSplitCalendars(t *testing.T) {
	file := strings.Join([]string{
		"BEGIN:VCALENDAR", "VERSION:2.0", "METHOD:REQUEST",
		"BEGIN:VTIMEZONE", "TZID:Europe/Paris", "BEGIN:STANDARD", "DTSTART:19701025T030000", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "END:STANDARD", "END:VTIMEZONE",
		"BEGIN:VEVENT", "UID:a", "SUMMARY:Series", "DTSTART;TZID=Europe/Paris:20240101T090000", "RRULE:FREQ=DAILY", "END:VEVENT", // line 12
		"END:VCALENDAR",
		"BEGIN:VCALENDAR", "VERSION:2.0", // another file, concatenated
		"BEGIN:VEVENT", "UID:a", "SUMMARY:Moved", "RECURRENCE-ID;TZID=Europe/Paris:20240102T090000", "DTSTART;TZID=Europe/Paris:20240102T100000", "END:VEVENT", // line 21
		"BEGIN:VEVENT", "UID:a", "SUMMARY:Series again", "DTSTART;TZID=Europe/Paris:20240101T090000", "END:VEVENT", // line 27
		"BEGIN:VEVENT", "SUMMARY:No UID", "DTSTART:20240105T100000Z", "END:VEVENT", // line 32
		"BEGIN:VEVENT", "SUMMARY:No UID either", "DTSTART:20240106T100000Z", "END:VEVENT", // line 36
		"BEGIN:VTODO", "UID:a", "SUMMARY:A to-do with the same UID", "END:VTODO", // line 40
		"END:VCALENDAR",
	}, "\n")
	d := Split([]byte(file))
	if len(d.Problems) > 0 {
		t.Fatalf("problems:\n%s", problemsText(d.Problems))
	}
	var lines []int
	for _, it := range d.Items {
		lines = append(lines, it.Line)
	}
	if !slicesEqual(lines, []int{12, 27, 32, 36, 40}) {
		t.Fatalf("items at lines %v", lines)
	}
	series := d.Items[0]
	if n := len(children(series, "VEVENT")); n != 2 {
		t.Errorf("the series has %d events, want 2:\n%s", n, series.Data)
	}
	if z := children(series, "VTIMEZONE"); len(z) != 1 {
		t.Errorf("the series has %d zones", len(z))
	}
	// The second main component finds the zone in the file's other
	// VCALENDAR.
	if z := children(d.Items[1], "VTIMEZONE"); len(z) != 1 {
		t.Errorf("the repeated series has %d zones:\n%s", len(z), d.Items[1].Data)
	}
	if d.Items[4].DB != "tasks" {
		t.Errorf("the to-do went to %s", d.Items[4].DB)
	}
}

// TestSplitOdd: what is not a record is reported, never fatal.
func TestSplitOdd(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		items    int
		problems string
	}{
		{"empty", "", 0, ""},
		{"blank lines and ^Z", "\n\r\n  \n\x1a", 0, ""},
		{"junk", "hello\nworld\n", 0, "line 1: text outside any BEGIN/END block (to line 2), skipped\n"},
		{"vnote", "BEGIN:VNOTE\nBODY:x\nEND:VNOTE\n", 0, "line 1: VNOTE is not a contact, event or task, skipped\n"},
		{"bare event", "BEGIN:VEVENT\nSUMMARY:x\nEND:VEVENT\n", 0, "line 1: event (VEVENT) outside any VCALENDAR, skipped\n"},
		{"calendar cut short", "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:1\nSUMMARY:x\nEND:VEVENT\n", 1,
			"line 1: VCALENDAR without END:VCALENDAR (the file cut short?)\n"},
		{"vcard after an open calendar", "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VCARD\nVERSION:3.0\nFN:x\nEND:VCARD\n", 1,
			"line 1: VCALENDAR without END:VCALENDAR (the file cut short?)\n"},
		{"agent", "BEGIN:VCARD\nVERSION:2.1\nFN:Boss\nAGENT:\nBEGIN:VCARD\nVERSION:2.1\nFN:Assistant\nEND:VCARD\nEND:VCARD\n", 1, ""},
		{"vcal 1.0 without VERSION", "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nDTSTART:20240101T100000Z\nDALARM:20240101T095000Z\nEND:VEVENT\nEND:VCALENDAR\n", 1, ""},
	} {
		d := Split([]byte(tc.in))
		if len(d.Items) != tc.items || problemsText(d.Problems) != tc.problems {
			t.Errorf("%s: %d items, problems:\n%s\nwant %d items and:\n%s", tc.name, len(d.Items), problemsText(d.Problems), tc.items, tc.problems)
		}
	}
	// vCalendar 1.0 told by its properties: the alarm became a VALARM.
	d := Split([]byte("BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nDTSTART:20240101T100000Z\nDALARM:20240101T095000Z\nEND:VEVENT\nEND:VCALENDAR\n"))
	if len(children(&Item{Data: d.Items[0].Data}, "VEVENT")) != 1 || !bytes.Contains(d.Items[0].Data, []byte("BEGIN:VALARM")) {
		t.Errorf("vCalendar 1.0 not converted:\n%s", d.Items[0].Data)
	}
}
