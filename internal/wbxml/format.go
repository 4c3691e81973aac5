package wbxml

import (
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Format renders a tree as indented XML-like text for debugging and for
// tests that compare trees: one element a line, each named with its
// effective namespace (its own NS, else its parent's) as a prefix, as in
// <AirSyncBase:Body>. Opaque text is marked opaque="" and written as hex
// when it is not printable UTF-8. It is not XML: namespaces are not
// declared, and a SyncML namespace such as SYNCML:SYNCML1.2 is written as
// it is.
func Format(n *Node) string {
	var b strings.Builder
	format(&b, n, "", "")
	return b.String()
}

// String is Format(n).
func (n *Node) String() string { return Format(n) }

func format(b *strings.Builder, n *Node, inherited, indent string) {
	if n == nil {
		b.WriteString(indent + "<nil/>\n")
		return
	}
	ns := n.NS
	if ns == "" {
		ns = inherited
	}
	name := n.Name
	if ns != "" {
		name = ns + ":" + n.Name
	}
	open := "<" + name
	text := n.Text
	if n.Opaque {
		if printable(text) {
			open += ` opaque=""`
		} else {
			open += ` opaque="hex"`
			text = hex.EncodeToString([]byte(text))
		}
	}
	b.WriteString(indent + open)
	switch {
	case len(n.Children) == 0 && text == "" && !n.Opaque:
		b.WriteString("/>\n")
	case len(n.Children) == 0:
		b.WriteString(">" + escape(text) + "</" + name + ">\n")
	default:
		b.WriteString(">\n")
		if text != "" {
			b.WriteString(indent + "  " + escape(text) + "\n")
		}
		for _, c := range n.Children {
			format(b, c, ns, indent+"  ")
		}
		b.WriteString(indent + "</" + name + ">\n")
	}
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}

// escape writes markup characters and control characters as character
// references, so that every element stays on its line.
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case r == utf8.RuneError || r < 0x20 || r == 0x7F:
			b.WriteString("&#x" + strings.ToUpper(strconv.FormatInt(int64(r), 16)) + ";")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
