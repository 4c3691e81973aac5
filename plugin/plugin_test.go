package plugin

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"syncml-imap/config"
	"syncml-imap/imapstore"
	"syncml-imap/internal/dovetest"
	"syncml-imap/syncml"
)

// client is a scripted SyncML client for tests: it numbers messages,
// follows RespURI and decodes replies.
type client struct {
	t       *testing.T
	url     string
	device  string
	session string
	msgID   int
	cred    *syncml.Cred
}

func (c *client) send(final bool, cmds ...syncml.Command) *syncml.Message {
	c.t.Helper()
	c.msgID++
	m := &syncml.Message{Hdr: syncml.SyncHdr{VerDTD: "1.2", VerProto: "SyncML/1.2", SessionID: c.session,
		MsgID: fmt.Sprint(c.msgID), Target: syncml.Loc{LocURI: c.url}, Source: syncml.Loc{LocURI: c.device},
		Cred: c.cred, Meta: &syncml.Meta{MaxMsgSize: 20000}}, Body: cmds, Final: final}
	for i, cmd := range cmds {
		cmd.SetID(fmt.Sprint(i + 1))
	}
	var buf bytes.Buffer
	syncml.EncodeXML(&buf, m.Element())
	resp, err := http.Post(c.url, syncml.ContentTypeXML, &buf)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
	}
	root, err := syncml.DecodeXML(bytes.NewReader(body))
	if err != nil {
		c.t.Fatalf("reply: %v\n%s", err, body)
	}
	reply, err := syncml.ParseMessage(root)
	if err != nil {
		c.t.Fatalf("reply: %v\n%s", err, body)
	}
	if reply.Hdr.RespURI != "" {
		c.url = reply.Hdr.RespURI
	}
	return reply
}

// serve starts the Handler NewHandler makes of cfg behind a test HTTP
// server; both end with the test.
func serve(t *testing.T, cfg *config.Config) (*Handler, *httptest.Server) {
	t.Helper()
	h, err := NewHandler(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Server.Close)
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return h, ts
}

// basicCred is the SyncML credential of user and password
// (syncml:auth-basic, base64).
func basicCred(user, password string) *syncml.Cred {
	return &syncml.Cred{Meta: &syncml.Meta{Type: "syncml:auth-basic", Format: "b64"},
		Data: base64.StdEncoding.EncodeToString([]byte(user + ":" + password))}
}

// addContacts is a device's Sync of ./contacts that adds a contact of
// each name (CmdIDs from 10, LocURIs from 1).
func addContacts(names ...string) *syncml.Sync {
	sync := &syncml.Sync{Target: &syncml.Loc{LocURI: "./contacts"}, Source: &syncml.Loc{LocURI: "./contacts-local"}}
	for i, name := range names {
		sync.Commands = append(sync.Commands, &syncml.Change{Op: "Add", CmdID: fmt.Sprint(10 + i),
			Meta:  &syncml.Meta{Type: "text/vcard"},
			Items: []syncml.Item{{Source: &syncml.Loc{LocURI: fmt.Sprint(i + 1)}, Data: &syncml.Data{Text: vcard(name)}}}})
	}
	return sync
}

func statusOf(m *syncml.Message, cmd string) []string {
	var out []string
	for _, c := range m.Body {
		if st, ok := c.(*syncml.Status); ok && st.Cmd == cmd {
			out = append(out, st.Data)
		}
	}
	return out
}

func commandsOf[T syncml.Command](m *syncml.Message) []T {
	var out []T
	for _, c := range m.Body {
		if x, ok := c.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

func vcard(fn string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + fn + "\r\nN:" + fn + ";;;;\r\nEND:VCARD\r\n"
}

func alert(code, db, last, next string) *syncml.Alert {
	return &syncml.Alert{Data: code, Items: []syncml.Item{{
		Target: &syncml.Loc{LocURI: db}, Source: &syncml.Loc{LocURI: "./contacts-local"},
		Meta: &syncml.Meta{Anchor: &syncml.Anchor{Last: last, Next: next}}}}}
}

func TestSessionAgainstDovecot(t *testing.T) {
	srv := dovetest.Start(t, nil)
	srv.AddUser(t, "bob@example.org", "bob-pw")
	cfg := config.Default()
	cfg.IMAP.Address = srv.Addr
	_, ts := serve(t, cfg)

	newClient := func(session, pw string) *client {
		return &client{t: t, url: ts.URL + "/syncml", device: "IMEI:42", session: session,
			cred: basicCred("bob@example.org", pw)}
	}

	// Wrong password: 401 with a challenge, nothing else.
	bad := newClient("1", "nope")
	r := bad.send(true, alert("200", "contacts", "", "1"))
	if got := statusOf(r, "SyncHdr"); fmt.Sprint(got) != "[401]" || len(statusOf(r, "Alert")) != 0 {
		t.Fatalf("wrong password: %v / %v", got, statusOf(r, "Alert"))
	}

	// First session: the client asks for two-way, gets 508 + slow sync.
	c := newClient("2", "bob-pw")
	r = c.send(true, alert("200", "./contacts", "", "1"))
	if fmt.Sprint(statusOf(r, "SyncHdr"), statusOf(r, "Alert")) != "[212] [508]" {
		t.Fatalf("pkg2 statuses %v %v", statusOf(r, "SyncHdr"), statusOf(r, "Alert"))
	}
	alerts := commandsOf[*syncml.Alert](r)
	if len(alerts) != 1 || alerts[0].Data != "201" || !r.Final {
		t.Fatalf("server alert %+v final %v", alerts, r.Final)
	}
	c.cred = nil
	sync := addContacts("Ann Alpha", "Bo Beta")
	r = c.send(true, &syncml.Status{MsgRef: "1", CmdRef: "1", Cmd: "Alert", Data: "200"}, sync)
	if got := fmt.Sprint(statusOf(r, "Sync"), statusOf(r, "Add")); got != "[200] [201 201]" {
		t.Fatalf("pkg4 statuses %s", got)
	}
	syncs := commandsOf[*syncml.Sync](r)
	if len(syncs) != 1 || len(syncs[0].Commands) != 0 || !r.Final {
		t.Fatalf("server sync %+v", syncs)
	}
	r = c.send(true, &syncml.Status{MsgRef: "2", CmdRef: "3", Cmd: "Sync", Data: "200"})
	if !r.Final {
		t.Fatal("pkg6 not final")
	}

	// The mailbox holds the two contacts.
	acct, err := imapstore.Dial(context.Background(), &imapstore.Options{Address: srv.Addr}, "bob@example.org", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	defer acct.Close()
	d, err := acct.Changes(context.Background(), imapstore.KindContacts, nil)
	if err != nil || len(d.Added) != 2 {
		t.Fatalf("mailbox: %v %v", d, err)
	}
	// A mail client adds one; the next two-way session sends it, with
	// anchors that now match.
	if err := acct.Put(context.Background(), imapstore.KindContacts, &imapstore.Item{Data: []byte(vcard("Cy Gamma"))}); err != nil {
		t.Fatal(err)
	}
	c2 := newClient("3", "bob-pw")
	r = c2.send(true, alert("200", "./contacts", "1", "2"))
	if fmt.Sprint(statusOf(r, "Alert")) != "[200]" || commandsOf[*syncml.Alert](r)[0].Data != "200" {
		t.Fatalf("second session alert: %v", statusOf(r, "Alert"))
	}
	c2.cred = nil
	r = c2.send(true, &syncml.Status{MsgRef: "1", CmdRef: "1", Cmd: "Alert", Data: "200"},
		&syncml.Sync{Target: &syncml.Loc{LocURI: "./contacts"}, Source: &syncml.Loc{LocURI: "./contacts-local"}})
	syncs = commandsOf[*syncml.Sync](r)
	if len(syncs) != 1 || len(syncs[0].Commands) != 1 {
		t.Fatalf("server changes: %+v", syncs)
	}
	add := syncs[0].Commands[0].(*syncml.Change)
	if add.Op != "Add" || !strings.Contains(add.Items[0].Data.Text, "FN:Cy Gamma") {
		t.Fatalf("sent %s %+v", add.Op, add.Items[0].Data)
	}
	r = c2.send(true, &syncml.Status{MsgRef: "2", CmdRef: "3", Cmd: "Sync", Data: "200"},
		&syncml.Status{MsgRef: "2", CmdRef: "4", Cmd: "Add", Data: "201", SourceRef: []string{add.Items[0].Source.LocURI}},
		&syncml.Map{Target: syncml.Loc{LocURI: "./contacts"}, Source: syncml.Loc{LocURI: "./contacts-local"},
			MapItems: []syncml.MapItem{{Target: add.Items[0].Source.LocURI, Source: "3"}}})
	if fmt.Sprint(statusOf(r, "Map")) != "[200]" || !r.Final {
		t.Fatalf("map: %v", statusOf(r, "Map"))
	}
}
