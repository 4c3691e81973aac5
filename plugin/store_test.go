package plugin

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"syncml-imap/config"
	"syncml-imap/imapstore"
	"syncml-imap/internal/dovetest"
	"syncml-imap/pim"
)

// TestLoginErrorsDovecot: a wrong password is pim.ErrAuthFailed, an IMAP
// server that is gone is pim.ErrUnavailable (for the store's own
// sentinel too), for a device's login, a master login, the admin's
// OpenAccount and a store operation; the device's address reaches
// Dovecot's log.
func TestLoginErrorsDovecot(t *testing.T) {
	srv := dovetest.Start(t, &dovetest.Options{MasterUser: "admin", MasterPassword: "master-pw", TrustedNetworks: "127.0.0.0/8"})
	srv.AddUser(t, "carol@example.org", "carol-pw")
	opts := &imapstore.Options{Address: srv.Addr, DialTimeout: 5 * time.Second}
	auth := &IMAPAuth{Options: opts}
	master := &MasterAuth{IMAPAuth: *auth, Master: "admin", Password: "master-pw", Separator: "*"}
	phone := WithRemoteAddr(context.Background(), "192.0.2.7:5001")

	st, err := auth.Login(phone, "carol@example.org", "carol-pw")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Changes(phone, "contacts", nil); err != nil {
		t.Fatal(err)
	}
	ms, err := master.LoginAs(WithRemoteAddr(context.Background(), "[2001:db8::9]:443"), "carol@example.org")
	if err != nil {
		t.Fatal(err)
	}
	ms.Close()
	_, err = auth.Login(phone, "carol@example.org", "guess")
	if !errors.Is(err, pim.ErrAuthFailed) || !errors.Is(err, imapstore.ErrAuthFailed) || errors.Is(err, pim.ErrUnavailable) {
		t.Errorf("wrong password: %v", err)
	}
	for _, re := range []string{
		`Login: user=<carol@example.org>, method=PLAIN, rip=192\.0\.2\.7,`,
		`Login: user=<carol@example.org>, method=PLAIN, rip=2001:db8::9,`,
		`passwd-file\(carol@example.org,192\.0\.2\.7,`,
	} {
		deadline := time.Now().Add(5 * time.Second)
		for !regexp.MustCompile(re).MatchString(srv.Log()) {
			if time.Now().After(deadline) {
				t.Fatalf("log lacks %s:\n%s", re, srv.Log())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// The session's connection breaks.
	srv.KillIMAPProcesses(t)
	_, err = st.Changes(phone, "contacts", nil)
	if !errors.Is(err, pim.ErrUnavailable) || !errors.Is(err, imapstore.ErrUnavailable) {
		t.Errorf("Changes on a broken connection: %v", err)
	}

	srv.Stop(t)
	wantDown := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, pim.ErrUnavailable) || !errors.Is(err, imapstore.ErrUnavailable) || errors.Is(err, pim.ErrAuthFailed) {
			t.Errorf("%s with the IMAP server stopped: %v", what, err)
		} else {
			t.Logf("%s: %v", what, err)
		}
	}
	_, err = auth.Login(phone, "carol@example.org", "carol-pw")
	wantDown("Login", err)
	_, err = master.LoginAs(phone, "carol@example.org")
	wantDown("LoginAs", err)
	cfg := config.Default()
	cfg.IMAP.Address = srv.Addr
	_, err = OpenAccount(context.Background(), cfg, "carol@example.org", "carol-pw")
	wantDown("OpenAccount", err)
	if err != nil && (!strings.Contains(err.Error(), "IMAP server is unavailable") || strings.Contains(err.Error(), "wrong password (")) {
		t.Errorf("OpenAccount's error should say the server is unavailable: %v", err)
	}
}
