package vformat

// Recurrence patterns and reminders shared by SIF-E and SIF-T.
//
// SIF carries Outlook's RecurrencePattern: RecurrenceType 0 daily, 1 weekly,
// 2 monthly (DayOfMonth), 3 monthly on the Instance-th (1..4, 5 = last)
// DayOfWeekMask day, 5 yearly (MonthOfYear, DayOfMonth), 6 yearly on the
// Instance-th day of MonthOfYear; Interval; DayOfWeekMask bits Sunday 1,
// Monday 2, Tuesday 4, Wednesday 8, Thursday 16, Friday 32, Saturday 64;
// NoEndDate, Occurrences, PatternStartDate, PatternEndDate.

import (
	"strconv"
	"strings"
	"time"

	"syncml-imap/internal/vobject"
)

// Outlook's RecurrenceType values.
const (
	sifRecDaily    = 0
	sifRecWeekly   = 1
	sifRecMonthly  = 2
	sifRecMonthNth = 3
	sifRecYearly   = 5
	sifRecYearNth  = 6
)

type sifRecur struct {
	typ, interval, mask, dom, instance, moy int
	noEnd                                   bool
	occurrences                             int
	start, end                              string // PatternStartDate, PatternEndDate as written
}

func sifReadRecur(n *sifNode) sifRecur {
	r := sifRecur{
		typ:         n.num("RecurrenceType", sifRecDaily),
		interval:    n.num("Interval", 1),
		mask:        n.num("DayOfWeekMask", 0) & 127,
		dom:         n.num("DayOfMonth", 0),
		instance:    n.num("Instance", 0),
		moy:         n.num("MonthOfYear", 0),
		occurrences: n.num("Occurrences", 0),
		start:       n.get("PatternStartDate"),
		end:         n.get("PatternEndDate"),
	}
	r.noEnd = n.flag("NoEndDate") || (!n.has("NoEndDate") && r.occurrences <= 0 && r.end == "")
	if r.interval < 1 {
		r.interval = 1
	}
	return r
}

// endPart is the RRULE part that ends the pattern: COUNT when Occurrences
// is given (it is exact), else UNTIL when until is not "", nothing for a
// pattern without end.
func (r sifRecur) endPart(until string) string {
	switch {
	case r.noEnd:
		return ""
	case r.occurrences > 0:
		return ";COUNT=" + strconv.Itoa(r.occurrences)
	case until != "":
		return ";UNTIL=" + until
	}
	return ""
}

// sifException is one date of a pattern's Exceptions.
type sifException struct {
	prop string // EXDATE for an ExcludeDate, RDATE for an IncludeDate
	t    time.Time
	kind int // its sifKind, never sifKindNone
}

// sifReadExceptions reads the Exceptions of item n, ExcludeDates first;
// a date that does not read is left out.
func sifReadExceptions(n *sifNode) []sifException {
	var out []sifException
	ex := n.child("Exceptions")
	for _, kind := range []string{"ExcludeDate", "IncludeDate"} {
		prop := "EXDATE"
		if kind == "IncludeDate" {
			prop = "RDATE"
		}
		for _, e := range ex.children(kind) {
			if t, k := sifParseTime(e.text.String()); k != sifKindNone {
				out = append(out, sifException{prop, t, k})
			}
		}
	}
	return out
}

// sifMaskDays lists the days of a DayOfWeekMask, Monday first.
func sifMaskDays(mask int) []string {
	var out []string
	for i := 1; i <= 7; i++ {
		d := i % 7
		if mask&(1<<d) != 0 {
			out = append(out, vcalWeekdayNames[d])
		}
	}
	return out
}

// sifRotateMask moves every day of a mask by shift days (-1, 0, 1).
func sifRotateMask(mask, shift int) int {
	out := 0
	for d := 0; d < 7; d++ {
		if mask&(1<<d) != 0 {
			out |= 1 << ((d + shift%7 + 7) % 7)
		}
	}
	return out
}

// sifInstance turns Outlook's Instance (5 = last) into an RRULE ordinal.
func sifInstance(inst int, first time.Time) int {
	switch {
	case inst >= 5:
		return -1
	case inst >= 1:
		return inst
	}
	return (first.Day()-1)/7 + 1
}

// rrule returns the RRULE of the pattern without COUNT or UNTIL. first is
// the first occurrence's wall clock in the frame of DTSTART and gives the
// values the pattern leaves out; shift (-1, 0, 1) moves explicit days into
// that frame when it is UTC and the pattern local. "" when the type is
// unknown.
func (r sifRecur) rrule(first time.Time, shift int) string {
	var parts []string
	interval := r.interval
	if (r.typ == sifRecYearly || r.typ == sifRecYearNth) && interval >= 12 && interval%12 == 0 {
		interval /= 12 // some clients count yearly intervals in months
	}
	add := func(k, v string) { parts = append(parts, k+"="+v) }
	mask := sifRotateMask(r.mask, shift)
	byday := func() {
		m := mask
		if m == 0 {
			m = 1 << first.Weekday()
		}
		add("BYDAY", strings.Join(sifMaskDays(m), ","))
	}
	nth := func() {
		m := mask
		if m == 0 {
			m = 1 << first.Weekday()
		}
		n := strconv.Itoa(sifInstance(r.instance, first))
		days := sifMaskDays(m)
		if len(days) == 1 {
			add("BYDAY", n+days[0])
		} else {
			add("BYDAY", strings.Join(days, ","))
			add("BYSETPOS", n)
		}
	}
	dom := func() {
		d := r.dom
		if d <= 0 {
			d = first.Day()
		} else if d += shift; d == 0 {
			d = -1
		} else if d > 31 {
			d = 1
		}
		add("BYMONTHDAY", strconv.Itoa(d))
	}
	moy := func() {
		m := r.moy
		if m < 1 || m > 12 {
			m = int(first.Month())
		}
		add("BYMONTH", strconv.Itoa(m))
	}
	switch r.typ {
	case sifRecDaily:
		if r.mask != 0 && r.mask != 127 {
			add("FREQ", "WEEKLY")
			byday()
			break
		}
		add("FREQ", "DAILY")
		if interval > 1 {
			add("INTERVAL", strconv.Itoa(interval))
		}
	case sifRecWeekly:
		add("FREQ", "WEEKLY")
		if interval > 1 {
			add("INTERVAL", strconv.Itoa(interval))
		}
		byday()
	case sifRecMonthly, sifRecMonthNth:
		add("FREQ", "MONTHLY")
		if interval > 1 {
			add("INTERVAL", strconv.Itoa(interval))
		}
		if r.typ == sifRecMonthNth {
			nth()
		} else {
			dom()
		}
	case sifRecYearly, sifRecYearNth:
		add("FREQ", "YEARLY")
		if interval > 1 {
			add("INTERVAL", strconv.Itoa(interval))
		}
		moy()
		if r.typ == sifRecYearNth {
			nth()
		} else {
			dom()
		}
	default:
		return ""
	}
	return strings.Join(parts, ";")
}

// sifRecurFromRRule maps an RRULE to an Outlook pattern; first is DTSTART's
// wall clock. ok is false when Outlook has no such pattern (hourly and
// finer); other rules are mapped to the nearest pattern.
func sifRecurFromRRule(rule string, first time.Time) (sifRecur, bool) {
	p := rruleParts(rule)
	r := sifRecur{interval: 1, noEnd: true}
	if v, err := strconv.Atoi(p["INTERVAL"]); err == nil && v > 0 {
		r.interval = v
	}
	if v, err := strconv.Atoi(p["COUNT"]); err == nil && v > 0 {
		r.occurrences, r.noEnd = v, false
	}
	if u := p["UNTIL"]; u != "" {
		r.end, r.noEnd = u, false
	}
	ord := 0
	mask := 0
	for _, d := range strings.Split(p["BYDAY"], ",") {
		if n, wd, ok := icalParseWeekdayNum(d); ok {
			mask |= 1 << wd
			if n != 0 && ord == 0 {
				ord = n
			}
		}
	}
	if sp, err := strconv.Atoi(strings.Split(p["BYSETPOS"], ",")[0]); err == nil && sp != 0 && ord == 0 {
		ord = sp
	}
	inst := func() int {
		switch {
		case ord < 0:
			if ord == -1 {
				return 5
			}
			return 4
		case ord > 4:
			return 4
		}
		return ord
	}
	dom := 0
	if v, err := strconv.Atoi(strings.Split(p["BYMONTHDAY"], ",")[0]); err == nil && v != 0 {
		dom = v
		if dom < 0 {
			dom = 31 // Outlook's "day 31" is the last day of shorter months
		}
	}
	month := int(first.Month())
	if v, err := strconv.Atoi(strings.Split(p["BYMONTH"], ",")[0]); err == nil && v >= 1 && v <= 12 {
		month = v
	}
	switch p["FREQ"] {
	case "DAILY":
		if mask != 0 {
			r.typ, r.mask = sifRecWeekly, mask
		} else {
			r.typ = sifRecDaily
		}
	case "WEEKLY":
		r.typ, r.mask = sifRecWeekly, mask
		if mask == 0 {
			r.mask = 1 << first.Weekday()
		}
	case "MONTHLY":
		switch {
		case mask != 0 && ord != 0:
			r.typ, r.mask, r.instance = sifRecMonthNth, mask, inst()
		case mask != 0: // every such weekday of the month
			r.typ, r.mask, r.interval = sifRecWeekly, mask, 1
		default:
			r.typ, r.dom = sifRecMonthly, dom
			if dom == 0 {
				r.dom = first.Day()
			}
		}
	case "YEARLY":
		r.moy = month
		if mask != 0 && ord != 0 {
			r.typ, r.mask, r.instance = sifRecYearNth, mask, inst()
		} else {
			r.typ, r.dom = sifRecYearly, dom
			if dom == 0 {
				r.dom = first.Day()
			}
		}
	default:
		return sifRecur{}, false
	}
	return r, true
}

// write writes the pattern elements (all of them, as the Funambol client
// does); start and end are the PatternStartDate and PatternEndDate.
func (r sifRecur) write(w *sifWriter, start, end string) {
	w.elemInt("RecurrenceType", r.typ)
	w.elemInt("Interval", r.interval)
	w.elemInt("DayOfWeekMask", r.mask)
	w.elemInt("DayOfMonth", r.dom)
	w.elemInt("Instance", r.instance)
	w.elemInt("MonthOfYear", r.moy)
	w.elemBool("NoEndDate", r.noEnd)
	if r.occurrences > 0 {
		w.elemInt("Occurrences", r.occurrences)
	}
	w.elem("PatternStartDate", start)
	if end != "" {
		w.elem("PatternEndDate", end)
	}
}

// sifFmtMinutes writes a duration of whole minutes ("-PT15M", "-P1D").
func sifFmtMinutes(m int) string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	switch {
	case m == 0:
		return "PT0S"
	case m%1440 == 0:
		return sign + "P" + strconv.Itoa(m/1440) + "D"
	case m < 60:
		return sign + "PT" + strconv.Itoa(m) + "M"
	case m%60 == 0:
		return sign + "PT" + strconv.Itoa(m/60) + "H"
	}
	return sign + "PT" + strconv.Itoa(m/60) + "H" + strconv.Itoa(m%60) + "M"
}

// sifTrigger is the trigger of a component's first VALARM.
type sifTrigger struct {
	ok    bool
	abs   bool
	at    time.Time     // absolute (UTC)
	rel   time.Duration // relative
	toEnd bool          // relative to DTEND/DUE
}

func sifFirstTrigger(o *vobject.Object) sifTrigger {
	for _, c := range o.Children {
		if c.Name != "VALARM" {
			continue
		}
		p := c.Prop("TRIGGER")
		if p == nil {
			continue
		}
		v := strings.TrimSpace(p.Value)
		if strings.EqualFold(p.Params["VALUE"], "DATE-TIME") || !strings.Contains(strings.ToUpper(v), "P") {
			if t, kind := sifParseTime(v); kind == sifKindUTC || kind == sifKindLocal {
				return sifTrigger{ok: true, abs: true, at: t}
			}
			continue
		}
		if d, ok := vobject.ParseDuration(v); ok {
			return sifTrigger{ok: true, rel: d.Approx(), toEnd: strings.EqualFold(p.Params["RELATED"], "END")}
		}
	}
	return sifTrigger{}
}

// sifAlarm writes a display VALARM.
func sifAlarm(l *sifLines, trigger string, desc string, params ...string) {
	if desc == "" {
		desc = "Reminder"
	}
	l.add("BEGIN", "VALARM")
	l.add("ACTION", "DISPLAY")
	l.add("TRIGGER", trigger, params...)
	l.text("DESCRIPTION", desc)
	l.add("END", "VALARM")
}

// sifCalendarComponent finds the first comp (VEVENT, VTODO) of an
// iCalendar object, the master when there are overridden instances, and
// the VTIMEZONEs by TZID.
func sifCalendarComponent(in []byte, comp string) (*vobject.Object, map[string]*vobject.Object, bool) {
	vtz := make(map[string]*vobject.Object)
	var found []*vobject.Object
	var walk func(objs []*vobject.Object)
	walk = func(objs []*vobject.Object) {
		for _, o := range objs {
			switch o.Name {
			case comp:
				found = append(found, o)
			case "VTIMEZONE":
				vtz[strings.Trim(o.PropValue("TZID"), `"`)] = o
			case "VCALENDAR":
				walk(o.Children)
			}
		}
	}
	walk(vobject.Parse(in))
	for _, o := range found {
		if o.Prop("RECURRENCE-ID") == nil {
			return o, vtz, true
		}
	}
	if len(found) > 0 {
		return found[0], vtz, true
	}
	return nil, nil, false
}

// sifCalTime is a DATE or DATE-TIME property of an iCalendar component.
type sifCalTime struct {
	wall time.Time // as written
	kind int
	zone *sifZone // for a local time with a known TZID
	tzid string
}

func sifReadCalTime(p *vobject.Line, vtz map[string]*vobject.Object) sifCalTime {
	if p == nil {
		return sifCalTime{}
	}
	return sifCalTimeValue(strings.TrimSpace(p.Value), p.Params, vtz)
}

func sifCalTimeValue(v string, params map[string]string, vtz map[string]*vobject.Object) sifCalTime {
	t, kind := sifParseTime(v)
	ct := sifCalTime{wall: t, kind: kind}
	if strings.EqualFold(params["VALUE"], "DATE") && kind != sifKindNone {
		ct.wall, ct.kind = sifDateOnly(t), sifKindDate
	}
	if ct.kind == sifKindLocal {
		if tzid := params["TZID"]; tzid != "" {
			ct.tzid = tzid
			ct.zone = sifZoneLookup(tzid, vtz, t.Year())
			if ct.zone != nil && !ct.zone.hasDST && ct.zone.std == 0 && strings.Contains(strings.ToUpper(tzid), "UTC") {
				ct.wall, ct.kind, ct.zone = ct.zone.toUTC(t), sifKindUTC, nil
			}
		}
	}
	return ct
}

// utc returns the instant: UTC as is, a zoned local time converted, a
// floating time taken as UTC (ok false).
func (c sifCalTime) utc() (time.Time, bool) {
	switch {
	case c.kind == sifKindUTC:
		return c.wall, true
	case c.kind == sifKindLocal && c.zone != nil:
		return c.zone.toUTC(c.wall), true
	}
	return c.wall, false
}

// sifFmtSIFTime writes a timed value for SIF: UTC with Z when the instant
// is known, else the local time without Z.
func (c sifCalTime) sifTime() string {
	if t, ok := c.utc(); ok {
		return sifFmtUTC(t)
	}
	return sifFmtLocal(c.wall)
}
