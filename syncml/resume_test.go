package syncml

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"testing"
)

// resumeDevice is a simDevice that answers every server change with a
// Status, as Synthesis clients do, and knows the server IDs it holds: a
// server Add of an ID it has already is answered 418 (Synthesis), never
// added twice.
type resumeDevice struct {
	*simDevice
	guids map[string]string // server ID → LUID
	// refuse, when set, gives the status for a server Add (0: accept).
	refuse func(guid string) int
	// received lists the server IDs of every Add and Replace received.
	received []string
}

func newResumeDevice(t *testing.T, srv *Server) *resumeDevice {
	return &resumeDevice{simDevice: newSimDevice(t, srv, "IMEI:R1"), guids: map[string]string{}}
}

// apply takes the server changes of r (up to limit of them; -1: all)
// and returns the statuses for them and the Map items of the adds.
func (d *resumeDevice) apply(r *Message, limit int) ([]Command, []MapItem) {
	var sts []Command
	var maps []MapItem
	for _, sy := range commands[*Sync](r) {
		for _, c := range sy.Commands {
			if limit == 0 {
				return sts, maps
			}
			limit--
			ch := c.(*Change)
			it := ch.Items[0]
			st := &Status{MsgRef: r.Hdr.MsgID, CmdRef: ch.CmdID, Cmd: string(ch.Op), Data: "200"}
			switch ch.Op {
			case "Add":
				guid := it.Source.LocURI
				d.received = append(d.received, guid)
				st.SourceRef = []string{guid}
				if code := d.refuseCode(guid); code != 0 {
					st.Data = strconv.Itoa(code)
					break
				}
				if _, ok := d.guids[guid]; ok {
					st.Data = "418"
					break
				}
				luid := d.add(it.Data.Text)
				delete(d.dirty, luid)
				d.guids[guid] = luid
				st.Data = "201"
				maps = append(maps, MapItem{Target: guid, Source: luid})
			case "Replace":
				d.received = append(d.received, it.Source.LocURI)
				st.TargetRef = []string{it.Target.LocURI}
				d.items[it.Target.LocURI] = it.Data.Text
			case "Delete":
				st.TargetRef = []string{it.Target.LocURI}
				delete(d.items, it.Target.LocURI)
			}
			sts = append(sts, st)
		}
	}
	return sts, maps
}

func (d *resumeDevice) refuseCode(guid string) int {
	if d.refuse == nil {
		return 0
	}
	return d.refuse(guid)
}

// finish pulls the rest of package 4 (statuses with each 222), then sends
// the Map and the statuses of the last message; the session completes.
func (d *resumeDevice) finish(s *simSession, r *Message, pendingMaps []MapItem) {
	d.t.Helper()
	maps := pendingMaps
	for n := 0; ; n++ {
		sts, m := d.apply(r, -1)
		maps = append(maps, m...)
		if r.Final {
			cmds := sts
			if len(maps) > 0 {
				cmds = append(cmds, &Map{Target: Loc{LocURI: "contacts"}, Source: Loc{LocURI: "ab"}, MapItems: maps})
			}
			if r := s.send(true, cmds...); hdrCode(r) != 200 {
				d.t.Fatalf("package 5 answered %v", statuses(r))
			}
			break
		}
		if n > 100 {
			d.t.Fatal("package 4 never ends")
		}
		r = s.send(false, append(sts, d.next())...)
	}
	d.dirty = map[string]ChangeOp{}
	d.last = strconv.Itoa(d.sessions)
	d.serverLast = s.serverNext
}

func (d *resumeDevice) next() Command {
	return &Alert{Data: "222", Items: []Item{{Target: &Loc{LocURI: "http://127.0.0.1/syncml"}, Source: &Loc{LocURI: d.id}}}}
}

// alert225 starts a session that resumes the last one (its anchors: the
// last completed session's, and a new Next).
func (d *resumeDevice) alert225(last string) (*simSession, *Message) {
	s := d.begin()
	r := s.send(true, &Alert{Data: "225", Items: []Item{{Target: &Loc{LocURI: "contacts"}, Source: &Loc{LocURI: "ab"},
		Meta: &Meta{Anchor: &Anchor{Last: last, Next: strconv.Itoa(d.sessions)}}}}})
	s.serverNext = serverAnchor(r).Next
	return s, r
}

// suspend sends the device's statuses and the suspend alert (224).
func (d *resumeDevice) suspend(s *simSession, sts []Command, maps []MapItem) {
	d.t.Helper()
	cmds := sts
	if len(maps) > 0 {
		cmds = append(cmds, &Map{Target: Loc{LocURI: "contacts"}, Source: Loc{LocURI: "ab"}, MapItems: maps})
	}
	cmds = append(cmds, &Alert{Data: "224", Items: []Item{{Target: &Loc{LocURI: "http://127.0.0.1/syncml"}, Source: &Loc{LocURI: d.id}}}})
	r := s.send(true, cmds...)
	if hdrCode(r) != 200 {
		t := d.t
		t.Fatalf("suspend answered %v", statuses(r))
	}
}

func fillServer(t *testing.T, store pim.Store, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		it := &pim.Item{Data: []byte(vc(fmt.Sprintf("Server %02d", i)))}
		if err := store.Put(context.Background(), "contacts", it); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, it.ID)
	}
	sort.Strings(ids)
	return ids
}

// alertCodes are the resume Alert's status code and the server's Alert.
func alertCodes(r *Message) (int, string) {
	a := commands[*Alert](r)
	if len(a) == 0 {
		return alertStatus(r), ""
	}
	return alertStatus(r), a[0].Data
}

// TestResumeServerChanges: the device suspends after the server sent part
// of its changes and the device acknowledged some; its resume (225) is
// answered 200, and the server sends only what was not acknowledged:
// every item reaches the device once, and the next sync sends nothing.
func TestResumeServerChanges(t *testing.T) {
	m := newMemStore()
	testResumeServerChanges(t, m, m.Auth("alice", "pw"))
}

func testResumeServerChanges(t *testing.T, store pim.Store, auth pim.Authenticator) {
	srv := NewServer(ServerOptions{Auth: auth})
	d := newResumeDevice(t, srv)
	d.maxMsgSize = 2500
	if !d.sync(false) { // first (slow) sync, nothing anywhere
		t.Fatal("first sync")
	}
	ids := fillServer(t, store, 30)

	s := d.begin()
	s.alert(false)
	r := s.clientSync(false)
	sts, maps := d.apply(r, -1)
	first := len(d.received)
	r = s.send(false, append(append(sts, &Map{Target: Loc{LocURI: "contacts"}, Source: Loc{LocURI: "ab"}, MapItems: maps}), d.next())...)
	// The second message: the device takes its items but acknowledges
	// only half of them before it suspends.
	sts, maps = d.apply(r, -1)
	half := len(sts) / 2
	d.suspend(s, sts[:half], maps[:half])
	acked := append([]string(nil), d.received[:first+half]...)
	if first == 0 || half == 0 || len(d.received) >= len(ids) {
		t.Fatalf("the test needs a package 4 in several messages: %d, %d of %d", first, half, len(ids))
	}

	before := len(d.received)
	s2, r := d.alert225(d.last)
	if code, mode := alertCodes(r); code != 200 || mode != "200" {
		t.Fatalf("resume answered %d, server alert %q; want 200 and 200", code, mode)
	}
	r = s2.clientSync(false)
	// The unacknowledged Maps of the first part go with package 5.
	var pending []MapItem
	for _, m := range maps[half:] {
		pending = append(pending, m)
	}
	d.finish(s2, r, pending)
	resent := d.received[before:]
	for _, id := range resent {
		if slices.Contains(acked, id) {
			t.Errorf("item %s acknowledged before the suspend was sent again", id)
		}
	}
	if len(d.items) != len(ids) {
		t.Errorf("device holds %d items, want %d: %v", len(d.items), len(ids), names(d.items))
	}
	if n := len(uniq(d.received)); n != len(ids) {
		t.Errorf("device received %d distinct items, want %d", n, len(ids))
	}
	// The next sync is normal and has nothing to send.
	before = len(d.received)
	if !d.sync(false) {
		t.Fatal("sync after the resumed one")
	}
	if got := d.received[before:]; len(got) != 0 {
		t.Errorf("after the resumed session the server sends %v again", got)
	}
	if st := memState(store); st != nil {
		for k := range st {
			if containsResume(k) {
				t.Errorf("position record %s left after the session completed", k)
			}
		}
	}
}

// TestResumeClientAdds: the connection is cut after the device sent half
// of its adds (the server stored them; its answer was lost). The device
// resumes and sends its adds again, or only the rest: the mailbox has
// each exactly once, and none is echoed back to the device.
func TestResumeClientAdds(t *testing.T) {
	for _, resendAll := range []bool{true, false} {
		t.Run(fmt.Sprintf("resendAll=%v", resendAll), func(t *testing.T) {
			m := newMemStore()
			testResumeClientAdds(t, m, m.Auth("alice", "pw"), resendAll)
		})
	}
}

func testResumeClientAdds(t *testing.T, store pim.Store, auth pim.Authenticator, resendAll bool) {
	srv := NewServer(ServerOptions{Auth: auth})
	d := newResumeDevice(t, srv)
	if !d.sync(false) {
		t.Fatal("first sync")
	}
	var luids []string
	for i := range 20 {
		luids = append(luids, d.add(vc(fmt.Sprintf("Phone %02d", i))))
	}
	s := d.begin()
	s.alert(false)
	adds := func(ls []string) []Command {
		var cmds []Command
		for _, l := range ls {
			cmds = append(cmds, &Change{Op: OpAdd, Meta: &Meta{Type: "text/vcard"},
				Items: []Item{{Source: &Loc{LocURI: l}, Data: &Data{Text: d.items[l]}}}})
		}
		return cmds
	}
	// The first half of package 3; the reply never reaches the device.
	r := s.send(false, &Sync{Target: &Loc{LocURI: "contacts"}, Source: &Loc{LocURI: "ab"}, Commands: adds(luids[:10])})
	if hdrCode(r) != 200 {
		t.Fatalf("package 3: %v", statuses(r))
	}
	if n := countItems(t, store); n != 10 {
		t.Fatalf("mailbox has %d items after the first half, want 10", n)
	}

	s2, r := d.alert225(d.last)
	if code, mode := alertCodes(r); code != 200 || mode != "200" {
		t.Fatalf("resume answered %d, server alert %q; want 200 and 200", code, mode)
	}
	rest := luids[10:]
	if resendAll {
		rest = luids
	}
	r = s2.send(true, &Sync{Target: &Loc{LocURI: "contacts"}, Source: &Loc{LocURI: "ab"}, Commands: adds(rest)})
	for _, st := range commands[*Status](r) {
		if (st.Cmd == "Add") && st.Data != "201" {
			t.Errorf("resumed Add %v answered %s", st.SourceRef, st.Data)
		}
	}
	d.finish(s2, r, nil)
	if n := countItems(t, store); n != 20 {
		t.Errorf("mailbox has %d items, want 20", n)
	}
	if len(d.received) != 0 {
		t.Errorf("the server echoes the device's own items: %v", d.received)
	}
	if len(d.items) != 20 {
		t.Errorf("device holds %d items, want 20", len(d.items))
	}
	if !d.sync(false) || len(d.received) != 0 {
		t.Errorf("the next sync sends %v", d.received)
	}
}

// TestResumeNotPossible: a resume without a position of the committed
// state (a later session completed, or none was ever saved) is answered
// 509 with an ordinary two-way sync; with anchors the server does not
// know, 508 and a slow sync (as Synthesis).
func TestResumeNotPossible(t *testing.T) {
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
	d := newResumeDevice(t, srv)
	if !d.sync(false) {
		t.Fatal("first sync")
	}
	fillServer(t, store, 30)
	d.maxMsgSize = 2500
	s := d.begin()
	s.alert(false)
	r := s.clientSync(false)
	sts, maps := d.apply(r, -1)
	d.suspend(s, sts, maps)
	// Another session completes meanwhile: the position is stale.
	d.finishSync(t)
	_, r = d.alert225(d.last)
	if code, mode := alertCodes(r); code != 509 || mode != "200" {
		t.Fatalf("resume after a later session answered %d, server alert %q; want 509 and 200", code, mode)
	}
	// No position at all.
	_, r = d.alert225(d.last)
	if code, mode := alertCodes(r); code != 509 || mode != "200" {
		t.Fatalf("resume without position answered %d, server alert %q; want 509 and 200", code, mode)
	}
	// Anchors the server never gave.
	_, r = d.alert225("no-such-anchor")
	if code, mode := alertCodes(r); code != 508 || mode != "201" {
		t.Fatalf("resume with unknown anchors answered %d, server alert %q; want 508 and 201", code, mode)
	}
}

// finishSync runs one ordinary session with statuses.
func (d *resumeDevice) finishSync(t *testing.T) {
	t.Helper()
	s := d.begin()
	r := s.alert(false)
	if alertStatus(r) != 200 {
		t.Fatalf("sync alert answered %v", statuses(r))
	}
	d.finish(s, s.clientSync(false), nil)
}

// TestRefusedAddRetried: items the device refuses (420 device full) are
// not recorded as the device's: the session still completes, and the
// next sync offers them again.
func TestRefusedAddRetried(t *testing.T) {
	m := newMemStore()
	testRefusedAddRetried(t, m, m.Auth("alice", "pw"))
}

func testRefusedAddRetried(t *testing.T, store pim.Store, auth pim.Authenticator) {
	var reports []*pim.SessionReport
	srv := NewServer(ServerOptions{Auth: auth, OnSession: func(r *pim.SessionReport) { reports = append(reports, r) }})
	d := newResumeDevice(t, srv)
	if !d.sync(false) {
		t.Fatal("first sync")
	}
	ids := fillServer(t, store, 6)
	full := map[string]bool{ids[1]: true, ids[4]: true}
	d.refuse = func(guid string) int {
		if full[guid] {
			return 420
		}
		return 0
	}
	d.finishSync(t)
	if len(d.items) != 4 {
		t.Fatalf("device holds %d items, want 4", len(d.items))
	}
	last := reports[len(reports)-1]
	if last.Result != "ok" || len(last.Databases) != 1 || last.Databases[0].Refused != 2 {
		t.Errorf("report %+v: want ok with 2 refused", last)
	}
	// Room again: the next sync sends the two, and only them.
	d.refuse = nil
	before := len(d.received)
	d.finishSync(t)
	got := append([]string(nil), d.received[before:]...)
	sort.Strings(got)
	if want := []string{ids[1], ids[4]}; !slices.Equal(got, want) {
		t.Errorf("next sync sent %v, want the refused %v", got, want)
	}
	if len(d.items) != 6 {
		t.Errorf("device holds %d items, want 6", len(d.items))
	}
	before = len(d.received)
	d.finishSync(t)
	if got := d.received[before:]; len(got) != 0 {
		t.Errorf("third sync sent %v again", got)
	}
}

func uniq(ids []string) []string {
	s := slices.Clone(ids)
	sort.Strings(s)
	return slices.Compact(s)
}

func countItems(t *testing.T, store pim.Store) int {
	t.Helper()
	ch, err := store.Changes(context.Background(), "contacts", nil)
	if err != nil {
		t.Fatal(err)
	}
	return len(ch.Added)
}

func containsResume(key string) bool {
	for i := 0; i+7 <= len(key); i++ {
		if key[i:i+7] == "/resume" {
			return true
		}
	}
	return false
}

// memState is the memstore.Store's state records (nil for another store).
func memState(st pim.Store) map[string][]byte {
	if m, ok := st.(*memstore.Store); ok {
		return m.State()
	}
	return nil
}
