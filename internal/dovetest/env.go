package dovetest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// binaries are the Dovecot programs the helper runs.
type binaries struct {
	dovecot string
	doveadm string // empty if not found; only Server.Doveadm needs it
}

// findBinaries locates dovecot and doveadm in PATH or their Debian locations
// (/usr/sbin is often missing from an unprivileged user's PATH) and checks
// that dovecot is a 2.3 release.
func findBinaries() (binaries, error) {
	dovecot := lookPath("dovecot", "/usr/sbin/dovecot", "/usr/local/sbin/dovecot")
	if dovecot == "" {
		return binaries{}, errors.New("dovecot binary not found in PATH, /usr/sbin or /usr/local/sbin")
	}
	out, err := exec.Command(dovecot, "--version").Output()
	if err != nil {
		return binaries{}, fmt.Errorf("%s --version: %w", dovecot, err)
	}
	version := strings.TrimSpace(string(out))
	if !strings.HasPrefix(version, "2.3.") {
		return binaries{}, fmt.Errorf("%s is version %q; dovetest needs Dovecot 2.3", dovecot, version)
	}
	return binaries{
		dovecot: dovecot,
		doveadm: lookPath("doveadm", "/usr/bin/doveadm", "/usr/local/bin/doveadm"),
	}, nil
}

// lookPath returns name from PATH or else the first existing fallback.
func lookPath(name string, fallbacks ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range fallbacks {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// unavailable skips the test because Dovecot is unusable, or fails it when
// running in CI, where the tests must not silently go missing.
func unavailable(t testing.TB, err error) {
	t.Helper()
	fatal, msg := unavailableMessage(err, os.Getenv("CI"))
	if fatal {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// unavailableMessage decides between skipping and failing for unavailable.
func unavailableMessage(err error, ci string) (fatal bool, msg string) {
	msg = fmt.Sprintf("dovetest: %v (apt-get install dovecot-imapd)", err)
	if ci == "true" {
		return true, msg + "; CI=true, so this is a failure rather than a skip"
	}
	return false, msg
}

// accounts are the system users of a server.
type accounts struct {
	root bool // the test runs as root

	mailUID, mailGID int // owner of the mail

	loginUser     string // default_login_user
	internalUser  string // default_internal_user
	internalGroup string // default_internal_group
}

// lookupAccounts returns the accounts for the current process: as root the
// mail belongs to nobody (Dovecot refuses uid 0) and Dovecot's processes run
// as dovenull and dovecot; otherwise everything runs as the current user.
func lookupAccounts() (accounts, error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return accounts{}, fmt.Errorf("looking up the current user: %w", err)
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			return accounts{}, fmt.Errorf("looking up the group of user %s: %w", u.Username, err)
		}
		uid, gid, err := ids(u)
		if err != nil {
			return accounts{}, err
		}
		return accounts{
			mailUID:       uid,
			mailGID:       gid,
			loginUser:     u.Username,
			internalUser:  u.Username,
			internalGroup: g.Name,
		}, nil
	}

	mail, err := user.Lookup("nobody")
	if err != nil {
		return accounts{}, fmt.Errorf("running as root, mail must belong to an unprivileged user: %w", err)
	}
	uid, gid, err := ids(mail)
	if err != nil {
		return accounts{}, err
	}
	if uid == 0 || gid == 0 {
		return accounts{}, fmt.Errorf("user nobody has uid %d, gid %d", uid, gid)
	}
	for _, name := range []string{"dovenull", "dovecot"} {
		if _, err := user.Lookup(name); err != nil {
			return accounts{}, fmt.Errorf("user %s, created by the dovecot-core package: %w", name, err)
		}
	}
	if _, err := user.LookupGroup("dovecot"); err != nil {
		return accounts{}, fmt.Errorf("group dovecot, created by the dovecot-core package: %w", err)
	}
	return accounts{
		root:          true,
		mailUID:       uid,
		mailGID:       gid,
		loginUser:     "dovenull",
		internalUser:  "dovecot",
		internalGroup: "dovecot",
	}, nil
}

// ids returns the numeric uid and gid of u.
func ids(u *user.User) (uid, gid int, err error) {
	uid, err = strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, fmt.Errorf("uid of %s: %w", u.Username, err)
	}
	gid, err = strconv.Atoi(u.Gid)
	if err != nil {
		return 0, 0, fmt.Errorf("gid of %s: %w", u.Username, err)
	}
	return uid, gid, nil
}

// makeServerDir creates the server's directory. It is not t.TempDir, which
// is private (0700) to the test's user: as root, Dovecot's unprivileged
// processes must traverse it, so it is made 0755 in a directory they can
// traverse. The path ends up in unix socket names, limited to about 100
// bytes, so it must stay short as well.
func makeServerDir(root bool) (string, error) {
	parent := os.TempDir()
	if len(parent) > 40 || (root && !traversable(parent)) {
		parent = "/tmp"
	}
	dir, err := os.MkdirTemp(parent, "dovetest-")
	if err != nil {
		return "", fmt.Errorf("creating server directory: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", errors.Join(fmt.Errorf("making server directory traversable: %w", err), os.RemoveAll(dir))
	}
	// The path goes unquoted into dovecot.conf and into passwd-file args,
	// which are split at spaces and expand %.
	if strings.ContainsAny(dir, " \t\n\"'%#") {
		return "", errors.Join(fmt.Errorf("server directory %q contains whitespace, quotes, %% or #", dir), os.RemoveAll(dir))
	}
	return dir, nil
}

// traversable reports whether every directory on the way to dir is
// searchable by all users.
func traversable(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		st, err := os.Stat(dir)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// removeAll removes dir, retrying for a moment in case a Dovecot process that
// is still exiting creates a file meanwhile.
func removeAll(dir string) error {
	var err error
	for range 20 {
		if err = os.RemoveAll(dir); err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}
