package integration

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"syncml-imap/imapstore"
	"syncml-imap/internal/wbxml"
)

// TestReplayThunderbird plays what Thunderbird 140 with TbSync sent the
// daemon in a full cycle, at EAS 14.0 and 16.1
// (integration/testdata/eas/tbsync-140/daemon-*: set-up, the first sync
// of the three folders, a new contact, event, series and task, the
// contact changed, the event deleted, an occurrence of the series moved
// and one deleted) against the daemon on Dovecot, as the client would
// have sent it to this run: the policy keys, SyncKeys and ServerIds in
// its requests are replaced by the ones this run answered. Each answer is
// checked by MS-ASCMD's rules, the items sent must be what the
// recording's daemon sent, and the mailbox must end as the client left
// it, nothing doubled or lost.
func TestReplayThunderbird(t *testing.T) {
	for _, version := range []string{"14.0", "16.1"} {
		t.Run(version, func(t *testing.T) { replayThunderbird(t, version) })
	}
}

func replayThunderbird(t *testing.T, version string) {
	e := newEnv(t)
	seedTB(t, e.account())
	r := &replay{t: t, url: strings.TrimSuffix(e.url, "/syncml"), user: e.user, pass: e.pass,
		keys: map[string]string{}, ids: map[string]string{}}
	dir := filepath.Join("testdata", "eas", "tbsync-140", "daemon-"+version)
	heads, _ := filepath.Glob(filepath.Join(dir, "*.headers.txt"))
	slices.Sort(heads)
	if len(heads) < 40 {
		t.Fatalf("%d recorded requests in %s", len(heads), dir)
	}
	for _, h := range heads {
		r.play(strings.TrimSuffix(h, ".headers.txt"))
	}
	count := func(kind imapstore.Kind, text string) (n int, last string) {
		for _, d := range e.mailbox(kind) {
			if strings.Contains(string(d), text) {
				n, last = n+1, string(d)
			}
		}
		return n, last
	}
	if n, d := count(imapstore.KindContacts, "FN:Erika Mustermann"); n != 1 || !strings.Contains(d, "TITLE:Engineer") || !strings.Contains(d, "erika@example.org") {
		t.Errorf("the client's contact: %d in the mailbox\n%s", n, d)
	}
	if n, d := count(imapstore.KindContacts, "FN:Max Server"); n != 1 || !strings.Contains(d, "X-JABBER:max@jabber.example") {
		t.Errorf("the mailbox's contact: %d\n%s", n, d)
	}
	if n, _ := count(imapstore.KindCalendar, "SUMMARY:Test event"); n != 0 {
		t.Errorf("the event the client deleted: %d in the mailbox", n)
	}
	if n, _ := count(imapstore.KindCalendar, "SUMMARY:Server event"); n != 1 {
		t.Errorf("the mailbox's event: %d", n)
	}
	if n, d := count(imapstore.KindCalendar, "UID:srv-series@test"); n != 1 || !strings.Contains(d, "X-OCCURRENCE-KEEP:yes") || !strings.Contains(d, "EXDATE:20270118T090000Z") {
		t.Errorf("the mailbox's series: %d\n%s", n, d)
	}
	// At 16.1 TbSync sends the series' exceptions neither way MS-ASCAL
	// has (see TestThunderbird): the series alone arrives.
	if n, d := count(imapstore.KindCalendar, "SUMMARY:TB series"); n != 1 || version == "14.0" && !tbSeriesEdited(d) {
		t.Errorf("the client's series: %d in the mailbox\n%s", n, d)
	}
	if n, _ := count(imapstore.KindTasks, "SUMMARY:Test task"); n != 1 {
		t.Errorf("the client's task: %d in the mailbox", n)
	}
	if n := len(e.mailbox(imapstore.KindContacts)) + len(e.mailbox(imapstore.KindCalendar)) + len(e.mailbox(imapstore.KindTasks)); n != 7 {
		t.Errorf("the mailbox holds %d items, want 7", n)
	}
	if r.played["Sync"] < 15 || r.played["Provision"] != 2 || r.played["FolderSync"] < 2 {
		t.Errorf("played %v", r.played)
	}
}

// replay sends recorded requests, rewritten with what this run answered.
type replay struct {
	t          *testing.T
	url        string
	user, pass string
	// keys: the recording's policy keys and SyncKeys (by collection:
	// "contacts/5", "folders/2", "policy/123") → this run's; ids: the
	// recording's ServerIds → this run's.
	keys, ids map[string]string
	played    map[string]int
}

func (r *replay) play(base string) {
	t := r.t
	t.Helper()
	head, err := os.ReadFile(base + ".headers.txt")
	if err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewScanner(bytes.NewReader(head))
	rd.Scan()
	line := strings.Fields(rd.Text())
	method, uri := line[0], line[1]
	hdr := http.Header{}
	for rd.Scan() {
		if k, v, ok := strings.Cut(rd.Text(), ": "); ok {
			switch k {
			case "Host", "Content-Length", "Connection", "Authorization", "Accept-Encoding":
			default:
				hdr.Add(k, v)
			}
		}
	}
	name := filepath.Base(base)
	cmd := name[strings.LastIndex(name, "-")+1:]
	if cmd == "Ping" {
		return // it waits for changes the replay does not make
	}
	var req, want *wbxml.Node
	if data, err := os.ReadFile(base + ".wbxml"); err == nil {
		if req, err = wbxml.DecodeEAS(data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if data, err := os.ReadFile(base + ".response.wbxml"); err == nil {
		if want, err = wbxml.DecodeEAS(data); err != nil {
			t.Fatalf("%s: recorded answer: %v", name, err)
		}
	}
	if k := hdr.Get("X-MS-PolicyKey"); k != "" && k != "0" {
		hdr.Set("X-MS-PolicyKey", r.mapped("policy/"+k))
	}
	r.rewrite(cmd, req)
	var body []byte
	if req != nil {
		if body, err = wbxml.EncodeEAS(req); err != nil {
			t.Fatal(err)
		}
	}
	hr, _ := http.NewRequest(method, r.url+uri, bytes.NewReader(body))
	hr.Header = hdr
	hr.SetBasicAuth(r.user, r.pass)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: HTTP %d %s", name, resp.StatusCode, out)
	}
	if r.played == nil {
		r.played = map[string]int{}
	}
	r.played[cmd]++
	if method == "OPTIONS" {
		if v := resp.Header.Get("MS-ASProtocolVersions"); !strings.Contains(v, "16.1") {
			t.Errorf("%s: MS-ASProtocolVersions %q", name, v)
		}
		return
	}
	got, err := wbxml.DecodeEAS(out)
	if err != nil {
		t.Fatalf("%s: the answer: %v", name, err)
	}
	r.check(name, cmd, req, got, want)
}

// mapped is this run's value for a recorded key or ID.
func (r *replay) mapped(k string) string {
	if v, ok := r.keys[k]; ok {
		return v
	}
	r.t.Fatalf("the recording uses %s, which this run never answered", k)
	return ""
}

// rewrite puts this run's keys and IDs into a recorded request.
func (r *replay) rewrite(cmd string, req *wbxml.Node) {
	if req == nil {
		return
	}
	switch cmd {
	case "Provision":
		if k := ekid(req, "Policies", "Policy", "PolicyKey"); k != nil {
			k.Text = r.mapped("policy/" + k.Text)
		}
	case "FolderSync":
		if k := ekid(req, "SyncKey"); k != nil && k.Text != "0" {
			k.Text = r.mapped("folders/" + k.Text)
		}
	case "Sync", "GetItemEstimate":
		for _, c := range ekids(req, "Collections") {
			coll := etext(c, "CollectionId")
			if k := ekid(c, "SyncKey"); k != nil && k.Text != "0" {
				k.Text = r.mapped(coll + "/" + k.Text)
			}
			for _, op := range ekids(c, "Commands") {
				if id := ekid(op, "ServerId"); id != nil {
					if v, ok := r.ids[id.Text]; ok {
						id.Text = v
					} else {
						r.t.Fatalf("%s of %s: ServerId %s was never given in this run", op.Name, coll, id.Text)
					}
				}
			}
		}
	}
}

// check holds an answer to MS-ASCMD and to the recording's answer, and
// learns this run's keys and IDs from it.
func (r *replay) check(name, cmd string, req, got, want *wbxml.Node) {
	t := r.t
	if st := etext(got, "Status"); st != "" && st != "1" {
		t.Fatalf("%s: status %s: %s", name, st, wbxml.Format(got))
	}
	switch cmd {
	case "Provision":
		k, wk := etext(got, "Policies", "Policy", "PolicyKey"), etext(want, "Policies", "Policy", "PolicyKey")
		if k == "" || etext(got, "Policies", "Policy", "Status") != "1" {
			t.Fatalf("%s: %s", name, wbxml.Format(got))
		}
		r.keys["policy/"+wk] = k
	case "FolderSync":
		k := etext(got, "SyncKey")
		if k == "" || k == etext(req, "SyncKey") && etext(got, "Changes", "Count") != "0" {
			t.Errorf("%s: FolderSync's key %q after %q", name, k, etext(req, "SyncKey"))
		}
		r.keys["folders/"+etext(want, "SyncKey")] = k
		if a, b := etext(got, "Changes", "Count"), etext(want, "Changes", "Count"); a != b {
			t.Errorf("%s: %s folder changes, the recording %s", name, a, b)
		}
	case "GetItemEstimate":
		for i, resp := range got.Children {
			if etext(resp, "Status") != "1" {
				t.Errorf("%s: %s", name, wbxml.Format(resp))
			}
			if i < len(want.Children) {
				if a, b := etext(resp, "Collection", "Estimate"), etext(want.Children[i], "Collection", "Estimate"); a != b {
					t.Errorf("%s: estimate %s, the recording's %s", name, a, b)
				}
			}
		}
	case "Sync":
		wants := ekids(want, "Collections")
		for i, c := range ekids(got, "Collections") {
			coll := etext(c, "CollectionId")
			if etext(c, "Status") != "1" {
				t.Fatalf("%s: %s: %s", name, coll, wbxml.Format(c))
			}
			if i >= len(wants) || etext(wants[i], "CollectionId") != coll {
				t.Fatalf("%s: collection %s, not in the recording", name, coll)
			}
			w := wants[i]
			k := etext(c, "SyncKey")
			if k == "" || k == etext(ekids(req, "Collections")[i], "SyncKey") {
				t.Errorf("%s: %s: SyncKey %q not new", name, coll, k)
			}
			r.keys[coll+"/"+etext(w, "SyncKey")] = k
			// The items sent: the recording's, with this run's IDs. The
			// store lists new items in no fixed order, so an Add is
			// paired by what it carries, a Change or Delete by its ID.
			ops, wops := ekid(c, "Commands"), ekid(w, "Commands")
			if ops == nil || wops == nil {
				if ops != wops {
					t.Errorf("%s: %s: commands\n%s\nthe recording's\n%s", name, coll, wbxml.Format(c), wbxml.Format(w))
				}
			} else if len(ops.Children) != len(wops.Children) {
				t.Errorf("%s: %s: %d commands, the recording's %d", name, coll, len(ops.Children), len(wops.Children))
			} else {
				used := make([]bool, len(wops.Children))
				for _, op := range ops.Children {
					id, data := etext(op, "ServerId"), wbxml.Format(ekid(op, "ApplicationData"))
					j := -1
					for k, wop := range wops.Children {
						switch {
						case used[k] || wop.Name != op.Name:
						case op.Name == "Add" && wbxml.Format(ekid(wop, "ApplicationData")) == data,
							op.Name != "Add" && r.ids[etext(wop, "ServerId")] == id:
							j = k
						}
						if j >= 0 {
							break
						}
					}
					if j < 0 {
						t.Errorf("%s: %s: sent, and not in the recording's answer:\n%s\nthe recording's\n%s", name, coll, wbxml.Format(op), wbxml.Format(wops))
						continue
					}
					used[j] = true
					wop := wops.Children[j]
					if op.Name == "Add" {
						if _, dup := r.ids[etext(wop, "ServerId")]; dup || id == "" {
							t.Errorf("%s: %s: Add of ServerId %q again", name, coll, id)
						}
						r.ids[etext(wop, "ServerId")] = id
					} else if wbxml.Format(ekid(wop, "ApplicationData")) != data {
						t.Errorf("%s: %s: sent\n%s\nthe recording's daemon sent\n%s", name, coll, wbxml.Format(op), wbxml.Format(wop))
					}
				}
			}
			// The answers to the client's own: every Add stored, under a
			// new ServerId.
			for _, a := range ekids(c, "Responses") {
				if etext(a, "Status") != "1" {
					t.Errorf("%s: %s: %s", name, coll, wbxml.Format(a))
				}
				if a.Name != "Add" {
					continue
				}
				id := etext(a, "ServerId")
				for _, wa := range ekids(w, "Responses") {
					if etext(wa, "ClientId") == etext(a, "ClientId") {
						if _, dup := r.ids[etext(wa, "ServerId")]; dup || id == "" {
							t.Errorf("%s: %s: the client's %s stored as %q", name, coll, etext(a, "ClientId"), id)
						}
						r.ids[etext(wa, "ServerId")] = id
					}
				}
			}
			if (ekid(c, "MoreAvailable") == nil) != (ekid(w, "MoreAvailable") == nil) {
				t.Errorf("%s: %s: MoreAvailable differs from the recording", name, coll)
			}
		}
	}
}

// ekids are the children of the node at path (none when it is missing).
func ekids(n *wbxml.Node, path ...string) []*wbxml.Node {
	if c := ekid(n, path...); c != nil {
		return c.Children
	}
	return nil
}
