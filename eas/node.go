package eas

import (
	"strconv"
	"strings"

	"syncml-imap/internal/vobject"
	"syncml-imap/pim"

	"syncml-imap/internal/wbxml"
)

// Small helpers over wbxml trees: commands read their requests and build
// their answers with these.

// el makes an element of page ns ("" : the parent's) with children.
func el(ns, name string, kids ...*wbxml.Node) *wbxml.Node {
	return &wbxml.Node{Name: name, NS: ns, Children: kids}
}

// tx makes an element with text.
func tx(ns, name, text string) *wbxml.Node {
	return &wbxml.Node{Name: name, NS: ns, Text: text}
}

// status is a Status element.
func status(ns string, code int) *wbxml.Node { return tx(ns, "Status", strconv.Itoa(code)) }

// child is n's first child called name (any page), nil when none.
func child(n *wbxml.Node, name string) *wbxml.Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// children are n's children called name.
func children(n *wbxml.Node, name string) []*wbxml.Node {
	if n == nil {
		return nil
	}
	var out []*wbxml.Node
	for _, c := range n.Children {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// text is the text of n's child name ("" when none).
func text(n *wbxml.Node, name string) string {
	if c := child(n, name); c != nil {
		return c.Text
	}
	return ""
}

// pageOf is the code page of a node given the page of its parent.
func pageOf(n *wbxml.Node, parent string) string {
	if n.NS != "" {
		return n.NS
	}
	return parent
}

// nonEmpty is a list's trimmed, non-empty values.
func nonEmpty(list []string) []string {
	var out []string
	for _, v := range list {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// categoriesField is the Categories field of a CATEGORIES line (none for
// no line or an empty one).
func categoriesField(page string, l *vobject.Line) []Field {
	if l == nil {
		return nil
	}
	if list := nonEmpty(vobject.SplitText(l.Value, ',')); len(list) > 0 {
		return []Field{{Page: page, Name: fieldCategories, List: list}}
	}
	return nil
}

// mainComponent is a stored item's calendar and its main component of
// kind comp (VEVENT, VTODO); nil, nil when it has none.
func mainComponent(data []byte, comp string) (cal, main *vobject.Object) {
	objs := vobject.Parse(data)
	if len(objs) == 0 || objs[0].Name != "VCALENDAR" {
		return nil, nil
	}
	if m := pim.MainComponent(objs[0]); m != nil && m.Name == comp {
		return objs[0], m
	}
	return nil, nil
}
