package imapstore

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"syncml-imap/internal/dovetest"
)

// thunderbird40 is a contact as Thunderbird writes it: vCard 4.0.
const thunderbird40 = "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\n" +
	"EMAIL;PREF=1:john@example.com\r\nTEL;VALUE=TEXT;TYPE=cell:+49 170 1234567\r\n" +
	"TEL;TYPE=\"work,voice\";VALUE=uri:tel:+49-30-1234\r\nADR;TYPE=home:;;Street 1;Berlin;;10115;Germany\r\n" +
	"NOTE:x\r\nUID:5d2f6a0e-1b7c-4c1e-9f3a-2d8e4b6c7a10\r\nEND:VCARD\r\n"

// thunderbird40Stored holds the lines the 3.0 form of thunderbird40 must
// have: nothing lost.
var thunderbird40Stored = []string{"VERSION:3.0", "N:Doe;John;;;", "FN:John Doe", "EMAIL;TYPE=PREF:john@example.com",
	"TEL;TYPE=CELL:+49 170 1234567", "TEL;TYPE=WORK,VOICE:+49-30-1234", "ADR;TYPE=HOME:;;Street 1;Berlin;;10115;Germany",
	"NOTE:x", "UID:5d2f6a0e-1b7c-4c1e-9f3a-2d8e4b6c7a10"}

func checkStored30(t *testing.T, what string, data []byte) {
	t.Helper()
	for _, l := range thunderbird40Stored {
		if !bytes.Contains(data, []byte("\r\n"+l+"\r\n")) {
			t.Errorf("%s: no %q in\n%s", what, l, data)
		}
	}
	if bytes.Contains(data, []byte("4.0")) {
		t.Errorf("%s: still 4.0:\n%s", what, data)
	}
}

// checkFolder30 fails unless every message in Contacts is of our form
// with a 3.0 card.
func checkFolder30(t *testing.T, e *testEnv, want int) {
	t.Helper()
	msgs := folderMessages(t, e.mailClient(t), "Contacts")
	if len(msgs) != want {
		t.Fatalf("%d messages in Contacts, want %d", len(msgs), want)
	}
	for _, m := range msgs {
		raw := m.BodySection[0].Bytes
		if h := headerValue(raw, headerItemType); h != "text/vcard; version=3.0" {
			t.Errorf("UID %d: item type %q", m.UID, h)
		}
		pm, err := parseItemMessage(KindContacts, raw)
		if err != nil {
			t.Fatal(err)
		}
		checkStored30(t, "message in the folder", pm.Item)
	}
}

// TestForeignVCard40: a Thunderbird vCard 4.0 dropped into the Contacts
// folder by a mail client over IMAP is adopted as a 3.0 item; read back
// it is 3.0 with every field, and so is the message left in the folder.
func TestForeignVCard40(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eachProfile(t, func(t *testing.T, e *testEnv) {
		a := e.dial(t)
		sp := mustChanges(t, a, KindContacts, nil).SyncPoint
		mail := "From: John Doe <john@example.com>\r\nSubject: John Doe\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/vcard; charset=utf-8; name=\"John Doe.vcf\"\r\n" +
			"Content-Disposition: attachment; filename=\"John Doe.vcf\"\r\n\r\n" + thunderbird40
		appendRaw(t, e.mailClient(t), "Contacts", []byte(mail))

		d := mustChanges(t, a, KindContacts, sp)
		if len(d.Added) != 1 || len(d.Modified)+len(d.Deleted) != 0 {
			t.Fatalf("after the drop: %s", changesString(d))
		}
		items, err := a.Get(ctx, KindContacts, d.Added...)
		if err != nil || items[0] == nil {
			t.Fatalf("Get: %v %v", items, err)
		}
		if items[0].Version != "3.0" {
			t.Errorf("Version %q", items[0].Version)
		}
		checkStored30(t, "item read back", items[0].Data)
		checkFolder30(t, e, 1)
	})
}

// TestMailClientEditVCard40: a mail client saves an item's card as 4.0
// (our headers kept; a message stored with a 4.0 card before cards were
// converted looks the same): it is read as 3.0 and rewritten so, once. A
// 4.0 card given to Put is stored as 3.0.
func TestMailClientEditVCard40(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, dovetest.ProfileFull)
	a := e.dial(t)
	it := &Item{Data: vcard("", "John Doe")}
	mustPut(t, a, KindContacts, it)
	base := mustChanges(t, a, KindContacts, nil)
	mc := e.mailClient(t)
	old := folderMessages(t, mc, "Contacts")
	card := strings.Replace(thunderbird40, "UID:5d2f6a0e-1b7c-4c1e-9f3a-2d8e4b6c7a10", "UID:"+it.ID, 1)
	appendRaw(t, mc, "Contacts", editedCopyOf(it.ID, "John Doe", card, "text/vcard"))
	if err := mc.Store(imap.UIDSetNum(old[0].UID), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := mc.Expunge().Close(); err != nil {
		t.Fatal(err)
	}

	d := mustChanges(t, a, KindContacts, base.SyncPoint)
	if len(d.Modified) != 1 {
		t.Fatalf("after the edit: %s", changesString(d))
	}
	got, err := a.Get(ctx, KindContacts, it.ID)
	if err != nil || got[0] == nil {
		t.Fatalf("Get: %v %v", got, err)
	}
	want := slicesWithUID(it.ID)
	for _, l := range want {
		if !bytes.Contains(got[0].Data, []byte("\r\n"+l+"\r\n")) {
			t.Errorf("no %q in\n%s", l, got[0].Data)
		}
	}
	if got[0].Version != "3.0" {
		t.Errorf("Version %q", got[0].Version)
	}
	msgs := folderMessages(t, mc, "Contacts")
	if len(msgs) != 1 || headerValue(msgs[0].BodySection[0].Bytes, headerItemType) != "text/vcard; version=3.0" {
		t.Fatalf("%d messages, item type %q", len(msgs), headerValue(msgs[0].BodySection[0].Bytes, headerItemType))
	}
	next, err := a.Advance(ctx, KindContacts, d.SyncPoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := mustChanges(t, a, KindContacts, next); !d.Empty() {
		t.Errorf("the rewrite is reported: %s", changesString(d))
	}
	// Another session reads the rewritten message as it is: no loop.
	b := e.dial(t)
	if _, err := b.Get(ctx, KindContacts, it.ID); err != nil {
		t.Fatal(err)
	}
	if cmds := e.log.take(); slices.Contains(cmds, "APPEND") {
		t.Errorf("rewritten again: %v", cmds)
	}

	// Put of a 4.0 card stores 3.0.
	it2 := &Item{Data: []byte(thunderbird40)}
	mustPut(t, a, KindContacts, it2)
	if it2.Version != "3.0" {
		t.Errorf("Put: Version %q", it2.Version)
	}
	got, err = a.Get(ctx, KindContacts, it2.ID)
	if err != nil || got[0] == nil {
		t.Fatalf("Get: %v %v", got, err)
	}
	checkStored30(t, "a 4.0 card put", got[0].Data)
}

func slicesWithUID(id string) []string {
	out := make([]string, len(thunderbird40Stored))
	for i, l := range thunderbird40Stored {
		if strings.HasPrefix(l, "UID:") {
			l = "UID:" + id
		}
		out[i] = l
	}
	return out
}
