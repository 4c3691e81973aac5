// Package vobject is a small, forgiving reader of the "vobject" syntax
// shared by vCard 2.1/3.0/4.0, vCalendar 1.0 and iCalendar 2.0: unfolded
// content lines (RFC 5545/6350 folding and vCard 2.1 quoted-printable soft
// breaks), BEGIN/END blocks, and UID insertion that leaves every other byte
// as it was. It never fails on odd input. It is the one content-line model
// of the module: the format converters (internal/vformat) and the backup
// files read lines through its Unfolder and ParseContentLine, decode
// charsets with DecodeCharset, and share its text helpers (quoted
// parameter values, quoted-printable, TEXT escaping, folding on output).
// It does not convert between formats.
package vobject

import (
	"bytes"
	"mime/quotedprintable"
	"strings"
)

// Line is one logical (unfolded) content line.
type Line struct {
	Group  string
	Name   string            // upper case
	Params map[string]string // ContentLine.ParamMap: bare vCard 2.1 parameters named by BareParamName
	Value  string            // raw value, QUOTED-PRINTABLE decoded when so marked
	// RawValue is the value as written, not decoded: for readers that
	// decode it themselves (charsets, base64, lenient quoted-printable).
	RawValue string
	Raw      string // the unfolded line
	Orig     string // the physical lines as they stood, CRLF-terminated
}

// Lines splits data into unfolded logical lines (see Unfolder; content
// lines use RFC 5545/6350 folding here) and parses them
// (ParseContentLine). A line without a property name and a colon is
// dropped.
func Lines(data []byte) []Line { return lines(data, nil) }

// lines is Lines with the unfolding rules of opts.
func lines(data []byte, opts *UnfoldOptions) []Line {
	o := UnfoldOptions{}
	if opts != nil {
		o = *opts
	}
	o.Orig = true
	var out []Line
	u := NewUnfolder(data, &o)
	for u.Next() {
		f := u.Line()
		if l, ok := parseVLine(f.Text); ok {
			l.Orig = f.Orig
			out = append(out, l)
		}
	}
	return out
}

func parseVLine(s string) (Line, bool) {
	c, ok := ParseContentLine(s)
	if !ok {
		return Line{}, false
	}
	l := Line{Group: c.Group, Name: c.Name, Params: c.ParamMap(), Value: c.Value, RawValue: c.Value, Raw: s}
	if strings.EqualFold(l.Params["ENCODING"], "QUOTED-PRINTABLE") {
		if dec, err := decodeQP(l.Value); err == nil {
			l.Value = dec
		}
	}
	return l, true
}

// decodeQP decodes with mime/quotedprintable, not with the lenient
// DecodeQP the converters use, so that the values imapstore and syncml
// match on stay as they were: white space at the end of a value is
// dropped (RFC 2045 6.7), and a value the reader refuses stays encoded.
func decodeQP(s string) (string, error) {
	b, err := readAllQP(s)
	return string(b), err
}

func readAllQP(s string) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(quotedprintable.NewReader(strings.NewReader(s)))
	return buf.Bytes(), err
}

// Object is one BEGIN/END block with its direct properties and children.
type Object struct {
	Name     string // upper case, e.g. VCARD, VEVENT
	Props    []Line
	Children []*Object
	Lines    []string // every physical line of the block as it stood (CRLF-terminated), BEGIN and END included
}

// Prop returns the first property called name, or nil.
func (o *Object) Prop(name string) *Line {
	for i := range o.Props {
		if o.Props[i].Name == name {
			return &o.Props[i]
		}
	}
	return nil
}

// PropValue returns the display value of the first property called name.
func (o *Object) PropValue(name string) string {
	if p := o.Prop(name); p != nil {
		return strings.TrimSpace(UnescapeText(p.Value))
	}
	return ""
}

// Parse returns the top-level objects in data. Unbalanced input is
// tolerated: an unterminated block ends at the end of the data, and a stray
// END closes the innermost matching block. Time and memory are linear in
// len(data) however deep the nesting.
func Parse(data []byte) []*Object { return ParseWith(data, nil) }

// ParseWith is Parse with the unfolding rules of opts (nil: those of
// Parse); each Line's Orig is kept whatever opts says.
func ParseWith(data []byte, opts *UnfoldOptions) []*Object {
	var top []*Object
	var stack []*Object
	// A block's Lines are a run of all: from its BEGIN to the END that
	// closes it (or the end of the data), every line inside a block.
	var all []string
	var starts []int         // where in all each block on the stack begins
	open := map[string]int{} // how many blocks of each name are on the stack
	closeFrom := func(i int) {
		for j := len(stack) - 1; j >= i; j-- {
			stack[j].Lines = all[starts[j]:len(all):len(all)]
			open[stack[j].Name]--
		}
		stack, starts = stack[:i], starts[:i]
	}
	for _, l := range lines(data, opts) {
		switch l.Name {
		case "BEGIN":
			o := &Object{Name: strings.ToUpper(strings.TrimSpace(l.Value))}
			if n := len(stack); n > 0 {
				stack[n-1].Children = append(stack[n-1].Children, o)
			} else {
				top = append(top, o)
			}
			stack, starts = append(stack, o), append(starts, len(all))
			open[o.Name]++
			all = append(all, l.Orig)
		case "END":
			if len(stack) == 0 {
				continue
			}
			all = append(all, l.Orig)
			name := strings.ToUpper(strings.TrimSpace(l.Value))
			if open[name] == 0 {
				continue // closes nothing; without the count, a search of the whole stack
			}
			for i := len(stack) - 1; i >= 0; i-- {
				if stack[i].Name == name {
					closeFrom(i)
					break
				}
			}
		default:
			if n := len(stack); n > 0 {
				stack[n-1].Props = append(stack[n-1].Props, l)
				all = append(all, l.Orig)
			}
		}
	}
	closeFrom(0)
	return top
}

// EnsureUID makes sure every component called comp in data has a UID
// property, inserting "UID:uid" before the component's END line where it is
// missing. The rest of the data is returned byte for byte. It reports
// whether anything was inserted.
func EnsureUID(data []byte, comp, uid string) ([]byte, bool) {
	comp = strings.ToUpper(comp)
	nl := "\r\n"
	if !bytes.Contains(data, []byte("\r\n")) {
		nl = "\n"
	}
	var out bytes.Buffer
	out.Grow(len(data) + len(uid) + 8)
	depth, inComp, hasUID, changed := 0, -1, false, false
	copied := 0 // data[:copied] is in out
	u := NewUnfolder(data, nil)
	for u.Next() {
		f := u.Line()
		l, ok := ParseContentLine(f.Text)
		if !ok {
			continue
		}
		value := strings.TrimSpace(l.Value)
		switch l.Name {
		case "BEGIN":
			if strings.EqualFold(value, comp) && inComp < 0 {
				inComp, hasUID = depth, false
			}
			depth++
		case "END":
			depth--
			if inComp >= 0 && depth == inComp && strings.EqualFold(value, comp) {
				if !hasUID {
					out.Write(data[copied:f.Start])
					out.WriteString("UID:" + uid + nl)
					copied, changed = f.Start, true
				}
				inComp = -1
			}
		case "UID":
			if inComp >= 0 && depth == inComp+1 {
				hasUID = true
			}
		}
	}
	out.Write(data[copied:])
	return out.Bytes(), changed
}
