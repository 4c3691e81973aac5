package integration

import (
	"bytes"
	"strings"
	"testing"

	"syncml-imap/imapstore"
	"syncml-imap/integration/syncevo"
)

// thunderbird40 is a contact as Thunderbird writes it: vCard 4.0.
const thunderbird40 = "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\n" +
	"EMAIL;PREF=1:john@example.com\r\nTEL;VALUE=TEXT;TYPE=cell:+49 170 1234567\r\n" +
	"TEL;TYPE=\"work,voice\";VALUE=uri:tel:+49-30-1234\r\nADR;TYPE=home:;;Street 1;Berlin;;10115;Germany\r\n" +
	"BDAY:--0415\r\nNOTE:x\r\nUID:5d2f6a0e-1b7c-4c1e-9f3a-2d8e4b6c7a10\r\nEND:VCARD\r\n"

// TestThunderbirdVCard40 (issue 14): a Thunderbird vCard 4.0 dropped into
// the Contacts folder by a mail client over IMAP reaches the phone as
// vCard 3.0 (no 415, the sync succeeds), and after the phone's edit the
// mailbox keeps every field: email, both phones, address, the birthday
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
			";;Street 1;Berlin;;10115;Germany", "NOTE:edited on the phone", "FN:John Doe", "BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-15"} {
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
