package vformat

// Writing the model as vCalendar 1.0.

import (
	"strconv"
	"strings"
	"syncml-imap/internal/vobject"
	"time"
)

// vcalOut holds what writing one object needs.
type vcalOut struct {
	w    *vcalWriter
	zone *vcalZone // device zone; nil: UTC
	form string
}

// view returns d on the output's wall clock and whether it is UTC there.
// Floating values and dates stay as they are.
func (o *vcalOut) view(d vcalDT) (time.Time, bool) {
	u, ok := d.instant()
	if !ok {
		return d.wall, false
	}
	if o.zone != nil {
		return o.zone.toWall(u), false
	}
	return u, true
}

func (o *vcalOut) fmt(d vcalDT) string {
	if d.kind == vcalDate {
		return o.fmtDate(d.wall)
	}
	t, utc := o.view(d)
	if utc {
		return vcalFmtUTC(t)
	}
	return vcalFmtLocal(t)
}

// fmtDate writes a date in the device's all-day spelling.
func (o *vcalOut) fmtDate(t time.Time) string {
	switch o.form {
	case VCalAllDayMidnight, VCalAllDaySame, VCalAllDayEndOfDay:
		return vcalFmtLocal(t)
	case VCalAllDayUTCMidnight:
		return vcalFmtUTC(t)
	}
	return vcalFmtDate(t)
}

// vcalWrite writes items as one vCalendar 1.0 object.
func vcalWrite(items []*vcalItem, opts *VCalOptions) []byte {
	o := &vcalOut{w: &vcalWriter{}, form: opts.AllDayForm}
	switch o.form {
	case VCalAllDayDate, VCalAllDayMidnight, VCalAllDayUTCMidnight, VCalAllDaySame, VCalAllDayEndOfDay:
	default:
		o.form = VCalAllDayDate
	}
	if opts.Zone != nil && opts.Zone != time.UTC {
		o.zone = vcalZoneOfLocation(opts.Zone)
	}
	// Masters first; detached recurrences become EXDATEs of their master.
	var masters, exceptions []*vcalItem
	byUID := make(map[string][]*vcalItem)
	for _, it := range items {
		if it.recurrenceID.isZero() {
			masters = append(masters, it)
			byUID[it.uid] = append(byUID[it.uid], it)
		} else {
			exceptions = append(exceptions, it)
		}
	}
	for _, ex := range exceptions {
		for _, m := range byUID[ex.uid] {
			if m.rule != nil || len(m.rdates) > 0 {
				m.exdates = append(m.exdates, ex.recurrenceID)
			}
		}
	}
	items = append(masters, exceptions...)

	w := o.w
	w.vcalLine("BEGIN", "VCALENDAR")
	w.vcalLine("VERSION", "1.0")
	w.vcalLine("PRODID", vcalProdID)
	tzZone := o.zone
	if tzZone == nil {
		// A series keeps its wall clock on the way back only if the device
		// is told the zone.
		for _, it := range masters {
			if it.rule != nil && it.start.kind == vcalZoned && it.start.zone != nil {
				tzZone = it.start.zone
				break
			}
		}
	}
	if tzZone != nil {
		y0, y1 := vcalYears(items)
		tz, dl := tzZone.vcalTZLines(y0, y1)
		w.vcalLine("TZ", tz)
		for _, d := range dl {
			w.vcalLine("DAYLIGHT", d)
		}
	}
	for _, it := range items {
		o.item(it)
	}
	w.vcalLine("END", "VCALENDAR")
	return []byte(w.b.String())
}

// vcalYears is the span of years the items' times fall in (at most ten).
func vcalYears(items []*vcalItem) (int, int) {
	y0, y1 := 0, 0
	add := func(d vcalDT) {
		if d.isZero() {
			return
		}
		y := d.wall.Year()
		if y0 == 0 || y < y0 {
			y0 = y
		}
		if y > y1 {
			y1 = y
		}
	}
	for _, it := range items {
		add(it.start)
		add(it.end)
		add(it.due)
		for _, d := range it.exdates {
			add(d)
		}
		if it.rule != nil && it.rule.until != "" {
			if t, _, _, ok := vcalParseDT(it.rule.until); ok {
				add(vcalDT{wall: t, kind: vcalUTC})
			}
		}
	}
	if y0 == 0 {
		y := time.Now().Year()
		return y, y
	}
	if y1 > y0+9 {
		y1 = y0 + 9
	}
	return y0, y1
}

func (o *vcalOut) item(it *vcalItem) {
	w := o.w
	w.vcalLine("BEGIN", it.kind)
	if it.uid != "" {
		w.vcalLine("UID", it.uid)
	}
	if it.summary != "" {
		w.vcalTextLine("SUMMARY", it.summary)
	}
	if it.description != "" {
		w.vcalTextLine("DESCRIPTION", it.description)
	}
	if it.location != "" {
		w.vcalTextLine("LOCATION", it.location)
	}
	if len(it.categories) > 0 {
		w.vcalTextLine("CATEGORIES", vcalJoinList(it.categories))
	}
	if len(it.resources) > 0 {
		w.vcalTextLine("RESOURCES", vcalJoinList(it.resources))
	}
	if it.class != "" {
		w.vcalLine("CLASS", it.class)
	}
	if s := vcalMapStatusOut(it.kind, it.status); s != "" {
		w.vcalLine("STATUS", s)
	}
	if it.hasPriority {
		w.vcalLine("PRIORITY", strconv.Itoa(vcalMapPriorityOut(it.priority)))
	}
	if it.kind == "VEVENT" {
		switch it.transp {
		case "OPAQUE":
			w.vcalLine("TRANSP", "0")
		case "TRANSPARENT":
			w.vcalLine("TRANSP", "1")
		}
	}
	if it.url != "" {
		w.vcalLine("URL", it.url)
	}
	if it.sequence != "" {
		w.vcalLine("SEQUENCE", it.sequence)
	}

	// Start and end.
	if it.allDay {
		o.allDay(it)
	} else {
		if !it.start.isZero() {
			w.vcalLine("DTSTART", o.fmt(it.start))
		}
		if it.kind == "VEVENT" && !it.end.isZero() {
			w.vcalLine("DTEND", o.fmt(it.end))
		}
	}
	if it.kind == "VTODO" {
		if !it.due.isZero() {
			w.vcalLine("DUE", o.fmtDue(it))
		}
		if !it.completed.isZero() {
			w.vcalLine("COMPLETED", o.fmt(it.completed))
		}
	}
	if !it.recurrenceID.isZero() {
		w.vcalLine("RECURRENCE-ID", o.fmt(it.recurrenceID))
	}
	if it.rule != nil {
		if r, ok := o.rule(it); ok {
			w.vcalLine("RRULE", r)
		}
	}
	if len(it.exdates) > 0 {
		w.vcalLine("EXDATE", o.fmtList(it.exdates))
	}
	if len(it.rdates) > 0 {
		w.vcalLine("RDATE", o.fmtList(it.rdates))
	}
	for _, a := range it.alarms {
		o.alarm(it, a)
	}
	if o := it.organizer; o != nil && o.email != "" {
		w.vcalTextLine("ATTENDEE", vcalPersonValue(*o), "ROLE", "ORGANIZER")
	}
	for _, a := range it.attendees {
		if a.email == "" {
			continue
		}
		rsvp := ""
		switch a.rsvp {
		case "TRUE":
			rsvp = "YES"
		case "FALSE":
			rsvp = "NO"
		}
		w.vcalTextLine("ATTENDEE", vcalPersonValue(a), "ROLE", "ATTENDEE",
			"STATUS", vcalPartstatOut[a.partstat], "RSVP", rsvp, "EXPECT", vcalExpectOut[a.expect])
	}
	if !it.created.isZero() {
		w.vcalLine("DCREATED", icalFmtUTC(it.created))
	}
	if !it.modified.isZero() {
		w.vcalLine("LAST-MODIFIED", icalFmtUTC(it.modified))
	}
	w.vcalLine("END", it.kind)
}

func vcalPersonValue(p vcalPerson) string {
	if p.name != "" {
		return strings.ReplaceAll(p.name, ";", ",") + " <" + p.email + ">"
	}
	return p.email
}

// vcalJoinList joins list items with ";", escaping ";" inside them.
func vcalJoinList(v []string) string {
	var out []string
	for _, s := range v {
		out = append(out, strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), ";", `\;`))
	}
	return strings.Join(out, ";")
}

func (o *vcalOut) fmtList(ds []vcalDT) string {
	var out []string
	for _, d := range ds {
		out = append(out, o.fmt(d))
	}
	return strings.Join(out, ";")
}

// allDay writes DTSTART/DTEND of an all-day event in the device's form.
func (o *vcalOut) allDay(it *vcalItem) {
	w := o.w
	sd := it.start.wall
	ed := it.end.wall
	if !ed.After(sd) {
		ed = sd.AddDate(0, 0, 1)
	}
	last := ed.AddDate(0, 0, -1)
	switch o.form {
	case VCalAllDayMidnight:
		w.vcalLine("DTSTART", vcalFmtLocal(sd))
		w.vcalLine("DTEND", vcalFmtLocal(ed))
	case VCalAllDayUTCMidnight:
		w.vcalLine("DTSTART", vcalFmtUTC(sd))
		w.vcalLine("DTEND", vcalFmtDate(last)+"T240000Z")
	case VCalAllDaySame:
		w.vcalLine("DTSTART", vcalFmtLocal(sd))
		if last.Equal(sd) {
			w.vcalLine("DTEND", vcalFmtLocal(sd))
		} else {
			// Several days: equal values cannot say it, so the midnight form.
			w.vcalLine("DTEND", vcalFmtLocal(ed))
		}
	case VCalAllDayEndOfDay:
		w.vcalLine("DTSTART", vcalFmtLocal(sd))
		w.vcalLine("DTEND", vcalFmtDate(last)+"T235959")
	default:
		w.vcalLine("DTSTART", vcalFmtDate(sd))
		w.vcalLine("DTEND", vcalFmtDate(ed))
	}
}

// fmtDue writes a task's DUE. A due date goes in the device's all-day
// spelling, which for a task is the date itself at local midnight, or, in
// the end-of-day form with a start date, 23:59:59 of it: the spellings
// vcalDetectAllDayTask reads back as that date.
func (o *vcalOut) fmtDue(it *vcalItem) string {
	if it.due.kind == vcalDate && o.form == VCalAllDayEndOfDay && it.start.kind == vcalDate {
		return vcalFmtDate(it.due.wall) + "T235959"
	}
	return o.fmt(it.due)
}

// rule writes the item's RRULE in vCalendar 1.0 terms, if it can.
func (o *vcalOut) rule(it *vcalItem) (string, bool) {
	start := it.start
	if start.isZero() {
		start = it.due
	}
	if start.isZero() {
		return "", false
	}
	r1, ok := it.rule.toRule1(start.wall)
	if !ok {
		return "", false
	}
	outWall := start.wall
	if start.kind != vcalDate {
		outWall, _ = o.view(start)
	}
	one := r1.alwaysOne(start.wall)
	vcalAlignRule(&r1, start.wall, outWall)
	s := r1.vcal1String()
	switch {
	case it.rule.count > 0:
		if one {
			return s + " #" + strconv.Itoa(it.rule.count), true
		}
		var last time.Time
		n := 0
		vcalEnumerate(*it.rule, start.wall, func(t time.Time, _ int) bool {
			last, n = t, n+1
			return n < it.rule.count
		})
		end := start
		end.wall = last
		return s + " " + o.fmtEnd(end, start), true
	case it.rule.until != "":
		t, utc, date, ok := vcalParseDT(it.rule.until)
		if !ok {
			return s + " #0", true
		}
		var end vcalDT
		switch {
		case start.kind == vcalDate || date:
			end = vcalDT{wall: vcalDateOf(t), kind: vcalDate}
			if start.kind != vcalDate && date {
				// A date UNTIL of a timed series: through that day.
				end = start
				end.wall = vcalDateOf(t).Add(start.wall.Sub(vcalDateOf(start.wall)))
			}
		case utc:
			end = vcalDT{wall: t, kind: vcalUTC}
		default:
			end = start
			end.wall = t
		}
		return s + " " + o.fmtEnd(end, start), true
	}
	return s + " #0", true
}

// fmtEnd writes a rule's end date. Devices read it as a date, so an end
// earlier in its day (on the series' own wall clock) than the
// occurrences' time is moved to the end of the day before.
func (o *vcalOut) fmtEnd(end, start vcalDT) string {
	if end.kind == vcalDate {
		return o.fmtDate(end.wall)
	}
	ew := end.wall
	if u, ok := end.instant(); ok {
		switch start.kind {
		case vcalZoned:
			ew = start.zone.toWall(u)
		case vcalUTC:
			ew = u
		}
	}
	if ew.Sub(vcalDateOf(ew)) < start.wall.Sub(vcalDateOf(start.wall)) {
		end = start
		end.wall = vcalDateOf(ew).Add(-time.Second)
	}
	return o.fmt(end)
}

// alarm writes one reminder at its absolute time.
func (o *vcalOut) alarm(it *vcalItem, a vcalAlarm) {
	at := a.abs
	if a.hasRel {
		anchor := it.start
		if a.relEnd || anchor.isZero() {
			if it.kind == "VTODO" {
				anchor = it.due
			} else if !it.end.isZero() && a.relEnd {
				anchor = it.end
			}
		}
		if anchor.isZero() {
			anchor = it.start
		}
		if anchor.isZero() {
			return
		}
		at = vcalAddDur(anchor, a.relDays, a.relExact)
		if at.kind == vcalDate {
			at.kind = vcalFloating
		}
	}
	if at.isZero() {
		return
	}
	t := o.fmt(at)
	extra := func(content string) string {
		snooze, rep := "", ""
		if a.repeat > 0 && a.snooze > 0 {
			snooze, rep = vobject.Duration{Exact: a.snooze}.String(), strconv.Itoa(a.repeat)
		}
		if snooze == "" && content == "" {
			return t
		}
		return t + ";" + snooze + ";" + rep + ";" + strings.ReplaceAll(content, ";", ",")
	}
	switch a.action {
	case "AUDIO":
		o.w.vcalTextLine("AALARM", extra(a.attach))
	case "EMAIL":
		v := extra(a.email)
		if a.text != "" {
			if !strings.Contains(v, ";") {
				v += ";;;"
			}
			v += ";" + strings.ReplaceAll(a.text, ";", ",")
		}
		o.w.vcalTextLine("MALARM", v)
	default:
		o.w.vcalTextLine("DALARM", extra(a.text))
		o.w.vcalTextLine("AALARM", extra(""))
	}
}
