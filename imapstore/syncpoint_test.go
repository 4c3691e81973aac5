package imapstore

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func spOf(validity uint32, items map[imap.UID]string) *SyncPoint {
	sp := newSyncPoint()
	sp.UIDValidity = validity
	for k, v := range items {
		sp.items[k] = v
	}
	return sp
}

func TestSyncPointRoundTrip(t *testing.T) {
	sp := spOf(1700000000, map[imap.UID]string{
		1: newGUID(), 2: "not-a-uuid", 70000: newGUID(), 4294967295: "Z0A6E2F6-UPPER-NOT-CANONICAL-0000000",
	})
	sp.UIDNext, sp.HighestModSeq = 70001, 1<<40
	sp.other[5] = struct{}{}
	sp.other[9] = struct{}{}
	b, err := sp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got SyncPoint
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, sp) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", &got, sp)
	}
	empty := newSyncPoint()
	b, _ = empty.MarshalBinary()
	if err := got.UnmarshalBinary(b); err != nil || got.Len() != 0 {
		t.Fatalf("empty round trip: %v %d", err, got.Len())
	}
}

func TestSyncPointSize(t *testing.T) {
	sp := newSyncPoint()
	for i := 1; i <= 10000; i++ {
		sp.items[imap.UID(i*2)] = newGUID()
	}
	b, _ := sp.MarshalBinary()
	if per := float64(len(b)) / 10000; per > 20 {
		t.Errorf("%.1f bytes per item, want at most 20", per)
	}
}

func TestSyncPointCorrupt(t *testing.T) {
	sp := spOf(7, map[imap.UID]string{3: newGUID(), 4: "x"})
	good, _ := sp.MarshalBinary()
	for i := 0; i < len(good); i++ {
		var got SyncPoint
		err := got.UnmarshalBinary(good[:i])
		if err == nil {
			t.Errorf("truncated at %d: no error", i)
		} else if !errors.Is(err, errSyncPointCorrupt) {
			t.Errorf("truncated at %d: %v is not errSyncPointCorrupt", i, err)
		}
	}
	if err := new(SyncPoint).UnmarshalBinary(append(good, 0)); err == nil {
		t.Error("trailing byte accepted")
	}
}

func FuzzSyncPointUnmarshal(f *testing.F) {
	sp := spOf(7, map[imap.UID]string{3: newGUID(), 4: "x"})
	good, _ := sp.MarshalBinary()
	f.Add(good)
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, b []byte) {
		var got SyncPoint
		if err := got.UnmarshalBinary(b); err != nil {
			return
		}
		again, err := got.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back SyncPoint
		if err := back.UnmarshalBinary(again); err != nil || !reflect.DeepEqual(&back, &got) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

func TestDiff(t *testing.T) {
	old := spOf(1, map[imap.UID]string{1: "a", 2: "b", 3: "c", 4: "d"})
	now := spOf(1, map[imap.UID]string{1: "a", 3: "c", 5: "b", 6: "e", 7: "d", 8: "d"})
	added, modified, deleted := diff(old, now)
	got := fmt.Sprint(added, modified, deleted)
	// b moved 2→5 (modified), d has a newer version 8 (modified), e is new.
	if want := "[e] [b d] []"; got != want {
		t.Errorf("diff = %s, want %s", got, want)
	}
	_, _, deleted = diff(now, old)
	if fmt.Sprint(deleted) != "[e]" {
		t.Errorf("reverse deleted = %v", deleted)
	}
	added, modified, deleted = diff(nil, now)
	if fmt.Sprint(added, modified, deleted) != "[a b c d e] [] []" {
		t.Errorf("diff from nil = %v %v %v", added, modified, deleted)
	}
}

// TestSyncPointIndex: the reverse index follows set and unset, also on a
// clone and after it was built.
func TestSyncPointIndex(t *testing.T) {
	sp := newSyncPoint()
	sp.set(5, "a")
	sp.set(3, "a")
	sp.set(4, "b")
	if got := sp.uidsOf("a"); !slices.Equal(got, []imap.UID{3, 5}) {
		t.Fatalf("uidsOf(a) = %v", got)
	}
	sp.set(7, "a")
	sp.set(4, "a") // message 4 now read as holding a
	sp.unset(3)
	if got := sp.uidsOf("a"); !slices.Equal(got, []imap.UID{4, 5, 7}) {
		t.Errorf("uidsOf(a) after changes = %v", got)
	}
	if got := sp.uidsOf("b"); len(got) != 0 {
		t.Errorf("uidsOf(b) = %v", got)
	}
	c := sp.Clone()
	c.unset(5)
	if got, orig := c.uidsOf("a"), sp.uidsOf("a"); !slices.Equal(got, []imap.UID{4, 7}) || !slices.Equal(orig, []imap.UID{4, 5, 7}) {
		t.Errorf("clone %v, original %v", got, orig)
	}
	// The caller's slice is its own.
	got := sp.uidsOf("a")
	got[0] = 99
	if sp.uidsOf("a")[0] != 4 {
		t.Error("uidsOf returned the index itself")
	}
}

// BenchmarkItemLookup is the bookkeeping of a Put per item (find the
// item's old messages, note its new one) in a folder of n items, with the
// reverse index against a scan of the folder's index (what Put did).
func BenchmarkItemLookup(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		sp := newSyncPoint()
		for i := 0; i < n; i++ {
			sp.set(imap.UID(i+1), fmt.Sprintf("id-%d", i))
		}
		scan := func(id string) []imap.UID {
			var uids []imap.UID
			for uid, v := range sp.items {
				if v == id {
					uids = append(uids, uid)
				}
			}
			return uids
		}
		b.Run(fmt.Sprintf("index/%d", n), func(b *testing.B) {
			next := imap.UID(n + 1)
			for i := 0; b.Loop(); i++ {
				id := fmt.Sprintf("id-%d", i%n)
				old := sp.uidsOf(id)
				sp.set(next, id)
				for _, u := range old {
					sp.unset(u)
				}
				next++
			}
		})
		b.Run(fmt.Sprintf("scan/%d", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				scan(fmt.Sprintf("id-%d", i%n))
			}
		})
	}
}

func TestUnknownUIDs(t *testing.T) {
	sp := newSyncPoint()
	for _, u := range []imap.UID{1, 2, 3, 7, 9, 10} {
		sp.set(u, fmt.Sprintf("id-%d", u))
	}
	sp.other[4] = struct{}{} // fetched again: it holds no item
	for _, tc := range []struct {
		from imap.UID
		want string
	}{{1, "4:6,8,11:*"}, {5, "5:6,8,11:*"}, {11, "11:*"}, {20, "20:*"}} {
		if got := unknownUIDs(sp, tc.from).String(); got != tc.want {
			t.Errorf("unknownUIDs from %d = %s, want %s", tc.from, got, tc.want)
		}
	}
	// Too scattered: from:* whole.
	many := newSyncPoint()
	for u := imap.UID(2); u < 400; u += 2 {
		many.set(u, fmt.Sprintf("id-%d", u))
	}
	if got := unknownUIDs(many, 1).String(); got != "1:*" {
		t.Errorf("unknownUIDs of 199 scattered UIDs = %s, want 1:*", got)
	}
}
