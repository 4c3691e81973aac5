package wbxml

import (
	"errors"
	"fmt"
	"strings"
)

// Decoding rules worth knowing:
//
//   - The header's public id picks the document (numeric id or the FPI in
//     the string table). If the id is unknown (e.g. 1, "unknown"), the
//     document is recognised by its root element (SyncML or DevInf) and the
//     version by its VerDTD; with id 1, a root on an ActiveSync code page
//     makes it an ActiveSync document (eas.go).
//   - Code-page state persists across END; SWITCH_PAGE may appear anywhere
//     in content. In a SyncML message page 0 is SyncML, page 1 MetInf and
//     page 2 is taken to be DevInf (inline DevInf, which some phones send
//     instead of the OPAQUE form; no public encoder table documents this
//     page number, so it is a best guess). In a DevInf document only page 0
//     exists.
//   - Text may come in several STR_I / STR_T / ENTITY / OPAQUE pieces, which
//     are concatenated. A <Data> whose only content is one OPAQUE piece
//     holding a WBXML document with a DevInf public id is decoded into a
//     DevInf child; if that inner document does not decode, the bytes are
//     kept as text.
//   - Attribute lists, processing instructions and extension tokens are
//     skipped. LITERAL tags take their name from the string table and the
//     namespace of the current code page.

// ErrTooDeep is returned for documents nested deeper than 32 elements.
var ErrTooDeep = errors.New("wbxml: document nested too deeply")

// limits is shared between a document and the DevInf documents embedded
// in it.
type limits struct {
	nodes   int
	text    int
	maxText int
}

type header struct {
	doc    Doc    // 0 when the public id is unknown
	id     uint32 // the numeric public id; 0 for a literal one
	pubid  string
	body   int
	strtbl []byte
	latin1 bool
}

type decoder struct {
	data    []byte
	pos     int
	strtbl  []byte
	latin1  bool
	kind    space  // spSyncML for a SyncML message, spDevInf for a DevInf document
	rootNS  string // namespace of SyncML page 0 (the message's)
	devSize string // name of DevInf token 0x1C ("Size" or "MaxSize")
	page    byte
	lim     *limits
}

// Decode reads one WBXML SyncML message, DevInf document or ActiveSync
// document. A front that knows it speaks ActiveSync calls DecodeEAS.
func Decode(data []byte) (*Node, Doc, error) {
	lim := &limits{maxText: 16*len(data) + 1<<16}
	h, err := parseHeader(data)
	if err != nil {
		return nil, 0, err
	}
	doc := h.doc
	if doc == 0 {
		// Unknown public id: recognise the document by its root element.
		switch firstTag(data, h) {
		case "SyncML":
			doc = SyncML12
		case "DevInf":
			doc = DevInf12
		default:
			if isEAS(data, h) {
				root, err := decodeEASBody(data, h, lim)
				if err != nil {
					return nil, 0, err
				}
				return root, EAS, nil
			}
			return nil, 0, fmt.Errorf("wbxml: unsupported public identifier %s", h.pubid)
		}
		root, err := decodeBody(data, h, doc, 0, lim)
		if err != nil {
			return nil, 0, err
		}
		real := versionOf(root, doc)
		if real != doc {
			retag(root, doc, real)
		}
		return root, real, nil
	}
	root, err := decodeBody(data, h, doc, 0, lim)
	if err != nil {
		return nil, 0, err
	}
	return root, doc, nil
}

// versionOf reads VerDTD to tell the version of a document whose public id
// did not.
func versionOf(root *Node, doc Doc) Doc {
	var ver string
	if doc.IsDevInf() {
		ver = childText(root, "VerDTD")
	} else {
		for _, c := range root.Children {
			if c.Name == "SyncHdr" {
				ver = childText(c, "VerDTD")
				break
			}
		}
	}
	switch ver {
	case "1.0":
		if doc.IsDevInf() {
			return DevInf10
		}
		return SyncML10
	case "1.1":
		if doc.IsDevInf() {
			return DevInf11
		}
		return SyncML11
	}
	return doc
}

func childText(n *Node, name string) string {
	for _, c := range n.Children {
		if c.Name == name {
			return strings.TrimSpace(c.Text)
		}
	}
	return ""
}

// retag fixes a tree decoded with the tables of version from for what
// VerDTD says it is: the root namespace of a SyncML message, and the name
// of DevInf token 0x1C (MaxSize in 1.2, Size before).
func retag(root *Node, from, to Doc) {
	if from.IsDevInf() {
		var walk func(n *Node)
		walk = func(n *Node) {
			if n.Name == "MaxSize" {
				n.Name = "Size"
			}
			for _, c := range n.Children {
				walk(c)
			}
		}
		walk(root)
		return
	}
	old, ns := from.rootNS(), to.rootNS()
	var walk func(n *Node)
	walk = func(n *Node) {
		if n.NS == old {
			n.NS = ns
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(root)
}

// parseHeader reads version, public id, charset and string table.
func parseHeader(data []byte) (header, error) {
	var h header
	d := &decoder{data: data}
	if len(data) == 0 {
		return h, errors.New("wbxml: empty input")
	}
	if v := data[0]; v < 0x01 || v > 0x03 {
		return h, fmt.Errorf("wbxml: unsupported WBXML version byte 0x%02X", v)
	}
	d.pos = 1
	id, err := d.mbUint()
	if err != nil {
		return h, err
	}
	literal := id == 0
	var index uint32
	if literal {
		if index, err = d.mbUint(); err != nil {
			return h, err
		}
	}
	charset, err := d.mbUint()
	if err != nil {
		return h, err
	}
	switch charset {
	case mibUTF8, mibUSASCII:
	case mibLatin1:
		h.latin1 = true
	default:
		return h, fmt.Errorf("wbxml: unsupported charset (MIBenum %d)", charset)
	}
	n, err := d.mbUint()
	if err != nil {
		return h, err
	}
	if uint64(n) > uint64(len(data)-d.pos) {
		return h, fmt.Errorf("wbxml: string table length %d exceeds input", n)
	}
	h.strtbl = data[d.pos : d.pos+int(n)]
	h.body = d.pos + int(n)

	if !literal {
		h.id = id
		h.pubid = fmt.Sprintf("0x%X", id)
		if metInfIDs[id] {
			return h, errors.New("wbxml: a MetInf public identifier names no document")
		}
		h.doc = numericID[id]
		return h, nil
	}
	d.strtbl = h.strtbl
	s, err := d.tableString(index)
	if err != nil {
		return h, fmt.Errorf("wbxml: public identifier: %w", err)
	}
	s = strings.TrimSpace(s)
	h.pubid = fmt.Sprintf("%q", s)
	for doc, f := range fpi {
		if strings.EqualFold(s, f) {
			h.doc = doc
			return h, nil
		}
	}
	if strings.Contains(strings.ToUpper(s), "DTD METINF") {
		return h, errors.New("wbxml: a MetInf public identifier names no document")
	}
	return h, nil
}

// firstTag returns the name of the root element ("" if it cannot tell),
// looked up on the first code page of both vocabularies.
func firstTag(data []byte, h header) string {
	d := &decoder{data: data, pos: h.body, strtbl: h.strtbl, lim: &limits{maxText: len(data)}}
	for d.pos < len(data) {
		b := data[d.pos]
		switch {
		case b == tokPI:
			d.pos++
			if d.skipAttrs() != nil {
				return ""
			}
		case b == tokSwitchPage:
			if d.pos+1 >= len(data) {
				return ""
			}
			d.page = data[d.pos+1]
			d.pos += 2
		case b&maskTag == tokLiteral:
			d.pos++
			i, err := d.mbUint()
			if err != nil {
				return ""
			}
			s, _ := d.tableString(i)
			return s
		default:
			if d.page != 0 {
				return ""
			}
			switch b & maskTag {
			case syncmlTokens["SyncML"]:
				return "SyncML"
			case devinfTokens["DevInf"]:
				return "DevInf"
			}
			return ""
		}
	}
	return ""
}

// decodeBody decodes the element tree of a document whose header has been
// read. depth is the nesting depth of the element holding the document (0
// for a top-level document).
func decodeBody(data []byte, h header, doc Doc, depth int, lim *limits) (*Node, error) {
	d := &decoder{
		data:    data,
		pos:     h.body,
		strtbl:  h.strtbl,
		latin1:  h.latin1,
		kind:    spSyncML,
		rootNS:  doc.rootNS(),
		devSize: "MaxSize",
		lim:     lim,
	}
	if doc.IsDevInf() {
		d.kind = spDevInf
	}
	if doc == SyncML10 || doc == SyncML11 || doc == DevInf10 || doc == DevInf11 {
		d.devSize = "Size"
	}
	if err := d.prolog(); err != nil {
		return nil, err
	}
	root, err := d.element(depth+1, "")
	if err != nil {
		return nil, err
	}
	want := "SyncML"
	if doc.IsDevInf() {
		want = "DevInf"
	}
	if root.Name != want {
		return nil, fmt.Errorf("wbxml: root element is %q, want %q for %s", root.Name, want, doc)
	}
	root.NS = doc.rootNS()
	// The epilog holds processing instructions at most, and some devices
	// send a stray byte or two after the root (a newline, a NUL). As
	// libwbxml does, whatever follows the root's END is not read: the
	// document is complete, and refusing it would fail a whole sync over
	// bytes that carry nothing.
	d.pos = len(data)
	return root, nil
}

func (d *decoder) errf(format string, args ...any) error {
	return fmt.Errorf("wbxml: "+format+" at offset %d", append(args, d.pos)...)
}

var errTruncated = errors.New("wbxml: input truncated")

// mbUint reads a multi-byte unsigned integer (at most 32 bits).
func (d *decoder) mbUint() (uint32, error) {
	var v uint64
	for i := 0; i < 5; i++ {
		if d.pos >= len(d.data) {
			return 0, errTruncated
		}
		b := d.data[d.pos]
		d.pos++
		v = v<<7 | uint64(b&0x7F)
		if b&0x80 == 0 {
			if v > 0xFFFFFFFF {
				return 0, d.errf("multi-byte integer overflows 32 bits")
			}
			return uint32(v), nil
		}
	}
	return 0, d.errf("multi-byte integer longer than 5 bytes")
}

// tableString returns the NUL-terminated string at offset i of the string
// table (a missing terminator ends the string at the end of the table).
func (d *decoder) tableString(i uint32) (string, error) {
	if uint64(i) >= uint64(len(d.strtbl)) {
		return "", fmt.Errorf("wbxml: string table reference %d out of range (table has %d bytes)", i, len(d.strtbl))
	}
	s := d.strtbl[i:]
	if j := indexByte(s, 0); j >= 0 {
		s = s[:j]
	}
	return string(s), nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// inlineString reads a NUL-terminated inline string.
func (d *decoder) inlineString() (string, error) {
	j := indexByte(d.data[d.pos:], 0)
	if j < 0 {
		return "", errTruncated
	}
	s := string(d.data[d.pos : d.pos+j])
	d.pos += j + 1
	return s, nil
}

func (d *decoder) switchPage() error {
	if d.pos+1 >= len(d.data) {
		return errTruncated
	}
	d.page = d.data[d.pos+1]
	d.pos += 2
	return nil
}

// pageSpace is the vocabulary of the current code page.
func (d *decoder) pageSpace() (space, error) {
	if d.kind == spDevInf {
		if d.page == 0 {
			return spDevInf, nil
		}
	} else {
		switch d.page {
		case 0:
			return spSyncML, nil
		case 1:
			return spMetInf, nil
		case codePageDev:
			return spDevInf, nil
		}
	}
	return 0, d.errf("tag on unknown code page %d", d.page)
}

func (d *decoder) spaceNS(sp space) string {
	switch sp {
	case spMetInf:
		return NSMetInf
	case spDevInf:
		return NSDevInf
	}
	return d.rootNS
}

// text converts string data from the document's charset to UTF-8 and
// charges it to the text budget.
func (d *decoder) text(s string, convert bool) (string, error) {
	if convert && d.latin1 {
		s = latin1ToUTF8(s)
	}
	d.lim.text += len(s)
	if d.lim.text > d.lim.maxText {
		return "", errors.New("wbxml: decoded text too large for the input size")
	}
	return s, nil
}

func latin1ToUTF8(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		b.WriteRune(rune(s[i]))
	}
	return b.String()
}

// prolog reads what may stand before the root element: processing
// instructions and code-page switches.
func (d *decoder) prolog() error {
	for {
		if d.pos >= len(d.data) {
			return errors.New("wbxml: no root element")
		}
		switch d.data[d.pos] {
		case tokPI:
			d.pos++
			if err := d.skipAttrs(); err != nil {
				return err
			}
		case tokSwitchPage:
			if err := d.switchPage(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}
