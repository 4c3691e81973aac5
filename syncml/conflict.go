package syncml

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
)

// ConflictPolicy decides conflicts. Two versions with the same content
// are never a conflict: the policy is not asked.
type ConflictPolicy interface {
	Resolve(c *Conflict) Resolution
}

// ConflictFunc adapts a function to a ConflictPolicy.
type ConflictFunc func(c *Conflict) Resolution

func (f ConflictFunc) Resolve(c *Conflict) Resolution { return f(c) }

// DefaultConflictPolicy: the server wins, and the device's version is kept
// as a duplicate (it differs, or the policy would not be asked), so
// nothing anyone typed is lost.
var DefaultConflictPolicy ConflictPolicy = ConflictFunc(func(*Conflict) Resolution { return KeepBoth })

// status is the SyncML status reported to the device for a resolution
// (OMA-TS-SyncML_RepPro: 208 client won, 209 duplicate, 419 server won).
func (r Resolution) status() StatusCode {
	switch r {
	case DeviceWins:
		return StatusConflictClientWon
	case KeepBoth:
		return StatusConflictDuplicate
	}
	return StatusConflictServerWon
}
