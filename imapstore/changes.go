package imapstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// ChangesData is what changed in a folder since a sync point.
type ChangesData struct {
	Added    []string // item IDs new since the sync point
	Modified []string // item IDs stored anew (a new version) since
	Deleted  []string // item IDs gone since
	// SyncPoint is the folder now. It is not saved anywhere by the store:
	// the caller keeps it as its anchor once it has acted on the changes.
	SyncPoint *SyncPoint
}

// Empty reports whether nothing changed.
func (d *ChangesData) Empty() bool {
	return len(d.Added)+len(d.Modified)+len(d.Deleted) == 0
}

// Changes lists what changed in the kind's folder since the sync point.
// A nil sync point lists every item as added (a slow sync). If the folder's
// UIDVALIDITY is not the sync point's, the error is ErrSyncPointInvalid.
//
// Cost: with CONDSTORE, an unchanged folder costs one STATUS; a changed
// one adds one pipelined round trip (SELECT, UID SEARCH, UID FETCH
// CHANGEDSINCE). Without CONDSTORE, one pipelined round trip (SELECT, UID
// SEARCH, UID FETCH of the UIDs past the old UIDNEXT). Messages dropped in
// by other programs cost one more fetch when they appear.
func (a *Account) Changes(ctx context.Context, kind Kind, since *SyncPoint) (*ChangesData, error) {
	ctx, f, end, err := a.beginFolder(ctx, kind)
	if err != nil {
		return nil, err
	}
	defer end()
	if f.cur == nil && since != nil {
		// Any sync point of the folder's UIDVALIDITY is a correct index,
		// only maybe old: start from it so an unchanged folder costs one
		// round trip even in a new session.
		f.cur = since.Clone()
		unchanged, err := a.unchanged(ctx, f)
		if err != nil {
			return nil, err
		}
		if unchanged {
			return &ChangesData{SyncPoint: since}, nil
		}
		if err := a.rescan(ctx, f); err != nil {
			return nil, err
		}
	} else if err := a.refresh(ctx, f); err != nil {
		return nil, err
	}
	if since != nil && since.UIDValidity != f.cur.UIDValidity {
		return nil, fmt.Errorf("%w: folder %q was %d, is %d", ErrSyncPointInvalid, f.name, since.UIDValidity, f.cur.UIDValidity)
	}
	d := &ChangesData{SyncPoint: f.cur.Clone()}
	d.Added, d.Modified, d.Deleted = diff(since, f.cur)
	return d, nil
}

// Advance returns the sync point to keep after a session that started from
// base and in which the caller itself stored or deleted the items own.
// Those changes are the caller's, so they are folded into base and never
// reported back to it; any other change made meanwhile (by a mail client,
// another device) stays visible to the next Changes. When nothing else
// changed, the folder's current sync point is returned, so the next
// Changes of an untouched folder costs one round trip.
func (a *Account) Advance(ctx context.Context, kind Kind, base *SyncPoint, own []string) (*SyncPoint, error) {
	ctx, f, end, err := a.beginFolder(ctx, kind)
	if err != nil {
		return nil, err
	}
	defer end()
	if f.cur == nil && base != nil {
		f.cur = base.Clone()
	}
	if err := a.refresh(ctx, f); err != nil {
		return nil, err
	}
	if base == nil || base.UIDValidity != f.cur.UIDValidity {
		// Nothing to fold into: the caller was told ErrSyncPointInvalid or
		// had no anchor; what it has now is the folder as it is.
		base = &SyncPoint{UIDValidity: f.cur.UIDValidity, items: map[imap.UID]string{}, other: map[imap.UID]struct{}{}}
	} else if len(f.rewritten) > 0 {
		// A message the store itself rewrote (Get, for a mail client's
		// edit) holds what base's did: not a change to send back.
		base = base.Clone()
		for old, nu := range f.rewritten {
			if id, ok := base.items[old]; ok && f.cur.items[nu] == id {
				base.unset(old)
				base.set(nu, id)
			}
		}
	}
	mine := make(map[string]bool, len(own))
	for _, id := range own {
		mine[id] = true
	}
	added, modified, deleted := diff(base, f.cur)
	foreign := false
	for _, l := range [][]string{added, modified, deleted} {
		for _, id := range l {
			if !mine[id] {
				foreign = true
			}
		}
	}
	if !foreign {
		return f.cur.Clone(), nil
	}
	// Fold only the caller's own items into base; keep base's UIDNEXT and
	// HIGHESTMODSEQ so the next Changes looks again and finds the rest.
	next := base.Clone()
	for uid, id := range next.items {
		if mine[id] {
			next.unset(uid)
		}
	}
	for uid, id := range f.cur.items {
		if mine[id] {
			next.set(uid, id)
		}
	}
	return next, nil
}

// headerFields are fetched to list a folder without reading bodies.
var headerFields = &imap.FetchItemBodySection{
	Specifier:    imap.PartSpecifierHeader,
	HeaderFields: []string{headerItemID},
	Peek:         true,
}

// listing is what one header fetch tells about a message.
type listing struct {
	id   string // item ID header; "" for a message we did not write
	size int64
}

// refresh brings f.cur up to date with the folder (see Changes for the
// cost). Messages without our header are adopted; two messages holding
// one item (a crash between APPEND and the removal of the old version)
// resolve to the newest, and the other is removed.
func (a *Account) refresh(ctx context.Context, f *folder) error {
	if unchanged, err := a.unchanged(ctx, f); err != nil || unchanged {
		return err
	}
	return a.rescan(ctx, f)
}

// unchanged reports whether one STATUS shows the folder as f.cur has it:
// same UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ. Without CONDSTORE it cannot
// tell, and says no.
func (a *Account) unchanged(ctx context.Context, f *folder) (bool, error) {
	cur := f.cur
	if cur == nil {
		return false, nil
	}
	return a.statusIs(ctx, f, PointHead{cur.UIDValidity, cur.UIDNext, cur.HighestModSeq})
}

// statusIs reports whether one STATUS shows the folder as head has it.
func (a *Account) statusIs(ctx context.Context, f *folder, head PointHead) (bool, error) {
	if !a.caps.CondStore || head.HighestModSeq == 0 || (a.selected == f.name && !a.caps.Unselect) {
		return false, nil
	}
	// Dovecot answers STATUS on the selected mailbox from this session's
	// view, which moves only when the session syncs: leave the mailbox
	// first (pipelined, no extra round trip).
	var unselect *imapclient.Command
	if a.selected == f.name {
		unselect, a.selected = a.c.Unselect(), ""
	}
	st, err := a.c.Status(f.name, &imap.StatusOptions{UIDNext: true, UIDValidity: true, HighestModSeq: true}).Wait()
	if unselect != nil {
		if uerr := unselect.Wait(); uerr != nil {
			return false, a.errorf(ctx, f, "unselect", uerr)
		}
	}
	if err != nil {
		if isNonexistent(err) {
			return false, nil
		}
		return false, a.errorf(ctx, f, "status", err)
	}
	return st.UIDValidity == head.UIDValidity && st.UIDNext == head.UIDNext && st.HighestModSeq == head.HighestModSeq, nil
}

// PointHead is what Unchanged needs of a sync point: a few numbers,
// whatever the folder holds.
type PointHead struct {
	UIDValidity   uint32
	UIDNext       imap.UID
	HighestModSeq uint64
}

// HeadOf reads the head of an encoded sync point (MarshalBinary) without
// decoding the rest; ok is false for input that is none.
func HeadOf(point []byte) (head PointHead, ok bool) {
	if len(point) == 0 || point[0] != syncPointVersion {
		return PointHead{}, false
	}
	b := point[1:]
	var v [3]uint64
	for i := range v {
		n, k := binary.Uvarint(b)
		if k <= 0 {
			return PointHead{}, false
		}
		v[i], b = n, b[k:]
	}
	if v[0] > math.MaxUint32 || v[1] > math.MaxUint32 {
		return PointHead{}, false
	}
	return PointHead{uint32(v[0]), imap.UID(v[1]), v[2]}, true
}

// Unchanged reports whether the kind's folder is as it was at a sync
// point with this head, from one STATUS: same UIDVALIDITY, UIDNEXT and
// HIGHESTMODSEQ. Without CONDSTORE it cannot tell and says no; Changes
// then lists what changed.
func (a *Account) Unchanged(ctx context.Context, kind Kind, head PointHead) (bool, error) {
	ctx, f, end, err := a.beginFolder(ctx, kind)
	if err != nil {
		return false, err
	}
	defer end()
	return a.statusIs(ctx, f, head)
}

// rescan reads what changed since f.cur (everything when f.cur is nil).
func (a *Account) rescan(ctx context.Context, f *folder) error {
	return a.scan(ctx, f, true)
}

// scan is rescan; with drop false, it leaves an item's older messages
// where they are (PutVersion looks at every message of its item).
func (a *Account) scan(ctx context.Context, f *folder, drop bool) error {
	cur := f.cur
	// One pipelined round trip: SELECT, the live UID set, and the headers
	// of what may be new.
	a.selected = ""
	selCmd := a.c.Select(f.name, &imap.SelectOptions{CondStore: a.caps.CondStore})
	var searchOpts *imap.SearchOptions
	if a.caps.ESearch {
		searchOpts = &imap.SearchOptions{ReturnAll: true}
	}
	searchCmd := a.c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}, searchOpts)
	fetchOpts := &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{headerFields}}
	var fetchSet imap.UIDSet
	switch {
	case cur == nil:
		fetchSet.AddRange(1, 0) // 1:*
	case a.caps.CondStore:
		fetchSet = unknownUIDs(cur, 1)
		fetchOpts.ChangedSince = cur.HighestModSeq
	default:
		fetchSet = unknownUIDs(cur, max(cur.UIDNext, 1))
	}
	fetchCmd := a.c.Fetch(fetchSet, fetchOpts)

	// Dovecot may run pipelined SEARCH and FETCH concurrently and answer in
	// any order, and go-imap blocks its reader until FETCH data is taken:
	// drain all three at once.
	var sel *imap.SelectData
	var search *imap.SearchData
	var fetched []*imapclient.FetchMessageBuffer
	var selErr, searchErr, fetchErr error
	waitAll(
		func() { sel, selErr = selCmd.Wait() },
		func() { search, searchErr = searchCmd.Wait() },
		func() { fetched, fetchErr = fetchCmd.Collect() },
	)
	if selErr != nil {
		if !isNonexistent(selErr) {
			return a.errorf(ctx, f, "select", selErr)
		}
		if a.opts.ReadOnly {
			// Nothing there to read: an empty index, looked at again
			// by the next read.
			f.cur, f.exists = newSyncPoint(), false
			return nil
		}
		if err := a.create(ctx, f); err != nil {
			return err
		}
		f.cur = nil
		return a.scan(ctx, f, drop)
	}
	a.selected, f.exists = f.name, true
	if searchErr != nil {
		return a.errorf(ctx, f, "search", searchErr)
	}
	if fetchErr != nil {
		return a.errorf(ctx, f, "fetch", fetchErr)
	}
	if cur != nil && sel.UIDValidity != cur.UIDValidity {
		a.opts.Logger.Warn("imapstore: UIDVALIDITY changed, rescanning", "user", a.username, "folder", f.name,
			"was", cur.UIDValidity, "now", sel.UIDValidity)
		f.cur = nil
		return a.scan(ctx, f, drop)
	}

	known := make(map[imap.UID]listing, len(fetched))
	for _, m := range fetched {
		known[m.UID] = listingOf(m)
	}
	live := liveUIDs(search)
	slices.Sort(live) // ascending already, as servers send them: cheap
	// The index is brought up to date in place (set and unset keep its
	// index by item, which a new point would build again): what is no
	// longer live goes, what was fetched is taken in, what neither
	// knows is fetched below. Its UIDNEXT and HIGHESTMODSEQ move only
	// once all that worked, so that a failure leaves it looking old, and
	// the next read looks again.
	next := cur
	if next == nil {
		next = newSyncPoint()
		next.UIDValidity = sel.UIDValidity
	} else {
		isLive := func(uid imap.UID) bool { _, ok := slices.BinarySearch(live, uid); return ok }
		var gone []imap.UID
		for uid := range next.items {
			if !isLive(uid) {
				gone = append(gone, uid)
			}
		}
		for _, uid := range gone {
			next.unset(uid)
		}
		for uid := range next.other {
			if !isLive(uid) {
				delete(next.other, uid)
			}
		}
	}
	f.cur = next
	var unknown imap.UIDSet
	var foreign []imap.UID
	for _, uid := range live {
		l, ok := known[uid]
		switch {
		case ok && l.id != "":
			delete(next.other, uid)
			next.set(uid, l.id)
		case ok:
			next.unset(uid)
			delete(next.other, uid)
			foreign = append(foreign, uid)
		case next.items[uid] != "", hasUID(next.other, uid):
			// as it was
		default:
			// Live but neither known nor just fetched: undeleted since, or
			// (without CONDSTORE) older than UIDNEXT yet never seen.
			unknown.AddNum(uid)
		}
	}
	if len(unknown) > 0 {
		msgs, err := a.c.Fetch(unknown, &imap.FetchOptions{UID: true, RFC822Size: true,
			BodySection: []*imap.FetchItemBodySection{headerFields}}).Collect()
		if err != nil {
			return a.errorf(ctx, f, "fetch", err)
		}
		for _, m := range msgs {
			if l := listingOf(m); l.id != "" {
				next.set(m.UID, l.id)
			} else {
				foreign = append(foreign, m.UID)
			}
		}
	}
	next.UIDNext, next.HighestModSeq = sel.UIDNext, sel.HighestModSeq
	if f.kind != "" && len(foreign) > 0 {
		if err := a.adopt(ctx, f, foreign, known); err != nil {
			return err
		}
	}
	if !drop {
		return nil
	}
	return a.dropOldVersions(ctx, f)
}

// maxFetchRanges bounds the ranges of unknownUIDs' set: a longer command
// line costs more than the headers it saves.
const maxFetchRanges = 64

// unknownUIDs is from:* without the messages cur knows to hold an item.
// A message never changes, so its header is fetched once: what this
// Account appended itself (Put notes the APPENDUIDs in cur) is not
// fetched back when the folder is next read, which after a slow sync of
// N items would be all N headers again. (Messages that hold no item are
// fetched again when their flags change, and adoption tried again.) When
// what is known is too scattered, it is from:* (the messages known are
// then fetched again and found as they were).
func unknownUIDs(cur *SyncPoint, from imap.UID) imap.UIDSet {
	known := make([]imap.UID, 0, len(cur.items))
	for uid := range cur.items {
		if uid >= from {
			known = append(known, uid)
		}
	}
	slices.Sort(known)
	var set imap.UIDSet
	next := from // the lowest UID not ruled out
	for _, uid := range known {
		if uid > next {
			if len(set) == maxFetchRanges-1 {
				return imap.UIDSet{imap.UIDRange{Start: from, Stop: 0}}
			}
			set = append(set, imap.UIDRange{Start: next, Stop: uid - 1})
		}
		next = uid + 1
	}
	// Past the last UID, "next:*" still names the last message (RFC
	// 3501 6.4.8: * is the highest UID in use), known or not: harmless.
	return append(set, imap.UIDRange{Start: next, Stop: 0})
}

func listingOf(m *imapclient.FetchMessageBuffer) listing {
	l := listing{size: m.RFC822Size}
	for _, s := range m.BodySection {
		l.id = headerValue(s.Bytes, headerItemID)
	}
	if !validGUID(l.id) {
		l.id = ""
	}
	return l
}

func liveUIDs(data *imap.SearchData) []imap.UID {
	set, ok := data.All.(imap.UIDSet)
	if !ok {
		return nil
	}
	uids, ok := set.Nums()
	if !ok {
		return nil
	}
	return uids
}

// waitAll runs the functions (each waiting for one pipelined command) at
// once and returns when all are done.
func waitAll(fns ...func()) {
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(fn)
	}
	wg.Wait()
}

func hasUID(m map[imap.UID]struct{}, uid imap.UID) bool {
	_, ok := m[uid]
	return ok
}

// dropOldVersions removes all but the newest message of every item held
// by more than one: what a crash between APPEND and the removal of the old
// version leaves behind. The newest is the highest UID (UIDs grow with
// every APPEND).
//
// An item one of whose messages is flagged pending (a PutVersion under
// way on another connection, see version.go) is left alone: which of its
// messages stays is that PutVersion's to decide.
func (a *Account) dropOldVersions(ctx context.Context, f *folder) error {
	var dups []imap.UID
	for _, uids := range f.cur.index() {
		if len(uids) > 1 {
			dups = append(dups, uids...)
		}
	}
	if len(dups) == 0 {
		return nil
	}
	pending, err := a.pendingItems(ctx, f, dups)
	if err != nil {
		return err
	}
	var old []imap.UID
	for id, uids := range f.cur.index() {
		if len(uids) > 1 && !pending[id] {
			old = append(old, uids[:len(uids)-1]...) // all but the newest
		}
	}
	if len(old) == 0 {
		return nil
	}
	slices.Sort(old)
	a.opts.Logger.Info("imapstore: removing superseded item versions", "user", a.username, "folder", f.name, "count", len(old))
	return a.expunge(ctx, f, old)
}

// expunge removes messages by UID. With UIDPLUS only those; without it,
// EXPUNGE also removes messages a mail client had marked \Deleted, which
// is what that client asked for anyway.
func (a *Account) expunge(ctx context.Context, f *folder, uids []imap.UID) error {
	if len(uids) == 0 {
		return nil
	}
	if err := a.selectFolder(ctx, f); err != nil {
		return err
	}
	defer a.wrote(f)
	set := imap.UIDSetNum(uids...)
	// STORE, then EXPUNGE once it is done: pipelined, Dovecot may run
	// the EXPUNGE first when another session has the folder open, and
	// the messages stay, flagged \Deleted, for mail clients to see.
	if err := a.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return a.errorf(ctx, f, "store \\Deleted", err)
	}
	var err error
	if a.caps.UIDPlus {
		err = a.c.UIDExpunge(set).Close()
	} else {
		err = a.c.Expunge().Close()
	}
	if err != nil {
		return a.errorf(ctx, f, "expunge", err)
	}
	if f.cur != nil {
		for _, uid := range uids {
			f.cur.unset(uid)
			delete(f.cur.other, uid)
		}
	}
	return nil
}
