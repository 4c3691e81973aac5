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
// sifZone holds that shape (a standard offset and at most one pair of
// yearly rules: month, n-th or last weekday, local time), which is also
// what a VTIMEZONE with RRULEs says, so the two convert both ways. What a
// zone says about instants (offsets, conversions, transitions) is its
// vcalZone's: the one zone model of this package (vcal_tz.go), which also
// reads a VTIMEZONE in full and knows IANA zones by name.

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

// sifRuleBase is the year the rules of a SIF zone start in: the
// VTIMEZONE written for it starts there too.
const sifRuleBase = 1970

type sifZone struct {
	id     string
	std    int // seconds east of UTC
	dst    int
	hasDST bool
	toDST  sifRule // with hasDST, for a zone read from SIF
	toStd  sifRule
	model  *vcalZone
}

// at returns the transition of rule r in year y as a wall clock.
func (r sifRule) at(y int) time.Time {
	d := vcalNthWeekday(y, time.Month(r.month), r.week, r.wday)
	return time.Date(y, time.Month(r.month), d, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.secs) * time.Second)
}

// obs is the rule as an observance of the zone model, switching from one
// offset to another every year from sifRuleBase on.
func (r sifRule) obs(dst bool, from, to int) vcalObs {
	return vcalObs{dst: dst, from: from, to: to, start: r.at(sifRuleBase), rule: true, interval: 1,
		month: r.month, nth: r.week, wday: r.wday, hasWday: true}
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
func (z *sifZone) offset(t time.Time) int { return z.model.offsetAt(t) }

// toLocal turns a UTC instant into the zone's wall clock.
func (z *sifZone) toLocal(t time.Time) time.Time { return z.model.toWall(t) }

// toUTC turns a wall clock of the zone into the UTC instant (RFC 5545
// 3.3.5: a time a change skips is read in the offset before it).
func (z *sifZone) toUTC(wall time.Time) time.Time { return z.model.toUTC(wall) }

// transitions returns the wall clocks at which daylight time starts (in
// standard time) and ends (in daylight time) in year y.
func (z *sifZone) transitions(y int) (start, end time.Time, ok bool) {
	from := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Add(-14 * time.Hour)
	to := time.Date(y+1, 1, 1, 14, 0, 0, 0, time.UTC)
	for _, t := range z.model.transitions(from, to) {
		wall := t.at.Add(time.Duration(t.from) * time.Second)
		switch {
		case wall.Year() != y:
		case t.to > t.from && start.IsZero():
			start = wall
		case t.to < t.from && end.IsZero():
			end = wall
		}
	}
	return start, end, !start.IsZero() && !end.IsZero()
}

// sifZoneFromLocation wraps a Go location, taking the smaller of its
// January and July offsets as standard time.
func sifZoneFromLocation(loc *time.Location, year int) *sifZone {
	return sifZoneOf(&vcalZone{id: loc.String(), loc: loc}, year)
}

// sifZoneFromSIF reads a SIF <Timezone> block; nil when it has no usable
// BasicOffset.
func sifZoneFromSIF(n *sifNode) *sifZone {
	if n == nil {
		return nil
	}
	std, ok := vcalParseOffset(n.get("BasicOffset"))
	if !ok {
		return nil
	}
	z := &sifZone{std: std, dst: std}
	var starts, ends []time.Time
	names := ""
	for _, dl := range n.children("DayLight") {
		dst, ok := vcalParseOffset(dl.get("DSTOffset"))
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
		z.id = "SIF" + vcalFmtOffset(z.std, false)
		if z.hasDST {
			z.id += vcalFmtOffset(z.dst, false)
		}
	}
	z.model = &vcalZone{id: z.id, fixed: z.std}
	if z.hasDST {
		z.model.obs = []vcalObs{z.toStd.obs(false, z.dst, z.std), z.toDST.obs(true, z.std, z.dst)}
	}
	return z
}

// sifZoneFromVTimezone reads a VTIMEZONE into the zone model; for SIF,
// the smaller and larger of its offsets in January and July of year are
// standard and daylight time. nil when it has no usable observance.
func sifZoneFromVTimezone(o *vobject.Object, year int) *sifZone {
	m := zoneOfVTimezone(o)
	if m == nil {
		return nil
	}
	return sifZoneOf(m, year)
}

// sifZoneOf gives a zone of the model the standard and daylight offsets
// of year (the smaller and larger of January's and July's).
func sifZoneOf(m *vcalZone, year int) *sifZone {
	z := &sifZone{id: m.id, model: m}
	jan := m.offsetAt(time.Date(year, 1, 1, 12, 0, 0, 0, time.UTC))
	jul := m.offsetAt(time.Date(year, 7, 1, 12, 0, 0, 0, time.UTC))
	z.std, z.dst = min(jan, jul), max(jan, jul)
	z.hasDST = z.std != z.dst
	return z
}

// vtimezone writes the zone as a VTIMEZONE.
func (z *sifZone) vtimezone(l *sifLines) {
	l.add("BEGIN", "VTIMEZONE")
	l.add("TZID", vobject.EscapeText(z.id))
	if !z.hasDST {
		l.add("BEGIN", "STANDARD")
		l.add("DTSTART", "19700101T000000")
		l.add("TZOFFSETFROM", vcalFmtOffset(z.std, false))
		l.add("TZOFFSETTO", vcalFmtOffset(z.std, false))
		l.add("END", "STANDARD")
		l.add("END", "VTIMEZONE")
		return
	}
	obs := func(kind string, r sifRule, from, to int) {
		l.add("BEGIN", kind)
		l.add("DTSTART", sifFmtLocal(r.at(1970)))
		l.add("RRULE", "FREQ=YEARLY;BYMONTH="+strconv.Itoa(r.month)+";BYDAY="+strconv.Itoa(r.week)+vcalWeekdayNames[r.wday])
		l.add("TZOFFSETFROM", vcalFmtOffset(from, false))
		l.add("TZOFFSETTO", vcalFmtOffset(to, false))
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
	w.elem("BasicOffset", vcalFmtOffset(z.std, false))
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
		w.elem("DSTOffset", vcalFmtOffset(z.dst, false))
		w.elem("DSTStart", sifFmtLocal(on))
		w.elem("DSTEnd", sifFmtLocal(off))
		w.elem("StandardName", z.id)
		w.elem("DSTName", z.id)
		w.close("DayLight")
	}
	w.close("Timezone")
}

// sifZoneLookup finds the zone of a TZID: the input's VTIMEZONE of that
// name, else an IANA zone of that name (as vCalendar finds it, also at the
// end of a path like /softwarestudio.org/Olson_20011030_5/Europe/Berlin);
// nil if neither.
func sifZoneLookup(tzid string, vtz map[string]*vobject.Object, year int) *sifZone {
	tzid = strings.Trim(strings.TrimSpace(tzid), `"`)
	if tzid == "" {
		return nil
	}
	if o := vtz[tzid]; o != nil {
		if z := sifZoneFromVTimezone(o, year); z != nil {
			z.id = tzid
			return z
		}
	}
	if loc := vcalLoadIANA(tzid); loc != nil {
		z := sifZoneFromLocation(loc, year)
		z.id = tzid
		return z
	}
	return nil
}
