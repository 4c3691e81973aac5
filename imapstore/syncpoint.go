package imapstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/emersion/go-imap/v2"
)

// SyncPoint is what a folder looked like at one moment: its UIDVALIDITY,
// UIDNEXT and HIGHESTMODSEQ, and which live message (UID) holds which item
// (ID). It is at once the store's index of a folder and a device's sync
// anchor: changes since a sync point are the difference between it and the
// folder now.
//
// Because IMAP messages never change, a UID names the same item version for
// as long as UIDVALIDITY holds; so any sync point of the same UIDVALIDITY is
// a correct (if old) index, and bringing it up to date costs only what
// changed since.
type SyncPoint struct {
	UIDValidity   uint32
	UIDNext       imap.UID
	HighestModSeq uint64 // 0 when the server has no CONDSTORE

	items map[imap.UID]string   // live messages that hold an item
	other map[imap.UID]struct{} // live messages that hold no item we can read

	// byItem is items reversed (ascending UIDs per item), built when
	// first needed and kept by set and unset, so that finding an item's
	// messages (every Put and Delete) does not scan the folder.
	byItem map[string][]imap.UID
}

// set notes that message uid holds item id. Writers of items go through
// set and unset, which keep byItem.
func (sp *SyncPoint) set(uid imap.UID, id string) {
	if old, ok := sp.items[uid]; ok {
		if old == id {
			return
		}
		sp.unset(uid)
	}
	sp.items[uid] = id
	if sp.byItem != nil {
		l := sp.byItem[id]
		i, _ := slices.BinarySearch(l, uid)
		sp.byItem[id] = slices.Insert(l, i, uid)
	}
}

// unset notes that message uid holds no item (any more).
func (sp *SyncPoint) unset(uid imap.UID) {
	id, ok := sp.items[uid]
	if !ok {
		return
	}
	delete(sp.items, uid)
	if sp.byItem != nil {
		l := slices.DeleteFunc(sp.byItem[id], func(u imap.UID) bool { return u == uid })
		if len(l) == 0 {
			delete(sp.byItem, id)
		} else {
			sp.byItem[id] = l
		}
	}
}

func newSyncPoint() *SyncPoint {
	return &SyncPoint{items: map[imap.UID]string{}, other: map[imap.UID]struct{}{}}
}

// Len is the number of items.
func (sp *SyncPoint) Len() int {
	if sp == nil {
		return 0
	}
	return len(sp.items)
}

// IDs returns the item IDs, sorted.
func (sp *SyncPoint) IDs() []string {
	if sp == nil {
		return nil
	}
	ids := make([]string, 0, len(sp.items))
	seen := make(map[string]bool, len(sp.items))
	for _, id := range sp.items {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Has reports whether the item is in the sync point.
func (sp *SyncPoint) Has(id string) bool {
	return len(sp.uidsOf(id)) > 0
}

// uidsOf returns the UIDs that hold item id, ascending.
func (sp *SyncPoint) uidsOf(id string) []imap.UID {
	return slices.Clone(sp.uidsOfShared(id))
}

// index returns byItem, built on first use; set and unset keep it.
func (sp *SyncPoint) index() map[string][]imap.UID {
	if sp.byItem == nil {
		sp.byItem = make(map[string][]imap.UID, len(sp.items))
		for uid, v := range sp.items {
			sp.byItem[v] = append(sp.byItem[v], uid)
		}
		for _, l := range sp.byItem {
			slices.Sort(l)
		}
	}
	return sp.byItem
}

// byID maps each item ID to its newest UID.
func (sp *SyncPoint) byID() map[string]imap.UID {
	m := make(map[string]imap.UID, len(sp.items))
	for uid, id := range sp.items {
		if uid > m[id] {
			m[id] = uid
		}
	}
	return m
}

// Clone returns a deep copy.
func (sp *SyncPoint) Clone() *SyncPoint {
	if sp == nil {
		return nil
	}
	c := *sp
	c.byItem = nil // built again when needed
	c.items = maps.Clone(sp.items)
	c.other = maps.Clone(sp.other)
	if c.items == nil {
		c.items = map[imap.UID]string{}
	}
	if c.other == nil {
		c.other = map[imap.UID]struct{}{}
	}
	return &c
}

// diff returns the items added, modified (now held by another UID) and
// deleted between old and new. A nil old means "nothing known": every item
// is added. The lists are sorted.
//
// Messages never change, so only the items of UIDs in one point and not
// the other (or holding another item) can differ: a few passes over the
// points find them without building an index of either.
func diff(old, new *SyncPoint) (added, modified, deleted []string) {
	if old == nil {
		return new.IDs(), nil, nil
	}
	// gone: items of UIDs only old has, with the newest such UID;
	// arrived: items of UIDs only new has.
	gone, arrived := map[string]imap.UID{}, map[string]bool{}
	for uid, id := range old.items {
		if nid, ok := new.items[uid]; !ok || nid != id {
			gone[id] = max(gone[id], uid)
		}
	}
	for uid, id := range new.items {
		if oid, ok := old.items[uid]; !ok || oid != id {
			arrived[id] = true
		}
	}
	touched := gone
	for id := range arrived {
		if _, ok := touched[id]; !ok {
			touched[id] = 0
		}
	}
	for id, was := range touched {
		// The newest UID of id in old: of those only old has, or of
		// those both have (all among new's UIDs of id).
		for _, uid := range new.uidsOfShared(id) {
			if old.items[uid] == id {
				was = max(was, uid)
			}
		}
		switch is := new.newest(id); {
		case was == 0 && is != 0:
			added = append(added, id)
		case was != 0 && is == 0:
			deleted = append(deleted, id)
		case was != is:
			modified = append(modified, id)
		}
	}
	slices.Sort(added)
	slices.Sort(modified)
	slices.Sort(deleted)
	return added, modified, deleted
}

// uidsOfShared is uidsOf without the copy: not to be changed or kept.
func (sp *SyncPoint) uidsOfShared(id string) []imap.UID {
	if sp == nil {
		return nil
	}
	return sp.index()[id]
}

// newest returns the highest UID holding item id, 0 when none does.
func (sp *SyncPoint) newest(id string) imap.UID {
	if sp == nil {
		return 0
	}
	l := sp.uidsOfShared(id)
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1]
}

// Encoding: a version byte, then uvarints UIDVALIDITY, UIDNEXT,
// HIGHESTMODSEQ, count of items, count of others; items sorted by UID as
// (UID delta, ID), others as UID deltas. An ID that is a UUID takes 17
// bytes (tag 1 + 16), any other ID tag 2 + length + bytes. 10,000 items
// take about 190 kB.
const syncPointVersion = 1

// MarshalBinary encodes the sync point for keeping in sync state.
func (sp *SyncPoint) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 32+len(sp.items)*19+len(sp.other)*2)
	b = append(b, syncPointVersion)
	b = binary.AppendUvarint(b, uint64(sp.UIDValidity))
	b = binary.AppendUvarint(b, uint64(sp.UIDNext))
	b = binary.AppendUvarint(b, sp.HighestModSeq)
	b = binary.AppendUvarint(b, uint64(len(sp.items)))
	b = binary.AppendUvarint(b, uint64(len(sp.other)))
	uids := make([]imap.UID, 0, len(sp.items))
	for uid := range sp.items {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	var prev imap.UID
	for _, uid := range uids {
		b = binary.AppendUvarint(b, uint64(uid-prev))
		prev = uid
		id := sp.items[uid]
		if raw, ok := uuidBytes(id); ok {
			b = append(b, 1)
			b = append(b, raw[:]...)
		} else {
			b = append(b, 2)
			b = binary.AppendUvarint(b, uint64(len(id)))
			b = append(b, id...)
		}
	}
	uids = uids[:0]
	for uid := range sp.other {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	prev = 0
	for _, uid := range uids {
		b = binary.AppendUvarint(b, uint64(uid-prev))
		prev = uid
	}
	return b, nil
}

var errSyncPointCorrupt = errors.New("imapstore: sync point: corrupt encoding")

// UnmarshalBinary decodes what MarshalBinary wrote. Bad input is an error,
// never a panic.
func (sp *SyncPoint) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != syncPointVersion {
		return fmt.Errorf("%w: unknown version", errSyncPointCorrupt)
	}
	b = b[1:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	var hdr [5]uint64
	for i := range hdr {
		v, ok := next()
		if !ok {
			return fmt.Errorf("%w: header", errSyncPointCorrupt)
		}
		hdr[i] = v
	}
	if hdr[0] > 0xffffffff || hdr[1] > 0xffffffff || hdr[3] > uint64(len(b)) || hdr[4] > uint64(len(b)) {
		return fmt.Errorf("%w: header out of range", errSyncPointCorrupt)
	}
	out := newSyncPoint()
	out.UIDValidity, out.UIDNext, out.HighestModSeq = uint32(hdr[0]), imap.UID(hdr[1]), hdr[2]
	var uid uint64
	for i := uint64(0); i < hdr[3]; i++ {
		d, ok := next()
		if !ok || len(b) == 0 {
			return fmt.Errorf("%w: item %d", errSyncPointCorrupt, i)
		}
		uid += d
		if uid > 0xffffffff {
			return fmt.Errorf("%w: UID out of range", errSyncPointCorrupt)
		}
		tag := b[0]
		b = b[1:]
		var id string
		switch tag {
		case 1:
			if len(b) < 16 {
				return fmt.Errorf("%w: item %d", errSyncPointCorrupt, i)
			}
			var raw [16]byte
			copy(raw[:], b[:16])
			b = b[16:]
			id = formatUUID(raw)
		case 2:
			n, ok := next()
			if !ok || n > uint64(len(b)) {
				return fmt.Errorf("%w: item %d", errSyncPointCorrupt, i)
			}
			id = string(b[:n])
			b = b[n:]
		default:
			return fmt.Errorf("%w: item %d tag %d", errSyncPointCorrupt, i, tag)
		}
		out.items[imap.UID(uid)] = id
	}
	uid = 0
	for i := uint64(0); i < hdr[4]; i++ {
		d, ok := next()
		if !ok {
			return fmt.Errorf("%w: other %d", errSyncPointCorrupt, i)
		}
		uid += d
		if uid > 0xffffffff {
			return fmt.Errorf("%w: UID out of range", errSyncPointCorrupt)
		}
		out.other[imap.UID(uid)] = struct{}{}
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errSyncPointCorrupt, len(b))
	}
	*sp = *out
	return nil
}

// uuidBytes parses the canonical lower-case 8-4-4-4-12 form only, so that
// formatUUID gives the same string back. (Every item ID passes here when
// a point is encoded: no allocation.)
func uuidBytes(s string) ([16]byte, bool) {
	var raw [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return raw, false
	}
	n := 0 // hex digits read
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		v, ok := lowerHex(s[i])
		if !ok {
			return raw, false
		}
		if n%2 == 0 {
			raw[n/2] = v << 4
		} else {
			raw[n/2] |= v
		}
		n++
	}
	return raw, true
}

func lowerHex(c byte) (byte, bool) {
	v := hexValue[c]
	return v & 15, v != 0
}

// hexValue is a lower-case hex digit's value plus 16; 0 for any other byte.
var hexValue = func() (t [256]byte) {
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i) | 16
	}
	return t
}()
