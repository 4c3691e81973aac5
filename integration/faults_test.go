package integration

// The fault-injection suite (issue 12): the daemon, the IMAP server or the
// client dies in the middle of a sync, or a mail client changes the
// folder while a sync runs. Each case is followed by ordinary syncs and a
// check that the device and the mailbox hold the same contacts, every one
// exactly once and with the content it should have (agree).
//
// go test -run TestFault ./integration/ runs the cases every CI run
// needs; the variants that add little to them (the daemon killed while it
// answers the client's message rather than before it reads it, the whole
// Dovecot killed with SIGKILL rather than stopped) run only with
// -faults.heavy or SYNCML_IMAP_HEAVY=1. The cases run in parallel (each has
// its own Dovecot, endpoint and client) and each logs how long it took
// ("fault case ... took").

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"syncml-imap/config"
	"syncml-imap/imapstore"
	"syncml-imap/integration/syncevo"
	"syncml-imap/internal/dovetest"
)

var heavyFaults = flag.Bool("faults.heavy", false, "also run the heavy fault-injection cases (or SYNCML_IMAP_HEAVY=1)")

// heavyCase skips a heavy case unless asked for.
func heavyCase(t *testing.T) {
	t.Helper()
	if !*heavyFaults && os.Getenv("SYNCML_IMAP_HEAVY") != "1" {
		t.Skip("heavy fault case: run with -faults.heavy or SYNCML_IMAP_HEAVY=1")
	}
}

// timed logs how long a case took, for the suite's timing table.
func timed(t *testing.T) {
	start := time.Now()
	t.Cleanup(func() { t.Logf("fault case %s took %v", t.Name(), time.Since(start).Round(100*time.Millisecond)) })
}

// faultClient is the client of every case: contacts only, small messages
// (a slow sync of 200 contacts spans several), slow syncs accepted (a
// repair may need one), a reply not there in 30 s is a failure.
func faultClient(o *syncevo.Options) {
	o.Sources = []syncevo.Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}}
	o.MaxMsgSize = 10240
	o.AllowSlowSync = true
	o.Timeout = 30 * time.Second
}

// faultServer keeps the server's messages small too.
func faultServer(c *config.Config) { c.HTTP.MaxBodyBytes = 20000 }

// book is what both sides must hold after a repair: each contact, by its
// number, with the NOTE it must carry.
type book map[int]string

func (b book) add(note string, from, to int) {
	for i := from; i < to; i++ {
		b[i] = note
	}
}

func (b book) drop(from, to int) {
	for i := from; i < to; i++ {
		delete(b, i)
	}
}

// unfold joins folded lines and normalises line ends.
func unfold(d []byte) []string {
	s := strings.ReplaceAll(string(d), "\r\n", "\n")
	return strings.Split(strings.ReplaceAll(s, "\n ", ""), "\n")
}

var personFN = regexp.MustCompile(`^FN:Person (\d{3})$`)

// agree checks that device and mailbox hold the same contacts field by
// field (e.same), and that each side holds every contact of want exactly
// once, with its e-mail address and note, and nothing else.
func (e *env) agree(t *testing.T, want book) {
	t.Helper()
	sides := []struct {
		name  string
		items map[string][]byte
	}{{"device", e.client.Items(t, "addressbook")}, {"mailbox", e.mailbox(imapstore.KindContacts)}}
	bad := false
	for _, side := range sides {
		seen := map[int]int{}
		var problems []string
		for _, d := range side.items {
			num, note, email := -1, "", ""
			for _, l := range unfold(d) {
				if m := personFN.FindStringSubmatch(l); m != nil {
					num, _ = strconv.Atoi(m[1])
				}
				if v, ok := strings.CutPrefix(l, "NOTE:"); ok {
					note = v
				}
				if _, v, ok := strings.Cut(l, ":"); ok && strings.HasPrefix(l, "EMAIL") {
					email = v
				}
			}
			if num < 0 {
				problems = append(problems, fmt.Sprintf("an item that is no contact of the test:\n%s", d))
				continue
			}
			seen[num]++
			if wantNote, ok := want[num]; !ok {
				problems = append(problems, fmt.Sprintf("Person %03d should not be there (note %q)", num, note))
			} else if note != wantNote {
				problems = append(problems, fmt.Sprintf("Person %03d has note %q, want %q", num, note, wantNote))
			}
			if wantEmail := fmt.Sprintf("p%03d@example.org", num); email != wantEmail {
				problems = append(problems, fmt.Sprintf("Person %03d has e-mail %q, want %q", num, email, wantEmail))
			}
		}
		for num := range want {
			if seen[num] == 0 {
				problems = append(problems, fmt.Sprintf("Person %03d is missing", num))
			}
		}
		for num, n := range seen {
			if n > 1 {
				problems = append(problems, fmt.Sprintf("Person %03d is there %d times", num, n))
			}
		}
		if len(problems) > 0 {
			slices.Sort(problems)
			bad = true
			t.Errorf("%s holds %d contacts, want %d:\n%s", side.name, len(side.items), len(want), strings.Join(problems, "\n"))
		}
	}
	if bad {
		t.FailNow()
	}
	e.same(t, "addressbook")
	t.Logf("device and mailbox agree: %d contacts each", len(want))
}

// quiet checks that a sync after the repair has nothing left to do.
func (e *env) quiet(t *testing.T, want book) {
	t.Helper()
	r := e.sync(t, syncevo.TwoWay)
	if s := r.Sources["addressbook"]; s.LocalAdded+s.LocalUpdated+s.LocalRemoved+s.RemoteAdded+s.RemoteUpdated+s.RemoteRemoved != 0 {
		t.Errorf("the sync after the repair still changed things: %s", r)
	}
	e.agree(t, want)
}

// seed gives the device contacts from..to-1 ("first") and slow-syncs
// them into the empty mailbox.
func (e *env) seed(t *testing.T, want book, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		e.client.WriteItem(t, "addressbook", fmt.Sprintf("c%03d.vcf", i), contact(i, "first"))
	}
	want.add("first", from, to)
	e.sync(t, syncevo.Slow)
	e.agree(t, want)
}

// fileOf returns the device's file holding contact i.
func (e *env) fileOf(t *testing.T, i int) string {
	t.Helper()
	fn := fmt.Sprintf("FN:Person %03d", i)
	for name, d := range e.client.Items(t, "addressbook") {
		if strings.Contains(string(d), fn+"\r\n") || strings.Contains(string(d), fn+"\n") {
			return name
		}
	}
	t.Fatalf("no Person %03d on the device", i)
	return ""
}

// idOf returns the mailbox's item ID of contact i.
func (e *env) idOf(t *testing.T, i int) string {
	t.Helper()
	fn := fmt.Sprintf("FN:Person %03d\r\n", i)
	for id, d := range e.mailbox(imapstore.KindContacts) {
		if strings.Contains(string(d), fn) {
			return id
		}
	}
	t.Fatalf("no Person %03d in the mailbox", i)
	return ""
}

// changeBoth makes changes on both sides, in contact numbers from base
// (which must be synced contacts base..base+30): the device edits
// base..+5, deletes +5..+10 and adds 800+base..+n; the mailbox edits
// +10..+15, deletes +15..+20 and adds 900+base..+n.
func (e *env) changeBoth(t *testing.T, want book, base, n int) {
	t.Helper()
	for i := base; i < base+5; i++ {
		e.client.WriteItem(t, "addressbook", e.fileOf(t, i), contact(i, "edited on the device"))
	}
	want.add("edited on the device", base, base+5)
	for i := base + 5; i < base+10; i++ {
		e.client.DeleteItem(t, "addressbook", e.fileOf(t, i))
	}
	want.drop(base+5, base+10)
	for i := 800 + base; i < 800+base+n; i++ {
		e.client.WriteItem(t, "addressbook", fmt.Sprintf("n%03d.vcf", i), contact(i, "new on the device"))
	}
	want.add("new on the device", 800+base, 800+base+n)

	a := e.account()
	ctx := context.Background()
	box := e.mailbox(imapstore.KindContacts)
	ids := map[int]string{}
	for id, d := range box {
		for _, l := range unfold(d) {
			if m := personFN.FindStringSubmatch(l); m != nil {
				num, _ := strconv.Atoi(m[1])
				ids[num] = id
			}
		}
	}
	var edits []*imapstore.Item
	for i := base + 10; i < base+15; i++ {
		edits = append(edits, &imapstore.Item{ID: ids[i], Data: contact(i, "edited in the mailbox")})
	}
	if err := a.Put(ctx, imapstore.KindContacts, edits...); err != nil {
		t.Fatal(err)
	}
	want.add("edited in the mailbox", base+10, base+15)
	for i := base + 15; i < base+20; i++ {
		if _, err := a.Delete(ctx, imapstore.KindContacts, ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	want.drop(base+15, base+20)
	var adds []*imapstore.Item
	for i := 900 + base; i < 900+base+n; i++ {
		adds = append(adds, &imapstore.Item{Data: contact(i, "new in the mailbox")})
	}
	if err := a.Put(ctx, imapstore.KindContacts, adds...); err != nil {
		t.Fatal(err)
	}
	want.add("new in the mailbox", 900+base, 900+base+n)
}

// trigger holds a message of the client on its way to the server while
// the test injects a fault: the k-th (from 1) of those that match.
type trigger struct {
	match   func(body []byte) bool // nil: every message
	k       int32
	n       atomic.Int32
	reached chan struct{}
	resume  chan struct{}
	done    sync.Once
}

func newTrigger(k int, match func([]byte) bool) *trigger {
	return &trigger{match: match, k: int32(k), reached: make(chan struct{}), resume: make(chan struct{})}
}

// Which messages of the client a trigger counts.
var (
	// carriesChanges: the client's own Add, Replace or Delete commands.
	carriesChanges = func(b []byte) bool {
		return bytes.Contains(b, []byte("<Add>")) || bytes.Contains(b, []byte("<Replace>")) || bytes.Contains(b, []byte("<Delete>"))
	}
	// acksServerChanges: statuses for the server's Add, Replace or Delete
	// commands, which the client has applied by now.
	acksServerChanges = regexp.MustCompile(`<Cmd>(Add|Replace|Delete)</Cmd>`).Match
	// carriesMap: the client's Map of the server's additions.
	carriesMap = func(b []byte) bool { return bytes.Contains(b, []byte("<Map>")) }
)

// fires counts the message and tells whether it is the trigger's.
func (tr *trigger) fires(body []byte) bool {
	if tr.match != nil && !tr.match(body) {
		return false
	}
	return tr.n.Add(1) == tr.k
}

// hold is called for every message before the server sees it; the
// trigger's waits until the fault is injected.
func (tr *trigger) hold(body []byte) {
	if tr.fires(body) {
		close(tr.reached)
		<-tr.resume
	}
}

// pass is called for every message once the server has read it all; at
// the trigger's, the fault is injected after delay, while the server
// answers, without holding the message.
func (tr *trigger) pass(body []byte, delay time.Duration) {
	if tr.fires(body) {
		time.AfterFunc(delay, func() { close(tr.reached) })
	}
}

func (tr *trigger) release() { tr.done.Do(func() { close(tr.resume) }) }

// syncWithFault runs a sync of c and runs fault when the trigger fires.
// It returns the sync's result and whether the fault was injected.
func syncWithFault(t *testing.T, c *syncevo.Client, mode syncevo.Mode, tr *trigger, fault func()) (*syncevo.Result, bool) {
	t.Helper()
	res := make(chan *syncevo.Result, 1)
	go func() { res <- c.Sync(t, mode) }()
	defer tr.release()
	select {
	case <-tr.reached:
		fault()
		tr.release()
		return <-res, true
	case r := <-res:
		return r, false
	}
}

// withTrigger makes the env's endpoint hold the trigger's message.
func (e *env) withTrigger(tr *trigger) {
	e.setRecord(func(_ string, body []byte) { tr.hold(body) })
}

// replies returns the server's messages of a sync.
func serverReplies(t *testing.T, c *syncevo.Client, r *syncevo.Result) [][]byte {
	t.Helper()
	msgs, err := c.Messages(r)
	if err != nil {
		t.Logf("no messages of the sync: %v", err)
		return nil
	}
	var out [][]byte
	for _, m := range msgs {
		if !m.Outgoing {
			out = append(out, m.Data)
		}
	}
	return out
}

var statusRE = regexp.MustCompile(`(?s)<Status>.*?</Status>`)
var dataRE = regexp.MustCompile(`<Data>(\d+)</Data>`)

// statusCodes returns the status codes of a SyncML message: those of its
// SyncHdr status and all.
func statusCodes(msg []byte) (hdr []int, all []int) {
	for _, st := range statusRE.FindAll(msg, -1) {
		m := dataRE.FindSubmatch(st)
		if m == nil {
			continue
		}
		code, _ := strconv.Atoi(string(m[1]))
		all = append(all, code)
		if bytes.Contains(st, []byte("<Cmd>SyncHdr</Cmd>")) {
			hdr = append(hdr, code)
		}
	}
	return hdr, all
}

// no401 fails the test if any server message carries a 401.
func no401(t *testing.T, msgs [][]byte) {
	t.Helper()
	var bad [][]byte
	for _, m := range msgs {
		if _, all := statusCodes(m); containsInt(all, 401) {
			bad = append(bad, m)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d of %d server messages say 401 (wrong password) although the password is right; the first:\n%s", len(bad), len(msgs), bad[0])
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// --- the daemon as a process ---

// daemonProc is one syncml-imap serve process.
type daemonProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// buildDaemon builds cmd/syncml-imap into dir.
func buildDaemon(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "syncml-imap")
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", bin, "syncml-imap/cmd/syncml-imap")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the daemon: %v\n%s", err, out)
	}
	t.Logf("built the daemon in %v", time.Since(start).Round(100*time.Millisecond))
	return bin
}

// startDaemon runs `syncml-imap serve -config conf`, serving on addr,
// and waits until it answers.
func startDaemon(t *testing.T, bin, conf, addr, logPath string) *daemonProc {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", "-config", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-d.done
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-d.done:
			t.Fatalf("the daemon exited at start: %v\n%s", cmd.ProcessState, d.logText())
		default:
		}
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon does not answer on %s\n%s", addr, d.logText())
		}
	}
}

// kill is SIGKILL: no shutdown, sessions and IMAP connections cut.
func (d *daemonProc) kill(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	<-d.done
}

func (d *daemonProc) logText() string {
	data, _ := os.ReadFile(d.log)
	return string(data)
}

// faultProxy stands between the client and the daemon, counting the client's
// messages and recording the HTTP status of every answer.
type faultProxy struct {
	url   string
	posts atomic.Int32
	mu    sync.Mutex
	codes []int
	// hold and pass, when set, see each POST's body (see trigger), pass
	// once the body went to the daemon.
	hold, pass func(body []byte)
}

func startProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{url: "http://" + ln.Addr().String() + "/syncml"}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	// A new connection each time: none left over from a killed daemon.
	rp.Transport = &http.Transport{DisableKeepAlives: true}
	rp.ModifyResponse = func(resp *http.Response) error { p.record(resp.StatusCode); return nil }
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		p.record(http.StatusBadGateway)
		http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			p.posts.Add(1)
			p.mu.Lock()
			hold, pass := p.hold, p.pass
			p.mu.Unlock()
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, "proxy: "+err.Error(), http.StatusBadRequest)
				return
			}
			if hold != nil {
				hold(body)
			}
			var rd io.Reader = bytes.NewReader(body)
			if pass != nil {
				rd = &eofNotify{r: rd, f: func() { pass(body) }}
			}
			r.Body = io.NopCloser(rd)
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}

func (p *faultProxy) record(code int) {
	p.mu.Lock()
	p.codes = append(p.codes, code)
	p.mu.Unlock()
}

func (p *faultProxy) set(hold, pass func([]byte)) {
	p.mu.Lock()
	p.hold, p.pass = hold, pass
	p.mu.Unlock()
}

func (p *faultProxy) takeCodes() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.codes
	p.codes = nil
	return c
}

// eofNotify calls f once when the body has been read to its end.
type eofNotify struct {
	r    io.Reader
	f    func()
	once sync.Once
}

func (b *eofNotify) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.once.Do(b.f)
	}
	return n, err
}

// daemonEnv is an env whose endpoint is a syncml-imap process behind a
// counting proxy.
type daemonEnv struct {
	*env
	bin, conf, addr, log string
	d                    *daemonProc
	front                *faultProxy
}

func newDaemonEnv(t *testing.T, bin string) *daemonEnv {
	t.Helper()
	dove := dovetest.Start(t, nil)
	e := &env{t: t, dove: dove, user: "carol@example.org", pass: "carol-pw"}
	dove.AddUser(t, e.user, e.pass)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	de := &daemonEnv{env: e, bin: bin, conf: filepath.Join(dir, "config.toml"), addr: addr, log: filepath.Join(dir, "daemon.log")}
	de.front = startProxy(t, "http://"+addr+"/syncml")
	e.url = de.front.url
	conf := fmt.Sprintf("[imap]\naddress = %q\ntls = \"none\"\n\n[http]\nlisten = %q\npath = \"/syncml\"\npublic_url = %q\nmax_body_bytes = 20000\n\n[log]\nlevel = \"debug\"\n",
		dove.Addr, addr, e.url)
	if err := os.WriteFile(de.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	de.d = startDaemon(t, bin, de.conf, addr, de.log)
	opts := &syncevo.Options{URL: e.url, Username: e.user, Password: e.pass, DeviceID: "fault-phone", RefreshSync: true}
	faultClient(opts)
	e.client = syncevo.New(t, opts)
	return de
}

// killDaemonAt runs a sync of mode and SIGKILLs the daemon when the
// trigger's message has reached it (mid: after delay, while the
// daemon answers it; else before the daemon reads it). A new daemon is
// then started on the same port.
func (de *daemonEnv) killDaemonAt(t *testing.T, mode syncevo.Mode, tr *trigger, mid bool, delay time.Duration) *syncevo.Result {
	t.Helper()
	if mid {
		de.front.set(nil, func(b []byte) { tr.pass(b, delay) })
	} else {
		de.front.set(tr.hold, nil)
	}
	before := de.front.posts.Load()
	r, hit := syncWithFault(t, de.client, mode, tr, func() { de.d.kill(t) })
	de.front.set(nil, nil)
	posts := de.front.posts.Load() - before
	if !hit {
		t.Fatalf("the sync ended after %d messages, before the trigger's: %s", posts, r)
	}
	t.Logf("daemon killed at the client's message %d (mid=%v), the mailbox holds %d contacts then: %s", posts, mid, len(de.mailbox(imapstore.KindContacts)), r)
	if r.OK() {
		t.Errorf("the sync succeeded although its daemon was killed: %s", r)
	}
	if tail := lastLines(de.d.logText(), 5); tail != "" {
		t.Logf("the killed daemon's last log lines:\n%s", tail)
	}
	de.d = startDaemon(t, de.bin, de.conf, de.addr, de.log)
	return r
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestFaultDaemonKilled: the daemon (a real syncml-imap serve process) is
// killed with SIGKILL in the middle of a slow sync (while the device's 200
// contacts come in) and of a two-way sync with changes on both sides
// (while the device's changes come in, and while the server's go out); a
// new one on the same port serves the repeat, after which both sides
// agree and a further sync is quiet. The daemon is killed before it reads
// the message, or (heavy) while it answers it.
func TestFaultDaemonKilled(t *testing.T) {
	t.Parallel()
	bin := buildDaemon(t, t.TempDir())
	slow := func(t *testing.T, de *daemonEnv, want book) syncevo.Mode {
		// The mailbox has 40 of its own and 20 the device has too.
		var items []*imapstore.Item
		for i := 300; i < 340; i++ {
			items = append(items, &imapstore.Item{Data: contact(i, "in the mailbox")})
		}
		for i := 180; i < 200; i++ {
			items = append(items, &imapstore.Item{Data: contact(i, "first")})
		}
		if err := de.account().Put(context.Background(), imapstore.KindContacts, items...); err != nil {
			t.Fatal(err)
		}
		want.add("in the mailbox", 300, 340)
		for i := 0; i < 200; i++ {
			de.client.WriteItem(t, "addressbook", fmt.Sprintf("c%03d.vcf", i), contact(i, "first"))
		}
		want.add("first", 0, 200)
		return syncevo.Slow
	}
	twoWay := func(t *testing.T, de *daemonEnv, want book) syncevo.Mode {
		de.seed(t, want, 0, 100)
		de.changeBoth(t, want, 0, 40)
		return syncevo.TwoWay
	}
	for _, tc := range []struct {
		name  string
		setup func(*testing.T, *daemonEnv, book) syncevo.Mode
		at    func() *trigger
		mid   bool
	}{
		{"slow sync", slow, func() *trigger { return newTrigger(3, carriesChanges) }, false},
		{"two-way sync/device's changes", twoWay, func() *trigger { return newTrigger(2, carriesChanges) }, false},
		{"two-way sync/server's changes", twoWay, func() *trigger { return newTrigger(1, acksServerChanges) }, false},
		{"slow sync", slow, func() *trigger { return newTrigger(3, carriesChanges) }, true},
		{"two-way sync/device's changes", twoWay, func() *trigger { return newTrigger(2, carriesChanges) }, true},
		{"two-way sync/server's changes", twoWay, func() *trigger { return newTrigger(1, acksServerChanges) }, true},
	} {
		name := tc.name + "/before it reads"
		if tc.mid {
			name = tc.name + "/while it answers"
		}
		t.Run(name, func(t *testing.T) {
			if tc.mid {
				heavyCase(t)
			}
			t.Parallel()
			timed(t)
			de := newDaemonEnv(t, bin)
			want := book{}
			mode := tc.setup(t, de, want)
			de.killDaemonAt(t, mode, tc.at(), tc.mid, 30*time.Millisecond)
			t.Logf("the repair: %s", de.sync(t, syncevo.TwoWay))
			de.agree(t, want)
			de.quiet(t, want)
		})
	}
}

// --- faults in front of the in-process endpoint ---

func newFaultEnv(t *testing.T) *env {
	return newEnvWith(t, faultServer, faultClient)
}

// TestFaultIMAPDown: the IMAP server is stopped (or its imap processes
// killed, or the whole Dovecot killed) while the server answers a two-way
// sync with changes on both sides. The sync fails cleanly: the server
// answers (no hang) and never says 401. Dovecot is started again on the
// same port; the next sync repairs everything.
func TestFaultIMAPDown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		heavy   bool
		fault   func(t *testing.T, d *dovetest.Server)
		restart bool
	}{
		{"stopped", false, func(t *testing.T, d *dovetest.Server) { d.Stop(t) }, true},
		{"imap processes killed", false, func(t *testing.T, d *dovetest.Server) {
			t.Logf("killed %d imap processes", d.KillIMAPProcesses(t))
		}, false},
		{"dovecot killed", true, func(t *testing.T, d *dovetest.Server) { d.Kill(t) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.heavy {
				heavyCase(t)
			}
			e, want := changedFaultEnv(t, 30)
			// Before the server sees the device's changes.
			tr := newTrigger(1, carriesChanges)
			e.withTrigger(tr)
			r, hit := syncWithFault(t, e.client, syncevo.TwoWay, tr, func() { tc.fault(t, e.dove) })
			e.setRecord(nil)
			if !hit {
				t.Fatalf("the sync ended before the device sent its changes: %s", r)
			}
			t.Logf("the sync with IMAP %s: %s", tc.name, r)
			msgs := serverReplies(t, e.client, r)
			if len(msgs) < 2 {
				t.Errorf("the server did not answer the message sent while IMAP was %s (%d answers): %s", tc.name, len(msgs), r)
			}
			no401(t, msgs)
			if tc.restart {
				if r.OK() {
					t.Errorf("the sync succeeded without IMAP: %s", r)
				}
				e.dove.Restart(t)
			}
			t.Logf("the repair: %s", e.sync(t, syncevo.TwoWay))
			e.agree(t, want)
			e.quiet(t, want)
		})
	}
}

// killClient sends SIGKILL to the client's syncevolution process (found
// by its working directory, the client's own) and returns how many it
// killed.
func killClient(t *testing.T, c *syncevo.Client) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("finding the client's process (needs /proc): %v", err)
	}
	n := 0
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", ent.Name(), "cwd"))
		if err != nil || cwd != c.Dir {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", ent.Name(), "comm"))
		if !strings.HasPrefix(string(comm), "syncevolution") {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			n++
		}
	}
	return n
}

// TestFaultClientKilled: the client is killed (SIGKILL) while the server
// sends it its changes, so it has stored some of them and acknowledged
// none; its next sync repairs everything.
func TestFaultClientKilled(t *testing.T) {
	e, want := changedFaultEnv(t, 60)
	// The client has stored the first of the server's changes.
	tr := newTrigger(1, acksServerChanges)
	e.withTrigger(tr)
	r, hit := syncWithFault(t, e.client, syncevo.TwoWay, tr, func() {
		if n := killClient(t, e.client); n != 1 {
			t.Errorf("killed %d client processes, want 1", n)
		}
	})
	e.setRecord(nil)
	if !hit {
		t.Fatalf("the sync ended before the client stored a change of the server: %s", r)
	}
	t.Logf("the killed sync: %s (device holds %d contacts)", r, len(e.client.Items(t, "addressbook")))
	if r.Signal == "" {
		t.Errorf("the client was not killed: %s", r)
	}
	t.Logf("the repair: %s", e.sync(t, syncevo.TwoWay))
	e.agree(t, want)
	e.quiet(t, want)
}

// imapSession is a mail client's connection with the folder selected.
func (e *env) imapSession(t *testing.T, folder string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(e.dove.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(e.user, e.pass).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// uidOf finds the message holding item id.
func uidOf(c *imapclient.Client, id string) (imap.UID, error) {
	data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "X-SyncML-Item-ID", Value: id}}}, nil).Wait()
	if err != nil {
		return 0, err
	}
	uids := data.AllUIDs()
	if len(uids) != 1 {
		return 0, fmt.Errorf("item %s is in %d messages", id, len(uids))
	}
	return uids[0], nil
}

func appendRaw(c *imapclient.Client, folder string, raw []byte) error {
	cmd := c.Append(folder, int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

// mailDelete is a mail client deleting a message: flagged \Deleted and
// expunged.
func mailDelete(c *imapclient.Client, id string) error {
	uid, err := uidOf(c, id)
	if err != nil {
		return err
	}
	return removeUID(c, uid)
}

// mailEdit is what a mail client does to change an item: it stores an
// edited copy of the message (headers kept) and deletes the original.
func mailEdit(c *imapclient.Client, id, oldNote, newNote string) error {
	uid, err := uidOf(c, id)
	if err != nil {
		return err
	}
	msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil || len(msgs) != 1 {
		return fmt.Errorf("fetching item %s: %v (%d messages)", id, err, len(msgs))
	}
	var raw []byte
	for _, b := range msgs[0].BodySection {
		raw = b.Bytes
	}
	edited := bytes.Replace(raw, []byte("NOTE:"+oldNote), []byte("NOTE:"+newNote), 1)
	if bytes.Equal(edited, raw) {
		return fmt.Errorf("no NOTE:%s in the message of item %s:\n%s", oldNote, id, raw)
	}
	if err := appendRaw(c, "Contacts", edited); err != nil {
		return err
	}
	return removeUID(c, uid)
}

func removeUID(c *imapclient.Client, uid imap.UID) error {
	set := imap.UIDSetNum(uid)
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return err
	}
	return c.UIDExpunge(set).Close()
}

// vcfMail is a mail with contacts attached as a .vcf file, as a person
// drags it into the folder.
func vcfMail(cards ...[]byte) []byte {
	return []byte("From: Bob <bob@example.org>\r\nTo: carol@example.org\r\nSubject: my new colleagues\r\n" +
		"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <vcf-drop@example.org>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Here they are.\r\n--b1\r\nContent-Type: text/vcard; charset=utf-8\r\nContent-Disposition: attachment; filename=\"colleagues.vcf\"\r\n\r\n" +
		string(bytes.Join(cards, nil)) + "--b1--\r\n")
}

// TestFaultMailClientDuringSync: while a two-way sync runs (between its
// messages, after the server has read the mailbox's changes), a mail
// client edits an item message, deletes one and drops in a mail with two
// new contacts as a .vcf attachment. Nothing of it is lost: after the
// next sync device and mailbox agree, and the dropped mail is gone from
// the folder, its contacts stored as items.
func TestFaultMailClientDuringSync(t *testing.T) {
	t.Parallel()
	timed(t)
	e := newFaultEnv(t)
	want := book{}
	e.seed(t, want, 0, 100)
	e.changeBoth(t, want, 0, 30)
	editID, delID := e.idOf(t, 50), e.idOf(t, 60)
	mc := e.imapSession(t, "Contacts")
	// The edit when the device's changes come in, the delete when the
	// client acknowledges the server's changes, the drop-in with its Map
	// (the session's end).
	var posts atomic.Int32
	var mu sync.Mutex
	var errs []string
	var done []string
	edit, del, drop := newTrigger(1, carriesChanges), newTrigger(1, acksServerChanges), newTrigger(1, carriesMap)
	e.setRecord(func(_ string, body []byte) {
		n := posts.Add(1)
		mu.Lock()
		defer mu.Unlock()
		var err error
		// Each at most once, even if a message matches several.
		switch {
		case edit.fires(body):
			err = mailEdit(mc, editID, "first", "edited in a mail client")
			done = append(done, fmt.Sprintf("edit at message %d", n))
		case del.fires(body):
			err = mailDelete(mc, delID)
			done = append(done, fmt.Sprintf("delete at message %d", n))
		case drop.fires(body):
			err = appendRaw(mc, "Contacts", vcfMail(contact(700, "dropped in"), contact(701, "dropped in")))
			done = append(done, fmt.Sprintf("drop-in at message %d", n))
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("message %d: %v", n, err))
		}
	})
	r := e.client.Sync(t, syncevo.TwoWay)
	e.setRecord(nil)
	mu.Lock()
	t.Logf("the sync with mail-client changes (%d messages; %s): %s", posts.Load(), strings.Join(done, ", "), r)
	if len(errs) > 0 {
		t.Fatalf("the mail client failed: %s", strings.Join(errs, "\n"))
	}
	if len(done) < 3 {
		t.Errorf("only %d of the mail client's changes fell within the sync", len(done))
	}
	mu.Unlock()
	if !r.OK() {
		t.Errorf("the sync with mail-client changes failed: %s\n%s", r, r.Output)
	}
	want[50] = "edited in a mail client"
	delete(want, 60)
	want.add("dropped in", 700, 702)
	t.Logf("the repair: %s", e.sync(t, syncevo.TwoWay))
	e.agree(t, want)
	// A connection of its own: Dovecot's STATUS on the selected folder
	// reports what that session has seen.
	st, err := e.imapSession(t, "INBOX").Status("Contacts", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if int(*st.NumMessages) != len(want) {
		t.Errorf("the Contacts folder holds %d messages for %d contacts: the dropped mail (or an old version) is still there", *st.NumMessages, len(want))
	}
	e.quiet(t, want)
}

// TestFaultIMAPDown503: with the IMAP server down, the device's sync is
// answered with status 503 in the SyncHdr status (try again later), never
// 401 (wrong password), and no HTTP answer is a 401 either. When the IMAP
// server is back, the next sync works.
func TestFaultIMAPDown503(t *testing.T) {
	t.Parallel()
	timed(t)
	e := newEnvWith(t, nil, func(o *syncevo.Options) {
		o.Sources = []syncevo.Source{{Name: "addressbook", URI: "contacts", Format: "text/vcard"}}
		o.Timeout = 30 * time.Second
	})
	p := startProxy(t, e.url)
	e.client = syncevo.New(t, &syncevo.Options{URL: p.url, Username: e.user, Password: e.pass, DeviceID: "fault-phone-503",
		Sources: e.client.Opts.Sources, Timeout: 30 * time.Second})
	want := book{}
	e.seed(t, want, 0, 5)
	p.takeCodes()

	e.dove.Stop(t)
	r := e.client.Sync(t, syncevo.TwoWay)
	codes := p.takeCodes()
	msgs := serverReplies(t, e.client, r)
	t.Logf("the sync without IMAP: %s; HTTP answers %v; %d SyncML answers", r, codes, len(msgs))
	if r.OK() {
		t.Errorf("the sync succeeded without IMAP")
	}
	for _, c := range codes {
		if c == http.StatusUnauthorized {
			t.Errorf("an HTTP answer is 401: %v", codes)
		}
	}
	if len(msgs) == 0 {
		t.Fatalf("no SyncML answer (HTTP %v): the device cannot tell what happened", codes)
	}
	// A 401 is right only for a message without credentials: this
	// client sends them from its first message on.
	if all, err := e.client.Messages(r); err != nil || len(all) == 0 || !all[0].Outgoing || !bytes.Contains(all[0].Data, []byte("<Cred>")) {
		t.Fatalf("the client's first message carries no credentials (%v)", err)
	}
	hdr, _ := statusCodes(msgs[0])
	if !containsInt(hdr, 503) {
		t.Errorf("the SyncHdr status is %v, want 503:\n%s", hdr, msgs[0])
	}
	no401(t, msgs)

	e.dove.Restart(t)
	t.Logf("the repair: %s", e.sync(t, syncevo.TwoWay))
	e.agree(t, want)
}
