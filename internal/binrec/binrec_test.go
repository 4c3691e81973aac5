package binrec

import (
	"maps"
	"slices"
	"testing"
)

// TestRoundTrip: what a Writer writes a Reader reads back, lists and
// maps sorted; a Reader is Done only at the end of good input.
func TestRoundTrip(t *testing.T) {
	var w Writer
	w.Uvarint(300)
	w.Str("héllo")
	w.Blob([]byte{0, 1, 2})
	w.StrMap(map[string]string{"b": "2", "a": "1"})
	w.Strs([]string{"z", "y"})
	r := Reader{B: w}
	if v := r.Uvarint(); v != 300 {
		t.Errorf("Uvarint %d", v)
	}
	if s := r.Str(); s != "héllo" {
		t.Errorf("Str %q", s)
	}
	if b := r.Blob(); !slices.Equal(b, []byte{0, 1, 2}) {
		t.Errorf("Blob %v", b)
	}
	if m := r.StrMap(); !maps.Equal(m, map[string]string{"a": "1", "b": "2"}) {
		t.Errorf("StrMap %v", m)
	}
	if l := r.Strs(); !slices.Equal(l, []string{"y", "z"}) {
		t.Errorf("Strs %v", l)
	}
	if !r.Done() {
		t.Errorf("not done: bad %v, %d bytes left", r.Bad, len(r.B))
	}
	// Cut short anywhere, the read goes bad, never panics.
	for n := range len(w) {
		r := Reader{B: w[:n]}
		r.Uvarint()
		r.Str()
		r.Blob()
		r.StrMap()
		r.Strs()
		if r.Done() {
			t.Errorf("a record cut at %d of %d bytes read as whole", n, len(w))
		}
	}
}

// TestCountRefusesTooMany: a count the rest of the input cannot hold is
// bad, so nothing is allocated for it.
func TestCountRefusesTooMany(t *testing.T) {
	var w Writer
	w.Uvarint(1 << 40)
	r := Reader{B: w}
	if n := r.Count(1); n != 0 || !r.Bad {
		t.Errorf("Count = %d, bad %v", n, r.Bad)
	}
}

func FuzzReader(f *testing.F) {
	var w Writer
	w.StrMap(map[string]string{"a": "1"})
	w.Strs([]string{"x"})
	f.Add([]byte(w))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := Reader{B: b}
		m := r.StrMap()
		l := r.Strs()
		if !r.Done() {
			return
		}
		// What read well writes back the same, the list sorted.
		var out Writer
		out.StrMap(m)
		out.Strs(l)
		if got := (Reader{B: out}); !maps.Equal(got.StrMap(), m) || !slices.Equal(got.Strs(), slices.Sorted(slices.Values(l))) {
			t.Errorf("%q did not read back", b)
		}
	})
}
