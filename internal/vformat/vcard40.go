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
	name := p.rawName
	if n, ok := vcard40Renamed[p.name]; ok {
		name = n
	}
	var types, parts []string
	typeAt := -1
	binary := false
	charset, valueType, mediatype, label := "", "", "", ""
	var sortAs []string
	pref := false
	for _, prm := range p.params {
		vals := make([]string, len(prm.Values))
		for i, s := range prm.Values {
			vals[i] = vcard6868(s, " ")
		}
		switch prm.Name {
		case "TYPE":
			for _, s := range vals {
				types = vcardAddType(types, s)
			}
			if typeAt < 0 {
				typeAt, parts = len(parts), append(parts, "")
			}
		case "PREF":
			if n, ok := vcardPrefValue(prm); ok && n == v.minPref[p.name] {
				pref = true
			}
		case "PID":
		case "ENCODING":
			switch strings.ToUpper(vcardFirst(prm)) {
			case "B", "BASE64":
				binary = true
			}
		case "CHARSET":
			charset = vcardFirst(prm)
		case "VALUE":
			valueType = strings.ToLower(vcardFirst(prm))
		case "MEDIATYPE":
			mediatype = vcardFirst(prm)
		case "LABEL":
			if p.name == "ADR" && len(prm.Values) > 0 {
				label = vcard6868(strings.Join(prm.Values, ","), "\n")
				// RFC 6350's own example writes the line breaks as \n.
				label = strings.NewReplacer(`\n`, "\n", `\N`, "\n").Replace(label)
				continue
			}
			parts = append(parts, vcardParam30(prm.Name, vals))
		case "SORT-AS":
			if p.name == "N" || p.name == "ORG" {
				for _, s := range vals {
					sortAs = append(sortAs, strings.Split(s, ",")...)
				}
				continue
			}
			parts = append(parts, vcardParam30(prm.Name, vals))
		case "CALSCALE":
			if !strings.EqualFold(vcardFirst(prm), "gregorian") {
				parts = append(parts, vcardParam30(prm.Name, vals))
			}
		default:
			parts = append(parts, vcardParam30(prm.Name, vals))
		}
	}
	if pref {
		types = vcardAddType(types, "PREF")
		if typeAt < 0 {
			typeAt, parts = len(parts), append(parts, "")
		}
	}

	text := vcardValue30(p, binary, charset, depth)

	// What the value is in 3.0: VALUE (as a parameter part, "" for the
	// default) and the value itself.
	value := ""
	switch {
	case binary:
		value = ";ENCODING=b"
	case vcardIsBinaryProp(p.name):
		if mt, data, ok := vcardDataURI(text); ok {
			value, text = ";ENCODING=b", data
			if mediatype == "" {
				mediatype = mt
			}
		} else if p.name == "KEY" && (valueType == "text" || valueType == "") && !strings.Contains(text, ":") {
			value = ";VALUE=text"
		} else {
			value = ";VALUE=uri"
		}
		if mediatype != "" && len(types) == 0 {
			types = []string{vcardMediaSubtype(mediatype)}
			if typeAt < 0 {
				typeAt, parts = len(parts), append(parts, "")
			}
		}
	case p.name == "TEL":
		if t, ok := vcardTelURI(text); ok {
			text = t
		} else if valueType == "uri" {
			value = ";VALUE=uri"
		}
	case p.name == "GEO":
		if t, ok := vcardGeoURI(text); ok {
			text = strings.Replace(t, ",", ";", 1)
		} else if valueType == "uri" {
			value = ";VALUE=uri"
		}
	case p.name == "BDAY" || p.name == "ANNIVERSARY" || p.name == "DEATHDATE":
		date, omit, ok := vcardDate30(text, valueType)
		switch {
		case !ok && p.name == "BDAY":
			name = "X-BDAY"
			if valueType != "" {
				value = vcardParam30("VALUE", []string{valueType})
			}
		case !ok:
			if valueType != "" {
				value = vcardParam30("VALUE", []string{valueType})
			}
		default:
			text = date
			if omit {
				value = ";X-APPLE-OMIT-YEAR=1604"
			}
		}
	case p.name == "TZ":
		switch valueType {
		case "utc-offset":
			text = vcardOffset30(text)
		case "uri":
			value = ";VALUE=uri"
		default:
			if _, ok := vcardOffsetOK(text); ok {
				text = vcardOffset30(text)
			} else {
				value = ";VALUE=text"
			}
		}
	default:
		switch valueType {
		case "", "text", "date-and-or-time", "timestamp", "language-tag", "phone-number":
		case "uri", "url": // Thunderbird writes URL;VALUE=URL
			if p.name != "URL" && p.name != "SOURCE" && p.name != "FBURL" && p.name != "CALURI" &&
				p.name != "CALADRURI" && p.name != "IMPP" && p.name != "MEMBER" {
				value = ";VALUE=uri"
			}
		default:
			value = vcardParam30("VALUE", []string{valueType})
		}
	}

	if typeAt >= 0 {
		if len(types) == 0 {
			parts = append(parts[:typeAt], parts[typeAt+1:]...)
		} else {
			parts[typeAt] = vcardParam30("TYPE", types)
		}
	}
	hdr := vcardCleanHeader(vcardPrefix(p.group, name) + value + strings.Join(parts, ""))
	out := []string{hdr + ":" + text}

	kind := vcardKindText
	if p.name == "N" || p.name == "ORG" {
		kind = vcardKindStruct
	}
	comps := vcardSplit(text, kind, true)
	if label != "" {
		l := vcardPrefix(p.group, "LABEL")
		if len(types) > 0 {
			l += vcardParam30("TYPE", types)
		}
		out = append(out, vcardCleanHeader(l)+":"+strings.ReplaceAll(vobject.EscapeText(vcardCleanText(label)), "\n", `\n`))
	}
	if len(sortAs) > 0 && !v.sortString {
		v.sortString = true
		s := strings.TrimSpace(strings.Join(sortAs, " "))
		if s != "" {
			out = append(out, "SORT-STRING:"+vobject.EscapeText(s))
		}
	}
	return out, comps
}

// vcardDate30 writes a 4.0 date (RFC 6350 4.3.1, 4.3.4) as a 3.0 date:
// ok is false for forms 3.0 has no room for. omit says the year was not
// given (and 1604 stands in for it).
func vcardDate30(s, valueType string) (date string, omit, ok bool) {
	s = strings.TrimSpace(s)
	switch valueType {
	case "", "date", "date-time", "date-and-or-time", "timestamp":
	default:
		return "", false, false
	}
	digits := func(t string) bool {
		for i := 0; i < len(t); i++ {
			if t[i] < '0' || t[i] > '9' {
				return false
			}
		}
		return t != ""
	}
	date, rest, _ := strings.Cut(s, "T")
	if rest != "" && date == "" {
		return "", false, false // a time alone
	}
	switch {
	case strings.HasPrefix(date, "--") && rest == "":
		md := strings.ReplaceAll(date[2:], "-", "")
		if len(md) != 4 || !digits(md) {
			return "", false, false
		}
		return "1604-" + md[:2] + "-" + md[2:], true, true
	case len(date) == 8 && digits(date), len(date) == 10 && date[4] == '-' && date[7] == '-' &&
		digits(date[:4]) && digits(date[5:7]) && digits(date[8:]):
		return s, false, true
	}
	return "", false, false
}

// vcardOffsetOK reads a UTC offset: +hh, +hhmm or +hh:mm.
func vcardOffsetOK(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 3 || s[0] != '+' && s[0] != '-' {
		return "", false
	}
	d := strings.ReplaceAll(s[1:], ":", "")
	if len(d) != 2 && len(d) != 4 {
		return "", false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return "", false
		}
	}
	if len(d) == 2 {
		d += "00"
	}
	return s[:1] + d[:2] + ":" + d[2:], true
}

// vcardOffset30 writes a UTC offset as 3.0 does (-05:00), or s as it is.
func vcardOffset30(s string) string {
	if o, ok := vcardOffsetOK(s); ok {
		return o
	}
	return s
}

// vcardDataURI reads a base64 data: URI (RFC 2397): its media type and
// its data without white space.
func vcardDataURI(s string) (mediatype, data string, ok bool) {
	if len(s) <= 5 || !strings.EqualFold(s[:5], "data:") {
		return "", "", false
	}
	comma := strings.IndexByte(s, ',')
	if comma < 0 {
		return "", "", false
	}
	meta := s[5:comma]
	if !strings.HasSuffix(strings.ToLower(meta), ";base64") {
		return "", "", false
	}
	mediatype = strings.TrimSuffix(meta[:len(meta)-len(";base64")], ";")
	if i := strings.IndexByte(mediatype, ';'); i >= 0 {
		mediatype = mediatype[:i]
	}
	return mediatype, vcardBase64([]byte(s[comma+1:])), true
}

// vcardTelURI reads a tel: URI (RFC 3966) as the number it holds.
func vcardTelURI(s string) (string, bool) {
	if len(s) > 4 && strings.EqualFold(s[:4], "tel:") {
		return s[4:], true
	}
	return "", false
}

// vcardGeoURI reads a geo: URI (RFC 5870) as "lat,lon", its altitude
// and parameters (;u=10, ;crs=) dropped: neither 2.1 nor 3.0 has room
// for them.
func vcardGeoURI(s string) (string, bool) {
	if len(s) <= 4 || !strings.EqualFold(s[:4], "geo:") {
		return "", false
	}
	s = s[4:]
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	if lat, rest, ok := strings.Cut(s, ","); ok {
		lon, _, _ := strings.Cut(rest, ",")
		s = lat + "," + lon
	}
	return s, true
}
