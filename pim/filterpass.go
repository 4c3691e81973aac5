package pim

import (
	"context"
	"fmt"
	"slices"
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

// Plan is what a front sends a device: store item ID → op.
type Plan map[string]Op

// Loader reads the store's items ids (through the front, which keeps
// what it read for sending): their data by ID, nil or absent for those
// that do not exist.
type Loader func(ids []string) map[string][]byte

// Filter adjusts plan, what goes to the device, to the device's filter
// rule now (a rule that is not Active lifts an earlier one); slow: the
// session is a slow or refresh sync. It runs once the device's changes
// are in and before the store's are sent; a session with nothing
// changed and the same rule within the hour reads and writes nothing
// more. entering and leaving count the items the filter now sends or
// deletes; an error (the store failed) fails the database.
func (r *Replica) Filter(ctx context.Context, rule FilterRule, now time.Time, slow bool, plan Plan, load Loader) (entering, leaving int, err error) {
	if !rule.Active(r.kind) {
		if r.State.Filter != nil {
			return r.liftFilter(ctx, plan)
		}
		return 0, 0, nil
	}
	p := &filterPass{db: r.kind, rule: rule, now: now, old: r.State.Filter, slow: slow}
	// Items whose facts are (re)read: every item when there is nothing
	// to go on, else what changed on either side in this session.
	deleted := false
	for id, op := range plan {
		if op != OpDelete {
			p.read = append(p.read, id)
		}
		deleted = deleted || op == OpDelete
	}
	p.read = append(p.read, r.own...)
	old := p.old
	sameRule := old != nil && slices.Equal(old.Rule.Categories, rule.Categories) && old.Rule.Past == rule.Past &&
		old.Rule.Future == rule.Future && old.Rule.OpenOnly == rule.OpenOnly
	p.fresh = sameRule && !p.slow && p.now.Sub(old.At) < time.Hour && !p.now.Before(old.At)
	if p.fresh && len(p.read) == 0 && !deleted {
		return 0, 0, nil // nothing to decide
	}
	if err := r.readFacts(ctx, p, plan, load); err != nil {
		return 0, 0, err
	}
	entering, leaving = r.decideFilter(p, plan)
	at := p.now
	if p.fresh {
		at = old.At
	}
	r.State.Filter = &FilterState{Rule: rule, At: at}
	if p.dirty {
		r.SetFacts(p.facts)
	}
	return entering, leaving, nil
}

// filterPass is one session's run of a device's filter.
type filterPass struct {
	db          Kind
	rule        FilterRule
	now         time.Time
	old         *FilterState // the rule at the last sync, nil when none
	slow, fresh bool         // fresh: the same rule decided within the hour
	read        []string     // the items whose facts are read again
	facts       map[string]ItemFacts
	known       bool                 // there were facts to go on
	prev        map[string]ItemFacts // the earlier facts of those read again
	reread      map[string]bool
	dirty       bool // facts to be saved
}

// liftFilter sends the device what a filter, lifted now, kept from it.
func (r *Replica) liftFilter(ctx context.Context, plan Plan) (entering, leaving int, err error) {
	facts, err := r.Facts(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("filter: read facts: %w", err)
	}
	has := r.Has()
	for id := range facts {
		if !has[id] && plan[id] == "" {
			plan[id] = OpAdd
			entering++
		}
	}
	r.State.Filter = nil
	r.SetFacts(nil)
	return entering, 0, nil
}

// readFacts loads the facts kept of the database's items and reads again
// those of p.read; with nothing kept (a slow sync, a new filter), those
// of every item.
func (r *Replica) readFacts(ctx context.Context, p *filterPass, plan Plan, load Loader) error {
	if p.old != nil && !p.slow {
		var err error
		if p.facts, err = r.Facts(ctx); err != nil {
			return fmt.Errorf("filter: read facts: %w", err)
		}
	}
	p.known = p.facts != nil
	p.prev = map[string]ItemFacts{}
	if p.facts == nil {
		p.facts = map[string]ItemFacts{}
		p.fresh = false
		if p.slow {
			p.read = append([]string(nil), r.changes.Added...)
		} else {
			all, err := r.View.Changes(ctx, nil)
			if err != nil {
				return fmt.Errorf("filter: list items: %w", err)
			}
			p.read = all.Added
		}
	}
	items := load(p.read)
	p.dirty = !p.known
	p.reread = make(map[string]bool, len(p.read))
	for _, id := range p.read {
		p.reread[id] = true
		if f, ok := p.facts[id]; ok {
			p.prev[id] = f
		}
		p.dirty = true
		if data := items[id]; data != nil {
			p.facts[id] = FactsOf(r.kind, data)
		} else {
			delete(p.facts, id)
		}
	}
	for id, op := range plan {
		if _, ok := p.facts[id]; ok && op == OpDelete {
			delete(p.facts, id)
			p.dirty = true
		}
	}
	return nil
}

// decideFilter sends the device the items entering its filter and
// deletes on it those leaving. Every item is decided again when the rule
// changed or time moved on (by the hour: windows are counted in days);
// otherwise only the items read again can have changed their minds.
func (r *Replica) decideFilter(p *filterPass, plan Plan) (added, removed int) {
	decide := p.facts
	if p.fresh {
		decide = map[string]ItemFacts{}
		for _, id := range p.read {
			if f, ok := p.facts[id]; ok {
				decide[id] = f
			}
		}
	}
	has := r.Has()
	for id, f := range decide {
		in := p.rule.Matches(r.kind, f, p.now)
		switch {
		case in && !has[id]:
			if plan[id] == "" || plan[id] == OpReplace {
				plan[id] = OpAdd
				added++
			}
		case in:
		case has[id]:
			if p.matchedBefore(id, f) {
				plan[id] = OpDelete
				removed++
			}
		default:
			delete(plan, id)
		}
	}
	return added, removed
}

// matchedBefore reports whether an item the device has, with facts f now,
// was for the device at the last sync: what it matched then (a filter
// just switched on: it had everything).
func (p *filterPass) matchedBefore(id string, f ItemFacts) bool {
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
