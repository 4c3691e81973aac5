package vobject

import (
	"math"
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	tests := []struct {
		in    string
		days  int
		exact time.Duration
		out   string
	}{
		{"-PT15M", 0, -15 * time.Minute, "-PT15M"},
		{"P1D", 1, 0, "P1D"},
		{"-P1DT2H", -1, -2 * time.Hour, "-P1DT2H"},
		{"P2W", 14, 0, "P2W"},
		{"PT0S", 0, 0, "PT0S"},
		{"+PT1H30M", 0, 90 * time.Minute, "PT1H30M"},
		{" p1w2dt1s ", 9, time.Second, "P9DT1S"},
		{"PT30S1M", 0, 90 * time.Second, "PT1M30S"},
		{"P1DT", 1, 0, "P1D"},
		{"PT2562047H", 0, 2562047 * time.Hour, "PT2562047H"},
	}
	for _, tt := range tests {
		d, ok := ParseDuration(tt.in)
		if !ok || d.Days != tt.days || d.Exact != tt.exact {
			t.Errorf("ParseDuration(%q) = %+v %v", tt.in, d, ok)
		}
		if s := d.String(); s != tt.out {
			t.Errorf("%q formatted %s", tt.in, s)
		}
	}
	// The SIF reader took "P1T2H" for twelve hours and vCalendar's took
	// "P15M" for 15 minutes (ISO 8601 has it 15 months); RFC 5545 3.3.6
	// has H, M and S only after one T.
	// "PT9999999H" overflowed vCalendar's exact part (a time.Duration)
	// into garbage.
	for _, bad := range []string{"", "P", "PT", "15M", "P1X", "P99999999D", "P1T2H", "P15M", "PT9999999H", "P1H", "PT1HT2M", "PT1D", "P-1D", "PTH"} {
		if d, ok := ParseDuration(bad); ok {
			t.Errorf("%q parsed: %+v", bad, d)
		}
	}
}

func TestDurationSeconds(t *testing.T) {
	d, _ := ParseDuration("-P1DT1H")
	if d.Seconds() != -90000 || d.Approx() != -25*time.Hour || !d.Negative() {
		t.Errorf("-P1DT1H: %d %v %v", d.Seconds(), d.Approx(), d.Negative())
	}
	big := Duration{Days: 9999999 * 7 * 1000}
	if big.Approx() != math.MaxInt64 {
		t.Errorf("not saturated: %v", big.Approx())
	}
}

// FuzzDuration: what parses writes back to what reads the same.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{"-P1DT2H", "P2W", "PT0S", "+PT1H30M", "P1T2H"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseDuration(s)
		if !ok {
			return
		}
		back, ok := ParseDuration(d.String())
		if !ok || back != d {
			t.Fatalf("%q: %+v written %q, read back %+v %v", s, d, d.String(), back, ok)
		}
	})
}
