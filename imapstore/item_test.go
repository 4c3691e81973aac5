package imapstore

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"syncml-imap/internal/vobject"
)

func TestInspectItem(t *testing.T) {
	tests := []struct {
		kind               Kind
		data               string
		subject, file, uid string
		summary            []string
		modified           time.Time
		version            string
	}{
		{
			kind:    KindContacts,
			data:    "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nFN:Jürgen Müller\r\nORG:ACME;Sales\r\nEMAIL;TYPE=work:j@example.org\r\nTEL;TYPE=cell:+49 1\r\nREV:20261124T101112Z\r\nEND:VCARD\r\n",
			subject: "Jürgen Müller", file: "Jürgen Müller.vcf", uid: "u1", version: "3.0",
			summary:  []string{"Name: Jürgen Müller", "Organization: ACME, Sales", "E-mail (work): j@example.org", "Phone (cell): +49 1"},
			modified: time.Date(2026, 11, 24, 10, 11, 12, 0, time.UTC),
		},
		{
			kind:    KindContacts,
			data:    "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Doe;John;;Dr.;\r\nEND:VCARD\r\n",
			subject: "Dr. John Doe", file: "Dr. John Doe.vcf", version: "2.1",
		},
		{
			kind:    KindContacts,
			data:    "BEGIN:VCARD\r\nVERSION:3.0\r\nORG:Only Org\r\nEND:VCARD\r\n",
			subject: "Only Org", file: "Only Org.vcf", version: "3.0",
		},
		{
			kind: KindCalendar,
			data: "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\nRECURRENCE-ID:20261202T090000Z\r\nSUMMARY:moved\r\nEND:VEVENT\r\n" +
				"BEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:Stand-up\r\nDTSTART;TZID=Europe/Berlin:20261201T090000\r\nLOCATION:Room 1\r\nRRULE:FREQ=DAILY\r\nDTSTAMP:20261120T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
			subject: "Stand-up — 2026-12-01 09:00 Europe/Berlin", file: "Stand-up — 2026-12-01 09_00 Europe_Berlin.ics", uid: "e1", version: "2.0",
			summary:  []string{"Summary: Stand-up", "Start: 2026-12-01 09:00 Europe/Berlin", "Location: Room 1", "Repeats: FREQ=DAILY"},
			modified: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC),
		},
		{
			kind:    KindCalendar,
			data:    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e2\r\nSUMMARY:Holiday\r\nDTSTART;VALUE=DATE:20261224\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
			subject: "Holiday — 2026-12-24", file: "Holiday — 2026-12-24.ics", uid: "e2", version: "2.0",
		},
		{
			kind:    KindTasks,
			data:    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t1\r\nSUMMARY:Pay bills\r\nDUE:20261130T170000Z\r\nSTATUS:NEEDS-ACTION\r\nPRIORITY:1\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
			subject: "Pay bills (due 2026-11-30 17:00 UTC)", file: "Pay bills (due 2026-11-30 17_00 UTC).ics", uid: "t1", version: "2.0",
			summary: []string{"Summary: Pay bills", "Due: 2026-11-30 17:00 UTC", "Status: NEEDS-ACTION", "Priority: 1"},
		},
		{
			kind: KindTasks, data: "not a task",
			subject: "(unnamed task)", file: "item.ics",
		},
	}
	for _, tt := range tests {
		t.Run(tt.subject, func(t *testing.T) {
			info := inspectItem(tt.kind, []byte(tt.data))
			if info.Subject != tt.subject || info.Filename != tt.file || info.UID != tt.uid || info.Version != tt.version {
				t.Errorf("got subject %q file %q uid %q version %q\nwant %q %q %q %q",
					info.Subject, info.Filename, info.UID, info.Version, tt.subject, tt.file, tt.uid, tt.version)
			}
			if tt.summary != nil && strings.Join(info.Summary, "\n") != strings.Join(tt.summary, "\n") {
				t.Errorf("summary:\n%s\nwant:\n%s", strings.Join(info.Summary, "\n"), strings.Join(tt.summary, "\n"))
			}
			if !info.Modified.Equal(tt.modified) {
				t.Errorf("modified %v, want %v", info.Modified, tt.modified)
			}
		})
	}
}

func TestCheckItem(t *testing.T) {
	ok := map[Kind]string{
		KindContacts: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:a\r\nEND:VCARD\r\n",
		KindCalendar: "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		KindTasks:    "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:a\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
	}
	for k, d := range ok {
		if err := checkItem(k, []byte(d)); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	bad := []struct {
		kind Kind
		data string
		why  string
	}{
		{KindContacts, "", "no VCARD"},
		{KindContacts, ok[KindCalendar], "want VCARD"},
		{KindContacts, ok[KindContacts] + ok[KindContacts], "2 objects"},
		{KindCalendar, ok[KindTasks], "VTODO in a calendar item"},
		{KindTasks, "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "without VTODO"},
		{KindCalendar, "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:b\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "2 different UIDs"},
	}
	for _, tt := range bad {
		err := checkItem(tt.kind, []byte(tt.data))
		if err == nil || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("checkItem(%s, %q) = %v, want error containing %q", tt.kind, tt.data, err, tt.why)
		}
	}
}

func TestGUIDs(t *testing.T) {
	a, b := newGUID(), newGUID()
	if a == b || len(a) != 36 || !validGUID(a) {
		t.Fatalf("newGUID: %q %q", a, b)
	}
	if _, ok := uuidBytes(a); !ok {
		t.Errorf("newGUID %q is not a canonical UUID", a)
	}
	if derivedGUID(KindContacts, []byte("x")) != derivedGUID(KindContacts, []byte("x")) {
		t.Error("derivedGUID not deterministic")
	}
	if derivedGUID(KindContacts, []byte("x")) == derivedGUID(KindCalendar, []byte("x")) {
		t.Error("derivedGUID ignores kind")
	}
	for _, s := range []string{"", "a b", "a\"b", "ä", strings.Repeat("a", 201)} {
		if validGUID(s) {
			t.Errorf("validGUID(%q) = true", s)
		}
	}
}

// TestInspectBeforeEnsureUID: Put reads what a message shows from the
// item as it came, before EnsureUID adds a UID; that must be what the
// item with its UID shows.
func TestInspectBeforeEnsureUID(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		data []byte
	}{
		{KindContacts, vcard("", "No Uid")},
		{KindContacts, []byte("BEGIN:VCARD\r\nVERSION:2.1\r\nN:Doe;John\r\nTEL;CELL:+1 555\r\nREV:20261120T080000Z\r\nEND:VCARD\r\n")},
		{KindCalendar, []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART:20261201T090000Z\r\nSUMMARY:Meeting\r\nLAST-MODIFIED:20261120T080000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")},
		{KindTasks, []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nSUMMARY:Task\r\nDUE:20261201T090000Z\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")},
		{KindCalendar, event("has-uid", "With UID")},
	} {
		with, _ := vobject.EnsureUID(tc.data, tc.kind.component(), "the-id")
		want, got := inspectItem(tc.kind, with), inspectObjects(tc.kind, vobject.Parse(tc.data))
		want.UID, got.UID = "", ""
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %q: before EnsureUID %+v, after %+v", tc.kind, tc.data, got, want)
		}
	}
}
