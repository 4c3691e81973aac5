package pim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syncml-imap/internal/folderpath"
	"time"
)

// Direction is which way a device's database syncs.
type Direction string

const (
	// DirTwoWay: changes flow both ways.
	DirTwoWay Direction = "two-way"
	// DirServerToDevice: the device gets everything; its own changes are
	// not applied to the mailbox but reverted on the device in the same
	// session (the server sends its version back), which every client
	// understands as ordinary server changes.
	DirServerToDevice Direction = "server-to-device"
	// DirDeviceToServer: the device's changes are applied; nothing is
	// sent to it.
	DirDeviceToServer Direction = "device-to-server"
	// DirOff: the database is not synced for this device (404).
	DirOff Direction = "off"
)

// ConflictRule is how an item changed on both sides is resolved.
type ConflictRule string

const (
	ConflictServerWins ConflictRule = "server-wins"
	ConflictDeviceWins ConflictRule = "device-wins"
	ConflictNewestWins ConflictRule = "newest-wins" // by the items' modification times
	ConflictDuplicate  ConflictRule = "duplicate"   // keep both
	ConflictMerge      ConflictRule = "merge"       // field by field, TieBreak for fields changed on both sides
)

// Policy is how one device syncs. The server's defaults come from the
// configuration; a device slot may override any key (Overrides).
type Policy struct {
	Direction Direction
	// Directions overrides Direction per database ("contacts",
	// "calendar", "tasks").
	Directions map[Kind]Direction
	Conflict   ConflictRule
	// TieBreak decides fields changed on both sides in a merge (and a
	// newest-wins without times): server-wins, device-wins, newest-wins.
	TieBreak ConflictRule
	// ContactCategories: only contacts in one of them are sent; empty: all.
	ContactCategories []string
	// ContactFolders: the device's contacts are those of these
	// sub-folders of the contacts folder ("Family", "Friends/School");
	// its new contacts go to the first. Empty: the contacts folder.
	ContactFolders []string
	// CalendarPast, CalendarFuture: events are sent when an occurrence
	// overlaps [now-past, now+future]; 0: unbounded on that side.
	CalendarPast, CalendarFuture time.Duration
	// TasksOpenOnly: only tasks not completed or cancelled are sent.
	TasksOpenOnly bool
	// TimeZone (IANA) of a device that sends local times without a TZ.
	TimeZone string
	// BackupFirstSync: before a device's first sync of a database, its
	// folder is copied (when the store can: Snapshotter).
	BackupFirstSync bool
}

// DefaultPolicy is the policy of a server configured with nothing: two
// way, merge with server-wins, everything sent.
func DefaultPolicy() Policy {
	return Policy{Direction: DirTwoWay, Conflict: ConflictMerge, TieBreak: ConflictServerWins}
}

// DirectionOf is the direction for database db.
func (p *Policy) DirectionOf(db Kind) Direction {
	if d, ok := p.Directions[db]; ok && d != "" {
		return d
	}
	if p.Direction == "" {
		return DirTwoWay
	}
	return p.Direction
}

// Filter is the device's filter for database db (to-dos carried in a
// calendar database follow the tasks rule).
func (p *Policy) Filter(db Kind) FilterRule {
	switch db {
	case "contacts":
		return FilterRule{Categories: p.ContactCategories}
	case "calendar":
		return FilterRule{Past: p.CalendarPast, Future: p.CalendarFuture, OpenOnly: p.TasksOpenOnly}
	case "tasks":
		return FilterRule{OpenOnly: p.TasksOpenOnly}
	}
	return FilterRule{}
}

// PolicyKeys are the keys a slot's policy overrides may set, named as in
// the configuration's [sync.defaults] table.
var PolicyKeys = []string{
	"direction", "contacts_direction", "calendar_direction", "tasks_direction",
	"conflict", "conflict_tie_break", "contact_categories", "contact_folders",
	"calendar_past", "calendar_future", "tasks_open_only", "time_zone", "backup_before_first_sync",
}

// WithOverrides returns p with the overrides applied (keys of
// PolicyKeys, values as in the configuration file; lists comma-separated;
// an empty value for a *_direction key removes that override). It says
// which key is wrong and why.
func (p Policy) WithOverrides(ov map[string]string) (Policy, error) {
	p.Directions = cloneDirections(p.Directions)
	p.ContactCategories = slices.Clone(p.ContactCategories)
	p.ContactFolders = slices.Clone(p.ContactFolders)
	keys := make([]string, 0, len(ov))
	for k := range ov {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := p.set(k, strings.TrimSpace(ov[k])); err != nil {
			return p, fmt.Errorf("policy %s: %w", k, err)
		}
	}
	return p, nil
}

func cloneDirections(m map[Kind]Direction) map[Kind]Direction {
	out := make(map[Kind]Direction, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (p *Policy) set(key, v string) error {
	switch key {
	case "direction":
		d, err := parseDirection(v)
		if err != nil {
			return err
		}
		p.Direction = d
	case "contacts_direction", "calendar_direction", "tasks_direction":
		db := Kind(strings.TrimSuffix(key, "_direction"))
		if v == "" {
			delete(p.Directions, db)
			return nil
		}
		d, err := parseDirection(v)
		if err != nil {
			return err
		}
		p.Directions[db] = d
	case "conflict":
		c, err := parseConflict(v, false)
		if err != nil {
			return err
		}
		p.Conflict = c
	case "conflict_tie_break":
		c, err := parseConflict(v, true)
		if err != nil {
			return err
		}
		p.TieBreak = c
	case "contact_categories":
		p.ContactCategories = nil
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" {
				p.ContactCategories = append(p.ContactCategories, c)
			}
		}
	case "contact_folders":
		p.ContactFolders = nil
		for _, f := range strings.Split(v, ",") {
			f = folderpath.Trim(f)
			if f == "" {
				continue
			}
			if err := folderpath.Check(f); err != nil {
				return fmt.Errorf("invalid sub-folder %q: %w", f, err)
			}
			p.ContactFolders = append(p.ContactFolders, f)
		}
	case "calendar_past", "calendar_future":
		d, err := ParseDays(v)
		if err != nil {
			return err
		}
		if key == "calendar_past" {
			p.CalendarPast = d
		} else {
			p.CalendarFuture = d
		}
	case "tasks_open_only":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		p.TasksOpenOnly = b
	case "backup_before_first_sync":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		p.BackupFirstSync = b
	case "time_zone":
		if v != "" {
			if _, err := time.LoadLocation(v); err != nil || strings.EqualFold(v, "local") {
				return fmt.Errorf("unknown time zone %q", v)
			}
		}
		p.TimeZone = v
	default:
		return fmt.Errorf("unknown key; known: %s", strings.Join(PolicyKeys, ", "))
	}
	return nil
}

func parseDirection(v string) (Direction, error) {
	d := Direction(strings.ToLower(v))
	switch d {
	case DirTwoWay, DirServerToDevice, DirDeviceToServer, DirOff:
		return d, nil
	}
	return "", fmt.Errorf("invalid value %q; want two-way, server-to-device, device-to-server or off", v)
}

func parseConflict(v string, TieBreak bool) (ConflictRule, error) {
	c := ConflictRule(strings.ToLower(v))
	switch c {
	case ConflictServerWins, ConflictDeviceWins, ConflictNewestWins:
		return c, nil
	case ConflictDuplicate, ConflictMerge:
		if !TieBreak {
			return c, nil
		}
		return "", fmt.Errorf("invalid value %q; want server-wins, device-wins or newest-wins", v)
	}
	if TieBreak {
		return "", fmt.Errorf("invalid value %q; want server-wins, device-wins or newest-wins", v)
	}
	return "", fmt.Errorf("invalid value %q; want server-wins, device-wins, newest-wins, duplicate or merge", v)
}

// ParseDays reads a duration as the configuration writes it: a Go
// duration ("36h") or whole days ("30d"); "0" is zero.
func ParseDays(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 36500 {
			return 0, fmt.Errorf("invalid duration %q (want e.g. 30d or 36h)", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > 36500*24*time.Hour {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 30d or 36h)", s)
	}
	return d, nil
}

// Format writes the policy as key = value lines (PolicyKeys order).
func (p *Policy) Format() []string {
	dur := func(d time.Duration) string {
		if d == 0 {
			return "0"
		}
		if d%(24*time.Hour) == 0 {
			return strconv.Itoa(int(d/(24*time.Hour))) + "d"
		}
		return d.String()
	}
	return []string{
		"direction = " + string(p.DirectionOf("")),
		"contacts_direction = " + string(p.DirectionOf("contacts")),
		"calendar_direction = " + string(p.DirectionOf("calendar")),
		"tasks_direction = " + string(p.DirectionOf("tasks")),
		"conflict = " + string(p.Conflict),
		"conflict_tie_break = " + string(p.TieBreak),
		"contact_categories = " + strings.Join(p.ContactCategories, ","),
		"contact_folders = " + strings.Join(p.ContactFolders, ","),
		"calendar_past = " + dur(p.CalendarPast),
		"calendar_future = " + dur(p.CalendarFuture),
		"tasks_open_only = " + strconv.FormatBool(p.TasksOpenOnly),
		"time_zone = " + p.TimeZone,
		"backup_before_first_sync = " + strconv.FormatBool(p.BackupFirstSync),
	}
}
