package pim_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
)

// TestVersionedCalendarView: a device's calendar view (events and the
// carried tasks, recurring items shown as they are) names, writes and
// refuses at versions item by item, with the tasks' IDs prefixed.
func TestVersionedCalendarView(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(nil)
	ev := &pim.Item{Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\nDTSTART:20270101T100000Z\r\nSUMMARY:Meet\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")}
	task := &pim.Item{Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t1\r\nSUMMARY:Do\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")}
	if err := st.Put(ctx, pim.Calendar, ev); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, pim.Tasks, task); err != nil {
		t.Fatal(err)
	}
	view := pim.NewRecurView(pim.PolicyView(st, pim.Calendar, &pim.Policy{}, true), func() bool { return false })
	vv := pim.AsVersioned(view)
	if vv == nil {
		t.Fatal("the calendar view over a Versioner is not a VersionedView")
	}
	ch, err := view.Changes(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var taskID string
	for _, id := range ch.Added {
		if strings.HasPrefix(id, "task/") {
			taskID = id
		}
	}
	listed, err := vv.PointVersions(ch.Point)
	if err != nil || listed[ev.ID] != ev.Version || listed[taskID] != task.Version || len(listed) != 2 {
		t.Fatalf("PointVersions: %v, %v; want %s at %s and %s at %s", listed, err, ev.ID, ev.Version, taskID, task.Version)
	}
	got, err := view.Get(ctx, ev.ID, taskID)
	if err != nil || got[0].Version != ev.Version || got[1].Version != task.Version {
		t.Fatalf("Get gave versions %q, %q (%v)", got[0].Version, got[1].Version, err)
	}
	// Another writer changes the task.
	if err := st.Put(ctx, pim.Tasks, &pim.Item{ID: task.ID, Data: []byte(strings.Replace(string(task.Data), "Do", "Do now", 1))}); err != nil {
		t.Fatal(err)
	}
	items := []*pim.Item{
		{ID: ev.ID, Data: []byte(strings.Replace(string(ev.Data), "Meet", "Meet again", 1))},
		{ID: taskID, Data: []byte(strings.Replace(string(task.Data), "Do", "Do later", 1))},
		{ID: ev.ID + "~20270108T100000Z", Data: ev.Data},
	}
	errs, err := vv.PutVersions(ctx, items, []string{ev.Version, task.Version, ""})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], pim.ErrVersionMismatch) || !errors.Is(errs[2], pim.ErrUnversioned) {
		t.Fatalf("PutVersions answered %v; want nil, ErrVersionMismatch, ErrUnversioned", errs)
	}
	now, err := vv.Versions(ctx, []string{ev.ID, taskID})
	if err != nil || now[ev.ID] != items[0].Version || now[ev.ID] == ev.Version || now[taskID] == task.Version {
		t.Errorf("Versions %v (%v): the event at %q, the task moved on from %q", now, err, items[0].Version, task.Version)
	}
	if data := st.Items(pim.Tasks)[task.ID]; !strings.Contains(string(data), "Do now") {
		t.Errorf("the other writer's task was overwritten:\n%s", data)
	}
}
