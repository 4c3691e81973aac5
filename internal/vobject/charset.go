package vobject

// Character sets of content lines: the CHARSET parameter of vCard 2.1 and
// vCalendar 1.0 values, and UTF-16 input as a whole. One decoder serves
// every reader (vCard, vCalendar, SIF, backup files), so that what one of
// them reads the others read too.

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// DecodeCharset converts b from the character set called charset (a
// CHARSET parameter value) to UTF-8. The name is looked up as the WHATWG
// Encoding Standard names charsets (htmlindex: Shift_JIS, GB2312, KOI8-R,
// ISO-8859-x ...; ISO-8859-1 is read as Windows-1252, so a euro sign
// sent as 0x80 survives), then among the single-byte charsets of x/text
// under the aliases old devices write (CP850, MACROMAN, ISO88591, LATIN2).
//
// A missing, UTF-8 or ASCII charset, an unknown one, or bytes the named
// charset cannot read mean UTF-8 when b is valid UTF-8 and Windows-1252
// otherwise (what devices that send no CHARSET mostly mean). The result
// is always valid UTF-8; it never fails.
func DecodeCharset(b []byte, charset string) string {
	if e := lookupCharset(charset); e != nil {
		if out, err := e.NewDecoder().Bytes(b); err == nil && utf8.Valid(out) {
			return string(out)
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	out, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil || !utf8.Valid(out) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(out)
}

// IsUTF8Charset reports whether charset names UTF-8, written in any of
// the ways devices do (UTF-8, utf8, "UTF_8").
func IsUTF8Charset(charset string) bool {
	return charsetKey(charset) == "UTF8"
}

// lookupCharset returns the decoder for charset, or nil when the bytes
// are to be taken as UTF-8 (see DecodeCharset).
func lookupCharset(charset string) encoding.Encoding {
	switch charsetKey(charset) {
	case "", "UTF8", "USASCII", "ASCII":
		// htmlindex reads US-ASCII as Windows-1252; here ASCII means
		// "no charset", and UTF-8 is checked by DecodeCharset itself.
		return nil
	}
	if e, err := htmlindex.Get(strings.TrimSpace(charset)); err == nil {
		return e
	}
	return singleByteCharset(charset)
}

// singleByteCharset finds a charset of x/text/encoding/charmap by its name
// or a usual alias the WHATWG names lack.
func singleByteCharset(name string) encoding.Encoding {
	n := charsetKey(name)
	switch n {
	case "ISO88591", "LATIN1", "L1", "CP819", "IBM819", "ISO885911987", "WINDOWS1252", "CP1252", "WIN1252", "XCP1252", "ANSI":
		return charmap.Windows1252
	case "MAC", "MACROMAN", "XMACROMAN":
		return charmap.Macintosh
	case "LATIN2":
		return charmap.ISO8859_2
	case "LATIN9":
		return charmap.ISO8859_15
	}
	for _, e := range charmap.All {
		s, ok := e.(fmt.Stringer)
		if !ok {
			continue
		}
		k := charsetKey(s.String())
		num := strings.TrimLeft(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
		if k == n || (num != "" && (strings.HasPrefix(k, "IBMCODEPAGE") || strings.HasPrefix(k, "WINDOWS")) &&
			(n == "CP"+num || n == "IBM"+num || n == "WINDOWS"+num)) {
			return e
		}
	}
	return nil
}

// charsetKey is a charset name upper case with everything but letters and
// digits removed: "iso-8859-1", "ISO_8859-1" and "ISO88591" are one name.
func charsetKey(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// DecodeUTF16 turns data that starts with a UTF-16 byte order mark (either
// byte order) into UTF-8, the mark removed; any other data is returned as
// it is. Address books exported on Windows come so. An odd last byte is
// dropped, an unpaired surrogate becomes U+FFFD.
func DecodeUTF16(data []byte) []byte {
	if len(data) < 2 || !(data[0] == 0xff && data[1] == 0xfe || data[0] == 0xfe && data[1] == 0xff) {
		return data
	}
	data = data[:len(data)&^1]
	// BOMOverride reads the mark and then the byte order it names; the
	// fallback is never used, as there always is a mark here.
	dec := unicode.BOMOverride(unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder())
	out, _, err := transform.Bytes(dec, data)
	if err != nil {
		return data
	}
	return out
}
