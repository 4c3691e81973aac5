package syncml

import (
	"context"
)

// applyFilter adjusts what goes to the device (d.outgoing) to the
// device's filter (pim.Replica.Filter), before the server's changes are
// sent. The items it reads are kept for sending.
func (d *dbSession) applyFilter(ctx context.Context) {
	load := func(ids []string) map[string][]byte {
		d.loadAll(ctx, ids)
		return d.items
	}
	entering, leaving, err := d.rep.Filter(ctx, d.s.policy.Filter(d.db), d.s.srv.opts.now().UTC(), d.mode.slow(), d.outgoing, load)
	if err != nil {
		d.s.log.Error("filter", "database", d.db, "err", err)
		d.failed = true
		return
	}
	if entering+leaving > 0 {
		d.s.log.Info("filter", "database", d.db, "entering", entering, "leaving", leaving)
	}
}
