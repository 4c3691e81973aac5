package backup

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"syncml-imap/internal/vobject"
	"syncml-imap/pim"
)

// sameItems checks that two sets of items say the same, item by item in
// order (pim.SameContent: the same properties and values, whatever
// the folding, order and encoding).
func sameItems(t *testing.T, what string, got, want []*Item) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d items, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].DB != want[i].DB || !pim.SameContent(got[i].Data, want[i].Data) {
			t.Errorf("%s: item %d differs:\n%s\nwant:\n%s", what, i, got[i].Data, want[i].Data)
		}
	}
}

// TestJoinICal: one VCALENDAR, each VTIMEZONE once, and the file reads
// back into the same items.
func TestJoinICal(t *testing.T) {
	items := Split(readFixture(t, "thunderbird.ics")).Items
	items = append(items, Split(readFixture(t, "google-calendar.ics")).Items...)
	var b bytes.Buffer
	problems, err := Join(&b, FormatICal20, items)
	if err != nil || len(problems) > 0 {
		t.Fatalf("Join: %v %v", err, problems)
	}
	objs := vobject.Parse(b.Bytes())
	if len(objs) != 1 || objs[0].Name != "VCALENDAR" || objs[0].PropValue("VERSION") != "2.0" {
		t.Fatalf("not one VCALENDAR 2.0: %d objects", len(objs))
	}
	count := map[string]int{}
	zones := map[string]int{}
	for _, c := range objs[0].Children {
		count[c.Name]++
		if c.Name == "VTIMEZONE" {
			zones[c.PropValue("TZID")]++
		}
	}
	// 3 Thunderbird events (one with an exception), 1 to-do, 130 Google
	// events (one with an exception).
	if count["VEVENT"] != 3+1+130+1 || count["VTODO"] != 1 || count["VTIMEZONE"] != 2 ||
		zones["Europe/Berlin"] != 1 || zones["America/New_York"] != 1 {
		t.Errorf("components %v, zones %v", count, zones)
	}
	if bytes.Contains(b.Bytes(), []byte("\n\n")) || bytes.Count(b.Bytes(), []byte("\n")) != bytes.Count(b.Bytes(), []byte("\r\n")) {
		t.Error("lines do not all end in CRLF")
	}
	back := Split(b.Bytes())
	if len(back.Problems) > 0 {
		t.Fatalf("reading back: %s", problemsText(back.Problems))
	}
	sameItems(t, "iCalendar round trip", back.Items, items)
}

// TestJoinVCard: vCard 3.0 and 2.1 files read back into the same items.
func TestJoinVCard(t *testing.T) {
	var items []*Item
	for _, f := range []string{"google-contacts.vcf", "apple-contacts.vcf", "outlook-contacts.vcf"} {
		items = append(items, Split(readFixture(t, f)).Items...)
	}
	for _, f := range []Format{FormatVCard30, FormatVCard21} {
		var b bytes.Buffer
		if problems, err := Join(&b, f, items); err != nil || len(problems) > 0 {
			t.Fatalf("Join %s: %v %v", f, err, problems)
		}
		back := Split(b.Bytes())
		if len(back.Problems) > 0 {
			t.Fatalf("%s: reading back: %s", f, problemsText(back.Problems))
		}
		version := map[Format]string{FormatVCard30: "VERSION:3.0", FormatVCard21: "VERSION:2.1"}[f]
		if n := bytes.Count(b.Bytes(), []byte(version+"\r\n")); n != len(items) {
			t.Errorf("%s: %d cards of %s, want %d", f, n, version, len(items))
		}
		if f == FormatVCard30 {
			sameItems(t, string(f), back.Items, items)
			continue
		}
		// vCard 2.1 has no lists in N and ADR components and no
		// groups' labels escaping rules of 3.0; what people read stays.
		for i, it := range back.Items {
			for _, prop := range []string{"FN", "N", "TEL", "NOTE", "ORG"} {
				if got, want := mainComp(t, it).PropValue(prop), mainComp(t, items[i]).PropValue(prop); got != want {
					t.Errorf("%s: item %d: %s = %q, want %q", f, i, prop, got, want)
				}
			}
		}
	}
}

// TestJoinVCal: vCalendar 1.0 keeps the items; one VCALENDAR for items
// of one zone.
func TestJoinVCal(t *testing.T) {
	items := Split(readFixture(t, "thunderbird.ics")).Items[:2] // the Berlin series, the holiday
	var b bytes.Buffer
	if problems, err := Join(&b, FormatVCal10, items); err != nil || len(problems) > 0 {
		t.Fatalf("Join: %v %v", err, problems)
	}
	out := b.String()
	if n := strings.Count(out, "BEGIN:VCALENDAR"); n != 1 || !strings.Contains(out, "VERSION:1.0") || !strings.Contains(out, "TZ:+01") {
		t.Errorf("%d VCALENDARs:\n%s", n, out)
	}
	back := Split(b.Bytes())
	if len(back.Problems) > 0 || len(back.Items) != 2 {
		t.Fatalf("reading back: %d items, %s", len(back.Items), problemsText(back.Problems))
	}
	for i, it := range back.Items {
		for _, prop := range []string{"SUMMARY", "UID", "RRULE", "LOCATION"} {
			if got, want := mainComp(t, it).PropValue(prop), mainComp(t, items[i]).PropValue(prop); got != want {
				t.Errorf("item %d: %s = %q, want %q", i, prop, got, want)
			}
		}
	}
	// The moved meeting comes back as an exception of the series.
	if n := len(children(back.Items[0], "VEVENT")); n != 2 {
		t.Errorf("the series has %d events:\n%s", n, back.Items[0].Data)
	}

	// A New York series needs its own VCALENDAR to keep its zone.
	ny := &Item{DB: "calendar", Data: bytes.Replace(Split(readFixture(t, "thunderbird.ics")).Items[2].Data,
		[]byte("DTEND;"), []byte("RRULE:FREQ=WEEKLY\r\nDTEND;"), 1)}
	b.Reset()
	if _, err := Join(&b, FormatVCal10, append(items, ny)); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "BEGIN:VCALENDAR"); n != 2 || !strings.Contains(b.String(), "TZ:-05") {
		t.Errorf("Berlin and New York series: %d VCALENDARs:\n%s", n, b.String())
	}
}

// TestJoinLeavesOut: an item that is not of the format's kind is left
// out and named.
func TestJoinLeavesOut(t *testing.T) {
	items := []*Item{
		{DB: "contacts", ID: "good", Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\n")},
		{DB: "contacts", ID: "bad", Data: []byte("garbage")},
	}
	var b bytes.Buffer
	problems, err := Join(&b, FormatVCard30, items)
	if err != nil || len(problems) != 1 || problems[0].ID != "bad" || !strings.HasPrefix(problems[0].Error(), "item bad: not a vCard") {
		t.Errorf("Join: %v %v", err, problems)
	}
	if !strings.Contains(b.String(), "FN:A") {
		t.Errorf("the good item is missing:\n%s", b.String())
	}
	if _, err := Join(&b, "sif", items); err == nil {
		t.Error("unknown format accepted")
	}
}

// TestExport: everything in one file, read in batches, with progress.
func TestExport(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	if _, err := Import(ctx, st, "calendar", readFixture(t, "google-calendar.ics"), nil); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	var calls [][2]int
	d, err := Export(ctx, st, "calendar", &b, &ExportOptions{Progress: func(done, total int) { calls = append(calls, [2]int{done, total}) }})
	if err != nil || d.Count != 130 || d.Format != FormatICal20 || len(d.Problems) > 0 {
		t.Fatalf("Export: %+v %v", d, err)
	}
	if len(calls) != 2 || calls[0] != [2]int{100, 130} || calls[1] != [2]int{130, 130} {
		t.Errorf("progress %v", calls)
	}
	sameItems(t, "export", Split(b.Bytes()).Items, st.items("calendar"))

	if _, err := Export(ctx, st, "calendar", &b, &ExportOptions{Format: FormatVCard21}); err == nil || !strings.Contains(err.Error(), `format "vcard21" does not fit calendar`) {
		t.Errorf("vcard21 for calendar: %v", err)
	}
	if _, err := Export(ctx, st, "notes", &b, nil); err == nil {
		t.Error("unknown database accepted")
	}

	// An empty database is an empty file of its kind.
	b.Reset()
	if d, err := Export(ctx, st, "tasks", &b, nil); err != nil || d.Count != 0 || !strings.HasPrefix(b.String(), "BEGIN:VCALENDAR\r\n") {
		t.Errorf("empty tasks: %+v %v %q", d, err, b.String())
	}
	b.Reset()
	if d, err := Export(ctx, st, "contacts", &b, nil); err != nil || d.Count != 0 || b.Len() != 0 {
		t.Errorf("empty contacts: %+v %v %q", d, err, b.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestExportWriteError(t *testing.T) {
	st := newMemStore()
	if _, err := Import(context.Background(), st, "contacts", readFixture(t, "apple-contacts.vcf"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Export(context.Background(), st, "contacts", failWriter{}, nil); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("write error: %v", err)
	}
}

// TestExportVCard40Stored: a vCard 4.0 card in the mailbox (stored before
// cards were converted, or by another program) is exported as 3.0 in a
// vCard 3.0 file: the file is what its label says.
func TestExportVCard40Stored(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	st.ids["contacts"] = []string{"a", "b"}
	st.data["contacts/a"] = []byte("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Vera Vier\r\nEMAIL;PREF=1:vera@example.net\r\n" +
		"TEL;VALUE=uri:tel:+49-30-1\r\nUID:a\r\nEND:VCARD\r\n")
	st.data["contacts/b"] = []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Drei;Dora;;;\r\nFN:Dora Drei\r\nUID:b\r\nEND:VCARD\r\n")
	var b bytes.Buffer
	d, err := Export(ctx, st, "contacts", &b, nil)
	if err != nil || d.Count != 2 || d.Format != FormatVCard30 || len(d.Problems) > 0 {
		t.Fatalf("Export: %+v %v", d, err)
	}
	if n := bytes.Count(b.Bytes(), []byte("\r\nVERSION:3.0\r\n")); n != 2 || bytes.Contains(b.Bytes(), []byte("4.0")) {
		t.Errorf("%d cards of 3.0 in\n%s", n, b.Bytes())
	}
	for _, want := range []string{"EMAIL;TYPE=PREF:vera@example.net", "TEL:+49-30-1"} {
		if !bytes.Contains(b.Bytes(), []byte("\r\n"+want+"\r\n")) {
			t.Errorf("no %q in\n%s", want, b.Bytes())
		}
	}
}

// TestJoinVCalSoftBreakLine: vcalSplit once read the converter's output
// by physical lines, so that a quoted-printable continuation line that
// happened to start with "BEGIN:VEVENT" (a description broken just
// there) counted as a component and the file came out unbalanced; it
// now reads the content lines vobject reads.
func TestJoinVCalSoftBreakLine(t *testing.T) {
	var b bytes.Buffer
	broken := false
	// The length of "a"s that puts the soft break right before BEGIN.
	for n := 0; n < 80 && !broken; n++ {
		desc := "é" + strings.Repeat("a", n) + "BEGIN:VEVENT and more"
		item := &Item{DB: "calendar", ID: "1", Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T100000Z\r\nSUMMARY:s\r\nDESCRIPTION:" + desc + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")}
		b.Reset()
		if problems, err := Join(&b, FormatVCal10, []*Item{item}); err != nil || len(problems) > 0 {
			t.Fatalf("Join: %v %v", err, problems)
		}
		broken = strings.Contains(b.String(), "=\r\nBEGIN:VEVENT")
	}
	if !broken {
		t.Fatalf("the description is never broken where the test needs it:\n%s", b.String())
	}
	objs := vobject.Parse(b.Bytes())
	if len(objs) != 1 || len(objs[0].Children) != 1 || strings.Count(b.String(), "END:VCALENDAR") != 1 {
		t.Fatalf("not one VCALENDAR with one event:\n%s", b.String())
	}
	back := Split(b.Bytes())
	if len(back.Items) != 1 || !strings.Contains(string(back.Items[0].Data), "and more") {
		t.Fatalf("read back: %+v %v", back.Items, back.Problems)
	}
}
