package pim

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"syncml-imap/internal/binrec"
)

// The bulk of a device's state for a database (its item map, the
// temporary IDs and the store's sync point) is kept as a journal: a base
// record, written whole now and then, and after it one small delta record
// per session that changed something, holding only what changed. A sync
// with k changes so writes O(k) bytes of state, whatever the database
// holds. The front's record (ReplicaKey) lists the deltas in force; a delta it
// does not list (a crash between the delta and the head) is ignored and
// removed at the next compaction. When the deltas grow past a share of
// the base, or past MaxLog records, the next commit writes a new base.
//
// Records are binary (stateMagic…): a map of 100,000 items is about 5 MB
// as JSON, and its encoding and decoding were most of a changed sync's
// time. Bases written as JSON by earlier versions are still read.

const (
	bulkMagic  = "SXB\x01" // a base record
	deltaMagic = "SXD\x01" // a delta record
	fpMagic    = "SXF\x01" // merge bases (base or delta)

	// MaxLog bounds the deltas a session reads: past it, the next
	// commit writes a new base.
	MaxLog = 32
)

// deltaKey names a delta record of the base generation base.
func deltaKey(device string, k Kind, base, gen int64) string {
	return bulkKey(device, k, base) + "+" + strconv.FormatInt(gen, 10)
}

var errStateCorrupt = errors.New("pim: state record corrupt")

// end is the error of a record d read: errStateCorrupt unless it was
// read whole and well.
func end(d *binrec.Reader) error {
	if !d.Done() {
		return errStateCorrupt
	}
	return nil
}

// encodeBulk is a base record.
func encodeBulk(b *bulk) []byte {
	e := binrec.Writer(bulkMagic)
	e.Blob(b.Point)
	e.StrMap(b.Map)
	e.StrMap(b.TempIDs)
	return e
}

// decodeBulk reads a base record, binary or (written by earlier
// versions) JSON.
func decodeBulk(raw []byte) (*bulk, error) {
	b := &bulk{}
	rest, ok := bytes.CutPrefix(raw, []byte(bulkMagic))
	if !ok {
		if err := json.Unmarshal(raw, b); err != nil {
			return nil, err
		}
		if b.Map == nil {
			b.Map = map[string]string{}
		}
		if b.TempIDs == nil {
			b.TempIDs = map[string]string{}
		}
		return b, nil
	}
	d := binrec.Reader{B: rest}
	if p := d.Blob(); len(p) > 0 {
		b.Point = bytes.Clone(p)
	}
	b.Map = d.StrMap()
	b.TempIDs = d.StrMap()
	return b, end(&d)
}

// Point forms in a delta.
const (
	pointSame  = 0 // the point did not change
	pointWhole = 1 // the new point
	pointDelta = 2 // the view's delta from the old point
)

// bulkDelta is what one session changed of the bulk.
type bulkDelta struct {
	pointForm byte
	point     []byte
	set       map[string]string // map entries set (LUID → ID)
	del       []string          // map entries removed
	tempSet   map[string]string
	tempDel   []string
}

// size is the delta's weight, in entries, against the base's.
func (x *bulkDelta) size() int {
	n := len(x.set) + len(x.del) + len(x.tempSet) + len(x.tempDel)
	if x.pointForm == pointWhole {
		n += len(x.point) / 20 // about one point entry each
	} else {
		n += len(x.point) / 8
	}
	return n
}

func (x *bulkDelta) empty() bool {
	return x.pointForm == pointSame && len(x.set)+len(x.del)+len(x.tempSet)+len(x.tempDel) == 0
}

// diffMaps returns what turns old into new.
func diffMaps(old, new map[string]string) (set map[string]string, del []string) {
	set = map[string]string{}
	for k, v := range new {
		if o, ok := old[k]; !ok || o != v {
			set[k] = v
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			del = append(del, k)
		}
	}
	return set, del
}

func applyMap(m, set map[string]string, del []string) {
	for _, k := range del {
		delete(m, k)
	}
	maps.Copy(m, set)
}

func (x *bulkDelta) encode() []byte {
	e := binrec.Writer(deltaMagic)
	e = append(e, x.pointForm)
	e.Blob(x.point)
	e.StrMap(x.set)
	e.Strs(x.del)
	e.StrMap(x.tempSet)
	e.Strs(x.tempDel)
	return e
}

func decodeDelta(raw []byte) (*bulkDelta, error) {
	rest, ok := bytes.CutPrefix(raw, []byte(deltaMagic))
	if !ok || len(rest) == 0 {
		return nil, errStateCorrupt
	}
	x := &bulkDelta{pointForm: rest[0]}
	if x.pointForm > pointDelta {
		return nil, errStateCorrupt
	}
	d := binrec.Reader{B: rest[1:]}
	if p := d.Blob(); len(p) > 0 {
		x.point = bytes.Clone(p)
	}
	x.set = d.StrMap()
	x.del = d.Strs()
	x.tempSet = d.StrMap()
	x.tempDel = d.Strs()
	return x, end(&d)
}

// packedFP is a fingerprint as kept for a merge base: its fields sorted
// by name, each name and hash, a few bytes a field (a map of its own per
// item would be ten times that, for every item a device holds).
type packedFP []byte

func packFP(fp Fingerprint) packedFP {
	if fp == nil {
		return nil
	}
	e := binrec.Writer{}
	for _, n := range slices.Sorted(maps.Keys(fp)) {
		e.Str(n)
		e = binary.BigEndian.AppendUint32(e, fp[n])
	}
	if e == nil {
		e = binrec.Writer{} // no fields, but a fingerprint
	}
	return packedFP(e)
}

// unpack undoes packFP; nil for nil or bad input.
func (p packedFP) unpack() Fingerprint {
	if p == nil {
		return nil
	}
	fp := Fingerprint{}
	d := binrec.Reader{B: p}
	for len(d.B) > 0 && !d.Bad {
		name := d.Str()
		if d.Bad || len(d.B) < 4 {
			return nil
		}
		fp[name] = binary.BigEndian.Uint32(d.B)
		d.B = d.B[4:]
	}
	if d.Bad {
		return nil
	}
	return fp
}

// encodeFingerprints is a merge-bases record: fps set, gone removed.
func encodeFingerprints(fps map[string]packedFP, gone []string) []byte {
	e := binrec.Writer(fpMagic)
	ids := slices.Sorted(maps.Keys(fps))
	e.Uvarint(uint64(len(ids)))
	for _, id := range ids {
		e.Str(id)
		if fps[id] == nil {
			e = append(e, 0)
			continue
		}
		e = append(e, 1)
		e.Blob(fps[id])
	}
	e.Strs(gone)
	return e
}

// decodeFingerprints reads a merge-bases record, binary or JSON (a base
// written by an earlier version).
func decodeFingerprints(raw []byte) (fps map[string]packedFP, gone []string, err error) {
	rest, ok := bytes.CutPrefix(raw, []byte(fpMagic))
	if !ok {
		var old map[string]Fingerprint
		if err := json.Unmarshal(raw, &old); err != nil {
			return nil, nil, err
		}
		fps = make(map[string]packedFP, len(old))
		for id, fp := range old {
			fps[id] = packFP(fp)
		}
		return fps, nil, nil
	}
	d := binrec.Reader{B: rest}
	n := d.Count(3)
	fps = make(map[string]packedFP, n)
	for i := 0; i < n && !d.Bad; i++ {
		id := d.Str()
		if len(d.B) == 0 {
			d.Bad = true
			break
		}
		has := d.B[0]
		d.B = d.B[1:]
		switch has {
		case 0:
			fps[id] = nil
		case 1:
			fps[id] = packedFP(bytes.Clone(d.Blob()))
		default:
			d.Bad = true
		}
	}
	gone = d.Strs()
	return fps, gone, end(&d)
}
