package vformat

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teambition/rrule-go"

	"syncml-imap/internal/vobject"
)

// ---- helpers ----

func vcalTestFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vcal", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vcalTestLines unfolds output (iCalendar folding, QP soft breaks) into
// logical lines.
func vcalTestLines(b []byte) []string {
	s := strings.ReplaceAll(string(b), "\r\n ", "")
	s = strings.ReplaceAll(s, "=\r\n", "")
	return strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n")
}

func vcalTestHas(t *testing.T, out []byte, want ...string) {
	t.Helper()
	lines := vcalTestLines(out)
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("missing line %q in\n%s", w, out)
		}
	}
}

func vcalTestHasNot(t *testing.T, out []byte, prefixes ...string) {
	t.Helper()
	for _, l := range vcalTestLines(out) {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				t.Errorf("unexpected line %q in\n%s", l, out)
			}
		}
	}
}

func vcalTestCount(out []byte, line string) int {
	n := 0
	for _, l := range vcalTestLines(out) {
		if l == line {
			n++
		}
	}
	return n
}

func vcalTestWrap(props string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:1.0\r\n" + strings.ReplaceAll(strings.TrimSpace(props), "\n", "\r\n") + "\r\nEND:VCALENDAR\r\n")
}

func vcalTestWrapICal(props string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + strings.ReplaceAll(strings.TrimSpace(props), "\n", "\r\n") + "\r\nEND:VCALENDAR\r\n")
}

func vcalTestToICal(t *testing.T, in []byte) ([]byte, string) {
	t.Helper()
	out, form, err := VCal10ToICal20(in)
	if err != nil {
		t.Fatalf("VCal10ToICal20: %v\n%s", err, in)
	}
	return out, form
}

func vcalTestToVCal(t *testing.T, in []byte, opts *VCalOptions) []byte {
	t.Helper()
	out, err := ICal20ToVCal10(in, opts)
	if err != nil {
		t.Fatalf("ICal20ToVCal10: %v\n%s", err, in)
	}
	return out
}

// vcalTestItems reads stored iCalendar into the model.
func vcalTestItems(t *testing.T, ical []byte) []*vcalItem {
	t.Helper()
	tzs := map[string]*vcalZone{}
	var items []*vcalItem
	for _, cal := range vcalFindCalendars(vcalParse(ical, false)) {
		for _, c := range cal.comps {
			if c.name == "VTIMEZONE" {
				if z := icalZoneFromVTimezone(c); z != nil {
					tzs[z.id] = z
				}
			}
		}
		for _, c := range cal.comps {
			if c.name == "VEVENT" || c.name == "VTODO" {
				items = append(items, icalReadItem(c, tzs))
			}
		}
	}
	if len(items) == 0 {
		t.Fatalf("no items in\n%s", ical)
	}
	return items
}

// vcalTestInstant formats a value as its UTC instant, a date as the date,
// a floating time with an "L" suffix.
func vcalTestInstant(d vcalDT) string {
	if d.isZero() {
		return ""
	}
	if d.kind == vcalDate {
		return vcalFmtDate(d.wall)
	}
	if u, ok := d.instant(); ok {
		return vcalFmtUTC(u)
	}
	return vcalFmtLocal(d.wall) + "L"
}

// vcalTestOccurrences expands an item's first n occurrences (instants).
func vcalTestOccurrences(it *vcalItem, n int) []string {
	start := it.start
	if start.isZero() {
		start = it.due
	}
	if it.rule == nil {
		return []string{vcalTestInstant(start)}
	}
	var until vcalDT
	if it.rule.until != "" {
		t, utc, date, _ := vcalParseDT(it.rule.until)
		switch {
		case date:
			until = vcalDT{wall: t, kind: vcalDate}
		case utc:
			until = vcalDT{wall: t, kind: vcalUTC}
		default:
			until = vcalDT{wall: t, kind: vcalFloating}
		}
	}
	var out []string
	count := 0
	vcalEnumerate(*it.rule, start.wall, func(w time.Time, _ int) bool {
		d := start
		d.wall = w
		count++
		if it.rule.count > 0 && count > it.rule.count {
			return false
		}
		if !until.isZero() {
			switch {
			case until.kind == vcalDate || d.kind == vcalDate:
				if vcalDateOf(w).After(vcalDateOf(until.wall)) {
					return false
				}
			case until.kind == vcalUTC:
				if u, ok := d.instant(); ok && u.After(until.wall) {
					return false
				}
			default:
				if w.After(until.wall) {
					return false
				}
			}
		}
		for _, e := range it.exdates {
			if vcalSameTime(e, d) {
				return true
			}
		}
		out = append(out, vcalTestInstant(d))
		return len(out) < n
	})
	return out
}

// vcalTestRRuleGo expands DTSTART/RRULE/EXDATE lines of stored output with
// an independent implementation (IANA TZIDs only).
func vcalTestRRuleGo(t *testing.T, ical []byte, n int) []string {
	t.Helper()
	var ss, rest []string
	inEvent := false
	for _, l := range vcalTestLines(ical) {
		switch {
		case l == "BEGIN:VEVENT":
			inEvent = true
		case l == "END:VEVENT" || l == "BEGIN:VALARM":
			inEvent = false
		case !inEvent:
		case strings.HasPrefix(l, "DTSTART") && len(ss) == 0:
			ss = append(ss, l)
		case strings.HasPrefix(l, "RRULE:") || strings.HasPrefix(l, "EXDATE"):
			rest = append(rest, l)
		}
	}
	ss = append(ss, rest...)
	set, err := rrule.StrSliceToRRuleSetInLoc(ss, time.UTC)
	if err != nil {
		t.Fatalf("rrule-go on %q: %v", ss, err)
	}
	var out []string
	for _, o := range set.All() {
		out = append(out, vcalFmtUTC(o))
		if len(out) == n {
			break
		}
	}
	return out
}

func vcalTestLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// ---- vCalendar 1.0 -> iCalendar 2.0, real-world-like inputs ----

func TestVCal10ToICal20Fixtures(t *testing.T) {
	tests := []struct {
		file   string
		form   string
		want   []string
		absent []string
	}{
		{
			file: "nokia_weekly_dst.vcs", // Nokia S40: TZ/DAYLIGHT, local times, QP, AALARM
			want: []string{
				"TZID:Europe/Berlin",
				"DTSTART;TZID=Europe/Berlin:20260320T100000",
				"DTEND;TZID=Europe/Berlin:20260320T110000",
				"RRULE:FREQ=WEEKLY;BYDAY=FR;COUNT=4",
				"EXDATE;TZID=Europe/Berlin:20260403T100000",
				"SUMMARY:Besprechung Müller",
				`DESCRIPTION:Zeile eins\nZeile zwei mit einem sehr langen Text\, der weich umbrochen wird`,
				"LOCATION:Raum 1",
				"CATEGORIES:MEETING",
				"CLASS:PUBLIC",
				"PRIORITY:5",
				"ACTION:AUDIO",
				"TRIGGER:-PT15M",
				"UID:nokia-7210c-0001",
				"X-IRMC-LUID:000100000001",
				"LAST-MODIFIED:20260301T120000Z",
				"VERSION:2.0",
			},
		},
		{
			file: "nokia_todo.vcs", // CRLF, Windows-1252 without CHARSET, RFC 822 folding
			want: []string{
				"BEGIN:VTODO",
				"SUMMARY:Steuererklärung abgeben",
				`DESCRIPTION:This is a test task in local time zone\, to be started May 1st\, due May 2nd.`,
				"DTSTART;TZID=Europe/Berlin:20260501T100000",
				"DUE;TZID=Europe/Berlin:20260502T130000",
				"STATUS:NEEDS-ACTION",
				"PRIORITY:1",
				"CATEGORIES:Business,Waiting",
				"CLASS:PRIVATE",
				"TRIGGER;RELATED=END:-PT1H",
			},
		},
		{
			file: "se_weekly_ny.vcs", // Sony Ericsson: UTC times, AALARM+DALARM, ISO-8859-1
			want: []string{
				"TZID:America/New_York",
				"DTSTART;TZID=America/New_York:20261023T100000",
				"DTEND;TZID=America/New_York:20261023T110000",
				"RRULE:FREQ=WEEKLY;BYDAY=FR;UNTIL=20261113T150000Z",
				`DESCRIPTION:Café und Kuchen\n2. Zeile`,
				"ACTION:DISPLAY",
				"DESCRIPTION:Team call soon",
				"TRIGGER:-PT15M",
				"CLASS:CONFIDENTIAL",
				"TRANSP:OPAQUE",
			},
		},
		{
			file: "outlook_allday.vcs", // UTC of local midnight, TZ known, CDO hint
			form: VCalAllDayMidnight,
			want: []string{
				"DTSTART;VALUE=DATE:20261224",
				"DTEND;VALUE=DATE:20261226",
				"PRIORITY:9",
				"TRANSP:TRANSPARENT",
			},
			absent: []string{"X-MICROSOFT-CDO-ALLDAYEVENT", "BEGIN:VTIMEZONE"},
		},
		{
			file: "palm_allday_same.vcs", // equal start and end on a switch day
			form: VCalAllDaySame,
			want: []string{"DTSTART;VALUE=DATE:20260329", "DTEND;VALUE=DATE:20260330", "TRIGGER:-PT6H", "CATEGORIES:Unfiled"},
		},
		{
			file: "allday_date.vcs",
			form: VCalAllDayDate,
			want: []string{"DTSTART;VALUE=DATE:20261024", "DTEND;VALUE=DATE:20261026", "TRANSP:TRANSPARENT"},
		},
		{
			file: "allday_utc.vcs",
			form: VCalAllDayUTCMidnight,
			want: []string{"DTSTART;VALUE=DATE:20260329", "DTEND;VALUE=DATE:20260330", "TRANSP:TRANSPARENT"},
		},
		{
			file: "allday_endofday.vcs",
			form: VCalAllDayEndOfDay,
			want: []string{"DTSTART;VALUE=DATE:20261024", "DTEND;VALUE=DATE:20261026"},
		},
		{
			file: "allday_midnight_yearly.vcs",
			form: VCalAllDayMidnight,
			want: []string{
				"DTSTART;VALUE=DATE:20260329", "DTEND;VALUE=DATE:20260330",
				"RRULE:FREQ=YEARLY", "EXDATE;VALUE=DATE:20270329",
				"ACTION:DISPLAY", "TRIGGER:-PT15H", "DESCRIPTION:Geburtstag morgen",
			},
		},
		{
			file: "fixed_tz.vcs", // +05:30: the real zone that keeps it all year
			want: []string{"TZID:Asia/Kolkata", "TZOFFSETFROM:+0530", "TZOFFSETTO:+0530", "DTSTART;TZID=Asia/Kolkata:20260613T213000"},
		},
		{
			file: "custom_dst_rules.vcs", // three years of one rule no IANA zone has: fitted
			want: []string{
				"TZID:UTC+0100/+0200",
				"RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU",
				"RRULE:FREQ=YEARLY;BYMONTH=9;BYDAY=-1SU",
				"DTSTART;TZID=UTC+0100/+0200:20260410T090000",
			},
		},
		{
			file:   "irregular_dst.vcs", // switches on fixed dates: no rule, DTSTART only
			want:   []string{"DTSTART:20250321T000000", "DTSTART:20260322T000000", "DTSTART:20250921T000000", "DTSTART:20260922T000000"},
			absent: []string{"RRULE:"},
		},
		{
			file: "syncevolution_allday_tasks.vcs", // tasks due on a day, as local midnight; a monthly one
			form: VCalAllDayMidnight,
			want: []string{
				"DTSTART;VALUE=DATE:20261201", "DUE;VALUE=DATE:20261201", "RRULE:FREQ=MONTHLY",
				"EXDATE;VALUE=DATE:20270101", "DUE;VALUE=DATE:20261211",
			},
			absent: []string{"DUE:", "DTSTART:", "TZID"},
		},
		{
			file: "monthly_pos.vcs", // #3 counts months: six occurrences
			want: []string{"RRULE:FREQ=MONTHLY;BYDAY=1MO,-1FR;COUNT=6", "DTSTART:20260105T080000Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out, form := vcalTestToICal(t, vcalTestFile(t, tt.file))
			if form != tt.form {
				t.Errorf("all-day form = %q, want %q", form, tt.form)
			}
			vcalTestHas(t, out, tt.want...)
			vcalTestHasNot(t, out, tt.absent...)
			vcalTestHasNot(t, out, "VERSION:1.0", "AALARM", "DALARM", "DCREATED")
		})
	}
}

func TestVCalSonyEricssonOneAlarm(t *testing.T) {
	out, _ := vcalTestToICal(t, vcalTestFile(t, "se_weekly_ny.vcs"))
	if n := vcalTestCount(out, "BEGIN:VALARM"); n != 1 {
		t.Errorf("AALARM and DALARM at the same time gave %d alarms, want 1\n%s", n, out)
	}
}

func TestVCalSyncEvolutionVCal10Items(t *testing.T) {
	// The traits of SyncEvolution's vcal10.ics: UTC times, no TZ, end dates
	// at midnight that include their day.
	tests := []struct {
		props string
		want  []string
		form  string
	}{
		{"DTSTART:20060406T170000Z\nDTEND:20060406T173000Z\nRRULE:W1 TH 20060427T000000Z",
			[]string{"RRULE:FREQ=WEEKLY;BYDAY=TH;UNTIL=20060427T170000Z"}, ""},
		{"DTSTART:20060406T160000Z\nDTEND:20060406T163000Z\nRRULE:MP1 1+ SU #2",
			[]string{"RRULE:FREQ=MONTHLY;BYDAY=1SU;COUNT=2"}, ""},
		{"DTSTART:20060406T180000Z\nDTEND:20060406T183000Z\nRRULE:YM1 4 #2",
			[]string{"RRULE:FREQ=YEARLY;COUNT=2"}, ""},
		{"DTSTART:20060406T173000Z\nDTEND:20060406T180000Z\nRRULE:MD1 6 #3",
			[]string{"RRULE:FREQ=MONTHLY;COUNT=3"}, ""},
		{"DTSTART:20060406T163000Z\nDTEND:20060406T170000Z\nRRULE:D1 #0",
			[]string{"RRULE:FREQ=DAILY", "DTSTART:20060406T163000Z"}, ""},
		{"DTSTART:20060405T220000Z\nDTEND:20060407T220000Z\nTRANSP:TRANSPARENT",
			[]string{"DTSTART:20060405T220000Z", "DTEND:20060407T220000Z"}, ""},
		{"DTSTART:20060405T000000Z\nDTEND:20060406T000000Z\nTRANSP:TRANSPARENT",
			[]string{"DTSTART;VALUE=DATE:20060405", "DTEND;VALUE=DATE:20060406"}, VCalAllDayUTCMidnight},
	}
	for _, tt := range tests {
		out, form := vcalTestToICal(t, vcalTestWrap("BEGIN:VEVENT\nSUMMARY:x\n"+tt.props+"\nEND:VEVENT"))
		vcalTestHas(t, out, tt.want...)
		if form != tt.form {
			t.Errorf("%q: form %q, want %q", tt.props, form, tt.form)
		}
	}
}

func TestVCalFloatingWithoutZone(t *testing.T) {
	out, _ := vcalTestToICal(t, vcalTestWrap("BEGIN:VEVENT\nDTSTART:20261103T100000\nDTEND:20261103T110000\nRRULE:W1 TU #2\nEND:VEVENT"))
	vcalTestHas(t, out, "DTSTART:20261103T100000", "DTEND:20261103T110000", "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=2")
	vcalTestHasNot(t, out, "BEGIN:VTIMEZONE")

	// The device's configured zone fills in.
	out2, _, err := VCal10ToICal20WithOptions(vcalTestWrap("BEGIN:VEVENT\nDTSTART:20261103T100000\nEND:VEVENT"),
		&VCalOptions{Zone: vcalTestLoad(t, "America/New_York")})
	if err != nil {
		t.Fatal(err)
	}
	vcalTestHas(t, out2, "DTSTART;TZID=America/New_York:20261103T100000", "TZID:America/New_York")
}

// ---- iCalendar 2.0 -> vCalendar 1.0 ----

func TestVCalICal20ToVCal10Fixtures(t *testing.T) {
	berlin := vcalTestLoad(t, "Europe/Berlin")
	ny := vcalTestLoad(t, "America/New_York")
	tests := []struct {
		name   string
		file   string
		opts   *VCalOptions
		want   []string
		absent []string
	}{
		{
			name: "berlin weekly, device in Berlin",
			file: "berlin_weekly.ics", opts: &VCalOptions{Zone: berlin},
			want: []string{
				"VERSION:1.0", "TZ:+01", "DAYLIGHT:TRUE;+02;20260329T020000;20261025T030000;CET;CEST",
				"DTSTART:20260320T100000", "DTEND:20260320T110000",
				"RRULE:W1 FR 20260417T100000", "EXDATE:20260403T100000",
				"SUMMARY:Jour fixe, weekly",
				"DESCRIPTION;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Agenda:=0D=0A- Stand=0D=0A- Umlaute =C3=A4=C3=B6=C3=BC =C3=9F; semicolon",
				"LOCATION;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:B=C3=BCro 3",
				"CATEGORIES:Business;Meeting", "CLASS:PRIVATE", "TRANSP:0",
				"DALARM:20260320T094500;;;Jour fixe in 15 minutes", "AALARM:20260320T094500",
			},
			absent: []string{"X-", "BEGIN:VTIMEZONE", "TZID", "DTSTAMP"},
		},
		{
			name: "berlin weekly, UTC device: UTC times plus the event's zone",
			file: "berlin_weekly.ics", opts: nil,
			want: []string{
				"TZ:+01", "DTSTART:20260320T090000Z", "RRULE:W1 FR 20260417T080000Z",
				"EXDATE:20260403T080000Z", "AALARM:20260320T084500Z",
			},
		},
		{
			name: "task in New York, device in New York",
			file: "newyork_task.ics", opts: &VCalOptions{Zone: ny},
			want: []string{
				"BEGIN:VTODO", "DTSTART:20261101T100000", "DUE:20261102T130000",
				"STATUS:ACCEPTED", "PRIORITY:1", "CATEGORIES:Business;Waiting", "URL:http://example.org/task",
				"DALARM:20261101T130000;;;task due in one day",
			},
			absent: []string{"PERCENT-COMPLETE"},
		},
		{
			name: "completed task",
			file: "completed_task.ics",
			want: []string{"STATUS:COMPLETED", "PRIORITY:3", "DUE:20260320T160000Z", "COMPLETED:20260320T153615Z", "CLASS:CONFIDENTIAL"},
		},
		{
			name: "google: email and absolute audio alarm",
			file: "google_newyork.ics", opts: &VCalOptions{Zone: ny},
			want: []string{
				"DTSTART:20261030T100000", "RRULE:W1 FR #4", "STATUS:CONFIRMED",
				"MALARM:20261029T100000;;;someone@example.org;This is an event reminder",
				"AALARM:20261030T094500;;;ftp://example.org/sounds/bell-01.aud",
			},
		},
		{
			name: "detached recurrence",
			file: "exceptions.ics", opts: &VCalOptions{Zone: berlin},
			want: []string{"RRULE:W1 SU #5", "EXDATE:20260329T110000", "RECURRENCE-ID:20260329T110000", "DTSTART:20260329T140000"},
		},
		{
			name:   "inexpressible rule: first occurrence only",
			file:   "inexpressible.ics",
			want:   []string{"DTSTART:20260320T090000Z", "SUMMARY:twice a day"},
			absent: []string{"RRULE"},
		},
		{
			name: "all-day recurring, default form",
			file: "allday_recurring.ics",
			want: []string{"DTSTART:20261024", "DTEND:20261026", "RRULE:YM1 10 #10", "EXDATE:20281024"},
		},
		{
			name: "all-day recurring, utc-midnight",
			file: "allday_recurring.ics", opts: &VCalOptions{AllDayForm: VCalAllDayUTCMidnight},
			want: []string{"DTSTART:20261024T000000Z", "DTEND:20261025T240000Z", "EXDATE:20281024T000000Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := vcalTestToVCal(t, vcalTestFile(t, tt.file), tt.opts)
			vcalTestHas(t, out, tt.want...)
			vcalTestHasNot(t, out, tt.absent...)
		})
	}
}

func TestVCalAllDayForms(t *testing.T) {
	ical := vcalTestWrapICal("BEGIN:VEVENT\nUID:a\nSUMMARY:switch day\nDTSTART;VALUE=DATE:20260329\nDTEND;VALUE=DATE:20260330\nEND:VEVENT")
	two := vcalTestWrapICal("BEGIN:VEVENT\nUID:b\nSUMMARY:two days over the switch\nDTSTART;VALUE=DATE:20261024\nDTEND;VALUE=DATE:20261026\nEND:VEVENT")
	tests := []struct {
		form           string
		start, end     string
		start2, end2   string
		detectedAsForm string
	}{
		{VCalAllDayDate, "20260329", "20260330", "20261024", "20261026", VCalAllDayDate},
		{"", "20260329", "20260330", "20261024", "20261026", VCalAllDayDate},
		{VCalAllDayMidnight, "20260329T000000", "20260330T000000", "20261024T000000", "20261026T000000", VCalAllDayMidnight},
		{VCalAllDayUTCMidnight, "20260329T000000Z", "20260329T240000Z", "20261024T000000Z", "20261025T240000Z", VCalAllDayUTCMidnight},
		{VCalAllDaySame, "20260329T000000", "20260329T000000", "20261024T000000", "20261026T000000", VCalAllDaySame},
		{VCalAllDayEndOfDay, "20260329T000000", "20260329T235959", "20261024T000000", "20261025T235959", VCalAllDayEndOfDay},
	}
	zones := []*time.Location{nil, vcalTestLoad(t, "Europe/Berlin"), vcalTestLoad(t, "America/New_York"), vcalTestLoad(t, "Australia/Sydney")}
	for _, tt := range tests {
		for _, z := range zones {
			name := tt.form + "/" + "UTC"
			if z != nil {
				name = tt.form + "/" + z.String()
			}
			t.Run(name, func(t *testing.T) {
				opts := &VCalOptions{Zone: z, AllDayForm: tt.form}
				v := vcalTestToVCal(t, ical, opts)
				vcalTestHas(t, v, "DTSTART:"+tt.start, "DTEND:"+tt.end)
				back, form := vcalTestToICal(t, v)
				if form != tt.detectedAsForm {
					t.Errorf("form read back %q, want %q", form, tt.detectedAsForm)
				}
				vcalTestHas(t, back, "DTSTART;VALUE=DATE:20260329", "DTEND;VALUE=DATE:20260330")

				v2 := vcalTestToVCal(t, two, opts)
				vcalTestHas(t, v2, "DTSTART:"+tt.start2, "DTEND:"+tt.end2)
				back2, _ := vcalTestToICal(t, v2)
				vcalTestHas(t, back2, "DTSTART;VALUE=DATE:20261024", "DTEND;VALUE=DATE:20261026")
			})
		}
	}
}

func TestVCalAllDayHints(t *testing.T) {
	tests := []struct{ props, start, end string }{
		// Symbian's all-day entry type, start and end at local midnight.
		{"X-EPOCAGENDAENTRYTYPE:EVENT\nDTSTART:20261224T000000\nDTEND:20261224T000000", "20261224", "20261225"},
		// Funambol's flag with times that are not midnight.
		{"X-FUNAMBOL-ALLDAY:1\nDTSTART:20261224T000000\nDTEND:20261225T120000", "20261224", "20261226"},
		// Outlook's flag on UTC times, no TZ.
		{"X-MICROSOFT-CDO-ALLDAYEVENT:TRUE\nDTSTART:20261224T000000Z\nDTEND:20261224T000000Z", "20261224", "20261225"},
	}
	for _, tt := range tests {
		out, form := vcalTestToICal(t, vcalTestWrap("BEGIN:VEVENT\n"+tt.props+"\nEND:VEVENT"))
		vcalTestHas(t, out, "DTSTART;VALUE=DATE:"+tt.start, "DTEND;VALUE=DATE:"+tt.end)
		if form == "" {
			t.Errorf("%q: no form", tt.props)
		}
	}
	// Without a hint, a 24-hour event from 22:00 UTC stays timed.
	out, form := vcalTestToICal(t, vcalTestWrap("BEGIN:VEVENT\nDTSTART:20261223T220000Z\nDTEND:20261224T220000Z\nEND:VEVENT"))
	vcalTestHas(t, out, "DTSTART:20261223T220000Z")
	if form != "" {
		t.Errorf("timed event read as all-day %q", form)
	}
	// Equal start and end not at midnight: a timed event of no length.
	out, _ = vcalTestToICal(t, vcalTestWrap("BEGIN:VEVENT\nDTSTART:20261224T100000\nDTEND:20261224T100000\nEND:VEVENT"))
	vcalTestHas(t, out, "DTSTART:20261224T100000", "DTEND:20261224T100000")
}

// ---- daylight saving ----

// Weekly series over the March (Europe) and November (US) switches keep
// their wall-clock time, whatever the device's zone option.
func TestVCalDSTWeeklySeries(t *testing.T) {
	berlin := vcalTestLoad(t, "Europe/Berlin")
	ny := vcalTestLoad(t, "America/New_York")
	tests := []struct {
		file  string
		zone  *time.Location
		wants []string
	}{
		{"berlin_weekly.ics", berlin, []string{"20260320T090000Z", "20260327T090000Z", "20260410T080000Z", "20260417T080000Z"}},
		{"google_newyork.ics", ny, []string{"20261030T140000Z", "20261106T150000Z", "20261113T150000Z", "20261120T150000Z"}},
	}
	for _, tt := range tests {
		orig := vcalTestFile(t, tt.file)
		if got := vcalTestOccurrences(vcalTestItems(t, orig)[0], 10); !slices.Equal(got, tt.wants) {
			t.Fatalf("%s: fixture expands to %v, want %v", tt.file, got, tt.wants)
		}
		for _, z := range []*time.Location{nil, tt.zone} {
			v := vcalTestToVCal(t, orig, &VCalOptions{Zone: z})
			back, _ := vcalTestToICal(t, v)
			got := vcalTestOccurrences(vcalTestItems(t, back)[0], 10)
			if !slices.Equal(got, tt.wants) {
				t.Errorf("%s zone %v: occurrences %v, want %v\nvCal:\n%s\niCal:\n%s", tt.file, z, got, tt.wants, v, back)
			}
			if rg := vcalTestRRuleGo(t, back, 10); !slices.Equal(rg, tt.wants) {
				t.Errorf("%s zone %v: rrule-go expands the result to %v, want %v\n%s", tt.file, z, rg, tt.wants, back)
			}
		}
	}
}

// Device-side series over a switch, in the device's own spelling.
func TestVCalDSTDeviceSeries(t *testing.T) {
	tests := []struct {
		file  string
		wants []string
	}{
		// Berlin, 10:00 local on Fridays from 20 March; 3 April excluded.
		{"nokia_weekly_dst.vcs", []string{"20260320T090000Z", "20260327T090000Z", "20260410T080000Z"}},
		// New York, 10:00 local on Fridays from 23 October to 13 November.
		{"se_weekly_ny.vcs", []string{"20261023T140000Z", "20261030T140000Z", "20261106T150000Z", "20261113T150000Z"}},
	}
	for _, tt := range tests {
		out, _ := vcalTestToICal(t, vcalTestFile(t, tt.file))
		if got := vcalTestRRuleGo(t, out, 10); !slices.Equal(got, tt.wants) {
			t.Errorf("%s: %v, want %v\n%s", tt.file, got, tt.wants, out)
		}
		if got := vcalTestOccurrences(vcalTestItems(t, out)[0], 10); !slices.Equal(got, tt.wants) {
			t.Errorf("%s (own expansion): %v, want %v", tt.file, got, tt.wants)
		}
	}
	// A UTC series from a device without TZ, whose zone the configuration
	// gives: anchored in that zone.
	in := vcalTestWrap("BEGIN:VEVENT\nDTSTART:20260320T090000Z\nDTEND:20260320T100000Z\nRRULE:W1 FR #3\nEND:VEVENT")
	out, _, err := VCal10ToICal20WithOptions(in, &VCalOptions{Zone: vcalTestLoad(t, "Europe/Berlin")})
	if err != nil {
		t.Fatal(err)
	}
	vcalTestHas(t, out, "DTSTART;TZID=Europe/Berlin:20260320T100000")
	if got := vcalTestRRuleGo(t, out, 10); !slices.Equal(got, []string{"20260320T090000Z", "20260327T090000Z", "20260403T080000Z"}) {
		t.Errorf("configured zone: %v\n%s", got, out)
	}
}

// Single events next to the switches keep their instant both ways.
func TestVCalDSTSingleEvents(t *testing.T) {
	tests := []struct {
		zone, local, utc string
	}{
		{"Europe/Berlin", "20260329T013000", "20260329T003000Z"}, // before the spring switch
		{"Europe/Berlin", "20260329T033000", "20260329T013000Z"}, // after it
		{"Europe/Berlin", "20261025T013000", "20261024T233000Z"},
		{"Europe/Berlin", "20261025T033000", "20261025T023000Z"},
		{"America/New_York", "20260308T013000", "20260308T063000Z"},
		{"America/New_York", "20260308T033000", "20260308T073000Z"},
		{"America/New_York", "20261101T003000", "20261101T043000Z"},
		{"America/New_York", "20261101T033000", "20261101T083000Z"},
		{"Australia/Sydney", "20261004T033000", "20261003T163000Z"},
	}
	for _, tt := range tests {
		loc := vcalTestLoad(t, tt.zone)
		ical := vcalTestWrapICal("BEGIN:VEVENT\nUID:x\nDTSTART;TZID=" + tt.zone + ":" + tt.local + "\nEND:VEVENT")
		// Device in that zone: same wall clock, TZ/DAYLIGHT describe it.
		v := vcalTestToVCal(t, ical, &VCalOptions{Zone: loc})
		vcalTestHas(t, v, "DTSTART:"+tt.local)
		back, _ := vcalTestToICal(t, v)
		if got := vcalTestInstant(vcalTestItems(t, back)[0].start); got != tt.utc {
			t.Errorf("%s %s via local device: %s, want %s\n%s\n%s", tt.zone, tt.local, got, tt.utc, v, back)
		}
		// UTC device.
		v = vcalTestToVCal(t, ical, nil)
		vcalTestHas(t, v, "DTSTART:"+tt.utc)
		back, _ = vcalTestToICal(t, v)
		vcalTestHas(t, back, "DTSTART:"+tt.utc)
	}
}

// RFC 5545 3.3.5: a local time a switch skips takes the offset before it;
// one it repeats means the first occurrence.
func TestVCalDSTGapAndFold(t *testing.T) {
	berlin := &vcalZone{id: "Europe/Berlin", loc: vcalTestLoad(t, "Europe/Berlin")}
	vt := vcalTestItems(t, vcalTestFile(t, "berlin_weekly.ics"))[0].start.zone
	for _, z := range []*vcalZone{berlin, vt} {
		gap := z.toUTC(time.Date(2026, 3, 29, 2, 30, 0, 0, time.UTC))
		if got := vcalFmtUTC(gap); got != "20260329T013000Z" {
			t.Errorf("%s gap: %s", z.id, got)
		}
		fold := z.toUTC(time.Date(2026, 10, 25, 2, 30, 0, 0, time.UTC))
		if got := vcalFmtUTC(fold); got != "20261025T003000Z" {
			t.Errorf("%s fold: %s", z.id, got)
		}
	}
}

// ---- round trip iCalendar -> vCalendar -> iCalendar ----

func TestVCalRoundTrip(t *testing.T) {
	berlin := vcalTestLoad(t, "Europe/Berlin")
	ny := vcalTestLoad(t, "America/New_York")
	files := []string{"berlin_weekly.ics", "newyork_task.ics", "completed_task.ics", "allday_recurring.ics", "google_newyork.ics", "exceptions.ics"}
	forms := []string{VCalAllDayDate, VCalAllDayMidnight, VCalAllDayUTCMidnight, VCalAllDaySame, VCalAllDayEndOfDay}
	for _, f := range files {
		orig := vcalTestFile(t, f)
		want := vcalTestItems(t, orig)
		for _, z := range []*time.Location{nil, berlin, ny} {
			for _, form := range forms {
				opts := &VCalOptions{Zone: z, AllDayForm: form}
				v := vcalTestToVCal(t, orig, opts)
				back, _ := vcalTestToICal(t, v)
				got := vcalTestItems(t, back)
				if len(got) != len(want) {
					t.Fatalf("%s %v %s: %d items back, want %d", f, z, form, len(got), len(want))
				}
				for i := range want {
					// A series keeps its occurrences when the device is in
					// its zone or takes UTC (and the zone rides along in
					// TZ/DAYLIGHT); a device elsewhere repeats on its own
					// wall clock, which vCalendar 1.0 cannot say otherwise.
					sameZone := z == nil || want[i].start.zone == nil || vcalZonesAgree(want[i].start.zone, &vcalZone{loc: z})
					vcalTestSameItem(t, f+" "+form, want[i], got[i], v, back, sameZone)
				}
			}
		}
	}
}

func vcalTestSameItem(t *testing.T, name string, a, b *vcalItem, v, back []byte, series bool) {
	t.Helper()
	fail := func(field string, x, y any) {
		t.Errorf("%s: %s %v -> %v\nvCal:\n%s\niCal:\n%s", name, field, x, y, v, back)
	}
	strs := []struct {
		f    string
		x, y string
	}{
		{"kind", a.kind, b.kind}, {"UID", a.uid, b.uid}, {"SUMMARY", a.summary, b.summary},
		{"DESCRIPTION", a.description, b.description}, {"LOCATION", a.location, b.location},
		{"CLASS", a.class, b.class}, {"URL", a.url, b.url}, {"SEQUENCE", a.sequence, b.sequence},
		{"DTSTART", vcalTestInstant(a.start), vcalTestInstant(b.start)},
		{"DUE", vcalTestInstant(a.due), vcalTestInstant(b.due)},
		{"COMPLETED", vcalTestInstant(a.completed), vcalTestInstant(b.completed)},
		{"TRANSP", a.transp, b.transp},
	}
	for _, s := range strs {
		if s.x != s.y {
			fail(s.f, s.x, s.y)
		}
	}
	if x, y := vcalTestInstant(a.recurrenceID), vcalTestInstant(b.recurrenceID); (series || x == "") && x != y {
		fail("RECURRENCE-ID", x, y)
	}
	if a.kind == "VEVENT" && vcalTestInstant(a.end) != vcalTestInstant(b.end) {
		fail("DTEND", vcalTestInstant(a.end), vcalTestInstant(b.end))
	}
	if a.status != b.status && !(a.kind == "VEVENT" && a.status == "") {
		fail("STATUS", a.status, b.status)
	}
	if a.hasPriority != b.hasPriority || (a.priority == 0 || a.priority == 1 || a.priority == 5 || a.priority == 9) && a.priority != b.priority {
		fail("PRIORITY", a.priority, b.priority)
	}
	if !slices.Equal(a.categories, b.categories) {
		fail("CATEGORIES", a.categories, b.categories)
	}
	if x, y := vcalTestOccurrences(a, 30), vcalTestOccurrences(b, 30); series && !slices.Equal(x, y) || len(x) != len(y) {
		fail("occurrences", x, y)
	}
	if (a.rule == nil) != (b.rule == nil) || a.rule != nil && a.rule.icalString() != b.rule.icalString() {
		fail("RRULE", a.rule, b.rule)
	}
	var ex1, ex2 []string
	for _, e := range a.exdates {
		ex1 = append(ex1, vcalTestInstant(e))
	}
	for _, e := range b.exdates {
		ex2 = append(ex2, vcalTestInstant(e))
	}
	if series && !slices.Equal(ex1, ex2) || len(ex1) != len(ex2) {
		fail("EXDATE", ex1, ex2)
	}
	if x, y := vcalTestAlarms(a), vcalTestAlarms(b); !slices.Equal(x, y) {
		fail("alarms", x, y)
	}
}

// vcalTestAlarms lists action and absolute trigger time of each alarm.
func vcalTestAlarms(it *vcalItem) []string {
	var out []string
	for _, a := range it.alarms {
		at := a.abs
		if a.hasRel {
			anchor := it.start
			if a.relEnd {
				anchor = it.end
				if it.kind == "VTODO" {
					anchor = it.due
				}
			}
			at = vcalAddDur(anchor, a.relDays, a.relExact)
		}
		out = append(out, a.action+" "+vcalTestInstant(at)+" "+a.text+" "+a.email)
	}
	return out
}

// Every field vCalendar 1.0 can carry survives a round trip through our
// own output, the other way round too.
func TestVCalRoundTripFromDevice(t *testing.T) {
	for _, f := range []string{"nokia_weekly_dst.vcs", "nokia_todo.vcs", "se_weekly_ny.vcs", "allday_midnight_yearly.vcs", "monthly_pos.vcs", "outlook_allday.vcs"} {
		ical, form := vcalTestToICal(t, vcalTestFile(t, f))
		want := vcalTestItems(t, ical)
		var zone *time.Location
		if z := want[0].start.zone; z != nil && z.loc != nil {
			zone = z.loc
		}
		v := vcalTestToVCal(t, ical, &VCalOptions{Zone: zone, AllDayForm: form})
		ical2, form2 := vcalTestToICal(t, v)
		if form2 != form {
			t.Errorf("%s: form %q -> %q", f, form, form2)
		}
		got := vcalTestItems(t, ical2)
		for i := range want {
			vcalTestSameItem(t, f, want[i], got[i], v, ical2, true)
		}
	}
}

// ---- tasks ----

func TestVCalTaskMappings(t *testing.T) {
	status := []struct{ vcal, ical, back string }{
		{"NEEDS ACTION", "NEEDS-ACTION", "NEEDS ACTION"},
		{"COMPLETED", "COMPLETED", "COMPLETED"},
		{"ACCEPTED", "IN-PROCESS", "ACCEPTED"},
		{"DECLINED", "CANCELLED", "DECLINED"},
		{"SENT", "NEEDS-ACTION", "NEEDS ACTION"},
		{"CONFIRMED", "NEEDS-ACTION", "NEEDS ACTION"},
		{"IN-PROCESS", "IN-PROCESS", "ACCEPTED"},
	}
	for _, s := range status {
		out, _ := vcalTestToICal(t, vcalTestWrap("BEGIN:VTODO\nSUMMARY:t\nSTATUS:"+s.vcal+"\nEND:VTODO"))
		vcalTestHas(t, out, "STATUS:"+s.ical)
		v := vcalTestToVCal(t, out, nil)
		vcalTestHas(t, v, "STATUS:"+s.back)
	}
	prio := []struct {
		vcal, ical, back int
	}{{0, 0, 0}, {1, 1, 1}, {2, 5, 2}, {3, 9, 3}, {7, 7, 3}, {12, 9, 3}}
	for _, p := range prio {
		out, _ := vcalTestToICal(t, vcalTestWrap("BEGIN:VTODO\nPRIORITY:"+vcalTestItoa(p.vcal)+"\nEND:VTODO"))
		vcalTestHas(t, out, "PRIORITY:"+vcalTestItoa(p.ical))
		v := vcalTestToVCal(t, out, nil)
		vcalTestHas(t, v, "PRIORITY:"+vcalTestItoa(p.back))
	}
	for i, want := range []int{0, 1, 1, 1, 1, 2, 3, 3, 3, 3} {
		if got := vcalMapPriorityOut(i); got != want {
			t.Errorf("iCal priority %d -> %d, want %d", i, got, want)
		}
	}
	// Event status.
	out, _ := vcalTestToICal(t, vcalTestWrap("BEGIN:VEVENT\nDTSTART:20260101T100000Z\nSTATUS:DECLINED\nEND:VEVENT"))
	vcalTestHas(t, out, "STATUS:CANCELLED")
	vcalTestHas(t, vcalTestToVCal(t, out, nil), "STATUS:DECLINED")
}

func vcalTestItoa(n int) string { return vcalJoinInts([]int{n}) }

func TestVCalTaskDates(t *testing.T) {
	ical := vcalTestWrapICal("BEGIN:VTODO\nUID:t\nSUMMARY:date task\nDUE;VALUE=DATE:20261224\nEND:VTODO")
	vcalTestHas(t, vcalTestToVCal(t, ical, nil), "DUE:20261224")
	vcalTestHas(t, vcalTestToVCal(t, ical, &VCalOptions{AllDayForm: VCalAllDayMidnight}), "DUE:20261224T000000")
	out, _ := vcalTestToICal(t, vcalTestWrap("BEGIN:VTODO\nDUE:20261224\nCOMPLETED:20261223T101010Z\nEND:VTODO"))
	vcalTestHas(t, out, "DUE;VALUE=DATE:20261224", "COMPLETED:20261223T101010Z")
	// A task without DUE: the alarm relates to its start.
	out, _ = vcalTestToICal(t, vcalTestWrap("BEGIN:VTODO\nDTSTART:20261224T100000Z\nAALARM:20261224T090000Z\nEND:VTODO"))
	vcalTestHas(t, out, "TRIGGER:-PT1H")
}

// TestVCalTaskAllDay: the all-day spellings of a task's due date (as
// vCalendar 1.0 devices write a date: local midnight, or a date) are
// stored as DUE;VALUE=DATE, and go back to the device as it wrote them.
// UTC values and real times stay timed.
func TestVCalTaskAllDay(t *testing.T) {
	berlin := vcalTestLoad(t, "Europe/Berlin")
	const tzBerlin = "TZ:+01\nDAYLIGHT:TRUE;+02;20260329T010000Z;20261025T010000Z;CET;CEST\n"
	tests := []struct {
		name, props string
		zone        *time.Location // the device's zone on the way back
		stored      []string
		form        string
		back        []string // the device's own lines, read back
	}{
		{"local midnight", "DUE:20261210T000000", nil,
			[]string{"DUE;VALUE=DATE:20261210"}, VCalAllDayMidnight, []string{"DUE:20261210T000000"}},
		{"date", "DUE:20261210", nil,
			[]string{"DUE;VALUE=DATE:20261210"}, VCalAllDayDate, []string{"DUE:20261210"}},
		{"start and due at midnight", "DTSTART:20261201T000000\nDUE:20261210T000000", nil,
			[]string{"DTSTART;VALUE=DATE:20261201", "DUE;VALUE=DATE:20261210"}, VCalAllDayMidnight,
			[]string{"DTSTART:20261201T000000", "DUE:20261210T000000"}},
		{"start and due dates", "DTSTART:20261201\nDUE:20261210", nil,
			[]string{"DTSTART;VALUE=DATE:20261201", "DUE;VALUE=DATE:20261210"}, VCalAllDayDate,
			[]string{"DTSTART:20261201", "DUE:20261210"}},
		{"start midnight, due end of day", "DTSTART:20261201T000000\nDUE:20261210T235959", nil,
			[]string{"DTSTART;VALUE=DATE:20261201", "DUE;VALUE=DATE:20261210"}, VCalAllDayEndOfDay,
			[]string{"DTSTART:20261201T000000", "DUE:20261210T235959"}},
		{"start midnight, due 23:59", "DTSTART:20261210T000000\nDUE:20261210T235900", nil,
			[]string{"DTSTART;VALUE=DATE:20261210", "DUE;VALUE=DATE:20261210"}, VCalAllDayEndOfDay,
			[]string{"DTSTART:20261210T000000", "DUE:20261210T235959"}},
		{"local midnight with TZ", tzBerlin + "DUE:20261210T000000", berlin,
			[]string{"DUE;VALUE=DATE:20261210"}, VCalAllDayMidnight, []string{"DUE:20261210T000000"}},
		{"hint on a UTC time", tzBerlin + "X-FUNAMBOL-ALLDAY:1\nDUE:20261209T230000Z", berlin,
			[]string{"DUE;VALUE=DATE:20261210"}, VCalAllDayMidnight, []string{"DUE:20261210T000000"}},
		{"hint on UTC midnight", "X-FUNAMBOL-ALLDAY:1\nDUE:20261210T000000Z", nil,
			[]string{"DUE;VALUE=DATE:20261210"}, VCalAllDayUTCMidnight, []string{"DUE:20261210T000000Z"}},
		// Timed.
		{"UTC midnight", "DUE:20261210T000000Z", nil, []string{"DUE:20261210T000000Z"}, "", nil},
		{"UTC at local midnight", tzBerlin + "DUE:20261209T230000Z", nil, []string{"DUE:20261209T230000Z"}, "", nil},
		{"real time", "DUE:20261210T170000", nil, []string{"DUE:20261210T170000"}, "", nil},
		{"due at midnight, start timed", "DTSTART:20261201T100000\nDUE:20261210T000000", nil,
			[]string{"DTSTART:20261201T100000", "DUE:20261210T000000"}, "", nil},
		{"due at 23:59:59 alone", "DUE:20261210T235959", nil, []string{"DUE:20261210T235959"}, "", nil},
		{"due before start", "DTSTART:20261211T000000\nDUE:20261210T000000", nil,
			[]string{"DTSTART:20261211T000000", "DUE:20261210T000000"}, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored, form := vcalTestToICal(t, vcalTestWrap("BEGIN:VTODO\nUID:t\nSUMMARY:task\n"+tt.props+"\nEND:VTODO"))
			vcalTestHas(t, stored, tt.stored...)
			if form != tt.form {
				t.Errorf("form %q, want %q", form, tt.form)
			}
			if tt.form == "" {
				return
			}
			vcalTestHasNot(t, stored, "DTEND", "X-FUNAMBOL")
			dev := vcalTestToVCal(t, stored, &VCalOptions{Zone: tt.zone, AllDayForm: form})
			vcalTestHas(t, dev, tt.back...)
			if strings.Contains(tt.props, "X-FUNAMBOL-ALLDAY") {
				// The device flags its own all-day items again.
				dev = []byte(strings.Replace(string(dev), "BEGIN:VTODO\r\n", "BEGIN:VTODO\r\nX-FUNAMBOL-ALLDAY:1\r\n", 1))
			}
			again, _ := vcalTestToICal(t, dev)
			vcalTestHas(t, again, tt.stored...)
		})
	}
}

// ---- alarms ----

func TestVCalAlarms(t *testing.T) {
	tests := []struct {
		name  string
		props string
		want  []string
	}{
		{"absolute without start", "AALARM:20261224T090000Z;PT5M;3;file:///snd/ring.wav",
			[]string{"ACTION:AUDIO", "TRIGGER;VALUE=DATE-TIME:20261224T090000Z", "DURATION:PT5M", "REPEAT:3", "ATTACH:file:///snd/ring.wav"}},
		{"display relative", "DTSTART:20261224T100000Z\nDALARM:20261224T094500Z;;;Gleich geht's los",
			[]string{"ACTION:DISPLAY", "TRIGGER:-PT15M", "DESCRIPTION:Gleich geht's los"}},
		{"a day before, over a switch", "DTSTART:20260330T100000\nAALARM:20260329T100000\nTZ:+01\nDAYLIGHT:TRUE;+02;20260329T020000;20261025T030000;;",
			[]string{"TRIGGER:-P1D"}},
		{"mail", "DTSTART:20261224T100000Z\nMALARM:20261224T080000Z;;;boss@example.org;Bring the slides",
			[]string{"ACTION:EMAIL", "TRIGGER:-PT2H", "ATTENDEE:mailto:boss@example.org", "DESCRIPTION:Bring the slides"}},
		{"procedure", "DTSTART:20261224T100000Z\nPALARM:20261224T100000Z;;;/bin/notify",
			[]string{"ACTION:DISPLAY", "TRIGGER:PT0S"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := vcalTestToICal(t, vcalTestWrap("BEGIN:VEVENT\nSUMMARY:x\n"+tt.props+"\nEND:VEVENT"))
			vcalTestHas(t, out, tt.want...)
		})
	}
	// Back: DISPLAY gives DALARM and AALARM; an alarm after the start too.
	ical := vcalTestWrapICal(`BEGIN:VEVENT
DTSTART:20261231T120000Z
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER;VALUE=DURATION;RELATED=START:PT15M
DESCRIPTION:alarm after event
END:VALARM
BEGIN:VALARM
ACTION:AUDIO
TRIGGER:-PT1H
END:VALARM
END:VEVENT`)
	v := vcalTestToVCal(t, ical, nil)
	vcalTestHas(t, v, "DALARM:20261231T121500Z;;;alarm after event", "AALARM:20261231T121500Z", "AALARM:20261231T110000Z")
}

// ---- text ----

func TestVCalText(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"QP soft breaks", "SUMMARY;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:Sch=C3=B6ne=\n Gr=C3=BC=\n=C3=9Fe", []string{"SUMMARY:Schöne Grüße"}},
		{"bare QP parameter", "SUMMARY;QUOTED-PRINTABLE:a=3Db", []string{"SUMMARY:a=b"}},
		{"ISO-8859-15", "SUMMARY;CHARSET=ISO-8859-15;ENCODING=QUOTED-PRINTABLE:=A4 5", []string{"SUMMARY:€ 5"}},
		{"Shift_JIS", "SUMMARY;CHARSET=SHIFT_JIS;ENCODING=QUOTED-PRINTABLE:=93=FA=96=7B", []string{"SUMMARY:日本"}},
		{"base64", "DESCRIPTION;ENCODING=BASE64;CHARSET=UTF-8:SGFsbG8gV8O2bHQ=", []string{"DESCRIPTION:Hallo Wölt"}},
		{"RFC 822 folding keeps the space", "DESCRIPTION:one two\n three", []string{"DESCRIPTION:one two three"}},
		{"escaped semicolon", `LOCATION:Room 1\; floor 2`, []string{`LOCATION:Room 1\; floor 2`}},
		{"categories with commas and semicolons", "CATEGORIES:A;B,C", []string{"CATEGORIES:A,B,C"}},
		{"lowercase names and group", "a.summary:lower", []string{"SUMMARY:lower"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := vcalTestToICal(t, vcalTestWrap("BEGIN:VEVENT\n"+tt.in+"\nEND:VEVENT"))
			vcalTestHas(t, out, tt.want...)
		})
	}
	// Out: non-ASCII, multi-line and long values are QP, UTF-8.
	long := strings.Repeat("word ", 30)
	ical := vcalTestWrapICal("BEGIN:VEVENT\nSUMMARY:Ärger\nDESCRIPTION:" + long + `\nline 2` + "\nLOCATION:plain\nCATEGORIES:a\\;b,c\nEND:VEVENT")
	v := vcalTestToVCal(t, ical, nil)
	vcalTestHas(t, v, "SUMMARY;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=84rger", "LOCATION:plain", `CATEGORIES:a\;b;c`)
	for _, l := range strings.Split(string(v), "\r\n") {
		if len(l) > 76 {
			t.Errorf("line longer than 76: %q", l)
		}
	}
	back, _ := vcalTestToICal(t, v)
	it := vcalTestItems(t, back)[0]
	if it.description != long+"\nline 2" || it.summary != "Ärger" || !slices.Equal(it.categories, []string{"a;b", "c"}) {
		t.Errorf("text round trip: %q %q %q", it.summary, it.description, it.categories)
	}
}

// ---- time zones ----

func TestVCalTZProperties(t *testing.T) {
	tests := []struct {
		tz       string
		daylight []string
		id       string
		checks   map[string]int // UTC instant -> offset in hours*100+minutes
	}{
		{"+01", []string{"TRUE;+02;20260329T020000;20261025T030000;;"}, "Europe/Berlin",
			map[string]int{"20260329T005959Z": 100, "20260329T010000Z": 200, "20261025T005959Z": 200, "20261025T010000Z": 100}},
		{"+01:00", []string{"TRUE;+02:00;20260329T010000Z;20261025T010000Z;CET;CEST"}, "Europe/Berlin", nil},
		{"-05", []string{"TRUE;-04;20260308T020000;20261101T020000;EST;EDT"}, "America/New_York",
			map[string]int{"20260308T065959Z": -500, "20260308T070000Z": -400, "20261101T060000Z": -500}},
		{"+0000", []string{"TRUE;+0100;20260329T010000;20261025T020000;GMT;BST"}, "Europe/London", nil},
		{"+10", []string{"TRUE;+11;20261004T020000;20270404T030000;AEST;AEDT"}, "Australia/Sydney",
			map[string]int{"20261004T000000Z": 1100, "20270403T155959Z": 1100, "20270403T160000Z": 1000}},
		// SyncEvolution writes the switches nearest to now: this year's
		// end of summer time before next year's start.
		{"+01:00", []string{"TRUE;+02;20270328T010000Z;20261025T010000Z;CET;CEST"}, "Europe/Berlin",
			map[string]int{"20261025T005959Z": 200, "20261025T010000Z": 100, "20270328T005959Z": 100, "20270328T010000Z": 200}},
		{"-05:00", []string{"TRUE;-04:00;20260308T070000Z;20261101T060000Z;EST;EDT"}, "America/New_York", nil},
		{"-05:00", []string{"TRUE;-04:00;20270314T070000Z;20261101T060000Z;EST;EDT"}, "America/New_York", nil},
		// Rules no IANA zone has: fitted, summer time kept (not Etc/GMT-1).
		{"+01", []string{"TRUE;+02;20260601T000000Z;20260901T000000Z;;"}, "UTC+0100/+0200",
			map[string]int{"20260531T235959Z": 100, "20260701T000000Z": 200, "20261001T000000Z": 100}},
		{"+01", []string{"TRUE;+02;20270601T000000Z;20260901T000000Z;;"}, "UTC+0100/+0200",
			map[string]int{"20260801T000000Z": 200, "20261201T000000Z": 100, "20270701T000000Z": 200}},
		{"+08", nil, "Etc/GMT-8", map[string]int{"20260101T000000Z": 800}},
		// No Etc/ name for the offset: the zone that keeps it all year.
		{"+05:30", nil, "Asia/Kolkata", map[string]int{"20260101T000000Z": 530, "20260701T000000Z": 530}},
		{"+0545", []string{"FALSE"}, "Asia/Kathmandu", nil},
		{"-03:30", []string{"FALSE"}, "UTC-0330", map[string]int{"20260701T000000Z": -330}},
		{"", []string{"TRUE;+02;20260329T020000;20261025T030000;;"}, "Europe/Berlin", nil},
		{"+00", nil, "UTC", nil},
	}
	for _, tt := range tests {
		z := vcalZoneFromTZ(tt.tz, tt.daylight)
		if z == nil || z.id != tt.id {
			t.Errorf("TZ %q DAYLIGHT %q: zone %+v, want %s", tt.tz, tt.daylight, z, tt.id)
			continue
		}
		for at, want := range tt.checks {
			u, _, _, _ := vcalParseDT(at)
			off := z.offsetAt(u)
			if got := off/3600*100 + off%3600/60; got != want {
				t.Errorf("%s at %s: offset %d, want %d", tt.id, at, got, want)
			}
		}
	}
	if z := vcalZoneFromTZ("", nil); z != nil {
		t.Errorf("nothing gave %+v", z)
	}
	// Out: DAYLIGHT lines for the years around the items, southern
	// hemisphere periods spanning the new year.
	syd := &vcalZone{id: "Australia/Sydney", loc: vcalTestLoad(t, "Australia/Sydney")}
	tz, dl := syd.vcalTZLines(2026, 2026)
	if tz != "+10" || len(dl) != 2 || dl[1] != "TRUE;+11;20261004T020000;20270404T030000;AEST;AEDT" {
		t.Errorf("Sydney: %s %q", tz, dl)
	}
	tokyo := &vcalZone{id: "Asia/Tokyo", loc: vcalTestLoad(t, "Asia/Tokyo")}
	if tz, dl := tokyo.vcalTZLines(2026, 2027); tz != "+09" || !slices.Equal(dl, []string{"FALSE"}) {
		t.Errorf("Tokyo: %s %q", tz, dl)
	}
}

// TestVCalSyncEvolutionTZ: the TZ and DAYLIGHT SyncEvolution writes in
// December (this year's end of summer time, next year's start) name the
// device's real zone: a weekly series in UTC is anchored in
// Europe/Berlin, and local times are stored in it, not in Etc/GMT-1.
func TestVCalSyncEvolutionTZ(t *testing.T) {
	const tz = "TZ:+01:00\nDAYLIGHT:TRUE;+02;20270328T010000Z;20261025T010000Z;CET;CEST\n"
	out, _ := vcalTestToICal(t, vcalTestWrap(tz+"BEGIN:VEVENT\nUID:w\nDTSTART:20261207T080000Z\nDTEND:20261207T090000Z\nRRULE:W1 MO #0\nEND:VEVENT"))
	vcalTestHas(t, out, "TZID:Europe/Berlin", "DTSTART;TZID=Europe/Berlin:20261207T090000", "RRULE:FREQ=WEEKLY;BYDAY=MO")
	vcalTestHasNot(t, out, "TZID:Etc/", "TZID:UTC")
	out, _ = vcalTestToICal(t, vcalTestWrap(tz+"BEGIN:VEVENT\nUID:l\nDTSTART:20260710T100000\nDTEND:20260710T110000\nEND:VEVENT"))
	vcalTestHas(t, out, "DTSTART;TZID=Europe/Berlin:20260710T100000", "DTEND;TZID=Europe/Berlin:20260710T110000")
}

// A VTIMEZONE with the rules EDS writes (MONTHLY;INTERVAL=12, fixed
// offsets, RDATE) is read for the conversion to device time.
func TestVCalVTimezoneVariants(t *testing.T) {
	tests := []struct {
		name, vtz, local, utc string
	}{
		{"EDS EST/EDT monthly rules", `BEGIN:VTIMEZONE
TZID:EST/EDT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
DTSTART:19671029T020000
RRULE:FREQ=MONTHLY;INTERVAL=12;BYDAY=-1SU
END:STANDARD
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
DTSTART:19870405T020000
RRULE:FREQ=MONTHLY;INTERVAL=12;BYDAY=1SU
END:DAYLIGHT
END:VTIMEZONE`, "20060406T140000", "20060406T180000Z"},
		{"Outlook fixed offset", `BEGIN:VTIMEZONE
TZID:(GMT+05.30) Calcutta/Chennai/Mumbai/New Delhi/India StandarTime
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:+0530
TZOFFSETTO:+0530
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T000000
TZOFFSETFROM:+0530
TZOFFSETTO:+0530
END:DAYLIGHT
END:VTIMEZONE`, "20080613T213000", "20080613T160000Z"},
		{"RDATE onsets", `BEGIN:VTIMEZONE
TZID:Custom
BEGIN:STANDARD
DTSTART:20001029T030000
RDATE:20011028T030000,20021027T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:20000326T020000
RDATE:20010325T020000,20020331T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE`, "20020601T120000", "20020601T100000Z"},
		{"BYMONTHDAY with BYDAY", `BEGIN:VTIMEZONE
TZID:US-Eastern-2007
BEGIN:STANDARD
DTSTART:20071104T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=SU;BYMONTHDAY=1,2,3,4,5,6,7
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:20070311T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=SU;BYMONTHDAY=8,9,10,11,12,13,14
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
END:DAYLIGHT
END:VTIMEZONE`, "20261106T100000", "20261106T150000Z"},
	}
	for _, tt := range tests {
		id := strings.SplitN(strings.SplitN(tt.vtz, "TZID:", 2)[1], "\n", 2)[0]
		ical := vcalTestWrapICal(tt.vtz + "\nBEGIN:VEVENT\nDTSTART;TZID=\"" + id + "\":" + tt.local + "\nEND:VEVENT")
		vcalTestHas(t, vcalTestToVCal(t, ical, nil), "DTSTART:"+tt.utc)
	}
	// A TZID without VTIMEZONE: by its IANA name, also behind a prefix.
	for _, id := range []string{"Europe/Berlin", "/softwarestudio.org/Olson_20011030_5/Europe/Berlin", "/mozilla.org/20050126_1/Europe/Berlin"} {
		ical := vcalTestWrapICal("BEGIN:VEVENT\nDTSTART;TZID=" + id + ":20070929T140000\nEND:VEVENT")
		vcalTestHas(t, vcalTestToVCal(t, ical, nil), "DTSTART:20070929T120000Z")
	}
	// Unknown zone: kept as floating local time.
	ical := vcalTestWrapICal("BEGIN:VEVENT\nDTSTART;TZID=Nowhere/Special:20070929T140000\nEND:VEVENT")
	vcalTestHas(t, vcalTestToVCal(t, ical, nil), "DTSTART:20070929T140000")
}

// The VTIMEZONE written for an IANA zone follows rule changes (the US
// switched rules in 2007) and is read back to the same offsets.
func TestVCalVTimezoneFromIANA(t *testing.T) {
	ny := &vcalZone{id: "America/New_York", loc: vcalTestLoad(t, "America/New_York")}
	w := &vcalWriter{}
	ny.writeVTimezone(w, 2006, 2008)
	out := []byte(w.b.String())
	vcalTestHas(t, out, "RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU;UNTIL=20060402T070000Z", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU")
	read := icalZoneFromVTimezone(vcalParse(out, false)[0])
	for d := time.Date(2005, 5, 1, 0, 30, 0, 0, time.UTC); d.Year() < 2012; d = d.Add(7 * time.Hour) {
		if a, b := ny.offsetAt(d), read.offsetAt(d); a != b {
			t.Fatalf("%s: IANA %d, VTIMEZONE %d\n%s", d, a, b, out)
		}
	}
}

// ---- errors and tolerance ----

// RFC 5545 3.8.7.2: every VEVENT and VTODO gets a DTSTAMP, from the
// item's own DTSTAMP, LAST-MODIFIED or DCREATED, else from the clock.
func TestVCalDTStamp(t *testing.T) {
	clock := func() time.Time { return time.Date(2026, 5, 4, 3, 2, 1, 0, time.FixedZone("X", 2*3600)) }
	in := []byte("BEGIN:VCALENDAR\r\nVERSION:1.0\r\n" +
		"BEGIN:VEVENT\r\nUID:none\r\nDTSTART:20260601T100000Z\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:modified\r\nDCREATED:20250101T000000Z\r\nLAST-MODIFIED:20260301T120000Z\r\nEND:VEVENT\r\n" +
		"BEGIN:VTODO\r\nUID:created\r\nDCREATED:20250102T080000Z\r\nEND:VTODO\r\n" +
		"BEGIN:VTODO\r\nUID:stamped\r\nDTSTAMP:20240101T000000Z\r\nLAST-MODIFIED:20260301T120000Z\r\nEND:VTODO\r\n" +
		"END:VCALENDAR\r\n")
	out, _, err := VCal10ToICal20WithOptions(in, &VCalOptions{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"none":     "20260504T010201Z", // the clock, in UTC
		"modified": "20260301T120000Z",
		"created":  "20250102T080000Z",
		"stamped":  "20240101T000000Z",
	}
	got := map[string]string{}
	for _, cal := range vobject.Parse(out) {
		for _, c := range cal.Children {
			if c.Name != "VEVENT" && c.Name != "VTODO" {
				continue
			}
			n := 0
			for _, p := range c.Props {
				if p.Name == "DTSTAMP" {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s %s: %d DTSTAMPs", c.Name, c.PropValue("UID"), n)
			}
			got[c.PropValue("UID")] = c.PropValue("DTSTAMP")
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DTSTAMPs %v, want %v\n%s", got, want, out)
	}

	// Without options every item of every fixture still gets one.
	files, _ := filepath.Glob(filepath.Join("testdata", "vcal", "*.vcs"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := vcalTestToICal(t, b)
		for _, cal := range vobject.Parse(out) {
			for _, c := range cal.Children {
				if (c.Name == "VEVENT" || c.Name == "VTODO") && c.Prop("DTSTAMP") == nil {
					t.Errorf("%s: %s without DTSTAMP:\n%s", f, c.Name, out)
				}
			}
		}
	}
}

func TestVCalErrors(t *testing.T) {
	for _, in := range [][]byte{nil, []byte(""), vcalTestFile(t, "no_calendar.txt"), []byte("garbage\x00\xff")} {
		if _, _, err := VCal10ToICal20(in); !errors.Is(err, VCalErrNoCalendar) {
			t.Errorf("VCal10ToICal20(%q): %v", in, err)
		}
		if _, err := ICal20ToVCal10(in, nil); !errors.Is(err, VCalErrNoCalendar) {
			t.Errorf("ICal20ToVCal10(%q): %v", in, err)
		}
	}
	tolerated := []string{
		"BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:unterminated",
		"BEGIN:VCALENDAR\nEND:VCALENDAR",
		"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:garbage\nDTEND:20261399T999999\nRRULE:W0 XX #-1\nEXDATE:;;;\nAALARM:;;;\nEND:VEVENT\nEND:VCALENDAR",
		"BEGIN:VCALENDAR\nTZ:+99\nDAYLIGHT:TRUE;;;;\nBEGIN:VTODO\nDUE:20260101T240000\nPRIORITY:x\nEND:VTODO\nEND:VCALENDAR",
		"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;TZID=\"x:y\":20260101T100000\nRRULE:FREQ=SECONDLY;COUNT=99999999\nBEGIN:VALARM\nTRIGGER:P\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR",
		"begin:vcalendar\nbegin:vevent\nsummary:lower case\nend:vevent\nend:vcalendar",
	}
	for _, in := range tolerated {
		if _, _, err := VCal10ToICal20([]byte(in)); err != nil {
			t.Errorf("VCal10ToICal20(%q): %v", in, err)
		}
		if _, err := ICal20ToVCal10([]byte(in), &VCalOptions{Zone: vcalTestLoad(t, "Europe/Berlin"), AllDayForm: "bogus"}); err != nil {
			t.Errorf("ICal20ToVCal10(%q): %v", in, err)
		}
	}
	out, _ := vcalTestToICal(t, []byte(tolerated[5]))
	vcalTestHas(t, out, "SUMMARY:lower case")
}

// Big items stay cheap: many DAYLIGHT lines, many series with huge counts.
func TestVCalLargeInputsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\nTZ:+01\n")
	for y := 1500; y < 2100; y++ {
		b.WriteString("DAYLIGHT:TRUE;+02;" + vcalTestItoa(y) + "0329T020000;" + vcalTestItoa(y) + "1025T030000;;\n")
	}
	for i := 0; i < 200; i++ {
		b.WriteString("BEGIN:VEVENT\nDTSTART:20260101T100000\nRRULE:W1 MO TU WE TH FR SA SU #99999\nEXDATE:20260102T100000;20260103T100000\nAALARM:20260101T090000\nEND:VEVENT\n")
	}
	b.WriteString("END:VCALENDAR\n")
	start := time.Now()
	out, _ := vcalTestToICal(t, []byte(b.String()))
	vcalTestToVCal(t, out, nil)
	var c strings.Builder
	c.WriteString("BEGIN:VCALENDAR\n")
	for i := 0; i < 200; i++ {
		c.WriteString("BEGIN:VEVENT\nDTSTART;TZID=Europe/Berlin:20260101T100000\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU;COUNT=999999\nEND:VEVENT\n")
	}
	c.WriteString("END:VCALENDAR\n")
	vcalTestToVCal(t, []byte(c.String()), nil)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestVCalUTF16Input: vCards in UTF-16 with a byte order mark were read,
// vCalendars were not (no VCALENDAR found); both take it now.
func TestVCalUTF16Input(t *testing.T) {
	s := "BEGIN:VCALENDAR\r\nVERSION:1.0\r\nBEGIN:VEVENT\r\nSUMMARY:Café\r\nDTSTART:20260101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	in := []byte{0xFE, 0xFF}
	for _, r := range s {
		in = append(in, byte(r>>8), byte(r))
	}
	out, _, err := VCal10ToICal20(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "\r\nSUMMARY:Café\r\n") {
		t.Errorf("UTF-16 input not decoded:\n%s", out)
	}
}
