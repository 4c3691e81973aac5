package vformat

// Time zones of recurring SIF-E appointments. A recurring appointment's
// pattern is local time (PatternStartDate without "Z") and the item carries
// a <Timezone> block the way Windows knows zones: a standard offset and, for
// each year the series touches, the daylight offset with that year's start
// and end of daylight time:
//
//	<Timezone><BasicOffset>+0100</BasicOffset>
//	<DayLight><DSTOffset>+0200</DSTOffset><DSTStart>20240331T020000</DSTStart>
//	<DSTEnd>20241027T030000</DSTEnd><StandardName/><DSTName/></DayLight>
//	</Timezone>
//
// sifZone models that as yearly rules (month, n-th or last weekday, local
// time), which is also what a VTIMEZONE with RRULEs says, so the two convert
// both ways; a zone known by IANA name is used through time.Location.

import (
	"strconv"
	"strings"
	"time"

	"syncml-imap/internal/vobject"
)

// sifRule is a yearly transition: the week-th (1..4, -1 = last) wday of
// month at secs after local midnight (in the offset in force before it).
type sifRule struct {
	month int
	week  int
	wday  time.Weekday
	secs  int
}

type sifZone struct {
	id     string
	std    int // seconds east of UTC
	dst    int
	hasDST bool
	toDST  sifRule
	toStd  sifRule
	loc    *time.Location // set for a zone known by name
}

// at returns the transition of rule r in year y as a wall clock.
func (r sifRule) at(y int) time.Time {
	m := time.Month(r.month)
	if r.week < 0 {
		last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC)
		back := (int(last.Weekday()) - int(r.wday) + 7) % 7
		return last.AddDate(0, 0, -back).Add(time.Duration(r.secs) * time.Second)
	}
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	fwd := (int(r.wday) - int(first.Weekday()) + 7) % 7
	d := first.AddDate(0, 0, fwd+7*(r.week-1))
	if d.Month() != m {
		d = d.AddDate(0, 0, -7)
	}
	return d.Add(time.Duration(r.secs) * time.Second)
}

// sifRuleFrom derives a rule from transition dates (wall clocks) of one or
// more years. A date in the last seven days of its month is "last" unless
// another year shows it is the fourth.
func sifRuleFrom(dates []time.Time) (sifRule, bool) {
	if len(dates) == 0 {
		return sifRule{}, false
	}
	d0 := dates[0]
	r := sifRule{month: int(d0.Month()), wday: d0.Weekday(), secs: int(sifTimeOfDay(d0) / time.Second)}
	allLast := true
	week := (d0.Day()-1)/7 + 1
	for _, d := range dates {
		daysIn := time.Date(d.Year(), d.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
		if d.Day()+7 <= daysIn {
			allLast = false
			week = (d.Day()-1)/7 + 1
		}
	}
	if allLast || week > 4 {
		r.week = -1
	} else {
		r.week = week
	}
	return r, true
}

// offset returns the offset in force at the UTC instant t.
func (z *sifZone) offset(t time.Time) int {
	if z.loc != nil {
		_, off := t.In(z.loc).Zone()
		return off
	}
	if !z.hasDST {
		return z.std
	}
	y := t.Add(time.Duration(z.std) * time.Second).Year()
	on := z.toDST.at(y).Add(-time.Duration(z.std) * time.Second)
	off := z.toStd.at(y).Add(-time.Duration(z.dst) * time.Second)
	inDST := false
	if on.Before(off) {
		inDST = !t.Before(on) && t.Before(off)
	} else { // southern hemisphere
		inDST = !t.Before(on) || t.Before(off)
	}
	if inDST {
		return z.dst
	}
	return z.std
}

// toLocal turns a UTC instant into the zone's wall clock.
func (z *sifZone) toLocal(t time.Time) time.Time {
	return t.UTC().Add(time.Duration(z.offset(t)) * time.Second)
}

// toUTC turns a wall clock of the zone into the UTC instant.
func (z *sifZone) toUTC(wall time.Time) time.Time {
	if z.loc != nil {
		y, m, d := wall.Date()
		return time.Date(y, m, d, wall.Hour(), wall.Minute(), wall.Second(), 0, z.loc).UTC()
	}
	guess := wall.Add(-time.Duration(z.std) * time.Second)
	t := wall.Add(-time.Duration(z.offset(guess)) * time.Second)
	return wall.Add(-time.Duration(z.offset(t)) * time.Second)
}

// transitions returns the wall clocks at which daylight time starts (in
// standard time) and ends (in daylight time) in year y.
func (z *sifZone) transitions(y int) (start, end time.Time, ok bool) {
	if z.loc == nil {
		if !z.hasDST {
			return time.Time{}, time.Time{}, false
		}
		return z.toDST.at(y), z.toStd.at(y), true
	}
	var on, off time.Time
	from := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Add(-14 * time.Hour)
	prev := z.offset(from)
	last := time.Date(y+1, 1, 1, 14, 0, 0, 0, time.UTC)
	for t := from.Add(time.Hour); !t.After(last); t = t.Add(time.Hour) {
		cur := z.offset(t)
		if cur == prev {
			continue
		}
		// Narrow the change to the minute.
		lo, hi := t.Add(-time.Hour), t
		for hi.Sub(lo) > time.Minute {
			mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Minute)
			if mid.Equal(lo) {
				break
			}
			if z.offset(mid) == prev {
				lo = mid
			} else {
				hi = mid
			}
		}
		if cur > prev && on.IsZero() {
			on = hi.Add(time.Duration(prev) * time.Second)
		} else if cur < prev && off.IsZero() {
			off = hi.Add(time.Duration(prev) * time.Second)
		}
		prev = cur
	}
	if on.IsZero() || off.IsZero() || on.Year() != y || off.Year() != y {
		return time.Time{}, time.Time{}, false
	}
	return on, off, true
}

// sifZoneFromLocation wraps a Go location, taking the smaller of its
// January and July offsets as standard time.
func sifZoneFromLocation(loc *time.Location, year int) *sifZone {
	z := &sifZone{id: loc.String(), loc: loc}
	_, jan := time.Date(year, 1, 1, 12, 0, 0, 0, loc).Zone()
	_, jul := time.Date(year, 7, 1, 12, 0, 0, 0, loc).Zone()
	z.std, z.dst = jan, jul
	if jul < jan {
		z.std, z.dst = jul, jan
	}
	z.hasDST = z.std != z.dst
	return z
}

// sifZoneFromSIF reads a SIF <Timezone> block; nil when it has no usable
// BasicOffset.
func sifZoneFromSIF(n *sifNode) *sifZone {
	if n == nil {
		return nil
	}
	std, ok := sifParseOffset(n.get("BasicOffset"))
	if !ok {
		return nil
	}
	z := &sifZone{std: std, dst: std}
	var starts, ends []time.Time
	names := ""
	for _, dl := range n.children("DayLight") {
		dst, ok := sifParseOffset(dl.get("DSTOffset"))
		s, ks := sifParseTime(dl.get("DSTStart"))
		e, ke := sifParseTime(dl.get("DSTEnd"))
		if !ok || ks == sifKindNone || ke == sifKindNone {
			continue
		}
		z.dst = dst
		starts = append(starts, s)
		ends = append(ends, e)
		if names == "" {
			names = dl.get("StandardName")
		}
	}
	if r1, ok1 := sifRuleFrom(starts); ok1 && z.dst != z.std {
		r2, _ := sifRuleFrom(ends)
		z.toDST, z.toStd, z.hasDST = r1, r2, true
	} else {
		z.dst = z.std
	}
	z.id = strings.TrimSpace(names)
	if z.id == "" {
		z.id = "SIF" + sifFormatOffset(z.std)
		if z.hasDST {
			z.id += sifFormatOffset(z.dst)
		}
	}
	return z
}

// sifZoneFromVTimezone reads a VTIMEZONE: the STANDARD and DAYLIGHT
// observances with the latest DTSTART, their RRULE giving the yearly rule.
func sifZoneFromVTimezone(o *vobject.Object) *sifZone {
	type obs struct {
		start  string
		to     int
		rule   sifRule
		ruleOK bool
	}
	var std, dst *obs
	for _, c := range o.Children {
		if c.Name != "STANDARD" && c.Name != "DAYLIGHT" {
			continue
		}
		to, ok := sifParseOffset(c.PropValue("TZOFFSETTO"))
		if !ok {
			continue
		}
		ob := &obs{start: c.PropValue("DTSTART"), to: to}
		if st, kind := sifParseTime(ob.start); kind != sifKindNone {
			ob.rule, ob.ruleOK = sifRuleFromRRule(st, c.PropValue("RRULE"))
		}
		cur := &std
		if c.Name == "DAYLIGHT" {
			cur = &dst
		}
		if *cur == nil || (ob.ruleOK && !(*cur).ruleOK) || (ob.ruleOK == (*cur).ruleOK && ob.start > (*cur).start) {
			*cur = ob
		}
	}
	if std == nil && dst == nil {
		return nil
	}
	z := &sifZone{id: o.PropValue("TZID")}
	switch {
	case std != nil && dst != nil && std.ruleOK && dst.ruleOK && std.to != dst.to:
		z.std, z.dst, z.hasDST = std.to, dst.to, true
		z.toDST, z.toStd = dst.rule, std.rule
	case std != nil:
		z.std, z.dst = std.to, std.to
	default:
		z.std, z.dst = dst.to, dst.to
	}
	return z
}

// sifRuleFromRRule reads a VTIMEZONE observance's yearly RRULE (BYMONTH
// with BYDAY=2SU / -1SU, or BYDAY=SU with a BYMONTHDAY week); without one
// the DTSTART date itself gives the rule.
func sifRuleFromRRule(start time.Time, rrule string) (sifRule, bool) {
	if rrule == "" {
		return sifRule{}, false
	}
	parts := rruleParts(rrule)
	if parts["FREQ"] != "YEARLY" {
		return sifRule{}, false
	}
	r := sifRule{month: int(start.Month()), wday: start.Weekday(), secs: int(sifTimeOfDay(start) / time.Second)}
	r.week = (start.Day()-1)/7 + 1
	if m, err := strconv.Atoi(parts["BYMONTH"]); err == nil && m >= 1 && m <= 12 {
		r.month = m
	}
	if bd := parts["BYDAY"]; bd != "" {
		n, wd, ok := sifParseByDay(strings.Split(bd, ",")[0])
		if !ok {
			return sifRule{}, false
		}
		r.wday = wd
		switch {
		case n < 0:
			r.week = -1
		case n > 0:
			r.week = n
		default:
			if md := parts["BYMONTHDAY"]; md != "" {
				first, err := strconv.Atoi(strings.Split(md, ",")[0])
				if err != nil {
					return sifRule{}, false
				}
				daysIn := time.Date(2001, time.Month(r.month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
				switch {
				case first < 0, first+6 >= daysIn:
					r.week = -1 // the last seven days of the month
				default:
					r.week = (first-1)/7 + 1
				}
			}
		}
	}
	if r.week > 4 {
		r.week = -1
	}
	return r, true
}

// vtimezone writes the zone as a VTIMEZONE.
func (z *sifZone) vtimezone(l *sifLines) {
	l.add("BEGIN", "VTIMEZONE")
	l.add("TZID", vobject.EscapeText(z.id))
	if !z.hasDST {
		l.add("BEGIN", "STANDARD")
		l.add("DTSTART", "19700101T000000")
		l.add("TZOFFSETFROM", sifFormatOffset(z.std))
		l.add("TZOFFSETTO", sifFormatOffset(z.std))
		l.add("END", "STANDARD")
		l.add("END", "VTIMEZONE")
		return
	}
	obs := func(kind string, r sifRule, from, to int) {
		l.add("BEGIN", kind)
		l.add("DTSTART", sifFmtLocal(r.at(1970)))
		l.add("RRULE", "FREQ=YEARLY;BYMONTH="+strconv.Itoa(r.month)+";BYDAY="+strconv.Itoa(r.week)+sifDayNames[r.wday])
		l.add("TZOFFSETFROM", sifFormatOffset(from))
		l.add("TZOFFSETTO", sifFormatOffset(to))
		l.add("END", kind)
	}
	obs("STANDARD", z.toStd, z.dst, z.std)
	obs("DAYLIGHT", z.toDST, z.std, z.dst)
	l.add("END", "VTIMEZONE")
}

// sifTimezone writes the zone as a SIF <Timezone> block with a <DayLight>
// for each year from y0 to y1 (at most six, as the Funambol client does).
func (z *sifZone) sifTimezone(w *sifWriter, y0, y1 int) {
	w.open("Timezone")
	w.elem("BasicOffset", sifFormatOffset(z.std))
	if y1 < y0 {
		y1 = y0
	}
	if y1 > y0+5 {
		y1 = y0 + 5
	}
	for y := y0; y <= y1 && z.std != z.dst; y++ {
		on, off, ok := z.transitions(y)
		if !ok {
			continue
		}
		w.open("DayLight")
		w.elem("DSTOffset", sifFormatOffset(z.dst))
		w.elem("DSTStart", sifFmtLocal(on))
		w.elem("DSTEnd", sifFmtLocal(off))
		w.elem("StandardName", z.id)
		w.elem("DSTName", z.id)
		w.close("DayLight")
	}
	w.close("Timezone")
}

// sifZoneLookup finds the zone of a TZID: the input's VTIMEZONE of that
// name, else an IANA zone of that name known to this system; nil if neither.
func sifZoneLookup(tzid string, vtz map[string]*vobject.Object, year int) *sifZone {
	tzid = strings.Trim(strings.TrimSpace(tzid), `"`)
	if tzid == "" {
		return nil
	}
	if o := vtz[tzid]; o != nil {
		if z := sifZoneFromVTimezone(o); z != nil {
			z.id = tzid
			return z
		}
	}
	name := strings.TrimPrefix(tzid, "/")
	if strings.EqualFold(name, "UTC") || strings.EqualFold(name, "GMT") || strings.EqualFold(name, "Etc/UTC") {
		return &sifZone{id: tzid}
	}
	if loc, err := time.LoadLocation(name); err == nil && name != "" && name != "Local" {
		z := sifZoneFromLocation(loc, year)
		z.id = tzid
		return z
	}
	return nil
}
