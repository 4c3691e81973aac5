// Package syncevo drives the real SyncEvolution command line client
// (Debian package syncevolution, 2.0.0-3+b1 in bookworm) as the SyncML
// client of end-to-end tests.
//
// Each [Client] has its own HOME and XDG directories and one SyncEvolution
// peer configuration (named "server") whose datastores use the file backend:
// one item per file in a directory the test can read and write
// ([Client.Items], [Client.WriteItem], [Client.DeleteItem]). [Client.Sync]
// runs one "syncevolution --daemon=no" session with a time limit and
// returns its exit code, the status and per-datastore counters from the
// session's status.ini, and the session's log directory, which at the
// default log level 4 holds every SyncML message as an XML file
// ([Client.Messages]).
//
// The packaged client crashes (SIGSEGV) on its first HTTP POST: the
// constructor of SyncEvo::CurlTransportAgent in libsyncevolution.so.0 hands
// libcurl garbage (in practice NULL) instead of its read and write
// callbacks. Every run is therefore started with LD_PRELOAD of a small shim
// (testdata/curlshim.c, compiled with gcc once per test binary and cached)
// that replaces those two callbacks; see the comment in the C file.
//
// When syncevolution or gcc is missing, [New] installs them with apt-get
// when running as root; when that is impossible the test is skipped, or
// fails when the environment variable CI is "true".
//
// Settings every client gets: --daemon=no, keyring=no, enableWBXML=0
// (unless [Options.WBXML]), loglevel=4, printChanges=0 and dumpData=0 (no
// database dumps, so runs stay fast), maxlogdirs=0 (keep every session's
// logs), and RetryInterval = RetryDuration = [Options.Timeout] (a reply
// that does not come in time fails the sync; nothing is resent).
// preventSlowSync keeps SyncEvolution's default (on): a slow sync that the
// client did not ask for fails on the client side with status 22000 —
// the server sent a Last anchor that does not match, or asked for a slow
// sync, or it is the first sync and the client already has data. Tests can
// turn it off with [Options.AllowSlowSync].
//
// A sync with the file backend takes about half a second to a second: it
// waits until the modification times of the items it wrote are in the
// past, so that changes made right after a sync are seen by the next.
package syncevo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PeerName is the name of the SyncEvolution configuration of every
// client.
const PeerName = "server"

// DefaultTimeout is [Options.Timeout] when it is zero.
const DefaultTimeout = time.Minute

// killAfter is how much longer than Options.Timeout a sync may run before
// the client is killed.
const killAfter = time.Minute

// Options configure a [Client].
type Options struct {
	URL      string // SyncML server URL, e.g. http://127.0.0.1:PORT/syncml
	Username string
	Password string // must not contain "${" (SyncEvolution reads it as an environment variable)
	DeviceID string // the client's SyncML device ID (SyncHdr Source LocURI); empty: a random one
	// Sources are the local datastores; empty: one addressbook (vCard 3.0)
	// syncing with the server's "contacts".
	Sources []Source

	WBXML         bool   // send WBXML instead of XML
	MaxMsgSize    int    // 0: client default (150000)
	MaxObjSize    int    // 0: client default (4000000)
	SyncMLVersion string // "1.0", "1.1" or "1.2"; empty: the newest the server supports
	LogLevel      int    // 0: 4, which logs every message as XML
	// AllowSlowSync sets preventSlowSync=0, so that the client accepts a
	// slow sync it did not ask for.
	AllowSlowSync bool
	// RefreshSync sets enableRefreshSync=1, so that the client asks for
	// RefreshFromServer and OneWayFromServer with SyncML alerts 205 and
	// 204. Without it, SyncEvolution does neither: it wipes its data and
	// asks for a slow sync (201) instead of 205, and asks for a two-way
	// sync (200) instead of 204 (sending none of its changes).
	RefreshSync bool
	// Timeout is how long the client waits for each reply of the server
	// before it gives up (RetryInterval and RetryDuration; it never
	// resends); 0: DefaultTimeout. Whole seconds, at least one. A sync
	// still running a minute after that is killed, and so is one that
	// would outlive the test's deadline.
	Timeout time.Duration
	// NoShim runs the client without the curl shim, for demonstrating
	// the packaged bug only.
	NoShim bool
}

// Source is one local datastore of a client.
type Source struct {
	Name string // SyncEvolution datastore name: "addressbook", "calendar", "todo", "memo" or any other
	URI  string // the server's database the client asks for: "contacts", "calendar", "tasks"
	// Format is the file backend's storage format (databaseFormat):
	// "text/vcard" (vCard 3.0), "text/x-vcard" (vCard 2.1),
	// "text/calendar" (iCalendar 2.0), "text/x-vcalendar" (vCalendar 1.0)
	// or "text/plain".
	Format string
	// SyncFormat is the format the client prefers on the wire
	// (syncFormat); empty: Format.
	SyncFormat string
	Dir        string // the file backend's directory; empty: one under the client's Dir
}

// Mode is a sync mode as SyncEvolution's --sync option names it; local is
// the client, remote the server. The older names "refresh-from-server",
// "refresh-from-client", "one-way-from-server" and "one-way-from-client"
// are accepted too.
type Mode string

// The sync modes a client can ask for, with the SyncML alert code it
// sends.
const (
	Configured        Mode = ""                    // each datastore's configured mode: two-way
	TwoWay            Mode = "two-way"             // 200; 201 while the client has no anchor
	Slow              Mode = "slow"                // 201
	OneWayFromClient  Mode = "one-way-from-local"  // 202
	RefreshFromClient Mode = "refresh-from-local"  // 203
	OneWayFromServer  Mode = "one-way-from-remote" // 204 with Options.RefreshSync, else 200
	RefreshFromServer Mode = "refresh-from-remote" // 205 with Options.RefreshSync, else local wipe and 201
)

// Client is one configured SyncEvolution client.
type Client struct {
	Dir     string  // its HOME; everything of the client is below it
	LogRoot string  // the logdir property: one directory per session below it
	Opts    Options // as configured, defaults filled in; do not change
	sources map[string]Source

	mu  sync.Mutex // one sync at a time
	bin string     // syncevolution
	env []string
}

// Result is the outcome of one sync.
type Result struct {
	ExitCode int    // exit code; -1 when killed by a signal
	Signal   string // the signal that killed the client, e.g. "segmentation fault"
	TimedOut bool   // killed at the time limit
	Output   string // stdout and stderr
	Duration time.Duration

	// From the session's status.ini; zero when the client wrote none.
	// Status is SyncEvolution's overall status: 0 or 200 success; else
	// 10000 or 20000 plus a SyncML or engine code (e.g. 20006 bad
	// content in the reply, 20043 transport failure or no reply in time,
	// 20017 datastore aborted), 22000 a slow sync refused
	// (preventSlowSync), 22002 the client died (the value status.ini
	// holds while a sync runs).
	Status  int
	Error   string // the error text, if any
	Sources map[string]SourceResult
	LogDir  string            // the session's log directory; "" when none was created
	Ini     map[string]string // every key of status.ini
}

// SourceResult are the counters of one datastore from status.ini.
type SourceResult struct {
	Mode   string // the mode actually used: "two-way", "slow", ..., "disabled"
	Status int    // 0 success
	First  bool   // first sync with this server
	Resume bool

	// Item changes: Local* were made by the client to its data (items the
	// server sent), Remote* by the server (items the client sent).
	LocalAdded, LocalUpdated, LocalRemoved    int
	RemoteAdded, RemoteUpdated, RemoteRemoved int
	LocalRejected, RemoteRejected             int
	MatchedSlow                               int            // items matched in a slow sync (remote side)
	Conflicts                                 int            // conflicts of any resolution
	Sent, Received                            int            // bytes of item data
	Stats                                     map[string]int // every "stat-" counter, key without the "source-NAME-stat-" prefix
}

// OK tells whether the client ran to the end without errors.
func (r *Result) OK() bool {
	return r.ExitCode == 0 && !r.TimedOut && (r.Status == 0 || r.Status == 200)
}

// String summarizes the result for test messages.
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "exit %d", r.ExitCode)
	if r.Signal != "" {
		fmt.Fprintf(&b, " (%s)", r.Signal)
	}
	if r.TimedOut {
		b.WriteString(" (timed out)")
	}
	fmt.Fprintf(&b, ", status %d", r.Status)
	if r.Error != "" {
		fmt.Fprintf(&b, " %q", r.Error)
	}
	for _, name := range slices.Sorted(maps.Keys(r.Sources)) {
		s := r.Sources[name]
		fmt.Fprintf(&b, "; %s: %s status %d local +%d ~%d -%d remote +%d ~%d -%d",
			name, s.Mode, s.Status, s.LocalAdded, s.LocalUpdated, s.LocalRemoved,
			s.RemoteAdded, s.RemoteUpdated, s.RemoteRemoved)
	}
	if r.LogDir != "" {
		fmt.Fprintf(&b, "; log %s", r.LogDir)
	}
	return b.String()
}

// New configures a client in a fresh temporary directory (removed by
// t.Cleanup). It installs syncevolution and gcc when they are missing and
// builds the curl shim once per test binary.
func New(t testing.TB, opts *Options) *Client {
	t.Helper()
	tools := ensureTools(t)
	c, err := newClient(t.TempDir(), tools, opts)
	if err != nil {
		t.Fatalf("syncevo: %v", err)
	}
	if out, err := c.run(30*time.Second, c.configureArgs()...); err != nil {
		t.Fatalf("syncevo: configuring the client: %v\n%s", err, out)
	}
	return c
}

func newClient(dir string, tools *tools, opts *Options) (*Client, error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.URL == "" {
		return nil, errors.New("Options.URL is empty")
	}
	if strings.Contains(o.Password, "${") {
		return nil, errors.New(`Options.Password must not contain "${"`)
	}
	if o.DeviceID == "" {
		o.DeviceID = "syncevo-" + randomHex(8)
	}
	if o.LogLevel == 0 {
		o.LogLevel = 4
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	o.Timeout = max(o.Timeout.Round(time.Second), time.Second)
	if len(o.Sources) == 0 {
		o.Sources = []Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}}
	}
	c := &Client{Dir: dir, LogRoot: filepath.Join(dir, "logs"), sources: map[string]Source{}, bin: tools.binary}
	o.Sources = slices.Clone(o.Sources)
	for i := range o.Sources {
		s := &o.Sources[i]
		if s.Name == "" || strings.ContainsAny(s.Name, "/= \t\n") {
			return nil, fmt.Errorf("bad source name %q", s.Name)
		}
		if _, dup := c.sources[s.Name]; dup {
			return nil, fmt.Errorf("source %q configured twice", s.Name)
		}
		if s.Format == "" {
			return nil, fmt.Errorf("source %q: Format is empty (the file backend needs it)", s.Name)
		}
		if s.URI == "" {
			s.URI = s.Name
		}
		if s.Dir == "" {
			s.Dir = filepath.Join(dir, "data", s.Name)
		}
		abs, err := filepath.Abs(s.Dir)
		if err != nil {
			return nil, err
		}
		s.Dir = abs
		if err := os.MkdirAll(s.Dir, 0o700); err != nil {
			return nil, err
		}
		c.sources[s.Name] = *s
	}
	c.Opts = o

	xdg := map[string]string{
		"XDG_CONFIG_HOME": filepath.Join(dir, ".config"),
		"XDG_DATA_HOME":   filepath.Join(dir, ".local", "share"),
		"XDG_CACHE_HOME":  filepath.Join(dir, ".cache"),
		"XDG_RUNTIME_DIR": filepath.Join(dir, ".run"),
	}
	env := []string{
		"HOME=" + dir,
		"PATH=" + os.Getenv("PATH"),
		"LANG=C.UTF-8",
		"LC_ALL=C.UTF-8",
		"TZ=UTC",
	}
	for k, v := range xdg {
		if err := os.MkdirAll(v, 0o700); err != nil {
			return nil, err
		}
		env = append(env, k+"="+v)
	}
	if !o.NoShim {
		env = append(env, "LD_PRELOAD="+tools.shim)
	}
	slices.Sort(env)
	c.env = env
	return c, nil
}

// configureArgs is the one --configure command line that creates the
// client's configuration.
func (c *Client) configureArgs() []string {
	o := c.Opts
	args := []string{
		"--configure", "--keyring=no", "--template", "none",
		"syncURL=" + o.URL,
		"username=" + o.Username,
		"password=" + o.Password,
		"deviceId=" + o.DeviceID,
		"enableWBXML=" + boolProp(o.WBXML),
		"loglevel=" + strconv.Itoa(o.LogLevel),
		"logdir=" + c.LogRoot,
		"maxlogdirs=0",
		"printChanges=0",
		"dumpData=0",
		// A reply not there after RetryInterval is a failure, because the
		// whole RetryDuration is over then too: no resending.
		"RetryInterval=" + strconv.Itoa(int(o.Timeout.Seconds())),
		"RetryDuration=" + strconv.Itoa(int(o.Timeout.Seconds())),
	}
	if o.MaxMsgSize > 0 {
		args = append(args, "maxMsgSize="+strconv.Itoa(o.MaxMsgSize))
	}
	if o.MaxObjSize > 0 {
		args = append(args, "maxObjSize="+strconv.Itoa(o.MaxObjSize))
	}
	if o.SyncMLVersion != "" {
		args = append(args, "SyncMLVersion="+o.SyncMLVersion)
	}
	if o.AllowSlowSync {
		args = append(args, "preventSlowSync=0")
	}
	if o.RefreshSync {
		args = append(args, "enableRefreshSync=1")
	}
	names := []string{}
	for _, s := range o.Sources {
		p := s.Name + "/"
		args = append(args,
			p+"backend=file",
			p+"database=file://"+s.Dir,
			p+"databaseFormat="+s.Format,
			p+"uri="+s.URI,
			p+"sync=two-way",
		)
		if s.SyncFormat != "" {
			args = append(args, p+"syncFormat="+s.SyncFormat)
		}
		names = append(names, s.Name)
	}
	return append(append(args, "--", PeerName), names...)
}

func boolProp(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Configure changes properties of the client's configuration, e.g.
// "preventSlowSync=0", "clientAuthType=basic" or
// "addressbook/syncFormat=text/x-vcard" (see "syncevolution
// --print-config --template none" for all properties).
func (c *Client) Configure(t testing.TB, props ...string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	args := append([]string{"--configure"}, props...)
	args = append(args, "--", PeerName)
	if out, err := c.run(30*time.Second, args...); err != nil {
		t.Fatalf("syncevo: syncevolution %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Sync runs one sync of the given datastores (all configured ones when
// none are given) in mode (Configured: each datastore's configured mode).
// It returns whatever happened, success or not, and fails the test only
// when the client cannot be run at all.
func (c *Client) Sync(t testing.TB, mode Mode, sources ...string) *Result {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range sources {
		if _, ok := c.sources[s]; !ok {
			t.Fatalf("syncevo: Sync: unknown source %q", s)
		}
	}
	before, err := sessionDirs(c.LogRoot)
	if err != nil {
		t.Fatalf("syncevo: %v", err)
	}
	args := []string{}
	if mode != Configured {
		args = append(args, "--sync", string(mode))
	}
	args = append(args, "--", PeerName)
	args = append(args, sources...)

	limit := c.Opts.Timeout + killAfter
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			limit = min(limit, max(time.Until(deadline)-5*time.Second, time.Second))
		}
	}
	start := time.Now()
	res := c.runSync(limit, args)
	res.Duration = time.Since(start)

	after, err := sessionDirs(c.LogRoot)
	if err != nil {
		t.Fatalf("syncevo: %v", err)
	}
	var fresh []string
	for _, d := range after {
		if !slices.Contains(before, d) {
			fresh = append(fresh, d)
		}
	}
	if len(fresh) > 1 {
		t.Logf("syncevo: more than one new session directory: %v", fresh)
	}
	if len(fresh) > 0 {
		res.LogDir = filepath.Join(c.LogRoot, newest(c.LogRoot, fresh))
		if err := res.readStatus(filepath.Join(res.LogDir, "status.ini")); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("syncevo: %v", err)
		}
	}
	return res
}

// newest returns the directory of dirs (names below root) that was
// modified last.
func newest(root string, dirs []string) string {
	best, bestTime := dirs[0], time.Time{}
	for _, d := range dirs {
		if st, err := os.Stat(filepath.Join(root, d)); err == nil && st.ModTime().After(bestTime) {
			best, bestTime = d, st.ModTime()
		}
	}
	return best
}

// sessionDirs lists the session directories below the log root.
func sessionDirs(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs, nil
}

// runSync runs syncevolution with args and a time limit.
func (c *Client) runSync(limit time.Duration, args []string) *Result {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := c.command(ctx, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	res := &Result{Output: out.String(), ExitCode: -1}
	if ctx.Err() != nil {
		res.TimedOut = true
	}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = ws.Signal().String()
		}
	} else if err != nil {
		res.Output += "\nsyncevo: " + err.Error()
	}
	return res
}

// run runs a syncevolution command that is not a sync.
func (c *Client) run(limit time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := c.command(ctx, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// command returns the syncevolution command: its own process group that
// is killed as a whole at the deadline or when the test binary dies.
func (c *Client) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.bin, append([]string{"--daemon=no"}, args...)...)
	cmd.Dir = c.Dir
	cmd.Env = c.env
	cmd.Stdin = nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// readStatus fills the result from a session's status.ini.
func (r *Result) readStatus(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	ini := parseIni(data)
	r.Ini = ini
	r.Status = atoi(ini["status"])
	r.Error = ini["error"]
	r.Sources = map[string]SourceResult{}
	for k := range ini {
		rest, ok := strings.CutPrefix(k, "source-")
		if !ok {
			continue
		}
		// Source names may contain "-"; the status key is always present.
		name, ok := strings.CutSuffix(rest, "-status")
		if !ok {
			continue
		}
		r.Sources[name] = sourceResult(ini, "source-"+name+"-")
	}
	return nil
}

func sourceResult(ini map[string]string, prefix string) SourceResult {
	s := SourceResult{
		Mode:   ini[prefix+"mode"],
		Status: atoi(ini[prefix+"status"]),
		First:  ini[prefix+"first"] == "true",
		Resume: ini[prefix+"resume"] == "true",
		Stats:  map[string]int{},
	}
	for k, v := range ini {
		if stat, ok := strings.CutPrefix(k, prefix+"stat-"); ok {
			s.Stats[stat] = atoi(v)
		}
	}
	st := s.Stats
	s.LocalAdded = st["local-added-total"]
	s.LocalUpdated = st["local-updated-total"]
	s.LocalRemoved = st["local-removed-total"]
	s.LocalRejected = st["local-any-reject"]
	s.RemoteAdded = st["remote-added-total"]
	s.RemoteUpdated = st["remote-updated-total"]
	s.RemoteRemoved = st["remote-removed-total"]
	s.RemoteRejected = st["remote-any-reject"]
	s.MatchedSlow = st["remote-any-match"]
	s.Conflicts = st["remote-any-conflict_server_won"] + st["remote-any-conflict_client_won"] +
		st["remote-any-conflict_duplicated"]
	s.Sent = st["local-any-sent"]
	s.Received = st["local-any-received"]
	return s
}

// parseIni reads "key = value" lines.
func parseIni(data []byte) map[string]string {
	ini := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		ini[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return ini
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// source returns the configured source or fails the test.
func (c *Client) source(t testing.TB, name string) Source {
	t.Helper()
	s, ok := c.sources[name]
	if !ok {
		t.Fatalf("syncevo: unknown source %q", name)
	}
	return s
}

// Items returns the items of a datastore: file name (the item's local ID)
// to content.
func (c *Client) Items(t testing.TB, source string) map[string][]byte {
	t.Helper()
	s := c.source(t, source)
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		t.Fatalf("syncevo: %v", err)
	}
	items := map[string][]byte{}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.Dir, e.Name()))
		if err != nil {
			t.Fatalf("syncevo: %v", err)
		}
		items[e.Name()] = data
	}
	return items
}

// WriteItem adds or replaces the item name of a datastore. The next sync
// sends it as added or updated.
func (c *Client) WriteItem(t testing.TB, source, name string, data []byte) {
	t.Helper()
	s := c.source(t, source)
	path, err := itemPath(s, name)
	if err != nil {
		t.Fatalf("syncevo: %v", err)
	}
	var old time.Time
	if st, err := os.Stat(path); err == nil {
		old = st.ModTime()
	}
	tmp := filepath.Join(s.Dir, ".tmp-"+randomHex(4))
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatalf("syncevo: %v", err)
	}
	// The file backend's revision of an item is its modification time:
	// a changed item must get a new one, even on a coarse clock.
	if st, err := os.Stat(tmp); err == nil && !old.IsZero() && !st.ModTime().After(old) {
		later := old.Add(time.Millisecond)
		if err := os.Chtimes(tmp, later, later); err != nil {
			t.Fatalf("syncevo: %v", err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		t.Fatalf("syncevo: %v", err)
	}
}

// DeleteItem removes the item name of a datastore. The next sync sends
// it as deleted.
func (c *Client) DeleteItem(t testing.TB, source, name string) {
	t.Helper()
	s := c.source(t, source)
	path, err := itemPath(s, name)
	if err != nil {
		t.Fatalf("syncevo: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatalf("syncevo: %v", err)
	}
}

func itemPath(s Source, name string) (string, error) {
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("bad item name %q", name)
	}
	return filepath.Join(s.Dir, name), nil
}

// Source returns the configuration of a datastore (with Dir and URI
// filled in).
func (c *Client) Source(name string) (Source, bool) {
	s, ok := c.sources[name]
	return s, ok
}

// Messages returns the SyncML messages of a sync session in the order
// they were exchanged, the client's and the server's alternating, from the
// XML files that SyncEvolution writes at log level 4 and above into the
// session directory ("syncevolution-log_trm<NNN>_<MMM>_outgoing.xml" and
// "..._incoming.xml").
func (c *Client) Messages(r *Result) ([]Message, error) {
	if r.LogDir == "" {
		return nil, errors.New("the sync left no session directory")
	}
	return ReadMessages(r.LogDir)
}

// Message is one logged SyncML message.
type Message struct {
	File     string // its file in the session directory
	Outgoing bool   // sent by the client
	Data     []byte // XML (or WBXML as the client logged it)
}

// ReadMessages reads the logged messages of a session directory; see
// [Client.Messages].
func ReadMessages(dir string) ([]Message, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	// The files are named syncevolution-log_trm<T>_<N>_<direction>.xml,
	// N counting the messages of the session; T is not in order (000 for
	// a message written while the session ends).
	seqs := map[string]int{}
	var names []string
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, "syncevolution-log_trm")
		if !ok {
			continue
		}
		parts := strings.Split(rest, "_")
		if len(parts) != 3 || (parts[2] != "outgoing.xml" && parts[2] != "incoming.xml") {
			continue
		}
		seq, err := strconv.Atoi(parts[1])
		if err != nil {
			continue
		}
		seqs[name] = seq
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return seqs[a] - seqs[b] })
	msgs := make([]Message, 0, len(names))
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, Message{File: name, Outgoing: strings.HasSuffix(name, "_outgoing.xml"), Data: data})
	}
	return msgs, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// tools are the programs a client needs.
type tools struct {
	binary string // syncevolution
	shim   string // the compiled curl shim
}

var (
	toolsOnce sync.Once
	tools_    *tools
	toolsErr  error
)

//go:embed testdata/curlshim.c
var shimSource []byte

// ensureTools installs syncevolution and gcc if needed and builds the
// shim, once per test binary; it skips or fails the test when impossible.
func ensureTools(t testing.TB) *tools {
	t.Helper()
	toolsOnce.Do(func() {
		tools_, toolsErr = findTools()
	})
	if toolsErr != nil {
		msg := "syncevo: " + toolsErr.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; CI=true, so this is a failure rather than a skip")
		}
		t.Skip(msg)
	}
	return tools_
}

func findTools() (*tools, error) {
	var missing []string
	if lookPath("syncevolution") == "" {
		missing = append(missing, "syncevolution")
	}
	if lookPath("gcc") == "" {
		missing = append(missing, "gcc", "libc6-dev")
	}
	if len(missing) > 0 {
		if err := aptInstall(missing...); err != nil {
			return nil, err
		}
	}
	bin := lookPath("syncevolution")
	if bin == "" {
		return nil, errors.New("syncevolution not found after installing it")
	}
	gcc := lookPath("gcc")
	if gcc == "" {
		return nil, errors.New("gcc not found after installing it")
	}
	shim, err := buildShim(gcc)
	if err != nil {
		return nil, err
	}
	return &tools{binary: bin, shim: shim}, nil
}

func ownedByMe(st os.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Getuid() && st.Mode().Perm()&0o022 == 0
}

func lookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}

// aptInstall installs Debian packages as root.
func aptInstall(pkgs ...string) error {
	what := strings.Join(pkgs, " ")
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s missing and not root (apt-get install --no-install-recommends %s)", what, what)
	}
	if lookPath("apt-get") == "" {
		return fmt.Errorf("%s missing and no apt-get to install them", what)
	}
	install := func() ([]byte, error) {
		args := append([]string{"-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q", "--no-install-recommends"}, pkgs...)
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	if _, err := install(); err == nil {
		return nil
	}
	// The package lists may be missing or stale.
	cmd := exec.Command("apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-q")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update: %v\n%s", err, out)
	}
	if out, err := install(); err != nil {
		return fmt.Errorf("apt-get install %s: %v\n%s", what, err, out)
	}
	return nil
}

// buildShim compiles testdata/curlshim.c into the user's cache directory (keyed by
// the source's hash, so a test binary reuses an earlier build) and returns
// the library's path.
func buildShim(gcc string) (string, error) {
	sum := sha256.Sum256(shimSource)
	name := "curlshim-" + hex.EncodeToString(sum[:8]) + ".so"
	dir, err := os.UserCacheDir()
	if err == nil {
		dir = filepath.Join(dir, "syncml-imap-syncevo")
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		// No usable home (e.g. HOME=/nonexistent): a directory of our own
		// in the temporary directory.
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("syncml-imap-syncevo-%d", os.Getuid()))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		if st, err := os.Stat(dir); err != nil || !ownedByMe(st) {
			if dir, err = os.MkdirTemp("", "syncml-imap-syncevo-"); err != nil {
				return "", err
			}
		}
	}
	lib := filepath.Join(dir, name)
	if st, err := os.Stat(lib); err == nil && st.Size() > 0 {
		return lib, nil
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "curlshim.c")
	if err := os.WriteFile(src, shimSource, 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(tmp, name)
	cmd := exec.Command(gcc, "-O2", "-Wall", "-shared", "-fPIC", "-o", out, src, "-ldl")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the curl shim: %v\n%s", err, msg)
	}
	// Atomic, so that concurrent test binaries never load a partial file.
	if err := os.Rename(out, lib); err != nil {
		return "", err
	}
	return lib, nil
}
