package eas

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"syncml-imap/internal/wbxml"
	"syncml-imap/pim"
)

// Sync (MS-ASCMD 2.2.1.21) of the Contacts, Calendar and Tasks folders.
//
// A folder of a device is a replica of the core (pim.Replica), as a
// SyncML device's database is: the store's sync point it was brought to,
// the items it holds (the map, ActiveSync's IDs being the store's), the
// merge bases and the filter's facts, kept as SyncML's are. The front's
// record beside them holds the SyncKey, the store's changes not sent yet
// (a window at a time, MoreAvailable), the fields the device has shown it
// holds (a field it never sent is kept when its change leaves it out) and
// the last answer, for a request sent again with the key before (the
// client did not get the answer).
//
// Conflicts (a device's change of an item changed in the store since its
// last sync) are the device's policy's: merged field by field from the
// version both last agreed on, the device's or the store's version kept,
// or both. When the store's version stays the device is told so (status
// 7) and gets it.

// folderRecord is the record of one folder of one device, under the
// core's ReplicaKey.
type folderRecord struct {
	pim.ReplicaState
	Key int `json:"key"`
	// Pending: the store's items still to be sent, in order; what each
	// becomes (Add, Change, Delete) is told when it is sent, from the
	// store and from what the device holds.
	Pending []string `json:"pending,omitempty"`
	// Backlog: the items a folder started over still has to send, kept
	// in records of their own, a chunk at a time, so that each request of
	// a long first sync reads and writes a window's worth of state, not
	// the whole folder's.
	Backlog *backlog `json:"backlog,omitempty"`
	Holds   []string `json:"holds,omitempty"`
	// FilterType: the client's last Options FilterType (MS-ASCMD
	// 2.2.3.68.2), for a request without Options.
	FilterType string `json:"filter_type,omitempty"`
	// LastKey and LastAnswer: the key of the last request and the
	// Collection answered to it (WBXML).
	LastKey    int    `json:"last_key,omitempty"`
	LastAnswer []byte `json:"last_answer,omitempty"`
}

// backlog names the chunks of item IDs a restart left to send: chunk i of
// generation Gen, for i from Next to Chunks-1.
type backlog struct {
	Gen    int64 `json:"gen"`
	Chunks int   `json:"chunks"`
	Next   int   `json:"next"`
}

// backlogChunk is how many IDs one backlog record holds.
var backlogChunk = 500

func backlogPrefix(device string, kind pim.Kind) string {
	return pim.ReplicaKey(device, kind) + "/eas-backlog/"
}

func backlogKey(device string, kind pim.Kind, gen int64, i int) string {
	return backlogPrefix(device, kind) + strconv.FormatInt(gen, 10) + "-" + strconv.Itoa(i)
}

// left is about how many items the backlog still holds.
func (b *backlog) left() int {
	if b == nil {
		return 0
	}
	return (b.Chunks - b.Next) * backlogChunk
}

// kinds are the folders' ServerIds and the databases behind them.
var kinds = map[string]pim.Kind{"contacts": pim.Contacts, "calendar": pim.Calendar, "tasks": pim.Tasks}

// defaultWindow and maxWindow bound what one answer sends (MS-ASCMD:
// WindowSize, default 100, at most 512).
const (
	defaultWindow = 100
	maxWindow     = 512
)

// Sync statuses (MS-ASCMD 2.2.3.177.17).
const (
	syncOK              = 1
	syncInvalidKey      = 3
	syncProtocolError   = 4
	syncServerError     = 5
	syncConversionError = 6
	syncConflict        = 7
	syncNotFound        = 8
	syncFolderChanged   = 12
)

// guardedTries bounds how often a device's change is tried again when
// another writer changed the item between its read and its write.
const guardedTries = 4

func (c *call) loadRecord(kind pim.Kind) (*folderRecord, error) {
	raw, err := c.st.LoadState(c.ctx, pim.ReplicaKey(c.req.DeviceID, kind))
	if err != nil || raw == nil {
		return &folderRecord{}, err
	}
	rec := &folderRecord{}
	if json.Unmarshal(raw, rec) != nil {
		c.h.log().Warn("ActiveSync: unreadable folder state: the device starts the folder over", "device", c.req.DeviceID, "database", kind)
		return &folderRecord{}, nil
	}
	return rec, nil
}

// replica is the device's replica of a database, on rec's state.
func (c *call) replica(kind pim.Kind, rec *folderRecord, view pim.View, policy *pim.Policy) *pim.Replica {
	var folders []string
	if kind == pim.Contacts {
		folders = policy.ContactFolders
	}
	return pim.NewReplica(&rec.ReplicaState, pim.ReplicaOptions{Store: c.st, View: view, Device: c.req.DeviceID,
		Kind: kind, Folders: folders, User: c.user, Cache: c.h.Cache, Log: c.h.log(),
		Merge: policy.Conflict == pim.ConflictMerge})
}

// sync answers a Sync request: each collection in turn. A request that
// asks to wait (Wait, HeartbeatInterval: MS-ASCMD 3.1.5.4) and carries no
// changes of the device waits first, without the device's lock, until
// one of its folders has news; when none comes, or another request of the
// device moves a folder on meanwhile, it gets the empty Sync response
// (2.2.1.21.2) and nothing of its state changes.
func (c *call) sync() (*wbxml.Node, error) {
	colls := el("", "Collections")
	policy, err := c.slot.Policy(c.h.Policy)
	if err != nil {
		return nil, err
	}
	wait, bad := syncWait(c.body)
	if bad != nil {
		return bad, nil
	}
	if wait > 0 && !carriesCommands(c.body) {
		news, err := c.awaitNews(&policy, time.Now().Add(wait))
		if err != nil || !news {
			return nil, err
		}
	}
	defer c.h.lock(c.user, c.req.DeviceID)()
	window := defaultWindow
	if n, err := strconv.Atoi(text(c.body, "WindowSize")); err == nil && n > 0 {
		window = min(n, maxWindow)
	}
	for _, coll := range children(child(c.body, "Collections"), "Collection") {
		out, err := c.syncCollection(coll, &policy, window)
		if err != nil {
			return nil, err
		}
		colls.Children = append(colls.Children, out)
	}
	if len(colls.Children) == 0 {
		// An empty Sync: the client asks again with what it sent last;
		// nothing is kept of that here, so it is told to send it.
		return el("AirSync", "Sync", status("", 13)), nil
	}
	return el("AirSync", "Sync", colls), nil
}

// waitUnit is the unit of Sync's Wait (a test shortens it).
var waitUnit = time.Minute

// syncWait is how long a Sync asks to wait for changes (0: not at all);
// bad is the answer to a request whose wait is out of bounds (status 14,
// with the bound as Limit) or given twice over (4).
func syncWait(body *wbxml.Node) (wait time.Duration, bad *wbxml.Node) {
	w, h := child(body, "Wait"), child(body, "HeartbeatInterval")
	limit := func(n int) *wbxml.Node {
		return el("AirSync", "Sync", status("", 14), tx("", "Limit", strconv.Itoa(n)))
	}
	switch {
	case w != nil && h != nil:
		return 0, el("AirSync", "Sync", status("", syncProtocolError))
	case w != nil:
		n, err := strconv.Atoi(strings.TrimSpace(w.Text))
		if err != nil || n < 1 {
			return 0, limit(1)
		} else if n > 59 {
			return 0, limit(59)
		}
		return time.Duration(n) * waitUnit, nil
	case h != nil:
		n, err := strconv.Atoi(strings.TrimSpace(h.Text))
		if err != nil || n < 60 {
			return 0, limit(60)
		} else if n > 3540 {
			return 0, limit(3540)
		}
		return time.Duration(n) * waitUnit / 60, nil
	}
	return 0, nil
}

// carriesCommands reports whether a Sync brings changes of the device.
func carriesCommands(body *wbxml.Node) bool {
	for _, coll := range children(child(body, "Collections"), "Collection") {
		if cmds := child(coll, "Commands"); cmds != nil && len(cmds.Children) > 0 {
			return true
		}
	}
	return false
}

// awaitNews waits until one of the request's folders has something for
// the device (true), or until end, or until another request of the device
// moved one of them on (false). A folder it cannot tell about (a key that
// is not the folder's, a folder not served) ends the wait at once: the
// Sync itself answers for it.
func (c *call) awaitNews(policy *pim.Policy, end time.Time) (bool, error) {
	type folder struct {
		id   string
		kind pim.Kind
		key  int
	}
	var folders []folder
	var ids []string
	for _, coll := range children(child(c.body, "Collections"), "Collection") {
		id := text(coll, "CollectionId")
		kind, ok := kinds[id]
		key, err := strconv.Atoi(strings.TrimSpace(text(coll, "SyncKey")))
		if !ok || err != nil || key == 0 {
			return true, nil
		}
		folders = append(folders, folder{id, kind, key})
		ids = append(ids, id)
	}
	watch, err := pim.WatchStore(c.ctx, c.st, c.h.pingPoll(), c.pingDatabases(ids, policy)...)
	if err != nil {
		return false, err
	}
	defer func() { watch.Close() }()
	for first := true; ; first = false {
		for _, f := range folders {
			rec, err := c.loadRecord(f.kind)
			if err != nil {
				return false, err
			}
			if rec.Key != f.key {
				// A key not the folder's from the start (a request sent
				// again, a stale key) is the Sync's to answer; one that
				// another request of the device moved on while this one
				// waited leaves it nothing to say.
				return first, nil
			}
			n, err := c.news(f.kind, rec, policy, false)
			if errors.Is(err, pim.ErrSyncPointInvalid) || err == nil && n > 0 {
				return true, nil
			} else if err != nil {
				return false, err
			}
		}
		if time.Until(end) <= 0 {
			return false, nil
		}
		if changed, err := c.await(&watch, ids, policy, end); err != nil || !changed {
			return false, err
		}
	}
}

// folderSync is one collection's run: its replica, what the device sent
// and what goes to it.
type folderSync struct {
	c       *call
	kind    pim.Kind
	policy  *pim.Policy
	view    pim.View
	rep     *pim.Replica
	rec     *folderRecord
	changed map[string]bool // changed in the store since the device's point
	// pending: what goes to the device next, in order.
	pending  []string
	queued   map[string]bool
	pulled   bool       // chunks of the backlog were pulled
	items    *itemCache // the items read in this request
	from, to pim.ChangeCounts
}

func (f *folderSync) queue(ids ...string) {
	for _, id := range ids {
		if !f.queued[id] {
			f.queued[id] = true
			f.pending = append(f.pending, id)
		}
	}
}

func (f *folderSync) unqueue(id string) {
	if f.queued[id] {
		delete(f.queued, id)
		f.pending = slices.DeleteFunc(f.pending, func(x string) bool { return x == id })
	}
}

func (c *call) syncCollection(coll *wbxml.Node, policy *pim.Policy, window int) (*wbxml.Node, error) {
	id := text(coll, "CollectionId")
	key := strings.TrimSpace(text(coll, "SyncKey"))
	answer := func(code int, kids ...*wbxml.Node) *wbxml.Node {
		n := el("", "Collection", tx("", "SyncKey", key), tx("", "CollectionId", id), status("", code))
		n.Children = append(n.Children, kids...)
		return n
	}
	kind, ok := kinds[id]
	if !ok || !slices.ContainsFunc(c.dev.Folders, func(f folderState) bool { return f.ServerID == id }) || policy.DirectionOf(kind) == pim.DirOff {
		return answer(syncFolderChanged), nil // the hierarchy changed: FolderSync again
	}
	if n, err := strconv.Atoi(text(coll, "WindowSize")); err == nil && n > 0 {
		window = min(n, maxWindow)
	}
	rec, err := c.loadRecord(kind)
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(key)
	switch {
	case err != nil || n < 0:
		return answer(syncProtocolError), nil
	case n == 0:
		// The device starts the folder over: everything is sent again.
		if err := c.restart(kind, policy, rec); err != nil {
			return nil, err
		}
		key = "1"
		return answer(syncOK), nil
	case n == rec.LastKey && n != rec.Key && rec.LastAnswer != nil:
		// The same request again: the answer it did not get.
		if again, err := wbxml.DecodeEAS(rec.LastAnswer); err == nil {
			return again, nil
		}
		return answer(syncInvalidKey), nil
	case n != rec.Key:
		return answer(syncInvalidKey), nil
	}
	f := &folderSync{c: c, kind: kind, policy: policy, view: c.view(kind, policy), rec: rec, queued: map[string]bool{}}
	f.items = newItemCache(c, f.view)
	f.rep = c.replica(kind, rec, f.view, policy)
	if f.rep.FoldersChanged() {
		// The policy names other contact sub-folders: the device's IDs
		// mean nothing now, so it starts the folder over.
		return answer(syncInvalidKey), nil
	}
	if ft := text(child(coll, "Options"), "FilterType"); ft != "" {
		rec.FilterType = ft
	}
	rule := filterOf(kind, policy, rec.FilterType)
	cmds := child(coll, "Commands")
	quiet := false
	if (cmds == nil || len(cmds.Children) == 0) && len(rec.Pending) == 0 && rec.Backlog == nil && !rule.Active(kind) && rec.Filter == nil {
		if quiet, err = f.rep.Quiet(c.ctx); err != nil {
			c.h.log().Warn("ActiveSync: quick check for changes failed, listing them", "device", c.req.DeviceID, "database", kind, "err", err)
		}
	}
	if !quiet {
		reslow, err := f.rep.List(c.ctx, false)
		switch {
		case err != nil && errors.Is(err, pim.ErrStateUnreadable):
			c.h.log().Error("ActiveSync: sync state unreadable", "device", c.req.DeviceID, "database", kind, "err", err)
			return answer(syncServerError), nil
		case err != nil:
			return nil, err
		case reslow != "":
			// The store's point or the device's map is gone: the device
			// starts the folder over.
			c.h.log().Info("ActiveSync: "+reslow+": the device starts the folder over", "device", c.req.DeviceID, "database", kind)
			return answer(syncInvalidKey), nil
		}
	}
	ch := f.rep.Changes()
	f.changed = map[string]bool{}
	for _, s := range [][]string{ch.Added, ch.Modified, ch.Deleted} {
		for _, x := range s {
			f.changed[x] = true
		}
	}
	for _, x := range rec.Pending {
		f.changed[x] = true
	}
	f.queue(rec.Pending...)
	// The device's commands.
	responses := el("", "Responses")
	receives := policy.DirectionOf(kind) != pim.DirServerToDevice
	if cmds != nil {
		var adds []*wbxml.Node
		for _, cmd := range cmds.Children {
			if cmd.Name == "Add" && receives {
				adds = append(adds, cmd) // stored together below
				continue
			}
			r, err := f.apply(cmd, receives)
			if err != nil {
				return nil, err
			}
			if r != nil {
				responses.Children = append(responses.Children, r)
			}
		}
		rs, err := f.addAll(adds)
		if err != nil {
			return nil, err
		}
		responses.Children = append(responses.Children, rs...)
	}
	// The store's changes, after what is pending from before; the
	// device's own writes are not echoed.
	own := map[string]bool{}
	for _, x := range f.rep.Own() {
		own[x] = true
	}
	has := f.rep.Has()
	plan := pim.Plan{}
	for _, s := range []struct {
		op  pim.Op
		ids []string
	}{{pim.OpAdd, ch.Added}, {pim.OpReplace, ch.Modified}, {pim.OpDelete, ch.Deleted}} {
		for _, x := range s.ids {
			if own[x] || f.queued[x] {
				continue
			}
			op := s.op
			if op == pim.OpAdd && has[x] {
				op = pim.OpReplace
			}
			plan[x] = op
		}
	}
	// The device's filter: what enters it is sent, what leaves it is
	// deleted on the device, what is outside it is not sent.
	now := c.h.now().UTC()
	if _, _, err := f.rep.Filter(c.ctx, rule, now, false, plan, f.items.load); err != nil || f.items.err != nil {
		return nil, errors.Join(err, f.items.err)
	}
	added := slices.Sorted(maps.Keys(plan))
	slices.SortStableFunc(added, func(a, b string) int { return opOrder(plan[a]) - opOrder(plan[b]) })
	for _, x := range added {
		if plan[x] != pim.OpDelete || has[x] {
			f.queue(x)
		}
	}
	commands := el("", "Commands")
	getChanges := text(coll, "GetChanges") != "0" && policy.DirectionOf(kind) != pim.DirDeviceToServer
	if getChanges {
		if err := f.pull(window); errors.Is(err, errBacklogLost) {
			return answer(syncInvalidKey), nil
		} else if err != nil {
			return nil, err
		}
		send := f.pending[:min(window, len(f.pending))]
		cmds, err := f.send(send, rule, now)
		if err != nil {
			return nil, err
		}
		commands.Children = cmds
		f.pending = slices.Clone(f.pending[len(send):])
	} else if policy.DirectionOf(kind) == pim.DirDeviceToServer {
		f.pending, rec.Backlog = nil, nil // nothing goes to this device
	}
	rec.Pending = f.pending
	if b := rec.Backlog; b != nil && b.Next >= b.Chunks {
		rec.Backlog = nil
	}
	rec.LastKey, rec.Key = rec.Key, rec.Key+1
	key = strconv.Itoa(rec.Key)
	var kids []*wbxml.Node
	if (len(f.pending) > 0 || rec.Backlog != nil) && getChanges {
		kids = append(kids, el("", "MoreAvailable"))
	}
	if len(commands.Children) > 0 {
		kids = append(kids, commands)
	}
	if len(responses.Children) > 0 {
		kids = append(kids, responses)
	}
	out := answer(syncOK, kids...)
	if rec.LastAnswer, err = wbxml.EncodeEAS(out); err != nil {
		return nil, err
	}
	rec.Last = &pim.SyncSummary{Mode: modeOf(policy.DirectionOf(kind)), FromDevice: f.from, ToDevice: f.to}
	if err := f.rep.Commit(c.ctx, now, false, rec); err != nil {
		return nil, err
	}
	if f.pulled {
		c.dropBacklog(kind, rec.Backlog) // the chunks pulled, now that the record no longer needs them
	}
	return out, nil
}

// restart starts a device's folder over (SyncKey 0): every item of the
// store (within the device's filter) is to be sent, and the device is
// taken to hold none.
func (c *call) restart(kind pim.Kind, policy *pim.Policy, old *folderRecord) error {
	rec := &folderRecord{Key: 1, FilterType: old.FilterType}
	view := c.view(kind, policy)
	rep := c.replica(kind, rec, view, policy)
	rep.Refresh = true
	if _, err := rep.List(c.ctx, true); err != nil {
		return err
	}
	plan := pim.Plan{}
	for _, id := range rep.Changes().Added {
		plan[id] = pim.OpAdd
	}
	now := c.h.now().UTC()
	items := newItemCache(c, view)
	if _, _, err := rep.Filter(c.ctx, filterOf(kind, policy, rec.FilterType), now, true, plan, items.load); err != nil || items.err != nil {
		return errors.Join(err, items.err)
	}
	var ids []string
	for _, id := range rep.Changes().Added {
		if plan[id] == pim.OpAdd {
			ids = append(ids, id)
		}
	}
	// Older backlogs go; this one is written before the record that
	// names it.
	c.dropBacklog(kind, nil)
	if len(ids) > backlogChunk {
		b := &backlog{Gen: now.UnixNano()}
		for i := 0; i < len(ids); i += backlogChunk {
			raw, _ := json.Marshal(ids[i:min(i+backlogChunk, len(ids))])
			if err := c.st.SaveState(c.ctx, backlogKey(c.req.DeviceID, kind, b.Gen, b.Chunks), raw); err != nil {
				return err
			}
			b.Chunks++
		}
		rec.Backlog = b
	} else {
		rec.Pending = ids
	}
	rec.Last = &pim.SyncSummary{Mode: "refresh-from-server"}
	if err := rep.Commit(c.ctx, now, false, rec); err != nil {
		return err
	}
	// The record of the front's first releases.
	for id, k := range kinds {
		if k == kind {
			c.st.DeleteState(c.ctx, pim.DeviceKey(c.req.DeviceID, "eas/"+id))
		}
	}
	return nil
}

// dropBacklog removes the backlog records of a database but those keep
// names (nil: all of them).
func (c *call) dropBacklog(kind pim.Kind, keep *backlog) {
	keys, err := c.st.ListState(c.ctx, backlogPrefix(c.req.DeviceID, kind))
	if err != nil {
		c.h.log().Warn("ActiveSync: list old backlogs", "device", c.req.DeviceID, "database", kind, "err", err)
		return
	}
	for _, k := range keys {
		if keep != nil {
			var gen int64
			var i int
			if _, err := fmt.Sscanf(strings.TrimPrefix(k, backlogPrefix(c.req.DeviceID, kind)), "%d-%d", &gen, &i); err == nil && gen == keep.Gen && i >= keep.Next {
				continue
			}
		}
		if err := c.st.DeleteState(c.ctx, k); err != nil {
			c.h.log().Warn("ActiveSync: remove an old backlog", "key", k, "err", err)
		}
	}
}

// pull moves chunks of the backlog into pending until it holds a window.
func (f *folderSync) pull(window int) error {
	b := f.rec.Backlog
	for b != nil && b.Next < b.Chunks && len(f.pending) < window {
		raw, err := f.c.st.LoadState(f.c.ctx, backlogKey(f.c.req.DeviceID, f.kind, b.Gen, b.Next))
		if err != nil {
			return err
		}
		var ids []string
		if raw == nil || json.Unmarshal(raw, &ids) != nil {
			f.c.h.log().Warn("ActiveSync: a chunk of the first sync's backlog is lost: the device starts the folder over", "device", f.c.req.DeviceID, "database", f.kind)
			return errBacklogLost
		}
		f.queue(ids...)
		b.Next++
		f.pulled = true
	}
	return nil
}

var errBacklogLost = errors.New("eas: backlog chunk lost")

func opOrder(op pim.Op) int {
	switch op {
	case pim.OpAdd:
		return 0
	case pim.OpReplace:
		return 1
	}
	return 2
}

// modeOf names a sync by the device's direction, as SyncML's modes are.
func modeOf(d pim.Direction) string {
	switch d {
	case pim.DirServerToDevice:
		return "one-way-from-server"
	case pim.DirDeviceToServer:
		return "one-way-from-client"
	}
	return "two-way"
}

// itemCache reads a view's items for one request, each once: what the
// filter reads is what is sent. A Get that failed is kept in err.
type itemCache struct {
	c     *call
	view  pim.View
	items map[string]*pim.Item // nil: not in the store
	err   error
}

func newItemCache(c *call, view pim.View) *itemCache {
	return &itemCache{c: c, view: view, items: map[string]*pim.Item{}}
}

// get reads items ids, those read before from the cache; absent from
// the result: not in the store.
func (ic *itemCache) get(ids []string) (map[string]*pim.Item, error) {
	out := map[string]*pim.Item{}
	var missing []string
	for _, id := range ids {
		if it, ok := ic.items[id]; ok {
			if it != nil {
				out[id] = it
			}
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	got, err := ic.view.Get(ic.c.ctx, missing...)
	if err != nil {
		return out, err
	}
	for i, id := range missing {
		var it *pim.Item
		if i < len(got) {
			it = got[i]
		}
		ic.items[id] = it
		if it != nil {
			out[id] = it
		}
	}
	return out, nil
}

// load is get as the filter's pim.Loader.
func (ic *itemCache) load(ids []string) map[string][]byte {
	got, err := ic.get(ids)
	if err != nil {
		ic.err = err
	}
	out := make(map[string][]byte, len(got))
	for id, it := range got {
		out[id] = it.Data
	}
	return out
}

// send makes the commands that bring the device the items ids: an Add of
// what it does not hold, a Change of what it does, a Delete of what it
// holds and the store no longer has (or its filter no longer lets
// through).
func (f *folderSync) send(ids []string, rule pim.FilterRule, now time.Time) ([]*wbxml.Node, error) {
	got, err := f.items.get(ids)
	if err != nil {
		return nil, err
	}
	st := &f.rec.ReplicaState
	var out []*wbxml.Node
	for _, id := range ids {
		it, held := got[id], st.Map[id] != ""
		in := it != nil && (!rule.Active(f.kind) || rule.Matches(f.kind, pim.FactsOf(f.kind, it.Data), now))
		switch {
		case !in && held:
			out = append(out, el("", "Delete", tx("", "ServerId", id)))
			delete(st.Map, id)
			f.rep.Agree(id, nil)
			f.to.Count(pim.OpDelete)
		case !in:
			// Not for the device (gone, or outside its filter).
		default:
			op := "Change"
			if !held {
				op = "Add"
				st.Map[id] = id
				f.to.Count(pim.OpAdd)
			} else {
				f.to.Count(pim.OpReplace)
			}
			f.rep.Agree(id, it.Data)
			f.rep.SentAt(id, it.Version)
			out = append(out, el("", op, tx("", "ServerId", id),
				el("", "ApplicationData", fieldNodes(fieldsOf(f.kind, it.Data, f.c.req.Version))...)))
		}
	}
	return out, nil
}

// apply carries out one command of the device; it returns its response
// (nil: none is due).
func (f *folderSync) apply(cmd *wbxml.Node, receives bool) (*wbxml.Node, error) {
	c, rec, st := f.c, f.rec, &f.rec.ReplicaState
	sid := text(cmd, "ServerId")
	switch cmd.Name {
	case "Add":
		// Only for a device whose changes are not applied (addAll stores
		// the others).
		rec.Holds = learn(rec.Holds, nodeFields(child(cmd, "ApplicationData")))
		return el("", "Add", tx("", "ClientId", text(cmd, "ClientId")), status("", syncServerError)), nil
	case "Change":
		fields := nodeFields(child(cmd, "ApplicationData"))
		if occ, own, ok := occurrenceOf(cmd, fields); ok && f.kind == pim.Calendar {
			return f.change(sid, own, receives, occ)
		}
		rec.Holds = learn(rec.Holds, fields)
		return f.change(sid, fields, receives, occurrence{})
	case "Delete":
		if iid := text(cmd, "InstanceId"); iid != "" && f.kind == pim.Calendar {
			// One occurrence of a series (16.x): the series changes.
			return f.change(sid, nil, receives, occurrence{iid, true})
		}
		if st.Map[sid] == "" {
			return nil, nil // not one it was given: nothing to do
		}
		f.from.Count(pim.OpDelete)
		if !receives || f.changed[sid] && f.policy.Conflict != pim.ConflictDeviceWins {
			// Kept (changed in the store meanwhile, or the device's
			// changes are not taken), and sent again.
			delete(st.Map, sid)
			f.rep.Agree(sid, nil)
			f.queue(sid)
			return nil, nil
		}
		if err := f.remove(sid); errors.Is(err, pim.ErrVersionMismatch) && f.policy.Conflict != pim.ConflictDeviceWins {
			// Changed by another writer since it was listed: kept.
			delete(st.Map, sid)
			f.rep.Agree(sid, nil)
			f.queue(sid)
			return nil, nil
		} else if err != nil && !errors.Is(err, pim.ErrVersionMismatch) {
			return nil, err
		}
		delete(st.Map, sid)
		f.rep.Agree(sid, nil)
		f.rep.Deleted(sid)
		f.unqueue(sid)
		return nil, nil
	case "Fetch":
		got, err := f.view.Get(c.ctx, sid)
		if err != nil {
			return nil, err
		}
		if len(got) == 0 || got[0] == nil {
			return el("", "Fetch", tx("", "ServerId", sid), status("", syncNotFound)), nil
		}
		return el("", "Fetch", tx("", "ServerId", sid), status("", syncOK),
			el("", "ApplicationData", fieldNodes(fieldsOf(f.kind, got[0].Data, c.req.Version))...)), nil
	}
	return nil, nil
}

// change stores the device's change of item sid: as it is, or by the
// device's policy when the store's version changed since the device's
// last sync. The write is guarded by the version read, so that another
// writer's change in between is not overwritten but met as a conflict.
func (f *folderSync) change(sid string, fields []Field, receives bool, occ occurrence) (*wbxml.Node, error) {
	c, st := f.c, &f.rec.ReplicaState
	answer := func(code int) *wbxml.Node {
		n := el("", "Change", tx("", "ServerId", sid))
		if occ.id != "" {
			if occ.deleted {
				n.Name = "Delete"
			}
			n.Children = append(n.Children, tx("AirSyncBase", "InstanceId", occ.id))
		}
		n.Children = append(n.Children, status("", code))
		return n
	}
	conflict := func() *wbxml.Node {
		f.queue(sid)
		return answer(syncConflict)
	}
	f.from.Count(pim.OpReplace)
	for try := 0; ; try++ {
		got, err := f.view.Get(c.ctx, sid)
		if err != nil {
			return nil, err
		}
		if len(got) == 0 || got[0] == nil {
			delete(st.Map, sid)
			f.rep.Agree(sid, nil)
			return answer(syncNotFound), nil
		}
		if !receives {
			return conflict(), nil
		}
		server := got[0]
		var device []byte
		if occ.id != "" {
			var ok bool
			if device, ok = ApplyEventInstance(server.Data, occ.id, fields, occ.deleted); !ok {
				return answer(syncConversionError), nil // no series, or no such occurrence
			}
		} else {
			device = applyFields(f.kind, server.Data, fields, ghostedOf(f.kind, f.rec.Holds), "")
		}
		data, res := device, pim.DeviceWins
		if f.changed[sid] && !pim.SameContent(server.Data, device) {
			var both []string
			res, data, both = f.policy.Resolve(func() pim.Fingerprint { return f.rep.Base(c.ctx, sid) }, server.Data, device)
			c.h.log().Info("ActiveSync: conflict", "device", c.req.DeviceID, "database", f.kind, "id", sid, "resolution", res, "both", strings.Join(both, ","))
		}
		if res == pim.ServerWins {
			return conflict(), nil
		}
		if res == pim.KeepBoth {
			// The device's version as a new item; the store's stays on
			// this one; the device gets both.
			dup := &pim.Item{Data: applyFields(f.kind, nil, fields, nil, newUID())}
			if err := f.rep.Put(c.ctx, dup); err != nil {
				return nil, err
			}
			f.rep.Stored(dup) // the session's own: sent now, not again next time
			f.queue(dup.ID)
			return conflict(), nil
		}
		it := &pim.Item{ID: sid, Data: data}
		wrote, err := f.write(it, server.Version)
		switch {
		case errors.Is(err, pim.ErrVersionMismatch) && try < guardedTries:
			f.changed[sid] = true // changed by another writer since it was read
			continue
		case errors.Is(err, pim.ErrInvalidItem):
			return answer(syncProtocolError), nil
		case err != nil:
			return nil, err
		}
		f.rep.Stored(wrote)
		if f.changed[sid] {
			// The store had changed it meanwhile: what it is now (the
			// merge, or the device's version with the store's other
			// fields) goes to the device.
			f.queue(sid)
		} else {
			f.unqueue(sid)
		}
		return nil, nil
	}
}

// testHookBeforeWrite, when set by a test, runs before a device's change
// or deletion of an item is written: another writer's moment.
var testHookBeforeWrite func(id string)

// remove deletes item id only if it is still at the version the listing
// saw (when the store keeps versions); ErrVersionMismatch when another
// writer changed it since. A device-wins policy deletes it all the same.
func (f *folderSync) remove(id string) error {
	if testHookBeforeWrite != nil {
		testHookBeforeWrite(id)
	}
	if v, ok := f.rep.ListedVersion(id); ok && v != "" {
		err := f.rep.DeleteVersion(f.c.ctx, id, v)
		switch {
		case err == nil, errors.Is(err, pim.ErrNotFound):
			return nil
		case errors.Is(err, pim.ErrVersionMismatch) && f.policy.Conflict == pim.ConflictDeviceWins:
		case !errors.Is(err, pim.ErrUnversioned):
			return err
		}
	}
	_, err := f.view.Delete(f.c.ctx, id)
	return err
}

// occurrenceOf tells whether a Change names one occurrence: by an
// InstanceId beside its ApplicationData (MS-ASCMD), or inside it, where
// TbSync 4.18 at 16.1 puts it, with Deleted 1 there for a deleted one.
// own are the occurrence's fields.
func occurrenceOf(cmd *wbxml.Node, fields []Field) (occurrence, []Field, bool) {
	if iid := text(cmd, "InstanceId"); iid != "" {
		return occurrence{id: iid}, fields, true
	}
	var occ occurrence
	var own []Field
	for _, f := range fields {
		switch {
		case f.Name == "InstanceId":
			occ.id = f.Value
		case f.Name == "Deleted" && f.Page == "Calendar":
			occ.deleted = f.Value == "1"
		default:
			own = append(own, f)
		}
	}
	return occ, own, occ.id != ""
}

// occurrence names one occurrence of a series a 16.x client changes or
// deletes by its InstanceId (MS-ASCAL 2.2.2.22); zero: the whole item.
type occurrence struct {
	id      string
	deleted bool
}

// write stores it only if the item is still at version want, when the
// store keeps versions; else as it is.
func (f *folderSync) write(it *pim.Item, want string) (*pim.Item, error) {
	if testHookBeforeWrite != nil {
		testHookBeforeWrite(it.ID)
	}
	if want != "" {
		errs, err := f.rep.PutVersions(f.c.ctx, []*pim.Item{it}, []string{want})
		if err == nil && len(errs) == 1 && !errors.Is(errs[0], pim.ErrUnversioned) {
			if errs[0] == nil {
				f.rep.WroteAt(it.ID, it.Version)
			}
			return it, errs[0]
		}
		if err != nil && !errors.Is(err, pim.ErrUnversioned) {
			return nil, err
		}
	}
	return it, f.rep.Put(f.c.ctx, it)
}

// filterTypes are the client's FilterType values as a time back from now
// (MS-ASCMD 2.2.3.68.2).
var filterTypes = map[string]time.Duration{
	"1": 24 * time.Hour, "2": 3 * 24 * time.Hour, "3": 7 * 24 * time.Hour, "4": 14 * 24 * time.Hour,
	"5": 30 * 24 * time.Hour, "6": 90 * 24 * time.Hour, "7": 180 * 24 * time.Hour,
}

// filterOf is the device's filter for a folder: its policy's, narrowed by
// the client's FilterType (the closer of the two past limits; 8 for
// tasks: open ones only).
func filterOf(kind pim.Kind, policy *pim.Policy, filterType string) pim.FilterRule {
	r := policy.Filter(kind)
	if d, ok := filterTypes[filterType]; ok && kind == pim.Calendar && (r.Past <= 0 || d < r.Past) {
		r.Past = d
	}
	if filterType == "8" && kind == pim.Tasks {
		r.OpenOnly = true
	}
	return r
}

// view is a database as the device's policy gives it: the contacts of
// the sub-folders it names.
func (c *call) view(kind pim.Kind, policy *pim.Policy) pim.View {
	if kind == pim.Contacts {
		return pim.PolicyView(c.st, kind, policy, false)
	}
	return pim.DatabaseView(c.st, kind)
}

// addAll stores the device's new items in one store call (one
// MULTIAPPEND); when the store refuses one, they are stored one by one so
// that only that one is refused.
func (f *folderSync) addAll(adds []*wbxml.Node) ([]*wbxml.Node, error) {
	if len(adds) == 0 {
		return nil, nil
	}
	items := make([]*pim.Item, len(adds))
	for i, cmd := range adds {
		fields := nodeFields(child(cmd, "ApplicationData"))
		f.rec.Holds = learn(f.rec.Holds, fields)
		items[i] = &pim.Item{Data: applyFields(f.kind, nil, fields, nil, newUID())}
	}
	adopted, err := f.adopt(items)
	if err != nil {
		return nil, err
	}
	var fresh []*pim.Item
	for i, it := range items {
		if adopted[i] == "" {
			fresh = append(fresh, it)
		}
	}
	if len(fresh) > 0 {
		err = f.rep.Put(f.c.ctx, fresh...)
	}
	if err != nil && !errors.Is(err, pim.ErrInvalidItem) {
		return nil, err
	}
	var out []*wbxml.Node
	for i, cmd := range adds {
		cid := text(cmd, "ClientId")
		if id := adopted[i]; id != "" {
			// Already in the store: it is the device's.
			items[i].ID, items[i].Data = id, f.items.items[id].Data
			f.unqueue(id)
		} else if err != nil {
			// One of them was refused: each on its own.
			items[i].ID = ""
			if e := f.rep.Put(f.c.ctx, items[i]); errors.Is(e, pim.ErrInvalidItem) {
				out = append(out, el("", "Add", tx("", "ClientId", cid), status("", syncProtocolError)))
				continue
			} else if e != nil {
				return nil, e
			}
		}
		f.rep.Stored(items[i])
		f.rec.Map[items[i].ID] = items[i].ID
		f.from.Count(pim.OpAdd)
		out = append(out, el("", "Add", tx("", "ClientId", cid), tx("", "ServerId", items[i].ID), status("", syncOK)))
	}
	return out, nil
}

// adopt finds, for each of the device's new items, an item the store
// gained since the device's last sync that the device does not hold and
// that says the same (pim.SameContent): a request sent again after the
// first try stored its items but failed before its state was saved (a
// cut connection, a crash), or the same contact added elsewhere
// meanwhile. Those are taken as the device's instead of being stored
// twice. adopted[i] is the store's ID for items[i], "" for none.
func (f *folderSync) adopt(items []*pim.Item) ([]string, error) {
	adopted := make([]string, len(items))
	var cands []string
	for _, id := range f.rep.Changes().Added {
		if f.rec.Map[id] == "" {
			cands = append(cands, id)
		}
	}
	if len(cands) == 0 {
		return adopted, nil
	}
	got, err := f.items.get(cands)
	if err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	for i, it := range items {
		for _, id := range cands {
			if c := got[id]; c != nil && !taken[id] && pim.SameContent(c.Data, it.Data) {
				adopted[i], taken[id] = id, true
				break
			}
		}
	}
	return adopted, nil
}

// fieldsOf and applyFields pick the mapping of a database.
func fieldsOf(kind pim.Kind, data []byte, version string) []Field {
	switch kind {
	case pim.Contacts:
		return ContactFields(data)
	case pim.Tasks:
		return TaskFields(data)
	}
	return EventFieldsFor(data, version)
}

func applyFields(kind pim.Kind, stored []byte, fields []Field, ghosted []string, uid string) []byte {
	switch kind {
	case pim.Contacts:
		return ApplyContact(stored, fields, ghosted)
	case pim.Tasks:
		return ApplyTask(stored, fields, ghosted, uid)
	}
	return ApplyEvent(stored, fields, ghosted, uid)
}

// learn adds the names of the fields a device sent to what it holds.
func learn(holds []string, fields []Field) []string {
	for _, f := range fields {
		if !slices.Contains(holds, f.Name) {
			holds = append(holds, f.Name)
		}
	}
	slices.Sort(holds)
	return holds
}

// ghostedOf are the fields a change that leaves them out keeps: every
// field of the mapping the device has never sent.
func ghostedOf(kind pim.Kind, holds []string) []string {
	var all []string
	switch kind {
	case pim.Contacts:
		for _, p := range contactPlaces {
			all = append(all, p.name)
		}
		all = append(all, fieldCategories, fieldBody, fieldChildren)
	case pim.Tasks:
		all = []string{"Subject", fieldBody, "Importance", "UtcStartDate", "StartDate", "UtcDueDate", "DueDate", "Complete", "DateCompleted", "Sensitivity", fieldCategories}
	default:
		all = []string{"Subject", "Location", fieldBody, "Sensitivity", "BusyStatus", fieldCategories, "Reminder", "Recurrence", "Exceptions", "Attendees", "TimeZone", "AllDayEvent", "StartTime", "EndTime"}
	}
	var out []string
	for _, n := range all {
		if !slices.Contains(holds, n) {
			out = append(out, n)
		}
	}
	return out
}

// nodeFields reads an ApplicationData element.
func nodeFields(app *wbxml.Node) []Field {
	if app == nil {
		return nil
	}
	var out []Field
	for _, n := range app.Children {
		page := pageOf(n, "AirSync")
		switch {
		case n.Name == "Body":
			out = append(out, Field{Page: "AirSyncBase", Name: fieldBody, Value: text(n, "Data")})
		case n.Name == "Categories" || n.Name == "Children":
			var list []string
			for _, c := range n.Children {
				list = append(list, c.Text)
			}
			out = append(out, Field{Page: page, Name: n.Name, List: list})
		case len(n.Children) > 0:
			out = append(out, Field{Page: page, Name: n.Name, Sub: nodeFields(n)})
		default:
			out = append(out, Field{Page: page, Name: n.Name, Value: n.Text})
		}
	}
	return out
}

// fieldNodes writes fields as ApplicationData's children.
func fieldNodes(fields []Field) []*wbxml.Node {
	var out []*wbxml.Node
	for _, f := range fields {
		switch {
		case f.Name == fieldBody:
			out = append(out, el("AirSyncBase", "Body", tx("", "Type", "1"),
				tx("", "EstimatedDataSize", strconv.Itoa(len(f.Value))), tx("", "Data", f.Value)))
		case f.List != nil:
			item := "Category"
			if f.Name == "Children" {
				item = "Child"
			}
			n := el(f.Page, f.Name)
			for _, v := range f.List {
				n.Children = append(n.Children, tx("", item, v))
			}
			out = append(out, n)
		case f.Sub != nil:
			out = append(out, el(f.Page, f.Name, fieldNodes(f.Sub)...))
		default:
			out = append(out, tx(f.Page, f.Name, f.Value))
		}
	}
	return out
}

// getItemEstimate answers how many changes each collection's next Sync
// would bring (MS-ASCMD 2.2.1.9).
func (c *call) getItemEstimate() (*wbxml.Node, error) {
	root := el("GetItemEstimate", "GetItemEstimate")
	policy, err := c.slot.Policy(c.h.Policy)
	if err != nil {
		return nil, err
	}
	for _, coll := range children(child(c.body, "Collections"), "Collection") {
		id := text(coll, "CollectionId")
		resp := el("", "Response")
		root.Children = append(root.Children, resp)
		kind, ok := kinds[id]
		if !ok {
			resp.Children = append(resp.Children, status("", 2)) // a collection it does not know
			continue
		}
		rec, err := c.loadRecord(kind)
		if err != nil {
			return nil, err
		}
		if key, err := strconv.Atoi(strings.TrimSpace(text(coll, "SyncKey"))); err != nil || key == 0 || key != rec.Key {
			resp.Children = append(resp.Children, status("", 4)) // the key: Sync first
			continue
		}
		n, err := c.news(kind, rec, &policy, true)
		if errors.Is(err, pim.ErrSyncPointInvalid) {
			resp.Children = append(resp.Children, status("", 4))
			continue
		}
		if err != nil {
			return nil, err
		}
		resp.Children = append(resp.Children, status("", 1), el("", "Collection", tx("", "CollectionId", id), tx("", "Estimate", strconv.Itoa(n))))
	}
	return root, nil
}

// news tells how many changes the device's next Sync of a database
// brings (count) or whether it brings any (not count: then 0 or 1, and
// it stops at the first it finds). Whether the store changed is told
// from the point's head when the store keeps heads, so that nothing
// growing with the database is read; a filter whose window has moved on
// by a day counts as news (items may have entered it).
func (c *call) news(kind pim.Kind, rec *folderRecord, policy *pim.Policy, count bool) (int, error) {
	n := len(rec.Pending) + rec.Backlog.left()
	if n > 0 && !count {
		return n, nil
	}
	if rec.Filter != nil && c.h.now().Sub(rec.Filter.At) >= 24*time.Hour {
		n++
		if !count {
			return n, nil
		}
	}
	view := c.view(kind, policy)
	if rec.Bulk != 0 && rec.Head != nil {
		same, err := view.Unchanged(c.ctx, rec.Head)
		if err != nil {
			return 0, err
		}
		if same {
			return n, nil
		}
		if !count {
			return n + 1, nil
		}
	}
	rep := c.replica(kind, rec, view, policy)
	if rep.FoldersChanged() {
		return 0, pim.ErrSyncPointInvalid
	}
	reslow, err := rep.List(c.ctx, false)
	if err != nil {
		return 0, err
	}
	if reslow != "" {
		return 0, pim.ErrSyncPointInvalid
	}
	ch := rep.Changes()
	return n + len(ch.Added) + len(ch.Modified) + len(ch.Deleted), nil
}

// newUID names a new event or task that brings no UID.
func newUID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@syncml-imap"
}
