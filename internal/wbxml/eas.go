package wbxml

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ActiveSync documents (MS-ASWBXML 2.1.1, MS-ASCMD 2.2.1) differ from
// SyncML ones in what matters to this package:
//
//   - The header is always 03 01 6A 00: WBXML 1.3, public id 1
//     ("unknown"), UTF-8, an empty string table. Public id 1 is also sent
//     by some SyncML phones, so the header cannot tell the two apart; the
//     root element does (see Decode), and DecodeEAS decodes with the
//     ActiveSync tables whatever the header says.
//   - There are 25 code pages (AirSync 0 to Find 25, page 3 unused), and a
//     request switches between them freely. Node.NS is the page's name.
//   - A tag token that its page does not define decodes to the name
//     "unknown-0xNN" (NN its token in hex) and encodes back to that token.
//     A newer client may send tags of a protocol version this table
//     predates; naming them lets the front ignore an element it does not
//     know, as it would in XML, instead of failing the whole request, and
//     keeps a decoded document encodable byte for byte. A tag on a page
//     that does not exist, a LITERAL tag (ActiveSync has no string table)
//     or a global token where a tag belongs is an error.
//   - OPAQUE carries byte arrays (Node.Opaque).

// Tag names given to tokens that their code page does not define.
const unknownTagPrefix = "unknown-0x"

var (
	easPageByNum  [256]*easPage
	easPageByName = map[string]*easPage{}
	easTokens     = map[*easPage]map[string]byte{}
)

func init() {
	for _, p := range easPages {
		easPageByNum[p.num] = p
		easPageByName[p.name] = p
		easTokens[p] = reverse(&p.tags)
	}
}

// easHeader is the header of every ActiveSync document this package writes.
var easHeader = []byte{0x03, 0x01, mibUTF8, 0x00}

// easPublicID is the public id ActiveSync sends ("unknown").
const easPublicID = 1

// DecodeEAS reads an ActiveSync request or response. The root node's NS
// is the name of its code page ("AirSync", "FolderHierarchy", ...).
func DecodeEAS(data []byte) (*Node, error) {
	h, err := parseHeader(data)
	if err != nil {
		return nil, err
	}
	return decodeEASBody(data, h, &limits{maxText: 16*len(data) + 1<<16})
}

// EncodeEAS writes root as an ActiveSync document (the same as Encode
// with EAS). A node's NS names its code page; "" is its parent's, and the
// root's defaults to AirSync.
func EncodeEAS(root *Node) ([]byte, error) {
	if root == nil {
		return nil, errors.New("wbxml: nil root")
	}
	e := &easEncoder{encoder: encoder{buf: append([]byte(nil), easHeader...)}}
	if err := e.element(root, easPageByNum[0].name, 1); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// isEAS reports whether a document with public id 1 is an ActiveSync one:
// its root is a tag on an ActiveSync code page other than SyncML's root
// (SyncML page 0 token 0x2D) and DevInf's (page 0 token 0x0A). Neither of
// those is an ActiveSync root: AirSync 0x0A is Fetch, which only appears
// inside a Sync, and AirSync defines no 0x2D.
func isEAS(data []byte, h header) bool {
	if h.id != easPublicID {
		return false
	}
	pos, page := h.body, byte(0)
	for pos < len(data) {
		b := data[pos]
		switch {
		case b == tokSwitchPage:
			if pos+1 >= len(data) {
				return false
			}
			page = data[pos+1]
			pos += 2
		case b == tokPI:
			d := &decoder{data: data, pos: pos + 1}
			if d.skipAttrs() != nil {
				return false
			}
			pos = d.pos
		default:
			id := b & maskTag
			if easPageByNum[page] == nil || id <= tokLiteral {
				return false
			}
			return page != 0 || (id != syncmlTokens["SyncML"] && id != devinfTokens["DevInf"])
		}
	}
	return false
}

func decodeEASBody(data []byte, h header, lim *limits) (*Node, error) {
	d := &decoder{data: data, pos: h.body, strtbl: h.strtbl, latin1: h.latin1, lim: lim}
	if err := d.prolog(); err != nil {
		return nil, err
	}
	root, err := d.easElement(1, "")
	if err != nil {
		return nil, err
	}
	// Bytes after the root's END are not read, as for SyncML (decode.go).
	d.pos = len(data)
	return root, nil
}

// easElement decodes one ActiveSync element starting at its tag token.
// parentNS is the code page name of its parent ("" for the root).
func (d *decoder) easElement(depth int, parentNS string) (*Node, error) {
	if depth > maxDepth {
		return nil, ErrTooDeep
	}
	if d.pos >= len(d.data) {
		return nil, errTruncated
	}
	b := d.data[d.pos]
	p := easPageByNum[d.page]
	if p == nil {
		return nil, d.errf("tag on code page %d, which ActiveSync does not define", d.page)
	}
	id := b & maskTag
	if id == tokLiteral {
		return nil, d.errf("LITERAL tag 0x%02X: ActiveSync names every tag by token", b)
	}
	if id < tokLiteral {
		return nil, d.errf("token 0x%02X where a tag belongs", b)
	}
	name := p.tags[id]
	if name == "" {
		name = fmt.Sprintf("%s%02X", unknownTagPrefix, id)
	}
	d.pos++
	d.lim.nodes++
	if d.lim.nodes > maxNodes {
		return nil, errors.New("wbxml: too many elements")
	}
	n := &Node{Name: name}
	if p.name != parentNS {
		n.NS = p.name
	}
	if b&bitAttrs != 0 {
		if err := d.skipAttrs(); err != nil {
			return nil, err
		}
	}
	if b&bitContent == 0 {
		return n, nil
	}
	var text textPieces
	for {
		if d.pos >= len(d.data) {
			return nil, errTruncated
		}
		switch t := d.data[d.pos]; t {
		case tokEnd:
			d.pos++
			n.Text = text.text.String()
			n.Opaque = text.allOpaque()
			return n, nil
		case tokSwitchPage:
			if err := d.switchPage(); err != nil {
				return nil, err
			}
		case tokStrI, tokStrT, tokEntity, tokOpaque:
			s, raw, err := d.textPiece(t)
			if err != nil {
				return nil, err
			}
			text.add(s, raw)
		case tokPI:
			d.pos++
			if err := d.skipAttrs(); err != nil {
				return nil, err
			}
		case tokExtI0, tokExtI1, tokExtI2, tokExtT0, tokExtT1, tokExtT2, tokExt0, tokExt1, tokExt2:
			if err := d.skipExtension(t); err != nil {
				return nil, err
			}
		default:
			c, err := d.easElement(depth+1, p.name)
			if err != nil {
				return nil, err
			}
			n.Children = append(n.Children, c)
		}
	}
}

type easEncoder struct {
	encoder
	count int
}

// easToken is the token of name on page p: its table entry, or the token
// an "unknown-0xNN" name stands for.
func easToken(p *easPage, name string) (byte, bool) {
	if tok, ok := easTokens[p][name]; ok {
		return tok, true
	}
	hex, ok := strings.CutPrefix(name, unknownTagPrefix)
	if !ok || len(hex) != 2 {
		return 0, false
	}
	v, err := strconv.ParseUint(hex, 16, 8)
	if err != nil || v <= tokLiteral || v > maskTag {
		return 0, false
	}
	return byte(v), true
}

func (e *easEncoder) element(n *Node, inherited string, depth int) error {
	if n == nil {
		return errors.New("wbxml: nil node in tree")
	}
	if depth > maxDepth {
		return ErrTooDeep
	}
	e.count++
	if e.count > maxNodes {
		return errors.New("wbxml: too many elements")
	}
	if n.Name == "" {
		return errors.New("wbxml: element without a name")
	}
	ns := n.NS
	if ns == "" {
		ns = inherited
	}
	p := easPageByName[ns]
	if p == nil {
		return fmt.Errorf("wbxml: element %q: %q is not an ActiveSync code page", n.Name, ns)
	}
	tok, ok := easToken(p, n.Name)
	if !ok {
		return fmt.Errorf("wbxml: cannot encode element %q: not on ActiveSync code page %s", n.Name, p.name)
	}
	e.switchPage(p.num)
	if n.Text == "" && len(n.Children) == 0 && !n.Opaque {
		e.buf = append(e.buf, tok)
		return nil
	}
	e.buf = append(e.buf, tok|bitContent)
	if n.Text != "" || n.Opaque {
		e.text(n.Text, n.Opaque)
	}
	for _, c := range n.Children {
		if err := e.element(c, p.name, depth+1); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, tokEnd)
	return nil
}
