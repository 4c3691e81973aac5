package wbxml

import "errors"

// element decodes one element starting at its tag token. depth is its
// nesting depth (1 for the root); parentNS the effective namespace of its
// parent.
func (d *decoder) element(depth int, parentNS string) (*Node, error) {
	if depth > maxDepth {
		return nil, ErrTooDeep
	}
	if d.pos >= len(d.data) {
		return nil, errTruncated
	}
	b := d.data[d.pos]
	sp, err := d.pageSpace()
	if err != nil {
		return nil, err
	}
	name, err := d.tagName(b, sp)
	if err != nil {
		return nil, err
	}
	d.lim.nodes++
	if d.lim.nodes > maxNodes {
		return nil, errors.New("wbxml: too many elements")
	}
	n := &Node{Name: name}
	ns := d.spaceNS(sp)
	if ns != parentNS {
		n.NS = ns
	}
	if b&bitAttrs != 0 {
		if err := d.skipAttrs(); err != nil {
			return nil, err
		}
	}
	if b&bitContent == 0 {
		return n, nil
	}
	if err := d.content(n, sp, ns, depth); err != nil {
		return nil, err
	}
	return n, nil
}

// tagName reads the tag token b (at d.pos) and what follows it: a LITERAL
// names itself from the string table, any other token is looked up on the
// code page whose vocabulary is sp.
func (d *decoder) tagName(b byte, sp space) (string, error) {
	if b&maskTag == tokLiteral {
		d.pos++
		i, err := d.mbUint()
		if err != nil {
			return "", err
		}
		name, err := d.tableString(i)
		if err != nil {
			return "", err
		}
		if name == "" {
			return "", d.errf("empty LITERAL tag name")
		}
		if d.latin1 {
			name = latin1ToUTF8(name)
		}
		return name, nil
	}
	id := b & maskTag
	var name string
	switch sp {
	case spSyncML:
		name = syncmlTags[id]
	case spMetInf:
		name = metinfTags[id]
	case spDevInf:
		name = devinfTags[id]
		if id == devinfSizeToken {
			name = d.devSize
		}
	}
	if name == "" {
		// Reported at the tag token itself, before it is consumed.
		return "", d.errf("unknown tag token 0x%02X on code page %d", b, d.page)
	}
	d.pos++
	return name, nil
}

// skipAttrs skips an attribute list (or the body of a processing
// instruction) up to and including its END.
func (d *decoder) skipAttrs() error {
	for {
		if d.pos >= len(d.data) {
			return errTruncated
		}
		t := d.data[d.pos]
		d.pos++
		switch t {
		case tokEnd:
			return nil
		case tokSwitchPage:
			// Attribute code page: does not change the tag code page.
			if d.pos >= len(d.data) {
				return errTruncated
			}
			d.pos++
		case tokStrI, tokExtI0, tokExtI1, tokExtI2:
			if _, err := d.inlineString(); err != nil {
				return err
			}
		case tokStrT, tokLiteral, tokEntity, tokExtT0, tokExtT1, tokExtT2:
			if _, err := d.mbUint(); err != nil {
				return err
			}
		case tokOpaque:
			l, err := d.mbUint()
			if err != nil {
				return err
			}
			if uint64(l) > uint64(len(d.data)-d.pos) {
				return errTruncated
			}
			d.pos += int(l)
		case tokPI, tokLiteralC, tokLiteralA, tokLiteralAC:
			d.pos--
			return d.errf("token 0x%02X not allowed in an attribute list", t)
		default:
			// ATTRSTART / ATTRVALUE tokens and EXT_0..2: single bytes.
		}
	}
}
