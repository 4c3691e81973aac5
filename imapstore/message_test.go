package imapstore

import (
	"bytes"
	"mime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"syncml-imap/internal/vobject"
)

const testVCard = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nFN:Zoë Ångström\r\nEMAIL:z@example.org\r\n" +
	"NOTE:" + "a very long note that goes past seventy-six characters so quoted-printable must wrap it" + "\r\nEND:VCARD\r\n"

func TestItemMessageRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	info := inspectItem(KindContacts, []byte(testVCard))
	raw, err := buildItemMessage(KindContacts, "guid-1", []byte(testVCard), info, "bob@example.org", now)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("message has bare LF line endings")
	}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line of %d octets", len(line))
		}
	}
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := r.Header.Subject()
	if subj != "Zoë Ångström" {
		t.Errorf("Subject = %q", subj)
	}
	if d, _ := r.Header.Date(); !d.Equal(now) {
		t.Errorf("Date = %v, want %v (no REV: now)", d, now)
	}
	if r.Header.Get(headerItemID) != "guid-1" || r.Header.Get(headerItemType) != "text/vcard; version=3.0" {
		t.Errorf("item headers: %q %q", r.Header.Get(headerItemID), r.Header.Get(headerItemType))
	}
	var text, att string
	var filename string
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		var b bytes.Buffer
		b.ReadFrom(p.Body)
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			text = b.String()
		case *mail.AttachmentHeader:
			att = b.String()
			filename, _ = h.Filename()
		}
	}
	if !strings.Contains(text, "Name: Zoë Ångström") || !strings.Contains(text, "E-mail: z@example.org") {
		t.Errorf("text part = %q", text)
	}
	if att != testVCard {
		t.Errorf("attachment changed:\n%q\n%q", att, testVCard)
	}
	if filename != "Zoë Ångström.vcf" {
		t.Errorf("filename = %q", filename)
	}

	pm, err := parseItemMessage(KindContacts, raw)
	if err != nil {
		t.Fatal(err)
	}
	if pm.ID != "guid-1" || string(pm.Item) != testVCard {
		t.Errorf("parse: id %q item %q", pm.ID, pm.Item)
	}
}

func TestParseForeignMessage(t *testing.T) {
	latin1 := "BEGIN:VCARD\r\nVERSION:2.1\r\nN:M\xfcller;J\xfcrgen\r\nEND:VCARD\r\n"
	raw := "From: a@example.org\r\nSubject: contacts\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain\r\n\r\nHere are two files.\r\n" +
		"--XX\r\nContent-Type: application/octet-stream; name=\"friends.vcf\"\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"friends.vcf\"\r\n\r\n" +
		"QkVHSU46VkNBUkQNClZFUlNJT046My4wDQpGTjpPbmUNCkVORDpWQ0FSRA0K\r\n" +
		"--XX\r\nContent-Type: text/x-vcard; charset=iso-8859-1\r\n\r\n" + latin1 +
		"--XX\r\nContent-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n" +
		"--XX--\r\n"
	pm, err := parseItemMessage(KindContacts, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if pm.ID != "" || len(pm.Payloads) != 2 {
		t.Fatalf("id %q, %d payloads, want 2", pm.ID, len(pm.Payloads))
	}
	if !strings.Contains(string(pm.Payloads[0]), "FN:One") {
		t.Errorf("base64 .vcf attachment not decoded: %q", pm.Payloads[0])
	}
	if !strings.Contains(string(pm.Payloads[1]), "N:Müller;Jürgen") {
		t.Errorf("ISO-8859-1 part not converted to UTF-8: %q", pm.Payloads[1])
	}
	pm, err = parseItemMessage(KindCalendar, []byte(raw))
	if err != nil || len(pm.Payloads) != 1 {
		t.Errorf("calendar payloads: %v %d", err, len(pm.Payloads))
	}
}

func TestParseItemMessageBroken(t *testing.T) {
	for _, raw := range []string{
		"",
		"X-SyncML-Item-ID: a\r\nX-SyncML-Item-Type: text/vcard\r\n\r\nno part",
		"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n",
		"Content-Type: text/vcard\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!",
	} {
		parseItemMessage(KindContacts, []byte(raw)) // no panic; errors are fine
	}
	_, err := parseItemMessage(KindContacts, []byte("X-SyncML-Item-ID: a\r\nX-SyncML-Item-Type: text/vcard\r\nContent-Type: text/plain\r\n\r\nhello"))
	if err == nil {
		t.Error("our message without its item part: no error")
	}
}

func FuzzParseItemMessage(f *testing.F) {
	info := inspectItem(KindContacts, []byte(testVCard))
	raw, _ := buildItemMessage(KindContacts, "g", []byte(testVCard), info, "a@b", time.Unix(0, 0))
	f.Add(raw)
	f.Add([]byte("Content-Type: text/vcard\r\n\r\nBEGIN:VCARD\r\nEND:VCARD\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, k := range Kinds {
			parseItemMessage(k, raw)
		}
		parseStateMessage(raw)
	})
}

func TestStateMessage(t *testing.T) {
	key := "device/IMEI:3550 ä\"x\r\n/contacts"
	data := []byte{0, 1, 2, 255, '\r', '\n'}
	raw, err := buildStateMessage(key, data, "a@example.org", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k, d, err := parseStateMessage(raw)
	if err != nil || k != key || !bytes.Equal(d, data) {
		t.Fatalf("state round trip: %q %v %v", k, d, err)
	}
	esc := escapeStateKey(key)
	if strings.ContainsAny(esc, " \"\r\n") || !strings.HasPrefix(esc, "device/IMEI:3550%20%C3%A4") {
		t.Errorf("escaped key %q", esc)
	}
	if _, err := unescapeStateKey("%Z"); err == nil {
		t.Error("bad escape accepted")
	}
	if mt, _, _ := mime.ParseMediaType("application/octet-stream"); mt == "" {
		t.Fatal("mime broken")
	}
}

// inFormRoundTrip checks that a message the store builds reads back as
// in its form, at the latest once Get has rewritten it from what it read
// (reading may normalise the item, bare CRs say): otherwise every Get
// would rewrite it (an APPEND and an EXPUNGE per read, and a change for
// every other device each time).
func inFormRoundTrip(t *testing.T, kind Kind, data []byte) {
	t.Helper()
	for round := 0; round < 2; round++ {
		data, _ = vobject.EnsureUID(data, kind.component(), "g-1")
		if checkItem(kind, data) != nil {
			return // Put (or the rewrite) refuses it: never stored
		}
		raw, err := buildItemMessage(kind, "g-1", data, inspectItem(kind, data), "a@example.org", time.Unix(1700000000, 0))
		if err != nil {
			return
		}
		pm, err := parseItemMessage(kind, raw)
		if err != nil {
			t.Fatalf("the store's own message does not parse: %v\n%s", err, raw)
		}
		if pm.inForm(kind, inspectItem(kind, pm.Item)) {
			return
		}
		if round == 1 {
			t.Errorf("the store's own message is not in its form after a rewrite (Get would rewrite it every time):\nsubject %q\nsummary %q\nitem type %q\n%s",
				pm.Subject, pm.Summary, pm.ItemType, raw)
		}
		data = pm.Item // what Get's rewrite builds from
	}
}

func TestItemMessageInForm(t *testing.T) {
	long := strings.Repeat("Ünïcödé ", 30)
	for _, tc := range []struct {
		kind Kind
		data string
	}{
		{KindContacts, testVCard},
		{KindContacts, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + long + "\r\nNOTE:tab\there  \r\nEND:VCARD\r\n"},
		{KindContacts, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:\r\nEND:VCARD\r\n"},
		{KindContacts, "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8:Müller;Jörg\r\nTEL:+49 30 1\r\nEND:VCARD\r\n"},
		{KindContacts, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:=?utf-8?q?encoded?=  word \"quoted\" <x@y>\r\nEND:VCARD\r\n"},
		{KindCalendar, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:" + long + "\r\nDTSTART:20261204T090000Z\r\nLOCATION:Room\\, 1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"},
		{KindCalendar, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e2\r\nDTSTART;VALUE=DATE:20261224\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"},
		{KindTasks, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t1\r\nSUMMARY:Buy milk\r\nDUE:20261205\r\nSTATUS:COMPLETED\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"},
	} {
		inFormRoundTrip(t, tc.kind, []byte(tc.data))
	}
}

func FuzzItemMessageInForm(f *testing.F) {
	f.Add(0, []byte(testVCard))
	f.Add(1, []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:x\r\nDTSTART:20261204T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	f.Add(2, []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t1\r\nSUMMARY:y\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"))
	f.Fuzz(func(t *testing.T, k int, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		kinds := []Kind{KindContacts, KindCalendar, KindTasks}
		inFormRoundTrip(t, kinds[((k%3)+3)%3], data)
	})
}

// TestHeaderValue: the header blocks FETCH BODY[HEADER.FIELDS (...)]
// returns, as servers write them.
func TestHeaderValue(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{"X-SyncML-Item-ID: abc\r\n\r\n", "abc"},
		{"x-syncml-item-id:abc\r\n\r\n", "abc"},         // any case, no space
		{"X-SyncML-Item-ID : abc \r\n\r\n", "abc"},      // space before the colon
		{"X-SyncML-Item-ID: abc\n\n", "abc"},            // bare LF
		{"X-SyncML-Item-ID: abc", "abc"},                // no blank line
		{"X-SyncML-Item-ID:\r\n abc\r\n\r\n", "abc"},    // folded
		{"X-SyncML-Item-ID: a\r\n\tbc\r\n\r\n", "a bc"}, // folded with a tab
		{"X-SyncML-Item-ID: first\r\nX-SyncML-Item-ID: second\r\n\r\n", "first"},
		{"X-Other: x\r\n\r\n", ""},
		{"\r\n", ""},
		{"", ""},
		// A field after the blank line is the body's, not the header's.
		{"X-Other: x\r\n\r\nX-SyncML-Item-ID: body\r\n", ""},
	} {
		if got := headerValue([]byte(tc.raw), headerItemID); got != tc.want {
			t.Errorf("headerValue(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}
