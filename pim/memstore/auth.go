package memstore

import (
	"context"
	"sync"

	"syncml-imap/pim"
)

// Auth returns a pim.Authenticator that logs user in with password to s
// and refuses everyone else.
func (s *Store) Auth(user, password string) pim.Authenticator {
	return single{s, user, password}
}

type single struct {
	s              *Store
	user, password string
}

func (a single) Login(_ context.Context, user, password string) (pim.Store, error) {
	if user != a.user || password != a.password {
		return nil, pim.ErrAuthFailed
	}
	return a.s, nil
}

// Accounts is a pim.Authenticator that gives every user who logs in with
// Password a store of its own, made on first login with Options and
// shared by the user's later sessions.
type Accounts struct {
	Password string
	Options  *Options

	mu     sync.Mutex
	stores map[string]*Store
}

// Login implements pim.Authenticator.
func (a *Accounts) Login(_ context.Context, user, password string) (pim.Store, error) {
	if password != a.Password {
		return nil, pim.ErrAuthFailed
	}
	return a.Store(user), nil
}

// Store returns user's store, made if it is the first time.
func (a *Accounts) Store(user string) *Store {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stores == nil {
		a.stores = map[string]*Store{}
	}
	s := a.stores[user]
	if s == nil {
		s = New(a.Options)
		a.stores[user] = s
	}
	return s
}
