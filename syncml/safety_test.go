package syncml

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"testing"
	"time"
)

// mailboxNames lists the FN of every stored contact, sorted.
func mailboxNames(m *memstore.Store) []string {
	items := map[string]string{}
	for id, b := range m.Items("contacts") {
		items[id] = string(b)
	}
	return names(items)
}

// TestResetPhoneSlowSync: a phone that was reset syncs again under the
// same device ID, its items numbered from 1 again. Its slow sync must
// not take them for the old life's items of the same IDs: the mailbox
// keeps its 20 and gains the phone's new ones, the phone gets the 20, and
// old items the phone still holds (under new IDs) are not doubled.
func TestResetPhoneSlowSync(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kept    []int // old items the reset phone still holds
		newOnes int
		replace bool // the phone sends its slow sync as Replace
	}{
		{"five new", nil, 5, false},
		{"five new as Replace", nil, 5, true},
		{"three old and two new", []int{7, 3, 12}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
			defer srv.Close()
			phone := newSimDevice(t, srv, "IMEI:3550001")
			phone.replaceOnSlow = tc.replace
			var want []string
			for i := 1; i <= 20; i++ {
				n := fmt.Sprintf("Old %02d", i)
				phone.add(vc(n))
				want = append(want, n)
			}
			if !phone.sync(true) {
				t.Fatal("first sync failed")
			}
			phone.reset()
			for _, i := range tc.kept {
				phone.add(vc(fmt.Sprintf("Old %02d", i)))
			}
			for i := 1; i <= tc.newOnes; i++ {
				n := fmt.Sprintf("New %02d", i)
				phone.add(vc(n))
				want = append(want, n)
			}
			if !phone.sync(false) {
				t.Fatal("sync after the reset failed")
			}
			slices.Sort(want)
			if got := mailboxNames(store); !slices.Equal(got, want) {
				t.Errorf("mailbox after the reset phone's sync:\n%v\nwant\n%v", got, want)
			}
			if got := names(phone.items); !slices.Equal(got, want) {
				t.Errorf("phone after its sync:\n%v\nwant\n%v", got, want)
			}
			// A quiet sync afterwards.
			s := phone.begin()
			s.alert(false)
			for _, sy := range commands[*Sync](s.clientSync(false)) {
				if len(sy.Commands) != 0 {
					t.Errorf("quiet sync sends %d commands", len(sy.Commands))
				}
			}
		})
	}
}

// connAuth logs alice in to one memstore.Store and counts the open
// "connections" (stores not closed yet), like IMAP logins.
type connAuth struct {
	store  *memstore.Store
	mu     sync.Mutex
	open   int
	logins int
	down   bool // the mail server is unreachable
	limit  int  // connections the server allows (0: any)
}

type connStore struct {
	*memstore.Store
	a    *connAuth
	once sync.Once
}

func (c *connStore) Close() error {
	c.once.Do(func() { c.a.mu.Lock(); c.a.open--; c.a.mu.Unlock() })
	return nil
}

func (a *connAuth) Login(_ context.Context, user, pw string) (pim.Store, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down {
		return nil, fmt.Errorf("dial: connection refused: %w", pim.ErrUnavailable)
	}
	if user != "alice" || pw != "pw" {
		return nil, pim.ErrAuthFailed
	}
	if a.limit > 0 && a.open >= a.limit {
		return nil, fmt.Errorf("NO [LIMIT] Maximum number of connections from user+IP exceeded: %w", pim.ErrUnavailable)
	}
	a.open++
	a.logins++
	return &connStore{Store: a.store, a: a}, nil
}

func (a *connAuth) conns() int { a.mu.Lock(); defer a.mu.Unlock(); return a.open }

// TestUnauthenticatedLeavesNothing: messages without valid credentials
// get their challenge and leave no session, no login and no state.
func TestUnauthenticatedLeavesNothing(t *testing.T) {
	store := newMemStore()
	auth := &connAuth{store: store}
	srv := NewServer(ServerOptions{Auth: auth})
	defer srv.Close()
	for i := 0; i < 1500; i++ {
		dev := newSimDevice(t, srv, fmt.Sprintf("IMEI:%d", i))
		if i%2 == 0 {
			dev.cred = "YWxpY2U6d3Jvbmc=" // alice:wrong
		} else {
			dev.cred = ""
		}
		s := dev.begin()
		if code := hdrCode(s.alert(true)); code != int(StatusInvalidCredentials) && code != int(StatusMissingCredentials) {
			t.Fatalf("message %d: header status %d", i, code)
		}
	}
	srv.mu.Lock()
	n := len(srv.sessions)
	srv.mu.Unlock()
	if n != 0 || auth.conns() != 0 || store.Stats().Saves != 0 {
		t.Errorf("after 1500 unauthenticated messages: %d sessions, %d connections open, %d state writes", n, auth.conns(), store.Stats().Saves)
	}
}

// TestMailServerDown503: a login the mail server cannot answer is a 503
// with a retry hint, never 401; the report says unavailable.
func TestMailServerDown503(t *testing.T) {
	auth := &connAuth{store: newMemStore(), down: true}
	var reports []*pim.SessionReport
	srv := NewServer(ServerOptions{Auth: auth, OnSession: func(r *pim.SessionReport) { reports = append(reports, r) }})
	defer srv.Close()
	dev := newSimDevice(t, srv, "IMEI:1")
	s := dev.begin()
	var b bytes.Buffer
	m := &Message{Hdr: SyncHdr{VerDTD: "1.2", VerProto: "SyncML/1.2", SessionID: "1", MsgID: "1",
		Target: Loc{LocURI: "http://127.0.0.1/syncml"}, Source: Loc{LocURI: "IMEI:1"},
		Cred: &Cred{Meta: &Meta{Type: "syncml:auth-basic"}, Data: dev.cred}}, Final: true}
	EncodeXML(&b, m.Element())
	resp, err := srv.Handle(context.Background(), &Request{Body: b.Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	r := parse(t, resp.Body)
	st := hdrStatus(r)
	if st.Data != "503" || resp.RetryAfter <= 0 || len(st.Items) == 0 || !strings.Contains(st.Items[0].Data.Text, "try again") {
		t.Errorf("mail server down: status %s, retry after %v, items %+v", st.Data, resp.RetryAfter, st.Items)
	}
	if len(reports) != 1 || reports[0].Result != "unavailable" {
		t.Errorf("reports: %+v", reports)
	}
	_ = s
	// Up again: the device syncs.
	auth.mu.Lock()
	auth.down = false
	auth.mu.Unlock()
	dev.add(vc("Ann"))
	if !dev.sync(true) {
		t.Error("sync after the mail server came back failed")
	}
}

// TestReplacedSessionEndsAtOnce: the device's newer session closes the
// older one's connection at once; the older one's later messages are
// refused and it commits nothing.
func TestReplacedSessionEndsAtOnce(t *testing.T) {
	store := newMemStore()
	auth := &connAuth{store: store}
	srv := NewServer(ServerOptions{Auth: auth})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:7")
	for i := 0; i < 5; i++ {
		phone.add(vc(fmt.Sprintf("C%d", i)))
	}
	old := phone.begin()
	old.alert(true)
	if auth.conns() != 1 {
		t.Fatalf("%d connections after the first message", auth.conns())
	}
	phone.sessions++ // the retry is a new session of the same device
	retry := phone.begin()
	retry.alert(true)
	if n := auth.conns(); n != 1 {
		t.Errorf("%d connections open after the device's new session, want 1 (the old one closed)", n)
	}
	r := old.clientSync(true)
	if hdrCode(r) != int(StatusForbidden) || !strings.Contains(hdrStatus(r).Items[0].Data.Text, "replaced") {
		t.Errorf("the old session's next message: %v", statuses(r))
	}
	if n := len(store.Items("contacts")); n != 0 {
		t.Errorf("the replaced session stored %d items", n)
	}
	if !retry.serverChanges(retry.clientSync(true)) {
		t.Fatal("the new session failed")
	}
	if n := len(store.Items("contacts")); n != 5 {
		t.Errorf("%d items after the new session, want 5", n)
	}
}

// TestOtherUsersCredentialsRefused: a message on alice's session with
// bob's credentials executes nothing.
func TestOtherUsersCredentialsRefused(t *testing.T) {
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:8")
	phone.add(vc("Ann"))
	s := phone.begin()
	s.alert(true)
	s.msgID++
	m := &Message{Hdr: SyncHdr{VerDTD: "1.2", VerProto: "SyncML/1.2", SessionID: s.sid, MsgID: strconv.Itoa(s.msgID),
		Target: Loc{LocURI: "http://127.0.0.1/syncml"}, Source: Loc{LocURI: phone.id},
		Cred: &Cred{Meta: &Meta{Type: "syncml:auth-basic"}, Data: base64.StdEncoding.EncodeToString([]byte("bob:bobs-pw"))}},
		Body: []Command{&Sync{CmdID: "1", Target: &Loc{LocURI: "contacts"}, Source: &Loc{LocURI: "ab"}, Commands: []Command{
			&Change{CmdID: "2", Op: OpAdd, Items: []Item{{Source: &Loc{LocURI: "1"}, Data: &Data{Text: vc("Ann")}}}}}}},
		Final: true}
	var b bytes.Buffer
	EncodeXML(&b, m.Element())
	resp, err := srv.Handle(context.Background(), &Request{Body: b.Bytes(), SessionKey: s.key})
	if err != nil {
		t.Fatal(err)
	}
	r := parse(t, resp.Body)
	if st := hdrStatus(r); st.Data != "401" {
		t.Errorf("another user's credentials: %v", statuses(r))
	}
	if n := len(store.Items("contacts")); n != 0 {
		t.Errorf("%d items stored from the refused message", n)
	}
}

// TestIdleSessionReleasesConnection: a session idle past IdleRelease
// gives its connection back and opens a new one on its next message; the
// sync completes.
func TestIdleSessionReleasesConnection(t *testing.T) {
	store := newMemStore()
	auth := &connAuth{store: store}
	var mu sync.Mutex
	now := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := NewServer(ServerOptions{Auth: auth, IdleRelease: 20 * time.Second, now: clock})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:9")
	phone.add(vc("Ann"))
	s := phone.begin()
	s.alert(true)
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	// Any message to the server sweeps; a stranger's will do.
	stranger := newSimDevice(t, srv, "IMEI:other")
	stranger.cred = ""
	stranger.begin().alert(true)
	deadline := time.Now().Add(5 * time.Second)
	for auth.conns() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := auth.conns(); n != 0 {
		t.Fatalf("%d connections open while the session is idle", n)
	}
	if !s.serverChanges(s.clientSync(true)) {
		t.Fatal("the session failed after its connection was released")
	}
	if auth.logins != 2 || len(store.Items("contacts")) != 1 {
		t.Errorf("%d logins (want 2: the first and the reopen), %d items", auth.logins, len(store.Items("contacts")))
	}
}

// TestUserSessionCap: abandoned sessions of many devices do not keep the
// user's real phone out: at the cap the least recently used idle one is
// ended.
func TestUserSessionCap(t *testing.T) {
	store := newMemStore()
	auth := &connAuth{store: store}
	var mu sync.Mutex
	now := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := NewServer(ServerOptions{Auth: auth, MaxDevices: 20, MaxUserSessions: 4, IdleRelease: 10 * time.Second, now: clock})
	defer srv.Close()
	for i := 0; i < 12; i++ {
		newSimDevice(t, srv, fmt.Sprintf("IMEI:abandoned-%d", i)).begin().alert(true)
		mu.Lock()
		now = now.Add(time.Minute)
		mu.Unlock()
	}
	srv.mu.Lock()
	live := len(srv.byUser["alice"])
	srv.mu.Unlock()
	if live > 4 {
		t.Errorf("%d sessions of alice open, cap 4", live)
	}
	phone := newSimDevice(t, srv, "IMEI:real")
	phone.add(vc("Ann"))
	if !phone.sync(true) {
		t.Fatal("the real phone's sync failed")
	}
	if n := auth.conns(); n > 4 {
		t.Errorf("%d connections open, want at most the cap", n)
	}
}

// faultAuth logs alice in to a memstore.Store whose operations fail on
// demand, through the store's fault hooks.
type faultAuth struct {
	pim.Authenticator
	mu sync.Mutex
	// failGet, failPut: the next calls fail; putThenFail: Put stores,
	// then reports a failure (the connection broke after the write).
	failGet, failPut, putThenFail bool
	// failChanges: listing changes fails with this error.
	failChanges error
	// failSave: saving the state record of this key fails (the
	// connection broke), every other record is saved.
	failSave string
}

func newFaultAuth(store *memstore.Store) *faultAuth {
	a := &faultAuth{Authenticator: store.Auth("alice", "pw")}
	store.Configure(func(o *memstore.Options) { o.Fault, o.FaultAfter = a.before, a.after })
	return a
}

func (a *faultAuth) set(f func(a *faultAuth)) { a.mu.Lock(); f(a); a.mu.Unlock() }

var errBroken = fmt.Errorf("imap: connection reset: %w", pim.ErrUnavailable)

func (a *faultAuth) before(op memstore.Op, name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case op == memstore.OpChanges:
		return a.failChanges
	case op == memstore.OpGet && a.failGet, op == memstore.OpPut && a.failPut,
		op == memstore.OpSaveState && a.failSave != "" && name == a.failSave:
		return errBroken
	}
	return nil
}

func (a *faultAuth) after(op memstore.Op, _ string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if op == memstore.OpPut && a.putThenFail {
		return errBroken
	}
	return nil
}

// TestStoreWriteFailure: a write the store fails is answered 510, never
// 415; the database commits nothing and the session is reported failed;
// the next sync stores each item once, also when the failed write had in
// fact stored them.
func TestStoreWriteFailure(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(fmt.Sprintf("stored-then-failed=%v", after), func(t *testing.T) {
			store := newMemStore()
			auth := newFaultAuth(store)
			var reports []*pim.SessionReport
			srv := NewServer(ServerOptions{Auth: auth, OnSession: func(r *pim.SessionReport) { reports = append(reports, r) }})
			defer srv.Close()
			phone := newSimDevice(t, srv, "IMEI:10")
			for i := 0; i < 3; i++ {
				phone.add(vc(fmt.Sprintf("C%d", i)))
			}
			auth.set(func(a *faultAuth) { a.failPut, a.putThenFail = !after, after })
			s := phone.begin()
			s.alert(true)
			r := s.clientSync(true)
			for _, st := range statuses(r) {
				if strings.HasPrefix(st, "Add") && !strings.Contains(st, " 510") {
					t.Errorf("status of a failed write: %s", st)
				}
			}
			s.serverChanges(r)
			if len(reports) != 1 || reports[0].Result != "unavailable" || reports[0].Error == "" {
				t.Errorf("reports: %+v", reports)
			}
			if raw, _ := store.LoadState(context.Background(), pim.ReplicaKey(phone.id, "contacts")); raw != nil {
				t.Error("the failed database committed its state")
			}
			var le pim.LastError
			if raw, _ := store.LoadState(context.Background(), pim.LastErrorKey(phone.id)); raw == nil || json.Unmarshal(raw, &le) != nil || le.Result != "unavailable" {
				t.Errorf("last-error record: %+v", le)
			}
			devs := pim.NewDevices(store, 4)
			lastErr := func() *pim.LastError {
				t.Helper()
				slot, err := devs.Get(context.Background(), phone.id)
				if err != nil || slot == nil {
					t.Fatalf("slot: %v %v", slot, err)
				}
				e, err := devs.LastError(context.Background(), slot)
				if err != nil {
					t.Fatal(err)
				}
				return e
			}
			if e := lastErr(); e == nil || e.Result != "unavailable" {
				t.Errorf("pim.Devices.LastError after the failed sync: %+v", e)
			}
			auth.set(func(a *faultAuth) { a.failPut, a.putThenFail = false, false })
			if !phone.sync(true) {
				t.Fatal("the next sync failed")
			}
			if e := lastErr(); e != nil {
				t.Errorf("pim.Devices.LastError after a good sync: %+v, want none", e)
			}
			if got := mailboxNames(store); !slices.Equal(got, []string{"C0", "C1", "C2"}) {
				t.Errorf("mailbox after the repeat: %v", got)
			}
			if got := names(phone.items); !slices.Equal(got, []string{"C0", "C1", "C2"}) {
				t.Errorf("phone after the repeat: %v", got)
			}
		})
	}
}

// TestStoreReadFailureAborts: a read that fails while the device's edit
// is merged stops the database: nothing is written (no merge on a missing
// value), nothing committed; the next sync applies the edit.
func TestStoreReadFailureAborts(t *testing.T) {
	store := newMemStore()
	auth := newFaultAuth(store)
	srv := NewServer(ServerOptions{Auth: auth})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:11")
	luid := phone.add("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL:111\r\nNOTE:kept\r\nEND:VCARD\r\n")
	if !phone.sync(true) {
		t.Fatal("first sync failed")
	}
	phone.items[luid] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL:222\r\nEND:VCARD\r\n"
	phone.dirty[luid] = OpReplace
	before := store.Stats().Puts
	auth.set(func(a *faultAuth) { a.failGet = true })
	s := phone.begin()
	s.alert(false)
	r := s.clientSync(false)
	if got := statuses(r); !slices.ContainsFunc(got, func(st string) bool { return strings.HasPrefix(st, "Replace") && strings.Contains(st, " 510") }) {
		t.Errorf("statuses with the read failing: %v", got)
	}
	if store.Stats().Puts != before {
		t.Error("the store was written while its read failed")
	}
	if s.serverChanges(r) {
		t.Error("the device took the session as complete")
	}
	auth.set(func(a *faultAuth) { a.failGet = false })
	if !phone.sync(false) {
		t.Fatal("the next sync failed")
	}
	for _, b := range store.Items("contacts") {
		if !bytes.Contains(b, []byte("TEL:222")) {
			t.Errorf("the edit did not reach the mailbox:\n%s", b)
		}
	}
	if len(store.Items("contacts")) != 1 {
		t.Errorf("%d contacts, want 1", len(store.Items("contacts")))
	}
}

// TestConnectionLimitIdleSessions: the IMAP server's per-user connection
// limit is reached by sessions waiting for other devices; a new device's
// login has them give their connections back and gets in at once.
func TestConnectionLimitIdleSessions(t *testing.T) {
	store := newMemStore()
	auth := &connAuth{store: store, limit: 3}
	srv := NewServer(ServerOptions{Auth: auth, MaxDevices: 16})
	defer srv.Close()
	var waiting []*simSession
	for i := 0; i < 12; i++ {
		s := newSimDevice(t, srv, fmt.Sprintf("IMEI:abandoned-%d", i)).begin()
		if code := hdrCode(s.alert(true)); code != int(StatusAuthAccepted) {
			t.Fatalf("session %d: header status %d", i, code)
		}
		waiting = append(waiting, s)
	}
	phone := newSimDevice(t, srv, "IMEI:real")
	phone.add(vc("Ann"))
	if !phone.sync(true) {
		t.Fatal("the real phone was kept out by the idle sessions")
	}
	if n := auth.conns(); n > 3 {
		t.Errorf("%d connections open, limit 3", n)
	}
	// A waiting session goes on with a connection of its own.
	w := waiting[0]
	w.d.add(vc("Bob"))
	if !w.serverChanges(w.clientSync(true)) {
		t.Error("a session whose connection was given back could not go on")
	}
	if got := mailboxNames(store); !slices.Equal(got, []string{"Ann", "Bob"}) {
		t.Errorf("mailbox: %v", got)
	}
}

// TestServerSessionCap: at the server's cap a new session is refused
// with 503 and a reason, and nothing of it is kept; once a session ends
// there is room again.
func TestServerSessionCap(t *testing.T) {
	store := newMemStore()
	auth := &connAuth{store: store}
	srv := NewServer(ServerOptions{Auth: auth, MaxDevices: 8, MaxSessions: 2})
	defer srv.Close()
	a := newSimDevice(t, srv, "IMEI:a").begin()
	a.alert(true)
	newSimDevice(t, srv, "IMEI:b").begin().alert(true)
	c := newSimDevice(t, srv, "IMEI:c")
	r := c.begin().alert(true)
	st := hdrStatus(r)
	if st.Data != "503" || len(st.Items) == 0 || !strings.Contains(st.Items[0].Data.Text, "too many sessions") || r.Hdr.RespURI != "" {
		t.Fatalf("third session at a cap of 2: %v %+v", statuses(r), st.Items)
	}
	if n := auth.conns(); n != 2 {
		t.Errorf("%d connections open, want the 2 sessions'", n)
	}
	if !a.serverChanges(a.clientSync(true)) {
		t.Fatal("a session under the cap failed")
	}
	c.add(vc("Cy"))
	if !c.sync(true) {
		t.Error("no room after a session ended")
	}
}

// TestClientRefreshRequired: a reset phone that still sends its old
// anchor (the server finds them matching) answers the server's Alert with
// 508 and sends everything: the sync becomes slow then, the old item IDs
// are forgotten and every mailbox item is listed, so nothing is
// overwritten or doubled.
func TestClientRefreshRequired(t *testing.T) {
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:508")
	var want []string
	for i := 1; i <= 20; i++ {
		n := fmt.Sprintf("Old %02d", i)
		phone.add(vc(n))
		want = append(want, n)
	}
	if !phone.sync(true) {
		t.Fatal("first sync failed")
	}
	last := phone.last
	phone.reset()
	phone.last = last
	for i := 1; i <= 5; i++ {
		n := fmt.Sprintf("New %02d", i)
		phone.add(vc(n))
		want = append(want, n)
	}
	s := phone.begin()
	if r := s.alert(false); alertStatus(r) != int(StatusOK) {
		t.Fatalf("the server did not find the anchors matching: %v", statuses(r))
	}
	var cmds []Command
	cmds = append(cmds, &Status{MsgRef: "1", CmdRef: "1", Cmd: "Alert", TargetRef: []string{"ab"}, SourceRef: []string{"contacts"}, Data: "508"})
	var adds []Command
	for l, v := range phone.items {
		adds = append(adds, &Change{Op: OpAdd, Meta: &Meta{Type: "text/vcard"}, Items: []Item{{Source: &Loc{LocURI: l}, Data: &Data{Text: v}}}})
	}
	cmds = append(cmds, &Sync{Target: &Loc{LocURI: "contacts"}, Source: &Loc{LocURI: "ab"}, Commands: adds})
	if !s.serverChanges(s.send(true, cmds...)) {
		t.Fatal("the sync failed")
	}
	slices.Sort(want)
	if got := mailboxNames(store); !slices.Equal(got, want) {
		t.Errorf("mailbox:\n%v\nwant\n%v", got, want)
	}
	if got := names(phone.items); !slices.Equal(got, want) {
		t.Errorf("phone:\n%v\nwant\n%v", got, want)
	}
}

// TestListFailureReported: a database whose changes cannot be listed is
// answered 510 and the session is reported as failed (or unavailable),
// never ok, with the reason kept for the device.
func TestListFailureReported(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want pim.Result
	}{{errBroken, "unavailable"}, {errors.New("imap: NO [SERVERBUG] internal error"), "failed"}} {
		store := newMemStore()
		auth := newFaultAuth(store)
		auth.failChanges = tc.err
		var reports []*pim.SessionReport
		srv := NewServer(ServerOptions{Auth: auth, OnSession: func(r *pim.SessionReport) { reports = append(reports, r) }})
		phone := newSimDevice(t, srv, "IMEI:list")
		phone.add(vc("Ann"))
		s := phone.begin()
		r := s.alert(true)
		if alertStatus(r) != int(StatusDataStoreFailure) {
			t.Errorf("%v: alert status %v", tc.err, statuses(r))
		}
		s.send(true)
		srv.Close()
		if len(reports) != 1 || reports[0].Result != tc.want || !strings.Contains(reports[0].Error, "list changes") {
			t.Errorf("%v: reports %+v, want result %s", tc.err, reports, tc.want)
		}
	}
}

// TestEndedSessionRefused: a message that reaches a session just ended
// (the expiry sweep closed it after the message found it) is refused
// cleanly, without touching the store.
func TestEndedSessionRefused(t *testing.T) {
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:ended")
	phone.add(vc("Ann"))
	s := phone.begin()
	s.alert(true)
	srv.mu.Lock()
	sess := srv.sessions[s.key]
	srv.mu.Unlock()
	sess.close()
	r := s.clientSync(true)
	if st := hdrStatus(r); st.Data != "403" || !strings.Contains(st.Items[0].Data.Text, "ended") {
		t.Errorf("message to an ended session: %v", statuses(r))
	}
	if n := len(store.Items("contacts")); n != 0 {
		t.Errorf("%d items stored by an ended session", n)
	}
}

// TestSharedDeviceIDSameSecond: two clients with one device ID (item IDs
// 1, 2, 3... on both) sync one after the other within one second. Their
// own anchors are alike, so only the server's anchor can tell them apart:
// each session's must differ from the last one's, and each client, finding
// the server's Last not its own, goes slow and ends with the union.
func TestSharedDeviceIDSameSecond(t *testing.T) {
	store := newMemStore()
	now := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw"), now: func() time.Time { return now }})
	defer srv.Close()
	x, y := newSimDevice(t, srv, "IMEI:shared"), newSimDevice(t, srv, "IMEI:shared")
	var want []string
	for i := 1; i <= 5; i++ {
		x.add(vc(fmt.Sprintf("X %d", i)))
		y.add(vc(fmt.Sprintf("Y %d", i)))
		want = append(want, fmt.Sprintf("X %d", i), fmt.Sprintf("Y %d", i))
	}
	slices.Sort(want)
	for i, d := range []*simDevice{x, y, x, y} {
		if !d.sync(false) {
			t.Fatalf("sync %d failed", i+1)
		}
	}
	if x.serverLast == y.serverLast {
		t.Errorf("two sessions in one second got the same server anchor %q", x.serverLast)
	}
	if got := mailboxNames(store); !slices.Equal(got, want) {
		t.Errorf("mailbox:\n%v\nwant\n%v", got, want)
	}
	for _, d := range []*simDevice{x, y} {
		if got := names(d.items); !slices.Equal(got, want) {
			t.Errorf("client:\n%v\nwant\n%v", got, want)
		}
	}
}

func TestNextServerAnchor(t *testing.T) {
	now := time.Date(2026, 12, 4, 8, 0, 0, 500, time.UTC)
	for _, tc := range []struct{ last, want string }{
		{"", "20261204T080000Z"},
		{"not a time", "20261204T080000Z"},
		{"20261204T075959Z", "20261204T080000Z"},
		{"20261204T080000Z", "20261204T080001Z"},
		{"20261204T090000Z", "20261204T090001Z"}, // the clock went back
	} {
		if got := nextServerAnchor(now, tc.last); got != tc.want {
			t.Errorf("nextServerAnchor(%q) = %q, want %q", tc.last, got, tc.want)
		}
	}
}

// TestSlowSyncMatchesSameContent: of two mailbox contacts of one name, a
// phone's slow sync matches its card to the one that says the same (not
// the first of the name): nothing is written either way, and the phone
// keeps its card as it is and gets the other as new.
func TestSlowSyncMatchesSameContent(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	card := func(tel string) string {
		return "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Alpha\r\nN:Alpha;Ann;;;\r\nTEL:" + tel + "\r\nEND:VCARD\r\n"
	}
	for _, tel := range []string{"+49 1", "+49 2"} {
		if err := store.Put(ctx, "contacts", &pim.Item{Data: []byte(card(tel))}); err != nil {
			t.Fatal(err)
		}
	}
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	defer srv.Close()
	phone := newSimDevice(t, srv, "IMEI:3550002")
	luid := phone.add(card("+49 2"))
	puts := store.Stats().Puts
	if !phone.sync(true) {
		t.Fatal("slow sync failed")
	}
	if got := store.Stats().Puts - puts; got != 0 {
		t.Errorf("the slow sync wrote %d times to the mailbox", got)
	}
	if len(store.Items("contacts")) != 2 {
		t.Errorf("mailbox holds %d contacts, want 2", len(store.Items("contacts")))
	}
	if !strings.Contains(phone.items[luid], "TEL:+49 2") {
		t.Errorf("the phone's card became\n%s", phone.items[luid])
	}
	if len(phone.items) != 2 {
		t.Errorf("phone holds %d cards, want 2", len(phone.items))
	}
}
