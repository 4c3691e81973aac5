package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
