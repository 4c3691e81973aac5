package vformat

import (
	"testing"
	"time"

	"syncml-imap/internal/vobject"
)

func TestLookupZone(t *testing.T) {
	cal := vobject.Parse([]byte("BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n" +
		"BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n" +
		"BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\n" +
		"END:VTIMEZONE\r\nBEGIN:VTIMEZONE\r\nTZID:Fixed\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n"))[0]
	for _, tc := range []struct {
		tzid string
		wall time.Time
		want time.Time
	}{
		{"Europe/Berlin", time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)},
		{"Europe/Berlin", time.Date(2026, 3, 29, 2, 30, 0, 0, time.UTC), time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)},   // skipped: the offset before
		{"Europe/Berlin", time.Date(2026, 10, 25, 2, 30, 0, 0, time.UTC), time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)}, // repeated: the first
		{"Fixed", time.Date(2026, 1, 1, 5, 30, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"/mozilla.org/20050126_1/America/New_York", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC)},
		{"Nowhere/Unknown", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"UTC", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		z := LookupZone(cal, tc.tzid)
		got := z.Instant(tc.wall)
		if !got.Equal(tc.want) {
			t.Errorf("%s: %v is %v, want %v", tc.tzid, tc.wall, got, tc.want)
		}
		if back := z.Wall(got); !back.Equal(tc.wall) && tc.wall.Hour() != 2 {
			t.Errorf("%s: %v back to %v", tc.tzid, got, back)
		}
	}
	if z := LookupZone(cal, "UTC"); z != nil || z.Offset(time.Now()) != 0 {
		t.Errorf("UTC is %+v", z)
	}
}
