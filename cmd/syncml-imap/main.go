// Command syncml-imap is the SyncML server daemon and its admin commands.
//
//	syncml-imap serve -config FILE    run the daemon
//	syncml-imap check -config FILE    check the configuration and the IMAP server
//	syncml-imap devices list|show|set|reset|remove|unlock -config FILE -user NAME ...
//	                                  manage a user's device slots and lockouts
//	syncml-imap export -config FILE -user NAME -db DB -o FILE|- [-format F]
//	                                  write a database to one .vcf/.ics/.vcs file
//	syncml-imap import -config FILE -user NAME -db DB [-dry-run] FILE|-
//	                                  read such a file into a database
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"syncml-imap/config"
	"syncml-imap/imapstore"
	"syncml-imap/plugin"
)

const usage = `syncml-imap: SyncML (OMA DS) sync of contacts, calendars and tasks into IMAP mailboxes

Usage:
  syncml-imap serve -config FILE    run the daemon
  syncml-imap check -config FILE [-user NAME]
                                    check the configuration and the IMAP server;
                                    with -user, also log in as NAME (password from
                                    SYNCML_IMAP_PASSWORD, or the configured master user)
                                    and check that each of [folders] exists or can
                                    be created and takes a message (a test message,
                                    removed at once), saying how to fix what fails
  syncml-imap devices list|show|set|reset|remove|unlock -config FILE -user NAME
                    [-device ID|N] [-json] [-yes] [-server URL] [key=value ...]
                                    manage a user's device slots: list them, show
                                    one, change its policy, reset its sync state
                                    (next sync slow) or free its slot (the items
                                    stay); unlock a device locked out after failed
                                    logins; "devices list -all" lists every
                                    account's. "syncml-imap devices help" has details
  syncml-imap export -config FILE -user NAME -db contacts|calendar|tasks
                    -o FILE|- [-format vcard30|vcard21|ical20|vcal10]
                                    write every item of a database to one file:
                                    .vcf (vCard 3.0, or 2.1) or .ics (iCalendar
                                    2.0, or .vcs with vCalendar 1.0)
  syncml-imap import -config FILE -user NAME -db contacts|calendar|tasks
                    [-dry-run] FILE|-
                                    read a .vcf, .ics or .vcs export (Outlook,
                                    Thunderbird, Google, Apple, phones) into a
                                    database, skipping what the mailbox has and
                                    broken records. "syncml-imap import help"
                                    has details
  syncml-imap demo [-listen ADDR] [-user NAME] [-password PW]
                                    try it: a SyncML server with its own in-memory
                                    IMAP server, nothing else needed; data is lost
                                    when it stops
  syncml-imap version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "check":
		return cmdCheck(ctx, args[1:], stdout, stderr)
	case "devices":
		return cmdDevices(ctx, args[1:], stdout, stderr)
	case "export":
		return cmdExport(ctx, args[1:], stdout, stderr)
	case "import":
		return cmdImport(ctx, args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "syncml-imap", version())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "syncml-imap: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func version() string { return "0.1.0-dev" }

type commonFlags struct {
	fs     *flag.FlagSet
	config string
}

func newFlags(name string, stderr io.Writer) *commonFlags {
	c := &commonFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.fs.SetOutput(stderr)
	c.fs.StringVar(&c.config, "config", "/etc/syncml-imap/config.toml", "configuration file (TOML)")
	return c
}

func (c *commonFlags) load() (*config.Config, error) {
	return config.Load(c.config)
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == config.LogFormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("check", stderr)
	user := f.fs.String("user", "", "also log in as this user and inspect the mailbox")
	if err := f.fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := f.load()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "config %s: ok\n", f.config)
	logger := newLogger(cfg, stderr)
	opts, err := plugin.StoreOptions(cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	probe, err := imapstore.Probe(ctx, opts)
	if err != nil {
		fmt.Fprintf(stdout, "imap %s: FAILED: %v\n", cfg.IMAP.Address, err)
		return 1
	}
	tlsNote := "no TLS"
	if probe.TLSVersion != "" {
		tlsNote = probe.TLSVersion
	}
	fmt.Fprintf(stdout, "imap %s: ok (%s)\n  capabilities before login: %s\n", probe.Address, tlsNote, strings.Join(probe.Caps, " "))
	if *user == "" {
		fmt.Fprintln(stdout, "  (give -user NAME to log in and check the capabilities a session gets)")
		return 0
	}
	login, password := *user, os.Getenv("SYNCML_IMAP_PASSWORD")
	if password == "" && cfg.IMAP.MasterUser != "" {
		login, password = *user+cfg.IMAP.MasterSeparator+cfg.IMAP.MasterUser, cfg.IMAP.MasterPassword
	}
	if password == "" {
		fmt.Fprintln(stderr, "check: no password: set SYNCML_IMAP_PASSWORD or configure imap.master_user")
		return 1
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	acct, err := imapstore.Dial(dctx, opts, login, password)
	if err != nil {
		if errors.Is(err, imapstore.ErrAuthFailed) {
			fmt.Fprintf(stdout, "login as %s: REFUSED by the IMAP server\n", *user)
		} else {
			fmt.Fprintf(stdout, "login as %s: FAILED: %v\n", *user, err)
		}
		return 1
	}
	defer acct.Close()
	fmt.Fprintf(stdout, "login as %s: ok\n", *user)
	for _, line := range capabilityReport(acct.Caps()) {
		fmt.Fprintln(stdout, "  "+line)
	}
	if !checkFolders(dctx, acct, *user, stdout) {
		return 1
	}
	return 0
}

// capabilityReport says, for each capability the store uses, what works
// and what falls back.
func capabilityReport(c imapstore.Caps) []string {
	say := func(ok bool, name, yes, no string) string {
		if ok {
			return name + ": yes, " + yes
		}
		return name + ": no, " + no
	}
	return []string{
		say(c.CondStore, "CONDSTORE", "an unchanged folder costs one STATUS", "change detection compares UID sets (one SEARCH per folder and sync)"),
		say(c.QResync, "QRESYNC", "announced; not needed: deletions come from the one UID SEARCH per changed folder", "deletions come from the one UID SEARCH per changed folder"),
		say(c.ESearch, "ESEARCH", "UID sets come as compact ranges", "UID sets come as plain lists"),
		say(c.MultiAppend, "MULTIAPPEND", "many items are stored in one command", "items are stored one APPEND at a time (slower first syncs)"),
		say(c.UIDPlus, "UIDPLUS", "new UIDs known at once, precise UID EXPUNGE", "new UIDs found by the next listing; EXPUNGE also removes messages a mail client marked \\Deleted"),
		say(c.LiteralPlus, "LITERAL+", "no wait before each stored message", "one round trip per stored message for the literal"),
	}
}
