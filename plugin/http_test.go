package plugin

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"syncml-imap/config"
	"syncml-imap/syncml"
)

func TestHTTPFront(t *testing.T) {
	cfg := config.Default()
	cfg.IMAP.Address = "127.0.0.1:1" // never reached by these requests
	cfg.HTTP.MaxBodyBytes = 2000
	_, ts := serve(t, cfg)

	do := func(method, ctype, body string) (int, string, http.Header) {
		req, _ := http.NewRequest(method, ts.URL+"/syncml", strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	tests := []struct {
		method, ctype, body string
		code                int
		says                string
	}{
		{"GET", "", "", 200, "SyncML endpoint"},
		{"PUT", "application/vnd.syncml+xml", "<SyncML/>", 405, "POST"},
		{"POST", "text/plain", "hello", 415, "application/vnd.syncml+xml"},
		{"POST", "", "hello", 415, "Content-Type"},
		{"POST", "application/vnd.syncml+wbxml", "\x02\xa4\x01\x6a\x00", 400, "WBXML"},
		{"POST", "application/vnd.syncml+xml", "<SyncML><SyncHdr>", 400, "not a SyncML message"},
		{"POST", "application/vnd.syncml+xml; charset=UTF-8", "<Other/>", 400, "root element"},
		{"POST", "application/vnd.syncml+xml", "<SyncML>" + strings.Repeat("x", 3000) + "</SyncML>", 413, "larger than 2000"},
	}
	for _, tt := range tests {
		code, body, hdr := do(tt.method, tt.ctype, tt.body)
		if code != tt.code || !strings.Contains(body, tt.says) {
			t.Errorf("%s %q: %d %q, want %d containing %q", tt.method, tt.ctype, code, body, tt.code, tt.says)
		}
		if code == 405 && !strings.Contains(hdr.Get("Allow"), "POST") {
			t.Errorf("405 without Allow: %v", hdr)
		}
	}
}

func TestAliases(t *testing.T) {
	a := Aliases(map[string]string{"./PhoneBook/": "contacts", "card": "tasks"})
	if a["phonebook"] != "contacts" || a["card"] != "tasks" || a["todo"] != "tasks" {
		t.Errorf("merged aliases: phonebook=%q card=%q todo=%q", a["phonebook"], a["card"], a["todo"])
	}
}

func TestLoadSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := dir + "/s"
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	f, err := LoadSecrets(write("# c\nalice:{PLAIN}pw\n\nbob:{MD5}i20da3+1Z6VdfXz+tHkdSA==\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := f.Secret(context.Background(), "alice"); s == nil || s.Password != "pw" {
		t.Errorf("alice %+v", s)
	}
	if s, _ := f.Secret(context.Background(), "bob"); s == nil || s.HashB64 == "" {
		t.Errorf("bob %+v", s)
	}
	if _, err := f.Secret(context.Background(), "carol"); err != syncml.ErrNoSecret {
		t.Errorf("carol: %v", err)
	}
	for _, bad := range []string{"alice\n", "alice:pw\n", ":{PLAIN}x\n"} {
		_, err := LoadSecrets(write(bad))
		if err == nil || !strings.Contains(err.Error(), ":1:") || strings.Contains(err.Error(), "pw") && bad == "alice:pw\n" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
