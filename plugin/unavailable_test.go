package plugin

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"syncml-imap/config"
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
	h, err := NewHandler(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Server.Close()
	ts := httptest.NewServer(h)
	defer ts.Close()
	post := func(session string) (*http.Response, *syncml.Message) {
		t.Helper()
		m := &syncml.Message{Hdr: syncml.SyncHdr{VerDTD: "1.2", VerProto: "SyncML/1.2", SessionID: session, MsgID: "1",
			Target: syncml.Loc{LocURI: ts.URL + "/syncml"}, Source: syncml.Loc{LocURI: "IMEI:503"},
			Cred: &syncml.Cred{Meta: &syncml.Meta{Type: "syncml:auth-basic", Format: "b64"},
				Data: base64.StdEncoding.EncodeToString([]byte("dan@example.org:dan-pw"))}},
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
