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
	p.sync(t, el("", "Collection", tx("", "SyncKey", "0"), tx("", "CollectionId", "contacts")))
	p.sync(t, el("", "Collection", tx("", "SyncKey", "1"), tx("", "CollectionId", "contacts")))
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
	p.sync(t, el("", "Collection", tx("", "SyncKey", "0"), tx("", "CollectionId", "contacts")))
	c := p.sync(t, el("", "Collection", tx("", "SyncKey", "1"), tx("", "CollectionId", "contacts")))
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
			if strings.HasSuffix(name, "/eas/contacts") {
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
