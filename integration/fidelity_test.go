package integration

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"syncml-imap/imapstore"
	"syncml-imap/integration/syncevo"
)

// Items as a groupware server or a mail client keeps them: organizer,
// attendees, URL, transparency, bookkeeping, an alarm; a contact with the
// Apple/Google extras.
const (
	fullEvent = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n" +
		"BEGIN:VEVENT\r\nUID:full-event@test\r\nDTSTAMP:20261101T080000Z\r\nCREATED:20261020T080000Z\r\n" +
		"LAST-MODIFIED:20261101T080000Z\r\nSEQUENCE:2\r\n" +
		"DTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\nSUMMARY:Planning\r\nLOCATION:Room 4\r\n" +
		"ORGANIZER;CN=Alice Boss:mailto:alice@example.org\r\n" +
		"ATTENDEE;CN=Bob;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@example.org\r\n" +
		"ATTENDEE;CN=Carol;ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION:mailto:carol@example.org\r\n" +
		"URL:https://example.org/meetings/planning\r\nTRANSP:OPAQUE\r\n" +
		"BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Planning\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n" +
		"END:VEVENT\r\nEND:VCALENDAR\r\n"
	fullTask = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:full-task@test\r\n" +
		"DTSTAMP:20261101T080000Z\r\nCREATED:20261020T080000Z\r\nLAST-MODIFIED:20261101T080000Z\r\n" +
		"SUMMARY:Write report\r\nDUE:20261215T170000Z\r\nPRIORITY:3\r\nSTATUS:IN-PROCESS\r\nPERCENT-COMPLETE:40\r\n" +
		"URL:https://example.org/report\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
	fullContact = "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.1//EN\r\nUID:full-contact@test\r\n" +
		"N:Appleseed;Johnny;;;\r\nFN:Johnny Appleseed\r\nX-PHONETIC-FIRST-NAME:Dschonni\r\nX-PHONETIC-LAST-NAME:Äppelsied\r\n" +
		"ORG:Example Inc.;\r\nTEL;TYPE=CELL;TYPE=VOICE;TYPE=pref:+49 170 1234567\r\n" +
		"EMAIL;TYPE=INTERNET;TYPE=WORK:johnny@example.org\r\n" +
		"item1.URL;type=pref:https\\://johnny.example.org\r\nitem1.X-ABLabel:_$!<HomePage>!$_\r\n" +
		"item2.X-ABDATE;type=pref:2010-06-01\r\nitem2.X-ABLabel:_$!<Anniversary>!$_\r\n" +
		"X-JABBER;type=HOME:johnny@jabber.example.org\r\nX-ANNIVERSARY:2010-06-01\r\n" +
		"NOTE:Met at the fair\r\nEND:VCARD\r\n"
)

// TestPhoneEditKeepsFields: items the mailbox holds in full go to the
// phone; the phone edits one field of each; the mailbox afterwards holds
// the edit and every field it had. The real client shows both halves of
// the rule: it sends ATTENDEE, ORGANIZER, TRANSP and X-JABBER only since
// the server's CTCap lists them, and it announces URL and X-* but keeps
// no URL of an event, no X-PHONETIC-* and sends back no X-ABLabel: what it
// never sent is not taken for a deletion.
func TestPhoneEditKeepsFields(t *testing.T) {
	e := newEnv(t)
	a := e.account()
	ctx := context.Background()
	for kind, data := range map[imapstore.Kind]string{imapstore.KindCalendar: fullEvent, imapstore.KindTasks: fullTask, imapstore.KindContacts: fullContact} {
		if err := a.Put(ctx, kind, &imapstore.Item{Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	e.sync(t, syncevo.Slow)

	edit := func(source, from, to string) {
		t.Helper()
		items := e.client.Items(t, source)
		if len(items) != 1 {
			t.Fatalf("%s: the phone holds %d items, want 1", source, len(items))
		}
		for name, data := range items {
			if !bytes.Contains(data, []byte(from)) {
				t.Fatalf("%s: the phone's copy lacks %q:\n%s", source, from, data)
			}
			e.client.WriteItem(t, source, name, bytes.Replace(data, []byte(from), []byte(to), 1))
		}
	}
	edit("calendar", "SUMMARY:Planning", "SUMMARY:Planning (moved)")
	edit("todo", "SUMMARY:Write report", "SUMMARY:Write the report")
	edit("addressbook", "NOTE:Met at the fair", "NOTE:Met at the spring fair")
	e.sync(t, syncevo.TwoWay)

	check := func(kind imapstore.Kind, want ...string) {
		t.Helper()
		box := e.mailbox(kind)
		if len(box) != 1 {
			t.Fatalf("%v: %d items in the mailbox, want 1", kind, len(box))
		}
		for _, data := range box {
			got := unfoldLines(data)
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("%v: the mailbox lost %q after the phone's edit:\n%s", kind, w, got)
				}
			}
		}
	}
	check(imapstore.KindCalendar, "SUMMARY:Planning (moved)", "ORGANIZER", "Alice Boss", "mailto:alice@example.org",
		"mailto:bob@example.org", "mailto:carol@example.org", "PARTSTAT=ACCEPTED", "URL:https://example.org/meetings/planning",
		"TRANSP:OPAQUE", "-PT15M", "LOCATION:Room 4")
	check(imapstore.KindTasks, "SUMMARY:Write the report", "PERCENT-COMPLETE:40", "STATUS:IN-PROCESS",
		"URL:https://example.org/report", "PRIORITY:3")
	check(imapstore.KindContacts, "NOTE:Met at the spring fair", "X-PHONETIC-FIRST-NAME:Dschonni",
		"X-PHONETIC-LAST-NAME:Äppelsied", "X-JABBER", "johnny@jabber.example.org", "X-ABDATE", "2010-06-01",
		"X-ABLabel:_$!<HomePage>!$_", "johnny.example.org", "X-ANNIVERSARY:")
}

// TestUploadKeepsFields: what a phone sends with ATTENDEE, ORGANIZER,
// URL, TRANSP, the bookkeeping properties and a task's PERCENT-COMPLETE
// reaches the mailbox (the server's CTCap lists them, so the client sends
// them).
func TestUploadKeepsFields(t *testing.T) {
	e := newEnv(t)
	e.client.WriteItem(t, "calendar", "full.ics", []byte(fullEvent))
	e.client.WriteItem(t, "todo", "full.ics", []byte(fullTask))
	e.client.WriteItem(t, "addressbook", "full.vcf", []byte(fullContact))
	e.sync(t, syncevo.Slow)
	for kind, want := range map[imapstore.Kind][]string{
		// (The client itself keeps no URL of an event, see above.)
		imapstore.KindCalendar: {"ORGANIZER", "mailto:alice@example.org", "mailto:bob@example.org", "mailto:carol@example.org",
			"TRANSP:OPAQUE", "CREATED:20261020T080000Z",
			"LAST-MODIFIED:", "DTSTAMP:", "-PT15M"},
		imapstore.KindTasks:    {"PERCENT-COMPLETE:40", "URL:https://example.org/report", "CREATED:20261020T080000Z", "STATUS:IN-PROCESS"},
		imapstore.KindContacts: {"X-JABBER", "johnny@jabber.example.org", "X-ABDATE", "X-ANNIVERSARY:"},
	} {
		box := e.mailbox(kind)
		if len(box) != 1 {
			t.Fatalf("%v: %d items in the mailbox, want 1", kind, len(box))
		}
		for _, data := range box {
			got := unfoldLines(data)
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("%v: the upload lost %q:\n%s", kind, w, got)
				}
			}
		}
	}
}

// unfoldLines undoes content-line folding, for substring checks.
func unfoldLines(data []byte) string {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\n ", "")
	return strings.ReplaceAll(s, "\n\t", "")
}

// A weekly meeting with one moved occurrence, as Google Calendar exports
// it: the master and a RECURRENCE-ID instance in one item.
const recurringEvent = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n" +
	"BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n" +
	"RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZNAME:CET\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\n" +
	"TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZNAME:CEST\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n" +
	"BEGIN:VEVENT\r\nUID:weekly-sync@google.com\r\nDTSTAMP:20261101T080000Z\r\n" +
	"DTSTART;TZID=Europe/Berlin:20261207T100000\r\nDTEND;TZID=Europe/Berlin:20261207T110000\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\n" +
	"SUMMARY:Weekly sync\r\nORGANIZER;CN=Alice:mailto:alice@example.org\r\n" +
	"ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.org\r\n" +
	"BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Weekly sync\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:weekly-sync@google.com\r\nDTSTAMP:20261101T080000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261214T100000\r\n" +
	"DTSTART;TZID=Europe/Berlin:20261215T140000\r\nDTEND;TZID=Europe/Berlin:20261215T150000\r\n" +
	"SUMMARY:Weekly sync (moved to Tuesday)\r\nORGANIZER;CN=Alice:mailto:alice@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

// TestRecurrenceException: a recurring event with an exception reaches
// the phone as two items (the master and the detached occurrence with its
// RECURRENCE-ID, which SyncEvolution holds as such); the phone's edit of either changes only
// that one in the mailbox, which keeps the master, its attendees and
// alarm and the exception in one item.
func TestRecurrenceException(t *testing.T) {
	e := newEnv(t)
	if err := e.account().Put(context.Background(), imapstore.KindCalendar, &imapstore.Item{Data: []byte(recurringEvent)}); err != nil {
		t.Fatal(err)
	}
	e.sync(t, syncevo.Slow)
	items := e.client.Items(t, "calendar")
	if len(items) != 2 {
		t.Fatalf("the phone holds %d items, want the master and the exception", len(items))
	}
	var master, exception string
	for name, data := range items {
		if strings.Contains(unfoldLines(data), "moved to Tuesday") {
			exception = name
		} else {
			master = name
		}
	}
	if master == "" || exception == "" {
		t.Fatalf("the phone's items lack a master or the exception: %q", items)
	}
	// SyncEvolution announces RECURRENCE-ID: it gets the exception as
	// stored (the server asks for its DevInf before it sends items).
	if ex := unfoldLines(items[exception]); !strings.Contains(ex, "RECURRENCE-ID;TZID=Europe/Berlin:20261214T100000") ||
		!strings.Contains(ex, "UID:weekly-sync@google.com\n") || strings.Contains(unfoldLines(items[master]), "EXDATE") {
		t.Errorf("not the form a client holding exceptions expects:\nmaster:\n%s\nexception:\n%s", items[master], ex)
	}
	box := func() string {
		t.Helper()
		b := e.mailbox(imapstore.KindCalendar)
		if len(b) != 1 {
			t.Fatalf("%d items in the mailbox, want the one recurring event", len(b))
		}
		for _, data := range b {
			return unfoldLines(data)
		}
		return ""
	}
	edit := func(name, from, to string) {
		t.Helper()
		data := e.client.Items(t, "calendar")[name]
		if !bytes.Contains(data, []byte(from)) {
			t.Fatalf("the phone's %s lacks %q:\n%s", name, from, data)
		}
		e.client.WriteItem(t, "calendar", name, bytes.Replace(data, []byte(from), []byte(to), 1))
	}

	edit(master, "SUMMARY:Weekly sync", "SUMMARY:Weekly team sync")
	e.sync(t, syncevo.TwoWay)
	got := box()
	for _, w := range []string{"SUMMARY:Weekly team sync", "SUMMARY:Weekly sync (moved to Tuesday)", "RRULE:FREQ=WEEKLY",
		"RECURRENCE-ID;TZID=Europe/Berlin:20261214T100000", "mailto:bob@example.org", "-PT10M", "TZID:Europe/Berlin"} {
		if !strings.Contains(got, w) {
			t.Errorf("after the phone edited the master the mailbox lacks %q:\n%s", w, got)
		}
	}
	if n := strings.Count(got, "BEGIN:VEVENT"); n != 2 {
		t.Errorf("%d VEVENTs in the mailbox's item, want 2:\n%s", n, got)
	}

	edit(exception, "SUMMARY:Weekly sync (moved to Tuesday)", "SUMMARY:Weekly sync (Tuesday in room 2)")
	e.sync(t, syncevo.TwoWay)
	got = box()
	for _, w := range []string{"SUMMARY:Weekly team sync", "SUMMARY:Weekly sync (Tuesday in room 2)", "RRULE:FREQ=WEEKLY",
		"RECURRENCE-ID;TZID=Europe/Berlin:20261214T100000", "mailto:bob@example.org", "-PT10M"} {
		if !strings.Contains(got, w) {
			t.Errorf("after the phone edited the exception the mailbox lacks %q:\n%s", w, got)
		}
	}
	if n := strings.Count(got, "BEGIN:VEVENT"); n != 2 {
		t.Errorf("%d VEVENTs in the mailbox's item, want 2:\n%s", n, got)
	}
	if n := len(e.client.Items(t, "calendar")); n != 2 {
		t.Errorf("the phone holds %d items, want 2", n)
	}

	// A slow sync (a phone restored from its backup, its IDs forgotten)
	// matches both items: nothing is doubled on either side.
	e.sync(t, syncevo.Slow)
	got = box()
	if n := strings.Count(got, "BEGIN:VEVENT"); n != 2 || !strings.Contains(got, "SUMMARY:Weekly sync (Tuesday in room 2)") {
		t.Errorf("after a slow sync the mailbox's item is:\n%s", got)
	}
	if n := len(e.client.Items(t, "calendar")); n != 2 {
		t.Errorf("after a slow sync the phone holds %d items, want 2", n)
	}
}

// thunderbird40 is a contact as Thunderbird writes it: vCard 4.0.
const thunderbird40 = "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\n" +
	"EMAIL;PREF=1:john@example.com\r\nTEL;VALUE=TEXT;TYPE=cell:+49 170 1234567\r\n" +
	"TEL;TYPE=\"work,voice\";VALUE=uri:tel:+49-30-1234\r\nADR;TYPE=home:;;Street 1;Berlin;;10115;Germany\r\n" +
	"BDAY:--0415\r\nNOTE:x\r\nUID:5d2f6a0e-1b7c-4c1e-9f3a-2d8e4b6c7a10\r\nEND:VCARD\r\n"

// TestThunderbirdVCard40 (issue 14): a Thunderbird vCard 4.0 dropped into
// the Contacts folder by a mail client over IMAP reaches the phone as
// vCard 3.0 (no 415, the sync succeeds), and after the phone's edit the
// mailbox keeps every field: email (and its preferred mark, which the phone
// cannot hold), both phones, address, the birthday
// without a year (the phone writes it back as 16040415, without the
// X-APPLE-OMIT-YEAR that says so), the new note.
// (SyncEvolution keeps no TYPE=PREF on EMAIL, so the phone's copy says
// nothing of the address being preferred.)
func TestThunderbirdVCard40(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sync(t, syncevo.TwoWay)
	mc := e.imapSession(t, "Contacts")
	if err := appendRaw(mc, "Contacts", vcfMail([]byte(thunderbird40))); err != nil {
		t.Fatal(err)
	}

	r := e.sync(t, syncevo.TwoWay)
	t.Logf("the sync after the drop-in: %s", r)
	if s := r.Sources["addressbook"]; s.Status != 0 {
		t.Fatalf("addressbook status %d: %s", s.Status, r)
	}
	phone := e.client.Items(t, "addressbook")
	if len(phone) != 1 {
		t.Fatalf("the phone holds %d contacts, want 1", len(phone))
	}
	var name string
	var card []byte
	for n, d := range phone {
		name, card = n, d
	}
	t.Logf("the phone's card:\n%s", card)
	if !bytes.Contains(card, []byte("VERSION:3.0")) {
		t.Errorf("the phone's card is not 3.0:\n%s", card)
	}
	for _, want := range []string{"john@example.com", "+49 170 1234567", "+49-30-1234", "Street 1", "Berlin", "10115", "NOTE:x", "BDAY:1604"} {
		if !bytes.Contains(card, []byte(want)) {
			t.Errorf("the phone's card lacks %q:\n%s", want, card)
		}
	}

	// The phone edits the note.
	edited := bytes.Replace(card, []byte("NOTE:x"), []byte("NOTE:edited on the phone"), 1)
	e.client.WriteItem(t, "addressbook", name, edited)
	r = e.sync(t, syncevo.TwoWay)
	t.Logf("the sync after the phone's edit: %s", r)

	box := e.mailbox(imapstore.KindContacts)
	if len(box) != 1 {
		t.Fatalf("the mailbox holds %d contacts, want 1", len(box))
	}
	for _, data := range box {
		t.Logf("the mailbox's card:\n%s", data)
		for _, want := range []string{"VERSION:3.0", "john@example.com", "+49 170 1234567", "+49-30-1234",
			";;Street 1;Berlin;;10115;Germany", "NOTE:edited on the phone", "FN:John Doe", "BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-15",
			"EMAIL;TYPE=PREF:john@example.com"} {
			if !bytes.Contains(data, []byte(want)) {
				t.Errorf("the mailbox's card lacks %q", want)
			}
		}
		if strings.Contains(string(data), "VERSION:4.0") {
			t.Error("the mailbox's card is 4.0")
		}
	}
	// The next sync is OK, and the phone keeps its edit.
	r = e.sync(t, syncevo.TwoWay)
	t.Logf("the next sync: %s", r)
	if s := r.Sources["addressbook"]; s.Status != 0 {
		t.Errorf("the next sync: addressbook status %d", s.Status)
	}
	for _, d := range e.client.Items(t, "addressbook") {
		for _, want := range []string{"NOTE:edited on the phone", "+49-30-1234", "BDAY:1604"} {
			if !bytes.Contains(d, []byte(want)) {
				t.Errorf("the phone's card lacks %q:\n%s", want, d)
			}
		}
	}
}
