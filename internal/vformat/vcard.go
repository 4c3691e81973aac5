package vformat

// vCard conversion between the vCard 2.1 form old devices send and the
// vCard 3.0 form the store keeps; vCard 4.0 to 3.0 is in vcard40.go.
//
// Decisions on points the specifications leave open (see also the
// comments of VCard21To30 and VCard30To21):
//
//   - Unfolding: in a vCard 2.1 card a continuation line (one starting with
//     a space or tab) is joined keeping its leading white space, as RFC 822
//     folding (which 2.1 uses) prescribes; in 3.0/4.0 one white space
//     character is removed. Base64 values drop all white space anyway. The
//     rule is chosen by the first VERSION line of the input.
//   - A line that is neither a property nor a continuation (a stray line
//     break inside a value, unindented base64) is appended to the value
//     before it after a line break; blank lines end a value. Stray
//     BEGIN:X/END:X lines inside a card are dropped; a BEGIN:VCARD that does
//     not follow an empty AGENT starts a new card. AGENT nesting deeper
//     than vcardMaxDepth is dropped.
//   - vCard 2.1 backslash escapes: \\ \; \, \: are undone; any other
//     backslash is literal. "\n" is not a line break in 2.1 (QP =0D=0A is).
//     On output 2.1 gets \; and \\ (as Synthesis/SyncEvolution write it);
//     commas stay literal except inside CATEGORIES/NICKNAME items.
//   - Charsets: a missing or unknown CHARSET means UTF-8 when the bytes are
//     valid UTF-8, otherwise Windows-1252. ISO-8859-1 is decoded as
//     Windows-1252 (as WHATWG does), so a euro sign sent as 0x80 survives.
//     Other charsets, multi-byte ones (Shift_JIS, GB2312, ...) included,
//     are read by vobject.DecodeCharset, as in vCalendars. UTF-16 input
//     with a byte order mark is accepted.
//   - N and ADR components: list commas inside a component become literal
//     commas after a trip through 2.1 (2.1 has no lists there).
//   - CATEGORIES and NICKNAME are lists: in 2.1 both ',' and ';' separate
//     items on input, ',' on output.
//   - GEO is "lat,lon" in 2.1 and "lat;lon" in 3.0.
//   - 2.1 has no NICKNAME, CATEGORIES, SORT-STRING, PRODID, ... : they are
//     kept under their own names (2.1 tells receivers to ignore unknown
//     properties; CATEGORIES and NICKNAME are widely understood), so they
//     survive devices that keep what they do not know. Nothing is renamed
//     to X-.
//   - Parameters 2.1 cannot express are dropped on the way to 2.1: CHARSET
//     (recomputed), VALUE=text/date/... (defaults), MEDIATYPE (used for the
//     photo type). A 4.0 card goes to 3.0 first (vcard40.go).
//   - 2.1 output: plain ASCII lines are not folded however long (folding
//     is where 2.1 parsers disagree); quoted-printable lines are soft-broken
//     at 76 characters with white space at a break encoded (=20).
//   - A converted 2.1 card lacking N or FN (both required by 3.0) gets an
//     empty N and an FN made from N, ORG, EMAIL or TEL.

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"syncml-imap/internal/vobject"
)

// VCardErrNotVCard is returned when the input holds no BEGIN:VCARD line.
var VCardErrNotVCard = errors.New("vformat: not a vCard (no BEGIN:VCARD)")

// vcardMaxDepth limits AGENT nesting; deeper nested cards are dropped.
const vcardMaxDepth = 4

// VCard21To30 converts a vCard of any version (2.1, older or odd, 3.0,
// 4.0) to vCard 3.0 as stored: VERSION:3.0, UTF-8, TYPE= parameters
// (TEL;CELL;VOICE becomes TEL;TYPE=CELL,VOICE), QUOTED-PRINTABLE and
// CHARSET decoded, ENCODING=b for base64 (data kept exactly), groups,
// unknown and X- properties kept, TEXT escaped per RFC 2426, a nested
// AGENT vCard converted and embedded as escaped text. Output lines end in CRLF and are folded at 75 octets, never
// inside a UTF-8 sequence. A 3.0 card is returned normalised (CRLF,
// folding, QP/CHARSET decoded, ENCODING=BASE64 written as b) but otherwise
// unchanged. A 4.0 card is converted to 3.0 as vcard40.go says: what 3.0
// cannot carry is kept under X- names. Every card that comes out is 3.0;
// several cards in the input give several cards in the output. The only
// error is VCardErrNotVCard.
func VCard21To30(in []byte) ([]byte, error) {
	cards := vcardParse(in)
	if len(cards) == 0 {
		return nil, VCardErrNotVCard
	}
	var buf bytes.Buffer
	for _, c := range cards {
		for _, l := range vcardCardTo30(c, 0) {
			vobject.WriteFolded(&buf, l)
		}
	}
	return buf.Bytes(), nil
}

// VCard30To21 converts the stored vCard 3.0 form (or any vCard) to what a
// vCard 2.1 device expects: VERSION:2.1, bare type parameters (TYPE=CELL,VOICE
// becomes ;CELL;VOICE; PHOTO/LOGO/SOUND/KEY keep TYPE=JPEG as in the 2.1
// specification's examples), values with non-ASCII characters as
// CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE, values with line breaks (or
// ending in "=", which some parsers take for a soft break) as
// QUOTED-PRINTABLE, QP lines soft-broken at 76 characters, base64 as
// ENCODING=BASE64 on indented lines followed by a blank line, 2.1 escaping
// (\; and \\, commas literal). Other ASCII lines are not folded. 3.0-only
// properties are kept under their names. data: URIs in PHOTO/LOGO/SOUND/KEY
// become inline base64, tel: and geo: URIs plain values. A 2.1 or 4.0 input
// is first converted through VCard21To30. The only error is
// VCardErrNotVCard.
func VCard30To21(in []byte) ([]byte, error) {
	cards := vcardParse(in)
	if len(cards) == 0 {
		return nil, VCardErrNotVCard
	}
	var buf bytes.Buffer
	for _, c := range cards {
		if !vcardIsModern(c.version) || vcardIs40(c.version) {
			c = vcardReparse30(vcardCardTo30(c, 0))
		}
		for _, l := range vcardCardTo21(c, 0) {
			buf.WriteString(l)
			buf.WriteString("\r\n")
		}
	}
	return buf.Bytes(), nil
}

// ---------------------------------------------------------------------------
// Parsing

type vcardLine struct {
	group     string
	name      string // upper case
	rawName   string
	params    []vobject.Param
	rawParams string // ";..." as written, without the colon
	value     []byte // folding undone, QP/base64 still encoded
	qp        bool
	agent     *vcardCard // nested 2.1 AGENT card
}

type vcardCard struct {
	version string
	props   []*vcardLine
}

func vcardIsModern(v string) bool {
	v = strings.TrimSpace(v)
	return strings.HasPrefix(v, "3") || strings.HasPrefix(v, "4")
}

func vcardIs40(v string) bool { return strings.HasPrefix(strings.TrimSpace(v), "4") }

// vcardParse splits in into cards. It returns nil when there is no
// BEGIN:VCARD.
func vcardParse(in []byte) []*vcardCard {
	in = vobject.DecodeUTF16(in)
	lines := vcardLogical(in, vcardScanMode21(in))
	var cards []*vcardCard
	for i := 0; i < len(lines); {
		if vcardIsBeginEnd(lines[i], "BEGIN") {
			c, next := vcardBuildCard(lines, i+1, 0)
			cards = append(cards, c)
			i = next
			continue
		}
		i++
	}
	return cards
}

func vcardReparse30(lines []string) *vcardCard {
	cards := vcardParse([]byte(strings.Join(lines, "\r\n")))
	if len(cards) == 0 {
		return &vcardCard{version: "3.0"}
	}
	return cards[0]
}

// vcardScanMode21 reports whether the first VERSION line names anything
// but 3.x or 4.x (or there is none): such input is read with 2.1 rules.
func vcardScanMode21(in []byte) bool {
	for _, l := range vobject.PhysicalLines(in) {
		t := strings.TrimSpace(l)
		if len(t) > 8 && strings.EqualFold(t[:8], "VERSION:") {
			return !vcardIsModern(t[8:])
		}
	}
	return true
}

func vcardIsEndVCard(l string) bool {
	return strings.EqualFold(strings.TrimSpace(l), "END:VCARD")
}

func vcardIsBeginEnd(l *vcardLine, what string) bool {
	return l.name == what && strings.EqualFold(strings.TrimSpace(string(l.value)), "VCARD")
}

// vcardLogical reads the content lines of in (vobject.Unfolder; with
// 2.1 rules, RFC 822 folding and a blank line ending a value). A line
// that does not parse as a property (a stray line break inside a value,
// unindented base64) is appended to the value before it after a line
// break, unless a blank line came between; an END:VCARD ends a QP value
// whose last line has a stray soft break.
func vcardLogical(in []byte, mode21 bool) []*vcardLine {
	var out []*vcardLine
	var last *vcardLine // where stray lines go
	u := vobject.NewUnfolder(in, &vobject.UnfoldOptions{KeepSpace: mode21, BlankEnds: mode21, EndsSoftBreak: vcardIsEndVCard})
	prev := 0 // the last physical line of the line before
	for u.Next() {
		f := u.Line()
		if f.First > prev+1 {
			last = nil // the lines between are blank
		}
		prev = f.Last
		if f.Text[0] == ' ' || f.Text[0] == '\t' {
			continue // continues nothing
		}
		if nl, ok := vcardParseLine(f.Text); ok {
			out = append(out, nl)
			last = nl
			if vcardIsBeginEnd(nl, "BEGIN") || vcardIsBeginEnd(nl, "END") {
				last = nil // nothing continues BEGIN:VCARD or END:VCARD
			}
			continue
		}
		if last != nil {
			last.value = append(last.value, '\n')
			last.value = append(last.value, f.Text...)
		}
	}
	return out
}

// vcardParseLine reads a property; a line whose name or group is not
// well-formed is not one (see vcardLogical).
func vcardParseLine(s string) (*vcardLine, bool) {
	c, ok := vobject.ParseContentLine(s)
	if !ok || !c.WellFormedName() {
		return nil, false
	}
	l := &vcardLine{group: c.Group, name: c.Name, rawName: c.RawName, params: c.Params, rawParams: c.RawParams, value: []byte(c.Value)}
	for _, p := range l.params {
		if p.Name == "ENCODING" && len(p.Values) > 0 && strings.EqualFold(p.Values[0], "QUOTED-PRINTABLE") {
			l.qp = true
		}
	}
	return l, true
}

func vcardBuildCard(lines []*vcardLine, i, depth int) (*vcardCard, int) {
	c := &vcardCard{}
	for i < len(lines) {
		l := lines[i]
		switch {
		case vcardIsBeginEnd(l, "END"):
			return c, i + 1
		case vcardIsBeginEnd(l, "BEGIN"):
			n := len(c.props)
			if n > 0 && c.props[n-1].name == "AGENT" && c.props[n-1].agent == nil && len(bytes.TrimSpace(c.props[n-1].value)) == 0 {
				if depth+1 < vcardMaxDepth {
					child, next := vcardBuildCard(lines, i+1, depth+1)
					c.props[n-1].agent = child
					i = next
				} else {
					i = vcardSkipBlock(lines, i+1)
				}
				continue
			}
			return c, i // a new card starts: this one lacked its END
		case l.name == "BEGIN" || l.name == "END":
			i++ // a stray BEGIN:X/END:X has no place in a vCard
		default:
			if l.name == "VERSION" && c.version == "" {
				c.version = strings.TrimSpace(string(l.value))
			}
			c.props = append(c.props, l)
			i++
		}
	}
	return c, i
}

func vcardSkipBlock(lines []*vcardLine, i int) int {
	depth := 1
	for ; i < len(lines); i++ {
		switch {
		case vcardIsBeginEnd(lines[i], "BEGIN"):
			depth++
		case vcardIsBeginEnd(lines[i], "END"):
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return i
}

// ---------------------------------------------------------------------------
// Values

// vcardCleanText turns CRLF and CR into LF and removes other control
// characters except TAB.
func vcardCleanText(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

func vcardCleanHeader(s string) string {
	s = vobject.DecodeCharset([]byte(s), "")
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// vcardBase64 returns the base64 text in b without white space (and
// without any other byte that cannot be part of base64, URL-safe included).
func vcardBase64(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' || c == '-' || c == '_' {
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

type vcardKind int

const (
	vcardKindText   vcardKind = iota // one TEXT value
	vcardKindStruct                  // ';'-separated TEXT components (N, ADR, ORG, unknown)
	vcardKindList                    // ','-separated TEXT list (CATEGORIES, NICKNAME)
	vcardKindRaw                     // URI, date, phone number, ...: no TEXT escaping
)

func vcardKindOf(name, valueType string) vcardKind {
	switch valueType {
	case "uri", "url", "cid", "content-id", "date", "date-time", "time", "utc-offset":
		return vcardKindRaw
	}
	switch name {
	case "N", "ADR", "ORG", "GENDER", "CLIENTPIDMAP":
		return vcardKindStruct
	case "CATEGORIES", "NICKNAME":
		return vcardKindList
	case "FN", "NOTE", "TITLE", "ROLE", "LABEL", "MAILER", "PRODID", "SORT-STRING", "CLASS",
		"NAME", "EMAIL", "UID", "KIND", "XML", "AGENT", "BIRTHPLACE", "DEATHPLACE", "EXPERTISE",
		"HOBBY", "INTEREST", "ORG-DIRECTORY":
		return vcardKindText
	case "TEL", "URL", "BDAY", "REV", "TZ", "GEO", "PHOTO", "LOGO", "SOUND", "KEY", "SOURCE",
		"FBURL", "CALURI", "CALADRURI", "CAPURI", "IMPP", "MEMBER", "RELATED", "ANNIVERSARY",
		"LANG", "PROFILE", "VERSION", "BEGIN", "END", "DEATHDATE":
		return vcardKindRaw
	}
	return vcardKindStruct
}

// vcardSplit splits a value into components at unescaped separators and
// undoes escapes: \\ \; \, \: always, \n and \N only when v3 is set.
// Other backslashes stay literal.
func vcardSplit(s string, kind vcardKind, v3 bool) []string {
	if kind == vcardKindRaw {
		return []string{s}
	}
	var seps string
	switch kind {
	case vcardKindStruct:
		seps = ";"
	case vcardKindList:
		seps = ","
		if !v3 {
			seps = ",;"
		}
	}
	var out []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch n := s[i+1]; {
			case n == '\\' || n == ';' || n == ',' || n == ':':
				b.WriteByte(n)
				i++
				continue
			case v3 && (n == 'n' || n == 'N'):
				b.WriteByte('\n')
				i++
				continue
			}
		}
		if strings.IndexByte(seps, c) >= 0 {
			out = append(out, b.String())
			b.Reset()
			continue
		}
		b.WriteByte(c)
	}
	return append(out, b.String())
}

func vcardEscape21(s string, kind vcardKind) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == ';' || c == ',' && kind == vcardKindList:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func vcardJoin(comps []string, kind vcardKind, esc func(string) string) string {
	sep := ";"
	if kind == vcardKindList {
		sep = ","
	}
	parts := make([]string, len(comps))
	for i, c := range comps {
		parts[i] = esc(c)
	}
	return strings.Join(parts, sep)
}

func vcardFirst(p vobject.Param) string {
	if len(p.Values) == 0 {
		return ""
	}
	return strings.TrimSpace(p.Values[0])
}

// vcardAddType adds the upper-cased type values in v (a quoted value may
// hold a comma-separated list) to types, without duplicates.
func vcardAddType(types []string, v string) []string {
	for _, t := range strings.Split(v, ",") {
		t = strings.ToUpper(strings.TrimSpace(t))
		if t != "" && !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	return types
}

// ---------------------------------------------------------------------------
// Writing vCard 3.0

// vcardParam30 writes ";name=v1,v2": a list, each value quoted on its own
// when it holds a separator or white space, DQUOTEs dropped. Not
// vobject.QuoteParam, which takes one value and quotes it whole.
func vcardParam30(name string, values []string) string {
	var b strings.Builder
	b.WriteString(";")
	b.WriteString(name)
	b.WriteString("=")
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		v = strings.ReplaceAll(vcardCleanHeader(v), `"`, "")
		if strings.ContainsAny(v, ";:, \t") {
			b.WriteString(`"` + v + `"`)
		} else {
			b.WriteString(v)
		}
	}
	return b.String()
}

func vcardPrefix(group, name string) string {
	if group != "" {
		return group + "." + name
	}
	return name
}

// vcardCardTo30 returns the unfolded 3.0 content lines of c.
func vcardCardTo30(c *vcardCard, depth int) []string {
	if vcardIsModern(c.version) && !vcardIs40(c.version) {
		return vcardPassThrough(c, depth)
	}
	prop := func(p *vcardLine, depth int) ([]string, []string) {
		line, comps := vcardProp21To30(p, depth)
		return []string{line}, comps
	}
	if vcardIs40(c.version) {
		prop = newVCard40(c).prop
	}
	out := []string{"BEGIN:VCARD", "VERSION:3.0"}
	nAt := -1 // index in out of the first N line
	hasFN := false
	var nComps, orgComps []string
	var email, tel string
	for _, p := range c.props {
		if p.name == "VERSION" {
			continue
		}
		lines, comps := prop(p, depth)
		switch p.name {
		case "N":
			if nAt < 0 {
				nAt, nComps = len(out), comps
			}
		case "FN":
			hasFN = true
		case "ORG":
			if orgComps == nil {
				orgComps = comps
			}
		case "EMAIL":
			if email == "" && len(comps) > 0 {
				email = comps[0]
			}
		case "TEL":
			if tel == "" && len(comps) > 0 {
				tel = comps[0]
			}
		}
		out = append(out, lines...)
	}
	if nAt < 0 {
		out = slices.Insert(out, 2, "N:;;;;")
		nAt = 2
	}
	if !hasFN {
		out = slices.Insert(out, nAt+1, "FN:"+vobject.EscapeText(vcardFormatName(nComps, orgComps, email, tel)))
	}
	return append(out, "END:VCARD")
}

// vcardFormatName builds a display name for a card without FN.
func vcardFormatName(n, org []string, email, tel string) string {
	var parts []string
	for _, i := range []int{3, 1, 2, 0, 4} {
		if i < len(n) && strings.TrimSpace(n[i]) != "" {
			parts = append(parts, strings.TrimSpace(n[i]))
		}
	}
	switch {
	case len(parts) > 0:
		return strings.Join(parts, " ")
	case len(org) > 0 && strings.TrimSpace(org[0]) != "":
		return strings.TrimSpace(org[0])
	case strings.TrimSpace(email) != "":
		return strings.TrimSpace(email)
	}
	return strings.TrimSpace(tel)
}

// vcardProp21To30 converts one 2.1 property; it also returns the decoded
// components of text values (for building FN).
func vcardProp21To30(p *vcardLine, depth int) (string, []string) {
	var hdr strings.Builder
	hdr.WriteString(vcardPrefix(p.group, p.name))
	var types []string
	typeAt := -1
	var parts []string // parameter texts; parts[typeAt] is filled at the end
	binary := false
	charset, valueType := "", ""
	for _, prm := range p.params {
		switch prm.Name {
		case "TYPE":
			for _, v := range prm.Values {
				types = vcardAddType(types, v)
			}
			if typeAt < 0 {
				typeAt = len(parts)
				parts = append(parts, "")
			}
		case "ENCODING":
			switch strings.ToUpper(vcardFirst(prm)) {
			case "BASE64", "B":
				if !binary {
					binary = true
					parts = append(parts, ";ENCODING=b")
				}
			}
		case "CHARSET":
			charset = vcardFirst(prm)
		case "VALUE":
			switch v := strings.ToLower(vcardFirst(prm)); v {
			case "inline", "":
			case "url", "uri":
				valueType = "uri"
				parts = append(parts, ";VALUE=uri")
			case "content-id", "cid":
				valueType = "cid"
				parts = append(parts, ";VALUE=uri")
			default:
				valueType = v
				parts = append(parts, vcardParam30("VALUE", prm.Values))
			}
		default:
			parts = append(parts, vcardParam30(prm.Name, prm.Values))
		}
	}
	if typeAt >= 0 {
		if len(types) == 0 {
			parts = append(parts[:typeAt], parts[typeAt+1:]...)
		} else {
			parts[typeAt] = vcardParam30("TYPE", types)
		}
	}
	for _, s := range parts {
		hdr.WriteString(s)
	}
	hdr.WriteByte(':')

	raw := p.value
	if p.qp {
		raw = vobject.DecodeQP(raw)
	}
	if binary {
		return hdr.String() + vcardBase64(raw), nil
	}
	text := vcardCleanText(vobject.DecodeCharset(raw, charset))
	if p.agent != nil {
		nested := strings.Join(vcardCardTo30(p.agent, depth+1), "\n")
		return hdr.String() + vobject.EscapeText(nested), nil
	}
	kind := vcardKindOf(p.name, valueType)
	if p.name == "AGENT" && strings.HasPrefix(strings.ToUpper(strings.TrimSpace(text)), "BEGIN:VCARD") {
		kind = vcardKindRaw // already an escaped 3.0-style vCard
	}
	switch {
	case p.name == "GEO" && strings.Contains(text, ",") && !strings.Contains(text, ";"):
		text = strings.Replace(text, ",", ";", 1)
	case valueType == "cid" && !strings.HasPrefix(strings.ToLower(text), "cid:"):
		text = "cid:" + strings.Trim(strings.TrimSpace(text), "<>")
	}
	if kind == vcardKindRaw {
		return hdr.String() + strings.ReplaceAll(text, "\n", `\n`), []string{text}
	}
	comps := vcardSplit(text, kind, false)
	return hdr.String() + vcardJoin(comps, kind, vobject.EscapeText), comps
}

// vcardPassThrough normalises a 3.0 card: values are kept as written
// except that QP and CHARSET are decoded, base64 loses its white space
// (and ENCODING=BASE64 becomes b), stray line breaks become \n and a
// nested 2.1 AGENT card is embedded as escaped text.
func vcardPassThrough(c *vcardCard, depth int) []string {
	out := []string{"BEGIN:VCARD", "VERSION:3.0"}
	for _, p := range c.props {
		if p.name == "VERSION" {
			continue
		}
		binary, rebuild := false, p.qp
		charset := ""
		for _, prm := range p.params {
			switch prm.Name {
			case "ENCODING":
				switch strings.ToUpper(vcardFirst(prm)) {
				case "B":
					binary = true
				case "BASE64":
					binary, rebuild = true, true
				}
			case "CHARSET":
				charset = vcardFirst(prm)
				if !vobject.IsUTF8Charset(charset) {
					rebuild = true
				}
			}
		}
		hdr := vcardPrefix(p.group, p.rawName) + p.rawParams
		if rebuild {
			var b strings.Builder
			b.WriteString(vcardPrefix(p.group, p.rawName))
			for _, prm := range p.params {
				switch {
				case prm.Name == "CHARSET", prm.Name == "ENCODING" && strings.EqualFold(vcardFirst(prm), "QUOTED-PRINTABLE"):
					continue
				case prm.Name == "ENCODING" && binary:
					b.WriteString(";ENCODING=b")
				default:
					b.WriteString(";" + prm.Raw)
				}
			}
			hdr = b.String()
		}
		hdr = vcardCleanHeader(hdr)
		out = append(out, hdr+":"+vcardValue30(p, binary, charset, depth))
	}
	return append(out, "END:VCARD")
}

// vcardValue30 is the value of a 3.0 or 4.0 property as written, QP and
// charset decoded: base64 without white space, text with stray line
// breaks as \n, a nested 2.1 AGENT card as escaped 3.0 text.
func vcardValue30(p *vcardLine, binary bool, charset string, depth int) string {
	raw := p.value
	if p.qp {
		raw = vobject.DecodeQP(raw)
	}
	switch {
	case binary:
		return vcardBase64(raw)
	case p.agent != nil:
		return vobject.EscapeText(strings.Join(vcardCardTo30(p.agent, depth+1), "\n"))
	}
	return strings.ReplaceAll(vcardCleanText(vobject.DecodeCharset(raw, charset)), "\n", `\n`)
}

// ---------------------------------------------------------------------------
// Writing vCard 2.1

func vcardIsBinaryProp(name string) bool {
	switch name {
	case "PHOTO", "LOGO", "SOUND", "KEY":
		return true
	}
	return false
}

func vcardParam21(name string, values []string) string {
	var vs []string
	for _, v := range values {
		v = strings.ReplaceAll(vcardCleanHeader(v), `"`, "")
		if strings.ContainsAny(v, ";:") {
			v = `"` + v + `"`
		}
		vs = append(vs, v)
	}
	return ";" + name + "=" + strings.Join(vs, ",")
}

// vcardMediaSubtype turns "image/jpeg" into "JPEG".
func vcardMediaSubtype(t string) string {
	i := strings.LastIndexByte(t, '/')
	if i < 0 {
		return t
	}
	t = strings.ToUpper(strings.TrimSpace(t[i+1:]))
	if t == "PJPEG" {
		t = "JPEG"
	}
	return t
}

// vcardCardTo21 returns the physical 2.1 lines of a 3.0 card.
func vcardCardTo21(c *vcardCard, depth int) []string {
	out := []string{"BEGIN:VCARD", "VERSION:2.1"}
	for _, p := range c.props {
		if p.name == "VERSION" {
			continue
		}
		out = append(out, vcardProp30To21(p, depth)...)
	}
	return append(out, "END:VCARD")
}

// vcardProp30To21 returns the physical 2.1 lines of a 3.0 property.
func vcardProp30To21(p *vcardLine, depth int) []string {
	q := vcardReadProp21(p)
	prefix := vcardPrefix(p.group, p.name)
	// Some 3.0 writers put inline data into a data: URI, as 4.0 does.
	if !q.binary && vcardIsBinaryProp(p.name) {
		if mt, data, ok := vcardDataURI(q.text); ok {
			q.binary, q.mediatype, q.text, q.valueType = true, mt, data, ""
		}
	}
	if q.binary {
		return q.binaryLines(prefix)
	}
	q.unwrapURI(p.name)
	return q.textLines(p, q.header(prefix, p.name), depth)
}

// prop21 is one 3.0 property on its way to 2.1.
type prop21 struct {
	vcardEncoding
	types     []string // TYPE values, PREF among them
	others    []string // the other parameters, written as 2.1 writes them
	valueType string   // VALUE when 2.1 keeps it: "uri" or one 2.1 may know
	mediatype string
	text      string // the value, QP and charset decoded (base64 unfolded)
}

// vcardEncoding is what ENCODING and CHARSET say of a 3.0 or 4.0 value.
type vcardEncoding struct {
	binary  bool // ENCODING=b
	charset string
}

// read reads prm when it is ENCODING or CHARSET, and says whether it was.
func (e *vcardEncoding) read(prm vobject.Param) bool {
	switch prm.Name {
	case "ENCODING":
		switch strings.ToUpper(vcardFirst(prm)) {
		case "B", "BASE64":
			e.binary = true
		}
	case "CHARSET":
		e.charset = vcardFirst(prm)
	default:
		return false
	}
	return true
}

// vcardReadProp21 reads a 3.0 property's parameters and its value.
func vcardReadProp21(p *vcardLine) *prop21 {
	q := &prop21{}
	for _, prm := range p.params {
		q.param(prm)
	}
	raw := p.value
	if p.qp {
		raw = vobject.DecodeQP(raw)
	}
	if q.binary {
		q.text = vcardBase64(raw)
	} else {
		q.text = vcardCleanText(vobject.DecodeCharset(raw, q.charset))
	}
	return q
}

// param reads one parameter. VALUE types that are 2.1's defaults, or 3.0
// and 4.0 types 2.1 has no name for, are dropped.
func (q *prop21) param(prm vobject.Param) {
	if q.read(prm) {
		return
	}
	switch prm.Name {
	case "TYPE":
		for _, v := range prm.Values {
			q.types = vcardAddType(q.types, v)
		}
	case "VALUE":
		switch v := strings.ToLower(vcardFirst(prm)); v {
		case "uri", "url":
			q.valueType = "uri"
		case "text", "date", "date-time", "time", "date-and-or-time", "timestamp", "boolean",
			"integer", "float", "utc-offset", "language-tag", "phone-number", "binary", "":
		default:
			q.valueType = v
			q.others = append(q.others, vcardParam21("VALUE", prm.Values))
		}
	case "PREF":
		q.types = vcardAddType(q.types, "PREF")
	case "MEDIATYPE":
		q.mediatype = vcardFirst(prm)
	default:
		q.others = append(q.others, vcardParam21(prm.Name, prm.Values))
	}
}

// binaryLines writes inline data as 2.1 does: ENCODING=BASE64, the media
// subtypes as TYPE, the base64 on lines of 72 after the header, and an
// empty line to end it.
func (q *prop21) binaryLines(prefix string) []string {
	var t21 []string
	for _, t := range q.types {
		t21 = vcardAddType(t21, vcardMediaSubtype(t))
	}
	if len(t21) == 0 && q.mediatype != "" {
		t21 = []string{vcardMediaSubtype(q.mediatype)}
	}
	hdr := prefix + ";ENCODING=BASE64"
	for _, t := range t21 {
		hdr += vcardParam21("TYPE", []string{t})
	}
	hdr += strings.Join(q.others, "") + ":"
	lines := []string{hdr}
	text := q.text
	for len(text) > 0 {
		n := min(72, len(text))
		lines = append(lines, " "+text[:n])
		text = text[n:]
	}
	return append(lines, "")
}

// unwrapURI writes a tel: TEL as its number and a geo: GEO as 2.1's
// "lat,lon".
func (q *prop21) unwrapURI(prop string) {
	switch prop {
	case "TEL":
		if t, ok := vcardTelURI(q.text); ok && q.valueType == "uri" {
			q.text, q.valueType = t, ""
		}
	case "GEO":
		if t, ok := vcardGeoURI(q.text); ok {
			q.text, q.valueType = t, ""
		}
		if !strings.Contains(q.text, ",") {
			q.text = strings.Replace(q.text, ";", ",", 1)
		}
	}
}

// header is the 2.1 line of a text property up to the colon: a TYPE
// value 2.1 knows bare is written bare (HOME, not TYPE=HOME).
func (q *prop21) header(prefix, prop string) string {
	var hb strings.Builder
	hb.WriteString(prefix)
	if q.valueType == "uri" {
		hb.WriteString(";VALUE=URL")
	}
	for _, t := range q.types {
		switch {
		case vcardIsBinaryProp(prop): // PHOTO;VALUE=URL;TYPE=GIF as in the 2.1 spec
			hb.WriteString(vcardParam21("TYPE", []string{vcardMediaSubtype(t)}))
		case vobject.IsName(t) && vobject.BareParamName(t) == "TYPE":
			hb.WriteString(";" + t)
		default:
			hb.WriteString(vcardParam21("TYPE", []string{t}))
		}
	}
	for _, o := range q.others {
		hb.WriteString(o)
	}
	return hb.String()
}

// textLines writes the value after hdr, escaped as 2.1 escapes it; an
// AGENT holding a card gets that card, in 2.1, as its value.
func (q *prop21) textLines(p *vcardLine, hdr string, depth int) []string {
	kind := vcardKindOf(p.name, q.valueType)
	if p.name == "GEO" {
		kind = vcardKindRaw
	}
	if kind == vcardKindRaw {
		return vcardValueLines21(hdr, q.text)
	}
	comps := vcardSplit(q.text, kind, true)
	if p.name == "AGENT" && len(comps) == 1 {
		if lines, ok := vcardAgent21(hdr, comps[0], depth); ok {
			return lines
		}
	}
	val := vcardJoin(comps, kind, func(s string) string { return vcardEscape21(s, kind) })
	return vcardValueLines21(hdr, val)
}

// vcardAgent21 writes an AGENT whose value is a vCard as 2.1 nests it:
// the header, then the card's own lines. ok is false when the value is
// no card (or nesting would be too deep).
func vcardAgent21(hdr, value string, depth int) ([]string, bool) {
	if depth+1 >= vcardMaxDepth || !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(value)), "BEGIN:VCARD") {
		return nil, false
	}
	cards := vcardParse([]byte(value))
	if len(cards) == 0 {
		return nil, false
	}
	nested := cards[0]
	if !vcardIsModern(nested.version) {
		nested = vcardReparse30(vcardCardTo30(nested, depth+1))
	}
	return append([]string{hdr + ":"}, vcardCardTo21(nested, depth+1)...), true
}

// vcardValueLines21 writes a 2.1 text value: plain when it is printable
// ASCII, otherwise (or when it ends in "=") quoted-printable with soft line
// breaks, plus CHARSET=UTF-8 when it is not ASCII.
func vcardValueLines21(hdr, val string) []string {
	ascii, plain := true, true
	for i := 0; i < len(val); i++ {
		c := val[i]
		if c >= 0x80 {
			ascii, plain = false, false
		} else if c < 0x20 && c != '\t' || c == 0x7f {
			plain = false
		}
	}
	if strings.HasSuffix(val, "=") {
		plain = false
	}
	if plain {
		return []string{hdr + ":" + val}
	}
	if !ascii {
		hdr += ";CHARSET=UTF-8"
	}
	hdr += ";ENCODING=QUOTED-PRINTABLE"
	return vcardQPLines(hdr, val)
}

type vcardQPUnit struct {
	lit string // as written when not at a line end
	enc string // encoded form (white space only)
}

const vcardHexDigits = "0123456789ABCDEF"

// vcardQPLines encodes val as quoted-printable after "hdr:", breaking
// lines so that none exceeds 76 characters including the soft-break "=",
// never splitting an escape or a UTF-8 sequence and never leaving white
// space at a line end.
func vcardQPLines(hdr, val string) []string {
	const max = 75 // characters before the "="
	units := make([]vcardQPUnit, 0, len(val))
	for i := 0; i < len(val); {
		c := val[i]
		switch {
		case c == '\n':
			units = append(units, vcardQPUnit{lit: "=0D=0A"})
			i++
		case c == ' ' || c == '\t':
			units = append(units, vcardQPUnit{lit: val[i : i+1], enc: "=" + string(vcardHexDigits[c>>4]) + string(vcardHexDigits[c&15])})
			i++
		case c >= 33 && c <= 126 && c != '=':
			units = append(units, vcardQPUnit{lit: val[i : i+1]})
			i++
		default:
			_, size := utf8.DecodeRuneInString(val[i:])
			b := make([]byte, 0, 3*size)
			for _, x := range []byte(val[i : i+size]) {
				b = append(b, '=', vcardHexDigits[x>>4], vcardHexDigits[x&15])
			}
			units = append(units, vcardQPUnit{lit: string(b)})
			i += size
		}
	}
	var lines []string
	var cur strings.Builder
	cur.WriteString(hdr + ":")
	for k, u := range units {
		s := u.lit
		if u.enc != "" {
			// Literal white space only where the next unit surely follows
			// on the same line.
			if k == len(units)-1 {
				s = u.enc
			} else {
				next := len(units[k+1].lit)
				if units[k+1].enc != "" {
					next = len(units[k+1].enc)
				}
				if cur.Len()+1+next > max {
					s = u.enc
				}
			}
		}
		if cur.Len()+len(s) > max {
			cur.WriteByte('=')
			lines = append(lines, cur.String())
			cur.Reset()
		}
		cur.WriteString(s)
	}
	return append(lines, cur.String())
}
