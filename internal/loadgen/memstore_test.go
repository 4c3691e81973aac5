package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syncml-imap/pim"
)

// memStore is an in-memory pim.Store, so that the client can be tried
// against the real engine without a mail server: item versions, sync
// points as the versions seen, changes by difference, Advance folding in
// the session's own writes. lose, when set, makes Put drop every lose-th
// item while reporting it stored: a server that loses data.
type memStore struct {
	mu      sync.Mutex
	items   map[string]map[string][]byte // db → id → data
	version map[string]map[string]int
	seq     int
	state   map[string][]byte
	lose    int
	puts    int
}

func newMemStore() *memStore {
	return &memStore{items: map[string]map[string][]byte{}, version: map[string]map[string]int{}, state: map[string][]byte{}}
}

// memAuth gives every user with the password "pw" a store of its own.
type memAuth struct {
	mu     sync.Mutex
	stores map[string]*memStore
	lose   int
}

func (a *memAuth) Login(_ context.Context, user, pw string) (pim.Store, error) {
	if pw != "pw" {
		return nil, pim.ErrAuthFailed
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stores == nil {
		a.stores = map[string]*memStore{}
	}
	s := a.stores[user]
	if s == nil {
		s = newMemStore()
		s.lose = a.lose
		a.stores[user] = s
	}
	return memSession{s}, nil
}

// memSession is one login: closing it keeps the data.
type memSession struct{ *memStore }

func (memSession) Close() error { return nil }

func (m *memStore) db(db string) {
	if m.items[db] == nil {
		m.items[db], m.version[db] = map[string][]byte{}, map[string]int{}
	}
}

func (m *memStore) Changes(_ context.Context, db string, since []byte) (*pim.Changes, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.db(db)
	old := map[string]int{}
	if since != nil {
		if err := json.Unmarshal(since, &old); err != nil {
			return nil, pim.ErrSyncPointInvalid
		}
	}
	point, _ := json.Marshal(m.version[db])
	d := &pim.Changes{Point: point}
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

func (m *memStore) Get(_ context.Context, db string, ids ...string) ([]*pim.Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*pim.Item, len(ids))
	for i, id := range ids {
		if d, ok := m.items[db][id]; ok {
			out[i] = &pim.Item{ID: id, Data: d}
		}
	}
	return out, nil
}

func (m *memStore) Put(_ context.Context, db string, items ...*pim.Item) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.db(db)
	for _, it := range items {
		if it.ID == "" {
			m.seq++
			it.ID = fmt.Sprintf("g%06d", m.seq)
		}
		m.puts++
		if m.lose > 0 && m.puts%m.lose == 0 {
			continue
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
	return json.Marshal(next)
}

func (m *memStore) LoadState(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state[key], nil
}

func (m *memStore) SaveState(_ context.Context, key string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state[key] = data
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
