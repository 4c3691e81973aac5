// Package memstore is a pim.Store that keeps everything in memory, for
// tests and demos; it is not for production: nothing survives the
// process, and it holds every item of every user in RAM.
//
// It keeps the contract of the real store (imapstore through plugin),
// which pim/storetest checks on both: items have versions, a sync point
// is the versions a session saw (opaque bytes to the engine), changes are
// found by difference, and Advance folds a session's own writes into its
// point. It has the optional capabilities too (pim.QuickStore,
// pim.PointDeltas, pim.StateBatch, pim.Versioner), and what tests need
// beyond the contract: counters (Stats), fault hooks and a view of the
// contents.
package memstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"syncml-imap/internal/vobject"
	"syncml-imap/pim"
)

// Op names a Store method, for fault hooks.
type Op string

// The operations a fault hook sees.
const (
	OpChanges     Op = "Changes"
	OpGet         Op = "Get"
	OpPut         Op = "Put"
	OpDelete      Op = "Delete"
	OpAdvance     Op = "Advance"
	OpLoadState   Op = "LoadState"
	OpSaveState   Op = "SaveState"
	OpDeleteState Op = "DeleteState"
	OpListState   Op = "ListState"

	OpVersions      Op = "Versions"
	OpPutVersion    Op = "PutVersion"
	OpDeleteVersion Op = "DeleteVersion"
)

// Options configure a Store; the zero value is a store like the real one.
type Options struct {
	// Lenient accepts any data as an item: Put never fails with
	// pim.ErrInvalidItem (the engine's unit tests store fragments).
	Lenient bool
	// NoQuick: the store cannot tell an unchanged database from a point's
	// head (PointHead is nil, Unchanged false).
	NoQuick bool
	// NoDelta: PointDelta fails, so points are kept whole.
	NoDelta bool
	// CopyGets: Get returns copies, as a real store returns what it read
	// (else the engine's reads cost no memory of their own).
	CopyGets bool
	// Lose, when positive, makes Put drop every Lose-th item while
	// reporting it stored: a server that loses data.
	Lose int
	// Bulk tells the state keys whose loads and saves Stats counts apart
	// (the engine's item maps); nil: none.
	Bulk func(key string) bool
	// Fault, when set, is asked before each operation, with the database
	// or state key it is for (the first one for LoadStates); an error it
	// returns is the operation's, which then does nothing.
	Fault func(op Op, name string) error
	// FaultAfter, when set, is asked after a Put, Delete, SaveState,
	// DeleteState, PutVersion or DeleteVersion has written: an error it returns is the operation's,
	// as when a connection breaks after the write.
	FaultAfter func(op Op, name string) error
}

// Stats counts what a Store was asked to do.
type Stats struct {
	Puts        int // Put calls
	Saves       int // SaveState calls
	Loads       int // LoadState and LoadStates calls
	BytesSaved  int // state bytes written
	BytesLoaded int // state bytes read
	// BulkLoads, BulkSaves, BulkBytesSaved: the same for the keys
	// Options.Bulk names (a LoadStates with one of them counts once).
	BulkLoads, BulkSaves, BulkBytesSaved int
	MaxGet                               int // the most IDs one Get asked for
	QuickChecks                          int // Unchanged calls
}

// Store is an in-memory pim.Store. Its methods are safe for concurrent
// use; Close keeps the data, so every session of a user can share one.
type Store struct {
	mu      sync.Mutex
	opts    Options
	items   map[pim.Kind]map[string][]byte // db → ID → data
	version map[pim.Kind]map[string]int    // db → ID → version
	seq     int
	put     int // items Put, for Options.Lose
	state   map[string][]byte
	heads   map[pim.Kind][]byte // db → head of its current point, cleared by writes
	stats   Stats
}

// New returns an empty store (opts nil: the defaults).
func New(opts *Options) *Store {
	s := &Store{items: map[pim.Kind]map[string][]byte{}, version: map[pim.Kind]map[string]int{}, state: map[string][]byte{}, heads: map[pim.Kind][]byte{}}
	if opts != nil {
		s.opts = *opts
	}
	return s
}

// Configure changes the store's options (between sessions, say).
func (s *Store) Configure(f func(*Options)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.opts)
}

// Stats returns the counters so far.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// ResetStats sets every counter to zero.
func (s *Store) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = Stats{}
}

// Items returns a copy of what db holds, by ID.
func (s *Store) Items(db pim.Kind) map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.items[db])
}

// Databases lists the databases that hold items, sorted (sub-folders such
// as "contacts/Family" included).
func (s *Store) Databases() []pim.Kind {
	s.mu.Lock()
	defer s.mu.Unlock()
	var dbs []pim.Kind
	for db, items := range s.items {
		if len(items) > 0 {
			dbs = append(dbs, db)
		}
	}
	slices.Sort(dbs)
	return dbs
}

// Overwrite replaces the data of item id in db without making it a
// change: no sync point sees it, as if it had always been so.
func (s *Store) Overwrite(db pim.Kind, id string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.db(db)[id] = data
}

// State returns a copy of the state records, by key.
func (s *Store) State() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.state)
}

// db returns db's items, making the database on first use (a sub-folder
// view's "contacts/Family" exists once written to).
func (s *Store) db(db pim.Kind) map[string][]byte {
	if s.items[db] == nil {
		s.items[db], s.version[db] = map[string][]byte{}, map[string]int{}
	}
	return s.items[db]
}

func (s *Store) fault(op Op, name string) error {
	if s.opts.Fault == nil {
		return nil
	}
	return s.opts.Fault(op, name)
}

func (s *Store) faultAfter(op Op, name string) error {
	if s.opts.FaultAfter == nil {
		return nil
	}
	return s.opts.FaultAfter(op, name)
}

func (s *Store) bulk(key string) bool { return s.opts.Bulk != nil && s.opts.Bulk(key) }

// point is db's sync point: the version of every item.
func (s *Store) point(db pim.Kind) []byte {
	v := s.version[db]
	if v == nil {
		v = map[string]int{} // "{}", not "null": a database never written to
	}
	b, _ := json.Marshal(v)
	return b
}

// Changes implements pim.Store: the difference between the versions in
// since and the current ones.
func (s *Store) Changes(_ context.Context, db pim.Kind, since []byte) (*pim.Changes, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fault(OpChanges, string(db)); err != nil {
		return nil, err
	}
	old := map[string]int{}
	if since != nil {
		if err := json.Unmarshal(since, &old); err != nil {
			return nil, fmt.Errorf("%w: %v", pim.ErrSyncPointInvalid, err)
		}
	}
	d := &pim.Changes{Point: s.point(db)}
	for id, v := range s.version[db] {
		switch ov, ok := old[id]; {
		case !ok:
			d.Added = append(d.Added, id)
		case ov != v:
			d.Modified = append(d.Modified, id)
		}
	}
	for id := range old {
		if _, ok := s.version[db][id]; !ok {
			d.Deleted = append(d.Deleted, id)
		}
	}
	slices.Sort(d.Added)
	slices.Sort(d.Modified)
	slices.Sort(d.Deleted)
	return d, nil
}

// Get implements pim.Store.
func (s *Store) Get(_ context.Context, db pim.Kind, ids ...string) ([]*pim.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fault(OpGet, string(db)); err != nil {
		return nil, err
	}
	s.stats.MaxGet = max(s.stats.MaxGet, len(ids))
	out := make([]*pim.Item, len(ids))
	for i, id := range ids {
		if d, ok := s.items[db][id]; ok {
			if s.opts.CopyGets {
				d = bytes.Clone(d)
			}
			out[i] = &pim.Item{ID: id, Data: d, Version: strconv.Itoa(s.version[db][id])}
		}
	}
	return out, nil
}

// Put implements pim.Store. Unless Lenient, data that is not one object
// of db's kind fails with pim.ErrInvalidItem before anything is stored,
// as in the real store.
func (s *Store) Put(_ context.Context, db pim.Kind, items ...*pim.Item) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fault(OpPut, string(db)); err != nil {
		return err
	}
	s.stats.Puts++
	if !s.opts.Lenient {
		for i, it := range items {
			if err := check(db, it.Data); err != nil {
				return fmt.Errorf("memstore: item %d (%q): %w: %v", i, it.ID, pim.ErrInvalidItem, err)
			}
		}
	}
	delete(s.heads, db)
	stored := s.db(db)
	for _, it := range items {
		if it.ID == "" {
			s.seq++
			it.ID = fmt.Sprintf("g%04d", s.seq)
		}
		s.put++
		if s.opts.Lose > 0 && s.put%s.opts.Lose == 0 {
			continue
		}
		stored[it.ID] = it.Data
		s.seq++
		s.version[db][it.ID] = s.seq
		it.Version = strconv.Itoa(s.seq)
	}
	return s.faultAfter(OpPut, string(db))
}

// Versions implements pim.Versioner: an item's version is the store's
// counter when it was last written, in decimal.
func (s *Store) Versions(_ context.Context, db pim.Kind) (map[string]string, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fault(OpVersions, string(db)); err != nil {
		return nil, nil, err
	}
	out := make(map[string]string, len(s.version[db]))
	for id, v := range s.version[db] {
		out[id] = strconv.Itoa(v)
	}
	return out, s.point(db), nil
}

// versionOf is item id's version in db, "" when there is no such item.
func (s *Store) versionOf(db pim.Kind, id string) string {
	v, ok := s.version[db][id]
	if !ok {
		return ""
	}
	return strconv.Itoa(v)
}

// PutVersion implements pim.Versioner, as Put (Lose aside) does for one
// item if it is at want.
func (s *Store) PutVersion(_ context.Context, db pim.Kind, it *pim.Item, want string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fault(OpPutVersion, string(db)); err != nil {
		return err
	}
	if it.ID == "" {
		return fmt.Errorf("memstore: PutVersion needs an item ID: %w", pim.ErrInvalidItem)
	}
	if !s.opts.Lenient {
		if err := check(db, it.Data); err != nil {
			return fmt.Errorf("memstore: item %q: %w: %v", it.ID, pim.ErrInvalidItem, err)
		}
	}
	if got := s.versionOf(db, it.ID); got != want {
		return fmt.Errorf("memstore: item %q is at %q, not %q: %w", it.ID, got, want, pim.ErrVersionMismatch)
	}
	s.stats.Puts++
	delete(s.heads, db)
	s.db(db)[it.ID] = it.Data
	s.seq++
	s.version[db][it.ID] = s.seq
	it.Version = strconv.Itoa(s.seq)
	return s.faultAfter(OpPutVersion, string(db))
}

// PutVersions implements pim.Versioner: PutVersion item by item.
func (s *Store) PutVersions(ctx context.Context, db pim.Kind, items []*pim.Item, wants []string) ([]error, error) {
	if len(items) != len(wants) {
		return nil, fmt.Errorf("memstore: PutVersions: %d items, %d versions", len(items), len(wants))
	}
	errs := make([]error, len(items))
	for i, it := range items {
		err := s.PutVersion(ctx, db, it, wants[i])
		if err != nil && !errors.Is(err, pim.ErrVersionMismatch) && !errors.Is(err, pim.ErrInvalidItem) {
			return nil, err
		}
		errs[i] = err
	}
	return errs, nil
}

// PointVersions implements pim.Versioner.
func (s *Store) PointVersions(_ pim.Kind, point []byte) (map[string]string, error) {
	var vs map[string]int
	if err := json.Unmarshal(point, &vs); err != nil {
		return nil, fmt.Errorf("%w: %v", pim.ErrSyncPointInvalid, err)
	}
	out := make(map[string]string, len(vs))
	for id, v := range vs {
		out[id] = strconv.Itoa(v)
	}
	return out, nil
}

// DeleteVersion implements pim.Versioner.
func (s *Store) DeleteVersion(_ context.Context, db pim.Kind, id, want string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fault(OpDeleteVersion, string(db)); err != nil {
		return err
	}
	switch got := s.versionOf(db, id); {
	case got == "":
		return fmt.Errorf("memstore: item %q: %w", id, pim.ErrNotFound)
	case got != want:
		return fmt.Errorf("memstore: item %q is at %q, not %q: %w", id, got, want, pim.ErrVersionMismatch)
	}
	delete(s.heads, db)
	delete(s.items[db], id)
	delete(s.version[db], id)
	return s.faultAfter(OpDeleteVersion, string(db))
}

// SubFolders implements pim.FolderLister: the databases below db that
// hold or held an item.
func (s *Store) SubFolders(_ context.Context, db pim.Kind) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.items {
		if sub, ok := strings.CutPrefix(string(k), string(db)+"/"); ok && sub != "" {
			out = append(out, sub)
		}
	}
	slices.Sort(out)
	return out, nil
}

// check tells whether data is one object of db's kind: a VCARD for
// contacts, a VCALENDAR with events for calendar, with tasks for tasks
// (imapstore's rule, without its limits on UIDs).
func check(db pim.Kind, data []byte) error {
	objs := vobject.Parse(data)
	if len(objs) != 1 {
		return fmt.Errorf("%d objects where one was expected", len(objs))
	}
	base := db.Base()
	want := map[pim.Kind]string{pim.Contacts: "VCARD", pim.Calendar: "VCALENDAR", pim.Tasks: "VCALENDAR"}[base]
	if want == "" {
		return fmt.Errorf("unknown database %q", db)
	}
	if objs[0].Name != want {
		return fmt.Errorf("got %s, want %s", objs[0].Name, want)
	}
	if want == "VCARD" {
		return nil
	}
	comp := map[pim.Kind]string{pim.Calendar: "VEVENT", pim.Tasks: "VTODO"}[base]
	n := 0
	for _, c := range objs[0].Children {
		switch c.Name {
		case comp:
			n++
		case "VEVENT", "VTODO", "VJOURNAL":
			return fmt.Errorf("%s in a %s item", c.Name, base)
		}
	}
	if n == 0 {
		return fmt.Errorf("VCALENDAR without %s", comp)
	}
	return nil
}

// Delete implements pim.Store.
func (s *Store) Delete(_ context.Context, db pim.Kind, ids ...string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fault(OpDelete, string(db)); err != nil {
		return nil, err
	}
	delete(s.heads, db)
	var missing []string
	for _, id := range ids {
		if _, ok := s.items[db][id]; !ok {
			missing = append(missing, id)
		}
		delete(s.items[db], id)
		delete(s.version[db], id)
	}
	return missing, s.faultAfter(OpDelete, string(db))
}

// Advance implements pim.Store: base with the current versions of own
// (or without them, where they are gone). A base that is no point counts
// as none, as in plugin's adapter of the real store.
func (s *Store) Advance(_ context.Context, db pim.Kind, base []byte, own []string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fault(OpAdvance, string(db)); err != nil {
		return nil, err
	}
	next := map[string]int{}
	if json.Unmarshal(base, &next) != nil || next == nil {
		next = map[string]int{}
	}
	for _, id := range own {
		if v, ok := s.version[db][id]; ok {
			next[id] = v
		} else {
			delete(next, id)
		}
	}
	return json.Marshal(next)
}

// LoadState implements pim.Store.
func (s *Store) LoadState(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fault(OpLoadState, key); err != nil {
		return nil, err
	}
	s.stats.Loads++
	s.stats.BytesLoaded += len(s.state[key])
	if s.bulk(key) {
		s.stats.BulkLoads++
	}
	return s.state[key], nil
}

// LoadStates makes Store a pim.StateBatch: one load for all.
func (s *Store) LoadStates(_ context.Context, keys ...string) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(keys) > 0 {
		if err := s.fault(OpLoadState, keys[0]); err != nil {
			return nil, err
		}
	}
	s.stats.Loads++
	out := map[string][]byte{}
	bulk := false
	for _, k := range keys {
		bulk = bulk || s.bulk(k)
		if v, ok := s.state[k]; ok {
			s.stats.BytesLoaded += len(v)
			out[k] = v
		}
	}
	if bulk {
		s.stats.BulkLoads++
	}
	return out, nil
}

// SaveState implements pim.Store.
func (s *Store) SaveState(_ context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fault(OpSaveState, key); err != nil {
		return err
	}
	s.state[key] = data
	s.stats.Saves++
	s.stats.BytesSaved += len(data)
	if s.bulk(key) {
		s.stats.BulkSaves++
		s.stats.BulkBytesSaved += len(data)
	}
	return s.faultAfter(OpSaveState, key)
}

// DeleteState implements pim.Store.
func (s *Store) DeleteState(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fault(OpDeleteState, key); err != nil {
		return err
	}
	delete(s.state, key)
	return s.faultAfter(OpDeleteState, key)
}

// ListState implements pim.Store.
func (s *Store) ListState(_ context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fault(OpListState, prefix); err != nil {
		return nil, err
	}
	var keys []string
	for k := range s.state {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// Close implements pim.Store; the data stays.
func (s *Store) Close() error { return nil }

// PointDelta and ApplyPointDelta make Store a pim.PointDeltas, unless
// NoDelta: a delta is the versions set and the IDs gone.
func (s *Store) PointDelta(_ pim.Kind, old, new []byte) ([]byte, error) {
	s.mu.Lock()
	noDelta := s.opts.NoDelta
	s.mu.Unlock()
	if noDelta {
		return nil, errors.New("memstore: no point deltas")
	}
	var o, n map[string]int
	if err := json.Unmarshal(old, &o); err != nil {
		return nil, fmt.Errorf("memstore: point: %w", err)
	}
	if err := json.Unmarshal(new, &n); err != nil {
		return nil, fmt.Errorf("memstore: point: %w", err)
	}
	d := pointDelta{Set: map[string]int{}}
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
	slices.Sort(d.Del)
	return json.Marshal(d)
}

type pointDelta struct {
	Set map[string]int
	Del []string
}

// ApplyPointDelta implements pim.PointDeltas.
func (s *Store) ApplyPointDelta(_ pim.Kind, old []byte, deltas ...[]byte) ([]byte, error) {
	var o map[string]int
	if err := json.Unmarshal(old, &o); err != nil {
		return nil, fmt.Errorf("%w: %v", pim.ErrSyncPointInvalid, err)
	}
	if o == nil {
		o = map[string]int{}
	}
	for _, delta := range deltas {
		var d pointDelta
		if err := json.Unmarshal(delta, &d); err != nil {
			return nil, fmt.Errorf("%w: delta: %v", pim.ErrSyncPointInvalid, err)
		}
		for _, id := range d.Del {
			delete(o, id)
		}
		maps.Copy(o, d.Set)
	}
	return json.Marshal(o)
}

// PointHead and Unchanged make Store a pim.QuickStore, unless NoQuick: a
// point's head is its hash (the store's points are whole states).
func (s *Store) PointHead(db pim.Kind, point []byte) []byte {
	s.mu.Lock()
	noQuick := s.opts.NoQuick
	s.mu.Unlock()
	if noQuick || point == nil {
		return nil
	}
	h := sha256.Sum256(point)
	return h[:8]
}

// Unchanged implements pim.QuickStore.
func (s *Store) Unchanged(_ context.Context, db pim.Kind, head []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.QuickChecks++
	if s.opts.NoQuick {
		return false, nil
	}
	if s.heads[db] == nil {
		h := sha256.Sum256(s.point(db))
		s.heads[db] = h[:8]
	}
	return bytes.Equal(s.heads[db], head), nil
}

var (
	_ pim.QuickStore   = (*Store)(nil)
	_ pim.PointDeltas  = (*Store)(nil)
	_ pim.StateBatch   = (*Store)(nil)
	_ pim.Versioner    = (*Store)(nil)
	_ pim.FolderLister = (*Store)(nil)
)
