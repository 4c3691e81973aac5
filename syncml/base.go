package syncml

import (
	"context"
	"maps"
	"strconv"
	"syncml-imap/pim"
	"time"
)

// The base of a merge: for each item a device has, the fingerprint of the
// version the device and the server last agreed on (sent to it or taken
// from it). A conflict merged field by field (policy "merge") tells from
// it which side changed a field. The fingerprints live in their own state
// records per device and database: a base (baseKey), rewritten now and
// then, and the deltas of later sessions (baseKey+"+"+gen, listed in the
// state's BaseLog), so that a session that changed k items writes O(k).
// They are read only when a conflict needs one or when a session
// rewrites the base.

func baseKey(deviceID string, db pim.Kind) string { return stateKey(deviceID, db) + "/base" }

func baseDeltaKey(deviceID string, db pim.Kind, gen int64) string {
	return baseKey(deviceID, db) + "+" + strconv.FormatInt(gen, 10)
}

// baseState is a device's merge bases for one database.
type baseState struct {
	loaded bool
	fps    map[string]packedFP
	// agreed: fingerprints of items whose agreed version changed in this
	// session (nil: the device no longer has the item, or it holds no
	// fields).
	agreed map[string]packedFP
	gone   map[string]bool
}

// base returns the fingerprint of the item's base version, nil when none
// is kept.
func (d *dbSession) base(ctx context.Context, guid string) pim.Fingerprint {
	d.loadBases(ctx)
	return d.bases.fps[guid].unpack()
}

func (d *dbSession) refreshing() bool {
	return d.mode == AlertRefreshFromServer || d.mode == AlertRefreshFromClient
}

// loadBases reads the base record and the deltas in force.
func (d *dbSession) loadBases(ctx context.Context) {
	if d.bases.loaded {
		return
	}
	d.bases.loaded = true
	d.bases.fps = map[string]packedFP{}
	if d.refreshing() {
		return // the device's contents start over
	}
	keys := []string{baseKey(d.s.deviceID, d.db)}
	for _, gen := range d.state.BaseLog {
		keys = append(keys, baseDeltaKey(d.s.deviceID, d.db, gen))
	}
	raws, err := d.s.store.LoadStates(ctx, keys...)
	if err != nil {
		d.s.log.Warn("merge bases unreadable", "database", d.db, "err", err)
		return
	}
	for _, k := range keys {
		raw, ok := raws[k]
		if !ok {
			continue // a lost delta: those items merge without a base
		}
		fps, gone, err := decodeFingerprints(raw)
		if err != nil {
			d.s.log.Warn("merge bases unreadable", "database", d.db, "key", k, "err", err)
			continue
		}
		for _, id := range gone {
			delete(d.bases.fps, id)
		}
		maps.Copy(d.bases.fps, fps)
	}
}

// agree records the version of an item both sides now have (nil: the
// device no longer has it). Only the merge policy reads bases.
func (d *dbSession) agree(guid string, data []byte) {
	if guid == "" || d.s.policy.Conflict != pim.ConflictMerge {
		return
	}
	if data == nil {
		d.bases.track()
		delete(d.bases.agreed, guid)
		d.bases.gone[guid] = true
		return
	}
	d.agreeFP(guid, packFP(pim.FingerprintOf(data)))
}

// track makes the sets of what the session agreed on.
func (b *baseState) track() {
	if b.agreed == nil {
		b.agreed, b.gone = map[string]packedFP{}, map[string]bool{}
	}
}

// agreeFP is agree with the fingerprint worked out already.
func (d *dbSession) agreeFP(guid string, fp packedFP) {
	if guid == "" || d.s.policy.Conflict != pim.ConflictMerge {
		return
	}
	d.bases.track()
	delete(d.bases.gone, guid)
	d.bases.agreed[guid] = fp
}

// batchFPs are the fingerprints of a batch being stored, worked out on a
// goroutine of their own.
type batchFPs struct {
	done chan struct{}
	fps  []batchFP
}

type batchFP struct {
	data []byte // the data fingerprinted
	fp   packedFP
	ok   bool
}

// fingerprintsOf starts working out the batch's fingerprints (the merge
// policy's bases); nil when the policy needs none.
func (d *dbSession) fingerprintsOf(batch []*pendingPut) *batchFPs {
	if d.s.policy.Conflict != pim.ConflictMerge || len(batch) == 0 {
		return nil
	}
	b := &batchFPs{done: make(chan struct{}), fps: make([]batchFP, len(batch))}
	for i, p := range batch {
		b.fps[i].data = p.item.Data
	}
	go func() {
		defer close(b.done)
		// A panic here would end the daemon, not the request: an item
		// that makes one is fingerprinted again by agree, on the
		// request's goroutine, as before this overlap.
		defer func() { recover() }()
		for i := range b.fps {
			b.fps[i].fp, b.fps[i].ok = packFP(pim.FingerprintOf(b.fps[i].data)), true
		}
	}()
	return b
}

// wait returns fingerprint i once worked out (none from a nil batch).
func (b *batchFPs) wait(i int) batchFP {
	if b == nil {
		return batchFP{}
	}
	<-b.done
	return b.fps[i]
}

// saveBases writes the bases the session changed as a delta, or, after a
// refresh or when the deltas are many, the whole bases of the items the
// device has (its map) as a new base; compacted reports the latter, whose
// old deltas the caller removes once the state no longer names them. It
// runs before the state naming the deltas is written.
func (d *dbSession) saveBases(ctx context.Context, now time.Time) (compacted bool) {
	n := len(d.bases.agreed) + len(d.bases.gone)
	if n == 0 && !d.refreshing() {
		return false
	}
	st := d.s.store
	whole := d.refreshing() || len(d.state.BaseLog) >= maxLog || d.state.BaseLogSize+n > len(d.state.Map)/2+256
	if !whole || d.state.Map == nil { // without the map, nothing to prune by
		gen := now.UnixNano()
		if l := len(d.state.BaseLog); l > 0 {
			gen = max(gen, d.state.BaseLog[l-1]+1)
		}
		gone := make([]string, 0, len(d.bases.gone))
		for id := range d.bases.gone {
			gone = append(gone, id)
		}
		if err := st.SaveState(ctx, baseDeltaKey(d.s.deviceID, d.db, gen), encodeFingerprints(d.bases.agreed, gone)); err != nil {
			d.s.log.Warn("save merge bases", "database", d.db, "err", err)
			return false
		}
		d.state.BaseLog = append(d.state.BaseLog, gen)
		d.state.BaseLogSize += n
		return false
	}
	d.loadBases(ctx)
	for id := range d.bases.gone {
		delete(d.bases.fps, id)
	}
	maps.Copy(d.bases.fps, d.bases.agreed)
	has := d.deviceHas()
	for id := range d.bases.fps {
		if !has[id] {
			delete(d.bases.fps, id)
		}
	}
	// The deltas are in the base now; a crash before the state is saved
	// applies them again over it, which changes nothing.
	if err := st.SaveState(ctx, baseKey(d.s.deviceID, d.db), encodeFingerprints(d.bases.fps, nil)); err != nil {
		d.s.log.Warn("save merge bases", "database", d.db, "err", err)
		return false
	}
	d.state.BaseLog, d.state.BaseLogSize = nil, 0
	return true
}

// dropBaseDeltas removes the merge-bases deltas once a new base holds them.
func (d *dbSession) dropBaseDeltas(ctx context.Context) {
	st := d.s.store
	keys, err := st.ListState(ctx, baseKey(d.s.deviceID, d.db)+"+")
	if err != nil {
		d.s.log.Warn("list old merge bases", "database", d.db, "err", err)
		return
	}
	for _, k := range keys {
		if err := st.DeleteState(ctx, k); err != nil {
			d.s.log.Warn("remove old merge bases", "database", d.db, "key", k, "err", err)
		}
	}
}
