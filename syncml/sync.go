package syncml

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"syncml-imap/internal/vobject"
	"syncml-imap/pim"
)

// dbState is what the server keeps per device and database between
// sessions: the core's replica state and SyncML's own fields, in one
// record (pim.ReplicaKey).
type dbState struct {
	pim.ReplicaState
	ClientNext string // the client's Next anchor of the last completed session
	ServerNext string // ours
	// RxType is the content type the device prefers to receive (from its
	// DevInf), kept for the conversion to its format.
	RxType string `json:",omitempty"`
	// TxForm is the form the device sends items in (used to answer in
	// it when its DevInf says nothing); AllDay how it spells all-day
	// events (vCalendar 1.0).
	TxForm string `json:",omitempty"`
	AllDay string `json:",omitempty"`
	// Sent lists, sorted, the properties the device has sent (as
	// COMPONENT:NAME, see pim.NamesOf): what it holds, so that what it
	// leaves out of an item is a deletion only among these (mergeInfo).
	Sent []string `json:",omitempty"`
	// Tasks: the device sent to-dos in this calendar database, so it
	// keeps them there and gets the mailbox's tasks there too.
	Tasks bool `json:",omitempty"`
	// VCalTZ holds the TZ and DAYLIGHT lines of the device's last
	// vCalendar 1.0 item that had them: its zone, for items without.
	VCalTZ []string `json:",omitempty"`
	// Retry: server changes the device refused in its last session (420
	// device full...), offered again (server item ID → op; sent.go).
	Retry map[string]ChangeOp `json:",omitempty"`
}

// dbSession is one database being synced in a session.
type dbSession struct {
	s            *session
	db           pim.Kind
	clientURI    string // the client's database (Alert Source)
	serverURI    string // what the client calls ours (Alert Target)
	mode         AlertCode
	clientAnchor Anchor
	serverNext   string
	state        *dbState
	view         pim.View
	// rep is the device's replica of the database: its point, map, merge
	// bases and filter facts, and the store's changes since the point.
	rep *pim.Replica
	// outgoing: server item ID → what to send (OpAdd, OpReplace or OpDelete).
	outgoing map[string]ChangeOp
	// items: server contents loaded for matching and sending.
	items map[string][]byte
	// versions: the store version of each item loaded or written in this
	// session, the version a guarded write expects to find (pim.Versioner;
	// none in a store without versions); wrote: those of the session's
	// own writes, which are no change of another writer.
	versions, wrote map[string]string
	// reverts: LUIDs of items a server-to-device device added, to be
	// deleted on it again.
	reverts []string
	dir     pim.Direction // the device's policy for this database
	// received, sent: item changes applied from the device, sent to it.
	received, sent pim.ChangeCounts
	index          *pim.IdentityIndex // built on the first match
	kept           map[string]bool    // items the client sent or matched (refresh from client)

	clientSynced bool
	failed       bool

	// tempIssued: the highest temporary ID (sendableID) of this session.
	tempIssued int

	// resume: the device asked to resume (225); resumed: it does.
	resume, resumed bool
	// pos: the session's position as saved for a resume (nil: not kept,
	// before DS 1.2); resumedRecords: the records of the session resumed.
	pos            *position
	resumedRecords int
	// refused: server changes the device refused (ID → op), to retry.
	refused      map[string]ChangeOp
	refusedCount int
	// sentVersion: versionOf each Add and Replace sent (server ID).
	sentVersion map[string]string
}

// handleAlert handles a sync Alert (package 1) or an Alert 222.
func (s *session) handleAlert(ctx context.Context, out *outbox, a *Alert) {
	code, _ := strconv.Atoi(a.Data)
	ac := AlertCode(code).normalize()
	// A client that suspended or was cut off asks to resume (DS 1.2 Alert
	// 225): from its saved position when there is one (resume.go), else
	// 509 and an ordinary two-way sync (as Synthesis does), whose anchor
	// check then decides between a normal and a slow sync. Nothing of the
	// cut session was committed, so repeating it loses and doubles
	// nothing.
	resume := ac == AlertResume && s.verProto == "SyncML/1.2"
	if resume {
		ac = AlertTwoWay
	}
	if ac == AlertSuspend && s.verProto == "SyncML/1.2" {
		// DS 1.2 suspend: the session ends here without committing
		// anything; its position is saved with the message's end, for
		// the device's later resume (225).
		if !a.NoResp {
			out.status("Alert", a.CmdID, StatusOK)
		}
		s.suspended = true
		s.log.Info("session suspended by the device")
		return
	}
	if ac == AlertNextMessage {
		if !a.NoResp {
			out.status("Alert", a.CmdID, StatusOK)
		}
		s.nextRequested = true
		return
	}
	if !ac.isSync() {
		if !a.NoResp {
			out.status("Alert", a.CmdID, StatusNotSupported)
		}
		return
	}
	if s.phase != phaseInit {
		out.status("Alert", a.CmdID, StatusForbidden)
		return
	}
	s.offerServerDevInf(ctx, out)
	for _, it := range a.Items {
		target, source := locURI(it.Target), locURI(it.Source)
		st := out.status("Alert", a.CmdID, StatusOK)
		st.TargetRef, st.SourceRef = []string{target}, []string{source}
		db, ok := s.srv.resolveDB(target)
		if !ok {
			st.Data = StatusNotFound.String()
			s.log.Info("unknown database", "database", target)
			continue
		}
		d := &dbSession{s: s, db: db, clientURI: source, serverURI: target, mode: ac, resume: resume,
			outgoing: map[string]ChangeOp{}, items: map[string][]byte{}, kept: map[string]bool{},
			versions: map[string]string{}, wrote: map[string]string{}}
		if it.Meta != nil && it.Meta.Anchor != nil {
			d.clientAnchor = *it.Meta.Anchor
		}
		if it.Meta != nil && it.Meta.MaxObjSize > 0 {
			s.maxObj = it.Meta.MaxObjSize
		}
		code := d.start(ctx)
		st.Data = code.String()
		if resume && code == StatusOK && !d.resumed {
			st.Data = StatusResumeNotPossible.String()
		}
		// The Status carries the client's Next back (OMA-TS-DS_Protocol).
		st.Items = []Item{{Data: &Data{XML: anchorElement(Anchor{Next: d.clientAnchor.Next})}}}
		if code == StatusDataStoreFailure {
			s.alertsFailed++ // the database could not start: the session failed
		}
		if code != StatusOK && code != StatusRefreshRequired {
			continue
		}
		if old := s.dbs[db]; old != nil {
			st.Data = StatusForbidden.String() // the same database twice
			continue
		}
		s.dbs[db] = d
		s.order = append(s.order, d)
		var last string
		if d.state != nil {
			last = d.state.ServerNext
		}
		out.add(&Alert{Data: d.mode.String(), Items: []Item{{
			Target: &Loc{LocURI: source},
			Source: &Loc{LocURI: target},
			Meta:   &Meta{Anchor: &Anchor{Last: last, Next: d.serverNext}},
		}}})
	}
}

func locURI(l *Loc) string {
	if l == nil {
		return ""
	}
	return l.LocURI
}

func anchorElement(a Anchor) *Element {
	e := &Element{Name: "Anchor", NS: NSMetInf}
	e.addText("Last", a.Last)
	e.addText("Next", a.Next)
	return e
}

// anchorLayout is the form of the server's anchors: a UTC time to the
// second, as most servers send (devices only compare them).
const anchorLayout = "20060102T150405Z"

// nextServerAnchor is the server's Next anchor for a session that starts at
// now, after one that ended with the anchor last. It is always later than
// last: a device keeps our anchor and syncs normally only while our Last
// equals it (Synthesis: "must match for normal sync"), so two sessions in
// one second must not share one. Two clients sharing a device ID would
// otherwise each take the other's session for its own and miss its items.
func nextServerAnchor(now time.Time, last string) string {
	next := now.UTC().Truncate(time.Second)
	if prev, err := time.Parse(anchorLayout, last); err == nil && !next.After(prev) {
		next = prev.Add(time.Second)
	}
	return next.Format(anchorLayout)
}

// start decides the sync mode (OMA-TS-DS_Protocol 1.2: anchors, 508) and
// reads the server's changes.
func (d *dbSession) start(ctx context.Context) StatusCode {
	st := d.s.store
	raw, err := st.LoadState(ctx, pim.ReplicaKey(d.s.deviceID, d.db))
	if err != nil {
		d.s.log.Error("load sync state", "database", d.db, "err", err)
		d.s.noteError(d.db, "read the sync state", err)
		return StatusDataStoreFailure
	}
	if raw != nil {
		d.state = &dbState{}
		if err := json.Unmarshal(raw, d.state); err != nil {
			d.s.log.Warn("sync state unreadable, forcing slow sync", "database", d.db, "err", err)
			d.state = nil
		}
	}
	if d.state == nil {
		d.state = &dbState{}
	}
	d.serverNext = nextServerAnchor(d.s.srv.opts.now(), d.state.ServerNext)
	if d.s.verProto == "SyncML/1.2" {
		d.pos = newPosition(d.state)
	}
	d.dir = d.s.policy.DirectionOf(d.db)
	switch {
	case d.dir == pim.DirOff:
		d.s.log.Info("database off for this device by policy", "database", d.db)
		return StatusForbidden
	case d.dir == pim.DirServerToDevice && !d.mode.serverSends(), d.dir == pim.DirDeviceToServer && !d.mode.clientSends():
		d.s.log.Info("sync mode refused by the device's policy", "database", d.db, "mode", int(d.mode), "direction", string(d.dir))
		return StatusNotSupported
	}
	ds := d.datastore(ctx)
	d.view = pim.PolicyView(st, d.db, &d.s.policy, d.db == pim.Calendar && d.carriesTasks(ctx, ds))
	if d.db == pim.Calendar || d.db == pim.Tasks {
		d.view = pim.NewRecurView(d.view, func() bool { return holdsExceptions(d.datastore(ctx)) })
	}
	var folders []string
	if d.db == pim.Contacts {
		folders = d.s.policy.ContactFolders
	}
	d.rep = pim.NewReplica(&d.state.ReplicaState, pim.ReplicaOptions{Store: st, View: d.view, Device: d.s.deviceID,
		Kind: d.db, Folders: folders, User: d.s.user, Cache: d.s.srv.bulks, Log: d.s.log,
		Merge: d.s.policy.Conflict == pim.ConflictMerge})
	d.rep.Refresh = d.refreshing()
	if raw == nil && d.s.policy.BackupFirstSync {
		if code := d.snapshot(ctx); code != StatusOK {
			return code
		}
	}
	code := StatusOK
	var saved *savedPosition
	if d.resume && d.pos != nil {
		saved = d.resumeFrom(ctx)
		d.resumed = saved != nil
	}
	if !d.mode.slow() && !d.resumed {
		switch {
		case d.state.ClientNext == "" || d.state.ClientNext != d.clientAnchor.Last:
			d.s.log.Info("anchor mismatch, slow sync", "database", d.db, "mode", int(d.mode))
			d.setMode(d.mode.slowVariant())
			code = StatusRefreshRequired
		case d.rep.FoldersChanged():
			// The device's item IDs name the folders they came from.
			d.s.log.Info("contact folders changed, slow sync", "database", d.db)
			d.setMode(d.mode.slowVariant())
			code = StatusRefreshRequired
		}
	}
	if d.mode.slow() || d.resumed || !d.quiet(ctx) {
		if code = d.listChanges(ctx, code); code == StatusDataStoreFailure {
			return code
		}
	}
	if ds != nil {
		var candidates []ContentType
		for _, c := range formCandidates(d.db) {
			if convertible(formOfType(c.CTType, c.VerCT), d.db) {
				candidates = append(candidates, c)
			}
		}
		if ct, ok := ds.Preferred(candidates...); ok {
			d.state.RxType = formOfType(ct.CTType, ct.VerCT)
		}
	}
	d.planOutgoing()
	if d.resumed {
		d.applyPosition(ctx, saved)
	}
	return code
}

// quiet reports whether the server has nothing to send (told from the
// point's head alone, so that the sync reads nothing that grows with the
// database): no changes, and no filter to decide again.
func (d *dbSession) quiet(ctx context.Context) bool {
	if d.s.policy.Filter(d.db).Active(d.db) || len(d.state.Retry) > 0 {
		return false
	}
	quiet, err := d.rep.Quiet(ctx)
	if err != nil {
		d.s.log.Warn("quick check for changes failed, listing them", "database", d.db, "err", err)
	}
	return quiet
}

// listChanges reads the bulk record and the server's changes since the
// point (all of them in a slow sync); code is the Alert's status so far,
// 508 when the sync had to become slow.
func (d *dbSession) listChanges(ctx context.Context, code StatusCode) StatusCode {
	reslow, err := d.rep.List(ctx, d.mode.slow())
	if reslow != "" {
		d.s.log.Info(reslow+", slow sync", "database", d.db)
		d.setMode(d.mode.slowVariant())
		code = StatusRefreshRequired
	}
	if err != nil {
		what := "list changes"
		if errors.Is(err, pim.ErrStateUnreadable) {
			what = "read the sync state"
		}
		d.s.log.Error(what, "database", d.db, "err", err)
		d.s.noteError(d.db, what, err)
		return StatusDataStoreFailure
	}
	return code
}

// setMode makes m the database's sync mode.
func (d *dbSession) setMode(m AlertCode) {
	d.mode = m
	d.rep.Refresh = d.refreshing()
}

func (d *dbSession) refreshing() bool {
	return d.mode == AlertRefreshFromServer || d.mode == AlertRefreshFromClient
}

// ensureBulk reads the bulk record of a lazy database when the device's
// changes or Map need its map; false when the database failed.
func (d *dbSession) ensureBulk(ctx context.Context) bool {
	if d.failed {
		return false
	}
	if err := d.rep.Ensure(ctx); err != nil {
		d.fail("read the sync state", err)
		return false
	}
	return true
}

// planOutgoing notes what the server would send, before the client's
// changes are known.
func (d *dbSession) planOutgoing() {
	clear(d.outgoing)
	if !d.sends() {
		return
	}
	changes := d.rep.Changes()
	for _, id := range changes.Added {
		d.outgoing[id] = OpAdd
	}
	for _, id := range changes.Modified {
		d.outgoing[id] = OpReplace
	}
	for _, id := range changes.Deleted {
		d.outgoing[id] = OpDelete
	}
	d.retry()
}

// becomeSlow turns the sync into its slow variant after the client found
// our anchor stale (its 508 to our Alert): the device's IDs are forgotten
// and every mailbox item is listed again, as in a slow sync from the
// start, so that the device's items are matched against all of them.
func (d *dbSession) becomeSlow(ctx context.Context) {
	slow := d.mode.slowVariant()
	if slow == d.mode || d.clientSynced {
		return
	}
	d.setMode(slow)
	if d.pos != nil {
		// Nothing of the resumed or the normal sync goes on.
		d.resumed, d.pos = false, newPosition(d.state)
	}
	if err := d.rep.Restart(ctx); err != nil {
		d.s.log.Error("list changes", "database", d.db, "err", err)
		d.failed = true
		return
	}
	d.index = nil
	d.planOutgoing()
}

// snapshot copies the folders behind the device's view of the database
// aside before its first sync of it (policy backup_before_first_sync).
func (d *dbSession) snapshot(ctx context.Context) StatusCode {
	sn, err := d.s.store.snapshotter(ctx)
	if err != nil {
		d.s.log.Error("backup before first sync: store unavailable: database not synced", "database", d.db, "err", err)
		d.s.noteError(d.db, "backup before first sync", err)
		return StatusDataStoreFailure
	}
	if sn == nil {
		return StatusOK
	}
	// A first session cut short and repeated copies nothing again.
	key := pim.ReplicaKey(d.s.deviceID, d.db) + "/snapshot"
	if done, err := d.s.store.LoadState(ctx, key); err == nil && done != nil {
		return StatusOK
	}
	label := d.s.srv.opts.now().UTC().Format("2006-01-02 150405Z") + " " + d.s.deviceID
	for _, db := range d.view.Databases() {
		n, err := sn.Snapshot(ctx, db, label)
		if err != nil {
			d.s.log.Error("backup before first sync failed: database not synced", "database", db, "err", err)
			d.s.noteError(d.db, "backup before first sync", err)
			return StatusDataStoreFailure
		}
		d.s.log.Info("backup before first sync", "database", db, "items", n, "label", label)
	}
	if err := d.s.store.SaveState(ctx, key, []byte(label)); err != nil {
		d.s.log.Warn("backup before first sync: could not note it", "database", d.db, "err", err)
	}
	return StatusOK
}

// zone is the device's time zone by its policy (nil: not configured).
func (s *session) zone() *time.Location {
	if s.policy.TimeZone == "" {
		return nil
	}
	loc, err := time.LoadLocation(s.policy.TimeZone)
	if err != nil {
		return nil
	}
	return loc
}

// vcalZone remembers the zone (TZ, DAYLIGHT) a vCalendar 1.0 item of the
// device names, and gives it to an item that names none: such a device
// sends local times in the zone it announced before.
func (d *dbSession) vcalZone(data []byte) []byte {
	objs := vobject.Parse(data)
	if len(objs) == 0 || objs[0].Name != "VCALENDAR" {
		return data
	}
	var zone []string
	for _, p := range objs[0].Props {
		if p.Name == "TZ" || p.Name == "DAYLIGHT" {
			zone = append(zone, p.Raw)
		}
	}
	if len(zone) > 0 {
		d.state.VCalTZ = zone
		return data
	}
	if len(d.state.VCalTZ) == 0 {
		return data
	}
	i := bytes.Index(data, []byte("\n"))
	if i < 0 {
		return data
	}
	out := append([]byte(nil), data[:i+1]...)
	for _, l := range d.state.VCalTZ {
		out = append(out, l...)
		out = append(out, '\r', '\n')
	}
	return append(out, data[i+1:]...)
}

// sends reports whether server changes go to the device: the mode says
// so and the policy does not keep the device receive-free.
func (d *dbSession) sends() bool {
	return d.mode.serverSends() && d.dir != pim.DirDeviceToServer
}

// applies reports whether the device's changes are applied to the
// mailbox (not for a server-to-device device: they are reverted).
func (d *dbSession) applies() bool { return d.dir != pim.DirServerToDevice }

// revert answers a change of a server-to-device device: nothing is
// written; the server's version goes back to the device in this session
// (a Replace for an edit, an Add for a delete, a Delete for a new item),
// so the device ends as the mailbox is. Items it merely sends again (slow
// sync, an unchanged echo) are matched as usual.
func (d *dbSession) revert(ctx context.Context, op ChangeOp, luid, guid string, data []byte, st *Status, okCode StatusCode) {
	st.Data = okCode.String()
	switch {
	case op == OpDelete:
		if guid != "" {
			delete(d.state.Map, luid)
			d.pos.touchMap(luid)
			d.outgoing[guid] = OpAdd
		}
		return
	case guid == "":
		if match := d.match(ctx, data); match != "" {
			d.state.Map[luid] = match
			d.pos.touchMap(luid)
			d.kept[match] = true
			if !pim.SameContent(d.items[match], data) {
				d.outgoing[match] = OpReplace
			} else if d.outgoing[match] == OpAdd {
				delete(d.outgoing, match)
			}
			return
		}
		d.reverts = append(d.reverts, luid)
	default:
		d.kept[guid] = true
		if pim.SameContent(d.load(ctx, guid), data) {
			if d.outgoing[guid] == OpAdd {
				delete(d.outgoing, guid)
			}
			return
		}
		d.outgoing[guid] = OpReplace
	}
	d.s.log.Info("device change reverted (server-to-device)", "database", d.db, "op", op, "luid", luid)
}

// carriesTasks decides whether the device's calendar database also
// carries its tasks: it sent to-dos there before, or its DevInf says its
// vCalendar 1.0 calendar takes VTODOs (phones with one datastore for
// both); never when the device has a tasks database of its own.
func (d *dbSession) carriesTasks(ctx context.Context, ds *DataStore) bool {
	if di := d.s.deviceInfo(ctx); di != nil {
		for _, other := range di.DataStores {
			if db, ok := d.s.srv.resolveDB(other.SourceRef); ok && db == pim.Tasks {
				return false
			}
		}
	}
	if d.state.Tasks {
		return true
	}
	if ds == nil {
		return false
	}
	for _, cp := range ds.CTCaps {
		if !strings.EqualFold(cp.CTType, formVCal10) {
			continue
		}
		for _, p := range cp.Properties {
			if strings.EqualFold(p.Name, "BEGIN") && slices.ContainsFunc(p.ValEnums, func(v string) bool { return strings.EqualFold(v, "VTODO") }) {
				return true
			}
		}
	}
	return false
}

// handleSync applies the client's changes to one database (package 3).
func (s *session) handleSync(ctx context.Context, out *outbox, sy *Sync) {
	target, source := locURI(sy.Target), locURI(sy.Source)
	var d *dbSession
	if db, ok := s.srv.resolveDB(target); ok {
		d = s.dbs[db]
	}
	if d != nil && len(sy.Commands) > 0 {
		d.ensureBulk(ctx) // the device's IDs are needed now
	}
	code := StatusOK
	switch {
	case d == nil:
		code = StatusNotFound
	case d.failed:
		code = StatusDataStoreFailure
	}
	if !sy.NoResp {
		st := out.status("Sync", sy.CmdID, code)
		st.TargetRef, st.SourceRef = []string{target}, []string{source}
	}
	if code != StatusOK {
		for _, c := range sy.Commands {
			if !noResp(c) {
				out.status(c.CmdName(), c.ID(), code)
			}
		}
		return
	}
	if s.phase == phaseInit {
		s.phase = phaseClientSync
	}
	d.clientSynced = true
	d.applyClientChanges(ctx, out, sy.Commands)
}

// pendingPut is a client item waiting to be stored in one batch.
type pendingPut struct {
	item   *pim.Item
	status *Status
	luid   string
	okCode StatusCode
	// guarded: the item replaces the stored one read at version want,
	// and is written only if it is still there (storeGuarded); device
	// and form are the device's item as it came, resolved again as a
	// conflict when another writer came in between.
	guarded bool
	want    string
	device  []byte
	form    string
}

// replacing is the pendingPut of data replacing stored item guid as read
// (guarded when the store keeps versions); device is the device's item as
// it came, data what is written (merged with what was stored).
func (d *dbSession) replacing(guid, luid, form string, device, data []byte, st *Status, okCode StatusCode) *pendingPut {
	p := &pendingPut{item: &pim.Item{ID: guid, Data: data}, status: st, luid: luid, okCode: okCode}
	if v := d.versions[guid]; v != "" {
		p.guarded, p.want, p.device, p.form = true, v, device, form
	}
	return p
}

// changedMeanwhile reports whether stored item guid, as loaded, is not at
// the version the session's listing saw (or its own write left): another
// writer (a DAV client, a mail client, another session) changed it since
// the changes to send were planned, so the device's change of it is a
// conflict like one of an item changed before the session.
func (d *dbSession) changedMeanwhile(guid string) bool {
	loaded := d.versions[guid]
	if loaded == "" {
		return false // no versions, or an item the view cannot name at one
	}
	want, ok := d.expectedVersion(guid)
	return ok && loaded != want
}

// expectedVersion is the version item guid has unless another writer
// changed it: the one the session's own write left, else the one its
// listing saw ("": none); false when the store cannot tell.
func (d *dbSession) expectedVersion(guid string) (string, bool) {
	if v, ok := d.wrote[guid]; ok {
		return v, true
	}
	return d.rep.ListedVersion(guid)
}

func (d *dbSession) applyClientChanges(ctx context.Context, out *outbox, cmds []Command) {
	// The stored versions of the items the client replaces (for conflicts
	// and the merge) come in one read, not one round trip per item.
	var known []string
	for _, c := range cmds {
		if ch, ok := c.(*Change); ok && ch.Op == OpReplace {
			for _, it := range ch.Items {
				if g := d.state.Map[locURI(it.Source)]; g != "" {
					known = append(known, g)
				}
			}
		}
	}
	d.loadAll(ctx, known)
	var batch []*pendingPut
	for _, c := range cmds {
		ch, ok := c.(*Change)
		if !ok {
			if !noResp(c) {
				out.status(c.CmdName(), c.ID(), StatusNotImplemented)
			}
			continue
		}
		for _, it := range ch.Items {
			st := &Status{Cmd: string(ch.Op), CmdRef: ch.CmdID, Data: StatusOK.String()}
			luid := locURI(it.Source)
			if luid == "" {
				luid = locURI(it.Target)
			}
			if it.Source != nil {
				st.SourceRef = []string{it.Source.LocURI}
			}
			if it.Target != nil {
				st.TargetRef = []string{it.Target.LocURI}
			}
			if !ch.NoResp {
				out.addStatus(st)
			}
			if !d.mode.clientSends() {
				st.Data = StatusCommandNotAllowed.String()
				continue
			}
			if luid == "" {
				st.Data = StatusIncompleteCommand.String()
				continue
			}
			it, ch, done := d.chunk(out, ch, it, luid, st)
			if !done {
				continue
			}
			if data, ok := itemData(ch, it); ok && int64(len(data)) > d.s.srv.opts.MaxObjSize {
				st.Data = StatusEntityTooLarge.String()
				continue
			}
			if d.failed {
				st.Data = StatusDataStoreFailure.String()
				continue
			}
			if p := d.applyOne(ctx, ch, it, luid, st); p != nil {
				batch = append(batch, p)
			}
			if d.failed {
				st.Data = StatusDataStoreFailure.String()
			}
		}
	}
	d.storeBatch(ctx, batch)
}

// itemData returns an item's content, decoded when it came base64.
func itemData(ch *Change, it Item) ([]byte, bool) {
	if it.Data == nil {
		return nil, false
	}
	format := ""
	if it.Meta != nil {
		format = it.Meta.Format
	}
	if format == "" && ch.Meta != nil {
		format = ch.Meta.Format
	}
	if strings.EqualFold(format, "b64") {
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(it.Data.Text), ""))
		if err != nil {
			return nil, false
		}
		return b, true
	}
	return restoreCRLF([]byte(it.Data.Text)), true
}

// restoreCRLF gives vCard and iCalendar text back the CRLF line ends they
// require (RFC 6350, 5545) when XML parsing turned them into LF (XML
// normalizes line ends, even in CDATA): text with LF and no CR at all.
// Sizes the client announced for chunked items count the CRLFs.
func restoreCRLF(b []byte) []byte {
	if bytes.IndexByte(b, '\r') >= 0 || bytes.IndexByte(b, '\n') < 0 {
		return b
	}
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// applyOne handles one client Add, Replace or Delete. Puts are returned
// to be stored in a batch.
func (d *dbSession) applyOne(ctx context.Context, ch *Change, it Item, luid string, st *Status) *pendingPut {
	guid := d.state.Map[luid]
	switch ch.Op {
	case OpDelete:
		if !d.applies() {
			d.revert(ctx, ch.Op, luid, guid, nil, st, StatusOK)
			return nil
		}
		d.applyDelete(ctx, luid, guid, st)
		return nil
	case OpAdd, OpReplace:
		data, form, ok := d.canonicalOf(ch, it, st)
		if !ok {
			return nil
		}
		okCode := StatusOK
		if ch.Op == OpAdd || guid == "" {
			okCode = StatusItemAdded
		}
		if !d.applies() {
			d.revert(ctx, ch.Op, luid, guid, data, st, okCode)
			return nil
		}
		if guid == "" {
			return d.applyUnmapped(ctx, ch.Op, luid, data, st, okCode)
		}
		return d.applyMapped(ctx, ch.Op, luid, guid, form, data, st, okCode)
	}
	st.Data = StatusNotImplemented.String()
	return nil
}

// applyDelete deletes the item the device mapped to luid.
func (d *dbSession) applyDelete(ctx context.Context, luid, guid string, st *Status) {
	if guid == "" {
		st.Data = StatusItemNotDeleted.String()
		return
	}
	delete(d.state.Map, luid)
	d.pos.touchMap(luid)
	if op := d.outgoing[guid]; op == OpReplace || op == OpAdd {
		// Changed on the server, deleted on the device: the server's
		// version wins and goes back to the device as new.
		d.outgoing[guid] = OpAdd
		st.Data = StatusConflictServerWon.String()
		return
	}
	delete(d.outgoing, guid)
	if err := d.deleteListed(ctx, guid); errors.Is(err, pim.ErrVersionMismatch) {
		// Changed by another writer since the session listed it: the
		// change is not lost with the device's deletion, it goes back to
		// the device as new.
		d.s.log.Info("item deleted on the device changed in the store meanwhile: kept", "database", d.db, "id", guid)
		d.outgoing[guid] = OpAdd
		st.Data = StatusConflictServerWon.String()
		return
	} else if err != nil {
		d.fail("delete item", err)
		st.Data = StatusDataStoreFailure.String()
		return
	}
	d.rep.Deleted(guid)
	d.pos.agreed(guid, "")
	d.received.Count(OpDelete)
}

// deleteListed deletes item guid if it is still at the version the
// session's listing saw (or its own write left), when the store keeps
// versions; ErrVersionMismatch when another writer changed it meanwhile.
// An item already gone is no error.
func (d *dbSession) deleteListed(ctx context.Context, guid string) error {
	if want, ok := d.expectedVersion(guid); ok && want != "" {
		err := d.rep.DeleteVersion(ctx, guid, want)
		if errors.Is(err, pim.ErrNotFound) {
			return nil
		}
		if !errors.Is(err, pim.ErrUnversioned) {
			return err
		}
	}
	_, err := d.view.Delete(ctx, guid)
	return err
}

// canonicalOf is the item of an Add or Replace in the stored form, and
// the device's form of it; what it learns of the device's forms (all-day
// spelling, carried tasks, properties it sends) goes into the state. It
// sets the status when the item is missing or cannot be converted.
func (d *dbSession) canonicalOf(ch *Change, it Item, st *Status) (data []byte, form string, ok bool) {
	data, ok = itemData(ch, it)
	if !ok || len(bytes.TrimSpace(data)) == 0 {
		st.Data = StatusIncompleteCommand.String()
		return nil, "", false
	}
	form, objs := formOf(metaTypeOf(ch, it), data)
	var main *vobject.Object
	if form == formVCard30 && isVCard30(objs) {
		// Stored as it came (the common card): parsed once.
		main = objs[0]
	} else {
		if form == formVCal10 {
			data = d.vcalZone(data)
		}
		canonical, allDay, err := toCanonical(form, data, d.s.zone())
		if err != nil {
			d.s.log.Info("item not convertible", "database", d.db, "form", form, "err", err)
			st.Data = StatusUnsupportedMediaType.String()
			return nil, "", false
		}
		if allDay != "" {
			d.state.AllDay = allDay
		}
		data = canonical
		main = pim.MainObject(data)
	}
	if uv, ok := d.view.(pim.TaskCarrier); ok && d.db == pim.Calendar && pim.IsTaskOnly(data) {
		// A to-do in the calendar: the device keeps tasks there. Its
		// own are folded into the tasks point at commit; the mailbox's
		// other tasks follow from the next session on.
		d.state.Tasks = true
		uv.CarryTasks()
	}
	if form != "" {
		d.state.TxForm = form
	}
	d.state.Sent = pim.AddNames(d.state.Sent, pim.NamesOf(main))
	return data, form, true
}

// applyUnmapped applies an item not known under its LUID: one the server
// may already have (slow sync, a repeated interrupted session), else a
// new one.
func (d *dbSession) applyUnmapped(ctx context.Context, op ChangeOp, luid string, data []byte, st *Status, okCode StatusCode) *pendingPut {
	match := d.matchNew(ctx, data)
	if match == "" {
		return &pendingPut{item: &pim.Item{Data: data}, status: st, luid: luid, okCode: okCode}
	}
	d.state.Map[luid] = match
	d.pos.touchMap(luid)
	d.kept[match] = true
	if op == OpReplace {
		okCode = StatusOK // the item was there: replaced, not added
	}
	if pim.SameContent(d.items[match], data) {
		d.agreed(match, d.items[match])
		st.Data = okCode.String()
		return nil
	}
	// Same item, other content: the server's version stays and goes to
	// the device (slow-sync match, server wins).
	if !d.sends() {
		// Refresh/one-way from client: the device's version wins.
		return &pendingPut{item: &pim.Item{ID: match, Data: data}, status: st, luid: luid, okCode: okCode}
	}
	d.outgoing[match] = OpReplace
	st.Data = okCode.String()
	return nil
}

// agreed records that the device holds the server's version of guid:
// nothing goes to it, and the version is the merge base.
func (d *dbSession) agreed(guid string, data []byte) {
	delete(d.outgoing, guid)
	d.rep.Agree(guid, data)
	d.pos.agreed(guid, pim.ContentVersion(data))
}

// applyMapped applies an Add or Replace of an item the device mapped to
// guid.
func (d *dbSession) applyMapped(ctx context.Context, op ChangeOp, luid, guid, form string, data []byte, st *Status, okCode StatusCode) *pendingPut {
	d.kept[guid] = true
	switch d.outgoing[guid] {
	case OpAdd:
		if d.mode == AlertSlowSync {
			// A slow sync resends everything: the device's item under a
			// LUID we mapped is a match, merged into the server's item like
			// any other slow-sync match (the server's version stays), not a
			// conflict that would keep a duplicate.
			if !pim.SameContent(d.load(ctx, guid), data) {
				d.outgoing[guid] = OpReplace
			} else {
				d.agreed(guid, d.items[guid])
			}
			st.Data = okCode.String()
			return nil
		}
		return d.applyConflict(ctx, luid, guid, form, data, st)
	case OpReplace:
		return d.applyConflict(ctx, luid, guid, form, data, st)
	case OpDelete:
		// Deleted on the server, changed on the device: keep the
		// device's version rather than lose it.
		delete(d.outgoing, guid)
	}
	if d.resumed && op == OpAdd && d.outgoing[guid] == "" && pim.SameContent(d.load(ctx, guid), data) {
		// Applied in the session resumed; its status did not reach
		// the device, which sends the item again.
		st.Data = okCode.String()
		return nil
	}
	stored := d.load(ctx, guid)
	if stored == nil {
		return &pendingPut{item: &pim.Item{ID: guid, Data: data}, status: st, luid: luid, okCode: okCode}
	}
	if d.changedMeanwhile(guid) {
		d.s.log.Info("item changed in the store since the session listed it", "database", d.db, "id", guid)
		return d.applyConflict(ctx, luid, guid, form, data, st)
	}
	// What the device does not carry stays as stored.
	merged := pim.MergeKept(stored, data, mergeInfo(d.datastore(ctx), form, stored, d.state.AllDay, d.state.Sent))
	return d.replacing(guid, luid, form, data, merged, st, okCode)
}

// applyConflict applies a device's change of an item the server changed
// too: a conflict, unless both say the same, decided by the policy.
func (d *dbSession) applyConflict(ctx context.Context, luid, guid, form string, data []byte, st *Status) *pendingPut {
	server := d.load(ctx, guid)
	if pim.SameContent(server, data) {
		d.agreed(guid, server)
		st.Data = StatusOK.String()
		return nil
	}
	device := data
	if server != nil {
		data = pim.MergeKept(server, data, mergeInfo(d.datastore(ctx), form, server, d.state.AllDay, d.state.Sent))
	}
	res, result := d.resolveConflict(ctx, guid, server, data)
	code := resolutionStatus(res)
	d.s.log.Info("conflict", "database", d.db, "id", guid, "policy", string(d.s.policy.Conflict), "resolution", code.String())
	switch res {
	case pim.DeviceWins:
		delete(d.outgoing, guid)
		return d.replacing(guid, luid, form, device, result, st, code)
	case pim.Merged:
		// Stored, and sent back: the device has only its half.
		d.outgoing[guid] = OpReplace
		return d.replacing(guid, luid, form, device, result, st, code)
	case pim.KeepBoth:
		d.outgoing[guid] = OpReplace
		return &pendingPut{item: &pim.Item{Data: data}, status: st, okCode: code}
	}
	d.outgoing[guid] = OpReplace
	st.Data = code.String()
	return nil
}

// storeBatch stores the collected items: new ones and those of a store
// without versions in one store call, replacements of items read at a
// version one by one at that version (storeGuarded).
func (d *dbSession) storeBatch(ctx context.Context, batch []*pendingPut) {
	var guarded []*pendingPut
	batch = slices.DeleteFunc(batch, func(p *pendingPut) bool {
		if p.guarded {
			guarded = append(guarded, p)
		}
		return p.guarded
	})
	d.storePlain(ctx, batch)
	d.storeGuarded(ctx, guarded)
}

// storePlain stores items in one store call (one MULTIAPPEND), falling
// back to one by one to tell which item failed.
func (d *dbSession) storePlain(ctx context.Context, batch []*pendingPut) {
	if len(batch) == 0 {
		return
	}
	items := make([]*pim.Item, len(batch))
	for i, p := range batch {
		items[i] = p.item
	}
	if err := d.rep.Put(ctx, items...); err != nil {
		if !errors.Is(err, pim.ErrInvalidItem) {
			// The store failed, not an item: every item of the batch is
			// answered 510 (the device sends them again), and the database
			// commits nothing. What the store wrote before it failed is
			// found by content when the device sends it again.
			d.fail("store items", err)
			for _, p := range batch {
				p.status.Data = StatusDataStoreFailure.String()
			}
			return
		}
		// An item the store refuses: store the others one by one.
		d.s.log.Warn("batch refused, storing one by one", "database", d.db, "err", err)
		for _, p := range batch {
			if d.failed {
				p.status.Data = StatusDataStoreFailure.String()
				continue
			}
			err := d.rep.Put(ctx, p.item)
			switch {
			case errors.Is(err, pim.ErrInvalidItem):
				d.s.log.Warn("item refused", "database", d.db, "luid", p.luid, "err", err)
				p.status.Data = StatusUnsupportedMediaType.String()
				p.item.ID = ""
			case err != nil:
				d.fail("store item", err)
				p.status.Data = StatusDataStoreFailure.String()
			default:
				d.stored(p)
			}
		}
		return
	}
	for _, p := range batch {
		d.stored(p)
	}
}

// guardedTries bounds how often a device's change is resolved again
// against an item other writers keep changing; between tries the session
// waits a little (guardedPause, growing, with jitter) so that a writer in
// a loop does not win every time.
const (
	guardedTries = 8
	guardedPause = 30 * time.Millisecond
)

// storeGuarded writes the device's replacements of stored items, each
// only if the item is still at the version it was read (and merged or
// resolved) at, all in one store call. When another writer changed one in
// between, it is read again and the device's change resolved against it
// as a conflict (the policy decides; by default merged field by field),
// so that the other write is never overwritten unseen; the result goes
// back to the device. What is resolved again is written in the next
// round, after a short pause.
func (d *dbSession) storeGuarded(ctx context.Context, batch []*pendingPut) {
	for try := 1; len(batch) > 0; try++ {
		if d.failed {
			for _, p := range batch {
				p.status.Data = StatusDataStoreFailure.String()
			}
			return
		}
		items, wants := make([]*pim.Item, len(batch)), make([]string, len(batch))
		for i, p := range batch {
			items[i], wants[i] = p.item, p.want
		}
		errs, err := d.rep.PutVersions(ctx, items, wants)
		if errors.Is(err, pim.ErrUnversioned) {
			d.storePlain(ctx, batch)
			return
		}
		if err != nil {
			d.fail("store items", err)
			for _, p := range batch {
				p.status.Data = StatusDataStoreFailure.String()
			}
			return
		}
		var plain, again []*pendingPut
		for i, p := range batch {
			err := errs[i]
			switch {
			case err == nil:
				d.stored(p)
			case errors.Is(err, pim.ErrUnversioned):
				plain = append(plain, p)
			case errors.Is(err, pim.ErrInvalidItem):
				d.s.log.Warn("item refused", "database", d.db, "luid", p.luid, "err", err)
				p.status.Data = StatusUnsupportedMediaType.String()
			case errors.Is(err, pim.ErrVersionMismatch) && try < guardedTries:
				d.s.log.Info("item changed in the store while the device's change was applied: resolved again", "database", d.db, "id", p.item.ID, "try", try)
				again = append(again, p)
			case errors.Is(err, pim.ErrVersionMismatch):
				// Written over again and again meanwhile (for a second
				// or more): the database's sync fails, as on a store
				// failure, and commits nothing (SyncEvolution ends the
				// whole session on a 409 or 503 for an item and drops the
				// change on a 420). SyncEvolution then asks its user for a
				// slow sync, in which the server's version of a match
				// stays: the change is not written over the other
				// writer's, but it is not merged either.
				d.fail("store item", fmt.Errorf("item %s changed by another writer at each of %d tries: %w", p.item.ID, guardedTries, err))
				p.status.Data = StatusDataStoreFailure.String()
			default:
				d.fail("store item", err)
				p.status.Data = StatusDataStoreFailure.String()
			}
		}
		d.storePlain(ctx, plain)
		if len(again) == 0 {
			return
		}
		select {
		case <-time.After(time.Duration(try) * (guardedPause + rand.N(guardedPause))):
		case <-ctx.Done():
			d.fail("store items", ctx.Err())
			for _, p := range again {
				p.status.Data = StatusDataStoreFailure.String()
			}
			return
		}
		batch = batch[:0:0]
		ids := make([]string, len(again))
		for i, p := range again {
			ids[i] = p.item.ID
			delete(d.items, p.item.ID)
			delete(d.versions, p.item.ID)
		}
		d.loadAll(ctx, ids) // one read for all of them
		for _, p := range again {
			next := d.applyConflict(ctx, p.luid, p.item.ID, p.form, p.device, p.status)
			switch {
			case next == nil || d.failed:
				// The server's item stays (and goes to the device), or the
				// read failed.
			case !next.guarded:
				d.storePlain(ctx, []*pendingPut{next}) // a duplicate kept, or the item is gone
			default:
				batch = append(batch, next)
			}
		}
	}
}

func (d *dbSession) stored(p *pendingPut) {
	p.status.Data = p.okCode.String()
	d.rep.Stored(p.item)
	if p.guarded && p.item.Version != "" {
		// Kept for a replacement only (what another writer may change
		// too), not for every item of a slow sync.
		d.versions[p.item.ID], d.wrote[p.item.ID] = p.item.Version, p.item.Version
		d.rep.WroteAt(p.item.ID, p.item.Version)
	}
	if p.okCode == StatusItemAdded || p.luid == "" {
		d.received.Count(OpAdd)
	} else {
		d.received.Count(OpReplace)
	}
	if p.luid == "" || d.s.policy.Filter(d.db).Active(d.db) {
		// Kept for what reads it later in the session: a duplicate is
		// sent to the device, a filter decides on what changed. Else
		// not: a slow sync of 100,000 items would hold them all. (What
		// was read of the item before is stale now either way: a merged
		// item goes back to the device as stored.)
		d.items[p.item.ID] = p.item.Data
	} else {
		delete(d.items, p.item.ID)
	}
	d.kept[p.item.ID] = true
	if p.luid != "" {
		d.state.Map[p.luid] = p.item.ID
		d.pos.touchMap(p.luid)
	} else {
		// A conflict duplicate: the device gets it as a new item.
		d.outgoing[p.item.ID] = OpAdd
	}
	if _, sending := d.outgoing[p.item.ID]; !sending {
		d.pos.agreed(p.item.ID, pim.ContentVersion(p.item.Data))
	}
}

// loadAll reads the items not cached yet, in one store call. An item
// that does not exist (any more) is cached as nil.
func (d *dbSession) loadAll(ctx context.Context, ids []string) {
	var missing []string
	for _, id := range ids {
		if _, ok := d.items[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return
	}
	got, err := d.view.Get(ctx, missing...)
	if err != nil {
		// A merge or a match on a missing value would write wrong data:
		// the database's sync stops here and commits nothing.
		d.fail("read items", err)
		return
	}
	for i, it := range got {
		if it != nil {
			d.items[missing[i]] = it.Data
			d.versions[missing[i]] = it.Version
		} else {
			d.items[missing[i]] = nil
			delete(d.versions, missing[i])
		}
	}
}

// load returns a server item's content (cached). nil: the item does not
// exist, or it could not be read (then the database has failed).
func (d *dbSession) load(ctx context.Context, id string) []byte {
	d.loadAll(ctx, []string{id})
	return d.items[id]
}

// fail stops the database's sync: nothing more of the device is applied
// to it, nothing is sent for it, and nothing of it is committed; the next
// sync repeats it.
func (d *dbSession) fail(what string, err error) {
	if !d.failed {
		d.s.log.Error(what+": the database's sync stops, nothing of it is committed", "database", d.db, "err", err)
		d.s.noteError(d.db, what, err)
	}
	d.failed = true
}

// match finds a server item the client's new item is the same as: one
// not mapped to another LUID of this device, with the same UID, or the
// same identity fields (name; summary and start; summary and due), see
// pim.IdentityIndex. The candidates are indexed once per session.
func (d *dbSession) match(ctx context.Context, data []byte) string {
	if d.index == nil {
		d.buildIndex(ctx)
	}
	return d.index.Match(data)
}

func (d *dbSession) buildIndex(ctx context.Context) {
	ids := d.candidates(ctx)
	d.index = pim.NewIdentityIndex(d.db)
	for _, g := range d.state.Map {
		d.index.Take(g)
	}
	for _, id := range ids {
		d.index.Add(id, d.items[id])
	}
}

// candidates are the server items a client item may match: in a slow or
// refresh sync every item, else the server's own new items (an earlier
// session cut short may have stored what the client now sends again).
func (d *dbSession) candidates(ctx context.Context) []string {
	var ids []string
	ids = append(ids, d.rep.Changes().Added...)
	ids = append(ids, d.rep.Changes().Modified...)
	d.loadAll(ctx, ids)
	return ids
}

// finishClientSide runs when the client's changes are all in. A refresh
// from the client removes the server items the client did not send.
func (d *dbSession) finishClientSide(ctx context.Context) {
	if d.mode != AlertRefreshFromClient {
		return
	}
	var gone []string
	for _, id := range d.rep.Changes().Added {
		if !d.kept[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return
	}
	if _, err := d.view.Delete(ctx, gone...); err != nil {
		d.fail("refresh from client: delete", err)
		return
	}
	d.rep.Deleted(gone...)
	for luid, g := range d.state.Map {
		for _, id := range gone {
			if g == id {
				delete(d.state.Map, luid)
			}
		}
	}
}

// serverSync plans the server's Sync for this database (package 4): its
// commands are produced as the messages take them (changeFeed).
func (d *dbSession) serverSync(ctx context.Context) []Command {
	if d.sends() && !d.failed {
		d.applyFilter(ctx)
	}
	if d.failed {
		// Without the filter's decisions nothing is sent (not everything):
		// the database is not committed and the next sync decides again.
		return []Command{&Sync{Target: &Loc{LocURI: d.clientURI}, Source: &Loc{LocURI: d.serverURI}}}
	}
	feed := d.planSends()
	sy := &Sync{Target: &Loc{LocURI: d.clientURI}, Source: &Loc{LocURI: d.serverURI}}
	if d.s.verDTD != "1.0" { // NumberOfChanges came with SyncML 1.1
		n := feed.announced
		sy.NumberOfChanges = &n
	}
	return []Command{&outgoingSync{Sync: sy, feed: feed}}
}

// form is the form items go to this device in: its DevInf's preferred
// receive type, else the form it sends, else the stored form.
func (d *dbSession) form() string {
	switch {
	case d.state.RxType != "" && convertible(d.state.RxType, d.db):
		return d.state.RxType
	case d.state.TxForm != "" && convertible(d.state.TxForm, d.db):
		return d.state.TxForm
	}
	return canonicalForm(d.db)
}

// formCandidates are the types the server sends for a database, its own
// first.
func formCandidates(db pim.Kind) []ContentType {
	switch db {
	case "contacts":
		return []ContentType{{"text/vcard", "3.0"}, {"text/x-vcard", "2.1"}, {formSIFC, "1.0"}}
	case "tasks":
		return []ContentType{{"text/calendar", "2.0"}, {"text/x-vcalendar", "1.0"}, {formSIFT, "1.0"}}
	}
	return []ContentType{{"text/calendar", "2.0"}, {"text/x-vcalendar", "1.0"}, {formSIFE, "1.0"}}
}

// metaTypeOf is an item's declared media type (item Meta, else command).
func metaTypeOf(ch *Change, it Item) string {
	if it.Meta != nil && it.Meta.Type != "" {
		return it.Meta.Type
	}
	if ch.Meta != nil {
		return ch.Meta.Type
	}
	return ""
}

// datastore is the device's DevInf datastore for this database, if known.
func (d *dbSession) datastore(ctx context.Context) *DataStore {
	di := d.s.deviceInfo(ctx)
	if di == nil {
		return nil
	}
	return di.DataStore(d.clientURI)
}

// sendableID is the ID an item is added to the device under: its own, or
// a short temporary one ("#n") when the device's MaxGUIDSize is smaller;
// the device's Map is translated back (OMA-TS-DS_Protocol: MaxGUIDSize;
// Synthesis does the same).
func (d *dbSession) sendableID(ctx context.Context, id string) string {
	ds := d.datastore(ctx)
	if ds == nil || ds.MaxGUIDSize <= 0 || len(id) <= ds.MaxGUIDSize {
		return id
	}
	// Never one issued before in this session: the package is produced
	// as it is sent, so a Map may have freed one meanwhile, and a device
	// that sends that Map item again must not point it at another item.
	for n := max(len(d.state.TempIDs), d.tempIssued) + 1; ; n++ {
		tmp := "#" + strconv.Itoa(n)
		if _, used := d.state.TempIDs[tmp]; !used && len(tmp) <= ds.MaxGUIDSize {
			d.state.TempIDs[tmp] = id
			d.pos.touchTemp(tmp)
			d.tempIssued = n
			return tmp
		}
		if len(tmp) > ds.MaxGUIDSize {
			d.s.log.Warn("MaxGUIDSize too small even for a temporary ID", "max", ds.MaxGUIDSize)
			return id
		}
	}
}

// isTempID reports whether id has the shape of a temporary ID
// (sendableID): "#" and digits.
func isTempID(id string) bool {
	if len(id) < 2 || id[0] != '#' {
		return false
	}
	_, err := strconv.Atoi(id[1:])
	return err == nil
}

// handleMap records the client's IDs for the server's new items.
func (s *session) handleMap(ctx context.Context, out *outbox, m *Map) {
	st := out.status("Map", m.CmdID, StatusOK)
	st.TargetRef, st.SourceRef = []string{m.Target.LocURI}, []string{m.Source.LocURI}
	db, ok := s.srv.resolveDB(m.Target.LocURI)
	d := s.dbs[db]
	if !ok || d == nil {
		st.Data = StatusNotFound.String()
		return
	}
	if !d.ensureBulk(ctx) {
		st.Data = StatusDataStoreFailure.String()
		return
	}
	for _, mi := range m.MapItems {
		if mi.Source == "" || mi.Target == "" {
			continue
		}
		target := mi.Target
		if real, ok := d.state.TempIDs[target]; ok {
			target = real
			delete(d.state.TempIDs, mi.Target)
			d.pos.touchTemp(mi.Target)
		} else if isTempID(target) {
			// A temporary ID of an earlier life of the device (its slow
			// sync forgot them): its item is matched by content instead.
			continue
		}
		d.state.Map[mi.Source] = target
		d.pos.touchMap(mi.Source)
		if v, ok := d.sentVersion[target]; ok {
			d.pos.agreed(target, v) // the device has it (its status may not have come)
		}
	}
}

// commit keeps each database's anchors, map and sync point: the session
// is complete. A session cut before this point is simply repeated.
func (s *session) commit(ctx context.Context) {
	s.done = true
	if s.superseded.Load() {
		s.log.Info("session replaced by a newer one of the device: nothing committed")
		return
	}
	now := s.srv.opts.now().UTC()
	for _, d := range s.order {
		if d.failed {
			continue
		}
		if err := d.commitState(ctx, now); err != nil {
			d.fail("commit: save state", err)
			continue
		}
		if d.pos != nil {
			d.dropPosition(ctx, max(d.pos.seq, d.resumedRecords))
		}
		s.log.Info("sync complete", "database", d.db, "mode", int(d.mode), "from_device", len(d.rep.Own()), "items", d.state.Items)
	}
	// The slot changes only when the device describes itself anew; its
	// sync times are the database states' (Devices.fill).
	if s.slot != nil && s.devinf != nil && slotFromDevInf(s.slot, s.devinf) {
		if err := pim.NewDevices(s.store, s.srv.opts.MaxDevices).Save(ctx, s.slot); err != nil {
			s.log.Error("commit: save device slot", "err", err)
		}
	}
}

// commitState writes the database's state at the end of the session: its
// anchors always (one small record), and what the session changed of its
// replica (pim.Replica.Commit). In one-way from the client the server's
// changes were not sent, so they stay pending; the same when the policy
// keeps the device receive-free: what it was not sent stays pending, for
// when the policy changes.
func (d *dbSession) commitState(ctx context.Context, now time.Time) error {
	d.state.ClientNext, d.state.ServerNext = d.clientAnchor.Next, d.serverNext
	if d.sends() {
		d.state.Retry = d.refused // what was not refused again went
	}
	pending := !d.sends() && d.mode != AlertRefreshFromClient
	d.rep.State.Last = &pim.SyncSummary{Mode: modeName(d.mode), FromDevice: d.received, ToDevice: d.sent}
	return d.rep.Commit(ctx, now, pending, d.state)
}
