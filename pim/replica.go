package pim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"
)

// A Replica is one device's copy of one database as the core keeps it
// between sessions: the store's sync point the device was last brought
// to, the map from the device's item IDs to the store's, the merge bases
// (bases.go) and the filter's facts. It is the change feed a front drives:
// open one per database a session syncs (NewReplica), ask it what changed
// in the store since the device's point (Quiet, List), store what the
// device sent through it (Put, Stored, Deleted: the device's own writes,
// which the new point moves past) and note what the device now holds
// (State.Map, Agree), then Commit it with the front's own record.
//
// A front's record for a device's database embeds ReplicaState, so that
// the front keeps its own fields beside the core's in one record under
// ReplicaKey: SyncML its anchors, ActiveSync the SyncKey of the folder.
// The bulk of the state (point, map, temporary IDs) is kept apart, as a
// base record and small deltas (journal.go), so that a sync with k
// changes reads and writes O(k) of state whatever the database holds.
//
// A client that keeps its own state, as DAV clients do, needs no map: what
// changed since its sync token is the store's Changes since the sync
// point the token names, and an item's ETag is its version.
type Replica struct {
	// State is the core's part of the front's record (read by the front,
	// which embeds it); View is the database as this device sees it.
	State *ReplicaState
	View  View
	// Merge: the device's conflicts are merged field by field
	// (ConflictMerge), so the replica keeps the merge bases. Refresh: the
	// device's contents start over in this session, so no earlier base
	// is read and the bases are written anew.
	Merge, Refresh bool

	store   Store
	device  string
	kind    Kind
	folders []string
	user    string
	cache   *ReplicaCache
	log     *slog.Logger

	// lazy: nothing changed in the store (Quiet), and the bulk is not
	// read until the device's changes need it (Ensure).
	lazy bool
	// loaded is the bulk as read (base and deltas), so that only what
	// the session changed of it is written; nil: the map and point are
	// this session's own (a slow sync), written as a new base.
	loaded   *bulk
	changes  *Changes // the store's, since the point
	oldPoint []byte   // the point the session started from
	// listed: the item versions at listedAt, the point of the listing
	// (ListedVersion); nil when the store cannot tell them.
	listed   map[string]string
	listedAt []byte
	own      []string // items the device wrote in this session
	// ownAt: the versions the session left own items at (written, or
	// sent after the listing), when the store keeps versions; an item
	// another writer changed after that is not folded into the new
	// point (settled).
	ownAt map[string]string
	bases baseState
	// pendingFP: merge bases worked out while Put stored the items.
	pendingFP map[string]packedFP
	// facts: the filter's item facts (factsDirty: to be saved).
	facts      map[string]ItemFacts
	factsDirty bool
}

// ErrStateUnreadable: the store failed while the replica's state was read
// (List), not while its items were listed.
var ErrStateUnreadable = errors.New("pim: sync state not read")

// ReplicaKey names the record a front keeps for a device's copy of a
// database; the replica's other records start with it.
func ReplicaKey(device string, k Kind) string { return DeviceKey(device, string(k)) }

// ReplicaState is what the core keeps of a replica in the front's record.
type ReplicaState struct {
	// Point is the store's sync point the device was last brought to, Map
	// the device's item ID → the store's. They are the bulk of the state,
	// kept in a base record (bulkKey) and deltas (journal.go) that a sync
	// where nothing changed neither reads nor writes; in the front's
	// record only before bulk records.
	Point []byte            `json:",omitempty"`
	Map   map[string]string `json:",omitempty"`
	// Bulk is the generation of the bulk record; 0: none (in this record).
	// Log lists the delta records in force on it, oldest first, and
	// LogSize their weight.
	Bulk    int64   `json:",omitempty"`
	Log     []int64 `json:",omitempty"`
	LogSize int     `json:",omitempty"`
	// BaseLog lists the merge-bases delta records in force (bases.go).
	BaseLog     []int64 `json:",omitempty"`
	BaseLogSize int     `json:",omitempty"`
	// Head is Point's head (QuickStore): whether anything changed since is
	// told from it alone. Items is the size of Map.
	Head  []byte `json:",omitempty"`
	Items int    `json:",omitempty"`
	// TempIDs maps short IDs given to a device that cannot hold the
	// store's (SyncML's MaxGUIDSize) back to the store's, until the device
	// names its own for them.
	TempIDs map[string]string `json:",omitempty"`
	// Filter: the device's filter rule, while its policy filters this
	// database; the facts of the items are in a record of their own.
	Filter *FilterState `json:",omitempty"`
	// Folders: the contact sub-folders the device's IDs refer to; when
	// its policy names others, the device's IDs mean nothing any more.
	Folders []string `json:",omitempty"`
	// Synced is when the last sync completed (Devices reads it).
	Synced time.Time `json:",omitzero"`
	// Last is what that sync did (Devices reads it too).
	Last *SyncSummary `json:",omitempty"`
}

// SyncSummary is what a completed sync of a database did: its mode as the
// front names it ("two-way", "slow", ...) and the item changes each way.
type SyncSummary struct {
	Mode       string       `json:",omitempty"`
	FromDevice ChangeCounts `json:",omitzero"`
	ToDevice   ChangeCounts `json:",omitzero"`
}

// FilterState is the filter rule a replica's items were last decided
// under.
type FilterState struct {
	Rule FilterRule // the rule at the last sync
	At   time.Time  // when every item was last decided under it
}

// ReplicaOptions say whose replica of what a NewReplica is.
type ReplicaOptions struct {
	Store  Store
	View   View
	Device string // the device's key (DeviceKey), not a protocol's URI
	Kind   Kind
	// Folders are the contact sub-folders the view is made of (Policy's
	// ContactFolders; nil for the database itself).
	Folders []string
	// User and Cache: the daemon's cache of committed bulks (nil: none)
	// and the account it is kept under.
	User  string
	Cache *ReplicaCache
	Log   *slog.Logger
	Merge bool
}

// NewReplica is the replica whose state is st (a part of the front's
// record as read; zero for a device's first sync).
func NewReplica(st *ReplicaState, o ReplicaOptions) *Replica {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Replica{State: st, View: o.View, Merge: o.Merge, store: o.Store, device: o.Device, kind: o.Kind,
		folders: o.Folders, user: o.User, cache: o.Cache, log: log.With("database", o.Kind)}
}

// FoldersChanged reports whether the device's IDs refer to other
// sub-folders than the view's: its next sync must be a slow one.
func (r *Replica) FoldersChanged() bool { return !slices.Equal(r.State.Folders, r.folders) }

// Changes are the store's changes since the device's point, as List (or
// Restart) found them; empty when Quiet.
func (r *Replica) Changes() *Changes { return r.changes }

// Versioned is the replica's view as a VersionedView, nil when its
// store keeps no versions.
func (r *Replica) Versioned() VersionedView { return AsVersioned(r.View) }

// ListedVersion is the version item id had when the replica's changes
// were listed ("" when it had none); ok is false when that cannot be
// told (no versions, nothing listed yet, an item the view cannot name
// at a version).
func (r *Replica) ListedVersion(id string) (v string, ok bool) {
	if _, key := RecurID(id); key != "" {
		return "", false // an exception shown as an item: no version of its own
	}
	point := r.State.Point // a quiet listing changed nothing since
	if r.changes != nil && r.changes.Point != nil {
		point = r.changes.Point
	}
	if point == nil {
		return "", false
	}
	if r.listedAt == nil || !samePoint(r.listedAt, point) {
		r.listed, r.listedAt = nil, point // asked once per point
		if vv := r.Versioned(); vv != nil {
			vs, err := vv.PointVersions(point)
			if err != nil && !errors.Is(err, ErrUnversioned) {
				r.log.Warn("versions of the listed point: writes are last-writer-wins", "err", err)
			}
			r.listed = vs
		}
	}
	if r.listed == nil {
		return "", false
	}
	return r.listed[id], true
}

// samePoint tells whether a and b are the same point value (the same
// slice, as the replica keeps it: not compared byte by byte).
func samePoint(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// Own are the items the device wrote in this session.
func (r *Replica) Own() []string { return r.own }

// Quiet reports whether nothing changed in the store since the device's
// point, told from its head alone, so that nothing growing with the
// database is read. When so, the replica starts lazy: its bulk is read
// only when the device's changes need it (Ensure). A replica with a
// filter is never quiet: time moves items in and out of it.
func (r *Replica) Quiet(ctx context.Context) (bool, error) {
	if r.State.Bulk == 0 || r.State.Head == nil || r.State.Filter != nil {
		return false, nil
	}
	same, err := r.View.Unchanged(ctx, r.State.Head)
	if err != nil || !same {
		return false, err
	}
	r.lazy, r.changes = true, &Changes{}
	return true, nil
}

// List reads the bulk and the store's changes since the device's point,
// all of them when slow. When the sync has to be slow although it was
// not asked to be (the map is lost, the store's point is no longer
// valid), reslow says why; then, as in every slow sync, the device's IDs
// are forgotten (Forget).
func (r *Replica) List(ctx context.Context, slow bool) (reslow string, err error) {
	if err := r.loadBulk(ctx); err != nil {
		return "", fmt.Errorf("%w: %w", ErrStateUnreadable, err)
	}
	if r.State.Map == nil && r.State.Bulk != 0 && !slow {
		reslow, slow = "item map missing", true
	}
	var since []byte
	if !slow {
		since, r.oldPoint = r.State.Point, r.State.Point
	}
	r.changes, err = r.View.Changes(ctx, since)
	if errors.Is(err, ErrSyncPointInvalid) {
		reslow, slow = "store sync point invalid", true
		r.changes, err = r.View.Changes(ctx, nil)
	}
	if err != nil {
		return reslow, err
	}
	if r.FoldersChanged() {
		r.State.Map, r.State.Filter = nil, nil // IDs of another view
		r.State.Folders = slices.Clone(r.folders)
	}
	if r.State.Map == nil || slow {
		r.Forget()
	}
	return reslow, nil
}

// Restart lists every item of the store again, for a sync that turned
// slow after it started (the device found our anchor stale): the
// device's IDs are forgotten, as in a slow sync from the start.
func (r *Replica) Restart(ctx context.Context) error {
	r.lazy, r.oldPoint = false, nil
	r.Forget()
	changes, err := r.View.Changes(ctx, nil)
	if err != nil {
		return err
	}
	r.changes = changes
	return nil
}

// Forget drops what the device's item IDs meant in earlier sessions. A
// slow or refresh sync never trusts them: a phone that was reset (or
// reinstalled, or is a new phone with the old IMEI) numbers its items 1,
// 2, 3... again, and the old map would take its new items for old ones
// and write them onto mailbox items they are not. Its items are matched
// by content instead, and the map is rebuilt from what this session
// matched, added and was told; so the store replaces only items under
// IDs the device gave in this session.
func (r *Replica) Forget() {
	r.loaded = nil // written anew, as a base
	r.State.Map = map[string]string{}
	r.State.TempIDs = map[string]string{}
}

// Ensure reads the bulk of a lazy replica when the device's changes need
// its map. The store's side was unchanged, so the point read is also the
// point of the session's start. When the bulk is gone, the session
// cannot tell the device's IDs: the front's record is removed, so that
// the next session is a slow sync, which matches by content, and Ensure
// fails.
func (r *Replica) Ensure(ctx context.Context) error {
	if !r.lazy {
		return nil
	}
	if err := r.loadBulk(ctx); err != nil {
		return err
	}
	if r.State.Map == nil {
		if err := r.store.DeleteState(ctx, ReplicaKey(r.device, r.kind)); err != nil {
			r.log.Error("forget the sync state", "err", err)
		}
		return fmt.Errorf("item map %s missing", bulkKey(r.device, r.kind, r.State.Bulk))
	}
	if r.State.TempIDs == nil {
		r.State.TempIDs = map[string]string{}
	}
	r.changes.Point, r.oldPoint = r.State.Point, r.State.Point
	return nil
}

// Has is the set of store items the device has (mapped, or given under a
// temporary ID).
func (r *Replica) Has() map[string]bool {
	has := make(map[string]bool, len(r.State.Map))
	for _, g := range r.State.Map {
		has[g] = true
	}
	for _, g := range r.State.TempIDs {
		has[g] = true
	}
	return has
}

// Put stores items the device sent, through the view, working out their
// merge bases while the store writes (CPU beside I/O). Each item the
// store took is then confirmed with Stored.
func (r *Replica) Put(ctx context.Context, items ...*Item) error {
	fps := r.fingerprintsOf(items)
	err := r.View.Put(ctx, items...)
	for i, it := range items {
		if f := fps.wait(i); f.ok && it.ID != "" && bytes.Equal(f.data, it.Data) {
			if r.pendingFP == nil {
				r.pendingFP = map[string]packedFP{}
			}
			r.pendingFP[it.ID] = f.fp
		}
	}
	return err
}

// PutVersions stores items (IDs set) each only if it is still at its
// want (VersionedView.PutVersions); ErrUnversioned when the view cannot
// tell (then the caller writes with Put).
func (r *Replica) PutVersions(ctx context.Context, items []*Item, wants []string) ([]error, error) {
	vv := r.Versioned()
	if vv == nil {
		return nil, ErrUnversioned
	}
	return vv.PutVersions(ctx, items, wants)
}

// DeleteVersion removes item id only if it is at want, as PutVersions.
func (r *Replica) DeleteVersion(ctx context.Context, id, want string) error {
	vv := r.Versioned()
	if vv == nil {
		return ErrUnversioned
	}
	return vv.DeleteVersion(ctx, id, want)
}

// Stored notes that the device's item is in the store as the device
// sent it: it is the device's own write, and both sides have its version.
func (r *Replica) Stored(it *Item) {
	if fp, ok := r.pendingFP[it.ID]; ok {
		delete(r.pendingFP, it.ID)
		r.agreeFP(it.ID, fp)
	} else {
		r.Agree(it.ID, it.Data)
	}
	r.own = append(r.own, it.ID)
}

// WroteAt notes the version the device's write of item id (Stored) left
// it at, for a write that replaced what another writer may change too:
// if the item is at another version when the session ends, the new point
// leaves it out (settled), and the next session sends it. (New items are
// not noted: a slow sync of 100,000 would hold them all.)
func (r *Replica) WroteAt(id, version string) {
	if version != "" {
		r.noteOwnAt(id, version)
	}
}

func (r *Replica) noteOwnAt(id, version string) {
	if r.ownAt == nil {
		r.ownAt = map[string]string{}
	}
	r.ownAt[id] = version
}

// SentAt notes that the device was sent item id at version, read after
// the listing saw it at another one (or none): the new point takes that
// version in, as it does the device's own writes, so that the next
// session does not send it again (nor take the device's change of it for
// a conflict).
func (r *Replica) SentAt(id, version string) {
	if version == "" {
		return
	}
	if listed, ok := r.ListedVersion(id); !ok || listed == version {
		return
	}
	r.own = append(r.own, id)
	r.noteOwnAt(id, version)
}

// settled are the own items the new point takes in: not those another
// writer changed after the session wrote (or sent) them, which the next
// session sees as changed and sends. The window left is the one between
// this look and the store's Advance.
func (r *Replica) settled(ctx context.Context) []string {
	vv := r.Versioned()
	if len(r.ownAt) == 0 || vv == nil {
		return r.own
	}
	ids := make([]string, 0, len(r.ownAt))
	for id := range r.ownAt {
		ids = append(ids, id)
	}
	now, err := vv.Versions(ctx, ids)
	if err != nil {
		r.log.Warn("versions of the session's own items: all taken in", "err", err)
		return r.own
	}
	out := make([]string, 0, len(r.own))
	for _, id := range r.own {
		if v, ok := r.ownAt[id]; ok && now[id] != v {
			r.log.Info("item changed by another writer after the session wrote or sent it: it goes to the device next time", "id", id)
			continue
		}
		out = append(out, id)
	}
	return out
}

// Deleted notes that the store's items ids were deleted for the device
// (its own deletions, or a refresh from it that left them out): the new
// point moves past them. Their merge bases go at the next compaction.
func (r *Replica) Deleted(ids ...string) {
	r.own = append(r.own, ids...)
	for _, id := range ids {
		delete(r.ownAt, id)
	}
}

// Facts reads the filter's facts of the replica's items (nil when none).
func (r *Replica) Facts(ctx context.Context) (map[string]ItemFacts, error) {
	raw, err := r.store.LoadState(ctx, r.factsKey())
	if err != nil || raw == nil {
		return nil, err
	}
	facts := map[string]ItemFacts{}
	if err := json.Unmarshal(raw, &facts); err != nil {
		r.log.Warn("filter facts unreadable: every item is read again", "err", err)
		return nil, nil
	}
	return facts, nil
}

// SetFacts makes facts the replica's (nil: none), saved with Commit.
func (r *Replica) SetFacts(facts map[string]ItemFacts) {
	r.facts, r.factsDirty = facts, true
}

func (r *Replica) factsKey() string { return ReplicaKey(r.device, r.kind) + "/facts" }

// Commit saves the replica at the end of a session. The new sync point
// is the store's at the session's start advanced past the items the
// device wrote; with pending, the store's changes were not given to the
// device (a one-way sync from it, a receive-free policy) and stay
// pending, so the point starts from the old one. What the session
// changed of the bulk is written as a delta or, now and then, a new base;
// then the merge bases and facts; then record, the front's record, which
// embeds State (its bulk left out), under ReplicaKey; then the records it
// no longer names are removed. A crash anywhere in between leaves the
// record before it whole.
func (r *Replica) Commit(ctx context.Context, now time.Time, pending bool, record any) error {
	r.State.Synced = now
	compacted := false
	if !r.lazy {
		base := r.changes.Point
		if pending {
			base = r.oldPoint
		}
		point, err := r.View.Advance(ctx, base, r.settled(ctx))
		if err != nil {
			return fmt.Errorf("sync point: %w", err)
		}
		r.State.Point, r.State.Head, r.State.Items = point, r.View.Head(point), len(r.State.Map)
		if compacted, err = r.writeBulk(ctx, now); err != nil {
			return err
		}
	}
	r.saveFacts(ctx) // before the record that refers to them
	basesCompacted := r.Merge && r.saveBases(ctx, now)
	point, m, temp := r.State.Point, r.State.Map, r.State.TempIDs
	r.State.Point, r.State.Map, r.State.TempIDs = nil, nil, nil
	raw, err := json.Marshal(record)
	r.State.Point, r.State.Map, r.State.TempIDs = point, m, temp
	if err != nil {
		return err
	}
	key := cacheKey(r.user, r.device, r.kind)
	if err := r.store.SaveState(ctx, ReplicaKey(r.device, r.kind), raw); err != nil {
		r.cache.drop(key)
		return err
	}
	if !r.lazy && r.State.Map != nil {
		// What the device's next session starts from; this one changes
		// it no more.
		r.cache.put(key, bulkIdent(r.State), &bulk{Point: r.State.Point, Map: r.State.Map, TempIDs: r.State.TempIDs})
	}
	if basesCompacted {
		r.dropBaseDeltas(ctx)
	}
	if compacted {
		// Older generations and their deltas (and any a crash left
		// behind) go.
		keys, err := r.store.ListState(ctx, bulkPrefix(r.device, r.kind))
		if err != nil {
			r.log.Warn("list old item maps", "err", err)
		}
		for _, k := range keys {
			if k != bulkKey(r.device, r.kind, r.State.Bulk) {
				if err := r.store.DeleteState(ctx, k); err != nil {
					r.log.Warn("remove an old item map", "key", k, "err", err)
				}
			}
		}
	}
	return nil
}

func (r *Replica) saveFacts(ctx context.Context) {
	if !r.factsDirty {
		return
	}
	key := r.factsKey()
	if r.facts == nil {
		if err := r.store.DeleteState(ctx, key); err != nil {
			r.log.Warn("filter: remove facts", "err", err)
		}
		return
	}
	raw, err := json.Marshal(r.facts)
	if err == nil {
		err = r.store.SaveState(ctx, key, raw)
	}
	if err != nil {
		r.log.Warn("filter: save facts", "err", err)
		r.State.Filter = nil // decided from scratch next time
	}
}

// bulkKey names generation gen of the bulk record of a replica: a new
// generation is written, then the record that names it, then the old
// one removed, so a crash in between leaves the state whole.
func bulkKey(device string, k Kind, gen int64) string {
	return bulkPrefix(device, k) + strconv.FormatInt(gen, 10)
}

// bulkPrefix starts the keys of a replica's bulk records.
func bulkPrefix(device string, k Kind) string { return ReplicaKey(device, k) + "/map/" }

// ReplicaBulkKeys lists the keys of the bulk records st names: its base
// and deltas in force.
func ReplicaBulkKeys(device string, k Kind, st *ReplicaState) []string {
	keys := []string{bulkKey(device, k, st.Bulk)}
	for _, gen := range st.Log {
		keys = append(keys, deltaKey(device, k, st.Bulk, gen))
	}
	return keys
}

// ReplicaBulkPrefix starts the keys of every bulk record of a replica,
// those in force and those a crash left behind.
func ReplicaBulkPrefix(device string, k Kind) string { return bulkPrefix(device, k) }

// bulk is the bulk record.
type bulk struct {
	Point   []byte            `json:",omitempty"`
	Map     map[string]string `json:",omitempty"`
	TempIDs map[string]string `json:",omitempty"`
}

// loadBulk reads the bulk record named by the state and the deltas in
// force on it (nothing when the state holds the bulk itself). A record
// that is missing or unreadable leaves Map nil.
func (r *Replica) loadBulk(ctx context.Context) error {
	r.lazy, r.loaded = false, nil
	if r.State.Bulk == 0 {
		return nil
	}
	b := r.cache.get(cacheKey(r.user, r.device, r.kind), bulkIdent(r.State))
	if b == nil {
		keys := ReplicaBulkKeys(r.device, r.kind, r.State)
		raws, err := LoadStates(ctx, r.store, keys...)
		if err != nil {
			return err
		}
		if b, err = readBulk(r.View, keys, raws); err != nil {
			r.log.Warn("item map unreadable", "err", err)
			b = nil
		}
	}
	if b == nil {
		r.State.Point, r.State.Map, r.State.TempIDs = nil, nil, nil
		return nil
	}
	// The session changes copies; loaded stays as read.
	r.loaded = b
	r.State.Point, r.State.Map, r.State.TempIDs = b.Point, maps.Clone(b.Map), maps.Clone(b.TempIDs)
	return nil
}

// readBulk decodes a base record and its deltas (raws by keys); nil when
// the base is missing, an error when it or a delta cannot be used.
func readBulk(v View, keys []string, raws map[string][]byte) (*bulk, error) {
	raw, ok := raws[keys[0]]
	if !ok || raw == nil {
		return nil, nil
	}
	b, err := decodeBulk(raw)
	if err != nil {
		return nil, err
	}
	var pointDeltas [][]byte // applied in one go, at the end
	for _, k := range keys[1:] {
		raw, ok := raws[k]
		if !ok || raw == nil {
			return nil, fmt.Errorf("delta %s missing", k)
		}
		x, err := decodeDelta(raw)
		if err != nil {
			return nil, fmt.Errorf("delta %s: %w", k, err)
		}
		switch x.pointForm {
		case pointWhole:
			b.Point, pointDeltas = x.point, nil
		case pointDelta:
			pointDeltas = append(pointDeltas, x.point)
		}
		applyMap(b.Map, x.set, x.del)
		applyMap(b.TempIDs, x.tempSet, x.tempDel)
	}
	if len(pointDeltas) > 0 {
		var err error
		if b.Point, err = v.ApplyPointDelta(b.Point, pointDeltas); err != nil {
			return nil, fmt.Errorf("point deltas: %w", err)
		}
	}
	return b, nil
}

// writeBulk writes what the session changed of the bulk: a delta record
// named in the state's Log, or a new base when there is none to build on
// (a slow sync, no base yet) or the deltas outweigh a share of the base;
// compacted reports the latter.
func (r *Replica) writeBulk(ctx context.Context, now time.Time) (compacted bool, err error) {
	st := r.State
	if r.loaded != nil && st.Bulk != 0 {
		x := &bulkDelta{}
		if !bytes.Equal(r.loaded.Point, st.Point) {
			x.pointForm, x.point = pointWhole, st.Point
			if delta, ok := r.View.PointDelta(r.loaded.Point, st.Point); ok && len(delta) < len(st.Point) {
				x.pointForm, x.point = pointDelta, delta
			}
		}
		x.set, x.del = diffMaps(r.loaded.Map, st.Map)
		x.tempSet, x.tempDel = diffMaps(r.loaded.TempIDs, st.TempIDs)
		if x.empty() {
			return false, nil
		}
		if len(st.Log) < MaxLog && st.LogSize+x.size() <= len(st.Map)/2+256 {
			gen := now.UnixNano()
			if n := len(st.Log); n > 0 {
				gen = max(gen, st.Log[n-1]+1)
			}
			if err := r.store.SaveState(ctx, deltaKey(r.device, r.kind, st.Bulk, gen), x.encode()); err != nil {
				return false, err
			}
			st.Log = append(st.Log, gen)
			st.LogSize += x.size()
			return false, nil
		}
	}
	gen := max(st.Bulk+1, now.UnixNano())
	for _, g := range st.Log {
		gen = max(gen, g+1)
	}
	raw := encodeBulk(&bulk{Point: st.Point, Map: st.Map, TempIDs: st.TempIDs})
	if err := r.store.SaveState(ctx, bulkKey(r.device, r.kind, gen), raw); err != nil {
		return false, err
	}
	st.Bulk, st.Log, st.LogSize = gen, nil, 0
	return true, nil
}

// ReadBulk fills st's point, map and temporary IDs from the bulk records
// it names, for tools that read a replica outside a session; an error
// when they are missing or unreadable.
func ReadBulk(ctx context.Context, store Store, v View, device string, k Kind, st *ReplicaState) error {
	if st.Bulk == 0 {
		return nil
	}
	keys := ReplicaBulkKeys(device, k, st)
	raws, err := LoadStates(ctx, store, keys...)
	if err != nil {
		return err
	}
	b, err := readBulk(v, keys, raws)
	if err == nil && b == nil {
		err = fmt.Errorf("pim: item map %s missing", keys[0])
	}
	if err != nil {
		return err
	}
	st.Point, st.Map, st.TempIDs = b.Point, b.Map, b.TempIDs
	return nil
}
