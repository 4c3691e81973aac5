// Package dovetest starts real Dovecot IMAP servers for tests.
//
// Each call to [Start] runs its own "dovecot -F" master process with a
// configuration generated into a private temporary directory: its own
// base_dir, state_dir, log file, passwd-files and mail homes, and listeners
// on free ports of 127.0.0.1 only. Servers are independent of each other and
// of any system-wide Dovecot, so tests using them may run in parallel. The
// server is stopped and its directory removed by t.Cleanup.
//
// Only Dovecot 2.3 is supported (Debian/Ubuntu package dovecot-imapd); its
// configuration syntax differs from Dovecot 2.4. When the dovecot binary is
// missing, or is not a 2.3 release, the test is skipped, unless the
// environment variable CI is "true", in which case it fails.
//
// The helper works both as root and as an unprivileged user. Dovecot refuses
// to access mail as uid 0, so when the tests run as root the mail belongs to
// the user "nobody" and Dovecot's own processes run as "dovenull" and
// "dovecot" (created by the Debian package); otherwise every process runs as
// the current user.
//
// The server's configuration, in short:
//
//   - mail_location = maildir:~/Maildir (sdbox or mdbox with
//     [Options.MailFormat]), one inbox namespace with the
//     hierarchy separator "/" and no prefix. With Maildir++ and "/" as
//     separator Dovecot rejects "." in mailbox names.
//   - passwd-file passdb and userdb, one file per user (see [Server.AddUser]),
//     {PLAIN} passwords, auth_mechanisms = plain login,
//     disable_plaintext_auth = no. Usernames are lowercased by Dovecot
//     (auth_username_format = %Lu).
//   - Failed logins are answered after about 0.5s (auth_failure_delay = 0,
//     Dovecot's granularity), and the per-IP auth penalty, which would delay
//     later logins from 127.0.0.1 by up to 15s, is disabled.
//   - mail_max_userip_connections = 100, so tests may open many connections.
//   - ssl = no, unless [Options.TLS] is set.
//
// Stopping takes about a second: on SIGTERM the Dovecot master always waits
// a second for its children. On Linux dovecot also gets SIGTERM when the
// test binary dies without running its cleanups (a test timeout); its
// directory stays behind then.
package dovetest

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Profile selects the capabilities the server announces.
//
// Profiles change only what Dovecot announces in CAPABILITY (imap_capability);
// Dovecot still accepts the commands of extensions it does not announce (for
// example ENABLE CONDSTORE or UID MOVE on a [ProfileMinimal] server). A client
// under test must therefore honour the announced capabilities itself.
type Profile int

const (
	// ProfileFull keeps Dovecot's default capabilities: CONDSTORE, QRESYNC,
	// ESEARCH, MULTIAPPEND, UIDPLUS, LITERAL+, MOVE, ... (and METADATA when
	// [Options.MetadataPlugin] is set).
	ProfileFull Profile = iota
	// ProfileNoCondStore announces Dovecot's default capabilities minus
	// CONDSTORE and QRESYNC.
	ProfileNoCondStore
	// ProfileMinimal announces only "IMAP4rev1 LITERAL+" after login (plus
	// METADATA when [Options.MetadataPlugin] is set): no CONDSTORE, QRESYNC,
	// ESEARCH, MULTIAPPEND, UIDPLUS, MOVE, IDLE, ENABLE, ...
	ProfileMinimal
)

// String returns the name of the profile.
func (p Profile) String() string {
	switch p {
	case ProfileFull:
		return "Full"
	case ProfileNoCondStore:
		return "NoCondStore"
	case ProfileMinimal:
		return "Minimal"
	default:
		return "Profile(" + strconv.Itoa(int(p)) + ")"
	}
}

// defaultCapabilities is the post-login CAPABILITY of Dovecot 2.3.19 with an
// empty imap_capability and no special-use mailboxes (CAPABILITY_STRING in
// src/imap/imap-common.h, plus the LITERAL+ that imap-client.c appends).
// TestProfiles checks it against the installed Dovecot.
const defaultCapabilities = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY " +
	"THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE " +
	"UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH " +
	"ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY " +
	"PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY"

// minimalCapabilities is the imap_capability of ProfileMinimal.
const minimalCapabilities = "IMAP4rev1 LITERAL+"

// capabilities returns the post-login capabilities of the profile and
// whether they have to be set explicitly with imap_capability.
//
// An explicit imap_capability replaces everything Dovecot would otherwise
// add at runtime (client_add_capability is a no-op then), METADATA included,
// so METADATA is added here when the plugin is enabled.
func (p Profile) capabilities(metadata bool) (caps []string, explicit bool, err error) {
	switch p {
	case ProfileFull:
		caps = strings.Fields(defaultCapabilities)
	case ProfileNoCondStore:
		caps = slices.DeleteFunc(strings.Fields(defaultCapabilities), func(c string) bool {
			return c == "CONDSTORE" || c == "QRESYNC"
		})
		explicit = true
	case ProfileMinimal:
		caps = strings.Fields(minimalCapabilities)
		explicit = true
	default:
		return nil, false, fmt.Errorf("unknown profile %v", p)
	}
	if metadata {
		caps = append(caps, "METADATA")
	}
	return caps, explicit, nil
}

// Options configures a server started by [Start].
type Options struct {
	// Profile selects the announced capabilities.
	Profile Profile

	// TLS enables ssl: STARTTLS on Addr and implicit TLS on TLSAddr, with a
	// self-signed certificate for 127.0.0.1, ::1 and localhost that
	// Server.RootCAs trusts.
	TLS bool

	// MasterUser and MasterPassword, when MasterUser is not empty, add a
	// master passdb (auth_master_user_separator = "*"): logging in as
	// "user*master" with the master password logs in as user.
	MasterUser, MasterPassword string

	// MetadataPlugin enables METADATA (mail_attribute_dict in the user's
	// home and imap_metadata = yes).
	MetadataPlugin bool

	// AuthPenalty keeps Dovecot's auth penalty on: after failed logins
	// from an IP, that IP's next logins are delayed (up to 15 s). Off by
	// default so that tests of wrong passwords stay fast.
	AuthPenalty bool
	// TrustedNetworks is login_trusted_networks: clients from there may
	// name the address they act for (IMAP ID x-originating-ip), which
	// Dovecot then logs and penalises instead of theirs.
	TrustedNetworks string
	// MaxUserIPConnections is mail_max_userip_connections; 0: 100.
	MaxUserIPConnections int

	// MailFormat is the mailbox format of mail_location: MailMaildir
	// (the default, "" too), MailSdbox or MailMdbox. Every format keeps
	// the inbox namespace with "/" as its separator.
	MailFormat MailFormat

	// NamespacePrefix and NamespaceSeparator, when set, are the inbox
	// namespace's prefix and separator (default "" and "/"), as servers
	// that keep every folder under the inbox have them ("INBOX." and
	// ".", Courier style).
	NamespacePrefix, NamespaceSeparator string
}

// MailFormat is a Dovecot mailbox format (Dovecot's "mailbox formats"
// documentation): maildir keeps a file per message and a dovecot-uidlist
// per folder, sdbox a file per message under Dovecot's own index, mdbox
// many messages per file.
type MailFormat string

// The mailbox formats Options.MailFormat takes.
const (
	MailMaildir MailFormat = "maildir"
	MailSdbox   MailFormat = "sdbox"
	MailMdbox   MailFormat = "mdbox"
)

// location is the format's mail_location.
func (f MailFormat) location() (string, error) {
	switch f {
	case "", MailMaildir:
		return "maildir:~/Maildir", nil
	case MailSdbox:
		return "sdbox:~/sdbox", nil
	case MailMdbox:
		return "mdbox:~/mdbox", nil
	}
	return "", fmt.Errorf("unknown mailbox format %q (maildir, sdbox, mdbox)", string(f))
}

// Server is a running Dovecot instance.
type Server struct {
	// Addr is the plain IMAP listener, 127.0.0.1:port. With TLS it also
	// offers STARTTLS.
	Addr string
	// TLSAddr is the implicit TLS listener, 127.0.0.1:port (TLS only).
	TLSAddr string
	// RootCAs trusts the server certificate (TLS only).
	RootCAs *x509.CertPool
	// Dir is the server's private directory: configuration, logs, runtime
	// sockets, passwd-files and mail homes (home/<user>/Maildir).
	Dir string
	// ConfigPath is the dovecot.conf of the server.
	ConfigPath string
	// Profile is the capability profile the server was started with.
	Profile Profile

	caps     []string
	acct     accounts
	bins     binaries
	env      []string
	logPath  string
	errPath  string
	proc     *process
	stopOnce sync.Once

	mu    sync.Mutex
	users map[string]bool
}

// startupTimeout bounds the time Start waits for the greeting.
const startupTimeout = 20 * time.Second

// bindAttempts is how often Start retries with new ports when a listener
// could not be bound because another process took the port meanwhile.
const bindAttempts = 5

// Start starts a Dovecot server configured by opts (nil means ProfileFull
// without TLS) and registers its shutdown with t.Cleanup. It fails the test
// if the server does not answer with its greeting in time, and skips it (or
// fails it when CI=true) if Dovecot 2.3 is not installed.
func Start(t testing.TB, opts *Options) *Server {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	s, cfg := newServer(t, opts)
	begin := time.Now()
	for attempt := 1; ; attempt++ {
		err := s.startOnce(opts.TLS, cfg)
		if err == nil {
			break
		}
		if _, ok := errors.AsType[*addrInUseError](err); ok && attempt < bindAttempts {
			t.Logf("dovetest: attempt %d: %v; retrying with other ports", attempt, err)
			continue
		}
		t.Fatalf("dovetest: starting dovecot (attempt %d): %v\n%s", attempt, err, s.Log())
	}
	t.Logf("dovetest: dovecot (%s) listening on %s, started in %v", opts.Profile, s.Addr,
		time.Since(begin).Round(time.Millisecond))
	return s
}

// newServer prepares everything but the ports and registers the cleanups.
func newServer(t testing.TB, opts *Options) (*Server, config) {
	t.Helper()
	bins, err := findBinaries()
	if err != nil {
		unavailable(t, err)
	}
	caps, explicit, err := opts.Profile.capabilities(opts.MetadataPlugin)
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	if opts.MasterUser != "" {
		if err := validateCredentials(opts.MasterUser, opts.MasterPassword); err != nil {
			t.Fatalf("dovetest: master user: %v", err)
		}
	}
	location, err := opts.MailFormat.location()
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	acct, err := lookupAccounts()
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}

	dir, err := makeServerDir(acct.root)
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	t.Cleanup(func() {
		if err := removeAll(dir); err != nil {
			t.Errorf("dovetest: removing server directory: %v", err)
		}
	})

	s := &Server{
		Dir:        dir,
		ConfigPath: filepath.Join(dir, "dovecot.conf"),
		Profile:    opts.Profile,
		caps:       caps,
		acct:       acct,
		bins:       bins,
		env:        childEnv(),
		logPath:    filepath.Join(dir, "dovecot.log"),
		errPath:    filepath.Join(dir, "dovecot.stderr"),
		users:      make(map[string]bool),
	}
	cfg := config{
		dir:             dir,
		acct:            acct,
		metadata:        opts.MetadataPlugin,
		authPenalty:     opts.AuthPenalty,
		trustedNetworks: opts.TrustedNetworks,
		maxUserIP:       opts.MaxUserIPConnections,
		mailLocation:    location,
		nsPrefix:        opts.NamespacePrefix,
		nsSeparator:     opts.NamespaceSeparator,
	}
	if explicit {
		cfg.capability = strings.Join(caps, " ")
	}
	if err := s.prepareDir(opts, &cfg); err != nil {
		t.Fatalf("dovetest: %v", err)
	}

	// Registered after the removal, so that it runs before it, and before
	// the first start, so that it runs even when starting fails.
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("dovetest: stopping dovecot: %v\n%s", err, s.Log())
		}
	})
	return s, cfg
}

// Capabilities returns the capabilities the server is configured to announce
// after login. For ProfileFull it is Dovecot 2.3.19's default list.
func (s *Server) Capabilities() []string {
	return slices.Clone(s.caps)
}

// TLSConfig returns a client TLS configuration that trusts the server
// certificate (nil without TLS).
func (s *Server) TLSConfig() *tls.Config {
	if s.RootCAs == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.RootCAs, ServerName: "127.0.0.1"}
}

// AddUser adds a user with a mail home in Dir/home/<name>. Dovecot sees the
// user at once, without a restart; the user can log in right after AddUser
// returns.
//
// Names are lowercased, as Dovecot does with the login name, and may contain
// only the characters Dovecot accepts by default (letters, digits and
// ".-_@"). Passwords must be non-empty and must not contain ':' or control
// characters. Adding a name twice fails the test.
func (s *Server) AddUser(t testing.TB, name, password string) {
	t.Helper()
	if err := s.addUser(name, password); err != nil {
		t.Fatalf("dovetest: adding user %q: %v", name, err)
	}
}

// Doveadm runs "doveadm -c <config> args..." against the server, fails the
// test on error and returns the standard output.
func (s *Server) Doveadm(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.doveadm(args...)
	if err != nil {
		t.Fatalf("dovetest: %v\n%s", err, s.Log())
	}
	return out
}

// Log returns the Dovecot log (and anything the master process wrote to its
// standard error), for failure messages.
func (s *Server) Log() string {
	var b strings.Builder
	b.WriteString("--- dovecot log (")
	b.WriteString(s.logPath)
	b.WriteString(") ---\n")
	if data, err := os.ReadFile(s.logPath); err != nil {
		fmt.Fprintf(&b, "(%v)\n", err)
	} else {
		b.Write(data)
	}
	if data, err := os.ReadFile(s.errPath); err == nil && len(data) > 0 {
		b.WriteString("--- dovecot stderr ---\n")
		b.Write(data)
	}
	return b.String()
}

// prepareDir writes everything the configuration refers to except the
// configuration itself.
func (s *Server) prepareDir(opts *Options, cfg *config) error {
	for _, sub := range []string{"state", "home", "passwd.d"} {
		if err := os.Mkdir(filepath.Join(s.Dir, sub), 0o755); err != nil {
			return fmt.Errorf("creating %s directory: %w", sub, err)
		}
	}
	if opts.MasterUser != "" {
		cfg.masterFile = filepath.Join(s.Dir, "master-users")
		line := strings.ToLower(opts.MasterUser) + ":{PLAIN}" + opts.MasterPassword + "\n"
		if err := os.WriteFile(cfg.masterFile, []byte(line), 0o644); err != nil {
			return fmt.Errorf("writing master passwd-file: %w", err)
		}
	}
	if opts.TLS {
		tlsDir := filepath.Join(s.Dir, "tls")
		if err := os.Mkdir(tlsDir, 0o755); err != nil {
			return fmt.Errorf("creating tls directory: %w", err)
		}
		cert, err := writeSelfSignedCert(tlsDir)
		if err != nil {
			return err
		}
		cfg.certFile, cfg.keyFile = cert.certFile, cert.keyFile
		s.RootCAs = cert.pool
	}
	return nil
}

// startOnce picks ports (two with TLS), and starts dovecot on them.
func (s *Server) startOnce(withTLS bool, cfg config) error {
	nports := 1
	if withTLS {
		nports = 2
	}
	ports, err := freePorts(nports)
	if err != nil {
		return err
	}
	cfg.imapPort = ports[0]
	if withTLS {
		cfg.imapsPort = ports[1]
	}
	return s.startOn(cfg)
}

// startOn writes the configuration for the ports in cfg, starts dovecot and
// waits for its greeting. It returns an *addrInUseError if a listener could
// not be bound.
func (s *Server) startOn(cfg config) error {
	var err error
	cfg.token, err = randomToken()
	if err != nil {
		return err
	}
	if err := os.WriteFile(s.ConfigPath, []byte(cfg.render()), 0o644); err != nil {
		return fmt.Errorf("writing configuration: %w", err)
	}
	// A previous attempt's process has exited; start over with empty logs so
	// that addrInUse only sees this attempt.
	for _, p := range []string{s.logPath, s.errPath} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing old log: %w", err)
		}
	}

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.imapPort))
	proc, err := startProcess(s.bins.dovecot, []string{"-F", "-c", s.ConfigPath}, s.Dir, s.env, s.errPath)
	if err != nil {
		return err
	}
	s.proc = proc

	if err := waitGreeting(proc, addr, cfg.token); err != nil {
		if stopErr := proc.stop(); stopErr != nil && !isEarlyExit(stopErr) {
			err = errors.Join(err, stopErr)
		}
		if s.addrInUse() {
			return &addrInUseError{err}
		}
		return err
	}
	s.Addr = addr
	if cfg.imapsPort != 0 {
		s.TLSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.imapsPort))
	}
	return nil
}

// addrInUseError reports that dovecot could not bind one of its listeners
// because another process took the port after freePorts picked it.
type addrInUseError struct{ err error }

func (e *addrInUseError) Error() string {
	return "listener address already in use: " + e.err.Error()
}

func (e *addrInUseError) Unwrap() error { return e.err }

// addrInUse reports whether the last dovecot run failed to bind a port.
func (s *Server) addrInUse() bool {
	for _, p := range []string{s.logPath, s.errPath} {
		data, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(data), "Address already in use") {
			return true
		}
	}
	return false
}

// stop stops the server; it is idempotent. Errors are only reported for a
// server that started: Start has reported the others.
func (s *Server) stop() error {
	var err error
	s.stopOnce.Do(func() {
		if s.proc != nil {
			err = s.proc.stop()
		}
		if s.Addr == "" {
			err = nil
		}
	})
	return err
}

// waitGreeting waits until addr greets with "* OK" and the server's token,
// the process exits, or startupTimeout passes.
func waitGreeting(proc *process, addr, token string) error {
	deadline := time.Now().Add(startupTimeout)
	var last error
	for {
		select {
		case <-proc.done:
			return fmt.Errorf("dovecot exited before greeting: %v", proc.err)
		default:
		}
		line, err := readGreeting(addr)
		switch {
		case err != nil:
			last = err
		case strings.HasPrefix(line, "* OK") && strings.Contains(line, token):
			return nil
		default:
			// Another server owns the port: ours is about to fail binding.
			last = fmt.Errorf("unexpected greeting %q", line)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no greeting on %s within %v: %v", addr, startupTimeout, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readGreeting connects to addr and returns the first line it sends.
func readGreeting(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("reading greeting: %w", err)
	}
	// Be polite, so that the log does not fill with inactivity disconnects.
	_, _ = conn.Write([]byte("a LOGOUT\r\n"))
	return strings.TrimRight(line, "\r\n"), nil
}

// freePorts returns n distinct ports of 127.0.0.1 that were free a moment
// ago. All listeners are open at the same time, so the ports differ.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("picking a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// randomToken returns a random hex string identifying one server run.
func randomToken() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// validName reports whether name consists of Dovecot's default
// auth_username_chars and can serve as a file name (see addUser).
func validName(name string) bool {
	if name == "" || name == "." || name == ".." {
		return false
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune(".-_@", r)) {
			return false
		}
	}
	return true
}

// validateCredentials checks that name and password fit in a passwd-file.
func validateCredentials(name, password string) error {
	if !validName(name) {
		return fmt.Errorf("invalid name %q: use letters, digits and .-_@", name)
	}
	if password == "" {
		return errors.New("empty password (Dovecot rejects empty passwords)")
	}
	if strings.ContainsFunc(password, func(r rune) bool { return r == ':' || r < 0x20 || r == 0x7f }) {
		return errors.New("password contains ':' or a control character")
	}
	return nil
}

// addUser writes the user's own passwd-file, Dir/passwd.d/<name>.
//
// Dovecot's passwd-file driver checks a file's mtime and size at most once a
// second (db-passwd-file.c: passwd_file_sync returns early while
// last_sync_time == ioloop_time), so a user appended to a single shared
// passwd-file stays invisible for up to a second after any other lookup,
// whatever the mtime. The passdb and userdb therefore use a path with %u:
// every user has a file of its own that Dovecot has never cached, and a new
// user is visible immediately. The file is written under a temporary name
// and renamed, so Dovecot never reads it half-written.
func (s *Server) addUser(name, password string) error {
	if err := validateCredentials(name, password); err != nil {
		return err
	}
	name = strings.ToLower(name)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[name] {
		return errors.New("user already exists")
	}

	home := filepath.Join(s.Dir, "home", name)
	if err := os.Mkdir(home, 0o700); err != nil {
		return fmt.Errorf("creating home: %w", err)
	}
	if s.acct.root {
		if err := os.Chown(home, s.acct.mailUID, s.acct.mailGID); err != nil {
			return fmt.Errorf("giving home to the mail user: %w", err)
		}
	}
	line := fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s::\n", name, password, s.acct.mailUID, s.acct.mailGID, home)
	dir := filepath.Join(s.Dir, "passwd.d")
	tmp := filepath.Join(dir, ".tmp-"+name)
	if err := os.WriteFile(tmp, []byte(line), 0o644); err != nil {
		return fmt.Errorf("writing passwd-file: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("installing passwd-file: %w", err)
	}
	s.users[name] = true
	return nil
}

// doveadm runs doveadm with the server's configuration.
func (s *Server) doveadm(args ...string) (string, error) {
	if s.bins.doveadm == "" {
		return "", errors.New("doveadm not found (apt-get install dovecot-core)")
	}
	cmd := exec.Command(s.bins.doveadm, append([]string{"-c", s.ConfigPath}, args...)...)
	cmd.Dir = s.Dir
	cmd.Env = s.env
	var stdout, stderr strings.Builder
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("doveadm %s: %w\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// childEnv is the environment of dovecot and doveadm: only PATH (and TZ), so
// that nothing of the test's environment changes Dovecot's behaviour.
func childEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH")}
	if tz, ok := os.LookupEnv("TZ"); ok {
		env = append(env, "TZ="+tz)
	}
	return env
}

// FailPassdb makes the passdb lookup of the user fail the way a passdb
// whose backend is down does (its passwd-file becomes a symbolic link to
// itself): Dovecot then answers the user's logins with "NO [UNAVAILABLE]
// Temporary authentication failure". Dovecot re-reads a passwd-file at
// most once a second, so call it before the user's first login (or a
// second after the last one).
func (s *Server) FailPassdb(t testing.TB, name string) {
	t.Helper()
	name = strings.ToLower(name)
	p := filepath.Join(s.Dir, "passwd.d", name)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dovetest: %v", err)
	}
	if err := os.Symlink(p, p); err != nil {
		t.Fatalf("dovetest: %v", err)
	}
}
