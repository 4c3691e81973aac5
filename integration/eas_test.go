package integration

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"syncml-imap/imapstore"
	"syncml-imap/integration/syncevo"
	"syncml-imap/internal/wbxml"
)

// easClient is a scripted ActiveSync client, as TbSync talks: plain
// query, MS-ASProtocolVersion and X-MS-PolicyKey headers.
type easClient struct {
	t          *testing.T
	url        string
	user, pass string
	device     string
	key        string
}

func en(ns, name string, kids ...*wbxml.Node) *wbxml.Node {
	return &wbxml.Node{Name: name, NS: ns, Children: kids}
}

func et(ns, name, text string) *wbxml.Node { return &wbxml.Node{Name: name, NS: ns, Text: text} }

func ekid(n *wbxml.Node, path ...string) *wbxml.Node {
	for _, name := range path {
		if n == nil {
			return nil
		}
		var next *wbxml.Node
		for _, c := range n.Children {
			if c.Name == name {
				next = c
				break
			}
		}
		n = next
	}
	return n
}

func etext(n *wbxml.Node, path ...string) string {
	if c := ekid(n, path...); c != nil {
		return c.Text
	}
	return ""
}

func (c *easClient) post(cmd string, body *wbxml.Node) *wbxml.Node {
	c.t.Helper()
	data, err := wbxml.EncodeEAS(body)
	if err != nil {
		c.t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", c.url+"/Microsoft-Server-ActiveSync?Cmd="+cmd+"&User="+c.user+"&DeviceId="+c.device+"&DeviceType=TbSync", bytes.NewReader(data))
	req.SetBasicAuth(c.user, c.pass)
	req.Header.Set("MS-ASProtocolVersion", "16.1")
	req.Header.Set("Content-Type", "application/vnd.ms-sync.wbxml")
	if c.key != "" {
		req.Header.Set("X-MS-PolicyKey", c.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("%s: HTTP %d %s", cmd, resp.StatusCode, out)
	}
	root, err := wbxml.DecodeEAS(out)
	if err != nil {
		c.t.Fatalf("%s: %v", cmd, err)
	}
	return root
}

func (c *easClient) setUp() {
	c.t.Helper()
	a := c.post("Provision", en("Provision", "Provision", en("", "Policies", en("", "Policy", et("", "PolicyType", "MS-EAS-Provisioning-WBXML")))))
	temp := etext(a, "Policies", "Policy", "PolicyKey")
	a = c.post("Provision", en("Provision", "Provision", en("", "Policies", en("", "Policy",
		et("", "PolicyType", "MS-EAS-Provisioning-WBXML"), et("", "PolicyKey", temp), et("", "Status", "1")))))
	c.key = etext(a, "Policies", "Policy", "PolicyKey")
	if a = c.post("FolderSync", en("FolderHierarchy", "FolderSync", et("", "SyncKey", "0"))); etext(a, "Status") != "1" {
		c.t.Fatalf("FolderSync: %s", wbxml.Format(a))
	}
}

// sync sends one collection's Sync and returns the answer's collection.
func (c *easClient) sync(coll ...*wbxml.Node) *wbxml.Node {
	c.t.Helper()
	a := c.post("Sync", en("AirSync", "Sync", en("", "Collections", en("", "Collection", coll...))))
	out := ekid(a, "Collections", "Collection")
	if etext(out, "Status") != "1" {
		c.t.Fatalf("Sync: %s", wbxml.Format(a))
	}
	return out
}

// TestActiveSyncCrossSyncML: an ActiveSync client and the SyncEvolution
// phone on one account on Dovecot. The ActiveSync client gets what the
// phone brought, the phone gets the ActiveSync client's contact and its
// edit of the phone's, and a mail client's fields ActiveSync cannot carry
// survive its edit; nothing is doubled.
func TestActiveSyncCrossSyncML(t *testing.T) {
	e := newEnv(t)
	acct := e.account()
	// A contact with what ActiveSync has no field for.
	if err := acct.Put(t.Context(), imapstore.KindContacts, &imapstore.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Mail Client\r\nN:Client;Mail;;;\r\n" +
		"TEL;TYPE=WORK:1\r\nTEL;TYPE=WORK:2\r\nTEL;TYPE=WORK:3\r\nX-JABBER:mail@jabber.example\r\nEND:VCARD\r\n")}); err != nil {
		t.Fatal(err)
	}
	book := syncevo.Source{Name: "addressbook", URI: "contacts", Format: "text/vcard"}
	phone := e.device(t, "eas-cross-phone", book)
	phone.WriteItem(t, "addressbook", "p1.vcf", []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Phone Person\r\nN:Person;Phone;;;\r\nTEL;TYPE=CELL:+49 170 5\r\nEND:VCARD\r\n"))
	mustSync(t, phone, syncevo.Slow)

	c := &easClient{t: t, url: strings.TrimSuffix(e.url, "/syncml"), user: e.user, pass: e.pass, device: "EASCROSS1"}
	c.setUp()
	c.sync(et("", "SyncKey", "0"), et("", "CollectionId", "contacts"))
	got := c.sync(et("", "SyncKey", "1"), et("", "CollectionId", "contacts"))
	adds := ekid(got, "Commands")
	if adds == nil || len(adds.Children) != 2 {
		t.Fatalf("the ActiveSync client got %s", wbxml.Format(got))
	}
	var mailID string
	for _, a := range adds.Children {
		if etext(a, "ApplicationData", "FileAs") == "Mail Client" {
			mailID = etext(a, "ServerId")
		}
	}
	if mailID == "" {
		t.Fatalf("no Mail Client: %s", wbxml.Format(got))
	}
	// It adds one and edits the mail client's (its job title).
	got = c.sync(et("", "SyncKey", "2"), et("", "CollectionId", "contacts"), en("", "Commands",
		en("", "Add", et("", "ClientId", "n1"), en("", "ApplicationData", et("Contacts", "FileAs", "EAS Person"), et("Contacts", "FirstName", "EAS"),
			et("Contacts", "LastName", "Person"), et("Contacts", "Email1Address", "eas@example.org"))),
		en("", "Change", et("", "ServerId", mailID), en("", "ApplicationData", et("Contacts", "FileAs", "Mail Client"), et("Contacts", "FirstName", "Mail"),
			et("Contacts", "LastName", "Client"), et("Contacts", "BusinessPhoneNumber", "1"), et("Contacts", "Business2PhoneNumber", "2"), et("Contacts", "JobTitle", "Boss")))))
	if etext(got, "Responses", "Add", "Status") != "1" {
		t.Fatalf("add: %s", wbxml.Format(got))
	}
	box := e.mailbox(imapstore.KindContacts)
	if len(box) != 3 {
		t.Errorf("the mailbox holds %d contacts, want 3", len(box))
	}
	for _, d := range box {
		if s := string(d); strings.Contains(s, "FN:Mail Client") {
			for _, want := range []string{"TITLE:Boss", "TEL;TYPE=WORK:3", "X-JABBER:mail@jabber.example"} {
				if !strings.Contains(s, want) {
					t.Errorf("the mail client's contact lost %q through the ActiveSync edit:\n%s", want, s)
				}
			}
		}
	}
	// The phone gets both, once.
	mustSync(t, phone, syncevo.TwoWay)
	items := phone.Items(t, "addressbook")
	if len(items) != 3 {
		t.Errorf("the phone holds %d contacts, want 3", len(items))
	}
	var titles, eas int
	for _, d := range items {
		titles += strings.Count(string(d), "TITLE:Boss")
		eas += strings.Count(string(d), "FN:EAS Person")
	}
	if titles != 1 || eas != 1 {
		t.Errorf("the phone has the edit %d times and the new contact %d times", titles, eas)
	}
	// Quiet on both sides now.
	if got = c.sync(et("", "SyncKey", "3"), et("", "CollectionId", "contacts")); ekid(got, "Commands") != nil {
		t.Errorf("the ActiveSync client got its own writes back: %s", wbxml.Format(got))
	}
}

// TestActiveSyncCrossDAV: an ActiveSync client and vdirsyncer (CardDAV
// and CalDAV) on one account, through the daemon's binary. What either
// adds, changes or deletes reaches the other once, and an event's fields
// ActiveSync does not carry survive its edit.
func TestActiveSyncCrossDAV(t *testing.T) {
	de := newDAVEnv(t, false)
	v := newVdir(t, de, "contacts", "calendars")
	v.run(t, "discover")
	v.write(t, "contacts", "default", "x-d1.vcf", davCard("x-d1", "Dana DAV", "from vdirsyncer"))
	v.write(t, "contacts", "default", "x-d2.vcf", davCard("x-d2", "Dora DAV", "from vdirsyncer"))
	v.write(t, "calendars", "events", "x-de1.ics", davEvent("x-de1", "DAV meeting", "20270502T080000Z", "X-DAV-ONLY:kept"))
	v.sync(t)
	de.checkBox(t, "DAV add", imapstore.KindCalendar, 1, []string{"SUMMARY:DAV meeting"}, nil)

	c := &easClient{t: t, url: de.base, user: de.user, pass: de.pass, device: "EASDAV1"}
	c.setUp()
	ids := map[string]string{}
	for _, coll := range []string{"contacts", "calendar"} {
		c.sync(et("", "SyncKey", "0"), et("", "CollectionId", coll))
		got := c.sync(et("", "SyncKey", "1"), et("", "CollectionId", coll))
		adds := ekids(got, "Commands")
		if want := map[string]int{"contacts": 2, "calendar": 1}[coll]; len(adds) != want {
			t.Fatalf("%s: the ActiveSync client got %s", coll, wbxml.Format(got))
		}
		for _, a := range adds {
			if a.Name != "Add" {
				t.Fatalf("%s: %s", coll, wbxml.Format(a))
			}
			if etext(a, "ApplicationData", "FileAs") != "Dora DAV" {
				ids[coll] = etext(a, "ServerId")
			}
		}
	}
	// It deletes the DAV contact, moves the DAV event's subject and adds
	// an event of its own.
	c.sync(et("", "SyncKey", "2"), et("", "CollectionId", "contacts"), en("", "Commands", en("", "Delete", et("", "ServerId", ids["contacts"]))))
	got := c.sync(et("", "SyncKey", "2"), et("", "CollectionId", "calendar"), en("", "Commands",
		en("", "Change", et("", "ServerId", ids["calendar"]), en("", "ApplicationData", et("Calendar", "Subject", "DAV meeting (from EAS)"),
			et("Calendar", "StartTime", "20270502T080000Z"), et("Calendar", "EndTime", "20270502T090000Z"))),
		en("", "Add", et("", "ClientId", "e1"), en("", "ApplicationData", et("Calendar", "Subject", "EAS lunch"),
			et("Calendar", "StartTime", "20270503T110000Z"), et("Calendar", "EndTime", "20270503T120000Z")))))
	if etext(got, "Responses", "Add", "Status") != "1" {
		t.Fatalf("the ActiveSync event: %s", wbxml.Format(got))
	}
	de.checkBox(t, "EAS changes", imapstore.KindContacts, 1, []string{"FN:Dora DAV"}, []string{"FN:Dana DAV"})
	de.checkBox(t, "EAS changes", imapstore.KindCalendar, 2, []string{"SUMMARY:DAV meeting (from EAS)", "SUMMARY:EAS lunch", "X-DAV-ONLY:kept"}, nil)
	v.sync(t)
	v.checkFiles(t, "EAS changes", "contacts", "default", 1, []string{"FN:Dora DAV"}, []string{"FN:Dana DAV"})
	v.checkFiles(t, "EAS changes", "calendars", "events", 2, []string{"SUMMARY:DAV meeting (from EAS)", "SUMMARY:EAS lunch", "X-DAV-ONLY:kept"}, nil)

	// vdirsyncer edits the ActiveSync event: the client gets the change.
	name := v.fileWith(t, "calendars", "events", "SUMMARY:EAS lunch")
	v.write(t, "calendars", "events", name, replaceLine(v.files(t, "calendars", "events")[name], "SUMMARY:", "EAS lunch (moved by DAV)"))
	v.sync(t)
	got = c.sync(et("", "SyncKey", "3"), et("", "CollectionId", "calendar"))
	if ops := ekids(got, "Commands"); len(ops) != 1 || ops[0].Name != "Change" || etext(ops[0], "ApplicationData", "Subject") != "EAS lunch (moved by DAV)" {
		t.Errorf("the ActiveSync client after the DAV edit: %s", wbxml.Format(got))
	}
	// Quiet on both sides now.
	if got = c.sync(et("", "SyncKey", "4"), et("", "CollectionId", "calendar")); ekid(got, "Commands") != nil {
		t.Errorf("quiet ActiveSync sync: %s", wbxml.Format(got))
	}
	if tr := transfers(v.sync(t)); len(tr) != 0 {
		t.Errorf("quiet vdirsyncer sync transferred:\n%s", strings.Join(tr, "\n"))
	}
	de.checkBox(t, "at the end", imapstore.KindCalendar, 2, nil, nil)
}

// TestFaultEASDaemonKilled: the daemon (a real syncml-imap process) is
// killed with SIGKILL while it takes an ActiveSync client's Sync with 60
// new contacts: before it reads it, while it stores them, or after. A new
// daemon on the same port gets the same request again, as the client
// sends it when it had no answer; the mailbox then holds the 60 once, each
// of the client's items has its ServerId, and the next Sync is quiet.
func TestFaultEASDaemonKilled(t *testing.T) {
	t.Parallel()
	bin := buildDaemon(t, t.TempDir())
	for _, delay := range []time.Duration{0, 15 * time.Millisecond, 40 * time.Millisecond, 100 * time.Millisecond, 400 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			de := newDaemonEnv(t, bin)
			c := &easClient{t: t, url: "http://" + de.addr, user: de.user, pass: de.pass, device: "EASKILL1"}
			c.setUp()
			c.sync(et("", "SyncKey", "0"), et("", "CollectionId", "contacts"))
			c.sync(et("", "SyncKey", "1"), et("", "CollectionId", "contacts"))
			cmds := en("", "Commands")
			for i := range 60 {
				cmds.Children = append(cmds.Children, en("", "Add", et("", "ClientId", fmt.Sprintf("k%d", i)), en("", "ApplicationData",
					et("Contacts", "FileAs", fmt.Sprintf("Killed %02d", i)), et("Contacts", "LastName", fmt.Sprintf("Killed%02d", i)), et("Contacts", "FirstName", "Person"))))
			}
			req := en("AirSync", "Sync", en("", "Collections", en("", "Collection", et("", "SyncKey", "2"), et("", "CollectionId", "contacts"), cmds)))
			data, err := wbxml.EncodeEAS(req)
			if err != nil {
				t.Fatal(err)
			}
			send := func() (int, []byte, error) {
				hr, _ := http.NewRequest("POST", c.url+"/Microsoft-Server-ActiveSync?Cmd=Sync&User="+c.user+"&DeviceId="+c.device+"&DeviceType=TbSync", bytes.NewReader(data))
				hr.SetBasicAuth(c.user, c.pass)
				hr.Header.Set("MS-ASProtocolVersion", "16.1")
				hr.Header.Set("Content-Type", "application/vnd.ms-sync.wbxml")
				hr.Header.Set("X-MS-PolicyKey", c.key)
				resp, err := http.DefaultClient.Do(hr)
				if err != nil {
					return 0, nil, err
				}
				defer resp.Body.Close()
				out, err := io.ReadAll(resp.Body)
				return resp.StatusCode, out, err
			}
			done := make(chan error, 1)
			go func() {
				code, _, err := send()
				if err == nil && code != 200 {
					err = fmt.Errorf("HTTP %d", code)
				}
				done <- err
			}()
			time.Sleep(delay)
			de.d.kill(t)
			first := <-done
			stored := len(de.mailbox(imapstore.KindContacts))
			t.Logf("killed after %v: the first try ended with %v, %d contacts stored then", delay, first, stored)
			de.d = startDaemon(t, de.bin, de.conf, de.addr, de.log)
			code, out, err := send()
			if err != nil || code != 200 {
				t.Fatalf("sent again: HTTP %d %v %s", code, err, out)
			}
			ans, err := wbxml.DecodeEAS(out)
			if err != nil {
				t.Fatal(err)
			}
			coll := ekid(ans, "Collections", "Collection")
			ids := map[string]bool{}
			for _, a := range ekids(coll, "Responses") {
				if etext(a, "Status") != "1" || etext(a, "ServerId") == "" {
					t.Errorf("an add answered %s", wbxml.Format(a))
				}
				ids[etext(a, "ServerId")] = true
			}
			if etext(coll, "Status") != "1" || len(ids) != 60 {
				t.Fatalf("sent again: %d ServerIds: %s", len(ids), wbxml.Format(coll))
			}
			if n := len(de.mailbox(imapstore.KindContacts)); n != 60 {
				t.Errorf("the mailbox holds %d contacts, want 60", n)
			}
			if got := c.sync(et("", "SyncKey", etext(coll, "SyncKey")), et("", "CollectionId", "contacts")); ekid(got, "Commands") != nil {
				t.Errorf("after: %s", wbxml.Format(got))
			}
		})
	}
}
