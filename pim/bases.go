package pim

import (
	"context"
	"maps"
	"strconv"
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

func baseKey(device string, k Kind) string { return ReplicaKey(device, k) + "/base" }

func baseDeltaKey(device string, k Kind, gen int64) string {
	return baseKey(device, k) + "+" + strconv.FormatInt(gen, 10)
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

// Base returns the fingerprint of the item's base version, nil when none
// is kept: the version the device and the store last agreed on.
func (r *Replica) Base(ctx context.Context, id string) Fingerprint {
	r.loadBases(ctx)
	return r.bases.fps[id].unpack()
}

// loadBases reads the base record and the deltas in force.
func (r *Replica) loadBases(ctx context.Context) {
	if r.bases.loaded {
		return
	}
	r.bases.loaded = true
	r.bases.fps = map[string]packedFP{}
	if r.Refresh {
		return // the device's contents start over
	}
	keys := []string{baseKey(r.device, r.kind)}
	for _, gen := range r.State.BaseLog {
		keys = append(keys, baseDeltaKey(r.device, r.kind, gen))
	}
	raws, err := LoadStates(ctx, r.store, keys...)
	if err != nil {
		r.log.Warn("merge bases unreadable", "err", err)
		return
	}
	for _, k := range keys {
		raw, ok := raws[k]
		if !ok {
			continue // a lost delta: those items merge without a base
		}
		fps, gone, err := decodeFingerprints(raw)
		if err != nil {
			r.log.Warn("merge bases unreadable", "key", k, "err", err)
			continue
		}
		for _, id := range gone {
			delete(r.bases.fps, id)
		}
		maps.Copy(r.bases.fps, fps)
	}
}

// Agree records the version of an item both sides now have (nil: the
// device no longer has it). Only the merge policy reads bases.
func (r *Replica) Agree(guid string, data []byte) {
	if guid == "" || !r.Merge {
		return
	}
	if data == nil {
		r.bases.track()
		delete(r.bases.agreed, guid)
		r.bases.gone[guid] = true
		return
	}
	r.agreeFP(guid, packFP(FingerprintOf(data)))
}

// track makes the sets of what the session agreed on.
func (b *baseState) track() {
	if b.agreed == nil {
		b.agreed, b.gone = map[string]packedFP{}, map[string]bool{}
	}
}

// agreeFP is agree with the fingerprint worked out already.
func (r *Replica) agreeFP(guid string, fp packedFP) {
	if guid == "" || !r.Merge {
		return
	}
	r.bases.track()
	delete(r.bases.gone, guid)
	r.bases.agreed[guid] = fp
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
func (r *Replica) fingerprintsOf(batch []*Item) *batchFPs {
	if !r.Merge || len(batch) == 0 {
		return nil
	}
	b := &batchFPs{done: make(chan struct{}), fps: make([]batchFP, len(batch))}
	for i, it := range batch {
		b.fps[i].data = it.Data
	}
	go func() {
		defer close(b.done)
		// A panic here would end the daemon, not the request: an item
		// that makes one is fingerprinted again by Agree, on the
		// request's goroutine, as before this overlap.
		defer func() { recover() }()
		for i := range b.fps {
			b.fps[i].fp, b.fps[i].ok = packFP(FingerprintOf(b.fps[i].data)), true
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
func (r *Replica) saveBases(ctx context.Context, now time.Time) (compacted bool) {
	n := len(r.bases.agreed) + len(r.bases.gone)
	if n == 0 && !r.Refresh {
		return false
	}
	st := r.store
	whole := r.Refresh || len(r.State.BaseLog) >= MaxLog || r.State.BaseLogSize+n > len(r.State.Map)/2+256
	if !whole || r.State.Map == nil { // without the map, nothing to prune by
		gen := now.UnixNano()
		if l := len(r.State.BaseLog); l > 0 {
			gen = max(gen, r.State.BaseLog[l-1]+1)
		}
		gone := make([]string, 0, len(r.bases.gone))
		for id := range r.bases.gone {
			gone = append(gone, id)
		}
		if err := st.SaveState(ctx, baseDeltaKey(r.device, r.kind, gen), encodeFingerprints(r.bases.agreed, gone)); err != nil {
			r.log.Warn("save merge bases", "err", err)
			return false
		}
		r.State.BaseLog = append(r.State.BaseLog, gen)
		r.State.BaseLogSize += n
		return false
	}
	r.loadBases(ctx)
	for id := range r.bases.gone {
		delete(r.bases.fps, id)
	}
	maps.Copy(r.bases.fps, r.bases.agreed)
	has := r.Has()
	for id := range r.bases.fps {
		if !has[id] {
			delete(r.bases.fps, id)
		}
	}
	// The deltas are in the base now; a crash before the state is saved
	// applies them again over it, which changes nothing.
	if err := st.SaveState(ctx, baseKey(r.device, r.kind), encodeFingerprints(r.bases.fps, nil)); err != nil {
		r.log.Warn("save merge bases", "err", err)
		return false
	}
	r.State.BaseLog, r.State.BaseLogSize = nil, 0
	return true
}

// dropBaseDeltas removes the merge-bases deltas once a new base holds them.
func (r *Replica) dropBaseDeltas(ctx context.Context) {
	st := r.store
	keys, err := st.ListState(ctx, baseKey(r.device, r.kind)+"+")
	if err != nil {
		r.log.Warn("list old merge bases", "err", err)
		return
	}
	for _, k := range keys {
		if err := st.DeleteState(ctx, k); err != nil {
			r.log.Warn("remove old merge bases", "key", k, "err", err)
		}
	}
}
