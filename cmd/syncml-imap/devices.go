package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"syncml-imap/config"
	"syncml-imap/pim"
	"syncml-imap/plugin"
)

const devicesUsage = `Usage:
  syncml-imap devices list   -config FILE -user NAME [-json]
  syncml-imap devices list   -config FILE -all [-user NAME,...] [-json]
  syncml-imap devices show   -config FILE -user NAME -device ID|N [-json]
  syncml-imap devices set    -config FILE -user NAME -device ID|N key=value ...
  syncml-imap devices reset  -config FILE -user NAME -device ID|N [-yes]
  syncml-imap devices remove -config FILE -user NAME -device ID|N [-yes]
  syncml-imap devices unlock -config FILE -user NAME [-device ID|N] [-server URL ...]

  list    the user's device slots: number, device, model, last sync,
          databases and policy overrides
  list -all
          the same for every account: those named with -user (repeat it,
          or give a comma list), those in [admin] users_file, and those
          the running daemon saw log in since it started (IMAP cannot list
          a server's accounts; without the daemon a note says they are
          left out). Needs [imap] master_user, which opens each account.
          One block per account; an account that cannot be opened gets
          its error and the others go on (exit status 1). -json prints
          an array of {"user", "devices", "error"}
  show    one slot in full, with the effective policy
  set     change the device's policy: keys as in [sync.defaults]
          (` + "`key=`" + ` removes the device's override of key)
  reset   forget the device's sync state: its next sync is a slow sync
  remove  free the slot and forget the device; the items stay
  unlock  lift the login lockout of the device (all of the user's
          devices without -device) in the running daemon: after
          [auth] max_failures wrong passwords a device is refused until
          [auth] lockout has passed or it is unlocked

  list and show also ask the running daemon which devices are locked out
  (and say so in one line when it cannot be reached), and show a
  device's last failed sync. The daemon is found at [http] listen and
  path of the configuration; -server URL (the endpoint's URL, repeat it
  for each instance: lockouts live in each instance's memory) asks
  others.
  -device takes a device ID or a slot number, as "list" shows them.
  Password: with [imap] master_user configured and SYNCML_IMAP_PASSWORD
  unset, the master user logs in on the user's behalf; otherwise the
  password comes from SYNCML_IMAP_PASSWORD, or is asked for on the
  terminal. There is no password flag (it would show in ps).
  reset and remove ask y/N on a terminal; -yes skips the question and is
  required when stdin is not a terminal.
  Exit status: 0 done, 1 runtime error (IMAP server, configuration),
  2 usage or validation error (unknown device, bad key or value).
`

// console is the admin's terminal, if there is one, for a password
// prompt and y/N questions.
type console interface {
	// interactive reports whether stdin is a terminal to ask on.
	interactive() bool
	readPassword(ctx context.Context, prompt string) (string, error)
	confirm(ctx context.Context, question string) (bool, error)
}

func cmdDevices(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runDevices(ctx, args, stdout, stderr, &ttyConsole{stdin: os.Stdin})
}

// devicesCmd is one invocation of "devices".
type devicesCmd struct {
	sub            string
	user, device   string
	users          userList // list: every -user
	all            bool     // list -all
	json, yes      bool
	kv             map[string]string
	servers        stringList
	configPath     string
	stdout, stderr io.Writer
}

// userList is -user of "devices list": repeatable, each a comma list.
type userList []string

func (l *userList) String() string { return strings.Join(*l, ",") }

func (l *userList) Set(v string) error {
	for _, u := range strings.Split(v, ",") {
		if u = strings.TrimSpace(u); u != "" {
			*l = append(*l, u)
		}
	}
	return nil
}

// stringList is a flag that may be given several times.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, " ") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func (c *devicesCmd) fail(err error) {
	fmt.Fprintf(c.stderr, "devices %s: %v\n", c.sub, err)
}

func runDevices(ctx context.Context, args []string, stdout, stderr io.Writer, con console) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, devicesUsage)
		return 2
	}
	c := &devicesCmd{sub: args[0], stdout: stdout, stderr: stderr}
	switch c.sub {
	case "list", "show", "set", "reset", "remove", "unlock":
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, devicesUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "devices: unknown subcommand %q\n\n%s", c.sub, devicesUsage)
		return 2
	}
	f := newFlags("devices "+c.sub, stderr)
	f.fs.Usage = func() { fmt.Fprint(stderr, devicesUsage) }
	if c.sub == "list" {
		f.fs.Var(&c.users, "user", "the user whose devices to list (with -all: repeat it, or a comma list)")
		f.fs.BoolVar(&c.all, "all", false, "list the devices of every account (needs [imap] master_user)")
	} else {
		f.fs.StringVar(&c.user, "user", "", "the user whose devices to manage")
		f.fs.StringVar(&c.device, "device", "", "device ID or slot number")
	}
	if c.sub == "list" || c.sub == "show" {
		f.fs.BoolVar(&c.json, "json", false, "print JSON")
	}
	if c.sub == "reset" || c.sub == "remove" {
		f.fs.BoolVar(&c.yes, "yes", false, "do not ask for confirmation")
	}
	if c.sub == "list" || c.sub == "show" || c.sub == "unlock" {
		f.fs.Var(&c.servers, "server", "the daemon's SyncML endpoint URL (repeat for each instance); default: [http] listen and path")
	}
	// Flags may come before or after the key=value arguments.
	rest, code, ok := parseInterleaved(f.fs, args[1:])
	if !ok {
		return code
	}
	if code := c.checkArgs(rest); code != 0 {
		return code
	}
	if (c.sub == "reset" || c.sub == "remove") && !c.yes && !con.interactive() {
		c.fail(fmt.Errorf("stdin is not a terminal, so there is no one to confirm; add -yes to %s device %q", c.sub, c.device))
		return 2
	}

	c.configPath = f.config
	// The password typed at a prompt serves the daemon's admin requests too.
	rc := &rememberingConsole{console: con}
	if c.sub == "unlock" {
		return c.unlock(ctx, f, rc)
	}
	if c.all {
		return c.listAll(ctx, f)
	}

	// No overall deadline: the IMAP options' dial and command timeouts
	// bound the I/O, and a y/N question may wait for the admin.
	// list and show only look: they must not create the folders of an
	// account that never synced.
	cfg, store, code := openAdmin(ctx, f, c.user, c.sub == "list" || c.sub == "show", rc, stderr, c.fail)
	if store == nil {
		return code
	}
	defer store.Close()
	d := plugin.AdminDevices(cfg, store)
	base := plugin.Policy(cfg.Sync.Defaults)

	var err error
	switch c.sub {
	case "list":
		err = c.list(ctx, d, c.daemonLockouts(ctx, cfg, rc), cfg.Sync.MaxDevices)
	case "show":
		err = c.show(ctx, d, store, c.daemonLockouts(ctx, cfg, rc), base, cfg.Sync.MaxDevices)
	case "set":
		err = c.set(ctx, d, base)
	case "reset", "remove":
		err = c.resetOrRemove(ctx, d, con)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, pim.ErrNoSuchDevice):
		c.fail(err)
		return 2
	}
	c.fail(err)
	return 1
}

// checkArgs validates the arguments before anything is read: every
// usage and policy mistake is reported without a login.
func (c *devicesCmd) checkArgs(rest []string) int {
	var problem string
	if c.sub == "list" && !c.all {
		switch len(c.users) {
		case 0:
		case 1:
			c.user = c.users[0]
		default:
			problem = "-user names one user; -all lists the devices of several"
		}
	}
	switch {
	case problem != "":
	case c.user == "" && !c.all:
		problem = "-user is required"
	case c.sub != "list" && c.sub != "unlock" && c.device == "":
		problem = "-device is required (a device ID or a slot number, as \"devices list\" shows them)"
	case c.sub == "set" && len(rest) == 0:
		problem = "give at least one key=value (keys: " + strings.Join(pim.PolicyKeys, ", ") + ")"
	case c.sub != "set" && len(rest) > 0:
		problem = fmt.Sprintf("unexpected argument %q", rest[0])
	}
	if problem != "" {
		fmt.Fprintf(c.stderr, "devices %s: %s\n\n%s", c.sub, problem, devicesUsage)
		return 2
	}
	if c.sub != "set" {
		return 0
	}
	c.kv = map[string]string{}
	for _, arg := range rest {
		k, v, ok := strings.Cut(arg, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok || k == "":
			problem = fmt.Sprintf("argument %q: want key=value (key= removes the override)", arg)
		case !slices.Contains(pim.PolicyKeys, k):
			problem = fmt.Sprintf("policy %s: unknown key; known: %s", k, strings.Join(pim.PolicyKeys, ", "))
		default:
			if _, dup := c.kv[k]; dup {
				problem = fmt.Sprintf("policy %s: given twice", k)
				break
			}
			// Each key's value is checked on its own, so a policy with
			// just this override tells whether it is valid; SetPolicy
			// checks again against the real defaults.
			if strings.TrimSpace(v) != "" {
				if _, err := pim.DefaultPolicy().WithOverrides(map[string]string{k: v}); err != nil {
					problem = err.Error()
				}
			}
		}
		if problem != "" {
			c.fail(errors.New(problem))
			return 2
		}
		c.kv[k] = v
	}
	return 0
}

// localTime is a time for the admin, in the server's local zone.
func localTime(t time.Time, layout string) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format(layout)
}

func modelOf(s *pim.Slot) string {
	return strings.TrimSpace(s.Manufacturer + " " + s.Model)
}

// joinKinds joins kinds with commas.
func joinKinds(ks []pim.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}

// databasesOf lists the slot's databases, the served ones in their
// usual order first.
func databasesOf(s *pim.Slot) []pim.Kind {
	var dbs []pim.Kind
	for db := range s.Databases {
		dbs = append(dbs, db)
	}
	slices.SortFunc(dbs, func(a, b pim.Kind) int {
		ia, ib := slices.Index(pim.Kinds, a), slices.Index(pim.Kinds, b)
		if ia < 0 {
			ia = len(pim.Kinds)
		}
		if ib < 0 {
			ib = len(pim.Kinds)
		}
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(string(a), string(b))
	})
	return dbs
}

// overriddenKeys are the slot's overridden policy keys in PolicyKeys order.
func overriddenKeys(s *pim.Slot) []string {
	var keys []string
	for _, k := range pim.PolicyKeys {
		if _, ok := s.Overrides[k]; ok {
			keys = append(keys, k)
		}
	}
	for k := range s.Overrides {
		if !slices.Contains(pim.PolicyKeys, k) {
			keys = append(keys, k) // written by a newer version, say
		}
	}
	return keys
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *devicesCmd) writeJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// slotJSON is a slot as list -json and show -json print it.
type slotJSON struct {
	*pim.Slot
	// Lockout is the device's login lockout in the daemon, if any.
	Lockout *serverLockout `json:"lockout,omitempty"`
	// LastError is the device's last failed sync, when it is newer than
	// its last successful one.
	LastError *pim.LastError `json:"last_error,omitempty"`
}

// listed are an account's slots with their last errors.
type listed struct {
	slots []*pim.Slot
	errs  map[string]*pim.LastError // by device ID
}

func readSlots(ctx context.Context, d *pim.Devices) (*listed, error) {
	slots, err := d.List(ctx)
	if err != nil {
		return nil, err
	}
	l := &listed{slots: slots, errs: map[string]*pim.LastError{}}
	for _, s := range slots {
		if l.errs[s.DeviceID], err = d.LastError(ctx, s); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// slotsJSON are the slots as list -json prints them.
func (l *listed) slotsJSON(lk *lockouts) []slotJSON {
	out := []slotJSON{}
	for _, s := range l.slots {
		out = append(out, slotJSON{Slot: s, Lockout: lk.device(s.DeviceID), LastError: l.errs[s.DeviceID]})
	}
	return out
}

func (c *devicesCmd) list(ctx context.Context, d *pim.Devices, lk *lockouts, max int) error {
	l, err := readSlots(ctx, d)
	if err != nil {
		return err
	}
	if c.json {
		out := l.slotsJSON(lk)
		return c.writeJSON(struct {
			User       string          `json:"user"`
			MaxDevices int             `json:"max_devices"`
			Slots      []slotJSON      `json:"slots"`
			Lockouts   []serverLockout `json:"lockouts"`
			// LockoutsError says why Lockouts could not be read.
			LockoutsError string `json:"lockouts_error,omitempty"`
		}{c.user, max, out, lk.nonNil(), lk.errText()})
	}
	return c.writeList(l, lk, max)
}

// writeList prints an account's slots as a table, headed by the user,
// with a line for each lockout and last error.
func (c *devicesCmd) writeList(l *listed, lk *lockouts, max int) error {
	slots, errs := l.slots, l.errs
	fmt.Fprintf(c.stdout, "%s: %d of %d slots used\n", c.user, len(slots), max)
	if len(slots) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tDEVICE ID\tPROTOCOL\tMODEL\tLAST SYNC\tDATABASES\tPOLICY")
	for _, s := range slots {
		policy := "default"
		if keys := overriddenKeys(s); len(keys) > 0 {
			var kv []string
			for _, k := range keys {
				kv = append(kv, k+"="+s.Overrides[k])
			}
			policy = strings.Join(kv, " ")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Number, s.DeviceID, s.ProtocolName(), orDash(modelOf(s)),
			localTime(s.LastSync, "2006-01-02 15:04"), orDash(joinKinds(databasesOf(s))), policy)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range slots {
		if l := lk.device(s.DeviceID); l != nil {
			fmt.Fprintf(c.stdout, "slot %d %s: %s\n", s.Number, s.DeviceID, c.lockedLine(l))
			if l.LastError != "" {
				fmt.Fprintf(c.stdout, "  last failed login: %s\n", l.LastError)
			}
		}
		if e := errs[s.DeviceID]; e != nil {
			fmt.Fprintf(c.stdout, "slot %d %s: %s\n", s.Number, s.DeviceID, lastErrorLine(e))
		}
	}
	c.writeOtherLockouts(lk, slots)
	return nil
}

// writeOtherLockouts prints the lockouts that are not of a slot's
// device: devices without a slot, the user over all devices, addresses.
func (c *devicesCmd) writeOtherLockouts(lk *lockouts, slots []*pim.Slot) {
	for _, l := range lk.list {
		if l.LockedUntil.IsZero() {
			continue
		}
		switch l.Scope {
		case plugin.ScopeDevice:
			if slices.ContainsFunc(slots, func(s *pim.Slot) bool { return s.DeviceID == l.Device }) {
				continue
			}
			name := "device " + l.Device + " (no slot)"
			if l.Device == "" {
				name = "logins without a device (admin)"
			}
			fmt.Fprintf(c.stdout, "%s: %s\n", name, c.lockedLine(&l))
		case plugin.ScopeUser:
			fmt.Fprintf(c.stdout, "all devices of %s: locked until %s (%d failed logins over all devices)%s; unlock: %s\n",
				c.user, localTime(l.LockedUntil, "15:04"), l.Failures, l.onServer(), c.unlockCommand(""))
		case plugin.ScopeAddress:
			fmt.Fprintf(c.stdout, "address %s: locked until %s for every user (%d failed logins from it)%s; unlocking the devices that failed from it frees it\n",
				l.Address, localTime(l.LockedUntil, "15:04"), l.Failures, l.onServer())
		}
	}
	if lk.err != nil {
		fmt.Fprintf(c.stderr, "devices %s: lockouts not shown: %v\n", c.sub, lk.err)
	}
}

// lockedLine is "locked until HH:MM (N failed logins from ADDR); unlock:
// the command".
func (c *devicesCmd) lockedLine(l *serverLockout) string {
	from := ""
	if l.Address != "" {
		from = " from " + l.Address
	}
	if l.LockedUntil.IsZero() {
		return fmt.Sprintf("%d failed logins%s, not locked (yet)%s", l.Failures, from, l.onServer())
	}
	return fmt.Sprintf("locked until %s (%d failed logins%s)%s; unlock: %s", localTime(l.LockedUntil, "15:04"),
		l.Failures, from, l.onServer(), c.unlockCommand(l.Device))
}

// unlockCommand is the command line that unlocks device ("": all).
func (c *devicesCmd) unlockCommand(device string) string {
	cmd := "syncml-imap devices unlock -config " + shellQuote(c.configPath) + " -user " + shellQuote(c.user)
	if device != "" {
		cmd += " -device " + shellQuote(device)
	}
	for _, s := range c.servers {
		cmd += " -server " + shellQuote(s)
	}
	return cmd
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// policyLines is the effective policy, key = value, with the slot's
// overrides marked "*".
func policyLines(s *pim.Slot, p pim.Policy) []string {
	var out []string
	for _, line := range p.Format() {
		key, _, _ := strings.Cut(line, " = ")
		if _, ok := s.Overrides[key]; ok {
			out = append(out, "  * "+line)
		} else {
			out = append(out, "    "+line)
		}
	}
	return out
}

func (c *devicesCmd) writePolicy(s *pim.Slot, p pim.Policy) {
	fmt.Fprintln(c.stdout, "policy (* = this device's override, the rest from [sync.defaults]):")
	for _, line := range policyLines(s, p) {
		fmt.Fprintln(c.stdout, line)
	}
}

func (c *devicesCmd) show(ctx context.Context, d *pim.Devices, store pim.Store, lk *lockouts, base pim.Policy, max int) error {
	s, err := d.Find(ctx, c.device)
	if err != nil {
		return err
	}
	p, err := s.Policy(base)
	if err != nil {
		return fmt.Errorf("device %q: its stored %w", s.DeviceID, err)
	}
	lastErr, err := d.LastError(ctx, s)
	if err != nil {
		return err
	}
	locked := lk.device(s.DeviceID)
	if c.json {
		eff := map[string]string{}
		for _, line := range p.Format() {
			k, v, _ := strings.Cut(line, " = ")
			eff[k] = v
		}
		overridden := overriddenKeys(s)
		if overridden == nil {
			overridden = []string{}
		}
		return c.writeJSON(struct {
			slotJSON
			Policy        map[string]string `json:"policy"`
			Overridden    []string          `json:"overridden"`
			LockoutsError string            `json:"lockouts_error,omitempty"`
		}{slotJSON{s, locked, lastErr}, eff, overridden, lk.errText()})
	}
	const layout = "2006-01-02 15:04:05 -0700"
	w := c.stdout
	fmt.Fprintf(w, "device %s (slot %d of %d)\n", s.DeviceID, s.Number, max)
	fmt.Fprintf(w, "  protocol:         %s\n", s.ProtocolName())
	fmt.Fprintf(w, "  manufacturer:     %s\n", orDash(s.Manufacturer))
	fmt.Fprintf(w, "  model:            %s\n", orDash(s.Model))
	fmt.Fprintf(w, "  software version: %s\n", orDash(s.SoftwareVersion))
	fmt.Fprintf(w, "  device type:      %s\n", orDash(s.DevType))
	fmt.Fprintf(w, "  first sync:       %s\n", localTime(s.FirstSync, layout))
	fmt.Fprintf(w, "  last sync:        %s\n", localTime(s.LastSync, layout))
	if lastErr != nil {
		fmt.Fprintf(w, "  last error:       %s\n", lastErrorLine(lastErr))
	}
	if locked != nil {
		fmt.Fprintf(w, "  login:            %s\n", c.lockedLine(locked))
		if locked.LastError != "" {
			fmt.Fprintf(w, "  last failed login: %s\n", locked.LastError)
		}
	}
	if lk.err != nil {
		fmt.Fprintf(c.stderr, "devices %s: lockouts not shown: %v\n", c.sub, lk.err)
	}
	if dbs := databasesOf(s); len(dbs) == 0 {
		fmt.Fprintln(w, "databases: none synced yet")
	} else {
		fmt.Fprintln(w, "databases:")
		for _, db := range dbs {
			fmt.Fprintf(w, "  %-9s last sync %s\n", db, localTime(s.Databases[db], layout))
		}
	}
	c.writeFiltered(ctx, store, p)
	c.writePolicy(s, p)
	return nil
}

// writeFiltered says, for each database whose filter is active, how many
// of the mailbox's items it keeps off the device now (a calendar window
// hides events with no hint on the device itself).
func (c *devicesCmd) writeFiltered(ctx context.Context, store pim.Store, p pim.Policy) {
	for _, db := range pim.Kinds {
		if p.DirectionOf(db) == pim.DirOff {
			continue
		}
		n, err := p.CountFiltered(ctx, store, db, time.Now())
		switch {
		case err != nil:
			fmt.Fprintf(c.stderr, "devices show: %s: what the filter hides not counted: %v\n", db, err)
		case !n.Active && db == "calendar":
			fmt.Fprintln(c.stdout, "filter: no calendar window: every event is sent to this device")
		case n.Hidden > 0:
			fmt.Fprintf(c.stdout, "filter: %d of %d %s are not sent to this device (%s)\n", n.Hidden, n.Total, itemsOf(db), filterWhy(db, p))
		case n.Total > 0:
			fmt.Fprintf(c.stdout, "filter: all %d %s are sent to this device (%s)\n", n.Total, itemsOf(db), filterWhy(db, p))
		}
	}
}

func itemsOf(db pim.Kind) string {
	switch db {
	case "contacts":
		return "contacts"
	case "calendar":
		return "events and tasks in the calendar"
	}
	return "tasks"
}

func filterWhy(db pim.Kind, p pim.Policy) string {
	keys := map[pim.Kind][]string{
		"contacts": {"contact_categories"},
		"calendar": {"calendar_past", "calendar_future", "tasks_open_only"},
		"tasks":    {"tasks_open_only"},
	}[db]
	var why []string
	for _, line := range p.Format() {
		k, v, _ := strings.Cut(line, " = ")
		if slices.Contains(keys, k) && v != "" && v != "0" && v != "false" {
			why = append(why, line)
		}
	}
	return strings.Join(why, ", ")
}

func (c *devicesCmd) set(ctx context.Context, d *pim.Devices, base pim.Policy) error {
	s, p, err := d.SetPolicy(ctx, c.device, base, c.kv)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "device %s (slot %d): policy saved; it applies from the next sync\n", s.DeviceID, s.Number)
	c.writePolicy(s, p)
	return nil
}

func (c *devicesCmd) resetOrRemove(ctx context.Context, d *pim.Devices, con console) error {
	s, err := d.Find(ctx, c.device)
	if err != nil {
		return err
	}
	if !c.yes {
		var q string
		if c.sub == "reset" {
			q = fmt.Sprintf("Reset device %s (slot %d, %s) of %s? Its next sync will be a slow sync. [y/N] ",
				s.DeviceID, s.Number, orDash(modelOf(s)), c.user)
		} else {
			q = fmt.Sprintf("Remove device %s (slot %d, %s) of %s and free its slot? The items stay. [y/N] ",
				s.DeviceID, s.Number, orDash(modelOf(s)), c.user)
		}
		ok, err := con.confirm(ctx, q)
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(c.stdout, "nothing changed")
			return nil
		}
	}
	if c.sub == "reset" {
		if s, err = d.Reset(ctx, s.DeviceID); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "device %s (slot %d): sync state forgotten; its next sync of each database is a slow sync "+
			"(every item compared again; the items and the device's policy stay)\n", s.DeviceID, s.Number)
		return nil
	}
	if s, err = d.Remove(ctx, s.DeviceID); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "device %s: slot %d freed and its sync state forgotten; the items in the mailbox stay. "+
		"If it syncs again it takes a free slot as a new device (slow sync).\n", s.DeviceID, s.Number)
	return nil
}

// ttyConsole asks on the controlling terminal (/dev/tty, as ssh and sudo
// do, so prompts work with stdout redirected) when stdin is a terminal.
// Without golang.org/x/term in the module, echo is switched off with
// stty(1): "stty -g" saves the settings, "stty -echo" hides the typing
// and the saved settings are put back afterwards, also on Ctrl-C. No stty
// means no terminal: the password must then come from the environment.
type ttyConsole struct {
	stdin   *os.File
	checked bool
	isTTY   bool
}

func (t *ttyConsole) interactive() bool {
	if !t.checked {
		t.checked = true
		// A character device may be /dev/null; stty tells a terminal.
		if fi, err := t.stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			cmd := exec.Command("stty", "-g")
			cmd.Stdin = t.stdin
			t.isTTY = cmd.Run() == nil
		}
	}
	return t.isTTY
}

func stty(tty *os.File, args ...string) (string, error) {
	cmd := exec.Command("stty", args...)
	cmd.Stdin = tty
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("stty %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// ask writes prompt to the terminal and reads one line; with echo false
// the typing is not shown.
func (t *ttyConsole) ask(ctx context.Context, prompt string, echo bool) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("open terminal: %w", err)
	}
	// Closing the terminal ends a read still waiting (after Ctrl-C).
	defer tty.Close()
	if !echo {
		saved, err := stty(tty, "-g")
		if err != nil {
			return "", err
		}
		if _, err := stty(tty, "-echo"); err != nil {
			return "", err
		}
		defer func() {
			stty(tty, saved)
			fmt.Fprintln(tty) // the Enter that was not echoed
		}()
	}
	fmt.Fprint(tty, prompt)
	type answer struct {
		line string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(tty).ReadString('\n')
		got <- answer{strings.TrimRight(line, "\r\n"), err}
	}()
	select {
	case a := <-got:
		if a.err != nil && !(errors.Is(a.err, io.EOF) && a.line != "") {
			return "", fmt.Errorf("read from terminal: %w", a.err)
		}
		return a.line, nil
	case <-ctx.Done():
		return "", errors.New("interrupted")
	}
}

func (t *ttyConsole) readPassword(ctx context.Context, prompt string) (string, error) {
	return t.ask(ctx, prompt, false)
}

func (t *ttyConsole) confirm(ctx context.Context, question string) (bool, error) {
	line, err := t.ask(ctx, question, true)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// parseInterleaved parses flags that may stand before, between or after
// the other arguments, which it returns. When !ok the command ends with
// code (0 after -help).
func parseInterleaved(fs *flag.FlagSet, args []string) (rest []string, code int, ok bool) {
	for a := args; ; {
		if err := fs.Parse(a); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 2, false
		}
		if a = fs.Args(); len(a) == 0 {
			return rest, 0, true
		}
		rest, a = append(rest, a[0]), a[1:]
	}
}

// lastErrorLine says a device's last failed sync in one line.
func lastErrorLine(e *pim.LastError) string {
	s := "last sync failed " + localTime(e.Time, "2006-01-02 15:04")
	if e.Result != "" {
		s += " (" + string(e.Result) + ")"
	}
	if e.Error != "" {
		s += ": " + e.Error
	}
	return s
}

// rememberingConsole keeps the password typed at its prompt, so that one
// prompt serves both the mailbox and the daemon.
type rememberingConsole struct {
	console
	password string
}

func (r *rememberingConsole) readPassword(ctx context.Context, prompt string) (string, error) {
	pw, err := r.console.readPassword(ctx, prompt)
	if err == nil {
		r.password = pw
	}
	return pw, err
}

// daemonLogin returns the credentials for the daemon's admin requests, in
// the order the mailbox login takes them: SYNCML_IMAP_PASSWORD, else the
// master user, else the password typed (asked for now if it was not).
func (c *devicesCmd) daemonLogin(ctx context.Context, cfg *config.Config, rc *rememberingConsole) (string, string, error) {
	if pw := os.Getenv("SYNCML_IMAP_PASSWORD"); pw != "" {
		return c.user, pw, nil
	}
	if cfg.IMAP.MasterUser != "" {
		return cfg.IMAP.MasterUser, cfg.IMAP.MasterPassword, nil
	}
	if rc.password == "" && rc.interactive() {
		if _, err := rc.readPassword(ctx, "IMAP password of "+c.user+": "); err != nil {
			return "", "", err
		}
	}
	if rc.password == "" {
		return "", "", fmt.Errorf("%w for %s: set SYNCML_IMAP_PASSWORD, answer the prompt, or configure [imap] master_user", plugin.ErrNoPassword, c.user)
	}
	return c.user, rc.password, nil
}

// serverLockout is a lockout as one daemon instance reported it.
type serverLockout struct {
	plugin.Lockout
	// Server is the instance's URL, when more than one was asked.
	Server string `json:"server,omitempty"`
}

func (l *serverLockout) onServer() string {
	if l.Server == "" {
		return ""
	}
	return " on " + l.Server
}

// lockouts are the user's lockouts in the daemon, or why they could not
// be read.
type lockouts struct {
	list []serverLockout
	err  error
}

// device returns the device's lockout (the first instance's with one).
func (lk *lockouts) device(id string) *serverLockout {
	for i, l := range lk.list {
		if l.Scope == plugin.ScopeDevice && l.Device == id {
			return &lk.list[i]
		}
	}
	return nil
}

func (lk *lockouts) nonNil() []serverLockout {
	if lk.list == nil {
		return []serverLockout{}
	}
	return lk.list
}

func (lk *lockouts) errText() string {
	if lk.err == nil {
		return ""
	}
	return lk.err.Error()
}

// daemonLockouts asks the daemon (each -server) for the user's lockouts,
// best effort: what fails is in the result's err.
func (c *devicesCmd) daemonLockouts(ctx context.Context, cfg *config.Config, rc *rememberingConsole) *lockouts {
	login, password, err := c.daemonLogin(ctx, cfg, rc)
	if err != nil {
		return &lockouts{err: err}
	}
	return c.lockoutsOf(ctx, newDaemonClient(cfg, c.servers, login, password))
}

// lockoutsOf asks dc's instances for c.user's lockouts.
func (c *devicesCmd) lockoutsOf(ctx context.Context, dc *daemonClient) *lockouts {
	lk := &lockouts{}
	var errs []error
	for _, srv := range dc.servers {
		var got []plugin.Lockout
		err := dc.do(ctx, srv, plugin.AdminLockouts, url.Values{"user": {c.user}}, &got)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, l := range got {
			lk.list = append(lk.list, serverLockout{Lockout: l, Server: dc.label(srv)})
		}
	}
	lk.err = errors.Join(errs...)
	return lk
}

// unlock runs "devices unlock": a slot number is looked up in the
// mailbox, then each daemon instance is asked to lift the lockout.
func (c *devicesCmd) unlock(ctx context.Context, f *commonFlags, rc *rememberingConsole) int {
	device := c.device
	var cfg *config.Config
	if device != "" && strings.Trim(device, "0123456789") == "" {
		var store pim.Store
		var code int
		if cfg, store, code = openAdmin(ctx, f, c.user, true, rc, c.stderr, c.fail); store == nil {
			return code
		}
		s, err := plugin.AdminDevices(cfg, store).Find(ctx, device)
		store.Close()
		if err != nil {
			c.fail(err)
			if errors.Is(err, pim.ErrNoSuchDevice) {
				return 2
			}
			return 1
		}
		device = s.DeviceID
	} else {
		var err error
		if cfg, err = f.load(); err != nil {
			fmt.Fprintln(c.stderr, err)
			return 1
		}
	}
	login, password, err := c.daemonLogin(ctx, cfg, rc)
	if err != nil {
		c.fail(err)
		if errors.Is(err, plugin.ErrNoPassword) {
			return 2
		}
		return 1
	}
	dc := newDaemonClient(cfg, c.servers, login, password)
	what := "device " + device + " of " + c.user
	if device == "" {
		what = "the devices of " + c.user
	}
	code := 0
	for _, srv := range dc.servers {
		on := ""
		if l := dc.label(srv); l != "" {
			on = " on " + l
		}
		var got []plugin.Lockout
		err := dc.do(ctx, srv, plugin.AdminUnlock, url.Values{"user": {c.user}, "device": {device}}, &got)
		if err != nil {
			c.fail(err)
			code = 1
			continue
		}
		if len(got) == 0 {
			fmt.Fprintf(c.stdout, "%s: no failed logins counted%s; nothing to unlock\n", what, on)
			continue
		}
		for _, l := range got {
			state := "not locked"
			if !l.LockedUntil.IsZero() {
				state = "was locked until " + localTime(l.LockedUntil, "15:04")
			}
			switch l.Scope {
			case plugin.ScopeUser:
				fmt.Fprintf(c.stdout, "unlocked all devices of %s%s (%d failed logins over all devices, %s)\n", c.user, on, l.Failures, state)
			default:
				name := "device " + l.Device
				if l.Device == "" {
					name = "logins without a device"
				}
				fmt.Fprintf(c.stdout, "unlocked %s of %s%s (%d failed logins, %s); it may log in at once\n", name, c.user, on, l.Failures, state)
			}
		}
	}
	return code
}

// daemonClient makes admin requests to the running daemon's instances.
type daemonClient struct {
	servers         []string
	login, password string
	http            *http.Client
	// many: several instances, so each answer is labelled with its URL.
	many bool
}

// adminTimeout bounds one admin request: the daemon checks the password
// with one IMAP login.
const adminTimeout = 20 * time.Second

// newDaemonClient asks servers, or else the daemon this configuration
// describes: [http] listen (a wildcard address as 127.0.0.1) and path,
// over HTTPS when the daemon has a certificate, which is then checked
// for public_url's host name.
func newDaemonClient(cfg *config.Config, servers []string, login, password string) *daemonClient {
	dc := &daemonClient{login: login, password: password, http: &http.Client{Timeout: adminTimeout}, many: len(servers) > 1}
	for _, s := range servers {
		if !strings.Contains(s, "://") {
			s = "http://" + s
		}
		if u, err := url.Parse(s); err == nil && (u.Path == "" || u.Path == "/") {
			u.Path = cfg.HTTP.Path
			s = u.String()
		}
		dc.servers = append(dc.servers, s)
	}
	if len(dc.servers) > 0 {
		return dc
	}
	dc.servers = []string{localDaemonURL(cfg)}
	if cfg.HTTP.TLSCert != "" {
		if u, err := url.Parse(cfg.HTTP.PublicURL); err == nil && u.Hostname() != "" {
			dc.http.Transport = &http.Transport{TLSClientConfig: &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}}
		}
	}
	return dc
}

// localDaemonURL is the endpoint of the daemon cfg configures, as reached
// on this host.
func localDaemonURL(cfg *config.Config) string {
	scheme := "http"
	if cfg.HTTP.TLSCert != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil {
		host, port = cfg.HTTP.Listen, ""
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	hostport := host
	if port != "" {
		hostport = net.JoinHostPort(host, port)
	}
	return scheme + "://" + hostport + cfg.HTTP.Path
}

func (dc *daemonClient) label(server string) string {
	if dc.many {
		return server
	}
	return ""
}

// do makes the admin request op to server and decodes the JSON answer
// into out.
func (dc *daemonClient) do(ctx context.Context, server, op string, form url.Values, out any) error {
	u, err := url.Parse(server)
	if err != nil {
		return fmt.Errorf("daemon URL %q: %w", server, err)
	}
	q := u.Query()
	q.Set(plugin.AdminParam, op)
	var req *http.Request
	if op == plugin.AdminUnlock {
		u.RawQuery = q.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		for k, v := range form {
			q[k] = v
		}
		u.RawQuery = q.Encode()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	}
	if err != nil {
		return err
	}
	req.SetBasicAuth(dc.login, dc.password)
	where := "daemon at " + server
	resp, err := dc.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("%s not reachable (is it running? -server names another): %v", where, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	msg := strings.TrimSpace(string(body))
	switch resp.StatusCode {
	case http.StatusOK:
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("%s: not an admin answer (an older version, or not syncml-imap?): %v", where, err)
		}
		return nil
	case http.StatusUnauthorized:
		return fmt.Errorf("%s refused the login of %s: wrong password, or locked out after failed logins (the master user can still unlock)", where, dc.login)
	case http.StatusServiceUnavailable:
		return fmt.Errorf("%s cannot check the password now (IMAP server unavailable): %s", where, msg)
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return fmt.Errorf("%s has no admin requests (an older version?): %s %s", where, resp.Status, msg)
	}
	return fmt.Errorf("%s: %s: %s", where, resp.Status, msg)
}
