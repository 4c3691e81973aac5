package syncml

// The device answers each server Add, Replace and Delete with a Status
// (OMA-TS-DS_Protocol 1.2, 6.9). What it accepted is on the device; what
// it refused (420 device full, 5xx, a 4xx other than 418 "already
// exists", which is a match) is not: the item is not recorded as the
// device's, and the next sync offers it again (dbState.Retry). A refused
// item is logged and counted, never a failure of the sync: a full phone
// must not stop the items it still takes. The statuses also tell a
// suspended session what the device has (resume.go).

// sentItem is one server change sent to the device, until its status.
type sentItem struct {
	d       *dbSession
	id      string   // server item ID
	op      ChangeOp // OpAdd, OpReplace or OpDelete
	luid    string   // the device's ID (Replace, Delete)
	version string   // versionOf the content sent (Add, Replace)
}

// track notes a change produced for the device; its CmdID is known once
// its message is numbered (numbered).
func (s *session) track(c *Change, it *sentItem) {
	if s.producing == nil {
		s.producing = map[*Change]*sentItem{}
	}
	s.producing[c] = it
}

// carry moves the tracking of a chunked change to its rest: the
// device's status for the last chunk is the item's.
func (s *session) carry(from, to *Change) {
	if it, ok := s.producing[from]; ok {
		delete(s.producing, from)
		s.producing[to] = it
	}
}

// numbered keys a placed change by the MsgRef and CmdRef its status
// will carry.
func (s *session) numbered(msgID string, c *Change) {
	it, ok := s.producing[c]
	if !ok {
		return
	}
	delete(s.producing, c)
	if s.awaiting == nil {
		s.awaiting = map[string]*sentItem{}
	}
	s.awaiting[msgID+"/"+c.CmdID] = it
}

// itemStatus takes the device's answer to a server change.
func (s *session) itemStatus(st *Status, code StatusCode) {
	key := st.MsgRef + "/" + st.CmdRef
	it, ok := s.awaiting[key]
	if !ok || code == StatusChunkAccepted {
		return
	}
	delete(s.awaiting, key)
	d := it.d
	if d.failed {
		return
	}
	switch {
	case it.op == OpDelete:
		// Gone from the device, or it never had it (211, 404).
		if code < 300 || code == StatusNotFound {
			d.pos.agreed(it.id, "")
			d.pos.touchMap(it.luid)
			return
		}
		d.state.Map[it.luid] = it.id // it still has the item
		d.refuse(it, code)
	case code < 300 || code == StatusAlreadyExists || code == StatusConflictServerWon:
		d.pos.agreed(it.id, it.version)
	default:
		d.refuse(it, code)
	}
}

// refuse notes a server change the device did not take: offered again
// at the next sync.
func (d *dbSession) refuse(it *sentItem, code StatusCode) {
	d.s.log.Info("device refused an item: offered again at the next sync", "database", d.db, "op", it.op, "id", it.id, "status", int(code))
	if d.refused == nil {
		d.refused = map[string]ChangeOp{}
	}
	d.refused[it.id] = it.op
	d.refusedCount++
	if it.op == OpAdd {
		d.rep.Agree(it.id, nil) // the device has no version of it
	}
}

// retry plans again what the device refused in its last session.
func (d *dbSession) retry() {
	for id, op := range d.state.Retry {
		if _, ok := d.outgoing[id]; !ok {
			d.outgoing[id] = op
		}
	}
}
