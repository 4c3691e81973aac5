package dovetest

import (
	"errors"
	"net"
	"strings"
	"testing"
)

func TestUnavailableMessage(t *testing.T) {
	err := errors.New("dovecot binary not found")
	for _, tt := range []struct {
		ci    string
		fatal bool
	}{{"", false}, {"false", false}, {"1", false}, {"true", true}} {
		fatal, msg := unavailableMessage(err, tt.ci)
		if fatal != tt.fatal {
			t.Errorf("CI=%q: fatal = %v, want %v", tt.ci, fatal, tt.fatal)
		}
		if !strings.Contains(msg, "apt-get install dovecot-imapd") || !strings.Contains(msg, err.Error()) {
			t.Errorf("CI=%q: message %q lacks the install hint or the cause", tt.ci, msg)
		}
	}
}

func TestValidateCredentials(t *testing.T) {
	for _, tt := range []struct {
		name, password string
		ok             bool
	}{
		{"alice", "secret", true},
		{"user1@example.org", "pw with spaces", true},
		{"A.b-c_d", "{SHA}x", true},
		{"", "pw", false},
		{".", "pw", false},
		{"..", "pw", false},
		{"a/b", "pw", false},
		{"a*master", "pw", false},
		{"a:b", "pw", false},
		{"alice", "", false},
		{"alice", "a:b", false},
		{"alice", "a\nb", false},
	} {
		if err := validateCredentials(tt.name, tt.password); (err == nil) != tt.ok {
			t.Errorf("validateCredentials(%q, %q) = %v, want ok=%v", tt.name, tt.password, err, tt.ok)
		}
	}
}

func TestProfileCapabilities(t *testing.T) {
	full, explicit, err := ProfileFull.capabilities(false)
	if err != nil || explicit || !contains(full, "CONDSTORE") || !contains(full, "QRESYNC") {
		t.Errorf("Full: %v, explicit %v, %v", full, explicit, err)
	}
	nc, explicit, err := ProfileNoCondStore.capabilities(true)
	if err != nil || !explicit || contains(nc, "CONDSTORE") || contains(nc, "QRESYNC") ||
		!contains(nc, "METADATA") || len(nc) != len(full)-2+1 {
		t.Errorf("NoCondStore: %v, explicit %v, %v", nc, explicit, err)
	}
	if _, _, err := Profile(42).capabilities(false); err == nil {
		t.Error("unknown profile accepted")
	}
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

// TestBindFailureDetected checks that a port taken between freePorts and
// dovecot's bind is recognised, so that Start retries with other ports.
func TestBindFailureDetected(t *testing.T) {
	t.Parallel()
	s, cfg := newServer(t, &Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg.imapPort = l.Addr().(*net.TCPAddr).Port
	err = s.startOn(cfg)
	if _, ok := errors.AsType[*addrInUseError](err); !ok {
		t.Fatalf("startOn on a busy port: %v, want an *addrInUseError\n%s", err, s.Log())
	}
	t.Logf("busy port: %v", err)
	if err := s.startOnce(false, cfg); err != nil {
		t.Fatalf("startOnce after the failure: %v\n%s", err, s.Log())
	}
}
