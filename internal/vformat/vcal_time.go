package vformat

// Date, date-time and duration values.

import (
	"strconv"
	"strings"
	"time"
)

// vcalKind says how a date-time value is anchored.
type vcalKind int

const (
	vcalFloating vcalKind = iota // local time of no known zone
	vcalUTC                      // "Z"
	vcalZoned                    // local time in zone
	vcalDate                     // date only
)

// vcalDT is a parsed date or date-time. wall holds the written fields in a
// time.Time located in UTC (for vcalUTC it is the instant itself).
type vcalDT struct {
	wall time.Time
	kind vcalKind
	zone *vcalZone // for vcalZoned
}

func (d vcalDT) isZero() bool { return d.wall.IsZero() }

// instant returns the absolute time, when it is known.
func (d vcalDT) instant() (time.Time, bool) {
	switch d.kind {
	case vcalUTC:
		return d.wall, true
	case vcalZoned:
		if d.zone != nil {
			return d.zone.toUTC(d.wall), true
		}
	}
	return time.Time{}, false
}

// in expresses d in the view of zone z (nil: UTC). Floating and date
// values are kept as they are.
func (d vcalDT) in(z *vcalZone) vcalDT {
	u, ok := d.instant()
	if !ok {
		return d
	}
	if z == nil {
		return vcalDT{wall: u, kind: vcalUTC}
	}
	return vcalDT{wall: z.toWall(u), kind: vcalZoned, zone: z}
}

// vcalParseDT parses the basic ISO 8601 forms devices send: 20261224,
// 20261224T100000, 20261224T100000Z, 20261224T1000 and the extended
// 2026-12-24T10:00:00Z. Hour 24 means midnight of the next day.
func vcalParseDT(s string) (t time.Time, utc, date, ok bool) {
	s = strings.TrimSpace(s)
	s = strings.NewReplacer("-", "", ":", "").Replace(s)
	if strings.HasSuffix(s, "Z") || strings.HasSuffix(s, "z") {
		utc = true
		s = s[:len(s)-1]
	}
	if i := strings.IndexByte(s, '.'); i >= 0 { // fractional seconds
		s = s[:i]
	}
	datePart, timePart, hasT := strings.Cut(s, "T")
	if !hasT {
		datePart, timePart, hasT = strings.Cut(s, "t")
	}
	if len(datePart) != 8 || !allDigits(datePart) {
		return time.Time{}, false, false, false
	}
	y, _ := strconv.Atoi(datePart[:4])
	mo, _ := strconv.Atoi(datePart[4:6])
	d, _ := strconv.Atoi(datePart[6:8])
	if mo < 1 || mo > 12 || d < 1 || d > 31 || y < 1 {
		return time.Time{}, false, false, false
	}
	if !hasT {
		if utc {
			return time.Time{}, false, false, false
		}
		return time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC), false, true, true
	}
	if !allDigits(timePart) || (len(timePart) != 6 && len(timePart) != 4) {
		return time.Time{}, false, false, false
	}
	h, _ := strconv.Atoi(timePart[:2])
	mi, _ := strconv.Atoi(timePart[2:4])
	sec := 0
	if len(timePart) == 6 {
		sec, _ = strconv.Atoi(timePart[4:6])
	}
	if h > 24 || mi > 59 || sec > 60 || (h == 24 && (mi != 0 || sec != 0)) {
		return time.Time{}, false, false, false
	}
	if sec == 60 {
		sec = 59
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC), utc, false, true
}

// vcalFmtDate, vcalFmtLocal and vcalFmtUTC format the three forms.
func vcalFmtDate(t time.Time) string  { return t.Format("20060102") }
func vcalFmtLocal(t time.Time) string { return t.Format("20060102T150405") }
func vcalFmtUTC(t time.Time) string   { return t.UTC().Format("20060102T150405Z") }

func vcalDateOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func vcalIsMidnight(t time.Time) bool {
	return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0
}

// vcalParseOffset parses a UTC offset as vCalendar 1.0 (TZ:+01, -05:00,
// +0530, +1) and iCalendar (TZOFFSETTO:+0200) write it. Seconds east.
func vcalParseOffset(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	sign := 1
	switch s[0] {
	case '-':
		sign, s = -1, s[1:]
	case '+':
		s = s[1:]
	}
	s = strings.ReplaceAll(s, ":", "")
	if !allDigits(s) {
		return 0, false
	}
	var h, m, sec int
	switch len(s) {
	case 1, 2:
		h, _ = strconv.Atoi(s)
	case 3:
		h, _ = strconv.Atoi(s[:1])
		m, _ = strconv.Atoi(s[1:])
	case 4:
		h, _ = strconv.Atoi(s[:2])
		m, _ = strconv.Atoi(s[2:])
	case 6:
		h, _ = strconv.Atoi(s[:2])
		m, _ = strconv.Atoi(s[2:4])
		sec, _ = strconv.Atoi(s[4:])
	default:
		return 0, false
	}
	if h > 14 || m > 59 || sec > 59 {
		return 0, false
	}
	return sign * (h*3600 + m*60 + sec), true
}

// vcalFmtOffset writes an offset as iCalendar does (+0100) or, with
// short, as vCalendar 1.0 devices do (+01, +05:30).
func vcalFmtOffset(off int, short bool) string {
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	h, m, s := off/3600, off%3600/60, off%60
	switch {
	case short && m == 0 && s == 0:
		return sign + vcal2(h)
	case short:
		return sign + vcal2(h) + ":" + vcal2(m)
	case s != 0:
		return sign + vcal2(h) + vcal2(m) + vcal2(s)
	}
	return sign + vcal2(h) + vcal2(m)
}

func vcal2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
