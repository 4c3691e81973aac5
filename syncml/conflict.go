package syncml

import (
	"context"
	"strings"

	"syncml-imap/pim"
)

// resolveConflict decides a conflict by the device's policy (or the
// server's ConflictPolicy when one is set). device has been completed
// with what the device cannot hold. For Merged it returns the merged
// item; for DeviceWins the device's.
func (d *dbSession) resolveConflict(ctx context.Context, guid string, server, device []byte) (pim.Resolution, []byte) {
	if d.s.srv.opts.Conflicts != nil {
		return d.s.srv.opts.Conflicts.Resolve(&pim.Conflict{DB: d.db, ID: guid, Server: server, Device: device}), device
	}
	p := &d.s.policy
	r, data, both := p.Resolve(func() pim.Fingerprint { return d.rep.Base(ctx, guid) }, server, device)
	if len(both) > 0 {
		d.s.log.Info("merge: fields changed on both sides", "database", d.db, "id", guid, "fields", strings.Join(both, ","), "tie_break", string(p.TieBreak))
	}
	return r, data
}

// resolutionStatus is the SyncML status reported to the device for a
// resolution (OMA-TS-SyncML_RepPro: 208 client won, 209 duplicate, 419
// server won).
func resolutionStatus(r pim.Resolution) StatusCode {
	switch r {
	case pim.DeviceWins:
		return StatusConflictClientWon
	case pim.KeepBoth:
		return StatusConflictDuplicate
	case pim.Merged:
		return StatusConflictMerged
	}
	return StatusConflictServerWon
}
