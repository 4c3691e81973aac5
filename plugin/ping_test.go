package plugin

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"syncml-imap/config"
	"syncml-imap/internal/dovetest"
	"syncml-imap/internal/wbxml"
)

// easPhone talks ActiveSync to the daemon's front, as TbSync does.
type easPhone struct {
	t          *testing.T
	url        string
	user, pass string
	key        string
}

func wn(ns, name string, kids ...*wbxml.Node) *wbxml.Node {
	return &wbxml.Node{Name: name, NS: ns, Children: kids}
}

func wt(name, text string) *wbxml.Node { return &wbxml.Node{Name: name, Text: text} }

// wtext is the text of the element at path below n, "" if there is none.
func wtext(n *wbxml.Node, path ...string) string {
	for _, name := range path {
		var next *wbxml.Node
		for _, c := range n.Children {
			if c.Name == name {
				next = c
				break
			}
		}
		if next == nil {
			return ""
		}
		n = next
	}
	return n.Text
}

func (p *easPhone) post(cmd string, body *wbxml.Node) *wbxml.Node {
	p.t.Helper()
	data, err := wbxml.EncodeEAS(body)
	if err != nil {
		p.t.Error(err)
		return nil
	}
	// The test's context ends a Ping still waiting when the test ends.
	req, _ := http.NewRequestWithContext(p.t.Context(), "POST", p.url+"/Microsoft-Server-ActiveSync?Cmd="+cmd+"&User="+p.user+"&DeviceId=PING1&DeviceType=TbSync", bytes.NewReader(data))
	req.SetBasicAuth(p.user, p.pass)
	req.Header.Set("MS-ASProtocolVersion", "16.1")
	req.Header.Set("Content-Type", "application/vnd.ms-sync.wbxml")
	if p.key != "" {
		req.Header.Set("X-MS-PolicyKey", p.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if p.t.Context().Err() == nil {
			p.t.Error(err)
		}
		return nil
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		p.t.Errorf("%s: HTTP %d %s", cmd, resp.StatusCode, out)
		return nil
	}
	root, err := wbxml.DecodeEAS(out)
	if err != nil {
		p.t.Errorf("%s: %v", cmd, err)
	}
	return root
}

// TestPingWokenByMailClient: a device's Ping on the Dovecot store answers
// 2 with its folder when a mail client adds a contact while the Ping
// waits. Nothing polls within the test (ping_poll an hour, the heartbeat
// the longest), so only the IDLE wake can answer it; while it waits the
// Ping holds no IMAP connection of its own, only the IDLE one.
func TestPingWokenByMailClient(t *testing.T) {
	dove := dovetest.Start(t, nil)
	const user, pass = "pinger@example.org", "ping-pw"
	dove.AddUser(t, user, pass)
	cfg := config.Default()
	cfg.IMAP.Address = dove.Addr
	cfg.EAS.PingPoll.Duration = time.Hour
	h, err := NewHandler(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	ts := httptest.NewServer(h.EASHandler())
	t.Cleanup(ts.Close)

	p := &easPhone{t: t, url: ts.URL, user: user, pass: pass}
	a := p.post("Provision", wn("Provision", "Provision", wn("", "Policies", wn("", "Policy", wt("PolicyType", "MS-EAS-Provisioning-WBXML")))))
	temp := wtext(a, "Policies", "Policy", "PolicyKey")
	a = p.post("Provision", wn("Provision", "Provision", wn("", "Policies", wn("", "Policy",
		wt("PolicyType", "MS-EAS-Provisioning-WBXML"), wt("PolicyKey", temp), wt("Status", "1")))))
	p.key = wtext(a, "Policies", "Policy", "PolicyKey")
	p.post("FolderSync", wn("FolderHierarchy", "FolderSync", wt("SyncKey", "0")))
	for _, key := range []string{"0", "1"} {
		a = p.post("Sync", wn("AirSync", "Sync", wn("", "Collections", wn("", "Collection", wt("SyncKey", key), wt("CollectionId", "contacts")))))
		if wtext(a, "Collections", "Collection", "Status") != "1" {
			t.Fatalf("Sync %s: %s", key, wbxml.Format(a))
		}
	}

	answer := make(chan *wbxml.Node, 1)
	go func() {
		answer <- p.post("Ping", wn("Ping", "Ping", wt("HeartbeatInterval", "1800"),
			wn("", "Folders", wn("", "Folder", wt("Id", "contacts"), wt("Class", "Contacts")))))
	}()
	// The Ping waits once its IDLE connection is open and its own
	// connection is back in the pool (the Syncs before left theirs there,
	// which the Ping took). A minute bounds the test, it measures nothing.
	bound := time.After(time.Minute)
	for h.watch.IdleConns(user) != 1 || h.pool.Len() != 1 {
		select {
		case a := <-answer:
			t.Fatalf("the Ping answered before any change: %v", a)
		case <-bound:
			t.Fatalf("the Ping does not wait detached: %d IDLE connections, %d kept", h.watch.IdleConns(user), h.pool.Len())
		case <-time.After(10 * time.Millisecond):
		}
	}

	mail, err := imapclient.DialInsecure(dove.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mail.Close()
	if err := mail.Login(user, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	msg := []byte("From: <x@example.org>\r\nSubject: New\r\nContent-Type: text/vcard\r\n\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:From Mail\r\nN:Mail;From;;;\r\nEND:VCARD\r\n")
	cmd := mail.Append(cfg.Folders.Contacts, int64(len(msg)), nil)
	cmd.Write(msg)
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case a = <-answer:
	case <-bound:
		t.Fatal("the Ping was not woken by the mail client's contact")
	}
	if a == nil || wtext(a, "Status") != "2" || wtext(a, "Folders", "Folder") != "contacts" {
		t.Fatalf("Ping after the mail client's contact: %v", a)
	}
}
