package imapstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// SnapshotFor snapshots the kind's folder into BackupFolder/label/<the
// folder's name>, e.g. "SyncML Backup/2026-11-25 14.03 IMEI-3550/Contacts".
func (a *Account) SnapshotFor(ctx context.Context, kind Kind, label string) (int, error) {
	if err := a.writable("snapshot"); err != nil {
		return 0, err
	}
	name := a.opts.Folders[kind.Base()]
	if name == "" {
		name = strings.ToUpper(string(kind.Base())[:1]) + string(kind.Base())[1:]
	}
	if kind.SubPath() != "" {
		name += "/" + kind.SubPath()
	}
	label = strings.Map(func(r rune) rune {
		if r == '/' || r == '*' || r == '%' || r == '.' || r < ' ' { // '.': Maildir++ servers refuse it
			return '-'
		}
		return r
	}, label)
	return a.Snapshot(ctx, kind, a.opts.BackupFolder+"/"+label+"/"+name)
}

// Snapshot copies every message of the kind's folder, server side (one
// UID COPY), into the folder dest ("/" between levels, whatever the
// server's delimiter), created with its parents and subscribed, so that a
// person sees it in a mail client. Nothing reads it afterwards: it is a
// backup to copy items back from by hand (or with import). It returns the
// number of messages copied.
func (a *Account) Snapshot(ctx context.Context, kind Kind, dest string) (int, error) {
	if err := a.writable("snapshot"); err != nil {
		return 0, err
	}
	ctx, end, err := a.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer end()
	f, err := a.itemFolder(ctx, kind)
	if err != nil {
		return 0, err
	}
	delim, err := a.delimiter(ctx)
	if err != nil {
		return 0, err
	}
	if delim == 0 {
		return 0, fmt.Errorf("imapstore: snapshot %q: the IMAP server has no folder hierarchy", dest)
	}
	var levels []string
	for _, l := range strings.Split(dest, "/") {
		if l == "" || strings.ContainsRune(l, delim) || strings.ContainsAny(l, "*%") {
			return 0, fmt.Errorf("imapstore: snapshot: invalid folder name %q", dest)
		}
		levels = append(levels, l)
	}
	path := make([]*folder, len(levels))
	for i := range levels {
		path[i] = a.folderNamed(strings.Join(levels[:i+1], string(delim)), "")
	}
	if err := a.createPath(ctx, path); err != nil {
		return 0, err
	}
	target := path[len(path)-1]
	if err := a.refresh(ctx, f); err != nil {
		return 0, err
	}
	if len(f.cur.items) == 0 && len(f.cur.other) == 0 {
		return 0, nil // nothing to copy ("1:*" of an empty folder is an error on some servers)
	}
	if err := a.reselectFolder(ctx, f); err != nil {
		return 0, err
	}
	data, err := a.c.Copy(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, target.name).Wait()
	if err != nil {
		return 0, a.errorf(ctx, f, "snapshot copy", err)
	}
	n := 0
	if data != nil {
		for _, r := range data.DestUIDs {
			if r.Stop >= r.Start {
				n += int(r.Stop-r.Start) + 1
			}
		}
	}
	a.opts.Logger.Info("imapstore: snapshot", "user", a.username, "folder", f.name, "to", target.name, "messages", n)
	return n, nil
}
