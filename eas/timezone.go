package eas

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"syncml-imap/internal/vformat"
)

// ActiveSync gives an event's time zone as a base64 TIME_ZONE_INFORMATION
// (MS-ASDTYPE 2.6.4, MS-ASCAL 2.2.2.46): the bias to UTC and, for zones
// with daylight saving, the yearly rules of both switches, and names.
// The mailbox's events name IANA zones, so a client's rules are matched
// against real zones; the zone of a stored event is written as its rules
// for the event's year.

// tzSize is the length of a TIME_ZONE_INFORMATION.
const tzSize = 172

// sysTime is a SYSTEMTIME as a rule: Year 0, Day the week of the month
// (1 to 5, 5 the last), DayOfWeek 0 for Sunday; the time is the local
// time of the switch, on the clock before it.
type sysTime struct {
	Year, Month, DayOfWeek, Day, Hour, Minute, Second, Millis uint16
}

// timeZone is a TIME_ZONE_INFORMATION. Biases are minutes, UTC = local +
// bias.
type timeZone struct {
	Bias             int32
	StdName, DstName string
	Std, Dst         sysTime
	StdBias, DstBias int32
}

// hasDST reports whether the zone switches.
func (z *timeZone) hasDST() bool { return z.Std.Month != 0 && z.Dst.Month != 0 }

func putName(b []byte, s string) {
	u := utf16.Encode([]rune(s))
	for i := 0; i < 31 && i < len(u); i++ {
		binary.LittleEndian.PutUint16(b[2*i:], u[i])
	}
}

func getName(b []byte) string {
	var u []uint16
	for i := 0; i < 32; i++ {
		c := binary.LittleEndian.Uint16(b[2*i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

func putSys(b []byte, t sysTime) {
	for i, v := range []uint16{t.Year, t.Month, t.DayOfWeek, t.Day, t.Hour, t.Minute, t.Second, t.Millis} {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
}

func getSys(b []byte) sysTime {
	v := func(i int) uint16 { return binary.LittleEndian.Uint16(b[2*i:]) }
	return sysTime{v(0), v(1), v(2), v(3), v(4), v(5), v(6), v(7)}
}

// encode is the zone as ActiveSync sends it.
func (z *timeZone) encode() string {
	b := make([]byte, tzSize)
	binary.LittleEndian.PutUint32(b[0:], uint32(z.Bias))
	putName(b[4:68], z.StdName)
	putSys(b[68:84], z.Std)
	binary.LittleEndian.PutUint32(b[84:], uint32(z.StdBias))
	putName(b[88:152], z.DstName)
	putSys(b[152:168], z.Dst)
	binary.LittleEndian.PutUint32(b[168:], uint32(z.DstBias))
	return base64.StdEncoding.EncodeToString(b)
}

var errTimeZone = errors.New("eas: not a TIME_ZONE_INFORMATION")

// parseTimeZone reads a client's TimeZone element.
func parseTimeZone(s string) (*timeZone, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != tzSize {
		return nil, errTimeZone
	}
	z := &timeZone{
		Bias:    int32(binary.LittleEndian.Uint32(b[0:])),
		StdName: getName(b[4:68]), Std: getSys(b[68:84]), StdBias: int32(binary.LittleEndian.Uint32(b[84:])),
		DstName: getName(b[88:152]), Dst: getSys(b[152:168]), DstBias: int32(binary.LittleEndian.Uint32(b[168:])),
	}
	if z.Bias < -14*60 || z.Bias > 14*60 || z.DstBias < -180 || z.DstBias > 180 || z.Std.Month > 12 || z.Dst.Month > 12 {
		return nil, fmt.Errorf("%w: bias %d, daylight bias %d", errTimeZone, z.Bias, z.DstBias)
	}
	return z, nil
}

// zoneOf is a zone's TIME_ZONE_INFORMATION for year y: its standard
// offset, and when it switches in y, the rules of both switches.
func zoneOf(loc *time.Location, y int) *timeZone {
	start := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	_, off0 := start.In(loc).Zone()
	z := &timeZone{}
	std, dst := off0, off0
	var into, out time.Time // the switches into and out of daylight saving
	prev := off0
	yearEnd := time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC)
	for t := start; t.Before(yearEnd); t = t.Add(24 * time.Hour) {
		next := t.Add(24 * time.Hour)
		_, off := next.In(loc).Zone()
		if off == prev {
			continue
		}
		// The first minute of the new offset: the old one holds at lo,
		// the new one at hi.
		lo, hi := t, next
		for hi.Sub(lo) > time.Minute {
			mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Minute)
			if !mid.After(lo) {
				break
			}
			if _, o := mid.In(loc).Zone(); o == off {
				hi = mid
			} else {
				lo = mid
			}
		}
		s := hi
		if !s.Before(yearEnd) {
			break
		}
		if off > prev {
			into, std, dst = s, prev, off
		} else {
			out, std, dst = s, off, prev
		}
		prev = off
	}
	name, _ := start.In(loc).Zone()
	z.Bias, z.StdName = int32(-std/60), name
	if into.IsZero() || out.IsZero() {
		return z
	}
	z.DstBias, z.DstName = int32(-(dst-std)/60), into.In(loc).Format("MST")
	z.StdName = out.In(loc).Format("MST")
	z.Dst = ruleOf(into.Add(time.Duration(std) * time.Second))
	z.Std = ruleOf(out.Add(time.Duration(dst) * time.Second))
	return z
}

// ruleOf is the yearly rule of a switch at wall time w (on the clock
// before it).
func ruleOf(w time.Time) sysTime {
	week := (w.Day()-1)/7 + 1
	if w.Day()+7 > time.Date(w.Year(), w.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		week = 5 // the last of the month
	}
	return sysTime{Month: uint16(w.Month()), DayOfWeek: uint16(w.Weekday()), Day: uint16(week), Hour: uint16(w.Hour()), Minute: uint16(w.Minute())}
}

// sameRules reports whether two zones have the same offsets and switch
// by the same rules (names do not count: clients write their own).
func sameRules(a, b *timeZone) bool {
	if a.Bias != b.Bias || a.hasDST() != b.hasDST() {
		return false
	}
	if !a.hasDST() {
		return true
	}
	same := func(x, y sysTime) bool {
		return x.Month == y.Month && x.DayOfWeek == y.DayOfWeek && x.Day == y.Day && x.Hour == y.Hour && x.Minute == y.Minute
	}
	return a.DstBias == b.DstBias && same(a.Std, b.Std) && same(a.Dst, b.Dst)
}

// ianaZone is the IANA zone that keeps a client's rules in year y, or
// nil; a zone without daylight saving at a whole hour is Etc/GMT∓h.
func ianaZone(z *timeZone, y int) *time.Location {
	for _, name := range vformat.TZCandidates() {
		if loc, err := time.LoadLocation(name); err == nil && sameRules(zoneOf(loc, y), z) {
			return loc
		}
	}
	if !z.hasDST() && z.Bias%60 == 0 {
		h := -z.Bias / 60
		name := "Etc/GMT+" + fmt.Sprint(-h)
		if h > 0 {
			name = "Etc/GMT-" + fmt.Sprint(h)
		}
		if h == 0 {
			name = "UTC"
		}
		if loc, err := time.LoadLocation(name); err == nil {
			return loc
		}
	}
	return nil
}
