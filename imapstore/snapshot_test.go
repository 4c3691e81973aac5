package imapstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"

	"syncml-imap/internal/dovetest"
)

func TestSnapshot(t *testing.T) {
	srv := dovetest.Start(t, nil)
	srv.AddUser(t, "snap@example.org", "pw")
	ctx := context.Background()
	a, err := Dial(ctx, &Options{Address: srv.Addr}, "snap@example.org", "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if n, err := a.Snapshot(ctx, KindContacts, "SyncML Backup/empty"); err != nil || n != 0 {
		t.Fatalf("empty folder: %d %v", n, err)
	}
	for i := 0; i < 3; i++ {
		mustPut(t, a, KindContacts, &Item{Data: []byte(fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:P%d\r\nN:P%d;;;;\r\nEND:VCARD\r\n", i, i))})
	}
	n, err := a.Snapshot(ctx, KindContacts, "SyncML Backup/2026-11-25 phone/Contacts")
	if err != nil || n != 3 {
		t.Fatalf("snapshot: %d %v", n, err)
	}
	// The copies are in the backup folder; the items are untouched.
	d, err := a.Changes(ctx, KindContacts, nil)
	if err != nil || len(d.Added) != 3 {
		t.Fatalf("items after the snapshot: %v %v", d, err)
	}
	st, err := a.c.Status("SyncML Backup/2026-11-25 phone/Contacts", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || st.NumMessages == nil || *st.NumMessages != 3 {
		t.Fatalf("backup folder: %+v %v", st, err)
	}
	if _, err := a.Snapshot(ctx, KindContacts, "bad//name"); err == nil {
		t.Error("an empty level was accepted")
	}
}
