package syncml

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"

	"syncml-imap/internal/vobject"
)

// dbView is the store as one database of a session sees it. Most
// databases are one store database; a device's calendar database may also
// carry its tasks (phones keep events and to-dos in one vCalendar
// datastore), which live in the tasks folder.
type dbView interface {
	Changes(ctx context.Context, since []byte) (*StoreChanges, error)
	Get(ctx context.Context, ids ...string) ([]*StoreItem, error)
	Put(ctx context.Context, items ...*StoreItem) error
	Delete(ctx context.Context, ids ...string) (missing []string, err error)
	Advance(ctx context.Context, base []byte, own []string) ([]byte, error)
}

// plainView is one store database.
type plainView struct {
	st Store
	db string
}

func (v plainView) Changes(ctx context.Context, since []byte) (*StoreChanges, error) {
	return v.st.Changes(ctx, v.db, since)
}
func (v plainView) Get(ctx context.Context, ids ...string) ([]*StoreItem, error) {
	return v.st.Get(ctx, v.db, ids...)
}
func (v plainView) Put(ctx context.Context, items ...*StoreItem) error {
	return v.st.Put(ctx, v.db, items...)
}
func (v plainView) Delete(ctx context.Context, ids ...string) ([]string, error) {
	return v.st.Delete(ctx, v.db, ids...)
}
func (v plainView) Advance(ctx context.Context, base []byte, own []string) ([]byte, error) {
	return v.st.Advance(ctx, v.db, base, own)
}

// taskPrefix marks, in a calendar view, the IDs of items of the tasks
// database. Store IDs are UUIDs, so no calendar ID has it.
const taskPrefix = "task/"

// calendarView is the calendar database of a device that may send to-dos
// in it: new to-dos go to the tasks database (their IDs get taskPrefix),
// changes and deletes go where the item lives. With carry set, the tasks
// database's changes are listed too, so the mailbox's tasks reach the
// device in its calendar; the sync point then holds both databases'.
type calendarView struct {
	st    Store
	carry bool
}

// isTaskOnly reports whether an item is a to-do and no event.
func isTaskOnly(data []byte) bool {
	objs := vobject.Parse(data)
	if len(objs) == 0 {
		return false
	}
	task := false
	for _, c := range objs[0].Children {
		switch c.Name {
		case "VEVENT":
			return false
		case "VTODO":
			task = true
		}
	}
	return task
}

// splitIDs separates calendar IDs from task IDs (without the prefix),
// remembering each one's position.
func splitIDs(ids []string) (cal, tasks []string, calAt, taskAt []int) {
	for i, id := range ids {
		if t, ok := strings.CutPrefix(id, taskPrefix); ok {
			tasks, taskAt = append(tasks, t), append(taskAt, i)
		} else {
			cal, calAt = append(cal, id), append(calAt, i)
		}
	}
	return
}

func prefixed(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = taskPrefix + id
	}
	return out
}

// pointMagic starts a sync point of both databases. A store's own point
// never starts with a NUL byte followed by this text.
const pointMagic = "\x00syncml-imap calendar+tasks\x01"

func joinPoints(cal, tasks []byte) []byte {
	b := make([]byte, 0, len(pointMagic)+binary.MaxVarintLen64+len(cal)+len(tasks))
	b = append(b, pointMagic...)
	b = binary.AppendUvarint(b, uint64(len(cal)))
	b = append(b, cal...)
	return append(b, tasks...)
}

// splitPoint undoes joinPoints; a plain store point is the calendar's
// alone (the device's tasks were not carried then).
func splitPoint(p []byte) (cal, tasks []byte, err error) {
	rest, ok := bytes.CutPrefix(p, []byte(pointMagic))
	if !ok {
		return p, nil, nil
	}
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > uint64(len(rest)-k) {
		return nil, nil, ErrSyncPointInvalid
	}
	cal, tasks = rest[k:k+int(n)], rest[k+int(n):]
	if len(cal) == 0 {
		cal = nil
	}
	if len(tasks) == 0 {
		tasks = nil
	}
	return cal, tasks, nil
}

func (v *calendarView) Changes(ctx context.Context, since []byte) (*StoreChanges, error) {
	calSince, taskSince, err := splitPoint(since)
	if err != nil {
		return nil, err
	}
	if since == nil {
		calSince, taskSince = nil, nil
	}
	ch, err := v.st.Changes(ctx, "calendar", calSince)
	if err != nil || !v.carry {
		return ch, err
	}
	tch, err := v.st.Changes(ctx, "tasks", taskSince)
	if errors.Is(err, ErrSyncPointInvalid) && since != nil {
		return nil, err // the caller starts over with a slow sync
	}
	if err != nil {
		return nil, err
	}
	return &StoreChanges{
		Added:    append(ch.Added, prefixed(tch.Added)...),
		Modified: append(ch.Modified, prefixed(tch.Modified)...),
		Deleted:  append(ch.Deleted, prefixed(tch.Deleted)...),
		Point:    joinPoints(ch.Point, tch.Point),
	}, nil
}

func (v *calendarView) Get(ctx context.Context, ids ...string) ([]*StoreItem, error) {
	cal, tasks, calAt, taskAt := splitIDs(ids)
	out := make([]*StoreItem, len(ids))
	if len(cal) > 0 {
		got, err := v.st.Get(ctx, "calendar", cal...)
		if err != nil {
			return nil, err
		}
		for i, it := range got {
			out[calAt[i]] = it
		}
	}
	if len(tasks) > 0 {
		got, err := v.st.Get(ctx, "tasks", tasks...)
		if err != nil {
			return nil, err
		}
		for i, it := range got {
			if it != nil {
				it = &StoreItem{ID: taskPrefix + it.ID, Data: it.Data}
			}
			out[taskAt[i]] = it
		}
	}
	return out, nil
}

// Put stores events in the calendar and to-dos in the tasks database; the
// new IDs of tasks come back prefixed.
func (v *calendarView) Put(ctx context.Context, items ...*StoreItem) error {
	var cal, tasks []*StoreItem
	var taskItems []*StoreItem // the caller's, to fill in their IDs
	for _, it := range items {
		id, isTask := strings.CutPrefix(it.ID, taskPrefix)
		if it.ID == "" {
			isTask = isTaskOnly(it.Data)
		}
		if isTask {
			tasks = append(tasks, &StoreItem{ID: id, Data: it.Data})
			taskItems = append(taskItems, it)
		} else {
			cal = append(cal, it)
		}
	}
	if len(cal) > 0 {
		if err := v.st.Put(ctx, "calendar", cal...); err != nil {
			return err
		}
	}
	if len(tasks) > 0 {
		if err := v.st.Put(ctx, "tasks", tasks...); err != nil {
			return err
		}
		for i, t := range tasks {
			taskItems[i].ID = taskPrefix + t.ID
		}
	}
	return nil
}

func (v *calendarView) Delete(ctx context.Context, ids ...string) ([]string, error) {
	cal, tasks, _, _ := splitIDs(ids)
	var missing []string
	if len(cal) > 0 {
		m, err := v.st.Delete(ctx, "calendar", cal...)
		if err != nil {
			return nil, err
		}
		missing = append(missing, m...)
	}
	if len(tasks) > 0 {
		m, err := v.st.Delete(ctx, "tasks", tasks...)
		if err != nil {
			return nil, err
		}
		missing = append(missing, prefixed(m)...)
	}
	return missing, nil
}

// Advance folds the session's own writes into each database's point.
// Without carry only the calendar's point is kept. When carrying started
// in this session, the tasks base is nil: the point then holds the
// device's own to-dos, and the mailbox's other tasks stay to be sent.
func (v *calendarView) Advance(ctx context.Context, base []byte, own []string) ([]byte, error) {
	calBase, taskBase, err := splitPoint(base)
	if err != nil {
		calBase, taskBase = nil, nil
	}
	calOwn, taskOwn, _, _ := splitIDs(own)
	cal, err := v.st.Advance(ctx, "calendar", calBase, calOwn)
	if err != nil || !v.carry {
		return cal, err
	}
	tasks, err := v.st.Advance(ctx, "tasks", taskBase, taskOwn)
	if err != nil {
		return nil, err
	}
	return joinPoints(cal, tasks), nil
}
