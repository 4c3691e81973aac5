package syncevo

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// firstPost is a server that records the first POST and answers every
// request with HTTP 500.
type firstPost struct {
	*httptest.Server
	mu          sync.Mutex
	posts       int
	contentType string
	body        []byte
}

func newFirstPost(t *testing.T) *firstPost {
	s := &firstPost{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		if r.Method == http.MethodPost && s.posts == 0 {
			s.contentType = r.Header.Get("Content-Type")
			s.body = body
		}
		if r.Method == http.MethodPost {
			s.posts++
		}
		s.mu.Unlock()
		http.Error(w, "no SyncML here", http.StatusInternalServerError)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestShimFirstPost(t *testing.T) {
	srv := newFirstPost(t)
	c := New(t, &Options{
		URL:      srv.URL + "/syncml",
		Username: "alice@example.org",
		Password: "secret",
		DeviceID: "syncevo-test-device-1",
		Timeout:  10 * time.Second,
	})
	r := c.Sync(t, Configured)
	t.Logf("result: %s", r)
	if r.Signal != "" || strings.Contains(r.Output, "Segmentation") {
		t.Fatalf("the client crashed despite the shim: %s\n%s", r, r.Output)
	}
	if r.ExitCode == 0 || r.OK() {
		t.Errorf("sync against an HTTP 500 server succeeded: %s", r)
	}
	if r.TimedOut {
		t.Errorf("sync timed out: %s", r)
	}
	if r.Status == 0 || r.Status == 200 {
		t.Errorf("status.ini status = %d, want an error", r.Status)
	}

	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.posts != 1 {
		t.Errorf("server got %d POSTs, want 1 (no resending)", srv.posts)
	}
	if srv.contentType != "application/vnd.syncml+xml" {
		t.Errorf("Content-Type = %q, want application/vnd.syncml+xml", srv.contentType)
	}
	body := string(srv.body)
	for _, want := range []string{
		"<SyncML",
		"<VerProto>SyncML/1.2</VerProto>",
		"<Source><LocURI>syncevo-test-device-1</LocURI><LocName>alice@example.org</LocName></Source>",
		"<Target><LocURI>" + srv.URL + "/syncml</LocURI></Target>",
		"<Target><LocURI>contacts</LocURI></Target><Source><LocURI>./addressbook</LocURI></Source>",
		"<Final/>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("first POST lacks %q:\n%.2000s", want, body)
		}
	}

	// The message the client logged is the one it sent.
	msgs, err := c.Messages(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || !msgs[0].Outgoing || !bytes.Equal(msgs[0].Data, srv.body) {
		t.Errorf("logged messages: %d, want the POST body as one outgoing message", len(msgs))
	}
}

// TestPackagedCrash documents the bug of the packaged client that the shim
// works around: without it the client dies of SIGSEGV on its first POST.
func TestPackagedCrash(t *testing.T) {
	srv := newFirstPost(t)
	c := New(t, &Options{URL: srv.URL + "/syncml", Username: "u", Password: "p", NoShim: true, Timeout: 10 * time.Second})
	r := c.Sync(t, Configured)
	t.Logf("without the shim: %s", r)
	if r.Signal == "" {
		t.Skipf("the packaged client no longer crashes without the shim (%s); the shim may be unnecessary", r)
	}
	if r.Signal != "segmentation fault" {
		t.Errorf("client died of %q, want segmentation fault", r.Signal)
	}
	// Killed by the bad read callback while sending the body.
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if bytes.Contains(srv.body, []byte("<SyncML")) {
		t.Errorf("the server got a SyncML body from the crashing client")
	}
}

func TestItems(t *testing.T) {
	dir := t.TempDir()
	c := New(t, &Options{URL: "http://127.0.0.1:9/syncml", Sources: []Source{
		{Name: "addressbook", URI: "contacts", Format: "text/vcard"},
		{Name: "todo", URI: "tasks", Format: "text/calendar", Dir: filepath.Join(dir, "tasks")},
	}})
	if got := c.Items(t, "addressbook"); len(got) != 0 {
		t.Fatalf("fresh datastore has items %v", got)
	}
	card := []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jane Roe\r\nN:Roe;Jane;;;\r\nEND:VCARD\r\n")
	c.WriteItem(t, "addressbook", "jane", card)
	c.WriteItem(t, "addressbook", "john", []byte("x"))
	c.WriteItem(t, "todo", "t1", []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"))
	got := c.Items(t, "addressbook")
	if len(got) != 2 || !bytes.Equal(got["jane"], card) || string(got["john"]) != "x" {
		t.Fatalf("Items = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "tasks", "t1")); err != nil {
		t.Errorf("item not in the configured directory: %v", err)
	}

	st1, err := os.Stat(filepath.Join(c.sources["addressbook"].Dir, "john"))
	if err != nil {
		t.Fatal(err)
	}
	c.WriteItem(t, "addressbook", "john", []byte("y"))
	st2, _ := os.Stat(filepath.Join(c.sources["addressbook"].Dir, "john"))
	if !st2.ModTime().After(st1.ModTime()) {
		t.Errorf("rewritten item kept its modification time %v", st1.ModTime())
	}

	c.DeleteItem(t, "addressbook", "john")
	got = c.Items(t, "addressbook")
	if len(got) != 1 || got["jane"] == nil {
		t.Fatalf("after DeleteItem: %q", got)
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/b", ".hidden"} {
		if _, err := itemPath(c.sources["addressbook"], bad); err == nil {
			t.Errorf("item name %q accepted", bad)
		}
	}

	// The configuration the helper wrote is SyncEvolution's view too.
	out, err := c.run(30*time.Second, "--print-config", "--quiet", "--", PeerName)
	if err != nil {
		t.Fatalf("--print-config: %v\n%s", err, out)
	}
	for _, want := range []string{
		"[addressbook]", "backend = file", "databaseFormat = text/vcard", "uri = contacts",
		"database = file://" + filepath.Join(dir, "tasks"), "uri = tasks", "databaseFormat = text/calendar",
		"enableWBXML = 0", "loglevel = 4", "keyring = no", "deviceId = " + c.Opts.DeviceID,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("configuration lacks %q:\n%s", want, out)
		}
	}
}

func vcard(uid, name string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + name + "\r\nN:" + name + ";;;;\r\nEND:VCARD\r\n"
}

// TestToyServer runs complete syncs against toyServer: items both ways,
// counters from status.ini, the logged messages, and the client refusing
// an unexpected slow sync.
func TestToyServer(t *testing.T) {
	srv := newToyServer(t)
	srv.mu.Lock()
	srv.items["srv1"] = vcard("srv1", "Doe")
	srv.mu.Unlock()
	c := New(t, &Options{URL: srv.URL + "/syncml", Username: "alice", Password: "pw", DeviceID: "toy-client"})

	// First sync: the client has no data, so it may slow sync.
	r := c.Sync(t, Configured)
	if !r.OK() {
		t.Fatalf("first sync: %s\n%s", r, r.Output)
	}
	s := r.Sources["addressbook"]
	if s.Mode != "slow" || !s.First || s.LocalAdded != 1 || s.RemoteAdded != 0 {
		t.Errorf("first sync: %+v", s)
	}
	items := c.Items(t, "addressbook")
	if len(items) != 1 {
		t.Fatalf("client has %d items, want the server's one", len(items))
	}
	for _, data := range items {
		if !strings.Contains(string(data), "FN:Doe") {
			t.Errorf("client item %q", data)
		}
	}

	msgs, err := c.Messages(r)
	if err != nil {
		t.Fatal(err)
	}
	// Client and server alternate; the last outgoing message, a status
	// for the server's final header, is logged but never sent.
	srv.mu.Lock()
	exchanged := srv.msgs
	srv.mu.Unlock()
	if len(msgs) != 2*exchanged+1 {
		t.Errorf("%d messages logged, %d exchanged", len(msgs), exchanged)
	}
	for i, m := range msgs {
		if m.Outgoing != (i%2 == 0) {
			t.Errorf("message %d (%s) out of order", i, m.File)
		}
		if _, err := parseXML(m.Data); err != nil {
			t.Errorf("message %s: %v", m.File, err)
		}
	}
	if len(msgs) > 3 {
		if !bytes.Contains(msgs[0].Data, []byte("<Alert><CmdID>3</CmdID><Data>201</Data>")) ||
			!bytes.Contains(msgs[3].Data, []byte("<Add>")) {
			t.Errorf("unexpected messages: %.500s ... %.500s", msgs[0].Data, msgs[3].Data)
		}
	}

	// Client changes travel as Add, Replace and Delete.
	c.WriteItem(t, "addressbook", "mine", []byte(vcard("c1", "Roe")))
	r = c.Sync(t, TwoWay)
	s = r.Sources["addressbook"]
	if !r.OK() || s.Mode != "two-way" || s.RemoteAdded != 1 || s.Sent == 0 {
		t.Errorf("sync with a new client item: %s", r)
	}
	c.WriteItem(t, "addressbook", "mine", []byte(vcard("c1", "Roe-Updated")))
	for name := range items {
		c.DeleteItem(t, "addressbook", name)
	}
	r = c.Sync(t, Configured)
	s = r.Sources["addressbook"]
	if !r.OK() || s.RemoteUpdated != 1 || s.RemoteRemoved != 1 {
		t.Errorf("sync with an update and a delete: %s", r)
	}
	srv.mu.Lock()
	if len(srv.added) != 2 || !strings.Contains(srv.added[1], "Roe-Updated") || srv.deleted != 1 {
		t.Errorf("server received %q and %d deletes", srv.added, srv.deleted)
	}
	// A server that lost its anchor forces a slow sync, which the client
	// refuses, and so does a server that asks for one.
	srv.loseAnchor = true
	srv.mu.Unlock()
	r = c.Sync(t, Configured)
	if r.OK() || r.Status != 22000 || r.Sources["addressbook"].Status != 22000 {
		t.Errorf("lost anchor: %s, want status 22000", r)
	}
	srv.mu.Lock()
	srv.loseAnchor = false
	srv.forceSlow = true
	srv.mu.Unlock()
	r = c.Sync(t, Configured)
	if r.Status != 22000 {
		t.Errorf("server-requested slow sync: %s, want status 22000", r)
	}
	// Asked for explicitly, the slow sync goes ahead.
	r = c.Sync(t, Slow)
	if !r.OK() || r.Sources["addressbook"].Mode != "slow" {
		t.Errorf("explicit slow sync: %s", r)
	}
}

// TestModes checks the SyncML alert each mode sends.
func TestModes(t *testing.T) {
	srv := newToyServer(t)
	c := New(t, &Options{URL: srv.URL + "/syncml", Username: "alice", Password: "pw", RefreshSync: true, AllowSlowSync: true})
	alert := regexp.MustCompile(`<Alert><CmdID>\d+</CmdID><Data>(\d+)</Data>`)
	for _, tc := range []struct {
		mode Mode
		code string
	}{
		{Configured, "201"}, // no anchor yet
		{TwoWay, "200"},
		{Slow, "201"},
		{OneWayFromClient, "202"},
		{RefreshFromClient, "203"},
		{OneWayFromServer, "204"},
		{RefreshFromServer, "205"},
	} {
		r := c.Sync(t, tc.mode, "addressbook")
		msgs, err := c.Messages(r)
		if !r.OK() || err != nil || len(msgs) == 0 {
			t.Errorf("mode %q: %s %v", tc.mode, r, err)
			continue
		}
		m := alert.FindSubmatch(msgs[0].Data)
		if m == nil || string(m[1]) != tc.code {
			t.Errorf("mode %q: first message alerts %q, want %s", tc.mode, m, tc.code)
		}
	}
}

// TestSyncMLVersion checks that SyncMLVersion reaches the wire.
func TestSyncMLVersion(t *testing.T) {
	srv := newFirstPost(t)
	c := New(t, &Options{URL: srv.URL + "/syncml", Username: "u", Password: "p", SyncMLVersion: "1.1", MaxMsgSize: 20000})
	r := c.Sync(t, Configured)
	if r.Signal != "" {
		t.Fatalf("%s", r)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for _, want := range []string{"<VerProto>SyncML/1.1</VerProto>", "SYNCML:SYNCML1.1", "<MaxMsgSize xmlns='syncml:metinf'>20000</MaxMsgSize>"} {
		if !bytes.Contains(srv.body, []byte(want)) {
			t.Errorf("first POST lacks %q: %.600s", want, srv.body)
		}
	}
}

func TestReadStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status.ini")
	os.WriteFile(path, []byte(`status = 200
start = 1795578065, 2026-11-25 03:41:05 +0000
source-my-todo-mode = two-way
source-my-todo-first = false
source-my-todo-resume = false
source-my-todo-status = 0
source-my-todo-backup-before = -1
source-my-todo-stat-local-any-sent = 156
source-my-todo-stat-local-added-total = 2
source-my-todo-stat-remote-added-total = 1
source-my-todo-stat-remote-any-reject = 3
`), 0o600)
	var r Result
	if err := r.readStatus(path); err != nil {
		t.Fatal(err)
	}
	s, ok := r.Sources["my-todo"]
	if r.Status != 200 || !ok || s.Mode != "two-way" || s.Sent != 156 || s.LocalAdded != 2 ||
		s.RemoteAdded != 1 || s.RemoteRejected != 3 || len(r.Sources) != 1 {
		t.Errorf("parsed %+v %+v", r, s)
	}
}

func TestReadMessagesOrder(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"syncevolution-log_trm001_001_outgoing.xml": "1",
		"syncevolution-log_trm010_002_incoming.xml": "2",
		"syncevolution-log_trm000_003_outgoing.xml": "3",
		"syncevolution-log.html":                    "x",
		"status.ini":                                "x",
	} {
		os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600)
	}
	msgs, err := ReadMessages(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, string(m.Data))
	}
	if strings.Join(got, ",") != "1,2,3" || !msgs[0].Outgoing || msgs[1].Outgoing {
		t.Errorf("order %v", got)
	}
}
