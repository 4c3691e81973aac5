package imapstore

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"syncml-imap/internal/dovetest"
)

// These tests never wait for a poll unless they test polling: the hub's
// Poll is an hour, so a Wait that returns true was woken.

const never = time.Hour

// watchEnv is a user on a Dovecot of the profile, with a hub of the
// options (Poll an hour unless set) shared by the Accounts it dials.
func watchEnv(t *testing.T, profile dovetest.Profile, hubOpts WatchHubOptions) (*testEnv, *WatchHub) {
	t.Helper()
	e := newEnv(t, profile)
	if hubOpts.Poll == 0 {
		hubOpts.Poll = never
	}
	hub := NewWatchHub(&hubOpts)
	t.Cleanup(hub.Close)
	e.opts.Watch = hub
	return e, hub
}

// watch dials an Account, makes sure its contacts folder exists and
// watches it.
func watchContacts(t *testing.T, e *testEnv) (*Account, *Watch) {
	t.Helper()
	a := e.dial(t)
	mustChanges(t, a, KindContacts, nil) // creates the folder
	w, err := a.Watch(t.Context(), KindContacts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return a, w
}

// appendByMailClient stores a contact as a mail program would.
func appendByMailClient(t *testing.T, c *imapclient.Client, fn string) {
	t.Helper()
	msg := []byte("From: <x@example.org>\r\nSubject: " + fn + "\r\nContent-Type: text/vcard\r\n\r\n" + string(vcard("", fn)))
	cmd := c.Append("Contacts", int64(len(msg)), nil)
	if _, err := cmd.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// waitWoken waits for w, polling on poll, up to a minute (the test's
// bound, not a measure): it must be woken.
func waitWoken(t *testing.T, w *Watch, poll *Account, what string) {
	t.Helper()
	changed, err := w.Wait(t.Context(), poll, time.Now().Add(time.Minute))
	if err != nil || !changed {
		t.Fatalf("%s: Wait = %v, %v; want woken", what, changed, err)
	}
}

// notWoken checks that nothing wakes w for a moment.
func notWoken(t *testing.T, w *Watch, poll *Account, what string) {
	t.Helper()
	changed, err := w.Wait(t.Context(), poll, time.Now().Add(200*time.Millisecond))
	if err != nil || changed {
		t.Fatalf("%s: Wait = %v, %v; want nothing", what, changed, err)
	}
}

// TestWatchIdleWakesOnOthersAppend: a mail client's APPEND wakes a Watch
// through the shared IDLE connection, with no Account to poll on; two
// Watches of the user share one IDLE connection, which closes after the
// last is closed (no Linger).
func TestWatchIdleWakesOnOthersAppend(t *testing.T) {
	t.Parallel()
	e, hub := watchEnv(t, dovetest.ProfileFull, WatchHubOptions{Linger: -1})
	_, w := watchContacts(t, e)
	if !w.Detached() {
		t.Fatal("the Watch has no IDLE connection on a server with IDLE")
	}
	_, w2 := watchContacts(t, e)
	if n := hub.IdleConns(e.user); n != 1 {
		t.Errorf("%d IDLE connections for two Watches of one folder, want 1", n)
	}
	notWoken(t, w, nil, "before any change")
	mail := e.mailClient(t)
	appendByMailClient(t, mail, "Mail Client")
	waitWoken(t, w, nil, "after the mail client's APPEND")
	waitWoken(t, w2, nil, "the second Watch")
	// The wake was taken: nothing more until the next change.
	notWoken(t, w, nil, "after the wake")
	// A flag (FETCH in IDLE) and a removal (EXPUNGE) wake it too.
	if _, err := mail.Select("Contacts", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := mail.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	waitWoken(t, w, nil, "after the mail client flagged the message")
	if err := mail.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	waitWoken(t, w, nil, "after the mail client marked the message deleted")
	if err := mail.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	waitWoken(t, w, nil, "after the mail client's EXPUNGE")
	w.Close()
	w2.Close()
	if n := hub.IdleConns(e.user); n != 0 {
		t.Errorf("%d IDLE connections after the last Watch closed, want 0", n)
	}
}

// TestWatchWakesOnOwnWrite: a write of another Account of the process (any
// front) wakes the Watch at once, without IDLE and without a poll.
func TestWatchWakesOnOwnWrite(t *testing.T) {
	t.Parallel()
	e, _ := watchEnv(t, dovetest.ProfileFull, WatchHubOptions{MaxIdle: -1})
	a, w := watchContacts(t, e)
	if w.Detached() {
		t.Fatal("Detached with IDLE off")
	}
	other := e.dial(t)
	notWoken(t, w, a, "before the write")
	mustPut(t, other, KindContacts, &Item{Data: vcard("", "Written Here")})
	waitWoken(t, w, a, "after another Account's Put")
	// A write to another folder does not wake it.
	mustPut(t, other, KindTasks, &Item{Data: task("t1", "Elsewhere")})
	notWoken(t, w, a, "after a write to the tasks folder")
}

// refuseExtra is a ConnGate at a full budget: only logins, no extra
// connection.
type refuseExtra struct{}

func (refuseExtra) Open(_ context.Context, _ string, extra bool) error {
	if extra {
		return fmt.Errorf("budget full: %w", ErrUnavailable)
	}
	return nil
}

func (refuseExtra) Closed(string) {}

// TestWatchPollsWithoutIdle: where IDLE cannot cover the folder (a server
// without it, the connection budget full) the Watch polls STATUS on the
// Account it is given and still sees a mail client's change.
func TestWatchPollsWithoutIdle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		profile dovetest.Profile
		gate    ConnGate
	}{
		{"no IDLE capability", dovetest.ProfileMinimal, nil},
		{"budget full", dovetest.ProfileFull, refuseExtra{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, hub := watchEnv(t, tc.profile, WatchHubOptions{Poll: 50 * time.Millisecond})
			e.opts.Conns = tc.gate
			a, w := watchContacts(t, e)
			if w.Detached() || hub.IdleConns(e.user) != 0 {
				t.Fatalf("an IDLE connection (%d) where there may be none", hub.IdleConns(e.user))
			}
			notWoken(t, w, a, "before any change")
			appendByMailClient(t, e.mailClient(t), "Mail Client")
			waitWoken(t, w, a, "after the mail client's APPEND")
			notWoken(t, w, a, "after the wake")
			// Without an Account to poll on, Wait leaves the looking to the
			// caller at once.
			waitWoken(t, w, nil, "polled folder, no Account")
		})
	}
}

// cutConns keeps the IDLE connections dialled, to cut them.
type cutConns struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (c *cutConns) wrap(conn net.Conn) net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns = append(c.conns, conn)
	return conn
}

func (c *cutConns) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
}

// TestWatchIdleDropped: an IDLE connection that drops wakes the Watch (what
// changed meanwhile is unknown) and the folder is polled from then on: a
// later change is still seen, no error.
func TestWatchIdleDropped(t *testing.T) {
	t.Parallel()
	e, hub := watchEnv(t, dovetest.ProfileFull, WatchHubOptions{Poll: 50 * time.Millisecond})
	cut := &cutConns{}
	e.opts.wrapIdle = cut.wrap
	a, w := watchContacts(t, e)
	if !w.Detached() {
		t.Fatal("no IDLE connection")
	}
	cut.cut()
	waitWoken(t, w, nil, "after the IDLE connection dropped")
	if w.Detached() || hub.IdleConns(e.user) != 0 {
		t.Fatalf("still detached (%d IDLE connections) after the drop", hub.IdleConns(e.user))
	}
	notWoken(t, w, a, "polling, before a change")
	appendByMailClient(t, e.mailClient(t), "After The Drop")
	waitWoken(t, w, a, "polling, after the mail client's APPEND")
}

// TestWatchEnds: Wait gives false at until and ctx's error when it ends.
func TestWatchEnds(t *testing.T) {
	t.Parallel()
	e, _ := watchEnv(t, dovetest.ProfileFull, WatchHubOptions{})
	a, w := watchContacts(t, e)
	if changed, err := w.Wait(t.Context(), a, time.Now()); changed || err != nil {
		t.Errorf("Wait until now = %v, %v; want false, nil", changed, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := w.Wait(ctx, a, time.Now().Add(time.Minute)); err != context.Canceled {
		t.Errorf("Wait on an ended context: %v", err)
	}
}

// TestWatchReleaseIdle: a login at the user's full budget has the IDLE
// connections closed; the Watch is woken and polls, and the next Watch
// opens none for a while.
func TestWatchReleaseIdle(t *testing.T) {
	t.Parallel()
	e, hub := watchEnv(t, dovetest.ProfileFull, WatchHubOptions{Poll: 50 * time.Millisecond})
	a, w := watchContacts(t, e)
	if !w.Detached() {
		t.Fatal("no IDLE connection")
	}
	if n := hub.ReleaseIdle(e.user); n != 1 {
		t.Errorf("ReleaseIdle closed %d, want 1", n)
	}
	waitWoken(t, w, nil, "after the release")
	if w.Detached() || hub.IdleConns(e.user) != 0 {
		t.Fatalf("still detached (%d IDLE connections) after the release", hub.IdleConns(e.user))
	}
	_, w2 := watchContacts(t, e)
	if w2.Detached() {
		t.Error("a new Watch opened IDLE again right after the release")
	}
	appendByMailClient(t, e.mailClient(t), "After The Release")
	waitWoken(t, w, a, "polling, after the mail client's APPEND")
}

// TestWatchIdleRenewed: IDLE ended and begun again (every 50ms here, 25
// minutes in the daemon) neither wakes the Watch nor loses a change.
func TestWatchIdleRenewed(t *testing.T) {
	t.Parallel()
	e, _ := watchEnv(t, dovetest.ProfileFull, WatchHubOptions{Renew: 50 * time.Millisecond})
	_, w := watchContacts(t, e)
	if !w.Detached() {
		t.Fatal("no IDLE connection")
	}
	notWoken(t, w, nil, "over a few renewals")
	appendByMailClient(t, e.mailClient(t), "After Renewals")
	waitWoken(t, w, nil, "after the mail client's APPEND")
	if !w.Detached() {
		t.Error("the IDLE connection ended with its renewals")
	}
}
