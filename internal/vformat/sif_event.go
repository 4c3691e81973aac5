package vformat

// SIF-E (text/x-s4j-sife): Outlook appointments.
//
// Mapping: Subject SUMMARY, Body DESCRIPTION, Location LOCATION, Categories
// CATEGORIES, Sensitivity CLASS (0 PUBLIC, 1 X-PERSONAL, 2 PRIVATE, 3
// CONFIDENTIAL; public is not written), Importance PRIORITY (0 low 9, 1
// normal not written, 2 high 1), BusyStatus TRANSP and
// X-MICROSOFT-CDO-BUSYSTATUS (0 free TRANSP:TRANSPARENT, 1 TENTATIVE, 2 busy
// not written, 3 OOF, 4 WORKINGELSEWHERE), Start/End DTSTART/DTEND (UTC
// "yyyyMMddTHHmmssZ"; all-day as dates, SIF's End being the last day and
// DTEND the day after), ReminderSet/ReminderMinutesBeforeStart a display
// VALARM, IsRecurring and the pattern RRULE, Exceptions ExcludeDate EXDATE
// and IncludeDate RDATE, Timezone a VTIMEZONE, Folder X-FUNAMBOL-FOLDER.
// DTSTAMP is the time of conversion (SIFOptions.Now).

import (
	"errors"
	"strings"
	"time"

	"syncml-imap/internal/vobject"
)

// SIFEToICal converts a SIF-E appointment (base64 or not) to an iCalendar
// 2.0 VEVENT, stamped with the current time.
func SIFEToICal(in []byte) ([]byte, error) {
	return SIFEToICalWithOptions(in, nil)
}

// SIFEToICalWithOptions is SIFEToICal with the clock in opts.
func SIFEToICalWithOptions(in []byte, opts *SIFOptions) ([]byte, error) {
	n, err := sifParse(in, "appointment")
	if err != nil {
		return nil, err
	}
	a := sifReadAppointment(n)
	var l sifLines
	sifBeginCalendar(&l, "VEVENT", a.zone, opts)
	sifWriteDescriptive(&l, n, true)
	sifWriteBusyStatus(&l, n)
	a.writeTimes(&l)
	if a.recurring && a.sk != sifKindNone {
		a.writeRecurrence(&l, n)
	}
	l.text("X-FUNAMBOL-FOLDER", n.get("Folder"))
	if n.flag("ReminderSet") {
		m := n.num("ReminderMinutesBeforeStart", 15)
		if m < 0 {
			m = 0
		}
		sifAlarm(&l, sifFmtMinutes(-m), n.get("Subject"))
	}
	sifEndCalendar(&l, "VEVENT")
	return l.bytes(), nil
}

// sifAppointment is when a SIF-E appointment happens: its Start and End,
// all day or not, its recurrence pattern, and the frame its times are
// written in.
type sifAppointment struct {
	start, end time.Time
	sk, ek     int // the sifKind of start and end
	allDay     bool
	recurring  bool
	rec        sifRecur
	patStart   time.Time // PatternStartDate
	pk         int       // its sifKind
	// zone is the Timezone of a recurring appointment not in UTC; nil
	// writes times in UTC or floating, as SIF has them.
	zone *sifZone
	// offset (local minus UTC) of a recurring UTC appointment without a
	// Timezone, from its local PatternStartDate; shift moves the pattern's
	// local days to UTC days.
	offset     time.Duration
	shift      int
	haveOffset bool
	// first is DTSTART's first wall clock, in the frame it is written in.
	first time.Time
}

func sifReadAppointment(n *sifNode) *sifAppointment {
	a := &sifAppointment{pk: sifKindNone}
	a.start, a.sk = sifParseTime(n.get("Start"))
	a.end, a.ek = sifParseTime(n.get("End"))
	a.allDay = n.flag("AllDayEvent") || a.sk == sifKindDate
	a.recurring = n.flag("IsRecurring")
	if a.recurring {
		a.rec = sifReadRecur(n)
		a.patStart, a.pk = sifParseTime(a.rec.start)
		if a.sk == sifKindNone && a.pk != sifKindNone {
			a.start, a.sk = a.patStart, a.pk
		}
	}
	if a.recurring && !a.allDay && a.pk != sifKindUTC {
		a.zone = sifZoneFromSIF(n.child("Timezone"))
	}
	if a.recurring && a.zone == nil && !a.allDay && a.sk == sifKindUTC && a.pk == sifKindLocal {
		if d := a.patStart.Sub(a.start); d <= 14*time.Hour && d >= -14*time.Hour && d%(15*time.Minute) == 0 {
			a.offset, a.haveOffset = d, true
			a.shift = int(sifDateOnly(a.start).Sub(sifDateOnly(a.patStart)) / (24 * time.Hour))
		}
	}
	switch {
	case a.allDay:
		a.first = sifAllDayDate(a.start, a.sk, false)
	case a.sk != sifKindNone:
		a.first = a.start
		if a.zone != nil && a.sk == sifKindUTC {
			a.first = a.zone.toLocal(a.start)
		}
	}
	return a
}

// tzParam is the TZID parameter of times written in the appointment's
// zone, "" when there is none.
func (a *sifAppointment) tzParam() string {
	if a.zone == nil {
		return ""
	}
	return "TZID=" + vobject.QuoteParam(a.zone.id)
}

// timed writes a time of kind kind in DTSTART's frame: the wall clock of
// the zone when there is one, else UTC or floating as SIF has it.
func (a *sifAppointment) timed(t time.Time, kind int) string {
	switch {
	case a.zone != nil && kind == sifKindUTC:
		return sifFmtLocal(a.zone.toLocal(t))
	case a.zone != nil:
		return sifFmtLocal(t)
	case kind == sifKindUTC:
		return sifFmtUTC(t)
	}
	return sifFmtLocal(t)
}

// writeTimes writes DTSTART and DTEND: dates for an all-day appointment,
// DTEND the day after SIF's End (and at least a day after the start).
func (a *sifAppointment) writeTimes(l *sifLines) {
	if a.allDay {
		sd := a.first
		ed := sifAllDayDate(a.end, a.ek, true)
		if a.ek == sifKindNone || !ed.After(sd) {
			ed = sd.AddDate(0, 0, 1)
		}
		if a.sk != sifKindNone {
			l.add("DTSTART", sifFmtDate(sd), "VALUE=DATE")
			l.add("DTEND", sifFmtDate(ed), "VALUE=DATE")
		}
		return
	}
	if a.sk == sifKindNone {
		return
	}
	l.add("DTSTART", a.timed(a.start, a.sk), a.tzParam())
	if a.ek != sifKindNone {
		l.add("DTEND", a.timed(a.end, a.ek), a.tzParam())
	}
}

// writeRecurrence writes the RRULE of the pattern and, when it has one,
// the Exceptions as EXDATE and RDATE.
func (a *sifAppointment) writeRecurrence(l *sifLines, n *sifNode) {
	rule := a.rec.rrule(a.first, a.shift)
	if rule == "" {
		return
	}
	l.add("RRULE", rule+a.rec.endPart(sifUntil(a.rec, a.allDay, a.zone, a.sk, a.shift)))
	for _, e := range sifReadExceptions(n) {
		a.writeException(l, e)
	}
}

// writeException writes an exception in DTSTART's frame; a date alone
// takes the time of day of the first occurrence.
func (a *sifAppointment) writeException(l *sifLines, e sifException) {
	t, k := e.t, e.kind
	switch {
	case a.allDay:
		l.add(e.prop, sifFmtDate(sifAllDayDate(t, k, false)), "VALUE=DATE")
	case a.zone != nil:
		if k == sifKindDate {
			t, k = t.Add(sifTimeOfDay(a.first)), sifKindLocal
		}
		l.add(e.prop, a.timed(t, k), a.tzParam())
	case a.sk == sifKindUTC:
		switch {
		case k == sifKindDate && a.haveOffset:
			t = t.Add(sifTimeOfDay(a.patStart)).Add(-a.offset)
		case k == sifKindDate:
			t = t.Add(sifTimeOfDay(a.start))
		case k == sifKindLocal && a.haveOffset:
			t = t.Add(-a.offset)
		}
		l.add(e.prop, sifFmtUTC(t))
	default:
		if k == sifKindDate {
			t = t.Add(sifTimeOfDay(a.start))
		}
		l.add(e.prop, sifFmtLocal(t))
	}
}

// sifWriteBusyStatus writes BusyStatus as TRANSP or
// X-MICROSOFT-CDO-BUSYSTATUS (busy, the default, is not written).
func sifWriteBusyStatus(l *sifLines, n *sifNode) {
	switch n.num("BusyStatus", 2) {
	case 0:
		l.add("TRANSP", "TRANSPARENT")
	case 1:
		l.add("X-MICROSOFT-CDO-BUSYSTATUS", "TENTATIVE")
	case 3:
		l.add("X-MICROSOFT-CDO-BUSYSTATUS", "OOF")
	case 4:
		l.add("X-MICROSOFT-CDO-BUSYSTATUS", "WORKINGELSEWHERE")
	}
}

// sifAllDayDate gives the date of an all-day Start or End as SIF writes
// it: a date (an End date being the last day, so the exclusive end is the
// day after), a local time (its date; an End at a later time of day, e.g.
// 23:59, ends that day), or the UTC instant of a local midnight.
func sifAllDayDate(t time.Time, kind int, isEnd bool) time.Time {
	switch kind {
	case sifKindDate:
		if isEnd {
			return t.AddDate(0, 0, 1)
		}
		return t
	case sifKindUTC:
		return sifNearestDate(t)
	case sifKindLocal:
		if isEnd && sifTimeOfDay(t) > 12*time.Hour {
			return sifDateOnly(t).AddDate(0, 0, 1)
		}
		return sifDateOnly(t)
	}
	return t
}

// sifUntil turns PatternEndDate into an RRULE UNTIL when the pattern ends
// by date (Occurrences, when given, is preferred: it is exact). UNTIL is
// the end of the last day, in DTSTART's frame.
func sifUntil(rec sifRecur, allDay bool, zone *sifZone, sk, shift int) string {
	if rec.noEnd || rec.occurrences > 0 {
		return ""
	}
	t, k := sifParseTime(rec.end)
	if k == sifKindNone {
		return ""
	}
	day := sifDateOnly(t)
	switch {
	case allDay:
		if k == sifKindUTC {
			day = sifNearestDate(t)
		}
		return sifFmtDate(day)
	case zone != nil:
		if k == sifKindUTC {
			day = sifDateOnly(zone.toLocal(t))
		}
		return sifFmtUTC(zone.toUTC(day.Add(24*time.Hour - time.Second)))
	case sk == sifKindUTC:
		if k == sifKindUTC && sifTimeOfDay(t) != 0 {
			return sifFmtUTC(t)
		}
		return sifFmtUTC(day.AddDate(0, 0, shift).Add(24*time.Hour - time.Second))
	}
	return sifFmtLocal(day.Add(24*time.Hour - time.Second))
}

// sifWriteClass writes CLASS from Sensitivity (public is not written).
func sifWriteClass(l *sifLines, n *sifNode) {
	switch n.num("Sensitivity", 0) {
	case 1:
		l.add("CLASS", "X-PERSONAL")
	case 2:
		l.add("CLASS", "PRIVATE")
	case 3:
		l.add("CLASS", "CONFIDENTIAL")
	}
}

// sifSensitivity maps CLASS to Outlook's Sensitivity; an unknown class is
// private (RFC 5545 3.8.1.3).
func sifSensitivity(class string) int {
	switch strings.ToUpper(strings.TrimSpace(class)) {
	case "", "PUBLIC":
		return 0
	case "X-PERSONAL", "PERSONAL":
		return 1
	case "CONFIDENTIAL":
		return 3
	}
	return 2
}

// sifImportance maps PRIORITY (1..4 high, 5 or none normal, 6..9 low).
func sifImportance(prio string) int {
	p := strings.TrimSpace(prio)
	switch {
	case p == "" || p == "0" || p == "5":
		return 1
	case len(p) == 1 && p[0] >= '1' && p[0] <= '4':
		return 2
	case len(p) == 1 && p[0] >= '6' && p[0] <= '9':
		return 0
	}
	return 1
}

// ICalToSIFE converts the VEVENT of an iCalendar object (the master one
// when there are overridden instances, which SIF cannot carry) to SIF-E.
func ICalToSIFE(in []byte) ([]byte, error) {
	ev, vtz, ok := sifCalendarComponent(in, "VEVENT")
	if !ok {
		return nil, errors.New("vformat: no VEVENT in iCalendar data")
	}
	w := sifNewWriter("appointment")
	w.elem("Subject", ev.PropValue("SUMMARY"))
	w.elem("Body", sifPropText(ev, "DESCRIPTION"))
	w.elem("Location", ev.PropValue("LOCATION"))
	w.elem("Categories", strings.Join(sifObjCategories(ev), ", "))

	st := sifReadCalTime(ev.Prop("DTSTART"), vtz)
	et := sifReadCalTime(ev.Prop("DTEND"), vtz)
	if et.kind == sifKindNone && st.kind != sifKindNone {
		et = st
		if d, ok := vobject.ParseDuration(ev.PropValue("DURATION")); ok && d.Approx() > 0 {
			et.wall = st.wall.Add(d.Approx())
		} else if st.kind == sifKindDate {
			et.wall = st.wall.AddDate(0, 0, 1)
		}
	}
	allDay := st.kind == sifKindDate
	switch {
	case allDay:
		last := sifDateOnly(et.wall).AddDate(0, 0, -1)
		if et.kind != sifKindDate {
			last = sifDateOnly(et.wall)
			if sifTimeOfDay(et.wall) == 0 {
				last = last.AddDate(0, 0, -1)
			}
		}
		if last.Before(st.wall) {
			last = st.wall
		}
		w.elem("Start", sifFmtDateDash(st.wall))
		w.elem("End", sifFmtDateDash(last))
	case st.kind != sifKindNone:
		w.elem("Start", st.sifTime())
		if et.kind == sifKindDate { // DTEND a date, DTSTART a time: end of that day
			et = sifCalTime{wall: et.wall, kind: sifKindLocal, zone: st.zone}
		}
		w.elem("End", et.sifTime())
	default:
		w.elem("Start", "")
		w.elem("End", "")
	}
	w.elemBool("AllDayEvent", allDay)

	busy := 2
	switch strings.ToUpper(ev.PropValue("X-MICROSOFT-CDO-BUSYSTATUS")) {
	case "FREE":
		busy = 0
	case "TENTATIVE":
		busy = 1
	case "BUSY":
		busy = 2
	case "OOF":
		busy = 3
	case "WORKINGELSEWHERE":
		busy = 4
	default:
		if strings.EqualFold(ev.PropValue("TRANSP"), "TRANSPARENT") {
			busy = 0
		}
	}
	w.elemInt("BusyStatus", busy)
	w.elemInt("Importance", sifImportance(ev.PropValue("PRIORITY")))
	w.elemInt("Sensitivity", sifSensitivity(ev.PropValue("CLASS")))

	if tr := sifFirstTrigger(ev); tr.ok {
		m := 0
		startUTC, _ := st.utc()
		switch {
		case tr.abs:
			m = int(startUTC.Sub(tr.at) / time.Minute)
		case tr.toEnd:
			endUTC, _ := et.utc()
			m = int(-(endUTC.Sub(startUTC) + tr.rel) / time.Minute)
		default:
			m = int(-tr.rel / time.Minute)
		}
		if m < 0 {
			m = 0
		}
		w.elemBool("ReminderSet", true)
		w.elemInt("ReminderMinutesBeforeStart", m)
	} else {
		w.elemBool("ReminderSet", false)
	}

	sifWriteCalRecurrence(w, ev, st, vtz, false)
	if f := ev.PropValue("X-FUNAMBOL-FOLDER"); f != "" {
		w.elem("Folder", f)
	}
	return w.bytes(), nil
}

// sifWriteCalRecurrence writes IsRecurring, the pattern, the exceptions
// and (for timed appointments in a known zone) the Timezone of comp. A
// task's pattern dates are written as dates (yyyy-MM-dd).
func sifWriteCalRecurrence(w *sifWriter, comp *vobject.Object, st sifCalTime, vtz map[string]*vobject.Object, task bool) {
	rule := comp.PropValue("RRULE")
	if rule == "" || st.kind == sifKindNone {
		w.elemBool("IsRecurring", false)
		return
	}
	rec, ok := sifRecurFromRRule(rule, st.wall)
	if !ok {
		w.elemBool("IsRecurring", false)
		return
	}
	allDay := st.kind == sifKindDate
	zone := st.zone
	// Pattern dates are local: the zone's wall clock, or as written.
	patStart := sifFmtLocal(st.wall)
	if st.kind == sifKindUTC {
		patStart = sifFmtUTC(st.wall)
	}
	patEnd := ""
	endYear := st.wall.Year() + 5
	if rec.end != "" {
		u := sifCalTimeValue(rec.end, nil, nil)
		switch {
		case u.kind == sifKindDate:
			patEnd = sifFmtLocal(u.wall)
		case u.kind == sifKindUTC && zone != nil:
			patEnd = sifFmtLocal(zone.toLocal(u.wall))
		case u.kind == sifKindUTC && !allDay:
			patEnd = sifFmtUTC(u.wall)
		case u.kind == sifKindUTC:
			patEnd = sifFmtLocal(sifDateOnly(u.wall))
		case u.kind == sifKindLocal:
			patEnd = sifFmtLocal(u.wall)
		}
		if u.kind != sifKindNone && u.wall.Year() < endYear {
			endYear = u.wall.Year()
		}
	}
	if task && allDay {
		if t, k := sifParseTime(patStart); k != sifKindNone {
			patStart = sifFmtDateDash(t)
		}
		if t, k := sifParseTime(patEnd); k != sifKindNone {
			patEnd = sifFmtDateDash(t)
		}
	}
	if rec.occurrences > 0 {
		unit := map[int]int{sifRecDaily: 1, sifRecWeekly: 7, sifRecMonthly: 31, sifRecMonthNth: 31}[rec.typ]
		if unit == 0 {
			unit = 366
		}
		days := rec.occurrences * rec.interval * unit
		if days < 6*366 {
			endYear = st.wall.AddDate(0, 0, days).Year()
		}
	}
	w.elemBool("IsRecurring", true)
	rec.write(w, patStart, patEnd)

	var ex, in []string
	for _, p := range comp.Props {
		if p.Name != "EXDATE" && p.Name != "RDATE" {
			continue
		}
		if strings.EqualFold(p.Params["VALUE"], "PERIOD") {
			continue
		}
		for _, v := range strings.Split(p.Value, ",") {
			ct := sifCalTimeValue(v, p.Params, vtz)
			if ct.kind == sifKindLocal && ct.zone == nil && ct.tzid == "" {
				ct.zone = zone // floating: the appointment's own zone
			}
			s := ""
			switch {
			case ct.kind == sifKindNone:
				continue
			case allDay && ct.kind == sifKindUTC && zone != nil:
				s = sifFmtDateDash(zone.toLocal(ct.wall))
			case allDay:
				s = sifFmtDateDash(ct.wall)
			case ct.kind == sifKindDate:
				ct = sifCalTime{wall: ct.wall.Add(sifTimeOfDay(st.wall)), kind: st.kind, zone: st.zone}
				s = ct.sifTime()
			default:
				s = ct.sifTime()
			}
			if p.Name == "EXDATE" {
				ex = append(ex, s)
			} else {
				in = append(in, s)
			}
		}
	}
	if len(ex) == 0 && len(in) == 0 {
		w.empty("Exceptions")
	} else {
		w.open("Exceptions")
		for _, s := range ex {
			w.elem("ExcludeDate", s)
		}
		for _, s := range in {
			w.elem("IncludeDate", s)
		}
		w.close("Exceptions")
	}
	if !task && zone != nil && !allDay {
		zone.sifTimezone(w, st.wall.Year(), endYear)
	}
}
