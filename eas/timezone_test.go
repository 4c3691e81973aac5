package eas

import (
	"testing"
	"time"
)

func TestTimeZoneRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name       string
		bias, dst  int32
		stdM, dstM uint16
	}{
		{"Europe/Berlin", -60, -60, 10, 3},
		{"America/New_York", 300, -60, 11, 3},
		{"Australia/Sydney", -600, -60, 4, 10},
		{"Asia/Kolkata", -330, 0, 0, 0},
		{"Asia/Tokyo", -540, 0, 0, 0},
	} {
		loc, err := time.LoadLocation(c.name)
		if err != nil {
			t.Fatal(err)
		}
		z := zoneOf(loc, 2026)
		if z.Bias != c.bias || z.DstBias != c.dst || z.Std.Month != c.stdM || z.Dst.Month != c.dstM {
			t.Errorf("%s: %+v", c.name, z)
		}
		back, err := parseTimeZone(z.encode())
		if err != nil || *back != *z {
			t.Errorf("%s: encoded and read back: %+v, %v", c.name, back, err)
		}
		got := ianaZone(back, 2026)
		if got == nil || !sameRules(zoneOf(got, 2026), z) {
			t.Errorf("%s: matched %v", c.name, got)
		}
	}
	// Berlin's rules as Windows writes them: the last Sunday of March at
	// 02:00 and of October at 03:00.
	z := zoneOf(mustLoad(t, "Europe/Berlin"), 2026)
	if z.Dst != (sysTime{Month: 3, DayOfWeek: 0, Day: 5, Hour: 2}) || z.Std != (sysTime{Month: 10, DayOfWeek: 0, Day: 5, Hour: 3}) {
		t.Errorf("Berlin's rules: %+v", z)
	}
	// What Thunderbird + TbSync 4.18 sent for an event in UTC
	// (integration/testdata/eas/tbsync-140/v14.0/025-POST-Sync).
	tb, err := parseTimeZone("AAAAAEMAbwBvAHIAZABpAG4AYQB0AGUAZAAgAFUAbgBpAHYAZQByAHMAYQBsACAAVABpAG0AZQAgACgAVQBUAEMAKQAAAAAAAAAAAAAAAAAAAAAAAAAAAEMAbwBvAHIAZABpAG4AYQB0AGUAZAAgAFUAbgBpAHYAZQByAHMAYQBsACAAVABpAG0AZQAgACgAVQBUAEMAKQAAAAAAAAAAAAAAAAAAAAAAAAAAAA==")
	if err != nil || tb.StdName != "Coordinated Universal Time (UTC)" || tb.hasDST() {
		t.Fatalf("TbSync's UTC: %+v, %v", tb, err)
	}
	if loc := ianaZone(tb, 2027); loc == nil || loc.String() != "UTC" {
		t.Errorf("TbSync's UTC matched %v", loc)
	}
	if _, err := parseTimeZone("AAAA"); err == nil {
		t.Error("a short blob read")
	}
}

func mustLoad(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func FuzzParseTimeZone(f *testing.F) {
	f.Add(zoneOf(time.UTC, 2026).encode())
	f.Add("xP///0UAdQByAG8AcABlAC8AQgBlAHIAbABpAG4AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAKAAAABQADAAAAAAAAAAAAAABFAHUAcgBvAHAAZQAvAEIAZQByAGwAaQBuAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAwAAAAUAAgAAAAAAAAAAAMT///8=")
	f.Fuzz(func(t *testing.T, s string) {
		if z, err := parseTimeZone(s); err == nil {
			ianaZone(z, 2026)
		}
	})
}
