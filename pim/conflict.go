package pim

import "maps"

// A conflict is an item changed on both sides since the last sync. A
// front asks the device's policy (or a ConflictPolicy that overrides
// it) what to do.

// Conflict describes one conflict.
type Conflict struct {
	DB     Kind
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

// ConflictPolicy decides conflicts. Two versions with the same content
// are never a conflict: the policy is not asked.
type ConflictPolicy interface {
	Resolve(c *Conflict) Resolution
}

// ConflictFunc adapts a function to a ConflictPolicy.
type ConflictFunc func(c *Conflict) Resolution

// Resolve calls f.
func (f ConflictFunc) Resolve(c *Conflict) Resolution { return f(c) }

// Resolve decides a conflict between the server's and the device's
// versions of an item by the policy's Conflict rule (and TieBreak). device
// has been completed with what the device cannot hold. base returns the
// fingerprint of the version both sides last agreed on (nil when
// unknown); it is asked only for a merge. The data returned is what the
// item becomes: the merged item for Merged, the device's for DeviceWins,
// else the server's. both names the fields a merge found changed on both
// sides.
func (p *Policy) Resolve(base func() Fingerprint, server, device []byte) (r Resolution, data []byte, both []string) {
	if p.Conflict != ConflictMerge {
		if r = p.byRule(p.Conflict, server, device); r == DeviceWins {
			return r, device, nil
		}
		return r, server, nil
	}
	merged, both := Merge3(base(), server, device, TieBreakFor(p.TieBreak))
	// Compared by fingerprint, which (unlike SameContent) counts X-
	// fields: a merge that took only an X- field from the device is one.
	mf := FingerprintOf(merged)
	switch {
	case maps.Equal(mf, FingerprintOf(server)):
		return ServerWins, server, both
	case maps.Equal(mf, FingerprintOf(device)):
		return DeviceWins, device, both
	}
	return Merged, merged, both
}

// byRule is the resolution of rule r (not merge).
func (p *Policy) byRule(r ConflictRule, server, device []byte) Resolution {
	switch r {
	case ConflictDeviceWins:
		return DeviceWins
	case ConflictDuplicate:
		return KeepBoth
	case ConflictNewestWins:
		if newer, known := DeviceNewer(server, device); known {
			if newer {
				return DeviceWins
			}
			return ServerWins
		}
		if p.TieBreak == ConflictDeviceWins {
			return DeviceWins
		}
	}
	return ServerWins
}
