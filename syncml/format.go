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
	form, _ := formOf(metaType, data)
	return form
}

// formOf is itemForm, and the item's objects when it parsed them (nil
// for SIF), so that the caller need not parse the item again.
func formOf(metaType string, data []byte) (string, []*vobject.Object) {
	t := strings.ToLower(strings.TrimSpace(metaType))
	switch t {
	case formSIFC, formSIFE, formSIFT:
		return t, nil
	}
	if x := sifPayload(data); x != nil {
		switch {
		case bytes.Contains(x, []byte("<contact")):
			return formSIFC, nil
		case bytes.Contains(x, []byte("<appointment")):
			return formSIFE, nil
		case bytes.Contains(x, []byte("<task")):
			return formSIFT, nil
		}
	}
	objs := vobject.Parse(data)
	if len(objs) == 0 {
		return t, nil
	}
	ver := objs[0].PropValue("VERSION")
	switch objs[0].Name {
	case "VCARD":
		if ver == "2.1" || ver == "" {
			return formVCard21, objs
		}
		return formVCard30, objs
	case "VCALENDAR":
		if ver == "1.0" {
			return formVCal10, objs
		}
		return formICal20, objs
	}
	return t, objs
}

// isVCard30 reports whether parsed objects are a vCard 3.0, the stored
// form of a card as it is (vcardAs30 returns such data unchanged).
func isVCard30(objs []*vobject.Object) bool {
	return len(objs) > 0 && objs[0].Name == "VCARD" && objs[0].PropValue("VERSION") == "3.0"
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
	obj := pim.MainObject(back)
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
// pim.NamesOf) counts: DevInf says what a client's format can express, not
// what the device keeps (SyncEvolution announces URL and X-* for events
// and cards, keeps neither for an event and sends back no X-ABLabel). A
// property it never sent is one it does not hold, so its absence is no
// deletion; a property it has sent, it holds.
func mergeInfo(ds *DataStore, form string, stored []byte, allDay string, sent []string) func(string) pim.PropHold {
	dev := devicePropInfo(ds, form)
	formCarries := carried(form, stored, allDay)
	listed := serverLists(form)
	comp := ""
	if obj := pim.MainObject(stored); obj != nil {
		comp = obj.Name
	}
	return func(name string) pim.PropHold {
		pi := dev(name)
		if !pi.Known && formCarries != nil {
			pi.Known, pi.Supported = true, formCarries[name]
		}
		if pi.Supported && listed != nil && !listed[strings.ToUpper(name)] {
			pi.Supported = false
		}
		if pi.Supported {
			_, pi.Supported = slices.BinarySearch(sent, comp+":"+strings.ToUpper(name))
		}
		return pi
	}
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
	if len(objs) == 0 || objs[0].Name != "VCARD" || isVCard30(objs) {
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

// devicePropInfo reads a property's support and limits from the device's
// CTCap for the given type.
func devicePropInfo(ds *DataStore, ctType string) func(string) pim.PropHold {
	return func(name string) pim.PropHold {
		if ds == nil {
			return pim.PropHold{}
		}
		sup, known := ds.SupportsProperty(ctType, name)
		pi := pim.PropHold{Supported: sup, Known: known}
		for _, cp := range ds.CTCaps {
			if !strings.EqualFold(cp.CTType, ctType) {
				continue
			}
			for _, p := range cp.Properties {
				if strings.EqualFold(p.Name, name) {
					pi.MaxOccur, pi.MaxSize = p.MaxOccur, p.MaxSize
					for _, prm := range p.Params {
						if strings.EqualFold(prm.Name, "TYPE") {
							pi.Types = append(pi.Types, prm.ValEnums...)
						}
					}
				}
			}
		}
		return pi
	}
}
