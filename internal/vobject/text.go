package vobject

// Text helpers of the content-line syntax, shared by this package's reader
// and the format converters (internal/vformat): quoted parameter values,
// quoted-printable, TEXT escaping and folding on output. Unfolding is in
// unfold.go, the parts of a line in line.go.

import (
	"io"
	"strings"
	"unicode/utf8"
)

// IndexUnquoted returns the index of the first c in s outside double
// quotes, or -1. Parameter values may be quoted and hold ':' or ';', e.g.
// TZID="Europe/Berlin:x" (RFC 5545 3.2, RFC 6350 5). Unbalanced quotes
// hide everything after them; a caller that would rather fall back to the
// first c does so itself.
func IndexUnquoted(s string, c byte) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case c:
			if !quoted {
				return i
			}
		}
	}
	return -1
}

// SplitUnquoted splits s at every c outside double quotes; the quotes stay
// in the parts.
func SplitUnquoted(s string, c byte) []string {
	var out []string
	for {
		// A split point is outside quotes, so each part starts unquoted.
		i := IndexUnquoted(s, c)
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}

// ParamSet collects the parameters of a content line by name. A name
// given more than once gets its values joined with "," (TEL;HOME;VOICE,
// read with bare vCard 2.1 types as TYPE, is TYPE=HOME,VOICE), except that
// an empty first value gives way to the next one. It takes time linear in
// the number of parameters, however many repeat.
type ParamSet map[string][]string

// Add adds value to the parameter called name.
func (s ParamSet) Add(name, value string) {
	if vs, ok := s[name]; ok && !(len(vs) == 1 && vs[0] == "") {
		s[name] = append(vs, value)
		return
	}
	s[name] = []string{value}
}

// Joined returns each parameter with its values joined into one.
func (s ParamSet) Joined() map[string]string {
	m := make(map[string]string, len(s))
	for name, vs := range s {
		m[name] = strings.Join(vs, ",")
	}
	return m
}

// QuoteParam makes v a parameter value: a DQUOTE, which no parameter value
// may hold, becomes "'", CR goes and LF becomes a space, and the value is
// quoted when it holds ':', ';' or ',' (RFC 5545 3.2, RFC 6350 5).
func QuoteParam(v string) string {
	if strings.ContainsAny(v, "\"\r\n") {
		v = strings.NewReplacer(`"`, "'", "\r", "", "\n", " ").Replace(v)
	}
	if strings.ContainsAny(v, ":;,") {
		return `"` + v + `"`
	}
	return v
}

// DecodeQP decodes quoted-printable leniently, as old devices write it: a
// "=" not followed by two hex digits stays as it is, and a "=" at the end
// or before a line break is a soft break. Unlike mime/quotedprintable it
// keeps white space at the end of a line and never fails.
func DecodeQP[T string | []byte](s T) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		switch {
		case i+2 < len(s) && unhex(s[i+1]) >= 0 && unhex(s[i+2]) >= 0:
			out = append(out, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
			i += 2
		case i+1 == len(s):
		case s[i+1] == '\n':
			i++
		case s[i+1] == '\r' && i+2 < len(s) && s[i+2] == '\n':
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// EscapeText escapes a TEXT value (RFC 5545 3.3.11, RFC 6350 3.4): "\",
// ";" and "," get a backslash, and a line break (CRLF, LF or CR) becomes
// "\n".
func EscapeText(s string) string {
	if !strings.ContainsAny(s, "\\;,\r\n") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', ';', ',':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			b.WriteString(`\n`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// UnescapeText undoes RFC 6350/5545 TEXT escaping for display: "\n" and
// "\N" are line breaks, any other escaped character stands for itself, and
// a lone backslash at the end stays.
func UnescapeText(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n', 'N':
				b.WriteByte('\n')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// SplitText splits an escaped multi-part TEXT value (N, ADR, CATEGORIES)
// at every sep that is not escaped, and unescapes each part.
func SplitText(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, UnescapeText(s[start:i]))
			start = i + 1
		}
	}
	return append(parts, UnescapeText(s[start:]))
}

// JoinText escapes each part (EscapeText) and joins them with sep: the
// inverse of SplitText.
func JoinText(parts []string, sep byte) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(sep)
		}
		b.WriteString(EscapeText(p))
	}
	return b.String()
}

// foldLimit is the longest physical line in octets, CRLF not counted
// (RFC 5545 3.1, RFC 6350 3.2).
const foldLimit = 75

// WriteFolded writes line to w as CRLF-terminated physical lines of at
// most 75 octets, each continuation starting with a space. A UTF-8
// sequence is not split (unless a line holds no character start at all,
// which only invalid UTF-8 does).
func WriteFolded(w io.StringWriter, line string) {
	width := foldLimit
	for len(line) > width {
		cut := width
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		if cut == 0 {
			cut = width
		}
		w.WriteString(line[:cut])
		w.WriteString("\r\n ")
		line = line[cut:]
		width = foldLimit - 1 // the leading space counts
	}
	w.WriteString(line)
	w.WriteString("\r\n")
}
