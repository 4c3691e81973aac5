package pim

// Field-by-field three-way merge of an item changed both on the server
// and on a device since their last sync (the "merge" conflict policy).
//
// A field is a property name of the main object (the VCARD, or the
// VEVENT/VTODO of a VCALENDAR that has no RECURRENCE-ID) with all its
// instances together, compared as a multiset of normalised lines; the
// sub-components of the main object (VALARM) form one field named after
// them. What both sides last agreed on (the base) is not kept as text but
// as a fingerprint: one 32-bit hash per field. That is enough to tell, per
// field, which side changed it; it is not enough to merge inside a field,
// so a field changed on both sides goes to one side by a tie-break.

import (
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"syncml-imap/internal/vobject"
)

// Fingerprint is the compact form of an item's base version: field name →
// FNV-1a hash of the field's normalised, sorted instances. Fields without
// a non-empty instance are absent. As JSON it is an object of numbers,
// about 18 bytes a field: 218 bytes for the 12 fields of a typical
// 630-byte contact (TestFingerprintSize), 126 for an 860-byte event.
//
// The hashes are stored, so the normalisation (vdoc.fields, normLine) is
// part of the stored format: changing it makes stored bases match neither
// side, and until the next sync every field the two sides hold
// differently goes by the tie-break; nothing breaks, but it is worth
// avoiding. A hash collision (odds 2^-32 per field) makes a changed field
// look unchanged.
type Fingerprint map[string]uint32

// FingerprintOf returns the fingerprint of an item; nil when data holds no
// vCard nor calendar with a main component.
func FingerprintOf(data []byte) Fingerprint {
	d := parseDoc(data)
	if d.main == nil {
		return nil
	}
	fields, _ := d.fields()
	fp := make(Fingerprint, len(fields))
	for name, f := range fields {
		if f.present() {
			fp[name] = f.hash()
		}
	}
	return fp
}

// TieBreak decides a field changed on both sides.
type TieBreak int

const (
	TieServer TieBreak = iota // the server's version of the field
	TieDevice                 // the device's
	TieNewest                 // the newer item's (deviceNewer); the server's when unknown
)

// TieBreakFor maps a policy's TieBreak to a tieBreak; anything but
// device-wins and newest-wins is server-wins.
func TieBreakFor(r ConflictRule) TieBreak {
	switch r {
	case ConflictDeviceWins:
		return TieDevice
	case ConflictNewestWins:
		return TieNewest
	}
	return TieServer
}

// Merge3 combines the server's and the device's versions of an item
// against the fingerprint of their base. Per field:
//   - the same on both sides, or changed on the server only: the server's;
//   - changed (added, edited or removed) on the device only: the device's;
//   - changed on both sides, differently: decided by tb, and the field's
//     name is returned in both (sorted).
//
// A field absent from the base counts as added by the side that has it;
// a nil base (none kept) thus keeps every field either side has and lets
// tb decide every field both sides have differently.
//
// The result keeps the server's text: its lines in their order, the
// device's instances of a field it wins in place of the server's first
// instance (or before the main object's END when the server has none),
// and everything outside the main object (VTIMEZONEs, exceptions) as the
// server has it. Bookkeeping (UID, VERSION, DTSTAMP, SEQUENCE...) stays the
// server's; when a field came from the device and the device's version is
// newer (deviceNewer), the result's REV (vCard) or LAST-MODIFIED takes the
// device's time, so the merged item is as new as its newest part. Lines
// are copied as they stood, CRLF-terminated.
//
// When either side has no main object, they are of different kinds (a
// vCard and a calendar, an event and a task), or a main object's blocks
// are not properly closed, there is nothing to merge field by field:
// merge3 returns server as it is and both = nil.
//
// The device's version should have been completed with what the device
// cannot hold (mergeKept) before: a field the device dropped for lack of
// support looks like a field the device deleted.
func Merge3(base Fingerprint, server, device []byte, tb TieBreak) (merged []byte, both []string) {
	sd, dd := parseDoc(server), parseDoc(device)
	if !mergeable(sd, dd) {
		return server, nil
	}
	sf, order := sd.fields()
	df, dorder := dd.fields()
	for _, name := range dorder {
		if sf[name] == nil {
			order = append(order, name)
		}
	}
	st, sok := sd.stamp()
	dt, dok := dd.stamp()
	newer := sok && dok && dt.After(st)
	inBase := func(f *field, name string) bool {
		h, ok := base[name]
		if !f.present() {
			return !ok
		}
		return ok && h == f.hash()
	}
	take := map[string]bool{} // fields that come from the device
	for _, name := range order {
		s, d := sf[name], df[name]
		switch {
		case slices.Equal(s.normal(), d.normal()):
		case inBase(s, name):
			take[name] = true
		case inBase(d, name):
		default:
			both = append(both, name)
			if tb == TieDevice || tb == TieNewest && newer {
				take[name] = true
			}
		}
	}
	slices.Sort(both)

	stampName := "LAST-MODIFIED"
	if sd.main.name == "VCARD" {
		stampName = "REV"
	}
	replaceStamp := newer && len(take) > 0
	stampLine := stampName + ":" + dt.UTC().Format("20060102T150405Z") + "\r\n"

	var b strings.Builder
	b.Grow(len(server) + len(device)/4)
	m := sd.main
	for i := 0; i <= m.begin; i++ {
		sd.writeLine(&b, i)
	}
	done := map[string]bool{} // fields written from the device
	stampDone := false
	for _, it := range m.items {
		name := sd.itemName(it)
		prop := it.child == nil
		switch {
		case prop && name == stampName && replaceStamp:
			if !stampDone {
				b.WriteString(stampLine)
				stampDone = true
			}
		case prop && (name == "END" || nonField(name)), !take[name]:
			sd.writeItem(&b, it)
		case !done[name]:
			dd.writeField(&b, df[name])
			done[name] = true
		}
	}
	for _, name := range order {
		if take[name] && !done[name] {
			dd.writeField(&b, df[name])
		}
	}
	if replaceStamp && !stampDone {
		b.WriteString(stampLine)
	}
	for i := m.end; i < len(sd.lines); i++ {
		sd.writeLine(&b, i)
	}
	return []byte(b.String()), both
}

// DeviceNewer reports whether the device's version is newer than the
// server's by their modification times: a vCard's REV; a calendar's
// LAST-MODIFIED, else DTSTAMP, of the main component. known is false when
// either has no time it can read. Times without a zone are taken as UTC.
func DeviceNewer(server, device []byte) (newer, known bool) {
	st, sok := parseDoc(server).stamp()
	dt, dok := parseDoc(device).stamp()
	if !sok || !dok {
		return false, false
	}
	return dt.After(st), true
}

// nonField are the properties a merge leaves to the server: bookkeeping,
// and the RECURRENCE-ID that tells the main component from exceptions.
func nonField(name string) bool {
	return volatile[name] || name == "RECURRENCE-ID"
}

// vdoc is an item's content lines with the block structure over them, as
// vobject.Parse builds it, but by line index so that a merge can copy
// spans of lines.
type vdoc struct {
	lines []vobject.Line
	top   *vnode // the first top-level block
	main  *vnode // the VCARD, or the main VEVENT/VTODO of a VCALENDAR; nil: none
}

type vnode struct {
	name       string
	begin, end int  // indices of the BEGIN line and of the END line that closed the block; end -1: never closed
	clean      bool // closed by its own END while innermost
	items      []vitem
}

// vitem is one direct item of a block: a property line, a stray END line
// (one that closed nothing; kept, never a field) or a child block.
type vitem struct {
	line  int
	child *vnode
}

func parseDoc(data []byte) *vdoc {
	d := &vdoc{lines: vobject.Lines(data)}
	var stack []*vnode
	open := map[string]int{} // blocks open by name: a stray END is found without a search
	for i, l := range d.lines {
		switch l.Name {
		case "BEGIN":
			n := &vnode{name: strings.ToUpper(strings.TrimSpace(l.Value)), begin: i, end: -1}
			if k := len(stack); k > 0 {
				stack[k-1].items = append(stack[k-1].items, vitem{child: n})
			} else if d.top == nil {
				d.top = n
			}
			stack = append(stack, n)
			open[n.name]++
		case "END":
			// As vobject.Parse: END closes the innermost block of its
			// name and every block opened inside it.
			name := strings.ToUpper(strings.TrimSpace(l.Value))
			if open[name] == 0 {
				if k := len(stack); k > 0 {
					stack[k-1].items = append(stack[k-1].items, vitem{line: i})
				}
				continue
			}
			j := len(stack) - 1
			for stack[j].name != name {
				j--
			}
			for _, n := range stack[j:] {
				n.end = i
				open[n.name]--
			}
			stack[j].clean = j == len(stack)-1
			stack = stack[:j]
		default:
			if k := len(stack); k > 0 {
				stack[k-1].items = append(stack[k-1].items, vitem{line: i})
			}
		}
	}
	switch {
	case d.top == nil:
	case d.top.name == "VCARD":
		d.main = d.top
	case d.top.name == "VCALENDAR":
		// As mainComponent: the last VEVENT/VTODO without RECURRENCE-ID,
		// else the first.
		for _, it := range d.top.items {
			c := it.child
			if c != nil && (c.name == "VEVENT" || c.name == "VTODO") && (d.main == nil || !d.hasProp(c, "RECURRENCE-ID")) {
				d.main = c
			}
		}
	}
	return d
}

// mergeable reports whether two parsed items can be merged field by field
// and written back: the same kind of main object, each properly closed
// with all its sub-components (else copying a sub-component, or adding a
// line before END, could land in another block).
func mergeable(s, d *vdoc) bool {
	return s.main != nil && d.main != nil && s.top.name == d.top.name &&
		s.main.name == d.main.name && s.main.wellFormed() && d.main.wellFormed()
}

func (n *vnode) wellFormed() bool {
	if !n.clean {
		return false
	}
	for _, it := range n.items {
		if it.child != nil && !it.child.wellFormed() {
			return false
		}
	}
	return true
}

func (d *vdoc) hasProp(n *vnode, name string) bool {
	for _, it := range n.items {
		if it.child == nil && d.lines[it.line].Name == name {
			return true
		}
	}
	return false
}

// itemName is the field an item belongs to: its property name, or the
// child block's name; "END" for a stray END.
func (d *vdoc) itemName(it vitem) string {
	if it.child != nil {
		return it.child.name
	}
	return d.lines[it.line].Name
}

// stamp is the main object's modification time: REV, else (calendars)
// LAST-MODIFIED, else DTSTAMP.
func (d *vdoc) stamp() (time.Time, bool) {
	if d.main == nil {
		return time.Time{}, false
	}
	names := []string{"LAST-MODIFIED", "DTSTAMP"}
	if d.main.name == "VCARD" {
		names = []string{"REV"}
	}
	for _, name := range names {
		for _, it := range d.main.items {
			if it.child == nil && d.lines[it.line].Name == name {
				if t, ok := parseStamp(d.lines[it.line].Value); ok {
					return t, true
				}
			}
		}
	}
	return time.Time{}, false
}

// stampLayouts are the forms of REV, LAST-MODIFIED and DTSTAMP seen in
// practice: iCalendar and vCard 4.0 basic format, vCard 3.0 extended
// format (RFC 2426 3.6.4), with or without zone, or a date alone.
var stampLayouts = []string{
	"20060102T150405Z0700", "20060102T150405Z07", "20060102T150405",
	"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05",
	"20060102", "2006-01-02",
}

func parseStamp(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, layout := range stampLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// field is one field of an item: the instances that count (empty values
// do not), in the item's order, and their normal forms, sorted.
type field struct {
	kept []vitem
	norm []string
}

func (f *field) present() bool { return f != nil && len(f.norm) > 0 }

func (f *field) normal() []string {
	if f == nil {
		return nil
	}
	return f.norm
}

func (f *field) hash() uint32 {
	h := fnv.New32a()
	for _, s := range f.norm {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum32()
}

// fields returns the main object's fields by name, and the names in the
// order of their first line. A name whose lines are all empty has a field
// that is not present.
func (d *vdoc) fields() (map[string]*field, []string) {
	fields := map[string]*field{}
	var order []string
	for _, it := range d.main.items {
		name := d.itemName(it)
		if it.child == nil && (name == "END" || nonField(name)) {
			continue
		}
		var norm string
		if it.child != nil {
			lines := d.blockLines(it.child, nil)
			slices.Sort(lines)
			norm = strings.Join(lines, "\n")
		} else if s, ok := normLine(d.lines[it.line]); ok {
			norm = s
		}
		f := fields[name]
		if f == nil {
			f = &field{}
			fields[name] = f
			order = append(order, name)
		}
		if norm != "" {
			f.kept = append(f.kept, it)
			f.norm = append(f.norm, norm)
		}
	}
	for _, f := range fields {
		slices.Sort(f.norm)
	}
	return fields, order
}

// blockLines appends a sub-component as contentLines sees it: its
// normalised lines and those of its children, bookkeeping and X-
// extensions left out, in no particular order.
func (d *vdoc) blockLines(n *vnode, out []string) []string {
	out = append(out, "BEGIN:"+n.name)
	for _, it := range n.items {
		if it.child != nil {
			out = d.blockLines(it.child, out)
			continue
		}
		l := d.lines[it.line]
		if l.Name == "END" || volatile[l.Name] || strings.HasPrefix(l.Name, "X-") {
			continue
		}
		if s, ok := normLine(l); ok {
			out = append(out, s)
		}
	}
	return out
}

// normLine is a property line in the form that compares: without group
// (it only ties lines together), with the parameters sorted and their
// values upper case (TYPE values sorted too), without ENCODING and
// CHARSET (the value is decoded), folding undone, the value trimmed. As
// contentLines, a line with an empty value does not count (ok false).
func normLine(l vobject.Line) (string, bool) {
	v := strings.TrimSpace(l.Value)
	if strings.Trim(v, "; ") == "" {
		return "", false
	}
	params := make([]string, 0, len(l.Params))
	for k, pv := range l.Params {
		if k == "ENCODING" || k == "CHARSET" {
			continue
		}
		pv = strings.ToUpper(pv)
		if k == "TYPE" && strings.Contains(pv, ",") {
			types := strings.Split(pv, ",")
			slices.Sort(types)
			pv = strings.Join(types, ",")
		}
		params = append(params, k+"="+pv)
	}
	slices.Sort(params)
	return l.Name + ";" + strings.Join(params, ";") + ":" + v, true
}

// writeLine copies line i as it stood. Leading white space goes: a line
// can only start with it after an empty line or at the start of the data,
// and copied elsewhere it would continue the line before.
func (d *vdoc) writeLine(b *strings.Builder, i int) {
	b.WriteString(strings.TrimLeft(d.lines[i].Orig, " \t\r\n"))
}

func (d *vdoc) writeItem(b *strings.Builder, it vitem) {
	if it.child == nil {
		d.writeLine(b, it.line)
		return
	}
	for i := it.child.begin; i <= it.child.end; i++ {
		d.writeLine(b, i)
	}
}

func (d *vdoc) writeField(b *strings.Builder, f *field) {
	if f == nil {
		return
	}
	for _, it := range f.kept {
		d.writeItem(b, it)
	}
}
