package syncml

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"syncml-imap/pim"
)

// The bulk of a device's state for a database (its item map, the
// temporary IDs and the store's sync point) is kept as a journal: a base
// record, written whole now and then, and after it one small delta record
// per session that changed something, holding only what changed. A sync
// with k changes so writes O(k) bytes of state, whatever the database
// holds. The head record (stateKey) lists the deltas in force; a delta it
// does not list (a crash between the delta and the head) is ignored and
// removed at the next compaction. When the deltas grow past a share of
// the base, or past maxLog records, the next commit writes a new base.
//
// Records are binary (stateMagic…): a map of 100,000 items is about 5 MB
// as JSON, and its encoding and decoding were most of a changed sync's
// time. Bases written as JSON by earlier versions are still read.

const (
	bulkMagic  = "SXB\x01" // a base record
	deltaMagic = "SXD\x01" // a delta record
	fpMagic    = "SXF\x01" // merge bases (base or delta)

	// maxLog bounds the deltas read per session.
	maxLog = 32
)

// deltaKey names a delta record of the base generation base.
func deltaKey(deviceID string, db pim.Kind, base, gen int64) string {
	return bulkKey(deviceID, db, base) + "+" + strconv.FormatInt(gen, 10)
}

var errStateCorrupt = errors.New("syncml: state record corrupt")

// enc appends the binary encodings of state records.
type enc []byte

func (e *enc) uv(v uint64)   { *e = binary.AppendUvarint(*e, v) }
func (e *enc) str(s string)  { e.uv(uint64(len(s))); *e = append(*e, s...) }
func (e *enc) blob(b []byte) { e.uv(uint64(len(b))); *e = append(*e, b...) }

// strMap encodes m sorted by key, so that equal maps encode alike.
func (e *enc) strMap(m map[string]string) {
	keys := slices.Sorted(maps.Keys(m))
	e.uv(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.str(m[k])
	}
}

func (e *enc) strs(l []string) {
	l = slices.Clone(l)
	slices.Sort(l)
	e.uv(uint64(len(l)))
	for _, s := range l {
		e.str(s)
	}
}

// dec reads what enc wrote; a short or bad input sets bad, never panics.
type dec struct {
	b   []byte
	bad bool
}

func (d *dec) uv() uint64 {
	if d.bad {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) blob() []byte {
	n := d.uv()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) str() string { return string(d.blob()) }

// count reads a count of entries of at least min bytes each, refusing one
// the rest of the input cannot hold (no allocation from a bad count).
func (d *dec) count(min int) int {
	n := d.uv()
	if d.bad || n > uint64(len(d.b)/min) {
		d.bad = true
		return 0
	}
	return int(n)
}

func (d *dec) strMap() map[string]string {
	n := d.count(2)
	m := make(map[string]string, n)
	for i := 0; i < n && !d.bad; i++ {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

func (d *dec) strs() []string {
	n := d.count(1)
	l := make([]string, 0, n)
	for i := 0; i < n && !d.bad; i++ {
		l = append(l, d.str())
	}
	return l
}

func (d *dec) end() error {
	if d.bad || len(d.b) != 0 {
		return errStateCorrupt
	}
	return nil
}

// encodeBulk is a base record.
func encodeBulk(b *dbBulk) []byte {
	e := enc(bulkMagic)
	e.blob(b.Point)
	e.strMap(b.Map)
	e.strMap(b.TempIDs)
	return e
}

// decodeBulk reads a base record, binary or (written by earlier
// versions) JSON.
func decodeBulk(raw []byte) (*dbBulk, error) {
	b := &dbBulk{}
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
	d := dec{b: rest}
	if p := d.blob(); len(p) > 0 {
		b.Point = bytes.Clone(p)
	}
	b.Map = d.strMap()
	b.TempIDs = d.strMap()
	return b, d.end()
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
	e := enc(deltaMagic)
	e = append(e, x.pointForm)
	e.blob(x.point)
	e.strMap(x.set)
	e.strs(x.del)
	e.strMap(x.tempSet)
	e.strs(x.tempDel)
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
	d := dec{b: rest[1:]}
	if p := d.blob(); len(p) > 0 {
		x.point = bytes.Clone(p)
	}
	x.set = d.strMap()
	x.del = d.strs()
	x.tempSet = d.strMap()
	x.tempDel = d.strs()
	return x, d.end()
}

// packedFP is a fingerprint as kept for a merge base: its fields sorted
// by name, each name and hash, a few bytes a field (a map of its own per
// item would be ten times that, for every item a device holds).
type packedFP []byte

func packFP(fp pim.Fingerprint) packedFP {
	if fp == nil {
		return nil
	}
	e := enc{}
	for _, n := range slices.Sorted(maps.Keys(fp)) {
		e.str(n)
		e = binary.BigEndian.AppendUint32(e, fp[n])
	}
	if e == nil {
		e = enc{} // no fields, but a fingerprint
	}
	return packedFP(e)
}

// unpack undoes packFP; nil for nil or bad input.
func (p packedFP) unpack() pim.Fingerprint {
	if p == nil {
		return nil
	}
	fp := pim.Fingerprint{}
	d := dec{b: p}
	for len(d.b) > 0 && !d.bad {
		name := d.str()
		if d.bad || len(d.b) < 4 {
			return nil
		}
		fp[name] = binary.BigEndian.Uint32(d.b)
		d.b = d.b[4:]
	}
	if d.bad {
		return nil
	}
	return fp
}

// encodeFingerprints is a merge-bases record: fps set, gone removed.
func encodeFingerprints(fps map[string]packedFP, gone []string) []byte {
	e := enc(fpMagic)
	ids := slices.Sorted(maps.Keys(fps))
	e.uv(uint64(len(ids)))
	for _, id := range ids {
		e.str(id)
		if fps[id] == nil {
			e = append(e, 0)
			continue
		}
		e = append(e, 1)
		e.blob(fps[id])
	}
	e.strs(gone)
	return e
}

// decodeFingerprints reads a merge-bases record, binary or JSON (a base
// written by an earlier version).
func decodeFingerprints(raw []byte) (fps map[string]packedFP, gone []string, err error) {
	rest, ok := bytes.CutPrefix(raw, []byte(fpMagic))
	if !ok {
		var old map[string]pim.Fingerprint
		if err := json.Unmarshal(raw, &old); err != nil {
			return nil, nil, err
		}
		fps = make(map[string]packedFP, len(old))
		for id, fp := range old {
			fps[id] = packFP(fp)
		}
		return fps, nil, nil
	}
	d := dec{b: rest}
	n := d.count(3)
	fps = make(map[string]packedFP, n)
	for i := 0; i < n && !d.bad; i++ {
		id := d.str()
		if len(d.b) == 0 {
			d.bad = true
			break
		}
		has := d.b[0]
		d.b = d.b[1:]
		switch has {
		case 0:
			fps[id] = nil
		case 1:
			fps[id] = packedFP(bytes.Clone(d.blob()))
		default:
			d.bad = true
		}
	}
	gone = d.strs()
	return fps, gone, d.end()
}
