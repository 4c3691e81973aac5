package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"syncml-imap/config"
	"syncml-imap/internal/dovetest"
	"syncml-imap/pim"
	"syncml-imap/syncml"
)

// scrape returns the metrics in the Prometheus text format.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

func TestObserveSession(t *testing.T) {
	m := NewMetrics()
	m.ObserveSession(&pim.SessionReport{User: "alice", Device: "IMEI:1", Duration: 2 * time.Second, Result: "ok",
		Databases: []pim.DatabaseReport{
			{Name: "contacts", Mode: "slow", FromDevice: pim.ChangeCounts{Added: 3}, ToDevice: pim.ChangeCounts{Added: 1, Deleted: 2}},
			{Name: "calendar", Mode: "two-way", ToDevice: pim.ChangeCounts{Replaced: 4}},
		}})
	m.ObserveSession(&pim.SessionReport{Result: "refused"})
	text := scrape(t, m)
	for _, want := range []string{
		`syncml_imap_sessions_total{result="ok"} 1`,
		`syncml_imap_sessions_total{result="refused"} 1`,
		`syncml_imap_sessions_total{result="expired"} 0`,
		`syncml_imap_session_duration_seconds_count 2`,
		`syncml_imap_syncs_total{database="contacts",mode="slow",result="ok"} 1`,
		`syncml_imap_syncs_total{database="calendar",mode="two-way",result="ok"} 1`,
		`syncml_imap_items_total{database="contacts",direction="from_device",op="add"} 3`,
		`syncml_imap_items_total{database="contacts",direction="to_device",op="add"} 1`,
		`syncml_imap_items_total{database="contacts",direction="to_device",op="delete"} 2`,
		`syncml_imap_items_total{database="calendar",direction="to_device",op="replace"} 4`,
	} {
		if !hasLine(text, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(text, "alice") || strings.Contains(text, "IMEI") {
		t.Error("a user or device leaked into the metrics")
	}
	// Go and process collectors are there too.
	if !strings.Contains(text, "go_goroutines ") || !strings.Contains(text, "process_") {
		t.Error("no Go or process metrics")
	}
}

// failingStore fails what it is asked.
type failingStore struct{ nopStore }

func (failingStore) Put(context.Context, pim.Kind, ...*pim.Item) error {
	return errors.New("imapstore: append: connection reset")
}

func (failingStore) Changes(context.Context, pim.Kind, []byte) (*pim.Changes, error) {
	return nil, fmt.Errorf("%w: UIDVALIDITY changed", pim.ErrSyncPointInvalid)
}

func TestMeasuredStore(t *testing.T) {
	m := NewMetrics()
	auth := m.Authenticator(authFunc(func(ctx context.Context, user, pw string) (pim.Store, error) {
		if pw != "right" {
			return nil, pim.ErrAuthFailed
		}
		return failingStore{}, nil
	}))
	ctx := context.Background()
	if _, err := auth.Login(ctx, "u", "wrong"); !errors.Is(err, pim.ErrAuthFailed) {
		t.Fatal(err)
	}
	st, err := auth.Login(ctx, "u", "right")
	if err != nil {
		t.Fatal(err)
	}
	st.Put(ctx, "contacts", &pim.Item{Data: []byte("x")})
	st.Changes(ctx, "contacts", nil)
	st.LoadState(ctx, "k")
	st.Close()
	st.Close()
	text := scrape(t, m)
	for _, want := range []string{
		`syncml_imap_imap_ops_total{op="login",result="refused"} 1`,
		`syncml_imap_imap_ops_total{op="login",result="ok"} 1`,
		`syncml_imap_imap_ops_total{op="put",result="error"} 1`,
		`syncml_imap_imap_ops_total{op="changes",result="ok"} 1`,
		`syncml_imap_imap_ops_total{op="load_state",result="ok"} 1`,
		`syncml_imap_imap_ops_total{op="logout",result="ok"} 1`,
		`syncml_imap_imap_op_seconds_count{op="put"} 1`,
		`syncml_imap_logins_total{result="ok"} 1`,
		`syncml_imap_logins_total{result="refused"} 1`,
	} {
		if !hasLine(text, want) {
			t.Errorf("missing %s", want)
		}
	}
}

type authFunc func(ctx context.Context, user, password string) (pim.Store, error)

func (f authFunc) Login(ctx context.Context, user, password string) (pim.Store, error) {
	return f(ctx, user, password)
}

func TestHTTPMetrics(t *testing.T) {
	cfg := config.Default()
	cfg.IMAP.Address = "127.0.0.1:1"
	h, ts := serve(t, cfg)
	for _, ct := range []string{"text/plain", "text/plain", syncml.ContentTypeXML} {
		resp, err := http.Post(ts.URL, ct, strings.NewReader("<SyncML>"))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	text := scrape(t, h.Metrics)
	for _, want := range []string{
		`syncml_imap_http_requests_total{code="415"} 2`,
		`syncml_imap_http_requests_total{code="400"} 1`,
		`syncml_imap_http_requests_in_flight 0`,
	} {
		if !hasLine(text, want) {
			t.Errorf("missing %s", want)
		}
	}
	// Two Handlers in one process have registries of their own.
	h2, err := NewHandler(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Server.Close()
	if strings.Contains(scrape(t, h2.Metrics), `code="415"`) {
		t.Error("a second Handler shares the first one's metrics")
	}
}

// TestMetricsAgainstDovecot: a real session shows in the metrics.
func TestMetricsAgainstDovecot(t *testing.T) {
	srv := dovetest.Start(t, nil)
	srv.AddUser(t, "gina@example.org", "gina-pw")
	cfg := config.Default()
	cfg.IMAP.Address = srv.Addr
	h, ts := serve(t, cfg)

	c := &client{t: t, url: ts.URL + "/syncml", device: "IMEI:7", session: "1",
		cred: basicCred("gina@example.org", "gina-pw")}
	r := c.send(true, alert("200", "./contacts", "", "1"))
	if fmt.Sprint(statusOf(r, "SyncHdr")) != "[212]" {
		t.Fatalf("login: %v", statusOf(r, "SyncHdr"))
	}
	c.cred = nil
	sync := addContacts("Ann Alpha", "Bo Beta")
	c.send(true, &syncml.Status{MsgRef: "1", CmdRef: "1", Cmd: "Alert", Data: "200"}, sync)
	if r := c.send(true, &syncml.Status{MsgRef: "2", CmdRef: "3", Cmd: "Sync", Data: "200"}); !r.Final {
		t.Fatal("last package not final")
	}

	text := scrape(t, h.Metrics)
	for _, want := range []string{
		`syncml_imap_sessions_total{result="ok"} 1`,
		`syncml_imap_syncs_total{database="contacts",mode="slow",result="ok"} 1`,
		`syncml_imap_items_total{database="contacts",direction="from_device",op="add"} 2`,
		`syncml_imap_logins_total{result="ok"} 1`,
		`syncml_imap_imap_ops_total{op="login",result="ok"} 1`,
		`syncml_imap_imap_ops_total{op="put",result="ok"} 1`,
		`syncml_imap_imap_op_seconds_count{op="login"} 1`,
		`syncml_imap_imap_connections_kept 1`,
		`syncml_imap_http_requests_total{code="200"} 3`,
	} {
		if !hasLine(text, want) {
			t.Errorf("missing %s", want)
		}
	}
	// The session's connections (its login's, and the MULTIAPPEND one
	// its two items took) are kept for the user's next session: still
	// open at Dovecot, and counted.
	if n := dovecotConns(t, srv, "gina@example.org"); n == 0 || !hasLine(text, fmt.Sprintf("syncml_imap_imap_connections %d", n)) {
		t.Errorf("Dovecot has %d connections; the metrics say %s", n, grepLines(text, "syncml_imap_imap_connections "))
	}

	if strings.Contains(text, "gina") || strings.Contains(text, "Ann Alpha") {
		t.Error("a user or an item leaked into the metrics")
	}
}
