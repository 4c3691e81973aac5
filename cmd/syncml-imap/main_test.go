package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"syncml-imap/internal/dovetest"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheck(t *testing.T) {
	srv := dovetest.Start(t, &dovetest.Options{Profile: dovetest.ProfileFull, MasterUser: "admin", MasterPassword: "master-secret"})
	srv.AddUser(t, "alice@example.org", "alice-secret")
	cfg := writeConfig(t, fmt.Sprintf("[imap]\naddress = %q\n", srv.Addr))

	code, out, errs := runCmd("check", "-config", cfg)
	if code != 0 || !strings.Contains(out, "config "+cfg+": ok") || !strings.Contains(out, "imap "+srv.Addr+": ok") {
		t.Fatalf("check: %d\n%s\n%s", code, out, errs)
	}

	t.Setenv("SYNCML_IMAP_PASSWORD", "alice-secret")
	code, out, errs = runCmd("check", "-config", cfg, "-user", "alice@example.org")
	if code != 0 || !strings.Contains(out, "login as alice@example.org: ok") || !strings.Contains(out, "CONDSTORE: yes") {
		t.Fatalf("check -user: %d\n%s\n%s", code, out, errs)
	}
	// The folders are made and each took a test message, gone again.
	mustContain(t, "check -user", out, `  contacts "Contacts": ok (created)`, `  calendar "Calendar": ok (created)`,
		`  tasks    "Tasks": ok (created)`, `  state    "SyncML State": ok (created)`)
	for _, name := range []string{"Contacts", "Calendar", "Tasks", "SyncML State"} {
		if st := srv.Doveadm(t, "mailbox", "status", "-u", "alice@example.org", "messages", name); !strings.HasSuffix(strings.TrimSpace(st), "messages=0") {
			t.Errorf("%s after check: %q, want no message", name, st)
		}
	}
	if code, out, _ = runCmd("check", "-config", cfg, "-user", "alice@example.org"); code != 0 || !strings.Contains(out, `  contacts "Contacts": ok`+"\n") {
		t.Errorf("second check -user: %d\n%s", code, out)
	}
	// A name Dovecot does not take: the check says so and how to fix it.
	badName := writeConfig(t, fmt.Sprintf("[imap]\naddress = %q\n[folders]\ncontacts = \"~Contacts\"\n", srv.Addr))
	code, out, errs = runCmd("check", "-config", badName, "-user", "alice@example.org")
	if code != 1 {
		t.Errorf("check with a bad folder name: %d\n%s\n%s", code, out, errs)
	}
	mustContain(t, "check with a bad folder name", out, `  contacts "~Contacts": FAILED to open: [CANNOT] Invalid mailbox name`,
		`    fix: the server does not take this name (its folders are named with the prefix "" and the separator "/"): set [folders] contacts = "Contacts"`,
		`  calendar "Calendar": ok`)

	t.Setenv("SYNCML_IMAP_PASSWORD", "wrong")
	code, out, _ = runCmd("check", "-config", cfg, "-user", "alice@example.org")
	if code != 1 || !strings.Contains(out, "REFUSED") || strings.Contains(out, "wrong") {
		t.Errorf("wrong password: %d\n%s", code, out)
	}

	// The master user logs in on the user's behalf.
	t.Setenv("SYNCML_IMAP_PASSWORD", "")
	masterCfg := writeConfig(t, fmt.Sprintf("[imap]\naddress = %q\nmaster_user = \"admin\"\nmaster_password = \"master-secret\"\n", srv.Addr))
	code, out, errs = runCmd("check", "-config", masterCfg, "-user", "alice@example.org")
	if code != 0 || !strings.Contains(out, "login as alice@example.org: ok") {
		t.Errorf("master user: %d\n%s\n%s", code, out, errs)
	}
}

func TestCheckFailures(t *testing.T) {
	bad := writeConfig(t, "[imap]\naddress = \"127.0.0.1:143\"\nadress = \"typo\"\n")
	code, _, errs := runCmd("check", "-config", bad)
	if code != 1 || !strings.Contains(errs, ":3:") || !strings.Contains(errs, "imap.adress") {
		t.Errorf("unknown key: %d %q", code, errs)
	}
	down := writeConfig(t, "[imap]\naddress = \"127.0.0.1:1\"\ndial_timeout = \"2s\"\n")
	code, out, _ := runCmd("check", "-config", down)
	if code != 1 || !strings.Contains(out, "FAILED") {
		t.Errorf("unreachable server: %d %q", code, out)
	}
	if code, _, _ := runCmd("frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	if code, _, _ := runCmd("check", "-config", filepath.Join(t.TempDir(), "missing.toml")); code != 1 {
		t.Errorf("missing config: exit %d", code)
	}
}

// TestServe runs the daemon as a mail admin would and talks SyncML to it.
func TestServe(t *testing.T) {
	srv := dovetest.Start(t, nil)
	srv.AddUser(t, "dave@example.org", "dave-pw")
	addr := freeAddr(t)
	cfg := writeConfig(t, fmt.Sprintf("[imap]\naddress = %q\n[http]\nlisten = %q\npath = \"/sync\"\n", srv.Addr, addr))
	stderr, stop := startServe(t, cfg)

	url := "http://" + addr + "/sync"
	var resp *http.Response
	var err error
	for i := 0; i < 100; i++ {
		if resp, err = http.Get(url); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("daemon not answering: %v\n%s", err, stderr.String())
	}
	resp.Body.Close()
	msg := `<SyncML><SyncHdr><VerDTD>1.2</VerDTD><VerProto>SyncML/1.2</VerProto><SessionID>1</SessionID><MsgID>1</MsgID>` +
		`<Target><LocURI>` + url + `</LocURI></Target><Source><LocURI>IMEI:1</LocURI></Source>` +
		`<Cred><Meta><Type xmlns="syncml:metinf">syncml:auth-basic</Type></Meta><Data>` +
		base64.StdEncoding.EncodeToString([]byte("dave@example.org:dave-pw")) + `</Data></Cred></SyncHdr>` +
		`<SyncBody><Alert><CmdID>1</CmdID><Data>201</Data><Item><Target><LocURI>contacts</LocURI></Target><Source><LocURI>ab</LocURI></Source>` +
		`<Meta><Anchor xmlns="syncml:metinf"><Next>1</Next></Anchor></Meta></Item></Alert><Final/></SyncBody></SyncML>`
	resp, err = http.Post(url, "application/vnd.syncml+xml", strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<Data>212</Data>") || !strings.Contains(string(body), "<RespURI>"+url+"?s=") {
		t.Fatalf("SyncML reply %d:\n%s", resp.StatusCode, body)
	}
	if strings.Contains(stderr.String(), "dave-pw") {
		t.Error("the log shows the password")
	}
	if code := stop(); code != 0 {
		t.Errorf("serve exited %d\n%s", code, stderr.String())
	}
}

// TestCheckNamespace: on a server whose folders all live under "INBOX."
// (separator "."), check -user says which [folders] lines to set, and
// with them set every folder is ok.
func TestCheckNamespace(t *testing.T) {
	srv := dovetest.Start(t, &dovetest.Options{NamespacePrefix: "INBOX.", NamespaceSeparator: "."})
	srv.AddUser(t, "alice@example.org", "alice-secret")
	t.Setenv("SYNCML_IMAP_PASSWORD", "alice-secret")
	cfg := writeConfig(t, fmt.Sprintf("[imap]\naddress = %q\n", srv.Addr))
	code, out, errs := runCmd("check", "-config", cfg, "-user", "alice@example.org")
	if code != 1 {
		t.Errorf("check with folders outside the namespace: %d\n%s%s", code, out, errs)
	}
	mustContain(t, "check", out, `  contacts "Contacts": FAILED to create: Client tried to access nonexistent namespace.`,
		`    fix: the server does not take this name (its folders are named with the prefix "INBOX." and the separator "."): set [folders] contacts = "INBOX.Contacts"`,
		`set [folders] calendar = "INBOX.Calendar"`, `set [folders] tasks = "INBOX.Tasks"`, `set [folders] state = "INBOX.SyncML State"`)

	fixed := writeConfig(t, fmt.Sprintf("[imap]\naddress = %q\n[folders]\ncontacts = \"INBOX.Contacts\"\ncalendar = \"INBOX.Calendar\"\ntasks = \"INBOX.Tasks\"\nstate = \"INBOX.SyncML State\"\n", srv.Addr))
	code, out, errs = runCmd("check", "-config", fixed, "-user", "alice@example.org")
	if code != 0 {
		t.Errorf("check with the fixed names: %d\n%s%s", code, out, errs)
	}
	mustContain(t, "check with the fixed names", out, `  contacts "INBOX.Contacts": ok (created)`, `  state    "INBOX.SyncML State": ok (created)`)
}
