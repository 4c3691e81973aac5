package dav

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"

	"syncml-imap/pim"
)

// The backends go-webdav calls, over the request's store. Paths are
// those of the tree (names.go); ETags are the store's item versions.

// statusError is an error with the HTTP status that answers it.
type statusError struct {
	code int
	err  error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

func httpError(code int, format string, a ...any) error {
	return &statusError{code, fmt.Errorf(format, a...)}
}

// statusOf is the HTTP status of err, if it has one.
func statusOf(err error) (int, bool) {
	var se *statusError
	if errors.As(err, &se) {
		return se.code, true
	}
	return 0, false
}

// wd is err as go-webdav answers it: with its status.
func wd(err error) error {
	if code, ok := statusOf(err); ok {
		return webdav.NewHTTPError(code, err)
	}
	return err
}

// storeError maps a store's error onto the HTTP status a client acts on.
func storeError(err error) error {
	code := http.StatusInternalServerError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pim.ErrVersionMismatch):
		code = http.StatusPreconditionFailed
	case errors.Is(err, pim.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, pim.ErrInvalidItem):
		code = http.StatusForbidden
	case errors.Is(err, pim.ErrUnavailable):
		code = http.StatusServiceUnavailable
	}
	return &statusError{code, err}
}

func (q *request) versioner() (pim.Versioner, error) {
	v, ok := q.st.(pim.Versioner)
	if !ok {
		return nil, httpError(http.StatusNotImplemented, "dav: the store keeps no item versions")
	}
	return v, nil
}

// object resolves the path of an item go-webdav passes (the request's,
// or one of a multiget's hrefs) within the request's collection.
func (q *request) object(p string) (resource, error) {
	rest, ok := strings.CutPrefix(p, q.hrefs().prefix)
	if ok {
		var res resource
		if res, ok = parsePath(rest, q.colls); ok && res.level == levelObject && res.user == q.user && res.coll.kind == q.res.coll.kind {
			return res, nil
		}
	}
	return resource{}, httpError(http.StatusNotFound, "dav: %q is no item of this collection", p)
}

// get reads one item.
func (q *request) get(ctx context.Context, p string) (resource, *pim.Item, error) {
	res, err := q.object(p)
	if err != nil {
		return res, nil, err
	}
	items, err := q.st.Get(ctx, res.coll.kind, res.id)
	if err != nil {
		return res, nil, storeError(err)
	}
	if len(items) == 0 || items[0] == nil {
		return res, nil, httpError(http.StatusNotFound, "dav: no item %q", res.name)
	}
	return res, items[0], nil
}

// getBatch bounds the items one Get reads.
const getBatch = 200

// all reads every item of the request's collection.
func (q *request) all(ctx context.Context) ([]*pim.Item, error) {
	v, err := q.versioner()
	if err != nil {
		return nil, err
	}
	kind := q.res.coll.kind
	versions, _, err := v.Versions(ctx, kind)
	if err != nil {
		return nil, storeError(err)
	}
	ids := sortedKeys(versions)
	var out []*pim.Item
	for len(ids) > 0 {
		n := min(len(ids), getBatch)
		items, err := q.st.Get(ctx, kind, ids[:n]...)
		if err != nil {
			return nil, storeError(err)
		}
		for _, it := range items {
			if it != nil {
				out = append(out, it)
			}
		}
		ids = ids[n:]
	}
	return out, nil
}

// put writes data as item p, as the request's If-Match / If-None-Match
// say: "*" in If-None-Match, only if there is none; a version in
// If-Match, only if the item is still at it. The version returned is
// the new one, "" when the store changed what it was sent (a vCard 4.0
// kept as 3.0, a UID added): the client then reads the item again.
// created tells a new item from a replaced one.
func (q *request) put(ctx context.Context, p string, data []byte, ifMatch, ifNoneMatch webdav.ConditionalMatch) (res resource, version string, created bool, err error) {
	res, err = q.object(p)
	if err != nil {
		return res, "", false, err
	}
	kind := res.coll.kind
	it := &pim.Item{ID: res.id, Data: data}
	v, err := q.versioner()
	if err != nil {
		return res, "", false, err
	}
	want := ""
	switch {
	case ifMatch.IsSet() && !ifMatch.IsWildcard():
		if want, err = ifMatch.ETag(); err != nil {
			return res, "", false, httpError(http.StatusBadRequest, "dav: If-Match: %v", err)
		}
	case ifNoneMatch.IsWildcard():
		// want "": only if there is none.
	default:
		// No condition, If-Match *, or If-None-Match of versions: the
		// write is at the version there is now, which it names.
		if want, err = q.currentVersion(ctx, v, kind, res.id); err != nil {
			return res, "", false, err
		}
		if ifMatch.IsWildcard() && want == "" {
			return res, "", false, httpError(http.StatusPreconditionFailed, "dav: no item %q to replace", res.name)
		}
		if ifNoneMatch.IsSet() && matches(string(ifNoneMatch), want) {
			return res, "", false, httpError(http.StatusPreconditionFailed, "dav: item %q is at a version If-None-Match names", res.name)
		}
	}
	err = v.PutVersion(ctx, kind, it, want)
	if errors.Is(err, pim.ErrVersionMismatch) && !ifMatch.IsSet() && !ifNoneMatch.IsSet() {
		// An unconditional PUT is the last writer: another writer came
		// in between; look once more and write over it.
		if want, err = q.currentVersion(ctx, v, kind, res.id); err == nil {
			err = v.PutVersion(ctx, kind, it, want)
		}
	}
	if err != nil {
		return res, "", false, storeError(err)
	}
	q.h.log().Info("DAV item stored", "user", q.user, "collection", res.coll.name, "item", res.id)
	if !bytes.Equal(it.Data, data) {
		return res, "", want == "", nil
	}
	return res, it.Version, want == "", nil
}

func (q *request) currentVersion(ctx context.Context, v pim.Versioner, kind pim.Kind, id string) (string, error) {
	versions, _, err := v.Versions(ctx, kind)
	if err != nil {
		return "", storeError(err)
	}
	return versions[id], nil
}

// remove deletes item p, only if it is still at the version of the
// request's If-Match when there is one.
func (q *request) remove(ctx context.Context, p string) error {
	res, err := q.object(p)
	if err != nil {
		return err
	}
	kind := res.coll.kind
	if c := conditionsOf(ctx); c.ifMatch.IsSet() && !c.ifMatch.IsWildcard() {
		want, err := c.ifMatch.ETag()
		if err != nil {
			return httpError(http.StatusBadRequest, "dav: If-Match: %v", err)
		}
		v, err := q.versioner()
		if err != nil {
			return err
		}
		if err := v.DeleteVersion(ctx, kind, res.id, want); err != nil {
			return storeError(err)
		}
	} else {
		missing, err := q.st.Delete(ctx, kind, res.id)
		if err != nil {
			return storeError(err)
		}
		if len(missing) > 0 {
			return httpError(http.StatusNotFound, "dav: no item %q", res.name)
		}
	}
	q.h.log().Info("DAV item deleted", "user", q.user, "collection", res.coll.name, "item", res.id)
	return nil
}

func (q *request) principal() string { return q.hrefs().principal(q.user) }

// cardBackend is go-webdav's CardDAV backend for one request.
type cardBackend struct{ q *request }

func (b *cardBackend) CurrentUserPrincipal(context.Context) (string, error) {
	return b.q.principal(), nil
}

func (b *cardBackend) AddressBookHomeSetPath(context.Context) (string, error) {
	return b.q.hrefs().home(b.q.user, homeContacts), nil
}

func (b *cardBackend) addressBook(c *collection) carddav.AddressBook {
	return carddav.AddressBook{Path: b.q.hrefs().collection(b.q.user, c), Name: c.display,
		SupportedAddressData: []carddav.AddressDataType{{ContentType: vcard.MIMEType, Version: "3.0"}, {ContentType: vcard.MIMEType, Version: "4.0"}}}
}

func (b *cardBackend) ListAddressBooks(context.Context) ([]carddav.AddressBook, error) {
	var out []carddav.AddressBook
	for i := range b.q.colls {
		if c := &b.q.colls[i]; c.comp == "" {
			out = append(out, b.addressBook(c))
		}
	}
	return out, nil
}

func (b *cardBackend) GetAddressBook(_ context.Context, p string) (*carddav.AddressBook, error) {
	if c := b.q.res.coll; c != nil && c.comp == "" {
		ab := b.addressBook(c)
		return &ab, nil
	}
	return nil, wd(httpError(http.StatusNotFound, "dav: no address book at %q", p))
}

func (b *cardBackend) CreateAddressBook(context.Context, *carddav.AddressBook) error {
	return wd(httpError(http.StatusForbidden, "dav: the address books are the mailbox's folders"))
}

func (b *cardBackend) DeleteAddressBook(context.Context, string) error {
	return wd(httpError(http.StatusForbidden, "dav: the address books are the mailbox's folders"))
}

func (b *cardBackend) addressObject(p string, it *pim.Item) (*carddav.AddressObject, error) {
	card, err := vcard.NewDecoder(bytes.NewReader(it.Data)).Decode()
	if err != nil {
		return nil, wd(httpError(http.StatusInternalServerError, "dav: stored item %q unreadable: %v", it.ID, err))
	}
	return &carddav.AddressObject{Path: p, ETag: it.Version, ContentLength: int64(len(it.Data)), Card: card}, nil
}

func (b *cardBackend) GetAddressObject(ctx context.Context, p string, _ *carddav.AddressDataRequest) (*carddav.AddressObject, error) {
	_, it, err := b.q.get(ctx, p)
	if err != nil {
		return nil, wd(err)
	}
	return b.addressObject(p, it)
}

func (b *cardBackend) ListAddressObjects(ctx context.Context, _ string, _ *carddav.AddressDataRequest) ([]carddav.AddressObject, error) {
	items, err := b.q.all(ctx)
	if err != nil {
		return nil, wd(err)
	}
	out := make([]carddav.AddressObject, 0, len(items))
	for _, it := range items {
		ao, err := b.addressObject(b.q.hrefs().object(b.q.user, b.q.res.coll, it.ID), it)
		if err != nil {
			b.q.h.log().Warn("DAV: item left out", "user", b.q.user, "item", it.ID, "err", err)
			continue
		}
		out = append(out, *ao)
	}
	return out, nil
}

func (b *cardBackend) QueryAddressObjects(ctx context.Context, p string, query *carddav.AddressBookQuery) ([]carddav.AddressObject, error) {
	all, err := b.ListAddressObjects(ctx, p, &query.DataRequest)
	if err != nil {
		return nil, wd(err)
	}
	var matched []carddav.AddressObject
	for _, ao := range all {
		if matchCard(query, ao.Card) {
			matched = append(matched, ao)
		}
	}
	// What is left for go-webdav: the properties asked for, the limit.
	return carddav.Filter(&carddav.AddressBookQuery{DataRequest: query.DataRequest, FilterTest: carddav.FilterAllOf, Limit: query.Limit}, matched)
}

// PutAddressObject is never reached: the front answers PUT itself
// (object.go).
func (b *cardBackend) PutAddressObject(context.Context, string, vcard.Card, *carddav.PutAddressObjectOptions) (*carddav.AddressObject, error) {
	return nil, webdav.NewHTTPError(http.StatusMethodNotAllowed, errors.New("dav: PUT is answered by the front"))
}

func (b *cardBackend) DeleteAddressObject(ctx context.Context, p string) error {
	return wd(b.q.remove(ctx, p))
}

// calBackend is go-webdav's CalDAV backend for one request.
type calBackend struct{ q *request }

func (b *calBackend) CurrentUserPrincipal(context.Context) (string, error) {
	return b.q.principal(), nil
}

func (b *calBackend) CalendarHomeSetPath(context.Context) (string, error) {
	return b.q.hrefs().home(b.q.user, homeCalendars), nil
}

func (b *calBackend) calendar(c *collection) caldav.Calendar {
	return caldav.Calendar{Path: b.q.hrefs().collection(b.q.user, c), Name: c.display, SupportedComponentSet: []string{c.comp}}
}

func (b *calBackend) CreateCalendar(context.Context, *caldav.Calendar) error {
	return wd(httpError(http.StatusForbidden, "dav: the calendars are the mailbox's folders"))
}

func (b *calBackend) ListCalendars(context.Context) ([]caldav.Calendar, error) {
	var out []caldav.Calendar
	for i := range b.q.colls {
		if c := &b.q.colls[i]; c.comp != "" {
			out = append(out, b.calendar(c))
		}
	}
	return out, nil
}

func (b *calBackend) GetCalendar(_ context.Context, p string) (*caldav.Calendar, error) {
	if c := b.q.res.coll; c != nil && c.comp != "" {
		cal := b.calendar(c)
		return &cal, nil
	}
	return nil, wd(httpError(http.StatusNotFound, "dav: no calendar at %q", p))
}

func (b *calBackend) calendarObject(p string, it *pim.Item) (*caldav.CalendarObject, error) {
	cal, err := ical.NewDecoder(bytes.NewReader(it.Data)).Decode()
	if err != nil {
		return nil, wd(httpError(http.StatusInternalServerError, "dav: stored item %q unreadable: %v", it.ID, err))
	}
	return &caldav.CalendarObject{Path: p, ETag: it.Version, ContentLength: int64(len(it.Data)), Data: cal}, nil
}

func (b *calBackend) GetCalendarObject(ctx context.Context, p string, _ *caldav.CalendarCompRequest) (*caldav.CalendarObject, error) {
	_, it, err := b.q.get(ctx, p)
	if err != nil {
		return nil, wd(err)
	}
	return b.calendarObject(p, it)
}

func (b *calBackend) ListCalendarObjects(ctx context.Context, _ string, _ *caldav.CalendarCompRequest) ([]caldav.CalendarObject, error) {
	items, err := b.q.all(ctx)
	if err != nil {
		return nil, wd(err)
	}
	out := make([]caldav.CalendarObject, 0, len(items))
	for _, it := range items {
		co, err := b.calendarObject(b.q.hrefs().object(b.q.user, b.q.res.coll, it.ID), it)
		if err != nil {
			b.q.h.log().Warn("DAV: item left out", "user", b.q.user, "item", it.ID, "err", err)
			continue
		}
		out = append(out, *co)
	}
	return out, nil
}

func (b *calBackend) QueryCalendarObjects(ctx context.Context, p string, query *caldav.CalendarQuery) ([]caldav.CalendarObject, error) {
	all, err := b.ListCalendarObjects(ctx, p, &query.CompRequest)
	if err != nil {
		return nil, wd(err)
	}
	out := all[:0]
	for _, co := range all {
		if co.Data != nil && matchCalendar(query.CompFilter, co.Data) {
			out = append(out, co)
		}
	}
	return out, nil
}

// PutCalendarObject is never reached: the front answers PUT itself
// (object.go).
func (b *calBackend) PutCalendarObject(context.Context, string, *ical.Calendar, *caldav.PutCalendarObjectOptions) (*caldav.CalendarObject, error) {
	return nil, webdav.NewHTTPError(http.StatusMethodNotAllowed, errors.New("dav: PUT is answered by the front"))
}

func (b *calBackend) DeleteCalendarObject(ctx context.Context, p string) error {
	return wd(b.q.remove(ctx, p))
}
