package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"syncml-imap/imapstore"
	"syncml-imap/internal/dovetest"
	"syncml-imap/pim"
)

// waitFor polls cond (no wall-clock assertion: the deadline only ends a
// test that would hang).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConnBudgetOpen: a user's connections up to the bound, then "not
// now" (503, never 401); an extra one is refused alike; other users and
// a master login's user are counted apart and alike.
func TestConnBudgetOpen(t *testing.T) {
	m := NewMetrics()
	b := NewConnBudget(ConnBudgetOptions{MaxPerUser: 2, MasterSuffix: "*admin", Metrics: m})
	ctx := context.Background()
	if err := b.Open(ctx, "Ann", false); err != nil {
		t.Fatal(err)
	}
	if err := b.Open(ctx, "ann*admin", true); err != nil {
		t.Fatal(err)
	}
	for _, extra := range []bool{false, true} {
		err := storeError(b.Open(ctx, "ann", extra))
		if !errors.Is(err, pim.ErrUnavailable) || errors.Is(err, pim.ErrAuthFailed) {
			t.Errorf("third connection (extra %v): %v, want unavailable", extra, err)
		}
	}
	if err := b.Open(ctx, "bob", false); err != nil {
		t.Errorf("another user: %v", err)
	}
	if !hasLine(scrape(t, m), "syncml_imap_imap_connections 3") {
		t.Error("open connections not counted")
	}
	b.Closed("ANN")
	if err := b.Open(ctx, "ann", false); err != nil {
		t.Errorf("after one closed: %v", err)
	}
	for _, l := range []string{"ann", "ann", "bob"} {
		b.Closed(l)
	}
	if b.openOf("ann") != 0 || b.openOf("bob") != 0 || len(b.users) != 0 {
		t.Errorf("after all closed: ann %d, bob %d, %d users", b.openOf("ann"), b.openOf("bob"), len(b.users))
	}
	if !hasLine(scrape(t, m), "syncml_imap_imap_connections 0") {
		t.Error("closed connections not counted")
	}

	free := NewConnBudget(ConnBudgetOptions{})
	for i := 0; i < 20; i++ {
		if err := free.Open(ctx, "ann", false); err != nil {
			t.Fatalf("no limit: %v", err)
		}
	}
}

// TestConnBudgetAwait: with a fake dialer, a login at the full budget
// waits until a connection of the user closes, gives up when its context
// ends or its wait is over (503, never 401), and does not hold up other
// users.
func TestConnBudgetAwait(t *testing.T) {
	m := NewMetrics()
	b := NewConnBudget(ConnBudgetOptions{MaxPerUser: 1, Wait: time.Hour, Metrics: m})
	dial := func(user string) func() (*accountStore, error) {
		return func() (*accountStore, error) {
			if err := b.Open(context.Background(), user, false); err != nil {
				return nil, storeError(fmt.Errorf("imapstore: login as %q: %w", user, err))
			}
			return &accountStore{user: user}, nil
		}
	}
	ctx := context.Background()
	if _, err := b.await(ctx, "ann", dial("ann")); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := b.await(ctx, "ann", dial("ann"))
		got <- err
	}()
	waitFor(t, "a login waits", func() bool { return b.waitingOf("ann") == 1 })
	if _, err := b.await(ctx, "bob", dial("bob")); err != nil {
		t.Errorf("another user waited or failed: %v", err)
	}
	b.Closed("ann")
	if err := <-got; err != nil {
		t.Errorf("the waiting login: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	go func() {
		_, err := b.await(cctx, "ann", dial("ann"))
		got <- err
	}()
	waitFor(t, "a login waits", func() bool { return b.waitingOf("ann") == 1 })
	cancel()
	if err := <-got; !errors.Is(err, pim.ErrUnavailable) || errors.Is(err, pim.ErrAuthFailed) {
		t.Errorf("cancelled wait: %v, want unavailable", err)
	}
	if n := b.waitingOf("ann"); n != 0 {
		t.Errorf("%d still waiting", n)
	}

	b.wait = time.Millisecond
	if _, err := b.await(ctx, "ann", dial("ann")); !errors.Is(err, pim.ErrUnavailable) || errors.Is(err, pim.ErrAuthFailed) {
		t.Errorf("wait over: %v, want unavailable", err)
	}
	b.wait = 0
	if _, err := b.await(ctx, "ann", dial("ann")); !errors.Is(err, pim.ErrUnavailable) {
		t.Errorf("no wait: %v, want unavailable", err)
	}
	text := scrape(t, m)
	for _, want := range []string{
		`syncml_imap_imap_connection_waits_total{result="ok"} 1`,
		`syncml_imap_imap_connection_waits_total{result="canceled"} 1`,
		`syncml_imap_imap_connection_waits_total{result="timeout"} 1`,
		`syncml_imap_imap_connections 2`,
	} {
		if !hasLine(text, want) {
			t.Errorf("missing %s", want)
		}
	}
}

// dovecotConns is how many IMAP connections of user Dovecot has.
func dovecotConns(t *testing.T, dove *dovetest.Server, user string) int {
	return strings.Count(dove.Doveadm(t, "who", "-1", user), user)
}

// TestConnectionsGauge: imap_connections counts what is open at Dovecot:
// a kept connection stays counted, a reused one is not counted twice, a
// MULTIAPPEND connection counts, and expired, evicted and released ones
// are counted closed.
func TestConnectionsGauge(t *testing.T) {
	dove := dovetest.Start(t, nil)
	dove.AddUser(t, "kim@example.org", "kim-pw")
	ctx := context.Background()
	m := NewMetrics()
	pool := NewPool(2*time.Second, 2)
	defer pool.Close()
	m.KeepPool(pool)
	budget := NewConnBudget(ConnBudgetOptions{MaxPerUser: 2, Wait: time.Minute, Pool: pool, Metrics: m})
	auth := &IMAPAuth{Options: &imapstore.Options{Address: dove.Addr, Conns: budget}, Pool: pool, Budget: budget}
	check := func(step string, open, kept int) {
		t.Helper()
		text := scrape(t, m)
		if !hasLine(text, fmt.Sprintf("syncml_imap_imap_connections %d", open)) || !hasLine(text, fmt.Sprintf("syncml_imap_imap_connections_kept %d", kept)) {
			t.Errorf("%s: want %d open, %d kept; got\n%s", step, open, kept, grepLines(text, "syncml_imap_imap_connections"))
		}
		if open > 0 {
			if n := dovecotConns(t, dove, "kim@example.org"); n != open {
				t.Errorf("%s: Dovecot has %d connections, the gauge says %d", step, n, open)
			}
		}
	}
	first, err := auth.Login(ctx, "kim@example.org", "kim-pw")
	if err != nil {
		t.Fatal(err)
	}
	check("logged in", 1, 0)
	first.Close()
	check("session ended, connection kept", 1, 1)
	second, err := auth.Login(ctx, "kim@example.org", "kim-pw")
	if err != nil {
		t.Fatal(err)
	}
	check("kept connection reused", 1, 0)
	var items []*pim.Item
	for i := range 3 {
		items = append(items, &pim.Item{Data: []byte(vcard(fmt.Sprintf("Person %d", i)))})
	}
	if err := second.Put(ctx, "contacts", items...); err != nil {
		t.Fatal(err)
	}
	check("MULTIAPPEND connection opened", 2, 0)
	second.Close()
	check("session with two connections kept", 2, 1)

	// Another password at the full budget: the kept connections are
	// closed to make room.
	if _, err := auth.Login(ctx, "kim@example.org", "wrong"); !errors.Is(err, pim.ErrAuthFailed) {
		t.Errorf("wrong password: %v", err)
	}
	check("kept connection evicted", 0, 0)
	waitFor(t, "Dovecot sees the evicted connections closed", func() bool { return dovecotConns(t, dove, "kim@example.org") == 0 })

	third, err := auth.Login(ctx, "kim@example.org", "kim-pw")
	if err != nil {
		t.Fatal(err)
	}
	third.Close()
	check("kept again", 1, 1)
	waitFor(t, "the kept connection expires", func() bool { return pool.Len() == 0 && budget.openOf("kim@example.org") == 0 })
	check("kept connection expired", 0, 0)

	fourth, err := auth.Login(ctx, "kim@example.org", "kim-pw")
	if err != nil {
		t.Fatal(err)
	}
	fourth.(pim.Releaser).Release()
	check("released", 0, 0)

	// A cancelled operation closes the connection: counted closed at
	// once, and not again when the session closes its store.
	fifth, err := auth.Login(ctx, "kim@example.org", "kim-pw")
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := fifth.SaveState(cctx, "device/x/contacts", []byte("x")); err == nil {
		t.Error("a cancelled operation worked")
	}
	waitFor(t, "the cut connection is counted closed", func() bool { return budget.openOf("kim@example.org") == 0 })
	fifth.Close()
	check("cut connection closed", 0, 0)
}

// TestConnBudgetDialFails: a connection that cannot be opened is given
// back to the budget.
func TestConnBudgetDialFails(t *testing.T) {
	budget := NewConnBudget(ConnBudgetOptions{MaxPerUser: 1, Wait: time.Minute})
	auth := &IMAPAuth{Options: &imapstore.Options{Address: "127.0.0.1:1", Conns: budget}, Budget: budget}
	for range 3 {
		if _, err := auth.Login(context.Background(), "kim", "pw"); !errors.Is(err, pim.ErrUnavailable) || errors.Is(err, errBudgetFull) {
			t.Fatalf("login to nowhere: %v, want unavailable (not the budget)", err)
		}
	}
	if n := budget.openOf("kim"); n != 0 {
		t.Errorf("%d counted open", n)
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// peakGate passes to a ConnBudget and records the most connections of
// each user open at once, as imapstore reports them.
type peakGate struct {
	*ConnBudget
	mu         sync.Mutex
	open, peak map[string]int
}

func (g *peakGate) Open(ctx context.Context, login string, extra bool) error {
	if err := g.ConnBudget.Open(ctx, login, extra); err != nil {
		return err
	}
	g.mu.Lock()
	g.open[login]++
	g.peak[login] = max(g.peak[login], g.open[login])
	g.mu.Unlock()
	return nil
}

func (g *peakGate) Closed(login string) {
	g.mu.Lock()
	g.open[login]--
	g.mu.Unlock()
	g.ConnBudget.Closed(login)
}

// TestBudgetAgainstDovecot: with a budget of B connections per user, 2B
// sessions of one user at once all complete (those past the budget
// waiting for the others' connections), the user never has more than B
// open, and another user is not held up by the first one's full budget.
func TestBudgetAgainstDovecot(t *testing.T) {
	const B = 2
	dove := dovetest.Start(t, nil)
	dove.AddUser(t, "ann@example.org", "ann-pw")
	dove.AddUser(t, "bob@example.org", "bob-pw")
	ctx := context.Background()
	m := NewMetrics()
	pool := NewPool(time.Minute, 2)
	budget := NewConnBudget(ConnBudgetOptions{MaxPerUser: B, Wait: time.Minute, Pool: pool, Metrics: m})
	gate := &peakGate{ConnBudget: budget, open: map[string]int{}, peak: map[string]int{}}
	auth := &IMAPAuth{Options: &imapstore.Options{Address: dove.Addr, Conns: gate}, Pool: pool, Budget: budget}

	session := func(user string, i int, loggedIn chan<- struct{}, proceed <-chan struct{}) error {
		st, err := auth.Login(ctx, user, strings.TrimSuffix(user, "@example.org")+"-pw")
		if err != nil {
			return fmt.Errorf("session %d: login: %w", i, err)
		}
		defer st.Close()
		loggedIn <- struct{}{}
		<-proceed
		var items []*pim.Item
		for j := range 3 {
			items = append(items, &pim.Item{Data: []byte(vcard(fmt.Sprintf("%s %d-%d", user, i, j)))})
		}
		if err := st.Put(ctx, "contacts", items...); err != nil {
			return fmt.Errorf("session %d: put: %w", i, err)
		}
		if err := st.SaveState(ctx, fmt.Sprintf("device/%d/contacts", i), []byte("x")); err != nil {
			return fmt.Errorf("session %d: save state: %w", i, err)
		}
		return nil
	}
	loggedIn := make(chan struct{}, 2*B)
	proceed := make(chan struct{})
	errs := make(chan error, 2*B)
	for i := range 2 * B {
		go func() { errs <- session("ann@example.org", i, loggedIn, proceed) }()
	}
	for range B {
		<-loggedIn
	}
	waitFor(t, "the sessions past the budget wait", func() bool { return budget.waitingOf("ann@example.org") == B })
	if n := dovecotConns(t, dove, "ann@example.org"); n > B {
		t.Errorf("Dovecot has %d connections of the user, budget %d", n, B)
	}

	bobIn := make(chan struct{}, 1)
	open := make(chan struct{})
	close(open)
	if err := session("bob@example.org", 0, bobIn, open); err != nil {
		t.Errorf("another user, while the first one's budget is full: %v", err)
	}

	close(proceed)
	for range 2 * B {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	gate.mu.Lock()
	peak := gate.peak["ann@example.org"]
	gate.mu.Unlock()
	if peak > B {
		t.Errorf("the user had %d connections open at once, budget %d", peak, B)
	}
	if !hasLine(scrape(t, m), fmt.Sprintf(`syncml_imap_imap_connection_waits_total{result="ok"} %d`, B)) {
		t.Errorf("waits: %s", grepLines(scrape(t, m), "syncml_imap_imap_connection_waits_total"))
	}
	if st, err := auth.Login(ctx, "ann@example.org", "ann-pw"); err != nil {
		t.Error(err)
	} else {
		if items, err := st.(*accountStore).acct.Changes(ctx, imapstore.KindContacts, nil); err != nil || len(items.Added) != 3*2*B {
			t.Errorf("the user's contacts: %v, %v; want %d", items, err, 3*2*B)
		}
		st.Close()
	}
	pool.Close()
	if n := budget.openOf("ann@example.org") + budget.openOf("bob@example.org"); n != 0 {
		t.Errorf("%d connections counted open after all closed", n)
	}
	if !hasLine(scrape(t, m), "syncml_imap_imap_connections 0") {
		t.Error("the gauge does not come back to 0")
	}
}

// TestConnBudgetReleasesIdleFirst: at the user's full budget a login
// first has the user's idle sessions give their connections back and
// then takes the room made, without waiting; when none was idle it
// waits as before.
func TestConnBudgetReleasesIdleFirst(t *testing.T) {
	b := NewConnBudget(ConnBudgetOptions{MaxPerUser: 1, Wait: time.Hour})
	dial := func() (*accountStore, error) {
		if err := b.Open(context.Background(), "ann", false); err != nil {
			return nil, storeError(err)
		}
		return &accountStore{user: "ann"}, nil
	}
	ctx := context.Background()
	if _, err := b.await(ctx, "ann", dial); err != nil {
		t.Fatal(err)
	}
	var asked []string
	b.SetReleaseIdle(func(user string) int {
		asked = append(asked, user)
		b.Closed(user) // the idle session's connection closes
		return 1
	})
	if _, err := b.await(ctx, "Ann", dial); err != nil {
		t.Fatalf("login after the release: %v", err)
	}
	if fmt.Sprint(asked) != "[ann]" {
		t.Errorf("released %v, want [ann]", asked)
	}
	if n := b.waitingOf("ann"); n != 0 || b.openOf("ann") != 1 {
		t.Errorf("waiting %d, open %d; want 0, 1", n, b.openOf("ann"))
	}
	b.SetReleaseIdle(func(string) int { return 0 })
	b.wait = time.Millisecond
	if _, err := b.await(ctx, "ann", dial); !errors.Is(err, pim.ErrUnavailable) {
		t.Errorf("nothing idle, budget full: %v, want unavailable", err)
	}
}
