package eas

import (
	"context"
	"strings"
	"testing"
	"time"

	"syncml-imap/internal/wbxml"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
)

// invitation is a meeting alice (the login) is invited to; the other
// lines are a mail client's, to be kept as they are.
const invitation = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other//EN\r\nBEGIN:VEVENT\r\nUID:meet-1\r\n" +
	"DTSTAMP:20261201T080000Z\r\nDTSTART:20261214T090000Z\r\nDTEND:20261214T100000Z\r\nSUMMARY:Planning\r\n" +
	"ORGANIZER;CN=Bob:mailto:bob@example.org\r\n" +
	"ATTENDEE;CN=Alice;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;X-NUM-GUESTS=0:mailto:alice\r\n" +
	"ATTENDEE;CN=Carol;PARTSTAT=ACCEPTED:mailto:carol@example.org\r\nX-MOZ-GENERATION:3\r\n" +
	"BEGIN:VALARM\r\nACTION:EMAIL\r\nATTENDEE;CN=Alice;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;X-NUM-GUESTS=0:mailto:alice\r\n" +
	"TRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

// meetingRequest is a MeetingResponse request as MS-ASCMD 4.x shows it:
// one Request with UserResponse, CollectionId and RequestId.
func meetingRequest(resp, coll, id string, more ...*wbxml.Node) *wbxml.Node {
	r := el("", "Request", tx("", "UserResponse", resp), tx("", "CollectionId", coll), tx("", "RequestId", id))
	r.Children = append(r.Children, more...)
	return el("MeetingResponse", "MeetingResponse", r)
}

// calendarItems are the stored events (the store holds few in these
// tests), with their versions.
func calendarItems(t *testing.T, st pim.Store) []*pim.Item {
	t.Helper()
	ch, err := st.Changes(context.Background(), pim.Calendar, nil)
	if err != nil {
		t.Fatal(err)
	}
	items, err := st.Get(context.Background(), pim.Calendar, ch.Added...)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func (p *phone) meeting(t *testing.T, req *wbxml.Node) *wbxml.Node {
	t.Helper()
	code, ans := p.post("MeetingResponse", "secret", req)
	if code != 200 || ans == nil || ans.Name != "MeetingResponse" {
		t.Fatalf("MeetingResponse: HTTP %d %s", code, wbxml.Format(ans))
	}
	return child(ans, "Result")
}

func TestMeetingResponseAccept(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	if err := st.Put(ctx, pim.Calendar, &pim.Item{Data: []byte(invitation)}); err != nil {
		t.Fatal(err)
	}
	// The device has the event.
	c := p.sync(t, el("", "Collection", tx("", "SyncKey", "0"), tx("", "CollectionId", "calendar")))
	c = p.sync(t, el("", "Collection", tx("", "SyncKey", text(c, "SyncKey")), tx("", "CollectionId", "calendar")))
	adds := children(child(c, "Commands"), "Add")
	if len(adds) != 1 {
		t.Fatalf("first sync: %s", wbxml.Format(c))
	}
	sid := text(adds[0], "ServerId")
	key := text(c, "SyncKey")

	res := p.meeting(t, meetingRequest("1", "calendar", sid))
	if text(res, "Status") != "1" || text(res, "RequestId") != sid || text(res, "CalendarId") != sid {
		t.Fatalf("accept: %s", wbxml.Format(res))
	}
	items := calendarItems(t, st)
	if len(items) != 1 {
		t.Fatalf("%d items", len(items))
	}
	got := string(items[0].Data)
	// The rewritten line is folded at 75 octets (RFC 5545 3.1).
	want := strings.Replace(invitation, "ATTENDEE;CN=Alice;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;X-NUM-GUESTS=0:mailto:alice\r\nATTENDEE;CN=Carol",
		"ATTENDEE;CN=Alice;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE;X-NUM-GU\r\n ESTS=0:mailto:alice\r\nATTENDEE;CN=Carol", 1)
	if got != want {
		t.Errorf("stored after accept:\n%s\nwant (only alice's PARTSTAT changed, the alarm's ATTENDEE kept):\n%s", got, want)
	}
	// The next Sync brings the changed event, alice accepted.
	c = p.sync(t, el("", "Collection", tx("", "SyncKey", key), tx("", "CollectionId", "calendar")))
	ch := children(child(c, "Commands"), "Change")
	if len(ch) != 1 || text(ch[0], "ServerId") != sid {
		t.Fatalf("sync after accept: %s", wbxml.Format(c))
	}
	status := ""
	for _, a := range children(child(child(ch[0], "ApplicationData"), "Attendees"), "Attendee") {
		if text(a, "Email") == "alice" {
			status = text(a, "AttendeeStatus")
		}
	}
	if status != "3" {
		t.Errorf("alice's AttendeeStatus %q, want 3 (accepted): %s", status, wbxml.Format(ch[0]))
	}
	// The same answer again changes nothing.
	before := items[0].Version
	if res = p.meeting(t, meetingRequest("1", "calendar", sid)); text(res, "Status") != "1" {
		t.Errorf("accept again: %s", wbxml.Format(res))
	}
	if v := calendarItems(t, st)[0].Version; v != before {
		t.Errorf("an unchanged answer rewrote the item (%s, was %s)", v, before)
	}
}

func TestMeetingResponseTentativeAndDecline(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	st.Put(ctx, pim.Calendar, &pim.Item{Data: []byte(invitation)})
	sid := calendarItems(t, st)[0].ID
	if res := p.meeting(t, meetingRequest("2", "calendar", sid)); text(res, "Status") != "1" || text(res, "CalendarId") != sid {
		t.Fatalf("tentative: %s", wbxml.Format(res))
	}
	if got := string(calendarItems(t, st)[0].Data); !strings.Contains(got, "PARTSTAT=TENTATIVE;RSVP=TRUE;X-NUM-G\r\n UESTS=0:mailto:alice\r\nATTENDEE;CN=Carol;PARTSTAT=ACCEPTED") {
		t.Errorf("tentative not stored:\n%s", got)
	}
	// Declined: the answer has no CalendarId (MS-ASCMD 2.2.3.18) and the
	// meeting stays, declined.
	res := p.meeting(t, meetingRequest("3", "calendar", sid))
	if text(res, "Status") != "1" || child(res, "CalendarId") != nil {
		t.Fatalf("decline: %s", wbxml.Format(res))
	}
	items := calendarItems(t, st)
	if len(items) != 1 || !strings.Contains(string(items[0].Data), "PARTSTAT=DECLINED;RSVP=TRUE") {
		t.Errorf("declined meeting: %v", items)
	}
}

func TestMeetingResponseRefused(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	st.Put(ctx, pim.Calendar, &pim.Item{Data: []byte(invitation)})
	own := strings.NewReplacer("ORGANIZER;CN=Bob:mailto:bob@example.org", "ORGANIZER:mailto:alice", "UID:meet-1", "UID:meet-2").Replace(invitation)
	st.Put(ctx, pim.Calendar, &pim.Item{Data: []byte(own)})
	plain := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:plain\r\nDTSTART:20261214T090000Z\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	st.Put(ctx, pim.Calendar, &pim.Item{Data: []byte(plain)})
	ids := map[string]string{}
	for _, it := range calendarItems(t, st) {
		ids[string(it.Data)] = it.ID
	}
	if len(ids) != 3 {
		t.Fatalf("stored: %v", ids)
	}
	before := map[string]string{}
	for _, it := range calendarItems(t, st) {
		before[it.ID] = it.Version
	}
	for _, c := range []struct {
		name string
		req  *wbxml.Node
		want string
	}{
		// A mail invitation of the Inbox: not served.
		{"inbox", meetingRequest("1", "inbox", "5:1"), "2"},
		{"unknown event", meetingRequest("1", "calendar", "nosuch"), "2"},
		{"bad UserResponse", meetingRequest("4", "calendar", ids[invitation]), "2"},
		{"the user organizes it", meetingRequest("1", "calendar", ids[own]), "2"},
		{"not invited", meetingRequest("1", "calendar", ids[plain]), "2"},
		// InstanceId of an event that does not recur: 146; not in the
		// dateTime form: 104 (MS-ASCMD 2.2.3.92.1).
		{"instance of a single event", meetingRequest("1", "calendar", ids[invitation], tx("", "InstanceId", "2026-12-14T09:00:00.000Z")), "146"},
		{"instance badly written", meetingRequest("1", "calendar", ids[invitation], tx("", "InstanceId", "20261214T090000Z")), "104"},
		{"search result", el("MeetingResponse", "MeetingResponse", el("", "Request", tx("", "UserResponse", "1"), tx("Search", "LongId", "x"))), "2"},
	} {
		res := p.meeting(t, c.req)
		if text(res, "Status") != c.want || child(res, "CalendarId") != nil {
			t.Errorf("%s: %s, want status %s", c.name, wbxml.Format(res), c.want)
		}
	}
	for _, it := range calendarItems(t, st) {
		if before[it.ID] != it.Version {
			t.Errorf("a refused response changed %s", it.ID)
		}
	}
}

// weekly is a recurring meeting in a zone, with one occurrence already
// moved (a RECURRENCE-ID component).
const weekly = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other//EN\r\n" +
	"BEGIN:VEVENT\r\nUID:week-1\r\nDTSTAMP:20261201T080000Z\r\nDTSTART;TZID=Europe/Berlin:20261207T100000\r\n" +
	"DTEND;TZID=Europe/Berlin:20261207T110000\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\nEXDATE;TZID=Europe/Berlin:20261221T100000\r\n" +
	"SUMMARY:Weekly\r\nORGANIZER:mailto:bob@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:alice\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:week-1\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261214T100000\r\nDTSTAMP:20261201T080000Z\r\n" +
	"DTSTART;TZID=Europe/Berlin:20261214T140000\r\nDTEND;TZID=Europe/Berlin:20261214T150000\r\nSUMMARY:Weekly (moved)\r\n" +
	"ORGANIZER:mailto:bob@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:alice\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

func TestMeetingResponseInstance(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	st.Put(ctx, pim.Calendar, &pim.Item{Data: []byte(weekly)})
	sid := calendarItems(t, st)[0].ID
	stored := func() string { return string(calendarItems(t, st)[0].Data) }

	// The moved occurrence (09:00 UTC on the 14th): its own component.
	res := p.meeting(t, meetingRequest("3", "calendar", sid, tx("", "InstanceId", "2026-12-14T09:00:00.000Z")))
	if text(res, "Status") != "1" || text(res, "InstanceId") != "2026-12-14T09:00:00.000Z" || child(res, "CalendarId") != nil {
		t.Fatalf("decline the moved one: %s", wbxml.Format(res))
	}
	want := strings.Replace(weekly, "SUMMARY:Weekly (moved)\r\nORGANIZER:mailto:bob@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION",
		"SUMMARY:Weekly (moved)\r\nORGANIZER:mailto:bob@example.org\r\nATTENDEE;PARTSTAT=DECLINED", 1)
	if stored() != want {
		t.Fatalf("after declining the moved occurrence:\n%s\nwant\n%s", stored(), want)
	}
	// An occurrence without a component yet (the 28th, 09:00 UTC): one is
	// made from the series.
	res = p.meeting(t, meetingRequest("2", "calendar", sid, tx("", "InstanceId", "2026-12-28T09:00:00.000Z")))
	if text(res, "Status") != "1" || text(res, "CalendarId") != sid {
		t.Fatalf("tentative on the 28th: %s", wbxml.Format(res))
	}
	occ := "BEGIN:VEVENT\r\nUID:week-1\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261228T100000\r\nDTSTART;TZID=Europe/Berlin:20261228T100000\r\n" +
		"DTEND;TZID=Europe/Berlin:20261228T110000\r\nDTSTAMP:20261201T080000Z\r\nSUMMARY:Weekly\r\nORGANIZER:mailto:bob@example.org\r\n" +
		"ATTENDEE;PARTSTAT=TENTATIVE:mailto:alice\r\nEND:VEVENT\r\n"
	master := weekly[strings.Index(weekly, "BEGIN:VEVENT") : strings.Index(weekly, "END:VEVENT")+len("END:VEVENT\r\n")]
	want = strings.Replace(want, master, master+occ, 1)
	if stored() != want {
		t.Fatalf("after the new occurrence:\n%s\nwant\n%s", stored(), want)
	}
	// The removed occurrence (the 21st) and a time with none: 2.
	for _, inst := range []string{"2026-12-21T09:00:00.000Z", "2026-12-28T10:00:00.000Z", "2027-01-11T09:00:00.000Z"} {
		if res = p.meeting(t, meetingRequest("1", "calendar", sid, tx("", "InstanceId", inst))); text(res, "Status") != "2" {
			t.Errorf("instance %s: %s, want 2", inst, wbxml.Format(res))
		}
	}
	// The whole series: the series and each occurrence it has.
	if res = p.meeting(t, meetingRequest("1", "calendar", sid)); text(res, "Status") != "1" {
		t.Fatalf("accept the series: %s", wbxml.Format(res))
	}
	if got := stored(); strings.Count(got, "ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice") != 3 || strings.Count(got, "BEGIN:VEVENT") != 3 {
		t.Errorf("after accepting the series:\n%s", got)
	}
}

// TestMeetingResponseVersion14: InstanceId is not in 14.0 (MS-ASCMD
// 2.2.3.92.1: status 2); the whole series is.
func TestMeetingResponseVersion14(t *testing.T) {
	p := provisioned(t)
	p.version = "14.0"
	st := p.accts.Store("alice")
	st.Put(context.Background(), pim.Calendar, &pim.Item{Data: []byte(weekly)})
	sid := calendarItems(t, st)[0].ID
	if res := p.meeting(t, meetingRequest("1", "calendar", sid, tx("", "InstanceId", "2026-12-28T09:00:00.000Z"))); text(res, "Status") != "2" {
		t.Errorf("InstanceId in 14.0: %s", wbxml.Format(res))
	}
	if string(calendarItems(t, st)[0].Data) != weekly {
		t.Error("a refused InstanceId changed the event")
	}
	if res := p.meeting(t, meetingRequest("1", "calendar", sid)); text(res, "Status") != "1" {
		t.Errorf("the series in 14.0: %s", wbxml.Format(res))
	}
}

func TestPartStatLine(t *testing.T) {
	for _, c := range [][2]string{
		{"ATTENDEE;CN=\"A;B\";PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice", "ATTENDEE;CN=\"A;B\";PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:alice"},
		{"item1.ATTENDEE;CN=Al:mailto:alice", "item1.ATTENDEE;CN=Al;PARTSTAT=ACCEPTED:mailto:alice"},
		{"ATTENDEE;partstat=declined:MAILTO:alice", "ATTENDEE;PARTSTAT=ACCEPTED:MAILTO:alice"},
	} {
		if got := partStatLine(c[0], "ACCEPTED"); got != c[1] {
			t.Errorf("partStatLine(%s) = %s, want %s", c[0], got, c[1])
		}
	}
}

// TestMeetingResponseVersionMoved: a write the store refuses because the
// event's version moved on (another writer came between the read and the
// write) is made again on a fresh read, not given up nor forced.
func TestMeetingResponseVersionMoved(t *testing.T) {
	p := newPhone(t)
	moved := false
	p.accts.Options = &memstore.Options{Fault: func(op memstore.Op, name string) error {
		if op == memstore.OpPutVersion && !moved {
			// Another writer came first: its version is there now.
			moved = true
			return pim.ErrVersionMismatch
		}
		return nil
	}}
	st := p.accts.Store("alice")
	_, ans := p.post("Provision", "secret", el("Provision", "Provision", el("", "Policies", el("", "Policy", tx("", "PolicyType", "MS-EAS-Provisioning-WBXML")))))
	temp := text(child(child(ans, "Policies"), "Policy"), "PolicyKey")
	_, ans = p.post("Provision", "secret", el("Provision", "Provision", el("", "Policies", el("", "Policy",
		tx("", "PolicyType", "MS-EAS-Provisioning-WBXML"), tx("", "PolicyKey", temp), tx("", "Status", "1")))))
	p.key = text(child(child(ans, "Policies"), "Policy"), "PolicyKey")
	p.post("FolderSync", "secret", el("FolderHierarchy", "FolderSync", tx("", "SyncKey", "0")))

	st.Put(context.Background(), pim.Calendar, &pim.Item{Data: []byte(invitation)})
	sid := calendarItems(t, st)[0].ID
	if res := p.meeting(t, meetingRequest("1", "calendar", sid)); text(res, "Status") != "1" {
		t.Fatalf("accept: %s", wbxml.Format(res))
	}
	if !moved || !strings.Contains(string(calendarItems(t, st)[0].Data), "PARTSTAT=ACCEPTED;RSVP=TRUE") {
		t.Errorf("after a refused write (%v):\n%s", moved, calendarItems(t, st)[0].Data)
	}
}

// FuzzAnswerMeeting: whatever the stored event, an answer never panics,
// and a changed event still reads as one, with the same series.
func FuzzAnswerMeeting(f *testing.F) {
	f.Add([]byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:m1\r\nDTSTART:20261214T090000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n"+
		"ORGANIZER:mailto:boss@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:alice@example.org\r\nSUMMARY:Plan\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"), "20261221T090000Z", 1)
	f.Add([]byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:m2\r\nDTSTART;VALUE=DATE:20261214\r\nATTENDEE;CN=\"A, B\";\r\n PARTSTAT=TENTATIVE:MAILTO:ALICE@EXAMPLE.ORG\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"), "", 3)
	f.Fuzz(func(t *testing.T, data []byte, instance string, response int) {
		ps := []string{"ACCEPTED", "TENTATIVE", "DECLINED"}[uint(response)%3]
		var when time.Time
		if instance != "" {
			if at, ok := parseInstant(instance); ok {
				when = at
			}
		}
		out, code := answerMeeting(data, "alice@example.org", ps, when)
		if out == nil || code != meetingOK {
			return
		}
		if _, ev := mainComponent(out, "VEVENT"); ev == nil {
			t.Fatalf("the answered event reads as none:\n%s", out)
		}
		_, before := mainComponent(data, "VEVENT")
		if _, after := mainComponent(out, "VEVENT"); after.PropValue("UID") != before.PropValue("UID") {
			t.Fatalf("the answer changed the series' UID:\n%s", out)
		}
	})
}
