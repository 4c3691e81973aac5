package dav

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav/caldav"
)

// GET, HEAD and PUT of an item are answered here rather than by
// go-webdav, which re-encodes what it serves, answers every PUT with 201
// and knows no conditional GET: a client gets the stored bytes, 304 for
// the version it has, 201 for a new item and 204 for a replaced one.

// maxObject bounds the body of a PUT: a contact with a photo, an event
// with attachments.
const maxObject = 16 << 20

// etag is an item version as an HTTP entity tag.
func etag(version string) string { return strconv.Quote(version) }

// matches reports whether the If-Match or If-None-Match header value h
// names version ("*": any existing version).
func matches(h, version string) bool {
	for _, t := range strings.Split(h, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" && version != "" || version != "" && t == etag(version) {
			return true
		}
	}
	return false
}

// getObject answers GET and HEAD of an item.
func (q *request) getObject() {
	w, r := q.w, q.r
	_, it, err := q.get(r.Context(), q.r.URL.Path)
	if err != nil {
		q.fail(err)
		return
	}
	if h := r.Header.Get("If-Match"); h != "" && !matches(h, it.Version) {
		http.Error(w, "the item is at another version", http.StatusPreconditionFailed)
		return
	}
	if it.Version != "" {
		w.Header().Set("ETag", etag(it.Version))
	}
	if h := r.Header.Get("If-None-Match"); h != "" && matches(h, it.Version) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", q.res.coll.contentType())
	w.Header().Set("Content-Length", strconv.Itoa(len(it.Data)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(it.Data)
}

// putObject answers PUT of an item: the body is checked to be one
// object of the collection's kind and stored as sent (the store may
// convert it to its form: the answer then carries no ETag, and the
// client reads the item again).
func (q *request) putObject() {
	w, r := q.w, q.r
	data, err := io.ReadAll(io.LimitReader(r.Body, maxObject+1))
	if err != nil {
		http.Error(w, "request body unreadable", http.StatusBadRequest)
		return
	}
	if len(data) > maxObject {
		http.Error(w, fmt.Sprintf("an item may have at most %d bytes", maxObject), http.StatusRequestEntityTooLarge)
		return
	}
	if err := q.checkObject(r.Header.Get("Content-Type"), data); err != nil {
		q.fail(err)
		return
	}
	c := conditionsOf(r.Context())
	res, version, created, err := q.put(r.Context(), r.URL.Path, data, c.ifMatch, c.ifNoneMatch)
	if err != nil {
		q.fail(err)
		return
	}
	if version != "" {
		w.Header().Set("ETag", etag(version))
	}
	if created {
		w.Header().Set("Location", q.hrefs().object(q.user, res.coll, res.id))
		w.WriteHeader(http.StatusCreated)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkObject tells whether data of media type ct is one object the
// request's collection holds: a vCard in an address book; in a calendar,
// an iCalendar object of one UID whose components are the calendar's
// (RFC 4791, 4.1 and 5.3.2.1; RFC 6352, 5.1 and 6.3.2.1).
func (q *request) checkObject(ct string, data []byte) error {
	coll := q.res.coll
	mt, _, _ := mime.ParseMediaType(ct)
	if coll.comp == "" {
		switch mt {
		case "", "text/vcard", "text/x-vcard", "text/directory", "application/octet-stream":
		default:
			return httpError(http.StatusUnsupportedMediaType, "dav: an address book holds text/vcard, not %s", mt)
		}
		card, err := vcard.NewDecoder(bytes.NewReader(data)).Decode()
		if err != nil || len(card) == 0 {
			return httpError(http.StatusBadRequest, "dav: not a vCard (valid-address-data): %v", err)
		}
		return nil // more than one card: the store refuses it
	}
	switch mt {
	case "", "text/calendar", "application/octet-stream":
	default:
		return httpError(http.StatusUnsupportedMediaType, "dav: a calendar holds text/calendar, not %s", mt)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		return httpError(http.StatusBadRequest, "dav: not an iCalendar object (valid-calendar-data): %v", err)
	}
	comp, _, err := caldav.ValidateCalendarObject(cal)
	if err != nil {
		return httpError(http.StatusBadRequest, "dav: %v (valid-calendar-object-resource)", err)
	}
	if comp != coll.comp {
		return httpError(http.StatusForbidden, "dav: this calendar holds %s, not %s (supported-calendar-component)", coll.comp, comp)
	}
	return nil
}
