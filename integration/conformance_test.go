package integration

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"syncml-imap/imapstore"
	"syncml-imap/internal/dovetest"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"syncml-imap/plugin"
	"syncml-imap/syncml"
)

// The engine's behaviour on either store: each scenario runs on the
// in-memory store and on imapstore over Dovecot, so that no feature is
// proven only on the fake. The scenarios drive syncml.Server with SyncML
// messages, as a device would, and look at the replies and at what the
// mailbox holds.

const (
	confUser, confPass = "carol@example.org", "carol-pw"
	devInfType         = "application/vnd.syncml-devinf+xml"
)

// confStore is one store under test: the engine logs in through auth;
// the test edits the account as a mail client would through open, and
// reads what it holds through mailbox.
type confStore struct {
	auth    pim.Authenticator
	mailbox func(t *testing.T, db string) map[string][]byte
}

// open logs in to the account, for the test's own edits.
func (cs *confStore) open(t *testing.T) pim.Store {
	t.Helper()
	s, err := cs.auth.Login(context.Background(), confUser, confPass)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// put stores data in db as a mail client would, under id ("" for a new
// item), and returns the item's ID.
func (cs *confStore) put(t *testing.T, db, id, data string) string {
	t.Helper()
	it := &pim.Item{ID: id, Data: []byte(data)}
	if err := cs.open(t).Put(context.Background(), pim.Kind(db), it); err != nil {
		t.Fatal(err)
	}
	return it.ID
}

// confStores are the stores the scenarios run on, by name: start readies
// one (a Dovecot, for all the scenarios of t), and the function it
// returns makes an empty account.
func confStores() []confBackend {
	return []confBackend{
		{"memstore", func(*testing.T) func(t *testing.T) *confStore {
			return func(t *testing.T) *confStore {
				m := memstore.New(nil)
				return &confStore{auth: m.Auth(confUser, confPass), mailbox: func(_ *testing.T, db string) map[string][]byte { return m.Items(pim.Kind(db)) }}
			}
		}},
		{"imapstore", func(t *testing.T) func(t *testing.T) *confStore {
			dove := dovetest.Start(t, nil)
			n := 0
			return func(t *testing.T) *confStore {
				n++
				user := fmt.Sprintf("conf%d@example.org", n)
				dove.AddUser(t, user, confPass)
				auth := &renamedAuth{IMAPAuth: &plugin.IMAPAuth{Options: &imapstore.Options{Address: dove.Addr, DialTimeout: 5 * time.Second}}, user: user}
				return &confStore{auth: auth, mailbox: func(t *testing.T, db string) map[string][]byte {
					return imapMailbox(t, dove.Addr, user, confPass, confKinds[db])
				}}
			}
		}},
	}
}

type confBackend struct {
	name  string
	start func(t *testing.T) func(t *testing.T) *confStore
}

// renamedAuth logs the devices' confUser in to the scenario's own
// Dovecot account (a Dovecot user per scenario, on one server).
type renamedAuth struct {
	*plugin.IMAPAuth
	user string
}

func (a *renamedAuth) Login(ctx context.Context, user, password string) (pim.Store, error) {
	if user == confUser {
		user = a.user
	}
	return a.IMAPAuth.Login(ctx, user, password)
}

var confKinds = map[string]imapstore.Kind{"contacts": imapstore.KindContacts, "calendar": imapstore.KindCalendar, "tasks": imapstore.KindTasks}

// imapMailbox reads every item of the kind as a mail client's account
// sees it, on a connection of its own.
func imapMailbox(t *testing.T, addr, user, pass string, kind imapstore.Kind) map[string][]byte {
	t.Helper()
	a, err := imapstore.Dial(context.Background(), &imapstore.Options{Address: addr}, user, pass)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	d, err := a.Changes(context.Background(), kind, nil)
	if err != nil {
		t.Fatal(err)
	}
	items, err := a.Get(context.Background(), kind, d.Added...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, it := range items {
		if it != nil {
			out[it.ID] = it.Data
		}
	}
	return out
}

// TestConformance runs every engine scenario on every store.
func TestConformance(t *testing.T) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, cs *confStore)
	}{
		{"TempIDs", confTempIDs},
		{"ResumeAfterCut", confResume},
		{"SuspendResume", confSuspendResume},
		{"SIFClient", confSIF},
		{"TasksInCalendar", confTasksInCalendar},
		{"ForeignWrite", confForeignWrite},
	}
	for _, b := range confStores() {
		t.Run(b.name, func(t *testing.T) {
			open := b.start(t)
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) { sc.run(t, open(t)) })
			}
		})
	}
}

// confDevice is a scripted device on a syncml.Server over the store.
type confDevice struct {
	t   *testing.T
	srv *syncml.Server
	id  string
	n   int // sessions begun
	// maxMsgSize is the device's MaxMsgSize; 0: 60000.
	maxMsgSize int64
}

func newConfDevice(t *testing.T, cs *confStore, id string) *confDevice {
	srv := syncml.NewServer(syncml.ServerOptions{Auth: cs.auth})
	t.Cleanup(srv.Close)
	return &confDevice{t: t, srv: srv, id: id}
}

// confSession is one session of the device: its messages are numbered,
// the first carries the credentials, the rest go to the RespURI.
type confSession struct {
	d     *confDevice
	sid   string
	key   string
	msgID int
}

func (d *confDevice) begin() *confSession {
	d.n++
	return &confSession{d: d, sid: strconv.Itoa(d.n)}
}

func (s *confSession) send(final bool, cmds ...syncml.Command) *syncml.Message {
	t := s.d.t
	t.Helper()
	s.msgID++
	m := &syncml.Message{Hdr: syncml.SyncHdr{VerDTD: "1.2", VerProto: "SyncML/1.2", SessionID: s.sid, MsgID: strconv.Itoa(s.msgID),
		Target: syncml.Loc{LocURI: "http://127.0.0.1/syncml"}, Source: syncml.Loc{LocURI: s.d.id},
		Meta: &syncml.Meta{MaxMsgSize: cmp.Or(s.d.maxMsgSize, 60000)}}, Body: cmds, Final: final}
	if s.key == "" {
		m.Hdr.Cred = &syncml.Cred{Meta: &syncml.Meta{Type: "syncml:auth-basic", Format: "b64"},
			Data: base64.StdEncoding.EncodeToString([]byte(confUser + ":" + confPass))}
	}
	id := 0
	var number func([]syncml.Command)
	number = func(cs []syncml.Command) {
		for _, c := range cs {
			id++
			c.SetID(strconv.Itoa(id))
			if sy, ok := c.(*syncml.Sync); ok {
				number(sy.Commands)
			}
		}
	}
	number(cmds)
	var b bytes.Buffer
	if err := syncml.EncodeXML(&b, m.Element()); err != nil {
		t.Fatal(err)
	}
	resp, err := s.d.srv.Handle(context.Background(), &syncml.Request{Body: b.Bytes(), SessionKey: s.key, BaseURL: "http://127.0.0.1/syncml"})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	root, err := syncml.DecodeXML(bytes.NewReader(resp.Body))
	if err != nil {
		t.Fatalf("reply: %v\n%s", err, resp.Body)
	}
	r, err := syncml.ParseMessage(root)
	if err != nil {
		t.Fatalf("reply: %v\n%s", err, resp.Body)
	}
	if code := statusesOf(r, "SyncHdr"); len(code) != 1 || (code[0] != "200" && code[0] != "212") {
		t.Fatalf("message %d answered %v", s.msgID, code)
	}
	if r.Hdr.RespURI != "" {
		u, err := url.Parse(r.Hdr.RespURI)
		if err != nil {
			t.Fatal(err)
		}
		s.key = u.Query().Get("s")
	}
	return r
}

// alert opens db (the device's name for it: src) with code and anchors.
func (s *confSession) alert(code, db, src, last, next string, more ...syncml.Command) *syncml.Message {
	s.d.t.Helper()
	return s.send(true, append(more, &syncml.Alert{Data: code, Items: []syncml.Item{{Target: loc(db), Source: loc(src),
		Meta: &syncml.Meta{Anchor: &syncml.Anchor{Last: last, Next: next}}}}})...)
}

func loc(s string) *syncml.Loc { return &syncml.Loc{LocURI: s} }

// statusesOf lists the codes of r's statuses for cmd.
func statusesOf(r *syncml.Message, cmd string) []string {
	var out []string
	for _, c := range r.Body {
		if st, ok := c.(*syncml.Status); ok && st.Cmd == cmd {
			out = append(out, st.Data)
		}
	}
	return out
}

// serverAlert is the code of the server's Alert in r, "" if none.
func serverAlert(r *syncml.Message) string {
	for _, c := range r.Body {
		if a, ok := c.(*syncml.Alert); ok {
			return a.Data
		}
	}
	return ""
}

// serverChanges lists the item commands of the server's Syncs in r.
func serverChanges(r *syncml.Message) []*syncml.Change {
	var out []*syncml.Change
	for _, c := range r.Body {
		if sy, ok := c.(*syncml.Sync); ok {
			for _, sc := range sy.Commands {
				if ch, ok := sc.(*syncml.Change); ok {
					out = append(out, ch)
				}
			}
		}
	}
	return out
}

// acks are the device's statuses for the server's changes in r: 201 for
// an Add, 200 for the rest.
func acks(r *syncml.Message) []syncml.Command {
	var out []syncml.Command
	for _, ch := range serverChanges(r) {
		st := &syncml.Status{MsgRef: r.Hdr.MsgID, CmdRef: ch.CmdID, Cmd: string(ch.Op), Data: "200"}
		if ch.Op == "Add" {
			st.Data, st.SourceRef = "201", []string{ch.Items[0].Source.LocURI}
		} else {
			st.TargetRef = []string{ch.Items[0].Target.LocURI}
		}
		out = append(out, st)
	}
	return out
}

func change(op syncml.ChangeOp, typ, luid, data string) *syncml.Change {
	ch := &syncml.Change{Op: op, Items: []syncml.Item{{Source: loc(luid)}}}
	if typ != "" {
		ch.Meta = &syncml.Meta{Type: typ}
	}
	if data != "" {
		ch.Items[0].Data = &syncml.Data{Text: data}
	}
	return ch
}

func syncOf(db, src string, cmds ...*syncml.Change) *syncml.Sync {
	sy := &syncml.Sync{Target: loc(db), Source: loc(src)}
	for _, c := range cmds {
		sy.Commands = append(sy.Commands, c)
	}
	return sy
}

func confCard(name string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + name + "\r\nN:" + name + ";;;;\r\nEND:VCARD\r\n"
}

// holding returns the mailbox's items of db whose data contains text.
func holding(t *testing.T, cs *confStore, db, text string) []string {
	t.Helper()
	var ids []string
	for id, data := range cs.mailbox(t, db) {
		if strings.Contains(string(data), text) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// wantOnce fails unless each of texts is in exactly one item of db, and db
// holds n items.
func wantOnce(t *testing.T, cs *confStore, db string, n int, texts ...string) {
	t.Helper()
	box := cs.mailbox(t, db)
	if len(box) != n {
		t.Errorf("%s holds %d items, want %d", db, len(box), n)
	}
	for _, text := range texts {
		if ids := holding(t, cs, db, text); len(ids) != 1 {
			t.Errorf("%s: %q in %d items, want 1", db, text, len(ids))
		}
	}
}

// confTempIDs: a device whose DevInf says MaxGUIDSize 4 gets the server's
// items under short temporary IDs and maps them to its own; the server
// then names them by the device's IDs (a Replace of an item changed in
// the mailbox), and the device's edit of one reaches the mailbox's item,
// nothing doubled.
func confTempIDs(t *testing.T, cs *confStore) {
	one := cs.put(t, "contacts", "", confCard("Temp One"))
	cs.put(t, "contacts", "", confCard("Temp Two"))
	devinf := &syncml.DevInf{VerDTD: "1.2", DevID: "IMEI:T1", DevTyp: "phone", DataStores: []syncml.DataStore{{
		SourceRef: "ab", MaxGUIDSize: 4, RxPref: syncml.ContentType{CTType: "text/vcard", VerCT: "3.0"},
		TxPref: syncml.ContentType{CTType: "text/vcard", VerCT: "3.0"}, SyncTypes: []int{1, 2, 7}}}}
	d := newConfDevice(t, cs, "IMEI:T1")
	s := d.begin()
	s.alert("201", "contacts", "ab", "", "1", &syncml.Access{Op: "Put", Meta: &syncml.Meta{Type: devInfType},
		Items: []syncml.Item{{Source: loc("./devinf12"), Data: &syncml.Data{XML: devinf.Element("1.2")}}}})
	r := s.send(true, syncOf("contacts", "ab"))
	var maps []syncml.MapItem
	byLUID := map[string]string{} // the device's items
	for i, ch := range serverChanges(r) {
		guid := ch.Items[0].Source.LocURI
		if ch.Op != "Add" || len(guid) > 4 {
			t.Fatalf("server sent %s %q to a device with MaxGUIDSize 4", ch.Op, guid)
		}
		luid := fmt.Sprintf("L%d", i+1)
		maps = append(maps, syncml.MapItem{Target: guid, Source: luid})
		byLUID[luid] = ch.Items[0].Data.Text
	}
	if len(maps) != 2 {
		t.Fatalf("server sent %d items, want 2", len(maps))
	}
	r = s.send(true, append(acks(r), &syncml.Map{Target: *loc("contacts"), Source: *loc("ab"), MapItems: maps})...)
	if got := statusesOf(r, "Map"); fmt.Sprint(got) != "[200]" {
		t.Fatalf("Map answered %v", got)
	}
	var oneLUID, twoLUID string
	for luid, data := range byLUID {
		if strings.Contains(data, "Temp One") {
			oneLUID = luid
		} else {
			twoLUID = luid
		}
	}

	// The mailbox changes one; the device edits the other.
	cs.put(t, "contacts", one, confCard("Temp One Edited"))
	s = d.begin()
	if r := s.alert("200", "contacts", "ab", "1", "2"); fmt.Sprint(statusesOf(r, "Alert")) != "[200]" || serverAlert(r) != "200" {
		t.Fatalf("second session: alert %v, server alert %q", statusesOf(r, "Alert"), serverAlert(r))
	}
	r = s.send(true, syncOf("contacts", "ab", change(syncml.OpReplace, "text/vcard", twoLUID, confCard("Temp Two Edited"))))
	if got := statusesOf(r, "Replace"); fmt.Sprint(got) != "[200]" {
		t.Errorf("the device's Replace answered %v", got)
	}
	sent := serverChanges(r)
	if len(sent) != 1 || sent[0].Op != "Replace" || sent[0].Items[0].Target == nil || sent[0].Items[0].Target.LocURI != oneLUID ||
		!strings.Contains(sent[0].Items[0].Data.Text, "Temp One Edited") {
		for _, ch := range sent {
			t.Logf("sent %s %+v", ch.Op, ch.Items[0])
		}
		t.Fatalf("server sent %d changes, want the Replace of %s", len(sent), oneLUID)
	}
	s.send(true, acks(r)...)
	wantOnce(t, cs, "contacts", 2, "Temp One Edited", "Temp Two Edited")
	if ids := holding(t, cs, "contacts", "Temp One Edited"); len(ids) != 1 || ids[0] != one {
		t.Errorf("the mailbox's edit is under %v, want %s", ids, one)
	}
}

// confResume: the connection is cut after the device sent half of its
// adds (the server stored them, its answer was lost). The device resumes
// (Alert 225) and sends all its adds again: the mailbox has each once,
// none is echoed back, and the next sync has nothing to send.
func confResume(t *testing.T, cs *confStore) {
	d := newConfDevice(t, cs, "IMEI:R1")
	s := d.begin()
	if r := s.alert("201", "contacts", "ab", "", "1"); serverAlert(r) != "201" {
		t.Fatalf("first session: server alert %q", serverAlert(r))
	}
	r := s.send(true, syncOf("contacts", "ab"))
	s.send(true, acks(r)...)

	var adds []*syncml.Change
	var names []string
	for i := range 10 {
		name := fmt.Sprintf("Phone %02d", i)
		names = append(names, "FN:"+name+"\r\n")
		adds = append(adds, change(syncml.OpAdd, "text/vcard", strconv.Itoa(i+1), confCard(name)))
	}
	s = d.begin()
	s.alert("200", "contacts", "ab", "1", "2")
	s.send(false, syncOf("contacts", "ab", adds[:5]...)) // the reply never reaches the device
	if n := len(cs.mailbox(t, "contacts")); n != 5 {
		t.Fatalf("mailbox has %d items after the first half, want 5", n)
	}

	s = d.begin()
	r = s.alert("225", "contacts", "ab", "1", "3")
	if got := statusesOf(r, "Alert"); fmt.Sprint(got) != "[200]" || serverAlert(r) != "200" {
		t.Fatalf("resume answered %v, server alert %q; want 200 and 200", got, serverAlert(r))
	}
	r = s.send(true, syncOf("contacts", "ab", adds...))
	for _, code := range statusesOf(r, "Add") {
		if code != "201" {
			t.Errorf("resumed Adds answered %v", statusesOf(r, "Add"))
			break
		}
	}
	if sent := serverChanges(r); len(sent) != 0 {
		t.Errorf("the server echoes %d of the device's own items", len(sent))
	}
	s.send(true, acks(r)...)
	wantOnce(t, cs, "contacts", 10, names...)

	s = d.begin()
	if r := s.alert("200", "contacts", "ab", "3", "4"); serverAlert(r) != "200" {
		t.Fatalf("the sync after the resumed one: server alert %q", serverAlert(r))
	}
	if r := s.send(true, syncOf("contacts", "ab")); len(serverChanges(r)) != 0 {
		t.Errorf("after the resumed session the server sends %d changes", len(serverChanges(r)))
	}
	wantOnce(t, cs, "contacts", 10)
}

// devAlert is an Alert of the device about the session (222: next
// message, 224: suspend).
func devAlert(d *confDevice, code string) *syncml.Alert {
	return &syncml.Alert{Data: code, Items: []syncml.Item{{Target: loc("http://127.0.0.1/syncml"), Source: loc(d.id)}}}
}

// confSuspendResume: the server's changes take several messages; the
// device takes some, acknowledges half of the second message's and
// suspends (Alert 224). Its resume (225) is answered 200, and the server
// sends only what was not acknowledged: every item reaches the device
// once, the mailbox doubles nothing, the next sync sends nothing.
func confSuspendResume(t *testing.T, cs *confStore) {
	d := newConfDevice(t, cs, "IMEI:S1")
	d.maxMsgSize = 3000
	s := d.begin()
	s.alert("201", "contacts", "ab", "", "1")
	s.send(true, acks(s.send(true, syncOf("contacts", "ab")))...)
	box := cs.open(t)
	for i := range 30 {
		if err := box.Put(context.Background(), "contacts", &pim.Item{Data: []byte(confCard(fmt.Sprintf("Server %02d", i)))}); err != nil {
			t.Fatal(err)
		}
	}

	received := map[string]int{} // server ID → times received
	acked := map[string]bool{}
	take := func(r *syncml.Message, n int) ([]syncml.Command, []syncml.MapItem) {
		sts := acks(r)
		var maps []syncml.MapItem
		for _, ch := range serverChanges(r)[:n] {
			guid := ch.Items[0].Source.LocURI
			received[guid]++
			maps = append(maps, syncml.MapItem{Target: guid, Source: "L" + guid})
		}
		return sts[:n], maps
	}
	mapOf := func(m []syncml.MapItem) *syncml.Map {
		return &syncml.Map{Target: *loc("contacts"), Source: *loc("ab"), MapItems: m}
	}
	s = d.begin()
	s.alert("200", "contacts", "ab", "1", "2")
	r := s.send(true, syncOf("contacts", "ab"))
	if r.Final {
		t.Fatalf("the server's changes fit one message (%d of 30): the test needs several", len(serverChanges(r)))
	}
	sts, maps := take(r, len(serverChanges(r)))
	for _, m := range maps {
		acked[m.Target] = true
	}
	r = s.send(false, append(sts, mapOf(maps), devAlert(d, "222"))...)
	half := len(serverChanges(r)) / 2
	if half == 0 || len(received)+2*half >= 30 {
		t.Fatalf("the test needs a third message of changes: %d, then %d", len(received), 2*half)
	}
	sts, maps = take(r, half)
	for _, m := range maps {
		acked[m.Target] = true
	}
	s.send(true, append(sts, mapOf(maps), devAlert(d, "224"))...)
	for _, ch := range serverChanges(r)[half:] { // taken, not acknowledged
		received[ch.Items[0].Source.LocURI]++
	}

	s = d.begin()
	r = s.alert("225", "contacts", "ab", "1", "3")
	if got := statusesOf(r, "Alert"); fmt.Sprint(got) != "[200]" || serverAlert(r) != "200" {
		t.Fatalf("resume answered %v, server alert %q; want 200 and 200", got, serverAlert(r))
	}
	r = s.send(true, syncOf("contacts", "ab"))
	for n := 0; ; n++ {
		for _, ch := range serverChanges(r) {
			if guid := ch.Items[0].Source.LocURI; acked[guid] {
				t.Errorf("item %s acknowledged before the suspend was sent again", guid)
			}
		}
		sts, maps := take(r, len(serverChanges(r)))
		if r.Final {
			s.send(true, append(sts, mapOf(maps))...)
			break
		}
		if n > 50 {
			t.Fatal("the server's changes never end")
		}
		r = s.send(false, append(sts, mapOf(maps), devAlert(d, "222"))...)
	}
	if len(received) != 30 {
		t.Errorf("the device received %d distinct items, want 30", len(received))
	}
	wantOnce(t, cs, "contacts", 30)

	s = d.begin()
	if r := s.alert("200", "contacts", "ab", "3", "4"); serverAlert(r) != "200" {
		t.Fatalf("the sync after the resumed one: server alert %q", serverAlert(r))
	}
	if r := s.send(true, syncOf("contacts", "ab")); len(serverChanges(r)) != 0 {
		t.Errorf("after the resumed session the server sends %d changes", len(serverChanges(r)))
	}
}

// confSIF: an Outlook client (Funambol) sends SIF-C, base64: it is stored
// as a vCard 3.0, and the server's items go to it in SIF-C. Its Replace
// of the server's item keeps what SIF cannot carry (GEO); its Replace
// clearing a note clears it in the mailbox.
func confSIF(t *testing.T, cs *confStore) {
	server := cs.put(t, "contacts", "", "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Server Person\r\nN:Person;Server;;;\r\nGEO:51.7;19.4\r\nEND:VCARD\r\n")
	sif := "<?xml version=\"1.0\" encoding=\"UTF-8\"?><contact><SIFVersion>1.1</SIFVersion><FirstName>Zofia</FirstName><LastName>Nowak</LastName>" +
		"<FileAs>Nowak, Zofia</FileAs><Body>notes from Outlook</Body><Email1Address>z@example.pl</Email1Address></contact>"
	d := newConfDevice(t, cs, "fol-outlook-1")
	s := d.begin()
	s.alert("201", "contacts", "card", "", "1")
	add := change(syncml.OpAdd, "text/x-s4j-sifc", "O1", base64.StdEncoding.EncodeToString([]byte(sif)))
	add.Meta.Format = "b64"
	r := s.send(true, syncOf("contacts", "card", add))
	if got := statusesOf(r, "Add"); fmt.Sprint(got) != "[201]" {
		t.Fatalf("the SIF Add answered %v", got)
	}
	ids := holding(t, cs, "contacts", "z@example.pl")
	if len(ids) != 1 {
		t.Fatalf("the SIF contact is in %d items", len(ids))
	}
	stored := string(cs.mailbox(t, "contacts")[ids[0]])
	if !strings.Contains(stored, "BEGIN:VCARD") || !strings.Contains(stored, "VERSION:3.0") || !strings.Contains(stored, "notes from Outlook") {
		t.Fatalf("stored %q", stored)
	}
	sent := serverChanges(r)
	if len(sent) != 1 || sent[0].Meta == nil || sent[0].Meta.Type != "text/x-s4j-sifc" {
		t.Fatalf("sent to Outlook: %d changes %+v", len(sent), sent)
	}
	serverSIF := sent[0].Items[0].Data.Text
	if sent[0].Meta.Format == "b64" {
		b, err := base64.StdEncoding.DecodeString(serverSIF)
		if err != nil {
			t.Fatal(err)
		}
		serverSIF = string(b)
	}
	if !strings.Contains(serverSIF, "<contact") || !strings.Contains(serverSIF, "Server") || strings.Contains(serverSIF, "BEGIN:VCARD") {
		t.Fatalf("sent to Outlook: %q", serverSIF)
	}
	s.send(true, append(acks(r), &syncml.Map{Target: *loc("contacts"), Source: *loc("card"),
		MapItems: []syncml.MapItem{{Target: sent[0].Items[0].Source.LocURI, Source: "O2"}}})...)

	// Outlook clears its contact's note and gives the server's one a
	// note of its own.
	cleared := strings.Replace(sif, "<Body>notes from Outlook</Body>", "<Body/>", 1)
	noted := strings.Replace(serverSIF, "<Body/>", "<Body>called back</Body>", 1)
	if noted == serverSIF {
		noted = strings.Replace(serverSIF, "</contact>", "<Body>called back</Body></contact>", 1)
	}
	s = d.begin()
	if r := s.alert("200", "contacts", "card", "1", "2"); serverAlert(r) != "200" {
		t.Fatalf("second session: server alert %q", serverAlert(r))
	}
	r = s.send(true, syncOf("contacts", "card", change(syncml.OpReplace, "text/x-s4j-sifc", "O1", cleared), change(syncml.OpReplace, "text/x-s4j-sifc", "O2", noted)))
	if got := statusesOf(r, "Replace"); fmt.Sprint(got) != "[200 200]" {
		t.Errorf("Outlook's Replaces answered %v", got)
	}
	s.send(true, acks(r)...)
	box := cs.mailbox(t, "contacts")
	if len(box) != 2 {
		t.Errorf("the mailbox holds %d contacts, want 2", len(box))
	}
	if now := string(box[ids[0]]); strings.Contains(now, "notes from Outlook") || !strings.Contains(now, "z@example.pl") {
		t.Errorf("Outlook's contact after it cleared the note:\n%s", now)
	}
	if now := string(box[server]); !strings.Contains(now, "GEO:51.7;19.4") || !strings.Contains(now, "called back") {
		t.Errorf("the server's contact after Outlook's edit (GEO kept, the note added):\n%s", now)
	}
}

const (
	confVCalEvent = "BEGIN:VCALENDAR\r\nVERSION:1.0\r\nBEGIN:VEVENT\r\nSUMMARY:Dentist\r\nDTSTART:20261203T090000Z\r\nDTEND:20261203T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	confVCalTodo  = "BEGIN:VCALENDAR\r\nVERSION:1.0\r\nBEGIN:VTODO\r\nSUMMARY:Buy milk\r\nDUE:20261204T170000Z\r\nPRIORITY:2\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
)

// confTasksInCalendar: a phone with one vCalendar datastore for events
// and to-dos. Its to-dos go to the tasks, its events to the calendar; the
// mailbox's tasks reach it in the calendar database, in vCalendar 1.0;
// its edit and delete of a task reach the tasks; a slow sync matches its
// items instead of doubling them.
func confTasksInCalendar(t *testing.T, cs *confStore) {
	d := newConfDevice(t, cs, "IMEI:C1")
	s := d.begin()
	s.alert("201", "calendar", "cal", "", "1")
	r := s.send(true, syncOf("calendar", "cal", change(syncml.OpAdd, "text/x-vcalendar", "E1", confVCalEvent), change(syncml.OpAdd, "text/x-vcalendar", "T1", confVCalTodo)))
	if got := statusesOf(r, "Add"); fmt.Sprint(got) != "[201 201]" {
		t.Fatalf("the device's Adds answered %v", got)
	}
	s.send(true, acks(r)...)
	wantOnce(t, cs, "calendar", 1, "Dentist")
	wantOnce(t, cs, "tasks", 1, "Buy milk")
	for _, data := range cs.mailbox(t, "tasks") {
		if !strings.Contains(string(data), "BEGIN:VTODO") || !strings.Contains(string(data), "VERSION:2.0") {
			t.Errorf("stored task %q", data)
		}
	}

	cs.put(t, "tasks", "", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mail client//EN\r\nBEGIN:VTODO\r\nUID:t2\r\nDTSTAMP:20261201T100000Z\r\nSUMMARY:Call Bob\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")
	s = d.begin()
	s.alert("200", "calendar", "cal", "1", "2")
	r = s.send(true, syncOf("calendar", "cal"))
	sent := serverChanges(r)
	if len(sent) != 1 || sent[0].Op != "Add" || sent[0].Meta == nil || sent[0].Meta.Type != "text/x-vcalendar" ||
		!strings.Contains(sent[0].Items[0].Data.Text, "Call Bob") || !strings.Contains(sent[0].Items[0].Data.Text, "VERSION:1.0") {
		for _, ch := range sent {
			t.Logf("sent %s %q", ch.Op, ch.Items[0].Data.Text)
		}
		t.Fatalf("sent to the device: %d changes, want the mailbox's task in vCalendar 1.0", len(sent))
	}
	s.send(true, append(acks(r), &syncml.Map{Target: *loc("calendar"), Source: *loc("cal"),
		MapItems: []syncml.MapItem{{Target: sent[0].Items[0].Source.LocURI, Source: "T2"}}})...)

	oat := strings.Replace(confVCalTodo, "Buy milk", "Buy oat milk", 1)
	s = d.begin()
	s.alert("200", "calendar", "cal", "2", "3")
	r = s.send(true, syncOf("calendar", "cal", change(syncml.OpReplace, "text/x-vcalendar", "T1", oat), change(syncml.OpDelete, "", "T2", "")))
	if got := fmt.Sprint(statusesOf(r, "Replace"), statusesOf(r, "Delete")); got != "[200] [200]" {
		t.Fatalf("the device's Replace and Delete answered %s", got)
	}
	s.send(true, acks(r)...)
	wantOnce(t, cs, "tasks", 1, "Buy oat milk")
	wantOnce(t, cs, "calendar", 1, "Dentist")

	// The device lost its anchors: a slow sync matches, doubles nothing.
	s = d.begin()
	s.alert("201", "calendar", "cal", "", "9")
	r = s.send(true, syncOf("calendar", "cal", change(syncml.OpReplace, "text/x-vcalendar", "E1", confVCalEvent), change(syncml.OpReplace, "text/x-vcalendar", "T1", oat)))
	if sent := serverChanges(r); len(sent) != 0 {
		for _, ch := range sent {
			t.Logf("sent %s %q", ch.Op, ch.Items[0].Data.Text)
		}
		t.Errorf("the slow sync sent the device %d items it has", len(sent))
	}
	s.send(true, acks(r)...)
	wantOnce(t, cs, "tasks", 1, "Buy oat milk")
	wantOnce(t, cs, "calendar", 1, "Dentist")
}

// confForeignWrite: a mail client (or DAV client) changes a contact on
// another connection after the device's session listed the changes. The
// device's Replace of another field is merged with it (207, both edits
// in the mailbox and sent back); the device's Delete of an item changed
// meanwhile keeps it (419, sent back as new). Nothing is lost or doubled.
func confForeignWrite(t *testing.T, cs *confStore) {
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Fay Race\r\nN:Race;Fay;;;\r\nTEL:111\r\nNOTE:old\r\nEND:VCARD\r\n"
	id := cs.put(t, "contacts", "", card)
	d := newConfDevice(t, cs, "IMEI:F1")
	s := d.begin()
	s.alert("201", "contacts", "ab", "", "1")
	r := s.send(true, syncOf("contacts", "ab"))
	sent := serverChanges(r)
	if len(sent) != 1 || sent[0].Op != "Add" {
		t.Fatalf("first sync sent %d changes, want one Add", len(sent))
	}
	guid := sent[0].Items[0].Source.LocURI
	s.send(true, append(acks(r), &syncml.Map{Target: *loc("contacts"), Source: *loc("ab"), MapItems: []syncml.MapItem{{Target: guid, Source: "L1"}}})...)

	s = d.begin()
	if r := s.alert("200", "contacts", "ab", "1", "2"); serverAlert(r) != "200" {
		t.Fatalf("second session: server alert %q", serverAlert(r))
	}
	cs.put(t, "contacts", id, strings.Replace(card, "TEL:111", "TEL:222", 1))
	r = s.send(true, syncOf("contacts", "ab", change(syncml.OpReplace, "text/vcard", "L1", strings.Replace(card, "NOTE:old", "NOTE:new", 1))))
	if got := statusesOf(r, "Replace"); fmt.Sprint(got) != "[207]" {
		t.Errorf("the device's Replace answered %v, want [207] (merged with the mail client's edit)", got)
	}
	sent = serverChanges(r)
	if len(sent) != 1 || sent[0].Op != "Replace" || !strings.Contains(sent[0].Items[0].Data.Text, "TEL:222") ||
		!strings.Contains(sent[0].Items[0].Data.Text, "NOTE:new") {
		t.Errorf("server sent %d changes, want the merged item back", len(sent))
	}
	s.send(true, acks(r)...)
	wantOnce(t, cs, "contacts", 1, "TEL:222", "NOTE:new")

	s = d.begin()
	if r := s.alert("200", "contacts", "ab", "2", "3"); serverAlert(r) != "200" {
		t.Fatalf("third session: server alert %q", serverAlert(r))
	}
	cs.put(t, "contacts", id, strings.Replace(strings.Replace(card, "TEL:111", "TEL:333", 1), "NOTE:old", "NOTE:new", 1))
	r = s.send(true, syncOf("contacts", "ab", change(syncml.OpDelete, "", "L1", "")))
	if got := statusesOf(r, "Delete"); fmt.Sprint(got) != "[419]" {
		t.Errorf("the device's Delete answered %v, want [419] (the mail client's edit stays)", got)
	}
	sent = serverChanges(r)
	if len(sent) != 1 || sent[0].Op != "Add" || !strings.Contains(sent[0].Items[0].Data.Text, "TEL:333") {
		t.Errorf("server sent %d changes, want the item back as an Add", len(sent))
	}
	s.send(true, append(acks(r), &syncml.Map{Target: *loc("contacts"), Source: *loc("ab"), MapItems: []syncml.MapItem{{Target: sent[0].Items[0].Source.LocURI, Source: "L2"}}})...)
	wantOnce(t, cs, "contacts", 1, "TEL:333")

	// Settled: the next session has nothing to send, and the deletion
	// goes through.
	s = d.begin()
	s.alert("200", "contacts", "ab", "3", "4")
	r = s.send(true, syncOf("contacts", "ab", change(syncml.OpDelete, "", "L2", "")))
	if got := statusesOf(r, "Delete"); fmt.Sprint(got) != "[200]" || len(serverChanges(r)) != 0 {
		t.Errorf("fourth session: Delete answered %v, %d changes sent", got, len(serverChanges(r)))
	}
	s.send(true, acks(r)...)
	wantOnce(t, cs, "contacts", 0)
}
