package syncml

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
	"sync"
	"time"

	"syncml-imap/internal/vformat"
	"syncml-imap/internal/vobject"
	"syncml-imap/pim"
)

// Item forms. The mailbox keeps one canonical form per database (vCard
// 3.0; iCalendar 2.0); each device gets and sends its own.
const (
	formVCard30 = "text/vcard"
	formVCard21 = "text/x-vcard"
	formICal20  = "text/calendar"
	formVCal10  = "text/x-vcalendar"
	formSIFC    = "text/x-s4j-sifc"
	formSIFE    = "text/x-s4j-sife"
	formSIFT    = "text/x-s4j-sift"
)

// itemForm tells an incoming item's form: from its content when that is
// clear (devices send wrong types: a vCard 2.1 labelled text/vcard), else
// from its Meta Type.
func itemForm(metaType string, data []byte) string {
	t := strings.ToLower(strings.TrimSpace(metaType))
	switch t {
	case formSIFC, formSIFE, formSIFT:
		return t
	}
	if x := sifPayload(data); x != nil {
		switch {
		case bytes.Contains(x, []byte("<contact")):
			return formSIFC
		case bytes.Contains(x, []byte("<appointment")):
			return formSIFE
		case bytes.Contains(x, []byte("<task")):
			return formSIFT
		}
	}
	objs := vobject.Parse(data)
	if len(objs) == 0 {
		return t
	}
	ver := objs[0].PropValue("VERSION")
	switch objs[0].Name {
	case "VCARD":
		if ver == "2.1" || ver == "" {
			return formVCard21
		}
		return formVCard30
	case "VCALENDAR":
		if ver == "1.0" {
			return formVCal10
		}
		return formICal20
	}
	return t
}

// sifPayload returns SIF XML (base64 undone) when data looks like SIF.
func sifPayload(data []byte) []byte {
	d := bytes.TrimSpace(data)
	if len(d) == 0 || bytes.Contains(d, []byte("BEGIN:")) {
		return nil
	}
	if d[0] == '<' {
		return d
	}
	if b, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(d), nil))); err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("<")) {
		return b
	}
	return nil
}

// converter converts between one device form and the stored form.
type converter struct {
	in       func(data []byte, zone *time.Location) (out []byte, allDay string, err error)
	out      func(data []byte, allDay string) ([]byte, error)
	typ, ver string // what items in this form are announced as
}

// converters lists the forms the server converts. A form without one is
// taken and given as it is.
var converters = map[string]converter{
	formVCard21: {
		in: func(b []byte, _ *time.Location) ([]byte, string, error) {
			out, err := vformat.VCard21To30(b)
			return out, "", err
		},
		out: func(b []byte, _ string) ([]byte, error) { return vformat.VCard30To21(b) },
		typ: formVCard21, ver: "2.1",
	},
	formVCal10: {
		in: func(b []byte, zone *time.Location) ([]byte, string, error) {
			return vformat.VCal10ToICal20WithOptions(b, &vformat.VCalOptions{Zone: zone})
		},
		out: func(b []byte, allDay string) ([]byte, error) {
			return vformat.ICal20ToVCal10(b, &vformat.VCalOptions{AllDayForm: allDay})
		},
		typ: formVCal10, ver: "1.0",
	},
	formSIFC: {
		in: func(b []byte, _ *time.Location) ([]byte, string, error) {
			out, err := vformat.SIFCToVCard(b)
			return out, "", err
		},
		out: func(b []byte, _ string) ([]byte, error) { return vformat.VCardToSIFC(b) },
		typ: formSIFC, ver: "1.0",
	},
	formSIFE: {
		in: func(b []byte, _ *time.Location) ([]byte, string, error) {
			out, err := vformat.SIFEToICal(b)
			return out, "", err
		},
		out: func(b []byte, _ string) ([]byte, error) { return vformat.ICalToSIFE(b) },
		typ: formSIFE, ver: "1.0",
	},
	formSIFT: {
		in: func(b []byte, _ *time.Location) ([]byte, string, error) {
			out, err := vformat.SIFTToICal(b)
			return out, "", err
		},
		out: func(b []byte, _ string) ([]byte, error) { return vformat.ICalToSIFT(b) },
		typ: formSIFT, ver: "1.0",
	},
}

// carried returns the properties of the stored item that the form can
// carry: those that survive stored → form → stored. nil: all (the stored
// form itself, or a form without a converter).
func carried(form string, stored []byte, allDay string) map[string]bool {
	c, ok := converters[form]
	if !ok {
		return nil
	}
	out, err := c.out(stored, allDay)
	if err != nil {
		return nil
	}
	back, _, err := c.in(out, nil)
	if err != nil {
		return nil
	}
	names := map[string]bool{}
	obj := mainObject(back)
	if obj == nil {
		return nil
	}
	for _, p := range obj.Props {
		names[p.Name] = true
	}
	for _, k := range obj.Children {
		names[k.Name] = true
	}
	return names
}

// mergeInfo says, for the merge, what the device supports: its DevInf
// CTCap when it says anything, else what its form can carry.
//
// A property counts as supported only where the server's own CTCap for
// the form lists it too: a client that sends only what the server
// announces (Synthesis does) leaves out an unlisted property it holds,
// which is then no deletion.
//
// And only what the device has itself sent at least once (sent, from
// sentNames) counts: DevInf says what a client's format can express, not
// what the device keeps (SyncEvolution announces URL and X-* for events
// and cards, keeps neither for an event and sends back no X-ABLabel). A
// property it never sent is one it does not hold, so its absence is no
// deletion; a property it has sent, it holds.
func mergeInfo(ds *DataStore, form string, stored []byte, allDay string, sent []string) func(string) propInfo {
	dev := devicePropInfo(ds, form)
	formCarries := carried(form, stored, allDay)
	listed := serverLists(form)
	comp := ""
	if obj := mainObject(stored); obj != nil {
		comp = obj.Name
	}
	return func(name string) propInfo {
		pi := dev(name)
		if !pi.known && formCarries != nil {
			pi.known, pi.supported = true, formCarries[name]
		}
		if pi.supported && listed != nil && !listed[strings.ToUpper(name)] {
			pi.supported = false
		}
		if pi.supported {
			_, pi.supported = slices.BinarySearch(sent, comp+":"+strings.ToUpper(name))
		}
		return pi
	}
}

// mainObject is an item's card, or its calendar's event or task that is
// not an exception; nil when it has none.
func mainObject(data []byte) *vobject.Object {
	objs := vobject.Parse(data)
	if len(objs) == 0 {
		return nil
	}
	if objs[0].Name == "VCALENDAR" {
		return pim.MainComponent(objs[0])
	}
	return objs[0]
}

// sentNames lists the properties and sub-components of a canonical item's
// main object as COMPONENT:NAME (VCARD:TEL, VEVENT:VALARM), to learn what
// a device holds.
func sentNames(data []byte) []string {
	obj := mainObject(data)
	if obj == nil {
		return nil
	}
	var out []string
	for _, p := range obj.Props {
		if p.Name != "BEGIN" && p.Name != "END" {
			out = append(out, obj.Name+":"+p.Name)
		}
	}
	for _, k := range obj.Children {
		out = append(out, obj.Name+":"+k.Name)
	}
	return out
}

// addNames returns the sorted set of names with more added; the same
// slice when nothing is new (the common case: a device sends the same
// properties again and again).
func addNames(set []string, more []string) []string {
	var grown []string
	for _, n := range more {
		if _, ok := slices.BinarySearch(set, n); !ok && !slices.Contains(grown, n) {
			grown = append(grown, n)
		}
	}
	if len(grown) == 0 {
		return set
	}
	out := slices.Concat(set, grown)
	slices.Sort(out)
	return out
}

// serverLists is the set of property (and component) names, upper case,
// that the server's CTCap announces for a form; nil when the server
// announces no CTCap for it (SIF), so that nothing is restricted.
func serverLists(form string) map[string]bool {
	serverCapsOnce.Do(func() {
		serverCaps = map[string]map[string]bool{}
		for _, ds := range ServerDevInf("1.2", "").DataStores {
			for _, cp := range ds.CTCaps {
				set := serverCaps[strings.ToLower(cp.CTType)]
				if set == nil {
					set = map[string]bool{}
					serverCaps[strings.ToLower(cp.CTType)] = set
				}
				for _, p := range cp.Properties {
					set[strings.ToUpper(p.Name)] = true
					if p.Name == "BEGIN" {
						for _, v := range p.ValEnums {
							set[strings.ToUpper(v)] = true
						}
					}
				}
			}
		}
	})
	return serverCaps[strings.ToLower(form)]
}

var (
	serverCapsOnce sync.Once
	serverCaps     map[string]map[string]bool // form → names
)

// toCanonical converts an incoming item to the stored form of its
// database. zone is the device's time zone when known (for local times of
// a vCalendar 1.0 item without TZ). allDay reports how a vCalendar 1.0
// device spells all-day events (kept per device, to answer in the same
// form).
func toCanonical(form string, data []byte, zone *time.Location) (out []byte, allDay string, err error) {
	if c, ok := converters[form]; ok {
		return c.in(data, zone)
	}
	if form == formVCard30 {
		out, err = vcardAs30(data)
		return out, "", err
	}
	return data, "", nil
}

// vcardAs30 is a card of the stored form's media type (text/vcard) as
// the stored form is, vCard 3.0: a 4.0 card (what a device or client
// sends under the same type) is converted, every card comes out 3.0
// (vformat.VCard21To30). A 3.0 card, or data that is no vCard, is
// returned as it is.
func vcardAs30(data []byte) ([]byte, error) {
	objs := vobject.Parse(data)
	if len(objs) == 0 || objs[0].Name != "VCARD" || objs[0].PropValue("VERSION") == "3.0" {
		return data, nil
	}
	return vformat.VCard21To30(data)
}

// fromCanonical converts a stored item to the form a device takes. It
// returns the media type and version to announce.
func fromCanonical(form string, db pim.Kind, data []byte, allDay string) (out []byte, typ, ver string, err error) {
	if c, ok := converters[form]; ok {
		out, err = c.out(data, allDay)
		return out, c.typ, c.ver, err
	}
	typ, ver = contentType(db)
	if typ == formVCard30 {
		// Announced as vCard 3.0, so 3.0 it is, whatever the store holds.
		if data, err = vcardAs30(data); err != nil {
			return nil, "", "", err
		}
	}
	return data, typ, ver, nil
}

// convertible reports whether the server can send items in a form.
func convertible(form string, db pim.Kind) bool {
	_, ok := converters[form]
	return ok || form == canonicalForm(db)
}

// canonicalForm is the stored form of a database.
func canonicalForm(db pim.Kind) string {
	if db == pim.Contacts {
		return formVCard30
	}
	return formICal20
}

// formOfType maps a DevInf CTType to a form this server converts to.
func formOfType(ctType, verCT string) string {
	switch t := strings.ToLower(ctType); t {
	case formVCard21, formVCal10, formSIFC, formSIFE, formSIFT:
		return t
	case "text/vcard":
		if verCT == "2.1" {
			return formVCard21
		}
		return formVCard30
	case "text/calendar":
		return formICal20
	}
	return ""
}

// propInfo is what a device's DevInf says of one property of its form:
// whether it supports it (known: the DevInf says anything at all), and
// the limits it truncates to (0: none given).
type propInfo struct {
	supported, known  bool
	maxOccur, maxSize int
	// types are the TYPE values the device lists for the property; nil:
	// it lists none (then it may hold any).
	types []string
}

// devicePropInfo reads a property's support and limits from the device's
// CTCap for the given type.
func devicePropInfo(ds *DataStore, ctType string) func(string) propInfo {
	return func(name string) propInfo {
		if ds == nil {
			return propInfo{}
		}
		sup, known := ds.SupportsProperty(ctType, name)
		pi := propInfo{supported: sup, known: known}
		for _, cp := range ds.CTCaps {
			if !strings.EqualFold(cp.CTType, ctType) {
				continue
			}
			for _, p := range cp.Properties {
				if strings.EqualFold(p.Name, name) {
					pi.maxOccur, pi.maxSize = p.MaxOccur, p.MaxSize
					for _, prm := range p.Params {
						if strings.EqualFold(prm.Name, "TYPE") {
							pi.types = append(pi.types, prm.ValEnums...)
						}
					}
				}
			}
		}
		return pi
	}
}

// mergeKept restores what a device did not send back. Both versions are
// canonical; for calendars the event or task is merged.
//   - A property the stored version has and the device's lacks is kept,
//     unless the device's DevInf says it supports it (then leaving it out
//     is a real deletion): a missing field is not a cleared field.
//   - A device at its stated limits (MaxOccur instances, MaxSize length)
//     truncated: the stored extra instances and the longer value stay.
func mergeKept(stored, device []byte, info func(string) propInfo) []byte {
	so, do := vobject.Parse(stored), vobject.Parse(device)
	if len(so) == 0 || len(do) == 0 || so[0].Name != do[0].Name {
		return device
	}
	if so[0].Name != "VCALENDAR" {
		return []byte(mergeObject(so[0], do[0], info))
	}
	sc, dc := pim.MainComponent(so[0]), pim.MainComponent(do[0])
	if sc == nil || dc == nil || sc.Name != dc.Name {
		return device
	}
	whole := strings.Join(do[0].Lines, "")
	return []byte(strings.Replace(whole, strings.Join(dc.Lines, ""), mergeObject(sc, dc, info), 1))
}

func mergeObject(s, d *vobject.Object, info func(string) propInfo) string {
	devByName := map[string][]vobject.Line{}
	for _, p := range d.Props {
		devByName[p.Name] = append(devByName[p.Name], p)
	}
	storedCount := map[string]int{}
	for _, p := range s.Props {
		storedCount[p.Name]++
	}
	var add []string
	replace := map[string]string{} // device line (Orig) → stored line
	for _, p := range s.Props {
		if p.Name == "BEGIN" || p.Name == "END" || pim.Volatile(p.Name) {
			continue
		}
		dev := devByName[p.Name]
		pi := info(p.Name)
		switch {
		case len(dev) == 0:
			if !(pi.known && pi.supported) {
				add = append(add, p.Orig)
			}
		case len(dev) == 1 && dev[0].Raw != p.Raw && sameDate(dev[0].Value, p.Value):
			// The device wrote the date its own way (16040415 for
			// 1604-04-15) and dropped parameters it does not know
			// (X-APPLE-OMIT-YEAR, a birthday without a year): the stored
			// line says the same and more.
			replace[dev[0].Orig] = p.Orig
		case containsValue(dev, p.Value):
			// The same value; a type the device cannot hold (SyncEvolution
			// lists no PREF for EMAIL) is no change: the stored line stays.
			if d := lineWithValue(dev, p.Value); d != nil && d.Raw != p.Raw && dropsTypes(p, *d, pi.types) {
				replace[d.Orig] = p.Orig
			}
		case pi.maxOccur > 0 && len(dev) >= pi.maxOccur && storedCount[p.Name] > len(dev):
			add = append(add, p.Orig) // an instance beyond the device's limit
		case pi.maxSize > 0 && len(dev) == 1 && len(dev[0].Value) >= pi.maxSize &&
			len(p.Value) > len(dev[0].Value) && strings.HasPrefix(p.Value, dev[0].Value):
			replace[dev[0].Orig] = p.Orig // the device cut the text short
		}
	}
	// Sub-components (alarms) the device dropped and does not claim.
	var kids []string
	for _, sc := range s.Children {
		found := false
		for _, dc := range d.Children {
			found = found || dc.Name == sc.Name
		}
		if pi := info(sc.Name); !found && !(pi.known && pi.supported) {
			kids = append(kids, strings.Join(sc.Lines, ""))
		}
	}
	// The device's own lines, with the kept ones before its END. Lines of
	// its sub-components are written as they are.
	var b strings.Builder
	for i, l := range d.Lines {
		if i == len(d.Lines)-1 {
			b.WriteString(strings.Join(add, ""))
			b.WriteString(strings.Join(kids, ""))
		}
		if r, ok := replace[l]; ok {
			l = r
		}
		b.WriteString(l)
	}
	return b.String()
}

// sameDate reports whether a and b are one date (YYYY-MM-DD or YYYYMMDD).
func sameDate(a, b string) bool {
	a, b = strings.ReplaceAll(a, "-", ""), strings.ReplaceAll(b, "-", "")
	if len(a) != 8 || a != b {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] < '0' || a[i] > '9' {
			return false
		}
	}
	return true
}

func lineWithValue(lines []vobject.Line, v string) *vobject.Line {
	for i := range lines {
		if lines[i].Value == v {
			return &lines[i]
		}
	}
	return nil
}

// dropsTypes reports whether the device's line d lacks only types of the
// stored line s that the device does not list (held, of all it lists):
// it says the same as s, less what it cannot hold.
func dropsTypes(s, d vobject.Line, held []string) bool {
	if len(held) == 0 {
		return false
	}
	split := func(l vobject.Line) map[string]bool {
		out := map[string]bool{}
		for _, t := range strings.Split(l.Params["TYPE"], ",") {
			if t = strings.ToUpper(strings.TrimSpace(t)); t != "" {
				out[t] = true
			}
		}
		return out
	}
	st, dt := split(s), split(d)
	lost := false
	for t := range st {
		if dt[t] {
			continue
		}
		if slices.ContainsFunc(held, func(h string) bool { return strings.EqualFold(h, t) }) {
			return false // a type the device holds and took off: an edit
		}
		lost = true
	}
	for t := range dt {
		if !st[t] {
			return false // the device added a type: an edit
		}
	}
	return lost
}

func containsValue(lines []vobject.Line, v string) bool {
	for _, l := range lines {
		if l.Value == v {
			return true
		}
	}
	return false
}
