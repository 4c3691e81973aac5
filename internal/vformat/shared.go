package vformat

// Helpers the vCard, vCalendar and SIF converters share. The syntax-level
// ones (unfolding, quoted parameters, quoted-printable, TEXT escaping,
// folding) are in internal/vobject.

import (
	"io"
	"strings"

	"syncml-imap/internal/vobject"
)

// writeContentLine writes "name;params:value" to w, folded (vobject.
// WriteFolded). params are whole parameters ("TZID=..." with the value
// already quoted as needed); empty ones are left out. Line breaks in value
// are dropped: a TEXT value has them escaped already.
func writeContentLine(w io.StringWriter, name, value string, params ...string) {
	var l strings.Builder
	l.Grow(len(name) + len(value) + 1)
	l.WriteString(name)
	for _, p := range params {
		if p != "" {
			l.WriteByte(';')
			l.WriteString(p)
		}
	}
	l.WriteByte(':')
	if strings.ContainsAny(value, "\r\n") {
		value = strings.NewReplacer("\r", "", "\n", "").Replace(value)
	}
	l.WriteString(value)
	vobject.WriteFolded(w, l.String())
}

// textList splits an iCalendar/vCard 3.0 multi-valued TEXT (CATEGORIES,
// RESOURCES, NICKNAME) at unescaped commas, unescaped, each item trimmed,
// empty ones dropped.
func textList(raw string) []string {
	var out []string
	for _, v := range vobject.SplitText(raw, ',') {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// rruleParts splits an RRULE value ("FREQ=WEEKLY;BYDAY=MO") into
// upper-case keys and values.
func rruleParts(rule string) map[string]string {
	out := make(map[string]string)
	for _, p := range strings.Split(rule, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		out[strings.ToUpper(strings.TrimSpace(k))] = strings.ToUpper(strings.TrimSpace(v))
	}
	return out
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isASCII reports whether s holds no byte of 0x80 or above.
func isASCII[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
