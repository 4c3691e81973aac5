package plugin

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync"
	"time"

	"syncml-imap/imapstore"
)

// Pool keeps the IMAP connection of a session that ended for a while, for
// the user's next session with the same password: a phone's next sync,
// or the next message of a session whose idle connection was given back,
// then costs no login (Dovecot's LOGIN is most of a quiet sync's time),
// and its Account still holds the folders' indexes and the state it read.
//
// A kept connection was opened with the password the new session
// presents (compared by hash, never kept in the clear beyond the
// Account), so a password the IMAP server no longer accepts keeps
// working for at most the idle time, as with Dovecot's own auth cache.
// At most perUser connections of a user are kept; a kept connection is
// checked with a NOOP before it is used again.
type Pool struct {
	idle    time.Duration
	perUser int
	// budget, when set, is told of each connection kept (a login waiting
	// for the user's budget may take it), and closes kept ones to make
	// room (evict).
	budget *ConnBudget

	mu   sync.Mutex
	kept map[poolKey][]*pooled
}

type poolKey struct {
	user string
	pass [32]byte
}

type pooled struct {
	acct  *imapstore.Account
	timer *time.Timer
	since time.Time
}

// NewPool keeps connections up to idle; perUser bounds them per user.
func NewPool(idle time.Duration, perUser int) *Pool {
	if perUser <= 0 {
		perUser = 1
	}
	return &Pool{idle: idle, perUser: perUser, kept: map[poolKey][]*pooled{}}
}

func keyOf(user, pass string) poolKey {
	return poolKey{user, sha256.Sum256([]byte(user + "\x00" + pass))}
}

// take returns a kept connection of user opened with pass, nil when none
// is kept or none still works.
func (p *Pool) take(ctx context.Context, user, pass string) *imapstore.Account {
	k := keyOf(user, pass)
	for {
		p.mu.Lock()
		list := p.kept[k]
		if len(list) == 0 {
			p.mu.Unlock()
			return nil
		}
		e := list[len(list)-1]
		p.setList(k, list[:len(list)-1])
		p.mu.Unlock()
		if !e.timer.Stop() {
			continue // being closed by its timer
		}
		if e.acct.Alive(ctx) {
			return e.acct
		}
		e.acct.Close()
	}
}

// put keeps a connection, or closes it when the user has enough kept or
// it is closed already (cut by a cancelled operation, say).
func (p *Pool) put(user, pass string, a *imapstore.Account) {
	k := keyOf(user, pass)
	dead := a.Closed()
	p.mu.Lock()
	if len(p.kept[k]) >= p.perUser || dead {
		p.mu.Unlock()
		go a.Close()
		return
	}
	e := &pooled{acct: a, since: time.Now()}
	e.timer = time.AfterFunc(p.idle, func() {
		p.mu.Lock()
		list := p.kept[k]
		for i, x := range list {
			if x == e {
				p.setList(k, append(list[:i:i], list[i+1:]...))
				break
			}
		}
		p.mu.Unlock()
		a.Close()
	})
	p.kept[k] = append(p.kept[k], e)
	p.mu.Unlock()
	if p.budget != nil {
		p.budget.kept(user)
	}
}

func (p *Pool) setList(k poolKey, list []*pooled) {
	if len(list) == 0 {
		delete(p.kept, k)
	} else {
		p.kept[k] = list
	}
}

// evict closes the longest kept connection of user, whatever its
// password, to make room in the user's connection budget; false when none
// is kept.
func (p *Pool) evict(user string) bool {
	p.mu.Lock()
	var victim *pooled
	var vk poolKey
	for k, l := range p.kept {
		if strings.EqualFold(k.user, user) && (victim == nil || l[0].since.Before(victim.since)) {
			victim, vk = l[0], k
		}
	}
	if victim == nil {
		p.mu.Unlock()
		return false
	}
	p.setList(vk, p.kept[vk][1:])
	p.mu.Unlock()
	if victim.timer.Stop() {
		victim.acct.Close()
	} // else its timer is closing it
	return true
}

// dropUser closes the kept connections of user, whatever their password.
func (p *Pool) dropUser(user string) {
	p.mu.Lock()
	var gone []*pooled
	for k, l := range p.kept {
		if k.user == user {
			gone = append(gone, l...)
			delete(p.kept, k)
		}
	}
	p.mu.Unlock()
	for _, e := range gone {
		if e.timer.Stop() {
			e.acct.Close()
		}
	}
}

// Len is how many connections are kept.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.kept {
		n += len(l)
	}
	return n
}

// Close closes every kept connection.
func (p *Pool) Close() {
	p.mu.Lock()
	kept := p.kept
	p.kept = map[poolKey][]*pooled{}
	p.mu.Unlock()
	for _, l := range kept {
		for _, e := range l {
			if e.timer.Stop() {
				e.acct.Close()
			}
		}
	}
}
