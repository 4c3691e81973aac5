// Command syncml-load plays SyncML devices against a running syncml-imap
// daemon and prints one table of what it measured (internal/loadgen):
// slow sync, unchanged and changed two-way syncs, refresh from the
// server, many sessions at once, and the IMAP server's own APPEND and
// MULTIAPPEND rate with the same messages.
//
//	syncml-load -url http://127.0.0.1:8080/syncml -imap 127.0.0.1:143 \
//	    -users load001..load127 -password secret [-sizes 1000,10000] [-concurrent 500]
//
// The load accounts must exist on the IMAP server; their contacts are
// deleted at the start. It is not a test of the daemon's correctness
// beyond what each session is checked for; a failed check makes the exit
// status 1.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"syncml-imap/internal/loadgen"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command; it returns the exit status (0 ok, 1 a failed
// check, 2 a usage error).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("syncml-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		endpoint   = fs.String("url", "", "the daemon's SyncML endpoint, e.g. http://127.0.0.1:8080/syncml (required)")
		imapAddr   = fs.String("imap", "", "the IMAP server the daemon uses, host:port (plain): baseline, emptying and checking the load accounts; empty: no baseline")
		users      = fs.String("users", "", "the load accounts: names or ranges, comma-separated, e.g. load001..load127")
		usersFile  = fs.String("users-file", "", "a file of load accounts, one a line: user or user:password (# comments)")
		password   = fs.String("password", "", "the password of the accounts that have none of their own")
		sizes      = fs.String("sizes", "1000,10000", "the N of scenarios 1 to 4, comma-separated (100000 when asked)")
		repeat     = fs.Int("repeat", loadgen.DefaultRepeat, "runs of scenarios 2 and 3 per N (the median is reported)")
		k          = fs.Int("k", loadgen.DefaultChanges, "changed contacts per sync of scenario 3")
		concurrent = fs.Int("concurrent", loadgen.DefaultConcurrent, "C, the sessions at once of scenario 5 (4 devices a user); 0: none")
		items      = fs.Int("items", loadgen.DefaultConcurrentItems, "contacts each device of scenario 5 brings")
		wbxml      = fs.Bool("wbxml", false, "speak WBXML instead of XML")
		maxMsg     = fs.Int64("maxmsgsize", loadgen.DefaultMaxMsgSize, "the client's MaxMsgSize in bytes")
		folder     = fs.String("contacts-folder", "Contacts", "the daemon's contacts folder ([folders] contacts)")
		pprofURL   = fs.String("pprof", "", "the daemon's profiler ([http] pprof_listen), e.g. http://127.0.0.1:6060: heap after GC")
		metricsURL = fs.String("metrics", "auto", "the daemon's metrics page (heap, RSS); auto: /metrics beside -url; empty: none")
		pid        = fs.Int("pid", 0, "the daemon's process ID, when it runs on this machine: RSS from /proc")
		asJSON     = fs.Bool("json", false, "print the report as JSON instead of a table")
		timeout    = fs.Duration("timeout", 0, "end the run after this long (0: no limit)")
		verbose    = fs.Bool("v", false, "log each step to standard error")
	)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: syncml-load -url URL -users LIST -password PW [-imap HOST:PORT] [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	usage := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "syncml-load: "+format+"\n", args...)
		return 2
	}
	if *endpoint == "" {
		return usage("-url is required")
	}
	u, err := url.Parse(*endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usage("-url %q: want an http or https URL", *endpoint)
	}
	cfg := &loadgen.Config{URL: *endpoint, IMAPAddr: *imapAddr, ContactsFolder: *folder, Repeat: *repeat, Changes: *k,
		Concurrent: *concurrent, ConcurrentItems: *items, WBXML: *wbxml, MaxMsgSize: *maxMsg}
	if *concurrent == 0 {
		cfg.Concurrent = -1
	}
	if cfg.Sizes, err = parseSizes(*sizes); err != nil {
		return usage("-sizes: %v", err)
	}
	if cfg.Accounts, err = accounts(*users, *usersFile, *password); err != nil {
		return usage("%v", err)
	}
	if need := loadgen.NeedAccounts(cfg); len(cfg.Accounts) < need {
		return usage("%d accounts given, the run needs %d: one per size and one per %d devices of -concurrent", len(cfg.Accounts), need, loadgen.DevicesPerUser)
	}
	probe := &loadgen.MemoryProbe{PprofURL: *pprofURL, PID: *pid, MetricsURL: *metricsURL}
	if *metricsURL == "auto" {
		probe.MetricsURL = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/metrics"}).String()
	}
	cfg.Memory = probe
	if *verbose {
		cfg.Logf = func(format string, args ...any) {
			fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	rep, runErr := loadgen.Run(ctx, cfg)
	if rep != nil {
		if *asJSON {
			js, err := rep.JSON()
			if err != nil {
				fmt.Fprintf(stderr, "syncml-load: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "%s\n", js)
		} else {
			io.WriteString(stdout, rep.Markdown())
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "syncml-load: %v\n", runErr)
		return 1
	}
	return 0
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// accounts reads -users (names and ranges like load001..load127) and
// -users-file; an account without a password of its own gets password.
func accounts(list, file, password string) ([]loadgen.Account, error) {
	var names []string
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := expand(f)
		if err != nil {
			return nil, fmt.Errorf("-users: %w", err)
		}
		names = append(names, r...)
	}
	var out []loadgen.Account
	for _, n := range names {
		out = append(out, loadgen.Account{User: n, Password: password})
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("-users-file: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			text := strings.TrimSpace(sc.Text())
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			user, pw, ok := strings.Cut(text, ":")
			if !ok {
				pw = password
			}
			if user == "" {
				return nil, fmt.Errorf("-users-file %s:%d: no user name", file, line)
			}
			out = append(out, loadgen.Account{User: user, Password: pw})
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("-users-file: %w", err)
		}
	}
	for _, a := range out {
		if a.Password == "" {
			return nil, fmt.Errorf("no password for %s: give -password or user:password in -users-file", a.User)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no load accounts: give -users or -users-file")
	}
	return out, nil
}

// expand turns "load001..load003" into load001, load002, load003 (the
// digits' width kept); any other name stands for itself.
func expand(s string) ([]string, error) {
	from, to, ok := strings.Cut(s, "..")
	if !ok {
		return []string{s}, nil
	}
	split := func(name string) (string, string) {
		i := len(name)
		for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
			i--
		}
		return name[:i], name[i:]
	}
	p1, d1 := split(from)
	p2, d2 := split(to)
	if p1 != p2 || d1 == "" || d2 == "" {
		return nil, fmt.Errorf("range %q: want prefix and numbers, e.g. load001..load127", s)
	}
	a, _ := strconv.Atoi(d1)
	b, _ := strconv.Atoi(d2)
	if b < a || b-a > 100000 {
		return nil, fmt.Errorf("range %q: empty or too long", s)
	}
	var out []string
	for i := a; i <= b; i++ {
		out = append(out, fmt.Sprintf("%s%0*d", p1, len(d1), i))
	}
	return out, nil
}
