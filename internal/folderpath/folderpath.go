// Package folderpath is the one rule for the path of a sub-folder below an
// item folder, as a configuration names it ("Family", "Friends/School"):
// levels separated by "/", whatever hierarchy delimiter the IMAP server
// uses. It knows no server: a level that holds the server's own
// delimiter, or a name the server's storage refuses for its length, is
// found where the folder is named (imapstore).
//
// It imports nothing of this module, so that config, which imports
// nothing of ours, can use the rule the store applies.
package folderpath

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Trim returns a path as a person may write it, surrounding spaces and
// "/" removed: " /Friends/School/ " is "Friends/School".
func Trim(s string) string {
	return strings.Trim(strings.TrimSpace(s), "/")
}

// Check says why path is no sub-folder path (nil when it is one): it must
// be UTF-8 (RFC 9051, 5.1) of non-empty levels separated by "/" (Dovecot
// refuses adjacent delimiters; a leading or trailing one names another
// folder). "." and ".." are refused because servers that keep folders as
// directories read them as such; control characters (C0, DEL, C1)
// because RFC 9051 wants mailbox names in Net-Unicode (RFC 5198), which
// has none, and no mail client can show them; "*" and "%" because they are
// wildcards in LIST patterns (RFC 9051, 6.3.9), so such a folder could not
// be listed alone. A quote or a backslash is fine: IMAP quotes them.
func Check(path string) error {
	if !utf8.ValidString(path) {
		return errors.New("sub-folder path is not UTF-8")
	}
	for _, level := range strings.Split(path, "/") {
		switch level {
		case "":
			return errors.New("empty sub-folder name")
		case ".", "..":
			return fmt.Errorf("sub-folder name %q", level)
		}
		for _, r := range level {
			if unicode.IsControl(r) || r == '*' || r == '%' {
				return fmt.Errorf("sub-folder name %q has the character %q", level, r)
			}
		}
	}
	return nil
}
