package vformat

// SIF-T (text/x-s4j-sift): Outlook tasks.
//
// Mapping: Subject SUMMARY, Body DESCRIPTION, Categories CATEGORIES,
// Sensitivity CLASS and Importance PRIORITY (as for appointments),
// StartDate DTSTART and DueDate DUE (dates, yyyy-MM-dd in SIF), Complete
// and Status STATUS (0 not started: none, 1 in progress IN-PROCESS, 2
// complete COMPLETED, 3 waiting and 4 deferred NEEDS-ACTION with
// X-OUTLOOK-TASKSTATUS WAITING/DEFERRED), PercentComplete PERCENT-COMPLETE,
// DateCompleted COMPLETED (noon UTC of that day, so every zone sees the
// same date), ReminderSet/ReminderTime a display VALARM (a UTC ReminderTime
// an absolute trigger, a local one relative to the due or start date), the
// recurrence pattern RRULE with ExcludeDate EXDATE, Folder
// X-FUNAMBOL-FOLDER. DTSTAMP is the time of conversion (SIFOptions.Now).

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"syncml-imap/internal/vobject"
)

// sifTaskDate reads a SIF task date; a UTC instant is taken as a local
// midnight.
func sifTaskDate(s string) (time.Time, bool) {
	t, k := sifParseTime(s)
	switch k {
	case sifKindDate, sifKindLocal:
		return sifDateOnly(t), true
	case sifKindUTC:
		return sifNearestDate(t), true
	}
	return time.Time{}, false
}

// SIFTToICal converts a SIF-T task (base64 or not) to an iCalendar 2.0
// VTODO, stamped with the current time.
func SIFTToICal(in []byte) ([]byte, error) {
	return SIFTToICalWithOptions(in, nil)
}

// SIFTToICalWithOptions is SIFTToICal with the clock in opts.
func SIFTToICalWithOptions(in []byte, opts *SIFOptions) ([]byte, error) {
	n, err := sifParse(in, "task")
	if err != nil {
		return nil, err
	}
	start, haveStart := sifTaskDate(n.get("StartDate"))
	due, haveDue := sifTaskDate(n.get("DueDate"))
	recurring := n.flag("IsRecurring")
	var rec sifRecur
	if recurring {
		rec = sifReadRecur(n)
		if !haveStart {
			// RRULE needs a DTSTART: the pattern start, else the due date.
			if t, ok := sifTaskDate(rec.start); ok {
				start, haveStart = t, true
			} else if haveDue {
				start, haveStart = due, true
			}
		}
	}

	var l sifLines
	l.add("BEGIN", "VCALENDAR")
	l.add("VERSION", "2.0")
	l.add("PRODID", sifProdID)
	l.add("BEGIN", "VTODO")
	l.add("DTSTAMP", opts.dtstamp())
	l.text("SUMMARY", sifText(n.get("Subject")))
	l.text("DESCRIPTION", sifText(n.getRaw("Body")))
	if cats := sifCategories(n.get("Categories")); len(cats) > 0 {
		l.add("CATEGORIES", vobject.JoinText(cats, ','))
	}
	sifWriteClassPriority(&l, n)
	if haveStart {
		l.add("DTSTART", sifFmtDate(start), "VALUE=DATE")
	}
	if haveDue {
		l.add("DUE", sifFmtDate(due), "VALUE=DATE")
	}
	status := n.num("Status", 0)
	complete := n.flag("Complete") || status == 2
	switch {
	case complete:
		l.add("STATUS", "COMPLETED")
	case status == 1:
		l.add("STATUS", "IN-PROCESS")
	case status == 3:
		l.add("STATUS", "NEEDS-ACTION")
		l.add("X-OUTLOOK-TASKSTATUS", "WAITING")
	case status == 4:
		l.add("STATUS", "NEEDS-ACTION")
		l.add("X-OUTLOOK-TASKSTATUS", "DEFERRED")
	}
	pct := n.num("PercentComplete", 0)
	if complete && !n.has("PercentComplete") {
		pct = 100
	}
	if pct > 100 {
		pct = 100
	}
	if pct > 0 {
		l.add("PERCENT-COMPLETE", strconv.Itoa(pct))
	}
	if d, ok := sifTaskDate(n.get("DateCompleted")); ok {
		l.add("COMPLETED", sifFmtUTC(d.Add(12*time.Hour)))
	}
	if recurring && haveStart {
		if rule := rec.rrule(start, 0); rule != "" {
			if rec.occurrences > 0 && !rec.noEnd {
				rule += ";COUNT=" + strconv.Itoa(rec.occurrences)
			} else if end, ok := sifTaskDate(rec.end); ok && !rec.noEnd {
				rule += ";UNTIL=" + sifFmtDate(end)
			}
			l.add("RRULE", rule)
			for _, e := range n.child("Exceptions").children("ExcludeDate") {
				if d, ok := sifTaskDate(e.text.String()); ok {
					l.add("EXDATE", sifFmtDate(d), "VALUE=DATE")
				}
			}
			for _, e := range n.child("Exceptions").children("IncludeDate") {
				if d, ok := sifTaskDate(e.text.String()); ok {
					l.add("RDATE", sifFmtDate(d), "VALUE=DATE")
				}
			}
		}
	}
	l.text("X-FUNAMBOL-FOLDER", n.get("Folder"))
	if n.flag("ReminderSet") {
		rt, rk := sifParseTime(n.get("ReminderTime"))
		switch {
		case rk == sifKindUTC:
			sifAlarm(&l, sifFmtUTC(rt), n.get("Subject"), "VALUE=DATE-TIME")
		case rk != sifKindNone && haveDue:
			sifAlarm(&l, sifFmtMinutes(int(rt.Sub(due)/time.Minute)), n.get("Subject"), "RELATED=END")
		case rk != sifKindNone && haveStart:
			sifAlarm(&l, sifFmtMinutes(int(rt.Sub(start)/time.Minute)), n.get("Subject"))
		case rk != sifKindNone:
			sifAlarm(&l, sifFmtUTC(rt), n.get("Subject"), "VALUE=DATE-TIME")
		}
	}
	l.add("END", "VTODO")
	l.add("END", "VCALENDAR")
	return l.bytes(), nil
}

// ICalToSIFT converts the VTODO of an iCalendar object to SIF-T.
func ICalToSIFT(in []byte) ([]byte, error) {
	td, vtz, ok := sifCalendarComponent(in, "VTODO")
	if !ok {
		return nil, errors.New("vformat: no VTODO in iCalendar data")
	}
	w := sifNewWriter("task")
	w.elem("Subject", td.PropValue("SUMMARY"))
	w.elem("Body", sifPropText(td, "DESCRIPTION"))
	w.elem("Categories", strings.Join(sifObjCategories(td), ", "))
	w.elemInt("Importance", sifImportance(td.PropValue("PRIORITY")))
	w.elemInt("Sensitivity", sifSensitivity(td.PropValue("CLASS")))

	st := sifReadCalTime(td.Prop("DTSTART"), vtz)
	dt := sifReadCalTime(td.Prop("DUE"), vtz)
	if dt.kind == sifKindNone && st.kind != sifKindNone {
		if d, ok := vobject.ParseDuration(td.PropValue("DURATION")); ok && !d.Negative() {
			dt = st
			dt.wall = st.wall.Add(d.Approx())
		}
	}
	date := func(c sifCalTime) string {
		if c.kind == sifKindNone {
			return ""
		}
		return sifFmtDateDash(c.wall)
	}
	w.elem("StartDate", date(st))
	w.elem("DueDate", date(dt))

	status := strings.ToUpper(td.PropValue("STATUS"))
	completed := sifReadCalTime(td.Prop("COMPLETED"), vtz)
	complete := status == "COMPLETED" || (status == "" && completed.kind != sifKindNone)
	w.elemBool("Complete", complete)
	if complete && completed.kind != sifKindNone {
		t, _ := completed.utc()
		w.elem("DateCompleted", sifFmtDateDash(t))
	} else {
		w.elem("DateCompleted", "")
	}
	pct, err := strconv.Atoi(td.PropValue("PERCENT-COMPLETE"))
	if err != nil || pct < 0 {
		pct = 0
	}
	if pct > 100 || complete && pct == 0 {
		pct = 100
	}
	w.elemInt("PercentComplete", pct)
	code := 0
	switch {
	case complete:
		code = 2
	case status == "IN-PROCESS":
		code = 1
	case status == "CANCELLED":
		code = 4
	default:
		switch strings.ToUpper(td.PropValue("X-OUTLOOK-TASKSTATUS")) {
		case "WAITING":
			code = 3
		case "DEFERRED":
			code = 4
		}
	}
	w.elemInt("Status", code)

	if tr := sifFirstTrigger(td); tr.ok {
		base := st
		if tr.toEnd || st.kind == sifKindNone {
			base = dt
		}
		rt := ""
		switch {
		case tr.abs:
			rt = sifFmtUTC(tr.at)
		case base.kind == sifKindNone:
		case base.kind == sifKindUTC:
			rt = sifFmtUTC(base.wall.Add(tr.rel))
		default: // the wall clock of a date or local time
			rt = sifFmtLocal(base.wall.Add(tr.rel))
		}
		w.elemBool("ReminderSet", rt != "")
		w.elem("ReminderTime", rt)
	} else {
		w.elemBool("ReminderSet", false)
		w.elem("ReminderTime", "")
	}

	base := st
	if base.kind == sifKindNone {
		base = dt
	}
	if base.kind != sifKindNone && base.kind != sifKindDate {
		base = sifCalTime{wall: sifDateOnly(base.wall), kind: sifKindDate}
	}
	sifWriteCalRecurrence(w, td, base, vtz, true)
	if f := td.PropValue("X-FUNAMBOL-FOLDER"); f != "" {
		w.elem("Folder", f)
	}
	return w.bytes(), nil
}
