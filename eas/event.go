package eas

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"syncml-imap/internal/vformat"
	"syncml-imap/internal/vobject"
)

// Events between MS-ASCAL and the mailbox's iCalendar VEVENT, by the rule
// of contacts and tasks: a client's change rewrites what ActiveSync
// carries and keeps every other line of the stored item.
//
// Mapped: Subject, Location, the body, the start and end (StartTime,
// EndTime, AllDayEvent, TimeZone), Sensitivity, BusyStatus (TRANSP),
// Categories, the reminder (the first alarm's minutes before the start),
// the recurrence (recurrence.go) with its exceptions (exception.go: EXDATEs
// and RECURRENCE-ID components as Exceptions), the organizer and the
// attendees (sent; a client's list replaces the stored one only when it
// sends one). Kept as stored: alarms past the first, the calendar's other
// time zones, X- lines, in the master and in each exception.

// EventFields are the ActiveSync fields of a stored event, in the form
// of protocol 14.1 (EventFieldsFor names the version).
func EventFields(data []byte) []Field { return EventFieldsFor(data, "14.1") }

// EventFieldsFor are the ActiveSync fields of a stored event for a client
// of protocol version (MS-ASProtocolVersion, "14.1", "16.1"): 16.0 and
// 16.1 carry the location as airsyncbase:Location and name an exception
// by airsyncbase:InstanceId (MS-ASCAL 2.2.2.21, 2.2.2.27).
func EventFieldsFor(data []byte, version string) []Field {
	cal, ev := mainComponent(data, "VEVENT")
	if ev == nil {
		return nil
	}
	out := componentFields(ev, version, true)
	start, _, _, loc, ok := eventTimes(ev)
	if rr := ev.PropValue("RRULE"); rr != "" && ok {
		if rec, ok := recurrenceOf(rr, start.In(locOr(loc))); ok {
			more := []Field{{Page: "Calendar", Name: "Recurrence", Sub: rec}}
			if exc := exceptionsOut(cal, ev, out, version); len(exc) > 0 {
				more = append(more, Field{Page: "Calendar", Name: "Exceptions", Sub: exc})
			}
			// Before the body, which goes last.
			at := len(out)
			if at > 0 && out[at-1].Name == fieldBody {
				at--
			}
			out = slices.Insert(out, at, more...)
		}
	}
	return out
}

// componentFields are the fields of one VEVENT, the master or an
// exception, but its recurrence; its TimeZone only when zone is true (an
// Exception has none, and the blob costs a scan of the year).
func componentFields(ev *vobject.Object, version string, zone bool) []Field {
	var out []Field
	add := func(name, v string) {
		if v != "" {
			out = append(out, Field{Page: "Calendar", Name: name, Value: v})
		}
	}
	start, end, allDay, loc, ok := eventTimes(ev)
	if ok {
		if zone {
			tz := zoneOf(locOr(loc), start.Year())
			add("TimeZone", tz.encode())
		}
		add("AllDayEvent", map[bool]string{true: "1", false: "0"}[allDay])
		add("StartTime", start.UTC().Format(compactTime))
		add("EndTime", end.UTC().Format(compactTime))
	}
	if l := ev.Prop("DTSTAMP"); l != nil {
		add("DtStamp", strings.TrimSpace(l.Value))
	}
	add("Subject", ev.PropValue("SUMMARY"))
	add("UID", ev.PropValue("UID"))
	if o := ev.Prop("ORGANIZER"); o != nil {
		add("OrganizerName", o.Params["CN"])
		add("OrganizerEmail", mailto(o.Value))
	}
	if l := ev.PropValue("LOCATION"); l != "" {
		out = append(out, locationField(l, version))
	}
	add("Sensitivity", map[string]string{"PUBLIC": "0", "PRIVATE": "2", "CONFIDENTIAL": "3"}[strings.ToUpper(ev.PropValue("CLASS"))])
	busy := "2"
	if strings.EqualFold(ev.PropValue("TRANSP"), "TRANSPARENT") {
		busy = "0"
	} else if strings.EqualFold(ev.PropValue("STATUS"), "TENTATIVE") {
		busy = "1"
	}
	add("BusyStatus", busy)
	if m, ok := reminderOf(ev); ok {
		add("Reminder", strconv.Itoa(m))
	}
	out = append(out, categoriesField("Calendar", ev.Prop("CATEGORIES"))...)
	var atts []Field
	for _, p := range ev.Props {
		if p.Name != "ATTENDEE" {
			continue
		}
		a := []Field{{Page: "Calendar", Name: "Email", Value: mailto(p.Value)}}
		if cn := p.Params["CN"]; cn != "" {
			a = append(a, Field{Page: "Calendar", Name: "Name", Value: cn})
		}
		if st := map[string]string{"ACCEPTED": "3", "TENTATIVE": "2", "DECLINED": "4", "NEEDS-ACTION": "5"}[strings.ToUpper(p.Params["PARTSTAT"])]; st != "" {
			a = append(a, Field{Page: "Calendar", Name: "AttendeeStatus", Value: st})
		}
		typ := "1"
		switch strings.ToUpper(p.Params["ROLE"]) {
		case "OPT-PARTICIPANT", "NON-PARTICIPANT":
			typ = "2"
		}
		if strings.EqualFold(p.Params["CUTYPE"], "RESOURCE") || strings.EqualFold(p.Params["CUTYPE"], "ROOM") {
			typ = "3"
		}
		a = append(a, Field{Page: "Calendar", Name: "AttendeeType", Value: typ})
		atts = append(atts, Field{Page: "Calendar", Name: "Attendee", Sub: a})
	}
	if len(atts) > 0 {
		out = append(out, Field{Page: "Calendar", Name: "Attendees", Sub: atts})
	}
	if b := ev.Prop("DESCRIPTION"); b != nil && b.Value != "" {
		out = append(out, Field{Page: "AirSyncBase", Name: fieldBody, Value: vobject.UnescapeText(b.Value)})
	}
	return out
}

// locationField is a location as the version carries it: from 16.0 on
// airsyncbase:Location with its DisplayName (MS-ASAIRS 2.2.2.28), before
// it calendar:Location.
func locationField(v, version string) Field {
	if isV16(version) {
		return Field{Page: "AirSyncBase", Name: "Location", Sub: []Field{{Page: "AirSyncBase", Name: "DisplayName", Value: v}}}
	}
	return Field{Page: "Calendar", Name: "Location", Value: v}
}

// locationOf reads a client's location in either form.
func locationOf(f Field) string {
	if f.Sub != nil {
		for _, s := range f.Sub {
			if s.Name == "DisplayName" {
				return s.Value
			}
		}
		return ""
	}
	return f.Value
}

func isV16(version string) bool { return strings.HasPrefix(strings.TrimSpace(version), "16.") }

func locOr(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

func mailto(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 7 && strings.EqualFold(v[:7], "mailto:") {
		return v[7:]
	}
	return v
}

// eventTimes reads an event's start and end (DTEND, or DURATION, or the
// start itself; an all-day event lasts its day), whether it is all day,
// and its zone (nil: UTC or floating).
func eventTimes(ev *vobject.Object) (start, end time.Time, allDay bool, loc *time.Location, ok bool) {
	ds := ev.Prop("DTSTART")
	if ds == nil {
		return
	}
	start, _, allDay, ok = icalTime(ds)
	if !ok {
		return
	}
	if tz := strings.Trim(ds.Params["TZID"], `"`); tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	switch {
	case ev.Prop("DTEND") != nil:
		if e, _, _, eok := icalTime(ev.Prop("DTEND")); eok && !e.Before(start) {
			end = e
		}
	case ev.Prop("DURATION") != nil:
		if d, dok := vobject.ParseDuration(ev.PropValue("DURATION")); dok && !d.Negative() {
			end = start.Add(time.Duration(d.Seconds()) * time.Second)
		}
	}
	if end.IsZero() {
		end = start
		if allDay {
			end = start.AddDate(0, 0, 1)
		}
	}
	return start, end, allDay, loc, true
}

// reminderOf is the first alarm's minutes before the start, when it is
// relative to the start.
func reminderOf(ev *vobject.Object) (int, bool) {
	for _, c := range ev.Children {
		if c.Name != "VALARM" {
			continue
		}
		tr := c.Prop("TRIGGER")
		if tr == nil || strings.EqualFold(tr.Params["RELATED"], "END") || tr.Params["VALUE"] == "DATE-TIME" {
			return 0, false
		}
		d, ok := vobject.ParseDuration(tr.Value)
		if !ok || d.Seconds() > 0 {
			return 0, false
		}
		return int(-d.Seconds() / 60), true
	}
	return 0, false
}

// ApplyEvent is the stored event (nil: new) with a client's fields; what
// ActiveSync does not carry stays as stored. uid names a new event that
// brings no UID. Its Exceptions, when it sends them, are the series' whole
// list (exception.go).
func ApplyEvent(stored []byte, fields []Field, ghosted []string, uid string) []byte {
	return applyEvent(stored, fields, ghosted, uid, nil)
}

// applyOpts are what the edit of an exception adds to ApplyEvent.
type applyOpts struct {
	inst *excEdit       // one occurrence's change (ApplyEventInstance) instead of the client's Exceptions
	loc  *time.Location // the client's zone, read once for the series (an Exception has no TimeZone)
}

func applyEvent(stored []byte, fields []Field, ghosted []string, uid string, o *applyOpts) []byte {
	got := map[string]Field{}
	for _, f := range fields {
		got[f.Name] = f
	}
	// The client's zone: ianaZone tries every zone, so once.
	var zone *time.Location
	zoneRead := false
	clientZone := func(y int) *time.Location {
		switch {
		case o != nil && o.loc != nil:
			return o.loc
		case !zoneRead:
			zoneRead = true
			if z, err := parseTimeZone(got["TimeZone"].Value); err == nil {
				zone = ianaZone(z, y)
			}
		}
		return zone
	}
	sent := func(name string) bool {
		_, ok := got[name]
		return ok || !slices.Contains(ghosted, name)
	}
	cal, ev := mainComponent(stored, "VEVENT")
	if ev == nil {
		cal, ev = nil, &vobject.Object{Name: "VEVENT"}
	}
	want := map[string][]string{} // property → its new lines (nil entry: none)
	set := func(name, prop string, lines ...string) {
		if !sent(name) {
			return
		}
		var keep []string
		for _, l := range lines {
			if l != "" {
				keep = append(keep, l)
			}
		}
		want[prop] = keep
	}
	set("Subject", "SUMMARY", textLine("SUMMARY", got["Subject"].Value))
	set("Location", "LOCATION", textLine("LOCATION", locationOf(got["Location"])))
	set(fieldBody, "DESCRIPTION", textLine("DESCRIPTION", strings.ReplaceAll(got[fieldBody].Value, "\r\n", "\n")))
	if !(got["Sensitivity"].Value == "0" && ev.Prop("CLASS") == nil) { // PUBLIC is what no CLASS means (RFC 5545 3.8.1.3)
		set("Sensitivity", "CLASS", map[string]string{"0": "CLASS:PUBLIC", "1": "CLASS:PRIVATE", "2": "CLASS:PRIVATE", "3": "CLASS:CONFIDENTIAL"}[got["Sensitivity"].Value])
	}
	if b, ok := got["BusyStatus"]; ok {
		switch {
		case b.Value == "0":
			want["TRANSP"] = []string{"TRANSP:TRANSPARENT"}
		case strings.EqualFold(ev.PropValue("TRANSP"), "TRANSPARENT"):
			want["TRANSP"] = []string{"TRANSP:OPAQUE"} // busy is the default: no line otherwise
		}
	}
	cats := nonEmpty(got[fieldCategories].List)
	if len(cats) > 0 {
		set(fieldCategories, "CATEGORIES", "CATEGORIES:"+vobject.JoinText(cats, ','))
	} else {
		set(fieldCategories, "CATEGORIES")
	}

	// The times, in the client's zone when a real one keeps its rules.
	var zoneText string
	if st, err := time.Parse(compactTime, got["StartTime"].Value); err == nil {
		en, err := time.Parse(compactTime, got["EndTime"].Value)
		if err != nil || en.Before(st) {
			en = st
		}
		loc := clientZone(st.Year())
		_, _, _, storedLoc, _ := eventTimes(ev)
		if loc == nil {
			loc = storedLoc
		}
		switch {
		case got["AllDayEvent"].Value == "1":
			l := locOr(loc)
			sd, ed := st.In(l), en.In(l)
			if ed.Hour() != 0 || ed.Minute() != 0 || !ed.After(sd) {
				ed = sd.AddDate(0, 0, 1)
			}
			want["DTSTART"] = []string{"DTSTART;VALUE=DATE:" + sd.Format("20060102")}
			want["DTEND"] = []string{"DTEND;VALUE=DATE:" + ed.Format("20060102")}
		case loc == nil || loc == time.UTC || loc.String() == "UTC":
			want["DTSTART"] = []string{"DTSTART:" + st.UTC().Format(compactTime)}
			want["DTEND"] = []string{"DTEND:" + en.UTC().Format(compactTime)}
		default:
			want["DTSTART"] = []string{"DTSTART;TZID=" + loc.String() + ":" + st.In(loc).Format("20060102T150405")}
			want["DTEND"] = []string{"DTEND;TZID=" + loc.String() + ":" + en.In(loc).Format("20060102T150405")}
			if !hasTimezone(cal, loc.String()) {
				zoneText = vformat.VTimezone(loc, st.Year(), st.Year()+1)
			}
		}
		want["DURATION"] = nil
		if ds := ev.Prop("DTSTART"); ds != nil {
			if su, _, _, ok := icalTime(ds); ok && su.Equal(st) && (got["AllDayEvent"].Value == "1") == (ds.Params["VALUE"] == "DATE" || len(ds.Value) == 8) {
				// The same instant: the stored spelling stays.
				delete(want, "DTSTART")
				if e, _, _, ok := eventEnd(ev); ok && e.Equal(en) {
					delete(want, "DTEND")
					delete(want, "DURATION")
				}
			}
		}
	}
	if r, ok := got["Recurrence"]; ok {
		if rule, ok := rruleOf(r.Sub); ok {
			if cur := ev.PropValue("RRULE"); !sameRule(cur, rule) && !samePattern(ev, rule) {
				want["RRULE"] = []string{"RRULE:" + rule}
			}
		}
	} else if sent("Recurrence") {
		if _, rok := recurrenceOf(ev.PropValue("RRULE"), time.Now()); rok || ev.Prop("RRULE") == nil {
			want["RRULE"] = nil // the client made it a single event
		}
	}
	var edit *excEdit
	if o != nil {
		edit = o.inst
	}
	if ex, ok := got["Exceptions"]; ok && edit == nil {
		edit = &excEdit{all: true}
		for _, e := range ex.Sub {
			if e.Name == "Exception" {
				edit.list = append(edit.list, clientException(e.Sub))
			}
		}
	}
	var series seriesForm
	if edit != nil {
		series = seriesOf(ev, want["DTSTART"], clientZone(time.Now().Year()))
		if lines, changed := exdateLines(cal, ev, series, edit); changed {
			want["EXDATE"] = lines
		}
	}
	if a, ok := got["Attendees"]; ok {
		var lines []string
		for _, at := range a.Sub {
			sub := map[string]string{}
			for _, f := range at.Sub {
				sub[f.Name] = f.Value
			}
			if sub["Email"] == "" {
				continue
			}
			l := "ATTENDEE"
			if n := sub["Name"]; n != "" {
				l += ";CN=" + vobject.QuoteParam(n)
			}
			if ps := map[string]string{"2": "TENTATIVE", "3": "ACCEPTED", "4": "DECLINED", "5": "NEEDS-ACTION"}[sub["AttendeeStatus"]]; ps != "" {
				l += ";PARTSTAT=" + ps
			}
			if sub["AttendeeType"] == "2" {
				l += ";ROLE=OPT-PARTICIPANT"
			} else if sub["AttendeeType"] == "3" {
				l += ";CUTYPE=RESOURCE"
			}
			lines = append(lines, l+":mailto:"+mailAddr(sub["Email"]))
		}
		if !sameAttendees(ev, lines) {
			want["ATTENDEE"] = lines
		}
	}

	// The event's lines.
	var b strings.Builder
	done := map[string]bool{}
	for _, l := range ev.Props {
		nl, mapped := want[l.Name]
		switch {
		case l.Name == "BEGIN" || l.Name == "END":
		case !mapped:
			b.WriteString(l.Orig)
		case done[l.Name]:
		case len(nl) == 1 && sameLine(l, nl[0]):
			b.WriteString(l.Orig)
			done[l.Name] = true
		default:
			done[l.Name] = true
			for _, x := range nl {
				vobject.WriteFolded(&b, x)
			}
		}
	}
	for _, prop := range []string{"SUMMARY", "LOCATION", "DESCRIPTION", "DTSTART", "DTEND", "CLASS", "TRANSP", "CATEGORIES", "RRULE", "EXDATE", "ATTENDEE"} {
		if !done[prop] && ev.Prop(prop) == nil {
			for _, x := range want[prop] {
				vobject.WriteFolded(&b, x)
			}
		}
	}
	// The reminder: the first alarm's trigger, or a new alarm.
	kids := ev.Children
	if r, ok := got["Reminder"]; ok || sent("Reminder") {
		m, err := strconv.Atoi(strings.TrimSpace(r.Value))
		cur, has := reminderOf(ev)
		switch {
		case err != nil || r.Value == "":
			// TbSync sends an empty <Reminder/> for none.
			kids = slices.DeleteFunc(slices.Clone(kids), func(c *vobject.Object) bool { return c.Name == "VALARM" })
		case has && cur == m:
		default:
			kids = slices.DeleteFunc(slices.Clone(kids), func(c *vobject.Object) bool { return c.Name == "VALARM" })
			kids = append([]*vobject.Object{{Name: "VALARM", Lines: []string{"BEGIN:VALARM\r\n", "ACTION:DISPLAY\r\n",
				"DESCRIPTION:Reminder\r\n", "TRIGGER:-PT" + strconv.Itoa(m) + "M\r\n", "END:VALARM\r\n"}}}, kids...)
		}
	}
	for _, c := range kids {
		b.WriteString(strings.Join(c.Lines, ""))
	}
	body := b.String()
	if ev.Prop("UID") == nil {
		id := got["UID"].Value
		if id == "" {
			id = uid
		}
		if id != "" { // else the store names it
			body = "UID:" + vobject.EscapeText(id) + "\r\n" + body
		}
	}
	if ev.Prop("DTSTAMP") == nil {
		body = "DTSTAMP:" + time.Now().UTC().Format(compactTime) + "\r\n" + body
	}
	vevent := "BEGIN:VEVENT\r\n" + body + "END:VEVENT\r\n"
	var overrides map[*vobject.Object]string
	if edit != nil {
		var added string
		overrides, added = applyExceptions(cal, ev, vevent, zoneText, series, edit)
		vevent += added
	}
	if cal == nil {
		return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//syncml-imap//ActiveSync//EN\r\n" + zoneText + vevent + "END:VCALENDAR\r\n")
	}
	return []byte(rewriteChildren(cal, func(c *vobject.Object) (string, bool) {
		if c == ev {
			return zoneText + vevent, true
		}
		text, ok := overrides[c]
		return text, ok
	}))
}

// eventEnd is the stored end (eventTimes without the start's details).
func eventEnd(ev *vobject.Object) (time.Time, time.Time, bool, bool) {
	_, end, allDay, _, ok := eventTimes(ev)
	return end, end, allDay, ok
}

func hasTimezone(cal *vobject.Object, tzid string) bool {
	if cal == nil {
		return false
	}
	for _, c := range cal.Children {
		if c.Name == "VTIMEZONE" && c.PropValue("TZID") == tzid {
			return true
		}
	}
	return false
}

// sameRule compares RRULEs part by part, in any order.
func sameRule(a, b string) bool {
	split := func(s string) []string {
		p := strings.Split(strings.ToUpper(strings.TrimPrefix(s, "RRULE:")), ";")
		p = slices.DeleteFunc(p, func(x string) bool { return x == "" || x == "INTERVAL=1" || strings.HasPrefix(x, "WKST=") })
		slices.Sort(p)
		return p
	}
	return slices.Equal(split(a), split(b))
}

// samePattern: the stored RRULE makes the client's rule once its implied
// parts are spelled out (FREQ=YEARLY goes out with its month and day).
func samePattern(ev *vobject.Object, rule string) bool {
	start, _, _, loc, ok := eventTimes(ev)
	if !ok {
		return false
	}
	rec, ok := recurrenceOf(ev.PropValue("RRULE"), start.In(locOr(loc)))
	if !ok {
		return false
	}
	back, ok := rruleOf(rec)
	return ok && sameRule(back, rule)
}

func sameAttendees(ev *vobject.Object, lines []string) bool {
	var have, want []string
	for _, p := range ev.Props {
		if p.Name == "ATTENDEE" {
			have = append(have, strings.ToLower(mailto(p.Value)))
		}
	}
	for _, l := range lines {
		want = append(want, strings.ToLower(l[strings.LastIndex(l, "mailto:")+7:]))
	}
	slices.Sort(have)
	slices.Sort(want)
	return slices.Equal(have, want)
}
