package imapstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"syncml-imap/internal/dovetest"
)

// TestReadOnly: a ReadOnly Account on a mailbox that has none of the
// store's folders reads every folder as empty, sends no CREATE, and
// refuses writes; once the folders exist it reads what is there.
func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, dovetest.ProfileFull)
	e.opts.ReadOnly = true
	a := e.dial(t)

	d, err := a.Changes(ctx, KindContacts, nil)
	if err != nil || len(d.Added) != 0 {
		t.Fatalf("Changes of a missing folder: %+v, %v", d, err)
	}
	if got, err := a.Get(ctx, KindCalendar, "x"); err != nil || len(got) != 1 || got[0] != nil {
		t.Errorf("Get in a missing folder: %v, %v", got, err)
	}
	if v, _, err := a.Versions(ctx, KindTasks); err != nil || len(v) != 0 {
		t.Errorf("Versions of a missing folder: %v, %v", v, err)
	}
	if rec, err := a.LoadState(ctx, "slot/x"); err != nil || rec != nil {
		t.Errorf("LoadState in a missing state folder: %v, %v", rec, err)
	}
	if keys, err := a.ListState(ctx, ""); err != nil || len(keys) != 0 {
		t.Errorf("ListState of a missing state folder: %v, %v", keys, err)
	}
	if err := a.Put(ctx, KindContacts, &Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\n")}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Put: %v, want ErrReadOnly", err)
	}
	if _, err := a.SaveState(ctx, "k", []byte("v"), 0); !errors.Is(err, ErrReadOnly) {
		t.Errorf("SaveState: %v, want ErrReadOnly", err)
	}
	if _, err := a.Delete(ctx, KindContacts, "x"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Delete: %v, want ErrReadOnly", err)
	}
	sent := e.log.take()
	if slices.Contains(sent, "CREATE") || slices.Contains(sent, "APPEND") || len(sent) == 0 {
		t.Errorf("read-only Account sent %q", sent)
	}
	if list := e.srv.Doveadm(t, "mailbox", "list", "-u", e.user); strings.TrimSpace(list) != "INBOX" {
		t.Errorf("folders after read-only reads:\n%s", list)
	}

	// Written by another Account, the items are read.
	e.opts.ReadOnly = false
	w := e.dial(t)
	it := &Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jane\r\nEND:VCARD\r\n")}
	if err := w.Put(ctx, KindContacts, it); err != nil {
		t.Fatal(err)
	}
	if _, err := w.SaveState(ctx, "slot/x", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if d, err := a.Changes(ctx, KindContacts, nil); err != nil || len(d.Added) != 1 {
		t.Errorf("Changes after the folder was made: %+v, %v", d, err)
	}
	if got, err := a.Get(ctx, KindContacts, it.ID); err != nil || got[0] == nil || !strings.Contains(string(got[0].Data), "FN:Jane") {
		t.Errorf("Get after the folder was made: %v, %v", got, err)
	}
	if rec, err := a.LoadState(ctx, "slot/x"); err != nil || rec == nil || string(rec.Data) != "v" {
		t.Errorf("LoadState after the folder was made: %v, %v", rec, err)
	}
}
