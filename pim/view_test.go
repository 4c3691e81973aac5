package pim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
)

func TestJoinSplitPoints(t *testing.T) {
	for _, c := range [][][]byte{
		{[]byte("cal-point"), []byte("task-point")},
		{[]byte("c"), nil},
		{nil, []byte("t")},
		{bytes.Repeat([]byte{0, 1, 2, 0xff}, 300), []byte(pointMagic), []byte("third")},
	} {
		got, err := splitPoint(joinPoints(c), len(c))
		if err != nil || len(got) != len(c) {
			t.Fatalf("split(join(%q)) = %q, %v", c, got, err)
		}
		for i := range c {
			if !bytes.Equal(got[i], c[i]) {
				t.Errorf("split(join(%q))[%d] = %q", c, i, got[i])
			}
		}
	}
	// A plain store point is the first part's.
	if got, err := splitPoint([]byte("plain"), 2); err != nil || string(got[0]) != "plain" || got[1] != nil {
		t.Errorf("plain point: %q %v", got, err)
	}
	// A point of fewer parts leaves the rest nil (a part added since).
	if got, err := splitPoint(joinPoints([][]byte{[]byte("a")}), 2); err != nil || string(got[0]) != "a" || got[1] != nil {
		t.Errorf("shorter point: %q %v", got, err)
	}
	// A damaged joined point asks for a slow sync.
	bad := append([]byte(pointMagic), 2, 0x7f)
	if _, err := splitPoint(bad, 2); err != ErrSyncPointInvalid {
		t.Errorf("damaged point: %v, want ErrSyncPointInvalid", err)
	}
}

// FuzzSplitPoint: a sync point read back from the state folder may be
// damaged; splitting it never panics, and a joined point splits back.
func FuzzSplitPoint(f *testing.F) {
	f.Add(joinPoints([][]byte{[]byte("cal"), []byte("tasks")}), 2)
	f.Add([]byte("plain"), 1)
	f.Add(append([]byte(pointMagic), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 3)
	f.Fuzz(func(t *testing.T, p []byte, n int) {
		n = n&7 + 1
		parts, err := splitPoint(p, n)
		if err != nil {
			return
		}
		if len(parts) != n {
			t.Fatalf("%d parts, want %d", len(parts), n)
		}
		again, err := splitPoint(joinPoints(parts), n)
		if err != nil {
			t.Fatal(err)
		}
		for i := range parts {
			if !bytes.Equal(parts[i], again[i]) {
				t.Fatalf("part %d: %q then %q", i, parts[i], again[i])
			}
		}
	})
}

// TestUnionPointDelta: a calendar view that carries tasks keeps one point
// per folder; its delta holds a delta for each folder that changed, and
// applying it gives the new point. Without point deltas it says so, and
// the point is kept whole.
func TestUnionPointDelta(t *testing.T) {
	ctx := context.Background()
	store := &addStore{n: map[Kind]int{}}
	v := calendarView(store, true)
	for i := 0; i < 5; i++ {
		store.Put(ctx, "calendar", &Item{Data: []byte(fmt.Sprintf("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:E%d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", i))})
		store.Put(ctx, "tasks", &Item{Data: []byte(fmt.Sprintf("BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nSUMMARY:T%d\r\nEND:VTODO\r\nEND:VCALENDAR\r\n", i))})
	}
	ch, err := v.Changes(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := ch.Point
	store.Put(ctx, "tasks", &Item{Data: []byte("BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nSUMMARY:New\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")})
	ch, err = v.Changes(ctx, old)
	if err != nil || len(ch.Added) != 1 {
		t.Fatalf("changes %+v, %v", ch, err)
	}
	delta, ok := v.PointDelta(old, ch.Point)
	if !ok {
		t.Fatal("no delta")
	}
	got, err := v.ApplyPointDelta(old, [][]byte{delta})
	if err != nil || !bytes.Equal(got, ch.Point) {
		t.Fatalf("applied delta %q, want %q (%v)", got, ch.Point, err)
	}
	parts, _ := splitPoint(delta, 2)
	if parts[0] != nil || parts[1] == nil {
		t.Errorf("delta parts %q: want only the tasks folder's", parts)
	}
	store.noDelta = true
	if _, ok := v.PointDelta(old, ch.Point); ok {
		t.Error("a delta from a store without point deltas")
	}
}

// addStore is the least Store TestUnionPointDelta needs (pim/memstore
// imports pim, so package pim's own tests cannot have it): items are only
// added, a database's point is its count of items, a point delta the
// number added since. The Store methods the test does not call are nil.
type addStore struct {
	Store
	n       map[Kind]int // db → items
	noDelta bool
}

var _ PointDeltas = (*addStore)(nil)

func (s *addStore) Put(_ context.Context, db Kind, items ...*Item) error {
	for _, it := range items {
		s.n[db]++
		it.ID = strconv.Itoa(s.n[db])
	}
	return nil
}

func (s *addStore) Changes(_ context.Context, db Kind, since []byte) (*Changes, error) {
	from := 0
	if since != nil {
		var err error
		if from, err = strconv.Atoi(string(since)); err != nil {
			return nil, ErrSyncPointInvalid
		}
	}
	d := &Changes{Point: []byte(strconv.Itoa(s.n[db]))}
	for i := from + 1; i <= s.n[db]; i++ {
		d.Added = append(d.Added, strconv.Itoa(i))
	}
	return d, nil
}

func (s *addStore) PointDelta(_ Kind, old, new []byte) ([]byte, error) {
	o, err1 := strconv.Atoi(string(old))
	n, err2 := strconv.Atoi(string(new))
	if s.noDelta || err1 != nil || err2 != nil {
		return nil, errors.New("no point delta")
	}
	return []byte(strconv.Itoa(n - o)), nil
}

func (s *addStore) ApplyPointDelta(_ Kind, old []byte, deltas ...[]byte) ([]byte, error) {
	n, err := strconv.Atoi(string(old))
	for _, d := range deltas {
		k, err2 := strconv.Atoi(string(d))
		err = errors.Join(err, err2)
		n += k
	}
	if err != nil {
		return nil, ErrSyncPointInvalid
	}
	return []byte(strconv.Itoa(n)), nil
}
