package folderpath

import "testing"

// TestCheck holds the cases where the three former rules (config, the
// engine's per-device policy, imapstore) disagreed: a quote (refused by
// config and the policy, which Dovecot creates), control characters other
// than NUL, CR, LF and tab (accepted by config, though Dovecot refuses to
// create them) and C1 controls (accepted by config and the policy).
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"Family", true},
		{"Friends/School", true},
		{"Fêtes – 2026", true},
		{"Dr. Who", true},
		{`Say "hi"`, true},
		{`back\slash`, true},
		{"a,b", true},
		{" lead and trail ", true},
		{"", false},
		{"/", false},
		{"a//b", false},
		{"a/", false},
		{"/a", false},
		{".", false},
		{"..", false},
		{"a/../b", false},
		{"a/./b", false},
		{"All*", false},
		{"100%", false},
		{"tab\there", false},
		{"new\r\nline", false},
		{"nul\x00", false},
		{"ctl\x01", false},
		{"del\x7f", false},
		{"c1\u0085", false},
		{"bad\xff", false},
	} {
		if err := Check(tc.path); (err == nil) != tc.ok {
			t.Errorf("Check(%q) = %v, want ok %v", tc.path, err, tc.ok)
		}
	}
}

func TestTrim(t *testing.T) {
	for in, want := range map[string]string{
		"Family":             "Family",
		" /Friends/School/ ": "Friends/School",
		"//a//":              "a",
		" ":                  "",
		"Friends / School":   "Friends / School",
		"\tFamily\n":         "Family",
	} {
		if got := Trim(in); got != want {
			t.Errorf("Trim(%q) = %q, want %q", in, got, want)
		}
	}
}
