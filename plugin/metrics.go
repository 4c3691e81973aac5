package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"syncml-imap/pim"
)

// Metrics are the daemon's Prometheus metrics, in a registry of their own
// (never the global default one, so that two Handlers in one process do
// not collide). Serve them with Handler.
//
// What they count: finished sessions and their databases and items (from
// the engine's session reports), logins, each store operation on the
// IMAP server with its latency, the IMAP connections open (told by the
// ConnBudget) and kept, and the endpoint's HTTP requests. No metric has a user or device label.
type Metrics struct {
	// Registry holds the metrics below and the Go runtime and process
	// collectors; an embedder may register more or gather it into its own.
	Registry *prometheus.Registry

	sessions        *prometheus.CounterVec
	sessionDuration prometheus.Histogram
	syncs           *prometheus.CounterVec
	items           *prometheus.CounterVec
	logins          *prometheus.CounterVec
	imapOps         *prometheus.CounterVec
	imapSeconds     *prometheus.HistogramVec
	imapConns       prometheus.Gauge
	imapWaits       *prometheus.CounterVec
	httpRequests    *prometheus.CounterVec
	davRequests     *prometheus.CounterVec
	davSeconds      *prometheus.HistogramVec
	httpInFlight    prometheus.Gauge
}

// Label values that exist from the start, so that rate() over them works
// before the first event.
var (
	sessionResults = []string{"ok", "partial", "refused", "suspended", "replaced", "expired", "shutdown"}
	loginResults   = []string{"ok", "refused", "throttled", "error"}
	waitResults    = []string{"ok", "timeout", "canceled"}
)

// NewMetrics makes the metrics and their registry.
func NewMetrics() *Metrics {
	const ns = "syncml_imap"
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "sessions_total",
			Help: "Finished SyncML sessions of logged-in users, by result (ok, partial, refused, suspended, replaced, expired, shutdown)."},
			[]string{"result"}),
		sessionDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "session_duration_seconds",
			Help:    "Duration of finished SyncML sessions, from the first message to the last.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900}}),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "syncs_total",
			Help: "Databases synced in finished sessions, by database, sync mode and the session's result."},
			[]string{"database", "mode", "result"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "items_total",
			Help: "Item changes in finished sessions, by database, direction (from_device, to_device) and operation (add, replace, delete)."},
			[]string{"database", "direction", "op"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "logins_total",
			Help: "Password logins, by result: ok, refused (wrong password), throttled (refused without asking IMAP after too many failures), unavailable (IMAP unreachable, timing out or at its limits), error (anything else)."},
			[]string{"result"}),
		imapOps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "imap_ops_total",
			Help: "Store operations on the IMAP server (each one or more IMAP round trips), by operation and result (ok, refused, error)."},
			[]string{"op", "result"}),
		imapSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "imap_op_seconds",
			Help:    "Latency of store operations on the IMAP server, by operation.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}},
			[]string{"op"}),
		imapConns: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "imap_connections",
			Help: "IMAP connections open: those of sessions (a session's login and, while it stores many items, its MULTIAPPEND one) and those kept for the user's next session."}),
		imapWaits: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "imap_connection_waits_total",
			Help: "Logins that waited for room in the user's IMAP connection budget ([imap] max_user_connections), by how the wait ended: ok (room), timeout (the device is told 503), canceled."},
			[]string{"result"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
			Help: "Requests to the SyncML endpoint, by HTTP status code (SyncML statuses travel inside 200 answers)."},
			[]string{"code"}),
		davRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "dav_requests_total",
			Help: "CardDAV and CalDAV requests, by method and HTTP status code."},
			[]string{"method", "code"}),
		davSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "dav_request_seconds",
			Help: "Time to answer a CardDAV or CalDAV request (the IMAP login included), by method.", Buckets: prometheus.DefBuckets},
			[]string{"method"}),
		httpInFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "http_requests_in_flight",
			Help: "Requests to the SyncML endpoint being answered now."}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.sessions, m.sessionDuration, m.syncs, m.items, m.logins,
		m.imapOps, m.imapSeconds, m.imapConns, m.imapWaits, m.httpRequests, m.httpInFlight,
		m.davRequests, m.davSeconds,
	)
	for _, r := range waitResults {
		m.imapWaits.WithLabelValues(r)
	}
	for _, r := range sessionResults {
		m.sessions.WithLabelValues(r)
	}
	for _, r := range loginResults {
		m.logins.WithLabelValues(r)
	}
	return m
}

// Handler serves the metrics in the Prometheus text (or OpenMetrics)
// format. A collector that fails (the process collector, say, where
// /proc is restricted) is logged to logger and left out; the rest is
// served.
func (m *Metrics) Handler(logger *slog.Logger) http.Handler {
	opts := promhttp.HandlerOpts{Registry: m.Registry, EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError}
	if logger != nil {
		opts.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelError)
	}
	return promhttp.HandlerFor(m.Registry, opts)
}

// instrumentHTTP returns next with the endpoint's HTTP metrics: the
// requests it answered by status code, and those it is answering.
func (m *Metrics) instrumentHTTP(next http.Handler) http.Handler {
	return promhttp.InstrumentHandlerInFlight(m.httpInFlight, promhttp.InstrumentHandlerCounter(m.httpRequests, next))
}

// instrumentDAV counts the DAV requests by method and status, and times
// them.
func (m *Metrics) instrumentDAV(next http.Handler) http.Handler {
	methods := promhttp.WithExtraMethods("PROPFIND", "PROPPATCH", "REPORT", "MKCOL", "MKCALENDAR", "COPY", "MOVE")
	return promhttp.InstrumentHandlerDuration(m.davSeconds, promhttp.InstrumentHandlerCounter(m.davRequests, next, methods), methods)
}

// ObserveSession counts a finished session; it is the engine's
// ServerOptions.OnSession.
func (m *Metrics) ObserveSession(r *pim.SessionReport) {
	m.sessions.WithLabelValues(string(r.Result)).Inc()
	m.sessionDuration.Observe(r.Duration.Seconds())
	for _, d := range r.Databases {
		m.syncs.WithLabelValues(string(d.Name), d.Mode, string(r.Result)).Inc()
		for _, way := range []struct {
			dir string
			c   pim.ChangeCounts
		}{{"from_device", d.FromDevice}, {"to_device", d.ToDevice}} {
			for _, op := range []struct {
				name string
				n    int
			}{{"add", way.c.Added}, {"replace", way.c.Replaced}, {"delete", way.c.Deleted}} {
				if op.n > 0 {
					m.items.WithLabelValues(string(d.Name), way.dir, op.name).Add(float64(op.n))
				}
			}
		}
	}
}

func (m *Metrics) login(result string) {
	if m != nil {
		m.logins.WithLabelValues(result).Inc()
	}
}

// observe records one store operation that started at start.
func (m *Metrics) observe(op string, start time.Time, err error) {
	result := "ok"
	switch {
	case err == nil, errors.Is(err, pim.ErrSyncPointInvalid),
		errors.Is(err, pim.ErrVersionMismatch), errors.Is(err, pim.ErrNotFound):
		// An outdated sync point or version is an answer, not a failure.
	case errors.Is(err, pim.ErrAuthFailed):
		result = "refused"
	default:
		result = "error"
	}
	m.imapOps.WithLabelValues(op, result).Inc()
	m.imapSeconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

// Authenticator returns auth with its logins and the stores they open
// measured: op "login" (and "login_master" for LoginAs) and one op per
// Store method.
func (m *Metrics) Authenticator(auth pim.Authenticator) pim.Authenticator {
	return keepMaster(&measuredAuth{auth: auth, m: m}, auth)
}

type measuredAuth struct {
	auth pim.Authenticator
	m    *Metrics
}

func (a *measuredAuth) Login(ctx context.Context, user, password string) (pim.Store, error) {
	start := time.Now()
	st, err := a.auth.Login(ctx, user, password)
	a.m.observe("login", start, err)
	switch {
	case err == nil:
		a.m.login("ok")
	case errors.Is(err, pim.ErrUnavailable):
		a.m.login("unavailable")
	case errors.Is(err, pim.ErrAuthFailed):
		a.m.login("refused")
	default:
		a.m.login("error")
	}
	return a.m.store(st), err
}

func (a *measuredAuth) LoginAs(ctx context.Context, user string) (pim.Store, error) {
	start := time.Now()
	st, err := loginAs(ctx, a.auth, user)
	a.m.observe("login_master", start, err)
	return a.m.store(st), err
}

// store wraps an open store; a pim.Versioner stays one (and a store that
// is none does not become one: a front asks by type assertion).
func (m *Metrics) store(st pim.Store) pim.Store {
	if st == nil {
		return nil
	}
	ms := &measuredStore{st: st, m: m}
	if v, ok := st.(pim.Versioner); ok {
		return &measuredVersioner{measuredStore: ms, v: v}
	}
	return ms
}

// conns counts IMAP connections opened (+1) and closed (-1); the
// ConnBudget, which every connection passes, tells it.
func (m *Metrics) conns(delta int) {
	if m != nil {
		m.imapConns.Add(float64(delta))
	}
}

func (m *Metrics) connWait(result string) {
	if m != nil {
		m.imapWaits.WithLabelValues(result).Inc()
	}
}

// KeepPool adds the gauge of the logins p keeps between sessions.
func (m *Metrics) KeepPool(p *Pool) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "syncml_imap", Name: "imap_connections_kept",
		Help: "IMAP logins kept open after their session ended, for the user's next session ([imap] keep_idle); imap_connections counts them (and a MULTIAPPEND connection one of them opened) too."},
		func() float64 { return float64(p.Len()) }))
}

// measuredStore is a pim.Store that times each operation of the one
// it wraps.
type measuredStore struct {
	st     pim.Store
	m      *Metrics
	closed atomic.Bool
}

var (
	_ pim.QuickStore  = (*measuredStore)(nil)
	_ pim.StateBatch  = (*measuredStore)(nil)
	_ pim.Releaser    = (*measuredStore)(nil)
	_ pim.PointDeltas = (*measuredStore)(nil)
	_ pim.Watcher     = (*measuredStore)(nil)
)

// SubFolders implements pim.FolderLister, through to the store when it
// is one.
func (s *measuredStore) SubFolders(ctx context.Context, db pim.Kind) ([]string, error) {
	start := time.Now()
	subs, err := pim.SubFolders(ctx, s.st, db)
	s.m.observe("list_folders", start, err)
	return subs, err
}

func (s *measuredStore) Changes(ctx context.Context, db pim.Kind, since []byte) (*pim.Changes, error) {
	start := time.Now()
	c, err := s.st.Changes(ctx, db, since)
	s.m.observe("changes", start, err)
	return c, err
}

func (s *measuredStore) Get(ctx context.Context, db pim.Kind, ids ...string) ([]*pim.Item, error) {
	start := time.Now()
	items, err := s.st.Get(ctx, db, ids...)
	s.m.observe("get", start, err)
	return items, err
}

func (s *measuredStore) Put(ctx context.Context, db pim.Kind, items ...*pim.Item) error {
	start := time.Now()
	err := s.st.Put(ctx, db, items...)
	s.m.observe("put", start, err)
	return err
}

func (s *measuredStore) Delete(ctx context.Context, db pim.Kind, ids ...string) ([]string, error) {
	start := time.Now()
	missing, err := s.st.Delete(ctx, db, ids...)
	s.m.observe("delete", start, err)
	return missing, err
}

func (s *measuredStore) Advance(ctx context.Context, db pim.Kind, base []byte, own []string) ([]byte, error) {
	start := time.Now()
	p, err := s.st.Advance(ctx, db, base, own)
	s.m.observe("advance", start, err)
	return p, err
}

func (s *measuredStore) LoadState(ctx context.Context, key string) ([]byte, error) {
	start := time.Now()
	b, err := s.st.LoadState(ctx, key)
	s.m.observe("load_state", start, err)
	return b, err
}

func (s *measuredStore) SaveState(ctx context.Context, key string, data []byte) error {
	start := time.Now()
	err := s.st.SaveState(ctx, key, data)
	s.m.observe("save_state", start, err)
	return err
}

func (s *measuredStore) DeleteState(ctx context.Context, key string) error {
	start := time.Now()
	err := s.st.DeleteState(ctx, key)
	s.m.observe("delete_state", start, err)
	return err
}

func (s *measuredStore) ListState(ctx context.Context, prefix string) ([]string, error) {
	start := time.Now()
	keys, err := s.st.ListState(ctx, prefix)
	s.m.observe("list_state", start, err)
	return keys, err
}

// Snapshot passes pim.Snapshotter through when the wrapped store has
// it.
func (s *measuredStore) Snapshot(ctx context.Context, db pim.Kind, label string) (int, error) {
	sn, ok := s.st.(pim.Snapshotter)
	if !ok {
		return 0, fmt.Errorf("plugin: this store cannot snapshot")
	}
	start := time.Now()
	n, err := sn.Snapshot(ctx, db, label)
	s.m.observe("snapshot", start, err)
	return n, err
}

// PointDelta and ApplyPointDelta pass pim.PointDeltas through; without
// it, points are kept whole.
func (s *measuredStore) PointDelta(db pim.Kind, old, new []byte) ([]byte, error) {
	if pd, ok := s.st.(pim.PointDeltas); ok {
		return pd.PointDelta(db, old, new)
	}
	return nil, errors.New("plugin: the store has no point deltas")
}

func (s *measuredStore) ApplyPointDelta(db pim.Kind, old []byte, deltas ...[]byte) ([]byte, error) {
	if pd, ok := s.st.(pim.PointDeltas); ok {
		return pd.ApplyPointDelta(db, old, deltas...)
	}
	return nil, pim.ErrSyncPointInvalid
}

// PointHead, Unchanged, LoadStates and Release pass pim.QuickStore,
// pim.StateBatch and pim.Releaser through (with their fallbacks
// when the wrapped store lacks them): the engine looks for them on the
// store it is given, which is this one.
func (s *measuredStore) PointHead(db pim.Kind, point []byte) []byte {
	if q, ok := s.st.(pim.QuickStore); ok {
		return q.PointHead(db, point)
	}
	return nil
}

func (s *measuredStore) Unchanged(ctx context.Context, db pim.Kind, head []byte) (bool, error) {
	q, ok := s.st.(pim.QuickStore)
	if !ok {
		return false, nil
	}
	start := time.Now()
	same, err := q.Unchanged(ctx, db, head)
	s.m.observe("unchanged", start, err)
	return same, err
}

func (s *measuredStore) LoadStates(ctx context.Context, keys ...string) (map[string][]byte, error) {
	start := time.Now()
	var out map[string][]byte
	var err error
	if b, ok := s.st.(pim.StateBatch); ok {
		out, err = b.LoadStates(ctx, keys...)
	} else {
		out = map[string][]byte{}
		for _, k := range keys {
			var data []byte
			if data, err = s.st.LoadState(ctx, k); err != nil {
				break
			}
			if data != nil {
				out[k] = data
			}
		}
	}
	s.m.observe("load_state", start, err)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Watch passes pim.Watcher through; for a store that is none it says
// so (pim.ErrNoWatch), and the front polls.
func (s *measuredStore) Watch(ctx context.Context, dbs ...pim.Kind) (pim.Watch, error) {
	wr, ok := s.st.(pim.Watcher)
	if !ok {
		return nil, pim.ErrNoWatch
	}
	start := time.Now()
	w, err := wr.Watch(ctx, dbs...)
	s.m.observe("watch", start, err)
	return w, err
}

func (s *measuredStore) Release() error {
	r, ok := s.st.(pim.Releaser)
	if !ok {
		return s.Close()
	}
	if s.closed.Swap(true) {
		return nil
	}
	start := time.Now()
	err := r.Release()
	s.m.observe("logout", start, err)
	return err
}

func (s *measuredStore) Close() error {
	if s.closed.Swap(true) {
		return nil // closed already
	}
	start := time.Now()
	err := s.st.Close()
	s.m.observe("logout", start, err)
	return err
}

// measuredVersioner is a measuredStore on a pim.Versioner, which it
// passes through, measured.
type measuredVersioner struct {
	*measuredStore
	v pim.Versioner
}

var _ pim.Versioner = (*measuredVersioner)(nil)

func (s *measuredVersioner) Versions(ctx context.Context, db pim.Kind) (map[string]string, []byte, error) {
	start := time.Now()
	vs, p, err := s.v.Versions(ctx, db)
	s.m.observe("versions", start, err)
	return vs, p, err
}

func (s *measuredVersioner) PutVersion(ctx context.Context, db pim.Kind, it *pim.Item, want string) error {
	start := time.Now()
	err := s.v.PutVersion(ctx, db, it, want)
	s.m.observe("put_version", start, err)
	return err
}

func (s *measuredVersioner) PutVersions(ctx context.Context, db pim.Kind, items []*pim.Item, wants []string) ([]error, error) {
	start := time.Now()
	errs, err := s.v.PutVersions(ctx, db, items, wants)
	s.m.observe("put_versions", start, err)
	return errs, err
}

func (s *measuredVersioner) DeleteVersion(ctx context.Context, db pim.Kind, id, want string) error {
	start := time.Now()
	err := s.v.DeleteVersion(ctx, db, id, want)
	s.m.observe("delete_version", start, err)
	return err
}

func (s *measuredVersioner) PointVersions(db pim.Kind, point []byte) (map[string]string, error) {
	return s.v.PointVersions(db, point)
}
