package syncml

import (
	"context"
	"fmt"
	"strings"
	"syncml-imap/pim"
	"testing"
)

const (
	vcalEvent = "BEGIN:VCALENDAR\r\nVERSION:1.0\r\nBEGIN:VEVENT\r\nSUMMARY:Dentist\r\nDTSTART:20261203T090000Z\r\nDTEND:20261203T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	vcalTodo  = "BEGIN:VCALENDAR\r\nVERSION:1.0\r\nBEGIN:VTODO\r\nSUMMARY:Buy milk\r\nDUE:20261204T170000Z\r\nPRIORITY:2\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
)

// TestTasksInCalendarDatabase: a phone with one vCalendar datastore for
// events and to-dos. Its to-dos go to the tasks database, events to the
// calendar; the mailbox's tasks come back to it in the calendar database;
// its edit and delete of a task reach the tasks database; a slow sync
// matches its to-dos instead of doubling them.
func TestTasksInCalendarDatabase(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	d := newDriver(t, store)
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	alert := func(d *driver, code, last, next string) {
		d.message(1, true, &Alert{Data: code, Items: []Item{{Target: loc("calendar"), Source: loc("cal"), Meta: &Meta{Anchor: &Anchor{Last: last, Next: next}}}}})
	}
	alert(d, "201", "", "1")
	r := d.message(2, true, &Sync{Target: loc("calendar"), Source: loc("cal"), Commands: []Command{
		&Change{Op: OpAdd, Meta: &Meta{Type: "text/x-vcalendar"}, Items: []Item{
			{Source: loc("E1"), Data: &Data{Text: vcalEvent}},
			{Source: loc("T1"), Data: &Data{Text: vcalTodo}},
		}}}})
	if got := statuses(r); len(got) != 4 || !strings.HasPrefix(got[2], "Add 2 201") || !strings.HasPrefix(got[3], "Add 2 201") {
		t.Fatalf("statuses %v", got)
	}
	d.message(3, true)
	if len(store.Items("calendar")) != 1 || len(store.Items("tasks")) != 1 {
		t.Fatalf("stored %d events and %d tasks, want 1 and 1", len(store.Items("calendar")), len(store.Items("tasks")))
	}
	var taskID string
	for id, v := range store.Items("tasks") {
		taskID = id
		if !strings.Contains(string(v), "BEGIN:VTODO") || !strings.Contains(string(v), "VERSION:2.0") {
			t.Errorf("stored task %q", v)
		}
	}

	// A task from the mailbox reaches the device's calendar, in vCal 1.0.
	store.Put(ctx, "tasks", &pim.Item{Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t2\r\nSUMMARY:Call Bob\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")})
	d2 := &driver{t: t, srv: d.srv, sid: "2"}
	alert(d2, "200", "1", "2")
	r = d2.message(2, true, &Sync{Target: loc("calendar"), Source: loc("cal")})
	var adds []*Change
	for _, sy := range commands[*Sync](r) {
		for _, c := range sy.Commands {
			adds = append(adds, c.(*Change))
		}
	}
	if len(adds) != 1 || adds[0].Op != OpAdd || adds[0].Meta.Type != formVCal10 ||
		!strings.Contains(adds[0].Items[0].Data.Text, "Call Bob") || !strings.Contains(adds[0].Items[0].Data.Text, "VERSION:1.0") {
		for _, a := range adds {
			t.Logf("%s %+v %q", a.Op, a.Items[0].Target, a.Items[0].Data.Text)
		}
		t.Fatalf("sent to the device: %d changes", len(adds))
	}
	d2.message(3, true, &Map{Target: *loc("calendar"), Source: *loc("cal"), MapItems: []MapItem{{Target: adds[0].Items[0].Source.LocURI, Source: "T2"}}})

	// The device edits its to-do and deletes the mailbox's one.
	d3 := &driver{t: t, srv: d.srv, sid: "3"}
	alert(d3, "200", "2", "3")
	r = d3.message(2, true, &Sync{Target: loc("calendar"), Source: loc("cal"), Commands: []Command{
		&Change{Op: OpReplace, Meta: &Meta{Type: "text/x-vcalendar"}, Items: []Item{{Source: loc("T1"), Data: &Data{Text: strings.Replace(vcalTodo, "Buy milk", "Buy oat milk", 1)}}}},
		&Change{Op: OpDelete, Items: []Item{{Source: loc("T2")}}},
	}})
	if got := statuses(r); len(got) != 4 || !strings.HasPrefix(got[2], "Replace 2 200") || !strings.HasPrefix(got[3], "Delete 3 200") {
		t.Fatalf("statuses %v", got)
	}
	d3.message(3, true)
	if len(store.Items("tasks")) != 1 || !strings.Contains(string(store.Items("tasks")[taskID]), "Buy oat milk") {
		t.Fatalf("tasks after the device's edit and delete: %q", store.Items("tasks"))
	}
	if len(store.Items("calendar")) != 1 {
		t.Errorf("calendar: %d items", len(store.Items("calendar")))
	}

	// A slow sync (the device lost its anchors) matches, doubles nothing.
	d4 := &driver{t: t, srv: d.srv, sid: "4"}
	alert(d4, "201", "", "9")
	d4.message(2, true, &Sync{Target: loc("calendar"), Source: loc("cal"), Commands: []Command{
		&Change{Op: OpReplace, Meta: &Meta{Type: "text/x-vcalendar"}, Items: []Item{
			{Source: loc("E1"), Data: &Data{Text: vcalEvent}},
			{Source: loc("T1"), Data: &Data{Text: strings.Replace(vcalTodo, "Buy milk", "Buy oat milk", 1)}},
		}}}})
	d4.message(3, true)
	if len(store.Items("calendar")) != 1 || len(store.Items("tasks")) != 1 {
		t.Errorf("after a slow sync: %d events and %d tasks, want 1 and 1", len(store.Items("calendar")), len(store.Items("tasks")))
	}
}

// TestTasksNotCarriedWithTasksDatastore: a device whose DevInf has a
// tasks datastore of its own does not get tasks in its calendar.
func TestTasksNotCarriedWithTasksDatastore(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	store.Put(ctx, "tasks", &pim.Item{Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t2\r\nSUMMARY:Call Bob\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")})
	store.Put(ctx, "calendar", &pim.Item{Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e2\r\nSUMMARY:Lunch\r\nDTSTART:20261201T120000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")})
	for _, c := range []struct {
		stores []string
		want   int
	}{
		{[]string{"cal"}, 2},         // one vCalendar datastore announcing VTODO: tasks carried
		{[]string{"cal", "todo"}, 1}, // a tasks datastore of its own: events only
	} {
		d := newDriver(t, store)
		d.sid = strings.Join(c.stores, "")
		di := &DevInf{VerDTD: "1.2", DevID: "IMEI:3550000", DevTyp: "phone"}
		for _, s := range c.stores {
			ds := DataStore{SourceRef: s, RxPref: ContentType{"text/x-vcalendar", "1.0"}, TxPref: ContentType{"text/x-vcalendar", "1.0"}, SyncTypes: []int{1, 2}}
			ds.CTCaps = []CTCap{{CTType: "text/x-vcalendar", VerCT: "1.0", Properties: []CTProperty{
				{Name: "BEGIN", ValEnums: []string{"VCALENDAR", "VEVENT", "VTODO"}}, {Name: "SUMMARY"}}}}
			di.DataStores = append(di.DataStores, ds)
		}
		loc := func(s string) *Loc { return &Loc{LocURI: s} }
		d.message(1, true,
			&Access{Op: "Put", Meta: &Meta{Type: devInfType}, Items: []Item{{Source: loc("./devinf12"), Data: &Data{XML: di.Element("1.2")}}}},
			&Alert{Data: "201", Items: []Item{{Target: loc("calendar"), Source: loc("cal"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
		r := d.message(2, true, &Sync{Target: loc("calendar"), Source: loc("cal")})
		n := 0
		for _, sy := range commands[*Sync](r) {
			n += len(sy.Commands)
		}
		if n != c.want {
			t.Errorf("datastores %v: %d items sent, want %d", c.stores, n, c.want)
		}
	}
}

// TestVCalDeviceZone: local times of a vCalendar 1.0 item without TZ are
// read in the device's zone: the configured one, else the one its earlier
// items named; never silently as floating times when a zone is known.
func TestVCalDeviceZone(t *testing.T) {
	const noTZ = "BEGIN:VCALENDAR\r\nVERSION:1.0\r\nBEGIN:VEVENT\r\nSUMMARY:%s\r\nDTSTART:20260701T090000\r\nDTEND:20260701T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	const withTZ = "BEGIN:VCALENDAR\r\nVERSION:1.0\r\nTZ:+01\r\nDAYLIGHT:TRUE;+02;20260329T020000;20261025T030000;;\r\n" +
		"BEGIN:VEVENT\r\nSUMMARY:First\r\nDTSTART:20260105T090000\r\nDTEND:20260105T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	run := func(t *testing.T, zone string, items ...string) map[string]string {
		store := newMemStore()
		p := pim.DefaultPolicy()
		p.TimeZone = zone
		d := &driver{t: t, srv: NewServer(ServerOptions{Auth: store.Auth("alice", "pw"), Policy: p}), sid: "1"}
		d.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("calendar"), Source: loc("cal"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
		var cmds []Command
		for i, it := range items {
			cmds = append(cmds, &Change{Op: OpAdd, Meta: &Meta{Type: "text/x-vcalendar"}, Items: []Item{{Source: loc(fmt.Sprint("L", i)), Data: &Data{Text: it}}}})
		}
		d.message(2, true, &Sync{Target: loc("calendar"), Source: loc("cal"), Commands: cmds})
		out := map[string]string{}
		for _, v := range store.Items("calendar") {
			out[vobjectSummary(v)] = string(v)
		}
		return out
	}
	if got := run(t, "", fmt.Sprintf(noTZ, "Alone"))["Alone"]; !strings.Contains(got, "DTSTART:20260701T090000\r\n") {
		t.Errorf("no zone known: want a floating time, got\n%s", got)
	}
	if got := run(t, "Europe/Berlin", fmt.Sprintf(noTZ, "Configured"))["Configured"]; !strings.Contains(got, "DTSTART;TZID=") || !strings.Contains(got, "BEGIN:VTIMEZONE") {
		t.Errorf("configured zone not applied:\n%s", got)
	}
	got := run(t, "", withTZ, fmt.Sprintf(noTZ, "Later"))["Later"]
	if !strings.Contains(got, "DTSTART;TZID=") || !strings.Contains(got, "BEGIN:VTIMEZONE") {
		t.Errorf("the zone of the device's earlier item not applied:\n%s", got)
	}
}

func vobjectSummary(data []byte) string {
	for _, l := range strings.Split(string(data), "\r\n") {
		if s, ok := strings.CutPrefix(l, "SUMMARY:"); ok {
			return s
		}
	}
	return ""
}

// TestNokiaCalendarCarriesTasks: a Nokia S60 (one vCalendar datastore
// whose CTCap lists VTODO, no tasks datastore) gets the mailbox's tasks
// in its calendar from its first sync on.
func TestNokiaCalendarCarriesTasks(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	store.Put(ctx, "tasks", &pim.Item{Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t1\r\nSUMMARY:Call Bob\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")})
	di := readDevInfFixture(t, "nokia-s60-devinf12.xml")
	d := newDriver(t, store)
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	d.message(1, true,
		&Access{Op: "Put", Meta: &Meta{Type: devInfType}, Items: []Item{{Source: loc("./devinf12"), Data: &Data{XML: di.Element("1.2")}}}},
		&Alert{Data: "201", Items: []Item{{Target: loc("calendar"), Source: loc(`./C\Calendar`), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}})
	r := d.message(2, true, &Sync{Target: loc("calendar"), Source: loc(`./C\Calendar`)})
	var got []string
	for _, sy := range commands[*Sync](r) {
		for _, c := range sy.Commands {
			got = append(got, c.(*Change).Items[0].Data.Text)
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], "BEGIN:VTODO") || !strings.Contains(got[0], "VERSION:1.0") {
		t.Fatalf("sent to the Nokia: %q", got)
	}
}
