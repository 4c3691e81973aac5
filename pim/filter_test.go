package pim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/teambition/rrule-go"
)

// filtItem turns a readable item (LF line ends, leading tabs of the
// literal removed) into the canonical CRLF form.
func filtItem(s string) []byte {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		b.WriteString(strings.TrimLeft(l, "\t"))
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

func filtCard(props string) []byte {
	return filtItem("BEGIN:VCARD\nVERSION:3.0\nUID:c1\nFN:Anna Muster\nN:Muster;Anna;;;\n" + props + "\nEND:VCARD")
}

// filtEvent wraps VEVENT properties (and anything after the VEVENT, such
// as exceptions or a VTIMEZONE) in a VCALENDAR.
func filtEvent(props string, after ...string) []byte {
	return filtItem("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//filter//EN\nBEGIN:VEVENT\nUID:e1@example.org\n" +
		"DTSTAMP:20260101T000000Z\nSUMMARY:Meeting\n" + props + "\nEND:VEVENT\n" + strings.Join(after, "\n") + "\nEND:VCALENDAR")
}

func filtTodo(props string) []byte {
	return filtItem("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//filter//EN\nBEGIN:VTODO\nUID:t1@example.org\n" +
		"DTSTAMP:20260101T000000Z\nSUMMARY:Buy milk\n" + props + "\nEND:VTODO\nEND:VCALENDAR")
}

func filtTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

const filtDay = 24 * time.Hour

// A VTIMEZONE under a name that is no IANA zone (as Outlook writes them),
// with the rules of Europe/Berlin.
const filtOutlookZone = `BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16011028T030000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE`

type filterCase struct {
	name string
	db   Kind
	item []byte
	rule FilterRule
	now  string
	want bool
}

func filterCases() []filterCase {
	cats := FilterRule{Categories: []string{"Family", " work "}}
	// now 2026-05-01T12:00Z (a Friday): [2026-04-01T12:00Z, 2027-05-01T12:00Z)
	const now = "2026-05-01T12:00:00Z"
	month := FilterRule{Past: 30 * filtDay, Future: 365 * filtDay}
	// Thursday noon to Saturday noon around now.
	days := FilterRule{Past: filtDay, Future: filtDay}
	week := FilterRule{Past: filtDay, Future: 7 * filtDay}
	open := FilterRule{OpenOnly: true}
	return []filterCase{
		// Contacts.
		{"category", "contacts", filtCard("CATEGORIES:Family"), cats, now, true},
		{"category list", "contacts", filtCard("CATEGORIES:Friends,WORK"), cats, now, true},
		{"category repeated", "contacts", filtCard("CATEGORIES:Friends\nCATEGORIES:family"), cats, now, true},
		{"category padded", "contacts", filtCard("CATEGORIES: Clients , Family "), cats, now, true},
		{"category folded", "contacts", filtCard("CATEGORIES:Clients,Neighbours,Sports club,Choir,Fam\n ily"), cats, now, true},
		{"category escaped comma", "contacts", filtCard(`CATEGORIES:Family\, extended,Clients`), cats, now, false},
		{"category other", "contacts", filtCard("CATEGORIES:Friends,Clients"), cats, now, false},
		{"category none", "contacts", filtCard("TEL;TYPE=CELL:+49 170 1234567"), cats, now, false},
		{"category quoted-printable 2.1", "contacts", filtItem("BEGIN:VCARD\nVERSION:2.1\nN:Muster;Anna\nCATEGORIES;ENCODING=QUOTED-PRINTABLE:Fam=69ly\nEND:VCARD"), cats, now, true},
		{"category vcard4 group", "contacts", filtItem("BEGIN:VCARD\nVERSION:4.0\nKIND:group\nFN:Team\nMEMBER:urn:uuid:c1\nCATEGORIES:Work\nEND:VCARD"), cats, now, true},
		{"category grouped property", "contacts", filtCard("item1.CATEGORIES:work"), cats, now, true},
		{"category rule inactive", "contacts", filtCard("TEL:1"), FilterRule{Categories: []string{" ", ""}}, now, true},

		// Events, single.
		{"event in window", "calendar", filtEvent("DTSTART:20260510T090000Z\nDTEND:20260510T100000Z"), month, now, true},
		{"event ends at window start", "calendar", filtEvent("DTSTART:20260401T110000Z\nDTEND:20260401T120000Z"), month, now, false},
		{"event ends after window start", "calendar", filtEvent("DTSTART:20260401T110000Z\nDTEND:20260401T120001Z"), month, now, true},
		{"event starts at window end", "calendar", filtEvent("DTSTART:20270501T120000Z\nDURATION:PT1H"), month, now, false},
		{"event starts before window end", "calendar", filtEvent("DTSTART:20270501T115959Z\nDURATION:PT1H"), month, now, true},
		{"instant at window start", "calendar", filtEvent("DTSTART:20260401T120000Z"), month, now, true},
		{"instant before window start", "calendar", filtEvent("DTSTART:20260401T115959Z"), month, now, false},
		{"event long ago", "calendar", filtEvent("DTSTART:20200101T090000Z\nDTEND:20200101T100000Z"), month, now, false},
		{"event unbounded past", "calendar", filtEvent("DTSTART:19990101T090000Z"), FilterRule{Future: filtDay}, now, true},
		{"event unbounded future", "calendar", filtEvent("DTSTART:20990101T090000Z"), FilterRule{Past: filtDay}, now, true},
		{"event floating", "calendar", filtEvent("DTSTART:20260402T090000\nDTEND:20260402T100000"), month, now, true},
		{"event extended ISO", "calendar", filtEvent("DTSTART:2026-04-02T09:00:00Z"), month, now, true},

		// All-day: whole UTC days, end exclusive.
		{"all-day on window start day", "calendar", filtEvent("DTSTART;VALUE=DATE:20260401"), month, now, true},
		{"all-day day before", "calendar", filtEvent("DTSTART;VALUE=DATE:20260331"), month, now, false},
		{"all-day ends at window start day", "calendar", filtEvent("DTSTART;VALUE=DATE:20260325\nDTEND;VALUE=DATE:20260401"), month, now, false},
		{"all-day spans window start", "calendar", filtEvent("DTSTART;VALUE=DATE:20260325\nDTEND;VALUE=DATE:20260402"), month, now, true},
		{"all-day multi-day duration", "calendar", filtEvent("DTSTART;VALUE=DATE:20260325\nDURATION:P1W1D"), month, now, true},

		// Time zones: 00:30-01:00 in Berlin (CEST) is 22:30-23:00Z the day
		// before; read as UTC it would be in the window.
		{"TZID Berlin ends at window start", "calendar",
			filtEvent("DTSTART;TZID=Europe/Berlin:20260501T003000\nDTEND;TZID=Europe/Berlin:20260501T010000"),
			FilterRule{Past: time.Hour}, "2026-05-01T00:00:00Z", false},
		{"TZID Berlin in window", "calendar",
			filtEvent("DTSTART;TZID=Europe/Berlin:20260501T010000\nDTEND;TZID=Europe/Berlin:20260501T013000"),
			FilterRule{Past: time.Hour}, "2026-05-01T00:00:00Z", true},
		{"TZID mozilla prefix", "calendar",
			filtEvent("DTSTART;TZID=/mozilla.org/20050126_1/Europe/Berlin:20260501T003000\nDTEND;TZID=/mozilla.org/20050126_1/Europe/Berlin:20260501T010000"),
			FilterRule{Past: time.Hour}, "2026-05-01T00:00:00Z", false},
		{"TZID VTIMEZONE only, summer", "calendar",
			filtEvent("DTSTART;TZID=W. Europe Standard Time:20260501T003000\nDTEND;TZID=W. Europe Standard Time:20260501T010000", filtOutlookZone),
			FilterRule{Past: time.Hour}, "2026-05-01T00:00:00Z", false},
		{"TZID VTIMEZONE only, winter", "calendar",
			filtEvent("DTSTART;TZID=W. Europe Standard Time:20260115T000000\nDTEND;TZID=W. Europe Standard Time:20260115T003000", filtOutlookZone),
			FilterRule{Past: 30 * time.Minute}, "2026-01-15T00:00:00Z", false},
		{"TZID VTIMEZONE only, winter in", "calendar",
			filtEvent("DTSTART;TZID=W. Europe Standard Time:20260115T000000\nDTEND;TZID=W. Europe Standard Time:20260115T003001", filtOutlookZone),
			FilterRule{Past: 30 * time.Minute}, "2026-01-15T00:00:00Z", true},
		{"TZID unknown is UTC", "calendar",
			filtEvent("DTSTART;TZID=Nowhere Standard Time:20260501T003000\nDTEND;TZID=Nowhere Standard Time:20260501T010000"),
			FilterRule{Past: time.Hour}, "2026-05-01T00:00:00Z", true},
		// Weekly on Fridays 00:30 Berlin, i.e. Thursdays 22:30Z: expanded
		// in UTC, BYDAY=FR would give Fridays.
		{"TZID weekly expands on local days", "calendar",
			filtEvent("DTSTART;TZID=Europe/Berlin:20240503T003000\nDURATION:PT30M\nRRULE:FREQ=WEEKLY;BYDAY=FR"),
			FilterRule{Past: 12 * time.Hour, Future: 11 * time.Hour}, "2026-04-30T12:00:00Z", true},

		// Recurrence.
		{"weekly since 2 years, Friday", "calendar", filtEvent("DTSTART:20240503T090000Z\nDTEND:20240503T100000Z\nRRULE:FREQ=WEEKLY;BYDAY=FR"), days, now, true},
		{"weekly since 2 years, Monday", "calendar", filtEvent("DTSTART:20240506T090000Z\nDTEND:20240506T100000Z\nRRULE:FREQ=WEEKLY;BYDAY=MO"), days, now, false},
		{"weekly implicit day", "calendar", filtEvent("DTSTART:20240503T090000Z\nDTEND:20240503T100000Z\nRRULE:FREQ=WEEKLY"), days, now, true},
		{"fortnightly, off week", "calendar", filtEvent("DTSTART:20240426T090000Z\nDTEND:20240426T100000Z\nRRULE:FREQ=WEEKLY;INTERVAL=2"), days, now, false},
		{"fortnightly, on week", "calendar", filtEvent("DTSTART:20240503T090000Z\nDTEND:20240503T100000Z\nRRULE:FREQ=WEEKLY;INTERVAL=2"), days, now, true},
		{"weekly UNTIL ended", "calendar", filtEvent("DTSTART:20240503T090000Z\nDTEND:20240503T100000Z\nRRULE:FREQ=WEEKLY;UNTIL=20250101T000000Z"), month, now, false},
		{"weekly UNTIL in window", "calendar", filtEvent("DTSTART:20240503T090000Z\nDTEND:20240503T100000Z\nRRULE:FREQ=WEEKLY;UNTIL=20260410T235959Z"), month, now, true},
		{"daily COUNT ended", "calendar", filtEvent("DTSTART:20260301T090000Z\nDTEND:20260301T100000Z\nRRULE:FREQ=DAILY;COUNT=10"), month, now, false},
		{"daily COUNT reaches window", "calendar", filtEvent("DTSTART:20260301T090000Z\nDTEND:20260301T100000Z\nRRULE:FREQ=DAILY;COUNT=40"), month, now, true},
		{"monthly last Friday", "calendar", filtEvent("DTSTART:20250131T090000Z\nDURATION:PT1H\nRRULE:FREQ=MONTHLY;BYDAY=-1FR"), FilterRule{Past: filtDay, Future: filtDay}, "2026-04-24T12:00:00Z", true},
		{"monthly last Friday, other Friday", "calendar", filtEvent("DTSTART:20250131T090000Z\nDURATION:PT1H\nRRULE:FREQ=MONTHLY;BYDAY=-1FR"), days, now, false},
		{"birthday in the week", "calendar", filtEvent("DTSTART;VALUE=DATE:19800515\nRRULE:FREQ=YEARLY"), week, "2026-05-10T12:00:00Z", true},
		{"birthday not in the week", "calendar", filtEvent("DTSTART;VALUE=DATE:19800515\nRRULE:FREQ=YEARLY"), week, "2026-06-01T12:00:00Z", false},
		{"birthday next year", "calendar", filtEvent("DTSTART;VALUE=DATE:19800515\nRRULE:FREQ=YEARLY"), week, "2027-05-12T12:00:00Z", true},
		{"birthday from 1901", "calendar", filtEvent("DTSTART;VALUE=DATE:19010515\nRRULE:FREQ=YEARLY;BYMONTH=5;BYMONTHDAY=15"), week, "2026-05-14T12:00:00Z", true},
		{"leap day birthday, no leap year", "calendar", filtEvent("DTSTART;VALUE=DATE:19800229\nRRULE:FREQ=YEARLY"), week, "2026-02-25T12:00:00Z", false},
		{"leap day birthday, leap year", "calendar", filtEvent("DTSTART;VALUE=DATE:19800229\nRRULE:FREQ=YEARLY"), week, "2028-02-25T12:00:00Z", true},
		{"EXDATE removes the only one", "calendar", filtEvent("DTSTART:20240503T090000Z\nDTEND:20240503T100000Z\nRRULE:FREQ=WEEKLY;BYDAY=FR\nEXDATE:20260501T090000Z"), days, now, false},
		{"EXDATE list removes another", "calendar", filtEvent("DTSTART:20240503T090000Z\nDTEND:20240503T100000Z\nRRULE:FREQ=WEEKLY;BYDAY=FR\nEXDATE:20260424T090000Z,20260508T090000Z"), days, now, true},
		{"EXDATE TZID", "calendar", filtEvent("DTSTART;TZID=Europe/Berlin:20240503T110000\nDURATION:PT1H\nRRULE:FREQ=WEEKLY\nEXDATE;TZID=Europe/Berlin:20260501T110000"), days, now, false},
		{"EXDATE UTC of a TZID series", "calendar", filtEvent("DTSTART;TZID=Europe/Berlin:20240503T110000\nDURATION:PT1H\nRRULE:FREQ=WEEKLY\nEXDATE:20260501T090000Z"), days, now, false},
		{"EXDATE DTSTART of a single event", "calendar", filtEvent("DTSTART:20260501T090000Z\nEXDATE:20260501T090000Z"), days, now, false},
		{"moved into the window", "calendar", filtEvent("DTSTART:20240506T090000Z\nDTEND:20240506T100000Z\nRRULE:FREQ=WEEKLY;BYDAY=MO",
			"BEGIN:VEVENT\nUID:e1@example.org\nRECURRENCE-ID:20260504T090000Z\nDTSTART:20260501T090000Z\nDTEND:20260501T100000Z\nEND:VEVENT"), days, now, true},
		{"moved out of the window", "calendar", filtEvent("DTSTART:20240503T090000Z\nDTEND:20240503T100000Z\nRRULE:FREQ=WEEKLY;BYDAY=FR",
			"BEGIN:VEVENT\nUID:e1@example.org\nRECURRENCE-ID:20260501T090000Z\nDTSTART:20260505T090000Z\nDTEND:20260505T100000Z\nEND:VEVENT"), days, now, false},
		{"instance cancelled", "calendar", filtEvent("DTSTART:20240503T090000Z\nDTEND:20240503T100000Z\nRRULE:FREQ=WEEKLY;BYDAY=FR",
			"BEGIN:VEVENT\nUID:e1@example.org\nRECURRENCE-ID:20260501T090000Z\nDTSTART:20260501T090000Z\nSTATUS:CANCELLED\nEND:VEVENT"), days, now, false},
		{"RDATE in window", "calendar", filtEvent("DTSTART:20250101T090000Z\nDTEND:20250101T100000Z\nRDATE:20250301T090000Z,20260430T130000Z"), days, now, true},
		{"RDATE period", "calendar", filtEvent("DTSTART:20250101T090000Z\nRDATE;VALUE=PERIOD:20260429T000000Z/PT37H"), days, now, true},
		{"RDATE excluded", "calendar", filtEvent("DTSTART:20250101T090000Z\nDTEND:20250101T100000Z\nRDATE:20260430T130000Z\nEXDATE:20260430T130000Z"), days, now, false},
		{"rule never occurs: sent", "calendar", filtEvent("DTSTART:20200101T090000Z\nRRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"), month, now, true},
		{"rule never occurs, ended", "calendar", filtEvent("DTSTART:20200101T090000Z\nRRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;UNTIL=20210101T000000Z"), month, now, false},
		{"hourly COUNT ended", "calendar", filtEvent("DTSTART:20260301T090000Z\nRRULE:FREQ=HOURLY;COUNT=3"), month, now, false},
		{"hourly endless", "calendar", filtEvent("DTSTART:20260301T090000Z\nRRULE:FREQ=HOURLY;INTERVAL=5;BYHOUR=1,6"), month, now, true},
		{"unreadable rule: sent", "calendar", filtEvent("DTSTART:20200101T090000Z\nRRULE:FREQ=SOMETIMES"), month, now, true},
		{"unreadable rule, after the window", "calendar", filtEvent("DTSTART:20300101T090000Z\nRRULE:W1 FR #10"), month, now, false},
		{"X- rule part ignored", "calendar", filtEvent("DTSTART:20240506T090000Z\nRRULE:FREQ=WEEKLY;X-NAME=foo;BYDAY=MO"), days, now, false},
		{"series starts after window", "calendar", filtEvent("DTSTART:20270601T090000Z\nRRULE:FREQ=DAILY"), month, now, false},
		{"no DTSTART: sent", "calendar", filtEvent("DTEND:20200101T090000Z"), month, now, true},
		{"bad DTSTART: sent", "calendar", filtEvent("DTSTART:yesterday"), month, now, true},
		{"calendar rule inactive", "calendar", filtEvent("DTSTART:20200101T090000Z"), FilterRule{Categories: []string{"Work"}}, now, true},

		// Tasks.
		{"task open", "tasks", filtTodo("STATUS:NEEDS-ACTION\nDUE:20260101T000000Z"), open, now, true},
		{"task in process", "tasks", filtTodo("STATUS:IN-PROCESS\nPERCENT-COMPLETE:50"), open, now, true},
		{"task completed", "tasks", filtTodo("STATUS:COMPLETED"), open, now, false},
		{"task cancelled", "tasks", filtTodo("STATUS:CANCELLED"), open, now, false},
		{"task COMPLETED date", "tasks", filtTodo("COMPLETED:20260101T100000Z"), open, now, false},
		{"task 100 percent", "tasks", filtTodo("PERCENT-COMPLETE:100"), open, now, false},
		{"task completed, rule off", "tasks", filtTodo("STATUS:COMPLETED"), FilterRule{Past: filtDay}, now, true},
		{"to-do in calendar, completed", "calendar", filtTodo("STATUS:COMPLETED"), FilterRule{Past: filtDay, OpenOnly: true}, now, false},
		{"to-do in calendar, open", "calendar", filtTodo("DTSTART:20200101T000000Z\nSTATUS:NEEDS-ACTION"), FilterRule{Past: filtDay, OpenOnly: true}, now, true},
		{"to-do in calendar, window only", "calendar", filtTodo("STATUS:COMPLETED"), days, now, true},

		// Garbage and mismatches.
		{"empty contact", "contacts", nil, cats, now, true},
		{"binary event", "calendar", []byte("\x00\xff\xfeBEGIN:\r\n:::\r\n"), month, now, true},
		{"truncated event", "calendar", []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026"), month, now, true},
		{"vCard in calendar", "calendar", filtCard("CATEGORIES:Work"), month, now, true},
		{"event in contacts", "contacts", filtEvent("DTSTART:20200101T090000Z"), cats, now, true},
		{"journal", "calendar", filtItem("BEGIN:VCALENDAR\nBEGIN:VJOURNAL\nDTSTART:20200101\nEND:VJOURNAL\nEND:VCALENDAR"), month, now, true},
	}
}

func TestFilterMatches(t *testing.T) {
	for _, tc := range filterCases() {
		f := FactsOf(tc.db, tc.item)
		if got := tc.rule.Matches(tc.db, f, filtTime(tc.now)); got != tc.want {
			b, _ := json.Marshal(f)
			t.Errorf("%s: matches = %v, want %v; facts %s", tc.name, got, tc.want, b)
		}
	}
}

// TestFactsJSONRoundTrip: the facts survive the device state's JSON and
// still decide the same.
func TestFactsJSONRoundTrip(t *testing.T) {
	for _, tc := range filterCases() {
		f := FactsOf(tc.db, tc.item)
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		var g ItemFacts
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(f, g) {
			t.Errorf("%s: %+v became %+v", tc.name, f, g)
		}
		if got := tc.rule.Matches(tc.db, g, filtTime(tc.now)); got != tc.want {
			t.Errorf("%s: after JSON matches = %v, want %v (%s)", tc.name, got, tc.want, b)
		}
	}
}

// TestFactsOfLayout pins what is stored for typical items.
func TestFactsOfLayout(t *testing.T) {
	for _, tc := range []struct {
		name, db Kind
		item     []byte
		want     string
	}{
		{"contact", "contacts", filtCard("CATEGORIES:Family,Work\nCATEGORIES:work"), `{"k":"c","c":["Family","Work"]}`},
		{"contact without categories", "contacts", filtCard("TEL:1"), `{"k":"c"}`},
		{"event", "calendar", filtEvent("DTSTART;TZID=Europe/Berlin:20260510T090000\nDTEND;TZID=Europe/Berlin:20260510T103000"),
			`{"k":"e","s":1778403600,"o":7200,"d":5400}`},
		{"all-day", "calendar", filtEvent("DTSTART;VALUE=DATE:20260510"), `{"k":"e","s":1778371200,"d":86400}`},
		{"weekly", "calendar", filtEvent("DTSTART:20240506T090000Z\nDTEND:20240506T100000Z\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE\nEXDATE:20240508T090000Z"),
			`{"k":"e","s":1714986000,"d":3600,"r":"FREQ=WEEKLY;BYDAY=MO,WE","x":[1715158800]}`},
		{"COUNT becomes Until", "calendar", filtEvent("DTSTART:20260301T090000Z\nRRULE:FREQ=DAILY;COUNT=10"),
			`{"k":"e","s":1772355600,"r":"FREQ=DAILY","u":1773133200}`},
		{"UNTIL of a TZID series in wall time", "calendar", filtEvent("DTSTART;TZID=Europe/Berlin:20260301T090000\nRRULE:FREQ=DAILY;UNTIL=20260310T080000Z"),
			`{"k":"e","s":1772355600,"o":3600,"r":"FREQ=DAILY","u":1773133200}`},
		{"endless hourly is a span", "calendar", filtEvent("DTSTART:20260301T090000Z\nRRULE:FREQ=HOURLY"),
			`{"k":"e","s":1772355600,"p":[1772355600,4611686018427387904]}`},
		{"task", "tasks", filtTodo("STATUS:NEEDS-ACTION"), `{"k":"t"}`},
		{"task done", "tasks", filtTodo("STATUS:COMPLETED"), `{"k":"t","f":true}`},
		{"garbage", "calendar", []byte("hello"), `{}`},
	} {
		b, _ := json.Marshal(FactsOf(tc.db, tc.item))
		if string(b) != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, b, tc.want)
		}
		t.Logf("%s: %d bytes", tc.name, len(b))
	}
}

// TestFilterRecurrenceAgainstFullExpansion checks the shortcuts (DTSTART
// moved forward, COUNT as UNTIL, the quick rejections) against expanding
// each rule from its DTSTART, for windows all over three years.
func TestFilterRecurrenceAgainstFullExpansion(t *testing.T) {
	rules := []string{
		"FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE",
		"FREQ=WEEKLY;INTERVAL=3;WKST=SU;BYDAY=SU,TU",
		"FREQ=MONTHLY;BYDAY=-1FR",
		"FREQ=MONTHLY;BYMONTHDAY=31",
		"FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=1,15",
		"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
		"FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
		"FREQ=YEARLY;INTERVAL=3",
		"FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO",
		"FREQ=YEARLY;BYYEARDAY=100,-1",
		"FREQ=DAILY;INTERVAL=9",
		"FREQ=DAILY;BYMONTH=12;BYDAY=SA;BYHOUR=8,20",
		"FREQ=WEEKLY;COUNT=150;BYDAY=TH",
		"FREQ=DAILY;UNTIL=20261231T000000Z;INTERVAL=4",
	}
	starts := []time.Time{
		time.Date(2019, 1, 31, 7, 30, 0, 0, time.UTC),
		time.Date(2023, 12, 29, 23, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC),
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, rule := range rules {
		for _, first := range starts {
			item := filtEvent(fmt.Sprintf("DTSTART:%s\nDURATION:PT2H\nRRULE:%s", first.Format("20060102T150405Z"), rule))
			f := FactsOf("calendar", item)
			o, err := rrule.StrToROption(rule)
			if err != nil {
				t.Fatal(err)
			}
			o.Dtstart = first
			full, err := rrule.NewRRule(*o)
			if err != nil {
				t.Fatal(err)
			}
			all := full.Between(first, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), true)
			for range 300 {
				now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rnd.Int64N(int64(3 * 365 * filtDay))))
				r := FilterRule{Past: time.Duration(rnd.Int64N(int64(3 * filtDay))), Future: time.Duration(rnd.Int64N(int64(5 * filtDay)))}
				w := r.window(now)
				want := w.overlaps(first.Unix(), first.Unix()+7200)
				for _, t := range all {
					want = want || w.overlaps(t.Unix(), t.Unix()+7200)
				}
				if got := r.Matches("calendar", f, now); got != want {
					t.Fatalf("%s from %s, now %s, %v: matches %v, want %v (facts %+v)", rule, first, now, r, got, want, f)
				}
			}
		}
	}
}

func TestFilterActive(t *testing.T) {
	for _, tc := range []struct {
		rule FilterRule
		db   Kind
		want bool
	}{
		{FilterRule{}, "contacts", false},
		{FilterRule{Categories: []string{"Work"}}, "contacts", true},
		{FilterRule{Categories: []string{"Work"}}, "calendar", false},
		{FilterRule{Past: time.Hour}, "calendar", true},
		{FilterRule{Future: time.Hour}, "calendar", true},
		{FilterRule{Past: time.Hour}, "tasks", false},
		{FilterRule{OpenOnly: true}, "tasks", true},
		{FilterRule{OpenOnly: true}, "calendar", true},
		{FilterRule{OpenOnly: true}, "contacts", false},
		{FilterRule{OpenOnly: true}, "notes", false},
	} {
		if got := tc.rule.Active(tc.db); got != tc.want {
			t.Errorf("%+v.Active(%s) = %v", tc.rule, tc.db, got)
		}
	}
}

// BenchmarkFilterMatches decides 10,000 mixed events (single, weekly,
// birthdays since decades, series that ended, daily COUNTs, monthly, in
// Europe/Berlin) against a window of 30 days back and a year ahead.
func BenchmarkFilterMatches(b *testing.B) {
	rnd := rand.New(rand.NewPCG(3, 4))
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	stamp := func(t time.Time) string { return t.Format("20060102T150405Z") }
	facts := make([]ItemFacts, 10000)
	for i := range facts {
		start := now.Add(time.Duration(rnd.Int64N(int64(6*365*filtDay))) - 3*365*filtDay).Truncate(15 * time.Minute)
		var props string
		switch p := rnd.IntN(100); {
		case p < 40:
			props = fmt.Sprintf("DTSTART:%s\nDURATION:PT1H", stamp(start))
		case p < 60:
			props = fmt.Sprintf("DTSTART:%s\nDURATION:PT1H\nRRULE:FREQ=WEEKLY;BYDAY=%s", stamp(start.AddDate(-2, 0, 0)),
				[]string{"MO", "TU,TH", "FR"}[rnd.IntN(3)])
		case p < 65:
			props = fmt.Sprintf("DTSTART:%s\nDURATION:PT1H\nRRULE:FREQ=WEEKLY;UNTIL=%s", stamp(start.AddDate(-3, 0, 0)), stamp(start.AddDate(-1, 0, 0)))
		case p < 80:
			props = fmt.Sprintf("DTSTART;VALUE=DATE:%d%s\nRRULE:FREQ=YEARLY", 1940+rnd.IntN(60), start.Format("0102"))
		case p < 90:
			props = fmt.Sprintf("DTSTART:%s\nDURATION:PT30M\nRRULE:FREQ=DAILY;COUNT=%d", stamp(start), 1+rnd.IntN(30))
		case p < 95:
			props = fmt.Sprintf("DTSTART:%s\nDURATION:PT2H\nRRULE:FREQ=MONTHLY;BYDAY=%dWE", stamp(start.AddDate(-5, 0, 0)), 1+rnd.IntN(4))
		default:
			props = fmt.Sprintf("DTSTART;TZID=Europe/Berlin:%s\nDURATION:PT1H\nRRULE:FREQ=WEEKLY;INTERVAL=2\nEXDATE;TZID=Europe/Berlin:%s",
				start.AddDate(-1, 0, 0).Format("20060102T150405"), start.AddDate(0, 0, 14).Format("20060102T150405"))
		}
		facts[i] = FactsOf("calendar", filtEvent(props))
	}
	r := FilterRule{Past: 30 * filtDay, Future: 365 * filtDay}
	n := 0
	for b.Loop() {
		n = 0
		for _, f := range facts {
			if r.Matches("calendar", f, now) {
				n++
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(facts)), "ns/item")
	b.ReportMetric(float64(n), "matched")
}

func FuzzFactsOf(f *testing.F) {
	for _, seed := range [][]byte{
		filtCard("CATEGORIES:Family,Work\\,x"),
		filtEvent("DTSTART;TZID=Europe/Berlin:20240503T003000\nDURATION:PT30M\nRRULE:FREQ=WEEKLY;BYDAY=FR;COUNT=20\nEXDATE;TZID=Europe/Berlin:20240510T003000"),
		filtEvent("DTSTART;VALUE=DATE:19800515\nRRULE:FREQ=YEARLY\nRDATE;VALUE=PERIOD:20260429T000000Z/PT37H",
			"BEGIN:VEVENT\nRECURRENCE-ID;VALUE=DATE:20250515\nDTSTART;VALUE=DATE:20250516\nEND:VEVENT"),
		filtEvent("DTSTART;TZID=W. Europe Standard Time:20260115T003000\nRRULE:FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20300101", filtOutlookZone),
		filtEvent("DTSTART:20200101T090000Z\nRRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"),
		filtTodo("STATUS:COMPLETED\nPERCENT-COMPLETE:100"),
		[]byte("BEGIN:VCARD\nCATEGORIES:\x80"), // not UTF-8: must survive JSON alike
	} {
		f.Add(seed, uint8(0))
	}
	dbs := Kinds
	rules := []FilterRule{
		{Categories: []string{"Work"}},
		{Past: 30 * filtDay, Future: 365 * filtDay},
		{Past: filtDay, Future: filtDay, OpenOnly: true},
		{Future: time.Hour},
		{OpenOnly: true},
	}
	nows := []time.Time{time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		db := dbs[int(which)%len(dbs)]
		facts := FactsOf(db, data)
		b, err := json.Marshal(facts)
		if err != nil {
			t.Fatal(err)
		}
		var back ItemFacts
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(facts, back) {
			t.Fatalf("JSON round trip: %+v became %+v (%v)", facts, back, err)
		}
		for _, r := range rules {
			for _, now := range nows {
				r.Matches(db, facts, now)
			}
		}
		if facts.Kind == "" {
			for _, r := range rules {
				if !r.Matches(db, facts, nows[0]) {
					t.Fatalf("unknown facts hidden by %+v", r)
				}
			}
		}
	})
}

// TestFactsZoneDefinition: an item's own VTIMEZONE defines its TZID, also
// when the TZID is an IANA name (RFC 5545 3.6.5); without one the IANA
// zone applies. (The filter used to take the IANA zone first; the one
// zone model of internal/vformat reads it as the converters do.)
func TestFactsZoneDefinition(t *testing.T) {
	own := "BEGIN:VTIMEZONE\nTZID:Europe/Berlin\nBEGIN:STANDARD\nDTSTART:19700101T000000\nTZOFFSETFROM:+0500\nTZOFFSETTO:+0500\nEND:STANDARD\nEND:VTIMEZONE"
	withOwn := FactsOf("calendar", filtEvent("DTSTART;TZID=Europe/Berlin:20261207T100000\nDURATION:PT1H", own))
	if withOwn.Offset != 5*3600 {
		t.Errorf("offset with the item's VTIMEZONE: %d, want %d", withOwn.Offset, 5*3600)
	}
	iana := FactsOf("calendar", filtEvent("DTSTART;TZID=Europe/Berlin:20261207T100000\nDURATION:PT1H"))
	if iana.Offset != 3600 {
		t.Errorf("offset of the IANA zone in December: %d, want 3600", iana.Offset)
	}
}
