package plugin

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"syncml-imap/imapstore"
)

// How often the health check may reach the IMAP server, and how long it
// waits for it. A load balancer probing every second still costs the IMAP
// server one connection per healthTTL and instance.
const (
	healthTTL     = 5 * time.Second
	healthTimeout = 3 * time.Second
)

// Health is the health check of the daemon: it is healthy while the IMAP
// server, where all its data lives, accepts a connection and greets (with
// TLS or STARTTLS as configured; no login). The answer is kept for a few
// seconds, so the endpoint cannot be used to hammer the IMAP server, and
// concurrent requests share one check.
type Health struct {
	probe   func(ctx context.Context) error
	ttl     time.Duration
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	checked time.Time // zero: never
	err     error
}

// NewHealth checks the IMAP server opts names.
func NewHealth(opts *imapstore.Options, logger *slog.Logger) *Health {
	return newHealth(func(ctx context.Context) error {
		_, err := imapstore.Probe(ctx, opts)
		return err
	}, logger)
}

func newHealth(probe func(ctx context.Context) error, logger *slog.Logger) *Health {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Health{probe: probe, ttl: healthTTL, timeout: healthTimeout, log: logger, now: time.Now}
}

// Check returns nil when the IMAP server answered at the last check, or
// why not; it checks again when the last answer is older than a few
// seconds. A change either way is logged.
func (h *Health) Check() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.checked.IsZero() && h.now().Sub(h.checked) < h.ttl {
		return h.err
	}
	// Not the request's context: a client hanging up must not make the
	// cached answer a failure.
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	err := h.probe(ctx)
	cancel()
	switch {
	case err != nil && (h.checked.IsZero() || h.err == nil):
		h.log.Warn("health: IMAP server not answering", "err", err)
	case err == nil && h.err != nil:
		h.log.Info("health: IMAP server answering again")
	}
	h.checked, h.err = h.now(), err
	return err
}

// ServeHTTP answers 200 "ok", or 503 with the reason.
func (h *Health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.Check(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "IMAP server not answering: "+err.Error()+"\n")
		return
	}
	io.WriteString(w, "ok\n")
}
