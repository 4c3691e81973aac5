package vformat

// Recurrence rules: vCalendar 1.0 "D1 #10", "W2 MO WE 20261231T000000",
// "MP1 1+ MO 1- FR #0", "MD1 1 15- #0", "YM1 6 #0", "YD1 100 #5" and
// iCalendar RRULE, both ways.
//
// vCalendar 1.0 counts intervals, not occurrences: "W1 TU TH #5" is five
// weeks, ten occurrences. A missing "#n" and end date means "#2" (the
// specification's default); "#0" means forever. An end date written at
// midnight before the start's time of day includes that day (devices treat
// it as a date: "W1 TH 20060427T000000Z" includes 2006-04-27 17:00Z).

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// vcalWDN is a weekday with an ordinal (0: every such day).
type vcalWDN struct {
	n  int
	wd time.Weekday
}

// vcalRule1 is a rule in the shape vCalendar 1.0 can express.
type vcalRule1 struct {
	code     string // D, W, MP, MD, YM, YD
	interval int
	days     []time.Weekday // W
	pos      []vcalWDN      // MP
	nums     []int          // MD (negative: from the end), YM months, YD days
}

// vcalRecur is a general (iCalendar) rule.
type vcalRecur struct {
	freq     string
	interval int
	byDay    []vcalWDN
	byMDay   []int
	byMonth  []int
	byYDay   []int
	bySetPos []int
	count    int
	until    string
	other    bool // parts beyond the above (BYHOUR, BYWEEKNO, ...)
}

// icalParseWeekdayNum parses "MO", "1MO", "-1SU", "+2TU".
func icalParseWeekdayNum(s string) (int, time.Weekday, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) < 2 {
		return 0, 0, false
	}
	wd, ok := vcalWeekdayOf(s[len(s)-2:])
	if !ok {
		return 0, 0, false
	}
	n := 0
	if num := s[:len(s)-2]; num != "" {
		v, err := strconv.Atoi(num)
		if err != nil || v == 0 || v < -53 || v > 53 {
			return 0, 0, false
		}
		n = v
	}
	return n, wd, true
}

func vcalInts(s string, lo, hi int) ([]int, bool) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v == 0 || v < lo || v > hi {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

// icalParseRecur parses an iCalendar RRULE value.
func icalParseRecur(s string) (vcalRecur, bool) {
	parts := rruleParts(s)
	r := vcalRecur{freq: parts["FREQ"], interval: 1}
	switch r.freq {
	case "DAILY", "WEEKLY", "MONTHLY", "YEARLY":
	case "SECONDLY", "MINUTELY", "HOURLY":
		r.other = true
	default:
		return r, false
	}
	for k, v := range parts {
		ok := true
		switch k {
		case "FREQ", "WKST":
		case "INTERVAL":
			n, err := strconv.Atoi(v)
			ok = err == nil && n >= 1
			if ok {
				r.interval = min(n, 10000)
			}
		case "COUNT":
			n, err := strconv.Atoi(v)
			ok = err == nil && n >= 1
			if ok {
				r.count = min(n, 1000000)
			}
		case "UNTIL":
			r.until = v
		case "BYDAY":
			for _, f := range strings.Split(v, ",") {
				n, wd, good := icalParseWeekdayNum(f)
				if !good {
					ok = false
					break
				}
				r.byDay = append(r.byDay, vcalWDN{n, wd})
			}
		case "BYMONTHDAY":
			r.byMDay, ok = vcalInts(v, -31, 31)
		case "BYMONTH":
			r.byMonth, ok = vcalInts(v, 1, 12)
		case "BYYEARDAY":
			r.byYDay, ok = vcalInts(v, -366, 366)
		case "BYSETPOS":
			r.bySetPos, ok = vcalInts(v, -366, 366)
		default:
			r.other = true
		}
		if !ok {
			r.other = true
		}
	}
	return r, true
}

// icalString writes r as an iCalendar RRULE (without COUNT/UNTIL, which
// the caller appends).
func (r vcalRecur) icalString() string {
	var b strings.Builder
	b.WriteString("FREQ=" + r.freq)
	if r.interval > 1 {
		b.WriteString(";INTERVAL=" + strconv.Itoa(r.interval))
	}
	if len(r.byMonth) > 0 {
		b.WriteString(";BYMONTH=" + vcalJoinInts(r.byMonth))
	}
	if len(r.byYDay) > 0 {
		b.WriteString(";BYYEARDAY=" + vcalJoinInts(r.byYDay))
	}
	if len(r.byMDay) > 0 {
		b.WriteString(";BYMONTHDAY=" + vcalJoinInts(r.byMDay))
	}
	if len(r.byDay) > 0 {
		var ds []string
		for _, d := range r.byDay {
			s := vcalWeekdayNames[d.wd]
			if d.n != 0 {
				s = strconv.Itoa(d.n) + s
			}
			ds = append(ds, s)
		}
		b.WriteString(";BYDAY=" + strings.Join(ds, ","))
	}
	return b.String()
}

func vcalJoinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// vcalParseRule1 parses a vCalendar 1.0 RRULE. intervals is the "#n"
// value (0: forever or an end date is given); end is the end date text.
func vcalParseRule1(s string) (r vcalRule1, intervals int, end string, ok bool) {
	toks := strings.Fields(strings.ToUpper(s))
	if len(toks) == 0 {
		return r, 0, "", false
	}
	head := toks[0]
	i := 0
	for i < len(head) && (head[i] < '0' || head[i] > '9') {
		i++
	}
	r.code = head[:i]
	switch r.code {
	case "D", "W", "MP", "MD", "YM", "YD":
	default:
		return r, 0, "", false // M (minutely) and unknown kinds
	}
	r.interval = 1
	if i < len(head) {
		n, err := strconv.Atoi(head[i:])
		if err != nil || n < 1 {
			return r, 0, "", false
		}
		r.interval = min(n, 10000)
	}
	intervals = 2
	var pending []int // MP occurrences waiting for their weekdays
	flushPending := func(wd []time.Weekday) {
		for _, n := range pending {
			for _, d := range wd {
				r.pos = append(r.pos, vcalWDN{n, d})
			}
		}
	}
	var mpDays []time.Weekday
	for _, t := range toks[1:] {
		switch {
		case strings.HasPrefix(t, "#"):
			n, err := strconv.Atoi(t[1:])
			if err != nil || n < 0 {
				return r, 0, "", false
			}
			intervals = min(n, 100000)
			end = ""
			continue
		case len(t) >= 8 && allDigits(t[:8]):
			end = t
			intervals = 0
			continue
		}
		if wd, isDay := vcalWeekdayOf(strings.TrimRight(t, "$")); isDay {
			switch r.code {
			case "W":
				r.days = append(r.days, wd)
			case "MP":
				mpDays = append(mpDays, wd)
			default:
				return r, 0, "", false
			}
			continue
		}
		if len(t) == 4 && allDigits(t) {
			continue // time of day list: occurrences stay at the start's time
		}
		num, sign := t, 1
		switch {
		case t == "LD":
			num, sign = "1", -1
		case strings.HasSuffix(t, "-"):
			num, sign = t[:len(t)-1], -1
		case strings.HasSuffix(t, "+"):
			num = t[:len(t)-1]
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 {
			return r, 0, "", false
		}
		switch r.code {
		case "MP":
			if n > 5 {
				return r, 0, "", false
			}
			if len(mpDays) > 0 {
				flushPending(mpDays)
				pending, mpDays = nil, nil
			}
			pending = append(pending, sign*n)
		case "MD":
			if n > 31 {
				return r, 0, "", false
			}
			r.nums = append(r.nums, sign*n)
		case "YM":
			if n > 12 || sign < 0 {
				return r, 0, "", false
			}
			r.nums = append(r.nums, n)
		case "YD":
			if n > 366 {
				return r, 0, "", false
			}
			r.nums = append(r.nums, sign*n)
		default:
			return r, 0, "", false
		}
	}
	if r.code == "MP" {
		if len(pending) > 0 && len(mpDays) > 0 {
			flushPending(mpDays)
			pending = nil
		}
		for _, n := range pending { // occurrences without weekdays: filled in by toRecur
			r.pos = append(r.pos, vcalWDN{n, -1})
		}
		if len(pending) == 0 && len(mpDays) > 0 && len(r.pos) == 0 {
			for _, d := range mpDays {
				r.pos = append(r.pos, vcalWDN{0, d})
			}
		}
	}
	return r, intervals, end, true
}

// toRecur turns a vCalendar 1.0 rule into an iCalendar one; start is the
// first occurrence's wall clock. Lists that only repeat the start's own
// day or month are left out, as iCalendar implies them.
func (r vcalRule1) toRecur(start time.Time) vcalRecur {
	out := vcalRecur{interval: r.interval}
	switch r.code {
	case "D":
		out.freq = "DAILY"
	case "W":
		out.freq = "WEEKLY"
		days := r.days
		if len(days) == 0 {
			days = []time.Weekday{start.Weekday()}
		}
		for _, d := range vcalSortDays(days) {
			out.byDay = append(out.byDay, vcalWDN{0, d})
		}
	case "MP":
		out.freq = "MONTHLY"
		n0, _ := vcalOrdinals(start)
		for _, p := range r.pos {
			if p.wd < 0 {
				p.wd = start.Weekday()
			}
			if p.n == 0 && len(r.pos) == 1 {
				p.n = n0
			}
			out.byDay = append(out.byDay, p)
		}
		if len(out.byDay) == 0 {
			out.byDay = []vcalWDN{{n0, start.Weekday()}}
		}
	case "MD":
		out.freq = "MONTHLY"
		if !(len(r.nums) == 1 && r.nums[0] == start.Day()) {
			out.byMDay = r.nums
		}
	case "YM":
		out.freq = "YEARLY"
		if !(len(r.nums) == 1 && r.nums[0] == int(start.Month())) {
			out.byMonth = r.nums
		}
	case "YD":
		// Kept even when it is the start's: a day of the year is not a
		// date in leap years.
		out.freq, out.byYDay = "YEARLY", r.nums
		if len(out.byYDay) == 0 {
			out.byYDay = []int{start.YearDay()}
		}
	}
	return out
}

func vcalSortDays(d []time.Weekday) []time.Weekday {
	seen := map[time.Weekday]bool{}
	var out []time.Weekday
	for _, x := range d {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	// Monday first, as iCalendar writers do.
	sort.Slice(out, func(i, j int) bool { return (out[i]+6)%7 < (out[j]+6)%7 })
	return out
}

// toRule1 expresses an iCalendar rule in vCalendar 1.0 terms, if it can.
func (r vcalRecur) toRule1(start time.Time) (vcalRule1, bool) {
	out := vcalRule1{interval: r.interval}
	if r.other {
		return out, false
	}
	plainDays := func() ([]time.Weekday, bool) {
		var d []time.Weekday
		for _, x := range r.byDay {
			if x.n != 0 {
				return nil, false
			}
			d = append(d, x.wd)
		}
		return vcalSortDays(d), true
	}
	switch r.freq {
	case "DAILY":
		if len(r.byMDay)+len(r.byMonth)+len(r.byYDay)+len(r.bySetPos) > 0 {
			return out, false
		}
		if len(r.byDay) == 0 {
			out.code = "D"
			return out, true
		}
		d, ok := plainDays()
		if !ok || r.interval != 1 {
			return out, false
		}
		out.code, out.days = "W", d
		return out, true
	case "WEEKLY":
		if len(r.byMDay)+len(r.byMonth)+len(r.byYDay)+len(r.bySetPos) > 0 {
			return out, false
		}
		d, ok := plainDays()
		if !ok {
			return out, false
		}
		if len(d) == 0 {
			d = []time.Weekday{start.Weekday()}
		}
		out.code, out.days = "W", d
		return out, true
	case "MONTHLY":
		if len(r.byMonth)+len(r.byYDay) > 0 {
			return out, false
		}
		switch {
		case len(r.byDay) > 0 && len(r.byMDay) == 0:
			if len(r.bySetPos) > 0 {
				if len(r.bySetPos) != 1 || len(r.byDay) != 1 || r.byDay[0].n != 0 || r.bySetPos[0] < -5 || r.bySetPos[0] > 5 {
					return out, false
				}
				out.code, out.pos = "MP", []vcalWDN{{r.bySetPos[0], r.byDay[0].wd}}
				return out, true
			}
			allPlain := true
			for _, x := range r.byDay {
				if x.n == 0 {
					continue
				}
				allPlain = false
				if x.n < -5 || x.n > 5 {
					return out, false
				}
			}
			if allPlain {
				if r.interval != 1 {
					return out, false
				}
				d, _ := plainDays()
				out.code, out.days = "W", d
				return out, true
			}
			for _, x := range r.byDay {
				if x.n == 0 {
					return out, false
				}
			}
			out.code, out.pos = "MP", r.byDay
			return out, true
		case len(r.byDay) == 0 && len(r.bySetPos) == 0:
			out.code, out.nums = "MD", r.byMDay
			if len(out.nums) == 0 {
				out.nums = []int{start.Day()}
			}
			return out, true
		}
		return out, false
	case "YEARLY":
		if len(r.bySetPos) > 0 {
			return out, false
		}
		switch {
		case len(r.byYDay) > 0:
			if len(r.byDay)+len(r.byMDay)+len(r.byMonth) > 0 {
				return out, false
			}
			out.code, out.nums = "YD", r.byYDay
			return out, true
		case len(r.byDay) == 1 && r.byDay[0].n != 0 && r.byDay[0].n >= -5 && r.byDay[0].n <= 5 &&
			len(r.byMDay) == 0 && len(r.byMonth) == 1 && r.byMonth[0] == int(start.Month()) && r.interval <= 833:
			// The n-th weekday of one month each year: monthly by
			// position every 12 months.
			out.code, out.interval, out.pos = "MP", 12*r.interval, r.byDay
			return out, true
		case len(r.byDay) == 0:
			if len(r.byMDay) > 1 || (len(r.byMDay) == 1 && r.byMDay[0] != start.Day()) {
				return out, false
			}
			out.code, out.nums = "YM", r.byMonth
			if len(out.nums) == 0 {
				out.nums = []int{int(start.Month())}
			}
			return out, true
		}
	}
	return out, false
}

// vcal1String writes the rule without its duration.
func (r vcalRule1) vcal1String() string {
	var b strings.Builder
	b.WriteString(r.code + strconv.Itoa(r.interval))
	switch r.code {
	case "W":
		for _, d := range r.days {
			b.WriteString(" " + vcalWeekdayNames[d])
		}
	case "MP":
		// Group weekdays by ordinal: "1+ MO WE 1- FR".
		var order []int
		byN := map[int][]time.Weekday{}
		for _, p := range r.pos {
			if _, ok := byN[p.n]; !ok {
				order = append(order, p.n)
			}
			byN[p.n] = append(byN[p.n], p.wd)
		}
		for _, n := range order {
			if n < 0 {
				b.WriteString(" " + strconv.Itoa(-n) + "-")
			} else {
				b.WriteString(" " + strconv.Itoa(n) + "+")
			}
			for _, d := range byN[n] {
				b.WriteString(" " + vcalWeekdayNames[d])
			}
		}
	case "MD", "YD":
		for _, n := range r.nums {
			if n < 0 {
				b.WriteString(" " + strconv.Itoa(-n) + "-")
			} else {
				b.WriteString(" " + strconv.Itoa(n))
			}
		}
	case "YM":
		for _, n := range r.nums {
			b.WriteString(" " + strconv.Itoa(n))
		}
	}
	return b.String()
}

// alwaysOne reports whether every interval of the rule holds exactly one
// occurrence, so that counting intervals is counting occurrences.
func (r vcalRule1) alwaysOne(start time.Time) bool {
	switch r.code {
	case "D":
		return true
	case "W":
		return len(r.days) <= 1 && (len(r.days) == 0 || r.days[0] == start.Weekday())
	case "MP":
		return len(r.pos) == 1 && r.pos[0].n >= -4 && r.pos[0].n <= 4
	case "MD":
		return len(r.nums) <= 1 && (len(r.nums) == 0 || r.nums[0] >= -28 && r.nums[0] <= 28) && start.Day() <= 28
	case "YM":
		return len(r.nums) <= 1 && start.Day() <= 28
	case "YD":
		return len(r.nums) <= 1 && (len(r.nums) == 0 || r.nums[0] >= -365 && r.nums[0] <= 365) && start.YearDay() <= 365
	}
	return false
}

// vcalEnumerate calls fn with each occurrence date of r (wall clock,
// time of day taken from start) and its period number, in order, until
// fn returns false or about 110 years have been looked at. The start
// itself is always the first occurrence.
func vcalEnumerate(r vcalRecur, start time.Time, fn func(t time.Time, period int) bool) {
	iv := max(r.interval, 1)
	if len(r.bySetPos) == 1 && len(r.byDay) == 1 && r.byDay[0].n == 0 && r.bySetPos[0] != 0 {
		// The n-th of one weekday: an ordinal.
		r.byDay = []vcalWDN{{r.bySetPos[0], r.byDay[0].wd}}
	}
	switch r.freq {
	case "DAILY", "WEEKLY", "MONTHLY", "YEARLY":
	default:
		fn(start, 0)
		return
	}
	sd := vcalDateOf(start)
	tod := start.Sub(sd)
	sy, sm, _ := sd.Date()
	swd := int(sd.Weekday())
	monOff := (swd + 6) % 7 // days since the Monday of the start's week
	var wdSet [7]bool
	for _, x := range r.byDay {
		if x.n == 0 {
			wdSet[x.wd] = true
		}
	}
	if r.freq == "WEEKLY" && len(r.byDay) == 0 {
		wdSet[swd] = true
	}
	if !fn(start, 0) {
		return
	}
	const day = 24 * time.Hour
	for i := 1; i < 40000; i++ {
		wd := (swd + i) % 7
		var period int
		switch r.freq {
		case "DAILY":
			period = i
			if period%iv != 0 || len(r.byDay) > 0 && !wdSet[wd] {
				continue
			}
		case "WEEKLY":
			period = (i + monOff) / 7
			if period%iv != 0 {
				i += 6 - (i+monOff)%7 // to the week's Sunday
				continue
			}
			if !wdSet[wd] {
				continue
			}
		}
		d := sd.Add(time.Duration(i) * day)
		switch r.freq {
		case "MONTHLY":
			y, m, dd := d.Date()
			period = (y*12 + int(m)) - (sy*12 + int(sm))
			if period%iv != 0 {
				i += vcalMonthLen(y, m) - dd // to the month's last day
				continue
			}
			if !vcalMonthMatch(r, d, start) {
				continue
			}
		case "YEARLY":
			y, m, _ := d.Date()
			yl := time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC).YearDay()
			period = y - sy
			if period%iv != 0 {
				i += yl - d.YearDay() // to the year's last day
				continue
			}
			match := false
			switch {
			case len(r.byYDay) > 0:
				for _, yd := range r.byYDay {
					if yd < 0 {
						yd = yl + 1 + yd
					}
					match = match || yd == d.YearDay()
				}
			default:
				months := r.byMonth
				if len(months) == 0 {
					months = []int{int(sm)}
				}
				for _, mm := range months {
					if mm == int(m) {
						match = vcalMonthMatch(r, d, start)
						break
					}
				}
			}
			if !match {
				continue
			}
		}
		if !fn(d.Add(tod), period) {
			return
		}
	}
}

// vcalHasDay: d's weekday is among the plain weekdays (empty: any when
// emptyAll).
func vcalHasDay(days []vcalWDN, d time.Time, emptyAll bool) bool {
	if len(days) == 0 {
		return emptyAll
	}
	for _, x := range days {
		if x.wd == d.Weekday() {
			return true
		}
	}
	return false
}

// vcalMonthMatch: d matches the monthly part (BYDAY with ordinals,
// BYMONTHDAY, else the start's day of month).
func vcalMonthMatch(r vcalRecur, d, start time.Time) bool {
	ml := vcalMonthLen(d.Year(), d.Month())
	if len(r.byDay) > 0 {
		for _, x := range r.byDay {
			if x.wd != d.Weekday() {
				continue
			}
			if x.n == 0 || vcalNthWeekday(d.Year(), d.Month(), x.n, x.wd) == d.Day() {
				return true
			}
		}
		return false
	}
	if len(r.byMDay) > 0 {
		for _, m := range r.byMDay {
			if m < 0 {
				m = ml + 1 + m
			}
			if m == d.Day() {
				return true
			}
		}
		return false
	}
	return d.Day() == start.Day()
}

// vcalShiftRule moves a rule's weekdays and days of month by delta days,
// for when its start is written in a view (UTC or local) whose date
// differs from the one the rule was made in.
func vcalShiftRule(r *vcalRule1, delta int) {
	if delta == 0 {
		return
	}
	sh := func(d time.Weekday) time.Weekday { return time.Weekday(((int(d)+delta)%7 + 7) % 7) }
	for i := range r.days {
		r.days[i] = sh(r.days[i])
	}
	for i := range r.pos {
		if r.pos[i].wd >= 0 {
			r.pos[i].wd = sh(r.pos[i].wd)
		}
	}
	if r.code == "MD" {
		ok := true
		for _, n := range r.nums {
			ok = ok && n > 0 && n+delta >= 1 && n+delta <= 31
		}
		if ok {
			for i := range r.nums {
				r.nums[i] += delta
			}
		}
	}
}

// vcalRuleHas reports whether the rule names the given date's weekday (W,
// MP) or day of month (MD); other kinds always report true.
func vcalRuleHas(r vcalRule1, d time.Time) bool {
	switch r.code {
	case "W":
		if len(r.days) == 0 {
			return true
		}
		for _, x := range r.days {
			if x == d.Weekday() {
				return true
			}
		}
		return false
	case "MP":
		for _, x := range r.pos {
			if x.wd < 0 || x.wd == d.Weekday() {
				return true
			}
		}
		return len(r.pos) == 0
	case "MD":
		for _, n := range r.nums {
			if n == d.Day() || n < 0 {
				return true
			}
		}
		return len(r.nums) == 0
	}
	return true
}

// vcalAlignRule makes a rule written against the date from agree with the
// date to of the same start in another view: when it names from's day
// but not to's, it is shifted.
func vcalAlignRule(r *vcalRule1, from, to time.Time) {
	delta := int(vcalDateOf(to).Sub(vcalDateOf(from)).Hours() / 24)
	if delta == 0 || delta < -1 || delta > 1 {
		return
	}
	if vcalRuleHas(*r, from) && !vcalRuleHas(*r, to) {
		vcalShiftRule(r, delta)
	}
}
