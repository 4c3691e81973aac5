package syncml

import "context"

// matchNew is match for a client item the device brings as new, without
// reading the item (its identity is a parse of it) when no server item
// is there to match: a slow sync into an empty folder, the device's
// first.
func (d *dbSession) matchNew(ctx context.Context, data []byte) string {
	if d.index == nil {
		d.buildIndex(ctx)
	}
	if d.index.Empty() {
		return ""
	}
	return d.match(ctx, data)
}
