package imapstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
)

// An item's version is the message that holds it: every write of an item
// appends a new message, and a message never changes, so
// "<UIDVALIDITY>.<UID>" of its newest message names what the item holds
// for as long as the folder lives (flags are no content: they change no
// version).
//
// IMAP has no transactions, so a write at an expected version
// (PutVersion) is made safe against the other writers of the folder
// (another Account of the user: a SyncML session, a DAV request; a mail
// client) by looking again after the write:
//
//  1. Refresh the index; the item's newest message must be want's (none
//     for "").
//  2. Append the new version, flagged pending (pendingFlag), and learn
//     its UID from APPENDUID.
//  3. Refresh the index again, keeping every message of the item.
//  4. A message of the item other than want's and ours (someone wrote it
//     since step 1), or want's gone without one (someone deleted the
//     item since step 1): ours is removed and the answer is
//     ErrVersionMismatch; the other writer's version (or deletion)
//     stays. Else want's message is removed and the pending flag cleared.
//
// Against a plain Put of the same item on another connection (append W,
// then remove the messages its index had before), which is
// last-writer-wins by design:
//   - W before step 1: PutVersion sees W (or W and want's) as newest: a
//     mismatch, nothing written.
//   - W between steps 1 and 3 (W below or above our UID): step 3 sees W,
//     since the Put removes only what it knew before its append and W is
//     its own: PutVersion removes its message; W stays.
//   - W after step 3: PutVersion has succeeded and the Put replaces its
//     version later, as a later write does; the Put's own removal takes
//     what its index knew (want's message, perhaps ours: it then saw
//     ours, so it came after it).
//
// So when PutVersion returns nil, no version made after want was
// dropped by it. What could still drop one is another connection's
// clean-up of an item with two messages (dropOldVersions, for a crash
// between a Put's append and its removal), which keeps only the newest:
// run between steps 2 and 3 it would remove W below our message and step
// 3 would find nothing to tell. It therefore leaves alone an item one of
// whose messages is pending, or one of whose messages it listed is gone
// by the time it looks at their flags. A PutVersion that dies after step
// 2 leaves its message pending; the item's next write removes it, and a
// message pending for longer than pendingFor is taken for such a
// leftover (a PutVersion takes milliseconds).
//
// A plain Delete that runs between steps 1 and 3 and does not know our
// message removes want's: step 4 then sees want's gone and answers
// ErrVersionMismatch, so the deletion stays. A mail client that edits
// the item in between makes a message of its own, which step 3 sees.

// pendingFlag marks the message of a PutVersion that has not decided yet
// whether it stays: dropOldVersions leaves its item alone.
const pendingFlag imap.Flag = "$SyncMLPending"

// pendingFor is how long after its APPEND a pending message is taken for
// a PutVersion still deciding; older, it is one that died.
const pendingFor = 10 * time.Minute

// versionOf names the version held by message uid of a folder of
// UIDVALIDITY uidValidity; "" for no message.
func versionOf(uidValidity uint32, uid imap.UID) string {
	if uid == 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d", uidValidity, uid)
}

// Versions lists the version (Item.StoreVersion) of every item of sp
// by ID. It leaves sp as it is (a point may be shared).
func (sp *SyncPoint) Versions() map[string]string {
	if sp == nil {
		return map[string]string{}
	}
	byID := sp.byID()
	out := make(map[string]string, len(byID))
	for id, uid := range byID {
		out[id] = versionOf(sp.UIDValidity, uid)
	}
	return out
}

// Versions returns the version (Item.StoreVersion) of every item of the
// kind's folder by ID, from the folder's index brought up to date as
// Changes does (no item is read), and the sync point the listing is of.
// An item another connection is writing at that moment may be listed at
// its new version, which that write may yet take back.
func (a *Account) Versions(ctx context.Context, kind Kind) (map[string]string, *SyncPoint, error) {
	ctx, f, end, err := a.beginFolder(ctx, kind)
	if err != nil {
		return nil, nil, err
	}
	defer end()
	if err := a.refresh(ctx, f); err != nil {
		return nil, nil, err
	}
	return f.cur.Versions(), f.cur.Clone(), nil
}

// PutVersion stores it (it.ID set) as Put does, if the item is still at
// version want ("": no item of that ID exists), and fills in
// it.StoreVersion. ErrVersionMismatch, with nothing changed, when another
// version is there or another writer wrote (or deleted) the item
// meanwhile: that writer's version stays. See the comment at the top of
// version.go for why. It needs UIDPLUS (APPENDUID) to know its own
// message from another writer's.
func (a *Account) PutVersion(ctx context.Context, kind Kind, it *Item, want string) error {
	errs, err := a.PutVersions(ctx, kind, []*Item{it}, []string{want})
	if err != nil {
		return err
	}
	return errs[0]
}

// PutVersions is PutVersion for several items (IDs set, each once) at
// once, in the round trips of one: one index refresh, one MULTIAPPEND,
// one look again, one removal of the replaced and stood-back messages.
// errs[i] is item i's answer (nil, ErrVersionMismatch, ErrInvalidItem);
// err, a failure of the whole (the connection, the folder), after which
// any item may or may not be written.
func (a *Account) PutVersions(ctx context.Context, kind Kind, items []*Item, wants []string) (errs []error, err error) {
	if err := a.writable("put"); err != nil {
		return nil, err
	}
	if err := kind.check(); err != nil {
		return nil, err
	}
	if len(wants) != len(items) {
		return nil, fmt.Errorf("imapstore: PutVersions: %d items, %d versions", len(items), len(wants))
	}
	errs = make([]error, len(items))
	now := time.Now()
	ids := make([]string, len(items))
	infos := make([]itemInfo, len(items))
	seen := make(map[string]bool, len(items))
	for i, it := range items {
		if it.ID == "" {
			errs[i] = fmt.Errorf("%w: PutVersion needs an item ID", ErrInvalidItem)
			continue
		}
		if seen[it.ID] {
			errs[i] = fmt.Errorf("%w: item %q twice in one PutVersions", ErrInvalidItem, it.ID)
			continue
		}
		seen[it.ID] = true
		id, info, err := prepareItems(kind, []*Item{it}, now)
		if err != nil {
			errs[i] = err
			continue
		}
		ids[i], infos[i] = id[0], info[0]
	}
	ctx, f, end, err := a.beginFolder(ctx, kind)
	if err != nil {
		return nil, err
	}
	defer end()
	if !a.caps.UIDPlus {
		return nil, fmt.Errorf("imapstore: user %q: folder %q: a write at a version needs UIDPLUS, which the server lacks", a.username, f.name)
	}
	if err := a.refresh(ctx, f); err != nil {
		return nil, err
	}
	validity := f.cur.UIDValidity
	old := make([]imap.UID, len(items))
	var at []int // the items written, in the order of msgs
	var msgs []appendMessage
	for i, it := range items {
		if errs[i] != nil {
			continue
		}
		old[i] = f.cur.newest(ids[i])
		if got := versionOf(validity, old[i]); got != wants[i] {
			errs[i] = fmt.Errorf("%w: item %q is at %q, not %q", ErrVersionMismatch, ids[i], got, wants[i])
			continue
		}
		raw, err := buildItemMessage(kind, ids[i], it.Data, infos[i], a.fromAddress(), now)
		if err != nil {
			errs[i] = fmt.Errorf("%w: build message for item %q: %v", ErrInvalidItem, ids[i], err)
			continue
		}
		m := newAppendMessage(raw, now)
		m.Flags = append(m.Flags, string(pendingFlag))
		msgs, at = append(msgs, m), append(at, i)
	}
	if len(msgs) == 0 {
		return errs, nil
	}
	uids, err := a.appendAll(ctx, f, msgs)
	if err != nil {
		return nil, err
	}
	if len(uids) != len(msgs) {
		return nil, fmt.Errorf("imapstore: user %q: folder %q: append of %d items: %d APPENDUIDs", a.username, f.name, len(msgs), len(uids))
	}
	for k, i := range at {
		f.cur.set(uids[k], ids[i])
	}
	if err := a.scan(ctx, f, false); err != nil {
		return nil, err
	}
	if f.cur.UIDValidity != validity {
		// The folder was made anew meanwhile: ours went with the old one.
		for _, i := range at {
			errs[i] = fmt.Errorf("%w: folder %q was made anew", ErrVersionMismatch, f.name)
		}
		return errs, nil
	}
	var remove, settled []imap.UID
	for k, i := range at {
		mine, id := uids[k], ids[i]
		held := f.cur.uidsOf(id)
		hasMine, hasOld := slices.Contains(held, mine), old[i] != 0 && slices.Contains(held, old[i])
		others := slices.DeleteFunc(held, func(u imap.UID) bool { return u == mine || u == old[i] })
		switch {
		case len(others) > 0:
			errs[i] = fmt.Errorf("%w: item %q was written meanwhile", ErrVersionMismatch, id)
		case old[i] != 0 && !hasOld && hasMine:
			errs[i] = fmt.Errorf("%w: item %q was deleted meanwhile", ErrVersionMismatch, id)
		}
		if errs[i] != nil {
			if hasMine {
				remove = append(remove, mine)
			}
			continue
		}
		items[i].ID, items[i].StoreVersion = id, versionOf(validity, mine)
		if !hasMine {
			continue // a later writer, who saw ours, replaced or deleted it already
		}
		if hasOld {
			remove = append(remove, old[i])
		}
		settled = append(settled, mine)
	}
	if len(remove) > 0 {
		if err := a.expunge(ctx, f, remove); err != nil {
			return nil, err
		}
	}
	if len(settled) > 0 {
		defer a.wrote(f) // a pending item becomes one
		if err := a.c.Store(imap.UIDSetNum(settled...), &imap.StoreFlags{Op: imap.StoreFlagsDel, Silent: true, Flags: []imap.Flag{pendingFlag}}, nil).Close(); err != nil {
			// The items are written: only the clean-up of their crash
			// leftovers waits for their next write.
			a.opts.Logger.Warn("imapstore: clearing the pending flag failed", "user", a.username, "folder", f.name, "err", err)
		}
	}
	return errs, nil
}

// DeleteVersion removes item id if it is still at version want.
// ErrVersionMismatch when it is at another, ErrNotFound when the folder
// does not hold it.
func (a *Account) DeleteVersion(ctx context.Context, kind Kind, id, want string) error {
	if err := a.writable("delete"); err != nil {
		return err
	}
	ctx, f, end, err := a.beginFolder(ctx, kind)
	if err != nil {
		return err
	}
	defer end()
	if err := a.refresh(ctx, f); err != nil {
		return err
	}
	uids := f.cur.uidsOf(id)
	if len(uids) == 0 {
		return fmt.Errorf("%w: item %q", ErrNotFound, id)
	}
	if got := versionOf(f.cur.UIDValidity, uids[len(uids)-1]); got != want {
		return fmt.Errorf("%w: item %q is at %q, not %q", ErrVersionMismatch, id, got, want)
	}
	return a.expunge(ctx, f, uids)
}

// pendingItems returns the items of messages uids (of f, selected) that
// dropOldVersions must leave alone: one of their messages is pending (a
// PutVersion under way, appended less than pendingFor ago), or is gone
// since it was listed (so its newest listed message may not be there).
func (a *Account) pendingItems(ctx context.Context, f *folder, uids []imap.UID) (map[string]bool, error) {
	msgs, err := a.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, Flags: true, InternalDate: true}).Collect()
	if err != nil {
		return nil, a.errorf(ctx, f, "fetch flags", err)
	}
	seen := make(map[imap.UID]bool, len(msgs))
	skip := map[string]bool{}
	for _, m := range msgs {
		seen[m.UID] = true
		pending := slices.Contains(m.Flags, pendingFlag) && time.Since(m.InternalDate) < pendingFor
		if pending || slices.Contains(m.Flags, imap.FlagDeleted) {
			skip[f.cur.items[m.UID]] = true
		}
	}
	for _, uid := range uids {
		if !seen[uid] {
			skip[f.cur.items[uid]] = true
		}
	}
	return skip, nil
}
