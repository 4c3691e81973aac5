package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"syncml-imap/plugin"
	"syncml-imap/syncml"
)

const devicesUsage = `Usage:
  syncml-imap devices list   -config FILE -user NAME [-json]
  syncml-imap devices show   -config FILE -user NAME -device ID|N [-json]
  syncml-imap devices set    -config FILE -user NAME -device ID|N key=value ...
  syncml-imap devices reset  -config FILE -user NAME -device ID|N [-yes]
  syncml-imap devices remove -config FILE -user NAME -device ID|N [-yes]

  list    the user's device slots: number, device, model, last sync,
          databases and policy overrides
  show    one slot in full, with the effective policy
  set     change the device's policy: keys as in [sync.defaults]
          (` + "`key=`" + ` removes the device's override of key)
  reset   forget the device's sync state: its next sync is a slow sync
  remove  free the slot and forget the device; the items stay

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
	json, yes      bool
	kv             map[string]string
	stdout, stderr io.Writer
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
	case "list", "show", "set", "reset", "remove":
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, devicesUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "devices: unknown subcommand %q\n\n%s", c.sub, devicesUsage)
		return 2
	}
	f := newFlags("devices "+c.sub, stderr)
	f.fs.Usage = func() { fmt.Fprint(stderr, devicesUsage) }
	f.fs.StringVar(&c.user, "user", "", "the user whose devices to manage")
	if c.sub != "list" {
		f.fs.StringVar(&c.device, "device", "", "device ID or slot number")
	}
	if c.sub == "list" || c.sub == "show" {
		f.fs.BoolVar(&c.json, "json", false, "print JSON")
	}
	if c.sub == "reset" || c.sub == "remove" {
		f.fs.BoolVar(&c.yes, "yes", false, "do not ask for confirmation")
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

	// No overall deadline: the IMAP options' dial and command timeouts
	// bound the I/O, and a y/N question may wait for the admin.
	cfg, store, code := openAdmin(ctx, f, c.user, con, stderr, c.fail)
	if store == nil {
		return code
	}
	defer store.Close()
	d := plugin.AdminDevices(cfg, store)
	base := plugin.Policy(cfg.Sync.Defaults)

	var err error
	switch c.sub {
	case "list":
		err = c.list(ctx, d, cfg.Sync.MaxDevices)
	case "show":
		err = c.show(ctx, d, base, cfg.Sync.MaxDevices)
	case "set":
		err = c.set(ctx, d, base)
	case "reset", "remove":
		err = c.resetOrRemove(ctx, d, con)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, syncml.ErrNoSuchDevice):
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
	switch {
	case c.user == "":
		problem = "-user is required"
	case c.sub != "list" && c.device == "":
		problem = "-device is required (a device ID or a slot number, as \"devices list\" shows them)"
	case c.sub == "set" && len(rest) == 0:
		problem = "give at least one key=value (keys: " + strings.Join(syncml.PolicyKeys, ", ") + ")"
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
		case !slices.Contains(syncml.PolicyKeys, k):
			problem = fmt.Sprintf("policy %s: unknown key; known: %s", k, strings.Join(syncml.PolicyKeys, ", "))
		default:
			if _, dup := c.kv[k]; dup {
				problem = fmt.Sprintf("policy %s: given twice", k)
				break
			}
			// Each key's value is checked on its own, so a policy with
			// just this override tells whether it is valid; SetPolicy
			// checks again against the real defaults.
			if strings.TrimSpace(v) != "" {
				if _, err := syncml.DefaultPolicy().WithOverrides(map[string]string{k: v}); err != nil {
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

func modelOf(s *syncml.Slot) string {
	return strings.TrimSpace(s.Manufacturer + " " + s.Model)
}

// databasesOf lists the slot's databases, the served ones in their
// usual order first.
func databasesOf(s *syncml.Slot) []string {
	var dbs []string
	for db := range s.Databases {
		dbs = append(dbs, db)
	}
	slices.SortFunc(dbs, func(a, b string) int {
		ia, ib := slices.Index(syncml.Databases, a), slices.Index(syncml.Databases, b)
		if ia < 0 {
			ia = len(syncml.Databases)
		}
		if ib < 0 {
			ib = len(syncml.Databases)
		}
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	return dbs
}

// overriddenKeys are the slot's overridden policy keys in PolicyKeys order.
func overriddenKeys(s *syncml.Slot) []string {
	var keys []string
	for _, k := range syncml.PolicyKeys {
		if _, ok := s.Overrides[k]; ok {
			keys = append(keys, k)
		}
	}
	for k := range s.Overrides {
		if !slices.Contains(syncml.PolicyKeys, k) {
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

func (c *devicesCmd) list(ctx context.Context, d *syncml.Devices, max int) error {
	slots, err := d.List(ctx)
	if err != nil {
		return err
	}
	if c.json {
		if slots == nil {
			slots = []*syncml.Slot{}
		}
		return c.writeJSON(struct {
			User       string         `json:"user"`
			MaxDevices int            `json:"max_devices"`
			Slots      []*syncml.Slot `json:"slots"`
		}{c.user, max, slots})
	}
	fmt.Fprintf(c.stdout, "%s: %d of %d slots used\n", c.user, len(slots), max)
	if len(slots) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tDEVICE ID\tMODEL\tLAST SYNC\tDATABASES\tPOLICY")
	for _, s := range slots {
		policy := "default"
		if keys := overriddenKeys(s); len(keys) > 0 {
			var kv []string
			for _, k := range keys {
				kv = append(kv, k+"="+s.Overrides[k])
			}
			policy = strings.Join(kv, " ")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", s.Number, s.DeviceID, orDash(modelOf(s)),
			localTime(s.LastSync, "2006-01-02 15:04"), orDash(strings.Join(databasesOf(s), ",")), policy)
	}
	return tw.Flush()
}

// policyLines is the effective policy, key = value, with the slot's
// overrides marked "*".
func policyLines(s *syncml.Slot, p syncml.Policy) []string {
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

func (c *devicesCmd) writePolicy(s *syncml.Slot, p syncml.Policy) {
	fmt.Fprintln(c.stdout, "policy (* = this device's override, the rest from [sync.defaults]):")
	for _, line := range policyLines(s, p) {
		fmt.Fprintln(c.stdout, line)
	}
}

func (c *devicesCmd) show(ctx context.Context, d *syncml.Devices, base syncml.Policy, max int) error {
	s, err := d.Find(ctx, c.device)
	if err != nil {
		return err
	}
	p, err := s.Policy(base)
	if err != nil {
		return fmt.Errorf("device %q: its stored %w", s.DeviceID, err)
	}
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
			*syncml.Slot
			Policy     map[string]string `json:"policy"`
			Overridden []string          `json:"overridden"`
		}{s, eff, overridden})
	}
	const layout = "2006-01-02 15:04:05 -0700"
	w := c.stdout
	fmt.Fprintf(w, "device %s (slot %d of %d)\n", s.DeviceID, s.Number, max)
	fmt.Fprintf(w, "  manufacturer:     %s\n", orDash(s.Manufacturer))
	fmt.Fprintf(w, "  model:            %s\n", orDash(s.Model))
	fmt.Fprintf(w, "  software version: %s\n", orDash(s.SoftwareVersion))
	fmt.Fprintf(w, "  device type:      %s\n", orDash(s.DevType))
	fmt.Fprintf(w, "  first sync:       %s\n", localTime(s.FirstSync, layout))
	fmt.Fprintf(w, "  last sync:        %s\n", localTime(s.LastSync, layout))
	if dbs := databasesOf(s); len(dbs) == 0 {
		fmt.Fprintln(w, "databases: none synced yet")
	} else {
		fmt.Fprintln(w, "databases:")
		for _, db := range dbs {
			fmt.Fprintf(w, "  %-9s last sync %s\n", db, localTime(s.Databases[db], layout))
		}
	}
	c.writePolicy(s, p)
	return nil
}

func (c *devicesCmd) set(ctx context.Context, d *syncml.Devices, base syncml.Policy) error {
	s, p, err := d.SetPolicy(ctx, c.device, base, c.kv)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "device %s (slot %d): policy saved; it applies from the next sync\n", s.DeviceID, s.Number)
	c.writePolicy(s, p)
	return nil
}

func (c *devicesCmd) resetOrRemove(ctx context.Context, d *syncml.Devices, con console) error {
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
