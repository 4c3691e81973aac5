package syncml

import (
	"context"
	"encoding/base64"
	"strings"
	"syncml-imap/pim"
	"testing"
)

func TestItemForm(t *testing.T) {
	for _, tt := range []struct{ meta, data, want string }{
		{"text/x-vcard", "BEGIN:VCARD\r\nVERSION:2.1\r\nEND:VCARD", formVCard21},
		{"", "BEGIN:VCARD\r\nVERSION:2.1\r\nEND:VCARD", formVCard21},
		{"text/vcard", "BEGIN:VCARD\r\nVERSION:2.1\r\nEND:VCARD", formVCard21}, // content wins over a wrong type
		{"", "BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD", formVCard30},
		{"", "BEGIN:VCALENDAR\r\nVERSION:1.0\r\nEND:VCALENDAR", formVCal10},
		{"text/calendar", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR", formICal20},
		{"text/x-s4j-sifc", "PD94", formSIFC},
		{"", "<?xml version=\"1.0\"?><contact><FirstName>A</FirstName></contact>", formSIFC},
	} {
		if got := itemForm(tt.meta, []byte(tt.data)); got != tt.want {
			t.Errorf("itemForm(%q, %.30q) = %q, want %q", tt.meta, tt.data, got, tt.want)
		}
	}
}

// TestSIFDevice: an Outlook client (Funambol) sends SIF-C, base64: it is
// stored as a vCard 3.0 and the server's items go back in SIF-C. On its
// Replace, a field SIF carries and Outlook cleared is deleted; a field
// SIF cannot carry stays.
func TestSIFDevice(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	server := &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Server Person\r\nN:Person;Server;;;\r\nEND:VCARD\r\n")}
	store.Put(ctx, "contacts", server)
	d := newDriver(t, store)
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	sif := "<?xml version=\"1.0\" encoding=\"UTF-8\"?><contact><SIFVersion>1.1</SIFVersion><FirstName>Zofia</FirstName><LastName>Nowak</LastName>" +
		"<FileAs>Nowak, Zofia</FileAs><Body>notes from Outlook</Body><Email1Address>z@example.pl</Email1Address></contact>"
	b64 := base64.StdEncoding.EncodeToString([]byte(sif))
	d.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("card"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
	r := d.message(2, true, &Sync{Target: loc("contacts"), Source: loc("card"), Commands: []Command{
		&Change{Op: OpAdd, Meta: &Meta{Type: "text/x-s4j-sifc", Format: "b64"}, Items: []Item{{Source: loc("O1"), Data: &Data{Text: b64}}}}}})
	if got := statuses(r); len(got) != 3 || !strings.HasPrefix(got[2], "Add 2 201") {
		t.Fatalf("statuses %v", got)
	}
	var stored string
	var storedID string
	for id, v := range store.Items("contacts") {
		if id != server.ID {
			stored, storedID = string(v), id
		}
	}
	if !strings.Contains(stored, "VERSION:3.0") || !strings.Contains(stored, "z@example.pl") || !strings.Contains(stored, "notes from Outlook") {
		t.Fatalf("stored %q", stored)
	}
	var sent *Change
	for _, sy := range commands[*Sync](r) {
		for _, c := range sy.Commands {
			sent = c.(*Change)
		}
	}
	if sent == nil || sent.Meta.Type != formSIFC || !strings.Contains(sent.Items[0].Data.Text, "<contact") || !strings.Contains(sent.Items[0].Data.Text, "Server") {
		t.Fatalf("sent to Outlook: %+v", sent)
	}
	d.message(3, true, &Map{Target: *loc("contacts"), Source: *loc("card"), MapItems: []MapItem{{Target: sent.Items[0].Source.LocURI, Source: "O2"}}})

	// The stored contact gets a field SIF cannot carry (GEO); Outlook then
	// clears the notes.
	store.Overwrite("contacts", storedID, []byte(strings.Replace(stored, "END:VCARD", "GEO:51.7;19.4\r\nEND:VCARD", 1)))
	d2 := &driver{t: t, srv: d.srv, sid: "2"}
	d2.message(1, true, &Alert{Data: "200", Items: []Item{{Target: loc("contacts"), Source: loc("card"), Meta: &Meta{Anchor: &Anchor{Last: "1", Next: "2"}}}}})
	cleared := strings.Replace(sif, "<Body>notes from Outlook</Body>", "<Body/>", 1)
	d2.message(2, true, &Sync{Target: loc("contacts"), Source: loc("card"), Commands: []Command{
		&Change{Op: OpReplace, Meta: &Meta{Type: "text/x-s4j-sifc"}, Items: []Item{{Source: loc("O1"), Data: &Data{Text: cleared}}}}}})
	now := string(store.Items("contacts")[storedID])
	if strings.Contains(now, "notes from Outlook") {
		t.Errorf("the note Outlook cleared came back:\n%s", now)
	}
	if !strings.Contains(now, "GEO:51.7;19.4") {
		t.Errorf("GEO, which SIF cannot carry, was lost:\n%s", now)
	}
}

// TestMergeDeviceHolds: what a device leaves out of an item it edits is a
// deletion only when its DevInf announces the property, the server's CTCap
// lists it and the device has itself sent it before; everything else the
// mailbox had stays (a phone whose CTCap lacks ATTENDEE, a client that
// announces URL and X-* but never sends them).
func TestMergeDeviceHolds(t *testing.T) {
	stored := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:Planning\r\nDTSTART:20261210T090000Z\r\n" +
		"DESCRIPTION:agenda\r\nURL:https://example.org/m\r\nORGANIZER;CN=Alice:mailto:alice@example.org\r\n" +
		"ATTENDEE;CN=Bob:mailto:bob@example.org\r\nX-UNLISTED:kept\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	edited := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\nSUMMARY:Planning (moved)\r\nDTSTART:20261210T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	tests := []struct {
		name       string
		announced  []string // the device's CTCap for text/calendar
		sent       []string // what it has sent before (dbState.Sent)
		kept, gone []string
	}{
		{
			name:      "a CTCap without ATTENDEE: the attendees stay",
			announced: []string{"SUMMARY", "DTSTART", "DESCRIPTION", "URL"},
			sent:      []string{"VEVENT:DESCRIPTION", "VEVENT:DTSTART", "VEVENT:SUMMARY"},
			kept:      []string{"ATTENDEE;CN=Bob", "ORGANIZER;CN=Alice", "URL:https://example.org/m", "X-UNLISTED:kept"},
			gone:      []string{"DESCRIPTION:agenda"},
		},
		{
			name:      "announced, listed, sent before: left out is deleted",
			announced: []string{"SUMMARY", "DTSTART", "DESCRIPTION", "URL", "ATTENDEE", "ORGANIZER", "X-*"},
			sent:      []string{"VEVENT:ATTENDEE", "VEVENT:DESCRIPTION", "VEVENT:DTSTART", "VEVENT:ORGANIZER", "VEVENT:SUMMARY", "VEVENT:URL", "VEVENT:X-UNLISTED"},
			kept:      []string{"X-UNLISTED:kept"}, // the server's CTCap does not list it
			gone:      []string{"ATTENDEE", "ORGANIZER", "URL:", "DESCRIPTION"},
		},
		{
			name:      "announced but never sent: kept",
			announced: []string{"SUMMARY", "DTSTART", "DESCRIPTION", "URL", "ATTENDEE", "ORGANIZER", "X-*"},
			sent:      []string{"VEVENT:DTSTART", "VEVENT:SUMMARY"},
			kept:      []string{"ATTENDEE;CN=Bob", "ORGANIZER;CN=Alice", "URL:https://example.org/m", "DESCRIPTION:agenda", "X-UNLISTED:kept"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := CTCap{CTType: "text/calendar", VerCT: "2.0"}
			for _, p := range append([]string{"BEGIN", "END", "VERSION", "UID"}, tt.announced...) {
				cp.Properties = append(cp.Properties, CTProperty{Name: p})
			}
			ds := &DataStore{SourceRef: "cal", CTCaps: []CTCap{cp}}
			got := string(pim.MergeKept([]byte(stored), []byte(edited), mergeInfo(ds, formICal20, []byte(stored), "", tt.sent)))
			if !strings.Contains(got, "SUMMARY:Planning (moved)") {
				t.Errorf("the device's edit is lost:\n%s", got)
			}
			checkHas(t, got, tt.kept, tt.gone)
		})
	}
}

// TestDeviceLearnsHeld: the engine learns from what a device sends which
// properties it holds: a field it sent once and then leaves out is deleted
// in the mailbox, one it never sent stays, through a real session.
func TestDeviceLearnsHeld(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nN:;Ann;;;\r\nTEL:1\r\nNOTE:old note\r\nX-PHONETIC-FIRST-NAME:An\r\nEND:VCARD\r\n"
	orig := &pim.Item{Data: []byte(card)}
	store.Put(ctx, "contacts", orig)
	d := newDriver(t, store)
	di := &DevInf{VerDTD: "1.2", DevID: "IMEI:3550000", DevTyp: "phone", DataStores: []DataStore{{SourceRef: "ab",
		RxPref: ContentType{"text/vcard", "3.0"}, TxPref: ContentType{"text/vcard", "3.0"}, SyncTypes: []int{1, 2},
		CTCaps: []CTCap{{CTType: "text/vcard", VerCT: "3.0", Properties: []CTProperty{{Name: "BEGIN"}, {Name: "END"},
			{Name: "VERSION"}, {Name: "FN"}, {Name: "N"}, {Name: "TEL"}, {Name: "NOTE"}, {Name: "X-*"}}}}}}}
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	d.message(1, true,
		&Access{Op: "Put", Meta: &Meta{Type: devInfType}, Items: []Item{{Source: loc("./devinf12"), Data: &Data{XML: di.Element("1.2")}}}},
		&Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
	// The phone's slow sync: its own card (with a NOTE), then the server's.
	own := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bea\r\nN:;Bea;;;\r\nTEL:2\r\nNOTE:hi\r\nEND:VCARD\r\n"
	r := d.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
		&Change{Op: OpReplace, Items: []Item{{Source: loc("L9"), Data: &Data{Text: own}}}}}})
	var sentID string
	for _, sy := range commands[*Sync](r) {
		for _, c := range sy.Commands {
			if ch, ok := c.(*Change); ok && ch.Items[0].Data != nil && strings.Contains(ch.Items[0].Data.Text, "FN:Ann") {
				sentID = ch.Items[0].Source.LocURI
			}
		}
	}
	if sentID == "" {
		t.Fatalf("the server did not send Ann: %v", statuses(r))
	}
	r = d.message(3, true, &Map{Target: *loc("contacts"), Source: *loc("ab"), MapItems: []MapItem{{Target: sentID, Source: "L1"}}})
	if hdrCode(r) != 200 && hdrCode(r) != 212 {
		t.Fatalf("map: %v", statuses(r))
	}

	// Next session: the phone edits Ann, sending no NOTE and no phonetic name.
	d2 := newDriver(t, store)
	d2.srv, d2.sid = d.srv, "8"
	r = d2.message(1, true, &Alert{Data: "200", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Last: "1", Next: "2"}}}}})
	r = d2.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
		&Change{Op: OpReplace, Items: []Item{{Source: loc("L1"), Data: &Data{Text: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann B\r\nN:;Ann;;;\r\nTEL:1\r\nEND:VCARD\r\n"}}}}}})
	got := string(store.Items("contacts")[orig.ID])
	if !strings.Contains(got, "FN:Ann B") {
		t.Fatalf("the edit did not arrive (%v):\n%s", statuses(r), got)
	}
	if strings.Contains(got, "NOTE:") {
		t.Errorf("the phone holds NOTE (it sent one) and left it out: deleted, yet:\n%s", got)
	}
	if !strings.Contains(got, "X-PHONETIC-FIRST-NAME:An") {
		t.Errorf("the phone never sent X-PHONETIC-FIRST-NAME (announced only through X-*): lost:\n%s", got)
	}
}

// checkHas reports what of want got lacks and what of gone it holds.
func checkHas(t *testing.T, got string, want, gone []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
	for _, g := range gone {
		if strings.Contains(got, g) {
			t.Errorf("%q should be gone from\n%s", g, got)
		}
	}
}

// TestVCard40Device: a vCard 4.0 sent as text/vcard is stored as 3.0, and
// a 4.0 card a store holds is sent as the 3.0 it is announced as; a 3.0
// card passes byte for byte.
func TestVCard40Device(t *testing.T) {
	card40 := []byte("BEGIN:VCARD\r\nVERSION:4.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\nEMAIL;PREF=1:john@example.com\r\n" +
		"TEL;TYPE=\"work,voice\";VALUE=uri:tel:+49-30-1234\r\nEND:VCARD\r\n")
	want := "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\nEMAIL;TYPE=PREF:john@example.com\r\n" +
		"TEL;TYPE=WORK,VOICE:+49-30-1234\r\nEND:VCARD\r\n"
	form := itemForm("text/vcard", card40)
	if form != formVCard30 {
		t.Fatalf("form %q", form)
	}
	in, _, err := toCanonical(form, card40, nil)
	if err != nil || string(in) != want {
		t.Errorf("toCanonical: %v\n%s", err, in)
	}
	out, typ, ver, err := fromCanonical(formVCard30, "contacts", card40, "")
	if err != nil || string(out) != want || typ != "text/vcard" || ver != "3.0" {
		t.Errorf("fromCanonical: %v %s %s\n%s", err, typ, ver, out)
	}
	card30 := []byte("BEGIN:VCARD\nVERSION:3.0\nFN:As Is\nEND:VCARD\n")
	if in, _, err := toCanonical(formVCard30, card30, nil); err != nil || string(in) != string(card30) {
		t.Errorf("3.0 card changed: %v %q", err, in)
	}
	if out, _, _, err := fromCanonical(formVCard30, "contacts", card30, ""); err != nil || string(out) != string(card30) {
		t.Errorf("3.0 card changed on the way out: %v %q", err, out)
	}
}
