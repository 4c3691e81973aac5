package syncml

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"syncml-imap/internal/wbxml"
)

// Encoding is how a message travels: XML or WBXML (OMA SyncML
// representation; the HTTP binding names them by media type).
type Encoding int

const (
	EncodingXML Encoding = iota
	EncodingWBXML
)

// Media types of the two encodings.
const (
	ContentTypeXML   = "application/vnd.syncml+xml"
	ContentTypeWBXML = "application/vnd.syncml+wbxml"
)

func (e Encoding) ContentType() string {
	if e == EncodingWBXML {
		return ContentTypeWBXML
	}
	return ContentTypeXML
}

// Decode reads a message's tree in the given encoding.
func Decode(enc Encoding, data []byte) (*Element, error) {
	if enc == EncodingXML {
		return DecodeXML(bytes.NewReader(data))
	}
	n, doc, err := wbxml.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("syncml: WBXML: %w", err)
	}
	if doc == wbxml.EAS {
		return nil, fmt.Errorf("syncml: WBXML: an %s document, not a SyncML message", doc)
	}
	return fromNode(n), nil
}

// Encode writes a message's tree in the given encoding. WBXML needs the
// SyncML version (from the tree's VerDTD).
func Encode(enc Encoding, w io.Writer, root *Element) error {
	if enc == EncodingXML {
		return EncodeXML(w, root)
	}
	b, err := wbxml.Encode(toNode(root), wbxmlDoc(root))
	if err != nil {
		return fmt.Errorf("syncml: WBXML: %w", err)
	}
	_, err = w.Write(b)
	return err
}

func wbxmlDoc(root *Element) wbxml.Doc {
	switch root.Child("SyncHdr").ChildText("VerDTD") {
	case "1.0":
		return wbxml.SyncML10
	case "1.1":
		return wbxml.SyncML11
	}
	return wbxml.SyncML12
}

func toNode(e *Element) *wbxml.Node {
	n := &wbxml.Node{Name: e.Name, NS: e.NS, Text: e.Text}
	for _, c := range e.Children {
		n.Children = append(n.Children, toNode(c))
	}
	return n
}

func fromNode(n *wbxml.Node) *Element {
	e := &Element{Name: n.Name, Text: n.Text}
	switch strings.ToLower(n.NS) {
	case NSMetInf:
		e.NS = NSMetInf
	case NSDevInf:
		e.NS = NSDevInf
	}
	for _, c := range n.Children {
		ce := fromNode(c)
		if ce.NS == "" && e.NS != "" && e.Name != "Data" {
			ce.NS = e.NS
		}
		e.Children = append(e.Children, ce)
	}
	return e
}

// encodedSizeIn is an element's size in the encoding: what counts against
// the peer's MaxMsgSize.
func encodedSizeIn(enc Encoding, e *Element) int64 {
	if enc == EncodingXML {
		return encodedSize(e)
	}
	b, err := wbxml.Encode(toNode(e), wbxml.SyncML12)
	if err != nil {
		return encodedSize(e) // cannot happen for the server's own elements
	}
	return int64(len(b))
}
