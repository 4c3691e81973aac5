package vformat

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vcalFuzzSeeds adds the fixtures whose name ends in one of exts.
func vcalFuzzSeeds(f *testing.F, exts ...string) {
	files, _ := filepath.Glob(filepath.Join("testdata", "vcal", "*"))
	for _, name := range files {
		for _, ext := range exts {
			if strings.HasSuffix(name, ext) {
				if b, err := os.ReadFile(name); err == nil {
					f.Add(b)
				}
			}
		}
	}
}

func FuzzVCal10ToICal20(f *testing.F) {
	vcalFuzzSeeds(f, ".vcs", ".txt")
	f.Add([]byte("BEGIN:VCALENDAR\r\nVERSION:1.0\r\nTZ:+05:30\r\nDAYLIGHT:TRUE;+06;20260101T000000;20261231T000000;;\r\nBEGIN:VTODO\r\nDUE:20260101\r\nRRULE:MP3 5- SU 2+ #9999\r\nAALARM:20251231T000000;PT5M;2;x\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"))
	f.Add([]byte("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:99991231T240000Z\nDTEND:00010101\nRRULE:YD9 366- 1 #0\nEXDATE:99991231;x\nEND:VEVENT"))
	berlin, _ := time.LoadLocation("Europe/Berlin")
	f.Fuzz(func(t *testing.T, data []byte) {
		out, form, err := VCal10ToICal20(data)
		if errors.Is(err, vcalErrInternal) {
			t.Fatalf("%v on %q", err, data)
		}
		if err != nil {
			return
		}
		if !strings.HasPrefix(string(out), "BEGIN:VCALENDAR\r\n") {
			t.Fatalf("output does not start with a VCALENDAR: %q", out)
		}
		// What we store must go back to a device.
		v, err := ICal20ToVCal10(out, &VCalOptions{AllDayForm: form, Zone: berlin})
		if err != nil {
			t.Fatalf("stored form not convertible: %v\n%s", err, out)
		}
		if _, _, err := VCal10ToICal20(v); err != nil {
			t.Fatalf("own vCalendar not readable: %v\n%s", err, v)
		}
	})
}

func FuzzICal20ToVCal10(f *testing.F) {
	vcalFuzzSeeds(f, ".ics", ".txt")
	f.Add([]byte("BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:x\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700101T000000\r\nRRULE:FREQ=MONTHLY;INTERVAL=1200;COUNT=3;BYMONTHDAY=-31\r\nTZOFFSETTO:+1400\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nDTSTART;TZID=x:20260101T000000\r\nDURATION:-P9999999W\r\nRRULE:FREQ=WEEKLY;BYDAY=1MO,-5SU;COUNT=999999\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	ny, _ := time.LoadLocation("America/New_York")
	forms := []string{"", VCalAllDayDate, VCalAllDayMidnight, VCalAllDayUTCMidnight, VCalAllDaySame, VCalAllDayEndOfDay}
	f.Fuzz(func(t *testing.T, data []byte) {
		var zone *time.Location
		if len(data)%2 == 1 {
			zone = ny
		}
		form := forms[len(data)%len(forms)]
		out, err := ICal20ToVCal10(data, &VCalOptions{Zone: zone, AllDayForm: form})
		if errors.Is(err, vcalErrInternal) {
			t.Fatalf("%v on %q", err, data)
		}
		if err != nil {
			return
		}
		if !strings.HasPrefix(string(out), "BEGIN:VCALENDAR\r\nVERSION:1.0\r\n") {
			t.Fatalf("output does not start with a vCalendar 1.0: %q", out)
		}
		back, _, err := VCal10ToICal20(out)
		if err != nil {
			t.Fatalf("own vCalendar not readable: %v\n%s", err, out)
		}
		if _, err := ICal20ToVCal10(back, nil); err != nil {
			t.Fatalf("round trip not convertible: %v\n%s", err, back)
		}
	})
}
