package pim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Slot is one of an account's device slots. It lives in the state
// records (key "slot/<device ID>"), with the device's other records under
// "device/<device ID>/", which its front keeps there (for SyncML: its
// DevInf and, per database, anchors, item map and sync point).
type Slot struct {
	Number   int    `json:"number"`
	DeviceID string `json:"device_id"`
	// What the device says it is (SyncML: from its DevInf).
	Manufacturer    string `json:"manufacturer,omitempty"`
	Model           string `json:"model,omitempty"`
	SoftwareVersion string `json:"software_version,omitempty"`
	DevType         string `json:"dev_type,omitempty"`

	FirstSync time.Time `json:"first_sync"`
	LastSync  time.Time `json:"last_sync,omitzero"`
	// Databases the device synced, with the time of the last completed
	// sync of each.
	Databases map[Kind]time.Time `json:"databases,omitempty"`
	// Overrides of the server's default policy (PolicyKeys).
	Overrides map[string]string `json:"overrides,omitempty"`
	// Protocol is how the device syncs ("SyncML" when empty: slots from
	// before fronts named it).
	Protocol string `json:"protocol,omitempty"`

	// Last is what the last completed sync of each database did, filled
	// from the database states (not kept in the slot).
	Last map[Kind]SyncSummary `json:"-"`
}

// ProtocolName is the slot's protocol, "SyncML" for a slot that names
// none.
func (s *Slot) ProtocolName() string {
	if s.Protocol == "" {
		return "SyncML"
	}
	return s.Protocol
}

// StateStore is the part of a Store that keeps state records.
type StateStore interface {
	LoadState(ctx context.Context, key string) ([]byte, error)
	SaveState(ctx context.Context, key string, data []byte) error
	DeleteState(ctx context.Context, key string) error
	ListState(ctx context.Context, prefix string) ([]string, error)
}

// SlotsFullError refuses a new device when every slot is taken.
type SlotsFullError struct {
	Max   int
	Slots []*Slot
}

func (e *SlotsFullError) Error() string {
	var ids []string
	for _, s := range e.Slots {
		ids = append(ids, strconv.Quote(s.DeviceID))
	}
	return fmt.Sprintf("all %d device slots of this account are taken (by %s); "+
		"the administrator frees one with \"syncml-imap devices remove -user USER -device ID\" "+
		"or raises [sync] max_devices", e.Max, strings.Join(ids, ", "))
}

// ErrNoSuchDevice: no slot holds the device.
var ErrNoSuchDevice = errors.New("no such device")

const slotPrefix = "slot/"

func slotKey(deviceID string) string { return slotPrefix + deviceID }

// DevicePrefix starts the names of every state record of a device.
func DevicePrefix(deviceID string) string { return "device/" + deviceID + "/" }

// DeviceKey names the state record name of a device: its per-database
// states, its last error, whatever a front keeps for it. They all start
// with the device's prefix, so that removing the device removes them.
func DeviceKey(deviceID, name string) string { return DevicePrefix(deviceID) + name }

// LastErrorKey is the record of a device's last session that went wrong.
func LastErrorKey(deviceID string) string { return DeviceKey(deviceID, "last-error") }

// LastError is what the device's last-error record holds: when a session
// of the device ended badly, how, and why in plain words. It is not
// cleared by a good session; it is news only while newer than the
// device's last completed sync.
type LastError struct {
	Time   time.Time `json:"time"`
	Result Result    `json:"result"`
	Error  string    `json:"error"`
}

// Devices manages an account's device slots: the engine claims one per
// device, the admin commands list, change, reset and remove them.
type Devices struct {
	st  StateStore
	max int
	// Now is the clock (time.Now unless a test sets it).
	Now func() time.Time
}

// NewDevices manages the slots of the account behind st; max is the
// number of slots (at least 1).
func NewDevices(st StateStore, max int) *Devices {
	if max < 1 {
		max = 1
	}
	return &Devices{st: st, max: max, Now: time.Now}
}

// list returns the slots in number order, as stored.
func (d *Devices) list(ctx context.Context) ([]*Slot, error) {
	keys, err := d.st.ListState(ctx, slotPrefix)
	if err != nil {
		return nil, fmt.Errorf("list device slots: %w", err)
	}
	var out []*Slot
	for _, k := range keys {
		s, err := d.load(ctx, strings.TrimPrefix(k, slotPrefix))
		if err != nil {
			return nil, err
		}
		if s != nil {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *Slot) int {
		if a.Number != b.Number {
			return a.Number - b.Number
		}
		if c := a.FirstSync.Compare(b.FirstSync); c != 0 {
			return c
		}
		return strings.Compare(a.DeviceID, b.DeviceID)
	})
	// Two devices that claimed at the same moment may hold one number:
	// the later is shown under the first free number. Every reader
	// decides the same way (first sync times do not change); nothing is
	// written here, as a reader must not bring back a slot its claimant
	// withdrew meanwhile.
	used := map[int]bool{}
	var moved []*Slot
	for _, s := range out {
		if s.Number < 1 || used[s.Number] {
			moved = append(moved, s)
			continue
		}
		used[s.Number] = true
	}
	for _, s := range moved {
		n := 1
		for used[n] {
			n++
		}
		s.Number, used[n] = n, true
	}
	if len(moved) > 0 {
		slices.SortFunc(out, func(a, b *Slot) int { return a.Number - b.Number })
	}
	return out, nil
}

// List returns the slots in number order, with their sync times.
func (d *Devices) List(ctx context.Context) ([]*Slot, error) {
	all, err := d.list(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range all {
		if err := d.fill(ctx, s); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// Get returns the device's slot with its sync times, nil when it has
// none.
func (d *Devices) Get(ctx context.Context, deviceID string) (*Slot, error) {
	s, err := d.load(ctx, deviceID)
	if err != nil || s == nil {
		return s, err
	}
	return s, d.fill(ctx, s)
}

// LastError returns the device's last session that went wrong (its
// last-error record), nil when there is none or when the device has
// completed a sync since (the record is not cleared on success). An
// unreadable record counts as none.
func (d *Devices) LastError(ctx context.Context, s *Slot) (*LastError, error) {
	raw, err := d.st.LoadState(ctx, LastErrorKey(s.DeviceID))
	if err != nil {
		return nil, fmt.Errorf("pim: device %q: read its last error: %w", s.DeviceID, err)
	}
	var e LastError
	if raw == nil || json.Unmarshal(raw, &e) != nil || e.Time.IsZero() || !e.Time.After(s.LastSync) {
		return nil, nil
	}
	return &e, nil
}

// fill takes the device's sync times from its database states (the
// records DeviceKey(device, database), JSON with a "Synced" time), which
// every completed sync writes anyway (so a sync need not write the slot
// too): per database, and the latest as LastSync.
func (d *Devices) fill(ctx context.Context, s *Slot) error {
	for _, db := range Kinds {
		raw, err := d.st.LoadState(ctx, DeviceKey(s.DeviceID, string(db)))
		if err != nil {
			return fmt.Errorf("read state of %q: %w", s.DeviceID, err)
		}
		var st struct { // of a front's database state
			Synced time.Time
			Last   *SyncSummary
		}
		if raw == nil || json.Unmarshal(raw, &st) != nil || st.Synced.IsZero() {
			continue
		}
		if s.Databases == nil {
			s.Databases = map[Kind]time.Time{}
		}
		if st.Synced.After(s.Databases[db]) {
			s.Databases[db] = st.Synced
		}
		if st.Last != nil {
			if s.Last == nil {
				s.Last = map[Kind]SyncSummary{}
			}
			s.Last[db] = *st.Last
		}
		if st.Synced.After(s.LastSync) {
			s.LastSync = st.Synced
		}
	}
	return nil
}

// Find returns the slot a reference names: a device ID, or a slot number,
// with its sync times. Either way the slot is the one List shows, so its
// number is the one List gives it and its times come from the device's
// records (fill), whatever the reference.
func (d *Devices) Find(ctx context.Context, ref string) (*Slot, error) {
	all, err := d.list(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(all, func(s *Slot) bool { return s.DeviceID == ref })
	if n, err := strconv.Atoi(ref); i < 0 && err == nil {
		i = slices.IndexFunc(all, func(s *Slot) bool { return s.Number == n })
	}
	if i < 0 {
		return nil, fmt.Errorf("%w %q (give a device ID or a slot number; \"devices list\" shows them)", ErrNoSuchDevice, ref)
	}
	return all[i], d.fill(ctx, all[i])
}

func (d *Devices) load(ctx context.Context, deviceID string) (*Slot, error) {
	raw, err := d.st.LoadState(ctx, slotKey(deviceID))
	if err != nil {
		return nil, fmt.Errorf("read slot of %q: %w", deviceID, err)
	}
	if raw == nil {
		return nil, nil
	}
	s := &Slot{}
	if err := json.Unmarshal(raw, s); err != nil {
		return nil, fmt.Errorf("slot of %q unreadable: %w", deviceID, err)
	}
	if s.DeviceID == "" {
		s.DeviceID = deviceID
	}
	return s, nil
}

// Save writes a slot.
func (d *Devices) Save(ctx context.Context, s *Slot) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := d.st.SaveState(ctx, slotKey(s.DeviceID), raw); err != nil {
		return fmt.Errorf("save slot of %q: %w", s.DeviceID, err)
	}
	return nil
}

// Claim returns the device's slot, giving a new device the first free
// one. When all are taken it returns a *SlotsFullError and keeps nothing.
// Claims need no lock, on one instance or several: a new device writes
// its slot, then lists the slots again, and keeps its slot only when the
// slots (its own included) are not more than max; otherwise it withdraws
// and tries again a little later. A device that kept its slot was seen by
// every later claimant, so the slots never exceed max.
func (d *Devices) Claim(ctx context.Context, deviceID string) (*Slot, error) {
	if s, err := d.load(ctx, deviceID); err != nil || s != nil {
		return s, err
	}
	mine := &Slot{DeviceID: deviceID, FirstSync: d.Now().UTC().Truncate(time.Millisecond)}
	var others []*Slot
	for attempt := 0; attempt < 6; attempt++ {
		if attempt > 0 {
			// Two claimants withdrew from each other: try again apart.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(mrand.IntN(40*attempt)+5) * time.Millisecond):
			}
		}
		all, err := d.list(ctx)
		if err != nil {
			return nil, err
		}
		others = slices.DeleteFunc(all, func(s *Slot) bool { return s.DeviceID == deviceID })
		if len(others) >= d.max {
			return nil, &SlotsFullError{Max: d.max, Slots: others}
		}
		mine.Number = firstFree(others)
		if err := d.Save(ctx, mine); err != nil {
			return nil, err
		}
		all, err = d.list(ctx)
		if err != nil {
			return nil, err
		}
		others = slices.DeleteFunc(all, func(s *Slot) bool { return s.DeviceID == deviceID })
		if len(others) < d.max {
			return mine, nil
		}
		if err := d.st.DeleteState(ctx, slotKey(deviceID)); err != nil {
			return nil, fmt.Errorf("withdraw slot of %q: %w", deviceID, err)
		}
	}
	return nil, &SlotsFullError{Max: d.max, Slots: others}
}

// firstFree is the lowest slot number none of slots has.
func firstFree(slots []*Slot) int {
	used := map[int]bool{}
	for _, s := range slots {
		used[s.Number] = true
	}
	n := 1
	for used[n] {
		n++
	}
	return n
}

// SetPolicy changes a device's policy overrides (an empty value removes
// a key) after checking them against base, the server's defaults.
func (d *Devices) SetPolicy(ctx context.Context, ref string, base Policy, kv map[string]string) (*Slot, Policy, error) {
	s, err := d.Find(ctx, ref)
	if err != nil {
		return nil, Policy{}, err
	}
	ov := map[string]string{}
	for k, v := range s.Overrides {
		ov[k] = v
	}
	for k, v := range kv {
		if strings.TrimSpace(v) == "" {
			if !slices.Contains(PolicyKeys, k) {
				return nil, Policy{}, fmt.Errorf("policy %s: unknown key; known: %s", k, strings.Join(PolicyKeys, ", "))
			}
			delete(ov, k)
			continue
		}
		ov[k] = v
	}
	p, err := base.WithOverrides(ov)
	if err != nil {
		return nil, Policy{}, err
	}
	s.Overrides = ov
	if len(ov) == 0 {
		s.Overrides = nil
	}
	return s, p, d.Save(ctx, s)
}

// Reset forgets the device's sync state (its records per database: sync
// points, item maps, a front's anchors): its next sync of every database
// starts over (SyncML: a slow sync). The slot, its policy and
// the items stay.
func (d *Devices) Reset(ctx context.Context, ref string) (*Slot, error) {
	s, err := d.forget(ctx, ref, "reset", func(rest string) bool {
		return slices.Contains(Kinds, Kind(strings.SplitN(rest, "/", 2)[0]))
	})
	if err != nil {
		return nil, err
	}
	s.Databases = nil
	return s, d.Save(ctx, s)
}

// Remove frees the device's slot and forgets everything kept about it;
// the items stay. The device, if it syncs again, is a new device.
func (d *Devices) Remove(ctx context.Context, ref string) (*Slot, error) {
	s, err := d.forget(ctx, ref, "remove", func(string) bool { return true })
	if err != nil {
		return nil, err
	}
	if err := d.st.DeleteState(ctx, slotKey(s.DeviceID)); err != nil {
		return nil, fmt.Errorf("remove %q: %w", s.DeviceID, err)
	}
	return s, nil
}

// forget deletes the device's records under "device/<id>/" whose rest of
// the key drop says.
func (d *Devices) forget(ctx context.Context, ref, op string, drop func(rest string) bool) (*Slot, error) {
	s, err := d.Find(ctx, ref)
	if err != nil {
		return nil, err
	}
	keys, err := d.st.ListState(ctx, DevicePrefix(s.DeviceID))
	if err != nil {
		return nil, fmt.Errorf("list state of %q: %w", s.DeviceID, err)
	}
	for _, k := range keys {
		if drop(strings.TrimPrefix(k, DevicePrefix(s.DeviceID))) {
			if err := d.st.DeleteState(ctx, k); err != nil {
				return nil, fmt.Errorf("%s %q: %w", op, s.DeviceID, err)
			}
		}
	}
	return s, nil
}

// Policy is the device's effective policy: base with its overrides.
func (s *Slot) Policy(base Policy) (Policy, error) {
	return base.WithOverrides(s.Overrides)
}
