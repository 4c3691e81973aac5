package syncml

import (
	"context"
	"slices"
	"syncml-imap/pim"
)

// The server's changes (package 4) are produced as the messages take
// them, not all at once: serverSync plans what to send (IDs and ops, small
// strings), and the outbox pulls the commands from a changeFeed, which
// reads the items from the store a batch at a time. So a session that
// sends a device 100,000 items holds about one message of them, not
// 100,000 items, their converted forms and their commands.

// plannedChange is one change the server means to send.
type plannedChange struct {
	id   string   // server item ID
	op   ChangeOp // OpAdd, OpReplace or OpDelete
	luid string   // the device's ID of the item, if it has one
}

// Bounds of a batch: the items read in one store call, at most
// feedBatch; after the first batch as many as weigh about feedBytes
// (the items seen so far tell their size). The first batch is small: a
// database of photos must not read 100 of them to fill one message.
const (
	feedBatch = 100
	feedFirst = 16
	feedBytes = 1 << 20
)

// changeFeed produces one database's outgoing changes in plan order.
type changeFeed struct {
	d       *dbSession
	form    string // the device's form (dbSession.form, when planned)
	plan    []plannedChange
	reverts []string // LUIDs to delete on the device, after the plan
	// announced is what NumberOfChanges said; produced, what came of it.
	announced, produced int
	read, readBytes     int // items read so far and their size, for the batch size
	done                bool
}

// outgoingSync is a Sync of the server in session.pending: Commands holds
// what was produced and not yet placed, feed produces the rest. It lives
// only in pending (never encoded): the outbox places its parts as *Sync.
type outgoingSync struct {
	*Sync
	feed *changeFeed
}

// planSends turns d.outgoing into the feed of the server's changes:
// sorted by ID, a Delete only of what the device has, the reverts last.
func (d *dbSession) planSends() *changeFeed {
	// The device's IDs of what is sent (a pass over the map, but no
	// reverse map of all of it).
	luidOf := make(map[string]string, len(d.outgoing))
	for luid, g := range d.state.Map {
		if _, ok := d.outgoing[g]; ok {
			luidOf[g] = luid
			continue
		}
		// An exception the device has, of an item that changed and no
		// longer holds it (recur.go): deleted on the device.
		if base, key := pim.RecurID(g); key != "" {
			if op, ok := d.outgoing[base]; ok && op != OpAdd {
				d.outgoing[g] = OpDelete
				luidOf[g] = luid
			}
		}
	}
	sends := make([]string, 0, len(d.outgoing))
	for id := range d.outgoing {
		sends = append(sends, id)
	}
	slices.Sort(sends)
	f := &changeFeed{d: d, form: d.form(), reverts: d.reverts}
	for _, id := range sends {
		p := plannedChange{id: id, op: d.outgoing[id], luid: luidOf[id]}
		if p.op == OpDelete && p.luid == "" {
			continue // the device never had it
		}
		f.plan = append(f.plan, p)
	}
	// From here on contents are needed only to be sent: what matching,
	// merges and the filter read of other items goes (load reads it
	// again, should the device still send a change), and so does the
	// match index built on them.
	for id := range d.items {
		if op := d.outgoing[id]; op != OpAdd && op != OpReplace {
			delete(d.items, id)
		}
	}
	d.index = nil
	f.announced = len(f.plan) + len(f.reverts)
	return f
}

// next produces the next batch of commands; nil when there are no more,
// or when the database failed (nothing more is sent for it then; the
// Sync ends with what was sent, and the database commits nothing).
func (f *changeFeed) next(ctx context.Context) []Command {
	for !f.done && !f.d.failed {
		var cmds []Command
		switch {
		case len(f.plan) > 0:
			n := f.batchLen()
			cmds = f.produce(ctx, f.plan[:n])
			f.plan = f.plan[n:]
		case len(f.reverts) > 0:
			n := min(len(f.reverts), feedBatch)
			for _, luid := range f.reverts[:n] {
				cmds = append(cmds, f.emit(&Change{Op: OpDelete, Items: []Item{{Target: &Loc{LocURI: luid}}}}))
			}
			f.reverts = f.reverts[n:]
		default:
			f.finish()
		}
		if len(cmds) > 0 {
			return cmds
		}
	}
	return nil
}

// batchLen is how many planned changes the next batch takes: at most
// feedBatch, and items to read of about feedBytes in all.
func (f *changeFeed) batchLen() int {
	loads := feedFirst
	if f.read > 0 {
		loads = min(feedBatch, max(1, feedBytes*f.read/max(1, f.readBytes)))
	}
	n := 0
	for n < len(f.plan) && n < feedBatch && loads > 0 {
		if f.plan[n].op != OpDelete {
			loads--
		}
		n++
	}
	return n
}

// finish ends the feed. NumberOfChanges was announced from the plan,
// before the items were read: an item deleted from the mailbox meanwhile
// (or larger than the device's MaxObjSize) is not sent, and the count was
// then too high. That is the least bad: devices show their progress with
// it, and a count too high leaves a progress bar short of its end, while
// a command made up to keep the count true could change the device's
// data. The Final of the package ends the Sync all the same; the log
// says what happened.
func (f *changeFeed) finish() {
	f.done = true
	if f.produced != f.announced && f.d.s.verDTD != "1.0" {
		f.d.s.log.Warn("fewer changes sent than announced in NumberOfChanges: items gone or too large meanwhile",
			"database", f.d.db, "announced", f.announced, "sent", f.produced)
	}
}

// emit counts a command as sent.
func (f *changeFeed) emit(c *Change) Command {
	f.produced++
	f.d.sent.Count(c.Op)
	return c
}

// produce reads the batch's items (those not in d.items already) in one
// store call and makes their commands. What an item's sending changes
// (the map, the agreed version, temporary IDs) happens here, once per
// item sent. The contents do not stay in d.items: a command holds the
// device's form of the item until its message is encoded.
func (f *changeFeed) produce(ctx context.Context, batch []plannedChange) []Command {
	d := f.d
	data, ok := f.load(ctx, batch)
	if !ok {
		return nil
	}
	var cmds []Command
	for _, p := range batch {
		if p.op == OpDelete {
			c := &Change{Op: OpDelete, Items: []Item{{Target: &Loc{LocURI: p.luid}}}}
			d.s.track(c, &sentItem{d: d, id: p.id, op: OpDelete, luid: p.luid})
			cmds = append(cmds, f.emit(c))
			delete(d.state.Map, p.luid) // noted for a resume once the device confirms it
			d.rep.Agree(p.id, nil)
			continue
		}
		raw := data[p.id]
		switch {
		case raw == nil:
			continue // gone meanwhile
		case d.s.maxObj > 0 && int64(len(raw)) > d.s.maxObj:
			d.s.log.Warn("item larger than the client's MaxObjSize, not sent", "database", d.db, "id", p.id,
				"size", sizeLabel(len(raw)), "max", d.s.maxObj)
			continue
		}
		c := d.changeOf(ctx, p, f.form, raw)
		if d.mode == AlertTwoWay || d.mode == AlertOneWayFromServer {
			// An item read newer than the listing saw it (a conflict sent
			// back): the point takes the version sent. A slow or refresh
			// sync does not look (its listing is every item; a resend next
			// time is harmless).
			d.rep.SentAt(p.id, d.versions[p.id])
		}
		v := pim.ContentVersion(raw)
		d.s.track(c, &sentItem{d: d, id: p.id, op: c.Op, luid: p.luid, version: v})
		if d.sentVersion == nil {
			d.sentVersion = map[string]string{}
		}
		d.sentVersion[p.id] = v
		cmds = append(cmds, f.emit(c))
	}
	return cmds
}

// load returns the contents of the batch's items to send, from d.items
// (which they leave) or from the store; nil for an item that is gone.
// false: the store failed, and with it the database.
func (f *changeFeed) load(ctx context.Context, batch []plannedChange) (map[string][]byte, bool) {
	d := f.d
	data := make(map[string][]byte, len(batch))
	var missing []string
	for _, p := range batch {
		if p.op == OpDelete {
			continue
		}
		if raw, ok := d.items[p.id]; ok {
			data[p.id] = raw
			delete(d.items, p.id) // its version stays in d.versions
		} else {
			missing = append(missing, p.id) // once: the plan's IDs are a map's keys
		}
	}
	if len(missing) > 0 {
		got, err := d.view.Get(ctx, missing...)
		if err != nil {
			d.fail("read items", err)
			return nil, false
		}
		incremental := d.mode == AlertTwoWay || d.mode == AlertOneWayFromServer
		for i, it := range got {
			if it != nil {
				data[missing[i]] = it.Data
				if incremental && it.Version != "" {
					d.versions[missing[i]] = it.Version
				}
			}
		}
	}
	for _, raw := range data {
		f.read++
		f.readBytes += len(raw)
	}
	return data, true
}

// changeOf is the Add or Replace that sends a server item to the device
// in its form (or as stored, when it does not convert).
func (d *dbSession) changeOf(ctx context.Context, p plannedChange, form string, raw []byte) *Change {
	data, typ, ver, err := fromCanonical(form, d.db, raw, d.state.AllDay)
	if err != nil {
		d.s.log.Warn("item not convertible to the device's form, sent as stored", "database", d.db, "id", p.id, "form", form, "err", err)
		data, typ, ver, _ = fromCanonical("", d.db, raw, "")
	}
	meta := &Meta{Type: typ, Version: ver}
	d.rep.Agree(p.id, raw)
	if p.luid != "" && d.mode != AlertRefreshFromServer {
		return &Change{Op: OpReplace, Meta: meta,
			Items: []Item{{Target: &Loc{LocURI: p.luid}, Source: &Loc{LocURI: p.id}, Data: &Data{Text: string(data)}}}}
	}
	return &Change{Op: OpAdd, Meta: meta,
		Items: []Item{{Source: &Loc{LocURI: d.sendableID(ctx, p.id)}, Data: &Data{Text: string(data)}}}}
}
