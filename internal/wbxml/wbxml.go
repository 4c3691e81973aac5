// Package wbxml is a WBXML (WAP Binary XML 1.1–1.3) codec for the two
// binary vocabularies syncml-imap speaks:
//
//   - SyncML: SyncML 1.0, 1.1 and 1.2 messages (SyncML code page 0, MetInf
//     code page 1) and DevInf 1.0, 1.1 and 1.2 documents, including DevInf
//     embedded in a SyncML message as OPAQUE data inside <Data>.
//   - Exchange ActiveSync (Doc EAS): requests and responses on the 25 code
//     pages of MS-ASWBXML for protocol 16.1, AirSync (0) to Find (25).
//
// It turns bytes into a small element tree (Node) and back. Nodes carry
// the element's local name, its namespace where it differs from the
// parent's, its text, whether that text is OPAQUE data, and its children
// — the same shape as the XML side of package syncml, which converts
// between the two. Format prints a tree as indented XML-like text.
//
// Decode and Encode handle every kind. ActiveSync's header (public id 1,
// "unknown") is one some SyncML phones send too, so the header alone does
// not tell the two apart: Decode tells them by the root element, and the
// ActiveSync front calls DecodeEAS and EncodeEAS, which use the ActiveSync
// tables whatever the header says.
//
// What it is not: it is not a general-purpose WBXML library (it knows only
// the SyncML, MetInf, DevInf and ActiveSync token tables; attributes,
// extension tokens and processing instructions are skipped when reading
// and never written), it does not validate documents against the DTDs or
// schemas (element order and cardinality are the caller's business), and
// it does not interpret SyncML or ActiveSync semantics. It is not
// streaming: whole messages are decoded in memory, with limits on nesting
// depth, element count and decoded text size so that hostile input cannot
// exhaust the stack or memory.
//
// SyncML token tables follow libwbxml (src/wbxml_tables.c,
// wbxml_tables.h) and the Synthesis SyncML engine (libsynthesis
// xltdecwbxml.c, xltenc.c), which agree byte for byte. ActiveSync tables
// follow MS-ASWBXML 2.1.2.1 (eastables.go).
package wbxml

import "fmt"

// Node is one element of a document. It mirrors syncml.Element.
//
// NS is the element's namespace where it differs from its parent's: ""
// means "same as the parent"; sub-DTD elements use "syncml:metinf" and
// "syncml:devinf"; the root of a SyncML message has "SYNCML:SYNCML1.x" and
// the root of a DevInf document "syncml:devinf". Text may hold arbitrary
// bytes (OPAQUE data is returned as it is). An element has text, children,
// or (rarely) both, in which case the text is written before the children.
//
// Opaque says the text is, or is to be written as, OPAQUE data rather than
// an inline string. The decoder sets it on an element whose character
// data came only as OPAQUE pieces; the encoder writes the text of such an
// element as OPAQUE (and, whatever Opaque says, text that an inline string
// cannot carry: NUL bytes, invalid UTF-8). ActiveSync sends its byte
// arrays (MS-ASDTYPE 2.7.1: email2:ConversationId, email2:ConversationIndex,
// composemail:Mime, ...) as OPAQUE; SyncML leaves it to the encoder.
type Node struct {
	Name     string
	NS       string
	Text     string
	Opaque   bool
	Children []*Node
}

// Doc identifies the kind and version of a WBXML document, as given by its
// public identifier.
type Doc int

// The documents this package reads and writes. The zero Doc is not a
// valid document.
const (
	SyncML10 Doc = iota + 1
	SyncML11
	SyncML12
	DevInf10
	DevInf11
	DevInf12
	// EAS is an Exchange ActiveSync request or response (MS-ASWBXML):
	// WBXML 1.3, public id 1 ("unknown"), UTF-8, no string table.
	EAS
)

func (d Doc) String() string {
	switch d {
	case SyncML10:
		return "SyncML 1.0"
	case SyncML11:
		return "SyncML 1.1"
	case SyncML12:
		return "SyncML 1.2"
	case DevInf10:
		return "DevInf 1.0"
	case DevInf11:
		return "DevInf 1.1"
	case DevInf12:
		return "DevInf 1.2"
	case EAS:
		return "ActiveSync"
	}
	return fmt.Sprintf("wbxml.Doc(%d)", int(d))
}

// IsDevInf reports whether d is a DevInf document (rather than a SyncML
// message).
func (d Doc) IsDevInf() bool { return d == DevInf10 || d == DevInf11 || d == DevInf12 }

func (d Doc) valid() bool { return d >= SyncML10 && d <= EAS }

// Namespaces.
const (
	NSMetInf = "syncml:metinf"
	NSDevInf = "syncml:devinf"
)

// rootNS is the namespace recorded on the root node of a decoded document.
func (d Doc) rootNS() string {
	switch d {
	case SyncML10:
		return "SYNCML:SYNCML1.0"
	case SyncML11:
		return "SYNCML:SYNCML1.1"
	case SyncML12:
		return "SYNCML:SYNCML1.2"
	}
	return NSDevInf
}

// fpi is the formal public identifier of each document.
var fpi = map[Doc]string{
	SyncML10: "-//SYNCML//DTD SyncML 1.0//EN",
	SyncML11: "-//SYNCML//DTD SyncML 1.1//EN",
	SyncML12: "-//SYNCML//DTD SyncML 1.2//EN",
	DevInf10: "-//SYNCML//DTD DevInf 1.0//EN",
	DevInf11: "-//SYNCML//DTD DevInf 1.1//EN",
	DevInf12: "-//SYNCML//DTD DevInf 1.2//EN",
}

// numericID holds the registered numeric public identifiers (libwbxml
// wbxml_tables.h; libsynthesis xltenc.c). MetInf has none before 1.2 and
// is never a document of its own here.
var numericID = map[uint32]Doc{
	0x0FD1: SyncML10,
	0x0FD2: DevInf10,
	0x0FD3: SyncML11,
	0x0FD4: DevInf11,
	0x1201: SyncML12,
	0x1203: DevInf12,
}

// emitNumeric is the public id written for each document; 0 means the
// string-table (literal FPI) form. Like libsynthesis, 1.0 documents are
// sent with the literal FPI although 0x0FD1/0x0FD2 exist.
var emitNumeric = map[Doc]uint32{
	SyncML10: 0,
	SyncML11: 0x0FD3,
	SyncML12: 0x1201,
	DevInf10: 0,
	DevInf11: 0x0FD4,
	DevInf12: 0x1203,
}

// Public ids that name a sub-DTD, not a document this package decodes.
var metInfIDs = map[uint32]bool{0x1202: true}

// Global tokens (WBXML 1.3 section 7.1).
const (
	tokSwitchPage = 0x00
	tokEnd        = 0x01
	tokEntity     = 0x02
	tokStrI       = 0x03
	tokLiteral    = 0x04
	tokExtI0      = 0x40
	tokExtI1      = 0x41
	tokExtI2      = 0x42
	tokPI         = 0x43
	tokLiteralC   = 0x44
	tokExtT0      = 0x80
	tokExtT1      = 0x81
	tokExtT2      = 0x82
	tokStrT       = 0x83
	tokLiteralA   = 0x84
	tokExt0       = 0xC0
	tokExt1       = 0xC1
	tokExt2       = 0xC2
	tokOpaque     = 0xC3
	tokLiteralAC  = 0xC4

	bitContent = 0x40
	bitAttrs   = 0x80
	maskTag    = 0x3F
)

// Character sets (IANA MIBenum).
const (
	mibUSASCII  = 3
	mibLatin1   = 4
	mibUTF8     = 106
	wbxmlVer12  = 0x02
	codePageDev = 2 // inline DevInf page inside a SyncML message (see decode.go)
)

// space is the vocabulary an element belongs to.
type space int

const (
	spSyncML space = iota
	spMetInf
	spDevInf
)

// SyncML code page 0 (all versions; 0x35–0x3C are 1.2 additions that are
// accepted in every version, since Nokia sends SourceParent in 1.1).
var syncmlTags = [64]string{
	0x05: "Add", 0x06: "Alert", 0x07: "Archive", 0x08: "Atomic",
	0x09: "Chal", 0x0A: "Cmd", 0x0B: "CmdID", 0x0C: "CmdRef",
	0x0D: "Copy", 0x0E: "Cred", 0x0F: "Data", 0x10: "Delete",
	0x11: "Exec", 0x12: "Final", 0x13: "Get", 0x14: "Item",
	0x15: "Lang", 0x16: "LocName", 0x17: "LocURI", 0x18: "Map",
	0x19: "MapItem", 0x1A: "Meta", 0x1B: "MsgID", 0x1C: "MsgRef",
	0x1D: "NoResp", 0x1E: "NoResults", 0x1F: "Put", 0x20: "Replace",
	0x21: "RespURI", 0x22: "Results", 0x23: "Search", 0x24: "Sequence",
	0x25: "SessionID", 0x26: "SftDel", 0x27: "Source", 0x28: "SourceRef",
	0x29: "Status", 0x2A: "Sync", 0x2B: "SyncBody", 0x2C: "SyncHdr",
	0x2D: "SyncML", 0x2E: "Target", 0x2F: "TargetRef",
	// 0x30 reserved
	0x31: "VerDTD", 0x32: "VerProto", 0x33: "NumberOfChanges", 0x34: "MoreData",
	0x35: "Field", 0x36: "Filter", 0x37: "Record", 0x38: "FilterType",
	0x39: "SourceParent", 0x3A: "TargetParent", 0x3B: "Move", 0x3C: "Correlator",
}

// MetInf code page 1 (FieldLevel is 1.2).
var metinfTags = [64]string{
	0x05: "Anchor", 0x06: "EMI", 0x07: "Format", 0x08: "FreeID",
	0x09: "FreeMem", 0x0A: "Last", 0x0B: "Mark", 0x0C: "MaxMsgSize",
	0x0D: "Mem", 0x0E: "MetInf", 0x0F: "Next", 0x10: "NextNonce",
	0x11: "SharedMem", 0x12: "Size", 0x13: "Type", 0x14: "Version",
	0x15: "MaxObjSize", 0x16: "FieldLevel",
}

// DevInf code page 0. 0x1C is "Size" in DevInf 1.0/1.1 and "MaxSize" in
// 1.2; 0x2B–0x34 are 1.2 additions accepted in every version.
var devinfTags = [64]string{
	0x05: "CTCap", 0x06: "CTType", 0x07: "DataStore", 0x08: "DataType",
	0x09: "DevID", 0x0A: "DevInf", 0x0B: "DevTyp", 0x0C: "DisplayName",
	0x0D: "DSMem", 0x0E: "Ext", 0x0F: "FwV", 0x10: "HwV",
	0x11: "Man", 0x12: "MaxGUIDSize", 0x13: "MaxID", 0x14: "MaxMem",
	0x15: "Mod", 0x16: "OEM", 0x17: "ParamName", 0x18: "PropName",
	0x19: "Rx", 0x1A: "Rx-Pref", 0x1B: "SharedMem", 0x1C: "MaxSize",
	0x1D: "SourceRef", 0x1E: "SwV", 0x1F: "SyncCap", 0x20: "SyncType",
	0x21: "Tx", 0x22: "Tx-Pref", 0x23: "ValEnum", 0x24: "VerCT",
	0x25: "VerDTD", 0x26: "XNam", 0x27: "XVal", 0x28: "UTC",
	0x29: "SupportNumberOfChanges", 0x2A: "SupportLargeObjs",
	0x2B: "Property", 0x2C: "PropParam", 0x2D: "MaxOccur", 0x2E: "NoTruncate",
	// 0x2F unused
	0x30: "Filter-Rx", 0x31: "FilterCap", 0x32: "FilterKeyword",
	0x33: "FieldLevel", 0x34: "SupportHierarchicalSync",
}

const devinfSizeToken = 0x1C

func reverse(t *[64]string) map[string]byte {
	m := make(map[string]byte)
	for i, n := range t {
		if n != "" {
			m[n] = byte(i)
		}
	}
	return m
}

var (
	syncmlTokens = reverse(&syncmlTags)
	metinfTokens = reverse(&metinfTags)
	devinfTokens = func() map[string]byte {
		m := reverse(&devinfTags)
		m["Size"] = devinfSizeToken // DevInf 1.0/1.1 name of 0x1C
		return m
	}()
)

// Limits on what the decoder accepts (and the encoder produces).
const (
	maxDepth = 32
	maxNodes = 200000
)
