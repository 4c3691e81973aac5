package wbxml

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Encoding rules:
//
//   - Header: WBXML 1.2, UTF-8, the numeric public id where libsynthesis
//     uses one (SyncML/DevInf 1.1 and 1.2), else the FPI in the string table
//     (SyncML 1.0, DevInf 1.0).
//   - An element's vocabulary is that of its namespace (NS, or the parent's
//     when NS is ""); a name that is not in that vocabulary is looked up in
//     the other one of the message (SyncML page 0 / MetInf page 1), so a
//     <Type> without a namespace still encodes. A name found in neither is
//     an error naming the element.
//   - SWITCH_PAGE is written only before a tag whose page differs from the
//     current one.
//   - A <Data> whose only child is DevInf (by namespace or name) is written
//     as OPAQUE holding a complete DevInf document. Its version follows the
//     DevInf's VerDTD when that is 1.0, 1.1 or 1.2, else the message's
//     version (SyncML 1.x → DevInf 1.x).
//   - Text of a Node with Opaque set is written as OPAQUE, and so is text
//     that STR_I cannot carry (NUL bytes, invalid UTF-8); any other text
//     as STR_I. Elements without text or children (and not Opaque) are
//     written without the content bit.

type encoder struct {
	buf   []byte
	page  byte
	doc   Doc
	nodes *int
}

// Encode writes root as a WBXML document of kind doc: a SyncML message
// (root "SyncML"), a DevInf document (root "DevInf") or an ActiveSync
// document (EAS, see EncodeEAS).
func Encode(root *Node, doc Doc) ([]byte, error) {
	if !doc.valid() {
		return nil, fmt.Errorf("wbxml: invalid document kind %v", doc)
	}
	if root == nil {
		return nil, errors.New("wbxml: nil root")
	}
	if doc == EAS {
		return EncodeEAS(root)
	}
	nodes := 0
	if doc.IsDevInf() {
		return encodeDevInf(root, doc, 0, &nodes)
	}
	if root.Name != "SyncML" {
		return nil, fmt.Errorf("wbxml: root element of a %s message is %q, want SyncML", doc, root.Name)
	}
	e := &encoder{doc: doc, nodes: &nodes}
	e.header(doc)
	if err := e.syncml(root, spSyncML, 1); err != nil {
		return nil, err
	}
	return e.buf, nil
}

func (e *encoder) header(doc Doc) {
	e.buf = append(e.buf, wbxmlVer12)
	if id := emitNumeric[doc]; id != 0 {
		e.mbUint(id)
		e.mbUint(mibUTF8)
		e.mbUint(0)
		return
	}
	f := fpi[doc]
	e.buf = append(e.buf, 0) // literal public id ...
	e.mbUint(0)              // ... at string table offset 0
	e.mbUint(mibUTF8)
	e.mbUint(uint32(len(f)))
	e.buf = append(e.buf, f...)
}

func (e *encoder) mbUint(v uint32) {
	var tmp [5]byte
	i := len(tmp) - 1
	tmp[i] = byte(v & 0x7F)
	for v >>= 7; v != 0; v >>= 7 {
		i--
		tmp[i] = byte(v&0x7F) | 0x80
	}
	e.buf = append(e.buf, tmp[i:]...)
}

func (e *encoder) switchPage(p byte) {
	if e.page != p {
		e.buf = append(e.buf, tokSwitchPage, p)
		e.page = p
	}
}

func (e *encoder) text(s string, opaque bool) {
	if opaque || strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
		e.opaque([]byte(s))
		return
	}
	e.buf = append(e.buf, tokStrI)
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, 0)
}

func (e *encoder) opaque(b []byte) {
	e.buf = append(e.buf, tokOpaque)
	e.mbUint(uint32(len(b)))
	e.buf = append(e.buf, b...)
}

func (e *encoder) count(n *Node, depth int) error {
	if n == nil {
		return errors.New("wbxml: nil node in tree")
	}
	if depth > maxDepth {
		return ErrTooDeep
	}
	*e.nodes++
	if *e.nodes > maxNodes {
		return errors.New("wbxml: too many elements")
	}
	if n.Name == "" {
		return errors.New("wbxml: element without a name")
	}
	return nil
}

// classify returns the vocabulary named by a namespace, or inherited for "".
func classify(ns string, inherited space) space {
	if ns == "" {
		return inherited
	}
	l := strings.ToLower(ns)
	switch {
	case strings.HasPrefix(l, NSMetInf):
		return spMetInf
	case strings.HasPrefix(l, NSDevInf):
		return spDevInf
	}
	return spSyncML
}

func isDevInfNode(n *Node) bool {
	return n != nil && (n.Name == "DevInf" || classify(n.NS, spSyncML) == spDevInf)
}

// syncml writes an element of a SyncML message.
func (e *encoder) syncml(n *Node, inherited space, depth int) error {
	if err := e.count(n, depth); err != nil {
		return err
	}
	sp := classify(n.NS, inherited)
	if sp == spDevInf {
		return fmt.Errorf("wbxml: element %q in namespace %s must be inside a DevInf document (the only child of Data)", n.Name, NSDevInf)
	}
	page, tok, ok := byte(0), byte(0), false
	for _, try := range [2]space{sp, 1 - sp} {
		if try == spSyncML {
			tok, ok = syncmlTokens[n.Name]
			page = 0
		} else {
			tok, ok = metinfTokens[n.Name]
			page = 1
		}
		if ok {
			sp = try
			break
		}
	}
	if !ok {
		return fmt.Errorf("wbxml: cannot encode element %q (namespace %q): not a SyncML or MetInf element", n.Name, n.NS)
	}
	if page == 0 && n.Name == "Data" && len(n.Children) == 1 && isDevInfNode(n.Children[0]) && strings.TrimSpace(n.Text) == "" {
		di := n.Children[0]
		sub, err := encodeDevInf(di, devInfVersion(di, e.doc), depth, e.nodes)
		if err != nil {
			return err
		}
		e.switchPage(0)
		e.buf = append(e.buf, tok|bitContent)
		e.opaque(sub)
		e.buf = append(e.buf, tokEnd)
		return nil
	}
	e.switchPage(page)
	if n.Text == "" && len(n.Children) == 0 && !n.Opaque {
		e.buf = append(e.buf, tok)
		return nil
	}
	e.buf = append(e.buf, tok|bitContent)
	if n.Text != "" || n.Opaque {
		e.text(n.Text, n.Opaque)
	}
	for _, c := range n.Children {
		if err := e.syncml(c, sp, depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, tokEnd)
	return nil
}

// devInfVersion picks the DevInf document version for a DevInf tree sent
// in a message of kind msg.
func devInfVersion(di *Node, msg Doc) Doc {
	for _, c := range di.Children {
		if c != nil && c.Name == "VerDTD" {
			switch strings.TrimSpace(c.Text) {
			case "1.0":
				return DevInf10
			case "1.1":
				return DevInf11
			case "1.2":
				return DevInf12
			}
			break
		}
	}
	switch msg {
	case SyncML10:
		return DevInf10
	case SyncML11:
		return DevInf11
	}
	return DevInf12
}

// encodeDevInf writes a complete DevInf document. depth is the nesting
// depth of the element holding it (0 at top level).
func encodeDevInf(root *Node, doc Doc, depth int, nodes *int) ([]byte, error) {
	if root.Name != "DevInf" {
		return nil, fmt.Errorf("wbxml: root element of a DevInf document is %q, want DevInf", root.Name)
	}
	e := &encoder{doc: doc, nodes: nodes}
	e.header(doc)
	if err := e.devinf(root, depth+1); err != nil {
		return nil, err
	}
	return e.buf, nil
}

func (e *encoder) devinf(n *Node, depth int) error {
	if err := e.count(n, depth); err != nil {
		return err
	}
	tok, ok := devinfTokens[n.Name]
	if !ok {
		return fmt.Errorf("wbxml: cannot encode element %q (namespace %q): not a DevInf element", n.Name, n.NS)
	}
	if n.Text == "" && len(n.Children) == 0 && !n.Opaque {
		e.buf = append(e.buf, tok)
		return nil
	}
	e.buf = append(e.buf, tok|bitContent)
	if n.Text != "" || n.Opaque {
		e.text(n.Text, n.Opaque)
	}
	for _, c := range n.Children {
		if err := e.devinf(c, depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, tokEnd)
	return nil
}
