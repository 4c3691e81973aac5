package eas

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"syncml-imap/internal/vobject"
)

// Tasks between MS-ASTASK and the mailbox's iCalendar VTODO, by the same
// rule as contacts: a client's change rewrites the properties ActiveSync
// carries and keeps every other line of the stored item (alarms,
// recurrence, attendees, X- names, the VCALENDAR's time zones).
//
// Mapped: Subject (SUMMARY), the body (DESCRIPTION), Importance
// (PRIORITY), the start and due dates in both of ActiveSync's forms
// (UtcStartDate/StartDate: DTSTART, UtcDueDate/DueDate: DUE), Complete and
// DateCompleted (STATUS, COMPLETED, PERCENT-COMPLETE), Sensitivity
// (CLASS) and Categories. Reminders and recurrence are not mapped yet and
// so stay as stored.

// easTime is the form of ActiveSync's dateTime values.
const easTime = "2006-01-02T15:04:05.000Z"

// icalTime reads a DTSTART/DUE/COMPLETED line: the instant, the wall
// time it names (for StartDate/DueDate), and whether it is a date.
func icalTime(l *vobject.Line) (utc, wall time.Time, date, ok bool) {
	v := strings.TrimSpace(l.Value)
	if l.Params["VALUE"] == "DATE" || len(v) == 8 {
		t, err := time.Parse("20060102", v)
		return t, t, true, err == nil
	}
	if strings.HasSuffix(v, "Z") {
		t, err := time.Parse("20060102T150405Z", v)
		return t, t, false, err == nil
	}
	loc := time.UTC
	if tz := l.Params["TZID"]; tz != "" {
		if z, err := time.LoadLocation(strings.Trim(tz, `"`)); err == nil {
			loc = z
		}
	}
	t, err := time.ParseInLocation("20060102T150405", v, loc)
	if err != nil {
		return time.Time{}, time.Time{}, false, false
	}
	wall, _ = time.Parse("20060102T150405", v)
	return t.UTC(), wall, false, true
}

// TaskFields are the ActiveSync fields of a stored task.
func TaskFields(data []byte) []Field {
	_, todo := mainComponent(data, "VTODO")
	if todo == nil {
		return nil
	}
	var out []Field
	add := func(page, name, v string) {
		if v != "" {
			out = append(out, Field{Page: page, Name: name, Value: v})
		}
	}
	if b := todo.Prop("DESCRIPTION"); b != nil {
		add("AirSyncBase", fieldBody, vobject.UnescapeText(b.Value))
	}
	add("Tasks", "Subject", todo.PropValue("SUMMARY"))
	add("Tasks", "Importance", importanceOf(todo.PropValue("PRIORITY")))
	for _, d := range []struct{ prop, utc, local string }{{"DTSTART", "UtcStartDate", "StartDate"}, {"DUE", "UtcDueDate", "DueDate"}} {
		if l := todo.Prop(d.prop); l != nil {
			if utc, wall, _, ok := icalTime(l); ok {
				add("Tasks", d.utc, utc.Format(easTime))
				add("Tasks", d.local, wall.Format(easTime))
			}
		}
	}
	done := strings.EqualFold(todo.PropValue("STATUS"), "COMPLETED") || todo.Prop("COMPLETED") != nil
	out = append(out, Field{Page: "Tasks", Name: "Complete", Value: map[bool]string{true: "1", false: "0"}[done]})
	if l := todo.Prop("COMPLETED"); l != nil && done {
		if utc, _, _, ok := icalTime(l); ok {
			add("Tasks", "DateCompleted", utc.Format(easTime))
		}
	}
	add("Tasks", "Sensitivity", map[string]string{"PUBLIC": "0", "PRIVATE": "2", "CONFIDENTIAL": "3"}[strings.ToUpper(todo.PropValue("CLASS"))])
	out = append(out, categoriesField("Tasks", todo.Prop("CATEGORIES"))...)
	return out
}

// importanceOf maps PRIORITY (RFC 5545: 1 highest, 9 lowest, 0 none) to
// Importance (0 low, 1 normal, 2 high).
func importanceOf(p string) string {
	n, err := strconv.Atoi(strings.TrimSpace(p))
	switch {
	case err != nil || n == 0 || n == 5:
		return ""
	case n < 5:
		return "2"
	}
	return "0"
}

// ApplyTask is the stored task (nil: new) with a client's fields; what
// ActiveSync does not carry stays as stored. uid names a new task.
func ApplyTask(stored []byte, fields []Field, ghosted []string, uid string) []byte {
	got := map[string]Field{}
	for _, f := range fields {
		got[f.Name] = f
	}
	cal, todo := mainComponent(stored, "VTODO")
	isNew := todo == nil
	if isNew {
		cal, todo = nil, &vobject.Object{Name: "VTODO"}
	}
	// The new value of each mapped property ("": none), by property.
	want := map[string]string{}
	set := func(name, prop, line string) {
		if _, sent := got[name]; !sent && slices.Contains(ghosted, name) {
			return
		}
		want[prop] = line
	}
	set("Subject", "SUMMARY", textLine("SUMMARY", got["Subject"].Value))
	set(fieldBody, "DESCRIPTION", textLine("DESCRIPTION", strings.ReplaceAll(got[fieldBody].Value, "\r\n", "\n")))
	set("Importance", "PRIORITY", map[string]string{"0": "PRIORITY:9", "2": "PRIORITY:1"}[got["Importance"].Value])
	if imp := got["Importance"].Value; imp == "1" || imp == "" {
		// Normal: keep a stored normal priority (5, or none) as it is.
		if p := todo.PropValue("PRIORITY"); importanceOf(p) == "" && p != "" {
			want["PRIORITY"] = "PRIORITY:" + p
		}
	}
	for _, d := range []struct{ prop, utc, local string }{{"DTSTART", "UtcStartDate", "StartDate"}, {"DUE", "UtcDueDate", "DueDate"}} {
		set(d.utc, d.prop, dateLine(todo.Prop(d.prop), d.prop, got[d.utc].Value, got[d.local].Value))
	}
	complete := got["Complete"].Value == "1"
	if _, sent := got["Complete"]; sent || !slices.Contains(ghosted, "Complete") {
		if complete {
			want["STATUS"] = "STATUS:COMPLETED"
			want["PERCENT-COMPLETE"] = "PERCENT-COMPLETE:100"
			at := got["DateCompleted"].Value
			if t, err := time.Parse(easTime, at); err == nil {
				want["COMPLETED"] = "COMPLETED:" + t.UTC().Format("20060102T150405Z")
			} else if l := todo.Prop("COMPLETED"); l != nil {
				want["COMPLETED"] = strings.TrimSuffix(l.Orig, "\r\n")
			} else {
				want["COMPLETED"] = "COMPLETED:" + time.Now().UTC().Format("20060102T150405Z")
			}
		} else {
			st := strings.ToUpper(todo.PropValue("STATUS"))
			if st == "COMPLETED" || isNew {
				want["STATUS"] = "STATUS:NEEDS-ACTION"
			}
			if todo.PropValue("PERCENT-COMPLETE") == "100" {
				want["PERCENT-COMPLETE"] = ""
			}
			want["COMPLETED"] = ""
		}
	}
	set("Sensitivity", "CLASS", map[string]string{"0": "CLASS:PUBLIC", "1": "CLASS:PRIVATE", "2": "CLASS:PRIVATE", "3": "CLASS:CONFIDENTIAL"}[got["Sensitivity"].Value])
	cats := nonEmpty(got[fieldCategories].List)
	if len(cats) > 0 {
		set(fieldCategories, "CATEGORIES", "CATEGORIES:"+vobject.JoinText(cats, ','))
	} else {
		set(fieldCategories, "CATEGORIES", "")
	}

	// The task's lines: mapped ones that say the same stay as written.
	var b strings.Builder
	done := map[string]bool{}
	for _, l := range todo.Props {
		nl, mapped := want[l.Name]
		switch {
		case l.Name == "BEGIN" || l.Name == "END":
			continue
		case !mapped:
			b.WriteString(l.Orig)
		case done[l.Name]:
			// A second instance of a mapped property: the client's value
			// replaced the first.
		case sameLine(l, nl):
			b.WriteString(l.Orig)
			done[l.Name] = true
		default:
			done[l.Name] = true
			if nl != "" {
				vobject.WriteFolded(&b, nl)
			}
		}
	}
	for _, prop := range []string{"SUMMARY", "DESCRIPTION", "PRIORITY", "DTSTART", "DUE", "STATUS", "PERCENT-COMPLETE", "COMPLETED", "CLASS", "CATEGORIES"} {
		if nl := want[prop]; nl != "" && !done[prop] && todo.Prop(prop) == nil {
			vobject.WriteFolded(&b, nl)
		}
	}
	for _, c := range todo.Children {
		b.WriteString(strings.Join(c.Lines, "")) // alarms, as stored
	}
	body := b.String()
	if todo.Prop("UID") == nil && uid != "" { // else the store names it
		body = "UID:" + uid + "\r\n" + body
	}
	if todo.Prop("DTSTAMP") == nil {
		body = "DTSTAMP:" + time.Now().UTC().Format("20060102T150405Z") + "\r\n" + body
	}
	vtodo := "BEGIN:VTODO\r\n" + body + "END:VTODO\r\n"
	if cal == nil {
		return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//syncml-imap//ActiveSync//EN\r\n" + vtodo + "END:VCALENDAR\r\n")
	}
	whole := strings.Join(cal.Lines, "")
	return []byte(strings.Replace(whole, strings.Join(todo.Lines, ""), vtodo, 1))
}

// textLine is a TEXT property's line ("" for an empty value).
func textLine(prop, v string) string {
	if strings.TrimSpace(v) == "" {
		return ""
	}
	return prop + ":" + vobject.EscapeText(v)
}

// dateLine is the line of a start or due date from the client's UTC and
// local forms; a stored date (all day) stays a date when the client's
// day is the same.
func dateLine(stored *vobject.Line, prop, utc, local string) string {
	t, err := time.Parse(easTime, utc)
	if err != nil {
		if t, err = time.Parse(easTime, local); err != nil {
			return ""
		}
	}
	if stored != nil {
		if su, wall, date, ok := icalTime(stored); ok {
			if su.Equal(t) {
				return stored.Raw
			}
			if lt, err := time.Parse(easTime, local); date && err == nil && lt.Format("20060102") == wall.Format("20060102") {
				return stored.Raw
			}
		}
	}
	return prop + ":" + t.UTC().Format("20060102T150405Z")
}

// sameLine reports whether a stored line says what the new one says.
func sameLine(l vobject.Line, nl string) bool {
	return nl != "" && (l.Raw == nl || strings.EqualFold(l.Raw, nl))
}
