package plugin

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"syncml-imap/imapstore"
	"syncml-imap/internal/dovetest"
	"syncml-imap/pim"
	"syncml-imap/pim/storetest"
)

// TestStoreContractDovecot: imapstore through accountStore keeps the
// pim.Store contract (pim/storetest), as the in-memory store does; each
// subtest has an account of its own on one Dovecot.
func TestStoreContractDovecot(t *testing.T) {
	srv := dovetest.Start(t, nil)
	auth := &IMAPAuth{Options: &imapstore.Options{Address: srv.Addr, DialTimeout: 5 * time.Second}}
	n := 0
	var user string // the account of the subtest running
	open := func(t *testing.T) pim.Store {
		n++
		user = fmt.Sprintf("contract%d@example.org", n)
		srv.AddUser(t, user, "pw")
		st, err := auth.Login(context.Background(), user, "pw")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	recreate := func(t *testing.T, db pim.Kind) {
		if db != "contacts" {
			t.Fatalf("recreate %s: only contacts", db)
		}
		c, err := imapclient.DialInsecure(srv.Addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(user, "pw").Wait(); err != nil {
			t.Fatal(err)
		}
		// Dovecot's UIDVALIDITY is a timestamp: recreate a second later
		// too, so that the new folder's differs.
		for i := range 2 {
			if i > 0 {
				time.Sleep(1100 * time.Millisecond)
			}
			if err := c.Delete("Contacts").Wait(); err != nil {
				t.Fatal(err)
			}
			if err := c.Create("Contacts", nil).Wait(); err != nil {
				t.Fatal(err)
			}
		}
	}
	storetest.Run(t, open, &storetest.Options{Recreate: recreate})
}
