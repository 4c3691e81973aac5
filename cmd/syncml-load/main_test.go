package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"syncml-imap/internal/loadgen"
)

func TestExpand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"load001..load003", []string{"load001", "load002", "load003"}, false},
		{"u9..u11", []string{"u9", "u10", "u11"}, false},
		{"alice@example.org", []string{"alice@example.org"}, false},
		{"load003..load001", nil, true},
		{"a1..b2", nil, true},
		{"load..load", nil, true},
	} {
		got, err := expand(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("expand(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestAccounts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	os.WriteFile(file, []byte("# load users\nbob:bob-pw\n\ncarol\n"), 0o600)
	got, err := accounts("load001..load002", file, "shared")
	if err != nil {
		t.Fatal(err)
	}
	want := []loadgen.Account{{User: "load001", Password: "shared"}, {User: "load002", Password: "shared"},
		{User: "bob", Password: "bob-pw"}, {User: "carol", Password: "shared"}}
	if !slices.Equal(got, want) {
		t.Errorf("accounts = %v, want %v", got, want)
	}
	if _, err := accounts("load001", "", ""); err == nil || !strings.Contains(err.Error(), "no password") {
		t.Errorf("no password: %v", err)
	}
	if _, err := accounts("", "", "pw"); err == nil {
		t.Error("no error without accounts")
	}
}

// TestUsage: what cannot run is said before anything is sent (exit 2).
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-url is required"},
		{[]string{"-url", "ftp://x/syncml", "-users", "a", "-password", "p"}, "want an http or https URL"},
		{[]string{"-url", "http://127.0.0.1:1/syncml", "-users", "a", "-password", "p", "-sizes", "1000,x"}, "-sizes"},
		{[]string{"-url", "http://127.0.0.1:1/syncml", "-users", "load001..load003", "-password", "p"}, "3 accounts given, the run needs 127"},
	} {
		var out, errOut strings.Builder
		if code := run(context.Background(), tc.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%q: exit %d, %q; want 2 and %q", tc.args, code, errOut.String(), tc.want)
		}
	}
}
