package imapstore

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message/mail"

	"syncml-imap/internal/dovetest"
)

// editedCopy is what a mail client saves when a person edits an item's
// attachment: our item-ID and type headers kept, the old Subject and
// summary, the new vCard attached (as partType).
func editedCopy(id, oldName, newName, partType string) []byte {
	return editedCopyOf(id, oldName, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:"+id+"\r\nFN:"+newName+"\r\nN:"+newName+
		";;;;\r\nTEL:+49 30 1234\r\nEND:VCARD\r\n", partType)
}

// editedCopyOf is editedCopy with the card the mail client saved.
func editedCopyOf(id, oldName, card, partType string) []byte {
	return []byte("From: Person <person@example.org>\r\n" +
		"Subject: " + oldName + "\r\n" +
		"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n" +
		"Message-Id: <edit-" + id[:8] + "@mail.example.org>\r\n" +
		headerItemID + ": " + id + "\r\n" +
		headerItemType + ": text/vcard; version=3.0\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nName: " + oldName + "\r\n" +
		"--b1\r\nContent-Type: " + partType + "; charset=utf-8\r\nContent-Disposition: attachment; filename=\"" + oldName + ".vcf\"\r\n\r\n" +
		card + "--b1--\r\n")
}

// TestMailClientEdit: an item's message replaced by a mail client's
// edited copy is read with the new content and rewritten into our form
// (fresh Subject and summary) on that first read: one message for the
// item, the same ID, no echo to the session that read it, nothing extra
// for messages already in our form.
func TestMailClientEdit(t *testing.T) {
	for _, p := range []struct {
		name    string
		profile dovetest.Profile
	}{{"condstore", dovetest.ProfileFull}, {"minimal", dovetest.ProfileMinimal}} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, p.profile)
			a := e.dial(t)
			ann, bob := &Item{Data: vcard("", "Ann Old")}, &Item{Data: vcard("", "Bob Old")}
			mustPut(t, a, KindContacts, ann, bob)
			base := mustChanges(t, a, KindContacts, nil)

			// The common path: reading items in our form writes nothing.
			e.log.take()
			if _, err := a.Get(ctx, KindContacts, ann.ID, bob.ID); err != nil {
				t.Fatal(err)
			}
			if cmds := e.log.take(); slices.Contains(cmds, "APPEND") || slices.Contains(cmds, "UID EXPUNGE") || slices.Contains(cmds, "EXPUNGE") {
				t.Errorf("Get of items in our form sent %v", cmds)
			}

			// The mail client saves edited copies and removes the old ones;
			// Bob's attachment comes back under another media type.
			mc := e.mailClient(t)
			if _, err := mc.Select("Contacts", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			old := folderMessages(t, mc, "Contacts")
			appendRaw(t, mc, "Contacts", editedCopy(ann.ID, "Ann Old", "Ann New", "text/vcard"))
			appendRaw(t, mc, "Contacts", editedCopy(bob.ID, "Bob Old", "Bob New", "text/x-vcard"))
			var oldUIDs imap.UIDSet
			for _, m := range old {
				oldUIDs.AddNum(m.UID)
			}
			if err := mc.Store(oldUIDs, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
				t.Fatal(err)
			}
			if err := mc.Expunge().Close(); err != nil {
				t.Fatal(err)
			}

			d := mustChanges(t, a, KindContacts, base.SyncPoint)
			if len(d.Added)+len(d.Deleted) != 0 || !slices.Equal(d.Modified, sortedIDs(ann, bob)) {
				t.Fatalf("after the edit: %s, want both modified", changesString(d))
			}
			got, err := a.Get(ctx, KindContacts, ann.ID, bob.ID)
			if err != nil {
				t.Fatal(err)
			}
			for i, name := range []string{"Ann New", "Bob New"} {
				if got[i] == nil || !bytes.Contains(got[i].Data, []byte("FN:"+name)) {
					t.Fatalf("Get %s: %+v", name, got[i])
				}
			}

			// One message per item, in our form.
			msgs := folderMessages(t, mc, "Contacts")
			if len(msgs) != 2 {
				t.Fatalf("%d messages for 2 items", len(msgs))
			}
			for _, m := range msgs {
				r, err := mail.CreateReader(bytes.NewReader(m.BodySection[0].Bytes))
				if err != nil {
					t.Fatal(err)
				}
				subj, _ := r.Header.Subject()
				id := r.Header.Get(headerItemID)
				want := map[string]string{ann.ID: "Ann New", bob.ID: "Bob New"}[id]
				part, err := r.NextPart()
				if err != nil {
					t.Fatal(err)
				}
				var text bytes.Buffer
				text.ReadFrom(part.Body)
				t.Logf("UID %d %s: Subject %q, summary %q", m.UID, id, subj, text.String())
				if want == "" || subj != want || !strings.Contains(text.String(), want) || strings.Contains(text.String(), "Old") ||
					!strings.HasSuffix(r.Header.Get("Message-Id"), "@syncml-imap>") {
					t.Errorf("message UID %d not rewritten: ID %s, Subject %q, summary %q", m.UID, id, subj, text.String())
				}
			}

			// The session that read the edit keeps a point with the
			// rewritten messages: its next sync sees nothing.
			next, err := a.Advance(ctx, KindContacts, d.SyncPoint, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := mustChanges(t, a, KindContacts, next); !d.Empty() {
				t.Errorf("the reading session is sent its own rewrite back: %s", changesString(d))
			}
			// Another session from before the edit sees the edit once, and
			// reading it now costs no writes.
			b := e.dial(t)
			d2 := mustChanges(t, b, KindContacts, base.SyncPoint)
			if !slices.Equal(d2.Modified, sortedIDs(ann, bob)) || len(d2.Added)+len(d2.Deleted) != 0 {
				t.Errorf("other session: %s", changesString(d2))
			}
			e.log.take()
			if _, err := b.Get(ctx, KindContacts, ann.ID, bob.ID); err != nil {
				t.Fatal(err)
			}
			if cmds := e.log.take(); slices.Contains(cmds, "APPEND") {
				t.Errorf("rewritten again: %v", cmds)
			}
		})
	}
}
