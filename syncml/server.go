package syncml

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syncml-imap/pim"
	"time"
)

// ServerOptions configure a Server. Zero fields take the defaults.
type ServerOptions struct {
	Auth pim.Authenticator
	// Aliases maps client database names to canonical ones; nil:
	// DefaultAliases.
	Aliases map[string]pim.Kind
	// SessionTimeout: an idle session is forgotten after it; default 15m.
	SessionTimeout time.Duration
	// IdleRelease: a session idle this long gives its IMAP connection
	// back (its next message opens another); default 30s.
	IdleRelease time.Duration
	// MaxSessions caps the authenticated sessions open at once, all
	// users; default 1000. MaxUserSessions caps one user's; default twice
	// MaxDevices. At the user's cap the user's least recently used idle
	// session is ended for the new one.
	MaxSessions, MaxUserSessions int
	// MaxMsgSize is what the server announces and uses when the client
	// says nothing; default 65535 bytes.
	MaxMsgSize int64
	// Throttle, when set, limits the MD5 digests the engine checks itself
	// (basic logins are the pim.Authenticator's to throttle).
	Throttle pim.AuthThrottle
	// Secrets enables syncml:auth-md5 for the users it knows; nil: only
	// basic authentication.
	Secrets SecretSource
	// Conflicts, when set, decides items changed on both sides instead of
	// the devices' policies (for tests and embedders).
	Conflicts pim.ConflictPolicy
	// MaxObjSize is the largest item accepted (announced in SyncML 1.1+);
	// default 4 MiB.
	MaxObjSize int64
	// OnSession, when set, receives the report of every finished session
	// (for metrics); it must not block.
	OnSession func(*pim.SessionReport)
	// Policy is how devices sync unless their slot overrides it; the zero
	// value: DefaultPolicy.
	Policy pim.Policy
	// MaxDevices is the number of device slots per account; default 4.
	MaxDevices int
	// ServerID is the server's DevID in its DevInf; default "syncml-imap".
	ServerID string
	// StateCacheItems bounds the device states (item maps) kept decoded
	// between sessions, in items over all devices; default 500,000
	// (about 50 MB); negative: none kept.
	StateCacheItems int
	Logger          *slog.Logger
	// now, for tests.
	now func() time.Time
}

// Server answers SyncML messages. It keeps the sessions in progress in
// memory; everything else lives in the pim.Store. A session exists only once
// its device authenticated: a message without valid credentials is
// answered and leaves nothing behind.
type Server struct {
	opts ServerOptions

	mu       sync.Mutex
	sessions map[string]*session // by key; replaced ones stay until they expire
	byUser   map[string][]*session
	live     int // authenticated sessions not replaced
	swept    time.Time
	janitor  sync.Once
	stop     chan struct{}
	bulks    *pim.ReplicaCache // nil: none
	closed   bool
}

// unavailableText is what a device is told when the mail server cannot
// answer.
const unavailableText = "the mail server cannot take this login right now (unreachable, busy, or at its connection limit); nothing was changed; try again in a minute"

// RetryAfter is what the HTTP front advises a device told 503.
const RetryAfter = 60 * time.Second

// NewServer makes a server.
func NewServer(opts ServerOptions) *Server {
	if opts.Aliases == nil {
		opts.Aliases = DefaultAliases
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = 15 * time.Minute
	}
	if opts.IdleRelease <= 0 {
		opts.IdleRelease = 30 * time.Second
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 1000
	}
	if opts.MaxMsgSize <= 0 {
		opts.MaxMsgSize = 65535
	}
	if opts.MaxObjSize <= 0 {
		opts.MaxObjSize = defaultMaxObjSize
	}
	if opts.Policy.Direction == "" && opts.Policy.Conflict == "" {
		opts.Policy = pim.DefaultPolicy()
	}
	if opts.MaxDevices <= 0 {
		opts.MaxDevices = 4
	}
	if opts.MaxUserSessions <= 0 {
		opts.MaxUserSessions = 2 * opts.MaxDevices
	}
	if opts.ServerID == "" {
		opts.ServerID = "syncml-imap"
	}
	if opts.StateCacheItems == 0 {
		opts.StateCacheItems = 500000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	srv := &Server{opts: opts, sessions: map[string]*session{}, byUser: map[string][]*session{}, stop: make(chan struct{})}
	if opts.StateCacheItems > 0 {
		srv.bulks = pim.NewReplicaCache(opts.StateCacheItems)
	}
	return srv
}

// StateCache is the server's cache of the devices' committed sync states
// (nil: none), for the other fronts of the daemon to share.
func (srv *Server) StateCache() *pim.ReplicaCache { return srv.bulks }

// Request is one incoming SyncML message.
type Request struct {
	Body []byte
	// SessionKey is the key from the RespURI the client posted to ("" for
	// a new session).
	SessionKey string
	// BaseURL is the URL RespURIs are built on (the endpoint as the client
	// reaches it); the server appends the session key as a query.
	BaseURL string
	// Encoding of the body; the reply uses the same.
	Encoding Encoding
}

// Response is the reply message, encoded.
type Response struct {
	Body        []byte
	ContentType string
	// RetryAfter, when set, is how long the device should wait before it
	// tries again (the reply says 503: the mail server is unavailable).
	RetryAfter time.Duration
}

// Handle answers one message. An error means the body could not be read
// as SyncML at all (the HTTP front answers 400); every other problem is
// answered inside SyncML with a status.
func (s *Server) Handle(ctx context.Context, req *Request) (*Response, error) {
	root, err := Decode(req.Encoding, req.Body)
	if err != nil {
		return nil, err
	}
	msg, err := ParseMessage(root)
	if err != nil {
		return nil, err
	}
	reply := s.handleMessage(ctx, msg, req)
	var out bytes.Buffer
	if err := Encode(req.Encoding, &out, reply.Element()); err != nil {
		return nil, err
	}
	resp := &Response{Body: out.Bytes(), ContentType: req.Encoding.ContentType()}
	if len(reply.Body) > 0 {
		if st, ok := reply.Body[0].(*Status); ok && st.Cmd == "SyncHdr" && st.Data == StatusServiceUnavailable.String() {
			resp.RetryAfter = RetryAfter
		}
	}
	return resp, nil
}

// handleMessage finds the session or starts one, and lets it answer. A
// new session is kept only once it authenticated.
func (s *Server) handleMessage(ctx context.Context, msg *Message, req *Request) *Message {
	sess := s.lookup(req.SessionKey, msg)
	fresh := sess == nil
	if fresh {
		sess = s.newSession(msg)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sess.mu.Lock()
	sess.setCancel(cancel)
	sess.lastUsed.Store(s.opts.now().UnixNano())
	sess.encoding = req.Encoding
	reply := sess.handle(ctx, msg, req.BaseURL)
	sess.setCancel(nil)
	// Idle from now on: the wait for the device's next message counts
	// from the reply, not from the start of a long message.
	sess.lastUsed.Store(s.opts.now().UnixNano())
	done := sess.done
	if done {
		sess.report(sess.result())
	}
	kept := sess.owner != ""
	if !kept && !done && sess.unavailable {
		sess.report(pim.ResultUnavailable)
	}
	sess.mu.Unlock()
	switch {
	case done:
		s.forget(sess)
	case !kept:
		sess.close() // never admitted: nothing of it stays
	}
	return reply
}

// lookup returns the session the key names when it belongs to the same
// device and SessionID, nil for none.
func (s *Server) lookup(key string, msg *Message) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.opts.now())
	sess, ok := s.sessions[key]
	if !ok || sess.deviceID != msg.Hdr.Source.LocURI || sess.sessionID != msg.Hdr.SessionID {
		return nil
	}
	if s.opts.now().Sub(time.Unix(0, sess.lastUsed.Load())) > s.opts.SessionTimeout && !sess.superseded.Load() {
		return nil // expired (the sweep runs at most once a second)
	}
	return sess
}

// newSession makes a session for a message that names none; it is not
// kept until it authenticated (admit).
func (s *Server) newSession(msg *Message) *session {
	sess := &session{
		srv:       s,
		key:       newSessionKey(),
		deviceID:  msg.Hdr.Source.LocURI,
		sessionID: msg.Hdr.SessionID,
		dbs:       map[pim.Kind]*dbSession{},
		started:   s.opts.now(),
		log:       s.opts.Logger.With("device", msg.Hdr.Source.LocURI, "session", msg.Hdr.SessionID),
	}
	// The server answers each client message with one of its own: after
	// refused attempts (which keep no session) its MsgIDs go on from the
	// client's.
	if n, err := strconv.Atoi(msg.Hdr.MsgID); err == nil && n > 1 {
		sess.msgID = n - 1
	}
	sess.lastUsed.Store(sess.started.UnixNano())
	return sess
}

// errTooManySessions: the server's cap on open sessions is reached.
var errTooManySessions = errors.New("the server has too many sessions open; try again in a minute")

// admit keeps an authenticated session. The device's earlier sessions
// (same user and device) are replaced by it and returned, to be ended at
// once (endReplaced). At the user's cap the user's least recently used
// idle session is ended too; at the server's cap the session is refused.
func (s *Server) admit(sess *session) ([]*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("the server is shutting down; try again in a minute")
	}
	user := strings.ToLower(sess.user)
	var victims []*session
	var others []*session
	for _, other := range s.byUser[user] {
		if other.deviceID == sess.deviceID {
			victims = append(victims, other)
			sess.log.Info("replacing the device's earlier session", "earlier_session", other.sessionID)
		} else {
			others = append(others, other)
		}
	}
	if len(others) >= s.opts.MaxUserSessions {
		// Abandoned sessions must not keep the user's real devices out.
		lru := others[0]
		for _, o := range others[1:] {
			if o.lastUsed.Load() < lru.lastUsed.Load() {
				lru = o
			}
		}
		if s.opts.now().Sub(time.Unix(0, lru.lastUsed.Load())) < s.opts.IdleRelease {
			return nil, fmt.Errorf("this account has %d sessions open; try again in a minute", len(others))
		}
		sess.log.Info("ending the account's least recently used session", "earlier_device", lru.deviceID)
		victims = append(victims, lru)
		others = slices.DeleteFunc(others, func(o *session) bool { return o == lru })
	}
	if s.live-len(victims) >= s.opts.MaxSessions {
		return nil, errTooManySessions
	}
	for _, v := range victims {
		v.superseded.Store(true)
		s.live--
	}
	sess.owner = sess.user
	s.byUser[user] = append(others, sess)
	s.sessions[sess.key] = sess
	s.live++
	s.janitor.Do(func() { go s.janitorLoop() })
	return victims, nil
}

// endReplaced ends sessions admit replaced: the message one of them is
// handling is cut (its store calls fail, it commits nothing), then its
// IMAP connection is closed. Their later messages are refused with 403.
func (s *Server) endReplaced(victims []*session) {
	for _, v := range victims {
		v.interrupt()
		v.mu.Lock()
		v.report(pim.ResultReplaced)
		v.closeStore()
		v.mu.Unlock()
	}
}

// unlink removes sess from the user's sessions; callers hold s.mu.
func (s *Server) unlink(sess *session) {
	if sess.owner == "" {
		return
	}
	user := strings.ToLower(sess.owner)
	list := s.byUser[user]
	n := len(list)
	list = slices.DeleteFunc(list, func(o *session) bool { return o == sess })
	if len(list) < n && !sess.superseded.Load() {
		s.live--
	}
	if len(list) == 0 {
		delete(s.byUser, user)
	} else {
		s.byUser[user] = list
	}
}

func (s *Server) forget(sess *session) {
	s.mu.Lock()
	if s.sessions[sess.key] == sess {
		delete(s.sessions, sess.key)
	}
	s.unlink(sess)
	s.mu.Unlock()
	sess.close()
}

// Close ends all sessions (their stores are closed; nothing is committed).
func (s *Server) Close() {
	s.mu.Lock()
	all := s.sessions
	s.sessions, s.byUser, s.live = map[string]*session{}, map[string][]*session{}, 0
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
	for _, sess := range all {
		sess.interrupt()
		sess.mu.Lock()
		sess.report(pim.ResultShutdown)
		sess.mu.Unlock()
		sess.close()
	}
}

// releaseIdle has the user's sessions that are not handling a message
// give back their IMAP connections now, and returns how many did: the IMAP
// server's per-user connection limit must not keep the user's device out
// because of sessions waiting for (or abandoned by) other devices.
// ReleaseIdle has the user's sessions that are between messages give
// their IMAP connections back (each opens one again on its device's next
// message) and returns how many did: for a connection budget of the
// store's, before it makes a login wait.
func (s *Server) ReleaseIdle(user string) int { return s.releaseIdle(user) }

func (s *Server) releaseIdle(user string) int {
	s.mu.Lock()
	list := slices.Clone(s.byUser[strings.ToLower(user)])
	s.mu.Unlock()
	n := 0
	for _, sess := range list {
		if !sess.mu.TryLock() {
			continue
		}
		if sess.store != nil && sess.store.release() {
			n++
		}
		sess.mu.Unlock()
	}
	return n
}

// sweepEvery is how often sessions are looked over for expiry and idle
// connections.
const sweepEvery = time.Second

// janitorLoop sweeps while the server runs, so that idle sessions give
// their connections back even when no other message comes.
func (s *Server) janitorLoop() {
	t := time.NewTicker(max(sweepEvery, min(s.opts.IdleRelease, s.opts.SessionTimeout)/4))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			s.sweepLocked(s.opts.now())
			s.mu.Unlock()
		}
	}
}

// sweepLocked forgets expired sessions and has idle ones give back their
// IMAP connections; at most once a second. Callers hold s.mu; the
// sessions' own locks are taken outside it.
func (s *Server) sweepLocked(now time.Time) {
	if now.Sub(s.swept) < sweepEvery && !now.Before(s.swept) {
		return
	}
	s.swept = now
	var expired, idle []*session
	for k, sess := range s.sessions {
		switch quiet := now.Sub(time.Unix(0, sess.lastUsed.Load())); {
		case quiet > s.opts.SessionTimeout:
			delete(s.sessions, k)
			s.unlink(sess)
			expired = append(expired, sess)
		case quiet > s.opts.IdleRelease && !sess.superseded.Load():
			idle = append(idle, sess)
		}
	}
	if len(expired) == 0 && len(idle) == 0 {
		return
	}
	go func() {
		for _, sess := range expired {
			sess.mu.Lock()
			sess.report(pim.ResultExpired)
			sess.mu.Unlock()
			sess.close()
		}
		for _, sess := range idle {
			if !sess.mu.TryLock() {
				continue // busy: not idle after all
			}
			if sess.store != nil && sess.store.release() {
				sess.log.Debug("idle session gave its IMAP connection back")
			}
			sess.mu.Unlock()
		}
	}()
}

func newSessionKey() string {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("syncml: crypto/rand: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// resolveDB maps a client database URI to a canonical database.
func (s *Server) resolveDB(uri string) (pim.Kind, bool) {
	u := strings.ToLower(strings.TrimSpace(uri))
	if i := strings.IndexAny(u, "?;"); i >= 0 {
		u = u[:i]
	}
	u = strings.TrimPrefix(u, "./")
	u = strings.TrimSuffix(u, "/")
	db, ok := s.opts.Aliases[u]
	return db, ok
}
