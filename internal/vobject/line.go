package vobject

// The parts of one content line, "group.NAME;PARAM=a,b;BARE:value"
// (RFC 5545 3.1, RFC 6350 3.3, vCard 2.1 2.1.x, vCalendar 1.0 2.1.x): the
// one parser of them every reader uses.

import "strings"

// Param is one parameter of a content line.
type Param struct {
	// Name is upper case; a bare vCard 2.1 / vCalendar 1.0 parameter gets
	// the name BareParamName gives it.
	Name string
	// Values are split at unquoted commas, each trimmed and unquoted.
	Values []string
	// Raw is the parameter as written, trimmed.
	Raw string
}

// ContentLine is one unfolded content line in its parts; nothing is
// decoded.
type ContentLine struct {
	Group   string
	Name    string // upper case
	RawName string // as written
	Params  []Param
	// RawParams is ";..." between the name and the colon, as written.
	RawParams string
	Value     string

	full string // group and name as written
}

// ParseContentLine splits an unfolded content line. It fails only when
// there is no colon after a non-empty name. Double quotes hide ':' and ';'
// in parameter values; when they do not balance, the first colon ends
// the parameters all the same (a vCard 2.1 card may carry a stray '"' in
// one, and the line is kept rather than lost). Empty parameters, and
// NAME=VALUE ones whose name is not a name (see IsName), are dropped.
func ParseContentLine(s string) (ContentLine, bool) {
	colon := IndexUnquoted(s, ':')
	if colon < 0 {
		colon = strings.IndexByte(s, ':')
	}
	if colon <= 0 {
		return ContentLine{}, false
	}
	head := s[:colon]
	nameEnd := IndexUnquoted(head, ';')
	if nameEnd < 0 {
		nameEnd = strings.IndexByte(head, ';')
	}
	if nameEnd < 0 {
		nameEnd = len(head)
	}
	full := strings.TrimSpace(head[:nameEnd])
	l := ContentLine{RawName: full, Value: s[colon+1:], full: full}
	if dot := strings.LastIndexByte(full, '.'); dot >= 0 {
		l.Group, l.RawName = full[:dot], full[dot+1:]
	}
	l.Name = strings.ToUpper(strings.TrimSpace(l.RawName))
	if l.Name == "" {
		return ContentLine{}, false
	}
	if nameEnd < len(head) {
		l.RawParams = head[nameEnd:]
		l.Params = parseParams(head[nameEnd+1:])
	}
	return l, true
}

func parseParams(s string) []Param {
	toks := SplitUnquoted(s, ';')
	out := make([]Param, 0, len(toks))
	// The values of all parameters share one array: a line of thousands
	// of bare TYPEs costs a few allocations, not thousands.
	pool := make([]string, 0, len(toks))
	for _, tok := range toks {
		t := strings.TrimSpace(tok)
		if t == "" {
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			pool = append(pool, t)
			out = append(out, Param{Name: BareParamName(t), Values: pool[len(pool)-1 : len(pool) : len(pool)], Raw: t})
			continue
		}
		name := strings.ToUpper(strings.TrimSpace(k))
		if !IsName(name) {
			continue
		}
		first := len(pool)
		for _, pv := range SplitUnquoted(v, ',') {
			pool = append(pool, strings.Trim(strings.TrimSpace(pv), `"`))
		}
		out = append(out, Param{Name: name, Values: pool[first:len(pool):len(pool)], Raw: t})
	}
	return out
}

// BareParamName names a parameter written without one, as vCard 2.1
// (2.1.3-2.1.5) and vCalendar 1.0 allow: an encoding (and "B", which no
// TYPE is but vCard 3.0's ENCODING=b is), a value location, a charset
// some devices write bare, or else a TYPE.
func BareParamName(v string) string {
	switch strings.ToUpper(v) {
	case "QUOTED-PRINTABLE", "BASE64", "B", "8BIT", "7BIT":
		return "ENCODING"
	case "INLINE", "URL", "URI", "CONTENT-ID", "CID":
		return "VALUE"
	case "UTF-8", "UTF8", "ISO-8859-1", "WINDOWS-1252":
		return "CHARSET"
	}
	return "TYPE"
}

// IsName reports whether s is a property or parameter name: letters,
// digits, '-' and '_' (RFC 6350 3.3 "name"; '_' as old devices write it).
func IsName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return s != ""
}

func isNameChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// WellFormedName reports whether the line's name and group are names (see
// IsName). A vCard reader takes a line that is not for a stray piece of the
// value before it.
func (l *ContentLine) WellFormedName() bool {
	if !IsName(l.RawName) {
		return false
	}
	if !strings.Contains(l.full, ".") {
		return true
	}
	for _, g := range strings.Split(l.Group, ".") {
		if !IsName(g) {
			return false
		}
	}
	return true
}

// ParamMap returns each parameter with the values of all its occurrences
// joined by "," (see ParamSet); nil when there are none.
func (l *ContentLine) ParamMap() map[string]string {
	if len(l.Params) == 0 {
		return nil
	}
	set := ParamSet{}
	for _, p := range l.Params {
		for _, v := range p.Values {
			set.Add(p.Name, v)
		}
	}
	return set.Joined()
}
