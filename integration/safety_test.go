package integration

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"syncml-imap/config"
	"syncml-imap/imapstore"
	"syncml-imap/integration/syncevo"
	"syncml-imap/internal/dovetest"
	"syncml-imap/plugin"
	"syncml-imap/syncml"
)

// The data-safety suite (issue 12): a phone reset, one device in two
// sessions, abandoned sessions, wrong passwords of one user while another
// syncs, and credentials of another user on an open session. Each case
// ends with an ordinary sync and a check that device and mailbox hold the
// same items, by count and by content.

// safeEnv is an env on a Dovecot started with the case's options, with
// one more hook: a response that the server produced but the device never
// gets (the connection drops on the way back).
type safeEnv struct {
	*env
	mu   sync.Mutex
	drop func(body []byte) bool // when set and true for a POST's body, its answer is lost
}

type safeOptions struct {
	Dove   *dovetest.Options
	Server func(*config.Config)
	Client func(*syncevo.Options)
}

// newSafeEnv wires a Dovecot, the endpoint and a SyncEvolution client as
// newEnvWith does, with the Dovecot options of the case.
func newSafeEnv(t *testing.T, o safeOptions) *safeEnv {
	t.Helper()
	dopts := o.Dove
	if dopts == nil {
		dopts = &dovetest.Options{}
	}
	dove := dovetest.Start(t, dopts)
	e := &safeEnv{env: &env{t: t, dove: dove, user: "carol@example.org", pass: "carol-pw"}}
	dove.AddUser(t, e.user, e.pass)
	cfg := config.Default()
	cfg.IMAP.Address = dove.Addr
	if o.Server != nil {
		o.Server(cfg)
	}
	h, err := plugin.NewHandler(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/syncml", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cut, record := e.hooks()
		if r.Method != http.MethodPost {
			h.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if record != nil {
			record(r.Header.Get("Content-Type"), body)
		}
		if cut != nil && cut() {
			http.Error(w, "cut by the test", http.StatusBadGateway)
			return
		}
		e.mu.Lock()
		drop := e.drop
		e.mu.Unlock()
		if drop != nil && drop(body) {
			// The server answers; the answer never reaches the device.
			h.ServeHTTP(httptest.NewRecorder(), r)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			http.Error(w, "answer lost", http.StatusBadGateway)
			return
		}
		h.ServeHTTP(w, r)
	}))
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close(); h.Server.Close() })
	e.url = "http://" + ln.Addr().String() + "/syncml"
	opts := &syncevo.Options{
		URL: e.url, Username: e.user, Password: e.pass, DeviceID: "sc-safety-device",
		RefreshSync: true,
		Sources:     []syncevo.Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}},
	}
	if o.Client != nil {
		o.Client(opts)
	}
	e.client = syncevo.New(t, opts)
	return e
}

func (e *safeEnv) setDrop(f func(body []byte) bool) {
	e.mu.Lock()
	e.drop = f
	e.mu.Unlock()
}

// freshClient is another SyncEvolution with the options of c but its own,
// empty directories: the same device after a reset, or a second client
// claiming the same device ID.
func freshClient(t *testing.T, c *syncevo.Client, change func(*syncevo.Options)) *syncevo.Client {
	t.Helper()
	o := c.Opts
	o.Sources = slices.Clone(o.Sources)
	for i := range o.Sources {
		o.Sources[i].Dir = ""
	}
	if change != nil {
		change(&o)
	}
	return syncevo.New(t, &o)
}

// peer is an env for another user of the same Dovecot and endpoint, so
// that mailbox and same work on that user's account.
func (e *safeEnv) peer(t *testing.T, user, pass string, client *syncevo.Client) *env {
	return &env{t: t, dove: e.dove, url: e.url, user: user, pass: pass, client: client}
}

// cardKey is a contact's content as the tests write it: the values of
// FN, N, TEL, EMAIL and NOTE, so that the device's, the mailbox's and the
// expected copy compare whatever each side adds or reformats.
func cardKey(data []byte) string {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\n ", "")
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		head, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(head, ";")
		switch strings.ToUpper(name) {
		case "FN", "N", "TEL", "EMAIL", "NOTE":
			parts = append(parts, strings.ToUpper(name)+"="+strings.TrimRight(value, ";"))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, "|")
}

// checkContacts compares a side's contacts with the expected ones as
// multisets of content: nothing missing, nothing extra, nothing doubled.
func checkContacts(t *testing.T, side string, got map[string][]byte, want [][]byte) {
	t.Helper()
	count := map[string]int{}
	for _, d := range want {
		count[cardKey(d)]++
	}
	for _, d := range got {
		count[cardKey(d)]--
	}
	var missing, extra []string
	for k, n := range count {
		for ; n > 0; n-- {
			missing = append(missing, k)
		}
		for ; n < 0; n++ {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(extra) > 0 {
		t.Errorf("%s holds %d contacts, want %d; %d missing, %d extra or doubled\nmissing:%s\nextra:%s",
			side, len(got), len(want), len(missing), len(extra), listSome(missing), listSome(extra))
	}
}

// listSome lists up to a dozen entries, one a line.
func listSome(l []string) string {
	if len(l) == 0 {
		return " (none)"
	}
	slices.Sort(l)
	more := ""
	if len(l) > 12 {
		l, more = l[:12], fmt.Sprintf("\n  ... and %d more", len(l)-12)
	}
	return "\n  " + strings.Join(l, "\n  ") + more
}

// writeNumbered writes contacts as the files 1, 2, 3, ...: the file
// backend's item IDs, numbered as a phone numbers its items.
func writeNumbered(t *testing.T, c *syncevo.Client, cards [][]byte) {
	t.Helper()
	for i, d := range cards {
		c.WriteItem(t, "addressbook", strconv.Itoa(i+1), d)
	}
}

func cards(from, to int, note string) [][]byte {
	var out [][]byte
	for i := from; i <= to; i++ {
		out = append(out, contact(i, note))
	}
	return out
}

// quiet checks that a sync changed nothing on either side.
func quiet(t *testing.T, r *syncevo.Result, source string) {
	t.Helper()
	s := r.Sources[source]
	if s.Mode != "two-way" || s.LocalAdded+s.LocalUpdated+s.LocalRemoved+s.RemoteAdded+s.RemoteUpdated+s.RemoteRemoved != 0 {
		t.Errorf("the sync after was not quiet: %+v", s)
	}
}

// TestSafetyPhoneReset: a phone syncs 20 contacts; then it is reset (same
// device ID, its data and sync state wiped) and holds new contacts whose
// item IDs restart at 1, colliding with those of its old life. Its slow
// sync must match by content only: nothing of the mailbox overwritten,
// nothing doubled, the new contacts added.
func TestSafetyPhoneReset(t *testing.T) {
	old := cards(1, 20, "old life")
	for _, tc := range []struct {
		name  string
		after [][]byte // the reset phone's contacts, as files 1, 2, ...
		want  [][]byte // both sides in the end
	}{
		{"five new contacts", cards(101, 105, "after the reset"), append(slices.Clone(old), cards(101, 105, "after the reset")...)},
		// The reset phone got three of the old contacts back (same
		// content, new IDs 1..3, which were Person 001..003 before) and
		// has two new ones.
		{"three old and two new", append(cards(11, 13, "old life"), cards(101, 102, "after the reset")...),
			append(slices.Clone(old), cards(101, 102, "after the reset")...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSafeEnv(t, safeOptions{Client: func(o *syncevo.Options) { o.DeviceID = "IMEI:355000000000001" }})
			writeNumbered(t, e.client, old)
			e.sync(t, syncevo.Slow)
			checkContacts(t, "mailbox before the reset", e.mailbox(imapstore.KindContacts), old)

			e.client = freshClient(t, e.client, func(o *syncevo.Options) { o.AllowSlowSync = true })
			writeNumbered(t, e.client, tc.after)
			r := e.sync(t, syncevo.TwoWay) // the client has no anchor: it asks for a slow sync
			if s := r.Sources["addressbook"]; s.Mode != "slow" {
				t.Errorf("the reset phone's first sync: %+v, want a slow sync", s)
			}
			t.Logf("after the reset phone's sync: mailbox %d, phone %d (%s)",
				len(e.mailbox(imapstore.KindContacts)), len(e.client.Items(t, "addressbook")), r)
			checkContacts(t, "the mailbox", e.mailbox(imapstore.KindContacts), tc.want)
			checkContacts(t, "the phone", e.client.Items(t, "addressbook"), tc.want)
			e.same(t, "addressbook")

			r = e.sync(t, syncevo.TwoWay)
			quiet(t, r, "addressbook")
			checkContacts(t, "the mailbox after a second sync", e.mailbox(imapstore.KindContacts), tc.want)
			checkContacts(t, "the phone after a second sync", e.client.Items(t, "addressbook"), tc.want)
		})
	}
}

// smallMessages makes sessions span many messages: the client's
// messages stay under the server's 16,000 bytes (SyncEvolution's first
// message, its DevInf, needs 14,000), the server's under the client's
// 10,240 (SyncEvolution's least).
func smallMessages(c *config.Config) { c.HTTP.MaxBodyBytes = 16000 }

// padded is a note long enough that a hundred contacts take several
// messages.
func padded(note string) string { return note + strings.Repeat(" and some more words", 10) }

// refusal403 reports whether a logged server message refuses the
// session: a SyncHdr status 403 with a reason. Else it describes the
// server's header statuses.
func refusal403(msgs []syncevo.Message) (string, bool) {
	var seen []string
	for _, m := range msgs {
		if m.Outgoing {
			continue
		}
		msg, err := parseXML(m.Data)
		if err != nil {
			// SyncEvolution logs a message it gave up on only as far
			// as it read it.
			if sm := hdrStatusText.FindSubmatch(m.Data); sm != nil {
				if string(sm[1]) == "403" && len(bytes.TrimSpace(sm[2])) > 0 {
					return string(sm[2]), true
				}
				seen = append(seen, m.File+": "+string(sm[1])+" (cut short)")
				continue
			}
			seen = append(seen, fmt.Sprintf("%s: %v:\n%s", m.File, err, m.Data))
			continue
		}
		st := hdrStatus(msg)
		if st != nil && st.Data == "403" && itemText(st) != "" {
			return itemText(st), true
		}
		seen = append(seen, m.File+": "+describeStatus(st))
	}
	return strings.Join(seen, "; "), false
}

// hdrStatusText finds the header status, and its reason, in a message
// logged only in part.
var hdrStatusText = regexp.MustCompile(`<Cmd>SyncHdr</Cmd>(?:<TargetRef>[^<]*</TargetRef>)*(?:<SourceRef>[^<]*</SourceRef>)*` +
	`(?:<Chal>.*?</Chal>)?<Data>(\d+)</Data>(?:<Item><Data>([^<]*)</Data>)?`)

// TestSafetyOverlappingSessions: one device ID in two sessions at once.
func TestSafetyOverlappingSessions(t *testing.T) {
	// Two clients with one device ID and different data start slow syncs
	// at the same time. One of them is refused with a 403; then each syncs
	// once more, one after the other: the mailbox holds the union, nothing
	// doubled, nothing of one written onto the other's contacts (the
	// clients' item IDs are the same 1..100).
	t.Run("two clients one device", func(t *testing.T) {
		t.Parallel()
		e := newSafeEnv(t, safeOptions{Server: smallMessages, Client: func(o *syncevo.Options) {
			o.DeviceID, o.MaxMsgSize, o.AllowSlowSync = "IMEI:355000000000002", 5000, true
		}})
		x := e.client
		y := freshClient(t, x, nil)
		xs, ys := cards(1, 100, padded("from client X")), cards(501, 600, padded("from client Y"))
		writeNumbered(t, x, xs)
		writeNumbered(t, y, ys)
		union := append(slices.Clone(xs), ys...)

		var wg sync.WaitGroup
		res := make([]*syncevo.Result, 2)
		for i, c := range []*syncevo.Client{x, y} {
			wg.Add(1)
			go func() { defer wg.Done(); res[i] = c.Sync(t, syncevo.Slow) }()
		}
		wg.Wait()
		t.Logf("overlapping sessions: X %s\nY %s\nmailbox %d", res[0], res[1], len(e.mailbox(imapstore.KindContacts)))
		if res[0].OK() == res[1].OK() {
			t.Errorf("overlapping sessions of one device: X ok=%v, Y ok=%v; want exactly one refused", res[0].OK(), res[1].OK())
		}
		clients := []*syncevo.Client{x, y}
		loser, winner := 0, 1
		if !res[1].OK() {
			loser, winner = 1, 0
		}
		if !res[loser].OK() {
			msgs, err := clients[loser].Messages(res[loser])
			if err != nil {
				t.Fatal(err)
			}
			if reason, ok := refusal403(msgs); !ok {
				t.Errorf("the refused session got no header status 403 with a reason; the server's header statuses: %s", reason)
			} else {
				t.Logf("refusal: %s", reason)
			}
		}
		// Ordinary syncs, one after the other.
		for _, i := range []int{loser, winner} {
			e.client = clients[i]
			r := e.sync(t, syncevo.TwoWay)
			t.Logf("sync of %c: %s; mailbox %d", "XY"[i], r, len(e.mailbox(imapstore.KindContacts)))
		}
		checkContacts(t, "the mailbox", e.mailbox(imapstore.KindContacts), union)
		checkContacts(t, "client X", x.Items(t, "addressbook"), union)
		checkContacts(t, "client Y", y.Items(t, "addressbook"), union)
		e.same(t, "addressbook")
		quiet(t, e.sync(t, syncevo.TwoWay), "addressbook")
		checkContacts(t, "the mailbox after the quiet sync", e.mailbox(imapstore.KindContacts), union)
	})

	// A phone's slow sync loses the answer to its message 3 (the server
	// processed it); the phone starts over with a new session while the
	// old one is still open on the server. Then the old session's message
	// 3 arrives once more: refused with a 403, nothing executed.
	t.Run("phone retries", func(t *testing.T) {
		t.Parallel()
		e := newSafeEnv(t, safeOptions{Server: smallMessages, Client: func(o *syncevo.Options) {
			o.DeviceID, o.MaxMsgSize, o.AllowSlowSync = "IMEI:355000000000003", 5000, true
		}})
		want := cards(1, 100, padded("retried"))
		writeNumbered(t, e.client, want)
		e.setDrop(func(body []byte) bool { return bytes.Contains(body, []byte("<MsgID>3</MsgID>")) })
		r := e.client.Sync(t, syncevo.Slow)
		e.setDrop(nil)
		if r.OK() {
			t.Fatalf("the session whose answer was lost succeeded: %s", r)
		}
		t.Logf("cut session: %s; mailbox %d", r, len(e.mailbox(imapstore.KindContacts)))
		msgs, err := e.client.Messages(r)
		if err != nil {
			t.Fatal(err)
		}
		var respURI string
		var third []byte
		for _, m := range msgs {
			if !m.Outgoing && respURI == "" {
				if msg, err := parseXML(m.Data); err == nil {
					respURI = msg.Hdr.RespURI
				}
			}
			if m.Outgoing && bytes.Contains(m.Data, []byte("<MsgID>3</MsgID>")) {
				third = m.Data
			}
		}
		if respURI == "" || third == nil {
			t.Fatalf("no RespURI (%q) or third message (%d bytes) in the cut session", respURI, len(third))
		}

		r = e.sync(t, syncevo.TwoWay)
		t.Logf("retry: %s; mailbox %d", r, len(e.mailbox(imapstore.KindContacts)))
		checkContacts(t, "the mailbox", e.mailbox(imapstore.KindContacts), want)
		checkContacts(t, "the phone", e.client.Items(t, "addressbook"), want)
		e.same(t, "addressbook")

		reply := postXML(t, respURI, third)
		if st := hdrStatus(reply); st == nil || st.Data != "403" || itemText(st) == "" {
			t.Errorf("the old session's late message: header status %s, want 403 with a reason", describeStatus(st))
		}
		for _, st := range commandStatuses(reply) {
			if strings.HasPrefix(st.Data, "2") {
				t.Errorf("the old session's late message: %s %s answered %s", st.Cmd, st.CmdRef, st.Data)
			}
		}
		checkContacts(t, "the mailbox after the late message", e.mailbox(imapstore.KindContacts), want)
		quiet(t, e.sync(t, syncevo.TwoWay), "addressbook")
		checkContacts(t, "the mailbox after the quiet sync", e.mailbox(imapstore.KindContacts), want)
		checkContacts(t, "the phone after the quiet sync", e.client.Items(t, "addressbook"), want)
	})
}

// TestSafetyAbandonedSessions: a dozen sessions of the user authenticate
// and are abandoned, on a Dovecot that allows 5 connections per user and
// address; then the user's real device syncs. A session the server cannot
// start now is refused with a status that says so (420 or 503 with a
// reason; not 401, the password is right), never a crash. Sessions that
// are not handling a message give their IMAP connection back when the
// user's next login needs it (and after [http] idle_release anyway), so
// the real device's sync succeeds at once.
//
// (The per-user session cap is twice max_devices, and a device holds at
// most one session: it cannot be reached from outside.)
func TestSafetyAbandonedSessions(t *testing.T) {
	t.Parallel()
	const limit = 5
	e := newSafeEnv(t, safeOptions{
		Dove:   &dovetest.Options{MaxUserIPConnections: limit},
		Server: func(c *config.Config) { c.Sync.MaxDevices = 16 },
		Client: func(o *syncevo.Options) { o.DeviceID = "IMEI:355000000000004" },
	})
	statuses := map[string]int{}
	for i := range 12 {
		s := &scripted{url: e.url, device: fmt.Sprintf("abandoned-%02d", i), session: strconv.Itoa(100 + i)}
		st := hdrStatus(s.start(t, e.user, e.pass))
		statuses[describeStatus(st)]++
		if !clearRefusalOrOK(st) {
			t.Errorf("abandoned session %d with the right password: header status %s", i, describeStatus(st))
		}
	}
	t.Logf("the 12 abandoned sessions were answered: %v; IMAP connections of the user: %d", statuses, imapConnections(t, e.dove, e.user))

	want := cards(1, 3, "after the abandoned sessions")
	writeNumbered(t, e.client, want)
	// The abandoned sessions hold connections up to Dovecot's limit; the
	// real device's login has the idle ones give theirs back and gets in
	// at once.
	r := e.client.Sync(t, syncevo.Slow)
	if !r.OK() {
		t.Fatalf("the real device's sync right after 12 abandoned sessions failed: %s; server header statuses %v", r, serverHdrStatuses(t, e.client, r))
	}
	if n := imapConnections(t, e.dove, e.user); n > limit {
		t.Errorf("%d IMAP connections of the user, Dovecot allows %d", n, limit)
	}
	checkContacts(t, "the mailbox", e.mailbox(imapstore.KindContacts), want)
	checkContacts(t, "the phone", e.client.Items(t, "addressbook"), want)
	e.same(t, "addressbook")
	quiet(t, e.sync(t, syncevo.TwoWay), "addressbook")
}

// clearRefusalOrOK: a session accepted (212, 200), or refused for now
// with a reason (420 device full, 503 service unavailable).
func clearRefusalOrOK(st *syncml.Status) bool {
	switch {
	case st == nil:
		return false
	case st.Data == "212" || st.Data == "200":
		return true
	case st.Data == "420" || st.Data == "503":
		return itemText(st) != ""
	}
	return false
}

// serverHdrStatuses are the header statuses of the server's messages in
// a client's session.
func serverHdrStatuses(t *testing.T, c *syncevo.Client, r *syncevo.Result) []string {
	t.Helper()
	msgs, err := c.Messages(r)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, m := range msgs {
		if m.Outgoing {
			continue
		}
		if msg, err := parseXML(m.Data); err == nil {
			out = append(out, describeStatus(hdrStatus(msg)))
		} else if sm := hdrStatusText.FindSubmatch(m.Data); sm != nil {
			out = append(out, fmt.Sprintf("%s (%s)", sm[1], sm[2]))
		}
	}
	return out
}

// imapConnections is how many IMAP connections Dovecot has open for the
// user (doveadm who).
func imapConnections(t *testing.T, dove *dovetest.Server, user string) int {
	t.Helper()
	n := 0
	for _, l := range strings.Split(dove.Doveadm(t, "who", user), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == user && f[2] == "imap" {
			c, _ := strconv.Atoi(f[1])
			n += c
		}
	}
	return n
}

// TestSafetyWrongPasswords: user A's stale phone sends wrong passwords
// from its own address (through a reverse proxy the daemon trusts, which
// names it in X-Forwarded-For), on a Dovecot with its per-address auth
// penalty on and the daemon's address in login_trusted_networks. At the
// same time user B syncs: B must succeed. Then A's other device (another
// device ID, another address) syncs: A's stale phone being locked out
// must not lock it out.
func TestSafetyWrongPasswords(t *testing.T) {
	t.Parallel()
	const staleAddr = "192.0.2.77" // TEST-NET-1: never a real client
	e := newSafeEnv(t, safeOptions{
		Dove:   &dovetest.Options{AuthPenalty: true, TrustedNetworks: "127.0.0.0/8"},
		Server: func(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.1"} },
		Client: func(o *syncevo.Options) { o.DeviceID = "carol-tablet" },
	})
	e.dove.AddUser(t, "bob@example.org", "bob-pw")
	bob := e.peer(t, "bob@example.org", "bob-pw", syncevo.New(t, &syncevo.Options{
		URL: e.url, Username: "bob@example.org", Password: "bob-pw", DeviceID: "bob-phone",
		Sources: []syncevo.Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}},
	}))
	proxy := forwardingProxy(t, e.url, staleAddr)

	carolWant, bobWant := cards(1, 2, "carol's"), cards(51, 52, "bob's")
	writeNumbered(t, e.client, carolWant)
	writeNumbered(t, bob.client, bobWant)
	e.sync(t, syncevo.Slow)
	bob.sync(t, syncevo.Slow)

	// Carol's old phone, still configured with old passwords (she typed
	// a few on it): each run is one attempt, several at a time.
	var stale []*syncevo.Client
	for i := range 5 {
		stale = append(stale, syncevo.New(t, &syncevo.Options{
			URL: proxy, Username: e.user, Password: fmt.Sprintf("old-password-%d", i), DeviceID: "carol-old-phone",
			Timeout: 20 * time.Second,
		}))
	}
	attempts := func() []*syncevo.Result {
		out := make([]*syncevo.Result, len(stale))
		var wg sync.WaitGroup
		for i, c := range stale {
			wg.Add(1)
			go func() { defer wg.Done(); out[i] = c.Sync(t, syncevo.Slow) }()
		}
		wg.Wait()
		return out
	}
	first := attempts()

	// At once: more attempts of the stale phone while bob syncs.
	bob.client.WriteItem(t, "addressbook", "3", contact(53, "bob's"))
	bobWant = append(bobWant, contact(53, "bob's"))
	var second []*syncevo.Result
	var bobRes *syncevo.Result
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); second = attempts() }()
	go func() { defer wg.Done(); bobRes = bob.client.Sync(t, syncevo.TwoWay) }()
	wg.Wait()
	for i, r := range append(first, second...) {
		if r.OK() {
			t.Errorf("stale phone attempt %d with a wrong password succeeded", i)
		}
	}
	t.Logf("stale phone: %v", append(first, second...))
	t.Logf("bob's sync took %v", bobRes.Duration)
	for _, l := range strings.Split(e.dove.Log(), "\n") {
		if strings.Contains(l, "imap-login:") {
			t.Logf("dovecot: %s", l)
		}
	}
	if !bobRes.OK() {
		t.Errorf("bob's sync while carol's stale phone failed logins: %s", bobRes)
	}

	// Carol's tablet, from another address, with the right password.
	e.client.WriteItem(t, "addressbook", "3", contact(3, "carol's"))
	carolWant = append(carolWant, contact(3, "carol's"))
	if r := e.client.Sync(t, syncevo.TwoWay); !r.OK() {
		t.Errorf("carol's tablet after her old phone was locked out: %s", r)
	}

	// Dovecot saw the stale phone's failures from its address, not from
	// the daemon's.
	var fromDaemon, fromPhone int
	for _, l := range strings.Split(e.dove.Log(), "\n") {
		if !strings.Contains(l, "auth failed") || !strings.Contains(l, e.user) {
			continue
		}
		switch {
		case strings.Contains(l, "rip="+staleAddr):
			fromPhone++
		case strings.Contains(l, "rip=127."):
			fromDaemon++
		}
	}
	if fromPhone == 0 || fromDaemon != 0 {
		t.Errorf("Dovecot logged carol's failed logins as from the phone's %s %d times, from the daemon's address %d times",
			staleAddr, fromPhone, fromDaemon)
	}

	// Ordinary syncs: both accounts whole.
	mustSync(t, bob.client, syncevo.TwoWay)
	mustSync(t, e.client, syncevo.TwoWay)
	checkContacts(t, "bob's mailbox", bob.mailbox(imapstore.KindContacts), bobWant)
	checkContacts(t, "bob's phone", bob.client.Items(t, "addressbook"), bobWant)
	bob.same(t, "addressbook")
	checkContacts(t, "carol's mailbox", e.mailbox(imapstore.KindContacts), carolWant)
	checkContacts(t, "carol's tablet", e.client.Items(t, "addressbook"), carolWant)
	e.same(t, "addressbook")
}

// TestSafetyForeignCredentials: a message on carol's open session (her
// RespURI) carrying bob's credentials is refused, and nothing of it is
// executed, in either mailbox.
func TestSafetyForeignCredentials(t *testing.T) {
	t.Parallel()
	e := newSafeEnv(t, safeOptions{})
	e.dove.AddUser(t, "bob@example.org", "bob-pw")
	bob := e.peer(t, "bob@example.org", "bob-pw", nil)

	s := &scripted{url: e.url, device: "scripted-carol", session: "1"}
	reply := s.start(t, e.user, e.pass)
	if st := hdrStatus(reply); st == nil || st.Data != "212" || reply.Hdr.RespURI == "" {
		t.Fatalf("carol's session did not start: header status %s, RespURI %q", describeStatus(st), reply.Hdr.RespURI)
	}
	reply = s.send(t, reply.Hdr.RespURI, "bob@example.org", "bob-pw", contact(7, "sent with bob's credentials"))
	st := hdrStatus(reply)
	if st == nil || (st.Data != "401" && st.Data != "403") {
		t.Errorf("a message with bob's credentials on carol's session: header status %s, want 401 or 403", describeStatus(st))
	}
	for _, c := range commandStatuses(reply) {
		if strings.HasPrefix(c.Data, "2") {
			t.Errorf("a message with bob's credentials on carol's session: %s %s answered %s", c.Cmd, c.CmdRef, c.Data)
		}
	}
	checkContacts(t, "carol's mailbox", e.mailbox(imapstore.KindContacts), nil)
	checkContacts(t, "bob's mailbox", bob.mailbox(imapstore.KindContacts), nil)

	want := cards(1, 2, "carol's own")
	writeNumbered(t, e.client, want)
	e.sync(t, syncevo.Slow)
	checkContacts(t, "carol's mailbox after her sync", e.mailbox(imapstore.KindContacts), want)
	checkContacts(t, "carol's phone", e.client.Items(t, "addressbook"), want)
	e.same(t, "addressbook")
	checkContacts(t, "bob's mailbox in the end", bob.mailbox(imapstore.KindContacts), nil)
}

// forwardingProxy is a reverse proxy on 127.0.0.1 in front of target
// that tells the daemon the client is at addr (X-Forwarded-For). It keeps
// the Host header, so that RespURIs lead back through it.
func forwardingProxy(t *testing.T, target, addr string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	base := &url.URL{Scheme: u.Scheme, Host: u.Host}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(base)
		pr.Out.Host = pr.In.Host
		pr.Out.Header.Set("X-Forwarded-For", addr)
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: rp}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String() + u.Path
}

// scripted is a SyncML client written out in the test, for what
// SyncEvolution cannot be made to do: abandon a session, or send another
// user's credentials on an open one.
type scripted struct {
	url, device, session string
}

const scriptedHdr = `<SyncHdr><VerDTD>1.2</VerDTD><VerProto>SyncML/1.2</VerProto><SessionID>%s</SessionID><MsgID>%d</MsgID>` +
	`<Target><LocURI>%s</LocURI></Target><Source><LocURI>%s</LocURI></Source>%s` +
	`<Meta><MaxMsgSize xmlns='syncml:metinf'>20000</MaxMsgSize></Meta></SyncHdr>`

func (s *scripted) hdr(msgID int, user, pass string) string {
	cred := ""
	if user != "" {
		cred = `<Cred><Meta><Format xmlns='syncml:metinf'>b64</Format><Type xmlns='syncml:metinf'>syncml:auth-basic</Type></Meta>` +
			`<Data>` + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)) + `</Data></Cred>`
	}
	return fmt.Sprintf(scriptedHdr, s.session, msgID, s.url, s.device, cred)
}

// start sends package 1: credentials and a slow-sync alert for contacts.
func (s *scripted) start(t *testing.T, user, pass string) *syncml.Message {
	t.Helper()
	body := `<?xml version="1.0" encoding="UTF-8"?><SyncML xmlns='SYNCML:SYNCML1.2'>` + s.hdr(1, user, pass) +
		`<SyncBody><Alert><CmdID>1</CmdID><Data>201</Data><Item><Target><LocURI>contacts</LocURI></Target>` +
		`<Source><LocURI>./addressbook</LocURI></Source><Meta><Anchor xmlns='syncml:metinf'><Next>1</Next></Anchor></Meta></Item>` +
		`</Alert><Final/></SyncBody></SyncML>`
	return postXML(t, s.url, []byte(body))
}

// send sends package 3 to the session's RespURI with the given
// credentials in its header: the status of the server's header and a
// Sync adding one contact.
func (s *scripted) send(t *testing.T, respURI, user, pass string, card []byte) *syncml.Message {
	t.Helper()
	body := `<?xml version="1.0" encoding="UTF-8"?><SyncML xmlns='SYNCML:SYNCML1.2'>` + s.hdr(2, user, pass) +
		`<SyncBody><Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd>` +
		`<TargetRef>` + s.device + `</TargetRef><SourceRef>` + s.url + `</SourceRef><Data>200</Data></Status>` +
		`<Sync><CmdID>2</CmdID><Target><LocURI>contacts</LocURI></Target><Source><LocURI>./addressbook</LocURI></Source>` +
		`<NumberOfChanges>1</NumberOfChanges><Add><CmdID>3</CmdID><Meta><Type xmlns='syncml:metinf'>text/vcard</Type></Meta>` +
		`<Item><Source><LocURI>1</LocURI></Source><Data><![CDATA[` + string(card) + `]]></Data></Item></Add></Sync>` +
		`<Final/></SyncBody></SyncML>`
	return postXML(t, respURI, []byte(body))
}

// postXML posts one SyncML message and reads the answer; anything but a
// SyncML answer fails the test.
func postXML(t *testing.T, to string, body []byte) *syncml.Message {
	t.Helper()
	resp, err := http.Post(to, syncml.ContentTypeXML, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: HTTP %s: %s", to, resp.Status, data)
	}
	msg, err := parseXML(data)
	if err != nil {
		t.Fatalf("POST %s: the answer is not SyncML: %v\n%s", to, err, data)
	}
	return msg
}

var xmlDecl = regexp.MustCompile(`^\s*<\?xml[^>]*\?>`)

func parseXML(data []byte) (*syncml.Message, error) {
	root, err := syncml.Decode(syncml.EncodingXML, xmlDecl.ReplaceAll(data, nil))
	if err != nil {
		return nil, err
	}
	return syncml.ParseMessage(root)
}

func hdrStatus(m *syncml.Message) *syncml.Status {
	for _, c := range m.Body {
		if st, ok := c.(*syncml.Status); ok && st.Cmd == "SyncHdr" {
			return st
		}
	}
	return nil
}

// commandStatuses are the statuses of a message's commands (not of its
// header).
func commandStatuses(m *syncml.Message) []*syncml.Status {
	var out []*syncml.Status
	for _, c := range m.Body {
		if st, ok := c.(*syncml.Status); ok && st.Cmd != "SyncHdr" {
			out = append(out, st)
		}
	}
	return out
}

func itemText(st *syncml.Status) string {
	for _, it := range st.Items {
		if it.Data != nil && strings.TrimSpace(it.Data.Text) != "" {
			return strings.TrimSpace(it.Data.Text)
		}
	}
	return ""
}

func describeStatus(st *syncml.Status) string {
	if st == nil {
		return "(none)"
	}
	if r := itemText(st); r != "" {
		return st.Data + " (" + r + ")"
	}
	return st.Data
}
