package plugin

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"syncml-imap/config"
)

// fakeIMAP is just enough of an IMAP server to greet, answer CAPABILITY
// and LOGOUT, and refuse every LOGIN; it counts connections and logins.
type fakeIMAP struct {
	ln       net.Listener
	greeting string
	conns    atomic.Int32
	logins   atomic.Int32
	wg       sync.WaitGroup
}

func startFakeIMAP(t *testing.T, greeting string) *fakeIMAP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIMAP{ln: ln, greeting: greeting}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.wg.Wait()
	})
	return f
}

func (f *fakeIMAP) addr() string { return f.ln.Addr().String() }

func (f *fakeIMAP) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, f.greeting+"\r\n")
	if strings.HasPrefix(f.greeting, "* BYE") {
		return
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		tag, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		cmd, _, _ := strings.Cut(rest, " ")
		switch strings.ToUpper(cmd) {
		case "CAPABILITY":
			io.WriteString(c, "* CAPABILITY IMAP4rev1\r\n"+tag+" OK done\r\n")
		case "LOGIN":
			f.logins.Add(1)
			io.WriteString(c, tag+" NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
		case "LOGOUT":
			io.WriteString(c, "* BYE bye\r\n"+tag+" OK done\r\n")
			return
		default:
			io.WriteString(c, tag+" BAD unknown\r\n")
		}
	}
}

func TestHealth(t *testing.T) {
	imap := startFakeIMAP(t, "* OK [CAPABILITY IMAP4rev1] fake ready")
	cfg := config.Default()
	cfg.IMAP.Address = imap.addr()
	h, err := NewHandler(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Server.Close()
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	h.Health.now = clock.now
	ts := httptest.NewServer(h.Health)
	defer ts.Close()

	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for i := 0; i < 3; i++ {
		if code, body := get(); code != 200 || body != "ok\n" {
			t.Fatalf("healthy: %d %q", code, body)
		}
	}
	if n := imap.conns.Load(); n != 1 {
		t.Errorf("3 checks within the cache time made %d connections, want 1", n)
	}
	clock.advance(healthTTL)
	get()
	if n := imap.conns.Load(); n != 2 {
		t.Errorf("after the cache time: %d connections, want 2", n)
	}
	if resp, err := http.Post(ts.URL, "text/plain", nil); err != nil || resp.StatusCode != 405 {
		t.Errorf("POST: %v %v", resp.StatusCode, err)
	}
}

func TestHealthFailing(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := closed.Addr().String()
	closed.Close()
	bye := startFakeIMAP(t, "* BYE too many connections")
	for _, addr := range []string{down, bye.addr()} {
		cfg := config.Default()
		cfg.IMAP.Address = addr
		opts, err := StoreOptions(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		NewHealth(opts, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		if rec.Code != 503 || !strings.Contains(rec.Body.String(), "IMAP server not answering: ") || !strings.Contains(rec.Body.String(), addr) {
			t.Errorf("%s: %d %q", addr, rec.Code, rec.Body.String())
		}
	}
}

// TestHealthRecovers: a failure is cached like a success, and the next
// check after the cache time sees the server back.
func TestHealthRecovers(t *testing.T) {
	var fail atomic.Bool
	var probes atomic.Int32
	fail.Store(true)
	h := newHealth(func(ctx context.Context) error {
		probes.Add(1)
		if _, ok := ctx.Deadline(); !ok {
			t.Error("probe without a deadline")
		}
		if fail.Load() {
			return errors.New("connection refused")
		}
		return nil
	}, nil)
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	h.now = clock.now
	if err := h.Check(); err == nil {
		t.Fatal("no error while failing")
	}
	fail.Store(false)
	if err := h.Check(); err == nil {
		t.Error("cached failure not kept")
	}
	clock.advance(healthTTL)
	if err := h.Check(); err != nil {
		t.Errorf("after recovery: %v", err)
	}
	if probes.Load() != 2 {
		t.Errorf("%d probes, want 2", probes.Load())
	}
}
