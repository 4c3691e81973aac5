package syncml

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReplayCapturedWBXML replays a WBXML session recorded from the real
// SyncEvolution client (integration.TestCaptureWBXML): a slow sync of
// three contacts, then a two-way sync with one change.
func TestReplayCapturedWBXML(t *testing.T) {
	files, _ := filepath.Glob("testdata/wbxml/syncevolution-*.wbxml")
	if len(files) < 4 {
		t.Fatalf("%d captured messages", len(files))
	}
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: store.Auth("carol@example.org", "carol-pw")})
	keys := map[string]string{} // SessionID → session key
	var alertCodes, hdr []string
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		root, err := Decode(EncodingWBXML, body)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		msg, err := ParseMessage(root)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sid := msg.Hdr.SessionID
		resp, err := srv.Handle(context.Background(), &Request{Body: body, Encoding: EncodingWBXML, SessionKey: keys[sid], BaseURL: "http://127.0.0.1/syncml"})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		rr, err := Decode(EncodingWBXML, resp.Body)
		if err != nil {
			t.Fatalf("%s: reply: %v", f, err)
		}
		reply, err := ParseMessage(rr)
		if err != nil {
			t.Fatalf("%s: reply: %v", f, err)
		}
		if u, err := url.Parse(reply.Hdr.RespURI); err == nil && reply.Hdr.RespURI != "" {
			keys[sid] = u.Query().Get("s")
		}
		for _, c := range reply.Body {
			st, ok := c.(*Status)
			if !ok {
				continue
			}
			code, _ := strconv.Atoi(st.Data)
			if st.Cmd == "SyncHdr" {
				hdr = append(hdr, st.Data)
				if code == int(StatusInvalidCredentials) && (st.Chal == nil || st.Chal.Meta.Type != "syncml:auth-basic") {
					t.Errorf("%s: 401 without a basic challenge", filepath.Base(f))
				}
				continue
			}
			if code >= 400 && code != int(StatusRefreshRequired) {
				t.Errorf("%s: %s %s answered %d", filepath.Base(f), st.Cmd, st.CmdRef, code)
			}
			if st.Cmd == "Alert" {
				alertCodes = append(alertCodes, st.Data)
			}
		}
	}
	// SyncEvolution tries MD5 first; without secrets the server asks for
	// basic (401 + basic Chal) and the client's retry is accepted (212).
	if len(hdr) < 3 || hdr[0] != "401" || hdr[1] != "212" {
		t.Errorf("header statuses %v, want 401 (MD5 not configured), then 212", hdr)
	}
	// The slow sync is accepted as asked; the second session's anchors
	// match what the first committed.
	if strings.Join(alertCodes, ",") != "200,200" {
		t.Errorf("alert statuses %v, want the slow sync then a matching two-way", alertCodes)
	}
	if n := len(store.Items("contacts")); n != 3 {
		t.Errorf("%d contacts stored, want 3", n)
	}
	changed := 0
	for _, d := range store.Items("contacts") {
		if strings.Contains(string(d), "NOTE:changed") {
			changed++
		}
	}
	if changed != 1 {
		t.Errorf("%d contacts carry the change, want 1", changed)
	}
}
