package imapstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"syncml-imap/internal/folderpath"
)

// Sub-folders of item folders. A Kind names them with "/" between levels
// (see Kind.Sub); on the server the levels are joined with the server's
// hierarchy delimiter, which differs between servers and configurations
// (Dovecot with Maildir++ defaults to ".", most others use "/").

// delimiter returns the server's hierarchy delimiter, 0 when the server has
// no hierarchy. LIST with an empty mailbox name asks for just that (RFC
// 3501, 6.3.8); the answer is kept for the Account's life.
func (a *Account) delimiter(ctx context.Context) (rune, error) {
	if a.delimKnown {
		return a.delim, nil
	}
	list, err := a.c.List("", "", nil).Collect()
	if err != nil {
		return 0, a.errorf(ctx, nil, "list hierarchy delimiter", err)
	}
	return a.learnDelimiter(ctx, list)
}

// learnDelimiter takes the delimiter from the answer to LIST "" "": the
// entry with the empty name.
func (a *Account) learnDelimiter(ctx context.Context, list []*imap.ListData) (rune, error) {
	for _, l := range list {
		if l.Mailbox == "" {
			a.delim, a.delimKnown = l.Delim, true
			a.opts.Logger.Debug("imapstore: hierarchy delimiter", "user", a.username, "delim", string(l.Delim))
			return a.delim, nil
		}
	}
	return 0, a.errorf(ctx, nil, "list hierarchy delimiter", fmt.Errorf("no answer to LIST \"\" \"\""))
}

// subFolderName names a sub-folder kind's folder on a server with the
// hierarchy delimiter delim (0: none): the base folder's name, then the
// levels of the sub-folder path, all joined with delim.
func subFolderName(base string, kind Kind, delim rune) (string, error) {
	if delim == 0 {
		return "", fmt.Errorf("%w %q: the IMAP server has no folder hierarchy (LIST gives a NIL delimiter)", ErrInvalidKind, kind)
	}
	levels := strings.Split(kind.SubPath(), "/")
	for _, level := range levels {
		if strings.ContainsRune(level, delim) {
			return "", fmt.Errorf("%w %q: sub-folder name %q holds the server's hierarchy delimiter %q", ErrInvalidKind, kind, level, delim)
		}
	}
	d := string(delim)
	return base + d + strings.Join(levels, d), nil
}

// createParents makes the folders above a sub-folder that do not exist,
// top down, and subscribes those it made. RFC 3501 (6.3.3) says only that
// a server SHOULD make them along with the child: some refuse the child,
// and Dovecot with Maildir++ lists a missing parent as \Noselect, which
// mail clients show as a folder that cannot be opened. A parent that
// exists keeps its subscription as the user left it.
func (a *Account) createParents(ctx context.Context, kind Kind) error {
	levels := strings.Split(kind.SubPath(), "/")
	var path []*folder
	for i := range levels {
		parent := kind.Base()
		if i > 0 {
			parent = parent.Sub(strings.Join(levels[:i], "/"))
		}
		p, err := a.itemFolder(ctx, parent)
		if err != nil {
			return err
		}
		path = append(path, p)
	}
	return a.createPath(ctx, path)
}

// createPath creates the folders of path, top down, that are not known to
// exist, and subscribes those it made (an existing folder keeps the
// subscription its user chose).
func (a *Account) createPath(ctx context.Context, path []*folder) error {
	for _, p := range path {
		if p.exists {
			continue
		}
		created, err := a.createFolder(ctx, p)
		if err != nil {
			return err
		}
		if created {
			a.subscribe(p)
		}
	}
	return nil
}

// SubFolders lists the folders below the kind's folder, as paths relative
// to it with "/" between levels (kind.Sub(path) is the kind of each),
// sorted. Left out are folders that cannot hold messages (\Noselect, such
// as a parent another program did not create) and names no Kind can have
// (see Kind.Sub; also a level holding "/" on a server whose delimiter is
// another character). A server without folder hierarchy has none.
//
// Cost: one LIST; the first time the Account needs the hierarchy
// delimiter, one more, pipelined with it.
func (a *Account) SubFolders(ctx context.Context, kind Kind) ([]string, error) {
	if err := kind.check(); err != nil {
		return nil, err
	}
	ctx, end, err := a.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()

	// Without the delimiter the kind's folder cannot be named yet, but
	// whatever it is, its name and those below it start with the base
	// folder's name.
	pattern := a.opts.Folders[kind.Base()] + "*"
	var delimCmd *imapclient.ListCommand
	switch {
	case !a.delimKnown:
		delimCmd = a.c.List("", "", nil)
	case a.delim == 0:
		return nil, nil
	default:
		f, err := a.itemFolder(ctx, kind)
		if err != nil {
			return nil, err
		}
		pattern = f.name + string(a.delim) + "*"
	}
	listCmd := a.c.List("", pattern, nil)
	// go-imap hands LIST data to the oldest LIST under way, whichever
	// command it answers: take both answers as one, and drain them at once
	// (the client's reader waits while a command's buffer is full).
	var found, delimList []*imap.ListData
	var listErr, delimErr error
	waitAll(
		func() { found, listErr = listCmd.Collect() },
		func() {
			if delimCmd != nil {
				delimList, delimErr = delimCmd.Collect()
			}
		},
	)
	if delimErr != nil {
		return nil, a.errorf(ctx, nil, "list hierarchy delimiter", delimErr)
	}
	if listErr != nil {
		return nil, a.errorf(ctx, nil, fmt.Sprintf("list %q", pattern), listErr)
	}
	found = append(found, delimList...)
	if delimCmd != nil {
		if _, err := a.learnDelimiter(ctx, found); err != nil {
			return nil, err
		}
	}
	if a.delim == 0 {
		return nil, nil
	}
	f, err := a.itemFolder(ctx, kind)
	if err != nil {
		return nil, err
	}
	prefix := f.name + string(a.delim)
	var paths []string
	for _, l := range found {
		rel, ok := strings.CutPrefix(l.Mailbox, prefix)
		if !ok || rel == "" || slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		levels := strings.Split(rel, string(a.delim))
		if a.delim != '/' && strings.Contains(rel, "/") || folderpath.Check(strings.Join(levels, "/")) != nil {
			a.opts.Logger.Debug("imapstore: sub-folder name no kind can have", "user", a.username, "folder", l.Mailbox)
			continue
		}
		paths = append(paths, strings.Join(levels, "/"))
	}
	slices.Sort(paths)
	return slices.Compact(paths), nil
}
