package imapstore

import (
	"bytes"
	"math/rand"
	"reflect"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestPointDelta: a delta between two points of a folder is the size of
// what changed, and applying it to the old point gives the new one, for
// random histories of adds, new versions and removals (items and other
// messages).
func TestPointDelta(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	items := map[imap.UID]string{}
	for uid := imap.UID(1); uid <= 5000; uid++ {
		items[uid] = newGUID()
	}
	old := spOf(9, items)
	old.other[5001] = struct{}{}
	old.UIDNext, old.HighestModSeq = 5002, 7000
	for round := 0; round < 20; round++ {
		next := old.Clone()
		changes := 1 + rng.Intn(10)
		for i := 0; i < changes; i++ {
			uid := next.UIDNext
			next.UIDNext++
			switch rng.Intn(4) {
			case 0: // new item
				next.set(uid, newGUID())
			case 1: // new version of an item
				for u, id := range next.items {
					next.unset(u)
					next.set(uid, id)
					break
				}
			case 2: // removed
				for u := range next.items {
					next.unset(u)
					break
				}
			case 3: // a message of a mail client
				next.other[uid] = struct{}{}
			}
		}
		next.HighestModSeq += uint64(changes)
		delta := old.Delta(next)
		if len(delta) > 40*changes+32 {
			t.Errorf("round %d: %d changes take %d bytes", round, changes, len(delta))
		}
		got := old.Clone()
		if err := got.ApplyDelta(delta); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		a, _ := got.MarshalBinary()
		b, _ := next.MarshalBinary()
		if !bytes.Equal(a, b) {
			t.Fatalf("round %d: applied delta differs from the point", round)
		}
		if !reflect.DeepEqual(got.IDs(), next.IDs()) || got.UIDNext != next.UIDNext || got.HighestModSeq != next.HighestModSeq {
			t.Fatalf("round %d: applied delta differs", round)
		}
		old = next
	}
}

// TestAccountPointDeltas: the Account's encoded-point helpers agree with
// the points, and a bad delta leaves an error, not a changed point.
func TestAccountPointDeltas(t *testing.T) {
	a := &Account{}
	old := spOf(3, map[imap.UID]string{1: newGUID(), 2: "x"})
	next := old.Clone()
	next.unset(1)
	next.set(3, "y")
	next.UIDNext = 4
	ob, _ := a.EncodePoint(old)
	nb, _ := a.EncodePoint(next)
	d, err := a.PointDelta(ob, nb)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.ApplyPointDelta(ob, d)
	if err != nil || !bytes.Equal(got, nb) {
		t.Fatalf("ApplyPointDelta = %v, %v", got, err)
	}
	for i := 0; i < len(d); i++ {
		if _, err := a.ApplyPointDelta(ob, d[:i]); err == nil {
			t.Errorf("delta truncated at %d applied", i)
		}
	}
	if again, _ := a.ParsePoint(ob); again.Len() != 2 {
		t.Error("a failed delta changed the cached point")
	}
}

func FuzzPointDelta(f *testing.F) {
	old := spOf(7, map[imap.UID]string{3: newGUID(), 4: "x"})
	next := old.Clone()
	next.set(5, "z")
	next.unset(3)
	next.UIDNext = 6
	f.Add(old.Delta(next))
	f.Add([]byte{pointDeltaVersion, 1, 2, 3, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, b []byte) {
		sp := old.Clone()
		before, _ := sp.MarshalBinary()
		if err := sp.ApplyDelta(b); err != nil {
			if after, _ := sp.MarshalBinary(); !bytes.Equal(before, after) {
				t.Fatal("a refused delta changed the point")
			}
			return
		}
		if _, err := sp.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestUUIDForm: the 16-byte form of item IDs in points is taken only for
// the canonical lower-case form, and gives the same string back.
func TestUUIDForm(t *testing.T) {
	for i := 0; i < 1000; i++ {
		id := newGUID()
		raw, ok := uuidBytes(id)
		if !ok || formatUUID(raw) != id {
			t.Fatalf("%s: %v %q", id, ok, formatUUID(raw))
		}
	}
	for _, s := range []string{
		"F47AC10B-58CC-4372-A567-0E02B2C3D479", "f47ac10b-58cc-4372-a567-0e02b2c3d47", "f47ac10b-58cc-4372-a567-0e02b2c3d4790",
		"f47ac10b058cc-4372-a567-0e02b2c3d479", "-47ac10b-58cc-4372-a567-0e02b2c3d479", "f47ac10b-58cc-4372-a567-0e02b2c3d47g",
	} {
		if _, ok := uuidBytes(s); ok {
			t.Errorf("%q taken as canonical", s)
		}
	}
}
