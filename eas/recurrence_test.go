package eas

import (
	"strings"
	"testing"
	"time"
)

func TestRecurrence(t *testing.T) {
	start := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC) // a Tuesday
	for _, c := range []struct {
		rrule, fields, back string
	}{
		{"FREQ=DAILY", "Type=0 Interval=1", "FREQ=DAILY"},
		{"FREQ=DAILY;INTERVAL=2;COUNT=10", "Type=0 Occurrences=10 Interval=2", ""},
		{"FREQ=WEEKLY", "Type=1 Interval=1 DayOfWeek=4", "FREQ=WEEKLY;BYDAY=TU"},
		{"FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20270301T000000Z", "Type=1 Interval=1 DayOfWeek=42 Until=20270301T000000Z", ""},
		{"FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "Type=1 Interval=1 DayOfWeek=62", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"},
		{"FREQ=MONTHLY", "Type=2 Interval=1 DayOfMonth=8", "FREQ=MONTHLY;BYMONTHDAY=8"},
		{"FREQ=MONTHLY;BYDAY=2TU", "Type=3 Interval=1 DayOfWeek=4 WeekOfMonth=2", ""},
		{"FREQ=MONTHLY;BYDAY=-1FR", "Type=3 Interval=1 DayOfWeek=32 WeekOfMonth=5", ""},
		{"FREQ=YEARLY", "Type=5 Interval=1 DayOfMonth=8 MonthOfYear=12", "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=8"},
		{"FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", "Type=6 Interval=1 DayOfWeek=16 WeekOfMonth=4 MonthOfYear=11", ""},
	} {
		fs, ok := recurrenceOf(c.rrule, start)
		var got []string
		for _, f := range fs {
			got = append(got, f.Name+"="+f.Value)
		}
		if !ok || strings.Join(got, " ") != c.fields {
			t.Errorf("%s: %v %v, want %s", c.rrule, ok, got, c.fields)
			continue
		}
		want := c.back
		if want == "" {
			want = c.rrule
		}
		if back, ok := rruleOf(fs); !ok || back != want {
			t.Errorf("%s: back %q %v, want %q", c.rrule, back, ok, want)
		}
	}
	for _, r := range []string{"FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU", "FREQ=MONTHLY;BYMONTHDAY=-1", "FREQ=HOURLY", "FREQ=WEEKLY;BYDAY=1MO", "FREQ=MONTHLY;BYMONTHDAY=1,15", "garbage"} {
		if fs, ok := recurrenceOf(r, start); ok {
			t.Errorf("%s has no ActiveSync form, got %v", r, fs)
		}
	}
	if _, ok := rruleOf([]Field{{Name: "Type", Value: "1"}, {Name: "DayOfWeek", Value: "0"}}); ok {
		t.Error("a weekly pattern without days")
	}
}

func FuzzRecurrence(f *testing.F) {
	f.Add("FREQ=MONTHLY;BYDAY=-1FR;INTERVAL=3;COUNT=4")
	f.Add("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;UNTIL=20300101")
	f.Fuzz(func(t *testing.T, rrule string) {
		fs, ok := recurrenceOf(rrule, time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC))
		if !ok {
			return
		}
		back, ok := rruleOf(fs)
		if !ok {
			t.Fatalf("%q: fields %v make no rule", rrule, fs)
		}
		again, ok := recurrenceOf(back, time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC))
		if !ok || len(again) != len(fs) {
			t.Fatalf("%q -> %q -> %v", rrule, back, again)
		}
	})
}
