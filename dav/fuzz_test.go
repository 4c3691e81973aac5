package dav

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"syncml-imap/pim/memstore"
)

// FuzzNames checks that resource names and item IDs map onto each other
// exactly: the name a client chose is the one it reads back, and no ID
// is named with a "/".
func FuzzNames(f *testing.F) {
	for _, s := range []string{"abc.vcf", "Ann Example.vcf", "~x.ics", "~~eA.vcf", "mail/client@x", "", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, ext := range []string{".vcf", ".ics"} {
			if id, ok := idOf(s, ext); ok {
				if back := nameOf(id, ext); back != s {
					t.Fatalf("name %q → ID %q → %q", s, id, back)
				}
			}
			name := nameOf(s, ext)
			if strings.Contains(name, "/") {
				t.Fatalf("ID %q named %q", s, name)
			}
			if s != "" && len(s) <= 120 {
				if back, ok := idOf(name, ext); !ok || back != s {
					t.Fatalf("ID %q → %q → %q (%v)", s, name, back, ok)
				}
			}
		}
	})
}

// FuzzRequests sends PROPFIND and REPORT bodies to every level of the
// tree: whatever they hold, the answer is a status, never a panic.
func FuzzRequests(f *testing.F) {
	f.Add("PROPFIND", "/dav/u/contacts/default/", `<propfind xmlns="DAV:"><prop><getetag/><sync-token/></prop></propfind>`)
	f.Add("PROPFIND", "/dav/u/", `<propfind xmlns="DAV:"><propname/></propfind>`)
	f.Add("REPORT", "/dav/u/contacts/default/", `<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>`)
	f.Add("REPORT", "/dav/u/calendars/events/", `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20260101T000000Z" end="20270101T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`)
	f.Add("PUT", "/dav/u/contacts/default/x.vcf", "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\nEND:VCARD\r\n")
	acc := &memstore.Accounts{Password: "p"}
	h := &Handler{Auth: acc, Prefix: "/dav"}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t?#%") {
			return
		}
		r := httptest.NewRequest(http.MethodGet, "/", strings.NewReader(body))
		r.Method = method
		r.URL.Path = path
		r.Header.Set("Content-Type", "application/xml")
		if method == http.MethodPut {
			r.Header.Set("Content-Type", "text/vcard")
		}
		r.SetBasicAuth("u", "p")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code < 200 || w.Code > 599 {
			t.Fatalf("status %d", w.Code)
		}
	})
}
