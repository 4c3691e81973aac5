package syncml

import (
	"context"
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

// filterState is kept in dbState while a filter is active.
type filterState struct {
	Rule  filterRule           // the rule at the last sync
	At    time.Time            // when it was applied
	Facts map[string]itemFacts // every item of the database
}

// applyFilter adjusts what goes to the device (d.outgoing) to the
// device's filter. It runs before the server's changes are sent.
func (d *dbSession) applyFilter(ctx context.Context) {
	rule := d.s.policy.filter(d.db)
	now := d.s.srv.opts.now().UTC()
	old := d.state.Filter
	if !rule.active(d.db) {
		if old != nil {
			// The filter was lifted: what it kept from the device goes to
			// it now.
			has := d.deviceHas()
			for id := range old.Facts {
				if !has[id] && d.outgoing[id] == "" {
					d.outgoing[id] = "Add"
				}
			}
			d.state.Filter = nil
		}
		return
	}
	slow := d.mode.slow()
	facts := map[string]itemFacts{}
	if old != nil && !slow {
		for id, f := range old.Facts {
			facts[id] = f
		}
	}
	// Items whose facts are (re)read: every item when there is nothing
	// to go on, else what changed on either side in this session.
	var read []string
	if old == nil || slow {
		if slow {
			read = append(read, d.changes.Added...)
		} else {
			all, err := d.view.Changes(ctx, nil)
			if err != nil {
				d.s.log.Error("filter: list items", "database", d.db, "err", err)
				d.failed = true
				return
			}
			read = all.Added
		}
	} else {
		for id, op := range d.outgoing {
			if op != "Delete" {
				read = append(read, id)
			}
		}
		read = append(read, d.own...)
	}
	d.loadAll(ctx, read)
	for _, id := range read {
		if data := d.items[id]; data != nil {
			facts[id] = factsOf(d.db, data)
		} else {
			delete(facts, id)
		}
	}
	for id, op := range d.outgoing {
		if op == "Delete" {
			delete(facts, id)
		}
	}
	has := d.deviceHas()
	added, removed := 0, 0
	for id, f := range facts {
		in := rule.matches(d.db, f, now)
		switch {
		case in && !has[id]:
			if d.outgoing[id] == "" || d.outgoing[id] == "Replace" {
				d.outgoing[id] = "Add"
				added++
			}
		case in:
		case has[id]:
			// Not for the device any more, if it was before: what it
			// matched then (a filter just switched on: it had everything).
			was := !slow
			if old != nil && !slow {
				if of, ok := old.Facts[id]; ok {
					was = old.Rule.matches(d.db, of, old.At)
				} else {
					was = false // new since: the device's own, or not sent
				}
			}
			if was {
				d.outgoing[id] = "Delete"
				removed++
			}
		default:
			delete(d.outgoing, id)
		}
	}
	if added+removed > 0 {
		d.s.log.Info("filter", "database", d.db, "entering", added, "leaving", removed)
	}
	d.state.Filter = &filterState{Rule: rule, At: now, Facts: facts}
}

// deviceHas is the set of server items the device has (mapped, or sent
// under a temporary ID).
func (d *dbSession) deviceHas() map[string]bool {
	has := make(map[string]bool, len(d.state.Map))
	for _, g := range d.state.Map {
		has[g] = true
	}
	for _, g := range d.state.TempIDs {
		has[g] = true
	}
	return has
}
