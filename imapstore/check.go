package imapstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// FolderCheck is what CheckFolders found of one of the store's folders.
type FolderCheck struct {
	Kind Kind // KindContacts, KindCalendar, KindTasks; "" for the state folder
	Name string
	// Created: the folder did not exist and CheckFolders made it.
	Created bool
	// Op is the step that failed ("open", "create", "append", "expunge"), Err
	// why; Err nil: the folder exists and takes a message.
	Op  string
	Err error
}

// FoldersCheckData is the result of CheckFolders.
type FoldersCheckData struct {
	Folders []FolderCheck
	// Prefix and Delim are the server's personal namespace (RFC 2342):
	// the prefix its folder names take and its hierarchy separator (0:
	// none), as far as the server said.
	Prefix string
	Delim  rune
}

// CheckFolders checks, for the admin's "check" command, that each of the
// store's base folders (contacts, calendar, tasks, state) exists or can be
// created, and takes a message: it appends a small test message flagged
// \Deleted to each and expunges it again at once (UID EXPUNGE with
// UIDPLUS; without it EXPUNGE, which also removes what a mail client
// marked \Deleted there). A missing folder is created, as the first sync
// would. A step the server refuses is in the folder's FolderCheck; the
// error is for a failure of the connection itself.
func (a *Account) CheckFolders(ctx context.Context) (*FoldersCheckData, error) {
	if err := a.writable("check folders"); err != nil {
		return nil, err
	}
	ctx, end, err := a.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	d := &FoldersCheckData{}
	if a.c.Caps().Has(imap.CapNamespace) {
		if ns, err := a.c.Namespace().Wait(); err == nil && len(ns.Personal) > 0 {
			d.Prefix, d.Delim = ns.Personal[0].Prefix, ns.Personal[0].Delim
		}
	}
	if d.Delim == 0 {
		if d.Delim, err = a.delimiter(ctx); err != nil {
			return nil, err
		}
	}
	folders := []*folder{a.folderNamed(a.opts.Folders[KindContacts], KindContacts), a.folderNamed(a.opts.Folders[KindCalendar], KindCalendar),
		a.folderNamed(a.opts.Folders[KindTasks], KindTasks), a.stateFolder()}
	for _, f := range folders {
		fc := FolderCheck{Kind: f.kind, Name: f.name}
		fc.Created, fc.Op, fc.Err = a.checkFolder(ctx, f)
		if a.c.State() == imap.ConnStateLogout {
			return nil, a.errorf(ctx, f, fc.Op, fc.Err)
		}
		d.Folders = append(d.Folders, fc)
	}
	return d, nil
}

// checkFolder makes f if it is missing, then appends a test message to it
// and removes it again.
func (a *Account) checkFolder(ctx context.Context, f *folder) (created bool, op string, err error) {
	if _, err := a.c.Status(f.name, &imap.StatusOptions{NumMessages: true}).Wait(); err != nil {
		if !isNonexistent(err) {
			return false, "open", err
		}
		if created, err = a.createFolder(ctx, f); err != nil {
			return false, "create", err
		}
		if f.kind != "" {
			a.subscribe(f)
		}
	}
	now := time.Now()
	raw := fmt.Sprintf("From: <%s>\r\nDate: %s\r\nSubject: syncml-imap check\r\nMessage-ID: <check.%d@syncml.invalid>\r\n"+
		"Content-Type: text/plain; charset=us-ascii\r\n\r\nA test message of \"syncml-imap check\", removed at once.\r\n",
		a.fromAddress(), now.Format(time.RFC1123Z), now.UnixNano())
	appended, err := a.appendOne(ctx, f, appendMessage{Flags: []string{`\Deleted`, `\Seen`}, Date: now, Literal: []byte(raw)})
	if err != nil {
		return created, "append", err
	}
	if _, err := a.c.Select(f.name, nil).Wait(); err != nil {
		a.selected = ""
		return created, "open", err
	}
	a.selected = f.name
	if a.caps.UIDPlus && appended != nil && appended.UID != 0 {
		err = a.c.UIDExpunge(imap.UIDSetNum(appended.UID)).Close()
	} else {
		err = a.c.Expunge().Close()
	}
	if err != nil {
		return created, "expunge", err
	}
	f.cur = nil // the folder changed under any index kept of it
	return created, "", nil
}

// ResponseCode is the IMAP response code of a refusal (RFC 5530:
// OVERQUOTA, NOPERM, CANNOT, ...), "" when err is none.
func ResponseCode(err error) string {
	var ierr *imap.Error
	if errors.As(err, &ierr) {
		return string(ierr.Code)
	}
	return ""
}

// ResponseText is the server's own words of a refusal, err's text when
// it is not an IMAP answer.
func ResponseText(err error) string {
	var ierr *imap.Error
	if errors.As(err, &ierr) {
		return strings.TrimSpace(ierr.Text)
	}
	return err.Error()
}
