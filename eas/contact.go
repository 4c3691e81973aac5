package eas

import (
	"slices"
	"strings"
	"time"

	"syncml-imap/internal/vobject"
)

// Contacts between MS-ASCNTC (with Contacts2 and the AirSyncBase body)
// and the mailbox's vCard 3.0.
//
// Each ActiveSync field has a place in the card: a property, the instance
// among those of its kind (the second work phone is Business2PhoneNumber),
// and for structured values (N, ADR, ORG) a component. A client's change
// replaces only the places of the fields ActiveSync carries: every other
// line of the stored card (a third work phone, IMPP, X- extensions,
// groups, parameters) stays as it is, so a client that holds fewer fields
// loses nothing of the mailbox (issue 10's rule). A field ActiveSync
// carries that the client leaves out of a change is deleted (MS-ASCMD
// Change), unless the client ghosts it (Supported).

// Field is one ActiveSync field of an item: its code page, its name and
// its text (List for the lists of strings: Categories, Children (see
// children.go); Sub for a container's fields: Recurrence, an Attendee, an
// Exception).
type Field struct {
	Page, Name, Value string
	List              []string
	Sub               []Field
}

// place is where a field lives in a card.
type place struct {
	page, name string
	prop       string // vCard property
	kind       string // which instances of prop: a phoneKinds/addrKinds key, "" for any
	nth        int    // the instance among those of kind
	comp       int    // the component of a structured value; -1: the whole value
}

// contactPlaces are the contact fields this front maps, in the order
// MS-ASCNTC lists them.
var contactPlaces = []place{
	{"Contacts", "Anniversary", "X-ANNIVERSARY", "", 0, -1},
	{"Contacts", "AssistantName", "X-EVOLUTION-ASSISTANT", "", 0, -1},
	{"Contacts", "AssistantPhoneNumber", "TEL", "assistant", 0, -1},
	{"Contacts", "Birthday", "BDAY", "", 0, -1},
	{"Contacts", "Business2PhoneNumber", "TEL", "work", 1, -1},
	{"Contacts", "BusinessAddressCity", "ADR", "work", 0, 3},
	{"Contacts", "BusinessAddressCountry", "ADR", "work", 0, 6},
	{"Contacts", "BusinessAddressPostalCode", "ADR", "work", 0, 5},
	{"Contacts", "BusinessAddressState", "ADR", "work", 0, 4},
	{"Contacts", "BusinessAddressStreet", "ADR", "work", 0, 2},
	{"Contacts", "BusinessFaxNumber", "TEL", "workfax", 0, -1},
	{"Contacts", "BusinessPhoneNumber", "TEL", "work", 0, -1},
	{"Contacts", "CarPhoneNumber", "TEL", "car", 0, -1},
	{"Contacts", "CompanyName", "ORG", "", 0, 0},
	{"Contacts", "Department", "ORG", "", 0, 1},
	{"Contacts", "Email1Address", "EMAIL", "", 0, -1},
	{"Contacts", "Email2Address", "EMAIL", "", 1, -1},
	{"Contacts", "Email3Address", "EMAIL", "", 2, -1},
	{"Contacts", "FileAs", "FN", "", 0, -1},
	{"Contacts", "FirstName", "N", "", 0, 1},
	{"Contacts", "Home2PhoneNumber", "TEL", "home", 1, -1},
	{"Contacts", "HomeAddressCity", "ADR", "home", 0, 3},
	{"Contacts", "HomeAddressCountry", "ADR", "home", 0, 6},
	{"Contacts", "HomeAddressPostalCode", "ADR", "home", 0, 5},
	{"Contacts", "HomeAddressState", "ADR", "home", 0, 4},
	{"Contacts", "HomeAddressStreet", "ADR", "home", 0, 2},
	{"Contacts", "HomeFaxNumber", "TEL", "homefax", 0, -1},
	{"Contacts", "HomePhoneNumber", "TEL", "home", 0, -1},
	{"Contacts", "JobTitle", "TITLE", "", 0, -1},
	{"Contacts", "LastName", "N", "", 0, 0},
	{"Contacts", "MiddleName", "N", "", 0, 2},
	{"Contacts", "MobilePhoneNumber", "TEL", "cell", 0, -1},
	{"Contacts", "OfficeLocation", "X-MS-OFFICELOCATION", "", 0, -1},
	{"Contacts", "OtherAddressCity", "ADR", "other", 0, 3},
	{"Contacts", "OtherAddressCountry", "ADR", "other", 0, 6},
	{"Contacts", "OtherAddressPostalCode", "ADR", "other", 0, 5},
	{"Contacts", "OtherAddressState", "ADR", "other", 0, 4},
	{"Contacts", "OtherAddressStreet", "ADR", "other", 0, 2},
	{"Contacts", "PagerNumber", "TEL", "pager", 0, -1},
	{"Contacts", "RadioPhoneNumber", "TEL", "radio", 0, -1},
	{"Contacts", "Spouse", "X-EVOLUTION-SPOUSE", "", 0, -1},
	{"Contacts", "Suffix", "N", "", 0, 4},
	{"Contacts", "Title", "N", "", 0, 3},
	{"Contacts", "WebPage", "URL", "", 0, -1},
	{"Contacts", "Picture", "PHOTO", "", 0, -1},
	{"Contacts2", "ManagerName", "X-EVOLUTION-MANAGER", "", 0, -1},
	{"Contacts2", "CompanyMainPhone", "TEL", "main", 0, -1},
	{"Contacts2", "NickName", "NICKNAME", "", 0, -1},
	{"Contacts2", "MMS", "TEL", "mms", 0, -1},
}

// The list fields and the body.
const (
	fieldCategories = "Categories"
	fieldBody       = "Body" // AirSyncBase:Body, plain text: NOTE
)

// newTypes are the TYPE parameters a new line of a kind gets.
var newTypes = map[string]string{
	"work": "WORK,VOICE", "home": "HOME,VOICE", "cell": "CELL", "workfax": "WORK,FAX", "homefax": "HOME,FAX",
	"pager": "PAGER", "car": "CAR", "radio": "X-RADIO", "assistant": "X-ASSISTANT", "main": "WORK,PREF", "mms": "MSG",
	"other": "OTHER",
}

// kindOf sorts a TEL or ADR line into the ActiveSync field kinds; "" for
// one no field takes.
func kindOf(l vobject.Line) string {
	types := strings.ToUpper(l.Params["TYPE"])
	has := func(t string) bool {
		return slices.ContainsFunc(strings.Split(types, ","), func(s string) bool { return strings.TrimSpace(s) == t })
	}
	if l.Name == "ADR" {
		switch {
		case has("HOME"):
			return "home"
		case has("WORK"):
			return "work"
		}
		return "other"
	}
	switch {
	case has("FAX") && has("HOME"):
		return "homefax"
	case has("FAX"):
		return "workfax"
	case has("CELL"):
		return "cell"
	case has("PAGER"):
		return "pager"
	case has("CAR"):
		return "car"
	case has("X-RADIO"):
		return "radio"
	case has("X-ASSISTANT"):
		return "assistant"
	case has("MSG"):
		return "mms"
	case has("WORK") && has("PREF") && !has("VOICE"):
		return "main"
	case has("WORK"):
		return "work"
	}
	// HOME, VOICE or no type at all: a phone number is a home one unless
	// it says otherwise.
	return "home"
}

// card is a parsed vCard with its lines sorted into places.
type card struct {
	obj *vobject.Object
	// at: the index in obj.Props of each place's line (-1: none); keyed
	// by prop+kind+nth.
	at map[string]int
}

func placeKey(p place) string { return p.prop + "/" + p.kind + "/" + string(rune('0'+p.nth)) }

func parseCard(data []byte) *card {
	objs := vobject.Parse(data)
	c := &card{at: map[string]int{}}
	if len(objs) == 0 || objs[0].Name != "VCARD" {
		c.obj = &vobject.Object{Name: "VCARD"}
		return c
	}
	c.obj = objs[0]
	seen := map[string]int{}
	for i, l := range c.obj.Props {
		kind := ""
		if l.Name == "TEL" || l.Name == "ADR" {
			kind = kindOf(l)
		}
		k := l.Name + "/" + kind
		n := seen[k]
		seen[k]++
		key := k + "/" + string(rune('0'+n))
		if _, ok := c.at[key]; !ok {
			c.at[key] = i
		}
	}
	return c
}

// line is the card's line for a place, nil when it has none.
func (c *card) line(p place) *vobject.Line {
	i, ok := c.at[placeKey(p)]
	if !ok {
		return nil
	}
	return &c.obj.Props[i]
}

// value is a field's value in the card.
func (c *card) value(p place) string {
	l := c.line(p)
	if l == nil {
		return ""
	}
	if p.comp < 0 {
		switch p.prop {
		case "PHOTO":
			return strings.Join(strings.Fields(l.Value), "")
		case "BDAY", "X-ANNIVERSARY":
			return easDate(l.Value)
		case "EMAIL", "URL":
			return l.Value
		}
		return vobject.UnescapeText(l.Value)
	}
	parts := vobject.SplitText(l.Value, ';')
	if p.comp < len(parts) {
		return strings.TrimSpace(parts[p.comp])
	}
	return ""
}

// ContactFields are the ActiveSync fields of a stored card, in schema
// order, empty ones left out.
func ContactFields(data []byte) []Field {
	c := parseCard(data)
	var out []Field
	for _, p := range contactPlaces {
		if v := c.value(p); v != "" {
			out = append(out, Field{Page: p.page, Name: p.name, Value: v})
		}
	}
	out = append(out, categoriesField("Contacts", c.obj.Prop("CATEGORIES"))...)
	out = append(out, childrenField(c)...)
	if note := c.obj.Prop("NOTE"); note != nil && note.Value != "" {
		out = append(out, Field{Page: "AirSyncBase", Name: fieldBody, Value: vobject.UnescapeText(note.Value)})
	}
	return out
}

// easDate is a vCard date (1976-01-12, 19760112, or a date-time) as
// ActiveSync writes dates: 1976-01-12T00:00:00.000Z.
func easDate(v string) string {
	d := strings.ReplaceAll(v, "-", "")
	if len(d) < 8 {
		return ""
	}
	d = d[:8]
	for _, ch := range d {
		if ch < '0' || ch > '9' {
			return ""
		}
	}
	return d[:4] + "-" + d[4:6] + "-" + d[6:8] + "T00:00:00.000Z"
}

// cardDate is an ActiveSync date as a vCard date. Clients write a
// birthday as midnight of the day in their zone, converted to UTC, so a
// time past noon means the next day (MS-ASCNTC has no date type).
func cardDate(v string) string {
	if len(v) < 10 {
		return ""
	}
	date := v[:10]
	if len(v) >= 13 && v[10] == 'T' && v[11:13] >= "12" {
		if t, err := parseDay(date); err == nil {
			return t.AddDate(0, 0, 1).Format("2006-01-02")
		}
	}
	if _, err := parseDay(date); err != nil {
		return ""
	}
	return date
}

// mailAddr is the address of an ActiveSync e-mail field, which clients
// may write as `"Name" <addr>`.
func mailAddr(v string) string {
	v = strings.TrimSpace(v)
	if i, j := strings.LastIndex(v, "<"), strings.LastIndex(v, ">"); i >= 0 && j > i {
		return strings.TrimSpace(v[i+1 : j])
	}
	return v
}

// ApplyContact is the stored card (nil: a new contact) with a client's
// fields: the places of the fields ActiveSync carries take the client's
// values (a field it left out is cleared, unless ghosted names it);
// every other line stays as it was. The result is vCard 3.0.
func ApplyContact(stored []byte, fields []Field, ghosted []string) []byte {
	c := parseCard(stored)
	got := map[string]Field{}
	for _, f := range fields {
		got[f.Name] = f
	}
	keep := func(name string) bool {
		_, sent := got[name]
		return !sent && slices.Contains(ghosted, name)
	}
	// New values per line: structured lines are rebuilt from their
	// components.
	type edit struct {
		p     place
		value string
	}
	edits := map[string][]edit{} // placeKey → the fields of that line
	var order []string
	for _, p := range contactPlaces {
		if keep(p.name) {
			continue
		}
		v := strings.TrimSpace(got[p.name].Value)
		if v == c.value(p) || p.name == "FileAs" && v == "" {
			// A card keeps its FN (vCard requires one) when the client
			// has no FileAs.
			continue
		}
		k := placeKey(p)
		if _, ok := edits[k]; !ok {
			order = append(order, k)
		}
		edits[k] = append(edits[k], edit{p, v})
	}
	lines := make([]string, len(c.obj.Props))
	dropped := make([]bool, len(c.obj.Props))
	for i, l := range c.obj.Props {
		lines[i] = l.Orig
	}
	var added []string
	for _, k := range order {
		es := edits[k]
		p := es[0].p
		l := c.line(p)
		var text string
		if p.comp >= 0 {
			n := map[string]int{"N": 5, "ADR": 7, "ORG": 2}[p.prop]
			var parts []string
			if l != nil {
				parts = vobject.SplitText(l.Value, ';')
			}
			for len(parts) < n {
				parts = append(parts, "")
			}
			for _, e := range es {
				parts[e.p.comp] = e.value
			}
			if strings.Join(parts, "") != "" || p.prop == "N" {
				text = vobject.JoinText(parts, ';')
			}
		} else {
			v := es[0].value
			switch p.prop {
			case "BDAY", "X-ANNIVERSARY":
				text = cardDate(v)
			case "EMAIL":
				text = mailAddr(v)
			case "URL":
				text = v
			case "PHOTO":
				text = strings.Join(strings.Fields(v), "")
			default:
				text = vobject.EscapeText(v)
			}
		}
		var head string
		switch {
		case l != nil:
			// The line's name and parameters stay; only its value changes.
			head = strings.TrimSuffix(l.Raw, ":"+l.RawValue)
			if head == l.Raw {
				head = l.Name
			}
		case p.prop == "PHOTO":
			head = "PHOTO;ENCODING=b;TYPE=JPEG"
		case p.prop == "EMAIL":
			head = "EMAIL;TYPE=INTERNET"
		case p.kind != "":
			head = p.prop + ";TYPE=" + newTypes[p.kind]
		default:
			head = p.prop
		}
		var out string
		if text != "" {
			var b strings.Builder
			vobject.WriteFolded(&b, head+":"+text)
			out = b.String()
		}
		if l != nil {
			i := c.at[k]
			lines[i], dropped[i] = out, out == ""
		} else if out != "" {
			added = append(added, out)
		}
	}
	// The lists and the body, whole.
	setWhole := func(name, prop, text string, sent bool) {
		if !sent && slices.Contains(ghosted, name) {
			return
		}
		i := slices.IndexFunc(c.obj.Props, func(l vobject.Line) bool { return l.Name == prop })
		var out string
		if text != "" {
			var b strings.Builder
			vobject.WriteFolded(&b, prop+":"+text)
			out = b.String()
		}
		if i >= 0 {
			if vobject.UnescapeText(c.obj.Props[i].Value) == vobject.UnescapeText(text) {
				return
			}
			lines[i] = out
		} else if out != "" {
			added = append(added, out)
		}
	}
	cats, sent := got[fieldCategories]
	catParts := nonEmpty(cats.List)
	if cur := c.obj.Prop("CATEGORIES"); cur == nil || !slices.Equal(vobject.SplitText(cur.Value, ','), catParts) {
		setWhole(fieldCategories, "CATEGORIES", vobject.JoinText(catParts, ','), sent)
	}
	body, sent := got[fieldBody]
	setWhole(fieldBody, "NOTE", vobject.EscapeText(strings.ReplaceAll(body.Value, "\r\n", "\n")), sent)
	if ch, sent := got[fieldChildren]; sent || !slices.Contains(ghosted, fieldChildren) {
		added = append(added, applyChildren(c, nonEmpty(ch.List), lines, dropped)...)
	}

	var b strings.Builder
	b.WriteString("BEGIN:VCARD\r\nVERSION:3.0\r\n")
	for i, l := range c.obj.Props {
		if l.Name == "BEGIN" || l.Name == "END" || l.Name == "VERSION" || dropped[i] {
			continue
		}
		b.WriteString(lines[i])
	}
	for _, a := range added {
		b.WriteString(a)
	}
	if c.obj.Prop("N") == nil && !slices.ContainsFunc(added, func(s string) bool { return strings.HasPrefix(s, "N:") }) {
		b.WriteString("N:;;;;\r\n") // vCard 3.0 requires N
	}
	if c.obj.Prop("FN") == nil && got["FileAs"].Value == "" {
		fn := strings.TrimSpace(strings.Join([]string{got["FirstName"].Value, got["MiddleName"].Value, got["LastName"].Value}, " "))
		fn = strings.Join(strings.Fields(fn), " ")
		if fn == "" {
			fn = got["CompanyName"].Value
		}
		if fn == "" {
			fn = mailAddr(got["Email1Address"].Value)
		}
		b.WriteString("FN:" + vobject.EscapeText(fn) + "\r\n") // vCard 3.0 requires FN
	}
	b.WriteString("END:VCARD\r\n")
	return []byte(b.String())
}

func parseDay(s string) (time.Time, error) { return time.Parse("2006-01-02", s) }
