package imapstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"syncml-imap/internal/binrec"

	"github.com/emersion/go-imap/v2"
)

// A point delta is what turns one sync point of a folder into a later
// one: the new UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ, the messages gone
// and the messages new. Messages never change, so a delta between two
// points a few changes apart is a few entries, whatever the folder holds:
// a device's state keeps its point as a base and such deltas.
//
// Encoding: pointDeltaVersion, uvarints UIDVALIDITY, UIDNEXT,
// HIGHESTMODSEQ; then the item UIDs gone, the items new (UID, ID as in
// MarshalBinary), the other UIDs gone and the other UIDs new, each a
// count and ascending UID deltas.
const pointDeltaVersion = 0x81

// Delta returns what turns sp into next.
func (sp *SyncPoint) Delta(next *SyncPoint) []byte {
	var goneItems, newItems, goneOther, newOther []imap.UID
	for uid, id := range sp.items {
		if nid, ok := next.items[uid]; !ok || nid != id {
			goneItems = append(goneItems, uid)
		}
	}
	for uid, id := range next.items {
		if oid, ok := sp.items[uid]; !ok || oid != id {
			newItems = append(newItems, uid)
		}
	}
	for uid := range sp.other {
		if _, ok := next.other[uid]; !ok {
			goneOther = append(goneOther, uid)
		}
	}
	for uid := range next.other {
		if _, ok := sp.other[uid]; !ok {
			newOther = append(newOther, uid)
		}
	}
	b := []byte{pointDeltaVersion}
	b = binary.AppendUvarint(b, uint64(next.UIDValidity))
	b = binary.AppendUvarint(b, uint64(next.UIDNext))
	b = binary.AppendUvarint(b, next.HighestModSeq)
	b = appendUIDs(b, goneItems, nil)
	b = appendUIDs(b, newItems, func(b []byte, uid imap.UID) []byte { return appendItemID(b, next.items[uid]) })
	b = appendUIDs(b, goneOther, nil)
	return appendUIDs(b, newOther, nil)
}

// appendUIDs encodes uids ascending (a count, then deltas), each followed
// by what each appends, when set.
func appendUIDs(b []byte, uids []imap.UID, each func([]byte, imap.UID) []byte) []byte {
	slices.Sort(uids)
	b = binary.AppendUvarint(b, uint64(len(uids)))
	var prev imap.UID
	for _, uid := range uids {
		b = binary.AppendUvarint(b, uint64(uid-prev))
		prev = uid
		if each != nil {
			b = each(b, uid)
		}
	}
	return b
}

// ApplyDelta changes sp as delta (made by Delta from a point equal to
// sp) says. Bad input is an error, never a panic; sp is then unchanged.
func (sp *SyncPoint) ApplyDelta(delta []byte) error {
	if len(delta) == 0 || delta[0] != pointDeltaVersion {
		return fmt.Errorf("%w: not a point delta", errSyncPointCorrupt)
	}
	r := pointReader{binrec.Reader{B: delta[1:]}}
	var hdr [3]uint64
	for i := range hdr {
		hdr[i] = r.Uvarint()
	}
	if r.Bad || hdr[0] > 0xffffffff || hdr[1] > 0xffffffff {
		return fmt.Errorf("%w: delta header", errSyncPointCorrupt)
	}
	goneItems := r.uids()
	n := r.Count(1)
	newItems := make(map[imap.UID]string, n)
	var uid uint64
	for i := 0; i < n && !r.Bad; i++ {
		uid += r.Uvarint()
		id := r.itemID()
		if uid > 0xffffffff {
			r.Bad = true
		}
		newItems[imap.UID(uid)] = id
	}
	goneOther := r.uids()
	newOther := r.uids()
	if r.Bad || len(r.B) != 0 {
		return fmt.Errorf("%w: delta", errSyncPointCorrupt)
	}
	if sp.items == nil {
		sp.items = map[imap.UID]string{}
	}
	if sp.other == nil {
		sp.other = map[imap.UID]struct{}{}
	}
	sp.UIDValidity, sp.UIDNext, sp.HighestModSeq = uint32(hdr[0]), imap.UID(hdr[1]), hdr[2]
	for _, uid := range goneItems {
		sp.unset(uid)
	}
	for uid, id := range newItems {
		sp.set(uid, id)
	}
	for _, uid := range goneOther {
		delete(sp.other, uid)
	}
	for _, uid := range newOther {
		sp.other[uid] = struct{}{}
	}
	return nil
}

// pointReader reads what Delta wrote: uvarints, UID lists and item IDs;
// a short or bad input sets Bad.
type pointReader struct {
	binrec.Reader
}

func (r *pointReader) uids() []imap.UID {
	n := r.Count(1)
	out := make([]imap.UID, 0, n)
	var uid uint64
	for i := 0; i < n && !r.Bad; i++ {
		uid += r.Uvarint()
		if uid > 0xffffffff {
			r.Bad = true
		}
		out = append(out, imap.UID(uid))
	}
	return out
}

func (r *pointReader) itemID() string {
	if r.Bad || len(r.B) == 0 {
		r.Bad = true
		return ""
	}
	tag := r.B[0]
	r.B = r.B[1:]
	switch tag {
	case 1:
		if len(r.B) < 16 {
			r.Bad = true
			return ""
		}
		var raw [16]byte
		copy(raw[:], r.B[:16])
		r.B = r.B[16:]
		return formatUUID(raw)
	case 2:
		n := r.Uvarint()
		if r.Bad || n > uint64(len(r.B)) {
			r.Bad = true
			return ""
		}
		id := string(r.B[:n])
		r.B = r.B[n:]
		return id
	}
	r.Bad = true
	return ""
}

// appendItemID encodes an item ID as MarshalBinary does.
func appendItemID(b []byte, id string) []byte {
	if raw, ok := uuidBytes(id); ok {
		b = append(b, 1)
		return append(b, raw[:]...)
	}
	b = append(b, 2)
	b = binary.AppendUvarint(b, uint64(len(id)))
	return append(b, id...)
}

// pointCache holds the sync points an Account decoded or encoded last, by
// their encoding: a session decodes the same point several times (its
// changes, its advance, its delta), and a device's next session on a kept
// connection starts from the point the last one encoded.
type pointCache struct {
	mu      sync.Mutex
	entries [3]pointEntry
	next    int
}

type pointEntry struct {
	raw []byte
	sp  *SyncPoint
}

func (c *pointCache) find(raw []byte) *SyncPoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.sp != nil && bytes.Equal(e.raw, raw) {
			return e.sp
		}
	}
	return nil
}

// encoded returns the encoding of a point it holds (by identity).
func (c *pointCache) encoded(sp *SyncPoint) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.sp == sp {
			return e.raw
		}
	}
	return nil
}

func (c *pointCache) add(raw []byte, sp *SyncPoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[c.next] = pointEntry{raw, sp}
	c.next = (c.next + 1) % len(c.entries)
}

// ParsePoint decodes a sync point (UnmarshalBinary), from the Account's
// cache when it decoded or encoded the same bytes lately. The point is
// shared: the caller must not change it (the store's own methods clone
// what they change).
func (a *Account) ParsePoint(raw []byte) (*SyncPoint, error) {
	if sp := a.points.find(raw); sp != nil {
		return sp, nil
	}
	sp := &SyncPoint{}
	if err := sp.UnmarshalBinary(raw); err != nil {
		return nil, err
	}
	a.points.add(slices.Clone(raw), sp)
	return sp, nil
}

// EncodePoint encodes a sync point (MarshalBinary) and remembers it for
// ParsePoint; sp must not change after.
func (a *Account) EncodePoint(sp *SyncPoint) ([]byte, error) {
	if raw := a.points.encoded(sp); raw != nil {
		return raw, nil
	}
	raw, err := sp.MarshalBinary()
	if err != nil {
		return nil, err
	}
	a.points.add(raw, sp)
	return raw, nil
}

// PointDelta is old.Delta(new) of two encoded points.
func (a *Account) PointDelta(old, new []byte) ([]byte, error) {
	o, err := a.ParsePoint(old)
	if err != nil {
		return nil, err
	}
	n, err := a.ParsePoint(new)
	if err != nil {
		return nil, err
	}
	return o.Delta(n), nil
}

// ApplyPointDelta applies deltas in order to the encoded point old and
// returns the encoded result.
func (a *Account) ApplyPointDelta(old []byte, deltas ...[]byte) ([]byte, error) {
	o, err := a.ParsePoint(old)
	if err != nil {
		return nil, err
	}
	sp := o.Clone()
	for _, d := range deltas {
		if err := sp.ApplyDelta(d); err != nil {
			return nil, err
		}
	}
	return a.EncodePoint(sp)
}
