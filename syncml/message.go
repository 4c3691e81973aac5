package syncml

import (
	"fmt"
	"strconv"
	"strings"
	"syncml-imap/pim"
)

// Message is one SyncML message (OMA-TS-SyncML_RepPro 1.2, 5).
type Message struct {
	Hdr   SyncHdr
	Body  []Command
	Final bool
}

// SyncHdr is the message header.
type SyncHdr struct {
	VerDTD    string // "1.1", "1.2"
	VerProto  string // "SyncML/1.1", "SyncML/1.2"
	SessionID string
	MsgID     string
	Target    Loc
	Source    Loc
	RespURI   string
	NoResp    bool
	Cred      *Cred
	Meta      *Meta
}

// Loc is a Target or Source: a LocURI with an optional LocName.
type Loc struct {
	LocURI  string
	LocName string
}

// Meta holds MetInf elements (OMA-TS-SyncML_MetaInfo).
type Meta struct {
	Type       string
	Format     string
	Mark       string
	Version    string
	Size       int64 // 0 = absent
	MaxMsgSize int64
	MaxObjSize int64
	NextNonce  string
	Anchor     *Anchor
	EMI        []string
}

// Anchor is a sync anchor pair.
type Anchor struct {
	Last string
	Next string
}

// Cred carries credentials; Chal a challenge.
type Cred struct {
	Meta *Meta
	Data string
}

type Chal struct {
	Meta *Meta
}

// Item is the payload unit of most commands.
type Item struct {
	Target       *Loc
	Source       *Loc
	SourceParent string
	TargetParent string
	Meta         *Meta
	Data         *Data
	MoreData     bool
}

// Data is an item's content: text (a vCard, an anchor echo, a number) or,
// for DevInf and anchors, structured XML.
type Data struct {
	Text string
	XML  *Element
}

// Command is any SyncBody command.
type Command interface {
	// CmdName is the element name: "Alert", "Sync", "Add", ...
	CmdName() string
	// ID is the CmdID.
	ID() string
	// SetID sets the CmdID (the sender numbers commands per message).
	SetID(string)
}

// Alert asks for a sync of one or more databases, or for the next message.
type Alert struct {
	CmdID      string
	NoResp     bool
	Cred       *Cred
	Data       string // the alert code
	Correlator string
	Items      []Item
}

// Status answers a command.
type Status struct {
	CmdID     string
	MsgRef    string
	CmdRef    string
	Cmd       string
	TargetRef []string
	SourceRef []string
	Cred      *Cred
	Chal      *Chal
	Data      string // the status code
	Items     []Item
}

// Sync carries one database's changes.
type Sync struct {
	CmdID           string
	NoResp          bool
	Cred            *Cred
	Target          *Loc
	Source          *Loc
	Meta            *Meta
	NumberOfChanges *int
	Commands        []Command
}

// ChangeOp is what a Change does to an item: its element name. The
// core's ops (pim.Op) are SyncML's, and SyncML has two more.
type ChangeOp = pim.Op

// The change commands (OMA-TS-SyncML_RepPro 6.6).
const (
	OpAdd              = pim.OpAdd
	OpReplace          = pim.OpReplace
	OpDelete           = pim.OpDelete
	OpCopy    ChangeOp = "Copy"
	OpMove    ChangeOp = "Move"
)

// Change is an Add, Replace, Delete, Copy or Move.
type Change struct {
	Op      ChangeOp
	CmdID   string
	NoResp  bool
	Archive bool
	SftDel  bool
	Cred    *Cred
	Meta    *Meta
	Items   []Item

	// continued marks the rest of a chunked item the server is sending;
	// it is not part of the message on the wire.
	continued bool
}

// Access is a Put or a Get (of device information).
type Access struct {
	Op     string // "Put" or "Get"
	CmdID  string
	NoResp bool
	Lang   string
	Cred   *Cred
	Meta   *Meta
	Items  []Item
}

// Results answers a Get.
type Results struct {
	CmdID     string
	MsgRef    string
	CmdRef    string
	Meta      *Meta
	TargetRef string
	SourceRef string
	Items     []Item
}

// Map tells the server which client IDs its items got.
type Map struct {
	CmdID    string
	Target   Loc
	Source   Loc
	Cred     *Cred
	Meta     *Meta
	MapItems []MapItem
}

// MapItem pairs a server ID (Target) with a client ID (Source).
type MapItem struct {
	Target string
	Source string
}

// Container is an Atomic or a Sequence.
type Container struct {
	Op       string // "Atomic" or "Sequence"
	CmdID    string
	NoResp   bool
	Meta     *Meta
	Commands []Command
}

// Unknown is a command the server does not implement (Exec, Search...).
type Unknown struct {
	Name   string
	CmdID  string
	NoResp bool
}

func (c *Alert) CmdName() string     { return "Alert" }
func (c *Status) CmdName() string    { return "Status" }
func (c *Sync) CmdName() string      { return "Sync" }
func (c *Change) CmdName() string    { return string(c.Op) }
func (c *Access) CmdName() string    { return c.Op }
func (c *Results) CmdName() string   { return "Results" }
func (c *Map) CmdName() string       { return "Map" }
func (c *Container) CmdName() string { return c.Op }
func (c *Unknown) CmdName() string   { return c.Name }

func (c *Alert) SetID(id string)     { c.CmdID = id }
func (c *Status) SetID(id string)    { c.CmdID = id }
func (c *Sync) SetID(id string)      { c.CmdID = id }
func (c *Change) SetID(id string)    { c.CmdID = id }
func (c *Access) SetID(id string)    { c.CmdID = id }
func (c *Results) SetID(id string)   { c.CmdID = id }
func (c *Map) SetID(id string)       { c.CmdID = id }
func (c *Container) SetID(id string) { c.CmdID = id }
func (c *Unknown) SetID(id string)   { c.CmdID = id }

func (c *Alert) ID() string     { return c.CmdID }
func (c *Status) ID() string    { return c.CmdID }
func (c *Sync) ID() string      { return c.CmdID }
func (c *Change) ID() string    { return c.CmdID }
func (c *Access) ID() string    { return c.CmdID }
func (c *Results) ID() string   { return c.CmdID }
func (c *Map) ID() string       { return c.CmdID }
func (c *Container) ID() string { return c.CmdID }
func (c *Unknown) ID() string   { return c.CmdID }

// ProtocolError is malformed input: the caller answers it with a status
// (or HTTP 400 when even the header cannot be read).
type ProtocolError struct {
	Status StatusCode
	Reason string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("syncml: %s (status %d)", e.Reason, e.Status)
}

func protoErr(code StatusCode, format string, args ...any) error {
	return &ProtocolError{Status: code, Reason: fmt.Sprintf(format, args...)}
}

// ParseMessage reads the message model from a decoded tree. A broken
// header is an error; a broken command inside the body becomes an
// *Unknown-like placeholder only where it has a CmdID, else an error.
func ParseMessage(root *Element) (*Message, error) {
	if root == nil || root.Name != "SyncML" {
		return nil, protoErr(StatusBadRequest, "root element is not SyncML")
	}
	hdr := root.Child("SyncHdr")
	body := root.Child("SyncBody")
	if hdr == nil || body == nil {
		return nil, protoErr(StatusBadRequest, "SyncHdr or SyncBody missing")
	}
	m := &Message{}
	m.Hdr = SyncHdr{
		VerDTD:    hdr.ChildText("VerDTD"),
		VerProto:  hdr.ChildText("VerProto"),
		SessionID: hdr.ChildText("SessionID"),
		MsgID:     hdr.ChildText("MsgID"),
		RespURI:   hdr.ChildText("RespURI"),
		NoResp:    hdr.Has("NoResp"),
		Cred:      parseCred(hdr.Child("Cred")),
		Meta:      parseMeta(hdr.Child("Meta")),
	}
	if t := parseLoc(hdr.Child("Target")); t != nil {
		m.Hdr.Target = *t
	}
	if s := parseLoc(hdr.Child("Source")); s != nil {
		m.Hdr.Source = *s
	}
	if m.Hdr.VerDTD == "" || m.Hdr.SessionID == "" || m.Hdr.MsgID == "" || m.Hdr.Source.LocURI == "" {
		return nil, protoErr(StatusBadRequest, "SyncHdr lacks VerDTD, SessionID, MsgID or Source")
	}
	for _, c := range body.Children {
		if c.Name == "Final" {
			m.Final = true
			continue
		}
		cmd, err := parseCommand(c, 0)
		if err != nil {
			return nil, err
		}
		m.Body = append(m.Body, cmd)
	}
	return m, nil
}

func parseCommand(e *Element, depth int) (Command, error) {
	if depth > 4 {
		return nil, protoErr(StatusBadRequest, "commands nested too deeply")
	}
	id := e.ChildText("CmdID")
	switch e.Name {
	case "Alert":
		return &Alert{CmdID: id, NoResp: e.Has("NoResp"), Cred: parseCred(e.Child("Cred")),
			Data: e.ChildText("Data"), Correlator: e.ChildText("Correlator"), Items: parseItems(e)}, nil
	case "Status":
		s := &Status{CmdID: id, MsgRef: e.ChildText("MsgRef"), CmdRef: e.ChildText("CmdRef"), Cmd: e.ChildText("Cmd"),
			Cred: parseCred(e.Child("Cred")), Data: e.ChildText("Data"), Items: parseItems(e)}
		for _, c := range e.Children {
			switch c.Name {
			case "TargetRef":
				s.TargetRef = append(s.TargetRef, strings.TrimSpace(c.Text))
			case "SourceRef":
				s.SourceRef = append(s.SourceRef, strings.TrimSpace(c.Text))
			}
		}
		if ch := e.Child("Chal"); ch != nil {
			s.Chal = &Chal{Meta: parseMeta(ch.Child("Meta"))}
		}
		return s, nil
	case "Sync":
		s := &Sync{CmdID: id, NoResp: e.Has("NoResp"), Cred: parseCred(e.Child("Cred")),
			Target: parseLoc(e.Child("Target")), Source: parseLoc(e.Child("Source")), Meta: parseMeta(e.Child("Meta"))}
		if n := e.ChildText("NumberOfChanges"); n != "" {
			if v, err := strconv.Atoi(n); err == nil && v >= 0 {
				s.NumberOfChanges = &v
			}
		}
		for _, c := range e.Children {
			switch c.Name {
			case "Add", "Replace", "Delete", "Copy", "Move", "Atomic", "Sequence":
				cmd, err := parseCommand(c, depth+1)
				if err != nil {
					return nil, err
				}
				s.Commands = append(s.Commands, cmd)
			}
		}
		return s, nil
	case "Add", "Replace", "Delete", "Copy", "Move":
		return &Change{Op: ChangeOp(e.Name), CmdID: id, NoResp: e.Has("NoResp"), Archive: e.Has("Archive"), SftDel: e.Has("SftDel"),
			Cred: parseCred(e.Child("Cred")), Meta: parseMeta(e.Child("Meta")), Items: parseItems(e)}, nil
	case "Put", "Get":
		return &Access{Op: e.Name, CmdID: id, NoResp: e.Has("NoResp"), Lang: e.ChildText("Lang"),
			Cred: parseCred(e.Child("Cred")), Meta: parseMeta(e.Child("Meta")), Items: parseItems(e)}, nil
	case "Results":
		return &Results{CmdID: id, MsgRef: e.ChildText("MsgRef"), CmdRef: e.ChildText("CmdRef"), Meta: parseMeta(e.Child("Meta")),
			TargetRef: e.ChildText("TargetRef"), SourceRef: e.ChildText("SourceRef"), Items: parseItems(e)}, nil
	case "Map":
		m := &Map{CmdID: id, Cred: parseCred(e.Child("Cred")), Meta: parseMeta(e.Child("Meta"))}
		if t := parseLoc(e.Child("Target")); t != nil {
			m.Target = *t
		}
		if s := parseLoc(e.Child("Source")); s != nil {
			m.Source = *s
		}
		for _, c := range e.Children {
			if c.Name == "MapItem" {
				m.MapItems = append(m.MapItems, MapItem{
					Target: c.Child("Target").ChildText("LocURI"),
					Source: c.Child("Source").ChildText("LocURI"),
				})
			}
		}
		return m, nil
	case "Atomic", "Sequence":
		ct := &Container{Op: e.Name, CmdID: id, NoResp: e.Has("NoResp"), Meta: parseMeta(e.Child("Meta"))}
		for _, c := range e.Children {
			switch c.Name {
			case "CmdID", "NoResp", "Meta":
				continue
			}
			cmd, err := parseCommand(c, depth+1)
			if err != nil {
				return nil, err
			}
			ct.Commands = append(ct.Commands, cmd)
		}
		return ct, nil
	}
	return &Unknown{Name: e.Name, CmdID: id, NoResp: e.Has("NoResp")}, nil
}

func parseLoc(e *Element) *Loc {
	if e == nil {
		return nil
	}
	return &Loc{LocURI: e.ChildText("LocURI"), LocName: e.ChildText("LocName")}
}

func parseCred(e *Element) *Cred {
	if e == nil {
		return nil
	}
	return &Cred{Meta: parseMeta(e.Child("Meta")), Data: e.ChildText("Data")}
}

func parseMeta(e *Element) *Meta {
	if e == nil {
		return nil
	}
	// Some devices wrap MetInf in <MetInf>.
	if mi := e.Child("MetInf"); mi != nil {
		e = mi
	}
	m := &Meta{
		Type:      e.ChildText("Type"),
		Format:    e.ChildText("Format"),
		Mark:      e.ChildText("Mark"),
		Version:   e.ChildText("Version"),
		NextNonce: e.ChildText("NextNonce"),
	}
	m.Size, _ = strconv.ParseInt(e.ChildText("Size"), 10, 64)
	m.MaxMsgSize, _ = strconv.ParseInt(e.ChildText("MaxMsgSize"), 10, 64)
	m.MaxObjSize, _ = strconv.ParseInt(e.ChildText("MaxObjSize"), 10, 64)
	if a := e.Child("Anchor"); a != nil {
		m.Anchor = &Anchor{Last: a.ChildText("Last"), Next: a.ChildText("Next")}
	}
	for _, c := range e.Children {
		if c.Name == "EMI" {
			m.EMI = append(m.EMI, c.Text)
		}
	}
	return m
}

func parseItems(e *Element) []Item {
	var items []Item
	for _, c := range e.Children {
		if c.Name != "Item" {
			continue
		}
		it := Item{
			Target:       parseLoc(c.Child("Target")),
			Source:       parseLoc(c.Child("Source")),
			SourceParent: c.Child("SourceParent").ChildText("LocURI"),
			TargetParent: c.Child("TargetParent").ChildText("LocURI"),
			Meta:         parseMeta(c.Child("Meta")),
			MoreData:     c.Has("MoreData"),
		}
		if d := c.Child("Data"); d != nil {
			it.Data = &Data{Text: d.Text}
			if len(d.Children) > 0 {
				it.Data.XML = d.Children[0]
			}
		}
		items = append(items, it)
	}
	return items
}

// Element writes the message as a tree, in DTD order.
func (m *Message) Element() *Element {
	root := &Element{Name: "SyncML", NS: "SYNCML:SYNCML" + m.Hdr.VerDTD}
	h := root.add("SyncHdr")
	h.addText("VerDTD", m.Hdr.VerDTD)
	h.addText("VerProto", m.Hdr.VerProto)
	h.addText("SessionID", m.Hdr.SessionID)
	h.addText("MsgID", m.Hdr.MsgID)
	addLoc(h, "Target", &m.Hdr.Target)
	addLoc(h, "Source", &m.Hdr.Source)
	h.addText("RespURI", m.Hdr.RespURI)
	h.addFlag("NoResp", m.Hdr.NoResp)
	addCred(h, m.Hdr.Cred)
	addMeta(h, m.Hdr.Meta)
	b := root.add("SyncBody")
	for _, c := range m.Body {
		b.Children = append(b.Children, commandElement(c))
	}
	b.addFlag("Final", m.Final)
	return root
}

func commandElement(c Command) *Element {
	e := &Element{Name: c.CmdName()}
	e.addText("CmdID", c.ID())
	switch c := c.(type) {
	case *Status:
		e.addText("MsgRef", c.MsgRef)
		e.addText("CmdRef", c.CmdRef)
		e.addText("Cmd", c.Cmd)
		for _, r := range c.TargetRef {
			e.addText("TargetRef", r)
		}
		for _, r := range c.SourceRef {
			e.addText("SourceRef", r)
		}
		addCred(e, c.Cred)
		if c.Chal != nil {
			ch := e.add("Chal")
			addMeta(ch, c.Chal.Meta)
		}
		e.addText("Data", c.Data)
		addItems(e, c.Items)
	case *Alert:
		e.addFlag("NoResp", c.NoResp)
		addCred(e, c.Cred)
		e.addText("Data", c.Data)
		e.addText("Correlator", c.Correlator)
		addItems(e, c.Items)
	case *Sync:
		e.addFlag("NoResp", c.NoResp)
		addCred(e, c.Cred)
		addLoc(e, "Target", c.Target)
		addLoc(e, "Source", c.Source)
		addMeta(e, c.Meta)
		if c.NumberOfChanges != nil {
			e.addText("NumberOfChanges", strconv.Itoa(*c.NumberOfChanges))
		}
		for _, sub := range c.Commands {
			e.Children = append(e.Children, commandElement(sub))
		}
	case *Change:
		e.addFlag("NoResp", c.NoResp)
		e.addFlag("Archive", c.Archive)
		e.addFlag("SftDel", c.SftDel)
		addCred(e, c.Cred)
		addMeta(e, c.Meta)
		addItems(e, c.Items)
	case *Access:
		e.addFlag("NoResp", c.NoResp)
		e.addText("Lang", c.Lang)
		addCred(e, c.Cred)
		addMeta(e, c.Meta)
		addItems(e, c.Items)
	case *Results:
		e.addText("MsgRef", c.MsgRef)
		e.addText("CmdRef", c.CmdRef)
		addMeta(e, c.Meta)
		e.addText("TargetRef", c.TargetRef)
		e.addText("SourceRef", c.SourceRef)
		addItems(e, c.Items)
	case *Map:
		addLoc(e, "Target", &c.Target)
		addLoc(e, "Source", &c.Source)
		addCred(e, c.Cred)
		addMeta(e, c.Meta)
		for _, mi := range c.MapItems {
			it := e.add("MapItem")
			addLoc(it, "Target", &Loc{LocURI: mi.Target})
			addLoc(it, "Source", &Loc{LocURI: mi.Source})
		}
	case *Container:
		e.addFlag("NoResp", c.NoResp)
		addMeta(e, c.Meta)
		for _, sub := range c.Commands {
			e.Children = append(e.Children, commandElement(sub))
		}
	}
	return e
}

func addLoc(e *Element, name string, l *Loc) {
	if l == nil || (l.LocURI == "" && l.LocName == "") {
		return
	}
	le := e.add(name)
	le.addText("LocURI", l.LocURI)
	le.addText("LocName", l.LocName)
}

func addCred(e *Element, c *Cred) {
	if c == nil {
		return
	}
	ce := e.add("Cred")
	addMeta(ce, c.Meta)
	ce.addText("Data", c.Data)
}

func addMeta(e *Element, m *Meta) {
	if m == nil {
		return
	}
	me := e.add("Meta")
	metinf := func(name, v string) {
		if v != "" {
			me.Children = append(me.Children, &Element{Name: name, NS: NSMetInf, Text: v})
		}
	}
	num := func(name string, v int64) {
		if v > 0 {
			metinf(name, strconv.FormatInt(v, 10))
		}
	}
	metinf("Format", m.Format)
	metinf("Type", m.Type)
	metinf("Mark", m.Mark)
	num("Size", m.Size)
	if m.Anchor != nil {
		a := &Element{Name: "Anchor", NS: NSMetInf}
		a.addText("Last", m.Anchor.Last)
		a.addText("Next", m.Anchor.Next)
		me.Children = append(me.Children, a)
	}
	metinf("Version", m.Version)
	metinf("NextNonce", m.NextNonce)
	num("MaxMsgSize", m.MaxMsgSize)
	num("MaxObjSize", m.MaxObjSize)
	for _, emi := range m.EMI {
		metinf("EMI", emi)
	}
	if len(me.Children) == 0 {
		e.Children = e.Children[:len(e.Children)-1]
	}
}

func addItems(e *Element, items []Item) {
	for i := range items {
		it := &items[i]
		ie := e.add("Item")
		addLoc(ie, "Target", it.Target)
		addLoc(ie, "Source", it.Source)
		if it.SourceParent != "" {
			addLoc(ie, "SourceParent", &Loc{LocURI: it.SourceParent})
		}
		if it.TargetParent != "" {
			addLoc(ie, "TargetParent", &Loc{LocURI: it.TargetParent})
		}
		addMeta(ie, it.Meta)
		if it.Data != nil {
			d := &Element{Name: "Data", Text: it.Data.Text}
			if it.Data.XML != nil {
				d.Text = ""
				d.Children = []*Element{it.Data.XML}
			}
			ie.Children = append(ie.Children, d)
		}
		ie.addFlag("MoreData", it.MoreData)
	}
}
