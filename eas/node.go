package eas

import (
	"strconv"

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
