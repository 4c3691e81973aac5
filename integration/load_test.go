package integration

// The load run of issue 13 ("Scale"), self-hosted: a private Dovecot, the
// real syncml-imap serve binary with its profiler on, and
// internal/loadgen playing the devices. TestLoad is the measurement
// (skipped unless -load or SYNCML_IMAP_LOAD=1); TestLoadSmall runs the
// same at a small size in every CI run and asserts only what the
// sessions did, never how fast.
//
//	go test ./integration -run 'TestLoad$' -load -v -timeout 60m [-load.out FILE]

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"syncml-imap/internal/dovetest"
	"syncml-imap/internal/loadgen"
)

var (
	loadFlag       = flag.Bool("load", false, "run the load measurement TestLoad (or SYNCML_IMAP_LOAD=1)")
	loadOut        = flag.String("load.out", "", "TestLoad writes its table to this file too")
	loadSizes      = flag.String("load.sizes", "1000,10000", "TestLoad: the N of scenarios 1 to 4, comma-separated")
	loadConcurrent = flag.Int("load.concurrent", loadgen.DefaultConcurrent, "TestLoad: C, the sessions at once of scenario 5; 0: none")
	loadWBXML      = flag.Bool("load.wbxml", false, "TestLoad: WBXML instead of XML")
	loadRepeat     = flag.Int("load.repeat", loadgen.DefaultRepeat, "TestLoad: runs of scenarios 2 and 3 per N (the median counts)")
	loadChanges    = flag.Int("load.k", 0, "TestLoad: changed contacts per sync of scenario 3 (0: the load generator's default)")
	loadJSON       = flag.Bool("load.json", false, "TestLoad: log the report as JSON too")
	loadIngest     = flag.Bool("load.ingest", false, "TestLoad: scenario 1 and the MULTIAPPEND baseline only")
	loadFormat     = flag.String("load.mailformat", "", "TestLoad: Dovecot's mailbox format, maildir (default), sdbox or mdbox")
	loadProfile    = flag.String("load.cpuprofile", "", "TestLoad: write the daemon's CPU profile of each slow sync to DIR/slow-N.pprof")
	loadRawlog     = flag.String("load.rawlog", "", "TestLoad: Dovecot's rawlog_dir, a log of every IMAP session's traffic")
	loadProfileSec = flag.Int("load.cpuprofile.seconds", 10, "TestLoad: how long each -load.cpuprofile runs (from the start of the slow sync)")
)

// selfHost is a Dovecot with the load users and a syncml-imap serve
// process in front of it.
type selfHost struct {
	dove  *dovetest.Server
	d     *daemonProc
	url   string
	probe *loadgen.MemoryProbe
}

// manyLogins is what Dovecot 2.3 needs beside dovetest's configuration
// to take hundreds of logins at once on a small machine: by default
// every login forks an imap-login process of its own (at most 100 of
// them) and every session an imap process; at 500 sessions at once on
// two cores the last logins then wait longer than the daemon's
// dial_timeout (10 s) and the daemon answers 503. Here imap-login runs
// in its high-performance mode (a few processes, many connections each;
// Dovecot's "login processes" documentation), imap processes are
// reused for later connections, and the limits are above 500 sessions
// (each may hold a connection for its session and one for MULTIAPPEND).
const manyLogins = `
# Appended by integration/load_test.go for hundreds of sessions at once.
default_process_limit = 1500
default_client_limit = 5000
service imap-login {
  service_count = 0
  process_min_avail = 2
  client_limit = 2000
}
service imap {
  process_limit = 1500
  service_count = 1000
  process_min_avail = 16
}
`

// startSelfHost starts Dovecot, adds the accounts and runs the daemon
// with its profiler on a port of its own; maxSessions is its
// [http] max_sessions; many configures Dovecot for hundreds of logins
// at once (manyLogins).
func startSelfHost(t *testing.T, accts []loadgen.Account, maxSessions int, many bool, format dovetest.MailFormat) *selfHost {
	t.Helper()
	bin := buildDaemon(t, t.TempDir())
	// Four devices a user, each with its session's connection and its
	// MULTIAPPEND connection: far below the 100 a user and address.
	dove := dovetest.Start(t, &dovetest.Options{MailFormat: format})
	if many {
		dove.Stop(t)
		f, err := os.OpenFile(dove.ConfigPath, os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			_, err = f.WriteString(manyLogins)
			if *loadRawlog != "" && err == nil {
				// Dovecot writes what each IMAP session sent and received
				// there (the directory must be writable by the mail user).
				_, err = f.WriteString("protocol imap {\n  rawlog_dir = " + *loadRawlog + "\n}\n")
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		dove.Restart(t)
	}
	for _, a := range accts {
		dove.AddUser(t, a.User, a.Password)
	}
	dir := t.TempDir()
	addr, pprofAddr := freeAddr(t), freeAddr(t)
	conf := fmt.Sprintf("[imap]\naddress = %q\ntls = \"none\"\n\n[http]\nlisten = %q\npath = \"/syncml\"\npprof_listen = %q\nmax_sessions = %d\n\n[log]\nlevel = \"info\"\n",
		dove.Addr, addr, pprofAddr, maxSessions)
	confPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, confPath, addr, filepath.Join(dir, "daemon.log"))
	return &selfHost{dove: dove, d: d, url: "http://" + addr + "/syncml",
		probe: &loadgen.MemoryProbe{PprofURL: "http://" + pprofAddr, MetricsURL: "http://" + addr + "/metrics", PID: d.cmd.Process.Pid}}
}

// cpuProfile starts a CPU profile of the daemon of -load.cpuprofile.seconds
// and returns a function that waits for it and writes it to path.
func (h *selfHost) cpuProfile(t *testing.T, path string) func() {
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", h.probe.PprofURL, *loadProfileSec))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err == nil {
			_, err = io.Copy(f, resp.Body)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		done <- err
	}()
	return func() {
		if err := <-done; err != nil {
			t.Logf("CPU profile %s: %v", path, err)
		} else {
			t.Logf("CPU profile of the daemon: %s", path)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// loadAccounts are load001, load002, ... with passwords of their own.
func loadAccounts(n int) []loadgen.Account {
	out := make([]loadgen.Account, n)
	for i := range out {
		u := fmt.Sprintf("load%03d", i+1)
		out[i] = loadgen.Account{User: u, Password: u + "-pw"}
	}
	return out
}

// run runs cfg against the self-hosted daemon and logs what the daemon
// complained of.
func (h *selfHost) run(t *testing.T, cfg *loadgen.Config) (*loadgen.Report, error) {
	t.Helper()
	cfg.URL, cfg.IMAPAddr, cfg.Memory, cfg.Logf = h.url, h.dove.Addr, h.probe, t.Logf
	rep, err := loadgen.Run(context.Background(), cfg)
	if s := complaints(h.d.logText()); s != "" {
		t.Logf("the daemon's warnings and errors:\n%s", s)
	}
	if s := doveComplaints(h.dove.Log()); s != "" {
		t.Logf("Dovecot's warnings and errors:\n%s", s)
	}
	return rep, err
}

// doveComplaints counts Dovecot's warnings and errors by their text, the
// numbers (pids, counts) in them made alike.
func doveComplaints(log string) string {
	digits := regexp.MustCompile(`[0-9]+`)
	count := map[string]int{}
	for line := range strings.SplitSeq(log, "\n") {
		_, rest, ok := strings.Cut(line, ": Warning: ")
		level := "Warning"
		if !ok {
			if _, rest, ok = strings.Cut(line, ": Error: "); !ok {
				if _, rest, ok = strings.Cut(line, ": Fatal: "); !ok {
					continue
				}
				level = "Fatal"
			} else {
				level = "Error"
			}
		}
		if len(rest) > 200 {
			rest = rest[:200] + "..."
		}
		count[level+": "+digits.ReplaceAllString(rest, "N")]++
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return count[keys[i]] > count[keys[j]] })
	var b strings.Builder
	for _, k := range keys[:min(len(keys), 15)] {
		fmt.Fprintf(&b, "%6d× %s\n", count[k], k)
	}
	return b.String()
}

// complaints counts the daemon's WARN and ERROR lines by message.
func complaints(log string) string {
	msgRE := regexp.MustCompile(`msg=("(?:[^"\\]|\\.)*"|\S+)`)
	errRE := regexp.MustCompile(`err=("(?:[^"\\]|\\.)*"|\S+)`)
	count := map[string]int{}
	example := map[string]string{}
	for line := range strings.SplitSeq(log, "\n") {
		if !strings.Contains(line, "level=WARN") && !strings.Contains(line, "level=ERROR") {
			continue
		}
		level := "WARN"
		if strings.Contains(line, "level=ERROR") {
			level = "ERROR"
		}
		key := level
		if m := msgRE.FindStringSubmatch(line); m != nil {
			key += " " + m[1]
		}
		count[key]++
		if _, ok := example[key]; !ok {
			if m := errRE.FindStringSubmatch(line); m != nil {
				example[key] = m[1]
			}
		}
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return count[keys[i]] > count[keys[j]] })
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%6d× %s", count[k], k)
		if e := example[k]; e != "" {
			fmt.Fprintf(&b, " (first: err=%s)", e)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestLoad is the measurement: scenarios 1 to 4 at -load.sizes, 500
// sessions at once, the IMAP baseline and the daemon's memory, in one
// table.
func TestLoad(t *testing.T) {
	if !*loadFlag && os.Getenv("SYNCML_IMAP_LOAD") != "1" {
		t.Skip("the load measurement: run with -load or SYNCML_IMAP_LOAD=1")
	}
	var sizes []int
	for _, f := range strings.Split(*loadSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			t.Fatalf("-load.sizes %q: %v", *loadSizes, err)
		}
		sizes = append(sizes, n)
	}
	cfg := &loadgen.Config{Sizes: sizes, Concurrent: *loadConcurrent, WBXML: *loadWBXML, Repeat: *loadRepeat, IngestOnly: *loadIngest, Changes: *loadChanges}
	if *loadConcurrent == 0 {
		cfg.Concurrent = -1 // no scenario 5
	}
	accts := loadAccounts(loadgen.NeedAccounts(cfg))
	cfg.Accounts = accts
	format := dovetest.MailFormat(*loadFormat)
	h := startSelfHost(t, accts, 2*max(*loadConcurrent, 500), true, format)
	if format == "" {
		format = dovetest.MailMaildir
	}
	t.Logf("Dovecot's mailbox format: %s", format)
	if *loadProfile != "" {
		cfg.OnSlowSync = func(n int) func() {
			return h.cpuProfile(t, filepath.Join(*loadProfile, fmt.Sprintf("slow-%d.pprof", n)))
		}
	}
	rep, err := h.run(t, cfg)
	if rep != nil {
		table := rep.Markdown()
		t.Logf("syncml-imap load, %s, MaxMsgSize %d:\n%s", rep.Encoding, rep.MaxMsgSize, table)
		if *loadJSON {
			if js, err := rep.JSON(); err == nil {
				t.Logf("%s", js)
			}
		}
		if *loadOut != "" {
			if err := os.WriteFile(*loadOut, []byte(table), 0o644); err != nil {
				t.Error(err)
			}
		}
	}
	if err != nil {
		t.Error(err)
	}
}

// TestLoadSmall: the load run at N=200 and C=8, against Dovecot and the
// real daemon, in XML and WBXML: every session's counts hold (items
// acknowledged, stored, received, mapped; devices of a user agree).
func TestLoadSmall(t *testing.T) {
	t.Parallel()
	cfg := &loadgen.Config{Sizes: []int{200}, Repeat: 2, Changes: 5, Concurrent: 8, ConcurrentItems: 3}
	// Twice the accounts: the WBXML run gets its own.
	n := loadgen.NeedAccounts(cfg)
	accts := loadAccounts(2 * n)
	h := startSelfHost(t, accts, 100, false, "")
	for i, wbxml := range []bool{false, true} {
		c := *cfg
		c.WBXML, c.Accounts = wbxml, accts[i*n:(i+1)*n]
		rep, err := h.run(t, &c)
		if err != nil {
			t.Errorf("WBXML %v: %v", wbxml, err)
		}
		if rep == nil {
			continue
		}
		t.Logf("WBXML %v:\n%s", wbxml, rep.Markdown())
		for _, what := range []string{"1. slow sync, N new contacts from the device", "4. refresh from server, N contacts to a fresh device",
			"IMAP MULTIAPPEND ×100"} {
			found := false
			for _, r := range rep.Rows {
				found = found || r.What == what && r.N == 200 && r.Figure > 0
			}
			if !found {
				t.Errorf("WBXML %v: no row %q at N=200", wbxml, what)
			}
		}
		for _, r := range rep.Rows {
			if strings.HasPrefix(r.What, "5. C at once") && r.Unit == "sessions ok of 8" && r.Figure != 8 {
				t.Errorf("WBXML %v: %s: %v sessions ok of 8", wbxml, r.What, r.Figure)
			}
		}
	}
}
