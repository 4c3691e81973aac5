package syncml

import (
	"errors"
	"strconv"
	"strings"
	"syncml-imap/pim"
)

// Typed device information (OMA-TS-DS_DevInf 1.1 and 1.2, protocol.md §6).
//
// ParseDevInf reads the <DevInf> element of any of the 1.0, 1.1 and 1.2
// shapes into a DevInf; DevInf.Element writes it back in the shape of a
// given version. The model is normalised so that its users need look only
// at DataStore.CTCaps: DevInf 1.0/1.1 put the content-type capabilities at
// the DevInf level (DevInf.CTCaps keeps them as sent), and ParseDevInf
// attaches a copy of each to the datastores that receive or send that type
// (within the limits below).
//
// Not modelled (read and dropped): DisplayName of properties and
// parameters, FieldLevel, Filter-Rx, FilterCap.

// Limits on what ParseDevInf keeps, so that a hostile document cannot
// make matching CTCaps to datastores quadratic or copying them multiply
// memory. Real devices stay far below them.
const (
	maxDevInfDataStores = 128    // DataStores kept
	maxDevInfTypes      = 64     // Rx and Tx entries kept per datastore
	maxDevInfCTCaps     = 128    // CTCaps kept at DevInf level, and per datastore as sent
	maxDevInfCopy       = 200000 // entries (caps, properties, parameters, values) copied when attaching DevInf-level CTCaps
)

// DevInf is a device's (or this server's) description of itself.
type DevInf struct {
	VerDTD, Man, Mod, OEM, FwV, SwV, HwV, DevID, DevTyp string

	UTC, SupportLargeObjs, SupportNumberOfChanges, SupportHierarchicalSync bool

	DataStores []DataStore
	// CTCaps are the DevInf-level CTCaps of a DevInf 1.0/1.1 document, as
	// sent (in 1.1 they carry no VerCT). ParseDevInf also attaches copies to
	// the datastores whose Rx/Tx types match, so DataStore.CTCaps is the
	// place to look; this field is for writing a 1.1 document faithfully.
	CTCaps []CTCap
	Exts   []Ext
}

// DataStore is one database of the device.
type DataStore struct {
	SourceRef, DisplayName string
	MaxGUIDSize            int // 0: not given

	RxPref ContentType
	Rx     []ContentType // further types received, besides RxPref
	TxPref ContentType
	Tx     []ContentType // further types sent, besides TxPref

	// CTCaps: the capabilities of the types this datastore handles
	// (DevInf 1.2 CTCaps of the datastore, or copies of the matching
	// DevInf-level 1.1 ones).
	CTCaps []CTCap

	SyncTypes []int // SyncCap: 1..7 (protocol.md §2.1), as sent, without duplicates

	MaxMem, MaxID int64 // DSMem; 0: not given
	SharedMem     bool  // DSMem

	// SupportHierarchicalSync is the DevInf 1.2 datastore-level flag.
	SupportHierarchicalSync bool
}

// ContentType is a MIME type and its version (Rx-Pref, Rx, Tx-Pref, Tx).
type ContentType struct{ CTType, VerCT string }

// CTCap lists the properties a device supports for a content type.
type CTCap struct {
	CTType, VerCT string // VerCT is empty in a DevInf 1.1 DevInf-level CTCap
	Properties    []CTProperty
}

// CTProperty is one property (vCard/iCalendar line name) of a CTCap.
// MaxOccur and NoTruncate exist in DevInf 1.2 only; MaxSize is Size in 1.1.
type CTProperty struct {
	Name, DataType string
	MaxOccur       int // 0: not given
	MaxSize        int // 0: not given
	NoTruncate     bool
	ValEnums       []string
	Params         []CTParam
}

// CTParam is one parameter of a property.
type CTParam struct {
	Name, DataType string
	ValEnums       []string
}

// Ext is a vendor extension (XNam, XVal*).
type Ext struct {
	XNam string
	XVal []string
}

// ParseDevInf reads a <DevInf> element. It is tolerant: optional parts may
// be missing, unknown elements are skipped, numbers that do not parse are
// taken as not given, 1.1 (flat) and 1.2 (Property/PropParam) CTCap shapes
// are both accepted wherever CTCap appears. The error is only for an
// element that is not a DevInf at all (a <Data> wrapping one DevInf is
// accepted).
func ParseDevInf(e *Element) (*DevInf, error) {
	if e == nil {
		return nil, errors.New("syncml: no DevInf")
	}
	if !strings.EqualFold(e.Name, "DevInf") {
		if c := diChild(e, "DevInf"); c != nil && len(e.Children) == 1 {
			e = c
		} else {
			return nil, errors.New("syncml: <" + e.Name + "> is not a DevInf")
		}
	}
	d := &DevInf{
		VerDTD: diText(e, "VerDTD"),
		Man:    diText(e, "Man"),
		Mod:    diText(e, "Mod"),
		OEM:    diText(e, "OEM"),
		FwV:    diText(e, "FwV"),
		SwV:    diText(e, "SwV"),
		HwV:    diText(e, "HwV"),
		DevID:  diText(e, "DevID"),
		DevTyp: diText(e, "DevTyp"),

		UTC:                     diFlag(e, "UTC"),
		SupportLargeObjs:        diFlag(e, "SupportLargeObjs"),
		SupportNumberOfChanges:  diFlag(e, "SupportNumberOfChanges"),
		SupportHierarchicalSync: diFlag(e, "SupportHierarchicalSync"),
	}
	for _, c := range e.Children {
		switch {
		case strings.EqualFold(c.Name, "DataStore"):
			if len(d.DataStores) < maxDevInfDataStores {
				d.DataStores = append(d.DataStores, parseDataStore(c))
			}
		case strings.EqualFold(c.Name, "CTCap"):
			d.CTCaps = appendCTCaps(d.CTCaps, parseCTCaps(c))
		case strings.EqualFold(c.Name, "Ext"):
			x := Ext{XNam: diText(c, "XNam")}
			for _, v := range c.Children {
				if strings.EqualFold(v.Name, "XVal") {
					x.XVal = append(x.XVal, strings.TrimSpace(v.Text))
				}
			}
			if x.XNam != "" || len(x.XVal) > 0 {
				d.Exts = append(d.Exts, x)
			}
		}
	}
	budget := maxDevInfCopy
	for i := range d.DataStores {
		ds := &d.DataStores[i]
		for _, cp := range ds.matchingCTCaps(d.CTCaps) {
			if n := ctCapSize(cp); n <= budget {
				budget -= n
				ds.CTCaps = append(ds.CTCaps, cloneCTCap(cp))
			}
		}
	}
	return d, nil
}

func parseDataStore(e *Element) DataStore {
	ds := DataStore{
		SourceRef:               diText(e, "SourceRef"),
		DisplayName:             diText(e, "DisplayName"),
		MaxGUIDSize:             diInt(diText(e, "MaxGUIDSize")),
		SupportHierarchicalSync: diFlag(e, "SupportHierarchicalSync"),
	}
	for _, c := range e.Children {
		switch {
		case strings.EqualFold(c.Name, "Rx-Pref"):
			ds.RxPref = parseContentType(c)
		case strings.EqualFold(c.Name, "Tx-Pref"):
			ds.TxPref = parseContentType(c)
		case strings.EqualFold(c.Name, "Rx"):
			if ct := parseContentType(c); ct.CTType != "" && len(ds.Rx) < maxDevInfTypes {
				ds.Rx = append(ds.Rx, ct)
			}
		case strings.EqualFold(c.Name, "Tx"):
			if ct := parseContentType(c); ct.CTType != "" && len(ds.Tx) < maxDevInfTypes {
				ds.Tx = append(ds.Tx, ct)
			}
		case strings.EqualFold(c.Name, "CTCap"):
			ds.CTCaps = appendCTCaps(ds.CTCaps, parseCTCaps(c))
		case strings.EqualFold(c.Name, "DSMem"):
			ds.SharedMem = diFlag(c, "SharedMem")
			ds.MaxMem = diInt64(diText(c, "MaxMem"))
			ds.MaxID = diInt64(diText(c, "MaxID"))
		case strings.EqualFold(c.Name, "SyncCap"):
			for _, t := range c.Children {
				if !strings.EqualFold(t.Name, "SyncType") {
					continue
				}
				n := diInt(strings.TrimSpace(t.Text))
				if n >= 1 && n <= 7 && !containsInt(ds.SyncTypes, n) {
					ds.SyncTypes = append(ds.SyncTypes, n)
				}
			}
		}
	}
	return ds
}

// appendCTCaps appends caps to list up to maxDevInfCTCaps.
func appendCTCaps(list, caps []CTCap) []CTCap {
	if room := maxDevInfCTCaps - len(list); len(caps) > room {
		caps = caps[:max(room, 0)]
	}
	return append(list, caps...)
}

func parseContentType(e *Element) ContentType {
	return ContentType{CTType: diText(e, "CTType"), VerCT: diText(e, "VerCT")}
}

// parseCTCaps reads one <CTCap>, which in DevInf 1.1 may describe several
// types (CTType, PropName... CTType, PropName...) as a flat list, and in
// 1.2 describes one type with Property/PropParam children. The two shapes
// are read by the same walk, so mixtures (1.2 devices writing 1.1 shapes
// and the reverse) come out right too.
func parseCTCaps(e *Element) []CTCap {
	var caps []CTCap
	var prop *CTProperty   // current flat PropName
	var param *CTParam     // current flat ParamName of prop
	cur := func() *CTCap { // current cap, created on demand (CTType missing)
		if len(caps) == 0 {
			caps = append(caps, CTCap{})
		}
		return &caps[len(caps)-1]
	}
	for _, c := range e.Children {
		text := strings.TrimSpace(c.Text)
		switch strings.ToLower(c.Name) {
		case "cttype":
			caps = append(caps, CTCap{CTType: text})
			prop, param = nil, nil
		case "verct":
			cur().VerCT = text
		case "property":
			p := parseProperty(c)
			if p.Name == "" {
				continue
			}
			cp := cur()
			cp.Properties = append(cp.Properties, p)
			prop, param = nil, nil
		case "propname":
			if text == "" {
				prop, param = nil, nil
				continue
			}
			cp := cur()
			cp.Properties = append(cp.Properties, CTProperty{Name: text})
			prop, param = &cp.Properties[len(cp.Properties)-1], nil
		case "paramname":
			if prop == nil || text == "" {
				param = nil
				continue
			}
			prop.Params = append(prop.Params, CTParam{Name: text})
			param = &prop.Params[len(prop.Params)-1]
		case "valenum":
			switch {
			case param != nil:
				param.ValEnums = append(param.ValEnums, text)
			case prop != nil:
				prop.ValEnums = append(prop.ValEnums, text)
			}
		case "datatype":
			switch {
			case param != nil:
				param.DataType = text
			case prop != nil:
				prop.DataType = text
			}
		case "size", "maxsize":
			if prop != nil && param == nil {
				prop.MaxSize = diInt(text)
			}
		case "maxoccur":
			if prop != nil && param == nil {
				prop.MaxOccur = diInt(text)
			}
		case "notruncate":
			if prop != nil && param == nil {
				prop.NoTruncate = diFlagValue(c)
			}
		}
	}
	// A cap without a type cannot be matched to anything.
	out := caps[:0]
	for _, cp := range caps {
		if cp.CTType != "" {
			out = append(out, cp)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func parseProperty(e *Element) CTProperty {
	p := CTProperty{
		Name:     diText(e, "PropName"),
		DataType: diText(e, "DataType"),
		MaxOccur: diInt(diText(e, "MaxOccur")),
		MaxSize:  diInt(diText(e, "MaxSize")),
	}
	if p.MaxSize == 0 {
		p.MaxSize = diInt(diText(e, "Size"))
	}
	if c := diChild(e, "NoTruncate"); c != nil {
		p.NoTruncate = diFlagValue(c)
	}
	for _, c := range e.Children {
		switch {
		case strings.EqualFold(c.Name, "ValEnum"):
			p.ValEnums = append(p.ValEnums, strings.TrimSpace(c.Text))
		case strings.EqualFold(c.Name, "PropParam"):
			pp := CTParam{Name: diText(c, "ParamName"), DataType: diText(c, "DataType")}
			if pp.Name == "" {
				continue
			}
			for _, v := range c.Children {
				if strings.EqualFold(v.Name, "ValEnum") {
					pp.ValEnums = append(pp.ValEnums, strings.TrimSpace(v.Text))
				}
			}
			p.Params = append(p.Params, pp)
		}
	}
	return p
}

// matchingCTCaps returns those of caps (DevInf-level CTCaps) whose type
// the datastore receives or sends and for which it has no cap of that
// type and version yet, sharing memory with caps. A cap without VerCT (the
// 1.1 shape) takes the version of the datastore's matching type when that
// is unambiguous.
func (ds *DataStore) matchingCTCaps(caps []CTCap) []CTCap {
	var out []CTCap
	for _, cp := range caps {
		ver, ok := ds.typeVersion(cp.CTType, cp.VerCT)
		if !ok {
			continue
		}
		if cp.VerCT == "" {
			cp.VerCT = ver
		}
		if ds.hasCTCap(cp.CTType, cp.VerCT) || capListCovers(out, cp.CTType, cp.VerCT) {
			continue
		}
		out = append(out, cp)
	}
	return out
}

// ctCapSize counts the entries of a cap, for maxDevInfCopy.
func ctCapSize(cp CTCap) int {
	n := 1
	for _, p := range cp.Properties {
		n += 1 + len(p.ValEnums)
		for _, pp := range p.Params {
			n += 1 + len(pp.ValEnums)
		}
	}
	return n
}

// typeVersion reports whether the datastore receives or sends ctType (of
// version verCT, when given), and the version it gives for it when exactly
// one non-empty version is given.
func (ds *DataStore) typeVersion(ctType, verCT string) (string, bool) {
	found := false
	ver := ""
	ambiguous := false
	check := func(t ContentType) {
		if t.CTType == "" || !ctMatch(t, ContentType{ctType, verCT}) {
			return
		}
		found = true
		switch {
		case t.VerCT == "" || t.VerCT == ver:
		case ver == "":
			ver = t.VerCT
		default:
			ambiguous = true
		}
	}
	check(ds.RxPref)
	for _, t := range ds.Rx {
		check(t)
	}
	check(ds.TxPref)
	for _, t := range ds.Tx {
		check(t)
	}
	if ambiguous {
		ver = ""
	}
	return ver, found
}

func (ds *DataStore) hasCTCap(ctType, verCT string) bool {
	return capListCovers(ds.CTCaps, ctType, verCT)
}

// capListCovers reports whether caps has one of type ctType and version
// verCT (a missing version matches any).
func capListCovers(caps []CTCap, ctType, verCT string) bool {
	for _, cp := range caps {
		if strings.EqualFold(cp.CTType, ctType) && (cp.VerCT == "" || verCT == "" || cp.VerCT == verCT) {
			return true
		}
	}
	return false
}

// ctMatch compares content types: CTType ignoring case, VerCT only when
// both give one.
func ctMatch(a, b ContentType) bool {
	if !strings.EqualFold(strings.TrimSpace(a.CTType), strings.TrimSpace(b.CTType)) {
		return false
	}
	va, vb := strings.TrimSpace(a.VerCT), strings.TrimSpace(b.VerCT)
	return va == "" || vb == "" || va == vb
}

func cloneCTCap(cp CTCap) CTCap {
	out := CTCap{CTType: cp.CTType, VerCT: cp.VerCT}
	if len(cp.Properties) > 0 {
		out.Properties = make([]CTProperty, len(cp.Properties))
		for i, p := range cp.Properties {
			q := p
			q.ValEnums = cloneStrings(p.ValEnums)
			q.Params = nil
			for _, pp := range p.Params {
				q.Params = append(q.Params, CTParam{Name: pp.Name, DataType: pp.DataType, ValEnums: cloneStrings(pp.ValEnums)})
			}
			out.Properties[i] = q
		}
	}
	return out
}

func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

// DataStore returns the datastore whose SourceRef is uri, ignoring a
// leading "./" and case; nil if there is none. The result points into
// d.DataStores.
func (d *DevInf) DataStore(uri string) *DataStore {
	if d == nil {
		return nil
	}
	want := normSourceRef(uri)
	for i := range d.DataStores {
		if normSourceRef(d.DataStores[i].SourceRef) == want {
			return &d.DataStores[i]
		}
	}
	return nil
}

func normSourceRef(s string) string {
	s = strings.TrimSpace(s)
	for strings.HasPrefix(s, "./") {
		s = s[2:]
	}
	return strings.ToLower(s)
}

// Preferred chooses which of the server's candidate types (in the
// server's order of preference) to send to this datastore: the device's
// Rx-Pref when it is among the candidates, else the first candidate the
// device lists in Rx, else false. CTType is compared ignoring case, VerCT
// only when both give one. The candidate is returned as given.
func (ds *DataStore) Preferred(candidates ...ContentType) (ContentType, bool) {
	if ds == nil {
		return ContentType{}, false
	}
	if ds.RxPref.CTType != "" {
		for _, c := range candidates {
			if ctMatch(c, ds.RxPref) {
				return c, true
			}
		}
	}
	for _, c := range candidates {
		for _, rx := range ds.Rx {
			if rx.CTType != "" && ctMatch(c, rx) {
				return c, true
			}
		}
	}
	return ContentType{}, false
}

// SupportsProperty reports from the datastore's CTCaps whether the device
// supports property prop (a vCard/iCalendar property name such as "NICKNAME",
// compared ignoring case; a listed name ending in "*" such as "X-*" matches
// by prefix) of content type ctType (ignoring case, any version). known is
// false when the device gave no CTCap for ctType: then nothing is known.
func (ds *DataStore) SupportsProperty(ctType, prop string) (supported, known bool) {
	if ds == nil {
		return false, false
	}
	prop = strings.TrimSpace(prop)
	for _, cp := range ds.CTCaps {
		if !strings.EqualFold(strings.TrimSpace(cp.CTType), strings.TrimSpace(ctType)) {
			continue
		}
		known = true
		for _, p := range cp.Properties {
			if strings.EqualFold(p.Name, prop) {
				return true, true
			}
			if n := len(p.Name); n > 0 && p.Name[n-1] == '*' && len(prop) >= n-1 && strings.EqualFold(prop[:n-1], p.Name[:n-1]) {
				return true, true
			}
		}
	}
	return false, known
}

// Element writes the DevInf in the shape of DevInf version verDTD ("1.0",
// "1.1": CTCap at DevInf level, flat PropName/ValEnum/DataType/Size/
// ParamName, no VerCT in CTCap; otherwise the 1.2 shape: CTCap inside
// DataStore with Property/PropParam/MaxSize/MaxOccur/NoTruncate), in DTD
// element order, with the namespace on the root only. VerDTD is verDTD (or
// d.VerDTD, or "1.2", when empty). What a version cannot express is left
// out: in 1.1 MaxOccur, NoTruncate, the hierarchical-sync flags, and
// DataType/Size of a property or parameter that has ValEnums; per-datastore
// CTCaps become DevInf-level ones, one per type.
func (d *DevInf) Element(verDTD string) *Element {
	if verDTD == "" {
		verDTD = d.VerDTD
	}
	if verDTD == "" {
		verDTD = "1.2"
	}
	v11 := verDTD == "1.0" || verDTD == "1.1"
	e := &Element{Name: "DevInf", NS: NSDevInf}
	e.addText("VerDTD", verDTD)
	e.addText("Man", d.Man)
	e.addText("Mod", d.Mod)
	e.addText("OEM", d.OEM)
	e.addText("FwV", d.FwV)
	e.addText("SwV", d.SwV)
	e.addText("HwV", d.HwV)
	diAddRequired(e, "DevID", d.DevID)
	diAddRequired(e, "DevTyp", d.DevTyp)
	e.addFlag("UTC", d.UTC)
	e.addFlag("SupportLargeObjs", d.SupportLargeObjs)
	e.addFlag("SupportNumberOfChanges", d.SupportNumberOfChanges)
	e.addFlag("SupportHierarchicalSync", d.SupportHierarchicalSync && !v11)
	budget := maxDevInfCopy
	for i := range d.DataStores {
		ds := d.DataStores[i]
		if !v11 {
			// DevInf-level caps not attached yet (a model built by hand,
			// or beyond maxDevInfCopy): 1.2 has them in the datastores
			// only. The same budget bounds the copies written.
			more := ds.matchingCTCaps(d.CTCaps)
			if len(more) > 0 {
				ds.CTCaps = append([]CTCap(nil), ds.CTCaps...)
			}
			for _, cp := range more {
				if n := ctCapSize(cp); n <= budget {
					budget -= n
					ds.CTCaps = append(ds.CTCaps, cp)
				}
			}
		}
		e.Children = append(e.Children, ds.element(v11))
	}
	if v11 {
		// One CTCap per type: the DevInf-level ones, then those of the
		// datastores, skipping any whose type and version (a missing
		// version matching any) is already written.
		type seenType struct {
			any  bool // some cap without version
			vers map[string]bool
		}
		seen := map[string]*seenType{}
		var caps []CTCap
		add := func(cp CTCap) {
			k := strings.ToLower(cp.CTType)
			st := seen[k]
			if st == nil {
				st = &seenType{vers: map[string]bool{}}
				seen[k] = st
			} else if st.any || cp.VerCT == "" || st.vers[cp.VerCT] {
				return
			}
			if cp.VerCT == "" {
				st.any = true
			}
			st.vers[cp.VerCT] = true
			caps = append(caps, cp)
		}
		for _, cp := range d.CTCaps {
			add(cp)
		}
		for _, ds := range d.DataStores {
			for _, cp := range ds.CTCaps {
				add(cp)
			}
		}
		for _, cp := range caps {
			if cp.CTType != "" {
				e.Children = append(e.Children, ctCap11Element(cp))
			}
		}
	}
	for _, x := range d.Exts {
		xe := e.add("Ext")
		diAddRequired(xe, "XNam", x.XNam)
		for _, v := range x.XVal {
			xe.Children = append(xe.Children, &Element{Name: "XVal", Text: v})
		}
	}
	return e
}

func (ds *DataStore) element(v11 bool) *Element {
	e := &Element{Name: "DataStore"}
	diAddRequired(e, "SourceRef", ds.SourceRef)
	e.addText("DisplayName", ds.DisplayName)
	if ds.MaxGUIDSize > 0 {
		e.addText("MaxGUIDSize", strconv.Itoa(ds.MaxGUIDSize))
	}
	e.Children = append(e.Children, ctElement("Rx-Pref", ds.RxPref))
	for _, t := range ds.Rx {
		e.Children = append(e.Children, ctElement("Rx", t))
	}
	e.Children = append(e.Children, ctElement("Tx-Pref", ds.TxPref))
	for _, t := range ds.Tx {
		e.Children = append(e.Children, ctElement("Tx", t))
	}
	if !v11 {
		for _, cp := range ds.CTCaps {
			if cp.CTType != "" {
				e.Children = append(e.Children, ctCap12Element(cp))
			}
		}
	}
	if ds.SharedMem || ds.MaxMem > 0 || ds.MaxID > 0 {
		m := e.add("DSMem")
		m.addFlag("SharedMem", ds.SharedMem)
		if ds.MaxMem > 0 {
			m.addText("MaxMem", strconv.FormatInt(ds.MaxMem, 10))
		}
		if ds.MaxID > 0 {
			m.addText("MaxID", strconv.FormatInt(ds.MaxID, 10))
		}
	}
	e.addFlag("SupportHierarchicalSync", ds.SupportHierarchicalSync && !v11)
	sc := e.add("SyncCap")
	for _, t := range ds.SyncTypes {
		sc.addText("SyncType", strconv.Itoa(t))
	}
	return e
}

func ctElement(name string, t ContentType) *Element {
	e := &Element{Name: name}
	diAddRequired(e, "CTType", t.CTType)
	diAddRequired(e, "VerCT", t.VerCT)
	return e
}

// ctCap12Element: CTCap ( CTType, VerCT, Property+ ), Property ( PropName,
// DataType?, MaxOccur?, MaxSize?, NoTruncate?, ValEnum*, PropParam* ),
// PropParam ( ParamName, DataType?, ValEnum* ).
func ctCap12Element(cp CTCap) *Element {
	e := &Element{Name: "CTCap"}
	e.addText("CTType", cp.CTType)
	diAddRequired(e, "VerCT", cp.VerCT)
	for _, p := range cp.Properties {
		if p.Name == "" {
			continue
		}
		pe := e.add("Property")
		pe.addText("PropName", p.Name)
		pe.addText("DataType", p.DataType)
		if p.MaxOccur > 0 {
			pe.addText("MaxOccur", strconv.Itoa(p.MaxOccur))
		}
		if p.MaxSize > 0 {
			pe.addText("MaxSize", strconv.Itoa(p.MaxSize))
		}
		pe.addFlag("NoTruncate", p.NoTruncate)
		for _, v := range p.ValEnums {
			pe.Children = append(pe.Children, &Element{Name: "ValEnum", Text: v})
		}
		for _, pp := range p.Params {
			if pp.Name == "" {
				continue
			}
			ppe := pe.add("PropParam")
			ppe.addText("ParamName", pp.Name)
			ppe.addText("DataType", pp.DataType)
			for _, v := range pp.ValEnums {
				ppe.Children = append(ppe.Children, &Element{Name: "ValEnum", Text: v})
			}
		}
	}
	return e
}

// ctCap11Element: CTCap ( CTType, ( PropName, ( ValEnum+ | ( DataType,
// Size? ) )?, ( ParamName, ( ValEnum+ | ( DataType, Size? ) )? )* )+ ).
func ctCap11Element(cp CTCap) *Element {
	e := &Element{Name: "CTCap"}
	e.addText("CTType", cp.CTType)
	for _, p := range cp.Properties {
		if p.Name == "" {
			continue
		}
		e.addText("PropName", p.Name)
		if len(p.ValEnums) > 0 {
			for _, v := range p.ValEnums {
				e.Children = append(e.Children, &Element{Name: "ValEnum", Text: v})
			}
		} else if p.DataType != "" {
			e.addText("DataType", p.DataType)
			if p.MaxSize > 0 {
				e.addText("Size", strconv.Itoa(p.MaxSize))
			}
		}
		for _, pp := range p.Params {
			if pp.Name == "" {
				continue
			}
			e.addText("ParamName", pp.Name)
			if len(pp.ValEnums) > 0 {
				for _, v := range pp.ValEnums {
					e.Children = append(e.Children, &Element{Name: "ValEnum", Text: v})
				}
			} else {
				e.addText("DataType", pp.DataType)
			}
		}
	}
	return e
}

// ServerDevInf describes this server for a session of DevInf/SyncML
// version verDTD ("1.1" or "1.2"; "" is 1.2) with server ID devID: one
// datastore per database (contacts, calendar, tasks), the types it takes
// and sends, sync types 1..6 (7, server-alerted, is not implemented) and
// the properties it keeps. For 1.0/1.1 the CTCaps are also set at DevInf
// level without VerCT, as a 1.1 document carries them, so that the model
// equals what ParseDevInf reads back from Element(verDTD).
func ServerDevInf(verDTD, devID string) *DevInf {
	if verDTD == "" {
		verDTD = "1.2"
	}
	vcard30 := ContentType{"text/vcard", "3.0"}
	vcard21 := ContentType{"text/x-vcard", "2.1"}
	ical20 := ContentType{"text/calendar", "2.0"}
	vcal10 := ContentType{"text/x-vcalendar", "1.0"}
	syncTypes := []int{1, 2, 3, 4, 5, 6}
	store := func(ref pim.Kind, name string, pref, alt ContentType, caps ...CTCap) DataStore {
		return DataStore{
			SourceRef: string(ref), DisplayName: name, MaxGUIDSize: 64,
			// The legacy type is sent only where the conversion to it
			// exists (see converters); it is always taken.
			RxPref: pref, Rx: []ContentType{alt}, TxPref: pref, Tx: sendable(ref, alt),
			CTCaps:    caps,
			SyncTypes: append([]int(nil), syncTypes...),
		}
	}
	d := &DevInf{
		VerDTD: verDTD, Man: "syncml-imap", Mod: "syncml-imap", SwV: "0.1",
		DevID: devID, DevTyp: "server",
		UTC: true, SupportLargeObjs: true, SupportNumberOfChanges: true,
		DataStores: []DataStore{
			store("contacts", "Contacts", vcard30, vcard21, serverVCardCap(vcard30), serverVCardCap(vcard21)),
			store("calendar", "Calendar", ical20, vcal10, serverICalCap(ical20), serverICalCap(vcal10)),
			store("tasks", "Tasks", ical20, vcal10, serverICalCap(ical20), serverICalCap(vcal10)),
		},
	}
	if verDTD == "1.0" || verDTD == "1.1" {
		for _, ds := range d.DataStores {
			for _, cp := range ds.CTCaps {
				if !capListCovers(d.CTCaps, cp.CTType, "") {
					cc := cloneCTCap(cp)
					cc.VerCT = ""
					d.CTCaps = append(d.CTCaps, cc)
				}
			}
		}
	}
	return d
}

// Properties are written so that both shapes carry them whole: ValEnums
// or DataType, never both.
func ctProp(name string, valEnums ...string) CTProperty {
	return CTProperty{Name: name, ValEnums: valEnums}
}

func ctPropParams(name string, params ...CTParam) CTProperty {
	return CTProperty{Name: name, Params: params}
}

func ctParam(name string, valEnums ...string) CTParam {
	return CTParam{Name: name, ValEnums: valEnums}
}

// The extensions the mailbox keeps as written that phones and desktop
// programs commonly hold: instant messaging (Evolution, KDE, Android,
// Apple), related people and dates (Evolution, KDE, Apple's labelled
// items), phonetic names (Apple, Android) and file-as names. They are
// listed so that a client that only sends what the server announces (as
// Synthesis-based clients do) sends them rather than leaving them out.
var vcardExtensions = []string{
	"X-AIM", "X-ICQ", "X-JABBER", "X-MSN", "X-YAHOO", "X-SKYPE", "X-SKYPE-USERNAME",
	"X-GADUGADU", "X-GROUPWISE", "X-SIP", "X-QQ", "X-GOOGLE-TALK", "X-TWITTER",
	"X-ABLabel", "X-ABDATE", "X-ABRELATEDNAMES", "X-ABADR", "X-ABShowAs", "X-ABUID",
	"X-ANNIVERSARY", "X-SPOUSE", "X-MANAGER", "X-ASSISTANT", "X-GENDER",
	"X-PHONETIC-FIRST-NAME", "X-PHONETIC-MIDDLE-NAME", "X-PHONETIC-LAST-NAME", "X-PHONETIC-ORG",
	"X-MAIDENNAME", "X-EVOLUTION-FILE-AS", "X-EVOLUTION-BLOG-URL", "X-EVOLUTION-VIDEO-URL",
	"X-EVOLUTION-SPOUSE", "X-EVOLUTION-MANAGER", "X-EVOLUTION-ASSISTANT", "X-EVOLUTION-ANNIVERSARY",
	"X-MOZILLA-HTML", "X-ADDRESSBOOKSERVER-KIND", "X-ADDRESSBOOKSERVER-MEMBER",
}

// serverVCardCap lists every vCard property the mailbox keeps (all of
// RFC 2426 and RFC 4770, the common extensions): the store keeps a card as
// written, so nothing a client sends is dropped, and a client that sends
// only what the server announces (Synthesis does) leaves nothing out. 2.1
// gets the same names: the converter keeps 3.0-only properties under
// their own names.
func serverVCardCap(t ContentType) CTCap {
	v3 := t.VerCT == "3.0"
	telTypes := []string{"HOME", "WORK", "CELL", "VOICE", "FAX", "PAGER", "MSG", "BBS", "MODEM", "CAR", "ISDN", "VIDEO", "PCS", "PREF"}
	emailTypes := []string{"INTERNET", "HOME", "WORK", "X400", "PREF"}
	adrTypes := []string{"HOME", "WORK", "POSTAL", "PARCEL", "DOM", "INTL", "PREF"}
	binary := func(name string, types ...string) CTProperty {
		p := CTProperty{Name: name, DataType: "bin", Params: []CTParam{ctParam("TYPE", types...)}}
		if v3 {
			p.Params = append(p.Params, ctParam("ENCODING", "b"), ctParam("VALUE", "uri"))
		} else {
			p.Params = append(p.Params, ctParam("ENCODING", "BASE64"), ctParam("VALUE", "URL"))
		}
		return p
	}
	props := []CTProperty{
		ctProp("BEGIN", "VCARD"),
		ctProp("END", "VCARD"),
		ctProp("VERSION", t.VerCT),
		ctProp("PRODID"),
		ctProp("REV"),
		ctProp("UID"),
		ctProp("FN"),
		ctProp("N"),
		ctProp("NICKNAME"),
		ctProp("SORT-STRING"),
		binary("PHOTO", "JPEG", "PNG", "GIF"),
		ctProp("BDAY"),
		ctPropParams("ADR", ctParam("TYPE", adrTypes...)),
		ctPropParams("LABEL", ctParam("TYPE", adrTypes...)),
		ctPropParams("TEL", ctParam("TYPE", telTypes...)),
		ctPropParams("EMAIL", ctParam("TYPE", emailTypes...)),
		ctProp("MAILER"),
		ctProp("TZ"),
		ctProp("GEO"),
		ctProp("TITLE"),
		ctProp("ROLE"),
		binary("LOGO", "JPEG", "PNG", "GIF"),
		ctProp("AGENT"),
		ctProp("ORG"),
		ctProp("CATEGORIES"),
		ctProp("NOTE"),
		binary("SOUND", "WAVE", "PCM", "AIFF"),
		ctProp("URL"),
		ctProp("CLASS", "PUBLIC", "PRIVATE", "CONFIDENTIAL"),
		binary("KEY", "X509", "PGP"),
		ctPropParams("IMPP", ctParam("TYPE", "HOME", "WORK", "PERSONAL", "BUSINESS", "MOBILE", "PREF")),
		ctProp("CALURI"),
		ctProp("CALADRURI"),
		ctProp("FBURL"),
	}
	for _, x := range vcardExtensions {
		props = append(props, ctProp(x))
	}
	return CTCap{CTType: t.CTType, VerCT: t.VerCT, Properties: props}
}

// serverICalCap: one CTCap per type for both calendar and tasks (a DevInf
// 1.1 document cannot tell them apart anyway): every VEVENT, VTODO and
// VALARM property of RFC 5545 (or vCalendar 1.0) the mailbox keeps, with
// the parameters of people and times, so that a client sending only what
// the server announces leaves out nothing it holds.
func serverICalCap(t ContentType) CTCap {
	if t.VerCT == "1.0" {
		return CTCap{CTType: t.CTType, VerCT: t.VerCT, Properties: []CTProperty{
			ctProp("BEGIN", "VCALENDAR", "VEVENT", "VTODO"),
			ctProp("END", "VCALENDAR", "VEVENT", "VTODO"),
			ctProp("VERSION", "1.0"),
			ctProp("PRODID"),
			ctProp("TZ"),
			ctProp("DAYLIGHT"),
			ctProp("UID"),
			ctProp("DCREATED"),
			ctProp("LAST-MODIFIED"),
			ctProp("SEQUENCE"),
			ctProp("SUMMARY"),
			ctProp("DESCRIPTION"),
			ctProp("LOCATION"),
			ctProp("URL"),
			ctProp("DTSTART"),
			ctProp("DTEND"),
			ctProp("DUE"),
			ctProp("COMPLETED"),
			ctProp("RRULE"),
			ctProp("RDATE"),
			ctProp("EXDATE"),
			ctProp("CLASS", "PUBLIC", "PRIVATE", "CONFIDENTIAL"),
			ctProp("CATEGORIES"),
			ctProp("RESOURCES"),
			ctProp("PRIORITY"),
			ctProp("STATUS", "NEEDS ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "CONFIRMED", "COMPLETED", "DELEGATED", "SENT"),
			ctProp("TRANSP"),
			ctPropParams("ATTENDEE", ctParam("ROLE", "ATTENDEE", "ORGANIZER", "OWNER", "DELEGATE"),
				ctParam("STATUS", "NEEDS ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "CONFIRMED", "COMPLETED", "DELEGATED", "SENT"),
				ctParam("RSVP", "YES", "NO"), ctParam("EXPECT", "FYI", "REQUIRE", "REQUEST", "IMMEDIATE")),
			ctProp("RELATED-TO"),
			ctProp("AALARM"),
			ctProp("DALARM"),
			ctProp("PALARM"),
			ctProp("MALARM"),
		}}
	}
	tz := ctParam("TZID")
	when := func(name string) CTProperty {
		return ctPropParams(name, tz, ctParam("VALUE", "DATE", "DATE-TIME"))
	}
	person := []CTParam{ctParam("CN"), ctParam("ROLE", "CHAIR", "REQ-PARTICIPANT", "OPT-PARTICIPANT", "NON-PARTICIPANT"),
		ctParam("PARTSTAT", "NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED", "COMPLETED", "IN-PROCESS"),
		ctParam("RSVP", "TRUE", "FALSE"), ctParam("CUTYPE", "INDIVIDUAL", "GROUP", "RESOURCE", "ROOM", "UNKNOWN"),
		ctParam("DELEGATED-TO"), ctParam("DELEGATED-FROM"), ctParam("SENT-BY"), ctParam("DIR"), ctParam("LANGUAGE"), ctParam("MEMBER")}
	return CTCap{CTType: t.CTType, VerCT: t.VerCT, Properties: []CTProperty{
		ctProp("BEGIN", "VCALENDAR", "VEVENT", "VTODO", "VALARM", "VTIMEZONE", "STANDARD", "DAYLIGHT"),
		ctProp("END", "VCALENDAR", "VEVENT", "VTODO", "VALARM", "VTIMEZONE", "STANDARD", "DAYLIGHT"),
		ctProp("VERSION", "2.0"),
		ctProp("PRODID"),
		ctProp("CALSCALE"),
		ctProp("METHOD"),
		ctProp("UID"),
		ctProp("DTSTAMP"),
		ctProp("CREATED"),
		ctProp("LAST-MODIFIED"),
		ctProp("SEQUENCE"),
		ctProp("SUMMARY"),
		ctProp("DESCRIPTION"),
		ctProp("LOCATION"),
		ctProp("GEO"),
		ctProp("URL"),
		when("DTSTART"),
		when("DTEND"),
		when("DUE"),
		ctProp("DURATION"),
		ctProp("COMPLETED"),
		ctProp("PERCENT-COMPLETE"),
		ctProp("RRULE"),
		ctProp("EXRULE"),
		when("RDATE"),
		when("EXDATE"),
		when("RECURRENCE-ID"),
		ctProp("CLASS", "PUBLIC", "PRIVATE", "CONFIDENTIAL"),
		ctProp("CATEGORIES"),
		ctProp("RESOURCES"),
		ctProp("PRIORITY"),
		ctProp("STATUS", "TENTATIVE", "CONFIRMED", "CANCELLED", "NEEDS-ACTION", "COMPLETED", "IN-PROCESS"),
		ctProp("TRANSP", "OPAQUE", "TRANSPARENT"),
		ctPropParams("ORGANIZER", ctParam("CN"), ctParam("SENT-BY"), ctParam("DIR"), ctParam("LANGUAGE")),
		ctPropParams("ATTENDEE", person...),
		ctProp("CONTACT"),
		ctProp("COMMENT"),
		ctPropParams("RELATED-TO", ctParam("RELTYPE", "PARENT", "CHILD", "SIBLING")),
		ctProp("ATTACH"),
		ctProp("REQUEST-STATUS"),
		ctProp("TZID"),
		ctProp("TZNAME"),
		ctProp("TZOFFSETFROM"),
		ctProp("TZOFFSETTO"),
		ctPropParams("TRIGGER", ctParam("VALUE", "DURATION", "DATE-TIME"), ctParam("RELATED", "START", "END")),
		ctProp("ACTION", "AUDIO", "DISPLAY", "EMAIL"),
		ctProp("REPEAT"),
		ctProp("X-MICROSOFT-CDO-BUSYSTATUS"),
		ctProp("X-MICROSOFT-CDO-ALLDAYEVENT"),
	}}
}

// diChild is Child ignoring the case of the name.
func diChild(e *Element, name string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if strings.EqualFold(c.Name, name) {
			return c
		}
	}
	return nil
}

func diText(e *Element, name string) string {
	if c := diChild(e, name); c != nil {
		return strings.TrimSpace(c.Text)
	}
	return ""
}

// diFlag: an empty element is a flag that is on; some devices write
// <UTC>true</UTC> or <UTC>false</UTC>.
func diFlag(e *Element, name string) bool {
	c := diChild(e, name)
	return c != nil && diFlagValue(c)
}

func diFlagValue(c *Element) bool {
	switch strings.ToLower(strings.TrimSpace(c.Text)) {
	case "false", "0", "no":
		return false
	}
	return true
}

func diInt(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func diInt64(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func containsInt(s []int, n int) bool {
	for _, x := range s {
		if x == n {
			return true
		}
	}
	return false
}

// diAddRequired appends <name>text</name>, or <name/> when text is empty:
// for elements the DTD requires.
func diAddRequired(e *Element, name, text string) {
	e.Children = append(e.Children, &Element{Name: name, Text: text})
}

// sendable is the types among ts the server converts items of db to.
func sendable(db pim.Kind, ts ...ContentType) []ContentType {
	var out []ContentType
	for _, t := range ts {
		if convertible(formOfType(t.CTType, t.VerCT), db) {
			out = append(out, t)
		}
	}
	return out
}
