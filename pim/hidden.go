package pim

import (
	"context"
	"time"
)

// FilterCount is what a device's filter does to one database now: Total
// items in the mailbox, Hidden of them not sent to the device. Active is
// false (and nothing counted) when the policy filters nothing there.
type FilterCount struct {
	Active        bool
	Total, Hidden int
}

// CountFiltered reads every item of database db, as a device with the
// policy sees it (its contact sub-folders; the calendar without the
// tasks, which count under "tasks"), and counts those the policy's filter
// (calendar window, contact categories, open tasks only) keeps off the
// device at time now. It is for telling an admin or a user what a filter
// hides; a database without an active filter is not read.
func (p *Policy) CountFiltered(ctx context.Context, store Store, db Kind, now time.Time) (FilterCount, error) {
	rule := p.Filter(db)
	if !rule.Active(db) {
		return FilterCount{}, nil
	}
	v := PolicyView(store, db, p, false)
	ch, err := v.Changes(ctx, nil)
	if err != nil {
		return FilterCount{}, err
	}
	ids := append(append([]string(nil), ch.Added...), ch.Modified...)
	n := FilterCount{Active: true}
	const batch = 500
	for len(ids) > 0 {
		k := min(batch, len(ids))
		items, err := v.Get(ctx, ids[:k]...)
		if err != nil {
			return FilterCount{}, err
		}
		ids = ids[k:]
		for _, it := range items {
			if it == nil {
				continue // removed meanwhile
			}
			n.Total++
			if !rule.Matches(db, FactsOf(db, it.Data), now) {
				n.Hidden++
			}
		}
	}
	return n, nil
}
