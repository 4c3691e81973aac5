package syncml

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"syncml-imap/pim"
)

// Suspend and resume (OMA-TS-DS_Protocol 1.2, Alert 224 and 225). A
// session of a DS 1.2 device keeps its position in the mailbox's state as
// it goes: at the end of every client message, what that message settled
// (the server changes the device acknowledged, the device's changes
// applied, the LUIDs mapped, the temporary IDs issued) is written as one
// small record, resume+1, resume+2... of the device's database. Nothing
// is written for a message that settled nothing, so a sync where nothing
// changed writes no such record, and a session that completes removes
// its records after its commit. The records are a journal, not the
// truth: the mailbox and the committed state are. They only save a
// resumed session from sending and taking again what was exchanged.
//
// A device that suspended (224) or was cut off asks to resume with 225
// and the anchors of the session (Synthesis clients save their position
// at the end of every request, so a cut connection is resumable too). If
// the records are there and belong to the committed state the session
// started from, the server answers 200 and goes on: its changes are
// those since the last committed sync point less what the device
// acknowledged at the version it still is, and the device's changes are
// applied as usual, those applied before recognised by LUID (never
// stored twice). Otherwise, or while a chunked item was under way (its
// chunks are not kept; a Synthesis client would continue it in the
// middle), 509 and an ordinary sync, as Synthesis servers do.

// resumeKey names record seq of a database's position.
func resumeKey(deviceID string, db pim.Kind, seq int) string {
	return pim.ReplicaKey(deviceID, db) + "/resume+" + strconv.Itoa(seq)
}

// maxResumeRecords bounds the records a resume reads (one per message of
// the session, the first one summing up the session it resumed).
const maxResumeRecords = 10000

// resumeRecord is what one client message settled of a session.
type resumeRecord struct {
	// Token names the session (a resumed one gets its own and writes the
	// sum of the one it resumes as its first record): a chain of records
	// is those from resume+1 on with the same token.
	Token string
	Mode  AlertCode
	// ClientLast, ServerLast: the committed anchors (state ClientNext,
	// ServerNext) the session started from.
	ClientLast, ServerLast string
	// Agreed: server item ID → versionOf what the device and the mailbox
	// both have now ("": neither has it).
	Agreed map[string]string `json:",omitempty"`
	// The device's IDs mapped (LUID → server ID) and unmapped, and the
	// temporary IDs issued and resolved.
	MapSet  map[string]string `json:",omitempty"`
	MapDel  []string          `json:",omitempty"`
	TempSet map[string]string `json:",omitempty"`
	TempDel []string          `json:",omitempty"`
	// Chunking: a chunked item was under way either way.
	Chunking bool `json:",omitempty"`
}

// position is a database's position in its session: what is saved, and
// what the session settled since the last save.
type position struct {
	token                  string
	seq                    int // records written
	clientLast, serverLast string
	agreedNow              map[string]string
	mapTouched, tempTouch  map[string]bool
	chunking               bool // the last record said so
}

func newPosition(st *dbState) *position {
	var b [8]byte
	rand.Read(b[:])
	return &position{token: hex.EncodeToString(b[:]), clientLast: st.ClientNext, serverLast: st.ServerNext}
}

// agreed notes that the device and the mailbox now have version of id.
func (p *position) agreed(id, version string) {
	if p == nil || id == "" {
		return
	}
	if p.agreedNow == nil {
		p.agreedNow = map[string]string{}
	}
	p.agreedNow[id] = version
}

// touchMap notes a change of the device's map at luid; touchTemp of
// its temporary IDs at tmp.
func (p *position) touchMap(luid string) {
	if p != nil {
		p.mapTouched = touched(p.mapTouched, luid)
	}
}

func (p *position) touchTemp(tmp string) {
	if p != nil {
		p.tempTouch = touched(p.tempTouch, tmp)
	}
}

func touched(set map[string]bool, key string) map[string]bool {
	if key == "" {
		return set
	}
	if set == nil {
		set = map[string]bool{}
	}
	set[key] = true
	return set
}

// resumable reports whether the session keeps a position: DS 1.2 (224
// and 225 came with it), and a mode whose resume cannot remove what
// the device sent before (a refresh from the client deletes what it did
// not send in this session). A filtered database is not resumed either:
// what the filter sent in the first part is not kept.
func (d *dbSession) resumable() bool {
	return d.s.verProto == "SyncML/1.2" && (d.mode == AlertTwoWay || d.mode == AlertSlowSync) &&
		d.state.Filter == nil && !d.s.policy.Filter(d.db).Active(d.db)
}

// savePositions writes what each database's part of the message settled
// (the end of a client message: its statuses are in, its changes
// applied, the reply's temporary IDs issued). chunking: the reply or
// the message leaves a chunked item half sent.
func (s *session) savePositions(ctx context.Context, chunking bool) {
	if s.superseded.Load() || s.done && !s.suspended {
		return
	}
	for _, d := range s.order {
		p := d.pos
		if p == nil || d.failed || !d.resumable() {
			continue
		}
		ch := chunking || s.partial != nil && s.partial.db == d
		if len(p.agreedNow) == 0 && len(p.mapTouched) == 0 && len(p.tempTouch) == 0 && ch == p.chunking {
			continue
		}
		r := &resumeRecord{Token: p.token, Mode: d.mode, ClientLast: p.clientLast, ServerLast: p.serverLast,
			Agreed: p.agreedNow, Chunking: ch}
		for luid := range p.mapTouched {
			if g, ok := d.state.Map[luid]; ok {
				if r.MapSet == nil {
					r.MapSet = map[string]string{}
				}
				r.MapSet[luid] = g
			} else {
				r.MapDel = append(r.MapDel, luid)
			}
		}
		for tmp := range p.tempTouch {
			if g, ok := d.state.TempIDs[tmp]; ok {
				if r.TempSet == nil {
					r.TempSet = map[string]string{}
				}
				r.TempSet[tmp] = g
			} else {
				r.TempDel = append(r.TempDel, tmp)
			}
		}
		slices.Sort(r.MapDel)
		slices.Sort(r.TempDel)
		raw, err := json.Marshal(r)
		if err != nil {
			continue
		}
		if p.seq >= maxResumeRecords {
			continue // beyond what a resume reads: the session is repeated instead
		}
		if err := s.store.SaveState(ctx, resumeKey(s.deviceID, d.db, p.seq+1), raw); err != nil {
			// Not fatal: a resume then finds the position short, and
			// repeats what it lacks (recognised by content).
			s.log.Warn("save the session's position", "database", d.db, "err", err)
			continue
		}
		p.seq++
		p.agreedNow, p.mapTouched, p.tempTouch, p.chunking = nil, nil, nil, ch
	}
}

// dropPosition removes the database's position records (its session
// completed, or they cannot be resumed).
func (d *dbSession) dropPosition(ctx context.Context, n int) {
	for seq := 1; seq <= n; seq++ {
		if err := d.s.store.DeleteState(ctx, resumeKey(d.s.deviceID, d.db, seq)); err != nil {
			d.s.log.Warn("remove the session's position", "database", d.db, "err", err)
		}
	}
}

// savedPosition is a position read back: the sum of its records.
type savedPosition struct {
	resumeRecord
	records int
}

// loadPosition reads the database's position records: the chain from
// resume+1 on. nil when there is none.
func (d *dbSession) loadPosition(ctx context.Context) (*savedPosition, error) {
	var sum *savedPosition
	const batch = 32
	for next := 1; next <= maxResumeRecords; next += batch {
		keys := make([]string, batch)
		for i := range keys {
			keys[i] = resumeKey(d.s.deviceID, d.db, next+i)
		}
		raws, err := d.s.store.LoadStates(ctx, keys...)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			raw := raws[k]
			if raw == nil {
				return sum, nil
			}
			var r resumeRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				d.s.log.Warn("session position unreadable", "database", d.db, "key", k, "err", err)
				return sum, nil
			}
			if sum == nil {
				sum = &savedPosition{resumeRecord: resumeRecord{Token: r.Token, ClientLast: r.ClientLast, ServerLast: r.ServerLast,
					Agreed: map[string]string{}, MapSet: map[string]string{}, TempSet: map[string]string{}}}
			}
			if r.Token != sum.Token {
				return sum, nil // an older session's record beyond this one's
			}
			sum.records++
			sum.Mode, sum.Chunking = r.Mode, r.Chunking
			maps.Copy(sum.Agreed, r.Agreed)
			for _, l := range r.MapDel {
				delete(sum.MapSet, l)
				sum.MapDel = append(sum.MapDel, l)
			}
			maps.Copy(sum.MapSet, r.MapSet)
			for _, t := range r.TempDel {
				delete(sum.TempSet, t)
				sum.TempDel = append(sum.TempDel, t)
			}
			maps.Copy(sum.TempSet, r.TempSet)
		}
	}
	return sum, nil
}

// resumeFrom decides whether the device's resume (225) can go on from
// the saved position; it then sets the session's mode and returns the
// position. nil: it cannot (the caller answers 509 and syncs anew), and
// what was saved is removed.
func (d *dbSession) resumeFrom(ctx context.Context) *savedPosition {
	sp, err := d.loadPosition(ctx)
	if err != nil {
		d.s.log.Warn("read the session's position: not resumed", "database", d.db, "err", err)
		return nil
	}
	reason := ""
	switch {
	case sp == nil:
		reason = "no saved position"
	case sp.ClientLast != d.state.ClientNext || sp.ServerLast != d.state.ServerNext:
		reason = "a later session committed"
	case sp.Mode != AlertSlowSync && d.clientAnchor.Last != "" && d.clientAnchor.Last != d.state.ClientNext:
		reason = "anchor mismatch"
	case sp.Mode != AlertSlowSync && d.state.ClientNext == "":
		reason = "no committed anchors"
	case sp.Chunking:
		reason = "a chunked item was under way"
	case d.db == pim.Contacts && !slices.Equal(d.state.Folders, d.s.policy.ContactFolders):
		reason = "contact folders changed"
	}
	if reason == "" {
		d.mode = sp.Mode
		if !d.resumable() {
			reason = "not resumable"
		}
	}
	if reason != "" {
		d.s.log.Info("resume not possible, ordinary sync", "database", d.db, "reason", reason)
		if sp != nil {
			d.dropPosition(ctx, sp.records)
		}
		return nil
	}
	d.s.log.Info("session resumed", "database", d.db, "mode", int(d.mode), "settled", len(sp.Agreed), "mapped", len(sp.MapSet))
	return sp
}

// applyPosition continues from the saved position once the bulk is
// read and the server's changes since the committed point are planned:
// the map and temporary IDs as the first part left them, and nothing
// planned that the device has at its version already. The position is
// written again as the first record of this session (the records of the
// first part go with this session's at its end).
func (d *dbSession) applyPosition(ctx context.Context, sp *savedPosition) {
	if d.state.Map == nil {
		d.state.Map = map[string]string{}
	}
	if d.state.TempIDs == nil {
		d.state.TempIDs = map[string]string{}
	}
	for _, l := range sp.MapDel {
		delete(d.state.Map, l)
	}
	maps.Copy(d.state.Map, sp.MapSet)
	for _, t := range sp.TempDel {
		delete(d.state.TempIDs, t)
	}
	maps.Copy(d.state.TempIDs, sp.TempSet)
	var load []string
	for id, op := range d.outgoing {
		v, ok := sp.Agreed[id]
		switch {
		case !ok:
		case op == OpDelete:
			if v == "" {
				delete(d.outgoing, id)
			}
		case v != "":
			load = append(load, id)
		}
	}
	d.loadAll(ctx, load)
	for _, id := range load {
		if pim.ContentVersion(d.items[id]) == sp.Agreed[id] {
			delete(d.outgoing, id)
		}
	}
	// This session's first record sums up the first part.
	p := d.pos
	p.agreedNow = maps.Clone(sp.Agreed)
	for l := range sp.MapSet {
		p.touchMap(l)
	}
	for _, l := range sp.MapDel {
		p.touchMap(l)
	}
	for t := range sp.TempSet {
		p.touchTemp(t)
	}
	for _, t := range sp.TempDel {
		p.touchTemp(t)
	}
	d.resumedRecords = sp.records
}
