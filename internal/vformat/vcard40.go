package vformat

// vCard 4.0 (RFC 6350) to the stored vCard 3.0 (RFC 2426). RFC 6350
// appendix A lists what changed; this is the way back. Nothing 3.0 can
// carry is lost; what it cannot carry is kept under an X- name (the names
// Apple's address book writes where it has one), so the card says it all
// and a device that keeps what it does not know gives it back.
//
// Decisions:
//
//   - PREF=n: the instances of a property with the lowest PREF (1 is the
//     most preferred) get TYPE=pref, the others lose PREF. 3.0 has a
//     preferred one, not a ranking.
//   - TYPE values are written upper case, as the 2.1 path writes them;
//     a quoted list (TYPE="work,voice") becomes TYPE=WORK,VOICE.
//   - VALUE: the 4.0 defaults and types 3.0 lacks (text on TEL, uri on a
//     tel: TEL or geo: GEO, date-and-or-time, timestamp, language-tag)
//     are dropped with the URI scheme; tel:+49-30-1234 becomes +49-30-1234.
//   - GEO:geo:lat,lon (its ;u= and other URI parameters dropped) becomes
//     GEO:lat;lon.
//   - PHOTO, LOGO, SOUND, KEY: a base64 data: URI becomes ENCODING=b with
//     TYPE from its media type (data:image/jpeg → TYPE=JPEG); a URL stays
//     VALUE=uri, MEDIATYPE becoming TYPE. A data: URI without base64 stays
//     a VALUE=uri.
//   - BDAY (and ANNIVERSARY, DEATHDATE): a date without year (--MMDD,
//     --MM-DD) is written 1604-MM-DD with X-APPLE-OMIT-YEAR=1604, as Apple
//     does (and Thunderbird, Evolution and Android read); a full date or
//     date-time is kept. Forms 3.0 has no room for (text, year or month
//     only, a time alone) go to X-BDAY as written.
//   - KIND, MEMBER: X-ADDRESSBOOKSERVER-KIND and -MEMBER (Apple's group
//     cards). ANNIVERSARY, GENDER, LANG, XML, RELATED, and the RFC 6474/
//     6715 properties become X-ANNIVERSARY, X-GENDER, ... .
//   - ADR;LABEL="..." also gives a LABEL property of the same TYPEs.
//   - SORT-AS on N (else ORG) gives SORT-STRING, its components joined by
//     a space, unless the card has one.
//   - TZ: a text value (America/New_York) gets VALUE=text; a utc-offset
//     -0500 is written -05:00, 3.0's default.
//   - CLIENTPIDMAP and PID parameters are dropped: they number 4.0 sync
//     sources, which mean nothing outside 4.0 sync. ALTID, LANGUAGE and
//     other parameters are kept as written (3.0 takes any IANA parameter).
//   - RFC 6868 parameter escapes (^n ^' ^^) are undone.
//   - N, required by 3.0 and optional in 4.0, is added empty when missing.
//   - Text values keep their escapes: 4.0 and 3.0 escape alike.

import (
	"strconv"
	"strings"

	"syncml-imap/internal/vobject"
)

// vcard40Renamed names what 3.0 has no property for.
var vcard40Renamed = map[string]string{
	"KIND":          "X-ADDRESSBOOKSERVER-KIND",
	"MEMBER":        "X-ADDRESSBOOKSERVER-MEMBER",
	"ANNIVERSARY":   "X-ANNIVERSARY",
	"GENDER":        "X-GENDER",
	"LANG":          "X-LANG",
	"XML":           "X-XML",
	"RELATED":       "X-RELATED",
	"BIRTHPLACE":    "X-BIRTHPLACE",
	"DEATHPLACE":    "X-DEATHPLACE",
	"DEATHDATE":     "X-DEATHDATE",
	"EXPERTISE":     "X-EXPERTISE",
	"HOBBY":         "X-HOBBY",
	"INTEREST":      "X-INTEREST",
	"ORG-DIRECTORY": "X-ORG-DIRECTORY",
}

// vcard40 converts the properties of one 4.0 card.
type vcard40 struct {
	minPref    map[string]int // per property name, the lowest PREF
	sortString bool           // the card has a SORT-STRING, or one was made
}

func newVCard40(c *vcardCard) *vcard40 {
	v := &vcard40{minPref: map[string]int{}}
	for _, p := range c.props {
		if p.name == "SORT-STRING" {
			v.sortString = true
		}
		for _, prm := range p.params {
			if prm.Name != "PREF" {
				continue
			}
			if n, ok := vcardPrefValue(prm); ok {
				if m, seen := v.minPref[p.name]; !seen || n < m {
					v.minPref[p.name] = n
				}
			}
		}
	}
	return v
}

func vcardPrefValue(prm vobject.Param) (int, bool) {
	n, err := strconv.Atoi(vcardFirst(prm))
	return n, err == nil
}

// vcard6868 undoes RFC 6868 escapes in a parameter value; newline is what
// ^n becomes.
func vcard6868(s, newline string) string {
	if !strings.Contains(s, "^") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '^' && i+1 < len(s) {
			switch s[i+1] {
			case 'n', 'N':
				b.WriteString(newline)
				i++
				continue
			case '\'':
				b.WriteByte('"')
				i++
				continue
			case '^':
				b.WriteByte('^')
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// prop converts one property: the 3.0 lines it gives (none, one, or more
// with the LABEL or SORT-STRING it carried as a parameter) and its
// unescaped components (for building FN).
func (v *vcard40) prop(p *vcardLine, depth int) ([]string, []string) {
	if p.name == "CLIENTPIDMAP" {
		return nil, nil
	}
	q := v.params(p)
	q.text = vcardValue30(p, q.binary, q.charset, depth)
	q.convertValue(p.name)
	out := []string{q.header(p.group) + ":" + q.text}

	kind := vcardKindText
	if p.name == "N" || p.name == "ORG" {
		kind = vcardKindStruct
	}
	comps := vcardSplit(q.text, kind, true)
	if q.label != "" {
		out = append(out, q.labelLine(p.group))
	}
	if s := v.sortStringLine(q.sortAs); s != "" {
		out = append(out, s)
	}
	return out, comps
}

// sortStringLine is the SORT-STRING a SORT-AS parameter gives, "" when
// there is none or the card has one already: 3.0 has one for the card,
// not one per property.
func (v *vcard40) sortStringLine(sortAs []string) string {
	if len(sortAs) == 0 || v.sortString {
		return ""
	}
	v.sortString = true
	s := strings.TrimSpace(strings.Join(sortAs, " "))
	if s == "" {
		return ""
	}
	return "SORT-STRING:" + vobject.EscapeText(s)
}

// prop40 is one 4.0 property on its way to a 3.0 line.
type prop40 struct {
	name   string   // the 3.0 name
	types  []string // TYPE values, upper case
	parts  []string // the other parameters, written as 3.0 writes them
	typeAt int      // where in parts TYPE goes, -1 while it has no place
	vcardEncoding
	valueType string // VALUE, lower case
	mediatype string
	label     string   // ADR's LABEL parameter, its line breaks undone
	sortAs    []string // SORT-AS of N or ORG, its components
	pref      bool     // it has the card's lowest PREF of its name

	text  string // the value, as 3.0 writes it
	value string // the VALUE (or ENCODING) parameter part, "" for the default
}

// params reads the parameters of p.
func (v *vcard40) params(p *vcardLine) *prop40 {
	q := &prop40{name: p.rawName, typeAt: -1}
	if n, ok := vcard40Renamed[p.name]; ok {
		q.name = n
	}
	for _, prm := range p.params {
		q.param(p.name, prm, v.minPref[p.name])
	}
	if q.pref {
		q.types = vcardAddType(q.types, "PREF")
		q.typeSlot()
	}
	return q
}

// param reads one parameter of a property named prop; minPref is the
// lowest PREF among the card's properties of that name.
func (q *prop40) param(prop string, prm vobject.Param, minPref int) {
	if q.read(prm) {
		return
	}
	vals := make([]string, len(prm.Values))
	for i, s := range prm.Values {
		vals[i] = vcard6868(s, " ")
	}
	switch prm.Name {
	case "TYPE":
		for _, s := range vals {
			q.types = vcardAddType(q.types, s)
		}
		q.typeSlot()
	case "PREF":
		if n, ok := vcardPrefValue(prm); ok && n == minPref {
			q.pref = true
		}
	case "PID":
	case "VALUE":
		q.valueType = strings.ToLower(vcardFirst(prm))
	case "MEDIATYPE":
		q.mediatype = vcardFirst(prm)
	case "LABEL":
		if prop == "ADR" && len(prm.Values) > 0 {
			label := vcard6868(strings.Join(prm.Values, ","), "\n")
			// RFC 6350's own example writes the line breaks as \n.
			q.label = strings.NewReplacer(`\n`, "\n", `\N`, "\n").Replace(label)
			return
		}
		q.parts = append(q.parts, vcardParam30(prm.Name, vals))
	case "SORT-AS":
		if prop == "N" || prop == "ORG" {
			for _, s := range vals {
				q.sortAs = append(q.sortAs, strings.Split(s, ",")...)
			}
			return
		}
		q.parts = append(q.parts, vcardParam30(prm.Name, vals))
	case "CALSCALE":
		if !strings.EqualFold(vcardFirst(prm), "gregorian") {
			q.parts = append(q.parts, vcardParam30(prm.Name, vals))
		}
	default:
		q.parts = append(q.parts, vcardParam30(prm.Name, vals))
	}
}

// typeSlot gives TYPE its place among the parameters: where the first
// TYPE was written, or after the others when it is made up.
func (q *prop40) typeSlot() {
	if q.typeAt < 0 {
		q.typeAt, q.parts = len(q.parts), append(q.parts, "")
	}
}

// header is the 3.0 line up to the colon.
func (q *prop40) header(group string) string {
	if q.typeAt >= 0 {
		if len(q.types) == 0 {
			q.parts = append(q.parts[:q.typeAt], q.parts[q.typeAt+1:]...)
		} else {
			q.parts[q.typeAt] = vcardParam30("TYPE", q.types)
		}
	}
	return vcardCleanHeader(vcardPrefix(group, q.name) + q.value + strings.Join(q.parts, ""))
}

// labelLine is the LABEL property an ADR's LABEL parameter becomes, of
// the ADR's TYPEs.
func (q *prop40) labelLine(group string) string {
	l := vcardPrefix(group, "LABEL")
	if len(q.types) > 0 {
		l += vcardParam30("TYPE", q.types)
	}
	return vcardCleanHeader(l) + ":" + strings.ReplaceAll(vobject.EscapeText(vcardCleanText(q.label)), "\n", `\n`)
}
