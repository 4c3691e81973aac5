package plugin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"syncml-imap/config"
	"syncml-imap/imapstore"
	"syncml-imap/internal/dovetest"
	"syncml-imap/pim"
)

// TestPoolKeepsConnection: the connection of a session that ended serves
// the user's next login with the same password (no LOGIN), not one with
// another password; it is closed when the idle time passes, and a session
// gone idle (Release) gives its connection back to the server.
func TestPoolKeepsConnection(t *testing.T) {
	dove := dovetest.Start(t, nil)
	dove.AddUser(t, "kim@example.org", "kim-pw")
	ctx := context.Background()
	pool := NewPool(2*time.Second, 1)
	defer pool.Close()
	auth := &IMAPAuth{Options: &imapstore.Options{Address: dove.Addr}, Pool: pool}
	conns := func() int {
		return strings.Count(dove.Doveadm(t, "who", "-1", "kim@example.org"), "kim@example.org")
	}
	first, err := auth.Login(ctx, "kim@example.org", "kim-pw")
	if err != nil {
		t.Fatal(err)
	}
	acct := first.(*accountStore).acct
	first.Close()
	if pool.Len() != 1 {
		t.Fatalf("%d kept after the session ended, want 1", pool.Len())
	}
	if _, err := auth.Login(ctx, "kim@example.org", "wrong"); !errors.Is(err, pim.ErrAuthFailed) {
		t.Errorf("another password: %v, want a refused login", err)
	}
	second, err := auth.Login(ctx, "kim@example.org", "kim-pw")
	if err != nil {
		t.Fatal(err)
	}
	if second.(*accountStore).acct != acct {
		t.Errorf("the next session logged in anew")
	}
	if err := second.SaveState(ctx, "device/x/contacts", []byte("works")); err != nil {
		t.Errorf("the kept connection does not work: %v", err)
	}
	second.Close()
	deadline := time.Now().Add(10 * time.Second)
	for (pool.Len() > 0 || conns() > 0) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if pool.Len() != 0 || conns() != 0 {
		t.Errorf("after the idle time: %d kept, %d connections at Dovecot", pool.Len(), conns())
	}
	third, err := auth.Login(ctx, "kim@example.org", "kim-pw")
	if err != nil {
		t.Fatal(err)
	}
	third.(pim.Releaser).Release()
	if pool.Len() != 0 {
		t.Errorf("a released connection was kept")
	}
}

// TestHandlerCloseLogsOut: the daemon's handler, closed at shutdown,
// logs out the IMAP connections its pool keeps (they would otherwise last
// until the process ends).
func TestHandlerCloseLogsOut(t *testing.T) {
	dove := dovetest.Start(t, nil)
	dove.AddUser(t, "lou@example.org", "lou-pw")
	cfg := config.Default()
	cfg.IMAP.Address = dove.Addr
	cfg.IMAP.KeepIdle = config.Duration{Duration: time.Hour}
	h, err := NewHandler(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	auth := &IMAPAuth{Options: &imapstore.Options{Address: dove.Addr}, Pool: h.pool}
	st, err := auth.Login(context.Background(), "lou@example.org", "lou-pw")
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	conns := func() int { return strings.Count(dove.Doveadm(t, "who", "-1", "lou@example.org"), "lou@example.org") }
	if h.pool.Len() != 1 || conns() != 1 {
		t.Fatalf("%d kept, %d at Dovecot; want 1, 1", h.pool.Len(), conns())
	}
	h.Close()
	deadline := time.Now().Add(10 * time.Second)
	for conns() > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if h.pool.Len() != 0 || conns() != 0 {
		t.Errorf("after Close: %d kept, %d at Dovecot; want none", h.pool.Len(), conns())
	}
}
