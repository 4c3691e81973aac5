package vformat

// Reading and writing iCalendar 2.0 for the model.

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"syncml-imap/internal/vobject"
)

// icalReadDT reads a DATE or DATE-TIME value of p (TZID and VALUE
// parameters); raw is the value (one item of a list).
func icalReadDT(p *vcalProp, raw string, tzs map[string]*vcalZone) (vcalDT, bool) {
	t, utc, date, ok := vcalParseDT(raw)
	if !ok {
		return vcalDT{}, false
	}
	switch {
	case date || strings.EqualFold(p.param("VALUE"), "DATE"):
		return vcalDT{wall: vcalDateOf(t), kind: vcalDate}, true
	case utc:
		return vcalDT{wall: t, kind: vcalUTC}, true
	}
	if id := p.param("TZID"); id != "" {
		if z := icalResolveZone(id, tzs); z != nil {
			return vcalDT{wall: t, kind: vcalZoned, zone: z}, true
		}
	}
	return vcalDT{wall: t, kind: vcalFloating}, true
}

// icalResolveZone finds a TZID: its VTIMEZONE, else an IANA zone of that
// name.
func icalResolveZone(id string, tzs map[string]*vcalZone) *vcalZone {
	id = strings.TrimSpace(id)
	if z := tzs[id]; z != nil {
		return z
	}
	if loc := vcalLoadIANA(id); loc != nil {
		z := &vcalZone{id: id, loc: loc}
		tzs[id] = z
		return z
	}
	return nil
}

// icalReadItem reads a VEVENT or VTODO.
func icalReadItem(c *vcalComp, tzs map[string]*vcalZone) *vcalItem {
	it := &vcalItem{kind: c.name}
	durText := ""
	for _, p := range c.props {
		switch p.name {
		case "DURATION":
			durText = vcalRawValue(p)
		case "RRULE", "EXDATE", "RDATE":
			icalReadRecurProp(it, p, tzs)
		case "ORGANIZER":
			per := icalReadPerson(p)
			it.organizer = &per
		case "ATTENDEE":
			it.attendees = append(it.attendees, icalReadPerson(p))
		default:
			if f := icalTimeField(it, p.name); f != nil {
				*f, _ = icalReadDT(p, strings.TrimSpace(vcalRawValue(p)), tzs)
			} else {
				icalReadTextProp(it, p)
			}
		}
	}
	if durText != "" && !it.start.isZero() {
		icalApplyDuration(it, durText)
	}
	if it.kind == "VEVENT" && it.start.kind == vcalDate {
		icalAllDayEnd(it)
	}
	for _, sub := range c.comps {
		if sub.name == "VALARM" {
			if a, ok := icalReadAlarm(sub, tzs); ok {
				it.alarms = append(it.alarms, a)
			}
		}
	}
	return it
}

// icalTimeField is the field of it that the date-time property name sets,
// nil when name is no such property.
func icalTimeField(it *vcalItem, name string) *vcalDT {
	switch name {
	case "DTSTART":
		return &it.start
	case "DTEND":
		return &it.end
	case "DUE":
		return &it.due
	case "COMPLETED":
		return &it.completed
	case "CREATED":
		return &it.created
	case "LAST-MODIFIED":
		return &it.modified
	case "DTSTAMP":
		return &it.stamp
	case "RECURRENCE-ID":
		return &it.recurrenceID
	}
	return nil
}

// icalReadTextProp reads a property whose value is text, a code or a
// number; others are ignored.
func icalReadTextProp(it *vcalItem, p *vcalProp) {
	switch p.name {
	case "UID":
		it.uid = strings.TrimSpace(icalText(p))
	case "SUMMARY":
		it.summary = icalText(p)
	case "DESCRIPTION":
		it.description = icalText(p)
	case "LOCATION":
		it.location = icalText(p)
	case "URL":
		it.url = strings.TrimSpace(vcalRawValue(p))
	case "CLASS":
		it.class = strings.ToUpper(strings.TrimSpace(vcalRawValue(p)))
	case "STATUS":
		it.status = strings.ToUpper(strings.TrimSpace(vcalRawValue(p)))
	case "TRANSP":
		it.transp = strings.ToUpper(strings.TrimSpace(vcalRawValue(p)))
	case "SEQUENCE":
		if v := strings.TrimSpace(vcalRawValue(p)); allDigits(v) && len(v) < 10 {
			it.sequence = v
		}
	case "PERCENT-COMPLETE":
		it.percent = strings.TrimSpace(vcalRawValue(p))
	case "PRIORITY":
		if n, err := strconv.Atoi(strings.TrimSpace(vcalRawValue(p))); err == nil && n >= 0 && n <= 9 {
			it.priority, it.hasPriority = n, true
		}
	case "CATEGORIES":
		it.categories = append(it.categories, textList(vcalRawValue(p))...)
	case "RESOURCES":
		it.resources = append(it.resources, textList(vcalRawValue(p))...)
	}
}

// icalReadRecurProp reads RRULE (the first one that parses: the model has
// one rule), EXDATE and RDATE.
func icalReadRecurProp(it *vcalItem, p *vcalProp, tzs map[string]*vcalZone) {
	switch p.name {
	case "RRULE":
		if it.rule == nil {
			if r, ok := icalParseRecur(vcalRawValue(p)); ok {
				it.rule = &r
			}
		}
	case "EXDATE":
		it.exdates = append(it.exdates, icalReadDTList(p, tzs)...)
	case "RDATE":
		it.rdates = append(it.rdates, icalReadDTList(p, tzs)...)
	}
}

// icalReadDTList reads a list of dates or date-times; a PERIOD counts as
// its start, and what does not read is left out.
func icalReadDTList(p *vcalProp, tzs map[string]*vcalZone) []vcalDT {
	var out []vcalDT
	for _, v := range strings.Split(vcalRawValue(p), ",") {
		v = strings.SplitN(strings.TrimSpace(v), "/", 2)[0] // PERIOD: its start
		if d, ok := icalReadDT(p, v, tzs); ok {
			out = append(out, d)
		}
	}
	return out
}

// icalApplyDuration gives an item with a DURATION the end (DTEND, or DUE
// for a VTODO) it lacks.
func icalApplyDuration(it *vcalItem, durText string) {
	dur, ok := vobject.ParseDuration(durText)
	if !ok {
		return
	}
	end := vcalAddDur(it.start, dur.Days, dur.Exact)
	if it.kind == "VTODO" {
		if it.due.isZero() {
			it.due = end
		}
	} else if it.end.isZero() {
		it.end = end
	}
}

// icalAllDayEnd makes a VEVENT that starts on a date all day: its end a
// date too (the day a time falls on, or the day after when it is not
// midnight), and at least a day after the start.
func icalAllDayEnd(it *vcalItem) {
	it.allDay = true
	switch {
	case it.end.isZero():
		it.end = vcalDT{wall: it.start.wall.AddDate(0, 0, 1), kind: vcalDate}
	case it.end.kind != vcalDate:
		w := vcalDateOf(it.end.wall)
		if !vcalIsMidnight(it.end.wall) {
			w = w.AddDate(0, 0, 1)
		}
		it.end = vcalDT{wall: w, kind: vcalDate}
	}
	if !it.end.wall.After(it.start.wall) {
		it.end = vcalDT{wall: it.start.wall.AddDate(0, 0, 1), kind: vcalDate}
	}
}

// vcalAddDur adds nominal days on the wall clock and an exact duration.
func vcalAddDur(d vcalDT, days int, exact time.Duration) vcalDT {
	out := d
	out.wall = d.wall.AddDate(0, 0, days)
	if exact == 0 {
		return out
	}
	if out.kind == vcalZoned && out.zone != nil {
		u := out.zone.toUTC(out.wall).Add(exact)
		out.wall = out.zone.toWall(u)
		return out
	}
	if out.kind == vcalDate {
		out.kind = vcalFloating
	}
	out.wall = out.wall.Add(exact)
	return out
}

func icalReadAlarm(c *vcalComp, tzs map[string]*vcalZone) (vcalAlarm, bool) {
	a := vcalAlarm{action: strings.ToUpper(strings.TrimSpace(vcalRawValue(c.prop("ACTION"))))}
	switch a.action {
	case "AUDIO", "DISPLAY", "EMAIL":
	default:
		a.action = "DISPLAY"
	}
	tr := c.prop("TRIGGER")
	if tr == nil {
		return a, false
	}
	v := strings.TrimSpace(vcalRawValue(tr))
	if dur, ok := vobject.ParseDuration(v); ok && !strings.EqualFold(tr.param("VALUE"), "DATE-TIME") {
		a.relDays, a.relExact, a.hasRel = dur.Days, dur.Exact, true
		a.relEnd = strings.EqualFold(tr.param("RELATED"), "END")
	} else if d, ok := icalReadDT(tr, v, tzs); ok && d.kind != vcalDate {
		a.abs = d
	} else {
		return a, false
	}
	if dur, ok := vobject.ParseDuration(vcalRawValue(c.prop("DURATION"))); ok && !dur.Negative() && dur.Days < 1000 {
		a.snooze = dur.Approx()
	}
	if n, err := strconv.Atoi(strings.TrimSpace(vcalRawValue(c.prop("REPEAT")))); err == nil && n > 0 && n < 1000 {
		a.repeat = n
	}
	a.text = icalText(c.prop("DESCRIPTION"))
	if a.action == "AUDIO" {
		a.attach = strings.TrimSpace(vcalRawValue(c.prop("ATTACH")))
		if c.prop("ATTACH") != nil && c.prop("ATTACH").param("VALUE") == "BINARY" {
			a.attach = ""
		}
	}
	if a.action == "EMAIL" {
		if at := c.prop("ATTENDEE"); at != nil {
			a.email = icalReadPerson(at).email
		}
	}
	return a, true
}

func icalReadPerson(p *vcalProp) vcalPerson {
	v := strings.TrimSpace(vcalRawValue(p))
	if len(v) > 7 && strings.EqualFold(v[:7], "mailto:") {
		v = v[7:]
	}
	per := vcalPerson{
		name:     p.param("CN"),
		email:    v,
		partstat: strings.ToUpper(p.param("PARTSTAT")),
		expect:   strings.ToUpper(p.param("ROLE")),
		rsvp:     strings.ToUpper(p.param("RSVP")),
	}
	return per
}

// ---- writing ----

// icalFmtDT returns the parameters and value for a DATE/DATE-TIME.
func icalFmtDT(d vcalDT) ([]string, string) {
	switch d.kind {
	case vcalDate:
		return []string{"VALUE", "DATE"}, vcalFmtDate(d.wall)
	case vcalUTC:
		return nil, vcalFmtUTC(d.wall)
	case vcalZoned:
		if d.zone != nil {
			return []string{"TZID", d.zone.id}, vcalFmtLocal(d.wall)
		}
	}
	return nil, vcalFmtLocal(d.wall)
}

// icalFmtUTC writes a value that must be UTC (COMPLETED, CREATED, ...).
func icalFmtUTC(d vcalDT) string {
	if u, ok := d.instant(); ok {
		return vcalFmtUTC(u)
	}
	return vcalFmtUTC(d.wall)
}

func icalWriteDT(w *vcalWriter, name string, d vcalDT) {
	if d.isZero() {
		return
	}
	params, v := icalFmtDT(d)
	w.icalLine(name, v, params...)
}

// icalWrite writes the items as one iCalendar object with the VTIMEZONEs
// their times use.
func icalWrite(items []*vcalItem) []byte {
	w := &vcalWriter{}
	w.icalLine("BEGIN", "VCALENDAR")
	w.icalLine("VERSION", "2.0")
	w.icalLine("PRODID", vcalProdID)
	type span struct{ y0, y1 int }
	zones := map[string]*vcalZone{}
	spans := map[string]*span{}
	var order []string
	note := func(d vcalDT) {
		if d.kind != vcalZoned || d.zone == nil {
			return
		}
		id := d.zone.id
		y := d.wall.Year()
		if s, ok := spans[id]; ok {
			s.y0, s.y1 = min(s.y0, y), max(s.y1, y)
			return
		}
		zones[id], spans[id] = d.zone, &span{y, y}
		order = append(order, id)
	}
	for _, it := range items {
		for _, d := range []vcalDT{it.start, it.end, it.due, it.recurrenceID} {
			note(d)
		}
		for _, d := range it.exdates {
			note(d)
		}
		for _, d := range it.rdates {
			note(d)
		}
		if it.rule != nil && it.rule.until != "" && it.start.kind == vcalZoned {
			if t, _, _, ok := vcalParseDT(it.rule.until); ok && t.Year() < it.start.wall.Year()+50 {
				note(vcalDT{wall: t, kind: vcalZoned, zone: it.start.zone})
			}
		}
	}
	for _, id := range order {
		zones[id].writeVTimezone(w, spans[id].y0, spans[id].y1)
	}
	for _, it := range items {
		icalWriteItem(w, it)
	}
	w.icalLine("END", "VCALENDAR")
	return []byte(w.b.String())
}

func icalWriteItem(w *vcalWriter, it *vcalItem) {
	w.icalLine("BEGIN", it.kind)
	if it.uid != "" {
		w.icalLine("UID", vobject.EscapeText(it.uid))
	}
	for _, d := range []vcalDT{it.stamp, it.modified, it.created} {
		if !d.isZero() {
			w.icalLine("DTSTAMP", icalFmtUTC(d))
			break
		}
	}
	if it.summary != "" {
		w.icalLine("SUMMARY", vobject.EscapeText(it.summary))
	}
	if it.description != "" {
		w.icalLine("DESCRIPTION", vobject.EscapeText(it.description))
	}
	if it.location != "" {
		w.icalLine("LOCATION", vobject.EscapeText(it.location))
	}
	if len(it.categories) > 0 {
		w.icalLine("CATEGORIES", vobject.JoinText(it.categories, ','))
	}
	if len(it.resources) > 0 {
		w.icalLine("RESOURCES", vobject.JoinText(it.resources, ','))
	}
	if it.class != "" {
		w.icalLine("CLASS", it.class)
	}
	if it.status != "" {
		w.icalLine("STATUS", it.status)
	}
	if it.hasPriority {
		w.icalLine("PRIORITY", strconv.Itoa(it.priority))
	}
	if it.transp != "" && it.kind == "VEVENT" {
		w.icalLine("TRANSP", it.transp)
	}
	if it.url != "" {
		w.icalLine("URL", it.url)
	}
	if it.sequence != "" {
		w.icalLine("SEQUENCE", it.sequence)
	}
	if it.percent != "" && it.kind == "VTODO" {
		w.icalLine("PERCENT-COMPLETE", it.percent)
	}
	icalWriteDT(w, "DTSTART", it.start)
	if it.kind == "VEVENT" {
		icalWriteDT(w, "DTEND", it.end)
	} else {
		icalWriteDT(w, "DUE", it.due)
		if !it.completed.isZero() {
			w.icalLine("COMPLETED", icalFmtUTC(it.completed))
		}
	}
	icalWriteDT(w, "RECURRENCE-ID", it.recurrenceID)
	if it.rule != nil {
		r := it.rule.icalString()
		switch {
		case it.rule.count > 0:
			r += ";COUNT=" + strconv.Itoa(it.rule.count)
		case it.rule.until != "":
			r += ";UNTIL=" + it.rule.until
		}
		w.icalLine("RRULE", r)
	}
	for _, d := range it.exdates {
		icalWriteDT(w, "EXDATE", d)
	}
	for _, d := range it.rdates {
		icalWriteDT(w, "RDATE", d)
	}
	if !it.created.isZero() {
		w.icalLine("CREATED", icalFmtUTC(it.created))
	}
	if !it.modified.isZero() {
		w.icalLine("LAST-MODIFIED", icalFmtUTC(it.modified))
	}
	if o := it.organizer; o != nil && o.email != "" {
		w.icalLine("ORGANIZER", "mailto:"+o.email, "CN", o.name)
	}
	for _, a := range it.attendees {
		if a.email == "" {
			continue
		}
		w.icalLine("ATTENDEE", "mailto:"+a.email, "CN", a.name, "ROLE", a.expect, "PARTSTAT", a.partstat, "RSVP", a.rsvp)
	}
	for _, p := range it.xprops {
		v := strings.NewReplacer("\r\n", `\n`, "\n", `\n`).Replace(vcalRawValue(p))
		var params []string
		var keys []string
		for k := range p.params {
			if k != "ENCODING" && k != "CHARSET" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			params = append(params, k, p.params[k])
		}
		w.icalLine(p.name, v, params...)
	}
	for _, a := range it.alarms {
		icalWriteAlarm(w, it, a)
	}
	w.icalLine("END", it.kind)
}

func icalWriteAlarm(w *vcalWriter, it *vcalItem, a vcalAlarm) {
	w.icalLine("BEGIN", "VALARM")
	w.icalLine("ACTION", a.action)
	switch {
	case a.hasRel && a.relEnd:
		w.icalLine("TRIGGER", vobject.Duration{Days: a.relDays, Exact: a.relExact}.String(), "RELATED", "END")
	case a.hasRel:
		w.icalLine("TRIGGER", vobject.Duration{Days: a.relDays, Exact: a.relExact}.String())
	default:
		w.icalLine("TRIGGER", icalFmtUTC(a.abs), "VALUE", "DATE-TIME")
	}
	if a.repeat > 0 && a.snooze > 0 {
		w.icalLine("DURATION", vobject.Duration{Exact: a.snooze}.String())
		w.icalLine("REPEAT", strconv.Itoa(a.repeat))
	}
	text := a.text
	if text == "" && a.action != "AUDIO" {
		text = it.summary
		if text == "" {
			text = "Reminder"
		}
	}
	if text != "" {
		w.icalLine("DESCRIPTION", vobject.EscapeText(text))
	}
	if a.action == "EMAIL" {
		sum := it.summary
		if sum == "" {
			sum = "Reminder"
		}
		w.icalLine("SUMMARY", vobject.EscapeText(sum))
		if a.email != "" {
			w.icalLine("ATTENDEE", "mailto:"+a.email)
		}
	}
	if a.action == "AUDIO" && a.attach != "" {
		w.icalLine("ATTACH", a.attach)
	}
	w.icalLine("END", "VALARM")
}
