package syncml

import (
	"context"
	"encoding/json"
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

// filterState is kept in dbState while a filter is active. The facts of
// the items live in a record of their own (factsKey), read only when a
// session has something to decide.
type filterState struct {
	Rule pim.FilterRule // the rule at the last sync
	At   time.Time      // when every item was last decided under it
}

func factsKey(deviceID, db string) string { return stateKey(deviceID, db) + "/facts" }

// loadFacts reads the device's facts for the database (nil when none).
func (d *dbSession) loadFacts(ctx context.Context) (map[string]pim.ItemFacts, error) {
	raw, err := d.s.store.LoadState(ctx, factsKey(d.s.deviceID, d.db))
	if err != nil || raw == nil {
		return nil, err
	}
	facts := map[string]pim.ItemFacts{}
	if err := json.Unmarshal(raw, &facts); err != nil {
		d.s.log.Warn("filter facts unreadable: every item is read again", "database", d.db, "err", err)
		return nil, nil
	}
	return facts, nil
}

// applyFilter adjusts what goes to the device (d.outgoing) to the
// device's filter. It runs before the server's changes are sent. A
// session with nothing changed and the same rule within the hour reads
// and writes nothing more.
func (d *dbSession) applyFilter(ctx context.Context) {
	rule := d.s.policy.Filter(d.db)
	now := d.s.srv.opts.now().UTC()
	old := d.state.Filter
	slow := d.mode.slow()
	if !rule.Active(d.db) {
		if old != nil {
			// The filter was lifted: what it kept from the device goes to
			// it now.
			facts, err := d.loadFacts(ctx)
			if err != nil {
				d.s.log.Error("filter: read facts", "database", d.db, "err", err)
				d.failed = true
				return
			}
			has := d.deviceHas()
			for id := range facts {
				if !has[id] && d.outgoing[id] == "" {
					d.outgoing[id] = OpAdd
				}
			}
			d.state.Filter = nil
			d.factsDirty, d.facts = true, nil
		}
		return
	}
	// Items whose facts are (re)read: every item when there is nothing
	// to go on, else what changed on either side in this session.
	var changed []string
	for id, op := range d.outgoing {
		if op != OpDelete {
			changed = append(changed, id)
		}
	}
	changed = append(changed, d.own...)
	sameRule := old != nil && slices.Equal(old.Rule.Categories, rule.Categories) && old.Rule.Past == rule.Past &&
		old.Rule.Future == rule.Future && old.Rule.OpenOnly == rule.OpenOnly
	fresh := sameRule && !slow && now.Sub(old.At) < time.Hour && !now.Before(old.At)
	deleted := false
	for _, op := range d.outgoing {
		deleted = deleted || op == OpDelete
	}
	if fresh && len(changed) == 0 && !deleted {
		return // nothing to decide
	}
	var facts map[string]pim.ItemFacts
	if old != nil && !slow {
		var err error
		if facts, err = d.loadFacts(ctx); err != nil {
			d.s.log.Error("filter: read facts", "database", d.db, "err", err)
			d.failed = true
			return
		}
	}
	// known: there were facts to go on; prev keeps the earlier facts of
	// the items re-read below (the others' did not change).
	known := facts != nil
	prev := map[string]pim.ItemFacts{}
	read := changed
	if facts == nil {
		facts = map[string]pim.ItemFacts{}
		fresh = false
		if slow {
			read = append([]string(nil), d.changes.Added...)
		} else {
			all, err := d.view.Changes(ctx, nil)
			if err != nil {
				d.s.log.Error("filter: list items", "database", d.db, "err", err)
				d.failed = true
				return
			}
			read = all.Added
		}
	}
	d.loadAll(ctx, read)
	dirty := !known
	reread := make(map[string]bool, len(read))
	for _, id := range read {
		reread[id] = true
		if f, ok := facts[id]; ok {
			prev[id] = f
		}
		dirty = true
		if data := d.items[id]; data != nil {
			facts[id] = pim.FactsOf(d.db, data)
		} else {
			delete(facts, id)
		}
	}
	for id, op := range d.outgoing {
		if _, ok := facts[id]; ok && op == OpDelete {
			delete(facts, id)
			dirty = true
		}
	}
	// Every item is decided again when the rule changed or time moved on
	// (by the hour: windows are counted in days); otherwise only the
	// items read above can have changed their minds.
	at := now
	decide := facts
	if fresh {
		at = old.At
		decide = map[string]pim.ItemFacts{}
		for _, id := range read {
			if f, ok := facts[id]; ok {
				decide[id] = f
			}
		}
	}
	has := d.deviceHas()
	added, removed := 0, 0
	for id, f := range decide {
		in := rule.Matches(d.db, f, now)
		switch {
		case in && !has[id]:
			if d.outgoing[id] == "" || d.outgoing[id] == OpReplace {
				d.outgoing[id] = OpAdd
				added++
			}
		case in:
		case has[id]:
			// Not for the device any more, if it was before: what it
			// matched then (a filter just switched on: it had everything).
			was := !slow
			if old != nil && !slow && known {
				of, ok := prev[id]
				if !ok && !reread[id] {
					of, ok = f, true // unchanged since
				}
				if ok {
					was = old.Rule.Matches(d.db, of, old.At)
				} else {
					was = false // new since: the device's own, or not sent
				}
			}
			if was {
				d.outgoing[id] = OpDelete
				removed++
			}
		default:
			delete(d.outgoing, id)
		}
	}
	if added+removed > 0 {
		d.s.log.Info("filter", "database", d.db, "entering", added, "leaving", removed)
	}
	d.state.Filter = &filterState{Rule: rule, At: at}
	d.facts, d.factsDirty = facts, dirty
}

// saveFacts writes the facts when the session changed them.
func (d *dbSession) saveFacts(ctx context.Context) {
	if !d.factsDirty {
		return
	}
	key := factsKey(d.s.deviceID, d.db)
	if d.facts == nil {
		if err := d.s.store.DeleteState(ctx, key); err != nil {
			d.s.log.Warn("filter: remove facts", "database", d.db, "err", err)
		}
		return
	}
	raw, err := json.Marshal(d.facts)
	if err == nil {
		err = d.s.store.SaveState(ctx, key, raw)
	}
	if err != nil {
		d.s.log.Warn("filter: save facts", "database", d.db, "err", err)
		d.state.Filter = nil // decided from scratch next time
	}
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
