package eas

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"syncml-imap/internal/vobject"
	"syncml-imap/internal/wbxml"
	"syncml-imap/pim"
)

// MeetingResponse (MS-ASCMD 2.2.1.11) for the events of the Calendar
// folder: the user accepts, tentatively accepts or declines a meeting, and
// the PARTSTAT of the ATTENDEE that is the user changes in the stored
// iCalendar; every other line stays as it was. The rewritten item is a
// change of the store, so the event's next Sync brings it to the device
// (and to every other front).
//
// The user is the login, the address Settings gives the device as its
// PrimarySmtpAddress. Served: a Request naming the calendar folder
// (CollectionId "calendar", RequestId the event's ServerId), as 14.1 and
// later allow. Not served, answered 2 (an invalid meeting request): a mail
// invitation in the Inbox (this front has no mail folders), a LongId of a
// Search result, an event the user organizes or is not invited to.
//
// InstanceId (14.1 and later) answers one occurrence: the PARTSTAT changes
// in its RECURRENCE-ID component, which is made from the series (RFC 5545
// 3.8.4.4) when there is none yet. Without InstanceId the answer holds for
// the whole series: the series and every occurrence of it the user is
// invited to.
//
// A declined meeting stays in the calendar, declined: MS-ASCMD has the
// server leave CalendarId out of the answer, nothing more (2.2.3.18). The
// mailbox keeps what the user answered, and the other fronts show it.
//
// No reply goes to the organizer (SendResponse, 16.0): this daemon sends
// no mail. Before 16.0 the client sends the reply itself (SendMail).

// MeetingResponse statuses (MS-ASCMD 2.2.3.177.9) and the common ones an
// InstanceId can draw (2.2.3.92.1).
const (
	meetingOK          = 1
	meetingInvalid     = 2
	meetingServerError = 3
	// statusBadInstance: an InstanceId not in its dateTime form.
	statusBadInstance = 104
	// statusNotRecurring: an InstanceId for an event that does not recur.
	statusNotRecurring = 146
)

// partStats are UserResponse's values (MS-ASCMD 2.2.3.194) as PARTSTAT.
var partStats = map[string]string{"1": "ACCEPTED", "2": "TENTATIVE", "3": "DECLINED"}

// instanceForm is InstanceId's form: dateTime with its separators, UTC
// (MS-ASCMD 2.2.3.92.1, e.g. 2010-04-08T18:16:00.000Z).
const instanceForm = "2006-01-02T15:04:05.000Z"

func (c *call) meetingResponse() (*wbxml.Node, error) {
	const ns = "MeetingResponse"
	root := el(ns, "MeetingResponse")
	policy, err := c.slot.Policy(c.h.Policy)
	if err != nil {
		return nil, err
	}
	for _, r := range children(c.body, "Request") {
		res, err := c.respond(r, &policy)
		if err != nil {
			return nil, err
		}
		root.Children = append(root.Children, res)
	}
	return root, nil
}

// respond answers one Request with its Result.
func (c *call) respond(r *wbxml.Node, policy *pim.Policy) (*wbxml.Node, error) {
	sid := strings.TrimSpace(text(r, "RequestId"))
	inst := child(r, "InstanceId")
	result := func(code int, calendarID string) *wbxml.Node {
		n := el("", "Result")
		if sid != "" {
			n.Children = append(n.Children, tx("", "RequestId", sid))
		}
		n.Children = append(n.Children, status("", code))
		if calendarID != "" {
			n.Children = append(n.Children, tx("", "CalendarId", calendarID))
		}
		if inst != nil && code == meetingOK {
			n.Children = append(n.Children, tx("", "InstanceId", strings.TrimSpace(inst.Text)))
		}
		return n
	}
	ps := partStats[strings.TrimSpace(text(r, "UserResponse"))]
	coll := strings.TrimSpace(text(r, "CollectionId"))
	switch {
	case ps == "" || sid == "" || child(r, "LongId") != nil:
		return result(meetingInvalid, ""), nil
	case coll != "calendar" || !slices.ContainsFunc(c.dev.Folders, func(f folderState) bool { return f.ServerID == coll }):
		// A mail invitation (the Inbox is not served) or a folder the
		// device was not given.
		return result(meetingInvalid, ""), nil
	case policy.DirectionOf(pim.Calendar) == pim.DirOff || policy.DirectionOf(pim.Calendar) == pim.DirServerToDevice:
		// The device's calendar changes are not applied: nor is this one.
		return result(meetingInvalid, ""), nil
	}
	var when time.Time
	if inst != nil {
		if c.req.Version == "14.0" {
			// Not in 14.0 (2.2.3.92.1: status 2).
			return result(meetingInvalid, ""), nil
		}
		t, err := time.Parse(instanceForm, strings.TrimSpace(inst.Text))
		if err != nil {
			return result(statusBadInstance, ""), nil
		}
		when = t
	}
	// Read, answer, write; where the store keeps versions, the write
	// holds only if nobody changed the event since the read, else the
	// answer is made again on what is there now.
	vs, versioned := c.st.(pim.Versioner)
	for try := 0; ; try++ {
		got, err := c.st.Get(c.ctx, pim.Calendar, sid)
		if err != nil {
			return nil, err
		}
		if len(got) == 0 || got[0] == nil {
			return result(meetingInvalid, ""), nil
		}
		data, code := answerMeeting(got[0].Data, c.user, ps, when)
		if code != meetingOK {
			return result(code, ""), nil
		}
		if data == nil {
			break
		}
		it := &pim.Item{ID: sid, Data: data}
		if versioned && got[0].Version != "" {
			err = vs.PutVersion(c.ctx, pim.Calendar, it, got[0].Version)
		} else {
			err = c.st.Put(c.ctx, pim.Calendar, it)
		}
		if errors.Is(err, pim.ErrVersionMismatch) && try < 3 {
			continue
		}
		if errors.Is(err, pim.ErrUnavailable) {
			return nil, err
		}
		if err != nil {
			c.h.log().Warn("ActiveSync: keep a meeting response", "device", c.req.DeviceID, "err", err)
			return result(meetingServerError, ""), nil
		}
		break
	}
	c.h.log().Info("ActiveSync meeting response", "user", c.user, "device", c.req.DeviceID, "partstat", ps)
	if ps == "DECLINED" {
		return result(meetingOK, ""), nil
	}
	return result(meetingOK, sid), nil
}

// answerMeeting is the stored event with the user's PARTSTAT set to ps:
// in the series and its occurrences (when is zero) or in the occurrence
// that starts at when (UTC). nil data: nothing to change (the answer was
// already so); a status other than meetingOK: no change possible.
func answerMeeting(data []byte, user, ps string, when time.Time) ([]byte, int) {
	cal, master := mainComponent(data, "VEVENT")
	if master == nil {
		return nil, meetingInvalid
	}
	if isUser(master.Prop("ORGANIZER"), user) {
		// 2.2.3.177.9: the user organizes it, and answers nobody.
		return nil, meetingInvalid
	}
	uid := master.PropValue("UID")
	whole := string(data)
	changed := false
	// set rewrites the user's ATTENDEE line in one component; false when
	// the user is not invited to it.
	set := func(comp *vobject.Object) bool {
		text, ok := withPartStat(comp, user, ps)
		if !ok {
			return false
		}
		if old := strings.Join(comp.Lines, ""); text != old {
			whole = strings.Replace(whole, old, text, 1)
			changed = true
		}
		return true
	}
	var occurrences []*vobject.Object
	for _, k := range cal.Children {
		if k != master && k.Name == "VEVENT" && k.Prop("RECURRENCE-ID") != nil && k.PropValue("UID") == uid {
			occurrences = append(occurrences, k)
		}
	}
	if when.IsZero() {
		invited := set(master)
		for _, o := range occurrences {
			invited = set(o) || invited
		}
		if !invited {
			return nil, meetingInvalid
		}
	} else {
		if master.Prop("RRULE") == nil && master.Prop("RDATE") == nil {
			return nil, statusNotRecurring
		}
		var occ *vobject.Object
		for _, o := range occurrences {
			if t, _, _, ok := icalTime(o.Prop("RECURRENCE-ID")); ok && t.Equal(when) {
				occ = o
			}
		}
		if occ != nil {
			if !set(occ) {
				return nil, meetingInvalid
			}
		} else {
			text, code := newOccurrence(master, user, ps, when)
			if code != meetingOK {
				return nil, code
			}
			old := strings.Join(master.Lines, "")
			whole = strings.Replace(whole, old, old+text, 1)
			changed = true
		}
	}
	if !changed {
		return nil, meetingOK
	}
	return []byte(whole), meetingOK
}

// isUser reports whether an ORGANIZER or ATTENDEE line is the user's.
func isUser(l *vobject.Line, user string) bool {
	return l != nil && user != "" && strings.EqualFold(mailto(l.Value), user)
}

// withPartStat is comp's text with the user's ATTENDEE line carrying
// PARTSTAT=ps, every other byte as it was; false when no ATTENDEE of comp
// is the user.
func withPartStat(comp *vobject.Object, user, ps string) (string, bool) {
	var at *vobject.Line
	for i := range comp.Props {
		if p := &comp.Props[i]; p.Name == "ATTENDEE" && isUser(p, user) {
			at = p
			break
		}
	}
	old := strings.Join(comp.Lines, "")
	if at == nil {
		return old, false
	}
	if strings.EqualFold(at.Params["PARTSTAT"], ps) {
		return old, true
	}
	var b strings.Builder
	vobject.WriteFolded(&b, partStatLine(at.Raw, ps))
	// The line itself, not a like one in an alarm of comp: the first
	// occurrence outside comp's children.
	pos := ownLine(comp, at.Orig)
	if pos < 0 {
		return old, true
	}
	return old[:pos] + b.String() + old[pos+len(at.Orig):], true
}

// ownLine is where in comp's text a line of its own (not of a child)
// stands, -1 when it is not found.
func ownLine(comp *vobject.Object, line string) int {
	text := strings.Join(comp.Lines, "")
	var spans [][2]int
	from := 0
	for _, k := range comp.Children {
		kt := strings.Join(k.Lines, "")
		if i := strings.Index(text[from:], kt); i >= 0 {
			spans = append(spans, [2]int{from + i, from + i + len(kt)})
			from += i + len(kt)
		}
	}
	for off := 0; off < len(text); {
		i := strings.Index(text[off:], line)
		if i < 0 {
			return -1
		}
		at := off + i
		inside := slices.ContainsFunc(spans, func(s [2]int) bool { return at >= s[0] && at < s[1] })
		if !inside {
			return at
		}
		off = at + 1
	}
	return -1
}

// partStatLine is an unfolded ATTENDEE line with PARTSTAT=ps in place of
// the one it had (or added after its parameters); name, other parameters
// and value as written.
func partStatLine(raw, ps string) string {
	cl, ok := vobject.ParseContentLine(raw)
	if !ok {
		return raw
	}
	head := raw[:len(raw)-len(cl.Value)-1]
	name := head[:len(head)-len(cl.RawParams)]
	var b strings.Builder
	b.WriteString(name)
	done := false
	for _, p := range cl.Params {
		if p.Name == "PARTSTAT" {
			if !done {
				b.WriteString(";PARTSTAT=" + ps)
				done = true
			}
			continue
		}
		b.WriteString(";" + p.Raw)
	}
	if !done {
		b.WriteString(";PARTSTAT=" + ps)
	}
	b.WriteString(":" + cl.Value)
	return b.String()
}

// newOccurrence is the text of a RECURRENCE-ID component for the
// occurrence of master that starts at when, with the user's answer: the
// series' lines but its rule, its dates and its start and end, which are
// the occurrence's; meetingInvalid when no occurrence starts then.
func newOccurrence(master *vobject.Object, user, ps string, when time.Time) (string, int) {
	start, end, allDay, loc, ok := eventTimes(master)
	ds := master.Prop("DTSTART")
	if !ok || !isOccurrence(master, start, allDay, locOr(loc), when) {
		return "", meetingInvalid
	}
	if allDay {
		// An all-day InstanceId names the day (its midnight UTC or in the
		// event's zone).
		when = time.Date(when.In(locOr(loc)).Year(), when.In(locOr(loc)).Month(), when.In(locOr(loc)).Day(), 0, 0, 0, 0, time.UTC)
	}
	dtstart := timeLike(ds, when, locOr(loc))
	lines := []string{timeLine("RECURRENCE-ID", ds, dtstart), timeLine("DTSTART", ds, dtstart)}
	if de := master.Prop("DTEND"); de != nil {
		lines = append(lines, timeLine("DTEND", de, timeLike(de, when.Add(end.Sub(start)), locOr(loc))))
	}
	text, invited := withPartStat(master, user, ps)
	if !invited {
		return "", meetingInvalid
	}
	// The series' text with the user's answer, less what only a series
	// has; the occurrence's times after its UID.
	sub := vobject.Parse([]byte(text))
	if len(sub) == 0 {
		return "", meetingServerError
	}
	own := sub[0]
	drop := map[string]bool{"RRULE": true, "RDATE": true, "EXDATE": true, "EXRULE": true, "DTSTART": true, "DTEND": true, "RECURRENCE-ID": true}
	var b strings.Builder
	b.WriteString(own.Lines[0])
	placed := false
	for _, p := range own.Props {
		if drop[p.Name] {
			continue
		}
		b.WriteString(p.Orig)
		if p.Name == "UID" && !placed {
			for _, l := range lines {
				vobject.WriteFolded(&b, l)
			}
			placed = true
		}
	}
	if !placed {
		for _, l := range lines {
			vobject.WriteFolded(&b, l)
		}
	}
	for _, k := range own.Children {
		b.WriteString(strings.Join(k.Lines, ""))
	}
	b.WriteString(own.Lines[len(own.Lines)-1])
	return b.String(), meetingOK
}

// isOccurrence reports whether the series starts an occurrence at when
// (UTC; for an all-day series, on when's day) that its EXDATEs do not
// remove.
func isOccurrence(master *vobject.Object, start time.Time, allDay bool, loc *time.Location, when time.Time) bool {
	if loc == nil {
		loc = time.UTC // a time in UTC, or floating
	}
	first := start.In(loc)
	if allDay {
		first = time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, loc)
	}
	set := rrule.Set{}
	set.DTStart(first)
	if rr := master.Prop("RRULE"); rr != nil {
		o, err := rrule.StrToROptionInLocation(rr.Value, loc)
		if err != nil {
			return false
		}
		o.Dtstart = first
		r, err := rrule.NewRRule(*o)
		if err != nil {
			return false
		}
		set.RRule(r)
	}
	set.RDate(first)
	for _, p := range master.Props {
		if p.Name != "RDATE" && p.Name != "EXDATE" {
			continue
		}
		for _, v := range strings.Split(p.Value, ",") {
			l := vobject.Line{Name: p.Name, Params: p.Params, Value: v}
			t, _, _, ok := icalTime(&l)
			if !ok {
				continue
			}
			if allDay {
				t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
			}
			if p.Name == "RDATE" {
				set.RDate(t)
			} else {
				set.ExDate(t)
			}
		}
	}
	lo, hi := when.Add(-time.Second), when.Add(time.Second)
	if allDay {
		w := when.In(loc)
		lo = time.Date(w.Year(), w.Month(), w.Day(), 0, 0, 0, 0, loc).Add(-time.Second)
		hi = lo.Add(24 * time.Hour)
	}
	return len(set.Between(lo, hi, true)) > 0
}

// timeLike is t written as l writes its time: UTC ("Z"), a date, or the
// wall time of its zone (TZID or floating).
func timeLike(l *vobject.Line, t time.Time, loc *time.Location) string {
	v := strings.TrimSpace(l.Value)
	switch {
	case l.Params["VALUE"] == "DATE" || len(v) == 8:
		return t.Format("20060102")
	case strings.HasSuffix(v, "Z"):
		return t.UTC().Format("20060102T150405Z")
	}
	return t.In(loc).Format("20060102T150405")
}

// timeLine is a line called name with l's parameters and value v.
func timeLine(name string, l *vobject.Line, v string) string {
	cl, ok := vobject.ParseContentLine(l.Raw)
	if !ok {
		return name + ":" + v
	}
	return name + cl.RawParams + ":" + v
}
