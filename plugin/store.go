package plugin

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"syncml-imap/imapstore"
	"syncml-imap/pim"
)

// accountStore is a pim.Store on one user's IMAP account.
type accountStore struct {
	acct *imapstore.Account
	// pool, when set, takes the connection back on Close, for the next
	// session of user with pass (checked alive before it is used again).
	pool       *Pool
	user, pass string
	// closed: the connection went to the pool or was closed; a Watch of
	// the store then polls with none.
	closed bool
}

// IMAPAuth checks SyncML credentials by logging in to the IMAP server with
// them; the connection then serves the session.
type IMAPAuth struct {
	Options *imapstore.Options
	// Pool, when set, keeps connections of ended sessions for the user's
	// next session.
	Pool *Pool
	// Budget, when set, is where a login at the user's full connection
	// budget waits for room; it should be Options.Conns (or what that
	// passes to).
	Budget *ConnBudget
}

// Login implements pim.Authenticator. The client's address
// (RemoteAddr) goes to the IMAP server with the login, so that the
// server's own logs and auth penalty name the device, not this daemon.
// A refused login matches pim.ErrAuthFailed, an IMAP server that
// cannot be reached or cannot log in now pim.ErrUnavailable. With a
// Budget, a login at the user's full budget waits for room (see
// ConnBudget).
func (a *IMAPAuth) Login(ctx context.Context, user, password string) (pim.Store, error) {
	st, err := a.Budget.await(ctx, user, func() (*accountStore, error) {
		if a.Pool != nil {
			if acct := a.Pool.take(ctx, user, password); acct != nil {
				return &accountStore{acct: acct, pool: a.Pool, user: user, pass: password}, nil
			}
		}
		return dial(ctx, a.Options, user, password)
	})
	if err != nil {
		if a.Pool != nil && errors.Is(err, pim.ErrUnavailable) && !errors.Is(err, errBudgetFull) {
			// Perhaps the server's connection limit, which kept
			// connections count against: give them back for the retry.
			a.Pool.dropUser(user)
		}
		return nil, err // not a nil *accountStore in a non-nil Store
	}
	if a.Pool != nil && st.pool == nil {
		st.pool, st.user, st.pass = a.Pool, user, password
	}
	return st, nil
}

// dial logs in to the IMAP server for the device the context names.
func dial(ctx context.Context, opts *imapstore.Options, login, password string) (*accountStore, error) {
	if addr := RemoteAddr(ctx); addr != "" {
		ctx = imapstore.WithOriginatingIP(ctx, addr)
	}
	acct, err := imapstore.Dial(ctx, opts, login, password)
	if err != nil {
		return nil, storeError(err)
	}
	return &accountStore{acct: acct}, nil
}

// storeError gives the store's sentinel errors the engine's meaning: the
// error keeps its text and matches both imapstore's sentinel and
// syncml's (ErrAuthFailed: 401; ErrUnavailable: 503, try later).
func storeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, imapstore.ErrUnavailable) && !errors.Is(err, pim.ErrUnavailable):
		return &mappedError{err, pim.ErrUnavailable}
	case errors.Is(err, imapstore.ErrAuthFailed) && !errors.Is(err, pim.ErrAuthFailed):
		return &mappedError{err, pim.ErrAuthFailed}
	case errors.Is(err, imapstore.ErrInvalidItem) && !errors.Is(err, pim.ErrInvalidItem):
		return &mappedError{err, pim.ErrInvalidItem}
	case errors.Is(err, imapstore.ErrVersionMismatch) && !errors.Is(err, pim.ErrVersionMismatch):
		return &mappedError{err, pim.ErrVersionMismatch}
	case errors.Is(err, imapstore.ErrNotFound) && !errors.Is(err, pim.ErrNotFound):
		return &mappedError{err, pim.ErrNotFound}
	}
	return err
}

// mappedError is err that also matches as.
type mappedError struct{ err, as error }

func (e *mappedError) Error() string   { return e.err.Error() }
func (e *mappedError) Unwrap() []error { return []error{e.err, e.as} }

// kindOf maps an engine database ("contacts", or a sub-folder view's
// "contacts/Family") to the store's kind.
func kindOf(db pim.Kind) (imapstore.Kind, error) {
	base, sub, _ := strings.Cut(string(db), "/")
	for _, k := range imapstore.Kinds {
		if string(k) == base {
			if sub != "" {
				return k.Sub(sub), nil
			}
			return k, nil
		}
	}
	return "", fmt.Errorf("plugin: unknown database %q", db)
}

// decodePoint decodes a point (shared: not to be changed).
func (s *accountStore) decodePoint(b []byte) (*imapstore.SyncPoint, error) {
	if b == nil {
		return nil, nil
	}
	sp, err := s.acct.ParsePoint(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", pim.ErrSyncPointInvalid, err)
	}
	return sp, nil
}

// PointDelta and ApplyPointDelta: accountStore is a pim.PointDeltas.
func (s *accountStore) PointDelta(db pim.Kind, old, new []byte) ([]byte, error) {
	return s.acct.PointDelta(old, new)
}

func (s *accountStore) ApplyPointDelta(db pim.Kind, old []byte, deltas ...[]byte) ([]byte, error) {
	p, err := s.acct.ApplyPointDelta(old, deltas...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", pim.ErrSyncPointInvalid, err)
	}
	return p, nil
}

var _ pim.PointDeltas = (*accountStore)(nil)

func (s *accountStore) Changes(ctx context.Context, db pim.Kind, since []byte) (*pim.Changes, error) {
	kind, err := kindOf(db)
	if err != nil {
		return nil, err
	}
	sp, err := s.decodePoint(since)
	if err != nil {
		return nil, err
	}
	d, err := s.acct.Changes(ctx, kind, sp)
	if errors.Is(err, imapstore.ErrSyncPointInvalid) {
		return nil, fmt.Errorf("%w: %v", pim.ErrSyncPointInvalid, err)
	}
	if err != nil {
		return nil, storeError(err)
	}
	point, err := s.acct.EncodePoint(d.SyncPoint)
	if err != nil {
		return nil, err
	}
	return &pim.Changes{Added: d.Added, Modified: d.Modified, Deleted: d.Deleted, Point: point}, nil
}

// PointHead: accountStore is a pim.QuickStore; a point's head is the
// start of its encoding.
func (s *accountStore) PointHead(db pim.Kind, point []byte) []byte {
	h, ok := imapstore.HeadOf(point)
	if !ok {
		return nil
	}
	return headBytes(h)
}

// accountStore tells an unchanged folder from a point's head.
var _ pim.QuickStore = (*accountStore)(nil)

func headBytes(h imapstore.PointHead) []byte {
	b := binary.AppendUvarint(nil, uint64(h.UIDValidity))
	b = binary.AppendUvarint(b, uint64(h.UIDNext))
	return binary.AppendUvarint(b, h.HighestModSeq)
}

func parseHead(b []byte) (imapstore.PointHead, bool) {
	var v [3]uint64
	for i := range v {
		n, k := binary.Uvarint(b)
		if k <= 0 {
			return imapstore.PointHead{}, false
		}
		v[i], b = n, b[k:]
	}
	if len(b) != 0 || v[0] > math.MaxUint32 || v[1] > math.MaxUint32 {
		return imapstore.PointHead{}, false
	}
	return imapstore.PointHead{UIDValidity: uint32(v[0]), UIDNext: imap.UID(v[1]), HighestModSeq: v[2]}, true
}

func (s *accountStore) Unchanged(ctx context.Context, db pim.Kind, head []byte) (bool, error) {
	kind, err := kindOf(db)
	if err != nil {
		return false, err
	}
	h, ok := parseHead(head)
	if !ok {
		return false, nil
	}
	same, err := s.acct.Unchanged(ctx, kind, h)
	return same, storeError(err)
}

func (s *accountStore) Get(ctx context.Context, db pim.Kind, ids ...string) ([]*pim.Item, error) {
	kind, err := kindOf(db)
	if err != nil {
		return nil, err
	}
	items, err := s.acct.Get(ctx, kind, ids...)
	if err != nil {
		return nil, storeError(err)
	}
	out := make([]*pim.Item, len(items))
	for i, it := range items {
		if it != nil {
			out[i] = &pim.Item{ID: it.ID, Data: it.Data, Version: it.StoreVersion}
		}
	}
	return out, nil
}

func (s *accountStore) Put(ctx context.Context, db pim.Kind, items ...*pim.Item) error {
	kind, err := kindOf(db)
	if err != nil {
		return err
	}
	in := make([]*imapstore.Item, len(items))
	for i, it := range items {
		in[i] = &imapstore.Item{ID: it.ID, Data: it.Data}
	}
	if err := s.acct.Put(ctx, kind, in...); err != nil {
		return storeError(err)
	}
	for i, it := range in {
		items[i].ID, items[i].Data, items[i].Version = it.ID, it.Data, it.StoreVersion
	}
	return nil
}

// accountStore keeps a version per item: its message (see
// imapstore.Account.PutVersion).
var _ pim.Versioner = (*accountStore)(nil)

// Versions implements pim.Versioner; the point is encoded as Changes's.
func (s *accountStore) Versions(ctx context.Context, db pim.Kind) (map[string]string, []byte, error) {
	kind, err := kindOf(db)
	if err != nil {
		return nil, nil, err
	}
	vs, sp, err := s.acct.Versions(ctx, kind)
	if err != nil {
		return nil, nil, storeError(err)
	}
	point, err := s.acct.EncodePoint(sp)
	if err != nil {
		return nil, nil, err
	}
	return vs, point, nil
}

// PutVersion implements pim.Versioner.
func (s *accountStore) PutVersion(ctx context.Context, db pim.Kind, it *pim.Item, want string) error {
	kind, err := kindOf(db)
	if err != nil {
		return err
	}
	in := &imapstore.Item{ID: it.ID, Data: it.Data}
	if err := s.acct.PutVersion(ctx, kind, in, want); err != nil {
		return storeError(err)
	}
	it.ID, it.Data, it.Version = in.ID, in.Data, in.StoreVersion
	return nil
}

// PutVersions implements pim.Versioner.
func (s *accountStore) PutVersions(ctx context.Context, db pim.Kind, items []*pim.Item, wants []string) ([]error, error) {
	kind, err := kindOf(db)
	if err != nil {
		return nil, err
	}
	in := make([]*imapstore.Item, len(items))
	for i, it := range items {
		in[i] = &imapstore.Item{ID: it.ID, Data: it.Data}
	}
	errs, err := s.acct.PutVersions(ctx, kind, in, wants)
	if err != nil {
		return nil, storeError(err)
	}
	for i, it := range items {
		if errs[i] != nil {
			errs[i] = storeError(errs[i])
			continue
		}
		it.ID, it.Data, it.Version = in[i].ID, in[i].Data, in[i].StoreVersion
	}
	return errs, nil
}

// SubFolders implements pim.FolderLister: the IMAP folders below the
// kind's folder.
func (s *accountStore) SubFolders(ctx context.Context, db pim.Kind) ([]string, error) {
	kind, err := kindOf(db)
	if err != nil {
		return nil, err
	}
	subs, err := s.acct.SubFolders(ctx, kind)
	return subs, storeError(err)
}

// PointVersions implements pim.Versioner.
func (s *accountStore) PointVersions(_ pim.Kind, point []byte) (map[string]string, error) {
	sp, err := s.decodePoint(point)
	if err != nil {
		return nil, err
	}
	return sp.Versions(), nil
}

// DeleteVersion implements pim.Versioner.
func (s *accountStore) DeleteVersion(ctx context.Context, db pim.Kind, id, want string) error {
	kind, err := kindOf(db)
	if err != nil {
		return err
	}
	return storeError(s.acct.DeleteVersion(ctx, kind, id, want))
}

func (s *accountStore) Delete(ctx context.Context, db pim.Kind, ids ...string) ([]string, error) {
	kind, err := kindOf(db)
	if err != nil {
		return nil, err
	}
	missing, err := s.acct.Delete(ctx, kind, ids...)
	return missing, storeError(err)
}

func (s *accountStore) Advance(ctx context.Context, db pim.Kind, base []byte, own []string) ([]byte, error) {
	kind, err := kindOf(db)
	if err != nil {
		return nil, err
	}
	sp, err := s.decodePoint(base)
	if err != nil {
		sp = nil
	}
	next, err := s.acct.Advance(ctx, kind, sp, own)
	if err != nil {
		return nil, storeError(err)
	}
	return s.acct.EncodePoint(next)
}

func (s *accountStore) LoadState(ctx context.Context, key string) ([]byte, error) {
	rec, err := s.acct.LoadState(ctx, key)
	if err != nil || rec == nil {
		return nil, storeError(err)
	}
	return rec.Data, nil
}

// LoadStates: accountStore is a pim.StateBatch.
func (s *accountStore) LoadStates(ctx context.Context, keys ...string) (map[string][]byte, error) {
	recs, err := s.acct.LoadStates(ctx, keys...)
	if err != nil {
		return nil, storeError(err)
	}
	out := make(map[string][]byte, len(recs))
	for k, r := range recs {
		out[k] = r.Data
	}
	return out, nil
}

func (s *accountStore) SaveState(ctx context.Context, key string, data []byte) error {
	_, err := s.acct.SaveState(ctx, key, data, 0)
	return storeError(err)
}

// Snapshot implements pim.Snapshotter: a server-side copy of the
// database's folder under the backup folder.
func (s *accountStore) Snapshot(ctx context.Context, db pim.Kind, label string) (int, error) {
	k, err := kindOf(db)
	if err != nil {
		return 0, err
	}
	n, err := s.acct.SnapshotFor(ctx, k, label)
	return n, storeError(err)
}

func (s *accountStore) DeleteState(ctx context.Context, key string) error {
	return storeError(s.acct.DeleteState(ctx, key))
}

func (s *accountStore) ListState(ctx context.Context, prefix string) ([]string, error) {
	keys, err := s.acct.ListState(ctx, prefix)
	return keys, storeError(err)
}

// Release closes the connection for good (a session gone idle gives it
// back to the IMAP server, not to the pool).
func (s *accountStore) Release() error {
	s.closed = true
	return s.acct.Close()
}

// Close gives the connection to the pool, if any.
func (s *accountStore) Close() error {
	s.closed = true
	if s.pool != nil {
		s.pool.put(s.user, s.pass, s.acct)
		return nil
	}
	return s.acct.Close()
}

// Watch implements pim.Watcher: the account's folders watched through
// the process's WatchHub (Options.Watch).
func (s *accountStore) Watch(ctx context.Context, dbs ...pim.Kind) (pim.Watch, error) {
	kinds := make([]imapstore.Kind, len(dbs))
	for i, db := range dbs {
		k, err := kindOf(db)
		if err != nil {
			return nil, err
		}
		kinds[i] = k
	}
	w, err := s.acct.Watch(ctx, kinds...)
	if err != nil {
		return nil, storeError(err)
	}
	return &storeWatch{s: s, w: w}, nil
}

var _ pim.Watcher = (*accountStore)(nil)

// storeWatch polls, where it must, on its store's connection while that
// is open.
type storeWatch struct {
	s *accountStore
	w *imapstore.Watch
}

func (w *storeWatch) Wait(ctx context.Context, until time.Time) (bool, error) {
	var poll *imapstore.Account
	if !w.s.closed {
		poll = w.s.acct
	}
	changed, err := w.w.Wait(ctx, poll, until)
	return changed, storeError(err)
}

func (w *storeWatch) Detached() bool { return w.w.Detached() }
func (w *storeWatch) Close() error   { return w.w.Close() }
