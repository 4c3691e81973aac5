package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

// A session is one person signed in: their mail login, kept in this
// process's memory only (never in the cookie) because every page opens
// the mailbox with it, as webmail does.
type session struct {
	id, csrf string
	user     string
	password string
	// own: the account has a mailbox of its own (false for the master
	// user, who signs in for the admin page only).
	own     bool
	admin   bool
	created time.Time
	used    time.Time
	// flash is a message for the next page (after a redirect).
	flash string
}

// sessions are the signed-in sessions, bounded in number (the oldest go
// first) and in time (idle, max).
type sessions struct {
	mu        sync.Mutex
	m         map[string]*session
	idle, max time.Duration
	now       func() time.Time
	limit     int // sessions kept at most, all users
	perUser   int // sessions of one user kept at most
}

func newSessions(idle, max time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[string]*session{}, idle: idle, max: max, now: now, limit: 10000, perUser: 20}
}

// token is a new random value for a cookie or a form: 256 bits.
func token() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand.Read documents it)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// sameToken compares tokens in constant time.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// create starts a session for a user who just signed in.
func (s *sessions) create(user, password string, own, admin bool) *session {
	now := s.now()
	ss := &session{id: token(), csrf: token(), user: user, password: password, own: own, admin: admin, created: now, used: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	var oldest *session
	n := 0
	for _, o := range s.m {
		if o.user == user {
			n++
			if oldest == nil || o.used.Before(oldest.used) {
				oldest = o
			}
		}
	}
	if n >= s.perUser && oldest != nil {
		delete(s.m, oldest.id)
	}
	if len(s.m) >= s.limit {
		var lru *session
		for _, o := range s.m {
			if lru == nil || o.used.Before(lru.used) {
				lru = o
			}
		}
		delete(s.m, lru.id)
	}
	s.m[ss.id] = ss
	return ss
}

// get returns the session of a cookie value, nil when there is none or
// it expired; it counts as use.
func (s *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[id]
	if ss == nil {
		return nil
	}
	if s.expired(ss, now) {
		delete(s.m, id)
		return nil
	}
	ss.used = now
	return ss
}

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.used) > s.idle || now.Sub(ss.created) > s.max
}

// drop ends a session (sign-out, a password the mail server no longer
// takes).
func (s *sessions) drop(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

// takeFlash returns and clears the session's message.
func (s *sessions) takeFlash(ss *session) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := ss.flash
	ss.flash = ""
	return f
}

func (s *sessions) setFlash(ss *session, msg string) {
	s.mu.Lock()
	ss.flash = msg
	s.mu.Unlock()
}

// sweep forgets expired sessions. Callers hold s.mu.
func (s *sessions) sweep(now time.Time) {
	for id, ss := range s.m {
		if s.expired(ss, now) {
			delete(s.m, id)
		}
	}
}
