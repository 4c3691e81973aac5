package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"

	"syncml-imap/config"
	"syncml-imap/internal/demoimap"
	"syncml-imap/plugin"
)

// cmdDemo runs a SyncML server with its own in-memory IMAP server until
// ctx ends (SIGINT or SIGTERM from run): a first look on a machine that
// has nothing but Go. It is the same endpoint `serve` runs, built from
// config.Default() with the IMAP address pointing at the embedded server.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config.Default()
	listen := fs.String("listen", cfg.HTTP.Listen, "SyncML (HTTP) listen address; 0.0.0.0:8080 to let a phone in")
	imapListen := fs.String("imap-listen", "127.0.0.1:0", "listen address of the embedded IMAP server (port 0: any free port; it takes plain-text logins, so keep it on 127.0.0.1)")
	user := fs.String("user", "demo", "the demo user's name")
	password := fs.String("password", "", "the demo user's password (default: a random one, printed at start)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "demo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	// Basic authentication joins user and password with a colon.
	if *user == "" || strings.ContainsAny(*user, ": \t\r\n") {
		fmt.Fprintf(stderr, "demo: -user %q: want a name without spaces or colons\n", *user)
		return 2
	}
	if *password == "" {
		*password = randomPassword()
	}
	cfg.HTTP.Listen = *listen
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 2
	}
	logger := newLogger(cfg, stderr)

	imapSrv, err := demoimap.Listen(*imapListen, &demoimap.Options{Logger: logger})
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	defer imapSrv.Close()
	if err := imapSrv.AddUser(*user, *password); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}

	cfg.IMAP.Address = imapSrv.Addr()
	h, err := plugin.NewHandler(cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	defer h.Server.Close()
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v (choose another address with -listen)\n", err)
		return 1
	}

	printDemoBanner(stdout, &demoBanner{
		URLs:     syncURLs(ln.Addr(), cfg.HTTP.Path),
		Loopback: isLoopback(ln.Addr()),
		User:     *user,
		Password: *password,
		IMAP:     imapSrv.Addr(),
		Folders:  []string{cfg.Folders.Contacts, cfg.Folders.Calendar, cfg.Folders.Tasks},
	})
	logger.Info("serving SyncML (demo)", "url", "http://"+ln.Addr().String()+cfg.HTTP.Path, "imap", imapSrv.Addr())

	// The daemon of `serve`, stopped by ctx as it is, and also when the
	// embedded IMAP server stops on its own (nothing could be synced).
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-imapSrv.Done():
			cancel()
		case <-runCtx.Done():
		}
	}()
	d := &daemon{handler: serveMux(cfg, h, logger), logger: logger, shutdownTimeout: shutdownTimeout}
	err = d.run(runCtx, ln, nil)
	if err == nil && ctx.Err() == nil {
		err = fmt.Errorf("the embedded IMAP server stopped: %v", imapSrv.Err())
	}
	if err != nil {
		logger.Error("demo stopped", "err", err)
		return 1
	}
	logger.Info("stopped; the demo's data is gone")
	return 0
}

// demoBanner is what the demo tells at start.
type demoBanner struct {
	URLs     []string // SyncML URLs a device can use, best first
	Loopback bool     // reachable from this machine only
	User     string
	Password string
	IMAP     string   // host:port of the embedded IMAP server
	Folders  []string // the mailbox folders of contacts, calendar, tasks
}

func printDemoBanner(w io.Writer, b *demoBanner) {
	var s strings.Builder
	s.WriteString("syncml-imap demo: a SyncML server with its own IMAP server, in this one process.\n\n")
	for i, u := range b.URLs {
		label := "SyncML URL:"
		if i > 0 {
			label = "       or:"
		}
		fmt.Fprintf(&s, "  %-12s %s\n", label, u)
	}
	fmt.Fprintf(&s, "  %-12s %s\n", "user:", b.User)
	fmt.Fprintf(&s, "  %-12s %s\n", "password:", b.Password)
	fmt.Fprintf(&s, "  %-12s %s\n", "databases:", "contacts (vCard), calendar (iCalendar events), tasks (iCalendar to-dos)")
	fmt.Fprintf(&s, "  %-12s %s\n", "auth:", "basic")
	fmt.Fprintf(&s, "  %-12s %s, no TLS, same user and password; folders %s\n",
		"IMAP server:", b.IMAP, strings.Join(b.Folders, ", "))
	if b.Loopback {
		s.WriteString("\nThis URL works from this machine only. For a phone, run with -listen 0.0.0.0:8080\n" +
			"and use this machine's network address.\n")
	}
	// SyncEvolution's file backend needs no Evolution and no desktop.
	s.WriteString("\nTry it with SyncEvolution (each datastore kept as files in a directory):\n\n")
	s.WriteString("    mkdir -p /tmp/syncml-demo/contacts /tmp/syncml-demo/calendar /tmp/syncml-demo/tasks\n")
	// preventSlowSync=0: SyncEvolution otherwise refuses the first sync
	// with a new server, which is always a slow sync.
	fmt.Fprintf(&s, "    syncevolution --configure --keyring=no --template none preventSlowSync=0 \\\n"+
		"        syncURL=%s username=%s password=%s \\\n", b.URLs[0], b.User, b.Password)
	for _, ds := range []struct{ name, uri, format string }{
		{"addressbook", "contacts", "text/vcard"},
		{"calendar", "calendar", "text/calendar"},
		{"todo", "tasks", "text/calendar"},
	} {
		fmt.Fprintf(&s, "        %[1]s/backend=file %[1]s/databaseFormat=%[3]s \\\n"+
			"        %[1]s/database=file:///tmp/syncml-demo/%[2]s %[1]s/uri=%[2]s \\\n", ds.name, ds.uri, ds.format)
	}
	s.WriteString("        syncml-demo addressbook calendar todo\n")
	s.WriteString("    syncevolution syncml-demo\n\n")
	s.WriteString("All data is kept in memory only: every contact, event and task is lost\n" +
		"when this process stops. Stop it with Ctrl-C.\n")
	io.WriteString(w, s.String())
}

// syncURLs are the SyncML URLs of a listener: its own address, or for a
// wildcard address the addresses of this machine's interfaces (IPv4
// first, loopback last).
func syncURLs(addr net.Addr, path string) []string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return []string{"http://" + addr.String() + path}
	}
	port := fmt.Sprint(tcp.Port)
	var v4, v6 []string
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || !ipn.IP.IsGlobalUnicast() {
				continue
			}
			u := "http://" + net.JoinHostPort(ipn.IP.String(), port) + path
			if ipn.IP.To4() != nil {
				v4 = append(v4, u)
			} else if tcp.IP.To4() == nil { // an IPv6 wildcard serves both
				v6 = append(v6, u)
			}
		}
	}
	return append(append(v4, v6...), "http://"+net.JoinHostPort("127.0.0.1", port)+path)
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// randomPassword is easy to type into a phone: 12 letters and digits
// without look-alikes (no 0/o, 1/l/i), about 59 bits, in groups of four.
func randomPassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	const limit = 256 - 256%len(alphabet) // bytes at or above it would favour the first letters
	var s strings.Builder
	var b [1]byte
	for n := 0; n < 12; {
		rand.Read(b[:])
		if int(b[0]) >= limit {
			continue
		}
		if n > 0 && n%4 == 0 {
			s.WriteByte('-')
		}
		s.WriteByte(alphabet[int(b[0])%len(alphabet)])
		n++
	}
	return s.String()
}
