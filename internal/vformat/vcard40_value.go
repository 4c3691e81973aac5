package vformat

import "strings"

// The value of a 4.0 property as 3.0 writes it, one property family a
// function: what VALUE becomes and how the value is rewritten.

// convertValue sets q.value and rewrites q.text for the property named
// prop.
func (q *prop40) convertValue(prop string) {
	switch {
	case q.binary:
		q.value = ";ENCODING=b"
	case vcardIsBinaryProp(prop):
		q.binaryValue(prop)
	case prop == "TEL":
		q.uriValue(vcardTelURI)
	case prop == "GEO":
		q.uriValue(vcardGeo30)
	case prop == "BDAY" || prop == "ANNIVERSARY" || prop == "DEATHDATE":
		q.dateValue(prop)
	case prop == "TZ":
		q.tzValue()
	default:
		q.otherValue(prop)
	}
}

// binaryValue: PHOTO, LOGO, SOUND, KEY. A base64 data: URI becomes
// ENCODING=b, its media type the TYPE; anything else is a URI, or for KEY
// text that names no scheme.
func (q *prop40) binaryValue(prop string) {
	if mt, data, ok := vcardDataURI(q.text); ok {
		q.value, q.text = ";ENCODING=b", data
		if q.mediatype == "" {
			q.mediatype = mt
		}
	} else if prop == "KEY" && (q.valueType == "text" || q.valueType == "") && !strings.Contains(q.text, ":") {
		q.value = ";VALUE=text"
	} else {
		q.value = ";VALUE=uri"
	}
	if q.mediatype != "" && len(q.types) == 0 {
		q.types = []string{vcardMediaSubtype(q.mediatype)}
		q.typeSlot()
	}
}

// uriValue: TEL and GEO, whose 4.0 form is a URI (tel:, geo:) and 3.0
// form the text inside it; read gives that text. Another URI stays one.
func (q *prop40) uriValue(read func(string) (string, bool)) {
	if t, ok := read(q.text); ok {
		q.text = t
	} else if q.valueType == "uri" {
		q.value = ";VALUE=uri"
	}
}

// dateValue: BDAY, ANNIVERSARY, DEATHDATE. A date 3.0 cannot write is
// kept as written, and a BDAY of that kind moves to X-BDAY.
func (q *prop40) dateValue(prop string) {
	date, omit, ok := vcardDate30(q.text, q.valueType)
	switch {
	case !ok && prop == "BDAY":
		q.name = "X-BDAY"
		if q.valueType != "" {
			q.value = vcardParam30("VALUE", []string{q.valueType})
		}
	case !ok:
		if q.valueType != "" {
			q.value = vcardParam30("VALUE", []string{q.valueType})
		}
	default:
		q.text = date
		if omit {
			q.value = ";X-APPLE-OMIT-YEAR=1604"
		}
	}
}

// tzValue: a UTC offset is written as 3.0 does; anything else is text
// (a zone name) or a URI.
func (q *prop40) tzValue() {
	switch q.valueType {
	case "utc-offset":
		q.text = vcardOffset30(q.text)
	case "uri":
		q.value = ";VALUE=uri"
	default:
		if _, ok := vcardOffsetOK(q.text); ok {
			q.text = vcardOffset30(q.text)
		} else {
			q.value = ";VALUE=text"
		}
	}
}

// otherValue: the 4.0 value types 3.0 lacks or has as its default are
// dropped; VALUE=uri is kept on properties whose default is not a URI.
func (q *prop40) otherValue(prop string) {
	switch q.valueType {
	case "", "text", "date-and-or-time", "timestamp", "language-tag", "phone-number":
	case "uri", "url": // Thunderbird writes URL;VALUE=URL
		if prop != "URL" && prop != "SOURCE" && prop != "FBURL" && prop != "CALURI" &&
			prop != "CALADRURI" && prop != "IMPP" && prop != "MEMBER" {
			q.value = ";VALUE=uri"
		}
	default:
		q.value = vcardParam30("VALUE", []string{q.valueType})
	}
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

// vcardGeo30 reads a geo: URI as 3.0's GEO value, "lat;lon".
func vcardGeo30(s string) (string, bool) {
	t, ok := vcardGeoURI(s)
	return strings.Replace(t, ",", ";", 1), ok
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
