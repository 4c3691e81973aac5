package vformat

// Time zones: a zone is either a Go location (IANA, from the device's
// configuration or a TZID that names one) or a set of observances (an
// iCalendar VTIMEZONE, or the vCalendar 1.0 TZ/DAYLIGHT properties fitted
// to yearly rules). Both answer the UTC offset at an instant, convert
// local times to instants following RFC 5545 (a time skipped by a switch
// uses the offset before it; a repeated time means its first occurrence),
// and list their transitions, from which VTIMEZONE and DAYLIGHT are
// written.

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // zone rules even where the system has none
)

type vcalZone struct {
	id    string
	loc   *time.Location
	obs   []vcalObs
	fixed int // offset when there is neither loc nor obs
}

// vcalObs is one STANDARD or DAYLIGHT observance.
type vcalObs struct {
	dst      bool
	name     string
	from, to int       // offsets in seconds east of UTC
	start    time.Time // first onset, local wall clock in the "from" offset
	rule     bool      // yearly rule from start on
	month    int
	nth      int // ordinal of wday in the month (-1 = last); 0 = by mdays / start day
	wday     time.Weekday
	hasWday  bool
	mdays    []int     // BYMONTHDAY (with wday: the wday within these days)
	interval int       // years
	until    time.Time // UTC; zero = open-ended
	count    int
	rdates   []time.Time // further onsets, wall clock
}

// vcalOnset is one transition.
type vcalOnset struct {
	at       time.Time // UTC
	from, to int
	dst      bool
	name     string
}

func vcalMonthLen(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// vcalNthWeekday is the day of month of the n-th (n<0: from the end)
// weekday wd in month m of year y, or 0.
func vcalNthWeekday(y int, m time.Month, n int, wd time.Weekday) int {
	ml := vcalMonthLen(y, m)
	if n > 0 {
		first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Weekday()
		d := 1 + (int(wd)-int(first)+7)%7 + (n-1)*7
		if d > ml {
			return 0
		}
		return d
	}
	if n < 0 {
		last := time.Date(y, m, ml, 0, 0, 0, 0, time.UTC).Weekday()
		d := ml - (int(last)-int(wd)+7)%7 + (n+1)*7
		if d < 1 {
			return 0
		}
		return d
	}
	return 0
}

// onset returns the rule's onset in year y as UTC.
func (o *vcalObs) onset(y int) (time.Time, bool) {
	sy := o.start.Year()
	iv := o.interval
	if iv < 1 {
		iv = 1
	}
	if !o.rule || y < sy || (y-sy)%iv != 0 {
		return time.Time{}, false
	}
	if o.count > 0 && (y-sy)/iv >= o.count {
		return time.Time{}, false
	}
	m := time.Month(o.month)
	if m < 1 || m > 12 {
		m = o.start.Month()
	}
	ml := vcalMonthLen(y, m)
	d := 0
	switch {
	case o.hasWday && o.nth != 0:
		d = vcalNthWeekday(y, m, o.nth, o.wday)
	case o.hasWday && len(o.mdays) > 0:
		for _, md := range o.mdays {
			if md < 0 {
				md = ml + 1 + md
			}
			if md >= 1 && md <= ml && time.Date(y, m, md, 0, 0, 0, 0, time.UTC).Weekday() == o.wday {
				d = md
				break
			}
		}
	case len(o.mdays) > 0:
		d = o.mdays[0]
		if d < 0 {
			d = ml + 1 + d
		}
	default:
		d = o.start.Day()
	}
	if d < 1 || d > ml {
		return time.Time{}, false
	}
	wall := time.Date(y, m, d, o.start.Hour(), o.start.Minute(), o.start.Second(), 0, time.UTC)
	if wall.Before(o.start) {
		return time.Time{}, false
	}
	u := wall.Add(-time.Duration(o.from) * time.Second)
	if !o.until.IsZero() && u.After(o.until) {
		return time.Time{}, false
	}
	return u, true
}

// latest returns the observance's latest onset not after u.
func (o *vcalObs) latest(u time.Time) (time.Time, bool) {
	var best time.Time
	found := false
	consider := func(t time.Time) {
		if !t.After(u) && (!found || t.After(best)) {
			best, found = t, true
		}
	}
	consider(o.start.Add(-time.Duration(o.from) * time.Second))
	for _, r := range o.rdates {
		consider(r.Add(-time.Duration(o.from) * time.Second))
	}
	if o.rule {
		iv := o.interval
		if iv < 1 {
			iv = 1
		}
		y := u.Year() + 1
		if !o.until.IsZero() && o.until.Year()+1 < y {
			y = o.until.Year() + 1
		}
		if o.count > 0 {
			if last := o.start.Year() + (o.count-1)*iv; last < y {
				y = last
			}
		}
		for n, yy := 0, y; n < 3*iv+2 && yy >= o.start.Year(); n, yy = n+1, yy-1 {
			if t, ok := o.onset(yy); ok {
				consider(t)
			}
		}
	}
	return best, found
}

// state returns offset, DST flag and abbreviation in force at u.
func (z *vcalZone) state(u time.Time) (int, bool, string) {
	if z == nil {
		return 0, false, "UTC"
	}
	if z.loc != nil {
		t := u.In(z.loc)
		name, off := t.Zone()
		return off, t.IsDST(), name
	}
	if len(z.obs) == 0 {
		return z.fixed, false, ""
	}
	var best time.Time
	var bo *vcalObs
	for i := range z.obs {
		o := &z.obs[i]
		if t, ok := o.latest(u); ok && (bo == nil || t.After(best)) {
			best, bo = t, o
		}
	}
	if bo == nil {
		// Before every onset: the offset the earliest one switches from.
		e := &z.obs[0]
		for i := range z.obs {
			o := &z.obs[i]
			if o.start.Add(-time.Duration(o.from) * time.Second).Before(e.start.Add(-time.Duration(e.from) * time.Second)) {
				e = o
			}
		}
		return e.from, false, ""
	}
	return bo.to, bo.dst, bo.name
}

func (z *vcalZone) offsetAt(u time.Time) int {
	off, _, _ := z.state(u)
	return off
}

// toWall converts an instant to the zone's wall clock (in a UTC time.Time).
func (z *vcalZone) toWall(u time.Time) time.Time {
	return u.UTC().Add(time.Duration(z.offsetAt(u)) * time.Second)
}

// toUTC converts a wall clock time to an instant (RFC 5545 3.3.5).
func (z *vcalZone) toUTC(wall time.Time) time.Time {
	wall = wall.UTC()
	before := z.offsetAt(wall.Add(-26 * time.Hour))
	after := z.offsetAt(wall.Add(26 * time.Hour))
	u1 := wall.Add(-time.Duration(before) * time.Second)
	u2 := wall.Add(-time.Duration(after) * time.Second)
	ok1 := z.offsetAt(u1) == before
	ok2 := z.offsetAt(u2) == after
	switch {
	case ok1 && ok2:
		if u2.Before(u1) {
			return u2
		}
		return u1
	case ok1:
		return u1
	case ok2:
		return u2
	}
	// Inside a gap: the offset before it.
	return u1
}

// transitions lists the zone's transitions between from and to.
func (z *vcalZone) transitions(from, to time.Time) []vcalOnset {
	var out []vcalOnset
	if z == nil {
		return nil
	}
	if z.loc != nil {
		t := from
		for i := 0; i < 1000; i++ {
			_, end := t.In(z.loc).ZoneBounds()
			if end.IsZero() || end.After(to) {
				break
			}
			before := z.offsetAt(end.Add(-time.Second))
			at := end.In(z.loc)
			name, off := at.Zone()
			out = append(out, vcalOnset{at: end.UTC(), from: before, to: off, dst: at.IsDST(), name: name})
			t = end
		}
		return out
	}
	for y := from.Year() - 1; y <= to.Year()+1; y++ {
		for i := range z.obs {
			o := &z.obs[i]
			var cands []time.Time
			if t, ok := o.onset(y); ok {
				cands = append(cands, t)
			}
			if o.start.Year() == y {
				cands = append(cands, o.start.Add(-time.Duration(o.from)*time.Second))
			}
			for _, r := range o.rdates {
				if r.Year() == y {
					cands = append(cands, r.Add(-time.Duration(o.from)*time.Second))
				}
			}
			for _, c := range cands {
				if c.Before(from) || c.After(to) {
					continue
				}
				dup := false
				for _, e := range out {
					dup = dup || e.at.Equal(c)
				}
				if !dup {
					out = append(out, vcalOnset{at: c, from: o.from, to: o.to, dst: o.dst, name: o.name})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// vcalDSTPeriod is one span of daylight saving time.
type vcalDSTPeriod struct {
	start, end       time.Time // UTC
	std, dst         int
	stdName, dstName string
}

// dstPeriods lists the DST periods overlapping [from, to].
func (z *vcalZone) dstPeriods(from, to time.Time) []vcalDSTPeriod {
	tr := z.transitions(from.AddDate(-1, 0, 0), to.AddDate(1, 0, 0))
	var out []vcalDSTPeriod
	for i, t := range tr {
		if !t.dst || t.to == t.from {
			continue
		}
		p := vcalDSTPeriod{start: t.at, std: t.from, dst: t.to, dstName: t.name}
		found := false
		for _, e := range tr[i+1:] {
			if !e.dst {
				p.end, p.stdName, found = e.at, e.name, true
				break
			}
		}
		if !found || p.end.Before(from) || p.start.After(to) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// ---- fitting transitions to VTIMEZONE observances ----

// vcalFitObs turns transitions into observances: runs of consecutive
// years that follow one "n-th (or last) weekday of a month at a time"
// rule become one observance with an RRULE (open-ended when the run
// reaches lastYear, else with UNTIL); a lone transition is DTSTART-only.
// Unless ruleChanges is set (real zone data, where rules do change), a
// kind of transition that follows no single rule is written DTSTART-only
// throughout rather than extrapolated.
func vcalFitObs(tr []vcalOnset, lastYear int, ruleChanges bool) []vcalObs {
	type key struct {
		dst      bool
		from, to int
		name     string
	}
	groups := map[key][]vcalOnset{}
	var order []key
	for _, t := range tr {
		if t.from == t.to && len(tr) > 1 {
			continue
		}
		k := key{t.dst, t.from, t.to, t.name}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], t)
	}
	var out []vcalObs
	for _, k := range order {
		g := groups[k]
		var mine []vcalObs
		i := 0
		for i < len(g) {
			w0 := g[i].at.Add(time.Duration(k.from) * time.Second)
			n0, last0 := vcalOrdinals(w0)
			allLast, allN := last0, true
			j := i + 1
			for ; j < len(g); j++ {
				w := g[j].at.Add(time.Duration(k.from) * time.Second)
				prev := g[j-1].at.Add(time.Duration(k.from) * time.Second)
				n, last := vcalOrdinals(w)
				if w.Year() != prev.Year()+1 || w.Month() != w0.Month() || w.Weekday() != w0.Weekday() ||
					w.Hour() != w0.Hour() || w.Minute() != w0.Minute() || w.Second() != w0.Second() {
					break
				}
				if !(allLast && last) && !(allN && n == n0) {
					break
				}
				allLast = allLast && last
				allN = allN && n == n0
			}
			useLast := allLast
			run := g[i:j]
			lw := run[len(run)-1].at.Add(time.Duration(k.from) * time.Second)
			o := vcalObs{dst: k.dst, name: k.name, from: k.from, to: k.to, start: w0}
			open := lw.Year() >= lastYear
			if len(run) > 1 || open {
				o.rule, o.month, o.wday, o.hasWday, o.interval = true, int(w0.Month()), w0.Weekday(), true, 1
				if useLast {
					o.nth = -1
				} else {
					o.nth = n0
				}
				if !open {
					o.until = run[len(run)-1].at
				}
			}
			mine = append(mine, o)
			i = j
		}
		if len(mine) > 1 && !ruleChanges {
			mine = mine[:0]
			for _, t := range g {
				mine = append(mine, vcalObs{dst: k.dst, name: k.name, from: k.from, to: k.to,
					start: t.at.Add(time.Duration(k.from) * time.Second)})
			}
		}
		out = append(out, mine...)
	}
	return out
}

// vcalOrdinals tells which occurrence of its weekday in the month t's day
// is, and whether it is the last one.
func vcalOrdinals(t time.Time) (int, bool) {
	return (t.Day()-1)/7 + 1, t.Day()+7 > vcalMonthLen(t.Year(), t.Month())
}

var vcalWeekdayNames = [7]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

func vcalWeekdayOf(s string) (time.Weekday, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	for i, n := range vcalWeekdayNames {
		if s == n {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// writeVTimezone writes z as a VTIMEZONE covering the given years.
func (z *vcalZone) writeVTimezone(w *vcalWriter, y0, y1 int) {
	obs := z.obs
	if z.loc != nil {
		from := time.Date(y0-1, 1, 1, 0, 0, 0, 0, time.UTC)
		to := time.Date(y1+1, 12, 31, 23, 59, 59, 0, time.UTC)
		obs = vcalFitObs(z.transitions(from, to), y1, true)
		if len(obs) == 0 {
			off, _, name := z.state(from)
			obs = []vcalObs{{name: name, from: off, to: off, start: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)}}
		}
	}
	if len(obs) == 0 {
		obs = []vcalObs{{from: z.fixed, to: z.fixed, start: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)}}
	}
	w.icalLine("BEGIN", "VTIMEZONE")
	w.icalLine("TZID", z.id)
	if z.loc != nil && z.loc.String() == z.id {
		w.icalLine("X-LIC-LOCATION", z.id)
	}
	for _, o := range obs {
		kind := "STANDARD"
		if o.dst {
			kind = "DAYLIGHT"
		}
		w.icalLine("BEGIN", kind)
		w.icalLine("DTSTART", vcalFmtLocal(o.start))
		w.icalLine("TZOFFSETFROM", vcalFmtOffset(o.from, false))
		w.icalLine("TZOFFSETTO", vcalFmtOffset(o.to, false))
		if o.name != "" {
			w.icalLine("TZNAME", o.name)
		}
		if o.rule {
			r := "FREQ=YEARLY;BYMONTH=" + strconv.Itoa(o.month) + ";BYDAY=" + strconv.Itoa(o.nth) + vcalWeekdayNames[o.wday]
			if !o.until.IsZero() {
				r += ";UNTIL=" + vcalFmtUTC(o.until)
			}
			w.icalLine("RRULE", r)
		}
		w.icalLine("END", kind)
	}
	w.icalLine("END", "VTIMEZONE")
}

// ---- vCalendar 1.0 TZ and DAYLIGHT ----

// vcalTZCandidates are the zones a device's TZ/DAYLIGHT is matched
// against, one per rule set, most used first.
var vcalTZCandidates = []string{
	"Europe/Berlin", "Europe/London", "Europe/Helsinki", "Atlantic/Azores", "Europe/Moscow",
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
	"America/Anchorage", "America/Adak", "Pacific/Honolulu", "America/Halifax", "America/St_Johns",
	"America/Havana", "America/Mexico_City", "America/Sao_Paulo", "America/Santiago", "America/Asuncion",
	"America/Nuuk", "Australia/Sydney", "Australia/Adelaide", "Pacific/Auckland", "Pacific/Chatham",
	"Asia/Jerusalem", "Asia/Beirut", "Africa/Cairo", "Asia/Amman", "Asia/Damascus", "Asia/Tehran",
}

// vcalFixedCandidates are the zones a fixed offset without an Etc/ name
// (a half or quarter hour) is matched against.
var vcalFixedCandidates = []string{
	"Asia/Kolkata", "Asia/Kathmandu", "Asia/Yangon", "Asia/Kabul", "Asia/Tehran",
	"Australia/Darwin", "Australia/Eucla", "Pacific/Marquesas",
}

// vcalZoneFromTZ builds the device's zone from TZ and DAYLIGHT values:
// the IANA zone whose switches match where one does (vcalTZCandidates),
// else the switches fitted to yearly rules; without daylight saving, the
// fixed offset (vcalFixedZone). It returns nil when neither says anything
// usable.
//
// Each DAYLIGHT gives two switches, into daylight saving at its start and
// out at its end. The end may come first: SyncEvolution writes the
// switches nearest to now (in December, this year's end of summer time
// and next year's start), so the two are taken as switches, not as one
// period.
func vcalZoneFromTZ(tz string, daylights []string) *vcalZone {
	std, haveStd := vcalParseOffset(tz)
	var tr []vcalOnset
	seen := map[time.Time]bool{}
	for _, d := range daylights {
		f := strings.Split(d, ";")
		if len(f) < 4 || !strings.EqualFold(strings.TrimSpace(f[0]), "TRUE") {
			continue
		}
		dst, ok := vcalParseOffset(f[1])
		if !ok {
			continue
		}
		s0 := std
		if !haveStd {
			s0 = dst - 3600
		}
		st, sUTC, _, ok1 := vcalParseDT(f[2])
		en, eUTC, _, ok2 := vcalParseDT(f[3])
		if !ok1 || !ok2 || dst == s0 {
			continue
		}
		if !sUTC {
			st = st.Add(-time.Duration(s0) * time.Second)
		}
		if !eUTC {
			en = en.Add(-time.Duration(dst) * time.Second)
		}
		if en.Equal(st) || vcalAbs(en.Sub(st)) > 366*24*time.Hour {
			continue
		}
		if !haveStd {
			std, haveStd = s0, true
		}
		var stdName, dstName string
		if len(f) > 4 {
			stdName = strings.TrimSpace(f[4])
		}
		if len(f) > 5 {
			dstName = strings.TrimSpace(f[5])
		}
		for _, o := range []vcalOnset{{at: st, from: s0, to: dst, dst: true, name: dstName}, {at: en, from: dst, to: s0, name: stdName}} {
			if !seen[o.at] {
				seen[o.at] = true
				tr = append(tr, o)
			}
		}
	}
	if !haveStd {
		return nil
	}
	if len(tr) == 0 {
		return vcalFixedZone(std)
	}
	sort.Slice(tr, func(i, j int) bool { return tr[i].at.Before(tr[j].at) })
	for _, name := range vcalTZCandidates {
		if loc := vcalLoadIANA(name); loc != nil && vcalLocMatches(loc, tr) {
			return &vcalZone{id: name, loc: loc}
		}
	}
	dst := tr[0].to
	if !tr[0].dst {
		dst = tr[0].from
	}
	last := tr[len(tr)-1].at.Year()
	return &vcalZone{
		id:  "UTC" + vcalFmtOffset(std, false) + "/" + vcalFmtOffset(dst, false),
		obs: vcalFitObs(tr, last, false),
	}
}

// vcalFixedZone is a zone without daylight saving: Etc/GMT-1 for +01 (the
// IANA names have the sign reversed); for an offset that has no Etc/ name,
// the IANA zone that keeps it all year (Asia/Kolkata for +05:30), else
// UTC+0530.
func vcalFixedZone(off int) *vcalZone {
	if off == 0 {
		return &vcalZone{id: "UTC", fixed: 0}
	}
	if off%3600 == 0 && off >= -12*3600 && off <= 14*3600 {
		h := off / 3600
		name := "Etc/GMT+" + strconv.Itoa(-h)
		if h > 0 {
			name = "Etc/GMT-" + strconv.Itoa(h)
		}
		return &vcalZone{id: name, fixed: off}
	}
	z := &vcalZone{id: "UTC" + vcalFmtOffset(off, false), fixed: off}
	for _, name := range vcalFixedCandidates {
		if loc := vcalLoadIANA(name); loc != nil {
			if real := (&vcalZone{id: name, loc: loc}); vcalZonesAgree(real, z) {
				return real
			}
		}
	}
	return z
}

// vcalLocMatches reports whether loc switches where the device's switches
// are (each within an hour, between the same offsets) and keeps the
// offset of each switch until the next.
func vcalLocMatches(loc *time.Location, tr []vcalOnset) bool {
	for i, o := range tr {
		_, before := o.at.Add(-time.Hour - time.Second).In(loc).Zone()
		_, after := o.at.Add(time.Hour + time.Second).In(loc).Zone()
		if before != o.from || after != o.to {
			return false
		}
		if i+1 < len(tr) {
			mid := o.at.Add(tr[i+1].at.Sub(o.at) / 2)
			if _, off := mid.In(loc).Zone(); off != o.to {
				return false
			}
		}
	}
	return true
}

func vcalAbs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// vcalLocCache remembers loaded zones (and names that are none); bounded.
var (
	vcalLocCache     sync.Map
	vcalLocCacheSize atomic.Int64
)

// vcalLoadIANA loads a zone by name, also from the last path components
// of names like /softwarestudio.org/Olson_20011030_5/Europe/Berlin.
func vcalLoadIANA(name string) *time.Location {
	name = strings.TrimSpace(name)
	switch strings.ToUpper(name) {
	case "", "LOCAL":
		return nil
	case "UTC", "GMT", "Z", "ETC/UTC", "ETC/GMT":
		return time.UTC
	}
	try := func(n string) *time.Location {
		if n == "" || n == "Local" || strings.Contains(n, "..") || len(n) > 64 {
			return nil
		}
		for _, c := range n {
			if !(c == '/' || c == '_' || c == '-' || c == '+' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return nil
			}
		}
		if v, ok := vcalLocCache.Load(n); ok {
			loc, _ := v.(*time.Location)
			return loc
		}
		loc, err := time.LoadLocation(n)
		if err != nil {
			loc = nil
		}
		if vcalLocCacheSize.Add(1) < 4096 {
			vcalLocCache.Store(n, loc)
		}
		return loc
	}
	if loc := try(strings.Trim(name, "/")); loc != nil {
		return loc
	}
	parts := strings.Split(strings.Trim(name, "/"), "/")
	for k := 3; k >= 1; k-- {
		if len(parts) > k {
			if loc := try(strings.Join(parts[len(parts)-k:], "/")); loc != nil && (k > 1 || loc == time.UTC) {
				return loc
			}
		}
	}
	return nil
}

// vcalZoneOfLocation wraps a Go location.
func vcalZoneOfLocation(loc *time.Location) *vcalZone {
	if loc == nil {
		return nil
	}
	id := loc.String()
	if id == "Local" || id == "" {
		// Name it by its offsets.
		now := time.Now()
		std, _, _ := (&vcalZone{loc: loc}).state(now)
		id = "UTC" + vcalFmtOffset(std, false)
		if ps := (&vcalZone{loc: loc}).dstPeriods(now, now.AddDate(1, 0, 0)); len(ps) > 0 {
			id = "UTC" + vcalFmtOffset(ps[0].std, false) + "/" + vcalFmtOffset(ps[0].dst, false)
		}
	}
	return &vcalZone{id: id, loc: loc}
}

// vcalTZLines returns the TZ and DAYLIGHT values describing z for the
// years y0..y1.
func (z *vcalZone) vcalTZLines(y0, y1 int) (string, []string) {
	from := time.Date(y0, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(y1, 12, 31, 23, 59, 59, 0, time.UTC)
	ps := z.dstPeriods(from, to)
	std := 0
	if len(ps) > 0 {
		std = ps[0].std
	} else {
		std = z.offsetAt(from)
	}
	var dl []string
	for _, p := range ps {
		dl = append(dl, "TRUE;"+vcalFmtOffset(p.dst, true)+";"+
			vcalFmtLocal(p.start.Add(time.Duration(p.std)*time.Second))+";"+
			vcalFmtLocal(p.end.Add(time.Duration(p.dst)*time.Second))+";"+p.stdName+";"+p.dstName)
	}
	if len(dl) == 0 {
		dl = []string{"FALSE"}
	}
	return vcalFmtOffset(std, true), dl
}

// ---- iCalendar VTIMEZONE ----

// icalZoneFromVTimezone reads a VTIMEZONE; nil when it has no usable
// observance.
func icalZoneFromVTimezone(c *vcalComp) *vcalZone {
	z := &vcalZone{id: strings.TrimSpace(vcalRawValue(c.prop("TZID")))}
	for _, sub := range c.comps {
		if sub.name != "STANDARD" && sub.name != "DAYLIGHT" {
			continue
		}
		to, ok := vcalParseOffset(vcalRawValue(sub.prop("TZOFFSETTO")))
		if !ok {
			continue
		}
		from, ok := vcalParseOffset(vcalRawValue(sub.prop("TZOFFSETFROM")))
		if !ok {
			from = to
		}
		st, _, _, ok := vcalParseDT(vcalRawValue(sub.prop("DTSTART")))
		if !ok {
			st = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		o := vcalObs{dst: sub.name == "DAYLIGHT", name: icalText(sub.prop("TZNAME")), from: from, to: to, start: st}
		if rr := sub.prop("RRULE"); rr != nil {
			icalFillObsRule(&o, vcalRawValue(rr))
		}
		for _, rd := range sub.all("RDATE") {
			for _, v := range strings.Split(vcalRawValue(rd), ",") {
				if t, _, _, ok := vcalParseDT(strings.SplitN(v, "/", 2)[0]); ok {
					o.rdates = append(o.rdates, t)
				}
			}
		}
		z.obs = append(z.obs, o)
	}
	if len(z.obs) == 0 {
		return nil
	}
	return z
}

func icalFillObsRule(o *vcalObs, rule string) {
	parts := rruleParts(rule)
	freq := parts["FREQ"]
	iv, _ := strconv.Atoi(parts["INTERVAL"])
	if iv < 1 {
		iv = 1
	}
	switch {
	case freq == "YEARLY":
	case freq == "MONTHLY" && iv%12 == 0:
		iv /= 12
	default:
		return
	}
	if iv > 10 {
		iv = 10
	}
	o.rule, o.interval = true, iv
	o.month = int(o.start.Month())
	if m, err := strconv.Atoi(strings.Split(parts["BYMONTH"], ",")[0]); err == nil && m >= 1 && m <= 12 {
		o.month = m
	}
	if bd := parts["BYDAY"]; bd != "" {
		if n, wd, ok := icalParseWeekdayNum(strings.Split(bd, ",")[0]); ok {
			o.nth, o.wday, o.hasWday = n, wd, true
		}
	}
	for _, s := range strings.Split(parts["BYMONTHDAY"], ",") {
		if d, err := strconv.Atoi(s); err == nil && d != 0 && d >= -31 && d <= 31 {
			o.mdays = append(o.mdays, d)
		}
	}
	if c, err := strconv.Atoi(parts["COUNT"]); err == nil && c > 0 {
		o.count = c
	}
	if u := parts["UNTIL"]; u != "" {
		if t, utc, _, ok := vcalParseDT(u); ok {
			if !utc {
				t = t.Add(-time.Duration(o.from) * time.Second)
			}
			o.until = t
		}
	}
}

// TZCandidates are the IANA zones a device's time zone rules are matched
// against (one per rule set, most used first; then the fixed offsets of
// half and quarter hours), for fronts that get rules instead of names
// (ActiveSync's TIME_ZONE_INFORMATION).
func TZCandidates() []string { return slices.Concat(vcalTZCandidates, vcalFixedCandidates) }

// VTimezone is a VTIMEZONE (CRLF lines) of loc for the years y0 to y1,
// with TZID the zone's name, for fronts that write times in an IANA zone.
func VTimezone(loc *time.Location, y0, y1 int) string {
	var w vcalWriter
	vcalZoneOfLocation(loc).writeVTimezone(&w, y0, y1)
	return w.b.String()
}
