package imapstore

import (
	"context"
	"crypto/tls"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Watching folders for a front that holds a device's request until
// something changes (ActiveSync's Ping). Three sources, the cheapest
// first:
//
//   - the process's own writes: a write any Account makes to an item
//     folder wakes the Watches of that mailbox and folder at once,
//     whichever front made it (the hub is shared by the process's
//     Accounts, Options.Watch);
//   - IMAP IDLE (RFC 2177) for what others change (a mail client, another
//     instance of the daemon): one connection per mailbox and folder,
//     shared by all the Watches of it, open while someone watches (and
//     Linger after), an extra connection for the ConnGate;
//   - STATUS every Poll on the watcher's own connection, for a folder
//     IDLE does not cover: a server without IDLE, the gate or MaxIdle
//     said no, the IDLE connection dropped.
//
// NOTIFY (RFC 5465) would watch every folder on one connection, but
// go-imap v2 has no client side of it: IDLE takes a connection per
// folder.

// WatchHubOptions configure a WatchHub; nil or zero fields take the
// defaults.
type WatchHubOptions struct {
	// Poll is how often a watched folder that no IDLE connection covers
	// is asked for its STATUS; default 15s.
	Poll time.Duration
	// MaxIdle bounds the IDLE connections of one mailbox; default 3 (a
	// device's contacts, calendar and tasks), negative: none, every
	// folder is polled. The ConnGate may refuse one before.
	MaxIdle int
	// Renew ends IDLE and begins it again this often; default 25m (RFC
	// 2177: at least every 29 minutes, or the server may log the client
	// out as inactive).
	Renew time.Duration
	// Linger keeps an IDLE connection nobody watches any more this long,
	// for the device's next Ping, which comes within seconds of the
	// answer to its last; default 30s, negative: none.
	Linger time.Duration
	// UserOf names the mailbox a login is of, so that all the logins of
	// one mailbox share its Watches (a master login "alice*admin" is
	// alice's); default: the login in lower case, as Dovecot names
	// users.
	UserOf func(login string) string
}

// WatchHub is where the Accounts of a process meet their Watches: it
// tells a mailbox's Watches of its Accounts' writes, and keeps the IDLE
// connections they share. It is safe for concurrent use; Close stops its
// connections.
type WatchHub struct {
	opts WatchHubOptions

	mu     sync.Mutex
	users  map[string]*watchUser
	closed bool
}

type watchUser struct {
	folders map[string]*watchedFolder
	idlers  int       // IDLE connections open or being opened
	retry   time.Time // no new one before (the last one could not be opened)
}

type watchedFolder struct {
	watches map[*Watch]struct{}
	idle    *idler // nil: none
}

// idleRetry is how long a mailbox whose IDLE connection could not be
// opened (the gate said no, a connection limit) is polled before the next
// Watch tries again.
const idleRetry = time.Minute

// NewWatchHub makes a hub.
func NewWatchHub(opts *WatchHubOptions) *WatchHub {
	var o WatchHubOptions
	if opts != nil {
		o = *opts
	}
	if o.Poll <= 0 {
		o.Poll = 15 * time.Second
	}
	if o.MaxIdle == 0 {
		o.MaxIdle = 3
	}
	if o.Renew <= 0 {
		o.Renew = 25 * time.Minute
	}
	if o.Linger == 0 {
		o.Linger = 30 * time.Second
	}
	if o.UserOf == nil {
		o.UserOf = strings.ToLower
	}
	return &WatchHub{opts: o, users: map[string]*watchUser{}}
}

// Close stops the hub's IDLE connections and waits until they are
// closed; its Watches then poll.
func (h *WatchHub) Close() {
	h.mu.Lock()
	h.closed = true
	var stopped []*idler
	for _, u := range h.users {
		for _, wf := range u.folders {
			if d := wf.idle; d != nil {
				h.dropLocked(u, wf)
				stopped = append(stopped, d)
			}
		}
	}
	h.mu.Unlock()
	for _, d := range stopped {
		<-d.done
	}
}

// IdleConns is how many IDLE connections the hub has open or opening
// for the mailbox of login.
func (h *WatchHub) IdleConns(login string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if u := h.users[h.opts.UserOf(login)]; u != nil {
		return u.idlers
	}
	return 0
}

// ReleaseIdle closes the IDLE connections of the mailbox of login, for a
// login that finds the user's connection budget full, and returns how
// many it closed, once they are. Their Watches are woken and poll from
// then on, and the mailbox gets no new IDLE connection for a while.
func (h *WatchHub) ReleaseIdle(login string) int {
	user := h.opts.UserOf(login)
	h.mu.Lock()
	u := h.users[user]
	if u == nil {
		h.mu.Unlock()
		return 0
	}
	u.retry = time.Now().Add(idleRetry)
	var stopped []*idler
	for name, wf := range u.folders {
		if d := wf.idle; d != nil {
			h.dropLocked(u, wf)
			stopped = append(stopped, d)
			for w := range wf.watches {
				w.wake()
			}
			h.forgetLocked(user, name)
		}
	}
	h.mu.Unlock()
	for _, d := range stopped {
		<-d.done
	}
	return len(stopped)
}

// changed wakes the Watches of the mailbox's folder.
func (h *WatchHub) changed(user, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if u := h.users[user]; u != nil {
		if wf := u.folders[name]; wf != nil {
			for w := range wf.watches {
				w.wake()
			}
		}
	}
}

// attach adds w to the watches of folder name and returns the folder's
// IDLE connection, opening one (with dial) when there is none and the
// limits allow; nil when the folder is to be polled. dial nil: the
// server has no IDLE.
func (h *WatchHub) attach(w *Watch, name string, dial *idleDial) *idler {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[w.user]
	if u == nil {
		u = &watchUser{folders: map[string]*watchedFolder{}}
		h.users[w.user] = u
	}
	wf := u.folders[name]
	if wf == nil {
		wf = &watchedFolder{watches: map[*Watch]struct{}{}}
		u.folders[name] = wf
	}
	wf.watches[w] = struct{}{}
	if d := wf.idle; d != nil {
		if d.linger != nil {
			d.linger.Stop() // harmless if it fired: expire sees the watch
			d.linger = nil
		}
		return d
	}
	if dial == nil || h.closed || u.idlers >= h.opts.MaxIdle || time.Now().Before(u.retry) {
		return nil
	}
	d := &idler{hub: h, user: w.user, name: name, ready: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	wf.idle = d
	u.idlers++
	go d.run(dial)
	return d
}

// detach removes w from the watches of folder name; the folder's IDLE
// connection, watched by nobody now, lingers a while, then closes.
func (h *WatchHub) detach(w *Watch, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[w.user]
	if u == nil || u.folders[name] == nil {
		return
	}
	wf := u.folders[name]
	delete(wf.watches, w)
	if len(wf.watches) > 0 {
		return
	}
	if d := wf.idle; d != nil {
		if h.opts.Linger > 0 {
			d.linger = time.AfterFunc(h.opts.Linger, func() { h.expire(w.user, name, d) })
			return
		}
		h.dropLocked(u, wf)
	}
	h.forgetLocked(w.user, name)
}

// expire closes a lingering IDLE connection that is still watched by
// nobody.
func (h *WatchHub) expire(user, name string, d *idler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[user]
	if u == nil || u.folders[name] == nil || u.folders[name].idle != d || len(u.folders[name].watches) > 0 {
		return
	}
	h.dropLocked(u, u.folders[name])
	h.forgetLocked(user, name)
}

// dropLocked stops the folder's IDLE connection; callers hold h.mu.
func (h *WatchHub) dropLocked(u *watchUser, wf *watchedFolder) {
	d := wf.idle
	wf.idle = nil
	u.idlers--
	close(d.stop)
}

// forgetLocked forgets a folder nobody watches, and a user with no
// folder and no IDLE retry pending; callers hold h.mu.
func (h *WatchHub) forgetLocked(user, name string) {
	u := h.users[user]
	if wf := u.folders[name]; wf != nil && len(wf.watches) == 0 && wf.idle == nil {
		delete(u.folders, name)
	}
	if len(u.folders) == 0 && u.idlers == 0 && !time.Now().Before(u.retry) {
		delete(h.users, user)
	}
}

// lost is told by an IDLE connection that ended without being stopped:
// its Watches poll the folder from now on. One that dropped wakes them,
// since what changed while it was going is not known; one that could not
// be opened does not (they have polled from their start). refused: the
// login was refused, which holds for the mailbox's other folders too for
// a while.
func (h *WatchHub) lost(d *idler, opened, refused bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.users[d.user]
	if u == nil {
		return
	}
	if refused {
		u.retry = time.Now().Add(idleRetry)
	}
	wf := u.folders[d.name]
	if wf == nil || wf.idle != d {
		return // stopped meanwhile
	}
	wf.idle = nil
	u.idlers--
	if opened {
		for w := range wf.watches {
			w.wake()
		}
	}
	h.forgetLocked(d.user, d.name)
}

// idleDial is what an IDLE connection logs in with: the credentials and
// place of the Account whose Watch opened it.
type idleDial struct {
	opts               Options
	tlsConf            *tls.Config
	origin             netip.AddrPort
	username, password string
}

// idler is the IDLE connection of one mailbox and folder. Its goroutine,
// owned by the hub, logs in, EXAMINEs the folder and IDLEs until the
// hub stops it or the connection ends.
type idler struct {
	hub        *WatchHub
	user, name string
	// ready is closed when IDLE runs (live) or the connection could not
	// be opened.
	ready  chan struct{}
	live   atomic.Bool
	stop   chan struct{} // closed by the hub (dropLocked)
	done   chan struct{} // closed when the connection is closed
	linger *time.Timer   // set while nobody watches; under hub.mu
}

// alive reports whether d is IDLE now; false for nil.
func (d *idler) alive() bool { return d != nil && d.live.Load() }

func (d *idler) run(dial *idleDial) {
	defer close(d.done)
	log := dial.opts.Logger
	c, atLogin, err := d.open(dial)
	if err != nil {
		close(d.ready)
		log.Info("imapstore: no IDLE connection: polling", "user", dial.username, "folder", d.name, "err", err)
		// A refused login (the gate, a connection limit) holds for the
		// mailbox's other folders too; a folder that cannot be examined
		// (it does not exist yet) only for itself.
		d.hub.lost(d, false, atLogin)
		return
	}
	defer c.Close()
	d.live.Store(true)
	close(d.ready)
	stopped := d.idle(c)
	d.live.Store(false)
	if !stopped {
		log.Info("imapstore: IDLE connection lost: polling", "user", dial.username, "folder", d.name)
		d.hub.lost(d, true, false)
	}
}

// open logs in and examines the folder, within the dial timeout; atLogin
// tells a failed login from a failed EXAMINE.
func (d *idler) open(dial *idleDial) (c *imapclient.Client, atLogin bool, err error) {
	o := dial.opts
	o.wrapConn = o.wrapIdle
	ctx, cancel := context.WithTimeout(context.Background(), o.DialTimeout)
	defer cancel()
	// Any unilateral data in IDLE says the folder changed: EXISTS (a new
	// message), EXPUNGE, FETCH (flags, and MODSEQ with CONDSTORE).
	wake := func() { d.hub.changed(d.user, d.name) }
	unilateral := &imapclient.UnilateralDataHandler{
		Expunge: func(uint32) { wake() },
		Mailbox: func(m *imapclient.UnilateralDataMailbox) {
			if m.NumMessages != nil {
				wake()
			}
		},
		Fetch: func(m *imapclient.FetchMessageData) {
			m.Collect()
			wake()
		},
	}
	c, _, err = login(ctx, &o, dial.tlsConf, dial.origin, dial.username, dial.password, true, unilateral)
	if err != nil {
		return nil, true, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	_, err = c.Select(d.name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if !stop() || err != nil {
		c.Close()
		return nil, false, ctxErr(ctx, err)
	}
	return c, false, nil
}

// idle runs IDLE, renewed every Renew, until the hub stops it (true) or
// the connection fails (false).
func (d *idler) idle(c *imapclient.Client) (stopped bool) {
	for {
		cmd, err := c.Idle()
		if err != nil {
			return false
		}
		renew := time.NewTimer(d.hub.opts.Renew)
		gone := false
		select {
		case <-d.stop:
			stopped = true
		case <-c.Closed():
			gone = true
		case <-renew.C:
		}
		renew.Stop()
		if err := cmd.Close(); err != nil || gone {
			return stopped
		}
		if err := cmd.Wait(); err != nil || stopped {
			return stopped
		}
	}
}

// Watch is a watch of some of an Account's item folders (Account.Watch).
// It is for one goroutine at a time.
type Watch struct {
	hub     *WatchHub
	user    string
	woken   chan struct{} // a token: something may have changed since
	folders []*watchFolder
	closed  bool
}

type watchFolder struct {
	name string
	kind Kind
	idle *idler // nil: polled
	// last is the folder's STATUS when last asked, for polling.
	last watchMark
}

// watchMark is what STATUS says of a folder: any change of an item
// moves it (with CONDSTORE a flag's too).
type watchMark struct {
	uidValidity uint32
	uidNext     imap.UID
	messages    uint32
	modSeq      uint64
}

func (w *Watch) wake() {
	select {
	case w.woken <- struct{}{}:
	default: // woken already
	}
}

// Watch starts watching the kinds' folders: a change made to one after
// Watch returns wakes Wait, whether this process made it (any Account on
// the same WatchHub) or another IMAP client did (IDLE, or STATUS every
// Poll where IDLE does not cover the folder). Watch opens the IDLE
// connections it needs and notes each folder's STATUS; Close ends the
// watch.
func (a *Account) Watch(ctx context.Context, kinds ...Kind) (*Watch, error) {
	for _, k := range kinds {
		if err := k.check(); err != nil {
			return nil, err
		}
	}
	w := &Watch{hub: a.hub, user: a.hub.opts.UserOf(a.username), woken: make(chan struct{}, 1)}
	var dial *idleDial
	if a.caps.Idle {
		dial = &idleDial{opts: a.opts, tlsConf: a.tlsConf, origin: a.origin, username: a.username, password: a.password}
	}
	cctx, end, err := a.begin(ctx)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Watch, error) {
		end()
		w.Close()
		return nil, err
	}
	for _, k := range kinds {
		f, err := a.itemFolder(cctx, k)
		if err != nil {
			return fail(err)
		}
		if w.has(f.name) {
			continue
		}
		wf := &watchFolder{name: f.name, kind: f.kind}
		w.folders = append(w.folders, wf)
		// Attached before the STATUS: a write from now on wakes.
		wf.idle = a.hub.attach(w, f.name, dial)
		if wf.last, err = a.folderMark(cctx, f); err != nil {
			return fail(err)
		}
	}
	end()
	for _, wf := range w.folders {
		if wf.idle == nil {
			continue
		}
		select {
		case <-wf.idle.ready:
		case <-ctx.Done():
			w.Close()
			return nil, ctx.Err()
		}
	}
	return w, nil
}

func (w *Watch) has(name string) bool {
	for _, wf := range w.folders {
		if wf.name == name {
			return true
		}
	}
	return false
}

// Wait returns true as soon as a watched folder may have changed since
// the Watch began or Wait last returned true; false at until; ctx's
// error when it ends. A folder that no IDLE connection covers is polled
// with STATUS on poll (an Account of the same mailbox); with poll nil,
// Wait returns true at once for it, so that the caller looks itself. An
// IDLE connection that drops wakes Wait too (what changed meanwhile is
// not known); its folder is polled from then on.
func (w *Watch) Wait(ctx context.Context, poll *Account, until time.Time) (bool, error) {
	end := time.NewTimer(time.Until(until))
	defer end.Stop()
	for {
		select {
		case <-w.woken:
			return true, nil
		default:
		}
		var polled []*watchFolder
		for _, wf := range w.folders {
			if !wf.idle.alive() {
				polled = append(polled, wf)
			}
		}
		if len(polled) > 0 && poll == nil {
			return true, nil
		}
		if changed, done, err := w.waitOnce(ctx, poll, polled, end.C); done {
			return changed, err
		}
	}
}

// waitOnce waits for a wake, the end, ctx or (with folders to poll) the
// next poll; done is false after a poll that found nothing.
func (w *Watch) waitOnce(ctx context.Context, poll *Account, polled []*watchFolder, end <-chan time.Time) (changed, done bool, err error) {
	var tick <-chan time.Time
	if len(polled) > 0 {
		t := time.NewTimer(w.hub.opts.Poll)
		defer t.Stop()
		tick = t.C
	}
	select {
	case <-w.woken:
		return true, true, nil
	case <-ctx.Done():
		return false, true, ctx.Err()
	case <-end:
		return false, true, nil
	case <-tick:
		changed, err := poll.pollWatch(ctx, polled)
		return changed, err != nil || changed, err
	}
}

// Detached reports whether every watched folder has its IDLE connection
// now, so that Wait needs no Account to poll with.
func (w *Watch) Detached() bool {
	for _, wf := range w.folders {
		if !wf.idle.alive() {
			return false
		}
	}
	return true
}

// Close ends the watch.
func (w *Watch) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	for _, wf := range w.folders {
		w.hub.detach(w, wf.name)
	}
	return nil
}

// pollWatch asks the folders' STATUS and reports whether one moved since
// it was last asked.
func (a *Account) pollWatch(ctx context.Context, folders []*watchFolder) (bool, error) {
	ctx, end, err := a.begin(ctx)
	if err != nil {
		return false, err
	}
	defer end()
	changed := false
	for _, wf := range folders {
		m, err := a.folderMark(ctx, a.folderNamed(wf.name, wf.kind))
		if err != nil {
			return false, err
		}
		if m != wf.last {
			wf.last, changed = m, true
		}
	}
	return changed, nil
}

// folderMark is the folder's STATUS; the zero mark for a folder that does
// not exist. Call it within begin.
func (a *Account) folderMark(ctx context.Context, f *folder) (watchMark, error) {
	if a.selected == f.name {
		// Dovecot answers STATUS on the selected folder from this
		// session's view, which moves only when the session syncs.
		if err := a.c.Noop().Wait(); err != nil {
			return watchMark{}, a.errorf(ctx, f, "noop", err)
		}
	}
	st, err := a.c.Status(f.name, &imap.StatusOptions{UIDValidity: true, UIDNext: true, NumMessages: true, HighestModSeq: a.caps.CondStore}).Wait()
	if err != nil {
		if isNonexistent(err) {
			return watchMark{}, nil
		}
		return watchMark{}, a.errorf(ctx, f, "status", err)
	}
	m := watchMark{uidValidity: st.UIDValidity, uidNext: st.UIDNext, modSeq: st.HighestModSeq}
	if st.NumMessages != nil {
		m.messages = *st.NumMessages
	}
	return m, nil
}

// wrote tells the hub that this Account changed folder f, so that the
// mailbox's Watches of it wake now, not at their next poll.
func (a *Account) wrote(f *folder) {
	if f.kind != "" {
		a.hub.changed(a.hub.opts.UserOf(a.username), f.name)
	}
}
