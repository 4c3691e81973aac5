package imapstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// StateRecord is one sync-state record (a device slot, the anchors and map
// of a device and database). The store keeps it opaque.
type StateRecord struct {
	Key  string
	Data []byte
	// Version identifies the stored version (its UID in the state folder);
	// pass it to SaveState to detect a concurrent writer.
	Version uint32
	Saved   time.Time
}

// LoadState reads the newest version of the record called key; nil (and no
// error) when there is none.
//
// Cost: one STATUS of the state folder while the Account's index of it is
// current (a record read or written before by this Account costs nothing
// more; another, one FETCH); a SELECT and a FETCH of the folder's headers
// when another connection changed it.
func (a *Account) LoadState(ctx context.Context, key string) (*StateRecord, error) {
	recs, err := a.LoadStates(ctx, key)
	if err != nil {
		return nil, err
	}
	return recs[key], nil
}

// LoadStates reads the newest versions of several records at the cost of
// one LoadState: the map holds those that exist.
func (a *Account) LoadStates(ctx context.Context, keys ...string) (map[string]*StateRecord, error) {
	ctx, end, err := a.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	for attempt := 0; ; attempt++ {
		recs, gone, err := a.loadStates(ctx, keys)
		if err != nil || !gone || attempt > 0 {
			return recs, err
		}
		// A version in the index vanished before it was read: a newer
		// one was saved in between. Look again.
		a.state.valid = false
	}
}

func (a *Account) loadStates(ctx context.Context, keys []string) (map[string]*StateRecord, bool, error) {
	index, err := a.stateIndex(ctx)
	if err != nil {
		return nil, false, err
	}
	recs := make(map[string]*StateRecord, len(keys))
	var missing []imap.UID
	for _, k := range keys {
		uids := index[k]
		if len(uids) == 0 {
			continue
		}
		uid := uids[len(uids)-1]
		if rec := a.state.data[uid]; rec != nil {
			recs[k] = rec
		} else {
			missing = append(missing, uid)
		}
	}
	if len(missing) == 0 {
		return recs, false, nil
	}
	read, err := a.readStates(ctx, missing)
	if err != nil {
		return nil, false, err
	}
	for _, rec := range read {
		a.state.keep(rec)
		recs[rec.Key] = rec
	}
	return recs, len(read) < len(missing), nil
}

// SaveState writes a new version of the record, then removes the older
// ones: a reader always finds a whole record, the new or the old. With
// ifVersion non-zero the save fails with ErrStateConflict, writing
// nothing, when the newest version is not ifVersion (someone else saved in
// between).
func (a *Account) SaveState(ctx context.Context, key string, data []byte, ifVersion uint32) (*StateRecord, error) {
	if err := a.writable("save state"); err != nil {
		return nil, err
	}
	if key == "" {
		return nil, fmt.Errorf("imapstore: save state: empty key")
	}
	ctx, end, err := a.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	f := a.stateFolder()
	index, err := a.stateIndex(ctx)
	if err != nil {
		return nil, err
	}
	old := slices.Clone(index[key])
	if ifVersion != 0 && (len(old) == 0 || uint32(old[len(old)-1]) != ifVersion) {
		return nil, fmt.Errorf("%w: %q", ErrStateConflict, key)
	}
	now := time.Now()
	raw, err := buildStateMessage(key, data, a.fromAddress(), now)
	if err != nil {
		return nil, fmt.Errorf("imapstore: build state message %q: %w", key, err)
	}
	uids, err := a.appendAll(ctx, f, []appendMessage{newAppendMessage(raw, now)})
	if err != nil {
		a.state.valid = false
		return nil, err
	}
	rec := &StateRecord{Key: key, Data: slices.Clone(data), Saved: now.Truncate(time.Second)}
	if len(uids) == 1 {
		rec.Version = uint32(uids[0])
		a.state.appended(key, uids[0])
		a.state.keep(rec)
	} else {
		a.state.valid = false
	}
	return rec, a.expungeState(ctx, old)
}

// DeleteState removes every version of the record.
func (a *Account) DeleteState(ctx context.Context, key string) error {
	if err := a.writable("delete state"); err != nil {
		return err
	}
	ctx, end, err := a.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	index, err := a.stateIndex(ctx)
	if err != nil {
		return err
	}
	return a.expungeState(ctx, slices.Clone(index[key]))
}

// ListState returns the keys of the records whose key starts with prefix,
// sorted.
func (a *Account) ListState(ctx context.Context, prefix string) ([]string, error) {
	ctx, end, err := a.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	index, err := a.stateIndex(ctx)
	if err != nil {
		return nil, err
	}
	var keys []string
	for k, uids := range index {
		if len(uids) > 0 && strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

var stateHeader = &imap.FetchItemBodySection{
	Specifier:    imap.PartSpecifierHeader,
	HeaderFields: []string{headerStateKey},
	Peek:         true,
}

// stateCache is an Account's index of the state folder (key → UIDs of its
// versions, ascending) and the records it read or wrote, by UID: a UID
// names one message forever, so a kept record never goes stale; only the
// index can. The index is current while the folder's UIDVALIDITY, UIDNEXT
// and message count are what they were when it was built, moved on by
// this Account's own saves: every APPEND moves UIDNEXT and every EXPUNGE
// the count, so another connection's change cannot go unseen. (State
// messages never change flags but for \Deleted just before their EXPUNGE.)
type stateCache struct {
	valid bool
	mark  stateMark
	index map[string][]imap.UID
	data  map[imap.UID]*StateRecord
	kept  int // bytes in data
}

type stateMark struct {
	uidValidity uint32
	uidNext     imap.UID
	messages    uint32
}

// maxKeptState bounds what an Account keeps of records it read: the
// small ones a session reads more than once (slot, anchors, DevInf).
const (
	maxKeptRecord = 64 << 10
	maxKeptState  = 1 << 20
)

func (c *stateCache) keep(rec *StateRecord) {
	if rec.Version == 0 || len(rec.Data) > maxKeptRecord {
		return
	}
	if c.data == nil || c.kept+len(rec.Data) > maxKeptState {
		c.data, c.kept = map[imap.UID]*StateRecord{}, 0
	}
	c.data[imap.UID(rec.Version)] = rec
	c.kept += len(rec.Data)
}

// appended notes this Account's own APPEND of key's version uid.
func (c *stateCache) appended(key string, uid imap.UID) {
	if !c.valid || uid != c.mark.uidNext {
		c.valid = false // someone else appended too
		return
	}
	c.mark.uidNext, c.mark.messages = uid+1, c.mark.messages+1
	c.index[key] = append(c.index[key], uid)
}

// expunged notes this Account's own removal of uids.
func (c *stateCache) expunged(uids []imap.UID) {
	if !c.valid {
		return
	}
	gone := map[imap.UID]bool{}
	for _, uid := range uids {
		gone[uid] = true
		delete(c.data, uid)
	}
	for k, vs := range c.index {
		kept := vs[:0]
		for _, v := range vs {
			if !gone[v] {
				kept = append(kept, v)
			}
		}
		if len(kept) == 0 {
			delete(c.index, k)
		} else {
			c.index[k] = kept
		}
	}
	c.mark.messages -= uint32(min(len(uids), int(c.mark.messages)))
}

// expungeState removes state messages and keeps the index current.
func (a *Account) expungeState(ctx context.Context, uids []imap.UID) error {
	if len(uids) == 0 {
		return nil
	}
	if err := a.expunge(ctx, a.stateFolder(), uids); err != nil {
		a.state.valid = false
		return err
	}
	a.state.expunged(uids)
	return nil
}

// stateIndex returns the index of the state folder, current: one STATUS
// when it is, else a SELECT and one FETCH of every state message's key.
func (a *Account) stateIndex(ctx context.Context) (map[string][]imap.UID, error) {
	f := a.stateFolder()
	if a.state.valid {
		// Dovecot answers STATUS of the selected folder from the
		// session's view, which moves only when the session syncs it: a
		// NOOP first makes it current (not pipelined: Dovecot may run
		// the two at once).
		var err error
		if a.selected == f.name {
			err = a.c.Noop().Wait()
		}
		var st *imap.StatusData
		if err == nil {
			st, err = a.c.Status(f.name, &imap.StatusOptions{UIDValidity: true, UIDNext: true, NumMessages: true}).Wait()
		}
		if err != nil && !isNonexistent(err) {
			return nil, a.errorf(ctx, f, "status", err)
		}
		if err == nil && st.NumMessages != nil &&
			(stateMark{st.UIDValidity, st.UIDNext, *st.NumMessages}) == a.state.mark {
			return a.state.index, nil
		}
		a.state.valid = false
	}
	// Another connection changed the folder: look at it afresh.
	sel, err := a.reselect(ctx, f)
	if errors.Is(err, errNotCreated) {
		return map[string][]imap.UID{}, nil // no records (yet)
	}
	if err != nil {
		return nil, err
	}
	index := map[string][]imap.UID{}
	if sel.NumMessages > 0 {
		var set imap.UIDSet
		set.AddRange(1, 0)
		msgs, err := a.c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{stateHeader}}).Collect()
		if err != nil {
			return nil, a.errorf(ctx, f, "fetch state headers", err)
		}
		for _, m := range msgs {
			if slices.Contains(m.Flags, imap.FlagDeleted) {
				continue
			}
			k, err := unescapeStateKey(headerValue(m.FindBodySection(stateHeader), headerStateKey))
			if err != nil || k == "" {
				continue
			}
			index[k] = append(index[k], m.UID)
		}
		for k := range index {
			slices.Sort(index[k])
		}
	}
	if a.state.mark.uidValidity != sel.UIDValidity {
		a.state.data, a.state.kept = nil, 0
	}
	a.state.index, a.state.valid = index, true
	a.state.mark = stateMark{sel.UIDValidity, sel.UIDNext, sel.NumMessages}
	return index, nil
}

// readStates fetches the records of uids in one FETCH; a UID removed in
// between is left out.
func (a *Account) readStates(ctx context.Context, uids []imap.UID) ([]*StateRecord, error) {
	f := a.stateFolder()
	if err := a.selectFolder(ctx, f); err != nil {
		return nil, err
	}
	body := &imap.FetchItemBodySection{Peek: true}
	msgs, err := a.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{body}}).Collect()
	if err != nil {
		return nil, a.errorf(ctx, f, "fetch state", err)
	}
	recs := make([]*StateRecord, 0, len(msgs))
	for _, m := range msgs {
		raw := m.FindBodySection(body)
		if len(raw) == 0 {
			continue // expunged by another session, which this one is not told yet
		}
		key, data, err := parseStateMessage(raw)
		if err != nil {
			return nil, a.errorf(ctx, f, fmt.Sprintf("read state UID %d", m.UID), err)
		}
		recs = append(recs, &StateRecord{Key: key, Data: data, Version: uint32(m.UID), Saved: m.InternalDate})
	}
	return recs, nil
}
