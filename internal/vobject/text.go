package vobject

// Text helpers of the content-line syntax, shared by this package's reader
// and the format converters (internal/vformat): unfolding, quoted parameter
// values, quoted-printable, TEXT escaping and folding on output.

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"
)

var bom = []byte("\xef\xbb\xbf")

// Unfold splits data into logical content lines. It takes CRLF and LF line
// ends and a leading UTF-8 byte order mark, and joins
//   - a line starting with a space or tab to the one before it: RFC 5545
//     3.1 and RFC 6350 3.2 remove that one white space character;
//     keepSpace keeps it, as the RFC 822 folding of vCard 2.1 and
//     vCalendar 1.0 prescribes;
//   - the line after one ending in "=" when that line declares
//     QUOTED-PRINTABLE before its first unquoted colon (a vCard 2.1 /
//     vCalendar 1.0 soft line break; the "=" is removed).
//
// Empty lines are dropped. It takes time linear in len(data).
func Unfold(data []byte, keepSpace bool) []string {
	texts, _ := unfold(data, keepSpace, false)
	return texts
}

// unfold is Unfold; with withOrig it also returns, for each logical line,
// the physical lines it was read from, each CRLF-terminated.
func unfold(data []byte, keepSpace, withOrig bool) (texts, origs []string) {
	// One copy of the data; a logical line that is one physical line (most
	// are) is a part of it, and so is its original when the data has CRLF
	// line ends, so that reading an item costs few allocations.
	s := string(bytes.TrimPrefix(data, bom))
	var (
		cur        []byte // the logical line being read
		qp         qpScan
		qpSoft     bool
		start, end int  // s[start:end]: its physical lines with their line ends
		oneEnd     int  // where its first physical line's text ends in s
		phys       int  // how many physical lines it has
		crlf       bool // each of them ended in CRLF
	)
	flush := func() {
		if len(cur) > 0 {
			if phys == 1 {
				texts = append(texts, s[start:oneEnd])
			} else {
				texts = append(texts, string(cur))
			}
			if withOrig {
				if crlf {
					origs = append(origs, s[start:end])
				} else {
					origs = append(origs, crlfLines(s[start:end]))
				}
			}
		}
		cur = cur[:0]
		qp = qpScan{}
	}
	for pos := 0; pos < len(s); {
		line, next, nl := s[pos:], len(s), false
		if i := strings.IndexByte(line, '\n'); i >= 0 {
			line, next, nl = line[:i], pos+i+1, true
		}
		cr := strings.HasSuffix(line, "\r")
		line = strings.TrimSuffix(line, "\r")
		switch {
		case qpSoft:
			cur = append(cur[:len(cur)-1], line...) // drop the soft break's "="
			phys++
		case len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && len(cur) > 0:
			if keepSpace {
				cur = append(cur, line...)
			} else {
				cur = append(cur, line[1:]...)
			}
			phys++
		default:
			flush()
			cur = append(cur, line...)
			start, oneEnd, phys, crlf = pos, pos+len(line), 1, true
		}
		crlf = crlf && cr && nl
		end, pos = next, next
		qpSoft = len(cur) > 0 && cur[len(cur)-1] == '=' && qp.declared(cur)
	}
	flush()
	return texts, origs
}

// crlfLines is s with each line ended in CRLF, whatever its line ends were.
func crlfLines(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	for s != "" {
		line, rest, _ := strings.Cut(s, "\n")
		b.WriteString(strings.TrimSuffix(line, "\r"))
		b.WriteString("\r\n")
		s = rest
	}
	return b.String()
}

// qpScan finds, once per logical line and without going over its bytes
// again as the line grows, whether its header (the part before the first
// unquoted colon) declares QUOTED-PRINTABLE.
type qpScan struct {
	pos          int
	quoted, done bool
	qp           bool
}

func (q *qpScan) declared(line []byte) bool {
	for ; !q.done && q.pos < len(line); q.pos++ {
		switch line[q.pos] {
		case '"':
			q.quoted = !q.quoted
		case ':':
			if !q.quoted {
				q.done = true
				q.qp = headerDeclaresQP(string(line[:q.pos]))
			}
		}
	}
	return q.qp
}

// declaresQP reports whether a raw content line declares quoted-printable
// encoding before its first unquoted colon.
func declaresQP(s string) bool {
	colon := IndexUnquoted(s, ':')
	return colon >= 0 && headerDeclaresQP(s[:colon])
}

func headerDeclaresQP(head string) bool {
	return strings.Contains(strings.ToUpper(head), "QUOTED-PRINTABLE")
}

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
