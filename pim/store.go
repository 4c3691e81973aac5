package pim

import (
	"context"
	"errors"
)

// Store is what the fronts need from where the items live: the few
// operations of a sync, and a place for their state. Databases are named
// by their Kind. Items are in the canonical stored form (vCard 3.0,
// iCalendar 2.0). Sync points are opaque to the fronts.
type Store interface {
	// Changes lists what changed in db since the sync point (nil: every
	// item, as added). ErrSyncPointInvalid: the point no longer applies
	// and a slow sync is needed.
	Changes(ctx context.Context, db Kind, since []byte) (*Changes, error)
	// Get returns one entry per ID, nil where the item does not exist.
	Get(ctx context.Context, db Kind, ids ...string) ([]*Item, error)
	// Put stores items; an empty ID makes a new item and the store fills
	// it in.
	Put(ctx context.Context, db Kind, items ...*Item) error
	// Delete removes items and returns the IDs that did not exist.
	Delete(ctx context.Context, db Kind, ids ...string) (missing []string, err error)
	// Advance returns the sync point to keep after a session that started
	// from base and itself wrote the items own.
	Advance(ctx context.Context, db Kind, base []byte, own []string) ([]byte, error)

	// LoadState returns the state record key, nil when there is none.
	LoadState(ctx context.Context, key string) ([]byte, error)
	// SaveState replaces the state record key.
	SaveState(ctx context.Context, key string, data []byte) error
	// DeleteState removes the record key (no error when there is none).
	DeleteState(ctx context.Context, key string) error
	// ListState returns the keys that start with prefix, sorted.
	ListState(ctx context.Context, prefix string) ([]string, error)

	Close() error
}

// QuickStore is a Store that can tell from a small part of a sync point,
// its head, that a database has not changed since: a sync where nothing
// changed then reads neither the point nor the device's item map, whatever
// the database holds (IMAP: UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ
// against one STATUS).
type QuickStore interface {
	// PointHead returns the head of a sync point of db, nil when it has
	// none that Unchanged can check.
	PointHead(db Kind, point []byte) []byte
	// Unchanged reports whether db is as it was at the point whose head
	// this is; false when it cannot tell.
	Unchanged(ctx context.Context, db Kind, head []byte) (bool, error)
}

// PointDeltas is a Store that can express a sync point as a small change
// of an earlier one: a device's state then keeps its point as a base and
// the deltas of its later sessions, and a sync with k changes writes
// O(k) bytes of it (see journal.go).
type PointDeltas interface {
	// PointDelta returns what turns point old of db into new.
	PointDelta(db Kind, old, new []byte) ([]byte, error)
	// ApplyPointDelta returns the point that deltas, made one after the
	// other from old by PointDelta, lead to.
	ApplyPointDelta(db Kind, old []byte, deltas ...[]byte) ([]byte, error)
}

// StateBatch is a Store that reads several state records at the cost of
// one: the map holds those that exist.
type StateBatch interface {
	LoadStates(ctx context.Context, keys ...string) (map[string][]byte, error)
}

// LoadStates reads several state records of st, in one batch where st
// can (StateBatch): the map holds those that exist.
func LoadStates(ctx context.Context, st Store, keys ...string) (map[string][]byte, error) {
	if b, ok := st.(StateBatch); ok {
		return b.LoadStates(ctx, keys...)
	}
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		data, err := st.LoadState(ctx, k)
		if err != nil {
			return nil, err
		}
		if data != nil {
			out[k] = data
		}
	}
	return out, nil
}

// Releaser is a Store whose Close may keep its connection for a later
// login (a pool); Release closes it for good, as a session gone idle
// does to give it back to the server.
type Releaser interface {
	Release() error
}

// AuthThrottle limits failed credential checks: Allow says whether user
// (at the request's address, which ctx may carry) may try now, Record
// counts a check's outcome.
type AuthThrottle interface {
	Allow(ctx context.Context, user string) bool
	Record(ctx context.Context, user string, ok bool)
}

type secretLoginKey struct{}

// WithSecretLogin marks a Login the engine makes with a password from its
// secrets (MD5): an Authenticator that counts failed logins (a throttle)
// leaves it alone; the digest check is counted through AuthThrottle.
func WithSecretLogin(ctx context.Context) context.Context {
	return context.WithValue(ctx, secretLoginKey{}, true)
}

// IsSecretLogin reports whether ctx is a login marked by WithSecretLogin.
func IsSecretLogin(ctx context.Context) bool {
	v, _ := ctx.Value(secretLoginKey{}).(bool)
	return v
}

// Snapshotter is a Store that can copy a database aside (server side)
// before a device's first sync; label names the copy (date and device).
type Snapshotter interface {
	Snapshot(ctx context.Context, db Kind, label string) (int, error)
}

// Changes is the answer of Store.Changes.
type Changes struct {
	Added, Modified, Deleted []string
	Point                    []byte
}

// Item is an item as the store keeps it.
type Item struct {
	ID   string
	Data []byte
	// Version names this version of the item in the store: it changes
	// whenever the item's content is written and never otherwise (IMAP:
	// the folder's UIDVALIDITY and the UID of the item's message). Get
	// and Put fill it in where the store keeps one (see Versioner); ""
	// where it does not. DAV's ETags are versions.
	Version string
}

// Versioner is a Store that keeps a version per item (Item.Version) and
// can write an item only if it is still at a version, against any other
// writer of the store (another session, a mail client): what DAV's
// ETags, If-Match and If-None-Match need.
type Versioner interface {
	// Versions returns every item of db by ID with its version, from the
	// store's index (no item is read), and the sync point the listing is
	// of (as Changes's Point).
	Versions(ctx context.Context, db Kind) (map[string]string, []byte, error)
	// PutVersion stores it (it.ID set) if the item is still at version
	// want, "" meaning that no item of that ID exists; it fills in
	// it.Version. ErrVersionMismatch, with nothing changed, when another
	// version is there (or came meanwhile): the other writer's version
	// stays, never lost.
	PutVersion(ctx context.Context, db Kind, it *Item, want string) error
	// DeleteVersion removes item id if it is still at version want.
	// ErrVersionMismatch when another version is there, ErrNotFound
	// when none is.
	DeleteVersion(ctx context.Context, db Kind, id, want string) error
	// PutVersions is PutVersion for several items (IDs set, each once)
	// in one go: errs[i] is item i's answer (nil, ErrVersionMismatch,
	// ErrInvalidItem); err a failure of the whole, after which any item
	// may or may not be written.
	PutVersions(ctx context.Context, db Kind, items []*Item, wants []string) (errs []error, err error)
	// PointVersions are the versions the items had at point (a Point of
	// db as Changes gives it), by ID. A session compares an item's with
	// the version it reads, to tell a change another writer made since
	// its listing from none.
	PointVersions(db Kind, point []byte) (map[string]string, error)
}

// FolderLister is a Store whose databases have sub-databases (the
// sub-folders of the Contacts folder, say) that it can list.
type FolderLister interface {
	// SubFolders lists the sub-databases of db as paths below it ("/"
	// between levels; db.Sub(path) is each one's Kind), sorted.
	SubFolders(ctx context.Context, db Kind) ([]string, error)
}

// SubFolders lists the sub-databases of db in st, none when st is no
// FolderLister.
func SubFolders(ctx context.Context, st Store, db Kind) ([]string, error) {
	if fl, ok := st.(FolderLister); ok {
		return fl.SubFolders(ctx, db)
	}
	return nil, nil
}

// ErrVersionMismatch is returned by a Versioner when the item is not at
// the version a write expected (a lost update avoided: DAV's 412).
var ErrVersionMismatch = errors.New("pim: item version changed")

// ErrNotFound is returned by a Versioner for an item that does not exist.
var ErrNotFound = errors.New("pim: item not found")

// ErrSyncPointInvalid is returned by a Store when a sync point is no
// longer valid (the folder was recreated, say).
var ErrSyncPointInvalid = errors.New("pim: sync point invalid")

// ErrAuthFailed is returned by an Authenticator for wrong credentials.
var ErrAuthFailed = errors.New("pim: authentication failed")

// ErrInvalidItem is returned (wrapped) by a Store's Put for data that is
// not one item of the database's kind: the item is refused (415), the
// store is fine.
var ErrInvalidItem = errors.New("pim: invalid item")

// ErrUnavailable is returned (wrapped) by an Authenticator or a Store
// when the server behind it cannot answer now: unreachable, timing out,
// refusing for load or a connection limit. It says nothing about the
// credentials; the device is told 503 (try later), never 401.
var ErrUnavailable = errors.New("pim: store unavailable")

type deviceKey struct{}

// WithDevice returns ctx naming the device (its SyncML device ID, or
// another front's device identity) a login or store call is made for, so
// that a throttle can count failures per user and device.
func WithDevice(ctx context.Context, device string) context.Context {
	return context.WithValue(ctx, deviceKey{}, device)
}

// DeviceOf returns the device WithDevice put in ctx, "" if none.
func DeviceOf(ctx context.Context) string {
	d, _ := ctx.Value(deviceKey{}).(string)
	return d
}

// Authenticator checks a user's credentials and opens the user's store.
type Authenticator interface {
	Login(ctx context.Context, user, password string) (Store, error)
}
