package imapstore

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"syncml-imap/internal/dovetest"
)

// wantUnavailable fails t unless err is ErrUnavailable and not
// ErrAuthFailed.
func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrAuthFailed) {
		t.Fatalf("%s: got %v, want ErrUnavailable (and not ErrAuthFailed)", what, err)
	}
	t.Logf("%s: %v", what, err)
}

// TestDialErrorsDovecot proves against Dovecot which login failures are
// a wrong password and which are a server that cannot serve now.
func TestDialErrorsDovecot(t *testing.T) {
	srv := dovetest.Start(t, &dovetest.Options{MaxUserIPConnections: 2})
	e := newEnvOn(t, srv)
	ctx := context.Background()
	opts := &Options{Address: srv.Addr, DialTimeout: 5 * time.Second}

	t.Run("wrong password", func(t *testing.T) {
		_, err := Dial(ctx, opts, e.user, "wrong")
		if !errors.Is(err, ErrAuthFailed) || errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "wrong") {
			t.Fatalf("got %v, want ErrAuthFailed only, without the password", err)
		}
	})

	t.Run("connection limit", func(t *testing.T) {
		// mail_max_userip_connections = 2: two Accounts hold both.
		for range 2 {
			a, err := Dial(ctx, opts, e.user, e.pass)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
		}
		_, err := Dial(ctx, opts, e.user, e.pass)
		wantUnavailable(t, "third connection", err)
		if !strings.Contains(err.Error(), "[LIMIT]") {
			t.Errorf("error does not name the limit: %v", err)
		}
	})

	t.Run("passdb failing", func(t *testing.T) {
		user := "broken-" + e.user
		srv.AddUser(t, user, "pw")
		srv.FailPassdb(t, user)
		_, err := Dial(ctx, opts, user, "pw")
		wantUnavailable(t, "auth lookup failing", err)
		if !strings.Contains(err.Error(), "[UNAVAILABLE]") {
			t.Errorf("error does not carry Dovecot's code: %v", err)
		}
	})

	t.Run("never greets", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close() // held open, silent, until the test ends
			}
		}()
		begin := time.Now()
		_, err = Dial(ctx, &Options{Address: ln.Addr().String(), DialTimeout: 300 * time.Millisecond}, e.user, e.pass)
		wantUnavailable(t, "silent server", err)
		if d := time.Since(begin); d > 5*time.Second {
			t.Errorf("Dial took %v with a 300ms DialTimeout", d)
		}
	})

	t.Run("connection broken during a store operation", func(t *testing.T) {
		a, err := Dial(ctx, &Options{Address: srv.Addr}, e.user, e.pass)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if _, err := a.Changes(ctx, KindContacts, nil); err != nil {
			t.Fatal(err)
		}
		if n := srv.KillIMAPProcesses(t); n == 0 {
			t.Fatal("no imap process to kill")
		}
		_, err = a.Changes(ctx, KindContacts, nil)
		wantUnavailable(t, "Changes on a killed connection", err)
		_, err = a.Get(ctx, KindContacts, "x")
		wantUnavailable(t, "Get after it", err)
	})

	// Last: the server is gone for good.
	t.Run("server stopped", func(t *testing.T) {
		srv.Stop(t)
		_, err := Dial(ctx, opts, e.user, e.pass)
		wantUnavailable(t, "stopped server", err)
	})
}

// TestLoginErrorClassification covers what Dovecot cannot easily be made
// to say: a BYE at login, [SERVERBUG], and servers that send no codes.
func TestLoginErrorClassification(t *testing.T) {
	greet := maS("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n")
	login := maC(`M1 LOGIN "user" "pass"` + "\r\n")
	cases := []struct {
		name   string
		script []maStep
		auth   bool // ErrAuthFailed, else ErrUnavailable
	}{
		{"no code", []maStep{greet, login, maS("M1 NO Invalid login\r\n")}, true},
		{"authorization", []maStep{greet, login, maS("M1 NO [AUTHORIZATIONFAILED] not for you\r\n")}, true},
		{"unavailable", []maStep{greet, login, maS("M1 NO [UNAVAILABLE] Temporary authentication failure. [host:2026]\r\n")}, false},
		{"temporary without code", []maStep{greet, login, maS("M1 NO Temporary authentication failure.\r\n")}, false},
		{"limit", []maStep{greet, login, maS("M1 NO [LIMIT] Maximum number of connections from user+IP exceeded\r\n")}, false},
		{"serverbug", []maStep{greet, login, maS("M1 NO [SERVERBUG] Internal error occurred.\r\n")}, false},
		{"bye at login", []maStep{greet, login, maS("* BYE Server shutting down.\r\n"), {hangup: true}}, false},
		{"bye greeting", []maStep{maS("* BYE Too many connections\r\n"), {hangup: true}}, false},
		{"reset", []maStep{greet, login, {hangup: true}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := maStartFake(t, tc.script...)
			_, err := Dial(context.Background(), &Options{Address: f.addr, DialTimeout: 3 * time.Second}, "user", "pass")
			f.check(t)
			if tc.auth {
				if !errors.Is(err, ErrAuthFailed) || errors.Is(err, ErrUnavailable) {
					t.Fatalf("got %v, want ErrAuthFailed", err)
				}
				return
			}
			wantUnavailable(t, tc.name, err)
		})
	}
}

func TestParseOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7:0",
		"192.0.2.7:4711":       "192.0.2.7:4711",
		"[2001:db8::1]:443":    "[2001:db8::1]:443",
		"2001:db8::1":          "[2001:db8::1]:0",
		"[2001:db8::1]":        "[2001:db8::1]:0",
		"::ffff:192.0.2.9":     "192.0.2.9:0",
		" 192.0.2.7 ":          "192.0.2.7:0",
		"[fe80::1%eth0]:1":     "[fe80::1]:1",
		"host.example.org:80":  "",
		"192.0.2.7:99999":      "",
		"":                     "",
		"192.0.2.7\r\nA1 NOOP": "",
	} {
		got := ""
		if ap, ok := parseOrigin(in); ok {
			got = ap.String()
		}
		if got != want {
			t.Errorf("parseOrigin(%q) = %q, want %q", in, got, want)
		}
	}
	if originOf(WithOriginatingIP(context.Background(), "nonsense")).IsValid() {
		t.Error("an invalid address was kept")
	}
}

// TestOriginatingIPDovecot shows Dovecot taking the device's address from
// the ID of both connections (the store's and the MULTIAPPEND writer's),
// and putting its auth penalty on that address, not on the daemon's.
func TestOriginatingIPDovecot(t *testing.T) {
	srv := dovetest.Start(t, &dovetest.Options{TrustedNetworks: "127.0.0.0/8", AuthPenalty: true})
	e := newEnvOn(t, srv)
	opts := &Options{Address: srv.Addr, DialTimeout: 30 * time.Second}

	// Failed logins for the device 192.0.2.7. Dovecot's penalty delays the
	// next login from the same address by 2^(failures-1) s (2.3
	// auth-penalty.c), up to 15 s.
	bad := WithOriginatingIP(context.Background(), "192.0.2.7:40001")
	var failed []time.Duration
	for range 2 {
		begin := time.Now()
		_, err := Dial(bad, opts, e.user, "wrong")
		failed = append(failed, time.Since(begin))
		if !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	// Another device, same user, at once: no penalty.
	good := WithOriginatingIP(context.Background(), "192.0.2.8")
	begin := time.Now()
	a, err := Dial(good, opts, e.user, e.pass)
	goodTook := time.Since(begin)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	t.Logf("failed logins for 192.0.2.7: %v; good login for 192.0.2.8: %v", failed, goodTook)
	// Dovecot's penalty after a failure is at least 2 s; the good login
	// would wait as long if the penalty fell on 127.0.0.1.
	if failed[1] < 2*time.Second {
		t.Errorf("second failed login took %v: the auth penalty is not on", failed[1])
	}
	if goodTook >= 2*time.Second {
		t.Errorf("login for 192.0.2.8 took %v: delayed by 192.0.2.7's penalty", goodTook)
	}

	// A batch goes through the MULTIAPPEND connection, which logs in too.
	var items []*Item
	for i := range 3 {
		items = append(items, &Item{Data: vcard("", "Person "+string(rune('A'+i)))})
	}
	if err := a.Put(good, KindContacts, items...); err != nil {
		t.Fatal(err)
	}

	log := waitLog(t, srv, regexp.MustCompile(`(?m)Login: user=<`+regexp.QuoteMeta(e.user)+`>.*rip=192\.0\.2\.8,.*\n(?s:.*)Login: user=<`+regexp.QuoteMeta(e.user)+`>.*rip=192\.0\.2\.8,`))
	if !regexp.MustCompile(`passwd-file\(` + regexp.QuoteMeta(e.user) + `,192\.0\.2\.7,`).MatchString(log) {
		t.Errorf("failed logins not logged for 192.0.2.7:\n%s", log)
	}
	if regexp.MustCompile(`user=<` + regexp.QuoteMeta(e.user) + `>.*rip=127\.0\.0\.1`).MatchString(log) {
		t.Errorf("a login is logged with the daemon's address:\n%s", log)
	}
	if !strings.Contains(log, "rip=192.0.2.7, lip=127.0.0.1") {
		t.Errorf("failed logins' disconnect not logged for 192.0.2.7:\n%s", log)
	}
}

// waitLog waits (a little) until the server's log matches re; Dovecot
// writes its log lines asynchronously.
func waitLog(t *testing.T, srv *dovetest.Server, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data := srv.Log()
		if re.MatchString(data) {
			return data
		}
		if time.Now().After(deadline) {
			t.Fatalf("log does not match %v:\n%s", re, data)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
