package syncml

import (
	"strings"
	"testing"
)

func TestMergeKept(t *testing.T) {
	stored := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL;TYPE=CELL:1\r\nTEL;TYPE=WORK:2\r\nTEL;TYPE=HOME:3\r\nNOTE:a long note that the phone cut short\r\nX-SPOUSE:Bob\r\nBDAY:1980-01-01\r\nEND:VCARD\r\n"
	none := func(string) propInfo { return propInfo{} }
	tests := []struct {
		name, device string
		info         func(string) propInfo
		want, gone   []string
	}{
		{
			name:   "fields the device never had are kept",
			device: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann B\r\nTEL;TYPE=CELL:1\r\nTEL;TYPE=WORK:2\r\nTEL;TYPE=HOME:3\r\nNOTE:a long note that the phone cut short\r\nEND:VCARD\r\n",
			info:   none,
			want:   []string{"FN:Ann B", "X-SPOUSE:Bob", "BDAY:1980-01-01"},
		},
		{
			name:   "a field the device supports and left out is deleted",
			device: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL;TYPE=CELL:1\r\nTEL;TYPE=WORK:2\r\nTEL;TYPE=HOME:3\r\nNOTE:a long note that the phone cut short\r\nEND:VCARD\r\n",
			info:   func(p string) propInfo { return propInfo{known: true, supported: p == "BDAY"} },
			want:   []string{"X-SPOUSE:Bob"},
			gone:   []string{"BDAY"},
		},
		{
			name:   "truncated at the device's limits: the stored values stay",
			device: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL;TYPE=CELL:1\r\nNOTE:a long note\r\nX-SPOUSE:Bob\r\nBDAY:1980-01-01\r\nEND:VCARD\r\n",
			info: func(p string) propInfo {
				switch p {
				case "TEL":
					return propInfo{known: true, supported: true, maxOccur: 1}
				case "NOTE":
					return propInfo{known: true, supported: true, maxSize: 11}
				}
				return propInfo{known: true, supported: true}
			},
			want: []string{"TEL;TYPE=WORK:2", "TEL;TYPE=HOME:3", "NOTE:a long note that the phone cut short"},
			gone: []string{"NOTE:a long note\r\n"},
		},
		{
			name:   "without limits, fewer phones is an edit",
			device: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL;TYPE=CELL:1\r\nNOTE:x\r\nX-SPOUSE:Bob\r\nBDAY:1980-01-01\r\nEND:VCARD\r\n",
			info:   func(p string) propInfo { return propInfo{known: true, supported: true} },
			gone:   []string{"TEL;TYPE=WORK", "cut short"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(mergeKept([]byte(stored), []byte(tt.device), tt.info))
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
			for _, g := range tt.gone {
				if strings.Contains(got, g) {
					t.Errorf("%q should be gone from\n%s", g, got)
				}
			}
			if !strings.HasSuffix(got, "END:VCARD\r\n") || strings.Count(got, "BEGIN:VCARD") != 1 {
				t.Errorf("broken result\n%s", got)
			}
		})
	}
	// Calendars: the event is merged, the rest of the calendar is the device's.
	sc := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:x\r\nLOCATION:Room\r\nBEGIN:VALARM\r\nTRIGGER:-PT15M\r\nACTION:DISPLAY\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	dc := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:dev\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:y\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	got := string(mergeKept([]byte(sc), []byte(dc), none))
	for _, w := range []string{"SUMMARY:y", "LOCATION:Room", "BEGIN:VALARM", "PRODID:dev"} {
		if !strings.Contains(got, w) {
			t.Errorf("calendar merge lacks %q:\n%s", w, got)
		}
	}
}

func TestItemForm(t *testing.T) {
	for _, tt := range []struct{ meta, data, want string }{
		{"text/x-vcard", "BEGIN:VCARD\r\nVERSION:2.1\r\nEND:VCARD", formVCard21},
		{"", "BEGIN:VCARD\r\nVERSION:2.1\r\nEND:VCARD", formVCard21},
		{"text/vcard", "BEGIN:VCARD\r\nVERSION:2.1\r\nEND:VCARD", formVCard21}, // content wins over a wrong type
		{"", "BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD", formVCard30},
		{"", "BEGIN:VCALENDAR\r\nVERSION:1.0\r\nEND:VCALENDAR", formVCal10},
		{"text/calendar", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR", formICal20},
		{"text/x-s4j-sifc", "PD94", formSIFC},
		{"", "<?xml version=\"1.0\"?><contact><FirstName>A</FirstName></contact>", formSIFC},
	} {
		if got := itemForm(tt.meta, []byte(tt.data)); got != tt.want {
			t.Errorf("itemForm(%q, %.30q) = %q, want %q", tt.meta, tt.data, got, tt.want)
		}
	}
}
