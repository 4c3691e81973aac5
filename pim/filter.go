package pim

// Per-device filters: which of the server's items a device is sent
// (Policy.ContactCategories, CalendarPast/CalendarFuture, TasksOpenOnly).
//
// factsOf reads an item once into an itemFacts, a few numbers and strings
// the engine keeps per item in the device's state; filterRule.matches
// decides from those alone, for any "now", so an event that drifts into or
// out of the window as time passes is noticed without reading it again.
//
// Event times are kept as "wall" seconds: the event's local clock read as
// if it were UTC, in DTSTART's zone (UTC for UTC, floating and DATE
// values). Recurrences are expanded in wall time, so that BYDAY and
// BYMONTHDAY fall on the local days RFC 5545 3.3.10 means, and EXDATEs
// compare exactly. An instant is wall minus Offset, DTSTART's UTC offset:
// across a daylight-saving switch an occurrence is placed up to an hour
// off, which a window measured in days tolerates. DATE (all-day) values
// are whole UTC days, the end exclusive, so at the window's edges a device
// far from UTC may see an all-day event some hours early or late.
//
// What is not understood is sent ("never hide what we cannot read"): an
// item without readable dates matches every rule, and a recurrence that
// cannot be expanded cheaply (sub-daily frequencies, BYEASTER, an INTERVAL
// over 1000, a rule that never occurs, ...) counts as one long occurrence
// from DTSTART to its UNTIL, or forever.

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"syncml-imap/internal/vformat"
	"syncml-imap/internal/vobject"
)

// Kinds of itemFacts.
const (
	factsContact = "c"
	factsEvent   = "e"
	factsTask    = "t"
)

const (
	daySeconds = 24 * 60 * 60
	// factsForever stands for "no end" (and, negated, "no start"): far
	// beyond any date, yet far enough from the int64 limits that adding
	// an offset or a duration cannot overflow.
	factsForever = int64(1) << 62
	// maxFactsDur caps a duration (DTEND or DURATION) at about 100 years.
	maxFactsDur = 100 * 366 * daySeconds
	// maxRuleInterval, maxRuleTimes: rules with a larger INTERVAL or more
	// times a day (BYHOUR x BYMINUTE x BYSECOND) are not expanded.
	maxRuleInterval = 1000
	maxRuleTimes    = 16
	// maxRuleCount: a COUNT up to this is turned into an UNTIL by
	// expanding the rule once; a larger one is ignored (the series is
	// then taken as endless).
	maxRuleCount = 1000
	// maxExtra: more extra occurrences (RDATEs, moved instances) than
	// this are merged into one span, to keep the state small.
	maxExtra = 64
	// maxRuleSteps bounds the occurrences looked at for one decision.
	maxRuleSteps = 100000
)

// ItemFacts is what the policy filters look at, kept per item in the
// device's state (JSON, hence the short tags). The zero value means
// "unknown": it matches every rule.
type ItemFacts struct {
	// Kind: factsContact, factsEvent, factsTask, or "" (unknown).
	Kind string `json:"k,omitempty"`

	// Categories of a contact (CATEGORIES, trimmed, no duplicates).
	Categories []string `json:"c,omitempty"`

	// Start is an event's DTSTART, Dur its length in seconds. Times are
	// wall seconds (see the file comment); Offset converts them to
	// instants.
	Start  int64 `json:"s,omitempty"`
	Offset int64 `json:"o,omitempty"`
	Dur    int64 `json:"d,omitempty"`
	// Rule is the RRULE without COUNT or UNTIL (rrule-go's spelling, to be
	// expanded from Start); Until the last start it allows (a COUNT is
	// turned into one), 0 for none (so an UNTIL of exactly 1970-01-01
	// 00:00 reads as none: more is sent, never less).
	Rule  string `json:"r,omitempty"`
	Until int64  `json:"u,omitempty"`
	// ExDates are the starts (sorted) that Rule and Start do not produce:
	// EXDATEs and the RECURRENCE-IDs of instances moved or cancelled.
	ExDates []int64 `json:"x,omitempty"`
	// Extra are further occurrences as start, end pairs (wall seconds):
	// RDATEs, moved instances, and the span standing for a rule not
	// expanded.
	Extra []int64 `json:"p,omitempty"`

	// Done: a task is completed or cancelled.
	Done bool `json:"f,omitempty"`
}

// FilterRule is a device's filter for one database.
type FilterRule struct {
	// Categories: contacts are sent that have at least one of these
	// CATEGORIES (case-insensitive, trimmed); empty: all.
	Categories []string
	// Past, Future: events are sent that have an occurrence overlapping
	// [now-Past, now+Future); 0 (or less) leaves that side unbounded.
	Past, Future time.Duration
	// OpenOnly: only tasks not completed or cancelled are sent (in
	// "tasks", and to-dos carried in "calendar").
	OpenOnly bool
}

// Active reports whether the rule filters anything for db.
func (r FilterRule) Active(db Kind) bool {
	switch db {
	case "contacts":
		return slices.ContainsFunc(r.Categories, func(c string) bool { return strings.TrimSpace(c) != "" })
	case "calendar":
		return r.Past > 0 || r.Future > 0 || r.OpenOnly
	case "tasks":
		return r.OpenOnly
	}
	return false
}

// Matches reports whether an item with facts f is sent under r at time
// now. Facts of a kind the database's rule does not judge (unknown ones
// in particular) match.
func (r FilterRule) Matches(db Kind, f ItemFacts, now time.Time) bool {
	if !r.Active(db) {
		return true
	}
	switch {
	case f.Kind == factsContact && db == Contacts:
		return r.hasCategory(f.Categories)
	case f.Kind == factsEvent && db == Calendar:
		return f.inWindow(r.window(now))
	case f.Kind == factsTask && (db == Tasks || db == Calendar):
		return !r.OpenOnly || !f.Done
	}
	return true
}

func (r FilterRule) hasCategory(have []string) bool {
	for _, want := range r.Categories {
		want = strings.TrimSpace(want)
		for _, h := range have {
			if want != "" && strings.EqualFold(want, h) {
				return true
			}
		}
	}
	return false
}

// factsWindow is the half-open interval [lo, hi) of instants (Unix
// seconds) an occurrence must overlap.
type factsWindow struct{ lo, hi int64 }

func (r FilterRule) window(now time.Time) factsWindow {
	w := factsWindow{-factsForever, factsForever}
	if r.Past > 0 {
		w.lo = now.Add(-r.Past).Unix()
	}
	if r.Future > 0 {
		w.hi = now.Add(r.Future).Unix()
	}
	return w
}

// overlaps reports whether [a, b) overlaps w; an instantaneous occurrence
// (b <= a) must lie in it. An event ending exactly at lo or starting
// exactly at hi does not overlap.
func (w factsWindow) overlaps(a, b int64) bool {
	if b <= a {
		return a >= w.lo && a < w.hi
	}
	return a < w.hi && b > w.lo
}

func (w factsWindow) unbounded() bool {
	return w.lo <= -factsForever && w.hi >= factsForever
}

// inWindow reports whether the event f has an occurrence overlapping w.
func (f ItemFacts) inWindow(w factsWindow) bool {
	if w.unbounded() {
		return true
	}
	dur := min(max(f.Dur, 0), maxFactsDur)
	at := func(wall int64) int64 { return wall - f.Offset }
	if !containsSorted(f.ExDates, f.Start) && w.overlaps(at(f.Start), at(f.Start)+dur) {
		return true
	}
	for i := 0; i+1 < len(f.Extra); i += 2 {
		if w.overlaps(at(f.Extra[i]), at(f.Extra[i+1])) {
			return true
		}
	}
	if f.Rule == "" || at(f.Start) >= w.hi {
		return false
	}
	if f.Until != 0 {
		if end := at(f.Until) + dur; end < w.lo || end == w.lo && dur > 0 {
			return false
		}
	}
	return f.ruleInWindow(w, dur)
}

// ruleInWindow expands f.Rule from the window's start on.
func (f ItemFacts) ruleInWindow(w factsWindow, dur int64) (in bool) {
	// rrule-go panics on some rules; ruleExpandable should keep them out,
	// and what slips through is sent.
	defer func() {
		if recover() != nil {
			in = true
		}
	}()
	o, err := rrule.StrToROption(f.Rule)
	if err != nil || !ruleExpandable(o) {
		return true
	}
	first := time.Unix(f.Start, 0).UTC()
	o.Count = 0 // factsOf turned it into Until; rebased cannot keep one
	if f.Until != 0 {
		o.Until = time.Unix(f.Until, 0).UTC()
	}
	target := first
	if w.lo > -factsForever {
		// Two days of slack cover the offset's error.
		target = time.Unix(w.lo+f.Offset-dur-2*daySeconds, 0).UTC()
	}
	rr, err := rrule.NewRRule(rebased(*o, first, target))
	if err != nil {
		return true
	}
	next := rr.Iterator()
	for range maxRuleSteps {
		t, ok := next()
		if !ok {
			return false
		}
		s := t.Unix()
		a := s - f.Offset
		if a >= w.hi {
			return false
		}
		if s == f.Start || containsSorted(f.ExDates, s) {
			continue
		}
		if w.overlaps(a, a+dur) {
			return true
		}
	}
	return true
}

func containsSorted(s []int64, v int64) bool {
	_, found := slices.BinarySearch(s, v)
	return found
}

// ruleExpandable reports whether rrule-go can expand o quickly and
// safely: daily or coarser, no BYEASTER (not RFC 5545, and rrule-go
// indexes out of range with large offsets), a sane INTERVAL, few times a
// day, and no BYDAY ordinal beyond what a month holds where rrule-go
// counts it within months (it indexes out of range there too).
func ruleExpandable(o *rrule.ROption) bool {
	if o.Freq > rrule.DAILY || len(o.Byeaster) > 0 || o.Interval < 0 || o.Interval > maxRuleInterval {
		return false
	}
	if max(1, len(o.Byhour))*max(1, len(o.Byminute))*max(1, len(o.Bysecond)) > maxRuleTimes {
		return false
	}
	inMonth := o.Freq == rrule.MONTHLY || o.Freq == rrule.YEARLY && len(o.Bymonth) > 0
	for _, d := range o.Byweekday {
		if n := d.N(); n < -53 || n > 53 || inMonth && (n < -5 || n > 5) {
			return false
		}
	}
	return true
}

// rebased returns o to be expanded from first, with the parts RFC 5545
// 3.3.10 takes from DTSTART when absent made explicit (as rrule-go
// derives them: BYMONTH, BYMONTHDAY or BYDAY, and the time of day), and
// with DTSTART then moved forward by whole INTERVALs to a period that
// begins more than one interval before target. Expanding the result gives
// the occurrences the rule has from target on, in time that depends on
// the distance to target, not on how long ago the series began. o must be
// daily or coarser and have no COUNT.
func rebased(o rrule.ROption, first, target time.Time) rrule.ROption {
	o.Dtstart = first
	if len(o.Byweekno)+len(o.Byyearday)+len(o.Bymonthday)+len(o.Byweekday)+len(o.Byeaster) == 0 {
		switch o.Freq {
		case rrule.YEARLY:
			if len(o.Bymonth) == 0 {
				o.Bymonth = []int{int(first.Month())}
			}
			o.Bymonthday = []int{first.Day()}
		case rrule.MONTHLY:
			o.Bymonthday = []int{first.Day()}
		case rrule.WEEKLY:
			o.Byweekday = []rrule.Weekday{ruleWeekday(first.Weekday())}
		}
	}
	h, m, s := first.Clock()
	if len(o.Byhour) == 0 {
		o.Byhour = []int{h}
	}
	if len(o.Byminute) == 0 {
		o.Byminute = []int{m}
	}
	if len(o.Bysecond) == 0 {
		o.Bysecond = []int{s}
	}
	n := max(o.Interval, 1)
	days := (target.Unix() - first.Unix()) / daySeconds
	switch o.Freq {
	case rrule.YEARLY:
		if k := (target.Year() - first.Year() - n - 1) / n; k > 0 {
			o.Dtstart = time.Date(first.Year()+k*n, 1, 1, h, m, s, 0, time.UTC)
		}
	case rrule.MONTHLY:
		months := (target.Year()-first.Year())*12 + int(target.Month()) - int(first.Month())
		if k := (months - n - 1) / n; k > 0 {
			o.Dtstart = time.Date(first.Year(), first.Month()+time.Month(k*n), 1, h, m, s, 0, time.UTC)
		}
	case rrule.WEEKLY:
		// rrule-go's first weekly period runs from DTSTART to the week's
		// end; keep it, and a whole interval, before target.
		if k := (days - 7*int64(n) - 8) / (7 * int64(n)); k > 0 {
			o.Dtstart = first.AddDate(0, 0, int(k)*7*n)
		}
	case rrule.DAILY:
		if k := (days - int64(n) - 2) / int64(n); k > 0 {
			o.Dtstart = first.AddDate(0, 0, int(k)*n)
		}
	}
	return o
}

func ruleWeekday(d time.Weekday) rrule.Weekday {
	return [...]rrule.Weekday{rrule.SU, rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA}[d]
}

// ruleOccurs reports whether o (from first) still occurs in the last
// decades rrule-go expands. rrule-go looks for the next occurrence up to
// the year 9999; a rule that never occurs (BYMONTH=2;BYMONTHDAY=30) would
// cost up to a second at every decision, so it is not expanded. The span
// looked at covers the 28-year cycle of weekdays and two intervals.
func ruleOccurs(o rrule.ROption, first time.Time) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	o.Until, o.Count = time.Time{}, 0
	n, years := max(o.Interval, 1), 30
	switch o.Freq {
	case rrule.YEARLY:
		years = max(years, 2*n)
	case rrule.MONTHLY:
		years = max(years, (2*n+11)/12)
	case rrule.WEEKLY:
		years = max(years, (14*n+364)/365)
	case rrule.DAILY:
		years = max(years, (2*n+364)/365)
	}
	target := time.Date(rrule.MAXYEAR-years, 1, 1, 0, 0, 0, 0, time.UTC)
	rr, err := rrule.NewRRule(rebased(o, first, target))
	if err != nil {
		return false
	}
	_, ok = rr.Iterator()()
	return ok
}

// ruleLast is the start of the last of count occurrences of o from first.
func ruleLast(o rrule.ROption, first time.Time, count int) (last time.Time, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	o.Dtstart, o.Count = first, count
	rr, err := rrule.NewRRule(o)
	if err != nil {
		return time.Time{}, false
	}
	next := rr.Iterator()
	for range count {
		t, more := next()
		if !more {
			break
		}
		last, ok = t, true
	}
	return last, ok
}

// ruleLatest is the latest occurrence of o (from first) not after w.
func ruleLatest(o rrule.ROption, first, w time.Time) (last time.Time, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	rr, err := rrule.NewRRule(rebased(o, first, w.AddDate(-2, 0, 0)))
	if err != nil {
		return time.Time{}, false
	}
	next := rr.Iterator()
	for range maxRuleSteps {
		t, more := next()
		if !more || t.After(w) {
			break
		}
		last, ok = t, true
	}
	return last, ok
}

// FactsOf extracts an item's facts. db is "contacts", "calendar" or
// "tasks"; an item in "calendar" may be a VTODO (a to-do carried in a
// calendar database): then task facts apply. Data that is not a vCard or
// an iCalendar object with a VEVENT or VTODO gives unknown facts.
func FactsOf(db Kind, data []byte) ItemFacts {
	for _, o := range vobject.Parse(data) {
		switch {
		case o.Name == "VCARD" && db != Calendar && db != Tasks:
			return contactFacts(o)
		case o.Name == "VCALENDAR" && db != Contacts:
			return calendarFacts(o)
		}
	}
	return ItemFacts{}
}

// contactFacts collects CATEGORIES: a comma-separated TEXT list (RFC 6350
// 6.7.1), possibly repeated; "\," is a comma within a category. A vCard 4
// group card (KIND:group) is judged by its categories like any other.
func contactFacts(card *vobject.Object) ItemFacts {
	f := ItemFacts{Kind: factsContact}
	for _, p := range card.Props {
		if p.Name != "CATEGORIES" {
			continue
		}
		for _, c := range vobject.SplitText(p.Value, ',') {
			// Valid UTF-8, as the JSON of the state will have it.
			c = strings.ToValidUTF8(strings.TrimSpace(c), "\uFFFD")
			if c != "" && !slices.ContainsFunc(f.Categories, func(h string) bool { return strings.EqualFold(h, c) }) {
				f.Categories = append(f.Categories, c)
			}
		}
	}
	return f
}

// calendarFacts judges the main component: the VEVENT or VTODO without a
// RECURRENCE-ID, else the first one.
func calendarFacts(cal *vobject.Object) ItemFacts {
	var main *vobject.Object
	for _, c := range cal.Children {
		if c.Name != "VEVENT" && c.Name != "VTODO" {
			continue
		}
		if c.Prop("RECURRENCE-ID") == nil {
			main = c
			break
		}
		if main == nil {
			main = c
		}
	}
	switch {
	case main == nil:
		return ItemFacts{}
	case main.Name == "VTODO":
		return ItemFacts{Kind: factsTask, Done: taskDone(main)}
	}
	return eventFacts(cal, main)
}

// taskDone: STATUS COMPLETED or CANCELLED, a COMPLETED date, or
// PERCENT-COMPLETE 100 (RFC 5545 3.8.1.8, 3.8.1.11, 3.8.2.1).
func taskDone(t *vobject.Object) bool {
	switch strings.ToUpper(t.PropValue("STATUS")) {
	case "COMPLETED", "CANCELLED", "CANCELED":
		return true
	}
	if t.PropValue("COMPLETED") != "" {
		return true
	}
	p, err := strconv.Atoi(t.PropValue("PERCENT-COMPLETE"))
	return err == nil && p >= 100
}

func eventFacts(cal, ev *vobject.Object) ItemFacts {
	dp := ev.Prop("DTSTART")
	if dp == nil {
		return ItemFacts{}
	}
	st, ok := parseCalTime(dp.Value, dp.Params)
	if !ok {
		return ItemFacts{}
	}
	c := &calReader{cal: cal, zones: map[string]*vformat.Zone{}}
	if !st.date && !st.utc {
		c.frame = c.zone(dp.Params["TZID"])
	}
	f := ItemFacts{Kind: factsEvent, Start: st.wall.Unix(), Offset: int64(c.frame.Offset(c.frame.Instant(st.wall)))}
	c.startDate, c.timeOfDay = st.date, f.Start-floorDiv(f.Start, daySeconds)*daySeconds
	var def int64 // RFC 5545 3.6.1: a DATE start lasts a day, a DATE-TIME one no time
	if st.date {
		def = daySeconds
	}
	f.Dur = c.duration(ev, f.Start, def)

	for _, p := range ev.Props {
		if p.Name == "EXDATE" {
			for _, v := range strings.Split(p.Value, ",") {
				if t, ok := parseCalTime(v, p.Params); ok {
					f.ExDates = append(f.ExDates, c.wall(t, p.Params["TZID"]))
				}
			}
		}
	}
	mainIsInstance := ev.Prop("RECURRENCE-ID") != nil
	for _, o := range cal.Children {
		rp := o.Prop("RECURRENCE-ID")
		if o == ev || o.Name != ev.Name || rp == nil {
			continue
		}
		rid, ok := parseCalTime(rp.Value, rp.Params)
		if !ok {
			continue
		}
		ridWall := c.wall(rid, rp.Params["TZID"])
		if !mainIsInstance {
			f.ExDates = append(f.ExDates, ridWall)
		}
		if strings.EqualFold(o.PropValue("STATUS"), "CANCELLED") {
			continue
		}
		start := ridWall
		if sp := o.Prop("DTSTART"); sp != nil {
			if t, ok := parseCalTime(sp.Value, sp.Params); ok {
				start = c.wall(t, sp.Params["TZID"])
			}
		}
		f.Extra = append(f.Extra, start, start+c.duration(o, start, f.Dur))
	}
	slices.Sort(f.ExDates)
	f.ExDates = slices.Compact(f.ExDates)

	for _, p := range ev.Props {
		if p.Name == "RDATE" {
			for _, v := range strings.Split(p.Value, ",") {
				if s, e, ok := c.period(v, p.Params, f.Dur); ok && !containsSorted(f.ExDates, s) {
					f.Extra = append(f.Extra, s, e)
				}
			}
		}
	}

	var rules []string
	for _, p := range ev.Props {
		if p.Name == "RRULE" {
			rules = append(rules, p.Value)
		}
	}
	switch len(rules) {
	case 0:
	case 1:
		c.rule(&f, rules[0])
	default: // several RRULEs (RFC 2445 allowed it): not expanded
		f.addSpan(0)
	}

	if f.Rule == "" {
		// Only DTSTART's own exclusion still matters.
		if containsSorted(f.ExDates, f.Start) {
			f.ExDates = []int64{f.Start}
		} else {
			f.ExDates = nil
		}
	}
	if len(f.Extra) > 2*maxExtra {
		lo, hi := f.Extra[0], f.Extra[1]
		for i := 2; i+1 < len(f.Extra); i += 2 {
			lo, hi = min(lo, f.Extra[i]), max(hi, f.Extra[i+1])
		}
		f.Extra = []int64{lo, hi}
	}
	return f
}

// addSpan stands a rule not expanded: one occurrence from the first start
// to the end of the last one the rule allows (untilWall, 0: none).
func (f *ItemFacts) addSpan(untilWall int64) {
	end := factsForever
	if untilWall != 0 {
		if untilWall < f.Start {
			return
		}
		end = untilWall + min(max(f.Dur, 0), maxFactsDur)
	}
	f.Extra = append(f.Extra, f.Start, end)
}

// rule reads the event's RRULE into f.Rule and f.Until, or, when it is
// not to be expanded, into a span in f.Extra.
func (c *calReader) rule(f *ItemFacts, raw string) {
	o, count, untilText, ok := parseRule(raw)
	var untilWall int64
	if t, ok := parseCalTime(untilText, nil); ok {
		switch {
		case t.date && !c.startDate:
			// Invalid (RFC 5545 3.3.10 wants the type of DTSTART), but
			// seen: the whole day.
			untilWall = t.wall.Unix() + daySeconds - 1
		default:
			untilWall = c.wall(t, "")
		}
	}
	if !ok {
		f.addSpan(untilWall)
		return
	}
	if o.Freq > rrule.DAILY {
		// Sub-daily: as good as continuous. Without BY parts the last
		// start of a COUNT is plain arithmetic.
		if count > 0 && count <= 1_000_000 && len(o.Bysetpos)+len(o.Bymonth)+len(o.Bymonthday)+len(o.Byyearday)+
			len(o.Byweekno)+len(o.Byweekday)+len(o.Byhour)+len(o.Byminute)+len(o.Bysecond)+len(o.Byeaster) == 0 {
			unit := int64(1)
			switch o.Freq {
			case rrule.HOURLY:
				unit = 3600
			case rrule.MINUTELY:
				unit = 60
			}
			last := f.Start + int64(count-1)*int64(min(max(o.Interval, 1), maxRuleInterval))*unit
			if untilWall == 0 || last < untilWall {
				untilWall = last
			}
		}
		f.addSpan(untilWall)
		return
	}
	first := time.Unix(f.Start, 0).UTC()
	if !ruleExpandable(o) || !ruleOccurs(*o, first) {
		f.addSpan(untilWall)
		return
	}
	if untilWall != 0 {
		o.Until = time.Unix(untilWall, 0).UTC()
	}
	if count > 0 && count <= maxRuleCount {
		last, ok := ruleLast(*o, first, count)
		if !ok {
			return // nothing beyond DTSTART itself
		}
		untilWall = last.Unix()
	}
	if untilWall != 0 && untilWall < f.Start {
		return
	}
	o.Dtstart, o.Until, o.Count = time.Time{}, time.Time{}, 0
	f.Rule, f.Until = o.RRuleString(), untilWall
}

// parseRule reads an RRULE value (RFC 5545 3.3.10) into rrule-go's
// options, COUNT and UNTIL apart. X- parts are dropped; any other part
// rrule-go does not know (RSCALE, SKIP) makes it unreadable.
func parseRule(raw string) (o *rrule.ROption, count int, until string, ok bool) {
	var keep []string
	for _, part := range strings.Split(raw, ";") {
		k, v, found := strings.Cut(part, "=")
		k, v = strings.ToUpper(strings.TrimSpace(k)), strings.ToUpper(strings.TrimSpace(v))
		switch {
		case k == "" && v == "" && !found:
			continue
		case !found:
			return nil, 0, "", false
		}
		switch k {
		case "UNTIL":
			until = v
		case "COUNT":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, 0, until, false
			}
			count = n
		case "FREQ", "INTERVAL", "WKST", "BYSETPOS", "BYMONTH", "BYMONTHDAY", "BYYEARDAY",
			"BYWEEKNO", "BYDAY", "BYHOUR", "BYMINUTE", "BYSECOND":
			keep = append(keep, k+"="+v)
		default:
			if !strings.HasPrefix(k, "X-") {
				return nil, 0, until, false
			}
		}
	}
	o, err := rrule.StrToROption(strings.Join(keep, ";"))
	if err != nil {
		return nil, 0, until, false
	}
	return o, count, until, true
}

// calTime is a DATE or DATE-TIME value.
type calTime struct {
	wall time.Time // as written, in UTC
	date bool
	utc  bool // ends in Z: wall is the instant
}

// parseCalTime reads a DATE or DATE-TIME (RFC 5545 3.3.4, 3.3.5), also in
// the extended ISO 8601 spelling some devices use and with fractional
// seconds dropped.
func parseCalTime(v string, params map[string]string) (calTime, bool) {
	s := strings.ToUpper(strings.TrimSpace(v))
	s = strings.NewReplacer("-", "", ":", "").Replace(s)
	var t calTime
	if strings.HasSuffix(s, "Z") {
		s, t.utc = s[:len(s)-1], true
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	if strings.EqualFold(params["VALUE"], "DATE") && len(s) > 8 {
		s, t.utc = s[:8], false
	}
	var err error
	switch len(s) {
	case 8:
		t.wall, err = time.Parse("20060102", s)
		t.date, t.utc = true, false
	case 15:
		t.wall, err = time.Parse("20060102T150405", s)
	default:
		return calTime{}, false
	}
	return t, err == nil
}

// parseCalDuration reads a DURATION (RFC 5545 3.3.6) in seconds, at most
// maxFactsDur; a negative one is 0.
func parseCalDuration(v string) (int64, bool) {
	d, ok := vobject.ParseDuration(v)
	if !ok {
		return 0, false
	}
	if d.Negative() {
		return 0, true
	}
	return min(d.Seconds(), maxFactsDur), true
}

// calReader converts an event's times to wall seconds in the frame of
// its DTSTART.
type calReader struct {
	cal       *vobject.Object
	zones     map[string]*vformat.Zone
	frame     *vformat.Zone // DTSTART's zone; nil: UTC (and floating, and DATE)
	startDate bool          // DTSTART is a DATE
	timeOfDay int64         // of DTSTART, wall seconds into the day
}

// wall converts t (with the TZID parameter tzid) to the frame. A value
// without TZID or Z is taken to be in DTSTART's zone; a DATE where
// DTSTART has a time stands for that time on that day.
func (c *calReader) wall(t calTime, tzid string) int64 {
	switch {
	case t.date && !c.startDate:
		return t.wall.Unix() + c.timeOfDay
	case t.date:
		return t.wall.Unix()
	case t.utc:
		return wallOf(c.frame, t.wall.Unix())
	case strings.TrimSpace(tzid) == "":
		return t.wall.Unix()
	}
	z := c.zone(tzid)
	if z == c.frame {
		return t.wall.Unix()
	}
	return wallOf(c.frame, z.Instant(t.wall).Unix())
}

// duration is the length of comp starting at wall time start: DTEND, else
// DURATION, else def.
func (c *calReader) duration(comp *vobject.Object, start, def int64) int64 {
	if p := comp.Prop("DTEND"); p != nil {
		if t, ok := parseCalTime(p.Value, p.Params); ok {
			return min(max(c.wall(t, p.Params["TZID"])-start, 0), maxFactsDur)
		}
	}
	if p := comp.Prop("DURATION"); p != nil {
		if d, ok := parseCalDuration(p.Value); ok {
			return d
		}
	}
	return def
}

// period reads one RDATE value: a DATE, a DATE-TIME lasting dur, or a
// PERIOD start/end or start/duration (RFC 5545 3.3.9).
func (c *calReader) period(v string, params map[string]string, dur int64) (start, end int64, ok bool) {
	sv, ev, isPeriod := strings.Cut(v, "/")
	t, ok := parseCalTime(sv, params)
	if !ok {
		return 0, 0, false
	}
	start = c.wall(t, params["TZID"])
	if !isPeriod {
		return start, start + dur, true
	}
	if d, ok := parseCalDuration(ev); ok {
		return start, start + d, true
	}
	if t, ok := parseCalTime(ev, params); ok {
		return start, start + min(max(c.wall(t, params["TZID"])-start, 0), maxFactsDur), true
	}
	return start, start + dur, true
}

// zone resolves a TZID: the item's VTIMEZONE (RFC 5545 3.6.5 makes it the
// definition), else an IANA name (also behind a prefix such as
// "/mozilla.org/20050126_1/"), else UTC (nil); see vformat.LookupZone.
func (c *calReader) zone(tzid string) *vformat.Zone {
	tzid = strings.TrimSpace(tzid)
	if tzid == "" {
		return nil
	}
	if z, ok := c.zones[tzid]; ok {
		return z
	}
	z := vformat.LookupZone(c.cal, tzid)
	c.zones[tzid] = z
	return z
}

// wallOf converts Unix seconds to wall seconds in z.
func wallOf(z *vformat.Zone, abs int64) int64 {
	return z.Wall(time.Unix(abs, 0)).Unix()
}

// floorDiv divides rounding toward minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
