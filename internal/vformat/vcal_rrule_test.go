package vformat

import (
	"strings"
	"testing"
	"time"
)

// vCalendar 1.0 RRULE -> iCalendar RRULE, through the whole conversion.
func TestVCalRRuleToICal(t *testing.T) {
	tests := []struct {
		start, rule string
		want        string // "" = no RRULE
		extra       string // more properties (TZ, DAYLIGHT)
	}{
		{"20261102T090000Z", "D1 #10", "FREQ=DAILY;COUNT=10", ""},
		{"20261102T090000Z", "D2 #0", "FREQ=DAILY;INTERVAL=2", ""},
		{"20261102T090000Z", "D1", "FREQ=DAILY;COUNT=2", ""}, // the specification's default "#2"
		{"20261102T090000Z", "D1 20261110T000000Z", "FREQ=DAILY;UNTIL=20261110T090000Z", ""},
		{"20261102T090000", "W2 MO WE 20261231T000000", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;UNTIL=20261231T090000", ""},
		{"20261103T090000Z", "W1 TU TH #5", "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=10", ""}, // five weeks
		{"20261105T090000Z", "W1 TU TH #5", "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=9", ""},  // starts on the Thursday
		{"20261103T090000Z", "W1 #3", "FREQ=WEEKLY;BYDAY=TU;COUNT=3", ""},
		{"20261103T090000Z", "W1 TU$ #3", "FREQ=WEEKLY;BYDAY=TU;COUNT=3", ""},
		{"20261102T090000Z", "MP1 1+ MO #0", "FREQ=MONTHLY;BYDAY=1MO", ""},
		{"20261127T090000Z", "MP1 1- FR #3", "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3", ""},
		{"20261113T090000Z", "MP1 #0", "FREQ=MONTHLY;BYDAY=2FR", ""},
		{"20261113T090000Z", "MP1 2+ #0", "FREQ=MONTHLY;BYDAY=2FR", ""},
		{"20261102T090000Z", "MP1 1+ 3+ MO #0", "FREQ=MONTHLY;BYDAY=1MO,3MO", ""},
		{"20261102T090000Z", "MP2 1+ MO 1- FR #2", "FREQ=MONTHLY;INTERVAL=2;BYDAY=1MO,-1FR;COUNT=4", ""},
		{"20261101T090000Z", "MD1 1 15 #0", "FREQ=MONTHLY;BYMONTHDAY=1,15", ""},
		{"20261130T090000Z", "MD1 LD #0", "FREQ=MONTHLY;BYMONTHDAY=-1", ""},
		{"20261130T090000Z", "MD1 1- #0", "FREQ=MONTHLY;BYMONTHDAY=-1", ""},
		{"20261106T090000Z", "MD1 6 #3", "FREQ=MONTHLY;COUNT=3", ""},
		{"20260131T090000Z", "MD1 31 #3", "FREQ=MONTHLY;COUNT=2", ""}, // February has no 31st
		{"20260601T090000Z", "YM1 6 #0", "FREQ=YEARLY", ""},
		{"20260601T090000Z", "YM1 6 12 #4", "FREQ=YEARLY;BYMONTH=6,12;COUNT=8", ""},
		{"20260410T090000Z", "YD1 100 #5", "FREQ=YEARLY;BYYEARDAY=100;COUNT=5", ""},
		{"20260101T090000Z", "YD1 1 100 #0", "FREQ=YEARLY;BYYEARDAY=1,100", ""},
		{"20261102T090000Z", "D1 0800 1200 #2", "FREQ=DAILY;COUNT=2", ""}, // time list ignored
		{"20261102T090000Z", "M5 #3", "", ""},                             // minutely
		{"20261102T090000Z", "XYZ", "", ""},
		{"20261102T090000Z", "W0 MO", "", ""},
		{"20261102T090000Z", "MD1 40 #1", "", ""},
		// The day follows the view: a Berlin device writes local Friday
		// 00:30 as Thursday 23:30 UTC and the rule in local days.
		{"20261126T233000Z", "W1 FR #2", "FREQ=WEEKLY;BYDAY=FR;COUNT=2", "TZ:+01\nDAYLIGHT:FALSE"},
		// The same start with the rule in UTC days: moved to local days.
		{"20261126T233000Z", "W1 TH #2", "FREQ=WEEKLY;BYDAY=FR;COUNT=2", "TZ:+01\nDAYLIGHT:FALSE"},
		// No zone: a UTC start in the evening with the device's next-day
		// weekday is moved back to the UTC day.
		{"20261126T233000Z", "W1 FR #2", "FREQ=WEEKLY;BYDAY=TH;COUNT=2", ""},
		{"20261126T233000Z", "MD1 27 #2", "FREQ=MONTHLY;COUNT=2", ""},
	}
	for _, tt := range tests {
		in := vcalTestWrap(tt.extra + "\nBEGIN:VEVENT\nDTSTART:" + tt.start + "\nRRULE:" + tt.rule + "\nEND:VEVENT")
		out, _ := vcalTestToICal(t, in)
		got := vcalTestProp(out, "RRULE")
		if got != tt.want {
			t.Errorf("%s %q: got %q, want %q\n%s", tt.start, tt.rule, got, tt.want, out)
		}
	}
}

// iCalendar RRULE -> vCalendar 1.0 RRULE.
func TestVCalRRuleToVCal10(t *testing.T) {
	tests := []struct {
		start, rule string
		want        string // "" = left out
	}{
		{"20261102T090000Z", "FREQ=DAILY", "D1 #0"},
		{"20261102T090000Z", "FREQ=DAILY;INTERVAL=3;COUNT=5", "D3 #5"},
		{"20261102T090000Z", "FREQ=DAILY;UNTIL=20261110T090000Z", "D1 20261110T090000Z"},
		{"20261102T090000Z", "FREQ=DAILY;UNTIL=20261110T000000Z", "D1 20261109T235959Z"}, // before the day's occurrence
		{"20261102T090000Z", "FREQ=DAILY;UNTIL=20261110", "D1 20261110T090000Z"},
		{"20261102T090000Z", "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20261231T235959Z", "W1 MO WE FR 20261231T235959Z"},
		{"20261103T090000Z", "FREQ=WEEKLY;COUNT=3", "W1 TU #3"},
		{"20261103T090000Z", "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=10", "W1 TU TH 20261203T090000Z"},
		{"20261103T090000Z", "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=TU", "W2 TU #0"},
		{"20261102T090000Z", "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "W1 MO TU WE TH FR #0"},
		{"20261110T090000Z", "FREQ=MONTHLY;BYDAY=2TU", "MP1 2+ TU #0"},
		{"20261127T090000Z", "FREQ=MONTHLY;BYDAY=-1FR;COUNT=4", "MP1 1- FR #4"},
		{"20261124T090000Z", "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=-1", "MP1 1- TU #0"},
		{"20261102T090000Z", "FREQ=MONTHLY;BYDAY=1MO,-1FR", "MP1 1+ MO 1- FR #0"},
		{"20261130T090000Z", "FREQ=MONTHLY;BYDAY=5MO", "MP1 5+ MO #0"},
		{"20261101T090000Z", "FREQ=MONTHLY;BYMONTHDAY=1,-1", "MD1 1 1- #0"},
		{"20261106T090000Z", "FREQ=MONTHLY;INTERVAL=2", "MD2 6 #0"},
		{"20260406T090000Z", "FREQ=YEARLY;UNTIL=20270406T090000Z", "YM1 4 20270406T090000Z"},
		{"20260601T090000Z", "FREQ=YEARLY;BYMONTH=6,12;COUNT=4", "YM1 6 12 20271201T090000Z"},
		{"20260329T090000Z", "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "MP12 1- SU #0"},
		{"20260410T090000Z", "FREQ=YEARLY;BYYEARDAY=100", "YD1 100 #0"},
		{"20261102T090000Z", "FREQ=DAILY;BYHOUR=9,15", ""},
		{"20261102T090000Z", "FREQ=HOURLY;INTERVAL=4", ""},
		{"20261102T090000Z", "FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=1", ""},
		{"20261102T090000Z", "FREQ=YEARLY;BYWEEKNO=20", ""},
		{"20261102T090000Z", "FREQ=MONTHLY;BYDAY=MO;INTERVAL=2", ""},
		{"20261102T090000Z", "FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=9", ""},
		{"20261102T090000Z", "FREQ=BOGUS", ""},
	}
	for _, tt := range tests {
		in := vcalTestWrapICal("BEGIN:VEVENT\nDTSTART:" + tt.start + "\nRRULE:" + tt.rule + "\nEND:VEVENT")
		out := vcalTestToVCal(t, in, nil)
		got := vcalTestProp(out, "RRULE")
		if got != tt.want {
			t.Errorf("%s %q: got %q, want %q", tt.start, tt.rule, got, tt.want)
		}
		// Whatever was written reads back to the same occurrences.
		if got == "" {
			continue
		}
		back, _ := vcalTestToICal(t, out)
		a := vcalTestOccurrences(vcalTestItems(t, in)[0], 40)
		b := vcalTestOccurrences(vcalTestItems(t, back)[0], 40)
		if strings.Join(a, " ") != strings.Join(b, " ") {
			t.Errorf("%q -> %q -> back: occurrences differ\n%v\n%v", tt.rule, got, a, b)
		}
	}
}

// Device local output: weekdays follow the start into the device's view.
func TestVCalRRuleDayShiftOut(t *testing.T) {
	in := vcalTestWrapICal("BEGIN:VEVENT\nDTSTART;TZID=America/New_York:20261105T200000\nRRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=3\nEND:VEVENT")
	// UTC: Friday 01:00.
	vcalTestHas(t, vcalTestToVCal(t, in, nil), "DTSTART:20261106T010000Z", "RRULE:W1 FR #3")
	// Tokyo: Friday 10:00.
	vcalTestHas(t, vcalTestToVCal(t, in, &VCalOptions{Zone: vcalTestLoad(t, "Asia/Tokyo")}), "DTSTART:20261106T100000", "RRULE:W1 FR #3")
	// New York: as stored.
	vcalTestHas(t, vcalTestToVCal(t, in, &VCalOptions{Zone: vcalTestLoad(t, "America/New_York")}), "DTSTART:20261105T200000", "RRULE:W1 TH #3")
	// And back from UTC with the zone in TZ/DAYLIGHT: Thursday again.
	back, _ := vcalTestToICal(t, vcalTestToVCal(t, in, nil))
	vcalTestHas(t, back, "DTSTART;TZID=America/New_York:20261105T200000", "RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=3")
}

func TestVCalEnumerate(t *testing.T) {
	start := time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)
	r := vcalRecur{freq: "MONTHLY", interval: 1, byMDay: []int{-1}}
	var got []string
	vcalEnumerate(r, start, func(d time.Time, _ int) bool {
		got = append(got, d.Format("0102"))
		return len(got) < 4
	})
	if strings.Join(got, " ") != "0131 0228 0331 0430" {
		t.Errorf("last day of month: %v", got)
	}
	if d := vcalNthWeekday(2026, time.March, -1, time.Sunday); d != 29 {
		t.Errorf("last Sunday of March 2026: %d", d)
	}
	if d := vcalNthWeekday(2026, time.November, 1, time.Sunday); d != 1 {
		t.Errorf("first Sunday of November 2026: %d", d)
	}
	if d := vcalNthWeekday(2026, time.February, 5, time.Monday); d != 0 {
		t.Errorf("fifth Monday of February 2026: %d", d)
	}
}

// vcalTestProp is the value of the first property name inside a VEVENT or
// VTODO of out ("" when there is none).
func vcalTestProp(out []byte, name string) string {
	in := false
	for _, l := range vcalTestLines(out) {
		switch {
		case l == "BEGIN:VEVENT" || l == "BEGIN:VTODO":
			in = true
		case l == "END:VEVENT" || l == "END:VTODO" || strings.HasPrefix(l, "BEGIN:"):
			in = false
		case in && strings.HasPrefix(l, name+":"):
			return strings.TrimPrefix(l, name+":")
		}
	}
	return ""
}
