package vformat

// SIF ("Sync4j Item Format") is the XML item format of the Funambol
// clients for Outlook and Windows Mobile: SIF-C contacts
// (text/x-s4j-sifc), SIF-E appointments (text/x-s4j-sife) and SIF-T tasks
// (text/x-s4j-sift). An item is one root element (contact, appointment,
// task) whose children are Outlook property names holding text, e.g.
//
//	<?xml version="1.0" encoding="UTF-8"?>
//	<contact>
//	<SIFVersion>1.1</SIFVersion>
//	<FirstName>Anna</FirstName>
//	...
//	</contact>
//
// Devices often send it base64-encoded (Meta Format b64); SIFDecode undoes
// that. This file holds what the three converters share: the forgiving XML
// reader, the SIF writer, the vCard/iCalendar line writer and date helpers.

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"syncml-imap/internal/vobject"
)

// sifVersion is the SIFVersion the Funambol clients and server write.
const sifVersion = "1.1"

// sifProdID is the PRODID of the iCalendar objects made from SIF.
const sifProdID = "-//syncml-imap//vformat SIF//EN"

var sifBOM = []byte("\xef\xbb\xbf")

// SIFOptions says how SIF items are converted; a nil *SIFOptions means the
// defaults.
type SIFOptions struct {
	// Now is the clock DTSTAMP is read from (RFC 5545 3.8.7.2: required
	// in a VEVENT and a VTODO; without a METHOD it is when the item was
	// last changed). SIF carries no such time, so the time of conversion
	// stands for it. nil = time.Now.
	Now func() time.Time
}

// dtstamp is the DTSTAMP value of an item converted now.
func (o *SIFOptions) dtstamp() string {
	now := time.Now
	if o != nil && o.Now != nil {
		now = o.Now
	}
	return sifFmtUTC(now())
}

// SIFDecode undoes base64 when data is base64-encoded SIF (it does not
// start with '<' but decodes to something that does, e.g. "PD94bWwg..." for
// "<?xml "); anything else is returned as it is.
func SIFDecode(data []byte) []byte {
	t := bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(data), sifBOM))
	if len(t) == 0 || t[0] == '<' {
		return data
	}
	clean := make([]byte, 0, len(t))
	for _, c := range t {
		switch c {
		case ' ', '\t', '\r', '\n', '\f', '\v':
		default:
			clean = append(clean, c)
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		dec, err := enc.DecodeString(string(clean))
		if err != nil {
			continue
		}
		d := bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(dec), sifBOM))
		if len(d) > 0 && d[0] == '<' {
			return dec
		}
	}
	return data
}

// sifNode is one element of a parsed SIF item.
type sifNode struct {
	name string
	attr map[string]string // attribute names as written
	text strings.Builder
	kids []*sifNode
}

// child returns the first child element called name (case-insensitive),
// or nil.
func (n *sifNode) child(name string) *sifNode {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if strings.EqualFold(k.name, name) {
			return k
		}
	}
	return nil
}

// children returns every child element called name (case-insensitive).
func (n *sifNode) children(name string) []*sifNode {
	if n == nil {
		return nil
	}
	var out []*sifNode
	for _, k := range n.kids {
		if strings.EqualFold(k.name, name) {
			out = append(out, k)
		}
	}
	return out
}

// get returns the trimmed text of the child element called name.
func (n *sifNode) get(name string) string {
	if c := n.child(name); c != nil {
		return strings.TrimSpace(c.text.String())
	}
	return ""
}

// getRaw returns the text of the child element called name as it stood
// (for Body, whose leading and trailing line breaks belong to the text).
func (n *sifNode) getRaw(name string) string {
	if c := n.child(name); c != nil {
		return c.text.String()
	}
	return ""
}

// has reports whether the child element called name is present.
func (n *sifNode) has(name string) bool { return n.child(name) != nil }

// flag reads an Outlook boolean ("1", "true", "-1").
func (n *sifNode) flag(name string) bool { return sifBool(n.get(name)) }

// num reads an integer; def when missing or not a number.
func (n *sifNode) num(name string, def int) int {
	s := n.get(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		// "2.0", " 15 ": take the leading digits.
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimLeft(s, "+-")
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return def
		}
		v, err = strconv.Atoi(s[:i])
		if err != nil {
			return def
		}
		if neg {
			v = -v
		}
	}
	return v
}

func sifBool(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "-1", "true", "yes", "on":
		return true
	}
	return false
}

// sifParse reads a SIF item (base64 undone) and returns its root element,
// which must be called root (case-insensitive). It is forgiving: invalid
// UTF-8 is taken as Windows-1252, characters XML forbids are dropped, bare
// '&' and unknown entities are kept as text, and a document cut short keeps
// what was read. It fails only when there is no element at all, or the root
// is another item type.
func sifParse(data []byte, root string) (*sifNode, error) {
	data = sifCleanXML(SIFDecode(data))
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = false
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var top *sifNode
	var stack []*sifNode
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &sifNode{name: t.Name.Local}
			for _, a := range t.Attr {
				if n.attr == nil {
					n.attr = make(map[string]string)
				}
				n.attr[a.Name.Local] = a.Value
			}
			switch {
			case len(stack) > 0:
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			case top == nil:
				top = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			// Close the innermost open element of that name.
			for i := len(stack) - 1; i >= 0; i-- {
				if strings.EqualFold(stack[i].name, t.Name.Local) {
					stack = stack[:i]
					break
				}
			}
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if top == nil {
		return nil, errors.New("vformat: not SIF: no XML element")
	}
	if !strings.EqualFold(top.name, root) {
		return nil, fmt.Errorf("vformat: SIF root is <%s>, want <%s>", top.name, root)
	}
	return top, nil
}

// sifCleanXML makes data acceptable to encoding/xml: UTF-8 (a declared
// ISO-8859-1/Windows-1252 encoding, or invalid UTF-8, is taken as
// Windows-1252), no XML declaration (so no charset is looked up), and none
// of the control characters XML 1.0 forbids (Outlook bodies carry some).
func sifCleanXML(data []byte) []byte {
	data = bytes.TrimPrefix(bytes.TrimSpace(data), sifBOM)
	latin := false
	if bytes.HasPrefix(data, []byte("<?xml")) {
		if end := bytes.Index(data, []byte("?>")); end >= 0 {
			decl := strings.ToLower(string(data[:end]))
			for _, cs := range []string{"iso-8859", "latin", "windows-125", "cp125", "us-ascii"} {
				if strings.Contains(decl, cs) {
					latin = true
				}
			}
			data = data[end+2:]
		}
	}
	if latin || !utf8.Valid(data) {
		if !utf8.Valid(data) || latin && !isASCII(data) {
			data = []byte(vobject.DecodeCharset(data, "windows-1252"))
		}
	}
	out := make([]byte, 0, len(data))
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if sifXMLChar(r) {
			out = append(out, data[i:i+size]...)
		}
		i += size
	}
	return out
}

// sifXMLChar reports whether XML 1.0 allows r in a document.
func sifXMLChar(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20:
		return false
	case r == utf8.RuneError:
		return true // U+FFFD itself is allowed
	case r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
		return false
	}
	return r <= 0x10FFFF
}

// sifWriter writes a SIF item the way the Funambol client does: one
// element a line, empty values as <Name/>, only &, < and > escaped (the
// client's reader knows no other entity).
type sifWriter struct {
	b    bytes.Buffer
	root string
}

func sifNewWriter(root string) *sifWriter {
	w := &sifWriter{root: root}
	w.b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w.b.WriteString("<" + root + ">\n")
	w.b.WriteString("<SIFVersion>" + sifVersion + "</SIFVersion>\n")
	return w
}

// elem writes <name>value</name>, or <name/> when value is empty. Line
// breaks are written as CRLF, as Outlook keeps them.
func (w *sifWriter) elem(name, value string) {
	if value == "" {
		w.b.WriteString("<" + name + "/>\n")
		return
	}
	w.b.WriteString("<" + name + ">")
	w.b.WriteString(sifEscapeXML(value))
	w.b.WriteString("</" + name + ">\n")
}

// elemAttr writes <name attr="val">value</name> (Photo TYPE).
func (w *sifWriter) elemAttr(name, attr, attrVal, value string) {
	if attrVal == "" || value == "" {
		w.elem(name, value)
		return
	}
	w.b.WriteString("<" + name + " " + attr + "=\"" + sifEscapeXML(attrVal) + "\">")
	w.b.WriteString(sifEscapeXML(value))
	w.b.WriteString("</" + name + ">\n")
}

func (w *sifWriter) elemInt(name string, v int) { w.elem(name, strconv.Itoa(v)) }

func (w *sifWriter) elemBool(name string, v bool) {
	if v {
		w.elem(name, "1")
	} else {
		w.elem(name, "0")
	}
}

func (w *sifWriter) open(name string)  { w.b.WriteString("<" + name + ">\n") }
func (w *sifWriter) close(name string) { w.b.WriteString("</" + name + ">\n") }
func (w *sifWriter) empty(name string) { w.b.WriteString("<" + name + "/>\n") }

func (w *sifWriter) bytes() []byte {
	w.b.WriteString("</" + w.root + ">\n")
	return w.b.Bytes()
}

func sifEscapeXML(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\n':
			b.WriteString("\r\n")
		case !sifXMLChar(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// sifText normalises text read from SIF: CRLF and CR become LF.
func sifText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// sifLines builds a vCard or iCalendar object: CRLF line ends, lines folded
// at 75 octets without splitting a UTF-8 sequence.
type sifLines struct{ b strings.Builder }

// add writes name, params (each "KEY=value", already quoted as needed) and
// an already escaped value.
func (l *sifLines) add(name string, value string, params ...string) {
	writeContentLine(&l.b, name, value, params...)
}

// text writes a TEXT property, escaped; nothing when value is empty.
func (l *sifLines) text(name, value string, params ...string) {
	if value == "" {
		return
	}
	l.add(name, vobject.EscapeText(value), params...)
}

func (l *sifLines) raw(s string) { l.b.WriteString(s) }

func (l *sifLines) bytes() []byte { return []byte(l.b.String()) }

// sifCategories splits a SIF Categories value ("a; b" or "a, b").
func sifCategories(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	sep := ","
	if strings.Count(s, ";") > strings.Count(s, ",") {
		sep = ";"
	}
	var out []string
	for _, c := range strings.Split(s, sep) {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

// sifObjCategories collects every CATEGORIES value of an object.
func sifObjCategories(o *vobject.Object) []string {
	var out []string
	for _, p := range o.Props {
		if p.Name == "CATEGORIES" {
			out = append(out, textList(p.Value)...)
		}
	}
	return out
}

// sifPropText returns the unescaped text of the first property called name.
func sifPropText(o *vobject.Object, name string) string {
	if p := o.Prop(name); p != nil {
		return sifText(vobject.UnescapeText(p.Value))
	}
	return ""
}

// Date and time forms.
const (
	sifKindNone  = iota
	sifKindDate  // a date without time
	sifKindUTC   // a UTC date-time ("Z")
	sifKindLocal // a date-time without zone (floating, or local to a TZID)
)

// sifParseTime reads the date and date-time forms SIF, vCard and iCalendar
// use: yyyyMMdd, yyyy-MM-dd, yyyyMMddTHHmm[ss][Z], yyyy-MM-ddTHH:mm:ss[Z],
// with or without fractions or a numeric offset (taken to UTC). The wall
// clock is returned in a UTC time.Time; kind tells what it was.
func sifParseTime(s string) (time.Time, int) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, sifKindNone
	}
	datePart, timePart, hasT := strings.Cut(strings.ToUpper(s), "T")
	if !hasT && len(datePart) > 10 && strings.Contains(datePart, " ") {
		datePart, timePart, hasT = strings.Cut(datePart, " ")
	}
	datePart = strings.ReplaceAll(datePart, "-", "")
	if len(datePart) != 8 || !allDigits(datePart) {
		return time.Time{}, sifKindNone
	}
	y, _ := strconv.Atoi(datePart[:4])
	mo, _ := strconv.Atoi(datePart[4:6])
	d, _ := strconv.Atoi(datePart[6:8])
	if mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, sifKindNone
	}
	date := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	if date.Day() != d {
		return time.Time{}, sifKindNone
	}
	if !hasT {
		return date, sifKindDate
	}
	tp := strings.ReplaceAll(timePart, ":", "")
	kind := sifKindLocal
	offset := 0
	switch {
	case strings.HasSuffix(tp, "Z"):
		kind = sifKindUTC
		tp = tp[:len(tp)-1]
	case strings.LastIndexAny(tp, "+-") > 0:
		i := strings.LastIndexAny(tp, "+-")
		off := tp[i:]
		tp = tp[:i]
		if o, ok := vcalParseOffset(off); ok {
			offset = o
			kind = sifKindUTC
		}
	}
	if dot := strings.IndexAny(tp, ".,"); dot >= 0 {
		tp = tp[:dot]
	}
	if len(tp) == 4 {
		tp += "00"
	}
	if len(tp) != 6 || !allDigits(tp) {
		return time.Time{}, sifKindNone
	}
	h, _ := strconv.Atoi(tp[:2])
	mi, _ := strconv.Atoi(tp[2:4])
	se, _ := strconv.Atoi(tp[4:6])
	if h > 24 || mi > 59 || se > 60 {
		return time.Time{}, sifKindNone
	}
	t := date.Add(time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(se)*time.Second)
	return t.Add(-time.Duration(offset) * time.Second), kind
}

func sifFmtDate(t time.Time) string     { return t.Format("20060102") }
func sifFmtDateDash(t time.Time) string { return t.Format("2006-01-02") }
func sifFmtLocal(t time.Time) string    { return t.Format("20060102T150405") }
func sifFmtUTC(t time.Time) string      { return t.UTC().Format("20060102T150405Z") }
func sifDateOnly(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
func sifTimeOfDay(t time.Time) time.Duration { return t.Sub(sifDateOnly(t)) }

// sifNearestDate turns the UTC instant of a local midnight into that local
// date, not knowing the zone: local midnight lies between 10:00 UTC the day
// before (UTC+14) and 12:00 UTC the same day (UTC-12), so the instant is
// rounded to the nearest UTC midnight (zones east of UTC+12 land a day early).
func sifNearestDate(t time.Time) time.Time {
	return sifDateOnly(t.Add(12*time.Hour - time.Second))
}

// sifNormDate normalises a date (Birthday, Anniversary) to yyyy-MM-dd; ""
// when it holds no full date.
func sifNormDate(s string) string {
	t, kind := sifParseTime(s)
	switch kind {
	case sifKindDate, sifKindLocal:
		return sifFmtDateDash(t)
	case sifKindUTC:
		return sifFmtDateDash(sifNearestDate(t))
	}
	return ""
}
