package eas

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"syncml-imap/internal/wbxml"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
)

// provisioned is a phone through Provision and FolderSync.
func provisioned(t *testing.T) *phone {
	p := newPhone(t)
	_, ans := p.post("Provision", "secret", el("Provision", "Provision", el("", "Policies", el("", "Policy", tx("", "PolicyType", "MS-EAS-Provisioning-WBXML")))))
	temp := text(child(child(ans, "Policies"), "Policy"), "PolicyKey")
	_, ans = p.post("Provision", "secret", el("Provision", "Provision", el("", "Policies", el("", "Policy",
		tx("", "PolicyType", "MS-EAS-Provisioning-WBXML"), tx("", "PolicyKey", temp), tx("", "Status", "1")))))
	p.key = text(child(child(ans, "Policies"), "Policy"), "PolicyKey")
	p.post("FolderSync", "secret", el("FolderHierarchy", "FolderSync", tx("", "SyncKey", "0")))
	return p
}

func (p *phone) sync(t *testing.T, coll *wbxml.Node) *wbxml.Node {
	t.Helper()
	code, ans := p.post("Sync", "secret", el("AirSync", "Sync", el("", "Collections", coll)))
	if code != 200 || ans == nil {
		t.Fatalf("Sync: HTTP %d", code)
	}
	c := child(child(ans, "Collections"), "Collection")
	if c == nil {
		t.Fatalf("Sync: %s", wbxml.Format(ans))
	}
	return c
}

// first is a folder's first sync: key 0, then key 1, whose answer it
// returns.
func (p *phone) first(t *testing.T, folder string) *wbxml.Node {
	t.Helper()
	p.sync(t, el("", "Collection", tx("", "SyncKey", "0"), tx("", "CollectionId", folder)))
	return p.sync(t, el("", "Collection", tx("", "SyncKey", "1"), tx("", "CollectionId", folder)))
}

func TestSyncContacts(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	for i := range 3 {
		st.Put(ctx, pim.Contacts, &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person " + string(rune('A'+i)) + "\r\nN:" + string(rune('A'+i)) + ";Person;;;\r\nX-KEEP:yes\r\nEND:VCARD\r\n")})
	}
	c := p.sync(t, el("", "Collection", tx("", "SyncKey", "0"), tx("", "CollectionId", "contacts")))
	if text(c, "Status") != "1" || text(c, "SyncKey") != "1" {
		t.Fatalf("key 0: %s", wbxml.Format(c))
	}
	// A window of 2: two now, one more available.
	c = p.sync(t, el("", "Collection", tx("", "SyncKey", "1"), tx("", "CollectionId", "contacts"), tx("", "WindowSize", "2")))
	adds := children(child(c, "Commands"), "Add")
	if text(c, "SyncKey") != "2" || len(adds) != 2 || child(c, "MoreAvailable") == nil {
		t.Fatalf("first window: %s", wbxml.Format(c))
	}
	c = p.sync(t, el("", "Collection", tx("", "SyncKey", "2"), tx("", "CollectionId", "contacts")))
	adds = append(adds, children(child(c, "Commands"), "Add")...)
	if len(adds) != 3 || child(c, "MoreAvailable") != nil {
		t.Fatalf("second window: %s", wbxml.Format(c))
	}
	// The same request again (the answer was lost): the same answer.
	again := p.sync(t, el("", "Collection", tx("", "SyncKey", "2"), tx("", "CollectionId", "contacts")))
	if wbxml.Format(again) != wbxml.Format(c) {
		t.Errorf("a repeated key got another answer:\n%s\nwant\n%s", wbxml.Format(again), wbxml.Format(c))
	}
	// The client adds one, changes one (its FileAs, sending only what it
	// holds), deletes one.
	first := adds[0]
	sid := text(first, "ServerId")
	var fields []*wbxml.Node
	for _, n := range child(first, "ApplicationData").Children {
		if n.Name == "FileAs" {
			n = tx(n.NS, "FileAs", "Changed Person")
		}
		fields = append(fields, n)
	}
	c = p.sync(t, el("", "Collection", tx("", "SyncKey", "3"), tx("", "CollectionId", "contacts"), el("", "Commands",
		el("", "Add", tx("", "ClientId", "c1"), el("", "ApplicationData", tx("Contacts", "FirstName", "New"), tx("Contacts", "LastName", "Client"))),
		el("", "Change", tx("", "ServerId", sid), el("", "ApplicationData", fields...)),
		el("", "Delete", tx("", "ServerId", text(adds[2], "ServerId"))))))
	add := child(child(c, "Responses"), "Add")
	if text(c, "Status") != "1" || text(add, "Status") != "1" || text(add, "ServerId") == "" || child(c, "Commands") != nil {
		t.Fatalf("client changes: %s", wbxml.Format(c))
	}
	items := st.Items(pim.Contacts)
	if len(items) != 3 {
		t.Errorf("%d contacts in the store, want 3", len(items))
	}
	changed := string(items[sid])
	if !strings.Contains(changed, "FN:Changed Person") || !strings.Contains(changed, "X-KEEP:yes") {
		t.Errorf("the changed contact:\n%s", changed)
	}
	// The next sync is quiet (the client's own writes are not echoed).
	c = p.sync(t, el("", "Collection", tx("", "SyncKey", "4"), tx("", "CollectionId", "contacts")))
	if child(c, "Commands") != nil {
		t.Errorf("own writes echoed: %s", wbxml.Format(c))
	}
	// A change in the store reaches it; a stale key is refused.
	st.Put(ctx, pim.Contacts, &pim.Item{ID: sid, Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Server Edit\r\nN:Edit;Server;;;\r\nEND:VCARD\r\n")})
	c = p.sync(t, el("", "Collection", tx("", "SyncKey", "5"), tx("", "CollectionId", "contacts")))
	if ch := child(child(c, "Commands"), "Change"); ch == nil || text(ch, "ServerId") != sid || text(child(ch, "ApplicationData"), "FileAs") != "Server Edit" {
		t.Errorf("server change: %s", wbxml.Format(c))
	}
	if c = p.sync(t, el("", "Collection", tx("", "SyncKey", "2"), tx("", "CollectionId", "contacts"))); text(c, "Status") != "3" {
		t.Errorf("stale key: %s", wbxml.Format(c))
	}
}

// A client's change of an item changed in the store since its last sync:
// the store's version stays and goes to it (status 7).
func TestSyncConflictServerWins(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	it := &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Orig\r\nN:;Orig;;;\r\nEND:VCARD\r\n")}
	st.Put(ctx, pim.Contacts, it)
	p.first(t, "contacts")
	st.Put(ctx, pim.Contacts, &pim.Item{ID: it.ID, Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Server\r\nN:;Server;;;\r\nEND:VCARD\r\n")})
	c := p.sync(t, el("", "Collection", tx("", "SyncKey", "2"), tx("", "CollectionId", "contacts"), el("", "Commands",
		el("", "Change", tx("", "ServerId", it.ID), el("", "ApplicationData", tx("Contacts", "FileAs", "Client"), tx("Contacts", "FirstName", "Client"))))))
	if r := child(child(c, "Responses"), "Change"); text(r, "Status") != "7" {
		t.Errorf("conflict: %s", wbxml.Format(c))
	}
	if ch := child(child(c, "Commands"), "Change"); text(child(ch, "ApplicationData"), "FileAs") != "Server" {
		t.Errorf("the server's version not sent: %s", wbxml.Format(c))
	}
	if got := string(st.Items(pim.Contacts)[it.ID]); !strings.Contains(got, "FN:Server") {
		t.Errorf("the store's version lost:\n%s", got)
	}
}

func TestSyncTasksAndEvents(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	for _, id := range []string{"tasks", "calendar"} {
		p.sync(t, el("", "Collection", tx("", "SyncKey", "0"), tx("", "CollectionId", id)))
	}
	c := p.sync(t, el("", "Collection", tx("", "SyncKey", "1"), tx("", "CollectionId", "tasks"), el("", "Commands",
		el("", "Add", tx("", "ClientId", "t1"), el("", "ApplicationData", tx("Tasks", "Subject", "Test task"), tx("Tasks", "Complete", "0"), tx("Tasks", "UtcDueDate", "2027-01-20T12:00:00.000Z"))))))
	if text(child(child(c, "Responses"), "Add"), "Status") != "1" {
		t.Fatalf("task add: %s", wbxml.Format(c))
	}
	c = p.sync(t, el("", "Collection", tx("", "SyncKey", "1"), tx("", "CollectionId", "calendar"), el("", "Commands",
		el("", "Add", tx("", "ClientId", "e1"), el("", "ApplicationData", tx("Calendar", "Subject", "Test event"), tx("Calendar", "StartTime", "20270115T100000Z"),
			tx("Calendar", "EndTime", "20270115T110000Z"), tx("Calendar", "AllDayEvent", "0"), tx("Calendar", "Reminder", ""))))))
	if text(child(child(c, "Responses"), "Add"), "Status") != "1" {
		t.Fatalf("event add: %s", wbxml.Format(c))
	}
	for db, want := range map[pim.Kind]string{pim.Tasks: "SUMMARY:Test task", pim.Calendar: "DTSTART:20270115T100000Z"} {
		items := st.Items(db)
		if len(items) != 1 {
			t.Errorf("%s: %d items", db, len(items))
		}
		for _, d := range items {
			if !strings.Contains(string(d), want) || !strings.Contains(string(d), "UID:") {
				t.Errorf("%s:\n%s", db, d)
			}
		}
	}
}

// A device whose policy names contact sub-folders gets them as its one
// address book; when the policy names others, it starts over.
func TestSyncContactFolders(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	st.Put(ctx, pim.Contacts, &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Top\r\nN:;Top;;;\r\nEND:VCARD\r\n")})
	st.Put(ctx, pim.Contacts.Sub("Family"), &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Mum\r\nN:;Mum;;;\r\nEND:VCARD\r\n")})
	devs := pim.NewDevices(st, 4)
	if _, _, err := devs.SetPolicy(ctx, "TB1234", pim.DefaultPolicy(), map[string]string{"contact_folders": "Family"}); err != nil {
		t.Fatal(err)
	}
	c := p.first(t, "contacts")
	adds := children(child(c, "Commands"), "Add")
	if len(adds) != 1 || text(child(adds[0], "ApplicationData"), "FileAs") != "Mum" {
		t.Fatalf("the Family folder: %s", wbxml.Format(c))
	}
	if _, _, err := devs.SetPolicy(ctx, "TB1234", pim.DefaultPolicy(), map[string]string{"contact_folders": ""}); err != nil {
		t.Fatal(err)
	}
	_, ans := p.post("Sync", "secret", el("AirSync", "Sync", el("", "Collections", el("", "Collection", tx("", "SyncKey", "2"), tx("", "CollectionId", "contacts")))))
	if text(child(child(ans, "Collections"), "Collection"), "Status") != "3" {
		t.Errorf("other folders, same key: %s", wbxml.Format(ans))
	}
}

// The calendar window: the client's FilterType and the device's policy,
// the closer limit; the mailbox keeps every event.
func TestSyncCalendarWindow(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	for _, start := range []string{"20260101T090000Z", "20261120T090000Z", "20261205T090000Z", "20270601T090000Z"} {
		st.Put(ctx, pim.Calendar, &pim.Item{Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:" + start +
			"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:" + start + "\r\nDURATION:PT1H\r\nSUMMARY:at " + start + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")})
	}
	count := func(c *wbxml.Node) int { return len(children(child(c, "Commands"), "Add")) }
	p.sync(t, el("", "Collection", tx("", "SyncKey", "0"), tx("", "CollectionId", "calendar")))
	// FilterType 5: a month back (today is the 7th of December 2026).
	c := p.sync(t, el("", "Collection", tx("", "SyncKey", "1"), tx("", "CollectionId", "calendar"), el("", "Options", tx("", "FilterType", "5"))))
	if n := count(c); n != 3 {
		t.Errorf("FilterType 5: %d events, want 3: %s", n, wbxml.Format(c))
	}
	if n := len(st.Items(pim.Calendar)); n != 4 {
		t.Errorf("the mailbox holds %d events", n)
	}
}

// A client that sends the same Sync twice at once (it gave up waiting
// and sent again): its Add is stored once, and both answers agree.
func TestSyncSentTwiceAtOnce(t *testing.T) {
	p := provisioned(t)
	p.sync(t, el("", "Collection", tx("", "SyncKey", "0"), tx("", "CollectionId", "contacts")))
	req := el("", "Collection", tx("", "SyncKey", "1"), tx("", "CollectionId", "contacts"), el("", "Commands",
		el("", "Add", tx("", "ClientId", "c1"), el("", "ApplicationData", tx("Contacts", "FileAs", "Once Only"), tx("Contacts", "LastName", "Only")))))
	// Reads of the folder's state are slow, so the two overlap.
	p.accts.Store("alice").Configure(func(o *memstore.Options) {
		o.Fault = func(op memstore.Op, name string) error {
			if name == pim.ReplicaKey("TB1234", pim.Contacts) {
				time.Sleep(50 * time.Millisecond)
			}
			return nil
		}
	})
	answers := make(chan string, 2)
	for range 2 {
		go func() {
			_, ans := p.post("Sync", "secret", el("AirSync", "Sync", el("", "Collections", req)))
			answers <- wbxml.Format(ans)
		}()
	}
	a, b := <-answers, <-answers
	if a == "" || a != b || !strings.Contains(a, "<AirSync:ClientId>c1</AirSync:ClientId>") {
		t.Errorf("two answers to one request:\n%s\n%s", a, b)
	}
	if n := len(p.accts.Store("alice").Items(pim.Contacts)); n != 1 {
		t.Errorf("%d contacts stored, want 1", n)
	}
}

// A client's change of an item changed in the store since its last sync,
// under the merge policy (the default): the fields each side changed are
// both kept, from the version they last agreed on, and the merge goes to
// the client.
func TestSyncConflictMerged(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	it := &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Orig Name\r\nN:Name;Orig;;;\r\nTEL;TYPE=WORK:111\r\nEND:VCARD\r\n")}
	st.Put(ctx, pim.Contacts, it)
	c := p.first(t, "contacts")
	add := child(child(c, "Commands"), "Add")
	if add == nil {
		t.Fatalf("not sent: %s", wbxml.Format(c))
	}
	// The store changes the phone number, the client the title.
	st.Put(ctx, pim.Contacts, &pim.Item{ID: it.ID, Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Orig Name\r\nN:Name;Orig;;;\r\nTEL;TYPE=WORK:222\r\nEND:VCARD\r\n")})
	fields := append(slices.Clone(child(add, "ApplicationData").Children), tx("Contacts", "JobTitle", "Chief"))
	c = p.sync(t, el("", "Collection", tx("", "SyncKey", "2"), tx("", "CollectionId", "contacts"), el("", "Commands",
		el("", "Change", tx("", "ServerId", it.ID), el("", "ApplicationData", fields...)))))
	if r := child(child(c, "Responses"), "Change"); r != nil {
		t.Errorf("the merge answered as a conflict: %s", wbxml.Format(c))
	}
	got := string(st.Items(pim.Contacts)[it.ID])
	if !strings.Contains(got, "TITLE:Chief") || !strings.Contains(got, "222") || strings.Contains(got, "111") {
		t.Errorf("the merged contact:\n%s", got)
	}
	ch := child(child(c, "Commands"), "Change")
	if app := child(ch, "ApplicationData"); text(ch, "ServerId") != it.ID || text(app, "JobTitle") != "Chief" || text(app, "BusinessPhoneNumber") != "222" {
		t.Errorf("the merge not sent to the client: %s", wbxml.Format(c))
	}
	// Now both agree: the next sync brings nothing.
	if c = p.sync(t, el("", "Collection", tx("", "SyncKey", "3"), tx("", "CollectionId", "contacts"))); child(c, "Commands") != nil {
		t.Errorf("after the merge: %s", wbxml.Format(c))
	}
}

// The duplicate policy: a conflict keeps both versions, each on the
// client too.
func TestSyncConflictDuplicate(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	if _, _, err := pim.NewDevices(st, 4).SetPolicy(ctx, "TB1234", pim.DefaultPolicy(), map[string]string{"conflict": "duplicate"}); err != nil {
		t.Fatal(err)
	}
	it := &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Orig\r\nN:;Orig;;;\r\nEND:VCARD\r\n")}
	st.Put(ctx, pim.Contacts, it)
	p.first(t, "contacts")
	st.Put(ctx, pim.Contacts, &pim.Item{ID: it.ID, Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Server\r\nN:;Server;;;\r\nEND:VCARD\r\n")})
	c := p.sync(t, el("", "Collection", tx("", "SyncKey", "2"), tx("", "CollectionId", "contacts"), el("", "Commands",
		el("", "Change", tx("", "ServerId", it.ID), el("", "ApplicationData", tx("Contacts", "FileAs", "Client"), tx("Contacts", "FirstName", "Client"))))))
	items := st.Items(pim.Contacts)
	var names []string
	for _, data := range items {
		for _, l := range strings.Split(string(data), "\r\n") {
			if strings.HasPrefix(l, "FN:") {
				names = append(names, l)
			}
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"FN:Client", "FN:Server"}) {
		t.Errorf("the mailbox holds %q, want both versions", names)
	}
	cmds := child(c, "Commands")
	if len(children(cmds, "Add")) != 1 || len(children(cmds, "Change")) != 1 {
		t.Errorf("the client should get the store's version and its own as a new one: %s", wbxml.Format(c))
	}
	if c = p.sync(t, el("", "Collection", tx("", "SyncKey", text(c, "SyncKey")), tx("", "CollectionId", "contacts"))); child(c, "Commands") != nil {
		t.Errorf("both sent again: %s", wbxml.Format(c))
	}
}

// Time moves events in and out of the device's window: with nothing
// changed in the mailbox, an event that comes within the future limit is
// added and one that falls behind the past limit is deleted on the
// device, and a Ping tells the client so.
func TestSyncWindowMoves(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	if _, _, err := pim.NewDevices(st, 4).SetPolicy(ctx, "TB1234", pim.DefaultPolicy(), map[string]string{"calendar_future": "30d"}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for name, start := range map[string]string{"ahead": "20270116T090000Z", "behind": "20261117T090000Z"} {
		it := &pim.Item{Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:" + name +
			"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:" + start + "\r\nDURATION:PT1H\r\nSUMMARY:" + name + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")}
		st.Put(ctx, pim.Calendar, it)
		ids[name] = it.ID
	}
	p.sync(t, el("", "Collection", tx("", "SyncKey", "0"), tx("", "CollectionId", "calendar")))
	c := p.sync(t, el("", "Collection", tx("", "SyncKey", "1"), tx("", "CollectionId", "calendar"), el("", "Options", tx("", "FilterType", "5"))))
	if adds := children(child(c, "Commands"), "Add"); len(adds) != 1 || text(adds[0], "ServerId") != ids["behind"] {
		t.Fatalf("on the 7th of December: %s", wbxml.Format(c))
	}
	p.h.Now = func() time.Time { return time.Date(2026, 12, 22, 12, 0, 0, 0, time.UTC) }
	code, ans := p.post("Ping", "secret", el("Ping", "Ping", tx("", "HeartbeatInterval", "60"),
		el("", "Folders", el("", "Folder", tx("", "Id", "calendar"), tx("", "Class", "Calendar")))))
	if code != 200 || text(ans, "Status") != "2" {
		t.Errorf("Ping after the window moved: HTTP %d %s", code, wbxml.Format(ans))
	}
	c = p.sync(t, el("", "Collection", tx("", "SyncKey", "2"), tx("", "CollectionId", "calendar")))
	cmds := child(c, "Commands")
	add, del := child(cmds, "Add"), child(cmds, "Delete")
	if len(cmds.Children) != 2 || text(add, "ServerId") != ids["ahead"] || text(del, "ServerId") != ids["behind"] {
		t.Errorf("on the 22nd: %s", wbxml.Format(c))
	}
	if n := len(st.Items(pim.Calendar)); n != 2 {
		t.Errorf("the mailbox holds %d events, want 2", n)
	}
}

// What a sync did is in the device's records, for its page and
// `devices show`.
func TestSyncSummary(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	st.Put(ctx, pim.Tasks, &pim.Item{Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:t1\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:a task\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")})
	p.sync(t, el("", "Collection", tx("", "SyncKey", "0"), tx("", "CollectionId", "tasks")))
	p.sync(t, el("", "Collection", tx("", "SyncKey", "1"), tx("", "CollectionId", "tasks"), el("", "Commands",
		el("", "Add", tx("", "ClientId", "n1"), el("", "ApplicationData", tx("Tasks", "Subject", "from the client"))))))
	slot, err := pim.NewDevices(st, 4).Find(ctx, "TB1234")
	if err != nil {
		t.Fatal(err)
	}
	last, ok := slot.Last[pim.Tasks]
	if !ok || last.Mode != "two-way" || last.FromDevice.Added != 1 || last.ToDevice.Added != 1 || slot.Databases[pim.Tasks].IsZero() {
		t.Errorf("the tasks' last sync: %+v (%v)", last, slot.Databases)
	}
}

// A first sync of a big folder: the backlog is read a chunk at a time, so
// each request's record holds about a window of IDs, not the folder's;
// every item arrives once, and the chunks are gone at the end.
func TestSyncBacklog(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	const n = 1203
	items := make([]*pim.Item, n)
	for i := range items {
		items[i] = &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person " + strconv.Itoa(i) + "\r\nN:" + strconv.Itoa(i) + ";Person;;;\r\nEND:VCARD\r\n")}
	}
	if err := st.Put(ctx, pim.Contacts, items...); err != nil {
		t.Fatal(err)
	}
	p.sync(t, el("", "Collection", tx("", "SyncKey", "0"), tx("", "CollectionId", "contacts")))
	got := map[string]int{}
	key := "1"
	for round := 0; ; round++ {
		c := p.sync(t, el("", "Collection", tx("", "SyncKey", key), tx("", "CollectionId", "contacts"), tx("", "WindowSize", "100")))
		for _, a := range children(child(c, "Commands"), "Add") {
			got[text(a, "ServerId")]++
		}
		key = text(c, "SyncKey")
		raw, _ := st.LoadState(ctx, pim.ReplicaKey("TB1234", pim.Contacts))
		var rec folderRecord
		json.Unmarshal(raw, &rec)
		if len(rec.Pending) > backlogChunk {
			t.Fatalf("round %d: the record holds %d pending IDs", round, len(rec.Pending))
		}
		if child(c, "MoreAvailable") == nil {
			break
		}
		if round > n/100+2 {
			t.Fatal("MoreAvailable without end")
		}
	}
	if len(got) != n {
		t.Errorf("%d contacts arrived, want %d", len(got), n)
	}
	for id, k := range got {
		if k != 1 {
			t.Errorf("%s arrived %d times", id, k)
		}
	}
	if keys, _ := st.ListState(ctx, backlogPrefix("TB1234", pim.Contacts)); len(keys) != 0 {
		t.Errorf("backlog records left: %q", keys)
	}
}

// A Sync whose items were stored but whose state was not saved (the
// connection to the store broke): the client sends it again with the same
// key, and its items are not stored twice.
func TestSyncAddsSentAgainAfterFailure(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	p.first(t, "contacts")
	req := el("AirSync", "Sync", el("", "Collections", el("", "Collection", tx("", "SyncKey", "2"), tx("", "CollectionId", "contacts"), el("", "Commands",
		el("", "Add", tx("", "ClientId", "c1"), el("", "ApplicationData", tx("Contacts", "FileAs", "Only Once"), tx("Contacts", "LastName", "Once"), tx("Contacts", "FirstName", "Only"))),
		el("", "Add", tx("", "ClientId", "c2"), el("", "ApplicationData", tx("Contacts", "FileAs", "Also Once"), tx("Contacts", "LastName", "Once"), tx("Contacts", "FirstName", "Also")))))))
	failed := false
	st.Configure(func(o *memstore.Options) {
		o.Fault = func(op memstore.Op, name string) error {
			if op == memstore.OpSaveState && name == pim.ReplicaKey("TB1234", pim.Contacts) && !failed {
				failed = true
				return errors.New("connection reset")
			}
			return nil
		}
	})
	if code, _ := p.post("Sync", "secret", req); code != 500 || !failed {
		t.Fatalf("the failed Sync: HTTP %d", code)
	}
	if n := len(st.Items(pim.Contacts)); n != 2 {
		t.Fatalf("%d contacts stored by the failed Sync (the test needs them stored)", n)
	}
	code, ans := p.post("Sync", "secret", req)
	c := child(child(ans, "Collections"), "Collection")
	if code != 200 || text(c, "Status") != "1" {
		t.Fatalf("sent again: HTTP %d %s", code, wbxml.Format(ans))
	}
	ids := map[string]bool{}
	for _, a := range children(child(c, "Responses"), "Add") {
		if text(a, "Status") != "1" || text(a, "ServerId") == "" {
			t.Errorf("add: %s", wbxml.Format(a))
		}
		ids[text(a, "ServerId")] = true
	}
	if n := len(st.Items(pim.Contacts)); n != 2 || len(ids) != 2 {
		t.Errorf("%d contacts in the store, %d IDs answered; want 2 and 2", n, len(ids))
	}
	if cmds := child(c, "Commands"); cmds != nil {
		t.Errorf("its own items sent back: %s", wbxml.Format(cmds))
	}
	// Both are the client's: quiet next time.
	if c = p.sync(t, el("", "Collection", tx("", "SyncKey", text(c, "SyncKey")), tx("", "CollectionId", "contacts"))); child(c, "Commands") != nil {
		t.Errorf("after: %s", wbxml.Format(c))
	}
}

// Another writer changes an item between the client's Sync reading it and
// writing the client's change or deletion: its change is not overwritten
// (the client's is merged onto it) nor deleted.
func TestSyncGuardedWrites(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	a := &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna A\r\nN:A;Anna;;;\r\nEND:VCARD\r\n")}
	b := &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bert B\r\nN:B;Bert;;;\r\nEND:VCARD\r\n")}
	st.Put(ctx, pim.Contacts, a, b)
	c := p.first(t, "contacts")
	var appA []*wbxml.Node
	for _, add := range children(child(c, "Commands"), "Add") {
		if text(add, "ServerId") == a.ID {
			appA = slices.Clone(child(add, "ApplicationData").Children)
		}
	}
	other := map[string]string{
		a.ID: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna A\r\nN:A;Anna;;;\r\nNOTE:the other writer\r\nEND:VCARD\r\n",
		b.ID: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bert B\r\nN:B;Bert;;;\r\nNOTE:the other writer\r\nEND:VCARD\r\n",
	}
	testHookBeforeWrite = func(id string) {
		if data, ok := other[id]; ok {
			delete(other, id)
			st.Put(ctx, pim.Contacts, &pim.Item{ID: id, Data: []byte(data)})
		}
	}
	t.Cleanup(func() { testHookBeforeWrite = nil })
	c = p.sync(t, el("", "Collection", tx("", "SyncKey", "2"), tx("", "CollectionId", "contacts"), el("", "Commands",
		el("", "Change", tx("", "ServerId", a.ID), el("", "ApplicationData", append(appA, tx("Contacts", "JobTitle", "Chief"))...)),
		el("", "Delete", tx("", "ServerId", b.ID)))))
	items := st.Items(pim.Contacts)
	if got := string(items[a.ID]); !strings.Contains(got, "NOTE:the other writer") || !strings.Contains(got, "TITLE:Chief") {
		t.Errorf("the changed contact:\n%s", got)
	}
	if got := string(items[b.ID]); !strings.Contains(got, "NOTE:the other writer") {
		t.Errorf("the contact the client deleted and the other writer changed: %q", got)
	}
	// Both go to the client: the merge, and the one it deleted back.
	var sent []string
	for _, op := range child(c, "Commands").Children {
		sent = append(sent, op.Name+" "+text(op, "ServerId"))
	}
	slices.Sort(sent)
	want := []string{"Add " + b.ID, "Change " + a.ID}
	slices.Sort(want)
	if !slices.Equal(sent, want) {
		t.Errorf("sent %q, want %q", sent, want)
	}
}

// A 16.1 client changes and deletes single occurrences of a series by
// InstanceId (MS-ASCAL 2.2.2.22): the series stays one item, with a
// moved occurrence and an EXDATE, and the other fields as they were.
func TestSyncOccurrenceByInstanceId(t *testing.T) {
	p := provisioned(t)
	p.version = "16.1"
	st := p.accts.Store("alice")
	ctx := context.Background()
	series := &pim.Item{Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:standup\r\nDTSTAMP:20261201T000000Z\r\n" +
		"DTSTART:20261214T090000Z\r\nDTEND:20261214T093000Z\r\nRRULE:FREQ=WEEKLY;COUNT=6\r\nSUMMARY:Standup\r\nX-KEEP:yes\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")}
	st.Put(ctx, pim.Calendar, series)
	p.first(t, "calendar")
	c := p.sync(t, el("", "Collection", tx("", "SyncKey", "2"), tx("", "CollectionId", "calendar"), el("", "Commands",
		el("", "Change", tx("", "ServerId", series.ID), tx("AirSyncBase", "InstanceId", "20261221T090000Z"),
			el("", "ApplicationData", tx("Calendar", "StartTime", "20261221T130000Z"), tx("Calendar", "EndTime", "20261221T133000Z"))),
		el("", "Delete", tx("", "ServerId", series.ID), tx("AirSyncBase", "InstanceId", "20261228T090000Z")),
		el("", "Change", tx("", "ServerId", series.ID), tx("AirSyncBase", "InstanceId", "20261229T090000Z"),
			el("", "ApplicationData", tx("Calendar", "Subject", "not an occurrence"))))))
	if r := children(child(c, "Responses"), "Change"); len(r) != 1 || text(r[0], "InstanceId") != "20261229T090000Z" || text(r[0], "Status") != "6" {
		t.Errorf("answers: %s", wbxml.Format(c))
	}
	items := st.Items(pim.Calendar)
	got := string(items[series.ID])
	for _, want := range []string{"RECURRENCE-ID:20261221T090000Z", "DTSTART:20261221T130000Z", "EXDATE:20261228T090000Z", "RRULE:FREQ=WEEKLY;COUNT=6", "X-KEEP:yes"} {
		if !strings.Contains(got, want) {
			t.Errorf("the series lacks %s:\n%s", want, got)
		}
	}
	if len(items) != 1 {
		t.Errorf("%d items in the calendar, want the one series", len(items))
	}
	// The series is still the client's: its next sync brings nothing.
	if c = p.sync(t, el("", "Collection", tx("", "SyncKey", "3"), tx("", "CollectionId", "calendar"))); child(c, "Commands") != nil {
		t.Errorf("after: %s", wbxml.Format(c))
	}
}

// TbSync 4.18 at 16.1 names a changed occurrence inside the Change's
// ApplicationData: taken as the occurrence's, not the series'.
func TestSyncOccurrenceInsideApplicationData(t *testing.T) {
	p := provisioned(t)
	p.version = "16.1"
	st := p.accts.Store("alice")
	ctx := context.Background()
	series := &pim.Item{Data: []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20261201T000000Z\r\n" +
		"DTSTART:20261214T090000Z\r\nDTEND:20261214T093000Z\r\nRRULE:FREQ=WEEKLY;COUNT=6\r\nSUMMARY:Weekly\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")}
	st.Put(ctx, pim.Calendar, series)
	p.first(t, "calendar")
	p.sync(t, el("", "Collection", tx("", "SyncKey", "2"), tx("", "CollectionId", "calendar"), el("", "Commands",
		el("", "Change", tx("", "ServerId", series.ID), el("", "ApplicationData", tx("AirSyncBase", "InstanceId", "20261221T090000Z"),
			tx("Calendar", "Subject", "Weekly (one off)"), tx("Calendar", "StartTime", "20261221T100000Z"), tx("Calendar", "EndTime", "20261221T103000Z"))),
		el("", "Change", tx("", "ServerId", series.ID), el("", "ApplicationData", tx("AirSyncBase", "InstanceId", "20261228T090000Z"),
			tx("Calendar", "Deleted", "1"))))))
	got := string(st.Items(pim.Calendar)[series.ID])
	for _, want := range []string{"SUMMARY:Weekly\r\n", "RECURRENCE-ID:20261221T090000Z", "SUMMARY:Weekly (one off)", "EXDATE:20261228T090000Z"} {
		if !strings.Contains(got, want) {
			t.Errorf("the series lacks %q:\n%s", want, got)
		}
	}
}

// A Sync that asks to wait (MS-ASCMD 3.1.5.4): it is answered when a
// change comes, with it; with the empty response when none comes or
// another request of the device moved the folder on, its key still good;
// out of bounds, with the bound.
func TestSyncWait(t *testing.T) {
	defer func(u time.Duration) { waitUnit = u }(waitUnit)
	waitUnit = 300 * time.Millisecond // Wait 1: 300 ms
	p := provisioned(t)
	p.h.PingPoll = 20 * time.Millisecond
	st := p.accts.Store("alice")
	ctx := context.Background()
	p.first(t, "contacts")
	waiting := func(key string, extra ...*wbxml.Node) *wbxml.Node {
		coll := el("", "Collection", tx("", "SyncKey", key), tx("", "CollectionId", "contacts"))
		coll.Children = append(coll.Children, extra...)
		return el("AirSync", "Sync", el("", "Collections", coll), tx("", "Wait", "1"))
	}
	// A change comes while it waits.
	go func() {
		time.Sleep(60 * time.Millisecond)
		st.Put(ctx, pim.Contacts, &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Came Later\r\nN:Later;Came;;;\r\nEND:VCARD\r\n")})
	}()
	code, ans := p.post("Sync", "secret", waiting("2"))
	c := child(child(ans, "Collections"), "Collection")
	if code != 200 || text(child(child(c, "Commands"), "Add"), "ServerId") == "" {
		t.Fatalf("the waiting Sync: HTTP %d %s", code, wbxml.Format(ans))
	}
	// Nothing comes: the empty response, and key 3 still holds.
	if code, ans = p.post("Sync", "secret", waiting("3")); code != 200 || ans != nil {
		t.Errorf("a wait without changes: HTTP %d %s", code, wbxml.Format(ans))
	}
	// Another request of the device moves the folder on while it waits.
	done := make(chan *wbxml.Node, 1)
	go func() {
		_, ans := p.post("Sync", "secret", waiting("3"))
		done <- ans
	}()
	time.Sleep(100 * time.Millisecond) // it has looked once and waits
	c = p.sync(t, el("", "Collection", tx("", "SyncKey", "3"), tx("", "CollectionId", "contacts"), el("", "Commands",
		el("", "Add", tx("", "ClientId", "w1"), el("", "ApplicationData", tx("Contacts", "FileAs", "While Waiting"), tx("Contacts", "LastName", "Waiting"))))))
	if text(child(child(c, "Responses"), "Add"), "Status") != "1" {
		t.Fatalf("the request beside the waiting one: %s", wbxml.Format(c))
	}
	if ans := <-done; ans != nil {
		t.Errorf("the waiting Sync after another moved the folder on: %s", wbxml.Format(ans))
	}
	// Bounds.
	for _, tc := range []struct {
		extra       []*wbxml.Node
		code, limit string
	}{
		{[]*wbxml.Node{tx("", "Wait", "60")}, "14", "59"},
		{[]*wbxml.Node{tx("", "HeartbeatInterval", "30")}, "14", "60"},
		{[]*wbxml.Node{tx("", "Wait", "5"), tx("", "HeartbeatInterval", "300")}, "4", ""},
	} {
		req := el("AirSync", "Sync", el("", "Collections", el("", "Collection", tx("", "SyncKey", "4"), tx("", "CollectionId", "contacts"))))
		req.Children = append(req.Children, tc.extra...)
		if _, ans := p.post("Sync", "secret", req); text(ans, "Status") != tc.code || text(ans, "Limit") != tc.limit {
			t.Errorf("%s: %s", wbxml.Format(req), wbxml.Format(ans))
		}
	}
}
