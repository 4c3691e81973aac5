package plugin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"syncml-imap/config"
	"syncml-imap/imapstore"
	"syncml-imap/internal/dovetest"
	"syncml-imap/syncml"
)

// TestIMAPDownIs503: with the IMAP server stopped, a device with the
// right password is told 503 in SyncML (HTTP 200, Retry-After), never
// 401; the failed logins are not counted against the user; once the
// server is back the same device logs in.
func TestIMAPDownIs503(t *testing.T) {
	dove := dovetest.Start(t, nil)
	dove.AddUser(t, "dan@example.org", "dan-pw")
	cfg := config.Default()
	cfg.IMAP.Address = dove.Addr
	cfg.Auth.MaxFailures = 2
	_, ts := serve(t, cfg)
	post := func(session string) (*http.Response, *syncml.Message) {
		t.Helper()
		m := &syncml.Message{Hdr: syncml.SyncHdr{VerDTD: "1.2", VerProto: "SyncML/1.2", SessionID: session, MsgID: "1",
			Target: syncml.Loc{LocURI: ts.URL + "/syncml"}, Source: syncml.Loc{LocURI: "IMEI:503"},
			Cred: basicCred("dan@example.org", "dan-pw")},
			Body: []syncml.Command{alert("200", "contacts", "", "1")}, Final: true}
		m.Body[0].SetID("1")
		var buf bytes.Buffer
		syncml.EncodeXML(&buf, m.Element())
		resp, err := http.Post(ts.URL+"/syncml", syncml.ContentTypeXML, &buf)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		root, err := syncml.DecodeXML(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
		}
		reply, err := syncml.ParseMessage(root)
		if err != nil {
			t.Fatal(err)
		}
		return resp, reply
	}
	dove.Stop(t)
	// Nothing listens there now: connection refused.
	if c, err := net.Dial("tcp", dove.Addr); err == nil {
		c.Close()
		t.Fatal("the IMAP server still answers")
	}
	for i := 1; i <= 3; i++ {
		resp, r := post(fmt.Sprint(i))
		if got := statusOf(r, "SyncHdr"); fmt.Sprint(got) != "[503]" || resp.StatusCode != 200 || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("attempt %d with IMAP down: SyncHdr %v, HTTP %d, Retry-After %q", i, got, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	dove.Restart(t)
	// Three unavailable logins did not lock the user out (max_failures 2).
	if _, r := post("9"); fmt.Sprint(statusOf(r, "SyncHdr")) != "[212]" {
		t.Errorf("after the IMAP server came back: %v", statusOf(r, "SyncHdr"))
	}
}

// TestIdleReleaseAgainstDovecot: a session that waits longer than
// idle_release between its messages gives its IMAP connection back (Dovecot
// shows none) and goes on over a new one: its items reach the mailbox
// once and the next session's anchors match.
func TestIdleReleaseAgainstDovecot(t *testing.T) {
	dove := dovetest.Start(t, nil)
	dove.AddUser(t, "eve@example.org", "eve-pw")
	cfg := config.Default()
	cfg.IMAP.Address = dove.Addr
	cfg.HTTP.IdleRelease = config.Duration{Duration: time.Second}
	_, ts := serve(t, cfg)
	c := &client{t: t, url: ts.URL + "/syncml", device: "IMEI:idle", session: "1",
		cred: basicCred("eve@example.org", "eve-pw")}
	r := c.send(true, alert("201", "./contacts", "", "1"))
	if got := fmt.Sprint(statusOf(r, "SyncHdr"), statusOf(r, "Alert")); got != "[212] [200]" {
		t.Fatalf("package 2: %s", got)
	}
	c.cred = nil
	connections := func() int {
		out := dove.Doveadm(t, "who", "-1", "eve@example.org")
		return strings.Count(out, "eve@example.org")
	}
	deadline := time.Now().Add(15 * time.Second)
	for connections() > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if n := connections(); n != 0 {
		t.Fatalf("the idle session still holds %d IMAP connections", n)
	}
	sync := addContacts("Ann Alpha", "Bo Beta")
	r = c.send(true, &syncml.Status{MsgRef: "1", CmdRef: "1", Cmd: "Alert", Data: "200"}, sync)
	if got := fmt.Sprint(statusOf(r, "Sync"), statusOf(r, "Add")); got != "[200] [201 201]" {
		t.Fatalf("package 4 after the connection was given back: %s", got)
	}
	if r = c.send(true, &syncml.Status{MsgRef: "2", CmdRef: "3", Cmd: "Sync", Data: "200"}); !r.Final {
		t.Fatal("package 6 not final")
	}
	acct, err := imapstore.Dial(context.Background(), &imapstore.Options{Address: dove.Addr}, "eve@example.org", "eve-pw")
	if err != nil {
		t.Fatal(err)
	}
	defer acct.Close()
	if d, err := acct.Changes(context.Background(), imapstore.KindContacts, nil); err != nil || len(d.Added) != 2 {
		t.Fatalf("mailbox: %+v %v", d, err)
	}
	// The session committed: the next one's anchors match.
	c2 := &client{t: t, url: ts.URL + "/syncml", device: "IMEI:idle", session: "2",
		cred: basicCred("eve@example.org", "eve-pw")}
	if r := c2.send(true, alert("200", "./contacts", "1", "2")); fmt.Sprint(statusOf(r, "Alert")) != "[200]" {
		t.Errorf("next session's alert: %v", statusOf(r, "Alert"))
	}
}
