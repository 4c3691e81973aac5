package integration

// End-to-end tests of the CalDAV/CardDAV front with real DAV clients from
// Debian: vdirsyncer (TestDAVVdirsyncer, TestDAVCrossSyncML),
// python3-caldav (TestDAVCaldavQueries, script in davclient/), plus raw
// HTTP (TestDAVProtocol). (litmus is not run: it needs a general WebDAV
// collection it can MKCOL in, which a tree of mail folders is not.) Each test runs a real
// `syncml-imap serve` process with a [dav] section in its configuration,
// in front of a real Dovecot on 127.0.0.1, so that the DAV front is the
// one the daemon mounts on its listener, next to SyncML.
//
// The contract the tests hold the server to:
//   - /.well-known/carddav and /.well-known/caldav: 301 to /dav/.
//   - PROPFIND /dav/: DAV:current-user-principal /dav/<user>/; on the
//     principal, addressbook-home-set /dav/<user>/contacts/ and
//     calendar-home-set /dav/<user>/calendars/.
//   - /dav/<user>/contacts/default/ (the Contacts folder; sub-folders as
//     /dav/<user>/contacts/<name>/), /dav/<user>/calendars/events/
//     (Calendar, VEVENT), /dav/<user>/calendars/tasks/ (Tasks, VTODO).
//   - HTTP Basic against the IMAP server; 401 for a wrong password; another
//     user's tree 403 or 404; ETag, If-Match, If-None-Match (412);
//     sync-collection (RFC 6578).

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"syncml-imap/imapstore"
	"syncml-imap/integration/syncevo"
	"syncml-imap/internal/dovetest"
)

// davEnv is one account on a real Dovecot (plus a second one, dave, for
// the isolation checks) and a syncml-imap serve process serving SyncML at
// /syncml and DAV at /dav/.
type davEnv struct {
	*env
	base       string // http://127.0.0.1:PORT
	otherUser  string
	otherPass  string
	daemon     *daemonProc
	httpClient *http.Client
}

// needTool fails (CI=true) or skips the test when a client program is
// missing; test.sh installs them.
func needTool(t *testing.T, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	msg := what + " is not installed (test.sh installs it)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI=true, so this is a failure rather than a skip")
	}
	t.Skip(msg)
}

func haveCommand(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// newDAVEnv starts Dovecot and the daemon; with a SyncML client when
// withClient is set.
func newDAVEnv(t *testing.T, withClient bool) *davEnv {
	t.Helper()
	bin := buildDaemon(t, t.TempDir())
	dove := dovetest.Start(t, nil)
	e := &env{t: t, dove: dove, user: "carol@example.org", pass: "carol-pw"}
	dove.AddUser(t, e.user, e.pass)
	de := &davEnv{env: e, otherUser: "dave@example.org", otherPass: "dave-pw"}
	dove.AddUser(t, de.otherUser, de.otherPass)
	dir := t.TempDir()
	addr := freeAddr(t)
	de.base = "http://" + addr
	e.url = de.base + "/syncml"
	conf := fmt.Sprintf("[imap]\naddress = %q\ntls = \"none\"\n\n[http]\nlisten = %q\npath = \"/syncml\"\n\n"+
		"[dav]\nenabled = true\npath = \"/dav/\"\n\n[auth]\nmax_failures = 0\n\n[log]\nlevel = \"debug\"\n", dove.Addr, addr)
	confPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	de.daemon = startDaemon(t, bin, confPath, addr, filepath.Join(dir, "daemon.log"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log (last 40 lines):\n%s", lastLines(de.daemon.logText(), 40))
		}
	})
	de.httpClient = &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if withClient {
		e.client = syncevo.New(t, &syncevo.Options{
			URL: e.url, Username: e.user, Password: e.pass, DeviceID: "dav-cross-phone", RefreshSync: true,
			Sources: []syncevo.Source{
				{Name: "addressbook", URI: "contacts", Format: "text/vcard"},
				{Name: "calendar", URI: "calendar", Format: "text/calendar"},
			},
		})
	}
	return de
}

// userPath is /dav/<user>/ followed by rest.
func (de *davEnv) userPath(user, rest string) string {
	return "/dav/" + user + "/" + rest
}

func (de *davEnv) contactsPath() string { return de.userPath(de.user, "contacts/default/") }
func (de *davEnv) eventsPath() string   { return de.userPath(de.user, "calendars/events/") }
func (de *davEnv) tasksPath() string    { return de.userPath(de.user, "calendars/tasks/") }

// davResponse is an answer, read whole.
type davResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *davResponse) String() string {
	return fmt.Sprintf("%d %s\n%s", r.Status, http.StatusText(r.Status), r.Body)
}

// do sends one request as carol (user "" for none); hdr are pairs.
func (de *davEnv) do(t *testing.T, method, path string, body string, hdr ...string) *davResponse {
	t.Helper()
	return de.doAs(t, de.user, de.pass, method, path, body, hdr...)
}

func (de *davEnv) doAs(t *testing.T, user, pass, method, path string, body string, hdr ...string) *davResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = de.base + path
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	}
	resp, err := de.httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return &davResponse{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// --- multistatus ---

// xnode is any XML element, namespaces resolved.
type xnode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Kids    []xnode    `xml:",any"`
}

func (n *xnode) attr(local string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// find returns the first descendant (or self) with the name.
func (n *xnode) find(space, local string) *xnode {
	if n == nil {
		return nil
	}
	if n.XMLName.Space == space && n.XMLName.Local == local {
		return n
	}
	for i := range n.Kids {
		if f := n.Kids[i].find(space, local); f != nil {
			return f
		}
	}
	return nil
}

func (n *xnode) findAll(space, local string, out []*xnode) []*xnode {
	if n == nil {
		return out
	}
	if n.XMLName.Space == space && n.XMLName.Local == local {
		out = append(out, n)
	}
	for i := range n.Kids {
		out = n.Kids[i].findAll(space, local, out)
	}
	return out
}

func (n *xnode) has(space, local string) bool { return n.find(space, local) != nil }

// text is the trimmed character data of the node.
func (n *xnode) text() string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.Text)
}

const (
	nsDAV     = "DAV:"
	nsCalDAV  = "urn:ietf:params:xml:ns:caldav"
	nsCardDAV = "urn:ietf:params:xml:ns:carddav"
	nsCS      = "http://calendarserver.org/ns/"
)

// msResp is one DAV:response of a multistatus: its href (unescaped), its
// own status (sync-collection's removed members), and the properties
// found (in a 200 propstat).
type msResp struct {
	Href   string
	Status string
	Props  map[string]*xnode // "ns local" -> the property element
}

func (r *msResp) prop(space, local string) *xnode { return r.Props[space+" "+local] }

// multistatus parses a 207 answer.
func multistatus(t *testing.T, r *davResponse) []*msResp {
	t.Helper()
	if r.Status != http.StatusMultiStatus {
		t.Fatalf("want 207 Multi-Status, got %s", r)
	}
	var root xnode
	if err := xml.Unmarshal(r.Body, &root); err != nil {
		t.Fatalf("multistatus is not XML: %v\n%s", err, r.Body)
	}
	if root.XMLName.Space != nsDAV || root.XMLName.Local != "multistatus" {
		t.Fatalf("root element is %v, want DAV:multistatus\n%s", root.XMLName, r.Body)
	}
	var out []*msResp
	for i := range root.Kids {
		k := &root.Kids[i]
		if k.XMLName.Space != nsDAV || k.XMLName.Local != "response" {
			continue
		}
		m := &msResp{Props: map[string]*xnode{}}
		for j := range k.Kids {
			c := &k.Kids[j]
			switch {
			case c.XMLName.Space == nsDAV && c.XMLName.Local == "href":
				m.Href = unescapePath(c.text())
			case c.XMLName.Space == nsDAV && c.XMLName.Local == "status":
				m.Status = c.text()
			case c.XMLName.Space == nsDAV && c.XMLName.Local == "propstat":
				if st := c.find(nsDAV, "status").text(); !strings.Contains(st, " 200 ") {
					continue
				}
				if p := c.find(nsDAV, "prop"); p != nil {
					for l := range p.Kids {
						m.Props[p.Kids[l].XMLName.Space+" "+p.Kids[l].XMLName.Local] = &p.Kids[l]
					}
				}
			}
		}
		out = append(out, m)
	}
	return out
}

// syncToken is the DAV:sync-token of a sync-collection answer.
func syncTokenOf(t *testing.T, r *davResponse) string {
	t.Helper()
	var root xnode
	if err := xml.Unmarshal(r.Body, &root); err != nil {
		t.Fatalf("not XML: %v\n%s", err, r.Body)
	}
	for i := range root.Kids {
		if root.Kids[i].XMLName.Space == nsDAV && root.Kids[i].XMLName.Local == "sync-token" {
			return root.Kids[i].text()
		}
	}
	t.Fatalf("no DAV:sync-token at the top of the multistatus:\n%s", r.Body)
	return ""
}

// unescapePath makes an href comparable: the path only (an absolute URL
// loses scheme and host), percent-escapes undone (%40 and @ are the same).
func unescapePath(href string) string {
	if u, err := url.Parse(href); err == nil {
		if u.Host != "" {
			href = u.EscapedPath()
		}
	}
	if p, err := url.PathUnescape(href); err == nil {
		return p
	}
	return href
}

func byHref(rs []*msResp) map[string]*msResp {
	m := map[string]*msResp{}
	for _, r := range rs {
		m[r.Href] = r
	}
	return m
}

const propfindAll = `<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/">
  <d:prop>
    <d:resourcetype/><d:displayname/><d:getetag/><d:getcontenttype/><d:sync-token/><cs:getctag/>
    <d:current-user-principal/><c:calendar-home-set/><card:addressbook-home-set/>
    <c:supported-calendar-component-set/><d:supported-report-set/>
  </d:prop>
</d:propfind>`

func (de *davEnv) propfind(t *testing.T, path, depth string) []*msResp {
	t.Helper()
	return multistatus(t, de.do(t, "PROPFIND", path, propfindAll, "Depth", depth))
}

// members lists the object hrefs (not the collection) of a Depth 1
// PROPFIND on a collection.
func (de *davEnv) members(t *testing.T, coll string) map[string]*msResp {
	t.Helper()
	out := map[string]*msResp{}
	for _, r := range de.propfind(t, coll, "1") {
		if strings.TrimSuffix(r.Href, "/") == strings.TrimSuffix(coll, "/") {
			continue
		}
		out[r.Href] = r
	}
	return out
}

func syncCollectionBody(token string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<d:sync-collection xmlns:d="DAV:">
  <d:sync-token>` + token + `</d:sync-token>
  <d:sync-level>1</d:sync-level>
  <d:prop><d:getetag/></d:prop>
</d:sync-collection>`
}

// --- mailbox checks ---

// davCard is a contact with a UID, so that DAV clients (vdirsyncer
// names its files by UID) and the mailbox agree on its identity.
func davCard(uid, name, note string) []byte {
	return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + name + "\r\nN:" + name + ";;;;\r\n" +
		"EMAIL;TYPE=INTERNET:" + strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.org\r\nNOTE:" + note + "\r\nEND:VCARD\r\n")
}

func davEvent(uid, summary, start string, extra ...string) []byte {
	st, err := time.Parse("20060102T150405Z", start)
	if err != nil {
		panic(err)
	}
	x := ""
	for _, l := range extra {
		x += l + "\r\n"
	}
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//syncml-imap dav test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid + "\r\n" +
		"DTSTAMP:20260101T000000Z\r\nDTSTART:" + start + "\r\nDTEND:" + st.Add(time.Hour).Format("20060102T150405Z") + "\r\n" +
		"SUMMARY:" + summary + "\r\n" + x + "END:VEVENT\r\nEND:VCALENDAR\r\n")
}

func davTodo(uid, summary string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//syncml-imap dav test//EN\r\nBEGIN:VTODO\r\nUID:" + uid + "\r\n" +
		"DTSTAMP:20260101T000000Z\r\nDUE:20270115T170000Z\r\nSUMMARY:" + summary + "\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")
}

// put stores items in the mailbox as a mail client would.
func (de *davEnv) put(t *testing.T, kind imapstore.Kind, data ...[]byte) {
	t.Helper()
	var items []*imapstore.Item
	for _, d := range data {
		items = append(items, &imapstore.Item{Data: d})
	}
	if err := de.account().Put(context.Background(), kind, items...); err != nil {
		t.Fatal(err)
	}
}

// boxID finds the ID of the one mailbox item containing text.
func (de *davEnv) boxID(t *testing.T, kind imapstore.Kind, text string) string {
	t.Helper()
	var ids []string
	for id, d := range de.mailbox(kind) {
		if bytes.Contains(unfoldBytes(d), []byte(text)) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%s: %d mailbox items contain %q, want 1", kind, len(ids), text)
	}
	return ids[0]
}

func unfoldBytes(d []byte) []byte {
	d = bytes.ReplaceAll(d, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(d, []byte("\n "), nil)
}

// checkBox asserts the kind's mailbox items: exactly want items, each of
// the texts in has in exactly one item, none of the texts in hasNot, and
// no two items alike.
func (de *davEnv) checkBox(t *testing.T, step string, kind imapstore.Kind, want int, has, hasNot []string) {
	t.Helper()
	box := de.mailbox(kind)
	var all []string
	for _, d := range box {
		all = append(all, string(unfoldBytes(d)))
	}
	dump := func() string { return strings.Join(fieldSet(box), "\n") }
	if len(box) != want {
		t.Errorf("%s: %d %s items in the mailbox, want %d:\n%s", step, len(box), kind, want, dump())
	}
	for _, h := range has {
		n := 0
		for _, a := range all {
			if strings.Contains(a, h) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %q in %d %s items of the mailbox, want 1:\n%s", step, h, n, kind, dump())
		}
	}
	for _, h := range hasNot {
		for _, a := range all {
			if strings.Contains(a, h) {
				t.Errorf("%s: %q still in the mailbox's %s:\n%s", step, h, kind, dump())
				break
			}
		}
	}
	set := fieldSet(box)
	for i := 1; i < len(set); i++ {
		if set[i] == set[i-1] {
			t.Errorf("%s: an item is doubled in the mailbox's %s: %s", step, kind, set[i])
		}
	}
	for _, a := range all {
		if kind.Base() == imapstore.KindContacts && !strings.Contains(a, "VERSION:3.0") {
			t.Errorf("%s: a contact not stored as vCard 3.0:\n%s", step, a)
		}
		if kind.Base() != imapstore.KindContacts && !strings.Contains(a, "VERSION:2.0") {
			t.Errorf("%s: a %s item not stored as iCalendar 2.0:\n%s", step, kind, a)
		}
	}
}

// --- vdirsyncer ---

// vdir is one vdirsyncer setup: a carddav pair "contacts" and a caldav
// pair "calendars" against the bare server URL, local filesystem
// storages below Dir.
type vdir struct {
	Dir, conf string
	env       []string
}

func newVdir(t *testing.T, de *davEnv, pairs ...string) *vdir {
	t.Helper()
	needTool(t, "vdirsyncer (Debian package vdirsyncer)", haveCommand("vdirsyncer"))
	v := &vdir{Dir: t.TempDir()}
	v.conf = filepath.Join(v.Dir, "config")
	var b strings.Builder
	fmt.Fprintf(&b, "[general]\nstatus_path = %q\n\n", filepath.Join(v.Dir, "status"))
	for _, p := range pairs {
		typ, ext := "carddav", ".vcf"
		if p == "calendars" {
			typ, ext = "caldav", ".ics"
		}
		fmt.Fprintf(&b, "[pair %s]\na = \"%s_local\"\nb = \"%s_remote\"\ncollections = [\"from b\"]\nconflict_resolution = \"b wins\"\n\n", p, p, p)
		fmt.Fprintf(&b, "[storage %s_local]\ntype = \"filesystem\"\npath = %q\nfileext = %q\n\n", p, filepath.Join(v.Dir, p), ext)
		fmt.Fprintf(&b, "[storage %s_remote]\ntype = %q\nurl = %q\nusername = %q\npassword = %q\n\n", p, typ, de.base+"/", de.user, de.pass)
	}
	if err := os.WriteFile(v.conf, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		os.MkdirAll(filepath.Join(v.Dir, p), 0o700)
	}
	v.env = append(os.Environ(), "HOME="+v.Dir, "XDG_CONFIG_HOME="+filepath.Join(v.Dir, ".config"),
		"VDIRSYNCER_CONFIG="+v.conf, "LANG=C.UTF-8", "LC_ALL=C.UTF-8")
	return v
}

// run runs vdirsyncer with args, answering yes to every question; it
// fails the test when vdirsyncer does.
func (v *vdir) run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "vdirsyncer", append([]string{"--config", v.conf}, args...)...)
	cmd.Env = v.env
	cmd.Dir = v.Dir
	cmd.Stdin = strings.NewReader(strings.Repeat("y\n", 50))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vdirsyncer %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// sync runs `vdirsyncer sync` and returns its output; the lines saying
// what it transferred are counted by transfers.
func (v *vdir) sync(t *testing.T) string {
	t.Helper()
	out := v.run(t, "sync")
	t.Logf("vdirsyncer sync:\n%s", out)
	if strings.Contains(out, "error:") || strings.Contains(out, "Traceback") {
		t.Errorf("vdirsyncer sync reported errors:\n%s", out)
	}
	return out
}

var transferLine = regexp.MustCompile(`(?m)^.*(Copying \((uploading|updating)\) item|Deleting item|Doing conflict resolution).*$`)

func transfers(out string) []string { return transferLine.FindAllString(out, -1) }

// files reads the local items of one collection of a pair.
func (v *vdir) files(t *testing.T, pair, coll string) map[string][]byte {
	t.Helper()
	dir := filepath.Join(v.Dir, pair, coll)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("vdirsyncer's local collection %s/%s: %v", pair, coll, err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			d, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = d
		}
	}
	return out
}

// fileWith is the name of the one local file containing text.
func (v *vdir) fileWith(t *testing.T, pair, coll, text string) string {
	t.Helper()
	var names []string
	for n, d := range v.files(t, pair, coll) {
		if bytes.Contains(unfoldBytes(d), []byte(text)) {
			names = append(names, n)
		}
	}
	if len(names) != 1 {
		t.Fatalf("%s/%s: %d local files contain %q, want 1", pair, coll, len(names), text)
	}
	return names[0]
}

// write replaces or adds a local file (new inode and mtime, as an editor
// saving it would).
func (v *vdir) write(t *testing.T, pair, coll, name string, data []byte) {
	t.Helper()
	dir := filepath.Join(v.Dir, pair, coll)
	tmp := filepath.Join(dir, ".tmp-"+name)
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func (v *vdir) remove(t *testing.T, pair, coll, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(v.Dir, pair, coll, name)); err != nil {
		t.Fatal(err)
	}
}

// checkFiles asserts a local collection: want files, each text of has in
// exactly one, none of hasNot.
func (v *vdir) checkFiles(t *testing.T, step, pair, coll string, want int, has, hasNot []string) {
	t.Helper()
	files := v.files(t, pair, coll)
	var all []string
	for _, d := range files {
		all = append(all, string(unfoldBytes(d)))
	}
	dump := func() string { return strings.Join(fieldSet(files), "\n") }
	if len(files) != want {
		t.Errorf("%s: %d files in vdirsyncer's %s/%s, want %d:\n%s", step, len(files), pair, coll, want, dump())
	}
	for _, h := range has {
		n := 0
		for _, a := range all {
			if strings.Contains(a, h) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %q in %d of vdirsyncer's %s/%s files, want 1:\n%s", step, h, n, pair, coll, dump())
		}
	}
	for _, h := range hasNot {
		for _, a := range all {
			if strings.Contains(a, h) {
				t.Errorf("%s: %q still in vdirsyncer's %s/%s:\n%s", step, h, pair, coll, dump())
				break
			}
		}
	}
}

// replaceLine changes the first line starting with prefix (after
// unfolding) to prefix+value.
func replaceLine(data []byte, prefix, value string) []byte {
	lines := strings.Split(strings.ReplaceAll(string(unfoldBytes(data)), "\r", ""), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = prefix + value
			break
		}
	}
	return []byte(strings.Join(lines, "\r\n"))
}

// TestDAVVdirsyncer: vdirsyncer, given only the bare server URL, discovers
// the address book and both calendars, brings down what the mailbox
// holds, sends local adds, edits and deletes up, brings mailbox changes
// down, and a sync with nothing changed transfers nothing.
func TestDAVVdirsyncer(t *testing.T) {
	de := newDAVEnv(t, false)
	de.put(t, imapstore.KindContacts,
		davCard("vd-c1", "Anna Alpha", "seeded"), davCard("vd-c2", "Bert Beta", "seeded"), davCard("vd-c3", "Cora Gamma", "seeded"))
	de.put(t, imapstore.KindCalendar,
		davEvent("vd-e1", "Kickoff", "20270301T090000Z"), davEvent("vd-e2", "Review", "20270302T090000Z"),
		davEvent("vd-e3", "Retro", "20270303T090000Z"))
	de.put(t, imapstore.KindTasks, davTodo("vd-t1", "Write report"), davTodo("vd-t2", "File taxes"))

	v := newVdir(t, de, "contacts", "calendars")
	out := v.run(t, "discover")
	t.Logf("vdirsyncer discover:\n%s", out)
	for _, want := range []string{"default", "events", "tasks"} {
		if !strings.Contains(out, want) {
			t.Errorf("discover did not find the collection %q:\n%s", want, out)
		}
	}

	t.Run("first sync brings the mailbox down", func(t *testing.T) {
		v.sync(t)
		v.checkFiles(t, "first sync", "contacts", "default", 3, []string{"FN:Anna Alpha", "FN:Bert Beta", "FN:Cora Gamma"}, nil)
		v.checkFiles(t, "first sync", "calendars", "events", 3, []string{"SUMMARY:Kickoff", "SUMMARY:Review", "SUMMARY:Retro"}, nil)
		v.checkFiles(t, "first sync", "calendars", "tasks", 2, []string{"SUMMARY:Write report", "SUMMARY:File taxes"}, nil)
		for _, d := range v.files(t, "calendars", "tasks") {
			if bytes.Contains(d, []byte("BEGIN:VEVENT")) {
				t.Errorf("an event in the tasks calendar:\n%s", d)
			}
		}
	})

	t.Run("local add, edit, delete go up", func(t *testing.T) {
		v.write(t, "contacts", "default", "vd-c4.vcf", davCard("vd-c4", "Dora Delta", "added in vdirsyncer"))
		name := v.fileWith(t, "contacts", "default", "FN:Bert Beta")
		v.write(t, "contacts", "default", name, replaceLine(v.files(t, "contacts", "default")[name], "NOTE:", "edited in vdirsyncer"))
		v.remove(t, "contacts", "default", v.fileWith(t, "contacts", "default", "FN:Cora Gamma"))

		v.write(t, "calendars", "events", "vd-e4.ics", davEvent("vd-e4", "Planning", "20270304T090000Z"))
		name = v.fileWith(t, "calendars", "events", "SUMMARY:Review")
		v.write(t, "calendars", "events", name, replaceLine(v.files(t, "calendars", "events")[name], "SUMMARY:", "Review (moved room)"))
		v.remove(t, "calendars", "tasks", v.fileWith(t, "calendars", "tasks", "SUMMARY:File taxes"))

		out := v.sync(t)
		if n := len(transfers(out)); n != 6 {
			t.Errorf("vdirsyncer made %d transfers, want 6 (3 contacts, 2 events, 1 task):\n%s", n, strings.Join(transfers(out), "\n"))
		}
		de.checkBox(t, "after local changes", imapstore.KindContacts, 3,
			[]string{"FN:Anna Alpha", "NOTE:edited in vdirsyncer", "FN:Dora Delta"}, []string{"FN:Cora Gamma"})
		de.checkBox(t, "after local changes", imapstore.KindCalendar, 4,
			[]string{"SUMMARY:Kickoff", "SUMMARY:Review (moved room)", "SUMMARY:Retro", "SUMMARY:Planning"}, nil)
		de.checkBox(t, "after local changes", imapstore.KindTasks, 1, []string{"SUMMARY:Write report"}, []string{"SUMMARY:File taxes"})
		bert := string(unfoldBytes(de.mailbox(imapstore.KindContacts)[de.boxID(t, imapstore.KindContacts, "FN:Bert Beta")]))
		if !strings.Contains(bert, "NOTE:edited in vdirsyncer") {
			t.Errorf("Bert's edit is not in the mailbox:\n%s", bert)
		}
	})

	t.Run("mailbox changes come down", func(t *testing.T) {
		a := de.account()
		ctx := context.Background()
		id := de.boxID(t, imapstore.KindContacts, "FN:Anna Alpha")
		if err := a.Put(ctx, imapstore.KindContacts, &imapstore.Item{ID: id, Data: davCard("vd-c1", "Anna Alpha", "edited in the mailbox")}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Delete(ctx, imapstore.KindCalendar, de.boxID(t, imapstore.KindCalendar, "SUMMARY:Retro")); err != nil {
			t.Fatal(err)
		}
		if err := a.Put(ctx, imapstore.KindTasks, &imapstore.Item{Data: davTodo("vd-t3", "Buy stamps")}); err != nil {
			t.Fatal(err)
		}
		out := v.sync(t)
		if n := len(transfers(out)); n != 3 {
			t.Errorf("vdirsyncer made %d transfers, want 3:\n%s", n, strings.Join(transfers(out), "\n"))
		}
		v.checkFiles(t, "after mailbox changes", "contacts", "default", 3,
			[]string{"NOTE:edited in the mailbox", "FN:Bert Beta", "FN:Dora Delta"}, []string{"NOTE:seeded"})
		v.checkFiles(t, "after mailbox changes", "calendars", "events", 3,
			[]string{"SUMMARY:Kickoff", "SUMMARY:Review (moved room)", "SUMMARY:Planning"}, []string{"SUMMARY:Retro"})
		v.checkFiles(t, "after mailbox changes", "calendars", "tasks", 2, []string{"SUMMARY:Write report", "SUMMARY:Buy stamps"}, nil)
		de.checkBox(t, "after mailbox changes", imapstore.KindContacts, 3, nil, nil)
		de.checkBox(t, "after mailbox changes", imapstore.KindCalendar, 3, nil, nil)
		de.checkBox(t, "after mailbox changes", imapstore.KindTasks, 2, nil, nil)
	})

	t.Run("nothing changed transfers nothing", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			out := v.sync(t)
			if tr := transfers(out); len(tr) != 0 {
				t.Errorf("sync %d with nothing changed transferred:\n%s", i+1, strings.Join(tr, "\n"))
			}
		}
		de.checkBox(t, "after quiet syncs", imapstore.KindContacts, 3, nil, nil)
	})
}

// caldavPython returns a Python interpreter that has the caldav module
// (Debian's python3-caldav is in /usr/bin/python3's path, which a pyenv
// or venv python3 first in PATH may not see).
func caldavPython(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import caldav").Run() == nil {
			return p
		}
	}
	needTool(t, "python3-caldav (Debian package python3-caldav)", false)
	return ""
}

// caldavReport is what davclient/caldav_queries.py found, as JSON.
type caldavReport struct {
	Principal string `json:"principal"`
	Calendars []struct {
		URL        string   `json:"url"`
		Name       string   `json:"name"`
		Components []string `json:"components"`
	} `json:"calendars"`
	Events        []string `json:"events"`
	Todos         []string `json:"todos"`
	DateSearch    []string `json:"date_search"`
	Search        []string `json:"search"`
	SearchExpand  []string `json:"search_expand"`
	TodoSearch    []string `json:"todo_search"`
	SavedURL      string   `json:"saved_url"`
	FetchedData   string   `json:"fetched_data"`
	ETag1         string   `json:"etag1"`
	ETag2         string   `json:"etag2"`
	EditedData    string   `json:"edited_data"`
	SyncTokenSeen bool     `json:"sync_token_seen"`
	SyncChanged   []string `json:"sync_changed"`
	Errors        []string `json:"errors"`
}

// TestDAVCaldavQueries drives python3-caldav: principal and calendars
// with their component sets, listing, time-range searches (one that
// takes some events, a recurring one by an instance, and leaves others
// out), saving an event, fetching it by URL, an edit that changes the
// ETag; then, in raw HTTP, a PUT with the stale ETag is refused with 412.
func TestDAVCaldavQueries(t *testing.T) {
	py := caldavPython(t)
	de := newDAVEnv(t, false)
	// The range searched is 2027-03-08 to 2027-03-15.
	de.put(t, imapstore.KindCalendar,
		davEvent("q-in-a", "In range A", "20270310T100000Z"),
		davEvent("q-in-b", "In range B", "20270312T140000Z"),
		davEvent("q-before", "Before the range", "20270201T100000Z"),
		davEvent("q-after", "After the range", "20270420T100000Z"),
		davEvent("q-weekly", "Weekly standup", "20270104T090000Z", "RRULE:FREQ=WEEKLY;COUNT=20"),
		davEvent("q-old-weekly", "Old weekly", "20270105T090000Z", "RRULE:FREQ=WEEKLY;COUNT=3"))
	de.put(t, imapstore.KindTasks, davTodo("q-t1", "Water plants"), davTodo("q-t2", "Call plumber"))

	script, err := filepath.Abs(filepath.Join("davclient", "caldav_queries.py"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, script)
	cmd.Env = append(os.Environ(), "DAV_URL="+de.base+"/dav/", "DAV_USER="+de.user, "DAV_PASS="+de.pass,
		"RANGE_START=20270308T000000Z", "RANGE_END=20270315T000000Z", "HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if stderr.Len() > 0 {
		t.Logf("caldav_queries.py stderr:\n%s", stderr.String())
	}
	if err != nil {
		t.Fatalf("caldav_queries.py: %v\n%s", err, out)
	}
	var rep caldavReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("caldav_queries.py printed no JSON: %v\n%s", err, out)
	}
	t.Logf("caldav_queries.py: %s", out)
	for _, e := range rep.Errors {
		t.Errorf("python3-caldav: %s", e)
	}
	if p := unescapePath(rep.Principal); p != "/dav/"+de.user+"/" {
		t.Errorf("principal %q, want /dav/%s/", rep.Principal, de.user)
	}
	comps := map[string][]string{}
	for _, c := range rep.Calendars {
		comps[strings.TrimSuffix(unescapePath(c.URL), "/")] = c.Components
		if c.Name == "" {
			t.Errorf("calendar %s has no displayname", c.URL)
		}
	}
	for path, want := range map[string]string{strings.TrimSuffix(de.eventsPath(), "/"): "VEVENT", strings.TrimSuffix(de.tasksPath(), "/"): "VTODO"} {
		got, ok := comps[path]
		if !ok {
			t.Errorf("python3-caldav did not list the calendar %s (found %v)", path, rep.Calendars)
			continue
		}
		if !slices.Equal(got, []string{want}) {
			t.Errorf("calendar %s: supported components %v, want [%s]", path, got, want)
		}
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	wantAll := []string{"After the range", "Before the range", "In range A", "In range B", "Old weekly", "Weekly standup"}
	if got := sorted(rep.Events); !slices.Equal(got, wantAll) {
		t.Errorf("events(): %q, want %q", got, wantAll)
	}
	if got, want := sorted(rep.Todos), []string{"Call plumber", "Water plants"}; !slices.Equal(got, want) {
		t.Errorf("todos(): %q, want %q", got, want)
	}
	wantRange := []string{"In range A", "In range B", "Weekly standup"}
	if got := sorted(rep.DateSearch); !slices.Equal(got, wantRange) {
		t.Errorf("date_search(2027-03-08, 2027-03-15): %q, want %q", got, wantRange)
	}
	if got := sorted(rep.Search); !slices.Equal(got, wantRange) {
		t.Errorf("search(event=True, start, end): %q, want %q", got, wantRange)
	}
	if got := sorted(rep.SearchExpand); !slices.Equal(got, wantRange) {
		// Expanded: the weekly event's one instance in the week.
		t.Errorf("search(expand=True): %q, want %q", got, wantRange)
	}
	if got, want := sorted(rep.TodoSearch), []string{"Call plumber", "Water plants"}; !slices.Equal(got, want) {
		t.Errorf("search(todo=True): %q, want %q", got, want)
	}
	if !strings.Contains(rep.FetchedData, "SUMMARY:Saved by caldav") {
		t.Errorf("the saved event fetched by URL:\n%s", rep.FetchedData)
	}
	if rep.ETag1 == "" || rep.ETag2 == "" || rep.ETag1 == rep.ETag2 {
		t.Errorf("ETag before the edit %q, after %q: want two different ETags", rep.ETag1, rep.ETag2)
	}
	if !strings.Contains(rep.EditedData, "SUMMARY:Edited by caldav") {
		t.Errorf("after the edit the server gives:\n%s", rep.EditedData)
	}
	if !rep.SyncTokenSeen {
		t.Errorf("objects_by_sync_token gave no sync token")
	}
	de.checkBox(t, "after caldav", imapstore.KindCalendar, 7, []string{"SUMMARY:Edited by caldav", "SUMMARY:Weekly standup"}, []string{"SUMMARY:Saved by caldav"})

	// A PUT at the stale ETag is refused, and nothing changes.
	if rep.SavedURL == "" {
		t.Fatal("no URL of the saved event")
	}
	stale := de.do(t, "PUT", rep.SavedURL, string(davEvent("q-saved", "Lost update", "20270311T080000Z")),
		"If-Match", rep.ETag1, "Content-Type", "text/calendar; charset=utf-8")
	if stale.Status != http.StatusPreconditionFailed {
		t.Errorf("PUT %s with the stale If-Match %s: %s, want 412", rep.SavedURL, rep.ETag1, stale)
	}
	get := de.do(t, "GET", rep.SavedURL, "")
	if get.Status != http.StatusOK || !bytes.Contains(get.Body, []byte("Edited by caldav")) || get.Header.Get("ETag") != rep.ETag2 {
		t.Errorf("after the refused PUT, GET %s: ETag %q (want %q)\n%s", rep.SavedURL, get.Header.Get("ETag"), rep.ETag2, get)
	}
	de.checkBox(t, "after the stale PUT", imapstore.KindCalendar, 7, []string{"SUMMARY:Edited by caldav"}, []string{"SUMMARY:Lost update"})
}

// TestDAVCrossSyncML: a SyncML phone (the real SyncEvolution client) and
// vdirsyncer take turns on the same items, and a mail client drops vCards
// in; each change reaches the other sides at their next sync, and the
// mailbox never loses or doubles an item.
func TestDAVCrossSyncML(t *testing.T) {
	de := newDAVEnv(t, true)
	c := de.client
	c.WriteItem(t, "addressbook", "p1.vcf", davCard("x-p1", "Phil Phone", "from the phone"))
	c.WriteItem(t, "addressbook", "p2.vcf", davCard("x-p2", "Paula Phone", "from the phone"))
	c.WriteItem(t, "calendar", "pe1.ics", davEvent("x-pe1", "Phone meeting", "20270501T080000Z"))
	de.sync(t, syncevo.Slow)
	de.checkBox(t, "phone's slow sync", imapstore.KindContacts, 2, []string{"FN:Phil Phone", "FN:Paula Phone"}, nil)

	v := newVdir(t, de, "contacts", "calendars")
	v.run(t, "discover")
	v.sync(t)
	v.checkFiles(t, "vdirsyncer's first sync", "contacts", "default", 2, []string{"FN:Phil Phone", "FN:Paula Phone"}, nil)
	v.checkFiles(t, "vdirsyncer's first sync", "calendars", "events", 1, []string{"SUMMARY:Phone meeting"}, nil)

	// A contact and an event added over DAV reach the phone.
	v.write(t, "contacts", "default", "x-d1.vcf", davCard("x-d1", "Dana DAV", "from vdirsyncer"))
	v.write(t, "calendars", "events", "x-de1.ics", davEvent("x-de1", "DAV meeting", "20270502T080000Z"))
	v.sync(t)
	de.checkBox(t, "DAV add", imapstore.KindContacts, 3, []string{"FN:Dana DAV"}, nil)
	de.checkBox(t, "DAV add", imapstore.KindCalendar, 2, []string{"SUMMARY:DAV meeting"}, nil)
	r := de.sync(t, syncevo.TwoWay)
	if s := r.Sources["addressbook"]; s.LocalAdded != 1 || s.RemoteAdded+s.RemoteUpdated+s.RemoteRemoved != 0 {
		t.Errorf("phone sync after the DAV add: addressbook %+v", s)
	}
	if s := r.Sources["calendar"]; s.LocalAdded != 1 {
		t.Errorf("phone sync after the DAV add: calendar %+v", s)
	}
	de.same(t, "addressbook")
	de.same(t, "calendar")

	// The phone edits the DAV contact: the edit reaches vdirsyncer's file.
	var dana string
	for name, d := range c.Items(t, "addressbook") {
		if bytes.Contains(d, []byte("Dana DAV")) {
			dana = name
		}
	}
	if dana == "" {
		t.Fatal("the DAV contact is not on the phone")
	}
	c.WriteItem(t, "addressbook", dana, replaceLine(c.Items(t, "addressbook")[dana], "NOTE:", "edited on the phone"))
	de.sync(t, syncevo.TwoWay)
	de.checkBox(t, "phone edit", imapstore.KindContacts, 3, []string{"NOTE:edited on the phone"}, []string{"NOTE:from vdirsyncer"})
	out := v.sync(t)
	if n := len(transfers(out)); n != 1 {
		t.Errorf("vdirsyncer after the phone's edit: %d transfers, want 1:\n%s", n, out)
	}
	v.checkFiles(t, "phone edit", "contacts", "default", 3, []string{"NOTE:edited on the phone", "FN:Dana DAV"}, []string{"NOTE:from vdirsyncer"})

	// vdirsyncer edits the phone's event: the phone gets it.
	name := v.fileWith(t, "calendars", "events", "SUMMARY:Phone meeting")
	v.write(t, "calendars", "events", name, replaceLine(v.files(t, "calendars", "events")[name], "SUMMARY:", "Phone meeting (moved)"))
	v.sync(t)
	de.checkBox(t, "DAV edit", imapstore.KindCalendar, 2, []string{"SUMMARY:Phone meeting (moved)", "SUMMARY:DAV meeting"}, nil)
	r = de.sync(t, syncevo.TwoWay)
	if s := r.Sources["calendar"]; s.LocalUpdated != 1 || s.LocalAdded != 0 {
		t.Errorf("phone sync after the DAV edit: calendar %+v", s)
	}
	de.same(t, "calendar")

	// A delete on the phone disappears from vdirsyncer.
	for name, d := range c.Items(t, "addressbook") {
		if bytes.Contains(d, []byte("Paula Phone")) {
			c.DeleteItem(t, "addressbook", name)
		}
	}
	de.sync(t, syncevo.TwoWay)
	de.checkBox(t, "phone delete", imapstore.KindContacts, 2, []string{"FN:Phil Phone", "FN:Dana DAV"}, []string{"FN:Paula Phone"})
	v.sync(t)
	v.checkFiles(t, "phone delete", "contacts", "default", 2, []string{"FN:Phil Phone", "FN:Dana DAV"}, []string{"FN:Paula Phone"})

	// A delete in vdirsyncer disappears from the phone.
	v.remove(t, "contacts", "default", v.fileWith(t, "contacts", "default", "FN:Phil Phone"))
	v.remove(t, "calendars", "events", v.fileWith(t, "calendars", "events", "SUMMARY:DAV meeting"))
	v.sync(t)
	de.checkBox(t, "DAV delete", imapstore.KindContacts, 1, []string{"FN:Dana DAV"}, []string{"FN:Phil Phone"})
	de.checkBox(t, "DAV delete", imapstore.KindCalendar, 1, []string{"SUMMARY:Phone meeting (moved)"}, []string{"SUMMARY:DAV meeting"})
	r = de.sync(t, syncevo.TwoWay)
	if s := r.Sources["addressbook"]; s.LocalRemoved != 1 {
		t.Errorf("phone sync after the DAV delete: addressbook %+v", s)
	}
	de.same(t, "addressbook")
	de.same(t, "calendar")

	// A mail client drops a mail with two vCards into Contacts: both
	// sides get the two contacts, once.
	mc := de.imapSession(t, "Contacts")
	if err := appendRaw(mc, "Contacts", vcfMail(contact(801, "dropped in"), contact(802, "dropped in"))); err != nil {
		t.Fatal(err)
	}
	v.sync(t)
	v.checkFiles(t, "mail drop-in", "contacts", "default", 3, []string{"FN:Person 801", "FN:Person 802", "FN:Dana DAV"}, nil)
	r = de.sync(t, syncevo.TwoWay)
	if s := r.Sources["addressbook"]; s.LocalAdded != 2 || s.RemoteAdded != 0 {
		t.Errorf("phone sync after the mail drop-in: addressbook %+v", s)
	}
	de.checkBox(t, "mail drop-in", imapstore.KindContacts, 3, []string{"FN:Person 801", "FN:Person 802", "FN:Dana DAV"}, nil)
	de.same(t, "addressbook")

	// Both quiet now.
	r = de.sync(t, syncevo.TwoWay)
	for name, s := range r.Sources {
		if s.LocalAdded+s.LocalUpdated+s.LocalRemoved+s.RemoteAdded+s.RemoteUpdated+s.RemoteRemoved != 0 {
			t.Errorf("quiet phone sync: %s %+v", name, s)
		}
	}
	if tr := transfers(v.sync(t)); len(tr) != 0 {
		t.Errorf("quiet vdirsyncer sync transferred:\n%s", strings.Join(tr, "\n"))
	}
}

// TestDAVProtocol checks the WebDAV, CalDAV and CardDAV basics in raw
// HTTP.
func TestDAVProtocol(t *testing.T) {
	de := newDAVEnv(t, false)
	de.put(t, imapstore.KindContacts, davCard("p-c1", "Erik Echo", "seeded"), davCard("p-c2", "Fay Foxtrot", "seeded"))
	de.put(t, imapstore.KindCalendar, davEvent("p-e1", "Standup", "20270601T090000Z"))
	de.put(t, imapstore.KindTasks, davTodo("p-t1", "Sweep floor"))
	de.put(t, imapstore.KindContacts.Sub("Family"), davCard("p-f1", "Greta Golf", "family"))
	wantPrincipal := "/dav/" + de.user + "/"

	t.Run("OPTIONS", func(t *testing.T) {
		for _, p := range []string{"/dav/", de.contactsPath(), de.eventsPath()} {
			r := de.do(t, "OPTIONS", p, "")
			dav := strings.Join(r.Header.Values("DAV"), ",")
			if r.Status/100 != 2 || !strings.Contains(dav, "addressbook") || !strings.Contains(dav, "calendar-access") {
				t.Errorf("OPTIONS %s: %d, DAV: %q; want 2xx with addressbook and calendar-access", p, r.Status, dav)
			}
			if allow := strings.Join(r.Header.Values("Allow"), ","); !strings.Contains(allow, "PROPFIND") || !strings.Contains(allow, "REPORT") {
				t.Errorf("OPTIONS %s: Allow %q lacks PROPFIND or REPORT", p, allow)
			}
		}
	})

	t.Run("well-known", func(t *testing.T) {
		for _, p := range []string{"/.well-known/carddav", "/.well-known/caldav"} {
			for _, user := range []string{de.user, ""} {
				r := de.doAs(t, user, de.pass, "GET", p, "")
				loc := r.Header.Get("Location")
				if r.Status != http.StatusMovedPermanently || unescapePath(loc) != "/dav/" {
					t.Errorf("GET %s (user %q): %d Location %q, want 301 to /dav/", p, user, r.Status, loc)
				}
			}
			r := de.do(t, "PROPFIND", p, propfindAll, "Depth", "0")
			if r.Status != http.StatusMovedPermanently || unescapePath(r.Header.Get("Location")) != "/dav/" {
				t.Errorf("PROPFIND %s: %d Location %q, want 301 to /dav/", p, r.Status, r.Header.Get("Location"))
			}
		}
	})

	t.Run("authentication", func(t *testing.T) {
		for _, p := range []string{"/dav/", de.contactsPath(), de.eventsPath() + "nothing.ics"} {
			r := de.doAs(t, "", "", "PROPFIND", p, propfindAll, "Depth", "0")
			if r.Status != http.StatusUnauthorized || !strings.HasPrefix(strings.ToLower(r.Header.Get("WWW-Authenticate")), "basic") {
				t.Errorf("PROPFIND %s without credentials: %d WWW-Authenticate %q, want 401 Basic", p, r.Status, r.Header.Get("WWW-Authenticate"))
			}
			r = de.doAs(t, de.user, "wrong-pw", "PROPFIND", p, propfindAll, "Depth", "0")
			if r.Status != http.StatusUnauthorized {
				t.Errorf("PROPFIND %s with a wrong password: %d, want 401", p, r.Status)
			}
		}
		r := de.doAs(t, "nobody@example.org", "x", "GET", de.contactsPath(), "")
		if r.Status != http.StatusUnauthorized {
			t.Errorf("GET as an unknown user: %d, want 401", r.Status)
		}
	})

	t.Run("other user's tree", func(t *testing.T) {
		other := []string{
			de.userPath(de.otherUser, ""), de.userPath(de.otherUser, "contacts/default/"),
			de.userPath(de.otherUser, "calendars/events/"), de.userPath(de.otherUser, "contacts/default/x.vcf"),
		}
		for _, p := range other {
			r := de.do(t, "PROPFIND", p, propfindAll, "Depth", "1")
			if r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
				t.Errorf("carol PROPFIND %s: %s, want 403 or 404", p, r)
			}
			r = de.do(t, "PUT", p+"intruder.vcf", string(davCard("intruder", "Ivan Intruder", "x")), "Content-Type", "text/vcard")
			if r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
				t.Errorf("carol PUT %sintruder.vcf: %d, want 403 or 404", p, r.Status)
			}
		}
		if n := len(imapMailbox(t, de.dove.Addr, de.otherUser, de.otherPass, imapstore.KindContacts)); n != 0 {
			t.Errorf("dave's mailbox has %d contacts after carol's attempts", n)
		}
		// Dave sees his own (empty) tree.
		rs := multistatus(t, de.doAs(t, de.otherUser, de.otherPass, "PROPFIND", "/dav/", propfindAll, "Depth", "0"))
		if len(rs) == 0 || unescapePath(rs[0].prop(nsDAV, "current-user-principal").find(nsDAV, "href").text()) != "/dav/"+de.otherUser+"/" {
			t.Errorf("dave's principal is not his own: %+v", rs)
		}
	})

	t.Run("discovery", func(t *testing.T) {
		rs := de.propfind(t, "/dav/", "0")
		if len(rs) != 1 {
			t.Fatalf("PROPFIND /dav/ Depth 0: %d responses, want 1", len(rs))
		}
		if got := unescapePath(rs[0].prop(nsDAV, "current-user-principal").find(nsDAV, "href").text()); got != wantPrincipal {
			t.Errorf("current-user-principal %q, want %q", got, wantPrincipal)
		}
		rs = de.propfind(t, wantPrincipal, "0")
		if len(rs) != 1 {
			t.Fatalf("PROPFIND principal Depth 0: %d responses, want 1", len(rs))
		}
		if got := unescapePath(rs[0].prop(nsCardDAV, "addressbook-home-set").find(nsDAV, "href").text()); got != wantPrincipal+"contacts/" {
			t.Errorf("addressbook-home-set %q, want %scontacts/", got, wantPrincipal)
		}
		if got := unescapePath(rs[0].prop(nsCalDAV, "calendar-home-set").find(nsDAV, "href").text()); got != wantPrincipal+"calendars/" {
			t.Errorf("calendar-home-set %q, want %scalendars/", got, wantPrincipal)
		}
		if !rs[0].prop(nsDAV, "resourcetype").has(nsDAV, "principal") {
			t.Errorf("the principal's resourcetype lacks DAV:principal")
		}
	})

	t.Run("homes Depth 1", func(t *testing.T) {
		cal := byHref(de.propfind(t, wantPrincipal+"calendars/", "1"))
		for path, comp := range map[string]string{de.eventsPath(): "VEVENT", de.tasksPath(): "VTODO"} {
			r := cal[path]
			if r == nil {
				t.Errorf("calendar home lacks %s (has %v)", path, slices.Collect(maps.Keys(cal)))
				continue
			}
			if !r.prop(nsDAV, "resourcetype").has(nsCalDAV, "calendar") || !r.prop(nsDAV, "resourcetype").has(nsDAV, "collection") {
				t.Errorf("%s: resourcetype is not collection+calendar", path)
			}
			if r.prop(nsDAV, "displayname").text() == "" {
				t.Errorf("%s: no displayname", path)
			}
			var comps []string
			for _, n := range r.prop(nsCalDAV, "supported-calendar-component-set").findAll(nsCalDAV, "comp", nil) {
				comps = append(comps, n.attr("name"))
			}
			if !slices.Contains(comps, comp) || len(comps) != 1 {
				t.Errorf("%s: supported-calendar-component-set %v, want [%s]", path, comps, comp)
			}
		}
		book := byHref(de.propfind(t, wantPrincipal+"contacts/", "1"))
		for _, path := range []string{de.contactsPath(), wantPrincipal + "contacts/Family/"} {
			r := book[path]
			if r == nil {
				t.Errorf("address book home lacks %s (has %v)", path, slices.Collect(maps.Keys(book)))
				continue
			}
			if !r.prop(nsDAV, "resourcetype").has(nsCardDAV, "addressbook") {
				t.Errorf("%s: resourcetype lacks CARDDAV:addressbook", path)
			}
			if r.prop(nsDAV, "displayname").text() == "" {
				t.Errorf("%s: no displayname", path)
			}
		}
		fam := de.members(t, wantPrincipal+"contacts/Family/")
		if len(fam) != 1 {
			t.Errorf("the Family address book has %d members, want 1", len(fam))
		}
	})

	t.Run("collection Depth 0 and 1", func(t *testing.T) {
		rs := de.propfind(t, de.contactsPath(), "0")
		if len(rs) != 1 {
			t.Fatalf("Depth 0 on %s: %d responses, want 1", de.contactsPath(), len(rs))
		}
		if rs[0].prop(nsCS, "getctag").text() == "" || rs[0].prop(nsDAV, "sync-token").text() == "" {
			t.Errorf("%s: getctag %q, sync-token %q; want both", de.contactsPath(), rs[0].prop(nsCS, "getctag").text(), rs[0].prop(nsDAV, "sync-token").text())
		}
		if rep := rs[0].prop(nsDAV, "supported-report-set"); rep == nil || !rep.has(nsDAV, "sync-collection") || !rep.has(nsCardDAV, "addressbook-multiget") {
			t.Errorf("%s: supported-report-set lacks sync-collection or addressbook-multiget", de.contactsPath())
		}
		m := de.members(t, de.contactsPath())
		if len(m) != 2 {
			t.Errorf("Depth 1 on %s: %d members, want 2: %v", de.contactsPath(), len(m), slices.Collect(maps.Keys(m)))
		}
		for href, r := range m {
			if !strings.HasSuffix(href, ".vcf") || !strings.HasPrefix(href, de.contactsPath()) {
				t.Errorf("member %s is not <name>.vcf in the collection", href)
			}
			if r.prop(nsDAV, "getetag").text() == "" {
				t.Errorf("member %s has no getetag", href)
			}
			if ct := r.prop(nsDAV, "getcontenttype").text(); !strings.HasPrefix(ct, "text/vcard") {
				t.Errorf("member %s: getcontenttype %q", href, ct)
			}
		}
		for href := range de.members(t, de.eventsPath()) {
			if !strings.HasSuffix(href, ".ics") {
				t.Errorf("event member %s is not <name>.ics", href)
			}
		}
	})

	t.Run("GET PUT DELETE with preconditions", func(t *testing.T) {
		obj := de.contactsPath() + "raw-new.vcf"
		if r := de.do(t, "GET", de.contactsPath()+"missing.vcf", ""); r.Status != http.StatusNotFound {
			t.Errorf("GET of a missing object: %d, want 404", r.Status)
		}
		if r := de.do(t, "DELETE", de.contactsPath()+"missing.vcf", ""); r.Status != http.StatusNotFound {
			t.Errorf("DELETE of a missing object: %d, want 404", r.Status)
		}
		ctag0 := de.propfind(t, de.contactsPath(), "0")[0].prop(nsCS, "getctag").text()
		card := string(davCard("raw-new", "Hugo Hotel", "put over DAV"))
		r := de.do(t, "PUT", obj, card, "If-None-Match", "*", "Content-Type", "text/vcard; charset=utf-8")
		if r.Status != http.StatusCreated {
			t.Fatalf("PUT a new object with If-None-Match *: %s, want 201", r)
		}
		etag1 := r.Header.Get("ETag")
		de.checkBox(t, "after PUT", imapstore.KindContacts, 3, []string{"FN:Hugo Hotel"}, nil)
		if ctag1 := de.propfind(t, de.contactsPath(), "0")[0].prop(nsCS, "getctag").text(); ctag1 == ctag0 {
			t.Errorf("getctag unchanged (%q) after a PUT", ctag1)
		}
		g := de.do(t, "GET", obj, "")
		if g.Status != http.StatusOK || !bytes.Contains(unfoldBytes(g.Body), []byte("FN:Hugo Hotel")) {
			t.Fatalf("GET %s: %s", obj, g)
		}
		if ct := g.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/vcard") {
			t.Errorf("GET %s: Content-Type %q, want text/vcard", obj, ct)
		}
		if etag1 == "" {
			etag1 = g.Header.Get("ETag")
		} else if g.Header.Get("ETag") != etag1 {
			t.Errorf("PUT answered ETag %q, GET %q", etag1, g.Header.Get("ETag"))
		}
		if etag1 == "" {
			t.Fatal("no ETag from PUT or GET")
		}
		if r := de.do(t, "GET", obj, "", "If-None-Match", etag1); r.Status != http.StatusNotModified {
			t.Errorf("GET with If-None-Match of the current ETag: %d, want 304", r.Status)
		}
		if r := de.do(t, "PUT", obj, card, "If-None-Match", "*", "Content-Type", "text/vcard"); r.Status != http.StatusPreconditionFailed {
			t.Errorf("PUT with If-None-Match * on an existing name: %s, want 412", r)
		}
		if r := de.do(t, "PUT", obj, card, "If-Match", `"not-the-etag"`, "Content-Type", "text/vcard"); r.Status != http.StatusPreconditionFailed {
			t.Errorf("PUT with a wrong If-Match: %d, want 412", r.Status)
		}
		if r := de.do(t, "PUT", de.contactsPath()+"never.vcf", card, "If-Match", etag1, "Content-Type", "text/vcard"); r.Status != http.StatusPreconditionFailed {
			t.Errorf("PUT to a missing name with If-Match: %d, want 412", r.Status)
		}
		r = de.do(t, "PUT", obj, string(davCard("raw-new", "Hugo Hotel", "edited over DAV")), "If-Match", etag1, "Content-Type", "text/vcard")
		if r.Status != http.StatusNoContent && r.Status != http.StatusOK {
			t.Fatalf("PUT with the current If-Match: %s, want 204 or 200", r)
		}
		etag2 := r.Header.Get("ETag")
		if etag2 == "" {
			etag2 = de.do(t, "GET", obj, "").Header.Get("ETag")
		}
		if etag2 == etag1 {
			t.Errorf("ETag %q unchanged by an edit", etag2)
		}
		de.checkBox(t, "after the edit", imapstore.KindContacts, 3, []string{"NOTE:edited over DAV"}, []string{"NOTE:put over DAV"})
		if r := de.do(t, "DELETE", obj, "", "If-Match", etag1); r.Status != http.StatusPreconditionFailed {
			t.Errorf("DELETE with a stale If-Match: %d, want 412", r.Status)
		}
		de.checkBox(t, "after the stale DELETE", imapstore.KindContacts, 3, []string{"FN:Hugo Hotel"}, nil)
		if r := de.do(t, "DELETE", obj, "", "If-Match", etag2); r.Status != http.StatusNoContent && r.Status != http.StatusOK {
			t.Errorf("DELETE with the current If-Match: %s, want 204", r)
		}
		if r := de.do(t, "GET", obj, ""); r.Status != http.StatusNotFound {
			t.Errorf("GET after DELETE: %d, want 404", r.Status)
		}
		de.checkBox(t, "after DELETE", imapstore.KindContacts, 2, nil, []string{"FN:Hugo Hotel"})

		// A calendar refuses a vCard and a task calendar an event.
		if r := de.do(t, "PUT", de.eventsPath()+"card.ics", card, "Content-Type", "text/vcard"); r.Status/100 == 2 {
			t.Errorf("a vCard PUT into the events calendar: %d, want refused", r.Status)
		}
		if r := de.do(t, "PUT", de.tasksPath()+"ev.ics", string(davEvent("p-wrong", "Not a task", "20270601T090000Z")), "Content-Type", "text/calendar"); r.Status/100 == 2 {
			t.Errorf("a VEVENT PUT into the tasks calendar: %d, want refused (supported-calendar-component)", r.Status)
		}
		de.checkBox(t, "after the refused PUTs", imapstore.KindTasks, 1, []string{"SUMMARY:Sweep floor"}, []string{"SUMMARY:Not a task"})
	})

	t.Run("multiget and query", func(t *testing.T) {
		m := de.members(t, de.contactsPath())
		var hrefs string
		for h := range m {
			hrefs += "<d:href>" + (&url.URL{Path: h}).EscapedPath() + "</d:href>"
		}
		rs := multistatus(t, de.do(t, "REPORT", de.contactsPath(), `<?xml version="1.0" encoding="utf-8"?>
<card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:prop><d:getetag/><card:address-data/></d:prop>`+hrefs+`<d:href>`+de.contactsPath()+`gone.vcf</d:href>
</card:addressbook-multiget>`, "Depth", "1"))
		found := 0
		for _, r := range rs {
			if strings.HasSuffix(r.Href, "gone.vcf") {
				if r.Status == "" || !strings.Contains(r.Status, "404") {
					t.Errorf("multiget of a missing href: status %q, want 404", r.Status)
				}
				continue
			}
			if d := r.prop(nsCardDAV, "address-data").text(); strings.Contains(d, "BEGIN:VCARD") {
				found++
			}
		}
		if found != 2 {
			t.Errorf("addressbook-multiget gave %d cards, want 2:\n%+v", found, rs)
		}
		rs = multistatus(t, de.do(t, "REPORT", de.contactsPath(), `<?xml version="1.0" encoding="utf-8"?>
<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
  <d:prop><d:getetag/><card:address-data/></d:prop>
  <card:filter><card:prop-filter name="FN"><card:text-match collation="i;unicode-casemap" match-type="contains">foxtrot</card:text-match></card:prop-filter></card:filter>
</card:addressbook-query>`, "Depth", "1"))
		if len(rs) != 1 || !strings.Contains(rs[0].prop(nsCardDAV, "address-data").text(), "Fay Foxtrot") {
			t.Errorf("addressbook-query FN contains foxtrot: %d results %+v", len(rs), rs)
		}
		rs = multistatus(t, de.do(t, "REPORT", de.eventsPath(), `<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20270601T000000Z" end="20270602T000000Z"/></c:comp-filter></c:comp-filter></c:filter>
</c:calendar-query>`, "Depth", "1"))
		if len(rs) != 1 || !strings.Contains(rs[0].prop(nsCalDAV, "calendar-data").text(), "SUMMARY:Standup") {
			t.Errorf("calendar-query in range: %+v", rs)
		}
		rs = multistatus(t, de.do(t, "REPORT", de.eventsPath(), `<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20270701T000000Z" end="20270702T000000Z"/></c:comp-filter></c:comp-filter></c:filter>
</c:calendar-query>`, "Depth", "1"))
		if len(rs) != 0 {
			t.Errorf("calendar-query out of range gave %d results", len(rs))
		}
	})

	t.Run("sync-collection", func(t *testing.T) {
		coll := de.eventsPath()
		r := de.do(t, "REPORT", coll, syncCollectionBody("http://example.invalid/not-a-token-of-this-server"), "Depth", "0")
		if (r.Status != http.StatusForbidden && r.Status != http.StatusConflict) || !bytes.Contains(r.Body, []byte("valid-sync-token")) {
			t.Errorf("sync-collection with an unknown token: %s\nwant 403 or 409 with DAV:valid-sync-token", r)
		}
		first := de.do(t, "REPORT", coll, syncCollectionBody(""), "Depth", "0")
		rs := multistatus(t, first)
		token1 := syncTokenOf(t, first)
		if len(rs) != 1 {
			t.Errorf("initial sync-collection: %d members, want 1", len(rs))
		}
		if tok := de.propfind(t, coll, "0")[0].prop(nsDAV, "sync-token").text(); tok != token1 {
			t.Errorf("PROPFIND sync-token %q differs from the report's %q with nothing changed", tok, token1)
		}
		// Nothing changed: nothing reported.
		again := de.do(t, "REPORT", coll, syncCollectionBody(token1), "Depth", "0")
		if rs := multistatus(t, again); len(rs) != 0 {
			t.Errorf("sync-collection with the current token: %d responses, want 0: %+v", len(rs), rs)
		}
		// One added in the mailbox, one added and one deleted over DAV.
		de.put(t, imapstore.KindCalendar, davEvent("p-e2", "Added in the mailbox", "20270602T090000Z"))
		if r := de.do(t, "PUT", coll+"p-e3.ics", string(davEvent("p-e3", "Added over DAV", "20270603T090000Z")), "Content-Type", "text/calendar"); r.Status != http.StatusCreated {
			t.Fatalf("PUT p-e3.ics: %s", r)
		}
		var standup string
		for h, m := range de.members(t, coll) {
			if r := de.do(t, "GET", h, ""); bytes.Contains(r.Body, []byte("SUMMARY:Standup")) {
				standup = h
				_ = m
			}
		}
		if standup == "" {
			t.Fatal("no Standup event")
		}
		if r := de.do(t, "DELETE", standup, ""); r.Status/100 != 2 {
			t.Fatalf("DELETE %s: %d", standup, r.Status)
		}
		second := de.do(t, "REPORT", coll, syncCollectionBody(token1), "Depth", "0")
		rs = multistatus(t, second)
		token2 := syncTokenOf(t, second)
		if token2 == token1 {
			t.Errorf("the sync-token did not change (%q)", token2)
		}
		got := byHref(rs)
		if len(rs) != 3 {
			t.Errorf("sync-collection since token1: %d responses, want 3 (2 added, 1 removed): %v", len(rs), slices.Collect(maps.Keys(got)))
		}
		if d := got[coll+"p-e3.ics"]; d == nil || d.prop(nsDAV, "getetag").text() == "" {
			t.Errorf("sync-collection lacks the DAV-added p-e3.ics with its etag")
		}
		if d := got[standup]; d == nil || !strings.Contains(d.Status, "404") {
			t.Errorf("sync-collection lacks the removed %s with status 404: %+v", standup, d)
		}
		// And from token2 nothing again.
		if rs := multistatus(t, de.do(t, "REPORT", coll, syncCollectionBody(token2), "Depth", "0")); len(rs) != 0 {
			t.Errorf("sync-collection since token2: %d responses, want 0", len(rs))
		}
	})

	t.Run("vCard 4.0 is kept as 3.0 with nothing dropped", func(t *testing.T) {
		obj := de.contactsPath() + "v4-card.vcf"
		card := "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:v4-card\r\nFN:Vera Four\r\nN:Four;Vera;;;\r\n" +
			"EMAIL;TYPE=work:vera@work.example\r\nTEL;VALUE=uri;TYPE=cell:tel:+1-555-0104\r\n" +
			"X-CUSTOM-FIELD:kept as sent\r\nEND:VCARD\r\n"
		r := de.do(t, "PUT", obj, card, "If-None-Match", "*", "Content-Type", "text/vcard; version=4.0")
		if r.Status != http.StatusCreated {
			t.Fatalf("PUT a vCard 4.0: %s, want 201", r)
		}
		if et := r.Header.Get("ETag"); et != "" {
			t.Errorf("PUT of a card kept in another form answered ETag %s; the client must read it back", et)
		}
		de.checkBox(t, "after the vCard 4.0 PUT", imapstore.KindContacts, 3,
			[]string{"FN:Vera Four", "vera@work.example", "555-0104"}, nil)
		vera := string(unfoldBytes(de.mailbox(imapstore.KindContacts)[de.boxID(t, imapstore.KindContacts, "FN:Vera Four")]))
		if !strings.Contains(vera, "VERSION:3.0") || !strings.Contains(vera, "X-CUSTOM-FIELD:kept as sent") {
			t.Errorf("the vCard 4.0 in the mailbox is not a 3.0 with all it was sent:\n%s", vera)
		}
		g := de.do(t, "GET", obj, "")
		body := string(unfoldBytes(g.Body))
		if g.Status != http.StatusOK || !strings.Contains(body, "VERSION:3.0") || !strings.Contains(body, "FN:Vera Four") ||
			!strings.Contains(body, "X-CUSTOM-FIELD:kept as sent") || g.Header.Get("ETag") == "" {
			t.Errorf("GET of the converted card: %s", g)
		}
	})
}

// TestDAVConcurrentSyncML: a DAV client edits the TEL of every contact in
// a loop (GET, then PUT with If-Match, again on 412, as DAV clients do)
// while the real SyncEvolution client's two-way sync sends the phone's
// edits of their NOTEs; it leaves a contact alone once it reads the
// phone's NOTE in it. Whatever the interleaving, no update is lost: each
// contact ends with the phone's NOTE and the DAV client's last accepted
// TEL, once, and the phone gets the same at its next sync.
func TestDAVConcurrentSyncML(t *testing.T) {
	de := newDAVEnv(t, true)
	c := de.client
	const n = 12
	for i := range n {
		c.WriteItem(t, "addressbook", fmt.Sprintf("c%02d.vcf", i),
			[]byte(fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:race-%02d\r\nFN:Race %02d\r\nN:%02d;Race;;;\r\nTEL:+49 30 100%02d\r\nNOTE:first\r\nEND:VCARD\r\n", i, i, i, i)))
	}
	de.sync(t, syncevo.Slow)
	de.checkBox(t, "slow sync", imapstore.KindContacts, n, []string{"FN:Race 00", "FN:Race 11"}, nil)
	hrefs := de.members(t, de.contactsPath())
	if len(hrefs) != n {
		t.Fatalf("%d contacts over DAV, want %d", len(hrefs), n)
	}

	// The phone edits every NOTE.
	for name, data := range c.Items(t, "addressbook") {
		fn := regexp.MustCompile(`FN:Race (\d+)`).FindSubmatch(data)
		c.WriteItem(t, "addressbook", name, replaceLine(data, "NOTE:", "phone "+string(fn[1])))
	}

	// The DAV client, on its own goroutine: plain HTTP, errors collected.
	stop := make(chan struct{})
	type davResult struct {
		lastTEL  map[string]string // href → the last TEL a PUT was accepted with
		puts     int
		refused  int // 412s
		problems []string
	}
	done := make(chan davResult)
	go func() {
		res := davResult{lastTEL: map[string]string{}}
		req := func(method, href, etag string, body []byte) (int, http.Header, []byte, error) {
			var rd io.Reader
			if body != nil {
				rd = bytes.NewReader(body)
			}
			r, err := http.NewRequest(method, de.base+href, rd)
			if err != nil {
				return 0, nil, nil, err
			}
			r.SetBasicAuth(de.user, de.pass)
			if etag != "" {
				r.Header.Set("If-Match", etag)
			}
			if body != nil {
				r.Header.Set("Content-Type", "text/vcard; charset=utf-8")
			}
			resp, err := de.httpClient.Do(r)
			if err != nil {
				return 0, nil, nil, err
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			return resp.StatusCode, resp.Header, data, err
		}
		// An item the phone's edit has reached is left alone from then
		// on: the DAV client's last write to it came before the
		// engine's, or raced with it; either way it must survive.
		reached := map[string]bool{}
		for round := 0; ; round++ {
			select {
			case <-stop:
				done <- res
				return
			default:
			}
			for href := range hrefs {
				tel := fmt.Sprintf("+49 40 %04d", round)
				for try := 0; try < 20 && !reached[href]; try++ {
					code, hdr, body, err := req("GET", href, "", nil)
					if err != nil || code != http.StatusOK {
						res.problems = append(res.problems, fmt.Sprintf("GET %s: %d %v", href, code, err))
						break
					}
					if bytes.Contains(body, []byte("NOTE:phone")) {
						reached[href] = true
						break
					}
					code, _, answer, err := req("PUT", href, hdr.Get("ETag"), replaceLine(body, "TEL", ":"+tel))
					if err != nil {
						res.problems = append(res.problems, fmt.Sprintf("PUT %s: %v", href, err))
						break
					}
					if code == http.StatusPreconditionFailed {
						res.refused++
						continue // changed since our GET: read it again
					}
					if code != http.StatusNoContent && code != http.StatusOK {
						res.problems = append(res.problems, fmt.Sprintf("PUT %s: %d %s", href, code, answer))
						break
					}
					res.puts++
					res.lastTEL[href] = tel
					break
				}
			}
		}
	}()
	r := c.Sync(t, syncevo.TwoWay)
	close(stop)
	res := <-done
	logText := de.daemon.logText()
	// The one failure allowed: an item the DAV loop kept changing at
	// every try (the engine then fails the database and commits nothing,
	// and the phone's next sync sends its edits again).
	busy := strings.Contains(logText, "changed by another writer at each of")
	if !r.OK() && !busy {
		t.Fatalf("phone sync failed: %s\n%s", r, r.Output)
	}
	t.Logf("during the phone's sync: %d DAV PUTs accepted, %d refused with 412; the engine found %d items changed since its listing, resolved %d again after a stood-back write, left %d out of its point; phone sync %+v",
		res.puts, res.refused, strings.Count(logText, "changed in the store since the session listed it"),
		strings.Count(logText, "resolved again"), strings.Count(logText, "goes to the device next time"), r.Sources["addressbook"])
	for _, p := range res.problems {
		t.Error(p)
	}
	if res.puts == 0 {
		t.Fatal("no DAV PUT went through during the sync")
	}
	if s := r.Sources["addressbook"]; r.OK() && s.RemoteUpdated != n {
		t.Errorf("phone sync: %d of its %d edits reached the server", s.RemoteUpdated, n)
	}

	// Every contact: once, with the phone's NOTE and the last TEL the DAV
	// client was told it stored.
	check := func(step string, phoneEdits bool) {
		t.Helper()
		var has []string
		for href, tel := range res.lastTEL {
			body := de.do(t, "GET", href, "").Body
			fn := regexp.MustCompile(`FN:Race (\d+)`).FindSubmatch(body)
			if fn == nil {
				t.Errorf("%s: GET %s: no contact\n%s", step, href, body)
				continue
			}
			has = append(has, "FN:Race "+string(fn[1]))
			wants := []string{"TEL:" + tel}
			if phoneEdits {
				wants = append(wants, "NOTE:phone "+string(fn[1]))
			}
			for _, want := range wants {
				if !bytes.Contains(unfoldBytes(body), []byte(want)) {
					t.Errorf("%s: %s lost an update: no %q\n%s", step, href, want, body)
				}
			}
		}
		var hasNot []string
		if phoneEdits {
			hasNot = []string{"NOTE:first"}
		}
		de.checkBox(t, step, imapstore.KindContacts, n, has, hasNot)
	}
	check("after the concurrent edits", r.OK())

	// The phone catches up: it holds what the mailbox holds.
	de.sync(t, syncevo.TwoWay)
	check("after the phone's next sync", true)
	de.same(t, "addressbook")
	r = de.sync(t, syncevo.TwoWay)
	if s := r.Sources["addressbook"]; s.LocalAdded+s.LocalUpdated+s.LocalRemoved+s.RemoteAdded+s.RemoteUpdated+s.RemoteRemoved != 0 {
		t.Errorf("quiet phone sync: %+v", s)
	}
}
