package vobject

// The DURATION value type (RFC 5545 3.3.6), as TRIGGER, DURATION and
// vCalendar 1.0 AALARM snooze times use it: the one parser of it.

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is an RFC 5545 duration: nominal days (weeks and days, which
// follow the wall clock across a daylight saving change, RFC 5545 3.3.6)
// and an exact part (hours, minutes, seconds). Both have the sign of the
// duration.
type Duration struct {
	Days  int
	Exact time.Duration
}

// maxDurationDigits bounds each number of a duration: ten million days
// or hours is far beyond any alarm or event, and the sums stay in range.
const maxDurationDigits = 7

// ParseDuration reads a duration ("-PT15M", "P1DT2H", "P2W", "+P1W2D").
// It is lenient about case, white space around the value, the order of
// the parts, weeks mixed with days and a "T" with nothing after it, and
// strict where a reading would be a guess: H, M and S only after the
// "T" (an "M" before it would be ISO 8601's month), W and D only before
// it, each number of at most 7 digits, at least one part, an exact part
// of at most 292 years (what a time.Duration holds).
func ParseDuration(s string) (Duration, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	if !strings.HasPrefix(s, "P") {
		return Duration{}, false
	}
	var d Duration
	var secs int64 // the exact part
	inTime, seen := false, false
	num := 0 // digits of the number being read
	n := 0
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			if num++; num > maxDurationDigits {
				return Duration{}, false
			}
			n = n*10 + int(c-'0')
			continue
		}
		if c == 'T' {
			if inTime || num > 0 {
				return Duration{}, false
			}
			inTime = true
			continue
		}
		if num == 0 {
			return Duration{}, false
		}
		switch {
		case c == 'W' && !inTime:
			d.Days += 7 * n
		case c == 'D' && !inTime:
			d.Days += n
		case c == 'H' && inTime:
			secs += int64(n) * 3600
		case c == 'M' && inTime:
			secs += int64(n) * 60
		case c == 'S' && inTime:
			secs += int64(n)
		default:
			return Duration{}, false
		}
		num, n, seen = 0, 0, true
	}
	if !seen || num > 0 || secs > math.MaxInt64/int64(time.Second) {
		return Duration{}, false // an exact part a time.Duration cannot hold
	}
	d.Exact = time.Duration(secs) * time.Second
	if neg {
		d.Days, d.Exact = -d.Days, -d.Exact
	}
	return d, true
}

// Negative reports whether the duration points back in time.
func (d Duration) Negative() bool { return d.Days < 0 || d.Exact < 0 }

// Seconds is the duration in seconds taking a day for 24 hours, as where
// no time zone is at hand (a SIF alarm, a filter window).
func (d Duration) Seconds() int64 {
	return int64(d.Days)*86400 + int64(d.Exact/time.Second)
}

// Approx is Seconds as a time.Duration, saturated at its range.
func (d Duration) Approx() time.Duration {
	s := d.Seconds()
	const limit = math.MaxInt64 / int64(time.Second)
	switch {
	case s > limit:
		return math.MaxInt64
	case s < -limit:
		return math.MinInt64
	}
	return time.Duration(s) * time.Second
}

// String writes the duration as RFC 5545 does, in its shortest form
// ("P2W", "-P1DT2H", "PT0S"); the exact part is written in whole seconds.
func (d Duration) String() string {
	var b strings.Builder
	days, exact := d.Days, d.Exact
	if d.Negative() {
		b.WriteByte('-')
		days, exact = -days, -exact
	}
	b.WriteByte('P')
	secs := int64(exact / time.Second)
	if days == 0 && secs == 0 {
		return b.String() + "T0S"
	}
	if days > 0 {
		if days%7 == 0 && secs == 0 {
			return b.String() + strconv.Itoa(days/7) + "W"
		}
		b.WriteString(strconv.Itoa(days) + "D")
	}
	if secs > 0 {
		b.WriteByte('T')
		if h := secs / 3600; h > 0 {
			b.WriteString(strconv.FormatInt(h, 10) + "H")
		}
		if m := secs % 3600 / 60; m > 0 {
			b.WriteString(strconv.FormatInt(m, 10) + "M")
		}
		if s := secs % 60; s > 0 {
			b.WriteString(strconv.FormatInt(s, 10) + "S")
		}
	}
	return b.String()
}
