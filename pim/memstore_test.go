package pim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
)

// memStore is an in-memory Store for unit tests of the core's logic.
// The real store (IMAP) is proven in plugin and integration against
// Dovecot; this one only has to keep the same contract: item versions,
// sync points as opaque bytes, changes by diff, Advance folding own writes.
type memStore struct {
	mu      sync.Mutex
	items   map[string]map[string][]byte // db → id → data
	version map[string]map[string]int    // db → id → version
	seq     int
	state   map[string][]byte
	puts    int // Put calls, to check batching
	saves   int // SaveState calls
	loads   int // LoadState calls
	// bulkLoads, bulkSaves: of bulk records (item map and point).
	bulkLoads, bulkSaves int
	// bytesSaved, bulkBytesSaved: state bytes written (of bulk records).
	bytesSaved, bulkBytesSaved int
	// noDelta: not a PointDeltas (points are kept whole).
	noDelta     bool
	bytesLoaded int
	// maxGet: the most items one Get asked for.
	maxGet int
	// copyGets: Get returns copies, as a real store returns what it read
	// (else the engine's reads cost no memory of their own).
	copyGets bool
	// noQuick: the store cannot tell changes from a point's head.
	noQuick     bool
	quickChecks int
	heads       map[string][]byte // db → head of its current point
}

func newMemStore() *memStore {
	m := &memStore{items: map[string]map[string][]byte{}, version: map[string]map[string]int{}, state: map[string][]byte{}}
	for _, db := range Databases {
		m.items[db], m.version[db] = map[string][]byte{}, map[string]int{}
	}
	return m
}

// memAuth logs "alice" in with password "pw" to one shared memStore.
func (m *memStore) point(db string) []byte {
	b, _ := json.Marshal(m.version[db])
	return b
}

func (m *memStore) Changes(_ context.Context, db string, since []byte) (*Changes, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := map[string]int{}
	if since != nil {
		if err := json.Unmarshal(since, &old); err != nil {
			return nil, ErrSyncPointInvalid
		}
	}
	d := &Changes{Point: m.point(db)}
	for id, v := range m.version[db] {
		switch ov, ok := old[id]; {
		case !ok:
			d.Added = append(d.Added, id)
		case ov != v:
			d.Modified = append(d.Modified, id)
		}
	}
	for id := range old {
		if _, ok := m.version[db][id]; !ok {
			d.Deleted = append(d.Deleted, id)
		}
	}
	sort.Strings(d.Added)
	sort.Strings(d.Modified)
	sort.Strings(d.Deleted)
	return d, nil
}

func (m *memStore) Get(_ context.Context, db string, ids ...string) ([]*Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maxGet = max(m.maxGet, len(ids))
	out := make([]*Item, len(ids))
	for i, id := range ids {
		if d, ok := m.items[db][id]; ok {
			if m.copyGets {
				d = bytes.Clone(d)
			}
			out[i] = &Item{ID: id, Data: d}
		}
	}
	return out, nil
}

func (m *memStore) Put(_ context.Context, db string, items ...*Item) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	delete(m.heads, db)
	for _, it := range items {
		if it.ID == "" {
			m.seq++
			it.ID = fmt.Sprintf("g%04d", m.seq)
		}
		if m.items[db] == nil { // a sub-folder ("contacts/Family")
			m.items[db], m.version[db] = map[string][]byte{}, map[string]int{}
		}
		m.items[db][it.ID] = it.Data
		m.seq++
		m.version[db][it.ID] = m.seq
	}
	return nil
}

func (m *memStore) Delete(_ context.Context, db string, ids ...string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.heads, db)
	var missing []string
	for _, id := range ids {
		if _, ok := m.items[db][id]; !ok {
			missing = append(missing, id)
		}
		delete(m.items[db], id)
		delete(m.version[db], id)
	}
	return missing, nil
}

func (m *memStore) Advance(_ context.Context, db string, base []byte, own []string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := map[string]int{}
	json.Unmarshal(base, &next)
	for _, id := range own {
		if v, ok := m.version[db][id]; ok {
			next[id] = v
		} else {
			delete(next, id)
		}
	}
	b, _ := json.Marshal(next)
	return b, nil
}

func (m *memStore) LoadState(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	m.bytesLoaded += len(m.state[key])
	if strings.Contains(key, "/map/") {
		m.bulkLoads++
	}
	return m.state[key], nil
}

// LoadStates makes memStore a StateBatch: one load for all.
func (m *memStore) LoadStates(_ context.Context, keys ...string) (map[string][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	out := map[string][]byte{}
	bulk := false
	for _, k := range keys {
		bulk = bulk || strings.Contains(k, "/map/")
		if v, ok := m.state[k]; ok {
			m.bytesLoaded += len(v)
			out[k] = v
		}
	}
	if bulk {
		m.bulkLoads++
	}
	return out, nil
}

// PointDelta and ApplyPointDelta make memStore a PointDeltas, unless
// noDelta: a delta is the versions set and the IDs gone.
func (m *memStore) PointDelta(_ string, old, new []byte) ([]byte, error) {
	if m.noDelta {
		return nil, errors.New("memstore: no point deltas")
	}
	var o, n map[string]int
	if err := json.Unmarshal(old, &o); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(new, &n); err != nil {
		return nil, err
	}
	d := memPointDelta{Set: map[string]int{}}
	for id, v := range n {
		if ov, ok := o[id]; !ok || ov != v {
			d.Set[id] = v
		}
	}
	for id := range o {
		if _, ok := n[id]; !ok {
			d.Del = append(d.Del, id)
		}
	}
	return json.Marshal(d)
}

type memPointDelta struct {
	Set map[string]int
	Del []string
}

func (m *memStore) ApplyPointDelta(_ string, old []byte, deltas ...[]byte) ([]byte, error) {
	var o map[string]int
	if err := json.Unmarshal(old, &o); err != nil {
		return nil, ErrSyncPointInvalid
	}
	if o == nil {
		o = map[string]int{}
	}
	for _, delta := range deltas {
		var d memPointDelta
		if err := json.Unmarshal(delta, &d); err != nil {
			return nil, ErrSyncPointInvalid
		}
		for _, id := range d.Del {
			delete(o, id)
		}
		for id, v := range d.Set {
			o[id] = v
		}
	}
	return json.Marshal(o)
}

func (m *memStore) SaveState(_ context.Context, key string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state[key] = data
	m.saves++
	m.bytesSaved += len(data)
	if strings.Contains(key, "/map/") {
		m.bulkSaves++
		m.bulkBytesSaved += len(data)
	}
	return nil
}

func (m *memStore) DeleteState(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.state, key)
	return nil
}

func (m *memStore) ListState(_ context.Context, prefix string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var keys []string
	for k := range m.state {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

func (m *memStore) Close() error { return nil }

// PointHead and Unchanged make memStore a QuickStore: a point's head is
// its hash (the store's points are whole states), unless noQuick.
func (m *memStore) PointHead(db string, point []byte) []byte {
	if m.noQuick || point == nil {
		return nil
	}
	h := sha256.Sum256(point)
	return h[:8]
}

func (m *memStore) Unchanged(_ context.Context, db string, head []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.quickChecks++
	if m.noQuick {
		return false, nil
	}
	if m.heads == nil {
		m.heads = map[string][]byte{}
	}
	if m.heads[db] == nil { // cleared by every write
		h := sha256.Sum256(m.point(db))
		m.heads[db] = h[:8]
	}
	return bytes.Equal(m.heads[db], head), nil
}

// countingStore counts Get calls.
type countingStore struct {
	*memStore
	gets int
}

func (c *countingStore) Get(ctx context.Context, db string, ids ...string) ([]*Item, error) {
	c.gets++
	return c.memStore.Get(ctx, db, ids...)
}

// checkHas reports what of want got lacks and what of gone it holds.
func checkHas(t *testing.T, got string, want, gone []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
	for _, g := range gone {
		if strings.Contains(got, g) {
			t.Errorf("%q should be gone from\n%s", g, got)
		}
	}
}
