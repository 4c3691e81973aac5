package syncml

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"testing"
)

// simDevice is a scripted SyncML phone for engine tests: it holds items
// under its own IDs (LUIDs), runs whole sessions (alerts, its changes,
// the server's package 4 pulled with 222, the Map) and checks what the
// server sends it as a real phone would: a Replace or Delete must name an
// item it has.
type simDevice struct {
	t        *testing.T
	srv      *Server
	id       string // device ID
	cred     string // basic credentials, base64
	items    map[string]string
	nextLUID int
	last     string // the anchor of its last completed session
	// serverLast is the server's Next anchor of the last completed
	// session. As Synthesis clients do, the device syncs normally only when
	// the server's Last equals it, else it answers 508 and goes slow.
	serverLast string
	sessions   int
	// changes made since the last sync, by LUID: "Add", "Replace", "Delete".
	dirty map[string]ChangeOp
	// replaceOnSlow: in a slow sync the device sends its items as Replace
	// (Synthesis clients do), else as Add.
	replaceOnSlow bool
	maxMsgSize    int64
}

func newSimDevice(t *testing.T, srv *Server, id string) *simDevice {
	return &simDevice{t: t, srv: srv, id: id, cred: "YWxpY2U6cHc=", items: map[string]string{}, dirty: map[string]ChangeOp{}}
}

// add makes a new item on the device and returns its LUID; IDs are
// numbered 1, 2, 3... as real phones do.
func (d *simDevice) add(data string) string {
	d.nextLUID++
	luid := strconv.Itoa(d.nextLUID)
	d.items[luid] = data
	d.dirty[luid] = OpAdd
	return luid
}

// reset wipes the device as a factory reset does: no items, no anchors,
// IDs start at 1 again; the device ID stays.
func (d *simDevice) reset() {
	d.items, d.dirty, d.nextLUID, d.last, d.serverLast = map[string]string{}, map[string]ChangeOp{}, 0, "", ""
}

// maxMsg is the device's MaxMsgSize: maxMsgSize, default 4000.
func (d *simDevice) maxMsg() int64 {
	if d.maxMsgSize > 0 {
		return d.maxMsgSize
	}
	return 4000
}

// session is one client session in progress.
type simSession struct {
	d     *simDevice
	sid   string
	key   string
	msgID int
	// serverNext is the Next anchor of the server's Alert.
	serverNext string
}

func (d *simDevice) begin() *simSession {
	d.sessions++
	return &simSession{d: d, sid: fmt.Sprintf("%s-%d", d.id, d.sessions)}
}

func (s *simSession) send(final bool, cmds ...Command) *Message {
	s.d.t.Helper()
	s.msgID++
	m := &Message{Hdr: SyncHdr{VerDTD: "1.2", VerProto: "SyncML/1.2", SessionID: s.sid, MsgID: strconv.Itoa(s.msgID),
		Target: Loc{LocURI: "http://127.0.0.1/syncml"}, Source: Loc{LocURI: s.d.id},
		Meta: &Meta{MaxMsgSize: s.d.maxMsg()}}, Body: cmds, Final: final}
	if s.key == "" {
		m.Hdr.Cred = &Cred{Meta: &Meta{Type: "syncml:auth-basic"}, Data: s.d.cred}
	}
	id := 0
	var number func([]Command)
	number = func(cs []Command) {
		for _, c := range cs {
			id++
			c.SetID(strconv.Itoa(id))
			if sy, ok := c.(*Sync); ok {
				number(sy.Commands)
			}
		}
	}
	number(cmds)
	var b bytes.Buffer
	if err := EncodeXML(&b, m.Element()); err != nil {
		s.d.t.Fatal(err)
	}
	resp, err := s.d.srv.Handle(context.Background(), &Request{Body: b.Bytes(), SessionKey: s.key, BaseURL: "http://127.0.0.1/syncml"})
	if err != nil {
		s.d.t.Fatalf("Handle: %v", err)
	}
	// A phone refuses a message over its MaxMsgSize.
	if int64(len(resp.Body)) > s.d.maxMsg() {
		s.d.t.Errorf("the server's message %d is %d bytes, over the device's MaxMsgSize %d", s.msgID, len(resp.Body), s.d.maxMsg())
	}
	r := parse(s.d.t, resp.Body)
	if r.Hdr.RespURI != "" {
		u, err := url.Parse(r.Hdr.RespURI)
		if err != nil {
			s.d.t.Fatal(err)
		}
		s.key = u.Query().Get("s")
	}
	return r
}

// alert sends package 1 for the contacts database; slow asks for a slow
// sync. It returns the server's reply.
func (s *simSession) alert(slow bool) *Message {
	mode := "200"
	if slow || s.d.last == "" {
		mode = "201"
	}
	r := s.send(true, &Alert{Data: mode, Items: []Item{{Target: &Loc{LocURI: "contacts"}, Source: &Loc{LocURI: "ab"},
		Meta: &Meta{Anchor: &Anchor{Last: s.d.last, Next: strconv.Itoa(s.d.sessions)}}}}})
	s.serverNext = serverAnchor(r).Next
	return r
}

// serverAnchor is the anchor of the server's Alert in r.
func serverAnchor(r *Message) Anchor {
	for _, a := range commands[*Alert](r) {
		for _, it := range a.Items {
			if it.Meta != nil && it.Meta.Anchor != nil {
				return *it.Meta.Anchor
			}
		}
	}
	return Anchor{}
}

// clientSync sends the device's changes (all items when slow) in one
// message and returns the first message of the server's package 4. pre
// goes first in the message (a status to the server's Alert).
func (s *simSession) clientSync(slow bool, pre ...Command) *Message {
	d := s.d
	var cmds []Command
	luids := make([]string, 0, len(d.items))
	for l := range d.items {
		luids = append(luids, l)
	}
	sort.Slice(luids, func(i, j int) bool { a, _ := strconv.Atoi(luids[i]); b, _ := strconv.Atoi(luids[j]); return a < b })
	for _, l := range luids {
		op := d.dirty[l]
		if slow {
			op = OpAdd
			if d.replaceOnSlow {
				op = OpReplace
			}
		}
		if op == "" || op == OpDelete {
			continue
		}
		cmds = append(cmds, &Change{Op: op, Meta: &Meta{Type: "text/vcard"},
			Items: []Item{{Source: &Loc{LocURI: l}, Data: &Data{Text: d.items[l]}}}})
	}
	if !slow {
		for l, op := range d.dirty {
			if op == OpDelete {
				cmds = append(cmds, &Change{Op: OpDelete, Items: []Item{{Source: &Loc{LocURI: l}}}})
			}
		}
	}
	return s.send(true, append(pre, &Sync{Target: &Loc{LocURI: "contacts"}, Source: &Loc{LocURI: "ab"}, Commands: cmds})...)
}

// serverChanges pulls the rest of package 4 and applies it, then sends
// the Map. It reports whether the session completed.
func (s *simSession) serverChanges(r *Message) bool {
	d := s.d
	var cmds []*Change
	// An item the server could not take (5xx) fails the database's sync
	// on the device, as Synthesis-based clients do: it keeps its anchor
	// and sends its changes again next time.
	failed := false
	for _, c := range r.Body {
		if st, ok := c.(*Status); ok && st.Cmd != "SyncHdr" && len(st.Data) == 3 && st.Data[0] == '5' {
			failed = true
		}
	}
	for n := 0; ; n++ {
		if hdrCode(r) >= 300 {
			return false
		}
		for _, sy := range commands[*Sync](r) {
			for _, c := range sy.Commands {
				cmds = append(cmds, c.(*Change))
			}
		}
		if r.Final {
			break
		}
		if n > 200 {
			d.t.Fatal("package 4 never ends")
		}
		r = s.send(false, &Alert{Data: "222", Items: []Item{{Target: &Loc{LocURI: "http://127.0.0.1/syncml"}, Source: &Loc{LocURI: d.id}}}})
	}
	var maps []MapItem
	for _, c := range cmds {
		it := c.Items[0]
		switch c.Op {
		case "Add":
			luid := d.add(it.Data.Text)
			delete(d.dirty, luid)
			maps = append(maps, MapItem{Target: it.Source.LocURI, Source: luid})
		case "Replace":
			target := locURI(it.Target)
			if _, ok := d.items[target]; !ok {
				d.t.Errorf("server sent Replace for %q, an ID this device does not have", target)
				continue
			}
			d.items[target] = it.Data.Text
		case "Delete":
			target := locURI(it.Target)
			if _, ok := d.items[target]; !ok {
				d.t.Errorf("server sent Delete for %q, an ID this device does not have", target)
				continue
			}
			delete(d.items, target)
		}
	}
	var mapCmds []Command
	if len(maps) > 0 {
		mapCmds = append(mapCmds, &Map{Target: Loc{LocURI: "contacts"}, Source: Loc{LocURI: "ab"}, MapItems: maps})
	}
	r = s.send(true, mapCmds...)
	if hdrCode(r) >= 300 {
		d.t.Logf("package 5 answered %v", statuses(r))
		return false
	}
	if failed {
		return false
	}
	d.dirty = map[string]ChangeOp{}
	d.last = strconv.Itoa(d.sessions)
	d.serverLast = s.serverNext
	return true
}

// sync runs one whole session and reports whether it completed.
func (d *simDevice) sync(slow bool) bool {
	d.t.Helper()
	s := d.begin()
	r := s.alert(slow)
	if hdrCode(r) >= 300 {
		return false
	}
	slow = slow || d.last == "" || alertStatus(r) == int(StatusRefreshRequired)
	var pre []Command
	if !slow && serverAnchor(r).Last != d.serverLast {
		slow = true
		pre = append(pre, &Status{MsgRef: "1", CmdRef: "1", Cmd: "Alert", TargetRef: []string{"ab"}, SourceRef: []string{"contacts"}, Data: "508"})
	}
	return s.serverChanges(s.clientSync(slow, pre...))
}

// hdrCode is the reply's SyncHdr status code.
func hdrCode(m *Message) int {
	for _, c := range m.Body {
		if st, ok := c.(*Status); ok && st.Cmd == "SyncHdr" {
			n, _ := strconv.Atoi(st.Data)
			return n
		}
	}
	return 0
}

// alertStatus is the code of the first Alert status in the reply.
func alertStatus(m *Message) int {
	for _, c := range m.Body {
		if st, ok := c.(*Status); ok && st.Cmd == "Alert" {
			n, _ := strconv.Atoi(st.Data)
			return n
		}
	}
	return 0
}

// names lists the FN of each item, sorted.
func names(items map[string]string) []string {
	var out []string
	for _, v := range items {
		out = append(out, fnOf(v))
	}
	sort.Strings(out)
	return out
}

func fnOf(v string) string {
	if i := bytes.Index([]byte(v), []byte("FN:")); i >= 0 {
		rest := v[i+3:]
		if j := bytes.IndexAny([]byte(rest), "\r\n"); j >= 0 {
			return rest[:j]
		}
		return rest
	}
	return ""
}
