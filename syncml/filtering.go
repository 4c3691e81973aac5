package syncml

import (
	"context"
	"slices"
	"syncml-imap/pim"
	"time"
)

// Filters decide which server items a device is meant to have (contact
// categories, a calendar window, open tasks only). The device's state
// keeps each item's facts, so every session re-decides without reading
// the items again: time moves events in and out of the window, and the
// policy may change between syncs. An item that stops matching is deleted
// on the device only; one that starts matching is added to it. Items the
// device made itself outside the filter stay on it (only a change from
// matching to not matching removes an item).

// applyFilter adjusts what goes to the device (d.outgoing) to the
// device's filter. It runs before the server's changes are sent. A
// session with nothing changed and the same rule within the hour reads
// and writes nothing more.
func (d *dbSession) applyFilter(ctx context.Context) {
	rule := d.s.policy.Filter(d.db)
	if !rule.Active(d.db) {
		if d.state.Filter != nil {
			d.liftFilter(ctx)
		}
		return
	}
	p := &filterPass{db: d.db, rule: rule, now: d.s.srv.opts.now().UTC(), old: d.state.Filter, slow: d.mode.slow()}
	// Items whose facts are (re)read: every item when there is nothing
	// to go on, else what changed on either side in this session.
	deleted := false
	for id, op := range d.outgoing {
		if op != OpDelete {
			p.read = append(p.read, id)
		}
		deleted = deleted || op == OpDelete
	}
	p.read = append(p.read, d.rep.Own()...)
	old := p.old
	sameRule := old != nil && slices.Equal(old.Rule.Categories, rule.Categories) && old.Rule.Past == rule.Past &&
		old.Rule.Future == rule.Future && old.Rule.OpenOnly == rule.OpenOnly
	p.fresh = sameRule && !p.slow && p.now.Sub(old.At) < time.Hour && !p.now.Before(old.At)
	if p.fresh && len(p.read) == 0 && !deleted {
		return // nothing to decide
	}
	if !d.readFacts(ctx, p) {
		return
	}
	added, removed := d.decideFilter(p)
	if added+removed > 0 {
		d.s.log.Info("filter", "database", d.db, "entering", added, "leaving", removed)
	}
	at := p.now
	if p.fresh {
		at = old.At
	}
	d.state.Filter = &pim.FilterState{Rule: rule, At: at}
	if p.dirty {
		d.rep.SetFacts(p.facts)
	}
}

// filterPass is one session's run of a device's filter.
type filterPass struct {
	db          pim.Kind
	rule        pim.FilterRule
	now         time.Time
	old         *pim.FilterState // the rule at the last sync, nil when none
	slow, fresh bool             // fresh: the same rule decided within the hour
	read        []string         // the items whose facts are read again
	facts       map[string]pim.ItemFacts
	known       bool                     // there were facts to go on
	prev        map[string]pim.ItemFacts // the earlier facts of those read again
	reread      map[string]bool
	dirty       bool // facts to be saved
}

// liftFilter sends the device what a filter, lifted now, kept from it.
func (d *dbSession) liftFilter(ctx context.Context) {
	facts, err := d.rep.Facts(ctx)
	if err != nil {
		d.s.log.Error("filter: read facts", "database", d.db, "err", err)
		d.failed = true
		return
	}
	has := d.rep.Has()
	for id := range facts {
		if !has[id] && d.outgoing[id] == "" {
			d.outgoing[id] = OpAdd
		}
	}
	d.state.Filter = nil
	d.rep.SetFacts(nil)
}

// readFacts loads the facts kept of the database's items and reads again
// those of p.read; with nothing kept (a slow sync, a new filter), those
// of every item. false: the store failed (logged, the database fails).
func (d *dbSession) readFacts(ctx context.Context, p *filterPass) bool {
	if p.old != nil && !p.slow {
		var err error
		if p.facts, err = d.rep.Facts(ctx); err != nil {
			d.s.log.Error("filter: read facts", "database", d.db, "err", err)
			d.failed = true
			return false
		}
	}
	p.known = p.facts != nil
	p.prev = map[string]pim.ItemFacts{}
	if p.facts == nil {
		p.facts = map[string]pim.ItemFacts{}
		p.fresh = false
		if p.slow {
			p.read = append([]string(nil), d.rep.Changes().Added...)
		} else {
			all, err := d.view.Changes(ctx, nil)
			if err != nil {
				d.s.log.Error("filter: list items", "database", d.db, "err", err)
				d.failed = true
				return false
			}
			p.read = all.Added
		}
	}
	d.loadAll(ctx, p.read)
	p.dirty = !p.known
	p.reread = make(map[string]bool, len(p.read))
	for _, id := range p.read {
		p.reread[id] = true
		if f, ok := p.facts[id]; ok {
			p.prev[id] = f
		}
		p.dirty = true
		if data := d.items[id]; data != nil {
			p.facts[id] = pim.FactsOf(d.db, data)
		} else {
			delete(p.facts, id)
		}
	}
	for id, op := range d.outgoing {
		if _, ok := p.facts[id]; ok && op == OpDelete {
			delete(p.facts, id)
			p.dirty = true
		}
	}
	return true
}

// decideFilter sends the device the items entering its filter and
// deletes on it those leaving. Every item is decided again when the rule
// changed or time moved on (by the hour: windows are counted in days);
// otherwise only the items read again can have changed their minds.
func (d *dbSession) decideFilter(p *filterPass) (added, removed int) {
	decide := p.facts
	if p.fresh {
		decide = map[string]pim.ItemFacts{}
		for _, id := range p.read {
			if f, ok := p.facts[id]; ok {
				decide[id] = f
			}
		}
	}
	has := d.rep.Has()
	for id, f := range decide {
		in := p.rule.Matches(d.db, f, p.now)
		switch {
		case in && !has[id]:
			if d.outgoing[id] == "" || d.outgoing[id] == OpReplace {
				d.outgoing[id] = OpAdd
				added++
			}
		case in:
		case has[id]:
			if p.matchedBefore(id, f) {
				d.outgoing[id] = OpDelete
				removed++
			}
		default:
			delete(d.outgoing, id)
		}
	}
	return added, removed
}

// matchedBefore reports whether an item the device has, with facts f now,
// was for the device at the last sync: what it matched then (a filter
// just switched on: it had everything).
func (p *filterPass) matchedBefore(id string, f pim.ItemFacts) bool {
	if p.old == nil || p.slow || !p.known {
		return !p.slow
	}
	of, ok := p.prev[id]
	if !ok && !p.reread[id] {
		of, ok = f, true // unchanged since
	}
	if !ok {
		return false // new since: the device's own, or not sent
	}
	return p.old.Rule.Matches(p.db, of, p.old.At)
}
