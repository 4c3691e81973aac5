package dav

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// PROPFIND of the root, the principal, the home sets and the
// collections. go-webdav answers those of items.

// Namespaces of the properties served.
const (
	nsDAV  = "DAV:"
	nsCard = "urn:ietf:params:xml:ns:carddav"
	nsCal  = "urn:ietf:params:xml:ns:caldav"
	nsCS   = "http://calendarserver.org/ns/"
)

var prefixes = map[string]string{nsDAV: "d", nsCard: "card", nsCal: "cal", nsCS: "cs"}

// propfindReq is a PROPFIND body; no body is allprop.
type propfindReq struct {
	XMLName  xml.Name  `xml:"DAV: propfind"`
	AllProp  *struct{} `xml:"allprop"`
	PropName *struct{} `xml:"propname"`
	Prop     *propList `xml:"prop"`
}

type propList struct {
	Names []anyElement `xml:",any"`
}

type anyElement struct{ XMLName xml.Name }

func (l *propList) names() []xml.Name {
	if l == nil {
		return nil
	}
	out := make([]xml.Name, len(l.Names))
	for i, n := range l.Names {
		out[i] = n.XMLName
	}
	return out
}

// props are a resource's properties: name → inner XML (written with the
// prefixes of prefixes).
type props map[xml.Name]string

func dav(local string) xml.Name { return xml.Name{Space: nsDAV, Local: local} }

// multistatus writes a 207 response.
type multistatus struct {
	bytes.Buffer
}

func newMultistatus() *multistatus {
	m := &multistatus{}
	m.WriteString(xml.Header + `<d:multistatus xmlns:d="DAV:" xmlns:card="` + nsCard + `" xmlns:cal="` + nsCal + `" xmlns:cs="` + nsCS + `">`)
	return m
}

func (m *multistatus) text(s string) { xml.EscapeText(m, []byte(s)) }

func (m *multistatus) element(n xml.Name, inner string) {
	if p, ok := prefixes[n.Space]; ok {
		m.WriteString("<" + p + ":" + n.Local)
		if inner == "" {
			m.WriteString("/>")
			return
		}
		m.WriteString(">" + inner + "</" + p + ":" + n.Local + ">")
		return
	}
	m.WriteString("<x:" + n.Local + ` xmlns:x="`)
	m.text(n.Space)
	m.WriteString(`"/>`)
}

// response writes href's properties that req asks for (all of them for
// allprop, their names for propname), those it lacks as 404.
func (m *multistatus) response(href string, have props, req *propfindReq) {
	m.WriteString("<d:response><d:href>")
	m.text(escape(href))
	m.WriteString("</d:href>")
	var found, missing []xml.Name
	switch {
	case req == nil || req.AllProp != nil || req.PropName != nil:
		for n := range have {
			found = append(found, n)
		}
		slices.SortFunc(found, func(a, b xml.Name) int { return strings.Compare(a.Space+a.Local, b.Space+b.Local) })
	default:
		for _, n := range req.Prop.names() {
			if _, ok := have[n]; ok {
				found = append(found, n)
			} else {
				missing = append(missing, n)
			}
		}
	}
	if len(found) > 0 {
		m.WriteString("<d:propstat><d:prop>")
		for _, n := range found {
			if req != nil && req.PropName != nil {
				m.element(n, "")
			} else {
				m.element(n, have[n])
			}
		}
		m.WriteString("</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>")
	}
	if len(missing) > 0 {
		m.WriteString("<d:propstat><d:prop>")
		for _, n := range missing {
			m.element(n, "")
		}
		m.WriteString("</d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>")
	}
	m.WriteString("</d:response>")
}

// gone writes a member removed since a sync token.
func (m *multistatus) gone(href string) {
	m.WriteString("<d:response><d:href>")
	m.text(escape(href))
	m.WriteString("</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>")
}

func (m *multistatus) send(w http.ResponseWriter, syncToken string) {
	if syncToken != "" {
		m.WriteString("<d:sync-token>")
		m.text(syncToken)
		m.WriteString("</d:sync-token>")
	}
	m.WriteString("</d:multistatus>")
	w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusMultiStatus)
	w.Write(m.Bytes())
}

func hrefXML(p string) string {
	var b strings.Builder
	b.WriteString("<d:href>")
	xml.EscapeText(&b, []byte(escape(p)))
	b.WriteString("</d:href>")
	return b.String()
}

func textXML(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// readPropfind decodes the request's body (none: allprop).
func (q *request) readPropfind() (*propfindReq, bool) {
	body, err := io.ReadAll(io.LimitReader(q.r.Body, maxRequestBody+1))
	if err != nil || len(body) > maxRequestBody {
		http.Error(q.w, "request body unreadable or too large", http.StatusBadRequest)
		return nil, false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return &propfindReq{AllProp: &struct{}{}}, true
	}
	var req propfindReq
	if err := xml.Unmarshal(body, &req); err != nil {
		http.Error(q.w, "not a PROPFIND body: "+err.Error(), http.StatusBadRequest)
		return nil, false
	}
	if req.AllProp == nil && req.PropName == nil && req.Prop == nil {
		http.Error(q.w, "PROPFIND without prop, allprop or propname", http.StatusBadRequest)
		return nil, false
	}
	return &req, true
}

// depth is the request's Depth: 0 or 1 (infinity is answered as 1).
func (q *request) depth() int {
	if q.r.Header.Get("Depth") == "0" {
		return 0
	}
	return 1
}

func (q *request) propfind() {
	req, ok := q.readPropfind()
	if !ok {
		return
	}
	m := newMultistatus()
	h, user := q.hrefs(), q.user
	switch q.res.level {
	case levelRoot:
		m.response(h.root(), q.commonProps(collectionType("")), req)
	case levelPrincipal:
		m.response(h.principal(user), q.principalProps(), req)
		if q.depth() > 0 {
			m.response(h.home(user, homeContacts), q.commonProps(collectionType("")), req)
			m.response(h.home(user, homeCalendars), q.commonProps(collectionType("")), req)
		}
	case levelHome:
		m.response(h.home(user, q.res.home), q.commonProps(collectionType("")), req)
		if q.depth() > 0 {
			for i := range q.colls {
				if c := &q.colls[i]; c.home == q.res.home {
					p, err := q.collectionProps(c, wants(req, syncTokenName, ctagName))
					if err != nil {
						q.fail(err)
						return
					}
					m.response(h.collection(user, c), p, req)
				}
			}
		}
	case levelCollection:
		c := q.res.coll
		p, err := q.collectionProps(c, wants(req, syncTokenName, ctagName))
		if err != nil {
			q.fail(err)
			return
		}
		m.response(h.collection(user, c), p, req)
		if q.depth() > 0 {
			v, err := q.versioner()
			if err != nil {
				q.fail(err)
				return
			}
			versions, _, err := v.Versions(q.r.Context(), c.kind)
			if err != nil {
				q.fail(storeError(err))
				return
			}
			for _, id := range sortedKeys(versions) {
				m.response(h.object(user, c, id), memberProps(c, versions[id]), req)
			}
		}
	}
	m.send(q.w, "")
}

var (
	syncTokenName = dav("sync-token")
	ctagName      = xml.Name{Space: nsCS, Local: "getctag"}
)

// wants reports whether req asks for any of names (allprop does not:
// RFC 6578 leaves sync-token out of allprop, and computing it costs).
func wants(req *propfindReq, names ...xml.Name) bool {
	for _, n := range req.Prop.names() {
		if slices.Contains(names, n) {
			return true
		}
	}
	return false
}

func collectionType(extra string) string { return "<d:collection/>" + extra }

// commonProps are those of every collection of the tree.
func (q *request) commonProps(resourceType string) props {
	principal := hrefXML(q.hrefs().principal(q.user))
	return props{
		dav("resourcetype"):           resourceType,
		dav("current-user-principal"): principal,
		dav("owner"):                  principal,
		dav("current-user-privilege-set"): "<d:privilege><d:read/></d:privilege><d:privilege><d:write/></d:privilege>" +
			"<d:privilege><d:write-content/></d:privilege><d:privilege><d:bind/></d:privilege><d:privilege><d:unbind/></d:privilege>",
	}
}

func (q *request) principalProps() props {
	h := q.hrefs()
	p := q.commonProps("<d:principal/>")
	p[dav("displayname")] = textXML(q.user)
	p[dav("principal-URL")] = hrefXML(h.principal(q.user))
	p[xml.Name{Space: nsCard, Local: "addressbook-home-set"}] = hrefXML(h.home(q.user, homeContacts))
	p[xml.Name{Space: nsCal, Local: "calendar-home-set"}] = hrefXML(h.home(q.user, homeCalendars))
	if strings.Contains(q.user, "@") {
		p[xml.Name{Space: nsCal, Local: "calendar-user-address-set"}] = hrefXML("mailto:" + q.user)
	}
	return p
}

// collectionProps are a collection's; withToken: its sync token too
// (getctag is the same token).
func (q *request) collectionProps(c *collection, withToken bool) (props, error) {
	var p props
	var reports string
	if c.comp == "" {
		p = q.commonProps(collectionType("<card:addressbook/>"))
		p[xml.Name{Space: nsCard, Local: "supported-address-data"}] = `<card:address-data-type content-type="text/vcard" version="3.0"/><card:address-data-type content-type="text/vcard" version="4.0"/>`
		reports = "addressbook-query addressbook-multiget"
	} else {
		p = q.commonProps(collectionType("<cal:calendar/>"))
		p[xml.Name{Space: nsCal, Local: "supported-calendar-component-set"}] = `<cal:comp name="` + c.comp + `"/>`
		p[xml.Name{Space: nsCal, Local: "supported-calendar-data"}] = `<cal:calendar-data content-type="text/calendar" version="2.0"/>`
		reports = "calendar-query calendar-multiget"
	}
	prefix := map[bool]string{true: "card", false: "cal"}[c.comp == ""]
	var sr strings.Builder
	sr.WriteString("<d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report>")
	for _, r := range strings.Fields(reports) {
		sr.WriteString("<d:supported-report><d:report><" + prefix + ":" + r + "/></d:report></d:supported-report>")
	}
	p[dav("supported-report-set")] = sr.String()
	p[dav("displayname")] = textXML(c.display)
	if withToken {
		tok, err := q.currentToken(c)
		if err != nil {
			return nil, err
		}
		p[syncTokenName] = textXML(tok)
		p[ctagName] = textXML(tok)
	}
	return p, nil
}

// memberProps are those of an item listed in its collection.
func memberProps(c *collection, version string) props {
	return props{
		dav("resourcetype"):   "",
		dav("getetag"):        textXML(etag(version)),
		dav("getcontenttype"): textXML(c.contentType()),
	}
}

// fail answers err (an HTTP error of go-webdav's kind, or any).
func (q *request) fail(err error) {
	code := http.StatusInternalServerError
	if s, ok := statusOf(err); ok {
		code = s
	}
	if code >= 500 {
		q.h.log().Error("DAV request failed", "user", q.user, "method", q.r.Method, "path", q.r.URL.Path, "err", err)
	}
	msg := err.Error()
	if code == http.StatusServiceUnavailable {
		q.w.Header().Set("Retry-After", fmt.Sprint(int(q.h.retryAfter().Seconds())))
		msg = "the mail server cannot answer now; try again later"
	} else if code >= 500 {
		msg = http.StatusText(code) // the details are in the log
	}
	http.Error(q.w, msg, code)
}
