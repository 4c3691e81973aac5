package imapstore

import (
	"context"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"

	"syncml-imap/internal/vobject"
)

// adoptChunk bounds how many foreign messages are read at once.
const adoptChunk = 50

// adopt turns messages the store did not write (a .vcf attached to a mail
// dragged into the folder, a message another program appended) into items:
// every vCard (VEVENT, VTODO) found in them becomes a message of ours, and
// the original is removed once they are stored. A vCard comes in as 3.0
// whatever its version (storedForm). A message with nothing of
// the kind in it is left alone and remembered, so it is not read again.
//
// The item ID of an adopted object is derived from its UID property (or
// its content when it has none), so a crash between storing the items and
// removing the original, followed by a second adoption, yields the same
// IDs, which collapse to one item each: nothing is doubled.
func (a *Account) adopt(ctx context.Context, f *folder, foreign []imap.UID, known map[imap.UID]listing) error {
	slices.Sort(foreign)
	for start := 0; start < len(foreign); start += adoptChunk {
		if err := a.adoptChunk(ctx, f, foreign[start:min(start+adoptChunk, len(foreign))], known); err != nil {
			return err
		}
	}
	return nil
}

func (a *Account) adoptChunk(ctx context.Context, f *folder, uids []imap.UID, known map[imap.UID]listing) error {
	var set imap.UIDSet
	for _, uid := range uids {
		if l, ok := known[uid]; ok && l.size > maxForeignSize {
			f.cur.other[uid] = struct{}{}
			continue
		}
		set.AddNum(uid)
	}
	if len(set) == 0 {
		return nil
	}
	body := &imap.FetchItemBodySection{Peek: true}
	msgs, err := a.c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{body}}).Collect()
	if err != nil {
		return a.errorf(ctx, f, "fetch foreign messages", err)
	}
	now := time.Now()
	var out []appendMessage
	var ids []string
	var adopted []imap.UID
	for _, m := range msgs {
		if m.RFC822Size > maxForeignSize {
			f.cur.other[m.UID] = struct{}{}
			continue
		}
		pm, err := parseItemMessage(f.kind, m.FindBodySection(body))
		if err != nil || pm.ID != "" || len(pm.Payloads) == 0 {
			if err != nil {
				a.opts.Logger.Info("imapstore: unreadable message left alone", "user", a.username, "folder", f.name, "uid", m.UID, "err", err)
			}
			f.cur.other[m.UID] = struct{}{}
			continue
		}
		n := 0
		for _, payload := range pm.Payloads {
			for _, obj := range splitObjects(f.kind, payload) {
				info := inspectItem(f.kind, obj)
				id := derivedGUID(f.kind, []byte(info.UID))
				if info.UID == "" {
					id = derivedGUID(f.kind, obj)
				} else if validGUID(info.UID) && f.cur.Has(info.UID) {
					id = info.UID // an export of ours coming back
				}
				data, _ := storedForm(f.kind, obj, info.Version)
				data, _ = vobject.EnsureUID(data, f.kind.component(), id)
				info = inspectItem(f.kind, data)
				raw, err := buildItemMessage(f.kind, id, data, info, a.fromAddress(), now)
				if err != nil {
					return a.errorf(ctx, f, "build adopted item", err)
				}
				out = append(out, newAppendMessage(raw, now))
				ids = append(ids, id)
				n++
			}
		}
		if n == 0 {
			f.cur.other[m.UID] = struct{}{}
			continue
		}
		adopted = append(adopted, m.UID)
	}
	if len(out) == 0 {
		return nil
	}
	newUIDs, err := a.appendAll(ctx, f, out)
	if err != nil {
		return err
	}
	for i, uid := range newUIDs {
		f.cur.set(uid, ids[i])
	}
	a.opts.Logger.Info("imapstore: adopted foreign messages", "user", a.username, "folder", f.name,
		"messages", len(adopted), "items", len(out))
	if err := a.expunge(ctx, f, adopted); err != nil {
		return err
	}
	if newUIDs == nil {
		// No APPENDUID: learn the new UIDs the ordinary way.
		return a.refresh(ctx, f)
	}
	return nil
}
