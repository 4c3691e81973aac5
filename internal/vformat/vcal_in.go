package vformat

// Reading vCalendar 1.0 into the model.

import (
	"strconv"
	"strings"
	"syncml-imap/internal/vobject"
	"time"
)

// vcalParsedTZ is what TZ and DAYLIGHT of an item say.
func vcalTZValues(cal *vcalComp) (string, []string, bool) {
	src := cal
	if cal.prop("TZ") == nil && cal.prop("DAYLIGHT") == nil {
		src = nil
		for _, c := range cal.comps {
			if c.prop("TZ") != nil || c.prop("DAYLIGHT") != nil {
				src = c
				break
			}
		}
		if src == nil {
			return "", nil, false
		}
	}
	var dl []string
	for _, p := range src.all("DAYLIGHT") {
		dl = append(dl, vcalRawValue(p))
	}
	return vcalRawValue(src.prop("TZ")), dl, true
}

// vcalDeviceZone is the zone local times of cal are in, or nil.
func vcalDeviceZone(cal *vcalComp, opts *VCalOptions) *vcalZone {
	tz, dl, have := vcalTZValues(cal)
	var fromTZ *vcalZone
	if have {
		fromTZ = vcalZoneFromTZ(tz, dl)
	}
	if opts == nil || opts.Zone == nil {
		return fromTZ
	}
	oz := vcalZoneOfLocation(opts.Zone)
	if opts.Zone == time.UTC {
		oz = &vcalZone{id: "UTC"}
	}
	if fromTZ == nil || vcalZonesAgree(oz, fromTZ) {
		return oz
	}
	return fromTZ
}

// vcalZonesAgree: same offsets over the last and the coming years.
func vcalZonesAgree(a, b *vcalZone) bool {
	y := time.Now().Year()
	for t := time.Date(y-1, 1, 1, 0, 0, 0, 0, time.UTC); t.Year() <= y+1; t = t.AddDate(0, 0, 7) {
		if a.offsetAt(t) != b.offsetAt(t) {
			return false
		}
	}
	return true
}

// vcalReadDT reads a vCalendar 1.0 date-time: local times are in zone
// (floating without one).
func vcalReadDT(s string, zone *vcalZone) (vcalDT, bool) {
	t, utc, date, ok := vcalParseDT(s)
	switch {
	case !ok:
		return vcalDT{}, false
	case date:
		return vcalDT{wall: t, kind: vcalDate}, true
	case utc:
		return vcalDT{wall: t, kind: vcalUTC}, true
	case zone != nil:
		return vcalDT{wall: t, kind: vcalZoned, zone: zone}, true
	}
	return vcalDT{wall: t, kind: vcalFloating}, true
}

// vcalLocalWall is d on the device's wall clock: local values as written,
// UTC ones converted when the zone is known.
func vcalLocalWall(d vcalDT, zone *vcalZone) time.Time {
	if d.kind == vcalUTC && zone != nil {
		return zone.toWall(d.wall)
	}
	return d.wall
}

var vcalAllDayHints = map[string]bool{"X-FUNAMBOL-ALLDAY": true, "X-MICROSOFT-CDO-ALLDAYEVENT": true, "X-EPOCAGENDAENTRYTYPE": true}

// vcalReadItem reads a VEVENT or VTODO; form is the all-day spelling
// found ("" when not all-day).
func vcalReadItem(c *vcalComp, zone *vcalZone) (*vcalItem, string) {
	it := &vcalItem{kind: c.name}
	raw := vcalReadProps(it, c, zone)
	origStart := it.start
	form := vcalReadAllDay(it, zone, raw.hint)
	it.exdates = vcalReadDates(raw.exdates, it.allDay, zone, form)
	it.rdates = vcalReadDates(raw.rdates, it.allDay, zone, form)
	// The rule, with the start as written and as stored.
	written := origStart
	if written.isZero() && it.kind == "VTODO" {
		written = it.due
	}
	vcalReadRule(it, raw.rule, written, zone, form)
	for _, a := range vcalMergeAlarms(raw.alarms) {
		it.alarms = append(it.alarms, vcalRelateAlarm(a, it, zone))
	}
	return it, form
}

// vcalRawItem is what vcalReadProps leaves to be read once all the
// properties are known.
type vcalRawItem struct {
	rule            string // the first RRULE
	exdates, rdates []string
	alarms          []vcalAlarm
	hint            bool // an all-day hint property says so
}

// vcalReadProps reads the properties of c into it.
func vcalReadProps(it *vcalItem, c *vcalComp, zone *vcalZone) vcalRawItem {
	var raw vcalRawItem
	readT := func(p *vcalProp) vcalDT {
		d, _ := vcalReadDT(vcalRawValue(p), zone)
		return d
	}
	for _, p := range c.props {
		switch p.name {
		case "UID":
			it.uid = strings.TrimSpace(vcalText(p))
		case "SUMMARY":
			it.summary = vcalText(p)
		case "DESCRIPTION":
			it.description = vcalText(p)
		case "LOCATION":
			it.location = vcalText(p)
		case "URL":
			it.url = strings.TrimSpace(vcalRawValue(p))
		case "CLASS":
			it.class = strings.ToUpper(strings.TrimSpace(vcalRawValue(p)))
		case "STATUS":
			it.status = vcalMapStatusIn(it.kind, vcalRawValue(p))
		case "TRANSP":
			switch strings.ToUpper(strings.TrimSpace(vcalRawValue(p))) {
			case "0", "OPAQUE":
				it.transp = "OPAQUE"
			case "1", "TRANSPARENT":
				it.transp = "TRANSPARENT"
			default:
				if n, err := strconv.Atoi(strings.TrimSpace(vcalRawValue(p))); err == nil && n > 1 {
					it.transp = "OPAQUE"
				}
			}
		case "SEQUENCE":
			if v := strings.TrimSpace(vcalRawValue(p)); allDigits(v) && len(v) < 10 {
				it.sequence = v
			}
		case "PRIORITY":
			if n, err := strconv.Atoi(strings.TrimSpace(vcalRawValue(p))); err == nil {
				it.priority, it.hasPriority = vcalMapPriorityIn(n), true
			}
		case "CATEGORIES":
			it.categories = append(it.categories, vcalList(vcalRawValue(p), true)...)
		case "RESOURCES":
			it.resources = append(it.resources, vcalList(vcalRawValue(p), true)...)
		case "DTSTART":
			it.start = readT(p)
		case "DTEND":
			it.end = readT(p)
		case "DUE":
			it.due = readT(p)
		case "COMPLETED":
			it.completed = readT(p)
		case "DCREATED", "CREATED":
			it.created = readT(p)
		case "LAST-MODIFIED":
			it.modified = readT(p)
		case "DTSTAMP":
			it.stamp = readT(p)
		case "RECURRENCE-ID":
			it.recurrenceID = readT(p)
		case "RRULE":
			if raw.rule == "" {
				raw.rule = vcalRawValue(p)
			}
		case "EXDATE":
			raw.exdates = append(raw.exdates, vcalList(vcalRawValue(p), true)...)
		case "RDATE":
			raw.rdates = append(raw.rdates, vcalList(vcalRawValue(p), true)...)
		case "AALARM", "DALARM", "PALARM", "MALARM":
			if a, ok := vcalReadAlarm(p, zone); ok {
				raw.alarms = append(raw.alarms, a)
			}
		case "ATTENDEE", "ORGANIZER":
			per := vcalReadPerson(p)
			if (p.name == "ORGANIZER" || per.role == "ORGANIZER" || per.role == "OWNER") && it.organizer == nil {
				it.organizer = &per
				continue
			}
			it.attendees = append(it.attendees, per)
		default:
			if vcalAllDayHints[p.name] {
				v := strings.ToUpper(strings.TrimSpace(vcalRawValue(p)))
				raw.hint = raw.hint || v == "1" || v == "TRUE" || v == "YES" || v == "EVENT"
				continue
			}
			if strings.HasPrefix(p.name, "X-") {
				it.xprops = append(it.xprops, p)
			}
		}
	}

	return raw
}

// vcalReadAllDay finds whether the item is all-day (vcalDetectAllDay) and
// makes its start and end dates if so; it returns the spelling found.
func vcalReadAllDay(it *vcalItem, zone *vcalZone, hint bool) string {
	form := ""
	var sd, ed time.Time
	switch {
	case it.kind == "VEVENT" && !it.start.isZero():
		sd, ed, form = vcalDetectAllDay(it.start, it.end, zone, hint)
		if form != "" {
			it.end = vcalDT{wall: ed, kind: vcalDate}
		}
	case it.kind == "VTODO":
		sd, ed, form = vcalDetectAllDayTask(it.start, it.due, zone, hint)
		if form != "" && !it.due.isZero() {
			it.due = vcalDT{wall: ed, kind: vcalDate}
		}
	}
	if form != "" {
		it.allDay = true
		if !it.start.isZero() {
			it.start = vcalDT{wall: sd, kind: vcalDate}
		}
	}
	return form
}

// vcalReadDates reads EXDATE or RDATE values, as dates for an all-day
// item.
func vcalReadDates(raw []string, allDay bool, zone *vcalZone, form string) []vcalDT {
	var out []vcalDT
	toDate := func(d vcalDT) vcalDT {
		w := d.wall
		if d.kind == vcalUTC && form != VCalAllDayUTCMidnight {
			w = vcalLocalWall(d, zone)
		}
		return vcalDT{wall: vcalDateOf(w), kind: vcalDate}
	}
	for _, s := range raw {
		if d, ok := vcalReadDT(s, zone); ok {
			if allDay {
				d = toDate(d)
			}
			out = append(out, d)
		}
	}
	return out
}

// vcalReadRule reads the vCalendar 1.0 rule of the item, whose start as
// the device wrote it is written, into an iCalendar rule, anchoring the
// series (and its exceptions) on the device's wall clock.
func vcalReadRule(it *vcalItem, ruleText string, written vcalDT, zone *vcalZone, form string) {
	var r1 vcalRule1
	var intervals int
	var endText string
	hasRule := false
	if ruleText != "" && !written.isZero() {
		r1, intervals, endText, hasRule = vcalParseRule1(ruleText)
	}
	if hasRule && zone != nil && !it.allDay {
		// Anchor the series on the device's wall clock.
		anchor := func(d *vcalDT) {
			if d.kind == vcalUTC {
				*d = d.in(zone)
			}
		}
		anchor(&it.start)
		anchor(&it.end)
		anchor(&it.due)
		for i := range it.exdates {
			anchor(&it.exdates[i])
		}
		for i := range it.rdates {
			anchor(&it.rdates[i])
		}
	}
	if zone != nil && it.recurrenceID.kind == vcalUTC {
		it.recurrenceID = it.recurrenceID.in(zone)
	}
	if hasRule {
		stored := it.start
		if stored.isZero() {
			stored = it.due
		}
		vcalAlignRule(&r1, written.wall, stored.wall)
		if stored.kind == vcalUTC && zone == nil && !vcalRuleHas(r1, stored.wall) {
			// Weekdays of the device's own date: one day ahead of UTC in
			// the afternoon (east of UTC), one behind in the morning.
			guess := stored.wall.AddDate(0, 0, 1)
			if stored.wall.Hour() < 12 {
				guess = stored.wall.AddDate(0, 0, -1)
			}
			vcalAlignRule(&r1, guess, stored.wall)
		}
		if !it.allDay {
			// Devices write EXDATE as a date at midnight, or at a time
			// shifted by their zone: an exception means the day's
			// occurrence.
			tod := stored.wall.Sub(vcalDateOf(stored.wall))
			for i, e := range it.exdates {
				w := e.wall
				if e.kind != vcalDate && e.kind != stored.kind {
					switch {
					case stored.kind == vcalZoned && e.kind == vcalUTC:
						w = stored.zone.toWall(e.wall)
					case stored.kind == vcalUTC:
						if u, ok := e.instant(); ok {
							w = u
						}
					}
				}
				ex := stored
				ex.wall = vcalDateOf(w).Add(tod)
				it.exdates[i] = ex
			}
		}
		rec := r1.toRecur(stored.wall)
		switch {
		case intervals > 0:
			if r1.alwaysOne(stored.wall) {
				rec.count = intervals
			} else {
				n := 0
				limit := intervals * max(r1.interval, 1)
				vcalEnumerate(rec, stored.wall, func(_ time.Time, period int) bool {
					if period >= limit {
						return false
					}
					n++
					return true
				})
				rec.count = max(n, 1)
			}
		case endText != "":
			if u, ok := vcalReadDT(endText, zone); ok {
				rec.until = vcalUntil(u, stored, zone, form)
			}
		}
		it.rule = &rec
	}

}

// vcalMergeAlarms makes an AALARM and a DALARM at the same time one
// reminder.
func vcalMergeAlarms(alarms []vcalAlarm) []vcalAlarm {
	var merged []vcalAlarm
	for _, a := range alarms {
		dup := false
		for i := range merged {
			if vcalSameTime(merged[i].abs, a.abs) && (merged[i].action == "AUDIO" && a.action == "DISPLAY" ||
				merged[i].action == "DISPLAY" && a.action == "AUDIO") {
				if a.action == "DISPLAY" {
					merged[i].action, merged[i].text = "DISPLAY", a.text
				}
				dup = true
				break
			}
		}
		if !dup {
			merged = append(merged, a)
		}
	}
	return merged
}

// vcalUntil turns a vCalendar 1.0 end date into an iCalendar UNTIL for a
// series starting at start (as stored). An end earlier in its day than
// the start's time of day includes that day.
func vcalUntil(u, start vcalDT, zone *vcalZone, form string) string {
	if start.kind == vcalDate {
		w := u.wall
		if u.kind == vcalUTC && form != VCalAllDayUTCMidnight {
			w = vcalLocalWall(u, zone)
		}
		return vcalFmtDate(w)
	}
	// u on the start's wall clock.
	var w time.Time
	switch {
	case start.kind == vcalZoned && u.kind != vcalFloating && u.kind != vcalDate:
		w = u.in(start.zone).wall
	case start.kind == vcalUTC:
		if inst, ok := u.instant(); ok {
			w = inst
		} else {
			w = u.wall
		}
	default:
		w = u.wall
	}
	tod := start.wall.Sub(vcalDateOf(start.wall))
	if w.Sub(vcalDateOf(w)) < tod {
		w = vcalDateOf(w).Add(tod)
	}
	switch start.kind {
	case vcalZoned:
		return vcalFmtUTC(start.zone.toUTC(w))
	case vcalUTC:
		return vcalFmtUTC(w)
	}
	return vcalFmtLocal(w)
}

// vcalDetectAllDay recognises the all-day spellings. It returns the first
// day, the day after the last, and the form ("" when timed).
func vcalDetectAllDay(s, e vcalDT, zone *vcalZone, hint bool) (time.Time, time.Time, string) {
	day := 24 * time.Hour
	if s.kind == vcalDate {
		sd := s.wall
		switch {
		case e.isZero():
			return sd, sd.Add(day), VCalAllDayDate
		case e.kind == vcalDate && e.wall.Equal(sd):
			return sd, sd.Add(day), VCalAllDaySame
		case e.kind == vcalDate && e.wall.After(sd):
			return sd, e.wall, VCalAllDayDate
		case e.kind != vcalDate && e.wall.After(sd):
			ed := vcalDateOf(e.wall)
			if !vcalIsMidnight(e.wall) {
				ed = ed.Add(day)
			}
			return sd, ed, VCalAllDayDate
		}
		return sd, sd.Add(day), VCalAllDayDate
	}
	endOfDay := func(t time.Time) bool {
		return t.Hour() == 23 && t.Minute() == 59 && (t.Second() == 0 || t.Second() == 59)
	}
	if s.kind == vcalUTC && vcalIsMidnight(s.wall) && (e.isZero() || e.kind == vcalUTC) {
		switch {
		case !e.isZero() && vcalIsMidnight(e.wall) && e.wall.After(s.wall):
			return s.wall, e.wall, VCalAllDayUTCMidnight
		case (e.isZero() || e.wall.Equal(s.wall)) && hint:
			return s.wall, s.wall.Add(day), VCalAllDaySame
		}
		if zone == nil && hint && e.wall.After(s.wall) {
			ed := vcalDateOf(e.wall)
			if !vcalIsMidnight(e.wall) {
				ed = ed.Add(day)
			}
			return s.wall, ed, VCalAllDayUTCMidnight
		}
	}
	if s.kind == vcalUTC && zone == nil && !hint {
		return time.Time{}, time.Time{}, ""
	}
	// On the device's wall clock.
	sw := vcalLocalWall(s, zone)
	if !vcalIsMidnight(sw) {
		if !hint {
			return time.Time{}, time.Time{}, ""
		}
		sw = vcalDateOf(sw)
	}
	if e.isZero() {
		if hint {
			return sw, sw.Add(day), VCalAllDayMidnight
		}
		return time.Time{}, time.Time{}, ""
	}
	ew := vcalLocalWall(e, zone)
	switch {
	case ew.Equal(sw):
		return sw, sw.Add(day), VCalAllDaySame
	case vcalIsMidnight(ew) && ew.After(sw):
		return sw, ew, VCalAllDayMidnight
	case endOfDay(ew) && !ew.Before(sw):
		return sw, vcalDateOf(ew).Add(day), VCalAllDayEndOfDay
	case hint && ew.After(sw):
		return sw, vcalDateOf(ew).Add(day), VCalAllDayMidnight
	case hint:
		return sw, sw.Add(day), VCalAllDayMidnight
	}
	return time.Time{}, time.Time{}, ""
}

// vcalDetectAllDayTask recognises the all-day spellings of a task: DUE,
// and DTSTART when there is one, as dates ("date"), at local midnight
// ("midnight", the way vCalendar 1.0 devices write a date), or DTSTART at
// local midnight and DUE at 23:59 or 23:59:59 ("end-of-day"). A due date
// is its own day, not the day after as an event's DTEND. UTC values are
// instants, not dates: they count only with an all-day hint, as a lone
// UTC start of an event does (vcalDetectAllDay). It returns the start and
// due days (zero where the value is) and the form ("" when timed).
func vcalDetectAllDayTask(s, due vcalDT, zone *vcalZone, hint bool) (time.Time, time.Time, string) {
	day := func(d vcalDT) (time.Time, string, bool) {
		switch {
		case d.kind == vcalDate:
			return d.wall, VCalAllDayDate, true
		case d.kind != vcalUTC && vcalIsMidnight(d.wall):
			return d.wall, VCalAllDayMidnight, true
		case d.kind == vcalUTC && hint && vcalIsMidnight(d.wall):
			return d.wall, VCalAllDayUTCMidnight, true
		case hint:
			return vcalDateOf(vcalLocalWall(d, zone)), VCalAllDayMidnight, true
		}
		return time.Time{}, "", false
	}
	var sd, dd time.Time
	var sf, df string
	ok := true
	if !s.isZero() {
		sd, sf, ok = day(s)
	}
	if ok && !due.isZero() {
		dd, df, ok = day(due)
		endOfDay := due.kind != vcalUTC && due.wall.Hour() == 23 && due.wall.Minute() == 59 &&
			(due.wall.Second() == 0 || due.wall.Second() == 59)
		if !ok && sf == VCalAllDayMidnight && endOfDay {
			dd, df, ok = vcalDateOf(due.wall), VCalAllDayEndOfDay, true
		}
	}
	switch {
	case !ok || (sf == "" && df == ""):
		return time.Time{}, time.Time{}, ""
	case sf != "" && df != "" && dd.Before(sd):
		return time.Time{}, time.Time{}, ""
	case df != "":
		return sd, dd, df
	}
	return sd, dd, sf
}

// vcalReadAlarm reads AALARM, DALARM, PALARM or MALARM:
// RunTime;SnoozeTime;RepeatCount;Content[;Note].
func vcalReadAlarm(p *vcalProp, zone *vcalZone) (vcalAlarm, bool) {
	f := strings.Split(vcalRawValue(p), ";")
	at, ok := vcalReadDT(strings.TrimSpace(f[0]), zone)
	if !ok || at.kind == vcalDate {
		return vcalAlarm{}, false
	}
	a := vcalAlarm{abs: at}
	if len(f) > 1 {
		if dur, ok := vobject.ParseDuration(f[1]); ok && !dur.Negative() && dur.Days < 1000 {
			a.snooze = dur.Approx()
		}
	}
	if len(f) > 2 {
		if n, err := strconv.Atoi(strings.TrimSpace(f[2])); err == nil && n > 0 && n < 1000 {
			a.repeat = n
		}
	}
	content := ""
	if len(f) > 3 {
		content = strings.TrimSpace(strings.Join(f[3:], ";"))
	}
	switch p.name {
	case "AALARM":
		a.action, a.attach = "AUDIO", content
		if len(f) > 3 {
			a.attach = strings.TrimSpace(f[3])
		}
	case "DALARM":
		a.action, a.text = "DISPLAY", content
	case "PALARM":
		a.action, a.text = "DISPLAY", content
	case "MALARM":
		a.action = "EMAIL"
		if len(f) > 3 {
			a.email = strings.TrimSpace(f[3])
		}
		if len(f) > 4 {
			a.text = strings.TrimSpace(strings.Join(f[4:], ";"))
		}
	}
	return a, true
}

// vcalRelateAlarm makes an alarm relative to the item's start (tasks:
// due) when it has one, counting days and time on the item's wall clock.
func vcalRelateAlarm(a vcalAlarm, it *vcalItem, zone *vcalZone) vcalAlarm {
	anchor := it.start
	if it.kind == "VTODO" && !it.due.isZero() {
		anchor, a.relEnd = it.due, true
	}
	if anchor.isZero() {
		return a
	}
	var aw time.Time
	switch anchor.kind {
	case vcalZoned:
		if a.abs.kind == vcalUTC {
			aw = anchor.zone.toWall(a.abs.wall)
		} else {
			aw = a.abs.wall
		}
	case vcalUTC:
		if u, ok := a.abs.instant(); ok {
			aw = u
		} else {
			aw = a.abs.wall
		}
	default: // floating, date
		aw = vcalLocalWall(a.abs, zone)
	}
	diff := aw.Sub(anchor.wall)
	days := int(diff / (24 * time.Hour))
	a.relDays, a.relExact, a.hasRel = days, diff-time.Duration(days)*24*time.Hour, true
	return a
}

// vcalReadPerson reads an ATTENDEE: "Name <addr>" or "addr".
func vcalReadPerson(p *vcalProp) vcalPerson {
	v := strings.TrimSpace(vcalText(p))
	per := vcalPerson{
		role:     strings.ToUpper(p.param("ROLE")),
		partstat: vcalPartstatIn[strings.ToUpper(strings.ReplaceAll(p.param("STATUS"), "_", " "))],
		expect:   vcalExpectIn[strings.ToUpper(p.param("EXPECT"))],
	}
	switch strings.ToUpper(p.param("RSVP")) {
	case "YES", "TRUE":
		per.rsvp = "TRUE"
	case "NO", "FALSE":
		per.rsvp = "FALSE"
	}
	if i := strings.LastIndexByte(v, '<'); i >= 0 && strings.HasSuffix(v, ">") {
		per.name = strings.Trim(strings.TrimSpace(v[:i]), `"`)
		v = v[i+1 : len(v)-1]
	}
	if len(v) > 7 && strings.EqualFold(v[:7], "mailto:") {
		v = v[7:]
	}
	per.email = strings.TrimSpace(v)
	if cn := p.param("CN"); cn != "" && per.name == "" {
		per.name = cn
	}
	return per
}
