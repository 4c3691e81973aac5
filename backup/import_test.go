package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syncml-imap/pim"
	"testing"
)

func mustImport(t *testing.T, st Store, db pim.Kind, file []byte, opts *ImportOptions) *ImportData {
	t.Helper()
	d, err := Import(context.Background(), st, db, file, opts)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return d
}

type counts struct{ imported, unchanged, differs, duplicates, bad int }

func countsOf(d *ImportData, db pim.Kind) counts {
	return counts{d.Count(db, Imported), d.Count(db, Unchanged), d.Count(db, Differs), d.Count(db, Duplicate), d.Bad()}
}

// TestImportTwice: the second import of a file imports nothing; records
// repeated inside the file are found.
func TestImportTwice(t *testing.T) {
	st := newMemStore()
	file := readFixture(t, "mixed.vcf")
	d := mustImport(t, st, "contacts", file, nil)
	// 9 records: Dora again (same content, no UID) and Uwe's UID again
	// (other content) are duplicates; the two John Smiths differ and are
	// both kept.
	if c := countsOf(d, "contacts"); c != (counts{imported: 7, duplicates: 2}) || d.Written != 7 || st.count("contacts") != 7 {
		t.Fatalf("first import: %+v, written %d, stored %d", c, d.Written, st.count("contacts"))
	}
	for _, r := range d.Records {
		switch r.Line {
		case 40:
			if r.Outcome != Duplicate || r.Of != 14 || !r.Same || r.Name != "Dora Doppel" {
				t.Errorf("Dora again: %+v", r)
			}
		case 48:
			if r.Outcome != Duplicate || r.Of != 21 || r.Same {
				t.Errorf("Uwe again: %+v", r)
			}
		default:
			if r.Outcome != Imported || r.ID == "" {
				t.Errorf("line %d: %+v", r.Line, r)
			}
		}
	}

	d = mustImport(t, st, "contacts", file, nil)
	if c := countsOf(d, "contacts"); c != (counts{unchanged: 7, duplicates: 2}) || d.Written != 0 || st.count("contacts") != 7 {
		t.Errorf("second import: %+v, written %d, stored %d", c, d.Written, st.count("contacts"))
	}
	// Each John Smith found his own twin.
	seen := map[string]bool{}
	for _, r := range d.Records {
		if r.Name == "John Smith" {
			seen[r.Existing] = true
		}
	}
	if len(seen) != 2 {
		t.Errorf("the John Smiths matched %v", seen)
	}
}

// TestImportDiffers: the same contact with other content is reported
// and not replaced.
func TestImportDiffers(t *testing.T) {
	st := newMemStore()
	mustImport(t, st, "contacts", readFixture(t, "google-contacts.vcf"), nil)
	changed := bytes.Replace(readFixture(t, "google-contacts.vcf"), []byte("+49 170 1234567"), []byte("+49 170 7654321"), 1)
	d := mustImport(t, st, "contacts", changed, nil)
	if c := countsOf(d, "contacts"); c != (counts{unchanged: 4, differs: 1}) {
		t.Errorf("counts %+v", c)
	}
	if r := d.Records[0]; r.Outcome != Differs || r.Name != "Anna Schmidt" || r.Existing == "" {
		t.Errorf("Anna: %+v", r)
	}
	if got, _ := st.Get(context.Background(), "contacts", d.Records[0].Existing); !bytes.Contains(got[0].Data, []byte("+49 170 1234567")) {
		t.Error("the mailbox's version was replaced")
	}
}

// TestImportDryRun reads and compares but writes nothing.
func TestImportDryRun(t *testing.T) {
	st := newMemStore()
	mustImport(t, st, "contacts", readFixture(t, "apple-contacts.vcf"), nil)
	file := append(readFixture(t, "apple-contacts.vcf"), readFixture(t, "outlook-contacts.vcf")...)
	d := mustImport(t, st, "contacts", file, &ImportOptions{DryRun: true})
	if c := countsOf(d, "contacts"); c != (counts{imported: 3, unchanged: 3}) || !d.DryRun || d.Written != 0 {
		t.Errorf("dry run: %+v written %d", c, d.Written)
	}
	if st.count("contacts") != 3 || len(st.puts) != 1 {
		t.Errorf("dry run wrote: %d stored, puts %v", st.count("contacts"), st.puts)
	}
}

// TestImportCalendar: to-dos of a calendar file go to tasks, events to
// calendar, whichever of the two is named.
func TestImportCalendar(t *testing.T) {
	for _, db := range []pim.Kind{pim.Calendar, pim.Tasks} {
		st := newMemStore()
		d := mustImport(t, st, db, readFixture(t, "thunderbird.ics"), nil)
		if d.Count("calendar", Imported) != 3 || d.Count("tasks", Imported) != 1 || st.count("calendar") != 3 || st.count("tasks") != 1 {
			t.Errorf("-db %s: %+v %+v; stored %d events, %d tasks", db, countsOf(d, "calendar"), countsOf(d, "tasks"), st.count("calendar"), st.count("tasks"))
		}
		if dbs := fmt.Sprint(d.DBs()); dbs != "[calendar tasks]" {
			t.Errorf("DBs %s", dbs)
		}
	}
	// A vCalendar 1.0 file, twice.
	st := newMemStore()
	mustImport(t, st, "calendar", readFixture(t, "outlook.vcs"), nil)
	d := mustImport(t, st, "calendar", readFixture(t, "outlook.vcs"), nil)
	if d.Count("", Unchanged) != 3 || d.Count("", Imported) != 0 {
		t.Errorf("vCalendar 1.0 again: %+v %+v", countsOf(d, "calendar"), countsOf(d, "tasks"))
	}
}

// TestImportWrongKind: records of the other family are bad, with a hint.
func TestImportWrongKind(t *testing.T) {
	st := newMemStore()
	file := append(readFixture(t, "outlook.vcs"), readFixture(t, "google-contacts.vcf")...)
	d := mustImport(t, st, "contacts", file, nil)
	if c := countsOf(d, "contacts"); c != (counts{imported: 5, bad: 3}) {
		t.Errorf("counts %+v", c)
	}
	if got := problemsText(d.Problems); !strings.Contains(got, "line 6: an event in a contacts import, skipped (import it with -db calendar)") ||
		!strings.Contains(got, "line 25: a to-do in a contacts import") {
		t.Errorf("problems:\n%s", got)
	}
	d = mustImport(t, st, "tasks", file, nil)
	if d.Count("calendar", Imported) != 2 || d.Count("tasks", Imported) != 1 || d.Bad() != 5 ||
		!strings.Contains(problemsText(d.Problems), "a contact in a tasks import, skipped (import it with -db contacts)") {
		t.Errorf("-db tasks: %+v\n%s", countsOf(d, ""), problemsText(d.Problems))
	}
	if _, err := Import(context.Background(), st, "notes", file, nil); err == nil {
		t.Error("unknown database accepted")
	}
}

// TestImportBatches: writes go BatchSize at a time, reads too.
func TestImportBatches(t *testing.T) {
	st := newMemStore()
	var progress []string
	opts := &ImportOptions{Progress: func(stage string, done, total int) {
		progress = append(progress, fmt.Sprintf("%s %d/%d", stage, done, total))
	}}
	d := mustImport(t, st, "calendar", readFixture(t, "google-calendar.ics"), opts)
	if d.Written != 130 || fmt.Sprint(st.puts) != "[100 30]" {
		t.Errorf("written %d in %v", d.Written, st.puts)
	}
	if got := strings.Join(progress, ", "); got != "write calendar 100/130, write calendar 130/130" {
		t.Errorf("progress: %s", got)
	}
	progress = nil
	d = mustImport(t, st, "calendar", readFixture(t, "google-calendar.ics"), opts)
	if d.Count("calendar", Unchanged) != 130 || fmt.Sprint(st.puts) != "[100 30]" {
		t.Errorf("again: %+v, puts %v", countsOf(d, "calendar"), st.puts)
	}
	if got := strings.Join(progress, ", "); got != "read calendar 100/130, read calendar 130/130" {
		t.Errorf("progress: %s", got)
	}

	// A failed write says how far it got.
	st = newMemStore()
	st.fail = errors.New("quota exceeded")
	d, err := Import(context.Background(), st, "calendar", readFixture(t, "google-calendar.ics"), nil)
	if err == nil || !strings.Contains(err.Error(), "quota exceeded") || d == nil || d.Written != 0 {
		t.Errorf("failed write: %v %+v", err, d)
	}
}

// TestImportBroken: a file with broken records imports the rest.
func TestImportBroken(t *testing.T) {
	st := newMemStore()
	d := mustImport(t, st, "contacts", readFixture(t, "broken.vcf"), nil)
	if c := countsOf(d, "contacts"); c != (counts{imported: 3, bad: 4}) || st.count("contacts") != 3 {
		t.Errorf("counts %+v", c)
	}
	if !strings.Contains(problemsText(d.Problems), "line 6: vCard without END:VCARD, skipped") {
		t.Errorf("problems:\n%s", problemsText(d.Problems))
	}
}

// TestImportMatchesByFields: a record without UID matches the mailbox's
// item by name, as a slow sync does, and each item stands for one record.
func TestImportMatchesByFields(t *testing.T) {
	st := newMemStore()
	mustImport(t, st, "contacts", []byte("BEGIN:VCARD\nVERSION:3.0\nUID:x-1\nFN:Kim Lee\nTEL:1\nEND:VCARD\n"), nil)
	d := mustImport(t, st, "contacts", []byte("BEGIN:VCARD\nVERSION:2.1\nFN:Kim Lee\nTEL:1\nEND:VCARD\n"+
		"BEGIN:VCARD\nVERSION:3.0\nFN:Kim Lee\nTEL:2\nEND:VCARD\n"), nil)
	if c := countsOf(d, "contacts"); c != (counts{imported: 1, unchanged: 1}) {
		t.Errorf("counts %+v", c)
	}
	if d.Records[0].Outcome != Unchanged || d.Records[1].Outcome != Imported {
		t.Errorf("outcomes %v %v", d.Records[0].Outcome, d.Records[1].Outcome)
	}
}

// TestImportKeepsUIDsUnique: a record whose UID the mailbox has is not
// imported, even when a record before it (without UID, found by name)
// stands for that item already.
func TestImportKeepsUIDsUnique(t *testing.T) {
	st := newMemStore()
	mustImport(t, st, "contacts", []byte("BEGIN:VCARD\nVERSION:3.0\nUID:x-1\nFN:Kim Lee\nTEL:1\nEND:VCARD\n"), nil)
	d := mustImport(t, st, "contacts", []byte("BEGIN:VCARD\nVERSION:3.0\nFN:Kim Lee\nTEL:1\nEND:VCARD\n"+
		"BEGIN:VCARD\nVERSION:3.0\nUID:x-1\nFN:Kim Lee\nTEL:3\nEND:VCARD\n"), nil)
	if c := countsOf(d, "contacts"); c != (counts{unchanged: 1, differs: 1}) || st.count("contacts") != 1 {
		t.Errorf("counts %+v, stored %d", c, st.count("contacts"))
	}
}

// TestImportVCard40: the cards of a vCard 4.0 export (Thunderbird's) are
// stored as 3.0 with every field.
func TestImportVCard40(t *testing.T) {
	st := newMemStore()
	file := []byte("BEGIN:VCARD\r\nVERSION:4.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\nEMAIL;PREF=1:john@example.com\r\n" +
		"TEL;VALUE=TEXT;TYPE=cell:+49 170 1234567\r\nTEL;TYPE=\"work,voice\";VALUE=uri:tel:+49-30-1234\r\n" +
		"ADR;TYPE=home:;;Street 1;Berlin;;10115;Germany\r\nNOTE:x\r\nUID:tb-1\r\nEND:VCARD\r\n" +
		"BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\nFN:Team\r\nMEMBER:urn:uuid:tb-1\r\nUID:tb-2\r\nEND:VCARD\r\n")
	d := mustImport(t, st, "contacts", file, nil)
	if c := countsOf(d, "contacts"); c != (counts{imported: 2}) {
		t.Fatalf("import: %+v", c)
	}
	items := st.items("contacts")
	for _, it := range items {
		if v := mainComp(t, it).PropValue("VERSION"); v != "3.0" {
			t.Errorf("stored as %q:\n%s", v, it.Data)
		}
	}
	for _, want := range []string{"EMAIL;TYPE=PREF:john@example.com", "TEL;TYPE=CELL:+49 170 1234567", "TEL;TYPE=WORK,VOICE:+49-30-1234",
		"ADR;TYPE=HOME:;;Street 1;Berlin;;10115;Germany", "NOTE:x"} {
		if !bytes.Contains(items[0].Data, []byte("\r\n"+want+"\r\n")) {
			t.Errorf("no %q in\n%s", want, items[0].Data)
		}
	}
	if !bytes.Contains(items[1].Data, []byte("\r\nX-ADDRESSBOOKSERVER-KIND:group\r\n")) ||
		!bytes.Contains(items[1].Data, []byte("\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:tb-1\r\n")) {
		t.Errorf("group card:\n%s", items[1].Data)
	}
}
