package imapstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"syncml-imap/internal/dovetest"
)

func TestKindSub(t *testing.T) {
	for _, tc := range []struct {
		kind          Kind
		base          Kind
		sub, contacts string // SubPath; "" for the folder name: the kind is refused
	}{
		{KindContacts, KindContacts, "", "Contacts"},
		{KindTasks.Sub("Home"), KindTasks, "Home", "Tasks.Home"},
		{KindContacts.Sub("Family"), KindContacts, "Family", "Contacts.Family"},
		{KindContacts.Sub("Friends/School"), KindContacts, "Friends/School", "Contacts.Friends.School"},
		{KindContacts.Sub("Friends").Sub("School"), KindContacts, "Friends/School", "Contacts.Friends.School"},
		{KindCalendar.Sub("Fêtes – 2026"), KindCalendar, "Fêtes – 2026", "Calendar.Fêtes – 2026"},
		{KindContacts.Sub("Dr. Who"), KindContacts, "Dr. Who", ""}, // holds the delimiter "."
		{KindContacts.Sub(""), KindContacts, "", ""},
		{KindContacts.Sub("a//b"), KindContacts, "a//b", ""},
		{KindContacts.Sub("a/"), KindContacts, "a/", ""},
		{KindContacts.Sub("/a"), KindContacts, "/a", ""},
		{KindContacts.Sub(".."), KindContacts, "..", ""},
		{KindContacts.Sub("a/../b"), KindContacts, "a/../b", ""},
		{KindContacts.Sub("."), KindContacts, ".", ""},
		{KindContacts.Sub("All*"), KindContacts, "All*", ""},
		{KindContacts.Sub("100%"), KindContacts, "100%", ""},
		{KindContacts.Sub("tab\there"), KindContacts, "tab\there", ""},
		{KindContacts.Sub("nul\x00"), KindContacts, "nul\x00", ""},
		{KindContacts.Sub("c1\u0085"), KindContacts, "c1\u0085", ""},
		{KindContacts.Sub("bad\xff"), KindContacts, "bad\xff", ""},
		{Kind("memos"), Kind("memos"), "", ""},
		{Kind("memos").Sub("x"), Kind("memos"), "x", ""},
		{Kind(""), Kind(""), "", ""},
	} {
		if got := tc.kind.Base(); got != tc.base {
			t.Errorf("%q.Base() = %q, want %q", tc.kind, got, tc.base)
		}
		if got := tc.kind.SubPath(); got != tc.sub {
			t.Errorf("%q.SubPath() = %q, want %q", tc.kind, got, tc.sub)
		}
		name, err := nameOn(tc.kind, '.')
		if tc.contacts == "" {
			if !errors.Is(err, ErrInvalidKind) {
				t.Errorf("%q: folder %q, err %v; want ErrInvalidKind", tc.kind, name, err)
			}
			continue
		}
		if err != nil || name != tc.contacts {
			t.Errorf("%q: folder %q, err %v; want %q", tc.kind, name, err, tc.contacts)
		}
		if mt := tc.kind.MediaType(); mt != tc.base.MediaType() || tc.kind.component() != tc.base.component() || tc.kind.fileExt() != tc.base.fileExt() {
			t.Errorf("%q: media type %s, component %s, ext %s differ from the base kind's", tc.kind, mt, tc.kind.component(), tc.kind.fileExt())
		}
	}

	// The delimiter decides the folder name, never the kind.
	for delim, want := range map[rune]string{'/': "Contacts/Friends/School", '.': "Contacts.Friends.School", '\\': `Contacts\Friends\School`} {
		if got, err := nameOn(KindContacts.Sub("Friends/School"), delim); err != nil || got != want {
			t.Errorf("delimiter %q: %q, %v; want %q", delim, got, err, want)
		}
	}
	// "Dr. Who" is fine where "." is no delimiter.
	if got, err := nameOn(KindContacts.Sub("Dr. Who"), '/'); err != nil || got != "Contacts/Dr. Who" {
		t.Errorf(`"Dr. Who" with "/": %q, %v`, got, err)
	}
	// A server without hierarchy has no sub-folders.
	if _, err := nameOn(KindContacts.Sub("Family"), 0); !errors.Is(err, ErrInvalidKind) || !strings.Contains(err.Error(), "no folder hierarchy") {
		t.Errorf("NIL delimiter: %v", err)
	}
}

// nameOn names the kind's folder on a server with the delimiter, as
// Account.itemFolder does.
func nameOn(kind Kind, delim rune) (string, error) {
	if err := kind.check(); err != nil {
		return "", err
	}
	o := (*Options)(nil).withDefaults()
	if kind.SubPath() == "" {
		return o.Folders[kind], nil
	}
	return subFolderName(o.Folders[kind.Base()], kind, delim)
}

// TestSubFolderContent: what the store does with an item depends on the
// base kind only; adopted IDs depend on the folder too.
func TestSubFolderContent(t *testing.T) {
	sub := KindTasks.Sub("Home")
	if err := checkItem(sub, task("t", "Dishes")); err != nil {
		t.Errorf("a task in a tasks sub-folder: %v", err)
	}
	if err := checkItem(sub, event("e", "Party")); err == nil {
		t.Error("an event accepted in a tasks sub-folder")
	}
	if got, want := inspectItem(sub, task("t", "Dishes")), inspectItem(KindTasks, task("t", "Dishes")); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("inspect: %+v, want %+v", got, want)
	}
	if n := len(splitObjects(KindContacts.Sub("x"), append(vcard("a", "A"), vcard("b", "B")...))); n != 2 {
		t.Errorf("split: %d objects", n)
	}
	if !looksLikeItemPart(KindContacts.Sub("x"), "text/x-vcard", "") || looksLikeItemPart(KindContacts.Sub("x"), "text/calendar", "") {
		t.Error("looksLikeItemPart differs from the base kind's")
	}
	if derivedGUID(KindContacts, []byte("u")) == derivedGUID(KindContacts.Sub("Family"), []byte("u")) {
		t.Error("the same object adopted in two folders gets one ID")
	}
}

// subscribed lists the folders the user subscribed to.
func subscribed(t testing.TB, c *imapclient.Client) []string {
	t.Helper()
	subs, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range subs {
		names = append(names, s.Mailbox)
	}
	return names
}

func mustSubFolders(t testing.TB, a *Account, kind Kind) []string {
	t.Helper()
	subs, err := a.SubFolders(context.Background(), kind)
	if err != nil {
		t.Fatalf("SubFolders(%q): %v", kind, err)
	}
	return subs
}

// TestSubFolders: items in sub-folders, nested ones included, live apart
// from the base folder's and from each other's.
func TestSubFolders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	eachProfile(t, func(t *testing.T, e *testEnv) {
		a := e.dial(t)
		family, school := KindContacts.Sub("Family"), KindContacts.Sub("Friends/School")

		if subs := mustSubFolders(t, a, KindContacts); len(subs) != 0 {
			t.Errorf("new mailbox: sub-folders %q", subs)
		}
		sp := map[Kind]*SyncPoint{}
		for _, k := range []Kind{KindContacts, family, school} {
			d := mustChanges(t, a, k, nil)
			if !d.Empty() {
				t.Fatalf("%s: new folder not empty: %s", k, changesString(d))
			}
			sp[k] = d.SyncPoint
		}
		base := &Item{Data: vcard("", "Base Person")}
		mum, dad := &Item{Data: vcard("", "Mum")}, &Item{Data: vcard("", "Dad")}
		pal := &Item{Data: vcard("", "School Pal")}
		for k, items := range map[Kind][]*Item{KindContacts: {base}, family: {mum, dad}, school: {pal}} {
			if err := a.Put(ctx, k, items...); err != nil {
				t.Fatalf("Put %s: %v", k, err)
			}
		}
		// Each folder reports its own items only, also to a new session.
		b := e.dial(t)
		for k, want := range map[Kind][]string{KindContacts: {base.ID}, family: sortedIDs(mum, dad), school: {pal.ID}} {
			for _, acc := range []*Account{a, b} {
				d := mustChanges(t, acc, k, sp[k])
				if fmt.Sprint(d.Added) != fmt.Sprint(want) || len(d.Modified)+len(d.Deleted) != 0 {
					t.Errorf("%s: %s, want added %v", k, changesString(d), want)
				}
			}
		}
		sp[family] = mustChanges(t, a, family, nil).SyncPoint

		got, err := b.Get(ctx, family, mum.ID, base.ID, pal.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got[0] == nil || !bytes.Equal(got[0].Data, mum.Data) || got[1] != nil || got[2] != nil {
			t.Errorf("Get in %s: %+v", family, got)
		}
		if got, _ := b.Get(ctx, KindContacts, mum.ID); got[0] != nil {
			t.Errorf("the base folder holds a sub-folder's item")
		}

		// Replace and delete in the sub-folder.
		mustPut(t, b, family, &Item{ID: dad.ID, Data: vcard("", "Dad Renamed")})
		missing, err := b.Delete(ctx, family, mum.ID, base.ID)
		if err != nil || fmt.Sprint(missing) != fmt.Sprint([]string{base.ID}) {
			t.Fatalf("Delete in %s: missing %v, err %v", family, missing, err)
		}
		if d := mustChanges(t, a, family, sp[family]); changesString(d) != fmt.Sprintf("added [] modified [%s] deleted [%s]", dad.ID, mum.ID) {
			t.Errorf("%s after replace and delete: %s", family, changesString(d))
		}
		if d := mustChanges(t, a, KindContacts, nil); fmt.Sprint(d.Added) != fmt.Sprint([]string{base.ID}) {
			t.Errorf("base folder after the sub-folder's changes: %s", changesString(d))
		}

		// The mail client sees a folder tree, subscribed, parents included.
		mc := e.mailClient(t)
		for name, n := range map[string]int{"Contacts": 1, "Contacts/Family": 1, "Contacts/Friends": 0, "Contacts/Friends/School": 1} {
			if got := len(folderMessages(t, mc, name)); got != n {
				t.Errorf("%q: %d messages, want %d", name, got, n)
			}
		}
		subs := subscribed(t, mc)
		for _, name := range []string{"Contacts", "Contacts/Family", "Contacts/Friends", "Contacts/Friends/School"} {
			if !slices.Contains(subs, name) {
				t.Errorf("%q not subscribed; subscribed: %q", name, subs)
			}
		}

		// SubFolders: one LIST, plus LIST "" "" pipelined with it when
		// the Account has not asked for the delimiter yet.
		c := e.dial(t)
		want := []string{"Family", "Friends", "Friends/School"}
		if subs := mustSubFolders(t, c, KindContacts); !slices.Equal(subs, want) {
			t.Errorf("SubFolders = %q, want %q", subs, want)
		}
		if cmds := e.log.take(); !slices.Equal(cmds, []string{"LIST", "LIST"}) {
			t.Errorf("first SubFolders sent %v", cmds)
		}
		if subs := mustSubFolders(t, c, KindContacts.Sub("Friends")); !slices.Equal(subs, []string{"School"}) {
			t.Errorf("SubFolders(Friends) = %q", subs)
		}
		if subs := mustSubFolders(t, c, KindCalendar); len(subs) != 0 {
			t.Errorf("SubFolders(calendar) = %q", subs)
		}
		if cmds := e.log.take(); !slices.Equal(cmds, []string{"LIST", "LIST"}) {
			t.Errorf("SubFolders twice more sent %v", cmds)
		}
		// The delimiter learnt, a sub-folder costs what a base folder costs.
		mustChanges(t, c, school, nil)
		if cmds := e.log.take(); slices.Contains(cmds, "LIST") {
			t.Errorf("Changes after SubFolders sent %v", cmds)
		}
	})
}

// TestSubFolderDelimiterOnce: the first use of a sub-folder asks for the
// delimiter, once per Account.
func TestSubFolderDelimiterOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dovetest.ProfileFull)
	a := e.dial(t)
	mustChanges(t, a, KindContacts, nil)
	if cmds := e.log.take(); slices.Contains(cmds, "LIST") {
		t.Errorf("a base folder asked for the delimiter: %v", cmds)
	}
	mustChanges(t, a, KindContacts.Sub("Family"), nil)
	if cmds := e.log.take(); len(cmds) == 0 || cmds[0] != "LIST" {
		t.Errorf("first sub-folder: %v, want LIST first", cmds)
	}
	mustChanges(t, a, KindCalendar.Sub("Work"), nil)
	mustChanges(t, a, KindContacts.Sub("Family"), nil)
	if cmds := e.log.take(); slices.Contains(cmds, "LIST") {
		t.Errorf("delimiter asked for again: %v", cmds)
	}
}

// TestSubFolderInvalid: a bad sub-folder name is refused before any IMAP
// command is sent.
func TestSubFolderInvalid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, dovetest.ProfileFull)
	a := e.dial(t)
	for _, kind := range []Kind{
		KindContacts.Sub(""), KindContacts.Sub("a//b"), KindContacts.Sub(".."), KindContacts.Sub("Family/../../Calendar"),
		KindContacts.Sub("*"), KindContacts.Sub("Fam%"), KindContacts.Sub("new\r\nline"), Kind("memos/x"),
	} {
		_, getErr := a.Get(ctx, kind, "x")
		_, changesErr := a.Changes(ctx, kind, nil)
		_, delErr := a.Delete(ctx, kind, "x")
		_, advErr := a.Advance(ctx, kind, nil, nil)
		_, subErr := a.SubFolders(ctx, kind)
		for i, err := range []error{a.Put(ctx, kind, &Item{Data: vcard("", "X")}), getErr, changesErr, delErr, advErr, subErr} {
			if !errors.Is(err, ErrInvalidKind) {
				t.Errorf("%q, call %d: %v, want ErrInvalidKind", kind, i, err)
			}
		}
		if cmds := e.log.take(); len(cmds) != 0 {
			t.Errorf("%q: sent %v", kind, cmds)
		}
	}
	// Nothing was made.
	mc := e.mailClient(t)
	all, err := mc.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		if l.Mailbox != "INBOX" {
			t.Errorf("folder %q made", l.Mailbox)
		}
	}

	// On a server without hierarchy (LIST "" "" gives NIL; Dovecot always
	// has one, so the Account is told so) a sub-folder is refused too, and
	// has no sub-folders.
	a.delim, a.delimKnown = 0, true
	if err := a.Put(ctx, KindContacts.Sub("Family"), &Item{Data: vcard("", "X")}); !errors.Is(err, ErrInvalidKind) || !strings.Contains(err.Error(), "hierarchy") {
		t.Errorf("Put without hierarchy: %v", err)
	}
	if subs, err := a.SubFolders(ctx, KindContacts); err != nil || len(subs) != 0 {
		t.Errorf("SubFolders without hierarchy: %q, %v", subs, err)
	}
	if cmds := e.log.take(); len(cmds) != 0 {
		t.Errorf("without hierarchy: sent %v", cmds)
	}
}

// TestSubFolderQuote: a quote and a backslash, which config and the
// engine's policy used to refuse in a sub-folder path, make a folder
// Dovecot keeps and lists like any other (IMAP quotes them), so
// folderpath.Check takes them.
func TestSubFolderQuote(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dovetest.ProfileFull)
	a := e.dial(t)
	sub := `Say "hi"/back\slash`
	mustPut(t, a, KindContacts.Sub(sub), &Item{Data: vcard("q", "Quoted")})
	if subs := mustSubFolders(t, a, KindContacts); !slices.Equal(subs, []string{`Say "hi"`, sub}) {
		t.Errorf("SubFolders = %q", subs)
	}
	if d := mustChanges(t, a, KindContacts.Sub(sub), nil); len(d.Added) != 1 {
		t.Errorf("%s: %s", sub, changesString(d))
	}
	if n := len(folderMessages(t, e.mailClient(t), `Contacts/Say "hi"/back\slash`)); n != 1 {
		t.Errorf("the folder holds %d messages, want 1", n)
	}
}

// dropMail is a mail with a vCard attachment, as a mail client writes it.
func dropMail(card string) []byte {
	return []byte("From: friend@example.org\r\nSubject: a contact\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--b1\r\nContent-Type: text/vcard; name=card.vcf\r\nContent-Disposition: attachment; filename=card.vcf\r\n\r\n" +
		card + "--b1--\r\n")
}

// TestSubFolderMadeByMailClient: a sub-folder a person made in a mail
// client, a .vcf dropped in, is listed and its contact adopted. Dovetest's
// Dovecot uses "/" as delimiter.
func TestSubFolderMadeByMailClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, dovetest.ProfileFull)
	mc := e.mailClient(t)
	checkDelimiter(t, mc, '/')
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:dropped-1\r\nFN:Colleague\r\nEND:VCARD\r\n"
	for _, name := range []string{"Contacts", "Contacts/Work", "Contacts/Empty/Below"} {
		if err := mc.Create(name, nil).Wait(); err != nil {
			t.Fatalf("create %q: %v", name, err)
		}
	}
	appendRaw(t, mc, "Contacts/Work", dropMail(card))
	appendRaw(t, mc, "Contacts", dropMail(card))

	a := e.dial(t)
	// Maildir++ has no directory for "Contacts/Empty": it is \Noselect.
	if subs := mustSubFolders(t, a, KindContacts); !slices.Equal(subs, []string{"Empty/Below", "Work"}) {
		t.Errorf("SubFolders = %q", subs)
	}
	work := KindContacts.Sub("Work")
	d := mustChanges(t, a, work, nil)
	if len(d.Added) != 1 {
		t.Fatalf("%s: %s", work, changesString(d))
	}
	items, err := a.Get(ctx, work, d.Added[0])
	if err != nil || items[0] == nil || !bytes.Contains(items[0].Data, []byte("FN:Colleague")) {
		t.Fatalf("Get adopted: %v %+v", err, items)
	}
	// The same card in the base folder is another item.
	db := mustChanges(t, a, KindContacts, nil)
	if len(db.Added) != 1 || db.Added[0] == d.Added[0] {
		t.Errorf("base folder: %s; sub-folder item %s", changesString(db), d.Added[0])
	}
	if n := len(folderMessages(t, mc, "Contacts/Work")); n != 1 {
		t.Errorf("Contacts/Work holds %d messages, want the adopted one", n)
	}
}

func checkDelimiter(t testing.TB, c *imapclient.Client, want rune) {
	t.Helper()
	l, err := c.List("", "", nil).Collect()
	if err != nil || len(l) != 1 || l[0].Delim != want {
		t.Fatalf("LIST \"\" \"\": %+v, %v; want delimiter %q", l, err, want)
	}
}

// TestSubFolderDotDelimiter runs against Dovecot's default delimiter for
// Maildir++, ".", set for one user through the userdb (Dovecot lets userdb
// fields override settings; passwd-file takes them with the userdb_ prefix).
func TestSubFolderDotDelimiter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, dovetest.ProfileFull)
	userdbSetting(t, e, "userdb_namespace/inbox/separator=.")
	mc := e.mailClient(t)
	checkDelimiter(t, mc, '.')

	a := e.dial(t)
	school := KindContacts.Sub("Friends/School")
	pal := &Item{Data: vcard("", "School Pal")}
	mustPut(t, a, school, pal)
	if n := len(folderMessages(t, mc, "Contacts.Friends.School")); n != 1 {
		t.Errorf("Contacts.Friends.School: %d messages", n)
	}
	subs := subscribed(t, mc)
	for _, name := range []string{"Contacts", "Contacts.Friends", "Contacts.Friends.School"} {
		if !slices.Contains(subs, name) {
			t.Errorf("%q not subscribed; subscribed: %q", name, subs)
		}
	}

	// A mail client makes Contacts.Work and drops a card in.
	if err := mc.Create("Contacts.Work", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendRaw(t, mc, "Contacts.Work", dropMail("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Colleague\r\nEND:VCARD\r\n"))
	if subs := mustSubFolders(t, a, KindContacts); !slices.Equal(subs, []string{"Friends", "Friends/School", "Work"}) {
		t.Errorf("SubFolders = %q", subs)
	}
	d := mustChanges(t, a, KindContacts.Sub("Work"), nil)
	if len(d.Added) != 1 {
		t.Fatalf("Contacts.Work: %s", changesString(d))
	}
	items, err := a.Get(ctx, KindContacts.Sub("Work"), d.Added...)
	if err != nil || items[0] == nil || !bytes.Contains(items[0].Data, []byte("FN:Colleague")) {
		t.Fatalf("Get adopted: %v %+v", err, items)
	}
	if d := mustChanges(t, a, KindContacts, nil); !d.Empty() {
		t.Errorf("base folder: %s", changesString(d))
	}

	// A name holding the delimiter cannot be one level here.
	if err := a.Put(ctx, KindContacts.Sub("Dr. Who"), &Item{Data: vcard("", "X")}); !errors.Is(err, ErrInvalidKind) {
		t.Errorf("Put in \"Dr. Who\": %v, want ErrInvalidKind", err)
	}
}

// userdbSetting adds a userdb extra field to the test user's entry in
// dovetest's passwd-file (one file per user, Dir/passwd.d/<user>, read
// afresh by Dovecot: the user has not logged in yet).
func userdbSetting(t testing.TB, e *testEnv, field string) {
	t.Helper()
	path := filepath.Join(e.srv.Dir, "passwd.d", strings.ToLower(e.user))
	line, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("dovetest's passwd-file layout changed: %v", err)
	}
	entry := strings.TrimSuffix(string(line), "\n")
	if !strings.HasSuffix(entry, "::") {
		t.Fatalf("passwd-file entry %q has extra fields already", entry)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(entry+field+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
