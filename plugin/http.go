package plugin

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"syncml-imap/dav"
	"syncml-imap/eas"
	"syncml-imap/imapstore"
	"syncml-imap/syncml"
	"syncml-imap/web"
)

// Handler is the SyncML endpoint: POST carries SyncML messages, GET shows
// a short page saying what the endpoint is.
type Handler struct {
	Server *syncml.Server
	// PublicURL is the endpoint as clients reach it (behind a proxy);
	// empty: derived from each request.
	PublicURL string
	// MaxBodyBytes bounds a request body; 0: no limit.
	MaxBodyBytes int64
	Logger       *slog.Logger
	// Metrics are the endpoint's metrics, which the caller serves at its
	// metrics path; nil: none.
	Metrics *Metrics
	// Health is the health check, which the caller serves at its health
	// path.
	Health *Health
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (see ClientAddr).
	TrustedProxies []netip.Prefix
	// Admin answers the admin requests made to the endpoint (a query
	// parameter AdminParam); nil: none.
	Admin *AdminHTTP
	// DAV serves CardDAV and CalDAV (see DAVHandler); nil: off.
	DAV *dav.Handler
	// Web serves the people's pages (see WebHandler); nil: off.
	Web *web.Handler
	// EAS and Autodiscover serve ActiveSync (see EASHandler); nil: off.
	EAS          *eas.Handler
	Autodiscover *eas.Autodiscover
	// pool keeps the IMAP logins of finished sessions ([imap] keep_idle);
	// nil: none.
	pool *Pool
	// watch is where the stores' writes wake the Pings and their IDLE
	// connections are kept.
	watch *imapstore.WatchHub

	endpointOnce sync.Once
	endpoint     http.Handler // serveSyncML, measured in Metrics
	davOnce      sync.Once
	davEndpoint  http.Handler
}

// DAVHandler serves DAV's tree and its /.well-known redirects, with the
// client's address in the request context for the login throttle, counted
// in Metrics; nil when DAV is off.
func (h *Handler) DAVHandler() http.Handler {
	if h.DAV == nil {
		return nil
	}
	h.davOnce.Do(func() {
		var next http.Handler = h.DAV
		if h.Metrics != nil {
			next = h.Metrics.instrumentDAV(next)
		}
		h.davEndpoint = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(WithRemoteAddr(r.Context(), ClientAddr(r, h.TrustedProxies))))
		})
	})
	return h.davEndpoint
}

// ServeHTTP answers the SyncML endpoint (see serveSyncML), and admin
// requests (the query parameter AdminParam) with Admin. It puts the
// client's address in the request context for the login throttle and
// counts the SyncML requests in Metrics.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(WithRemoteAddr(r.Context(), ClientAddr(r, h.TrustedProxies)))
	if h.Admin != nil && r.URL.Query().Has(AdminParam) {
		h.Admin.ServeHTTP(w, r)
		return
	}
	h.endpointOnce.Do(func() {
		h.endpoint = http.HandlerFunc(h.serveSyncML)
		if h.Metrics != nil {
			h.endpoint = h.Metrics.instrumentHTTP(h.endpoint)
		}
	})
	h.endpoint.ServeHTTP(w, r)
}

// Close ends the sessions (nothing of an unfinished one is committed) and
// logs out the connections the handler keeps.
func (h *Handler) Close() {
	h.Server.Close()
	if h.pool != nil {
		h.pool.Close()
	}
	if h.watch != nil {
		h.watch.Close()
	}
}

const page = `<!doctype html>
<title>SyncML endpoint</title>
<h1>SyncML endpoint</h1>
<p>This address is a SyncML (OMA Data Synchronization) server for contacts,
calendars and tasks. Point a SyncML client (a phone's sync settings,
SyncEvolution, Funambol) at this URL and log in with your mail account.</p>
`

// serveSyncML answers one request to the endpoint; ServeHTTP wraps it.
func (h *Handler) serveSyncML(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed: SyncML messages are sent with POST", http.StatusMethodNotAllowed)
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var enc syncml.Encoding
	switch {
	case err != nil:
		http.Error(w, "bad Content-Type: want "+syncml.ContentTypeXML+" or "+syncml.ContentTypeWBXML, http.StatusUnsupportedMediaType)
		return
	case mt == syncml.ContentTypeWBXML:
		enc = syncml.EncodingWBXML
	case mt == syncml.ContentTypeXML:
		enc = syncml.EncodingXML
	default:
		http.Error(w, fmt.Sprintf("unsupported Content-Type %q: want %s or %s", mt, syncml.ContentTypeXML, syncml.ContentTypeWBXML), http.StatusUnsupportedMediaType)
		return
	}
	body := r.Body
	if h.MaxBodyBytes > 0 {
		body = http.MaxBytesReader(w, r.Body, h.MaxBodyBytes)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.log().Warn("request body too large", "limit", h.MaxBodyBytes, "remote", r.RemoteAddr)
			http.Error(w, fmt.Sprintf("request body larger than %d bytes", h.MaxBodyBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading request: "+err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := h.Server.Handle(r.Context(), &syncml.Request{
		Body:       data,
		SessionKey: r.URL.Query().Get("s"),
		BaseURL:    h.baseURL(r),
		Encoding:   enc,
	})
	if err != nil {
		h.log().Info("malformed SyncML request", "remote", r.RemoteAddr, "err", err)
		http.Error(w, "not a SyncML message: "+err.Error(), http.StatusBadRequest)
		return
	}
	ct := resp.ContentType
	if enc == syncml.EncodingXML {
		ct += "; charset=UTF-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-store")
	if resp.RetryAfter > 0 {
		// The reply says 503 (the mail server cannot answer); the HTTP
		// status stays 200, as for every delivered SyncML reply.
		w.Header().Set("Retry-After", strconv.Itoa(int(resp.RetryAfter.Seconds())))
	}
	w.Write(resp.Body)
}

func (h *Handler) baseURL(r *http.Request) string {
	if h.PublicURL != "" {
		return h.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + strings.TrimSuffix(r.URL.Path, "/")
}

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}
