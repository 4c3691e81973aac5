package dav

import (
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"
)

// The query filters of CardDAV (RFC 6352, 10.5) and CalDAV (RFC 4791,
// 9.7 and 9.9), evaluated here rather than by go-webdav's Filter, which
// compares text case-sensitively, looks at the first instance of a
// property only, matches no to-do to a time range and recurring events
// only by when an instance starts. Text is compared case-insensitively
// (the default collations i;unicode-casemap and i;ascii-casemap; go-webdav
// does not pass a request's collation on). A date a client cannot have
// meant (unreadable, or a rule that does not parse) makes an item match
// a time range rather than vanish from the client's view: a sync client
// filters again, a missing item it would never see.

// textMatches reports whether value satisfies a text-match of text,
// matchType ("" is contains) and negate.
func textMatches(value, text string, matchType carddav.MatchType, negate bool) bool {
	v, t := strings.ToLower(value), strings.ToLower(text)
	var ok bool
	switch matchType {
	case carddav.MatchEquals:
		ok = v == t
	case carddav.MatchStartsWith:
		ok = strings.HasPrefix(v, t)
	case carddav.MatchEndsWith:
		ok = strings.HasSuffix(v, t)
	default:
		ok = strings.Contains(v, t)
	}
	return ok != negate
}

// matchCard reports whether card passes the filter of query.
func matchCard(query *carddav.AddressBookQuery, card vcard.Card) bool {
	if len(query.PropFilters) == 0 {
		return true // no filter: every card (RFC 6352, 8.6)
	}
	all := query.FilterTest == carddav.FilterAllOf
	for _, pf := range query.PropFilters {
		if matchCardProp(pf, card) != all {
			return !all
		}
	}
	return all
}

// matchCardProp: some instance of the property passes the prop-filter.
func matchCardProp(pf carddav.PropFilter, card vcard.Card) bool {
	fields := card[strings.ToUpper(pf.Name)]
	if pf.IsNotDefined {
		return len(fields) == 0
	}
	for _, f := range fields {
		if matchCardField(pf, f) {
			return true
		}
	}
	return false
}

func matchCardField(pf carddav.PropFilter, f *vcard.Field) bool {
	if len(pf.TextMatches) == 0 && len(pf.Params) == 0 {
		return true // the property is defined
	}
	all := pf.Test == carddav.FilterAllOf
	for _, tm := range pf.TextMatches {
		if textMatches(f.Value, tm.Text, tm.MatchType, tm.NegateCondition) != all {
			return !all
		}
	}
	for _, pm := range pf.Params {
		if matchCardParam(pm, f) != all {
			return !all
		}
	}
	return all
}

func matchCardParam(pm carddav.ParamFilter, f *vcard.Field) bool {
	var values []string
	for name, vs := range f.Params {
		if strings.EqualFold(name, pm.Name) {
			values = append(values, vs...)
		}
	}
	if pm.IsNotDefined {
		return len(values) == 0
	}
	if pm.TextMatch == nil {
		return len(values) > 0
	}
	for _, v := range values {
		if textMatches(v, pm.TextMatch.Text, pm.TextMatch.MatchType, pm.TextMatch.NegateCondition) {
			return true
		}
	}
	return false
}

// matchCalendar reports whether cal passes the comp-filter of a
// calendar-query (the VCALENDAR one).
func matchCalendar(f caldav.CompFilter, cal *ical.Calendar) bool {
	return matchComp(f, cal.Component)
}

// matchComp: comp (whose name the filter names) passes the filter.
func matchComp(f caldav.CompFilter, comp *ical.Component) bool {
	if !f.Start.IsZero() || !f.End.IsZero() {
		if !compInRange(comp, f.Start, f.End) {
			return false
		}
	}
	for _, cf := range f.Comps {
		if !matchChildren(cf, comp) {
			return false
		}
	}
	for _, pf := range f.Props {
		if !matchCalProp(pf, comp) {
			return false
		}
	}
	return true
}

// matchChildren: a child component named by cf passes it (or, for
// is-not-defined, none is there).
func matchChildren(cf caldav.CompFilter, comp *ical.Component) bool {
	found := false
	for _, child := range comp.Children {
		if !strings.EqualFold(child.Name, cf.Name) {
			continue
		}
		found = true
		if !cf.IsNotDefined && matchComp(cf, child) {
			return true
		}
	}
	if cf.IsNotDefined {
		return !found
	}
	return false
}

func matchCalProp(pf caldav.PropFilter, comp *ical.Component) bool {
	props := comp.Props.Values(strings.ToUpper(pf.Name))
	if pf.IsNotDefined {
		return len(props) == 0
	}
	for i := range props {
		if matchCalPropValue(pf, &props[i]) {
			return true
		}
	}
	return false
}

func matchCalPropValue(pf caldav.PropFilter, p *ical.Prop) bool {
	if !pf.Start.IsZero() || !pf.End.IsZero() {
		t, err := p.DateTime(time.UTC)
		if err == nil && !(atOrAfter(t, pf.Start) && before(t, pf.End)) {
			return false
		}
	}
	if pf.TextMatch != nil && !textMatches(p.Value, pf.TextMatch.Text, "", pf.TextMatch.NegateCondition) {
		return false
	}
	for _, pm := range pf.ParamFilter {
		values := p.Params.Values(strings.ToUpper(pm.Name))
		switch {
		case pm.IsNotDefined:
			if len(values) > 0 {
				return false
			}
		case len(values) == 0:
			return false
		case pm.TextMatch != nil:
			ok := false
			for _, v := range values {
				ok = ok || textMatches(v, pm.TextMatch.Text, "", pm.TextMatch.NegateCondition)
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

// The bounds of a time range: a zero start is the beginning of time, a
// zero end its end.
func atOrAfter(t, start time.Time) bool { return start.IsZero() || !t.Before(start) }
func after(t, start time.Time) bool     { return start.IsZero() || t.After(start) }
func before(t, end time.Time) bool      { return end.IsZero() || t.Before(end) }
func atOrBefore(t, end time.Time) bool  { return end.IsZero() || !t.After(end) }

// compInRange evaluates a time-range on comp as RFC 4791, 9.9 says,
// over every instance of a recurring one.
func compInRange(comp *ical.Component, start, end time.Time) bool {
	switch comp.Name {
	case ical.CompEvent, ical.CompToDo, ical.CompJournal:
	default:
		// VALARM, VFREEBUSY, ...: not evaluated; the item is kept.
		return true
	}
	first, ok := propTime(comp, ical.PropDateTimeStart)
	if !ok || first.IsZero() {
		return spanInRange(comp, time.Time{}, start, end)
	}
	rset, err := comp.RecurrenceSet(time.UTC)
	if err != nil {
		return true
	}
	if rset == nil {
		return spanInRange(comp, first, start, end)
	}
	// Instances: each starts at an occurrence and lasts as the first.
	length := instanceLength(comp, first)
	from := first
	if !start.IsZero() {
		from = start.Add(-length - 24*time.Hour)
	}
	it := rset.Iterator()
	for n := 0; n < maxInstances; n++ {
		at, ok := it()
		if !ok {
			return false
		}
		if at.Before(from) {
			continue
		}
		if !end.IsZero() && at.After(end) {
			return false
		}
		if spanInRange(comp, at, start, end) {
			return true
		}
	}
	return true // too many to look through: kept
}

// maxInstances bounds the instances of one recurring item looked at.
const maxInstances = 100000

// instanceLength is how long an instance of comp starting at first lasts
// (0 for one with no end).
func instanceLength(comp *ical.Component, first time.Time) time.Duration {
	if e, ok := propTime(comp, ical.PropDateTimeEnd); ok && !e.IsZero() {
		return e.Sub(first)
	}
	if e, ok := propTime(comp, ical.PropDue); ok && !e.IsZero() {
		return e.Sub(first)
	}
	if d, ok := propDuration(comp); ok {
		return d
	}
	if isDate(comp.Props.Get(ical.PropDateTimeStart)) {
		return 24 * time.Hour
	}
	return 0
}

// spanInRange evaluates the table of RFC 4791, 9.9 for one instance of
// comp starting at dtstart (zero: comp has none).
func spanInRange(comp *ical.Component, dtstart, start, end time.Time) bool {
	first, _ := propTime(comp, ical.PropDateTimeStart)
	shift := time.Duration(0)
	if !dtstart.IsZero() && !first.IsZero() {
		shift = dtstart.Sub(first) // this instance's offset from the first
	}
	switch comp.Name {
	case ical.CompEvent:
		if dtstart.IsZero() {
			return true
		}
		var dtend time.Time
		if e, ok := propTime(comp, ical.PropDateTimeEnd); ok && !e.IsZero() {
			dtend = e.Add(shift)
		} else if d, ok := propDuration(comp); ok {
			dtend = dtstart.Add(d)
		} else if isDate(comp.Props.Get(ical.PropDateTimeStart)) {
			dtend = dtstart.Add(24 * time.Hour)
		} else {
			dtend = dtstart
		}
		if !dtend.After(dtstart) {
			return atOrAfter(dtstart, start) && before(dtstart, end)
		}
		return after(dtend, start) && before(dtstart, end)
	case ical.CompToDo:
		due, hasDue := propTime(comp, ical.PropDue)
		if hasDue && !due.IsZero() {
			due = due.Add(shift)
		} else {
			hasDue = false
		}
		d, hasDur := propDuration(comp)
		switch {
		case !dtstart.IsZero() && hasDur:
			e := dtstart.Add(d)
			return (start.IsZero() || !start.After(e)) && (end.IsZero() || end.After(dtstart) || !end.Before(e))
		case !dtstart.IsZero() && hasDue:
			return (start.IsZero() || start.Before(due) || !start.After(dtstart)) && (end.IsZero() || end.After(dtstart) || !end.Before(due))
		case !dtstart.IsZero():
			return atOrAfter(dtstart, start) && before(dtstart, end)
		case hasDue:
			return after(due, start) && (end.IsZero() || !end.Before(due))
		}
		completed, hasCompleted := propTime(comp, ical.PropCompleted)
		created, hasCreated := propTime(comp, ical.PropCreated)
		switch {
		case hasCompleted && hasCreated:
			return (start.IsZero() || !start.After(created) || !start.After(completed)) &&
				(end.IsZero() || !end.Before(created) || !end.Before(completed))
		case hasCompleted:
			return atOrAfter(completed, start) && atOrBefore(completed, end)
		case hasCreated:
			return end.IsZero() || end.After(created)
		}
		return true
	case ical.CompJournal:
		if dtstart.IsZero() {
			return false
		}
		if isDate(comp.Props.Get(ical.PropDateTimeStart)) {
			return after(dtstart.Add(24*time.Hour), start) && before(dtstart, end)
		}
		return atOrAfter(dtstart, start) && before(dtstart, end)
	}
	return true
}

// propTime reads a date or date-time property; ok is false when it is
// missing, a zero time with ok when it is unreadable.
func propTime(comp *ical.Component, name string) (time.Time, bool) {
	p := comp.Props.Get(name)
	if p == nil {
		return time.Time{}, false
	}
	t, err := p.DateTime(time.UTC)
	if err != nil {
		return time.Time{}, true
	}
	return t, true
}

func propDuration(comp *ical.Component) (time.Duration, bool) {
	p := comp.Props.Get(ical.PropDuration)
	if p == nil {
		return 0, false
	}
	d, err := p.Duration()
	if err != nil {
		return 0, false
	}
	return d, true
}

func isDate(p *ical.Prop) bool {
	return p != nil && (p.ValueType() == ical.ValueDate || len(p.Value) == 8)
}
