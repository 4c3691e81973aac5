package pim_test

import (
	"strings"
	"syncml-imap/pim"
	"testing"
)

func TestMergeKept(t *testing.T) {
	stored := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL;TYPE=CELL:1\r\nTEL;TYPE=WORK:2\r\nTEL;TYPE=HOME:3\r\nNOTE:a long note that the phone cut short\r\nX-SPOUSE:Bob\r\nBDAY:1980-01-01\r\nEND:VCARD\r\n"
	none := func(string) pim.PropHold { return pim.PropHold{} }
	tests := []struct {
		name, device string
		info         func(string) pim.PropHold
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
			info:   func(p string) pim.PropHold { return pim.PropHold{Known: true, Supported: p == "BDAY"} },
			want:   []string{"X-SPOUSE:Bob"},
			gone:   []string{"BDAY"},
		},
		{
			name:   "truncated at the device's limits: the stored values stay",
			device: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL;TYPE=CELL:1\r\nNOTE:a long note\r\nX-SPOUSE:Bob\r\nBDAY:1980-01-01\r\nEND:VCARD\r\n",
			info: func(p string) pim.PropHold {
				switch p {
				case "TEL":
					return pim.PropHold{Known: true, Supported: true, MaxOccur: 1}
				case "NOTE":
					return pim.PropHold{Known: true, Supported: true, MaxSize: 11}
				}
				return pim.PropHold{Known: true, Supported: true}
			},
			want: []string{"TEL;TYPE=WORK:2", "TEL;TYPE=HOME:3", "NOTE:a long note that the phone cut short"},
			gone: []string{"NOTE:a long note\r\n"},
		},
		{
			name:   "without limits, fewer phones is an edit",
			device: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL;TYPE=CELL:1\r\nNOTE:x\r\nX-SPOUSE:Bob\r\nBDAY:1980-01-01\r\nEND:VCARD\r\n",
			info:   func(p string) pim.PropHold { return pim.PropHold{Known: true, Supported: true} },
			gone:   []string{"TEL;TYPE=WORK", "cut short"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(pim.MergeKept([]byte(stored), []byte(tt.device), tt.info))
			checkHas(t, got, tt.want, tt.gone)
			if !strings.HasSuffix(got, "END:VCARD\r\n") || strings.Count(got, "BEGIN:VCARD") != 1 {
				t.Errorf("broken result\n%s", got)
			}
		})
	}
	// Calendars: the event is merged, the rest of the calendar is the device's.
	sc := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:x\r\nLOCATION:Room\r\nBEGIN:VALARM\r\nTRIGGER:-PT15M\r\nACTION:DISPLAY\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	dc := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:dev\r\nBEGIN:VEVENT\r\nUID:1\r\nSUMMARY:y\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	got := string(pim.MergeKept([]byte(sc), []byte(dc), none))
	for _, w := range []string{"SUMMARY:y", "LOCATION:Room", "BEGIN:VALARM", "PRODID:dev"} {
		if !strings.Contains(got, w) {
			t.Errorf("calendar merge lacks %q:\n%s", w, got)
		}
	}
}

// TestMergeKeptDateSpelling: a phone that sends a stored birthday back in
// its own spelling, without the parameter marking it as having no year
// (SyncEvolution: BDAY:16040415), keeps the stored line; a changed date
// is the phone's.
func TestMergeKeptDateSpelling(t *testing.T) {
	stored := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nBDAY;X-APPLE-OMIT-YEAR=1604:1604-04-15\r\nEND:VCARD\r\n"
	all := func(string) pim.PropHold { return pim.PropHold{Known: true, Supported: true} }
	for device, want := range map[string]string{
		"BDAY:16040415":   "\r\nBDAY;X-APPLE-OMIT-YEAR=1604:1604-04-15\r\n",
		"BDAY:1604-04-15": "\r\nBDAY;X-APPLE-OMIT-YEAR=1604:1604-04-15\r\n",
		"BDAY:19800416":   "\r\nBDAY:19800416\r\n",
	} {
		got := string(pim.MergeKept([]byte(stored), []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann B\r\n"+device+"\r\nEND:VCARD\r\n"), all))
		if !strings.Contains(got, want) || strings.Count(got, "BDAY") != 1 || !strings.Contains(got, "FN:Ann B") {
			t.Errorf("device %s: want %q in\n%s", device, strings.TrimSpace(want), got)
		}
	}
}

// TestMergeKeepsTypes: a type the device's CTCap does not list for a
// property (SyncEvolution has no PREF for EMAIL) stays when the device
// sends the same value without it; a listed type it removes is an edit.
func TestMergeKeepsTypes(t *testing.T) {
	stored := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nEMAIL;TYPE=INTERNET,WORK,PREF:ann@example.org\r\nTEL;TYPE=CELL,HOME:1\r\nEND:VCARD\r\n"
	info := func(name string) pim.PropHold {
		return pim.PropHold{Known: true, Supported: true, Types: map[string][]string{"EMAIL": {"HOME", "WORK", "INTERNET"}, "TEL": {"HOME", "WORK", "CELL"}}[name]}
	}
	got := string(pim.MergeKept([]byte(stored), []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann B\r\nEMAIL;TYPE=WORK,INTERNET:ann@example.org\r\nTEL;TYPE=CELL:1\r\nEND:VCARD\r\n"), info))
	checkHas(t, got, []string{"FN:Ann B", "EMAIL;TYPE=INTERNET,WORK,PREF:ann@example.org", "TEL;TYPE=CELL:1"},
		[]string{"EMAIL;TYPE=WORK,INTERNET", "CELL,HOME"})
}
