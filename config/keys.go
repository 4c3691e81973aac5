package config

import (
	"encoding"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// This file finds where keys are in the source and which keys are known.
//
// toml.MetaData lists the keys of a document but not their positions, so
// keyLines re-scans the source. It only runs on documents that toml has
// already parsed, so it can assume valid TOML; on anything else it must
// merely terminate without panicking.

// keyLines returns, for every key defined in src (in toml.Key.String form),
// the 1-based line where it first appears. Table headers, [[array]] headers,
// dotted keys and keys inside inline tables (also inline tables inside
// arrays, which toml files under the array's key) are included.
func keyLines(src string) map[string]int {
	s := &keyScanner{src: stripBOM(src), line: 1, lines: map[string]int{}}
	s.document()
	return s.lines
}

func stripBOM(s string) string {
	switch {
	case strings.HasPrefix(s, "\xff\xfe"), strings.HasPrefix(s, "\xfe\xff"):
		return s[2:]
	case strings.HasPrefix(s, "\xef\xbb\xbf"):
		return s[3:]
	}
	return s
}

// maxNesting bounds recursion into arrays and inline tables.
const maxNesting = 1000

type keyScanner struct {
	src   string
	pos   int
	line  int
	lines map[string]int
}

func (s *keyScanner) eof() bool { return s.pos >= len(s.src) }

// peek returns the byte at pos+off, or 0 beyond the end.
func (s *keyScanner) peek(off int) byte {
	if s.pos+off < len(s.src) {
		return s.src[s.pos+off]
	}
	return 0
}

func (s *keyScanner) record(key []string, line int) {
	k := toml.Key(key).String()
	if _, ok := s.lines[k]; !ok {
		s.lines[k] = line
	}
}

// document scans top-level statements: headers and key/value pairs.
func (s *keyScanner) document() {
	var table []string
	for {
		s.skipSpaceNL()
		if s.eof() {
			return
		}
		line := s.line
		if s.peek(0) == '[' {
			s.pos++
			if s.peek(0) == '[' {
				s.pos++
			}
			s.skipSpace()
			if key, ok := s.key(); ok {
				table = key
				s.record(table, line)
			}
			s.skipLine()
			continue
		}
		key, ok := s.key()
		if !ok || s.peek(0) != '=' {
			s.skipLine()
			continue
		}
		s.pos++
		full := append(append([]string(nil), table...), key...)
		s.record(full, line)
		s.skipSpace()
		s.value(full, 0)
		// Only blanks and a comment may follow a value; this also skips
		// the time of a "1979-05-27 07:32:00" datetime.
		s.skipLine()
	}
}

// skipSpace skips blanks on the current line.
func (s *keyScanner) skipSpace() {
	for !s.eof() {
		switch s.peek(0) {
		case ' ', '\t', '\r':
			s.pos++
		default:
			return
		}
	}
}

// skipSpaceNL skips blanks, newlines and comments.
func (s *keyScanner) skipSpaceNL() {
	for !s.eof() {
		switch s.peek(0) {
		case ' ', '\t', '\r':
			s.pos++
		case '\n':
			s.pos++
			s.line++
		case '#':
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine moves to the newline ending the current line (not past it).
func (s *keyScanner) skipLine() {
	if i := strings.IndexByte(s.src[s.pos:], '\n'); i >= 0 {
		s.pos += i
	} else {
		s.pos = len(s.src)
	}
}

// key reads a possibly dotted key and the blanks after it. It reports false
// if there is no key at pos.
func (s *keyScanner) key() ([]string, bool) {
	var parts []string
	for {
		s.skipSpace()
		var part string
		switch c := s.peek(0); {
		case c == '"':
			raw, ok := s.quoted('"')
			if !ok {
				return nil, false
			}
			part = unescapeBasic(raw)
		case c == '\'':
			raw, ok := s.quoted('\'')
			if !ok {
				return nil, false
			}
			part = raw
		case isBareKeyChar(c):
			start := s.pos
			for !s.eof() && isBareKeyChar(s.peek(0)) {
				s.pos++
			}
			part = s.src[start:s.pos]
		default:
			return nil, false
		}
		parts = append(parts, part)
		s.skipSpace()
		if s.peek(0) != '.' {
			return parts, true
		}
		s.pos++
	}
}

func isBareKeyChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// quoted reads a single-line string delimited by q and returns its raw
// content (escapes left alone).
func (s *keyScanner) quoted(q byte) (string, bool) {
	s.pos++
	start := s.pos
	for !s.eof() {
		switch c := s.peek(0); {
		case c == q:
			raw := s.src[start:s.pos]
			s.pos++
			return raw, true
		case c == '\n':
			return "", false
		case c == '\\' && q == '"' && s.peek(1) != '\n':
			s.pos += 2
		default:
			s.pos++
		}
	}
	return "", false
}

// value skips one value. Keys of inline tables found in it are recorded
// under prefix.
func (s *keyScanner) value(prefix []string, depth int) {
	if depth > maxNesting {
		s.pos++
		return
	}
	switch s.peek(0) {
	case '"', '\'':
		s.str()
	case '[':
		s.pos++
		for {
			s.skipSpaceNL()
			if s.eof() {
				return
			}
			switch s.peek(0) {
			case ']':
				s.pos++
				return
			case ',':
				s.pos++
			default:
				before := s.pos
				s.value(prefix, depth+1)
				if s.pos == before {
					s.pos++
				}
			}
		}
	case '{':
		s.pos++
		for {
			s.skipSpaceNL() // newlines are allowed in inline tables from TOML 1.1
			if s.eof() {
				return
			}
			switch s.peek(0) {
			case '}':
				s.pos++
				return
			case ',':
				s.pos++
				continue
			}
			before, line := s.pos, s.line
			key, ok := s.key()
			if ok && s.peek(0) == '=' {
				s.pos++
				full := append(append([]string(nil), prefix...), key...)
				s.record(full, line)
				s.skipSpace()
				s.value(full, depth+1)
			}
			if s.pos == before {
				s.pos++
			}
		}
	default:
		// Number, boolean or datetime: runs to a delimiter.
		for !s.eof() {
			switch s.peek(0) {
			case ' ', '\t', '\r', '\n', ',', ']', '}', '#':
				return
			}
			s.pos++
		}
	}
}

// str skips a basic, literal or multi-line string, counting its newlines.
func (s *keyScanner) str() {
	q := s.peek(0)
	if s.peek(1) != q || s.peek(2) != q {
		s.quoted(q)
		return
	}
	s.pos += 3
	for !s.eof() {
		switch c := s.peek(0); {
		case c == q && s.peek(1) == q && s.peek(2) == q:
			s.pos += 3
			// Up to two quotes may directly precede the closing ones.
			for i := 0; i < 2 && s.peek(0) == q; i++ {
				s.pos++
			}
			return
		case c == '\n':
			s.line++
			s.pos++
		case c == '\\' && q == '"':
			s.pos++
			if s.peek(0) == '\n' {
				s.line++
			}
			if !s.eof() {
				s.pos++
			}
		default:
			s.pos++
		}
	}
}

// unescapeBasic resolves the escapes of a basic string. Invalid escapes
// are kept as they are; toml has already rejected them.
func unescapeBasic(raw string) string {
	if !strings.Contains(raw, `\`) {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			b.WriteByte(raw[i])
			continue
		}
		i++
		hex := 0
		switch raw[i] {
		case 'b':
			b.WriteByte('\b')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case 'e':
			b.WriteByte('\x1b')
		case '"', '\\':
			b.WriteByte(raw[i])
		case 'x':
			hex = 2
		case 'u':
			hex = 4
		case 'U':
			hex = 8
		default:
			b.WriteByte('\\')
			b.WriteByte(raw[i])
		}
		if hex == 0 {
			continue
		}
		if i+hex < len(raw) {
			if n, err := strconv.ParseUint(raw[i+1:i+1+hex], 16, 32); err == nil {
				b.WriteRune(rune(n)) // \xHH (TOML 1.1) is the code point U+00HH
				i += hex
				continue
			}
		}
		b.WriteByte('\\')
		b.WriteByte(raw[i])
	}
	if !utf8.ValidString(b.String()) {
		return raw
	}
	return b.String()
}

// knownKeys returns every key Config can hold, tables included, in
// toml.Key.String form, mapped to its path.
func knownKeys() map[string][]string {
	keys := map[string][]string{}
	walkFields(func(path []string, _ reflect.Type) { keys[toml.Key(path).String()] = path })
	return keys
}

// openTables returns the keys whose values decode into a map: any key
// below one of them is an entry of that map, not an unknown key.
func openTables() map[string]bool {
	open := map[string]bool{}
	walkFields(func(path []string, t reflect.Type) {
		if t.Kind() == reflect.Map {
			open[toml.Key(path).String()] = true
		}
	})
	return open
}

// walkFields calls fn for every setting of Config with its key path.
func walkFields(fn func(path []string, t reflect.Type)) {
	var walk func(t reflect.Type, prefix []string)
	walk = func(t reflect.Type, prefix []string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				continue
			}
			path := append(append([]string(nil), prefix...), name)
			fn(path, f.Type)
			textual := reflect.PointerTo(f.Type).Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
			if f.Type.Kind() == reflect.Struct && !textual {
				walk(f.Type, path)
			}
		}
	}
	walk(reflect.TypeFor[Config](), nil)
}

// unknownKeys returns the keys in md that Config does not have, in document
// order, leaving out keys below one already returned. Besides
// md.Undecoded(), these include keys toml decoded only because it matches
// field names case-insensitively ("Address" for "address").
func unknownKeys(md toml.MetaData) []toml.Key {
	known, open := knownKeys(), openTables()
	var out []toml.Key
	seen := map[string]bool{}
	isUnknown := map[string]bool{}
	for _, k := range md.Undecoded() {
		isUnknown[k.String()] = true
	}
	for _, k := range md.Keys() {
		s := k.String()
		if _, ok := known[s]; ok && !isUnknown[s] {
			continue
		}
		if len(k) > 1 && open[k[:len(k)-1].String()] && !isUnknown[s] {
			continue
		}
		if seen[s] {
			continue
		}
		seen[s] = true
		below := false
		for i := 1; i < len(k); i++ {
			if seen[k[:i].String()] {
				below = true
				break
			}
		}
		if !below {
			out = append(out, k)
		}
	}
	return out
}

// suggest returns a known key the user may have meant by k, or "".
func suggest(k toml.Key) string {
	known := knownKeys()
	parent := k[:len(k)-1].String()
	last := k[len(k)-1]
	best, bestDist := "", 3 // suggest at most two edits away
	for s, path := range known {
		if len(path) != len(k) || toml.Key(path[:len(path)-1]).String() != parent {
			continue
		}
		d := editDistance(strings.ToLower(last), path[len(path)-1])
		if d < bestDist || d == bestDist && s < best {
			best, bestDist = s, d
		}
	}
	if best != "" {
		return best
	}
	// The right name in the wrong table, e.g. max_devices under [imap].
	for s, path := range known {
		if path[len(path)-1] == strings.ToLower(last) && (best == "" || s < best) {
			best = s
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
