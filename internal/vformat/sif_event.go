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
	"strconv"
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
	start, sk := sifParseTime(n.get("Start"))
	end, ek := sifParseTime(n.get("End"))
	allDay := n.flag("AllDayEvent") || sk == sifKindDate
	recurring := n.flag("IsRecurring")
	var rec sifRecur
	var patStart time.Time
	pk := sifKindNone
	if recurring {
		rec = sifReadRecur(n)
		patStart, pk = sifParseTime(rec.start)
		if sk == sifKindNone && pk != sifKindNone {
			start, sk = patStart, pk
		}
	}
	var zone *sifZone
	if recurring && !allDay && pk != sifKindUTC {
		zone = sifZoneFromSIF(n.child("Timezone"))
	}
	// offset (local minus UTC) of a recurring UTC appointment without a
	// Timezone, from its local PatternStartDate; shift moves the pattern's
	// local days to UTC days.
	offset, shift, haveOffset := time.Duration(0), 0, false
	if recurring && zone == nil && !allDay && sk == sifKindUTC && pk == sifKindLocal {
		if d := patStart.Sub(start); d <= 14*time.Hour && d >= -14*time.Hour && d%(15*time.Minute) == 0 {
			offset, haveOffset = d, true
			shift = int(sifDateOnly(start).Sub(sifDateOnly(patStart)) / (24 * time.Hour))
		}
	}

	var l sifLines
	l.add("BEGIN", "VCALENDAR")
	l.add("VERSION", "2.0")
	l.add("PRODID", sifProdID)
	if zone != nil {
		zone.vtimezone(&l)
	}
	l.add("BEGIN", "VEVENT")
	l.add("DTSTAMP", opts.dtstamp())
	l.text("SUMMARY", sifText(n.get("Subject")))
	l.text("LOCATION", sifText(n.get("Location")))
	l.text("DESCRIPTION", sifText(n.getRaw("Body")))
	if cats := sifCategories(n.get("Categories")); len(cats) > 0 {
		l.add("CATEGORIES", vobject.JoinText(cats, ','))
	}
	sifWriteClassPriority(&l, n)
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

	// The frame DTSTART is written in and its first wall clock.
	var first time.Time
	tzParam := ""
	timed := func(t time.Time, kind int) string {
		switch {
		case zone != nil && kind == sifKindUTC:
			return sifFmtLocal(zone.toLocal(t))
		case zone != nil:
			return sifFmtLocal(t)
		case kind == sifKindUTC:
			return sifFmtUTC(t)
		}
		return sifFmtLocal(t)
	}
	if zone != nil {
		tzParam = "TZID=" + vobject.QuoteParam(zone.id)
	}
	if allDay {
		sd := sifAllDayDate(start, sk, false)
		ed := sifAllDayDate(end, ek, true)
		if ek == sifKindNone || !ed.After(sd) {
			ed = sd.AddDate(0, 0, 1)
		}
		if sk != sifKindNone {
			l.add("DTSTART", sifFmtDate(sd), "VALUE=DATE")
			l.add("DTEND", sifFmtDate(ed), "VALUE=DATE")
		}
		first = sd
	} else if sk != sifKindNone {
		l.add("DTSTART", timed(start, sk), tzParam)
		if ek != sifKindNone {
			l.add("DTEND", timed(end, ek), tzParam)
		}
		first = start
		if zone != nil && sk == sifKindUTC {
			first = zone.toLocal(start)
		}
	}

	if recurring && sk != sifKindNone {
		if rule := rec.rrule(first, shift); rule != "" {
			if until := sifUntil(rec, allDay, zone, sk, shift); until != "" {
				rule += ";UNTIL=" + until
			} else if !rec.noEnd && rec.occurrences > 0 {
				rule += ";COUNT=" + strconv.Itoa(rec.occurrences)
			}
			l.add("RRULE", rule)
			ex := n.child("Exceptions")
			for _, kind := range []string{"ExcludeDate", "IncludeDate"} {
				prop := "EXDATE"
				if kind == "IncludeDate" {
					prop = "RDATE"
				}
				for _, e := range ex.children(kind) {
					t, k := sifParseTime(e.text.String())
					if k == sifKindNone {
						continue
					}
					switch {
					case allDay:
						l.add(prop, sifFmtDate(sifAllDayDate(t, k, false)), "VALUE=DATE")
					case zone != nil:
						if k == sifKindDate {
							t, k = t.Add(sifTimeOfDay(first)), sifKindLocal
						}
						l.add(prop, timed(t, k), tzParam)
					case sk == sifKindUTC:
						switch {
						case k == sifKindDate && haveOffset:
							t = t.Add(sifTimeOfDay(patStart)).Add(-offset)
						case k == sifKindDate:
							t = t.Add(sifTimeOfDay(start))
						case k == sifKindLocal && haveOffset:
							t = t.Add(-offset)
						}
						l.add(prop, sifFmtUTC(t))
					default:
						if k == sifKindDate {
							t = t.Add(sifTimeOfDay(start))
						}
						l.add(prop, sifFmtLocal(t))
					}
				}
			}
		}
	}
	l.text("X-FUNAMBOL-FOLDER", n.get("Folder"))
	if n.flag("ReminderSet") {
		m := n.num("ReminderMinutesBeforeStart", 15)
		if m < 0 {
			m = 0
		}
		sifAlarm(&l, sifFmtMinutes(-m), n.get("Subject"))
	}
	l.add("END", "VEVENT")
	l.add("END", "VCALENDAR")
	return l.bytes(), nil
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

// sifWriteClassPriority writes CLASS and PRIORITY from Sensitivity and
// Importance.
func sifWriteClassPriority(l *sifLines, n *sifNode) {
	sifWriteClass(l, n)
	switch n.num("Importance", 1) {
	case 0:
		l.add("PRIORITY", "9")
	case 2:
		l.add("PRIORITY", "1")
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
