package eas

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Recurrence between MS-ASCAL's Recurrence element and an iCalendar
// RRULE. ActiveSync knows six patterns: daily (0), weekly (1), monthly on
// a day (2), monthly on the nth weekday (3), yearly on a day (5), yearly
// on the nth weekday of a month (6); an RRULE outside them has no
// ActiveSync form, and the event then goes without its Recurrence and
// keeps its RRULE through the client's edits (ghosted).

// Recurrence types.
const (
	recDaily         = 0
	recWeekly        = 1
	recMonthly       = 2
	recMonthlyNth    = 3
	recYearly        = 5
	recYearlyNth     = 6
	compactTime      = "20060102T150405Z"
	weekdayMaskAll   = 127
	weekdayMaskFirst = 1 // Sunday
)

var icalDays = [7]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

// recurrenceOf is the ActiveSync form of an RRULE (the fields of the
// Recurrence element, in MS-ASCAL's order); ok false when it has none.
// start is the event's start, for the parts an RRULE may leave implied.
func recurrenceOf(rrule string, start time.Time) (fields []Field, ok bool) {
	parts := map[string]string{}
	for _, p := range strings.Split(strings.TrimPrefix(strings.TrimSpace(rrule), "RRULE:"), ";") {
		k, v, found := strings.Cut(p, "=")
		if !found {
			return nil, false
		}
		parts[strings.ToUpper(k)] = strings.ToUpper(v)
	}
	interval := 1
	if v, has := parts["INTERVAL"]; has {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 999 {
			return nil, false
		}
		interval = n
	}
	for k := range parts {
		switch k {
		case "FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "WKST":
		default:
			return nil, false // BYSETPOS, BYYEARDAY, BYWEEKNO, BYHOUR...
		}
	}
	add := func(name, v string) { fields = append(fields, Field{Page: "Calendar", Name: name, Value: v}) }
	var typ int
	var dow, dom, week, month string
	byday := parts["BYDAY"]
	switch parts["FREQ"] {
	case "DAILY":
		typ = recDaily
		if byday != "" {
			// Every weekday and the like: a weekly pattern.
			typ = recWeekly
		}
		if parts["BYMONTHDAY"] != "" || parts["BYMONTH"] != "" {
			return nil, false
		}
	case "WEEKLY":
		typ = recWeekly
		if byday == "" {
			byday = icalDays[start.Weekday()]
		}
		if parts["BYMONTHDAY"] != "" || parts["BYMONTH"] != "" {
			return nil, false
		}
	case "MONTHLY":
		switch {
		case byday != "":
			n, wd, ok := nthWeekday(byday)
			if !ok || parts["BYMONTHDAY"] != "" {
				return nil, false
			}
			typ, week, dow = recMonthlyNth, strconv.Itoa(n), strconv.Itoa(1<<wd)
		default:
			typ, dom = recMonthly, parts["BYMONTHDAY"]
			if dom == "" {
				dom = strconv.Itoa(start.Day())
			}
		}
		if parts["BYMONTH"] != "" {
			return nil, false
		}
	case "YEARLY":
		month = parts["BYMONTH"]
		if month == "" {
			month = strconv.Itoa(int(start.Month()))
		}
		switch {
		case byday != "":
			n, wd, ok := nthWeekday(byday)
			if !ok || parts["BYMONTHDAY"] != "" {
				return nil, false
			}
			typ, week, dow = recYearlyNth, strconv.Itoa(n), strconv.Itoa(1<<wd)
		default:
			typ, dom = recYearly, parts["BYMONTHDAY"]
			if dom == "" {
				dom = strconv.Itoa(start.Day())
			}
		}
	default:
		return nil, false
	}
	if dom != "" {
		if n, err := strconv.Atoi(dom); err != nil || n < 1 || n > 31 {
			return nil, false // several days, or counted from the end
		}
	}
	if month != "" {
		if n, err := strconv.Atoi(month); err != nil || n < 1 || n > 12 {
			return nil, false
		}
	}
	if typ == recWeekly {
		mask := 0
		for _, d := range strings.Split(byday, ",") {
			i := dayIndex(d)
			if i < 0 {
				return nil, false // a weekday with a count
			}
			mask |= 1 << i
		}
		dow = strconv.Itoa(mask)
	}
	add("Type", strconv.Itoa(typ))
	if v := parts["COUNT"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 999 {
			return nil, false
		}
		add("Occurrences", v)
	}
	add("Interval", strconv.Itoa(interval))
	if dow != "" {
		add("DayOfWeek", dow)
	}
	if dom != "" {
		add("DayOfMonth", dom)
	}
	if week != "" {
		add("WeekOfMonth", week)
	}
	if month != "" {
		add("MonthOfYear", month)
	}
	if v := parts["UNTIL"]; v != "" {
		u, err := untilTime(v)
		if err != nil {
			return nil, false
		}
		add("Until", u.Format(compactTime))
	}
	return fields, true
}

// nthWeekday reads a BYDAY of one weekday with a count (2TU, -1FR): the
// week of the month as ActiveSync counts it (5: the last).
func nthWeekday(byday string) (n int, wd int, ok bool) {
	if strings.Contains(byday, ",") || len(byday) < 3 {
		return 0, 0, false
	}
	wd = dayIndex(byday[len(byday)-2:])
	n, err := strconv.Atoi(byday[:len(byday)-2])
	switch {
	case wd < 0 || err != nil:
		return 0, 0, false
	case n == -1:
		n = 5
	case n < 1 || n > 4:
		return 0, 0, false
	}
	return n, wd, true
}

func dayIndex(d string) int {
	for i, s := range icalDays {
		if s == d {
			return i
		}
	}
	return -1
}

func untilTime(v string) (time.Time, error) {
	for _, layout := range []string{compactTime, "20060102T150405", "20060102"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("eas: UNTIL %q", v)
}

// rruleOf is the RRULE of a client's Recurrence fields; ok false when
// they make no pattern.
func rruleOf(fields []Field) (string, bool) {
	f := map[string]int{}
	has := map[string]bool{}
	var until string
	for _, x := range fields {
		if x.Name == "Until" {
			until = x.Value
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(x.Value))
		if err != nil {
			if x.Value == "" {
				continue
			}
			return "", false
		}
		f[x.Name], has[x.Name] = n, true
	}
	if !has["Type"] {
		return "", false
	}
	var b strings.Builder
	interval := f["Interval"]
	if interval < 1 {
		interval = 1
	}
	days := func(mask int) string {
		var out []string
		for i := 0; i < 7; i++ {
			if mask&(1<<i) != 0 {
				out = append(out, icalDays[i])
			}
		}
		return strings.Join(out, ",")
	}
	nth := func() (string, bool) {
		mask, week := f["DayOfWeek"], f["WeekOfMonth"]
		d := days(mask)
		if d == "" || strings.Contains(d, ",") || week < 1 || week > 5 {
			return "", false
		}
		if week == 5 {
			return "-1" + d, true
		}
		return strconv.Itoa(week) + d, true
	}
	switch f["Type"] {
	case recDaily:
		b.WriteString("FREQ=DAILY")
		if m := f["DayOfWeek"]; has["DayOfWeek"] && m != 0 && m != weekdayMaskAll {
			b.WriteString(";BYDAY=" + days(m))
		}
	case recWeekly:
		d := days(f["DayOfWeek"])
		if d == "" {
			return "", false
		}
		b.WriteString("FREQ=WEEKLY;BYDAY=" + d)
	case recMonthly:
		if f["DayOfMonth"] < 1 || f["DayOfMonth"] > 31 {
			return "", false
		}
		b.WriteString("FREQ=MONTHLY;BYMONTHDAY=" + strconv.Itoa(f["DayOfMonth"]))
	case recMonthlyNth:
		d, ok := nth()
		if !ok {
			return "", false
		}
		b.WriteString("FREQ=MONTHLY;BYDAY=" + d)
	case recYearly:
		if f["DayOfMonth"] < 1 || f["DayOfMonth"] > 31 || f["MonthOfYear"] < 1 || f["MonthOfYear"] > 12 {
			return "", false
		}
		b.WriteString("FREQ=YEARLY;BYMONTH=" + strconv.Itoa(f["MonthOfYear"]) + ";BYMONTHDAY=" + strconv.Itoa(f["DayOfMonth"]))
	case recYearlyNth:
		d, ok := nth()
		if !ok || f["MonthOfYear"] < 1 || f["MonthOfYear"] > 12 {
			return "", false
		}
		b.WriteString("FREQ=YEARLY;BYMONTH=" + strconv.Itoa(f["MonthOfYear"]) + ";BYDAY=" + d)
	default:
		return "", false
	}
	if interval > 1 {
		b.WriteString(";INTERVAL=" + strconv.Itoa(interval))
	}
	switch {
	case has["Occurrences"] && f["Occurrences"] > 0:
		b.WriteString(";COUNT=" + strconv.Itoa(f["Occurrences"]))
	case until != "":
		t, err := untilTime(until)
		if err != nil {
			if t, err = time.Parse(easTime, until); err != nil {
				return "", false
			}
		}
		b.WriteString(";UNTIL=" + t.UTC().Format(compactTime))
	}
	return b.String(), true
}
