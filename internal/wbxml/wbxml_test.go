package wbxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzDecode seed files")

// bs assembles bytes from ints (single bytes) and strings (raw bytes).
func bs(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			b = append(b, byte(v))
		case string:
			b = append(b, v...)
		case []byte:
			b = append(b, v...)
		default:
			panic(fmt.Sprintf("bs: %T", p))
		}
	}
	return b
}

// el builds a Node: el(name, ns, text, children...).
func el(name, ns, text string, children ...*Node) *Node {
	return &Node{Name: name, NS: ns, Text: text, Children: children}
}

// dump renders a tree for comparison and error messages.
func dump(n *Node) string {
	var b strings.Builder
	var walk func(n *Node, indent string)
	walk = func(n *Node, indent string) {
		if n == nil {
			b.WriteString(indent + "<nil>\n")
			return
		}
		fmt.Fprintf(&b, "%s%s", indent, n.Name)
		if n.NS != "" {
			fmt.Fprintf(&b, " {%s}", n.NS)
		}
		if n.Text != "" {
			fmt.Fprintf(&b, " %q", n.Text)
		}
		b.WriteByte('\n')
		for _, c := range n.Children {
			walk(c, indent+"  ")
		}
	}
	walk(n, "")
	return b.String()
}

func sameTree(t *testing.T, what string, got, want *Node) {
	t.Helper()
	if g, w := dump(got), dump(want); g != w {
		t.Errorf("%s: tree differs\n--- got\n%s--- want\n%s", what, g, w)
	}
}

// headerOnly is the body of the protocol.md 7.6 example, for version v
// ("1.0", "1.1", "1.2").
func headerOnlyBody(v string) []byte {
	return bs(
		0x6D,                      // <SyncML>
		0x6C,                      // <SyncHdr>
		0x71, 0x03, v, 0x00, 0x01, // <VerDTD>
		0x72, 0x03, "SyncML/"+v, 0x00, 0x01, // <VerProto>
		0x65, 0x03, "1", 0x00, 0x01, // <SessionID>
		0x5B, 0x03, "1", 0x00, 0x01, // <MsgID>
		0x6E, 0x57, 0x03, "http://s", 0x00, 0x01, 0x01, // <Target><LocURI>
		0x67, 0x57, 0x03, "IMEI:1", 0x00, 0x01, 0x01, // <Source><LocURI>
		0x5A, 0x00, 0x01, 0x4C, 0x03, "10000", 0x00, 0x01, 0x01, // <Meta> SWITCH_PAGE 1 <MaxMsgSize>
		0x01,                         // </SyncHdr>
		0x00, 0x00, 0x6B, 0x12, 0x01, // SWITCH_PAGE 0 <SyncBody><Final/></SyncBody>
		0x01, // </SyncML>
	)
}

func headerOnlyTree(v string) *Node {
	return el("SyncML", "SYNCML:SYNCML"+v, "",
		el("SyncHdr", "", "",
			el("VerDTD", "", v),
			el("VerProto", "", "SyncML/"+v),
			el("SessionID", "", "1"),
			el("MsgID", "", "1"),
			el("Target", "", "", el("LocURI", "", "http://s")),
			el("Source", "", "", el("LocURI", "", "IMEI:1")),
			el("Meta", "", "", el("MaxMsgSize", NSMetInf, "10000")),
		),
		el("SyncBody", "", "", el("Final", "", "")),
	)
}

// vector12 is protocol.md 7.6 byte for byte.
var vector12 = bs(0x02, 0xA4, 0x01, 0x6A, 0x00, headerOnlyBody("1.2"))

// vector11 is the same message for SyncML 1.1: the only header change is
// the public id 0x0FD3, as mb_u_int32 0x9F 0x53 (0x0FD3>>7 = 0x1F | 0x80,
// 0x0FD3&0x7F = 0x53); tokens are identical on page 0 and 1.
var vector11 = bs(0x02, 0x9F, 0x53, 0x6A, 0x00, headerOnlyBody("1.1"))

// vector10 is the SyncML 1.0 message in the literal form libsynthesis
// sends: public id 0 + string table offset 0, charset UTF-8, a 29-byte
// (0x1D) string table holding the FPI without terminator.
var vector10 = bs(0x02, 0x00, 0x00, 0x6A, 0x1D, "-//SYNCML//DTD SyncML 1.0//EN", headerOnlyBody("1.0"))

func TestVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		doc  Doc
		v    string
	}{
		{"7.6 SyncML 1.2", vector12, SyncML12, "1.2"},
		{"SyncML 1.1", vector11, SyncML11, "1.1"},
		{"SyncML 1.0 literal FPI", vector10, SyncML10, "1.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, doc, err := Decode(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if doc != tc.doc {
				t.Errorf("doc %v, want %v", doc, tc.doc)
			}
			sameTree(t, "decode", n, headerOnlyTree(tc.v))
			out, err := Encode(headerOnlyTree(tc.v), tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tc.data) {
				t.Errorf("encode:\n got % X\nwant % X", out, tc.data)
			}
		})
	}
	if len("-//SYNCML//DTD SyncML 1.0//EN") != 0x1D {
		t.Fatal("FPI length")
	}
}

// xmlToNode parses an XML document into Nodes: local names, the namespace
// where it differs from the parent's (always on the root), text kept as it
// is for leaves and trimmed of surrounding white space for elements with
// children.
func xmlToNode(data []byte) (*Node, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	type frame struct {
		n     *Node
		space string
		text  strings.Builder
	}
	var stack []*frame
	var root *Node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			n := &Node{Name: tk.Name.Local}
			if len(stack) == 0 {
				n.NS = tk.Name.Space
				root = n
			} else {
				p := stack[len(stack)-1]
				if tk.Name.Space != p.space {
					n.NS = tk.Name.Space
				}
				p.n.Children = append(p.n.Children, n)
			}
			stack = append(stack, &frame{n: n, space: tk.Name.Space})
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(tk)
			}
		case xml.EndElement:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if len(f.n.Children) > 0 {
				f.n.Text = strings.TrimSpace(f.text.String())
			} else {
				f.n.Text = f.text.String()
			}
		}
	}
	if root == nil {
		return nil, errors.New("no root")
	}
	return root, nil
}

// fixtureDoc tells the SyncML version of a fixture from its VerDTD.
func fixtureDoc(n *Node) Doc {
	switch versionOf(n, SyncML12) {
	case SyncML10:
		return SyncML10
	case SyncML11:
		return SyncML11
	}
	return SyncML12
}

type fixture struct {
	name string
	tree *Node
	doc  Doc
}

func loadFixtures(t testing.TB) []fixture {
	t.Helper()
	files, err := filepath.Glob("testdata/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var out []fixture
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n, err := xmlToNode(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		doc := fixtureDoc(n)
		if n.NS == "" {
			n.NS = doc.rootNS() // the decoder always names the root's namespace
		}
		out = append(out, fixture{filepath.Base(f), n, doc})
	}
	return out
}

func TestFixturesRoundTrip(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			data, err := Encode(fx.tree, fx.doc)
			if err != nil {
				t.Fatal(err)
			}
			n, doc, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if doc != fx.doc {
				t.Errorf("doc %v, want %v", doc, fx.doc)
			}
			sameTree(t, "round trip", n, fx.tree)
			again, err := Encode(n, doc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, data) {
				t.Errorf("second encoding differs")
			}
			if hasDevInf(fx.tree) && !bytes.Contains(data, []byte{0x4F, tokOpaque}) {
				t.Errorf("DevInf not sent as OPAQUE Data")
			}
		})
	}
}

func hasDevInf(n *Node) bool {
	if n.Name == "DevInf" {
		return true
	}
	for _, c := range n.Children {
		if hasDevInf(c) {
			return true
		}
	}
	return false
}

func devInfTree(ver string, sizeName string) *Node {
	return el("DevInf", NSDevInf, "",
		el("VerDTD", "", ver),
		el("Man", "", "Acme & Co"),
		el("DevID", "", "IMEI:1"),
		el("DevTyp", "", "phone"),
		el("UTC", "", ""),
		el("SupportLargeObjs", "", ""),
		el("DataStore", "", "",
			el("SourceRef", "", "./contacts"),
			el("Rx-Pref", "", "", el("CTType", "", "text/x-vcard"), el("VerCT", "", "2.1")),
			el("Tx-Pref", "", "", el("CTType", "", "text/x-vcard"), el("VerCT", "", "2.1")),
			el("SyncCap", "", "", el("SyncType", "", "1"), el("SyncType", "", "2")),
		),
		el("CTCap", "", "",
			el("CTType", "", "text/x-vcard"),
			el("PropName", "", "N"),
			el("DataType", "", "chr"),
			el(sizeName, "", "64"),
		),
	)
}

func putResults(v string, di *Node) *Node {
	return el("SyncML", "SYNCML:SYNCML"+v, "",
		el("SyncHdr", "", "",
			el("VerDTD", "", v),
			el("VerProto", "", "SyncML/"+v),
			el("SessionID", "", "1"),
			el("MsgID", "", "2"),
			el("Target", "", "", el("LocURI", "", "IMEI:1")),
			el("Source", "", "", el("LocURI", "", "http://s")),
		),
		el("SyncBody", "", "",
			el("Put", "", "",
				el("CmdID", "", "1"),
				el("Meta", "", "", el("Type", NSMetInf, "application/vnd.syncml-devinf+wbxml")),
				el("Item", "", "",
					el("Source", "", "", el("LocURI", "", "./devinf"+strings.ReplaceAll(v, ".", ""))),
					el("Data", "", "", di),
				),
			),
			el("Results", "", "",
				el("CmdID", "", "2"),
				el("MsgRef", "", "1"),
				el("CmdRef", "", "3"),
				el("Meta", "", "", el("Type", NSMetInf, "application/vnd.syncml-devinf+wbxml")),
				el("Item", "", "",
					el("Source", "", "", el("LocURI", "", "./devinf"+strings.ReplaceAll(v, ".", ""))),
					el("Data", "", "", di),
				),
			),
			el("Final", "", ""),
		),
	)
}

func TestEmbeddedDevInf(t *testing.T) {
	for _, tc := range []struct {
		v       string
		doc     Doc
		di      *Node
		subHead []byte
	}{
		{"1.2", SyncML12, devInfTree("1.2", "MaxSize"), bs(0x02, 0xA4, 0x03, 0x6A, 0x00, 0x4A)},
		{"1.1", SyncML11, devInfTree("1.1", "Size"), bs(0x02, 0x9F, 0x54, 0x6A, 0x00, 0x4A)},
		{"1.0", SyncML10, devInfTree("1.0", "Size"), bs(0x02, 0x00, 0x00, 0x6A, 0x1D, "-//SYNCML//DTD DevInf 1.0//EN", 0x4A)},
		// A DevInf whose VerDTD differs from the session's keeps its own version.
		{"1.2", SyncML12, devInfTree("1.1", "Size"), bs(0x02, 0x9F, 0x54, 0x6A, 0x00, 0x4A)},
	} {
		t.Run(tc.v+"/"+tc.di.Children[0].Text, func(t *testing.T) {
			msg := putResults(tc.v, tc.di)
			data, err := Encode(msg, tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			sub, err := Encode(tc.di, devInfVersion(tc.di, tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(sub, tc.subHead) {
				t.Errorf("DevInf document starts % X, want % X", sub[:min(len(sub), len(tc.subHead))], tc.subHead)
			}
			// <Data> OPAQUE len <document> END
			var opq []byte
			opq = append(opq, 0x4F, tokOpaque)
			e := &encoder{}
			e.mbUint(uint32(len(sub)))
			opq = append(opq, e.buf...)
			opq = append(opq, sub...)
			opq = append(opq, tokEnd)
			if c := bytes.Count(data, opq); c != 2 {
				t.Errorf("OPAQUE DevInf appears %d times, want 2 (Put and Results)\n% X", c, data)
			}
			n, doc, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if doc != tc.doc {
				t.Errorf("doc %v", doc)
			}
			sameTree(t, "round trip", n, msg)

			// The standalone DevInf document round trips too.
			dn, ddoc, err := Decode(sub)
			if err != nil {
				t.Fatal(err)
			}
			if ddoc != devInfVersion(tc.di, tc.doc) {
				t.Errorf("DevInf doc %v", ddoc)
			}
			sameTree(t, "DevInf document", dn, tc.di)
		})
	}
}

func TestEmbeddedDevInfVariants(t *testing.T) {
	body := bs(0x4A, 0x65, 0x03, "1.0", 0x00, 0x01, 0x5C, 0x03, "9", 0x00, 0x01, 0x01) // <DevInf><VerDTD>1.0</VerDTD><Size>9</Size></DevInf>
	wrap := func(inner []byte) []byte {
		e := &encoder{}
		e.mbUint(uint32(len(inner)))
		return bs(0x02, 0xA4, 0x01, 0x6A, 0x00,
			0x6D, 0x6B, 0x5F, 0x54, // <SyncML><SyncBody><Put><Item>
			0x4F, tokOpaque, e.buf, inner, 0x01, // <Data>OPAQUE</Data>
			0x01, 0x01, 0x01, 0x01)
	}
	dataOf := func(n *Node) *Node { return n.Children[0].Children[0].Children[0].Children[0] }
	devinf10 := el("DevInf", NSDevInf, "", el("VerDTD", "", "1.0"), el("Size", "", "9"))

	for _, tc := range []struct {
		name  string
		inner []byte
		want  *Node // Data's child, or nil for text
	}{
		{"numeric DevInf 1.0", bs(0x02, 0x9F, 0x52, 0x6A, 0x00, body), devinf10},
		{"literal DevInf 1.0 with NUL", bs(0x03, 0x00, 0x00, 0x6A, 0x1E, "-//SYNCML//DTD DevInf 1.0//EN", 0x00, body), devinf10},
		{"literal lower-case FPI", bs(0x02, 0x00, 0x00, 0x6A, 0x1D, "-//SyncML//DTD DevInf 1.0//EN", body), devinf10},
		{"not WBXML", []byte("\xff\xd8\xff\xe0JFIF\x00"), nil},
		{"SyncML public id", bs(0x02, 0xA4, 0x01, 0x6A, 0x00, body), nil},
		{"broken DevInf body", bs(0x02, 0x9F, 0x52, 0x6A, 0x00, 0x4A, 0x65), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, _, err := Decode(wrap(tc.inner))
			if err != nil {
				t.Fatal(err)
			}
			d := dataOf(n)
			if tc.want == nil {
				if len(d.Children) != 0 || d.Text != string(tc.inner) {
					t.Errorf("Data should hold the bytes as text:\n%s", dump(d))
				}
				return
			}
			if len(d.Children) != 1 || d.Text != "" {
				t.Fatalf("Data:\n%s", dump(d))
			}
			sameTree(t, "DevInf", d.Children[0], tc.want)
		})
	}
}

// TestPhoneStyle decodes a hand-made message in the style of real phones:
// WBXML 1.3, literal public id with more strings in the table, STR_T
// references, LITERAL tags, text split into pieces, an ENTITY, an
// attribute list and processing instructions to skip, extension tokens,
// SWITCH_PAGE before END, Nokia's SourceParent in 1.1, and inline DevInf
// on code page 2.
func TestPhoneStyle(t *testing.T) {
	var tbl []byte
	off := map[string]int{}
	for _, s := range []string{"-//SYNCML//DTD SyncML 1.1//EN", "IMEI:4711", "./contacts", "LocName", "NoResp", "ext"} {
		off[s] = len(tbl)
		tbl = append(append(tbl, s...), 0)
	}
	if len(tbl) >= 128 {
		t.Fatal("string table offsets must fit one byte")
	}
	data := bs(0x03, 0x00, off["-//SYNCML//DTD SyncML 1.1//EN"], 0x6A, len(tbl), tbl,
		0x43, 0x05, 0x03, "pi", 0x00, 0x01, // PI before the root
		0x6D, // <SyncML>
		0x6C, // <SyncHdr>
		0x71, 0x03, "1.1", 0x00, 0x01,
		0x72, 0x03, "SyncML/1.1", 0x00, 0x01,
		0x65, 0x03, "4", 0x00, 0x01,
		0x5B, 0x03, "1", 0x00, 0x03, "2", 0x00, 0x01, // MsgID in two pieces
		0x6E, 0x57, 0x03, "http://srv/", 0x00, 0x03, "sync", 0x00, 0x01, 0x01,
		0x67,                               // <Source>
		0x57, 0x83, off["IMEI:4711"], 0x01, // <LocURI>STR_T</LocURI>
		0x44, off["LocName"], 0x03, "J", 0x00, 0x02, 0x81, 0x69, 0x03, "r", 0x00, 0x01, // LITERAL_C LocName "J" &#xE9; "r"
		0x01,                                             // </Source>
		0x5A, 0x00, 0x01, 0x4C, 0x03, "8000", 0x00, 0x01, // <Meta> page 1 <MaxMsgSize>
		0x53, 0x03, "application/vnd.syncml+wbxml", 0x00, 0x01, // <Type>
		0x00, 0x00, 0x01, // SWITCH_PAGE 0 before </Meta>
		0x01,                                    // </SyncHdr>
		0x6B,                                    // <SyncBody>
		0xE9, 0x05, 0x03, "v", 0x00, 0x85, 0x01, // <Status attrs...> (skipped)
		0x4B, 0x03, "1", 0x00, 0x01,
		0x5C, 0x03, "1", 0x00, 0x01,
		0x4C, 0x03, "0", 0x00, 0x01,
		0x4A, 0x03, "SyncHdr", 0x00, 0x01,
		0x4F, 0x03, "212", 0x00, 0x01,
		0x01,                        // </Status>
		0x6A,                        // <Sync>
		0x4B, 0x03, "2", 0x00, 0x01, // <CmdID>
		0x6E, 0x57, 0x83, off["./contacts"], 0x01, 0x01,
		0x73, 0x03, "1", 0x00, 0x01, // <NumberOfChanges>
		0x45,                        // <Add>
		0x4B, 0x03, "3", 0x00, 0x01, // <CmdID>
		0x04, off["NoResp"], // LITERAL NoResp (empty)
		0x5A, 0x00, 0x01, 0x53, 0x03, "text/x-vcard", 0x00, 0x01, 0x00, 0x00, 0x01, // <Meta><Type/>
		0x54,                                    // <Item>
		0x67, 0x57, 0x03, "1", 0x00, 0x01, 0x01, // <Source><LocURI>
		0x79, 0x57, 0x03, "0", 0x00, 0x01, 0x01, // <SourceParent><LocURI>
		0x4F, tokOpaque, 0x05, "BEGIN", 0x03, ":VCARD", 0x00, 0x80, off["ext"], 0xC0, 0x40, "x", 0x00, 0x01, // <Data> pieces + EXT tokens
		0x01,                        // </Item>
		0x01,                        // </Add>
		0x01,                        // </Sync>
		0x5F,                        // <Put>
		0x4B, 0x03, "4", 0x00, 0x01, // <CmdID>
		0x54,                                                                                                            // <Item>
		0x4F,                                                                                                            // <Data>
		0x00, 0x02, 0x4A, 0x65, 0x03, "1.1", 0x00, 0x01, 0x49, 0x03, "x", 0x00, 0x01, 0x5C, 0x03, "3", 0x00, 0x01, 0x01, // inline DevInf
		0x00, 0x00, 0x01, // </Data>
		0x01, 0x01, // </Item></Put>
		0x12,             // <Final/>
		0x01,             // </SyncBody>
		0x01,             // </SyncML>
		0x43, 0x05, 0x01, // trailing PI
	)
	want := el("SyncML", "SYNCML:SYNCML1.1", "",
		el("SyncHdr", "", "",
			el("VerDTD", "", "1.1"),
			el("VerProto", "", "SyncML/1.1"),
			el("SessionID", "", "4"),
			el("MsgID", "", "12"),
			el("Target", "", "", el("LocURI", "", "http://srv/sync")),
			el("Source", "", "", el("LocURI", "", "IMEI:4711"), el("LocName", "", "Jér")),
			el("Meta", "", "",
				el("MaxMsgSize", NSMetInf, "8000"),
				el("Type", NSMetInf, "application/vnd.syncml+wbxml")),
		),
		el("SyncBody", "", "",
			el("Status", "", "",
				el("CmdID", "", "1"), el("MsgRef", "", "1"), el("CmdRef", "", "0"),
				el("Cmd", "", "SyncHdr"), el("Data", "", "212")),
			el("Sync", "", "",
				el("CmdID", "", "2"),
				el("Target", "", "", el("LocURI", "", "./contacts")),
				el("NumberOfChanges", "", "1"),
				el("Add", "", "",
					el("CmdID", "", "3"),
					el("NoResp", "", ""),
					el("Meta", "", "", el("Type", NSMetInf, "text/x-vcard")),
					el("Item", "", "",
						el("Source", "", "", el("LocURI", "", "1")),
						el("SourceParent", "", "", el("LocURI", "", "0")),
						el("Data", "", "BEGIN:VCARD"),
					),
				),
			),
			el("Put", "", "",
				el("CmdID", "", "4"),
				el("Item", "", "",
					el("Data", "", "",
						el("DevInf", NSDevInf, "", el("VerDTD", "", "1.1"), el("DevID", "", "x"), el("Size", "", "3")),
					),
				),
			),
			el("Final", "", ""),
		),
	)
	n, doc, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if doc != SyncML11 {
		t.Errorf("doc %v", doc)
	}
	sameTree(t, "phone message", n, want)

	// What we would send back for it: DevInf as OPAQUE, canonical tokens.
	out, err := Encode(n, doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, bs(0x4F, tokOpaque)) || !bytes.Contains(out, bs(0x02, 0x9F, 0x54, 0x6A, 0x00)) {
		t.Errorf("re-encoded DevInf not OPAQUE DevInf 1.1:\n% X", out)
	}
	back, _, err := Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	sameTree(t, "re-encoded", back, want)
}

func TestLatin1(t *testing.T) {
	tbl := "M\xfcller\x00"
	data := bs(0x02, 0x9F, 0x53, 0x04, len(tbl), tbl,
		0x6D, 0x6C,
		0x71, 0x03, "1.1", 0x00, 0x01,
		0x67, 0x57, 0x83, 0x00, 0x01, 0x56, 0x03, "Jos\xe9", 0x00, 0x01, 0x01, // Source: LocURI STR_T, LocName STR_I
		0x01,
		0x6B, 0x5F, 0x54, 0x4F, tokOpaque, 0x02, 0xff, 0xe9, 0x01, 0x01, 0x01, 0x01, // Put/Item/Data OPAQUE stays bytes
		0x01)
	n, doc, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if doc != SyncML11 {
		t.Errorf("doc %v", doc)
	}
	want := el("SyncML", "SYNCML:SYNCML1.1", "",
		el("SyncHdr", "", "",
			el("VerDTD", "", "1.1"),
			el("Source", "", "", el("LocURI", "", "Müller"), el("LocName", "", "José"))),
		el("SyncBody", "", "", el("Put", "", "", el("Item", "", "", el("Data", "", "\xff\xe9")))),
	)
	sameTree(t, "latin1", n, want)

	// Encoding is always UTF-8; the non-UTF-8 item data goes out as OPAQUE.
	out, err := Encode(n, doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("Müller")) || !bytes.Contains(out, bs(tokOpaque, 0x02, 0xff, 0xe9)) {
		t.Errorf("encoding % X", out)
	}
}

func TestDevInfDocument(t *testing.T) {
	for _, tc := range []struct {
		doc  Doc
		tree *Node
	}{
		{DevInf12, devInfTree("1.2", "MaxSize")},
		{DevInf11, devInfTree("1.1", "Size")},
		{DevInf10, devInfTree("1.0", "Size")},
	} {
		data, err := Encode(tc.tree, tc.doc)
		if err != nil {
			t.Fatal(err)
		}
		n, doc, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		if doc != tc.doc {
			t.Errorf("doc %v, want %v", doc, tc.doc)
		}
		sameTree(t, tc.doc.String(), n, tc.tree)
	}
}

// TestUnknownPublicID: a document with public id 1 ("unknown") is
// recognised by its root and VerDTD.
func TestUnknownPublicID(t *testing.T) {
	n, doc, err := Decode(bs(0x02, 0x01, 0x6A, 0x00, headerOnlyBody("1.1")))
	if err != nil {
		t.Fatal(err)
	}
	if doc != SyncML11 {
		t.Errorf("doc %v", doc)
	}
	sameTree(t, "unknown id", n, headerOnlyTree("1.1"))

	n, doc, err = Decode(bs(0x02, 0x01, 0x6A, 0x00, 0x4A, 0x65, 0x03, "1.1", 0x00, 0x01, 0x5C, 0x03, "1", 0x00, 0x01, 0x01))
	if err != nil {
		t.Fatal(err)
	}
	if doc != DevInf11 {
		t.Errorf("doc %v", doc)
	}
	sameTree(t, "unknown id devinf", n, el("DevInf", NSDevInf, "", el("VerDTD", "", "1.1"), el("Size", "", "1")))
}

func TestDecodeErrors(t *testing.T) {
	deep := bs(0x02, 0xA4, 0x01, 0x6A, 0x00, 0x6D)
	for i := 0; i < 40; i++ {
		deep = append(deep, 0x60) // <Replace>
	}
	for i := 0; i < 41; i++ {
		deep = append(deep, 0x01)
	}
	many := bs(0x02, 0xA4, 0x01, 0x6A, 0x00, 0x6D, 0x6B, bytes.Repeat([]byte{0x12}, maxNodes), 0x01, 0x01)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"version", bs(0x04, 0xA4, 0x01, 0x6A, 0x00, 0x6D, 0x01), "version"},
		{"charset UTF-16", bs(0x02, 0xA4, 0x01, 0x83, 0x7F, 0x00, 0x6D, 0x01), "charset"},
		{"WML public id", bs(0x02, 0x04, 0x6A, 0x00, 0x45, 0x01), "public identifier"},
		{"MetInf public id", bs(0x02, 0xA4, 0x02, 0x6A, 0x00, 0x6D, 0x01), "MetInf"},
		{"string table too long", bs(0x02, 0xA4, 0x01, 0x6A, 0x10, "abc"), "string table"},
		{"literal id out of range", bs(0x02, 0x00, 0x05, 0x6A, 0x01, "a", 0x6D, 0x01), "out of range"},
		{"mb_u_int32 overflow", bs(0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x6A, 0x00), "32 bits"},
		{"mb_u_int32 too long", bs(0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), "5 bytes"},
		{"root not SyncML", bs(0x02, 0xA4, 0x01, 0x6A, 0x00, 0x6A, 0x01), "root element"},
		{"reserved token", bs(0x02, 0xA4, 0x01, 0x6A, 0x00, 0x6D, 0x70, 0x01, 0x01), "unknown tag"},
		{"unknown code page", bs(0x02, 0xA4, 0x01, 0x6A, 0x00, 0x6D, 0x00, 0x03, 0x45, 0x01, 0x01), "code page"},
		{"STR_T out of range", bs(0x02, 0xA4, 0x01, 0x6A, 0x00, 0x6D, 0x83, 0x00, 0x01), "out of range"},
		{"OPAQUE too long", bs(0x02, 0xA4, 0x01, 0x6A, 0x00, 0x6D, 0xC3, 0x20, 0x01), "truncated"},
		{"bad entity", bs(0x02, 0xA4, 0x01, 0x6A, 0x00, 0x6D, 0x02, 0x83, 0xB0, 0x00, 0x01), "entity"},
		{"LITERAL_C in attributes", bs(0x02, 0xA4, 0x01, 0x6A, 0x00, 0xED, 0x44, 0x00, 0x01, 0x01), "attribute"},
		{"no root", bs(0x02, 0xA4, 0x01, 0x6A, 0x00), "no root"},
		{"too deep", deep, "deep"},
		{"too many elements", many, "too many"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, _, err := Decode(tc.data)
			if err == nil {
				t.Fatalf("no error; got\n%s", dump(n))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to mention %q", err, tc.want)
			}
		})
	}
	// Exactly at the limits is fine.
	ok := bs(0x02, 0xA4, 0x01, 0x6A, 0x00, 0x6D, 0x6B, bytes.Repeat([]byte{0x12}, maxNodes-2), 0x01, 0x01)
	if _, _, err := Decode(ok); err != nil {
		t.Errorf("%d elements: %v", maxNodes, err)
	}
	ok = bs(0x02, 0xA4, 0x01, 0x6A, 0x00, 0x6D, bytes.Repeat([]byte{0x60}, maxDepth-1), bytes.Repeat([]byte{0x01}, maxDepth))
	if _, _, err := Decode(ok); err != nil {
		t.Errorf("depth %d: %v", maxDepth, err)
	}
}

// TestDecodeIgnoresEpilog: bytes after the root element's END (a
// trailing newline or NUL, as some recorded devices send, or a processing
// instruction) are ignored, as libwbxml does; the document decodes as
// without them.
func TestDecodeIgnoresEpilog(t *testing.T) {
	want, _, err := Decode(vector12)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tail []byte
	}{
		{"newline", bs("\n")},
		{"CRLF", bs("\r\n")},
		{"NUL", bs(0x00)},
		{"END token", bs(0x01)},
		{"junk", bs(0xFF, 0x80, "abc")},
		{"processing instruction", bs(0x43, 0x45, 0x01)},
		{"cut processing instruction", bs(0x43)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, doc, err := Decode(bs(vector12, tc.tail))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if doc != SyncML12 {
				t.Errorf("document %v, want %v", doc, SyncML12)
			}
			if dump(got) != dump(want) {
				t.Errorf("got\n%s\nwant\n%s", dump(got), dump(want))
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	deep := el("SyncML", "", "")
	for n, i := deep, 0; i < 40; i++ {
		c := el("Replace", "", "")
		n.Children = []*Node{c}
		n = c
	}
	for _, tc := range []struct {
		name string
		root *Node
		doc  Doc
		want string
	}{
		{"unknown element", el("SyncML", "", "", el("SyncHdr", "", "", el("Frobnicate", "", "x"))), SyncML12, `"Frobnicate"`},
		{"unknown DevInf element", el("DevInf", NSDevInf, "", el("LocURI", "", "x")), DevInf12, `"LocURI"`},
		{"DevInf element outside Data", el("SyncML", "", "", el("SyncBody", "", "", el("CTCap", NSDevInf, ""))), SyncML12, `"CTCap"`},
		{"DevInf beside text", el("SyncML", "", "", el("Data", "", "x", el("DevInf", NSDevInf, ""))), SyncML12, `"DevInf"`},
		{"root", el("SyncHdr", "", ""), SyncML12, "root"},
		{"DevInf root", el("SyncML", "", ""), DevInf11, "root"},
		{"nil child", el("SyncML", "", "", nil), SyncML12, "nil"},
		{"no name", el("SyncML", "", "", el("", "", "")), SyncML12, "name"},
		{"bad doc", el("SyncML", "", ""), Doc(0), "invalid"},
		{"too deep", deep, SyncML12, "deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Encode(tc.root, tc.doc)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to mention %s", err, tc.want)
			}
		})
	}
}

// TestEncodeLenient: MetInf names without a namespace, explicit namespaces
// equal to the parent's, and text with NUL bytes.
func TestEncodeLenient(t *testing.T) {
	in := el("SyncML", "", "",
		el("SyncHdr", "", "",
			el("Meta", "", "", el("MaxMsgSize", "", "5000"), el("Anchor", NSMetInf, "", el("Next", NSMetInf, "1")))),
		el("SyncBody", "", "", el("Put", "", "", el("Item", "", "", el("Data", "", "a\x00b")))))
	data, err := Encode(in, SyncML12)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, bs(0x4F, tokOpaque, 0x03, "a\x00b", 0x01)) {
		t.Errorf("NUL text not OPAQUE: % X", data)
	}
	n, _, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	want := el("SyncML", "SYNCML:SYNCML1.2", "",
		el("SyncHdr", "", "",
			el("Meta", "", "", el("MaxMsgSize", NSMetInf, "5000"), el("Anchor", NSMetInf, "", el("Next", "", "1")))),
		el("SyncBody", "", "", el("Put", "", "", el("Item", "", "", el("Data", "", "a\x00b")))))
	sameTree(t, "lenient", n, want)
}

// allVectors returns valid encodings: the hand-made vectors and the
// fixtures.
func allVectors(t testing.TB) map[string][]byte {
	m := map[string][]byte{
		"vector-1.2": vector12,
		"vector-1.1": vector11,
		"vector-1.0": vector10,
	}
	for _, fx := range loadFixtures(t) {
		data, err := Encode(fx.tree, fx.doc)
		if err != nil {
			t.Fatal(err)
		}
		m[strings.TrimSuffix(fx.name, ".xml")] = data
	}
	for _, v := range []string{"1.2", "1.1", "1.0"} {
		doc := map[string]Doc{"1.2": SyncML12, "1.1": SyncML11, "1.0": SyncML10}[v]
		size := "Size"
		if v == "1.2" {
			size = "MaxSize"
		}
		data, err := Encode(putResults(v, devInfTree(v, size)), doc)
		if err != nil {
			t.Fatal(err)
		}
		m["devinf-"+v] = data
	}
	return m
}

func TestTruncated(t *testing.T) {
	for name, data := range allVectors(t) {
		if _, _, err := Decode(data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := 0; i < len(data); i++ {
			if n, _, err := Decode(data[:i]); err == nil {
				t.Errorf("%s truncated to %d bytes: no error\n%s", name, i, dump(n))
			}
		}
	}
}

// TestCorrupted flips every byte of the vectors: no panics, and whatever
// decodes re-encodes.
func TestCorrupted(t *testing.T) {
	for _, data := range allVectors(t) {
		buf := make([]byte, len(data))
		for i := range data {
			for _, x := range []byte{0x00, 0x01, 0x04, 0xC3, 0xFF, data[i] ^ 0x40} {
				copy(buf, data)
				buf[i] = x
				checkDecode(t, buf)
			}
		}
	}
}

// normalize makes trees comparable across DevInf versions: token 0x1C is
// Size in DevInf 1.0/1.1 and MaxSize in 1.2, and a re-encoded DevInf may
// change version (it follows VerDTD).
func normalize(n *Node) string {
	var walk func(n *Node)
	walk = func(n *Node) {
		if n.Name == "MaxSize" {
			n.Name = "Size"
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(n)
	return dump(n)
}

// checkDecode is the fuzz property: decoding never panics; a tree that
// decodes and encodes decodes again, and after that one cycle encoding is
// a fixed point.
func checkDecode(t *testing.T, data []byte) {
	n1, doc, err := Decode(data)
	if err != nil {
		return
	}
	if !doc.valid() {
		t.Fatalf("valid decode with doc %v", doc)
	}
	b1, err := Encode(n1, doc)
	if err != nil {
		return // e.g. LITERAL tags with names outside the tables
	}
	n2, doc2, err := Decode(b1)
	if err != nil {
		t.Fatalf("re-decoding our own encoding: %v\ninput % X\nencoding % X\ntree\n%s", err, data, b1, dump(n1))
	}
	if doc2 != doc {
		t.Fatalf("doc %v became %v", doc, doc2)
	}
	b2, err := Encode(n2, doc2)
	if err != nil {
		t.Fatalf("re-encoding: %v\n%s", err, dump(n2))
	}
	n3, _, err := Decode(b2)
	if err != nil {
		t.Fatalf("third decode: %v", err)
	}
	if g, w := normalize(n3), normalize(n2); g != w {
		t.Fatalf("not a fixed point\ninput % X\n--- n2\n%s--- n3\n%s", data, w, g)
	}
}

func FuzzDecode(f *testing.F) {
	for _, data := range allVectors(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
	})
}

// TestWriteFuzzCorpus writes the seed corpus under testdata/fuzz/FuzzDecode
// (go test -run TestWriteFuzzCorpus -update-corpus).
func TestWriteFuzzCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -update-corpus to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range allVectors(t) {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
