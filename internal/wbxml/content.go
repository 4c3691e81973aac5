package wbxml

import (
	"strings"
	"unicode/utf8"
)

// textPieces gathers the character data of one element: the STR_I,
// STR_T, ENTITY and OPAQUE pieces, concatenated.
type textPieces struct {
	text   strings.Builder
	n      int
	plain  int    // pieces that were not OPAQUE
	opaque []byte // the raw bytes of the last piece, when it was OPAQUE
}

func (t *textPieces) add(s string, raw []byte) {
	t.n++
	if raw == nil {
		t.plain++
	}
	t.opaque = raw
	t.text.WriteString(s)
}

// allOpaque reports whether there was character data and all of it came
// as OPAQUE (Node.Opaque).
func (t *textPieces) allOpaque() bool { return t.n > 0 && t.plain == 0 }

// content decodes the content of element n (on the vocabulary sp, in
// namespace ns, at nesting depth depth) up to and including its END.
// Code-page switches persist past the END (see decode.go).
func (d *decoder) content(n *Node, sp space, ns string, depth int) error {
	var text textPieces
	for {
		if d.pos >= len(d.data) {
			return errTruncated
		}
		switch t := d.data[d.pos]; t {
		case tokEnd:
			d.pos++
			d.finish(n, sp, &text, depth)
			return nil
		case tokSwitchPage:
			if err := d.switchPage(); err != nil {
				return err
			}
		case tokStrI, tokStrT, tokEntity, tokOpaque:
			s, raw, err := d.textPiece(t)
			if err != nil {
				return err
			}
			text.add(s, raw)
		case tokPI:
			d.pos++
			if err := d.skipAttrs(); err != nil {
				return err
			}
		case tokExtI0, tokExtI1, tokExtI2, tokExtT0, tokExtT1, tokExtT2, tokExt0, tokExt1, tokExt2:
			if err := d.skipExtension(t); err != nil {
				return err
			}
		default:
			c, err := d.element(depth+1, ns)
			if err != nil {
				return err
			}
			n.Children = append(n.Children, c)
		}
	}
}

// finish sets the text of n once its END is read. A SyncML <Data> whose
// only content is one OPAQUE piece holding a DevInf document gets that
// document as its child instead.
func (d *decoder) finish(n *Node, sp space, text *textPieces, depth int) {
	if sp == spSyncML && n.Name == "Data" && len(n.Children) == 0 && text.n == 1 && text.opaque != nil {
		if di := d.embeddedDevInf(text.opaque, depth); di != nil {
			n.Children = append(n.Children, di)
			return
		}
	}
	n.Text = text.text.String()
	n.Opaque = text.allOpaque()
}

// textPiece reads one piece of character data starting at its token t:
// its text in UTF-8, charged to the text budget, and for OPAQUE its raw
// bytes. Only inline and table strings are in the document's charset; an
// entity is a code point and OPAQUE bytes are kept as they are.
func (d *decoder) textPiece(t byte) (string, []byte, error) {
	d.pos++
	switch t {
	case tokStrI:
		s, err := d.inlineString()
		if err != nil {
			return "", nil, err
		}
		s, err = d.text(s, true)
		return s, nil, err
	case tokStrT:
		i, err := d.mbUint()
		if err != nil {
			return "", nil, err
		}
		s, err := d.tableString(i)
		if err != nil {
			return "", nil, err
		}
		s, err = d.text(s, true)
		return s, nil, err
	case tokEntity:
		c, err := d.mbUint()
		if err != nil {
			return "", nil, err
		}
		if c > utf8.MaxRune || (c >= 0xD800 && c <= 0xDFFF) {
			return "", nil, d.errf("invalid character entity %d", c)
		}
		s, err := d.text(string(rune(c)), false)
		return s, nil, err
	}
	// tokOpaque
	l, err := d.mbUint()
	if err != nil {
		return "", nil, err
	}
	if uint64(l) > uint64(len(d.data)-d.pos) {
		return "", nil, errTruncated
	}
	raw := d.data[d.pos : d.pos+int(l)]
	d.pos += int(l)
	s, err := d.text(string(raw), false)
	if err != nil {
		return "", nil, err
	}
	return s, raw, nil
}

// skipExtension skips the extension token t and its argument: no
// vocabulary of ours defines extensions, so their meaning is unknown.
func (d *decoder) skipExtension(t byte) error {
	d.pos++
	switch t {
	case tokExtI0, tokExtI1, tokExtI2:
		_, err := d.inlineString()
		return err
	case tokExtT0, tokExtT1, tokExtT2:
		_, err := d.mbUint()
		return err
	}
	return nil // EXT_0..2 carry no argument
}

// embeddedDevInf decodes OPAQUE data that holds a DevInf WBXML document,
// or returns nil if it does not.
func (d *decoder) embeddedDevInf(b []byte, depth int) *Node {
	h, err := parseHeader(b)
	if err != nil || !h.doc.IsDevInf() {
		return nil
	}
	saved := *d.lim
	root, err := decodeBody(b, h, h.doc, depth, d.lim)
	if err != nil {
		*d.lim = saved
		return nil
	}
	// Its text was charged already as the OPAQUE piece; that is a fair
	// upper bound, so keep the budget as it was before the inner decode.
	d.lim.text = saved.text
	return root
}
