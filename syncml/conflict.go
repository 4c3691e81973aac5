package syncml

import (
	"context"
	"maps"
	"strings"
	"syncml-imap/pim"
)

// A conflict is an item changed on both sides since the last sync. The
// engine asks a ConflictPolicy what to do; the device-policy issue adds
// server-wins, device-wins, newest-wins, duplicate and merge policies per
// device.

// Conflict describes one conflict.
type Conflict struct {
	DB     string
	ID     string // the server item
	Server []byte // the server's version
	Device []byte // the device's version
}

// Resolution says how a conflict ends.
type Resolution int

const (
	// ServerWins: the server's version stays and goes to the device.
	ServerWins Resolution = iota
	// DeviceWins: the device's version replaces the server's.
	DeviceWins
	// KeepBoth: the server's version stays and goes to the device; the
	// device's version is stored as a new item and sent to the device too.
	KeepBoth
	// Merged: the two versions were merged field by field; the result is
	// stored and goes to the device.
	Merged
)

// resolveConflict decides a conflict by the device's policy (or the
// server's ConflictPolicy when one is set). device has been completed
// with what the device cannot hold. For Merged it returns the merged
// item; for DeviceWins the device's.
func (d *dbSession) resolveConflict(ctx context.Context, guid string, server, device []byte) (Resolution, []byte) {
	if d.s.srv.opts.Conflicts != nil {
		return d.s.srv.opts.Conflicts.Resolve(&Conflict{DB: d.db, ID: guid, Server: server, Device: device}), device
	}
	p := &d.s.policy
	byRule := func(r pim.ConflictRule) Resolution {
		switch r {
		case pim.ConflictDeviceWins:
			return DeviceWins
		case pim.ConflictDuplicate:
			return KeepBoth
		case pim.ConflictNewestWins:
			if newer, known := pim.DeviceNewer(server, device); known {
				if newer {
					return DeviceWins
				}
				return ServerWins
			}
			if p.TieBreak == pim.ConflictDeviceWins {
				return DeviceWins
			}
		}
		return ServerWins
	}
	if p.Conflict != pim.ConflictMerge {
		return byRule(p.Conflict), device
	}
	merged, both := pim.Merge3(d.base(ctx, guid), server, device, pim.TieBreakFor(p.TieBreak))
	if len(both) > 0 {
		d.s.log.Info("merge: fields changed on both sides", "database", d.db, "id", guid, "fields", strings.Join(both, ","), "tie_break", string(p.TieBreak))
	}
	// Compared by fingerprint, which (unlike sameContent) counts X-
	// fields: a merge that took only an X- field from the device is one.
	mf := pim.FingerprintOf(merged)
	switch {
	case maps.Equal(mf, pim.FingerprintOf(server)):
		return ServerWins, server
	case maps.Equal(mf, pim.FingerprintOf(device)):
		return DeviceWins, device
	}
	return Merged, merged
}

// ConflictPolicy decides conflicts. Two versions with the same content
// are never a conflict: the policy is not asked.
type ConflictPolicy interface {
	Resolve(c *Conflict) Resolution
}

// ConflictFunc adapts a function to a ConflictPolicy.
type ConflictFunc func(c *Conflict) Resolution

func (f ConflictFunc) Resolve(c *Conflict) Resolution { return f(c) }

// status is the SyncML status reported to the device for a resolution
// (OMA-TS-SyncML_RepPro: 208 client won, 209 duplicate, 419 server won).
func (r Resolution) status() StatusCode {
	switch r {
	case DeviceWins:
		return StatusConflictClientWon
	case KeepBoth:
		return StatusConflictDuplicate
	case Merged:
		return StatusConflictMerged
	}
	return StatusConflictServerWon
}
