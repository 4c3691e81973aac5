package vformat

// SIF-C (text/x-s4j-sifc): Outlook contacts, to and from vCard 3.0.
//
// The mapping follows the Funambol clients' own vCard mapping where there
// is one: N = LastName;FirstName;MiddleName;Title;Suffix, FN = FileAs,
// ORG = CompanyName;Department;OfficeLocation, TITLE = JobTitle, ROLE =
// Profession, NICKNAME, BDAY = Birthday, NOTE = Body, CATEGORIES, CLASS =
// Sensitivity, PHOTO; phones by TYPE (Business WORK,VOICE, BusinessFax
// WORK,FAX, CompanyMain WORK,PREF, Home HOME,VOICE, HomeFax HOME,FAX, Mobile
// CELL, Car CAR,VOICE, Pager PAGER, Primary PREF,VOICE, Other VOICE,
// OtherFax FAX, ...), Email1 INTERNET, Email2 INTERNET,HOME, Email3
// INTERNET,WORK, WebPage URL, HomeWebPage URL;HOME, BusinessWebPage
// URL;WORK, addresses ADR;WORK / ADR;HOME / ADR (Other) as PostOfficeBox;
// Extended;Street;City;State;PostalCode;Country. Outlook fields vCard has
// no property for go to X- properties (X-ANNIVERSARY, X-SPOUSE, ...;
// common spellings of other programs are read too).

import (
	"errors"
	"strconv"
	"strings"

	"syncml-imap/internal/vobject"
)

// sifPhone is an Outlook phone field and the vCard TEL types it is written
// with.
type sifPhone struct {
	elem  string
	types string
}

var sifPhones = []sifPhone{
	{"BusinessTelephoneNumber", "WORK,VOICE"},
	{"Business2TelephoneNumber", "WORK,VOICE"},
	{"BusinessFaxNumber", "WORK,FAX"},
	{"CompanyMainTelephoneNumber", "WORK,PREF"},
	{"HomeTelephoneNumber", "HOME,VOICE"},
	{"Home2TelephoneNumber", "HOME,VOICE"},
	{"HomeFaxNumber", "HOME,FAX"},
	{"MobileTelephoneNumber", "CELL"},
	{"MobileHomeTelephoneNumber", "CELL,HOME"},
	{"MobileBusinessTelephoneNumber", "CELL,WORK"},
	{"CarTelephoneNumber", "CAR,VOICE"},
	{"PagerNumber", "PAGER"},
	{"PrimaryTelephoneNumber", "PREF,VOICE"},
	{"OtherTelephoneNumber", "VOICE"},
	{"OtherFaxNumber", "FAX"},
	{"AssistantTelephoneNumber", "X-ASSISTANT"},
	{"CallbackTelephoneNumber", "X-FUNAMBOL-CALLBACK"},
	{"RadioTelephoneNumber", "X-FUNAMBOL-RADIO"},
	{"TelexNumber", "X-FUNAMBOL-TELEX"},
}

// sifPhoneSlots lists, best first, the Outlook fields a TEL with these
// types may go to.
func sifPhoneSlots(t map[string]bool) []string {
	has := func(suffix string) bool {
		for k := range t {
			if strings.HasSuffix(k, suffix) {
				return true
			}
		}
		return false
	}
	var s []string
	switch {
	case has("ASSISTANT"):
		s = []string{"AssistantTelephoneNumber"}
	case has("CALLBACK"):
		s = []string{"CallbackTelephoneNumber"}
	case has("RADIO"):
		s = []string{"RadioTelephoneNumber"}
	case has("TELEX") || t["TLX"]:
		s = []string{"TelexNumber"}
	case t["FAX"] && t["WORK"]:
		s = []string{"BusinessFaxNumber", "OtherFaxNumber", "HomeFaxNumber"}
	case t["FAX"] && t["HOME"]:
		s = []string{"HomeFaxNumber", "OtherFaxNumber", "BusinessFaxNumber"}
	case t["FAX"]:
		s = []string{"OtherFaxNumber", "BusinessFaxNumber", "HomeFaxNumber"}
	case t["PAGER"]:
		s = []string{"PagerNumber"}
	case t["CELL"] && t["WORK"]:
		s = []string{"MobileBusinessTelephoneNumber", "MobileTelephoneNumber"}
	case t["CELL"] && t["HOME"]:
		s = []string{"MobileHomeTelephoneNumber", "MobileTelephoneNumber"}
	case t["CELL"]:
		s = []string{"MobileTelephoneNumber", "MobileHomeTelephoneNumber", "MobileBusinessTelephoneNumber"}
	case t["CAR"]:
		s = []string{"CarTelephoneNumber"}
	case t["MAIN"] || has("COMPANY") || t["WORK"] && t["PREF"] && !t["VOICE"]:
		s = []string{"CompanyMainTelephoneNumber", "BusinessTelephoneNumber", "Business2TelephoneNumber"}
	case t["WORK"]:
		s = []string{"BusinessTelephoneNumber", "Business2TelephoneNumber", "CompanyMainTelephoneNumber"}
	case t["HOME"]:
		s = []string{"HomeTelephoneNumber", "Home2TelephoneNumber"}
	case t["PREF"]:
		s = []string{"PrimaryTelephoneNumber"}
	}
	return append(s, "OtherTelephoneNumber")
}

// sifExtra is an Outlook field kept in an X- property (written as name,
// read from any of also).
type sifExtra struct {
	elem string
	name string
	also []string
	date bool
}

var sifExtras = []sifExtra{
	{"Anniversary", "X-ANNIVERSARY", []string{"ANNIVERSARY", "X-EVOLUTION-ANNIVERSARY", "X-FUNAMBOL-ANNIVERSARY", "X-MS-ANNIVERSARY", "X-KADDRESSBOOK-X-ANNIVERSARY"}, true},
	{"Spouse", "X-SPOUSE", []string{"X-EVOLUTION-SPOUSE", "X-FUNAMBOL-SPOUSE", "X-MS-SPOUSE", "X-KADDRESSBOOK-X-SPOUSESNAME"}, false},
	{"Children", "X-FUNAMBOL-CHILDREN", []string{"X-CHILDREN", "X-MS-CHILD"}, false},
	{"ManagerName", "X-MANAGER", []string{"X-EVOLUTION-MANAGER", "X-FUNAMBOL-MANAGER", "X-MS-MANAGER", "X-KADDRESSBOOK-X-MANAGERSNAME"}, false},
	{"AssistantName", "X-ASSISTANT", []string{"X-EVOLUTION-ASSISTANT", "X-FUNAMBOL-ASSISTANT", "X-MS-ASSISTANT", "X-KADDRESSBOOK-X-ASSISTANTSNAME"}, false},
	{"Initials", "X-FUNAMBOL-INITIALS", nil, false},
	{"Hobby", "X-FUNAMBOL-HOBBIES", nil, false},
	{"Language", "X-FUNAMBOL-LANGUAGES", nil, false},
	{"Gender", "X-FUNAMBOL-GENDER", []string{"X-GENDER"}, false},
	{"Mileage", "X-FUNAMBOL-MILEAGE", nil, false},
	{"BillingInformation", "X-FUNAMBOL-BILLINGINFO", nil, false},
	{"Companies", "X-FUNAMBOL-COMPANIES", nil, false},
	{"CustomerID", "X-FUNAMBOL-CUSTOMERID", nil, false},
	{"GovernmentIDNumber", "X-FUNAMBOL-GOVERNMENTID", nil, false},
	{"OrganizationalIDNumber", "X-FUNAMBOL-ORGANIZATIONALID", nil, false},
	{"ComputerNetworkName", "X-FUNAMBOL-COMPUTERNETWORKNAME", nil, false},
	{"YomiFirstName", "X-PHONETIC-FIRST-NAME", []string{"X-FUNAMBOL-YOMIFIRSTNAME"}, false},
	{"YomiLastName", "X-PHONETIC-LAST-NAME", []string{"X-FUNAMBOL-YOMILASTNAME"}, false},
	{"YomiCompanyName", "X-FUNAMBOL-YOMICOMPANYNAME", []string{"X-PHONETIC-ORG"}, false},
}

var sifEmails = []struct{ elem, types string }{
	{"Email1Address", "INTERNET"},
	{"Email2Address", "INTERNET,HOME"},
	{"Email3Address", "INTERNET,WORK"},
}

var sifWebPages = []struct{ elem, types string }{
	{"WebPage", ""},
	{"HomeWebPage", "HOME"},
	{"BusinessWebPage", "WORK"},
}

var sifAddresses = []struct{ prefix, types string }{
	{"Business", "WORK"},
	{"Home", "HOME"},
	{"Other", ""},
}

// sifAddrParts are the SIF address fields in ADR component order.
var sifAddrParts = []string{"PostOfficeBox", "Extended", "Street", "City", "State", "PostalCode", "Country"}

// SIFCToVCard converts a SIF-C contact (base64 or not) to vCard 3.0.
func SIFCToVCard(in []byte) ([]byte, error) {
	n, err := sifParse(in, "contact")
	if err != nil {
		return nil, err
	}
	get := func(name string) string { return sifText(n.get(name)) }
	var l sifLines
	l.add("BEGIN", "VCARD")
	l.add("VERSION", "3.0")
	name := []string{get("LastName"), get("FirstName"), get("MiddleName"), get("Title"), get("Suffix")}
	l.add("N", vobject.JoinText(name, ';'))
	fn := get("FileAs")
	if fn == "" {
		fn = get("Subject")
	}
	if fn == "" {
		var parts []string
		for _, p := range []string{name[1], name[2], name[0], name[4]} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		fn = strings.Join(parts, " ")
	}
	if fn == "" {
		fn = get("CompanyName")
	}
	if fn == "" {
		fn = get("Email1Address")
	}
	l.add("FN", vobject.EscapeText(fn))
	l.text("NICKNAME", get("NickName"))
	org := []string{get("CompanyName"), get("Department"), get("OfficeLocation")}
	if org[2] == "" {
		org = org[:2]
		if org[1] == "" {
			org = org[:1]
		}
	}
	if strings.Join(org, "") != "" {
		l.add("ORG", vobject.JoinText(org, ';'))
	}
	l.text("TITLE", get("JobTitle"))
	l.text("ROLE", get("Profession"))
	if b := sifNormDate(get("Birthday")); b != "" {
		l.add("BDAY", b)
	}
	for _, p := range sifPhones {
		if v := get(p.elem); v != "" {
			l.add("TEL", vobject.EscapeText(v), "TYPE="+p.types)
		}
	}
	for _, e := range sifEmails {
		if v := get(e.elem); v != "" {
			l.add("EMAIL", vobject.EscapeText(v), "TYPE="+e.types)
		}
	}
	if im := get("IMAddress"); im != "" {
		l.add("IMPP", im)
	}
	for _, u := range sifWebPages {
		if v := get(u.elem); v != "" {
			tp := ""
			if u.types != "" {
				tp = "TYPE=" + u.types
			}
			l.add("URL", v, tp)
		}
	}
	for _, a := range sifAddresses {
		parts := make([]string, len(sifAddrParts))
		empty := true
		for i, p := range sifAddrParts {
			parts[i] = get(a.prefix + "Address" + p)
			if p == "Extended" && parts[i] == "" {
				parts[i] = get(a.prefix + "AddressExtendedAddress")
			}
			if parts[i] != "" {
				empty = false
			}
		}
		if empty {
			continue
		}
		tp := ""
		if a.types != "" {
			tp = "TYPE=" + a.types
		}
		l.add("ADR", vobject.JoinText(parts, ';'), tp)
	}
	l.text("NOTE", sifText(n.getRaw("Body")))
	if cats := sifCategories(get("Categories")); len(cats) > 0 {
		l.add("CATEGORIES", vobject.JoinText(cats, ','))
	}
	sifWriteClass(&l, n)
	for _, x := range sifExtras {
		v := get(x.elem)
		if x.date {
			v = sifNormDate(v)
			if v != "" {
				l.add(x.name, v)
			}
			continue
		}
		if x.elem == "Gender" && (v == "0" || v == "") {
			continue // 0 is "unspecified"
		}
		l.text(x.name, v)
	}
	l.text("X-FUNAMBOL-FOLDER", get("Folder"))
	if ph := n.child("Photo"); ph != nil {
		data := sifStripSpace(ph.text.String())
		if data != "" {
			tp := ""
			for k, v := range ph.attr {
				if strings.EqualFold(k, "TYPE") {
					tp = sifPhotoType(v)
				}
			}
			if tp == "" {
				tp = sifPhotoSniff(data)
			}
			params := []string{"ENCODING=b"}
			if tp != "" {
				params = append(params, "TYPE="+tp)
			}
			l.add("PHOTO", data, params...)
		}
	}
	l.add("END", "VCARD")
	return l.bytes(), nil
}

func sifStripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}

// sifPhotoType turns "image/jpeg" or "jpeg" into "JPEG".
func sifPhotoType(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "IMAGE/")
	if s == "JPG" {
		s = "JPEG"
	}
	return s
}

// sifPhotoSniff tells the image type from the start of its base64 text.
func sifPhotoSniff(b64 string) string {
	switch {
	case strings.HasPrefix(b64, "/9j/"):
		return "JPEG"
	case strings.HasPrefix(b64, "iVBORw0KGgo"):
		return "PNG"
	case strings.HasPrefix(b64, "R0lGOD"):
		return "GIF"
	case strings.HasPrefix(b64, "Qk"):
		return "BMP"
	}
	return ""
}

// sifTypes returns the upper-case TYPE values of a property.
func sifTypes(p *vobject.Line) map[string]bool {
	t := make(map[string]bool)
	for _, v := range strings.Split(p.Params["TYPE"], ",") {
		if v = strings.ToUpper(strings.Trim(strings.TrimSpace(v), `"`)); v != "" {
			t[v] = true
		}
	}
	for k := range p.Params { // "WORK=" style leftovers of odd writers
		switch k {
		case "HOME", "WORK", "CELL", "FAX", "VOICE", "PREF", "PAGER", "CAR", "INTERNET":
			t[k] = true
		}
	}
	return t
}

// VCardToSIFC converts the first vCard (3.0; 2.1 is read too) of in to
// SIF-C. Every field the mapping knows is written, empty when the vCard
// lacks it, so that the device clears what was removed.
func VCardToSIFC(in []byte) ([]byte, error) {
	var card *vobject.Object
	for _, o := range vobject.Parse(in) {
		if o.Name == "VCARD" {
			card = o
			break
		}
	}
	if card == nil {
		return nil, errors.New("vformat: no VCARD in vCard data")
	}
	fs := newSIFCFields()
	for i := range card.Props {
		fs.prop(&card.Props[i])
	}
	return fs.write(), nil
}

// sifCFields collects the SIF-C fields of a vCard: each field takes the
// first value that comes for it (set), an ADR the first address slot its
// type allows, PHOTO the first inline image.
type sifCFields struct {
	f                map[string]string // SIF field -> value
	extraBy          map[string]sifExtra
	cats             []string
	photo, photoType string
}

func newSIFCFields() *sifCFields {
	fs := &sifCFields{f: map[string]string{}, extraBy: map[string]sifExtra{}}
	for _, x := range sifExtras {
		fs.extraBy[x.name] = x
		for _, a := range x.also {
			fs.extraBy[a] = x
		}
	}
	return fs
}

// sifCVal is a property's text value for SIF.
func sifCVal(p *vobject.Line) string {
	return strings.TrimSpace(sifText(vobject.UnescapeText(p.Value)))
}

// set gives v to the first of slots that has no value yet.
func (fs *sifCFields) set(slots []string, v string) {
	if v == "" {
		return
	}
	for _, s := range slots {
		if _, taken := fs.f[s]; !taken {
			fs.f[s] = v
			return
		}
	}
}

// prop reads one property of the vCard.
func (fs *sifCFields) prop(p *vobject.Line) {
	switch p.Name {
	case "N":
		c := vobject.SplitText(p.Value, ';')
		for i, e := range []string{"LastName", "FirstName", "MiddleName", "Title", "Suffix"} {
			if i < len(c) {
				fs.set([]string{e}, strings.TrimSpace(c[i]))
			}
		}
	case "FN":
		fs.set([]string{"FileAs"}, sifCVal(p))
	case "NICKNAME":
		fs.set([]string{"NickName"}, strings.TrimSpace(vobject.SplitText(p.Value, ',')[0]))
	case "ORG":
		c := vobject.SplitText(p.Value, ';')
		for i, e := range []string{"CompanyName", "Department", "OfficeLocation"} {
			if i < len(c) {
				fs.set([]string{e}, strings.TrimSpace(c[i]))
			}
		}
	case "TITLE":
		fs.set([]string{"JobTitle"}, sifCVal(p))
	case "ROLE":
		fs.set([]string{"Profession"}, sifCVal(p))
	case "BDAY":
		fs.set([]string{"Birthday"}, sifNormDate(p.Value))
	case "NOTE":
		fs.set([]string{"Body"}, sifText(vobject.UnescapeText(p.Value)))
	case "CATEGORIES":
		fs.cats = append(fs.cats, textList(p.Value)...)
	case "CLASS":
		fs.f["Sensitivity"] = strconv.Itoa(sifSensitivity(p.Value))
	case "TEL":
		v := sifCVal(p)
		if len(v) > 4 && strings.EqualFold(v[:4], "tel:") { // vCard 4.0 VALUE=uri
			v = v[4:]
		}
		fs.set(sifPhoneSlots(sifTypes(p)), v)
	case "EMAIL":
		t := sifTypes(p)
		switch {
		case t["X-FUNAMBOL-INSTANTMESSENGER"]:
			fs.set([]string{"IMAddress"}, sifCVal(p))
		case t["HOME"]:
			fs.set([]string{"Email2Address", "Email1Address", "Email3Address"}, sifCVal(p))
		case t["WORK"]:
			fs.set([]string{"Email3Address", "Email1Address", "Email2Address"}, sifCVal(p))
		default:
			fs.set([]string{"Email1Address", "Email2Address", "Email3Address"}, sifCVal(p))
		}
	case "IMPP":
		fs.set([]string{"IMAddress"}, sifCVal(p))
	case "URL":
		t := sifTypes(p)
		v := strings.TrimSpace(p.Value)
		switch {
		case t["WORK"]:
			fs.set([]string{"BusinessWebPage", "WebPage", "HomeWebPage"}, v)
		case t["HOME"]:
			fs.set([]string{"HomeWebPage", "WebPage", "BusinessWebPage"}, v)
		default:
			fs.set([]string{"WebPage", "BusinessWebPage", "HomeWebPage"}, v)
		}
	case "ADR":
		fs.address(p)
	case "PHOTO":
		fs.photoProp(p)
	case "X-FUNAMBOL-FOLDER":
		fs.set([]string{"Folder"}, sifCVal(p))
	default:
		if x, ok := fs.extraBy[p.Name]; ok {
			v := sifCVal(p)
			if x.date {
				v = sifNormDate(v)
			}
			fs.set([]string{x.elem}, v)
		}
	}
}

// address reads an ADR into the first free address slot its type allows.
func (fs *sifCFields) address(p *vobject.Line) {
	t := sifTypes(p)
	order := []string{"Other", "Business", "Home"}
	switch {
	case t["WORK"]:
		order = []string{"Business", "Other", "Home"}
	case t["HOME"]:
		order = []string{"Home", "Other", "Business"}
	}
	c := vobject.SplitText(p.Value, ';')
	for _, prefix := range order {
		if _, taken := fs.f[prefix+"Address"]; taken {
			continue
		}
		fs.f[prefix+"Address"] = "1"
		for i, part := range sifAddrParts {
			if i < len(c) {
				v := strings.TrimSpace(sifText(c[i]))
				if v != "" {
					fs.f[prefix+"Address"+part] = v
				}
			}
		}
		break
	}
}

// photoProp reads a PHOTO: inline base64, or a data: URI of it.
func (fs *sifCFields) photoProp(p *vobject.Line) {
	v := sifStripSpace(p.Value)
	ptype := p.Params["TYPE"]
	enc := strings.ToUpper(p.Params["ENCODING"])
	switch {
	case enc == "B" || enc == "BASE64":
	case strings.HasPrefix(strings.ToLower(v), "data:"):
		meta, data, ok := strings.Cut(v[5:], ",")
		if !ok || !strings.Contains(strings.ToLower(meta), "base64") {
			return
		}
		if mt, _, _ := strings.Cut(meta, ";"); mt != "" && ptype == "" {
			ptype = mt
		}
		v = data
	default:
		return // a URI SIF cannot carry
	}
	if fs.photo == "" && v != "" {
		fs.photo = v
		fs.photoType = sifPhotoType(ptype)
		if fs.photoType == "" {
			fs.photoType = sifPhotoSniff(v)
		}
	}
}

// write writes the fields as a SIF-C contact, in the Funambol client's
// order.
func (fs *sifCFields) write() []byte {
	w := sifNewWriter("contact")
	for _, e := range []string{"FileAs", "Title", "FirstName", "MiddleName", "LastName", "Suffix", "NickName",
		"CompanyName", "Department", "OfficeLocation", "JobTitle", "Profession", "Birthday"} {
		w.elem(e, fs.f[e])
	}
	for _, p := range sifPhones {
		w.elem(p.elem, fs.f[p.elem])
	}
	for _, e := range sifEmails {
		w.elem(e.elem, fs.f[e.elem])
		if fs.f[e.elem] != "" {
			w.elem(strings.TrimSuffix(e.elem, "Address")+"AddressType", "SMTP")
		} else {
			w.elem(strings.TrimSuffix(e.elem, "Address")+"AddressType", "")
		}
	}
	w.elem("IMAddress", fs.f["IMAddress"])
	for _, u := range sifWebPages {
		w.elem(u.elem, fs.f[u.elem])
	}
	for _, a := range sifAddresses {
		for _, part := range sifAddrParts {
			w.elem(a.prefix+"Address"+part, fs.f[a.prefix+"Address"+part])
		}
	}
	w.elem("Body", fs.f["Body"])
	w.elem("Categories", strings.Join(fs.cats, ", "))
	if fs.f["Sensitivity"] == "" {
		fs.f["Sensitivity"] = "0"
	}
	w.elem("Sensitivity", fs.f["Sensitivity"])
	for _, x := range sifExtras {
		w.elem(x.elem, fs.f[x.elem])
	}
	w.elemAttr("Photo", "TYPE", fs.photoType, fs.photo)
	if fs.f["Folder"] != "" {
		w.elem("Folder", fs.f["Folder"])
	}
	return w.bytes()
}
