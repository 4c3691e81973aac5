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
	return sifTaskDay(sifParseTime(s))
}

// sifTaskDay is the day of a time of kind k read from a task.
func sifTaskDay(t time.Time, k int) (time.Time, bool) {
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
	t := sifReadTask(n)
	var l sifLines
	sifBeginCalendar(&l, "VTODO", nil, opts)
	sifWriteDescriptive(&l, n, false)
	if t.haveStart {
		l.add("DTSTART", sifFmtDate(t.start), "VALUE=DATE")
	}
	if t.haveDue {
		l.add("DUE", sifFmtDate(t.due), "VALUE=DATE")
	}
	sifWriteTaskStatus(&l, n)
	if t.recurring && t.haveStart {
		t.writeRecurrence(&l, n)
	}
	l.text("X-FUNAMBOL-FOLDER", n.get("Folder"))
	if n.flag("ReminderSet") {
		t.writeReminder(&l, n)
	}
	sifEndCalendar(&l, "VTODO")
	return l.bytes(), nil
}

// sifTask is when a SIF-T task is: its start and due days and its
// recurrence pattern.
type sifTask struct {
	start, due         time.Time
	haveStart, haveDue bool
	recurring          bool
	rec                sifRecur
}

func sifReadTask(n *sifNode) *sifTask {
	t := &sifTask{}
	t.start, t.haveStart = sifTaskDate(n.get("StartDate"))
	t.due, t.haveDue = sifTaskDate(n.get("DueDate"))
	t.recurring = n.flag("IsRecurring")
	if t.recurring {
		t.rec = sifReadRecur(n)
		if !t.haveStart {
			// RRULE needs a DTSTART: the pattern start, else the due date.
			if d, ok := sifTaskDate(t.rec.start); ok {
				t.start, t.haveStart = d, true
			} else if t.haveDue {
				t.start, t.haveStart = t.due, true
			}
		}
	}
	return t
}

// sifWriteTaskStatus writes STATUS (and X-OUTLOOK-TASKSTATUS for what
// iCalendar has no status for), PERCENT-COMPLETE and COMPLETED.
func sifWriteTaskStatus(l *sifLines, n *sifNode) {
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
}

// writeRecurrence writes the RRULE of the pattern and, when it has one,
// the Exceptions, all as dates.
func (t *sifTask) writeRecurrence(l *sifLines, n *sifNode) {
	rule := t.rec.rrule(t.start, 0)
	if rule == "" {
		return
	}
	until := ""
	if end, ok := sifTaskDate(t.rec.end); ok {
		until = sifFmtDate(end)
	}
	l.add("RRULE", rule+t.rec.endPart(until))
	for _, e := range sifReadExceptions(n) {
		if d, ok := sifTaskDay(e.t, e.kind); ok {
			l.add(e.prop, sifFmtDate(d), "VALUE=DATE")
		}
	}
}

// writeReminder writes the VALARM of ReminderTime: a UTC time is an
// absolute trigger, a local one is taken relative to the due date, else
// the start.
func (t *sifTask) writeReminder(l *sifLines, n *sifNode) {
	rt, rk := sifParseTime(n.get("ReminderTime"))
	switch {
	case rk == sifKindUTC:
		sifAlarm(l, sifFmtUTC(rt), n.get("Subject"), "VALUE=DATE-TIME")
	case rk != sifKindNone && t.haveDue:
		sifAlarm(l, sifFmtMinutes(int(rt.Sub(t.due)/time.Minute)), n.get("Subject"), "RELATED=END")
	case rk != sifKindNone && t.haveStart:
		sifAlarm(l, sifFmtMinutes(int(rt.Sub(t.start)/time.Minute)), n.get("Subject"))
	case rk != sifKindNone:
		sifAlarm(l, sifFmtUTC(rt), n.get("Subject"), "VALUE=DATE-TIME")
	}
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
