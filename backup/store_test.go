package backup

import (
	"context"
	"fmt"
	"slices"

	"syncml-imap/internal/vobject"
	"syncml-imap/pim"
)

// memStore is a Store in memory that, like the IMAP store, gives a new
// item an ID and a UID equal to it when it has none.
type memStore struct {
	ids   map[pim.Kind][]string
	data  map[string][]byte
	puts  []int // the number of items of each Put
	next  int
	fail  error // Put fails with it
	gets  int
	lists int
}

func newMemStore() *memStore {
	return &memStore{ids: map[pim.Kind][]string{}, data: map[string][]byte{}}
}

func (m *memStore) Changes(_ context.Context, db pim.Kind, since []byte) (*pim.Changes, error) {
	if since != nil {
		return nil, fmt.Errorf("memStore: only full listings")
	}
	m.lists++
	return &pim.Changes{Added: slices.Clone(m.ids[db])}, nil
}

func (m *memStore) Get(_ context.Context, db pim.Kind, ids ...string) ([]*pim.Item, error) {
	m.gets++
	out := make([]*pim.Item, len(ids))
	for i, id := range ids {
		if d, ok := m.data[string(db)+"/"+id]; ok {
			out[i] = &pim.Item{ID: id, Data: slices.Clone(d)}
		}
	}
	return out, nil
}

func (m *memStore) Put(_ context.Context, db pim.Kind, items ...*pim.Item) error {
	if m.fail != nil {
		return m.fail
	}
	m.puts = append(m.puts, len(items))
	comp := map[pim.Kind]string{pim.Contacts: "VCARD", pim.Calendar: "VEVENT", pim.Tasks: "VTODO"}[db]
	for _, it := range items {
		if err := checkObject(db, it.Data); err != nil {
			return fmt.Errorf("memStore: invalid item: %v", err)
		}
		if it.ID == "" {
			m.next++
			it.ID = fmt.Sprintf("id-%d", m.next)
			m.ids[db] = append(m.ids[db], it.ID)
		}
		it.Data, _ = vobject.EnsureUID(it.Data, comp, it.ID)
		m.data[string(db)+"/"+it.ID] = slices.Clone(it.Data)
	}
	return nil
}

func (m *memStore) count(db pim.Kind) int { return len(m.ids[db]) }

func (m *memStore) items(db pim.Kind) []*Item {
	var out []*Item
	for _, id := range m.ids[db] {
		out = append(out, &Item{DB: db, ID: id, Data: m.data[string(db)+"/"+id]})
	}
	return out
}
