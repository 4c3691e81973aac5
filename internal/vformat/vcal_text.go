package vformat

// Content lines of vCalendar 1.0 and iCalendar 2.0: the components and
// properties the converters work on, read by internal/vobject (folding,
// quoted-printable soft breaks, bare vCal 1.0 parameters), their values
// decoded here (transfer encoding, charset, escapes), and writers for
// both forms.

import (
	"encoding/base64"
	"strings"

	"syncml-imap/internal/vobject"
)

// vcalProp is one unfolded content line.
type vcalProp struct {
	name   string            // upper case, group removed
	params map[string]string // upper-case names; repeated ones joined by ","
	value  string            // raw value: not yet QP/charset decoded or unescaped
}

// vcalComp is one BEGIN/END block.
type vcalComp struct {
	name  string
	props []*vcalProp
	comps []*vcalComp
}

func (c *vcalComp) prop(name string) *vcalProp {
	for _, p := range c.props {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (c *vcalComp) all(name string) []*vcalProp {
	var out []*vcalProp
	for _, p := range c.props {
		if p.name == name {
			out = append(out, p)
		}
	}
	return out
}

func (p *vcalProp) param(name string) string {
	if p == nil {
		return ""
	}
	return p.params[name]
}

// vcalParse splits data into components (vobject.ParseWith). vcal10
// selects vCalendar 1.0 unfolding (RFC 822: the white space after a line
// break is kept); otherwise iCalendar unfolding (the break and one white
// space character are removed). Unbalanced blocks are tolerated: an END
// closes the innermost block of its name, one that matches none is
// ignored.
func vcalParse(data []byte, vcal10 bool) []*vcalComp {
	objs := vobject.ParseWith(vobject.DecodeUTF16(data), &vobject.UnfoldOptions{KeepSpace: vcal10})
	out := make([]*vcalComp, len(objs))
	for i, o := range objs {
		out[i] = vcalCompOf(o)
	}
	return out
}

// vcalCompOf is the component of a vobject block, values as written.
// It walks the tree without recursion, as nesting may be deep.
func vcalCompOf(o *vobject.Object) *vcalComp {
	type pending struct {
		o *vobject.Object
		c *vcalComp
	}
	root := &vcalComp{}
	for stack := []pending{{o, root}}; len(stack) > 0; {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		p.c.name = p.o.Name
		p.c.props = make([]*vcalProp, len(p.o.Props))
		for i := range p.o.Props {
			l := &p.o.Props[i]
			p.c.props[i] = &vcalProp{name: l.Name, params: l.Params, value: l.RawValue}
		}
		p.c.comps = make([]*vcalComp, len(p.o.Children))
		for i, ch := range p.o.Children {
			p.c.comps[i] = &vcalComp{}
			stack = append(stack, pending{ch, p.c.comps[i]})
		}
	}
	return root
}

// vcalRawValue returns the value with its transfer encoding (QP, base64)
// and character set undone, line breaks as "\n". No unescaping.
func vcalRawValue(p *vcalProp) string {
	if p == nil {
		return ""
	}
	b := []byte(p.value)
	switch strings.ToUpper(p.params["ENCODING"]) {
	case "QUOTED-PRINTABLE":
		b = vobject.DecodeQP(p.value)
	case "BASE64", "B":
		clean := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, p.value)
		if d, err := base64.StdEncoding.DecodeString(clean); err == nil {
			b = d
		} else if d, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "=")); err == nil {
			b = d
		}
	}
	s := vobject.DecodeCharset(b, p.params["CHARSET"])
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return s
}

// vcalText is a vCalendar 1.0 text value: decoded, "\;" and "\," (which
// some devices send) unescaped.
func vcalText(p *vcalProp) string {
	s := vcalRawValue(p)
	if strings.Contains(s, `\`) {
		s = strings.NewReplacer(`\;`, ";", `\,`, ",").Replace(s)
	}
	return s
}

// vcalList splits a vCalendar 1.0 list value at unescaped ";" (and "," when
// commas is set), unescaping each item and dropping empty ones.
func vcalList(s string, commas bool) []string {
	var out []string
	var cur strings.Builder
	emit := func() {
		if v := strings.TrimSpace(cur.String()); v != "" {
			out = append(out, v)
		}
		cur.Reset()
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == ';' || s[i+1] == ','):
			cur.WriteByte(s[i+1])
			i++
		case c == ';' || (commas && c == ','):
			emit()
		default:
			cur.WriteByte(c)
		}
	}
	emit()
	return out
}

// icalText is an iCalendar 2.0 TEXT value, unescaped (RFC 5545 3.3.11).
func icalText(p *vcalProp) string {
	return vobject.UnescapeText(vcalRawValue(p))
}

// vcalWriter builds CRLF-terminated content lines.
type vcalWriter struct {
	b strings.Builder
}

// icalLine writes an iCalendar line folded at 75 octets without splitting
// UTF-8 sequences. params are name/value pairs; values with ":", ";" or
// "," are quoted.
func (w *vcalWriter) icalLine(name string, value string, params ...string) {
	var ps []string
	for i := 0; i+1 < len(params); i += 2 {
		if params[i+1] != "" {
			ps = append(ps, params[i]+"="+vobject.QuoteParam(params[i+1]))
		}
	}
	writeContentLine(&w.b, name, value, ps...)
}

// vcalLine writes a vCalendar 1.0 line as it is (no folding; values that
// would need it are written as quoted-printable by vcalTextLine).
func (w *vcalWriter) vcalLine(name, value string, params ...string) {
	w.b.WriteString(name)
	for i := 0; i+1 < len(params); i += 2 {
		if params[i+1] == "" {
			continue
		}
		w.b.WriteString(";" + params[i] + "=" + params[i+1])
	}
	w.b.WriteString(":")
	if strings.ContainsAny(value, "\r\n") {
		value = strings.NewReplacer("\r", "", "\n", "").Replace(value)
	}
	w.b.WriteString(value)
	w.b.WriteString("\r\n")
}

// vcalTextLine writes a vCalendar 1.0 text property: plain when it is
// short single-line ASCII, else QUOTED-PRINTABLE (with CHARSET=UTF-8 when
// not ASCII), line breaks as CRLF, soft breaks keeping lines under 76.
//
// The encoder is byte by byte, not vcardQPLines: that one also keeps a
// UTF-8 sequence and a =0D=0A on one line and encodes white space only
// where a line would end with it. Both decode to the same text, but
// switching would change the bytes vCalendar 1.0 devices have been getting.
func (w *vcalWriter) vcalTextLine(name, value string, params ...string) {
	ascii := true
	for i := 0; i < len(value); i++ {
		if value[i] >= 0x80 || value[i] < 0x20 && value[i] != '\t' {
			ascii = false
			break
		}
	}
	multi := strings.ContainsAny(value, "\r\n")
	if ascii && !multi && len(name)+1+len(value) <= 75 && !strings.HasSuffix(value, " ") && !strings.HasSuffix(value, "=") {
		w.vcalLine(name, value, params...)
		return
	}
	value = strings.ReplaceAll(value, "\r\n", "\n")
	value = strings.ReplaceAll(value, "\r", "\n")
	value = strings.ReplaceAll(value, "\n", "\r\n")
	var head strings.Builder
	head.WriteString(name)
	for i := 0; i+1 < len(params); i += 2 {
		if params[i+1] != "" {
			head.WriteString(";" + params[i] + "=" + params[i+1])
		}
	}
	if !isASCII(value) {
		head.WriteString(";CHARSET=UTF-8")
	}
	head.WriteString(";ENCODING=QUOTED-PRINTABLE:")
	w.b.WriteString(head.String())
	col := head.Len()
	for i := 0; i < len(value); i++ {
		c := value[i]
		var tok string
		switch {
		case c == '=' || c >= 0x80 || (c < 0x20 && c != '\t') || c == 0x7f:
			tok = "=" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15]))
		case (c == ' ' || c == '\t') && (i+1 == len(value) || value[i+1] == '\r'):
			tok = "=" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15]))
		default:
			tok = string(c)
		}
		if col+len(tok) > 75 {
			w.b.WriteString("=\r\n")
			col = 0
		}
		w.b.WriteString(tok)
		col += len(tok)
	}
	w.b.WriteString("\r\n")
}
