// Package demoimap is a small in-memory IMAP server for `syncml-imap demo`:
// go-imap/v2's imapserver with its imapmemserver backend, listening on a
// TCP address, with users added by the caller.
//
// It is not a mail server and not a test double for one: nothing is
// written to disk, everything is lost when the server closes, logins are
// accepted over plain TCP, and it has no CONDSTORE (imapstore then finds
// changes by comparing UID sets). The store is proven against Dovecot by
// internal/dovetest; this package only makes a first look possible on a
// machine that has nothing but Go.
package demoimap

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// DefaultCaps are what the server announces: IMAP4rev1 and the extensions
// that imapserver implements for an IMAP4rev1 server and imapmemserver
// backs. UNSELECT, IDLE, ENABLE and LITERAL- come with IMAP4rev1
// regardless. There is no CONDSTORE, QRESYNC or MULTIAPPEND: go-imap's
// server has none.
func DefaultCaps() imap.CapSet {
	return imap.CapSet{
		imap.CapIMAP4rev1:   {},
		imap.CapUIDPlus:     {},
		imap.CapESearch:     {},
		imap.CapLiteralPlus: {},
		imap.CapMove:        {},
		imap.CapNamespace:   {},
		imap.CapSearchRes:   {},
		imap.CapStatusSize:  {},
		imap.CapChildren:    {},
	}
}

// Options configure a Server. A nil *Options takes the defaults.
type Options struct {
	// Caps replaces the announced capabilities (tests use a bare
	// IMAP4rev1); nil: DefaultCaps().
	Caps imap.CapSet
	// Logger receives the IMAP server's error messages; nil: discarded.
	Logger *slog.Logger
	// DebugWriter, if set, receives the raw protocol, passwords included.
	DebugWriter io.Writer
}

// Server is an in-memory IMAP server listening on one TCP address.
type Server struct {
	mem *imapmemserver.Server
	srv *imapserver.Server
	ln  net.Listener

	done chan struct{} // closed when Serve has returned
	err  error         // what Serve returned, once done is closed

	closeOnce sync.Once
	closed    chan struct{} // closed when Close was called
	closeErr  error
}

// Listen starts a server on addr ("127.0.0.1:0" picks a free port). The
// caller must Close it.
func Listen(addr string, opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Caps == nil {
		o.Caps = DefaultCaps()
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demoimap: listen on %s: %w", addr, err)
	}
	s := &Server{mem: imapmemserver.New(), ln: ln, done: make(chan struct{}), closed: make(chan struct{})}
	s.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return s.mem.NewSession(), nil, nil
		},
		Caps:   o.Caps,
		Logger: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// Plain-text LOGIN without TLS: the demo's IMAP server is meant to
		// be reached over loopback by the same process.
		InsecureAuth: true,
		DebugWriter:  o.DebugWriter,
	})
	go func() {
		defer close(s.done)
		s.err = s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr is the address the server listens on, as host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// AddUser adds a user with an empty mailbox holding only INBOX, as a
// fresh account on a real server has. Adding a user name again replaces
// that user and drops the old mailbox.
func (s *Server) AddUser(username, password string) error {
	if username == "" {
		return errors.New("demoimap: empty user name")
	}
	u := imapmemserver.NewUser(username, password)
	if err := u.Create("INBOX", nil); err != nil {
		return fmt.Errorf("demoimap: create INBOX of %q: %w", username, err)
	}
	if err := u.Subscribe("INBOX"); err != nil {
		return fmt.Errorf("demoimap: subscribe INBOX of %q: %w", username, err)
	}
	s.mem.AddUser(u)
	return nil
}

// Done is closed when the server has stopped accepting connections, by
// Close or because the listener failed; Err then says why.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is the error that stopped the server: nil while it runs and after
// Close.
func (s *Server) Err() error {
	select {
	case <-s.closed:
		return nil
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Close stops listening, closes every connection and waits for the
// accepting goroutine to end. The mailboxes are gone afterwards.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.closeErr = s.srv.Close()
		// Close only closes listeners Serve has registered; if Serve has
		// not started yet, the listener is closed here.
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) && s.closeErr == nil {
			s.closeErr = err
		}
		<-s.done
	})
	return s.closeErr
}
