package imapstore

import (
	"context"
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
func (a *Account) LoadState(ctx context.Context, key string) (*StateRecord, error) {
	ctx, end, err := a.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	recs, err := a.stateVersions(ctx, key)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return a.readState(ctx, recs[len(recs)-1])
}

// SaveState writes a new version of the record, then removes the older
// ones: a reader always finds a whole record, the new or the old. With
// ifVersion non-zero the save fails with ErrStateConflict, writing
// nothing, when the newest version is not ifVersion (someone else saved in
// between).
func (a *Account) SaveState(ctx context.Context, key string, data []byte, ifVersion uint32) (*StateRecord, error) {
	if key == "" {
		return nil, fmt.Errorf("imapstore: save state: empty key")
	}
	ctx, end, err := a.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	f := a.stateFolder()
	old, err := a.stateVersions(ctx, key)
	if err != nil {
		return nil, err
	}
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
		return nil, err
	}
	rec := &StateRecord{Key: key, Data: data, Saved: now.Truncate(time.Second)}
	if len(uids) == 1 {
		rec.Version = uint32(uids[0])
	}
	return rec, a.expunge(ctx, f, old)
}

// DeleteState removes every version of the record.
func (a *Account) DeleteState(ctx context.Context, key string) error {
	ctx, end, err := a.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	old, err := a.stateVersions(ctx, key)
	if err != nil {
		return err
	}
	return a.expunge(ctx, a.stateFolder(), old)
}

// ListState returns the keys of the records whose key starts with prefix,
// sorted.
func (a *Account) ListState(ctx context.Context, prefix string) ([]string, error) {
	ctx, end, err := a.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	byKey, err := a.stateIndex(ctx, nil)
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range byKey {
		if strings.HasPrefix(k, prefix) {
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

// stateVersions returns the UIDs holding versions of key, ascending.
// IMAP header search matches substrings, so candidates are checked for
// the exact key.
func (a *Account) stateVersions(ctx context.Context, key string) ([]imap.UID, error) {
	byKey, err := a.stateIndex(ctx, &imap.SearchCriteria{
		Header:  []imap.SearchCriteriaHeaderField{{Key: headerStateKey, Value: escapeStateKey(key)}},
		NotFlag: []imap.Flag{imap.FlagDeleted},
	})
	if err != nil {
		return nil, err
	}
	return byKey[key], nil
}

// stateIndex maps keys to their versions' UIDs among the state messages
// matching criteria (nil: all).
func (a *Account) stateIndex(ctx context.Context, criteria *imap.SearchCriteria) (map[string][]imap.UID, error) {
	f := a.stateFolder()
	// Another instance may have saved since: look at the folder afresh.
	if err := a.reselectFolder(ctx, f); err != nil {
		return nil, err
	}
	var set imap.UIDSet
	if criteria == nil {
		set.AddRange(1, 0)
	} else {
		res, err := a.c.UIDSearch(criteria, nil).Wait()
		if err != nil {
			return nil, a.errorf(ctx, f, "search state", err)
		}
		uids := res.AllUIDs()
		if len(uids) == 0 {
			return nil, nil
		}
		set = imap.UIDSetNum(uids...)
	}
	msgs, err := a.c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{stateHeader}}).Collect()
	if err != nil {
		return nil, a.errorf(ctx, f, "fetch state headers", err)
	}
	byKey := map[string][]imap.UID{}
	for _, m := range msgs {
		if slices.Contains(m.Flags, imap.FlagDeleted) {
			continue
		}
		k, err := unescapeStateKey(headerValue(m.FindBodySection(stateHeader), headerStateKey))
		if err != nil || k == "" {
			continue
		}
		byKey[k] = append(byKey[k], m.UID)
	}
	for k := range byKey {
		slices.Sort(byKey[k])
	}
	return byKey, nil
}

func (a *Account) readState(ctx context.Context, uid imap.UID) (*StateRecord, error) {
	f := a.stateFolder()
	body := &imap.FetchItemBodySection{Peek: true}
	msgs, err := a.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{body}}).Collect()
	if err != nil {
		return nil, a.errorf(ctx, f, "fetch state", err)
	}
	if len(msgs) == 0 {
		return nil, nil // removed by a newer save in between
	}
	key, data, err := parseStateMessage(msgs[0].FindBodySection(body))
	if err != nil {
		return nil, a.errorf(ctx, f, fmt.Sprintf("read state UID %d", uid), err)
	}
	return &StateRecord{Key: key, Data: data, Version: uint32(uid), Saved: msgs[0].InternalDate}, nil
}
