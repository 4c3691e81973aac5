package plugin

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"syncml-imap/pim"
)

// Accounts are the users who logged in since the daemon started, for the
// admin commands that go over every account ("devices list -all"): IMAP
// has no way to list a server's accounts. It is kept in memory only and
// grows by one name per user.
type Accounts struct {
	mu    sync.Mutex
	users map[string]string // lower-case name: the name as first logged in
}

// NewAccounts returns an empty set.
func NewAccounts() *Accounts { return &Accounts{users: map[string]string{}} }

func (a *Accounts) add(user string) {
	if a == nil || user == "" {
		return
	}
	key := strings.ToLower(user)
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.users[key]; !ok {
		a.users[key] = user
	}
}

// List returns the users seen, sorted.
func (a *Accounts) List() []string {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.users))
	for _, u := range a.users {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// Authenticator wraps auth so that every login that succeeds (with a
// password, or on the user's behalf with LoginAs) adds its user.
func (a *Accounts) Authenticator(auth pim.Authenticator) pim.Authenticator {
	return keepMaster(&seenAuth{auth: auth, seen: a}, auth)
}

type seenAuth struct {
	auth pim.Authenticator
	seen *Accounts
}

func (s *seenAuth) Login(ctx context.Context, user, password string) (pim.Store, error) {
	st, err := s.auth.Login(ctx, user, password)
	if err == nil {
		s.seen.add(user)
	}
	return st, err
}

func (s *seenAuth) LoginAs(ctx context.Context, user string) (pim.Store, error) {
	st, err := loginAs(ctx, s.auth, user)
	if err == nil {
		s.seen.add(user)
	}
	return st, err
}

// ReadUsersFile reads [admin] users_file: one user per line, "#" starts
// a comment, blank lines are skipped. "doveadm user '*'" writes such a
// file.
func ReadUsersFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("[admin] users_file: %w", err)
	}
	var users []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			users = append(users, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("[admin] users_file %s: %w", path, err)
	}
	return users, nil
}
