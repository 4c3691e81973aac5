// Package binrec writes and reads the compact binary records of the sync
// state (a device's item map, sync point deltas, merge bases): uvarints,
// length-prefixed strings and bytes, and lists and maps of strings written
// sorted, so that equal values encode alike. A Reader never panics on
// short or bad input: it marks itself Bad and returns zero values, and it
// never allocates from a count the input cannot hold.
package binrec

import (
	"encoding/binary"
	"maps"
	"slices"
)

// Writer appends encodings to itself.
type Writer []byte

// Uvarint appends v.
func (w *Writer) Uvarint(v uint64) { *w = binary.AppendUvarint(*w, v) }

// Str appends s, its length first.
func (w *Writer) Str(s string) { w.Uvarint(uint64(len(s))); *w = append(*w, s...) }

// Blob appends b, its length first.
func (w *Writer) Blob(b []byte) { w.Uvarint(uint64(len(b))); *w = append(*w, b...) }

// StrMap appends m, sorted by key.
func (w *Writer) StrMap(m map[string]string) {
	keys := slices.Sorted(maps.Keys(m))
	w.Uvarint(uint64(len(keys)))
	for _, k := range keys {
		w.Str(k)
		w.Str(m[k])
	}
}

// Strs appends l, sorted.
func (w *Writer) Strs(l []string) {
	l = slices.Clone(l)
	slices.Sort(l)
	w.Uvarint(uint64(len(l)))
	for _, s := range l {
		w.Str(s)
	}
}

// Reader reads what a Writer wrote from B, which it consumes.
type Reader struct {
	B   []byte
	Bad bool // the input was short or bad
}

// Uvarint reads a uvarint.
func (r *Reader) Uvarint() uint64 {
	if r.Bad {
		return 0
	}
	v, n := binary.Uvarint(r.B)
	if n <= 0 {
		r.Bad = true
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Blob reads length-prefixed bytes, a part of B.
func (r *Reader) Blob() []byte {
	n := r.Uvarint()
	if r.Bad || n > uint64(len(r.B)) {
		r.Bad = true
		return nil
	}
	v := r.B[:n:n]
	r.B = r.B[n:]
	return v
}

// Str reads a length-prefixed string.
func (r *Reader) Str() string { return string(r.Blob()) }

// Count reads a count of entries of at least min bytes each, refusing one
// the rest of the input cannot hold.
func (r *Reader) Count(min int) int {
	n := r.Uvarint()
	if r.Bad || n > uint64(len(r.B)/min) {
		r.Bad = true
		return 0
	}
	return int(n)
}

// StrMap reads what Writer.StrMap wrote.
func (r *Reader) StrMap() map[string]string {
	n := r.Count(2)
	m := make(map[string]string, n)
	for i := 0; i < n && !r.Bad; i++ {
		k := r.Str()
		m[k] = r.Str()
	}
	return m
}

// Strs reads what Writer.Strs wrote.
func (r *Reader) Strs() []string {
	n := r.Count(1)
	l := make([]string, 0, n)
	for i := 0; i < n && !r.Bad; i++ {
		l = append(l, r.Str())
	}
	return l
}

// Done reports whether the input was read whole and well.
func (r *Reader) Done() bool { return !r.Bad && len(r.B) == 0 }
