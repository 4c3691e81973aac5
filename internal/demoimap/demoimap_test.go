package demoimap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"syncml-imap/imapstore"
)

// These tests run the IMAP store against the demo server: every operation
// `syncml-imap demo` needs (folder creation, APPEND, UID SEARCH, UID
// FETCH, STORE, EXPUNGE or UID EXPUNGE, UNSELECT, STATUS, LIST), with
// the capabilities the demo announces and with a bare IMAP4rev1.

var profiles = []struct {
	name string
	caps imap.CapSet
}{
	{"demo", nil},
	{"imap4rev1", imap.CapSet{imap.CapIMAP4rev1: {}}},
}

type env struct {
	srv        *Server
	user, pass string
	opts       *imapstore.Options
}

func newEnv(t *testing.T, caps imap.CapSet) *env {
	t.Helper()
	srv, err := Listen("127.0.0.1:0", &Options{Caps: caps})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	e := &env{srv: srv, user: "demo", pass: "pw-demo"}
	if err := srv.AddUser(e.user, e.pass); err != nil {
		t.Fatal(err)
	}
	e.opts = &imapstore.Options{Address: srv.Addr(), CommandTimeout: 20 * time.Second}
	return e
}

func (e *env) dial(t *testing.T) *imapstore.Account {
	t.Helper()
	a, err := imapstore.Dial(context.Background(), e.opts, e.user, e.pass)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// mailClient is a plain IMAP client standing for a person's mail program.
func (e *env) mailClient(t *testing.T) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(e.srv.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(e.user, e.pass).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

func vcard(fn string) []byte {
	return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + fn + "\r\nN:" + fn + ";;;;\r\nEND:VCARD\r\n")
}

func changes(t *testing.T, a *imapstore.Account, kind imapstore.Kind, since *imapstore.SyncPoint) *imapstore.ChangesData {
	t.Helper()
	d, err := a.Changes(context.Background(), kind, since)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	return d
}

func str(d *imapstore.ChangesData) string {
	return fmt.Sprintf("added %v modified %v deleted %v", d.Added, d.Modified, d.Deleted)
}

func TestLogin(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := imapstore.Dial(context.Background(), e.opts, e.user, "wrong"); !errors.Is(err, imapstore.ErrAuthFailed) {
		t.Errorf("wrong password: %v, want ErrAuthFailed", err)
	}
	if _, err := imapstore.Dial(context.Background(), e.opts, "nobody", e.pass); !errors.Is(err, imapstore.ErrAuthFailed) {
		t.Errorf("unknown user: %v, want ErrAuthFailed", err)
	}
	a := e.dial(t)
	want := imapstore.Caps{ESearch: true, UIDPlus: true, LiteralPlus: true, Move: true, Unselect: true, Idle: true}
	if got := a.Caps(); got != want {
		t.Errorf("caps %+v, want %+v", got, want)
	}
}

// TestItems: the item life cycle, seen by the writer and by a second
// connection, which without CONDSTORE finds changes by UID sets.
func TestItems(t *testing.T) {
	ctx := context.Background()
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p.caps)
			a := e.dial(t)
			if d := changes(t, a, imapstore.KindContacts, nil); !d.Empty() {
				t.Fatalf("fresh folder: %s", str(d))
			}
			ann, bo := &imapstore.Item{Data: vcard("Ann Alpha")}, &imapstore.Item{Data: vcard("Bo Beta")}
			if err := a.Put(ctx, imapstore.KindContacts, ann, bo); err != nil {
				t.Fatal(err)
			}
			sp := changes(t, a, imapstore.KindContacts, nil).SyncPoint
			if sp.Len() != 2 {
				t.Fatalf("after put: %d items", sp.Len())
			}

			b := e.dial(t)
			items, err := b.Get(ctx, imapstore.KindContacts, ann.ID, bo.ID, "no-such-id")
			if err != nil {
				t.Fatal(err)
			}
			if items[0] == nil || !bytes.Contains(items[0].Data, []byte("FN:Ann Alpha")) ||
				items[1] == nil || !bytes.Contains(items[1].Data, []byte("FN:Bo Beta")) || items[2] != nil {
				t.Fatalf("get: %+v", items)
			}

			// A new version replaces the old one; another item goes.
			if err := b.Put(ctx, imapstore.KindContacts, &imapstore.Item{ID: ann.ID, Data: vcard("Ann Alpha-Omega")}); err != nil {
				t.Fatal(err)
			}
			if missing, err := b.Delete(ctx, imapstore.KindContacts, bo.ID, "no-such-id"); err != nil || !slices.Equal(missing, []string{"no-such-id"}) {
				t.Fatalf("delete: missing %v, %v", missing, err)
			}
			d := changes(t, a, imapstore.KindContacts, sp)
			if str(d) != fmt.Sprintf("added [] modified [%s] deleted [%s]", ann.ID, bo.ID) {
				t.Fatalf("seen by the first connection: %s", str(d))
			}
			if got, _ := a.Get(ctx, imapstore.KindContacts, ann.ID); got[0] == nil || !bytes.Contains(got[0].Data, []byte("Alpha-Omega")) {
				t.Errorf("new version: %+v", got)
			}
			if d := changes(t, e.dial(t), imapstore.KindContacts, d.SyncPoint); !d.Empty() {
				t.Errorf("nothing changed since: %s", str(d))
			}
			// One message per item: the old version and the deleted item
			// were expunged.
			if subjects := folderSubjects(t, e.mailClient(t), "Contacts"); fmt.Sprint(subjects) != "[Ann Alpha-Omega]" {
				t.Errorf("folder holds %q", subjects)
			}

			// Advance folds the session's own write in.
			base := d.SyncPoint
			mine := &imapstore.Item{Data: vcard("Mine")}
			if err := a.Put(ctx, imapstore.KindContacts, mine); err != nil {
				t.Fatal(err)
			}
			next, err := a.Advance(ctx, imapstore.KindContacts, base, []string{mine.ID})
			if err != nil {
				t.Fatal(err)
			}
			if d := changes(t, e.dial(t), imapstore.KindContacts, next); !d.Empty() {
				t.Errorf("own write echoed: %s", str(d))
			}
		})
	}
}

// TestMailClient: a mail program's drop-in is adopted, its \Deleted and
// EXPUNGE read as deletions.
func TestMailClient(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p.caps)
			a := e.dial(t)
			ctx := context.Background()
			x, y := &imapstore.Item{Data: vcard("Xavier")}, &imapstore.Item{Data: vcard("Yvonne")}
			if err := a.Put(ctx, imapstore.KindContacts, x, y); err != nil {
				t.Fatal(err)
			}
			sp := changes(t, a, imapstore.KindContacts, nil).SyncPoint
			mc := e.mailClient(t)
			mail := "From: friend@example.org\r\nSubject: my card\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
				"--b1\r\nContent-Type: text/vcard; name=z.vcf\r\nContent-Disposition: attachment; filename=z.vcf\r\n\r\n" +
				string(vcard("Zoe Zed")) + "--b1--\r\n"
			cmd := mc.Append("Contacts", int64(len(mail)), nil)
			cmd.Write([]byte(mail))
			cmd.Close()
			if _, err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			d := changes(t, a, imapstore.KindContacts, sp)
			if len(d.Added) != 1 || len(d.Modified)+len(d.Deleted) != 0 {
				t.Fatalf("after drop-in: %s", str(d))
			}
			sp = d.SyncPoint
			if subjects := folderSubjects(t, mc, "Contacts"); fmt.Sprint(subjects) != "[Xavier Yvonne Zoe Zed]" {
				t.Errorf("after adoption the folder holds %q", subjects)
			}

			uids := folderUIDs(t, mc, "Contacts")
			if err := mc.Store(imap.UIDSetNum(uids["Xavier"]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
				t.Fatal(err)
			}
			d = changes(t, e.dial(t), imapstore.KindContacts, sp)
			if str(d) != fmt.Sprintf("added [] modified [] deleted [%s]", x.ID) {
				t.Fatalf("after \\Deleted: %s", str(d))
			}
			if err := mc.Expunge().Close(); err != nil {
				t.Fatal(err)
			}
			if err := mc.Store(imap.UIDSetNum(uids["Yvonne"]), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
				t.Fatal(err)
			}
			if err := mc.Expunge().Close(); err != nil {
				t.Fatal(err)
			}
			d = changes(t, a, imapstore.KindContacts, sp)
			if got := fmt.Sprint(d.Deleted); len(d.Added)+len(d.Modified) != 0 || (got != fmt.Sprintf("[%s %s]", x.ID, y.ID) && got != fmt.Sprintf("[%s %s]", y.ID, x.ID)) {
				t.Fatalf("after expunge: %s", str(d))
			}
		})
	}
}

// TestState: sync state records in the hidden folder, read across
// connections, with versions.
func TestState(t *testing.T) {
	ctx := context.Background()
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p.caps)
			a := e.dial(t)
			changes(t, a, imapstore.KindContacts, nil) // creates Contacts
			if rec, err := a.LoadState(ctx, "device/none"); rec != nil || err != nil {
				t.Fatalf("missing record: %v %v", rec, err)
			}
			key := "device/IMEI:35 \"odd\"/contacts"
			r1, err := a.SaveState(ctx, key, []byte("one"), 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.SaveState(ctx, key+"-2", []byte("sibling"), 0); err != nil {
				t.Fatal(err)
			}
			b := e.dial(t)
			rec, err := b.LoadState(ctx, key)
			if err != nil || rec == nil || string(rec.Data) != "one" {
				t.Fatalf("second connection: %+v %v", rec, err)
			}
			if _, err := b.SaveState(ctx, key, []byte("two"), rec.Version); err != nil {
				t.Fatal(err)
			}
			if p.caps == nil { // versions come from APPENDUID (UIDPLUS)
				if _, err := a.SaveState(ctx, key, []byte("stale"), r1.Version); !errors.Is(err, imapstore.ErrStateConflict) {
					t.Errorf("stale save: %v, want ErrStateConflict", err)
				}
			}
			if rec, _ := a.LoadState(ctx, key); rec == nil || string(rec.Data) != "two" {
				t.Errorf("after save: %+v", rec)
			}
			if keys, err := a.ListState(ctx, "device/"); err != nil || len(keys) != 2 {
				t.Errorf("ListState: %q %v", keys, err)
			}
			if err := a.DeleteState(ctx, key); err != nil {
				t.Fatal(err)
			}
			if rec, _ := a.LoadState(ctx, key); rec != nil {
				t.Errorf("deleted record still there")
			}

			// The folders as a mail client lists them: item folders
			// subscribed, the state folder not.
			mc := e.mailClient(t)
			all, err := mc.List("", "*", nil).Collect()
			if err != nil {
				t.Fatal(err)
			}
			subscribed, err := mc.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := mailboxNames(all), "Contacts, INBOX, SyncML State"; got != want {
				t.Errorf("LIST: %s, want %s", got, want)
			}
			if got, want := mailboxNames(subscribed), "Contacts, INBOX"; got != want {
				t.Errorf("subscribed: %s, want %s", got, want)
			}
		})
	}
}

// TestSubFolders: contact sub-folders (the contact_folders policy) need
// LIST "" "" for the hierarchy delimiter ("/" here), LIST with a pattern
// and CREATE of nested folders.
func TestSubFolders(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	a := e.dial(t)
	family, school := imapstore.KindContacts.Sub("Family"), imapstore.KindContacts.Sub("Friends/School")
	mum, pal := &imapstore.Item{Data: vcard("Mum")}, &imapstore.Item{Data: vcard("School Pal")}
	if err := a.Put(ctx, family, mum); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(ctx, school, pal); err != nil {
		t.Fatal(err)
	}
	b := e.dial(t)
	subs, err := b.SubFolders(ctx, imapstore.KindContacts)
	if err != nil || fmt.Sprint(subs) != "[Family Friends Friends/School]" {
		t.Errorf("SubFolders: %q %v", subs, err)
	}
	if d := changes(t, b, family, nil); fmt.Sprint(d.Added) != fmt.Sprint([]string{mum.ID}) {
		t.Errorf("%s: %s", family, str(d))
	}
	if d := changes(t, b, imapstore.KindContacts, nil); !d.Empty() {
		t.Errorf("the base folder: %s", str(d))
	}
	all, err := e.mailClient(t).List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mailboxNames(all), "Contacts, Contacts/Family, Contacts/Friends, Contacts/Friends/School, INBOX"; got != want {
		t.Errorf("LIST: %s, want %s", got, want)
	}
}

// TestConcurrentAccounts: several accounts of one user at once, as
// parallel SyncML sessions of one user's devices have.
func TestConcurrentAccounts(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 3*5)
	for i, kind := range imapstore.Kinds {
		a := e.dial(t)
		wg.Go(func() {
			for j := range 5 {
				data := vcard(fmt.Sprintf("C%d-%d", i, j))
				if kind != imapstore.KindContacts {
					comp := "VEVENT"
					if kind == imapstore.KindTasks {
						comp = "VTODO"
					}
					data = []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:" + comp +
						"\r\nDTSTAMP:20261120T080000Z\r\nDTSTART:20261201T090000Z\r\nSUMMARY:" + fmt.Sprint(i, j) +
						"\r\nEND:" + comp + "\r\nEND:VCALENDAR\r\n")
				}
				if err := a.Put(ctx, kind, &imapstore.Item{Data: data}); err != nil {
					errs <- err
				}
				if _, err := a.SaveState(ctx, "k", []byte{byte(j)}, 0); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	b := e.dial(t)
	for _, kind := range imapstore.Kinds {
		if d := changes(t, b, kind, nil); len(d.Added) != 5 {
			t.Errorf("%s: %s", kind, str(d))
		}
	}
}

func TestClose(t *testing.T) {
	srv, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.AddUser("u", "p")
	c, err := imapclient.DialInsecure(srv.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("u", "p").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Done():
	default:
		t.Error("Done not closed after Close")
	}
	if srv.Err() != nil {
		t.Errorf("Err after Close: %v", srv.Err())
	}
	if _, err := c.Capability().Wait(); err == nil {
		t.Error("open connection survived Close")
	}
	if _, err := imapclient.DialInsecure(srv.Addr(), nil); err == nil {
		t.Error("still accepting after Close")
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func folderSubjects(t *testing.T, c *imapclient.Client, name string) []string {
	t.Helper()
	var out []string
	for s := range folderUIDs(t, c, name) {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// folderUIDs maps the subjects of a folder's messages to their UIDs.
func folderUIDs(t *testing.T, c *imapclient.Client, name string) map[string]imap.UID {
	t.Helper()
	if _, err := c.Select(name, nil).Wait(); err != nil {
		t.Fatalf("select %q: %v", name, err)
	}
	var all imap.UIDSet
	all.AddRange(1, 0)
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]imap.UID{}
	for _, m := range msgs {
		out[m.Envelope.Subject] = m.UID
	}
	return out
}

func mailboxNames(l []*imap.ListData) string {
	var names []string
	for _, d := range l {
		names = append(names, d.Mailbox)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
