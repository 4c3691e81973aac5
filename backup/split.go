package backup

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"syncml-imap/internal/vformat"
	"syncml-imap/internal/vobject"
	"syncml-imap/pim"
)

// Item is one contact, event or task: a record of a file, or an item of
// the mailbox.
type Item struct {
	// DB is the database the item belongs in: "contacts", "calendar"
	// (events) or "tasks" (to-dos).
	DB pim.Kind
	// ID is the mailbox's ID of the item; "" for a record of a file
	// until it is stored.
	ID string
	// Line is the line of the file the record starts on (1 is the
	// first); 0 for an item read from the mailbox.
	Line int
	// Data is the item in the stored form: one vCard (3.0, whatever
	// version the file had), or one VCALENDAR (iCalendar
	// 2.0) with one event or to-do, its detached recurrences
	// (RECURRENCE-ID) and the VTIMEZONEs they refer to.
	Data []byte
}

// Problem is a record of a file that was left out, something odd about
// a file that lost nothing (Warning), or an item of the mailbox that
// could not be exported.
type Problem struct {
	Line    int    // the line of the file, 0 when about a mailbox item
	ID      string // the mailbox item, "" when about a file
	Msg     string
	Warning bool // nothing was left out
}

func (p *Problem) Error() string {
	switch {
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	case p.ID != "":
		return fmt.Sprintf("item %s: %s", p.ID, p.Msg)
	}
	return p.Msg
}

// SplitData is what Split found in a file.
type SplitData struct {
	Items    []*Item    // in the order of the file
	Problems []*Problem // in the order of the file
}

// Bad counts the problems that left something out.
func (d *SplitData) Bad() int {
	n := 0
	for _, p := range d.Problems {
		if !p.Warning {
			n++
		}
	}
	return n
}

// Split cuts a file into items of the stored form. The file may hold
// vCards of any version (one after another, 2.1 quoted-printable and
// charsets decoded, 3.0 normalised), VCALENDARs of iCalendar 2.0 (one or
// many; each event or to-do becomes an item with its detached
// recurrences and the VTIMEZONEs they use, whichever VCALENDAR of the
// file they are in) and of vCalendar 1.0 (converted to iCalendar 2.0),
// with CRLF, LF or CR line ends, a byte order mark, or in UTF-16 with a
// byte order mark.
//
// A record it cannot take (a vCard without END:VCARD, an event cut off,
// text outside any BEGIN/END, a journal entry) is a Problem with the
// line it starts on; Split never fails and never panics.
func Split(data []byte) *SplitData {
	data = vobject.DecodeUTF16(data)
	s := &splitter{lines: vobject.PhysicalLines(data), open: map[string]int{}, d: &SplitData{}}
	s.build(data)
	s.records()
	slices.SortStableFunc(s.d.Items, func(a, b *Item) int { return a.Line - b.Line })
	slices.SortStableFunc(s.d.Problems, func(a, b *Problem) int { return a.Line - b.Line })
	return s.d
}

// physicalLines decodes UTF-16 (with a byte order mark) and cuts the
// file into its physical lines as vobject reads them (CRLF, LF and lone
// CR; a UTF-8 byte order mark starting a line dropped, as concatenated
// files have several). The end of line is not kept.
func physicalLines(data []byte) []string {
	return vobject.PhysicalLines(vobject.DecodeUTF16(data))
}

// block is one BEGIN/END block of the file.
type block struct {
	name        string // upper case
	begin, end  int    // line numbers; end 0: no END line
	first, last int    // index of the first and last physical line
	children    []*block
	props       [][2]int // the block's own content lines: physical line index ranges
}

// splitter builds the block tree of a file and turns it into items.
type splitter struct {
	lines []string
	top   []*block
	stack []*block
	open  map[string]int // how many blocks of each name are on the stack
	d     *SplitData

	junk   [2]int // a run of text outside any block: first and last line index
	inJunk bool
}

// headCap is the longest content line that may be a BEGIN or END line:
// those are short, and a long one (folded base64, say) is content.
const headCap = 256

// logical is one content line: physical lines first..last (indexes of
// splitter.lines).
type logical struct {
	first, last int
	name, value string // upper-case name without group or parameters; value trimmed
}

// structural reports whether a physical line is a BEGIN or END line that
// ends a quoted-printable value cut by a soft line break: some writers
// end a value with a stray "=", which would otherwise swallow the END.
func (s *splitter) structural(line string) bool {
	l, ok := vobject.ParseContentLine(line)
	if !ok {
		return false
	}
	value := strings.ToUpper(strings.TrimSpace(l.Value))
	switch l.Name {
	case "BEGIN":
		return value == "VCARD" || value == "VCALENDAR"
	case "END":
		return s.open[value] > 0
	}
	return false
}

// logical reads what build needs of a content line.
func (s *splitter) logical(f vobject.Folded) logical {
	l := logical{first: f.First - 1, last: f.Last - 1}
	if f.StrayBreak {
		// Drop the stray "=" so the value ends here.
		s.lines[l.last] = strings.TrimSuffix(s.lines[l.last], "=")
	}
	if len(f.Text) > headCap {
		return l
	}
	if c, ok := vobject.ParseContentLine(f.Text); ok {
		l.name, l.value = c.Name, strings.TrimSpace(c.Value)
	}
	return l
}

// blank reports whether a line holds nothing but white space and control
// characters (a DOS end-of-file ^Z, say).
func blank(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > ' ' && s[i] != 0x7f {
			return false
		}
	}
	return true
}

// calendar components: a BEGIN of one of them while another is open
// means the open one lacks its END.
var components = map[string]bool{"VEVENT": true, "VTODO": true, "VJOURNAL": true, "VFREEBUSY": true, "VTIMEZONE": true}

// build reads the file into the block tree. A block without its END is
// closed, with end 0, where the next record begins (the next BEGIN:VCARD
// or BEGIN:VCALENDAR, or the next component of its calendar) or where
// the file ends.
func (s *splitter) build(data []byte) {
	var prev logical
	// The structure of the blocks decides where a stray soft break ends.
	u := vobject.NewUnfolder(data, &vobject.UnfoldOptions{EndsSoftBreak: s.structural})
	for u.Next() {
		l := s.logical(u.Line())
		switch {
		case l.name == "BEGIN" && l.value != "":
			s.begin(l, prev)
		case l.name == "END" && l.value != "" && s.endOpen(l):
		case len(s.stack) > 0:
			top := s.stack[len(s.stack)-1]
			top.props = append(top.props, [2]int{l.first, l.last})
		default:
			s.outside(l)
		}
		prev = l
	}
	s.closeFrom(0, len(s.lines)-1)
	s.flushJunk()
}

func (s *splitter) begin(l logical, prev logical) {
	s.flushJunk()
	name := strings.ToUpper(l.value)
	b := &block{name: name, begin: l.first + 1, first: l.first}
	switch {
	case len(s.stack) == 0:
	case name == "VCARD" && !(s.stack[0].name == "VCARD" && prev.name == "AGENT" && prev.value == ""):
		// A vCard 2.1 AGENT may hold a whole vCard; any other
		// BEGIN:VCARD starts the next card.
		s.closeFrom(0, l.first-1)
	case name == "VCALENDAR":
		s.closeFrom(0, l.first-1)
	case components[name] && s.stack[0].name == "VCALENDAR" && len(s.stack) > 1:
		s.closeFrom(1, l.first-1)
	}
	if n := len(s.stack); n > 0 {
		s.stack[n-1].children = append(s.stack[n-1].children, b)
	} else {
		s.top = append(s.top, b)
	}
	s.stack = append(s.stack, b)
	s.open[name]++
}

// endOpen closes the innermost open block the END line names; it reports
// false when none is open.
func (s *splitter) endOpen(l logical) bool {
	name := strings.ToUpper(l.value)
	if s.open[name] == 0 {
		return false // without the count, a search of the whole stack
	}
	for i := len(s.stack) - 1; i >= 0; i-- {
		if s.stack[i].name == name {
			s.closeFrom(i+1, l.first-1)
			b := s.stack[i]
			b.end, b.last = l.last+1, l.last
			s.stack = s.stack[:i]
			s.open[name]--
			return true
		}
	}
	return false
}

// closeFrom closes the open blocks from stack index i up as lacking
// their END; the last of their lines is the last non-blank one up to
// line index last.
func (s *splitter) closeFrom(i, last int) {
	for j := len(s.stack) - 1; j >= i; j-- {
		b := s.stack[j]
		end := last
		for end > b.first && blank(s.lines[end]) {
			end--
		}
		b.last = end
		s.open[b.name]--
	}
	s.stack = s.stack[:min(i, len(s.stack))]
}

// outside notes a line outside any block: blank lines are fine, any
// other text is a record's remains (a vCard without its BEGIN line, say).
func (s *splitter) outside(l logical) {
	empty := true
	for i := l.first; i <= l.last; i++ {
		empty = empty && blank(s.lines[i])
	}
	if empty {
		return
	}
	if !s.inJunk {
		s.junk, s.inJunk = [2]int{l.first, l.last}, true
		return
	}
	s.junk[1] = l.last
}

func (s *splitter) flushJunk() {
	if !s.inJunk {
		return
	}
	s.inJunk = false
	what := "text outside any BEGIN/END block"
	for i := s.junk[0]; i <= s.junk[1]; i++ {
		if l, ok := vobject.ParseContentLine(s.lines[i]); ok && l.Name == "END" {
			v := strings.ToUpper(strings.TrimSpace(l.Value))
			what = fmt.Sprintf("%s without BEGIN:%s", describeBlock(v), v)
			break
		}
	}
	msg := what + ", skipped"
	if s.junk[1] > s.junk[0] {
		msg = fmt.Sprintf("%s (to line %d), skipped", what, s.junk[1]+1)
	}
	s.problem(s.junk[0]+1, msg)
}

func (s *splitter) problem(line int, msg string) {
	s.d.Problems = append(s.d.Problems, &Problem{Line: line, Msg: msg})
}

func (s *splitter) warn(line int, msg string) {
	s.d.Problems = append(s.d.Problems, &Problem{Line: line, Msg: msg, Warning: true})
}

// text is lines first..last of the file, CRLF-terminated.
func (s *splitter) text(first, last int) []byte {
	var b bytes.Buffer
	for i := first; i <= last && i < len(s.lines); i++ {
		b.WriteString(s.lines[i])
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// unclosed returns the first block in b's subtree that lacks its END.
func unclosed(b *block) *block {
	if b.end == 0 {
		return b
	}
	for _, c := range b.children {
		if u := unclosed(c); u != nil {
			return u
		}
	}
	return nil
}

// describeBlock names a block for a report.
func describeBlock(name string) string {
	switch name {
	case "VCARD":
		return "vCard"
	case "VCALENDAR":
		return "calendar (VCALENDAR)"
	case "VEVENT":
		return "event (VEVENT)"
	case "VTODO":
		return "to-do (VTODO)"
	}
	return name
}

func (s *splitter) missingEnd(b, u *block) string {
	if u == b {
		return fmt.Sprintf("%s without END:%s, skipped", describeBlock(b.name), b.name)
	}
	return fmt.Sprintf("%s: BEGIN:%s of line %d without END:%s, skipped", describeBlock(b.name), u.name, u.begin, u.name)
}

// records turns the top-level blocks into items.
func (s *splitter) records() {
	var cals []*calendar
	for _, b := range s.top {
		switch b.name {
		case "VCARD":
			s.vcard(b)
		case "VCALENDAR":
			cals = append(cals, s.vcalendar(b))
		case "VEVENT", "VTODO":
			s.problem(b.begin, fmt.Sprintf("%s outside any VCALENDAR, skipped", describeBlock(b.name)))
		default:
			s.problem(b.begin, fmt.Sprintf("%s is not a contact, event or task, skipped", b.name))
		}
	}
	s.calendarItems(cals)
}

// noContent are the properties a vCard has even when it says nothing.
var noContent = map[string]bool{"VERSION": true, "PRODID": true, "REV": true, "UID": true, "X-ABUID": true}

func (s *splitter) vcard(b *block) {
	if u := unclosed(b); u != nil {
		s.problem(b.begin, s.missingEnd(b, u))
		return
	}
	raw := s.text(b.first, b.last)
	empty := false
	if objs := vobject.Parse(raw); len(objs) == 1 {
		empty = true
		for _, p := range objs[0].Props {
			if !noContent[p.Name] && strings.Trim(p.Value, " ;,") != "" {
				empty = false
				break
			}
		}
	}
	if empty {
		s.problem(b.begin, "empty vCard, skipped")
		return
	}
	out, err := vformat.VCard21To30(raw)
	if err == nil {
		err = checkObject("contacts", out)
	}
	if err != nil {
		s.problem(b.begin, fmt.Sprintf("vCard not readable (%v), skipped", err))
		return
	}
	s.d.Items = append(s.d.Items, &Item{DB: "contacts", Line: b.begin, Data: out})
}

// calendar is one VCALENDAR of the file.
type calendar struct {
	b     *block
	v1    bool    // vCalendar 1.0
	props []byte  // its own content lines but METHOD
	zones []*zone // its VTIMEZONEs
	comps []*comp // its events and to-dos
}

type zone struct {
	tzid string
	data []byte
}

// comp is one event or to-do of a calendar.
type comp struct {
	cal  *calendar
	b    *block
	db   pim.Kind
	uid  string
	rid  string // RECURRENCE-ID: "" for the main component
	data []byte
	tzid []string // the zones it refers to
}

func (s *splitter) vcalendar(b *block) *calendar {
	cal := &calendar{b: b}
	if b.end == 0 {
		s.warn(b.begin, "VCALENDAR without END:VCALENDAR (the file cut short?)")
	}
	var version string
	v1hints := false
	for _, r := range b.props {
		raw := s.text(r[0], r[1])
		ls := vobject.Lines(raw)
		if len(ls) == 0 {
			continue
		}
		switch ls[0].Name {
		case "METHOD":
			continue // a publishing method, not part of an item
		case "CALSCALE":
			if strings.EqualFold(strings.TrimSpace(ls[0].Value), "GREGORIAN") {
				continue // the default (RFC 5545 3.7.1): the same without it
			}
		case "VERSION":
			version = strings.TrimSpace(ls[0].Value)
		case "TZ", "DAYLIGHT":
			v1hints = true
		}
		cal.props = append(cal.props, raw...)
	}
	for _, c := range b.children {
		switch c.name {
		case "VEVENT", "VTODO":
			if u := unclosed(c); u != nil {
				s.problem(c.begin, s.missingEnd(c, u))
				continue
			}
			cp := &comp{cal: cal, b: c, db: "calendar", data: s.text(c.first, c.last)}
			if c.name == "VTODO" {
				cp.db = "tasks"
			}
			objs := vobject.Parse(cp.data)
			if len(objs) == 0 {
				continue
			}
			o := objs[0]
			cp.uid, cp.rid = o.PropValue("UID"), o.PropValue("RECURRENCE-ID")
			cp.tzid = zoneRefs(o, nil, map[string]bool{})
			for _, p := range o.Props {
				if p.Name == "AALARM" || p.Name == "DALARM" || p.Name == "PALARM" || p.Name == "MALARM" ||
					p.Name == "RRULE" && !strings.Contains(strings.ToUpper(p.Value), "FREQ=") {
					v1hints = true
				}
			}
			cal.comps = append(cal.comps, cp)
		case "VTIMEZONE":
			if u := unclosed(c); u != nil {
				s.warn(c.begin, "VTIMEZONE without END:VTIMEZONE, left out (the times that use it keep their zone name)")
				continue
			}
			data := s.text(c.first, c.last)
			if objs := vobject.Parse(data); len(objs) > 0 {
				cal.zones = append(cal.zones, &zone{tzid: objs[0].PropValue("TZID"), data: data})
			}
		case "VJOURNAL":
			s.problem(c.begin, "journal entry (VJOURNAL) skipped: only events and to-dos are kept")
		case "VFREEBUSY":
			s.problem(c.begin, "free/busy information (VFREEBUSY) skipped: only events and to-dos are kept")
		default:
			s.problem(c.begin, fmt.Sprintf("%s in a VCALENDAR is not an event or to-do, skipped", c.name))
		}
	}
	// VERSION decides; without one, vCalendar 1.0's own properties tell.
	cal.v1 = version == "1.0" || version == "" && v1hints
	return cal
}

// zoneRefs collects the TZID parameters of o and its subcomponents.
func zoneRefs(o *vobject.Object, into []string, seen map[string]bool) []string {
	for _, p := range o.Props {
		if tz := p.Params["TZID"]; tz != "" && !seen[tz] {
			seen[tz] = true
			into = append(into, tz)
		}
	}
	for _, c := range o.Children {
		into = zoneRefs(c, into, seen)
	}
	return into
}

// group is the components that make one item: a main component and its
// detached recurrences, or one of them alone.
type group struct {
	comps []*comp
}

// calendarItems groups the components of all calendars of the file by
// UID (and kind, and calendar version) into items. A component whose
// UID and RECURRENCE-ID the group has already starts another group: an
// item of its own, which Import takes for a duplicate.
func (s *splitter) calendarItems(cals []*calendar) {
	zones := map[string][]byte{} // the first VTIMEZONE of each TZID in the file
	for _, cal := range cals {
		for _, z := range cal.zones {
			if _, ok := zones[z.tzid]; !ok && z.tzid != "" {
				zones[z.tzid] = z.data
			}
		}
	}
	var order []*group
	byKey := map[string][]*group{}
	// A component goes to the first group of its key without its
	// RECURRENCE-ID; those that have it are always the first ones, as
	// many as components with it came before.
	taken := map[[2]string]int{}
	for _, cal := range cals {
		for _, c := range cal.comps {
			key := fmt.Sprintf("%t|%s|%s", cal.v1, c.db, c.uid)
			var g *group
			if c.uid != "" {
				if i := taken[[2]string{key, c.rid}]; i < len(byKey[key]) {
					g = byKey[key][i]
				}
				taken[[2]string{key, c.rid}]++
			}
			if g == nil {
				g = &group{}
				order = append(order, g)
				if c.uid != "" {
					byKey[key] = append(byKey[key], g)
				}
			}
			g.comps = append(g.comps, c)
		}
	}
	for _, g := range order {
		s.calendarItem(g, zones)
	}
}

func (s *splitter) calendarItem(g *group, zones map[string][]byte) {
	first := g.comps[0]
	cal := first.cal
	var b bytes.Buffer
	b.WriteString("BEGIN:VCALENDAR\r\n")
	if !cal.v1 && !bytes.Contains(cal.props, []byte("VERSION:")) {
		b.WriteString("VERSION:2.0\r\n")
	}
	if cal.v1 && !bytes.Contains(cal.props, []byte("VERSION:")) {
		b.WriteString("VERSION:1.0\r\n")
	}
	b.Write(cal.props)
	if !cal.v1 {
		done := map[string]bool{}
		for _, c := range g.comps {
			for _, tz := range c.tzid {
				if done[tz] {
					continue
				}
				done[tz] = true
				// The zone of the component's own calendar, else the
				// file's first of that name.
				var data []byte
				for _, z := range c.cal.zones {
					if z.tzid == tz {
						data = z.data
						break
					}
				}
				if data == nil {
					data = zones[tz]
				}
				b.Write(data)
			}
		}
	}
	for _, c := range g.comps {
		b.Write(c.data)
	}
	b.WriteString("END:VCALENDAR\r\n")
	data := b.Bytes()
	what := describeBlock(first.b.name)
	if cal.v1 {
		out, _, err := vformat.VCal10ToICal20(data)
		if err != nil {
			s.problem(first.b.begin, fmt.Sprintf("vCalendar 1.0 %s not readable (%v), skipped", what, err))
			return
		}
		data = out
	}
	if err := checkObject(first.db, data); err != nil {
		s.problem(first.b.begin, fmt.Sprintf("%s not readable (%v), skipped", what, err))
		return
	}
	s.d.Items = append(s.d.Items, &Item{DB: first.db, Line: first.b.begin, Data: data})
}

// checkObject tells whether data is one item of db as the store takes
// it: one vCard, or one VCALENDAR whose events (or to-dos) share a UID
// and that holds nothing else of the kind.
func checkObject(db pim.Kind, data []byte) error {
	objs := vobject.Parse(data)
	switch {
	case len(objs) == 0:
		return fmt.Errorf("nothing found")
	case len(objs) > 1:
		return fmt.Errorf("%d objects where one was expected", len(objs))
	}
	root := objs[0]
	if db == "contacts" {
		if root.Name != "VCARD" {
			return fmt.Errorf("%s where a VCARD was expected", root.Name)
		}
		return nil
	}
	want := map[pim.Kind]string{pim.Calendar: "VEVENT", pim.Tasks: "VTODO"}[db]
	if root.Name != "VCALENDAR" {
		return fmt.Errorf("%s where a VCALENDAR was expected", root.Name)
	}
	uids := map[string]bool{}
	for _, c := range root.Children {
		switch c.Name {
		case want:
			uids[c.PropValue("UID")] = true
		case "VEVENT", "VTODO", "VJOURNAL":
			return fmt.Errorf("%s among the %ss", c.Name, want)
		}
	}
	switch {
	case len(uids) == 0:
		return fmt.Errorf("no %s", want)
	case len(uids) > 1:
		return fmt.Errorf("%d different UIDs", len(uids))
	}
	return nil
}
