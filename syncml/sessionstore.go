package syncml

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syncml-imap/pim"
)

// sessionStore is the store a session works on. It can give its
// connection back while the session is idle (release) and opens a new one
// on the session's next use, so that a device that went quiet between two
// messages, or abandoned its session, does not hold an IMAP connection
// (servers limit them per user) until the session expires. The session's
// lock guards it: every use is under it.
type sessionStore struct {
	st     pim.Store
	reopen func(ctx context.Context) (pim.Store, error) // nil: cannot reopen
	closed bool
	// q: the store as a pim.QuickStore (qKnown: looked at once).
	q      pim.QuickStore
	qKnown bool
	// pd: the store as a pim.PointDeltas (pdKnown: looked at once).
	pd      pim.PointDeltas
	pdKnown bool
	// v: the store as a pim.Versioner (vKnown: looked at once).
	v      pim.Versioner
	vKnown bool
	// own is the prefix of the records only this session writes (its
	// device's: one session per device). They are read once per session
	// and kept (small ones), the usual ones in one batch on the first
	// read of any (preload). kept holds nil for a record known missing.
	own     string
	preload []string
	kept    map[string][]byte
}

// maxKeptRecord bounds the records a session keeps: the small ones it
// reads more than once (anchors, DevInf), not item maps.
const maxKeptRecord = 64 << 10

// ownRecords makes the session keep its device's records, reading the
// usual ones in one batch when the first is asked for.
func (s *sessionStore) ownRecords(deviceID string) {
	s.own, s.kept = pim.DevicePrefix(deviceID), map[string][]byte{}
	s.preload = []string{devInfKey(deviceID), serverInfSeenKey(deviceID), pim.LastErrorKey(deviceID)}
	for _, db := range pim.Kinds {
		s.preload = append(s.preload, pim.ReplicaKey(deviceID, db))
	}
}

func (s *sessionStore) keep(key string, data []byte) {
	if s.kept == nil || !strings.HasPrefix(key, s.own) {
		return
	}
	if len(data) > maxKeptRecord {
		delete(s.kept, key)
		return
	}
	s.kept[key] = data
}

// errSessionClosed: the session ended (replaced, expired, shut down).
var errSessionClosed = errors.New("syncml: session closed")

func (s *sessionStore) open(ctx context.Context) (pim.Store, error) {
	if s.closed {
		return nil, errSessionClosed
	}
	if s.st != nil {
		return s.st, nil
	}
	if s.reopen == nil {
		return nil, fmt.Errorf("%w: connection released and cannot be reopened", pim.ErrUnavailable)
	}
	st, err := s.reopen(ctx)
	if err != nil {
		return nil, fmt.Errorf("syncml: reopen the session's store: %w", err)
	}
	s.st = st
	return st, nil
}

// release closes the connection; the next use opens a new one.
func (s *sessionStore) release() bool {
	if s.st == nil || s.reopen == nil {
		return false
	}
	if r, ok := s.st.(pim.Releaser); ok {
		r.Release()
	} else {
		s.st.Close()
	}
	s.st = nil
	return true
}

func (s *sessionStore) Close() error {
	s.closed = true
	if s.st == nil {
		return nil
	}
	err := s.st.Close()
	s.st = nil
	return err
}

func (s *sessionStore) Changes(ctx context.Context, db pim.Kind, since []byte) (*pim.Changes, error) {
	st, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	return st.Changes(ctx, db, since)
}

func (s *sessionStore) Get(ctx context.Context, db pim.Kind, ids ...string) ([]*pim.Item, error) {
	st, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	return st.Get(ctx, db, ids...)
}

func (s *sessionStore) Put(ctx context.Context, db pim.Kind, items ...*pim.Item) error {
	st, err := s.open(ctx)
	if err != nil {
		return err
	}
	return st.Put(ctx, db, items...)
}

func (s *sessionStore) Delete(ctx context.Context, db pim.Kind, ids ...string) ([]string, error) {
	st, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	return st.Delete(ctx, db, ids...)
}

func (s *sessionStore) Advance(ctx context.Context, db pim.Kind, base []byte, own []string) ([]byte, error) {
	st, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	return st.Advance(ctx, db, base, own)
}

// PointHead needs no connection: a store's point heads are pure
// functions of its points (the store kind does not change on reopen).
func (s *sessionStore) PointHead(db pim.Kind, point []byte) []byte {
	if q := s.quick(); q != nil {
		return q.PointHead(db, point)
	}
	return nil
}

// quick is the store behind as a pim.QuickStore, nil when it is none.
func (s *sessionStore) quick() pim.QuickStore {
	if s.st != nil {
		s.q, _ = s.st.(pim.QuickStore)
		s.qKnown = true
	}
	if !s.qKnown {
		return nil
	}
	return s.q
}

func (s *sessionStore) Unchanged(ctx context.Context, db pim.Kind, head []byte) (bool, error) {
	st, err := s.open(ctx)
	if err != nil {
		return false, err
	}
	if q, ok := st.(pim.QuickStore); ok {
		return q.Unchanged(ctx, db, head)
	}
	return false, nil
}

func (s *sessionStore) LoadState(ctx context.Context, key string) ([]byte, error) {
	if data, ok := s.kept[key]; ok {
		return data, nil
	}
	st, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	if b, ok := st.(pim.StateBatch); ok && s.preload != nil && strings.HasPrefix(key, s.own) {
		keys := append(s.preload, key)
		s.preload = nil
		recs, err := b.LoadStates(ctx, keys...)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			s.keep(k, recs[k])
		}
		return recs[key], nil
	}
	data, err := st.LoadState(ctx, key)
	if err == nil {
		s.keep(key, data)
	}
	return data, err
}

func (s *sessionStore) SaveState(ctx context.Context, key string, data []byte) error {
	st, err := s.open(ctx)
	if err != nil {
		return err
	}
	delete(s.kept, key)
	if err := st.SaveState(ctx, key, data); err != nil {
		return err
	}
	s.keep(key, data)
	return nil
}

func (s *sessionStore) DeleteState(ctx context.Context, key string) error {
	st, err := s.open(ctx)
	if err != nil {
		return err
	}
	delete(s.kept, key)
	if err := st.DeleteState(ctx, key); err != nil {
		return err
	}
	s.keep(key, nil)
	return nil
}

func (s *sessionStore) ListState(ctx context.Context, prefix string) ([]string, error) {
	st, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	return st.ListState(ctx, prefix)
}

// snapshotter is the store's pim.Snapshotter, nil when it has none.
func (s *sessionStore) snapshotter(ctx context.Context) (pim.Snapshotter, error) {
	st, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	sn, _ := st.(pim.Snapshotter)
	return sn, nil
}

// LoadStates reads the records not kept, in one batch where the store
// can (pim.StateBatch).
func (s *sessionStore) LoadStates(ctx context.Context, keys ...string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	var need []string
	for _, k := range keys {
		if data, ok := s.kept[k]; ok {
			if data != nil {
				out[k] = data
			}
			continue
		}
		need = append(need, k)
	}
	if len(need) == 0 {
		return out, nil
	}
	st, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := pim.LoadStates(ctx, st, need...)
	if err != nil {
		return nil, err
	}
	for _, k := range need {
		s.keep(k, recs[k])
		if data, ok := recs[k]; ok {
			out[k] = data
		}
	}
	return out, nil
}

// errNoPointDeltas: the store keeps its points whole.
var errNoPointDeltas = errors.New("syncml: the store has no point deltas")

// pointDeltas is the store behind as a pim.PointDeltas; like point heads,
// deltas are pure functions of points and need no connection.
func (s *sessionStore) pointDeltas() pim.PointDeltas {
	if s.st != nil {
		s.pd, _ = s.st.(pim.PointDeltas)
		s.pdKnown = true
	}
	if !s.pdKnown {
		return nil
	}
	return s.pd
}

func (s *sessionStore) PointDelta(db pim.Kind, old, new []byte) ([]byte, error) {
	if pd := s.pointDeltas(); pd != nil {
		return pd.PointDelta(db, old, new)
	}
	return nil, errNoPointDeltas
}

func (s *sessionStore) ApplyPointDelta(db pim.Kind, old []byte, deltas ...[]byte) ([]byte, error) {
	if pd := s.pointDeltas(); pd != nil {
		return pd.ApplyPointDelta(db, old, deltas...)
	}
	return nil, errNoPointDeltas
}

// versioner is the store behind as a pim.Versioner, nil when it is none
// (then the session's writes are last-writer-wins: pim.ErrUnversioned).
// Point versions are pure functions of points, as deltas are.
func (s *sessionStore) versioner() pim.Versioner {
	if s.st != nil {
		s.v, _ = s.st.(pim.Versioner)
		s.vKnown = true
	}
	if !s.vKnown {
		return nil
	}
	return s.v
}

func (s *sessionStore) Versions(ctx context.Context, db pim.Kind) (map[string]string, []byte, error) {
	if _, err := s.open(ctx); err != nil {
		return nil, nil, err
	}
	if v := s.versioner(); v != nil {
		return v.Versions(ctx, db)
	}
	return nil, nil, pim.ErrUnversioned
}

func (s *sessionStore) PutVersion(ctx context.Context, db pim.Kind, it *pim.Item, want string) error {
	if _, err := s.open(ctx); err != nil {
		return err
	}
	if v := s.versioner(); v != nil {
		return v.PutVersion(ctx, db, it, want)
	}
	return pim.ErrUnversioned
}

func (s *sessionStore) PutVersions(ctx context.Context, db pim.Kind, items []*pim.Item, wants []string) ([]error, error) {
	if _, err := s.open(ctx); err != nil {
		return nil, err
	}
	if v := s.versioner(); v != nil {
		return v.PutVersions(ctx, db, items, wants)
	}
	return nil, pim.ErrUnversioned
}

func (s *sessionStore) DeleteVersion(ctx context.Context, db pim.Kind, id, want string) error {
	if _, err := s.open(ctx); err != nil {
		return err
	}
	if v := s.versioner(); v != nil {
		return v.DeleteVersion(ctx, db, id, want)
	}
	return pim.ErrUnversioned
}

func (s *sessionStore) PointVersions(db pim.Kind, point []byte) (map[string]string, error) {
	if v := s.versioner(); v != nil {
		return v.PointVersions(db, point)
	}
	return nil, pim.ErrUnversioned
}
