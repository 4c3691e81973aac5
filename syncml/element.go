package syncml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Element is one node of a SyncML document, independent of its encoding:
// the XML and WBXML codecs turn bytes into Elements and back, and the
// message model is read from and written to Elements. An element has
// either children or text.
type Element struct {
	Name     string
	NS       string // namespace where it differs from the parent's ("" = the parent's)
	Text     string
	Children []*Element
}

// Namespaces of the SyncML sub-DTDs.
const (
	NSMetInf = "syncml:metinf"
	NSDevInf = "syncml:devinf"
)

// Child returns the first child called name, or nil.
func (e *Element) Child(name string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// ChildText returns the trimmed text of the first child called name.
func (e *Element) ChildText(name string) string {
	if c := e.Child(name); c != nil {
		return strings.TrimSpace(c.Text)
	}
	return ""
}

// Has reports whether a child called name exists (for empty flags such as
// <Final/> or <NoResp/>).
func (e *Element) Has(name string) bool { return e.Child(name) != nil }

// add appends a child and returns it.
func (e *Element) add(name string, children ...*Element) *Element {
	c := &Element{Name: name, Children: children}
	e.Children = append(e.Children, c)
	return c
}

// addText appends <name>text</name> when text is not empty.
func (e *Element) addText(name, text string) {
	if text != "" {
		e.Children = append(e.Children, &Element{Name: name, Text: text})
	}
}

// addFlag appends an empty <name/> when on.
func (e *Element) addFlag(name string, on bool) {
	if on {
		e.Children = append(e.Children, &Element{Name: name})
	}
}

// Limits on what the decoder accepts, so that hostile input cannot make
// it use unbounded memory or stack.
const (
	maxDepth    = 32
	maxElements = 200000
)

var errTooDeep = errors.New("syncml: document nested too deeply")

// DecodeXML reads one XML document into an Element tree. Namespaces are
// recorded for the sub-DTDs (MetInf, DevInf) but names are matched by
// local name, since real devices are careless with namespaces. Decoding
// ends where the root element closes: bytes after it are ignored.
func DecodeXML(r io.Reader) (*Element, error) {
	d := xml.NewDecoder(r)
	d.Strict = false
	d.Entity = xml.HTMLEntity
	d.CharsetReader = func(charset string, input io.Reader) (io.Reader, error) {
		switch strings.ToLower(charset) {
		case "utf-8", "utf8", "us-ascii", "ascii", "":
			return input, nil
		case "iso-8859-1", "latin1", "latin-1":
			return latin1Reader{input}, nil
		}
		return nil, fmt.Errorf("syncml: unsupported XML charset %q", charset)
	}
	var stack []*Element
	var root *Element
	count := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("syncml: XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > maxElements {
				return nil, errors.New("syncml: too many XML elements")
			}
			if len(stack) >= maxDepth {
				return nil, errTooDeep
			}
			el := &Element{Name: t.Name.Local}
			switch strings.ToLower(t.Name.Space) {
			case NSMetInf:
				el.NS = NSMetInf
			case NSDevInf:
				el.NS = NSDevInf
			}
			if n := len(stack); n > 0 {
				parent := stack[n-1]
				if el.NS == "" && parent.NS != "" && parent.Name != "Data" {
					el.NS = parent.NS
				}
				parent.Children = append(parent.Children, el)
			} else {
				root = el
			}
			stack = append(stack, el)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			if len(stack) == 0 && root != nil {
				// The document is complete. Some devices send a NUL or a
				// newline after it; as the WBXML decoder does after the
				// root's END, what follows is not read.
				return root, nil
			}
		case xml.CharData:
			if n := len(stack); n > 0 {
				stack[n-1].Text += string(t)
			}
		}
	}
	if root == nil {
		return nil, errors.New("syncml: XML: no root element")
	}
	return root, nil
}

type latin1Reader struct{ r io.Reader }

func (l latin1Reader) Read(p []byte) (int, error) {
	// Each Latin-1 byte becomes up to two UTF-8 bytes: read half.
	buf := make([]byte, (len(p)+1)/2)
	n, err := l.r.Read(buf)
	out := p[:0]
	for _, b := range buf[:n] {
		out = append(out, []byte(string(rune(b)))...)
	}
	return len(out), err
}

// EncodeXML writes the tree as an XML document. Text is escaped, not put
// in CDATA: XML parsers turn CR LF into LF even inside CDATA, and item data
// (vCards, calendars) must keep its CRLF line ends, so CR is written as
// &#13;.
func EncodeXML(w io.Writer, root *Element) error {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	writeXMLElement(&b, root, "")
	_, err := w.Write(b.Bytes())
	return err
}

func writeXMLElement(b *bytes.Buffer, e *Element, parentNS string) {
	b.WriteByte('<')
	b.WriteString(e.Name)
	ns := parentNS
	if e.NS != "" && e.NS != parentNS {
		b.WriteString(` xmlns="` + e.NS + `"`)
		ns = e.NS
	}
	if len(e.Children) == 0 && e.Text == "" {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	if e.Text != "" {
		writeXMLText(b, e.Text)
	}
	for _, c := range e.Children {
		writeXMLElement(b, c, ns)
	}
	b.WriteString("</" + e.Name + ">")
}

func writeXMLText(b *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\r':
			b.WriteString("&#13;")
		default:
			b.WriteByte(c)
		}
	}
}
