// Package dav serves a user's contacts over CardDAV (RFC 6352) and their
// calendar and tasks over CalDAV (RFC 4791), from the same store the
// SyncML front syncs: a contact a DAV client adds is one more item of the
// mailbox's Contacts folder, which a SyncML phone receives at its next
// sync, and back.
//
// go-webdav answers the requests on items (GET, PUT, DELETE, PROPFIND of
// one item) and the queries (addressbook-query, calendar-query with time
// ranges, multiget). This package answers what it lacks: one principal
// with both home sets, the collections' properties (getctag, sync-token,
// supported-report-set, privileges), sync-collection (RFC 6578), the
// /.well-known redirects (RFC 6764), HTTP Basic against the store's
// Authenticator, and the item versions of the store as ETags with
// If-Match and If-None-Match checked against any other writer.
//
// DAV clients keep their own state: a DAV client is not a device of the
// account (it takes no slot, and the devices' policies do not apply to
// it); it sees every item of the folders.
package dav

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"

	"syncml-imap/pim"
)

// DeviceName is the device a DAV login is made for (pim.WithDevice): the
// login throttle counts DAV's failures apart from each SyncML device's.
const DeviceName = "DAV"

// Handler serves CardDAV and CalDAV under Prefix, and the /.well-known
// paths that lead there.
type Handler struct {
	// Auth checks each request's HTTP Basic credentials and opens the
	// user's store; it should be throttled like the SyncML logins.
	Auth pim.Authenticator
	// Prefix is the path the tree is served under, without a trailing
	// slash ("/dav").
	Prefix string
	Logger *slog.Logger
	// ContactFolders are sub-folders of the Contacts folder served as
	// address books of their own (the [sync] contact_folders).
	ContactFolders []string
	// RetryAfter is what a 503 tells clients to wait (the mail server
	// cannot answer); 0: 60 s.
	RetryAfter time.Duration
}

const realm = `Basic realm="syncml-imap", charset="UTF-8"`

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/carddav", "/.well-known/caldav":
		// RFC 6764: the context path; the client then asks it for the
		// current user's principal.
		http.Redirect(w, r, h.hrefs().root(), http.StatusMovedPermanently)
		return
	}
	p, ok := strings.CutPrefix(r.URL.Path, h.Prefix)
	if !ok || p != "" && p[0] != '/' {
		http.NotFound(w, r)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" {
		w.Header().Set("WWW-Authenticate", realm)
		http.Error(w, "log in with your mail account", http.StatusUnauthorized)
		return
	}
	ctx := pim.WithDevice(r.Context(), DeviceName)
	st, err := h.Auth.Login(ctx, user, pass)
	if err != nil {
		h.loginFailed(w, r, user, err)
		return
	}
	defer st.Close()
	colls := collections(h.ContactFolders)
	res, ok := parsePath(p, colls)
	if res.home == homeContacts && res.level == levelHome {
		// The address book home, or a name in it that is not one of the
		// configured books: the Contacts folder's sub-folders are books
		// too (one LIST, only then).
		colls = h.withSubFolders(ctx, st, user)
		res, ok = parsePath(p, colls)
	}
	switch {
	case !ok && (r.Method == "MKCOL" || r.Method == "MKCALENDAR"):
		http.Error(w, errNoNewCollections, http.StatusForbidden)
		return
	case !ok:
		http.NotFound(w, r)
		return
	case res.level > levelRoot && res.user != user:
		http.Error(w, "this is another user's", http.StatusForbidden)
		return
	}
	q := &request{h: h, st: st, user: user, res: res, colls: colls, w: w, r: r.WithContext(withConditions(ctx, r))}
	q.serve()
}

// withSubFolders is the tree's collections with every sub-folder of the
// Contacts folder as an address book, besides the configured ones.
func (h *Handler) withSubFolders(ctx context.Context, st pim.Store, user string) []collection {
	subs, err := pim.SubFolders(ctx, st, pim.Contacts)
	if err != nil {
		h.log().Warn("DAV: listing the Contacts sub-folders failed", "user", user, "err", err)
	}
	folders := slices.Clone(h.ContactFolders)
	for _, f := range subs {
		if !slices.Contains(folders, f) {
			folders = append(folders, f)
		}
	}
	return collections(folders)
}

// loginFailed answers a login that did not open the store: 401 only for
// wrong credentials, 503 when the mail server cannot answer, so that
// nobody is asked to re-enter a right password.
func (h *Handler) loginFailed(w http.ResponseWriter, r *http.Request, user string, err error) {
	if errors.Is(err, pim.ErrAuthFailed) {
		h.log().Info("DAV login refused", "user", user, "remote", r.RemoteAddr, "err", err)
		w.Header().Set("WWW-Authenticate", realm)
		http.Error(w, "wrong user name or password", http.StatusUnauthorized)
		return
	}
	h.log().Error("DAV login failed: mail server unavailable", "user", user, "err", err)
	w.Header().Set("Retry-After", fmt.Sprint(int(h.retryAfter().Seconds())))
	http.Error(w, "the mail server cannot answer now; try again later", http.StatusServiceUnavailable)
}

func (h *Handler) retryAfter() time.Duration {
	if h.RetryAfter <= 0 {
		return time.Minute
	}
	return h.RetryAfter
}

func (h *Handler) hrefs() hrefs { return hrefs{prefix: strings.TrimSuffix(h.Prefix, "/")} }

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// request is one authenticated request.
type request struct {
	h    *Handler
	st   pim.Store
	user string
	res  resource
	// colls are the tree's collections.
	colls []collection
	w     http.ResponseWriter
	r     *http.Request
}

func (q *request) hrefs() hrefs { return q.h.hrefs() }

const errNoNewCollections = "the collections are the mailbox's Contacts, Calendar and Tasks folders; no other can be made"

// davCaps are the DAV header's classes.
const davCaps = "1, 3, addressbook, calendar-access"

func (q *request) serve() {
	w, r := q.w, q.r
	obj := q.res.level == levelObject
	switch r.Method {
	case http.MethodOptions:
		w.Header().Set("DAV", davCaps)
		allow := "OPTIONS, PROPFIND, REPORT"
		if obj {
			allow = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND"
		}
		w.Header().Set("Allow", allow)
		w.WriteHeader(http.StatusNoContent)
	case "PROPFIND":
		if obj {
			q.itemHandler().ServeHTTP(w, r)
			return
		}
		q.propfind()
	case "REPORT":
		q.report()
	case http.MethodDelete:
		if !obj {
			http.Error(w, "the collections are the mailbox's folders; they cannot be removed over DAV", http.StatusForbidden)
			return
		}
		q.itemHandler().ServeHTTP(w, r)
	case http.MethodGet, http.MethodHead, http.MethodPut:
		switch {
		case !obj:
			q.notAllowed()
		case r.Method == http.MethodPut:
			q.putObject()
		default:
			q.getObject()
		}
	case "MKCOL", "MKCALENDAR":
		// The collections are the mailbox's folders, which this server
		// does not make on a client's word.
		http.Error(w, errNoNewCollections, http.StatusForbidden)
	case "PROPPATCH":
		http.Error(w, "the collections' properties are fixed", http.StatusForbidden)
	default:
		q.notAllowed()
	}
}

func (q *request) notAllowed() {
	if q.res.level == levelObject {
		q.w.Header().Set("Allow", "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND")
	} else {
		q.w.Header().Set("Allow", "OPTIONS, PROPFIND, REPORT")
	}
	http.Error(q.w, "method not allowed here", http.StatusMethodNotAllowed)
}

// itemHandler is go-webdav's handler for the request's collection.
func (q *request) itemHandler() http.Handler {
	prefix := q.hrefs().prefix
	if q.res.coll != nil && q.res.coll.comp == "" {
		return &carddav.Handler{Backend: &cardBackend{q}, Prefix: prefix}
	}
	return &caldav.Handler{Backend: &calBackend{q}, Prefix: prefix}
}

// report answers sync-collection itself and passes the queries on to
// go-webdav.
func (q *request) report() {
	if q.res.level != levelCollection {
		http.Error(q.w, "REPORT is answered on a collection", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(io.LimitReader(q.r.Body, maxRequestBody+1))
	if err != nil || len(body) > maxRequestBody {
		http.Error(q.w, "request body unreadable or too large", http.StatusBadRequest)
		return
	}
	if isSyncCollection(body) {
		q.syncCollection(body)
		return
	}
	r := q.r.Clone(q.r.Context())
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	q.itemHandler().ServeHTTP(q.w, r)
}

// maxRequestBody bounds the XML body of a PROPFIND or REPORT.
const maxRequestBody = 1 << 20

// conditions are a request's If-Match and If-None-Match, which
// go-webdav does not pass on for DELETE.
type conditions struct{ ifMatch, ifNoneMatch webdav.ConditionalMatch }

type conditionsKey struct{}

func withConditions(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, conditionsKey{}, conditions{
		ifMatch:     webdav.ConditionalMatch(r.Header.Get("If-Match")),
		ifNoneMatch: webdav.ConditionalMatch(r.Header.Get("If-None-Match")),
	})
}

func conditionsOf(ctx context.Context) conditions {
	c, _ := ctx.Value(conditionsKey{}).(conditions)
	return c
}
