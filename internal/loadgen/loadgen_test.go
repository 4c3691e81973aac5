package loadgen

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"syncml-imap/syncml"
)

// endpoint is the engine behind HTTP, in process, with a store in
// memory: it checks what the client sends against the server's
// MaxMsgSize and counts the client's non-final messages.
type endpoint struct {
	t   *testing.T
	srv *syncml.Server
	max int64

	mu                 sync.Mutex
	requests, nonFinal int
	largest, oversized int
	wbxml              bool
}

func newEndpoint(t *testing.T, auth pim.Authenticator, maxMsg int64) (*endpoint, string) {
	e := &endpoint{t: t, max: maxMsg, srv: syncml.NewServer(syncml.ServerOptions{Auth: auth, MaxMsgSize: maxMsg})}
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)
	return e, ts.URL + "/syncml"
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	enc := syncml.EncodingXML
	if mt == syncml.ContentTypeWBXML {
		enc = syncml.EncodingWBXML
	} else if mt != syncml.ContentTypeXML {
		http.Error(w, "bad Content-Type "+mt, http.StatusUnsupportedMediaType)
		return
	}
	body, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.requests++
	e.largest = max(e.largest, len(body))
	if int64(len(body)) > e.max {
		e.oversized++
	}
	e.wbxml = e.wbxml || enc == syncml.EncodingWBXML
	if root, err := syncml.Decode(enc, body); err == nil {
		if m, err := syncml.ParseMessage(root); err == nil && !m.Final {
			e.nonFinal++
		}
	}
	e.mu.Unlock()
	resp, err := e.srv.Handle(r.Context(), &syncml.Request{Body: body, SessionKey: r.URL.Query().Get("s"),
		BaseURL: "http://" + r.Host + r.URL.Path, Encoding: enc})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", resp.ContentType)
	w.Write(resp.Body)
}

func accounts(n int) []Account {
	out := make([]Account, n)
	for i := range out {
		out[i] = Account{User: fmt.Sprintf("load%03d", i+1), Password: "pw"}
	}
	return out
}

// TestRunInProcess runs every scenario against the engine with small
// messages on both sides: the device's package 3 and its Map take
// several messages, the server's package 4 too, and every check of the
// run holds.
func TestRunInProcess(t *testing.T) {
	for _, wbxml := range []bool{false, true} {
		t.Run(fmt.Sprintf("wbxml=%v", wbxml), func(t *testing.T) {
			e, url := newEndpoint(t, &memstore.Accounts{Password: "pw"}, 6000)
			cfg := &Config{URL: url, Sizes: []int{40, 250}, Repeat: 2, Changes: 3, Concurrent: 10, ConcurrentItems: 3,
				WBXML: wbxml, MaxMsgSize: 8000, Logf: t.Logf}
			cfg.Accounts = accounts(NeedAccounts(cfg))
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("\n%s", rep.Markdown())
			for _, what := range []string{rowSlow, rowUnchanged, rowRefresh} {
				for _, n := range cfg.Sizes {
					if rep.find(what, n) == nil {
						t.Errorf("no row %q at N=%d", what, n)
					}
				}
			}
			if r := rep.find("5. C at once: two-way sync, nothing changed", 10); r == nil || r.Figure != 10 {
				t.Errorf("concurrent unchanged syncs: %+v, want 10 ok", r)
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.oversized > 0 {
				t.Errorf("%d messages over the server's MaxMsgSize %d (largest %d)", e.oversized, e.max, e.largest)
			}
			// 250 contacts of ~500 bytes, and their Map, take many messages.
			if e.nonFinal < 20 {
				t.Errorf("%d non-final client messages in %d requests: packages were not split", e.nonFinal, e.requests)
			}
			if e.wbxml != wbxml {
				t.Errorf("WBXML sent: %v, want %v", e.wbxml, wbxml)
			}
		})
	}
}

// TestRunFailsOnLostItems: a server that acknowledges items and then
// loses some fails the run (a check, not a figure): the refresh to a
// fresh device brings fewer than were sent.
func TestRunFailsOnLostItems(t *testing.T) {
	_, url := newEndpoint(t, &memstore.Accounts{Password: "pw", Options: &memstore.Options{Lose: 7}}, 60000)
	cfg := &Config{URL: url, Sizes: []int{50}, Repeat: 1, Changes: 2, Concurrent: -1}
	cfg.Accounts = accounts(NeedAccounts(cfg))
	rep, err := Run(context.Background(), cfg)
	if err == nil {
		t.Fatalf("no error from a server that loses every 7th item:\n%s", rep.Markdown())
	}
	if !strings.Contains(err.Error(), "refresh from server") {
		t.Errorf("error %q does not name the refresh", err)
	}
	if rep.find(rowRefresh, 50) != nil {
		t.Errorf("a failed refresh has a figure:\n%s", rep.Markdown())
	}
}

// TestRunRefusesWrongPassword: a login the server refuses ends the run
// with ErrAuth.
func TestRunRefusesWrongPassword(t *testing.T) {
	_, url := newEndpoint(t, &memstore.Accounts{Password: "pw"}, 60000)
	cfg := &Config{URL: url, Sizes: []int{10}, Repeat: 1, Changes: 1, Concurrent: -1,
		Accounts: []Account{{User: "load001", Password: "wrong"}}}
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), ErrAuth.Error()) {
		t.Fatalf("err = %v, want %v", err, ErrAuth)
	}
}

// TestMemoryProbe reads the heap from a profiler's and a metrics page,
// RSS from /proc (this process's own), and says when a source fails.
func TestMemoryProbe(t *testing.T) {
	var gcs int
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/heap", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") == "1" {
			gcs++
		}
		io.WriteString(w, "heap profile: 1: 2 [3: 4] @ heap/1048576\n# runtime.MemStats\n# Alloc = 1\n# HeapAlloc = 123456\n# Sys = 9\n")
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "# TYPE go_memstats_heap_alloc_bytes gauge\ngo_memstats_heap_alloc_bytes 2.5e+07\nprocess_resident_memory_bytes 4.2e+07\n")
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	ctx := context.Background()

	m, err := (&MemoryProbe{PprofURL: ts.URL, PID: os.Getpid()}).Read(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if m.Heap != 123456 || gcs != 1 {
		t.Errorf("heap %d after %d forced GCs, want 123456 after 1", m.Heap, gcs)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("RSS %d, peak %d of this process", m.RSS, m.Peak)
	}
	m, err = (&MemoryProbe{MetricsURL: ts.URL + "/metrics"}).Read(ctx, false)
	if err != nil || m.Heap != 25e6 || m.RSS != 42e6 {
		t.Errorf("from metrics: %+v, %v; want heap 25e6, RSS 42e6", m, err)
	}
	if _, err := (&MemoryProbe{PprofURL: ts.URL + "/nothing"}).Read(ctx, false); err == nil {
		t.Error("no error from a profiler that is not there")
	}
	if m, err := (*MemoryProbe)(nil).Read(ctx, true); err != nil || m != (Memory{}) {
		t.Errorf("nil probe: %+v, %v", m, err)
	}
}

// TestFindLatest: an N measured twice gets each ratio from its own run.
func TestFindLatest(t *testing.T) {
	var rep Report
	rep.add(Row{What: rowMulti, N: 1000, Figure: 1})
	rep.add(Row{What: rowMulti, N: 1000, Figure: 2})
	if r := rep.find(rowMulti, 1000); r == nil || r.Figure != 2 {
		t.Errorf("find = %+v, want the second row", r)
	}
}
