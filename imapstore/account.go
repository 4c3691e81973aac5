// Package imapstore keeps contacts, calendar events and tasks as messages in
// folders of a user's own IMAP mailbox, and tells what changed in those
// folders since a sync point. It also keeps opaque sync-state records in a
// hidden folder of the same mailbox, so no other database is needed.
//
// It knows IMAP (go-imap/v2), MIME (go-message) and just enough of vCard
// and iCalendar to name an item; it knows nothing of SyncML. Conversion
// between device formats is not its job: it stores the objects it is given.
//
// One Account is one logged-in IMAP connection. It is safe for use by one
// goroutine at a time (calls are serialised). A Watch (watch.go) waits for
// the Account's folders to change, on IDLE connections of a WatchHub
// that the process's Accounts share.
package imapstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TLSMode says how the connection to the IMAP server is secured.
type TLSMode string

const (
	TLSNone     TLSMode = "none"     // plain TCP (only for a server on the same host)
	TLSStartTLS TLSMode = "starttls" // plain TCP upgraded with STARTTLS
	TLSImplicit TLSMode = "tls"      // TLS from the first byte (port 993)
)

// Sentinel errors callers branch on.
var (
	// ErrAuthFailed: the server refused the user name or password.
	ErrAuthFailed = errors.New("imapstore: authentication failed")
	// ErrUnavailable: the server could not be reached or could not serve
	// now (connection refused or broken, a timeout, a temporary
	// authentication failure, a connection limit, shutting down). It says
	// nothing about the credentials; the same request may work later.
	ErrUnavailable = errors.New("imapstore: IMAP server unavailable")
	// ErrSyncPointInvalid: the folder's UIDVALIDITY changed, so nothing
	// recorded against the old one means anything; a full (slow) sync is
	// needed.
	ErrSyncPointInvalid = errors.New("imapstore: sync point invalid (UIDVALIDITY changed)")
	// ErrInvalidKind: the kind names no item folder (an unknown base kind,
	// a malformed sub-folder path) or none this server can have (a
	// sub-folder on a server without folder hierarchy).
	ErrInvalidKind = errors.New("imapstore: invalid kind")
	// ErrInvalidItem: the data is not one object of the folder's kind.
	ErrInvalidItem = errors.New("imapstore: invalid item")
	// ErrVersionMismatch: the item is not at the version a write
	// expected (PutVersion, DeleteVersion).
	ErrVersionMismatch = errors.New("imapstore: item version changed")
	// ErrNotFound: the item does not exist (DeleteVersion).
	ErrNotFound = errors.New("imapstore: item not found")
	// ErrStateConflict: the state record changed since it was loaded.
	ErrStateConflict = errors.New("imapstore: state record changed concurrently")
	// ErrReadOnly: the Account was opened with Options.ReadOnly and the
	// call would write.
	ErrReadOnly = errors.New("imapstore: read-only")
	// ErrClosed: the connection was closed (by Close, a cancelled context
	// or the server) and the Account can no longer be used. Unless Close
	// closed it, the error also matches ErrUnavailable.
	ErrClosed = errors.New("imapstore: connection closed")
)

// Options say where the IMAP server is and how the store lays out folders.
// A nil *Options or zero fields take the documented defaults.
type Options struct {
	Address   string      // host:port; default "127.0.0.1:143"
	TLS       TLSMode     // default TLSNone
	TLSConfig *tls.Config // nil: system roots, server name from Address

	DialTimeout    time.Duration // connect and log in; default 10s
	CommandTimeout time.Duration // per store operation; default 60s

	// Folders names the folder of each base kind; missing kinds take the
	// defaults "Contacts", "Calendar", "Tasks". A sub-folder kind's folder
	// is named from its base kind's (see Kind.Sub).
	Folders map[Kind]string
	// StateFolder holds sync state; default "SyncML State". It is not
	// subscribed, so mail clients do not show it by default.
	StateFolder string
	// BackupFolder holds the snapshots taken before a device's first
	// sync (SnapshotFor); default "SyncML Backup".
	BackupFolder string

	// AppendBatch is how many messages one MULTIAPPEND carries at most;
	// default 1000. AppendBatchBytes caps the batch's messages by size
	// (one message larger than it goes alone); default 4 MiB. Every
	// command is a transaction of its own on the server (an index
	// update; with maildir a dovecot-uidlist update whose cost grows
	// with the folder), so what one call stores goes in as few commands
	// as these allow: the items of one SyncML message (MaxMsgSize at
	// most 64 KB) in one.
	AppendBatch      int
	AppendBatchBytes int

	// ReadOnly is for commands that only look (listing devices, an
	// export): the store creates no folder, a folder that does not exist
	// reads as empty, and the writes a caller asks for (Put, Delete,
	// SaveState, ...) fail with ErrReadOnly. The upkeep any read does in a
	// folder that exists (adopting messages other programs dropped in,
	// removing superseded versions of an item) still happens.
	ReadOnly bool

	Logger *slog.Logger // default: discard

	// Conns, when set, is told of every connection opened and closed,
	// and may refuse one (see ConnGate).
	Conns ConnGate

	// Watch, when set, is shared by all the Accounts of the process:
	// what one writes to an item folder wakes the Watches of that
	// mailbox at once, and the IDLE connections of a folder serve all
	// the Watches of it (see WatchHub). Unset, an Account has a hub of
	// its own.
	Watch *WatchHub

	// wrapConn, for tests, wraps the main connection (to count commands);
	// wrapAppender the MULTIAPPEND connection, wrapIdle an IDLE one.
	wrapConn, wrapAppender, wrapIdle func(net.Conn) net.Conn
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Address == "" {
		r.Address = "127.0.0.1:143"
	}
	if r.TLS == "" {
		r.TLS = TLSNone
	}
	if r.DialTimeout <= 0 {
		r.DialTimeout = 10 * time.Second
	}
	if r.CommandTimeout <= 0 {
		r.CommandTimeout = 60 * time.Second
	}
	folders := map[Kind]string{KindContacts: "Contacts", KindCalendar: "Calendar", KindTasks: "Tasks"}
	for k, v := range r.Folders {
		if v != "" {
			folders[k] = v
		}
	}
	r.Folders = folders
	if r.StateFolder == "" {
		r.StateFolder = "SyncML State"
	}
	if r.BackupFolder == "" {
		r.BackupFolder = "SyncML Backup"
	}
	if r.AppendBatch <= 0 {
		r.AppendBatch = 1000
	}
	if r.AppendBatchBytes <= 0 {
		r.AppendBatchBytes = 4 << 20
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	return r
}

// Caps are the server capabilities the store uses, read after login (some
// servers, Dovecot among them, announce CONDSTORE only then).
type Caps struct {
	CondStore   bool // RFC 7162: HIGHESTMODSEQ, CHANGEDSINCE
	QResync     bool // RFC 7162 (not used: go-imap beta.8 lacks VANISHED)
	ESearch     bool // RFC 4731: SEARCH RETURN (ALL) as compact ranges
	UIDPlus     bool // RFC 4315: APPENDUID, UID EXPUNGE
	MultiAppend bool // RFC 3502
	LiteralPlus bool // RFC 7888
	Move        bool // RFC 6851
	Unselect    bool // RFC 3691
	Idle        bool // RFC 2177
}

// Account is a user's mailbox seen through one IMAP connection.
type Account struct {
	opts     Options
	username string
	password string      // kept only to open the MULTIAPPEND and IDLE connections
	tlsConf  *tls.Config // the effective TLS configuration, for that connection too
	caps     Caps
	origin   netip.AddrPort // the device's address (WithOriginatingIP), for both connections

	mu       sync.Mutex
	c        *imapclient.Client
	selected string
	folders  map[string]*folder
	appender *multiAppender
	// delim is the server's hierarchy delimiter, asked for by the first
	// use of a sub-folder (delimKnown); 0 if the server has no hierarchy.
	delim      rune
	delimKnown bool
	state      stateCache
	points     pointCache
	hub        *WatchHub
	ownHub     bool // hub is the Account's own (no Options.Watch): Close closes it
}

// folder is the store's per-folder state within one Account.
type folder struct {
	name   string
	kind   Kind // "" for the state folder
	exists bool // known to exist (created or selected)
	// behind: the main connection's view of the selected folder lacks
	// messages appended on the second connection (MULTIAPPEND).
	behind bool
	cur    *SyncPoint
	// rewritten maps the UID of a message Get found edited by a mail
	// client to that of the message of our form that replaced it.
	rewritten map[imap.UID]imap.UID
}

// Dial connects to the IMAP server and logs in as the user, all within
// Options.DialTimeout. A refused login is ErrAuthFailed; a server that
// cannot be reached or cannot log anyone in now is ErrUnavailable. The
// password never appears in an error. The address WithOriginatingIP put
// in ctx is sent to the server before the login.
func Dial(ctx context.Context, opts *Options, username, password string) (*Account, error) {
	o := opts.withDefaults()
	a := &Account{opts: o, username: username, password: password, origin: originOf(ctx), folders: map[string]*folder{}, hub: o.Watch}
	if a.hub == nil {
		a.hub, a.ownHub = NewWatchHub(nil), true
	}
	ctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()

	a.tlsConf = effectiveTLSConfig(&o)
	c, caps, err := login(ctx, &o, a.tlsConf, a.origin, username, password, false, nil)
	if err != nil {
		return nil, err
	}
	a.c = c
	// Capabilities after login: Dovecot announces CONDSTORE, QRESYNC and
	// METADATA only to authenticated clients.
	rev2 := caps["IMAP4REV2"]
	a.caps = Caps{
		CondStore:   caps["CONDSTORE"] || caps["QRESYNC"],
		QResync:     caps["QRESYNC"],
		ESearch:     caps["ESEARCH"] || rev2,
		UIDPlus:     caps["UIDPLUS"] || rev2,
		MultiAppend: caps["MULTIAPPEND"],
		LiteralPlus: caps["LITERAL+"],
		Move:        caps["MOVE"] || rev2,
		Unselect:    caps["UNSELECT"] || rev2,
		Idle:        caps["IDLE"] || rev2,
	}
	o.Logger.Debug("imapstore: logged in", "user", username, "server", o.Address, "caps", fmt.Sprintf("%+v", a.caps))
	return a, nil
}

func (a *Account) tlsConfig() *tls.Config { return a.tlsConf }

// Caps returns the capabilities the store found.
func (a *Account) Caps() Caps { return a.caps }

// Username is the user the Account is logged in as.
func (a *Account) Username() string { return a.username }

// Close logs out and closes the connections.
func (a *Account) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.appender != nil {
		a.appender.Close()
		a.appender = nil
	}
	if a.ownHub {
		a.hub.Close()
	}
	if a.c == nil {
		return nil
	}
	err := a.c.Logout().Wait()
	a.c.Close()
	a.c = nil
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("imapstore: logout %q: %w", a.username, err)
	}
	return nil
}

// Closed reports whether the connection is known to be closed (by Close,
// a cancelled operation or the server), without asking the server.
func (a *Account) Closed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.c == nil {
		return true
	}
	select {
	case <-a.c.Closed():
		return true
	default:
		return false
	}
}

// Alive reports whether the connection still works, with a NOOP: for a
// connection kept between sessions.
func (a *Account) Alive(ctx context.Context) bool {
	ctx, end, err := a.begin(ctx)
	if err != nil {
		return false
	}
	defer end()
	return a.c.Noop().Wait() == nil
}

// begin serialises a store operation and bounds it by the command timeout.
// If the context ends while a command is under way, the connection is
// closed (an IMAP command cannot be taken back), and the Account then
// reports ErrClosed.
func (a *Account) begin(ctx context.Context) (context.Context, func(), error) {
	a.mu.Lock()
	if a.c == nil {
		a.mu.Unlock()
		return nil, nil, ErrClosed
	}
	select {
	case <-a.c.Closed():
		a.mu.Unlock()
		// Closed by the server, a timeout or a cancelled operation: the
		// next connection may well work.
		return nil, nil, &unavailableError{ErrClosed}
	default:
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.CommandTimeout)
	c := a.c
	stop := context.AfterFunc(ctx, func() { c.Close() })
	return ctx, func() {
		if !stop() {
			// The context ended and the connection is being closed (on
			// AfterFunc's goroutine): wait until it is, so that the next
			// operation finds it closed instead of writing to it.
			<-c.Closed()
		}
		cancel()
		a.mu.Unlock()
	}, nil
}

// beginFolder begins an operation (see begin) on the kind's folder; the
// caller calls end when done. The kind is checked first: one that names
// no folder is refused with ErrInvalidKind, before the Account is asked
// for anything (ErrClosed included).
func (a *Account) beginFolder(ctx context.Context, kind Kind) (context.Context, *folder, func(), error) {
	if err := kind.check(); err != nil {
		return nil, nil, nil, err
	}
	ctx, end, err := a.begin(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	f, err := a.itemFolder(ctx, kind)
	if err != nil {
		end()
		return nil, nil, nil, err
	}
	return ctx, f, end, nil
}

// ctxErr prefers the context's error: "context deadline exceeded" says more
// than "use of closed network connection".
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// errorf wraps the error of an operation on folder f (nil: none) with the
// user, folder and operation. Every failed IMAP command of a store
// operation passes here, so this is where a broken connection, a timeout
// or a server saying "not now" becomes ErrUnavailable.
func (a *Account) errorf(ctx context.Context, f *folder, op string, err error) error {
	where := ""
	if f != nil {
		where = fmt.Sprintf(" folder %q:", f.name)
	}
	err = fmt.Errorf("imapstore: user %q:%s %s: %w", a.username, where, op, ctxErr(ctx, err))
	if a.c != nil && a.c.State() == imap.ConnStateLogout && !errors.Is(err, context.Canceled) && !errors.Is(err, ErrUnavailable) {
		// The connection is gone, whatever the error's text (go-imap
		// does not wrap its read errors).
		return &unavailableError{err}
	}
	return markUnavailable(err)
}

// itemFolder returns the kind's folder. Call it within begin: naming a
// sub-folder takes the server's hierarchy delimiter, asked for once per
// Account. Public methods check the kind before begin, so that a bad one
// is refused before anything is sent.
func (a *Account) itemFolder(ctx context.Context, kind Kind) (*folder, error) {
	if err := kind.check(); err != nil {
		return nil, err
	}
	name := a.opts.Folders[kind.Base()]
	if kind.SubPath() != "" {
		delim, err := a.delimiter(ctx)
		if err != nil {
			return nil, err
		}
		if name, err = subFolderName(name, kind, delim); err != nil {
			return nil, err
		}
	}
	return a.folderNamed(name, kind), nil
}

func (a *Account) stateFolder() *folder {
	return a.folderNamed(a.opts.StateFolder, "")
}

func (a *Account) folderNamed(name string, kind Kind) *folder {
	f := a.folders[name]
	if f == nil {
		f = &folder{name: name, kind: kind}
		a.folders[name] = f
	}
	return f
}

// isNonexistent tells a "no such mailbox" answer from other failures.
func isNonexistent(err error) bool {
	var ierr *imap.Error
	if !errors.As(err, &ierr) || ierr.Type != imap.StatusResponseTypeNo {
		return false
	}
	switch ierr.Code {
	case imap.ResponseCodeNonExistent, imap.ResponseCodeTryCreate:
		return true
	case "":
		t := strings.ToLower(ierr.Text)
		return strings.Contains(t, "exist") || strings.Contains(t, "not found")
	}
	return false
}

// errNotCreated: a ReadOnly Account found a folder missing and did not
// create it. Readers take it as an empty folder.
var errNotCreated = fmt.Errorf("%w: folder does not exist and is not created", ErrReadOnly)

// writable refuses op on a ReadOnly Account.
func (a *Account) writable(op string) error {
	if a.opts.ReadOnly {
		return fmt.Errorf("imapstore: user %q: %s: %w", a.username, op, ErrReadOnly)
	}
	return nil
}

// create makes the folder; an item folder is also subscribed so that mail
// clients show it. The state folder stays unsubscribed. A sub-folder's
// missing parents are made first (see createParents).
func (a *Account) create(ctx context.Context, f *folder) error {
	if a.opts.ReadOnly {
		return errNotCreated
	}
	if f.kind.SubPath() != "" {
		if err := a.createParents(ctx, f.kind); err != nil {
			return err
		}
	}
	if _, err := a.createFolder(ctx, f); err != nil {
		return err
	}
	if f.kind != "" {
		a.subscribe(f)
	}
	return nil
}

// createFolder makes f; created is false when it existed already.
func (a *Account) createFolder(ctx context.Context, f *folder) (created bool, err error) {
	err = a.c.Create(f.name, nil).Wait()
	var ierr *imap.Error
	if err != nil && !(errors.As(err, &ierr) && ierr.Code == imap.ResponseCodeAlreadyExists) {
		return false, a.errorf(ctx, f, "create", err)
	}
	f.exists = true
	if err == nil {
		a.opts.Logger.Info("imapstore: created folder", "user", a.username, "folder", f.name)
	}
	return err == nil, nil
}

func (a *Account) subscribe(f *folder) {
	if err := a.c.Subscribe(f.name).Wait(); err != nil {
		a.opts.Logger.Warn("imapstore: subscribe failed", "user", a.username, "folder", f.name, "err", err)
	}
}

// selectFolder selects f unless it is selected already, creating it when it
// does not exist. A UIDVALIDITY other than the index's drops the index.
//
// A session's view of its selected mailbox moves only when the server
// syncs it; callers that must see other sessions' latest changes use
// reselectFolder.
func (a *Account) selectFolder(ctx context.Context, f *folder) error {
	if a.selected == f.name {
		if !f.behind {
			return nil
		}
		// A NOOP moves the session's view to what the second connection
		// appended, at the cost of those messages rather than of a SELECT
		// of the whole folder.
		if a.c.Noop().Wait() == nil {
			f.behind = false
			return nil
		}
	}
	return a.reselectFolder(ctx, f)
}

// reselectFolder selects f afresh, for an up-to-date view.
func (a *Account) reselectFolder(ctx context.Context, f *folder) error {
	_, err := a.reselect(ctx, f)
	return err
}

func (a *Account) reselect(ctx context.Context, f *folder) (*imap.SelectData, error) {
	data, err := a.c.Select(f.name, &imap.SelectOptions{CondStore: a.caps.CondStore}).Wait()
	if err != nil && isNonexistent(err) {
		if err = a.create(ctx, f); err != nil {
			return nil, err
		}
		data, err = a.c.Select(f.name, &imap.SelectOptions{CondStore: a.caps.CondStore}).Wait()
	}
	if err != nil {
		a.selected = ""
		return nil, a.errorf(ctx, f, "select", err)
	}
	a.selected, f.exists, f.behind = f.name, true, false
	if f.cur != nil && f.cur.UIDValidity != data.UIDValidity {
		f.cur = nil
	}
	return data, nil
}

// fromAddress is the From of the store's messages: the user when the login
// is an address, else a reserved domain that can never be delivered to.
func (a *Account) fromAddress() string {
	if strings.Contains(a.username, "@") {
		return a.username
	}
	return a.username + "@syncml.invalid"
}
