package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"syncml-imap/imapstore"
)

// ConnBudget counts the daemon's IMAP connections, those of sessions and
// those kept in the Pool, and bounds each user's: Dovecot refuses a
// user's connections past mail_max_userip_connections with [LIMIT],
// which a device would be told as 503, so the daemon does not go there.
// It is the stores' imapstore.ConnGate (Options.Conns): it is told of
// every connection an Account opens and closes, the MULTIAPPEND one
// included.
//
// With the user's budget full, a new connection first closes one the
// Pool keeps for the user; a MULTIAPPEND connection is otherwise refused
// (the Account appends on its first connection), and a login waits (see
// await) for one of the user's connections to close or be kept.
type ConnBudget struct {
	max    int
	wait   time.Duration
	suffix string // "<separator><master>": a master login counts for its user
	pool   *Pool
	m      *Metrics
	// releaseIdle has the user's sessions that wait between messages
	// give their connections back (syncml.Server.ReleaseIdle).
	releaseIdle func(user string) int

	mu    sync.Mutex
	users map[string]*userConns
}

type userConns struct {
	open    int
	waiting int
	// freed is closed (and replaced) when a connection of the user closes
	// or is kept in the Pool.
	freed chan struct{}
}

// ConnBudgetOptions configure a ConnBudget; zero fields: no limit, no
// wait, no pool, no metrics.
type ConnBudgetOptions struct {
	// MaxPerUser bounds a user's open connections; 0: no limit.
	MaxPerUser int
	// Wait bounds how long a login waits for room in the user's budget.
	Wait time.Duration
	// MasterSuffix is what a master login adds to the user name
	// ("*admin"), so that it counts for the user.
	MasterSuffix string
	// Pool, when set, is where kept connections are closed to make room,
	// and it tells the budget when it keeps one.
	Pool    *Pool
	Metrics *Metrics
}

// NewConnBudget makes a budget; it becomes opts.Pool's too.
func NewConnBudget(opts ConnBudgetOptions) *ConnBudget {
	b := &ConnBudget{max: max(opts.MaxPerUser, 0), wait: max(opts.Wait, 0), suffix: opts.MasterSuffix,
		pool: opts.Pool, m: opts.Metrics, users: map[string]*userConns{}}
	if b.pool != nil {
		b.pool.budget = b
	}
	return b
}

// SetReleaseIdle sets what a login at the user's full budget calls, once,
// before it waits: fn has the user's idle sessions close their
// connections and says how many did.
func (b *ConnBudget) SetReleaseIdle(fn func(user string) int) {
	if b != nil {
		b.releaseIdle = fn
	}
}

// errBudgetFull: the user has as many IMAP connections as the budget
// allows; like a [LIMIT] from the server, it means "not now" (503).
var errBudgetFull = &mappedError{errors.New("plugin: the user's IMAP connections ([imap] max_user_connections) are all in use"), imapstore.ErrUnavailable}

var _ imapstore.ConnGate = (*ConnBudget)(nil)

// userOf is the user a login name counts for: Dovecot counts a master
// login as the user's, and names without regard to case.
func (b *ConnBudget) userOf(login string) string {
	if b.suffix != "" {
		login = strings.TrimSuffix(login, b.suffix)
	}
	return strings.ToLower(login)
}

// user returns login's entry; callers hold b.mu.
func (b *ConnBudget) user(user string) *userConns {
	u := b.users[user]
	if u == nil {
		u = &userConns{freed: make(chan struct{})}
		b.users[user] = u
	}
	return u
}

// Open implements imapstore.ConnGate: room in the budget, or room made
// by closing a connection the Pool keeps for the user; else errBudgetFull.
func (b *ConnBudget) Open(ctx context.Context, login string, extra bool) error {
	user := b.userOf(login)
	for {
		b.mu.Lock()
		u := b.user(user)
		if b.max == 0 || u.open < b.max {
			u.open++
			b.mu.Unlock()
			b.m.conns(1)
			return nil
		}
		b.mu.Unlock()
		if b.pool == nil || !b.pool.evict(user) {
			return errBudgetFull
		}
	}
}

// Closed implements imapstore.ConnGate.
func (b *ConnBudget) Closed(login string) {
	user := b.userOf(login)
	b.mu.Lock()
	u := b.user(user)
	u.open--
	b.kickLocked(user, u)
	b.mu.Unlock()
	b.m.conns(-1)
}

// kept is told by the Pool that it keeps a connection of user: a login
// waiting for the user's budget may take it, or close it.
func (b *ConnBudget) kept(user string) {
	user = b.userOf(user)
	b.mu.Lock()
	b.kickLocked(user, b.user(user))
	b.mu.Unlock()
}

// kickLocked wakes the user's waiting logins, and forgets a user with
// nothing open and nobody waiting; callers hold b.mu.
func (b *ConnBudget) kickLocked(user string, u *userConns) {
	close(u.freed)
	u.freed = make(chan struct{})
	if u.open <= 0 && u.waiting == 0 {
		delete(b.users, user)
	}
}

// openOf is how many connections of user are open (in sessions and kept).
func (b *ConnBudget) openOf(user string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if u := b.users[b.userOf(user)]; u != nil {
		return u.open
	}
	return 0
}

// waitingOf is how many logins of user wait for room.
func (b *ConnBudget) waitingOf(user string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if u := b.users[b.userOf(user)]; u != nil {
		return u.waiting
	}
	return 0
}

// await runs open (which takes a kept connection or logs in) and, while
// it fails for the user's full budget, runs it again each time one of
// the user's connections closes or is kept, for at most the budget's
// wait or until ctx ends. What it then returns matches
// pim.ErrUnavailable, never ErrAuthFailed: the device is told 503 and
// to try again later, and the engine first has the user's idle sessions
// give their connections back and retries.
func (b *ConnBudget) await(ctx context.Context, login string, open func() (*accountStore, error)) (*accountStore, error) {
	if b == nil {
		return open()
	}
	user := b.userOf(login)
	var timeout <-chan time.Time
	released := false
	for {
		// The channel is taken before the attempt, so that a connection
		// freed after it failed is not missed.
		b.mu.Lock()
		freed := b.user(user).freed
		b.mu.Unlock()
		st, err := open()
		if !errors.Is(err, errBudgetFull) {
			if timeout != nil {
				b.m.connWait("ok")
			}
			return st, err
		}
		if !released && b.releaseIdle != nil {
			// Sessions waiting for their device's next message hold
			// connections they can open again: have them give theirs
			// back first, and try again at once.
			released = true
			if b.releaseIdle(user) > 0 {
				continue
			}
		}
		if b.wait <= 0 {
			return nil, err
		}
		if timeout == nil {
			t := time.NewTimer(b.wait)
			defer t.Stop()
			timeout = t.C
			b.mu.Lock()
			b.user(user).waiting++
			b.mu.Unlock()
			defer b.doneWaiting(user)
		}
		select {
		case <-freed:
		case <-timeout:
			b.m.connWait("timeout")
			return nil, err
		case <-ctx.Done():
			b.m.connWait("canceled")
			return nil, storeError(fmt.Errorf("%w (%w)", errBudgetFull, ctx.Err()))
		}
	}
}

func (b *ConnBudget) doneWaiting(user string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u := b.user(user)
	u.waiting--
	if u.open <= 0 && u.waiting == 0 {
		delete(b.users, user)
	}
}
