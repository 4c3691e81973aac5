package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"syncml-imap/imapstore"
	"syncml-imap/syncml"
)

// runningDemo is `syncml-imap demo` started by a test, with what its
// banner says.
type runningDemo struct {
	url, user, password, imap string
	banner                    string
	stderr                    *syncBuffer
	stop                      func() int // cancels the demo's context, returns its exit code
}

var bannerField = regexp.MustCompile(`(?m)^  (SyncML URL|user|password|IMAP server): +(\S+)`)

// startDemo runs the command as `syncml-imap demo ARGS` does, with a
// context standing for SIGINT, and reads the banner.
func startDemo(t *testing.T, args ...string) *runningDemo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- cmdDemo(ctx, args, stdout, stderr) }()
	stopped := false
	code := 0
	d := &runningDemo{stderr: stderr, stop: func() int {
		if !stopped {
			stopped = true
			cancel()
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("demo did not stop")
			}
		}
		return code
	}}
	t.Cleanup(func() { d.stop() })

	// The banner is printed once both servers listen.
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stdout.String(), "Ctrl-C"); {
		select {
		case code := <-done:
			t.Fatalf("demo exited %d before serving:\n%s\n%s", code, stdout, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner:\n%s\n%s", stdout, stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.banner = stdout.String()
	for _, m := range bannerField.FindAllStringSubmatch(d.banner, -1) {
		switch m[1] {
		case "SyncML URL":
			d.url = m[2]
		case "user":
			d.user = m[2]
		case "password":
			d.password = m[2]
		case "IMAP server":
			d.imap = strings.TrimSuffix(m[2], ",")
		}
	}
	if d.url == "" || d.user == "" || d.password == "" || d.imap == "" {
		t.Fatalf("banner lacks URL, user, password or IMAP address:\n%s", d.banner)
	}
	return d
}

// device is a scripted SyncML client speaking XML as a phone does: it
// numbers its messages, follows RespURI and answers the server's commands.
type device struct {
	t       *testing.T
	url     string
	id      string
	session string
	msgID   int
	cred    string // basic credentials, sent until the server accepted them
}

func (d *device) send(body string) *syncml.Message {
	d.t.Helper()
	code, reply := d.post(body)
	if code != http.StatusOK {
		d.t.Fatalf("HTTP %d: %s", code, reply)
	}
	root, err := syncml.DecodeXML(strings.NewReader(reply))
	if err != nil {
		d.t.Fatalf("reply: %v\n%s", err, reply)
	}
	m, err := syncml.ParseMessage(root)
	if err != nil {
		d.t.Fatalf("reply: %v\n%s", err, reply)
	}
	if m.Hdr.RespURI != "" {
		d.url = m.Hdr.RespURI
	}
	return m
}

func (d *device) post(body string) (int, string) {
	d.t.Helper()
	d.msgID++
	cred := ""
	if d.cred != "" {
		cred = `<Cred><Meta><Format xmlns="syncml:metinf">b64</Format><Type xmlns="syncml:metinf">syncml:auth-basic</Type></Meta>` +
			`<Data>` + base64.StdEncoding.EncodeToString([]byte(d.cred)) + `</Data></Cred>`
	}
	msg := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>SyncML/1.2</VerProto>` +
		`<SessionID>` + d.session + `</SessionID><MsgID>` + fmt.Sprint(d.msgID) + `</MsgID>` +
		`<Target><LocURI>` + d.url + `</LocURI></Target><Source><LocURI>` + d.id + `</LocURI></Source>` + cred +
		`<Meta><MaxMsgSize xmlns="syncml:metinf">20000</MaxMsgSize></Meta></SyncHdr>` +
		`<SyncBody>` + body + `<Final/></SyncBody></SyncML>`
	resp, err := http.Post(d.url, "application/vnd.syncml+xml", strings.NewReader(msg))
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// slowSyncAlert is package 1's Alert: slow sync (201) of the server's
// "contacts" with the device's address book.
func slowSyncAlert(next string) string {
	return `<Alert><CmdID>1</CmdID><Data>201</Data><Item><Target><LocURI>contacts</LocURI></Target>` +
		`<Source><LocURI>./addressbook</LocURI></Source><Meta><Anchor xmlns="syncml:metinf"><Next>` + next +
		`</Next></Anchor></Meta></Item></Alert>`
}

func statuses(m *syncml.Message, cmd string) string {
	var codes []string
	for _, c := range m.Body {
		if st, ok := c.(*syncml.Status); ok && st.Cmd == cmd {
			codes = append(codes, st.Data)
		}
	}
	return strings.Join(codes, " ")
}

func first[T syncml.Command](m *syncml.Message) T {
	for _, c := range m.Body {
		if x, ok := c.(T); ok {
			return x
		}
	}
	var zero T
	return zero
}

// TestDemo: the demo as a newcomer meets it: start it, read the banner,
// point a device at the URL with the printed user and password, add a
// contact, and find it in the embedded IMAP server and on a second device.
func TestDemo(t *testing.T) {
	d := startDemo(t, "-listen", "127.0.0.1:0", "-imap-listen", "127.0.0.1:0")
	if !strings.HasPrefix(d.url, "http://127.0.0.1:") || !strings.HasSuffix(d.url, "/syncml") || d.user != "demo" {
		t.Errorf("URL %q, user %q", d.url, d.user)
	}
	if !regexp.MustCompile(`^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$`).MatchString(d.password) {
		t.Errorf("random password %q", d.password)
	}
	mustContain(t, "banner", d.banner,
		"contacts (vCard), calendar (iCalendar events), tasks (iCalendar to-dos)",
		"preventSlowSync=0", "syncURL="+d.url+" username=demo password="+d.password,
		"addressbook/uri=contacts", "calendar/uri=calendar", "todo/uri=tasks",
		"in memory only", "lost\nwhen this process stops",
		"works from this machine only")

	// Package 1: credentials and a slow-sync alert; the server accepts
	// both (212, 200) and alerts slow sync back.
	dev := &device{t: t, url: d.url, id: "IMEI:490154203237518", session: "1", cred: d.user + ":" + d.password}
	r := dev.send(slowSyncAlert("1"))
	if got := statuses(r, "SyncHdr") + " / " + statuses(r, "Alert"); got != "212 / 200" {
		t.Fatalf("package 2 statuses %s", got)
	}
	if a := first[*syncml.Alert](r); a == nil || a.Data != "201" {
		t.Fatalf("server alert %+v", a)
	}
	if dev.url == d.url || !strings.HasPrefix(dev.url, d.url+"?") {
		t.Fatalf("RespURI %q", dev.url)
	}
	// Package 3: the device's one contact.
	dev.cred = ""
	vcard := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\nTEL;TYPE=CELL:+44 20 7946 0000\r\nEND:VCARD\r\n"
	r = dev.send(`<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>` +
		`<Status><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>` + first[*syncml.Alert](r).CmdID + `</CmdRef><Cmd>Alert</Cmd><Data>200</Data></Status>` +
		`<Sync><CmdID>3</CmdID><Target><LocURI>contacts</LocURI></Target><Source><LocURI>./addressbook</LocURI></Source>` +
		`<NumberOfChanges>1</NumberOfChanges><Add><CmdID>4</CmdID><Meta><Type xmlns="syncml:metinf">text/vcard</Type></Meta>` +
		`<Item><Source><LocURI>1</LocURI></Source><Data><![CDATA[` + vcard + `]]></Data></Item></Add></Sync>`)
	if got := statuses(r, "Sync") + " / " + statuses(r, "Add"); got != "200 / 201" {
		t.Fatalf("package 4 statuses %s", got)
	}
	sync4 := first[*syncml.Sync](r)
	if sync4 == nil || len(sync4.Commands) != 0 || !r.Final {
		t.Fatalf("server sync %+v, final %v", sync4, r.Final)
	}
	// Package 5 closes the session.
	r = dev.send(`<Status><CmdID>1</CmdID><MsgRef>2</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>` +
		`<Status><CmdID>2</CmdID><MsgRef>2</MsgRef><CmdRef>` + sync4.CmdID + `</CmdRef><Cmd>Sync</Cmd><Data>200</Data></Status>`)
	if !r.Final || statuses(r, "SyncHdr") != "200" {
		t.Fatalf("package 6: final %v, statuses %s", r.Final, statuses(r, "SyncHdr"))
	}

	// The contact is a message in the Contacts folder of the embedded
	// IMAP server.
	ctx := context.Background()
	acct, err := imapstore.Dial(ctx, &imapstore.Options{Address: d.imap}, d.user, d.password)
	if err != nil {
		t.Fatal(err)
	}
	defer acct.Close()
	ch, err := acct.Changes(ctx, imapstore.KindContacts, nil)
	if err != nil || len(ch.Added) != 1 {
		t.Fatalf("Contacts folder: %+v %v", ch, err)
	}
	items, err := acct.Get(ctx, imapstore.KindContacts, ch.Added...)
	if err != nil || items[0] == nil || !strings.Contains(string(items[0].Data), "FN:Ada Lovelace") {
		t.Fatalf("stored item: %+v %v", items, err)
	}

	// A second device's slow sync receives it.
	dev2 := &device{t: t, url: d.url, id: "IMEI:490154203237519", session: "1", cred: d.user + ":" + d.password}
	r = dev2.send(slowSyncAlert("1"))
	if statuses(r, "SyncHdr") != "212" {
		t.Fatalf("second device: %s", statuses(r, "SyncHdr"))
	}
	dev2.cred = ""
	r = dev2.send(`<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status>` +
		`<Status><CmdID>2</CmdID><MsgRef>1</MsgRef><CmdRef>` + first[*syncml.Alert](r).CmdID + `</CmdRef><Cmd>Alert</Cmd><Data>200</Data></Status>` +
		`<Sync><CmdID>3</CmdID><Target><LocURI>contacts</LocURI></Target><Source><LocURI>./addressbook</LocURI></Source></Sync>`)
	sync4 = first[*syncml.Sync](r)
	if sync4 == nil || len(sync4.Commands) != 1 {
		t.Fatalf("second device gets %+v", sync4)
	}
	add, ok := sync4.Commands[0].(*syncml.Change)
	if !ok || add.Op != "Add" || len(add.Items) != 1 || add.Items[0].Data == nil || !strings.Contains(add.Items[0].Data.Text, "FN:Ada Lovelace") {
		t.Fatalf("second device gets %+v", sync4.Commands[0])
	}

	if strings.Contains(d.stderr.String(), d.password) {
		t.Error("the log shows the password")
	}
	if code := d.stop(); code != 0 {
		t.Errorf("demo exited %d\n%s", code, d.stderr)
	}
	// Stopped means gone: neither server answers.
	if _, err := http.Get(d.url); err == nil {
		t.Error("SyncML endpoint still answering after stop")
	}
	if c, err := net.Dial("tcp", d.imap); err == nil {
		c.Close()
		t.Error("IMAP server still accepting after stop")
	}
}

// TestDemoWrongPassword: a wrong password or user is refused with SyncML
// status 401 and nothing else is done.
func TestDemoWrongPassword(t *testing.T) {
	d := startDemo(t, "-listen", "127.0.0.1:0", "-user", "alice", "-password", "right-pw")
	if d.user != "alice" || d.password != "right-pw" {
		t.Fatalf("banner user %q password %q", d.user, d.password)
	}
	for _, cred := range []string{"alice:wrong-pw", "bob:right-pw"} {
		dev := &device{t: t, url: d.url, id: "IMEI:1", session: "1", cred: cred}
		r := dev.send(slowSyncAlert("1"))
		if got := statuses(r, "SyncHdr"); got != "401" || statuses(r, "Alert") != "" || first[*syncml.Alert](r) != nil {
			t.Errorf("%s: SyncHdr %q, alert statuses %q", cred, got, statuses(r, "Alert"))
		}
	}
	// The right one passes.
	dev := &device{t: t, url: d.url, id: "IMEI:1", session: "2", cred: "alice:right-pw"}
	if r := dev.send(slowSyncAlert("1")); statuses(r, "SyncHdr") != "212" {
		t.Errorf("right password: %s", statuses(r, "SyncHdr"))
	}
}

func TestDemoUsage(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tt := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"-nope"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-user", "a:b"}, 2, "without spaces or colons"},
		{[]string{"-listen", "nonsense"}, 2, "http.listen"},
		{[]string{"-listen", busy.Addr().String()}, 1, "choose another address with -listen"},
		{[]string{"-imap-listen", busy.Addr().String()}, 1, "demoimap: listen"},
	} {
		var out, errb bytes.Buffer
		code := cmdDemo(context.Background(), tt.args, &out, &errb)
		if code != tt.code || !strings.Contains(errb.String(), tt.says) {
			t.Errorf("demo %q: exit %d, %q; want %d and %q", tt.args, code, errb.String(), tt.code, tt.says)
		}
	}
	if code, out, _ := runCmd("help"); code != 0 || !strings.Contains(out, "syncml-imap demo") {
		t.Errorf("usage does not name demo: %d\n%s", code, out)
	}
	if code, _, errs := runCmd("demo", "-user", ""); code != 2 || !strings.Contains(errs, "-user") {
		t.Errorf("run demo with an empty user: %d %q", code, errs)
	}
}

func TestSyncURLs(t *testing.T) {
	if got := syncURLs(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "/syncml"); fmt.Sprint(got) != "[http://127.0.0.1:8080/syncml]" {
		t.Errorf("loopback: %v", got)
	}
	got := syncURLs(&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "/s")
	if got[len(got)-1] != "http://127.0.0.1:8080/s" {
		t.Errorf("wildcard: %v, want the loopback URL last", got)
	}
	for _, u := range got {
		if strings.Contains(u, "0.0.0.0") || strings.Contains(u, "[") {
			t.Errorf("wildcard: %v holds an unusable or IPv6 address", got)
		}
	}
}

func TestRandomPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		p := randomPassword()
		if len(p) != 14 || strings.ContainsAny(p, "01ilo") || seen[p] {
			t.Fatalf("password %q (seen before: %v)", p, seen[p])
		}
		seen[p] = true
	}
}
