package eas

import (
	"time"

	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"syncml-imap/internal/wbxml"
	"syncml-imap/pim"
)

// Sync (MS-ASCMD 2.2.1.21) of the Contacts, Calendar and Tasks folders.
//
// Per folder the device's state is a record: the SyncKey it holds, the
// store's sync point it was brought to, the store's changes not sent yet
// (a window at a time, MoreAvailable), the fields it has shown it holds
// (a field it never sent is kept when its change leaves it out, as a
// SyncML device's), and the last answer, for a request sent again with
// the key before (the client did not get the answer). The device's
// item IDs are the store's: no map.
//
// Conflicts: a change of an item that was changed in the store since the
// device's last sync is resolved by the device's policy: device-wins
// writes it; otherwise the store's version stays and goes to the device
// (status 7), ActiveSync's own default.

// folderState is the record of one folder of one device.
type folderSyncState struct {
	Key     int      `json:"key"`
	Point   []byte   `json:"point,omitempty"`
	Pending []change `json:"pending,omitempty"`
	Holds   []string `json:"holds,omitempty"`
	// Folders: the contact sub-folders the device's IDs refer to.
	Folders []string `json:"folders,omitempty"`
	// FilterType: the client's last Options FilterType (MS-ASCMD
	// 2.2.3.68.2), for a request without Options.
	FilterType string `json:"filter_type,omitempty"`
	// LastKey and LastAnswer: the key of the last request and the
	// Collection answered to it (WBXML).
	LastKey    int    `json:"last_key,omitempty"`
	LastAnswer []byte `json:"last_answer,omitempty"`
}

type change struct {
	Op string `json:"op"` // Add, Change, Delete
	ID string `json:"id"`
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
	syncOK            = 1
	syncInvalidKey    = 3
	syncProtocolError = 4
	syncServerError   = 5
	syncConflict      = 7
	syncNotFound      = 8
	syncFolderChanged = 12
)

func (c *call) folderKey(id string) string { return pim.DeviceKey(c.req.DeviceID, "eas/"+id) }

func (c *call) loadFolder(id string) (*folderSyncState, error) {
	raw, err := c.st.LoadState(c.ctx, c.folderKey(id))
	if err != nil || raw == nil {
		return &folderSyncState{}, err
	}
	fs := &folderSyncState{}
	if json.Unmarshal(raw, fs) != nil {
		c.h.log().Warn("ActiveSync: unreadable folder state: the device starts the folder over", "device", c.req.DeviceID, "folder", id)
		return &folderSyncState{}, nil
	}
	return fs, nil
}

func (c *call) saveFolder(id string, fs *folderSyncState) error {
	raw, err := json.Marshal(fs)
	if err != nil {
		return err
	}
	return c.st.SaveState(c.ctx, c.folderKey(id), raw)
}

// sync answers a Sync request: each collection in turn.
func (c *call) sync() (*wbxml.Node, error) {
	colls := el("", "Collections")
	policy, err := c.slot.Policy(c.h.Policy)
	if err != nil {
		return nil, err
	}
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
	fs, err := c.loadFolder(id)
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(key)
	switch {
	case err != nil || n < 0:
		return answer(syncProtocolError), nil
	case n == 0:
		// The device starts the folder over: everything is sent again.
		fs = &folderSyncState{Key: 1}
		if kind == pim.Contacts {
			fs.Folders = slices.Clone(policy.ContactFolders)
		}
		if err := c.saveFolder(id, fs); err != nil {
			return nil, err
		}
		key = "1"
		return answer(syncOK), nil
	case n == fs.LastKey && n != fs.Key && fs.LastAnswer != nil:
		// The same request again: the answer it did not get.
		if again, err := wbxml.DecodeEAS(fs.LastAnswer); err == nil {
			return again, nil
		}
		return answer(syncInvalidKey), nil
	case n != fs.Key:
		return answer(syncInvalidKey), nil
	}
	view := c.view(kind, policy)
	if kind == pim.Contacts && !slices.Equal(fs.Folders, policy.ContactFolders) {
		// The policy names other sub-folders: the device's IDs mean
		// nothing now, so it starts the folder over.
		return answer(syncInvalidKey), nil
	}
	ch, err := view.Changes(c.ctx, fs.Point)
	if errors.Is(err, pim.ErrSyncPointInvalid) {
		// The folder was recreated: the device starts over.
		return answer(syncInvalidKey), nil
	}
	if err != nil {
		return nil, err
	}
	changed := map[string]bool{}
	for _, s := range [][]string{ch.Added, ch.Modified, ch.Deleted} {
		for _, x := range s {
			changed[x] = true
		}
	}
	for _, p := range fs.Pending {
		changed[p.ID] = true
	}
	// The device's commands.
	var own []string
	responses := el("", "Responses")
	receives := policy.DirectionOf(kind) != pim.DirServerToDevice
	if cmds := child(coll, "Commands"); cmds != nil {
		var adds []*wbxml.Node
		for _, cmd := range cmds.Children {
			if cmd.Name == "Add" && receives {
				adds = append(adds, cmd) // stored together below
				continue
			}
			r, wrote, err := c.apply(cmd, view, kind, fs, changed, receives, policy)
			if err != nil {
				return nil, err
			}
			own = append(own, wrote...)
			if r != nil {
				responses.Children = append(responses.Children, r)
			}
		}
		rs, wrote, err := c.addAll(adds, view, kind, fs)
		if err != nil {
			return nil, err
		}
		own = append(own, wrote...)
		responses.Children = append(responses.Children, rs...)
	}
	// The store's changes, after what is pending from before.
	pending := slices.Clone(fs.Pending)
	inPending := map[string]bool{}
	for _, p := range pending {
		inPending[p.ID] = true
	}
	wroteNow := map[string]bool{}
	for _, x := range own {
		wroteNow[x] = true
	}
	for _, s := range []struct {
		op  string
		ids []string
	}{{"Add", ch.Added}, {"Change", ch.Modified}, {"Delete", ch.Deleted}} {
		for _, x := range s.ids {
			if wroteNow[x] || inPending[x] {
				continue
			}
			pending = append(pending, change{s.op, x})
		}
	}
	point, err := view.Advance(c.ctx, ch.Point, own)
	if err != nil {
		return nil, err
	}
	if ft := text(child(coll, "Options"), "FilterType"); ft != "" {
		fs.FilterType = ft
	}
	rule := filterOf(kind, policy, fs.FilterType)
	now := c.h.now()
	commands := el("", "Commands")
	getChanges := text(coll, "GetChanges") != "0" && policy.DirectionOf(kind) != pim.DirDeviceToServer
	if getChanges {
		var sent int
		var send []change
		for sent < window && len(pending) > 0 {
			send, pending = append(send, pending[0]), pending[1:]
			sent++
		}
		var ids []string
		for _, p := range send {
			if p.Op != "Delete" {
				ids = append(ids, p.ID)
			}
		}
		items, err := view.Get(c.ctx, ids...)
		if err != nil {
			return nil, err
		}
		byID := map[string]*pim.Item{}
		for i, it := range items {
			if it != nil {
				byID[ids[i]] = it
			}
		}
		for _, p := range send {
			if p.Op == "Delete" {
				commands.Children = append(commands.Children, el("", "Delete", tx("", "ServerId", p.ID)))
				continue
			}
			it := byID[p.ID]
			if it == nil {
				continue // gone since: its Delete follows
			}
			if !rule.Matches(kind, pim.FactsOf(kind, it.Data), now) {
				// Outside the device's filter: not sent, and off the
				// device if it had it.
				if p.Op == "Change" {
					commands.Children = append(commands.Children, el("", "Delete", tx("", "ServerId", p.ID)))
				}
				continue
			}
			commands.Children = append(commands.Children, el("", p.Op, tx("", "ServerId", p.ID),
				el("", "ApplicationData", fieldNodes(fieldsOf(kind, it.Data))...)))
		}
	} else if policy.DirectionOf(kind) == pim.DirDeviceToServer {
		pending = nil // nothing goes to this device
	}
	fs.Pending, fs.Point = pending, point
	fs.LastKey, fs.Key = fs.Key, fs.Key+1
	key = strconv.Itoa(fs.Key)
	var kids []*wbxml.Node
	if len(pending) > 0 && getChanges {
		kids = append(kids, el("", "MoreAvailable"))
	}
	if len(commands.Children) > 0 {
		kids = append(kids, commands)
	}
	if len(responses.Children) > 0 {
		kids = append(kids, responses)
	}
	out := answer(syncOK, kids...)
	if fs.LastAnswer, err = wbxml.EncodeEAS(out); err != nil {
		return nil, err
	}
	if err := c.saveFolder(id, fs); err != nil {
		return nil, err
	}
	return out, nil
}

// apply carries out one command of the device; it returns its response
// (nil: none is due) and the items it wrote.
func (c *call) apply(cmd *wbxml.Node, view pim.View, kind pim.Kind, fs *folderSyncState, changed map[string]bool, receives bool, policy *pim.Policy) (*wbxml.Node, []string, error) {
	sid := text(cmd, "ServerId")
	switch cmd.Name {
	case "Add":
		// Only for a device whose changes are not applied (addAll stores
		// the others).
		fs.Holds = learn(fs.Holds, nodeFields(child(cmd, "ApplicationData")))
		return el("", "Add", tx("", "ClientId", text(cmd, "ClientId")), status("", syncServerError)), nil, nil
	case "Change":
		fields := nodeFields(child(cmd, "ApplicationData"))
		fs.Holds = learn(fs.Holds, fields)
		got, err := view.Get(c.ctx, sid)
		if err != nil {
			return nil, nil, err
		}
		if len(got) == 0 || got[0] == nil {
			return el("", "Change", tx("", "ServerId", sid), status("", syncNotFound)), nil, nil
		}
		if !receives || changed[sid] && policy.Conflict != pim.ConflictDeviceWins {
			// The store's version stays and goes to the device.
			if !slices.ContainsFunc(fs.Pending, func(p change) bool { return p.ID == sid }) {
				fs.Pending = append(fs.Pending, change{"Change", sid})
			}
			return el("", "Change", tx("", "ServerId", sid), status("", syncConflict)), nil, nil
		}
		it := &pim.Item{ID: sid, Data: applyFields(kind, got[0].Data, fields, ghostedOf(kind, fs.Holds), "")}
		if err := view.Put(c.ctx, it); err != nil {
			if errors.Is(err, pim.ErrInvalidItem) {
				return el("", "Change", tx("", "ServerId", sid), status("", syncProtocolError)), nil, nil
			}
			return nil, nil, err
		}
		return nil, []string{sid}, nil
	case "Delete":
		if !receives {
			fs.Pending = append(fs.Pending, change{"Add", sid})
			return nil, nil, nil
		}
		if changed[sid] && policy.Conflict != pim.ConflictDeviceWins {
			// Changed in the store meanwhile: kept, and sent again.
			fs.Pending = append(fs.Pending, change{"Add", sid})
			return nil, nil, nil
		}
		if _, err := view.Delete(c.ctx, sid); err != nil {
			return nil, nil, err
		}
		return nil, []string{sid}, nil
	case "Fetch":
		got, err := view.Get(c.ctx, sid)
		if err != nil {
			return nil, nil, err
		}
		if len(got) == 0 || got[0] == nil {
			return el("", "Fetch", tx("", "ServerId", sid), status("", syncNotFound)), nil, nil
		}
		return el("", "Fetch", tx("", "ServerId", sid), status("", syncOK),
			el("", "ApplicationData", fieldNodes(fieldsOf(kind, got[0].Data))...)), nil, nil
	}
	return nil, nil, nil
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
func (c *call) addAll(adds []*wbxml.Node, view pim.View, kind pim.Kind, fs *folderSyncState) ([]*wbxml.Node, []string, error) {
	if len(adds) == 0 {
		return nil, nil, nil
	}
	items := make([]*pim.Item, len(adds))
	for i, cmd := range adds {
		fields := nodeFields(child(cmd, "ApplicationData"))
		fs.Holds = learn(fs.Holds, fields)
		items[i] = &pim.Item{Data: applyFields(kind, nil, fields, nil, newUID())}
	}
	err := view.Put(c.ctx, items...)
	if err != nil && !errors.Is(err, pim.ErrInvalidItem) {
		return nil, nil, err
	}
	var out []*wbxml.Node
	var own []string
	for i, cmd := range adds {
		cid := text(cmd, "ClientId")
		if err != nil {
			// One of them was refused: each on its own.
			items[i].ID = ""
			if e := view.Put(c.ctx, items[i]); errors.Is(e, pim.ErrInvalidItem) {
				out = append(out, el("", "Add", tx("", "ClientId", cid), status("", syncProtocolError)))
				continue
			} else if e != nil {
				return nil, nil, e
			}
		}
		out = append(out, el("", "Add", tx("", "ClientId", cid), tx("", "ServerId", items[i].ID), status("", syncOK)))
		own = append(own, items[i].ID)
	}
	return out, own, nil
}

// fieldsOf and applyFields pick the mapping of a database.
func fieldsOf(kind pim.Kind, data []byte) []Field {
	switch kind {
	case pim.Contacts:
		return ContactFields(data)
	case pim.Tasks:
		return TaskFields(data)
	}
	return EventFields(data)
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
		all = append(all, fieldCategories, fieldBody)
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
		fs, err := c.loadFolder(id)
		if err != nil {
			return nil, err
		}
		if key, err := strconv.Atoi(strings.TrimSpace(text(coll, "SyncKey"))); err != nil || key == 0 || key != fs.Key {
			resp.Children = append(resp.Children, status("", 4)) // the key: Sync first
			continue
		}
		ch, err := c.view(kind, &policy).Changes(c.ctx, fs.Point)
		if err != nil {
			if errors.Is(err, pim.ErrSyncPointInvalid) {
				resp.Children = append(resp.Children, status("", 4))
				continue
			}
			return nil, err
		}
		n := len(fs.Pending) + len(ch.Added) + len(ch.Modified) + len(ch.Deleted)
		resp.Children = append(resp.Children, status("", 1), el("", "Collection", tx("", "CollectionId", id), tx("", "Estimate", strconv.Itoa(n))))
	}
	return root, nil
}

// newUID names a new event or task that brings no UID.
func newUID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@syncml-imap"
}
