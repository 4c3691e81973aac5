package dav

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"
	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"
)

func parseCal(t *testing.T, body string) *ical.Calendar {
	t.Helper()
	s := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n" + strings.ReplaceAll(strings.TrimSpace(body), "\n", "\r\n") + "\r\nEND:VCALENDAR\r\n"
	cal, err := ical.NewDecoder(strings.NewReader(s)).Decode()
	if err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	return cal
}

func utc(s string) time.Time {
	t, err := time.Parse("20060102T150405Z", s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestTimeRange holds the evaluation to the table of RFC 4791, 9.9, and
// to recurring items whose instances (not only whose first) overlap.
func TestTimeRange(t *testing.T) {
	// The range: 2027-03-10 00:00 to 2027-03-11 00:00 UTC.
	start, end := utc("20270310T000000Z"), utc("20270311T000000Z")
	for _, tt := range []struct {
		name, comp, body string
		want             bool
	}{
		{"event inside", "VEVENT", "DTSTART:20270310T090000Z\nDTEND:20270310T100000Z", true},
		{"event before", "VEVENT", "DTSTART:20270309T090000Z\nDTEND:20270309T100000Z", false},
		{"event ending at the start", "VEVENT", "DTSTART:20270309T230000Z\nDTEND:20270310T000000Z", false},
		{"event starting at the end", "VEVENT", "DTSTART:20270311T000000Z\nDTEND:20270311T010000Z", false},
		{"event starting at the start", "VEVENT", "DTSTART:20270310T000000Z\nDTEND:20270310T010000Z", true},
		{"event across the range", "VEVENT", "DTSTART:20270301T000000Z\nDTEND:20270401T000000Z", true},
		{"event overlapping the start", "VEVENT", "DTSTART:20270309T230000Z\nDTEND:20270310T010000Z", true},
		{"event by duration", "VEVENT", "DTSTART:20270309T230000Z\nDURATION:PT2H", true},
		{"event by duration, before", "VEVENT", "DTSTART:20270309T210000Z\nDURATION:PT2H", false},
		{"instant at the start", "VEVENT", "DTSTART:20270310T000000Z", true},
		{"all-day event", "VEVENT", "DTSTART;VALUE=DATE:20270310", true},
		{"all-day event the day before", "VEVENT", "DTSTART;VALUE=DATE:20270309", false},
		{"weekly, an instance inside", "VEVENT", "DTSTART:20270224T090000Z\nDTEND:20270224T100000Z\nRRULE:FREQ=WEEKLY;COUNT=5", true},
		{"weekly, no instance inside", "VEVENT", "DTSTART:20270225T090000Z\nDTEND:20270225T100000Z\nRRULE:FREQ=WEEKLY;COUNT=5", false},
		{"weekly, ended before", "VEVENT", "DTSTART:20270106T090000Z\nDTEND:20270106T100000Z\nRRULE:FREQ=WEEKLY;COUNT=3", false},
		{"daily, an instance overlapping the start", "VEVENT", "DTSTART:20270301T230000Z\nDTEND:20270302T010000Z\nRRULE:FREQ=DAILY", true},
		{"yearly, forever", "VEVENT", "DTSTART;VALUE=DATE:19800310\nRRULE:FREQ=YEARLY", true},
		{"yearly, another day", "VEVENT", "DTSTART;VALUE=DATE:19800312\nRRULE:FREQ=YEARLY", false},
		{"event with an unreadable start is kept", "VEVENT", "DTSTART:yesterday", true},
		{"todo, no dates", "VTODO", "SUMMARY:x", true},
		{"todo due inside", "VTODO", "DUE:20270310T120000Z", true},
		{"todo due after", "VTODO", "DUE:20270312T120000Z", false},
		{"todo due at the end", "VTODO", "DUE:20270311T000000Z", true},
		{"todo starting before, due after", "VTODO", "DTSTART:20270301T000000Z\nDUE:20270320T000000Z", true},
		{"todo starting after", "VTODO", "DTSTART:20270312T000000Z", false},
		{"todo completed inside", "VTODO", "COMPLETED:20270310T080000Z", true},
		{"todo completed before", "VTODO", "COMPLETED:20270301T080000Z", false},
		{"todo created before", "VTODO", "CREATED:20270301T080000Z", true},
		{"todo created after", "VTODO", "CREATED:20270312T080000Z", false},
		{"journal inside", "VJOURNAL", "DTSTART:20270310T080000Z", true},
		{"journal without a start", "VJOURNAL", "SUMMARY:x", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cal := parseCal(t, "BEGIN:"+tt.comp+"\nUID:x\nDTSTAMP:20270101T000000Z\n"+tt.body+"\nEND:"+tt.comp)
			f := caldav.CompFilter{Name: "VCALENDAR", Comps: []caldav.CompFilter{{Name: tt.comp, Start: start, End: end}}}
			if got := matchCalendar(f, cal); got != tt.want {
				t.Errorf("in [%s, %s): %v, want %v", start, end, got, tt.want)
			}
		})
	}
	// Open-ended ranges.
	cal := parseCal(t, "BEGIN:VEVENT\nUID:x\nDTSTAMP:20270101T000000Z\nDTSTART:20270310T090000Z\nDTEND:20270310T100000Z\nEND:VEVENT")
	for _, r := range []struct {
		start, end time.Time
		want       bool
	}{{start, time.Time{}, true}, {time.Time{}, end, true}, {end, time.Time{}, false}, {time.Time{}, start, false}} {
		f := caldav.CompFilter{Name: "VCALENDAR", Comps: []caldav.CompFilter{{Name: "VEVENT", Start: r.start, End: r.end}}}
		if got := matchCalendar(f, cal); got != r.want {
			t.Errorf("in [%v, %v): %v, want %v", r.start, r.end, got, r.want)
		}
	}
}

// TestCalendarFilters: what Apple's and other clients ask of to-dos:
// the ones not completed, by STATUS, by a parameter.
func TestCalendarFilters(t *testing.T) {
	open := parseCal(t, "BEGIN:VTODO\nUID:a\nDTSTAMP:20270101T000000Z\nSTATUS:NEEDS-ACTION\nSUMMARY:Call Plumber\nEND:VTODO")
	done := parseCal(t, "BEGIN:VTODO\nUID:b\nDTSTAMP:20270101T000000Z\nSTATUS:COMPLETED\nCOMPLETED:20270102T000000Z\nSUMMARY:Water plants\nATTENDEE;ROLE=CHAIR:mailto:a@example.org\nEND:VTODO")
	todo := func(f caldav.CompFilter) caldav.CompFilter {
		return caldav.CompFilter{Name: "VCALENDAR", Comps: []caldav.CompFilter{f}}
	}
	for _, tt := range []struct {
		name       string
		f          caldav.CompFilter
		open, done bool
	}{
		{"any to-do", todo(caldav.CompFilter{Name: "VTODO"}), true, true},
		{"no event", todo(caldav.CompFilter{Name: "VEVENT"}), false, false},
		{"no event is defined", todo(caldav.CompFilter{Name: "VEVENT", IsNotDefined: true}), true, true},
		{"not completed", todo(caldav.CompFilter{Name: "VTODO", Props: []caldav.PropFilter{{Name: "COMPLETED", IsNotDefined: true}}}), true, false},
		{"status not completed", todo(caldav.CompFilter{Name: "VTODO", Props: []caldav.PropFilter{{Name: "STATUS", TextMatch: &caldav.TextMatch{Text: "completed", NegateCondition: true}}}}), true, false},
		{"summary, any case", todo(caldav.CompFilter{Name: "VTODO", Props: []caldav.PropFilter{{Name: "SUMMARY", TextMatch: &caldav.TextMatch{Text: "plumber"}}}}), true, false},
		{"attendee role", todo(caldav.CompFilter{Name: "VTODO", Props: []caldav.PropFilter{{Name: "ATTENDEE", ParamFilter: []caldav.ParamFilter{{Name: "ROLE", TextMatch: &caldav.TextMatch{Text: "chair"}}}}}}), false, true},
		{"completed in range", todo(caldav.CompFilter{Name: "VTODO", Props: []caldav.PropFilter{{Name: "COMPLETED", Start: utc("20270101T000000Z"), End: utc("20270103T000000Z")}}}), false, true},
	} {
		if got := matchCalendar(tt.f, open); got != tt.open {
			t.Errorf("%s: open to-do %v, want %v", tt.name, got, tt.open)
		}
		if got := matchCalendar(tt.f, done); got != tt.done {
			t.Errorf("%s: done to-do %v, want %v", tt.name, got, tt.done)
		}
	}
}

// TestCardFilters: RFC 6352, 10.5: case-insensitive by default, every
// instance of a property, anyof/allof, negation, parameters.
func TestCardFilters(t *testing.T) {
	card, err := vcard.NewDecoder(strings.NewReader("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Fay Foxtrot\r\nN:Foxtrot;Fay;;;\r\n" +
		"EMAIL;TYPE=home:fay@home.example\r\nEMAIL;TYPE=work:fay.foxtrot@work.example\r\nEND:VCARD\r\n")).Decode()
	if err != nil {
		t.Fatal(err)
	}
	pf := func(name string, tms ...carddav.TextMatch) carddav.PropFilter {
		return carddav.PropFilter{Name: name, TextMatches: tms}
	}
	tm := func(text string, mt carddav.MatchType, negate bool) carddav.TextMatch {
		return carddav.TextMatch{Text: text, MatchType: mt, NegateCondition: negate}
	}
	for _, tt := range []struct {
		name string
		q    carddav.AddressBookQuery
		want bool
	}{
		{"no filter", carddav.AddressBookQuery{}, true},
		{"FN contains, other case", carddav.AddressBookQuery{PropFilters: []carddav.PropFilter{pf("FN", tm("foxtrot", "", false))}}, true},
		{"FN equals", carddav.AddressBookQuery{PropFilters: []carddav.PropFilter{pf("FN", tm("fay foxtrot", carddav.MatchEquals, false))}}, true},
		{"FN equals a part", carddav.AddressBookQuery{PropFilters: []carddav.PropFilter{pf("FN", tm("fay", carddav.MatchEquals, false))}}, false},
		{"FN starts with", carddav.AddressBookQuery{PropFilters: []carddav.PropFilter{pf("FN", tm("FAY", carddav.MatchStartsWith, false))}}, true},
		{"FN ends with", carddav.AddressBookQuery{PropFilters: []carddav.PropFilter{pf("FN", tm("fay", carddav.MatchEndsWith, false))}}, false},
		{"FN negated", carddav.AddressBookQuery{PropFilters: []carddav.PropFilter{pf("FN", tm("fox", "", true))}}, false},
		{"the second EMAIL", carddav.AddressBookQuery{PropFilters: []carddav.PropFilter{pf("EMAIL", tm("@work.", "", false))}}, true},
		{"EMAIL with TYPE work", carddav.AddressBookQuery{PropFilters: []carddav.PropFilter{{Name: "EMAIL", Params: []carddav.ParamFilter{{Name: "TYPE", TextMatch: &carddav.TextMatch{Text: "WORK", MatchType: carddav.MatchEquals}}}}}}, true},
		{"TEL defined", carddav.AddressBookQuery{PropFilters: []carddav.PropFilter{{Name: "TEL"}}}, false},
		{"TEL not defined", carddav.AddressBookQuery{PropFilters: []carddav.PropFilter{{Name: "TEL", IsNotDefined: true}}}, true},
		{"anyof", carddav.AddressBookQuery{PropFilters: []carddav.PropFilter{{Name: "TEL"}, pf("FN", tm("fay", "", false))}}, true},
		{"allof", carddav.AddressBookQuery{FilterTest: carddav.FilterAllOf, PropFilters: []carddav.PropFilter{{Name: "TEL"}, pf("FN", tm("fay", "", false))}}, false},
		{"prop allof", carddav.AddressBookQuery{PropFilters: []carddav.PropFilter{{Name: "FN", Test: carddav.FilterAllOf, TextMatches: []carddav.TextMatch{tm("fay", "", false), tm("zed", "", false)}}}}, false},
		{"prop anyof", carddav.AddressBookQuery{PropFilters: []carddav.PropFilter{{Name: "FN", TextMatches: []carddav.TextMatch{tm("fay", "", false), tm("zed", "", false)}}}}, true},
	} {
		if got := matchCard(&tt.q, card); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
