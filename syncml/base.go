package syncml

import (
	"context"
	"encoding/json"
)

// The base of a merge: for each item a device has, the fingerprint of the
// version the device and the server last agreed on (sent to it or taken
// from it). A conflict merged field by field (policy "merge") tells from
// it which side changed a field. The fingerprints live in their own state
// record per device and database, read only when a conflict needs one or
// when a session changed items.

func baseKey(deviceID, db string) string { return stateKey(deviceID, db) + "/base" }

// baseState is a device's merge bases for one database.
type baseState struct {
	loaded bool
	fps    map[string]fingerprint
	// agreed: items whose agreed version changed in this session (nil
	// data: the device no longer has the item).
	agreed map[string][]byte
}

// base returns the fingerprint of the item's base version, nil when none
// is kept.
func (d *dbSession) base(ctx context.Context, guid string) fingerprint {
	d.loadBases(ctx)
	return d.bases.fps[guid]
}

func (d *dbSession) loadBases(ctx context.Context) {
	if d.bases.loaded {
		return
	}
	d.bases.loaded = true
	d.bases.fps = map[string]fingerprint{}
	if d.mode == AlertRefreshFromServer || d.mode == AlertRefreshFromClient {
		return // the device's contents start over
	}
	raw, err := d.s.store.LoadState(ctx, baseKey(d.s.deviceID, d.db))
	if err != nil {
		d.s.log.Warn("merge bases unreadable", "database", d.db, "err", err)
		return
	}
	if raw != nil {
		if err := json.Unmarshal(raw, &d.bases.fps); err != nil {
			d.s.log.Warn("merge bases unreadable", "database", d.db, "err", err)
			d.bases.fps = map[string]fingerprint{}
		}
	}
}

// agree records the version of an item both sides now have (nil: the
// device no longer has it).
func (d *dbSession) agree(guid string, data []byte) {
	if guid == "" {
		return
	}
	if d.bases.agreed == nil {
		d.bases.agreed = map[string][]byte{}
	}
	d.bases.agreed[guid] = data
}

// saveBases writes the bases when the session changed any, keeping only
// items the device has (its map).
func (d *dbSession) saveBases(ctx context.Context) {
	if len(d.bases.agreed) == 0 && d.mode != AlertRefreshFromServer && d.mode != AlertRefreshFromClient {
		return
	}
	d.loadBases(ctx)
	for id, data := range d.bases.agreed {
		if data == nil {
			delete(d.bases.fps, id)
		} else {
			d.bases.fps[id] = fingerprintOf(data)
		}
	}
	has := d.deviceHas()
	for id := range d.bases.fps {
		if !has[id] {
			delete(d.bases.fps, id)
		}
	}
	raw, err := json.Marshal(d.bases.fps)
	if err == nil {
		err = d.s.store.SaveState(ctx, baseKey(d.s.deviceID, d.db), raw)
	}
	if err != nil {
		d.s.log.Warn("save merge bases", "database", d.db, "err", err)
	}
}
