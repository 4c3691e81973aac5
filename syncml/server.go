package syncml

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// ServerOptions configure a Server. Zero fields take the defaults.
type ServerOptions struct {
	Auth Authenticator
	// Aliases maps client database names to canonical ones; nil:
	// DefaultAliases.
	Aliases map[string]string
	// SessionTimeout: an idle session is forgotten after it; default 15m.
	SessionTimeout time.Duration
	// MaxMsgSize is what the server announces and uses when the client
	// says nothing; default 65535 bytes.
	MaxMsgSize int64
	// Throttle, when set, limits the MD5 digests the engine checks itself
	// (basic logins are the Authenticator's to throttle).
	Throttle AuthThrottle
	// Secrets enables syncml:auth-md5 for the users it knows; nil: only
	// basic authentication.
	Secrets SecretSource
	// Conflicts, when set, decides items changed on both sides instead of
	// the devices' policies (for tests and embedders).
	Conflicts ConflictPolicy
	// MaxObjSize is the largest item accepted (announced in SyncML 1.1+);
	// default 4 MiB.
	MaxObjSize int64
	// OnSession, when set, receives the report of every finished session
	// (for metrics); it must not block.
	OnSession func(*SessionReport)
	// Policy is how devices sync unless their slot overrides it; the zero
	// value: DefaultPolicy.
	Policy Policy
	// MaxDevices is the number of device slots per account; default 4.
	MaxDevices int
	// ServerID is the server's DevID in its DevInf; default "syncml-imap".
	ServerID string
	Logger   *slog.Logger
	// now, for tests.
	now func() time.Time
}

// Server answers SyncML messages. It keeps the sessions in progress in
// memory; everything else lives in the Store.
type Server struct {
	opts ServerOptions

	mu       sync.Mutex
	sessions map[string]*session
}

// NewServer makes a server.
func NewServer(opts ServerOptions) *Server {
	if opts.Aliases == nil {
		opts.Aliases = DefaultAliases
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = 15 * time.Minute
	}
	if opts.MaxMsgSize <= 0 {
		opts.MaxMsgSize = 65535
	}
	if opts.MaxObjSize <= 0 {
		opts.MaxObjSize = defaultMaxObjSize
	}
	if opts.Policy.Direction == "" && opts.Policy.Conflict == "" {
		opts.Policy = DefaultPolicy()
	}
	if opts.MaxDevices <= 0 {
		opts.MaxDevices = 4
	}
	if opts.ServerID == "" {
		opts.ServerID = "syncml-imap"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	return &Server{opts: opts, sessions: map[string]*session{}}
}

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
	return &Response{Body: out.Bytes(), ContentType: req.Encoding.ContentType()}, nil
}

// handleMessage finds or starts the session and lets it answer.
func (s *Server) handleMessage(ctx context.Context, msg *Message, req *Request) *Message {
	sess := s.lookup(req.SessionKey, msg)
	sess.mu.Lock()
	sess.lastUsed.Store(s.opts.now().UnixNano())
	sess.encoding = req.Encoding
	reply := sess.handle(ctx, msg, req.BaseURL)
	done := sess.done
	if done {
		sess.report(sess.result())
	}
	sess.mu.Unlock()
	if done {
		s.forget(sess)
	}
	return reply
}

// lookup returns the session the key names when it belongs to the same
// device and SessionID, else a new session.
func (s *Server) lookup(key string, msg *Message) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.now()
	for k, sess := range s.sessions {
		if now.Sub(time.Unix(0, sess.lastUsed.Load())) > s.opts.SessionTimeout {
			delete(s.sessions, k)
			go func() {
				sess.mu.Lock()
				sess.report("expired")
				sess.mu.Unlock()
				sess.close()
			}()
		}
	}
	if sess, ok := s.sessions[key]; ok && sess.deviceID == msg.Hdr.Source.LocURI && sess.sessionID == msg.Hdr.SessionID {
		return sess
	}
	sess := &session{
		srv:       s,
		key:       newSessionKey(),
		deviceID:  msg.Hdr.Source.LocURI,
		sessionID: msg.Hdr.SessionID,
		dbs:       map[string]*dbSession{},
		started:   now,
		log:       s.opts.Logger.With("device", msg.Hdr.Source.LocURI, "session", msg.Hdr.SessionID),
	}
	sess.lastUsed.Store(now.UnixNano())
	s.sessions[sess.key] = sess
	return sess
}

// supersede marks the device's other live sessions of the same user as
// replaced by sess: they answer nothing more and commit nothing, so the
// newer session alone writes the device's state.
func (s *Server) supersede(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess.owner = sess.user
	for _, other := range s.sessions {
		if other != sess && other.deviceID == sess.deviceID && other.owner == sess.owner && !other.superseded.Load() {
			other.superseded.Store(true)
			sess.log.Info("replacing the device's earlier session", "earlier_session", other.sessionID)
		}
	}
}

func (s *Server) forget(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess.key)
	s.mu.Unlock()
	sess.close()
}

// Close ends all sessions (their stores are closed; nothing is committed).
func (s *Server) Close() {
	s.mu.Lock()
	all := s.sessions
	s.sessions = map[string]*session{}
	s.mu.Unlock()
	for _, sess := range all {
		sess.mu.Lock()
		sess.report("shutdown")
		sess.mu.Unlock()
		sess.close()
	}
}

func newSessionKey() string {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("syncml: crypto/rand: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// resolveDB maps a client database URI to a canonical database.
func (s *Server) resolveDB(uri string) (string, bool) {
	u := strings.ToLower(strings.TrimSpace(uri))
	if i := strings.IndexAny(u, "?;"); i >= 0 {
		u = u[:i]
	}
	u = strings.TrimPrefix(u, "./")
	u = strings.TrimSuffix(u, "/")
	db, ok := s.opts.Aliases[u]
	return db, ok
}
