package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"syncml-imap/config"
	"syncml-imap/imapstore"
	"syncml-imap/integration/syncevo"
	"syncml-imap/internal/dovetest"
	"syncml-imap/plugin"
)

// instance is one syncml-imap process's endpoint: its own handler and
// listener, its public_url naming it.
type instance struct {
	url string
	h   *plugin.Handler
	srv *http.Server
	// hits: requests; keyed: those continuing a session (RespURI).
	hits, keyed atomic.Int32
}

func startInstance(t *testing.T, imapAddr string) *instance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{url: "http://" + ln.Addr().String() + "/syncml"}
	cfg := config.Default()
	cfg.IMAP.Address = imapAddr
	cfg.HTTP.PublicURL = in.url
	if in.h, err = plugin.NewHandler(cfg, nil); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/syncml", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in.hits.Add(1)
		if r.URL.Query().Get("s") != "" {
			in.keyed.Add(1)
		}
		in.h.ServeHTTP(w, r)
	}))
	in.srv = &http.Server{Handler: mux}
	go in.srv.Serve(ln)
	t.Cleanup(func() { in.stop() })
	return in
}

// stop is the instance going away: connections refused, sessions lost.
func (in *instance) stop() {
	in.srv.Close()
	in.h.Server.Close()
}

// TestTwoInstances: two instances on one Dovecot behind a balancer that
// sends each new session to the next instance. A session continues on
// the instance that started it (its RespURI names that instance's
// public_url); the device's syncs alternate between them with nothing
// lost or doubled; a session cut by an instance going away is repeated
// cleanly on the other.
func TestTwoInstances(t *testing.T) {
	dove := dovetest.Start(t, nil)
	dove.AddUser(t, "dave@example.org", "dave-pw")
	a, b := startInstance(t, dove.Addr), startInstance(t, dove.Addr)
	var next atomic.Int32
	var pool atomic.Pointer[[]*instance]
	pool.Store(&[]*instance{a, b})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lb := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		targets := *pool.Load()
		to := targets[int(next.Add(1)-1)%len(targets)]
		u, _ := url.Parse(to.url)
		httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host}).ServeHTTP(w, r)
	})}
	go lb.Serve(ln)
	t.Cleanup(func() { lb.Close() })

	client := syncevo.New(t, &syncevo.Options{URL: "http://" + ln.Addr().String() + "/syncml", Username: "dave@example.org", Password: "dave-pw",
		DeviceID: "roaming-phone", RefreshSync: true, Sources: []syncevo.Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}}})
	acct, err := imapstore.Dial(context.Background(), &imapstore.Options{Address: dove.Addr}, "dave@example.org", "dave-pw")
	if err != nil {
		t.Fatal(err)
	}
	defer acct.Close()
	count := func() int {
		d, err := acct.Changes(context.Background(), imapstore.KindContacts, nil)
		if err != nil {
			t.Fatal(err)
		}
		return len(d.Added)
	}
	want := 0
	served := map[*instance]int{}
	for round := 0; round < 4; round++ {
		client.WriteItem(t, "addressbook", fmt.Sprintf("d%d.vcf", round), contact(round, "from the device"))
		if err := acct.Put(context.Background(), imapstore.KindContacts, &imapstore.Item{Data: contact(100+round, "from the mailbox")}); err != nil {
			t.Fatal(err)
		}
		want += 2
		ha, hb := a.keyed.Load(), b.keyed.Load()
		mode := syncevo.TwoWay
		if round == 0 {
			mode = syncevo.Slow
		}
		if r := client.Sync(t, mode); !r.OK() {
			t.Fatalf("round %d: %s\n%s", round, r, r.Output)
		}
		da, db := a.keyed.Load()-ha, b.keyed.Load()-hb
		if (da == 0) == (db == 0) {
			t.Errorf("round %d: the session's continued messages went to both instances (%d, %d): it did not stay where it started", round, da, db)
		}
		if da > 0 {
			served[a]++
		} else {
			served[b]++
		}
		if n := count(); n != want {
			t.Errorf("round %d: mailbox has %d contacts, want %d", round, n, want)
		}
		if n := len(client.Items(t, "addressbook")); n != want {
			t.Errorf("round %d: device has %d contacts, want %d", round, n, want)
		}
	}
	if served[a] == 0 || served[b] == 0 {
		t.Errorf("the device's syncs did not alternate: %d on one instance, %d on the other", served[a], served[b])
	}
	// An instance goes away in the middle of a session: the next session,
	// on the other instance, repeats it.
	client.WriteItem(t, "addressbook", "late.vcf", contact(50, "during the outage"))
	want++
	victim := (*pool.Load())[int(next.Load())%2]
	before := victim.hits.Load()
	stopped := atomic.Bool{}
	go func() {
		for victim.hits.Load() == before {
			time.Sleep(time.Millisecond) // until the session's first message reached it
		}
		victim.stop()
		stopped.Store(true)
	}()
	if r := client.Sync(t, syncevo.TwoWay); r.OK() && stopped.Load() {
		t.Log("the session finished before the instance went away")
	}
	survivor := a
	if victim == a {
		survivor = b
	}
	pool.Store(&[]*instance{survivor})
	if r := client.Sync(t, syncevo.TwoWay); !r.OK() {
		t.Fatalf("after the outage: %s\n%s", r, r.Output)
	}
	if n := count(); n != want {
		t.Errorf("after the outage: mailbox has %d contacts, want %d", n, want)
	}
	if n := len(client.Items(t, "addressbook")); n != want {
		t.Errorf("after the outage: device has %d contacts, want %d", n, want)
	}
}
