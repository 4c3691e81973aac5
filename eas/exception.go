package eas

import (
	"slices"
	"strings"
	"time"

	"syncml-imap/internal/vobject"
)

// A recurring event's exceptions between MS-ASCAL's Exceptions element
// (2.2.2.21, 2.2.2.22) and the mailbox, which keeps them as iCalendar and
// CalDAV do (pim/recur.go): a deleted occurrence is an EXDATE of the
// master, a moved or changed one a VEVENT of the same UID with a
// RECURRENCE-ID in the same item, a cancelled one such a VEVENT with
// STATUS:CANCELLED.
//
// Out: each EXDATE and each cancelled RECURRENCE-ID is an Exception with
// Deleted 1; each other RECURRENCE-ID an Exception with its start and end
// and the fields in which it differs from the master (an element the
// Exception leaves out is "the same as the top-level element", MS-ASCAL
// 2.2.2.21). The original start names the occurrence: ExceptionStartTime
// up to 14.1, airsyncbase:InstanceId in 16.0 and 16.1 (with
// ExceptionStartTime too, which 16.1 clients still read).
//
// In: a Change's Exceptions are the series' whole list. An occurrence the
// client names by its original start is matched to the stored one; its
// fields are merged onto it by ApplyEvent's rule, so its X- lines, other
// alarms and properties ActiveSync has no element for stay. A field the
// Exception leaves out follows the master when the stored exception had
// the master's value (that is why it was left out going out), and stays as
// stored when it differed (the client did not carry it). A new exception
// starts as a copy of the master at that occurrence. Deleted 1 is an
// EXDATE (the stored exception goes, as pim/recur.go does with a deleted
// one); a stored exception the list leaves out goes back to the pattern.
// A Change without Exceptions keeps them all.
//
// In 16.0 and 16.1 a client changes one occurrence with a Change or Delete
// naming the master's ServerId and the occurrence's InstanceId (MS-ASCAL
// 2.2.2.22, MS-ASCMD 2.2.3.24): ApplyEventInstance.

// excEdit is what a client's request does to a series' exceptions.
type excEdit struct {
	all  bool // list is the whole set: stored ones it leaves out go
	list []excChange
}

// excChange is one occurrence the client names.
type excChange struct {
	start   time.Time // the original start as sent; zero when unreadable
	deleted bool
	fields  []Field
}

// clientException reads an Exception element's fields.
func clientException(sub []Field) excChange {
	var c excChange
	for _, f := range sub {
		switch f.Name {
		case "ExceptionStartTime", "InstanceId":
			if t, ok := parseInstant(f.Value); ok && c.start.IsZero() {
				c.start = t
			}
		case "Deleted":
			c.deleted = strings.TrimSpace(f.Value) == "1"
		default:
			c.fields = append(c.fields, f)
		}
	}
	return c
}

// parseInstant reads an occurrence's original start: Compact DateTime
// (MS-ASDTYPE 2.7.2), or the dateTime form with separators that
// MeetingResponse's InstanceId uses and some clients send everywhere.
func parseInstant(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{compactTime, easTime, "2006-01-02T15:04:05Z", "20060102T150405"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// seriesForm is how the series writes an occurrence's time: its DTSTART
// line (the form of RECURRENCE-ID and EXDATE, RFC 5545 3.8.4.4, 3.8.5.1),
// whether it is all day, and the client's zone for reading all-day
// boundaries.
type seriesForm struct {
	start  *vobject.Line
	allDay bool
	loc    *time.Location
}

// seriesOf is the series' form after the client's change: newStart is the
// DTSTART it writes (nil: the stored one stays), loc its zone (nil: none
// sent or none known).
func seriesOf(ev *vobject.Object, newStart []string, loc *time.Location) seriesForm {
	var s seriesForm
	s.start = ev.Prop("DTSTART")
	if len(newStart) == 1 {
		if ls := vobject.Lines([]byte(newStart[0] + "\r\n")); len(ls) == 1 {
			s.start = &ls[0]
		}
	}
	if s.start != nil {
		s.allDay = s.start.Params["VALUE"] == "DATE" || len(strings.TrimSpace(s.start.Value)) == 8
	}
	s.loc = loc
	if s.loc == nil {
		_, _, _, s.loc, _ = eventTimes(ev)
	}
	s.loc = locOr(s.loc)
	return s
}

// key is the occurrence an original start names: its instant, or for an
// all-day series its day (as midnight UTC). An all-day start at midnight
// UTC is that day whatever the zone (TbSync, and what EventFields sends);
// another instant is midnight in the client's zone, as Exchange writes
// it.
func (s seriesForm) key(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Second)
	if !s.allDay || t.Equal(t.Truncate(24*time.Hour)) {
		return t
	}
	d := t.In(s.loc)
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
}

// storedKey is the occurrence a stored RECURRENCE-ID or EXDATE value
// names, on the same scale as key.
func (s seriesForm) storedKey(l *vobject.Line) (time.Time, bool) {
	u, _, _, ok := icalTime(l)
	if !ok {
		return time.Time{}, false
	}
	if s.allDay {
		u = u.Truncate(24 * time.Hour)
	}
	return u, true
}

// line writes an occurrence's time as property name in the series' form.
func (s seriesForm) line(name string, t time.Time) string {
	f := s.start
	switch {
	case s.allDay:
		return name + ";VALUE=DATE:" + t.Format("20060102")
	case f == nil || strings.HasSuffix(strings.TrimSpace(f.Value), "Z"):
		return name + ":" + t.UTC().Format(compactTime)
	case f.Params["TZID"] != "":
		// An unknown TZID reads as UTC (icalTime); it is written so too.
		loc := time.UTC
		if l, err := time.LoadLocation(strings.Trim(f.Params["TZID"], `"`)); err == nil {
			loc = l
		}
		return name + ";TZID=" + f.Params["TZID"] + ":" + t.In(loc).Format("20060102T150405")
	}
	return name + ":" + t.UTC().Format("20060102T150405") // floating, read as UTC
}

// overridesOf are the master's exceptions in cal: VEVENTs of its UID with
// a RECURRENCE-ID.
func overridesOf(cal, master *vobject.Object) []*vobject.Object {
	if cal == nil {
		return nil
	}
	uid := master.PropValue("UID")
	var out []*vobject.Object
	for _, c := range cal.Children {
		if c != master && c.Name == "VEVENT" && c.Prop("RECURRENCE-ID") != nil && c.PropValue("UID") == uid {
			out = append(out, c)
		}
	}
	return out
}

func cancelled(o *vobject.Object) bool {
	return strings.EqualFold(o.PropValue("STATUS"), "CANCELLED")
}

// exceptionsOut are the Exception fields of a series: its EXDATEs and
// its RECURRENCE-ID components, one per occurrence (a changed occurrence
// wins over an EXDATE of the same start), in time order.
func exceptionsOut(cal, master *vobject.Object, masterFields []Field, version string) []Field {
	s := seriesOf(master, nil, nil)
	type one struct {
		at     time.Time
		fields []Field
	}
	var all []one
	seen := map[time.Time]bool{}
	name := func(at time.Time) Field {
		if isV16(version) {
			return Field{Page: "AirSyncBase", Name: "InstanceId", Value: at.Format(compactTime)}
		}
		return Field{Page: "Calendar", Name: "ExceptionStartTime", Value: at.Format(compactTime)}
	}
	deleted := func(at time.Time) []Field {
		out := []Field{{Page: "Calendar", Name: "Deleted", Value: "1"}}
		if n := name(at); n.Name == "InstanceId" {
			out = append(out, Field{Page: "Calendar", Name: "ExceptionStartTime", Value: n.Value})
		}
		return append(out, name(at))
	}
	for _, o := range overridesOf(cal, master) {
		at, ok := s.storedKey(o.Prop("RECURRENCE-ID"))
		if !ok || seen[at] {
			continue
		}
		seen[at] = true
		if cancelled(o) {
			all = append(all, one{at, deleted(at)})
			continue
		}
		all = append(all, one{at, exceptionFields(componentFields(o, version, false), masterFields, name(at))})
	}
	for _, p := range master.Props {
		if p.Name != "EXDATE" {
			continue
		}
		for _, v := range strings.Split(p.Value, ",") {
			l := vobject.Line{Name: "EXDATE", Params: p.Params, Value: v}
			if at, ok := s.storedKey(&l); ok && !seen[at] {
				seen[at] = true
				all = append(all, one{at, deleted(at)})
			}
		}
	}
	slices.SortStableFunc(all, func(a, b one) int { return a.at.Compare(b.at) })
	var out []Field
	for _, e := range all {
		out = append(out, Field{Page: "Calendar", Name: "Exception", Sub: e.fields})
	}
	return out
}

// exceptionElements are the fields an Exception carries, in MS-ASCAL
// 2.2.2.21's order, after Deleted and ExceptionStartTime. InstanceId goes
// after Reminder in 16.x. Not sent: DtStamp and UID (the master's),
// MeetingStatus (the master does not send it either: telling organizer
// from attendee needs the account's address), attachments.
var exceptionElements = []string{"Subject", "StartTime", "EndTime", fieldBody, "Location", fieldCategories, "Sensitivity", "BusyStatus", "AllDayEvent", "Reminder", "Attendees"}

// inherited are the fields an Exception may leave out to mean the
// master's value.
var inherited = []string{"Subject", fieldBody, "Location", fieldCategories, "Sensitivity", "BusyStatus", "AllDayEvent", "Reminder", "Attendees"}

// exceptionFields is an exception's Exception: its start and end always
// (a missing StartTime is the top-level one, MS-ASCAL 2.2.2.42: the
// series' first), the other
// fields where they differ from the master, an empty one where the master
// has a value and the exception none.
func exceptionFields(own, master []Field, name Field) []Field {
	// 16.x names the occurrence by InstanceId, after Reminder; its
	// ExceptionStartTime goes too, first, since clients of 16.1 read it
	// still (TbSync 4.18 reads only it, and took a missing one for 1970).
	out := []Field{{Page: "Calendar", Name: "ExceptionStartTime", Value: name.Value}}
	for _, n := range exceptionElements {
		o, has := findField(own, n)
		m, mhas := findField(master, n)
		switch {
		case n == "StartTime" || n == "EndTime":
			if has {
				out = append(out, o)
			}
		case has && (!mhas || !sameField(o, m)):
			out = append(out, o)
		case !has && mhas:
			out = append(out, emptyField(m))
		}
		if n == "Reminder" && name.Name == "InstanceId" {
			out = append(out, name)
		}
	}
	return out
}

// emptyField is f without a value: the element that says "none".
func emptyField(f Field) Field {
	e := Field{Page: f.Page, Name: f.Name}
	switch {
	case f.List != nil:
		e.List = []string{}
	case f.Sub != nil:
		e.Sub = []Field{}
	}
	return e
}

func findField(fs []Field, name string) (Field, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

func sameField(a, b Field) bool {
	if a.Name == "Location" {
		return locationOf(a) == locationOf(b)
	}
	return a.Value == b.Value && slices.Equal(a.List, b.List) &&
		slices.EqualFunc(a.Sub, b.Sub, sameField) && (a.Sub == nil) == (b.Sub == nil)
}

// exdateLines are the master's EXDATE lines after the client's edit, and
// whether they changed. A stored line whose dates all stay is kept as it
// was; new dates are written in the series' form.
func exdateLines(cal, master *vobject.Object, s seriesForm, edit *excEdit) ([]string, bool) {
	stored := seriesForm{start: master.Prop("DTSTART"), allDay: s.allDay, loc: s.loc}
	cancelledAt := map[time.Time]bool{}
	overrideAt := map[time.Time]bool{}
	for _, o := range overridesOf(cal, master) {
		if at, ok := stored.storedKey(o.Prop("RECURRENCE-ID")); ok {
			overrideAt[at] = true
			cancelledAt[at] = cancelledAt[at] || cancelled(o)
		}
	}
	have := map[time.Time]bool{}
	for _, p := range master.Props {
		if p.Name == "EXDATE" {
			for _, v := range strings.Split(p.Value, ",") {
				l := vobject.Line{Name: "EXDATE", Params: p.Params, Value: v}
				if at, ok := stored.storedKey(&l); ok {
					have[at] = true
				}
			}
		}
	}
	want := map[time.Time]bool{}
	if !edit.all {
		for at := range have {
			want[at] = true
		}
	}
	for _, c := range edit.list {
		if c.start.IsZero() {
			continue
		}
		at := s.key(c.start)
		switch {
		case !c.deleted:
			// An EXDATE beside a kept exception (some stores write both)
			// stays; otherwise the occurrence is back.
			want[at] = have[at] && overrideAt[at]
		case cancelledAt[at]:
			// Already a cancelled exception: it says so itself.
			want[at] = have[at]
		default:
			want[at] = true
		}
	}
	for at, w := range want {
		if !w {
			delete(want, at)
		}
	}
	if len(want) == len(have) {
		same := true
		for at := range want {
			same = same && have[at]
		}
		if same {
			return nil, false
		}
	}
	var lines []string
	written := map[time.Time]bool{}
	for _, p := range master.Props {
		if p.Name != "EXDATE" {
			continue
		}
		var ats []time.Time
		keep := true
		for _, v := range strings.Split(p.Value, ",") {
			l := vobject.Line{Name: "EXDATE", Params: p.Params, Value: v}
			if at, ok := stored.storedKey(&l); ok {
				ats = append(ats, at)
				keep = keep && want[at]
			}
		}
		if keep && len(ats) > 0 {
			lines = append(lines, p.Raw)
			for _, at := range ats {
				written[at] = true
			}
		}
	}
	var rest []time.Time
	for at := range want {
		if !written[at] {
			rest = append(rest, at)
		}
	}
	slices.SortFunc(rest, time.Time.Compare)
	for _, at := range rest {
		lines = append(lines, s.line("EXDATE", at))
	}
	return lines, true
}

// applyExceptions applies the client's exceptions: the new text of each
// stored exception it changes ("" for one that goes), and the new ones,
// written after the master. master is the stored master, vevent the
// master's new text, zoneText a time zone added with it.
func applyExceptions(cal, master *vobject.Object, vevent, zoneText string, s seriesForm, edit *excEdit) (map[*vobject.Object]string, string) {
	objs := vobject.Parse([]byte(vevent))
	if len(objs) == 0 {
		return nil, ""
	}
	newMaster := objs[0]
	stored := seriesForm{start: master.Prop("DTSTART"), allDay: s.allDay, loc: s.loc}
	at := map[time.Time]*vobject.Object{}
	var order []*vobject.Object
	for _, o := range overridesOf(cal, master) {
		if k, ok := stored.storedKey(o.Prop("RECURRENCE-ID")); ok {
			if at[k] == nil {
				at[k] = o
			}
			order = append(order, o)
		}
	}
	// The calendar's zones, for the exceptions' times.
	var zones strings.Builder
	if cal != nil {
		for _, c := range cal.Children {
			if c.Name == "VTIMEZONE" {
				zones.WriteString(strings.Join(c.Lines, ""))
			}
		}
	}
	zones.WriteString(zoneText)
	oldFields, newFields := componentFields(master, "", false), componentFields(newMaster, "", false)

	out := map[*vobject.Object]string{}
	named := map[*vobject.Object]bool{}
	var added strings.Builder
	for _, c := range edit.list {
		if c.start.IsZero() {
			continue
		}
		k := s.key(c.start)
		o := at[k]
		if o != nil {
			named[o] = true
		}
		switch {
		case c.deleted && o != nil && cancelled(o):
		case c.deleted && o != nil:
			out[o] = ""
		case c.deleted:
		case o != nil:
			fields, loc := exceptionEdit(c.fields, o, oldFields, newFields, s)
			out[o] = applyComponent(o, zones.String(), fields, loc)
		default:
			seed := seedException(newMaster, s, k)
			fields, loc := exceptionEdit(c.fields, seed, nil, nil, s)
			added.WriteString(applyComponent(seed, zones.String(), fields, loc))
		}
	}
	if edit.all {
		for _, o := range order {
			if !named[o] {
				out[o] = ""
			}
		}
	}
	return out, added.String()
}

// exceptionEdit are the fields applied to an exception, and the zone its
// times are read in: the client's fields, with its times completed (a
// start alone keeps the exception's length; AllDayEvent left out is the
// series'; all-day boundaries as the series reads them), and the
// master's new value for each field the client left out where the stored
// exception had the master's old one (oldMaster nil: o is new, a copy of
// the master).
func exceptionEdit(sent []Field, o *vobject.Object, oldMaster, newMaster []Field, s seriesForm) ([]Field, *time.Location) {
	var fields []Field
	for _, f := range sent {
		switch f.Name {
		case "StartTime", "EndTime", "Subject", fieldBody, "Location", fieldCategories, "Sensitivity", "BusyStatus", "AllDayEvent", "Reminder", "Attendees":
			fields = append(fields, f)
		}
	}
	st, hasSt := findField(fields, "StartTime")
	_, hasEn := findField(fields, "EndTime")
	if hasSt || hasEn {
		os, oe, _, _, _ := eventTimes(o)
		switch {
		case !hasEn:
			if t, err := time.Parse(compactTime, st.Value); err == nil {
				fields = append(fields, Field{Page: "Calendar", Name: "EndTime", Value: t.Add(oe.Sub(os)).UTC().Format(compactTime)})
			}
		case !hasSt:
			fields = append(fields, Field{Page: "Calendar", Name: "StartTime", Value: os.UTC().Format(compactTime)})
		}
		if _, ok := findField(fields, "AllDayEvent"); !ok {
			fields = append(fields, Field{Page: "Calendar", Name: "AllDayEvent", Value: map[bool]string{true: "1", false: "0"}[s.allDay]})
		}
	}
	loc := s.loc
	if ad, _ := findField(fields, "AllDayEvent"); ad.Value == "1" {
		// Its days, as midnight UTC, read in UTC.
		loc = time.UTC
		day := seriesForm{allDay: true, loc: s.loc}
		for i, f := range fields {
			if f.Name == "StartTime" || f.Name == "EndTime" {
				if t, err := time.Parse(compactTime, f.Value); err == nil {
					fields[i].Value = day.key(t).Format(compactTime)
				}
			}
		}
	}
	if oldMaster != nil {
		own := componentFields(o, "", false)
		for _, n := range inherited {
			if _, ok := findField(sent, n); ok || n == "AllDayEvent" {
				continue
			}
			ov, ohas := findField(own, n)
			mv, mhas := findField(oldMaster, n)
			nv, nhas := findField(newMaster, n)
			if ohas != mhas || (ohas && !sameField(ov, mv)) {
				continue // its own value, which the client did not carry
			}
			if nhas == mhas && (!nhas || sameField(nv, mv)) {
				continue // the master did not change it
			}
			if !nhas {
				nv = emptyField(mv)
				if n == "Attendees" {
					nv.Sub = []Field{}
				}
			}
			fields = append(fields, nv)
		}
	}
	return fields, loc
}

// seedException is a new exception of the series at the occurrence k: a
// copy of the master (MS-ASCAL 2.2.2.21: what an Exception leaves out is
// the master's) without its recurrence, at the occurrence's own times.
func seedException(master *vobject.Object, s seriesForm, k time.Time) *vobject.Object {
	start, end, _, _, _ := eventTimes(master)
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n")
	for _, p := range master.Props {
		switch p.Name {
		case "BEGIN", "END", "RRULE", "RDATE", "EXRULE", "EXDATE", "DTSTART", "DTEND", "DURATION", "RECURRENCE-ID":
		default:
			b.WriteString(p.Orig)
		}
	}
	for _, l := range []string{s.line("RECURRENCE-ID", k), s.line("DTSTART", k), s.line("DTEND", k.Add(end.Sub(start)))} {
		vobject.WriteFolded(&b, l)
	}
	for _, c := range master.Children {
		b.WriteString(strings.Join(c.Lines, ""))
	}
	b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
	objs := vobject.Parse([]byte(b.String()))
	return objs[0].Children[0]
}

// applyComponent is an exception's text with the client's fields applied
// by ApplyEvent's rule (the fields it does not send stay), in a calendar
// of the item's zones, its times in loc.
func applyComponent(o *vobject.Object, zones string, fields []Field, loc *time.Location) string {
	var ghosted []string
	for _, n := range append(slices.Clone(exceptionElements), "TimeZone", "Recurrence", "Exceptions") {
		if _, ok := findField(fields, n); !ok {
			ghosted = append(ghosted, n)
		}
	}
	wrapped := "BEGIN:VCALENDAR\r\n" + zones + strings.Join(o.Lines, "") + "END:VCALENDAR\r\n"
	cal, ev := mainComponent(applyEvent([]byte(wrapped), fields, ghosted, "", &applyOpts{loc: loc}), "VEVENT")
	if cal == nil {
		return strings.Join(o.Lines, "")
	}
	lines := ev.Lines
	if o.Prop("DTSTAMP") == nil && len(lines) > 1 && strings.HasPrefix(lines[1], "DTSTAMP:") {
		// ApplyEvent stamps a component without one; an exception stays
		// as it was stored.
		lines = append([]string{lines[0]}, lines[2:]...)
	}
	return strings.Join(lines, "")
}

// rewriteChildren is cal's text with the blocks of the children edit
// names replaced; every other line stays as it stood.
func rewriteChildren(cal *vobject.Object, edit func(*vobject.Object) (string, bool)) string {
	// A child's Lines are a run of cal's (vobject.ParseWith), the children
	// in order: the next child's block starts at its BEGIN line.
	var b strings.Builder
	k := 0
	for i := 0; i < len(cal.Lines); i++ {
		if i == 0 || k >= len(cal.Children) || len(cal.Children[k].Lines) == 0 || cal.Lines[i] != cal.Children[k].Lines[0] {
			b.WriteString(cal.Lines[i])
			continue
		}
		c := cal.Children[k]
		k++
		if text, ok := edit(c); ok {
			b.WriteString(text)
		} else {
			b.WriteString(strings.Join(c.Lines, ""))
		}
		i += len(c.Lines) - 1
	}
	return b.String()
}

// ApplyEventInstance is the stored series with one occurrence changed by
// a client of protocol 16.0 or 16.1, which names it by the master's
// ServerId and airsyncbase:InstanceId (MS-ASCAL 2.2.2.22): fields are the
// Change's ApplicationData, deleted a Delete of the occurrence. The
// master and the other exceptions stay as stored. ok is false when the
// item is no series, instanceID names no time, or (for a change) no
// occurrence of the series starts then; deleting one that is not there
// changes nothing.
func ApplyEventInstance(stored []byte, instanceID string, fields []Field, deleted bool) ([]byte, bool) {
	_, ev := mainComponent(stored, "VEVENT")
	t, tok := parseInstant(instanceID)
	if ev == nil || ev.Prop("RRULE") == nil && ev.Prop("RDATE") == nil || !tok {
		return stored, false
	}
	if start, _, allDay, loc, ok := eventTimes(ev); !ok || !isOccurrence(ev, start, allDay, loc, t) {
		// No occurrence starts then (or it is deleted already): nothing
		// to delete; nothing to change.
		return stored, deleted && ok
	}
	var ghosted []string
	for _, n := range append(slices.Clone(exceptionElements), "TimeZone", "Recurrence", "Exceptions", "UID") {
		ghosted = append(ghosted, n)
	}
	var own []Field
	var tz Field
	for _, f := range fields {
		if f.Name == "TimeZone" {
			tz = f // the series', for the occurrence's all-day boundaries
			continue
		}
		own = append(own, f)
	}
	edit := &excEdit{list: []excChange{{start: t, deleted: deleted, fields: own}}}
	var master []Field
	if tz.Value != "" {
		master = []Field{tz}
	}
	return applyEvent(stored, master, ghosted, "", &applyOpts{inst: edit}), true
}
