package eas

import (
	"strings"
	"testing"

	"syncml-imap/internal/vobject"
	"syncml-imap/internal/wbxml"
)

// A weekly series in Berlin: one occurrence deleted (EXDATE), one moved
// (with X- lines and a second alarm the client cannot hold), one renamed,
// one cancelled.
const storedSeries = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nEND:VTIMEZONE\r\n" +
	"BEGIN:VEVENT\r\nUID:s1@test\r\nDTSTAMP:20261201T000000Z\r\nDTSTART;TZID=Europe/Berlin:20261208T100000\r\n" +
	"DTEND;TZID=Europe/Berlin:20261208T110000\r\nSUMMARY:Standup\r\nLOCATION:Room 1\r\nRRULE:FREQ=WEEKLY;BYDAY=TU\r\n" +
	"EXDATE;TZID=Europe/Berlin:20261215T100000\r\nX-MASTER:1\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:s1@test\r\nDTSTAMP:20261201T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261222T100000\r\n" +
	"DTSTART;TZID=Europe/Berlin:20261222T140000\r\nDTEND;TZID=Europe/Berlin:20261222T150000\r\nSUMMARY:Standup\r\nLOCATION:Room 1\r\n" +
	"X-A:keep\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nBEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:s1@test\r\nDTSTAMP:20261201T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261229T100000\r\n" +
	"DTSTART;TZID=Europe/Berlin:20261229T100000\r\nDTEND;TZID=Europe/Berlin:20261229T110000\r\nSUMMARY:Standup (demo)\r\nLOCATION:Room 1\r\n" +
	"X-B:keep\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:s1@test\r\nDTSTAMP:20261201T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20270105T100000\r\nSTATUS:CANCELLED\r\n" +
	"DTSTART;TZID=Europe/Berlin:20270105T100000\r\nDTEND;TZID=Europe/Berlin:20270105T110000\r\nSUMMARY:Standup\r\nLOCATION:Room 1\r\nEND:VEVENT\r\n" +
	"END:VCALENDAR\r\n"

const (
	blockMoved     = "BEGIN:VEVENT\r\nUID:s1@test\r\nDTSTAMP:20261201T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261222T100000\r\n"
	blockRenamed   = "X-B:keep\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n"
	blockCancelled = "RECURRENCE-ID;TZID=Europe/Berlin:20270105T100000\r\nSTATUS:CANCELLED\r\n"
)

// exceptionsText writes a field list's Exceptions compactly.
func exceptionsText(fs []Field) string {
	var out []string
	for _, f := range fs {
		if f.Name != "Exceptions" {
			continue
		}
		for _, e := range f.Sub {
			var parts []string
			for _, x := range e.Sub {
				v := x.Value
				if x.Name == "Location" && x.Sub != nil {
					v = locationOf(x)
				}
				parts = append(parts, x.Name+"="+v)
			}
			out = append(out, strings.Join(parts, " "))
		}
	}
	return strings.Join(out, "\n")
}

// wire is fields as a client sends them back: written as ApplicationData
// in WBXML and read again.
func wire(t *testing.T, fs []Field) []Field {
	t.Helper()
	data, err := wbxml.EncodeEAS(el("AirSync", "Sync", el("", "ApplicationData", fieldNodes(fs)...)))
	if err != nil {
		t.Fatal(err)
	}
	root, err := wbxml.DecodeEAS(data)
	if err != nil {
		t.Fatal(err)
	}
	return nodeFields(child(root, "ApplicationData"))
}

// edited is fs with the Exception at ExceptionStartTime (or InstanceId)
// at changed by fn (nil: left out).
func edited(fs []Field, at string, fn func([]Field) []Field) []Field {
	out := make([]Field, 0, len(fs))
	for _, f := range fs {
		if f.Name == "Exceptions" {
			var exc []Field
			for _, e := range f.Sub {
				if fieldValue(e.Sub, "ExceptionStartTime") == at || fieldValue(e.Sub, "InstanceId") == at {
					if fn == nil {
						continue
					}
					e.Sub = fn(append([]Field(nil), e.Sub...))
				}
				exc = append(exc, e)
			}
			f.Sub = exc
		}
		out = append(out, f)
	}
	return out
}

func TestExceptionsOut(t *testing.T) {
	got := exceptionsText(EventFields([]byte(storedSeries)))
	want := "Deleted=1 ExceptionStartTime=20261215T090000Z\n" +
		"ExceptionStartTime=20261222T090000Z StartTime=20261222T130000Z EndTime=20261222T140000Z\n" +
		"ExceptionStartTime=20261229T090000Z Subject=Standup (demo) StartTime=20261229T090000Z EndTime=20261229T100000Z\n" +
		"Deleted=1 ExceptionStartTime=20270105T090000Z"
	if got != want {
		t.Errorf("14.1 exceptions:\n%s\nwant:\n%s", got, want)
	}
	// 16.x: InstanceId (airsyncbase) too, after Reminder (ExceptionStartTime
	// stays: TbSync 4.18 at 16.1 reads only it); the location as
	// airsyncbase:Location.
	fs := EventFieldsFor([]byte(storedSeries), "16.1")
	got = exceptionsText(fs)
	want = "Deleted=1 ExceptionStartTime=20261215T090000Z InstanceId=20261215T090000Z\n" +
		"ExceptionStartTime=20261222T090000Z StartTime=20261222T130000Z EndTime=20261222T140000Z InstanceId=20261222T090000Z\n" +
		"ExceptionStartTime=20261229T090000Z Subject=Standup (demo) StartTime=20261229T090000Z EndTime=20261229T100000Z InstanceId=20261229T090000Z\n" +
		"Deleted=1 ExceptionStartTime=20270105T090000Z InstanceId=20270105T090000Z"
	if got != want {
		t.Errorf("16.1 exceptions:\n%s\nwant:\n%s", got, want)
	}
	for _, f := range fs {
		if f.Name == "Location" && (f.Page != "AirSyncBase" || locationOf(f) != "Room 1") {
			t.Errorf("16.1 location %+v", f)
		}
		if f.Name == "Exceptions" {
			if id, _ := findField(f.Sub[1].Sub, "InstanceId"); id.Page != "AirSyncBase" {
				t.Errorf("16.1 InstanceId %+v", f.Sub[1].Sub)
			}
		}
	}
	// An exception without the master's location, reminder and body says
	// so with empty elements (as the stored event of event_test.go).
	got = exceptionsText(EventFields([]byte(storedEvent)))
	if !strings.Contains(got, "ExceptionStartTime=20261222T090000Z Subject=Team meeting (moved) StartTime=20261222T110000Z EndTime=20261222T120000Z Body= Location= Reminder= Attendees=") {
		t.Errorf("exception lacking the master's fields:\n%s", got)
	}
}

func TestExceptionsRoundTrip(t *testing.T) {
	for _, v := range []string{"14.1", "16.1"} {
		fs := wire(t, EventFieldsFor([]byte(storedSeries), v))
		if got := string(ApplyEvent([]byte(storedSeries), fs, nil, "")); got != storedSeries {
			t.Errorf("%s: sent back as it went out, the series changed:\n%s", v, got)
		}
	}
	// A Change without Exceptions keeps them all.
	var fs []Field
	for _, f := range EventFields([]byte(storedSeries)) {
		if f.Name != "Exceptions" {
			fs = append(fs, f)
		}
	}
	if got := string(ApplyEvent([]byte(storedSeries), fs, nil, "")); got != storedSeries {
		t.Errorf("a Change without Exceptions changed them:\n%s", got)
	}
}

func TestExceptionEditKeepsTheRest(t *testing.T) {
	fs := edited(EventFields([]byte(storedSeries)), "20261222T090000Z", func(sub []Field) []Field {
		return append(sub, Field{Page: "Calendar", Name: "Subject", Value: "Standup (moved)"})
	})
	out := string(ApplyEvent([]byte(storedSeries), wire(t, fs), nil, ""))
	for _, want := range []string{
		// The edited one: its subject; its X- line and its second alarm stay.
		blockMoved + "DTSTART;TZID=Europe/Berlin:20261222T140000\r\nDTEND;TZID=Europe/Berlin:20261222T150000\r\nSUMMARY:Standup (moved)\r\nLOCATION:Room 1\r\nX-A:keep\r\n" +
			"BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nBEGIN:VALARM\r\nACTION:AUDIO\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n",
		// The others as stored.
		"SUMMARY:Standup (demo)\r\nLOCATION:Room 1\r\n" + blockRenamed, blockCancelled,
		"EXDATE;TZID=Europe/Berlin:20261215T100000\r\nX-MASTER:1\r\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "BEGIN:VEVENT") != 4 {
		t.Errorf("components:\n%s", out)
	}
}

func TestExceptionsIn(t *testing.T) {
	fs := EventFields([]byte(storedSeries))
	fs = edited(fs, "20261229T090000Z", nil)                    // left out: back to the pattern
	fs = edited(fs, "20261222T090000Z", func([]Field) []Field { // the moved one deleted
		return []Field{{Page: "Calendar", Name: "ExceptionStartTime", Value: "20261222T090000Z"}, {Page: "Calendar", Name: "Deleted", Value: "1"}}
	})
	for i := range fs {
		if fs[i].Name == "Exceptions" { // a new one, as TbSync writes an Exception
			fs[i].Sub = append(fs[i].Sub, Field{Page: "Calendar", Name: "Exception", Sub: []Field{
				{Page: "Calendar", Name: "ExceptionStartTime", Value: "20270112T090000Z"},
				{Page: "Calendar", Name: "AllDayEvent", Value: "0"}, {Page: "Calendar", Name: "BusyStatus", Value: "2"},
				{Page: "Calendar", Name: "DtStamp", Value: "20261207T120000Z"}, {Page: "Calendar", Name: "EndTime", Value: "20270112T110000Z"},
				{Page: "Calendar", Name: "Location", Value: "Room 2"}, {Page: "Calendar", Name: "Reminder", Value: "15"},
				{Page: "Calendar", Name: "Sensitivity", Value: "0"}, {Page: "Calendar", Name: "Subject", Value: "Standup"},
				{Page: "Calendar", Name: "StartTime", Value: "20270112T100000Z"}}})
		}
	}
	out := string(ApplyEvent([]byte(storedSeries), wire(t, fs), nil, ""))
	for _, want := range []string{
		"EXDATE;TZID=Europe/Berlin:20261215T100000\r\nEXDATE;TZID=Europe/Berlin:20261222T100000\r\nX-MASTER:1\r\n", blockCancelled,
		"RECURRENCE-ID;TZID=Europe/Berlin:20270112T100000\r\n", "DTSTART;TZID=Europe/Berlin:20270112T110000\r\n", "DTEND;TZID=Europe/Berlin:20270112T120000\r\n",
		"LOCATION:Room 2\r\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	for _, gone := range []string{"X-A:keep", "X-B:keep", "20261229T100000", "RECURRENCE-ID;TZID=Europe/Berlin:20261222T100000"} {
		if strings.Contains(out, gone) {
			t.Errorf("still has %q:\n%s", gone, out)
		}
	}
	objs := vobject.Parse([]byte(out))
	var added *vobject.Object
	for _, c := range objs[0].Children {
		if c.PropValue("RECURRENCE-ID") == "20270112T100000" {
			added = c
		}
	}
	// The new one is the master at that occurrence, without its rule.
	if added == nil || added.PropValue("UID") != "s1@test" || added.PropValue("X-MASTER") != "1" || added.Prop("RRULE") != nil ||
		added.Prop("EXDATE") != nil || len(added.Children) != 1 || added.PropValue("SUMMARY") != "Standup" {
		t.Errorf("the new exception:\n%s", out)
	}
	// What goes out again names the same occurrences.
	want := "Deleted=1 ExceptionStartTime=20261215T090000Z\nDeleted=1 ExceptionStartTime=20261222T090000Z\nDeleted=1 ExceptionStartTime=20270105T090000Z\n" +
		"ExceptionStartTime=20270112T090000Z StartTime=20270112T100000Z EndTime=20270112T110000Z Location=Room 2"
	if got := exceptionsText(EventFields([]byte(out))); got != want {
		t.Errorf("sent again:\n%s\nwant:\n%s", got, want)
	}
	// An empty Exceptions: every exception goes.
	fs = EventFields([]byte(storedSeries))
	for i := range fs {
		if fs[i].Name == "Exceptions" {
			fs[i] = Field{Page: "Calendar", Name: "Exceptions"}
		}
	}
	out = string(ApplyEvent([]byte(storedSeries), wire(t, fs), nil, ""))
	if strings.Count(out, "BEGIN:VEVENT") != 1 || strings.Contains(out, "EXDATE") {
		t.Errorf("an empty Exceptions:\n%s", out)
	}
}

func TestExceptionsFollowTheMaster(t *testing.T) {
	// The series renamed: the moved occurrence had the master's subject
	// and follows; the renamed one keeps its own.
	fs := EventFields([]byte(storedSeries))
	for i := range fs {
		if fs[i].Name == "Subject" {
			fs[i].Value = "Daily"
		}
	}
	out := string(ApplyEvent([]byte(storedSeries), wire(t, fs), nil, ""))
	if !strings.Contains(out, blockMoved+"DTSTART;TZID=Europe/Berlin:20261222T140000\r\nDTEND;TZID=Europe/Berlin:20261222T150000\r\nSUMMARY:Daily\r\n") ||
		!strings.Contains(out, "SUMMARY:Standup (demo)\r\n") || strings.Count(out, "SUMMARY:Daily") != 2 {
		t.Errorf("renamed series:\n%s", out)
	}
}

const storedAllDay = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" +
	"BEGIN:VEVENT\r\nUID:xmas@test\r\nDTSTAMP:20261201T000000Z\r\nDTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261225\r\nSUMMARY:Christmas Eve\r\n" +
	"RRULE:FREQ=YEARLY\r\nEXDATE;VALUE=DATE:20271224\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:xmas@test\r\nDTSTAMP:20261201T000000Z\r\nRECURRENCE-ID;VALUE=DATE:20281224\r\nDTSTART;VALUE=DATE:20281223\r\nDTEND;VALUE=DATE:20281224\r\n" +
	"SUMMARY:Christmas Eve (early)\r\nX-WHY:travel\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

func TestExceptionsAllDay(t *testing.T) {
	fs := EventFields([]byte(storedAllDay))
	want := "Deleted=1 ExceptionStartTime=20271224T000000Z\n" +
		"ExceptionStartTime=20281224T000000Z Subject=Christmas Eve (early) StartTime=20281223T000000Z EndTime=20281224T000000Z"
	if got := exceptionsText(fs); got != want {
		t.Errorf("all-day exceptions:\n%s\nwant:\n%s", got, want)
	}
	if got := string(ApplyEvent([]byte(storedAllDay), wire(t, fs), nil, "")); got != storedAllDay {
		t.Errorf("all-day round trip:\n%s", got)
	}
	// A client in Berlin that writes all-day boundaries as its midnight
	// (Exchange's form): 2029-12-24 deleted, 2030-12-24 moved a day on.
	berlin := zoneOf(mustLoad(t, "Europe/Berlin"), 2026).encode()
	fs = append(fs, Field{Page: "Calendar", Name: "TimeZone", Value: berlin})
	for i := range fs {
		switch fs[i].Name {
		case "StartTime":
			fs[i].Value = "20261223T230000Z"
		case "EndTime":
			fs[i].Value = "20261224T230000Z"
		case "Exceptions":
			fs[i].Sub = append(fs[i].Sub,
				Field{Page: "Calendar", Name: "Exception", Sub: []Field{{Page: "Calendar", Name: "Deleted", Value: "1"}, {Page: "Calendar", Name: "ExceptionStartTime", Value: "20291223T230000Z"}}},
				Field{Page: "Calendar", Name: "Exception", Sub: []Field{{Page: "Calendar", Name: "ExceptionStartTime", Value: "20301223T230000Z"},
					{Page: "Calendar", Name: "StartTime", Value: "20301224T230000Z"}, {Page: "Calendar", Name: "EndTime", Value: "20301225T230000Z"}}})
		}
	}
	out := string(ApplyEvent([]byte(storedAllDay), fs, nil, ""))
	for _, want := range []string{"DTSTART;VALUE=DATE:20261224\r\n", "EXDATE;VALUE=DATE:20271224\r\nEXDATE;VALUE=DATE:20291224\r\n",
		"RECURRENCE-ID;VALUE=DATE:20301224\r\nDTSTART;VALUE=DATE:20301225\r\nDTEND;VALUE=DATE:20301226\r\n", "X-WHY:travel\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
}

func TestNewSeriesWithExceptions(t *testing.T) {
	// A new series from a client in Berlin (TIME_ZONE_INFORMATION), with a
	// deleted and a moved occurrence.
	fs := []Field{{Page: "Calendar", Name: "TimeZone", Value: zoneOf(mustLoad(t, "Europe/Berlin"), 2026).encode()},
		{Page: "Calendar", Name: "AllDayEvent", Value: "0"},
		{Page: "Calendar", Name: "StartTime", Value: "20261208T090000Z"}, {Page: "Calendar", Name: "EndTime", Value: "20261208T100000Z"},
		{Page: "Calendar", Name: "Subject", Value: "Standup"},
		{Page: "Calendar", Name: "Recurrence", Sub: []Field{{Page: "Calendar", Name: "Type", Value: "1"}, {Page: "Calendar", Name: "Interval", Value: "1"}, {Page: "Calendar", Name: "DayOfWeek", Value: "4"}}},
		{Page: "Calendar", Name: "Exceptions", Sub: []Field{
			{Page: "Calendar", Name: "Exception", Sub: []Field{{Page: "Calendar", Name: "Deleted", Value: "1"}, {Page: "Calendar", Name: "ExceptionStartTime", Value: "20261215T090000Z"}}},
			{Page: "Calendar", Name: "Exception", Sub: []Field{{Page: "Calendar", Name: "ExceptionStartTime", Value: "20261222T090000Z"}, {Page: "Calendar", Name: "Subject", Value: "Moved"},
				{Page: "Calendar", Name: "StartTime", Value: "20261222T130000Z"}, {Page: "Calendar", Name: "EndTime", Value: "20261222T140000Z"}}}}}}
	out := string(ApplyEvent(nil, wire(t, fs), nil, "n1@test"))
	for _, want := range []string{"DTSTART;TZID=Europe/Berlin:20261208T100000\r\n", "RRULE:FREQ=WEEKLY;BYDAY=TU\r\n", "EXDATE;TZID=Europe/Berlin:20261215T100000\r\n",
		"RECURRENCE-ID;TZID=Europe/Berlin:20261222T100000\r\n", "DTSTART;TZID=Europe/Berlin:20261222T140000\r\n", "SUMMARY:Moved\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "BEGIN:VTIMEZONE") != 1 || strings.Count(out, "UID:n1@test") != 2 {
		t.Errorf("zones and UIDs:\n%s", out)
	}
	want := "Deleted=1 ExceptionStartTime=20261215T090000Z\nExceptionStartTime=20261222T090000Z Subject=Moved StartTime=20261222T130000Z EndTime=20261222T140000Z"
	if got := exceptionsText(EventFields([]byte(out))); got != want {
		t.Errorf("sent back:\n%s\nwant:\n%s", got, want)
	}
}

func TestApplyEventInstance(t *testing.T) {
	// 16.1: one occurrence's Change, named by InstanceId.
	out, ok := ApplyEventInstance([]byte(storedSeries), "20261229T090000Z", []Field{{Page: "Calendar", Name: "Subject", Value: "Demo day"}}, false)
	if !ok || !strings.Contains(string(out), "SUMMARY:Demo day\r\nLOCATION:Room 1\r\n"+blockRenamed) ||
		string(out) != strings.Replace(storedSeries, "SUMMARY:Standup (demo)", "SUMMARY:Demo day", 1) {
		t.Errorf("instance change:\n%s", out)
	}
	// A Delete of a moved occurrence: an EXDATE, the exception gone.
	out, ok = ApplyEventInstance([]byte(storedSeries), "20261222T090000Z", nil, true)
	if !ok || !strings.Contains(string(out), "EXDATE;TZID=Europe/Berlin:20261222T100000\r\n") || strings.Contains(string(out), "X-A:keep") ||
		!strings.Contains(string(out), blockRenamed) || !strings.Contains(string(out), blockCancelled) {
		t.Errorf("instance delete:\n%s", out)
	}
	// A new exception, in the extended form some clients send.
	out, ok = ApplyEventInstance([]byte(storedSeries), "2027-01-19T09:00:00.000Z", []Field{{Page: "Calendar", Name: "StartTime", Value: "20270119T120000Z"},
		{Page: "AirSyncBase", Name: "Location", Sub: []Field{{Page: "AirSyncBase", Name: "DisplayName", Value: "Room 3"}}}}, false)
	if !ok || !strings.Contains(string(out), "RECURRENCE-ID;TZID=Europe/Berlin:20270119T100000\r\n") ||
		!strings.Contains(string(out), "DTSTART;TZID=Europe/Berlin:20270119T130000\r\nDTEND;TZID=Europe/Berlin:20270119T140000\r\n") ||
		!strings.Contains(string(out), "LOCATION:Room 3\r\n") || !strings.HasPrefix(string(out), storedSeries[:strings.Index(storedSeries, blockMoved)]) ||
		!strings.HasSuffix(string(out), storedSeries[strings.Index(storedSeries, blockMoved):]) {
		t.Errorf("new instance:\n%s", out)
	}
	if _, ok := ApplyEventInstance([]byte(storedEvent), "garbage", nil, true); ok {
		t.Error("an InstanceId that names no time")
	}
}

func FuzzEventExceptions(f *testing.F) {
	f.Add([]byte(storedSeries), "20261222T090000Z", false, "Moved", "20261222T100000Z", "")
	f.Add([]byte(storedAllDay), "20281224T000000Z", true, "", "", "1")
	f.Add([]byte(storedSeries), "2027-01-12T09:00:00.000Z", false, "", "20270112T100000Z", "0")
	f.Fuzz(func(t *testing.T, stored []byte, at string, deleted bool, subject, start, allDay string) {
		subject = strings.TrimSpace(subject) // a client's padding is rewritten once (PropValue trims), not an exception's matter
		del := ""
		if deleted {
			del = "1"
		}
		exc := []Field{{Page: "Calendar", Name: "ExceptionStartTime", Value: at}, {Page: "Calendar", Name: "Deleted", Value: del},
			{Page: "Calendar", Name: "Subject", Value: subject}, {Page: "Calendar", Name: "StartTime", Value: start}, {Page: "Calendar", Name: "AllDayEvent", Value: allDay}}
		fs := append(EventFields(stored), Field{Page: "Calendar", Name: "Exceptions", Sub: []Field{{Page: "Calendar", Name: "Exception", Sub: exc}}})
		out := ApplyEvent(stored, fs, nil, "u")
		if objs := vobject.Parse(out); len(objs) == 0 || objs[0].Name != "VCALENDAR" {
			t.Fatalf("not a calendar:\n%q", out)
		}
		// What it sends for the result, sent back, changes nothing (for an
		// item that itself comes back as it went out: not for broken ones).
		if string(ApplyEvent(stored, EventFields(stored), nil, "u")) != string(stored) {
			return
		}
		again := ApplyEvent(out, EventFields(out), nil, "u")
		if string(again) != string(out) {
			t.Fatalf("not stable:\n%s\n---\n%s", out, again)
		}
		if in, ok := ApplyEventInstance(stored, at, exc[2:], deleted); ok {
			if objs := vobject.Parse(in); len(objs) == 0 || objs[0].Name != "VCALENDAR" {
				t.Fatalf("instance: not a calendar:\n%q", in)
			}
		}
	})
}
