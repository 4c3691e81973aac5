package imapstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"

	"syncml-imap/internal/vobject"
)

// Put stores items in the kind's folder. An item with an empty ID is new:
// the store gives it an ID (written back into item.ID). An item with an
// ID replaces that item: the new version is appended first and the old
// message removed after, so a crash in between leaves two versions, which
// the next read resolves to the newest; nothing is lost.
//
// An item without a UID property gets one equal to its ID. Data that is
// not one object of the kind fails with ErrInvalidItem before anything is
// written. Many items go in MULTIAPPEND batches.
func (a *Account) Put(ctx context.Context, kind Kind, items ...*Item) error {
	if err := a.writable("put"); err != nil {
		return err
	}
	if err := kind.check(); err != nil {
		return err
	}
	now := time.Now()
	ids, infos, err := prepareItems(kind, items, now)
	if err != nil {
		return err
	}
	ctx, f, end, err := a.beginFolder(ctx, kind)
	if err != nil {
		return err
	}
	defer end()
	if err := a.ensureIndex(ctx, f); err != nil {
		return err
	}
	// Old versions are noted before the append, so that only they go.
	var old []imap.UID
	for _, id := range ids {
		old = append(old, f.cur.uidsOf(id)...)
	}
	// The messages are made as they go: MULTIAPPEND sends one while the
	// next is made, so that the server stores while we build.
	from := a.fromAddress()
	msgs := &outgoing{n: len(items),
		size: func(i int) int { return 2*len(items[i].Data) + 1024 }, // the message: the item quoted-printable, a summary, headers
		make: func(i int) (appendMessage, error) {
			raw, err := buildItemMessage(kind, ids[i], items[i].Data, infos[i], from, now)
			if err != nil {
				return appendMessage{}, fmt.Errorf("imapstore: build message for item %q: %w", ids[i], err)
			}
			return newAppendMessage(raw, now), nil
		}}
	uids, err := a.appendOutgoing(ctx, f, msgs)
	if err != nil {
		return err
	}
	for i := range items {
		items[i].ID = ids[i]
	}
	if uids != nil {
		for i, uid := range uids {
			f.cur.set(uid, ids[i])
			items[i].StoreVersion = versionOf(f.cur.UIDValidity, uid)
		}
	}
	// Without APPENDUID the new UIDs are found by the next refresh, which
	// sees them as ours by their header.
	slices.Sort(old)
	return a.expunge(ctx, f, slices.Compact(old))
}

// prepareItems checks items and brings each into the stored form, as Put
// takes them: their IDs (made for new items, not yet written back) and
// what their messages show.
func prepareItems(kind Kind, items []*Item, now time.Time) ([]string, []itemInfo, error) {
	ids := make([]string, len(items))
	infos := make([]itemInfo, len(items))
	for i, it := range items {
		// One parse serves the check and what the message shows: a UID
		// that EnsureUID adds changes none of the latter.
		objs := vobject.Parse(it.Data)
		if err := checkObjects(kind, objs); err != nil {
			return nil, nil, fmt.Errorf("%w: item %d (%q): %v", ErrInvalidItem, i, it.ID, err)
		}
		if data, ok := storedForm(kind, it.Data, objs[0].PropValue("VERSION")); ok {
			it.Data, objs = data, vobject.Parse(data)
		}
		id := it.ID
		if id == "" {
			id = newGUID()
		} else if !validGUID(id) {
			return nil, nil, fmt.Errorf("%w: item ID %q has characters a header cannot carry", ErrInvalidItem, id)
		}
		data, _ := vobject.EnsureUID(it.Data, kind.component(), id)
		info := inspectObjects(kind, objs)
		ids[i], infos[i] = id, info
		items[i].Data, items[i].Version = data, info.Version
		items[i].Modified = info.Modified
		if items[i].Modified.IsZero() {
			items[i].Modified = now.Truncate(time.Second)
		}
	}
	return ids, infos, nil
}

// Delete removes items. IDs the folder does not hold are returned as
// missing, not as an error: deleting what is gone already is no failure.
func (a *Account) Delete(ctx context.Context, kind Kind, ids ...string) (missing []string, err error) {
	if err := a.writable("delete"); err != nil {
		return nil, err
	}
	ctx, f, end, err := a.beginFolder(ctx, kind)
	if err != nil {
		return nil, err
	}
	defer end()
	if err := a.ensureIndex(ctx, f); err != nil {
		return nil, err
	}
	var uids []imap.UID
	for _, id := range ids {
		u := f.cur.uidsOf(id)
		if len(u) == 0 {
			missing = append(missing, id)
		}
		uids = append(uids, u...)
	}
	slices.Sort(uids)
	return missing, a.expunge(ctx, f, slices.Compact(uids))
}

// Get reads items by ID. The result has one entry per ID, in order, nil
// where the folder does not hold the item. An item whose message is not
// in the store's form (a mail client saved an edited copy: new
// attachment, old Subject and summary) is rewritten into it, once.
func (a *Account) Get(ctx context.Context, kind Kind, ids ...string) ([]*Item, error) {
	ctx, f, end, err := a.beginFolder(ctx, kind)
	if err != nil {
		return nil, err
	}
	defer end()
	if err := a.ensureIndex(ctx, f); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if f.cur.newest(id) == 0 {
			// Maybe stored meanwhile by someone else: look once more.
			if err := a.refresh(ctx, f); err != nil {
				return nil, err
			}
			break
		}
	}
	out := make([]*Item, len(ids))
	byID, byUID, err := a.fetchNewest(ctx, f, ids)
	if err != nil || len(byID) == 0 {
		return out, err
	}
	now := time.Now()
	var fresh []appendMessage
	var freshIDs []string
	var stale []imap.UID
	for i, id := range ids {
		raw, ok := byUID[byID[id]]
		if !ok {
			continue // expunged meanwhile, with no newer message
		}
		pm, err := parseItemMessage(kind, raw)
		if err != nil {
			return nil, a.errorf(ctx, f, fmt.Sprintf("read item %q (UID %d)", id, byID[id]), err)
		}
		it := &Item{ID: id, Data: pm.Item}
		info := inspectItem(kind, pm.Item)
		if (!pm.inForm(kind, info) || !inStoredForm(kind, info.Version)) && !slices.Contains(freshIDs, id) {
			if m, data, ok := a.reform(kind, id, pm.Item, now); ok {
				fresh, freshIDs, stale = append(fresh, m), append(freshIDs, id), append(stale, byID[id])
				it.Data, info = data, inspectItem(kind, data)
			}
		}
		it.Version, it.Modified = info.Version, info.Modified
		if it.Modified.IsZero() {
			it.Modified = pm.Date
		}
		out[i] = it
	}
	if len(fresh) > 0 {
		a.rewrite(ctx, f, fresh, freshIDs, stale)
	}
	for i, id := range ids {
		if out[i] == nil {
			continue
		}
		uid := byID[id]
		if nu, ok := f.rewritten[uid]; ok && f.cur.items[nu] == id {
			uid = nu // the message rewritten into our form holds it now
		}
		out[i].StoreVersion = versionOf(f.cur.UIDValidity, uid)
	}
	return out, nil
}

// fetchNewest reads the newest message of each item of ids that f's
// index knows: the UID of each by ID, and each message by UID. A message
// another connection expunged since the index was brought up to date (it
// replaced or deleted the item) makes it look again, once, so that an
// item replaced meanwhile is read at its new message, not missed.
func (a *Account) fetchNewest(ctx context.Context, f *folder, ids []string) (map[string]imap.UID, map[imap.UID][]byte, error) {
	body := &imap.FetchItemBodySection{Peek: true}
	for attempt := 0; ; attempt++ {
		var set imap.UIDSet
		byID := make(map[string]imap.UID, len(ids))
		for _, id := range ids {
			if uid := f.cur.newest(id); uid != 0 {
				set.AddNum(uid)
				byID[id] = uid
			}
		}
		if len(set) == 0 {
			return nil, nil, nil
		}
		if err := a.selectFolder(ctx, f); err != nil {
			return nil, nil, err
		}
		msgs, err := a.c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{body}}).Collect()
		if err != nil {
			return nil, nil, a.errorf(ctx, f, "fetch", err)
		}
		byUID := make(map[imap.UID][]byte, len(msgs))
		for _, m := range msgs {
			// A message expunged by another session that this one has
			// not been told of yet comes with no body (Dovecot).
			if raw := m.FindBodySection(body); len(raw) > 0 {
				byUID[m.UID] = raw
			}
		}
		if len(byUID) == len(byID) || attempt > 0 {
			return byID, byUID, nil
		}
		if err := a.refresh(ctx, f); err != nil {
			return nil, nil, err
		}
	}
}

// reform builds the message of our form for an item read from a message
// that is not (a mail client's edit: new attachment, old Subject and
// summary), or whose item is not in the stored form (a vCard 4.0 a mail
// client saved, or one stored before cards were converted). ok is false
// for data the store would not take from Put.
func (a *Account) reform(kind Kind, id string, item []byte, now time.Time) (m appendMessage, data []byte, ok bool) {
	data, _ = storedForm(kind, item, inspectItem(kind, item).Version)
	data, _ = vobject.EnsureUID(data, kind.component(), id)
	if checkItem(kind, data) != nil {
		return appendMessage{}, nil, false
	}
	raw, err := buildItemMessage(kind, id, data, inspectItem(kind, data), a.fromAddress(), now)
	if err != nil {
		return appendMessage{}, nil, false
	}
	return newAppendMessage(raw, now), data, true
}

// rewrite replaces the messages stale[i] by msgs[i] (item ids[i], in our
// form), new version first as Put does, and notes each replacement so
// that Advance does not report it back as a change: the item is what it
// was, only its message is new. A failure is logged, not returned: the
// read has succeeded, and the next read tries again.
func (a *Account) rewrite(ctx context.Context, f *folder, msgs []appendMessage, ids []string, stale []imap.UID) {
	uids, err := a.appendAll(ctx, f, msgs)
	if err == nil {
		err = a.expunge(ctx, f, slices.Sorted(slices.Values(stale)))
	}
	if err == nil && uids == nil {
		err = a.refresh(ctx, f) // no APPENDUID: find them by their header
		newest := f.cur.byID()
		for _, id := range ids {
			uids = append(uids, newest[id])
		}
	}
	if err != nil {
		a.opts.Logger.Warn("imapstore: rewriting edited items failed", "user", a.username, "folder", f.name, "err", err)
		return
	}
	if f.rewritten == nil {
		f.rewritten = map[imap.UID]imap.UID{}
	}
	for i, uid := range uids {
		f.cur.set(uid, ids[i])
		f.rewritten[stale[i]] = uid
	}
	a.opts.Logger.Info("imapstore: rewrote items edited in a mail client", "user", a.username, "folder", f.name, "count", len(msgs))
}

// ensureIndex loads the folder's index when this Account has none yet.
func (a *Account) ensureIndex(ctx context.Context, f *folder) error {
	if f.cur != nil {
		return nil
	}
	return a.refresh(ctx, f)
}
