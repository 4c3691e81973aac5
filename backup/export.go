package backup

import (
	"context"
	"fmt"
	"io"
	"syncml-imap/pim"
)

// Store is what Export and Import need of a mailbox: the listing,
// reading and writing of pim.Store, which any such store satisfies.
type Store interface {
	// Changes with a nil sync point lists every item of db.
	Changes(ctx context.Context, db pim.Kind, since []byte) (*pim.Changes, error)
	Get(ctx context.Context, db pim.Kind, ids ...string) ([]*pim.Item, error)
	// Put stores new items (empty ID) and fills in their IDs; many at a
	// time go in one command (IMAP MULTIAPPEND).
	Put(ctx context.Context, db pim.Kind, items ...*pim.Item) error
}

// DefaultBatchSize is how many items Export reads and Import writes at
// a time.
const DefaultBatchSize = 100

// ExportOptions are Export's options; nil means the defaults.
type ExportOptions struct {
	Format    Format // "" = DefaultFormat(db)
	BatchSize int    // items read per Get; 0 = DefaultBatchSize
	// Progress, when set, is called after each batch with the items
	// read so far and the total.
	Progress func(done, total int)
}

// ExportData is what Export did.
type ExportData struct {
	Format   Format
	Count    int        // items written to the file
	Problems []*Problem // items of the mailbox left out, by ID
}

// Export writes every item of db to w as one file (see Join).
func Export(ctx context.Context, st Store, db pim.Kind, w io.Writer, opts *ExportOptions) (*ExportData, error) {
	if opts == nil {
		opts = &ExportOptions{}
	}
	d := &ExportData{Format: opts.Format}
	if d.Format == "" {
		d.Format = DefaultFormat(db)
	}
	if err := CheckFormat(db, d.Format); err != nil {
		return nil, err
	}
	items, err := readAll(ctx, st, db, opts.BatchSize, opts.Progress)
	if err != nil {
		return nil, err
	}
	problems, err := Join(w, d.Format, items)
	d.Problems = problems
	d.Count = len(items) - len(problems)
	if err != nil {
		return d, fmt.Errorf("backup: write %s: %w", db, err)
	}
	return d, nil
}

// readAll reads every item of db, batch items per Get.
func readAll(ctx context.Context, st Store, db pim.Kind, batch int, progress func(done, total int)) ([]*Item, error) {
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	ch, err := st.Changes(ctx, db, nil)
	if err != nil {
		return nil, fmt.Errorf("backup: list %s: %w", db, err)
	}
	ids := append(append([]string(nil), ch.Added...), ch.Modified...)
	items := make([]*Item, 0, len(ids))
	for start := 0; start < len(ids); start += batch {
		got, err := st.Get(ctx, db, ids[start:min(start+batch, len(ids))]...)
		if err != nil {
			return nil, fmt.Errorf("backup: read %s: %w", db, err)
		}
		for _, it := range got {
			if it != nil { // gone since the listing
				items = append(items, &Item{DB: db, ID: it.ID, Data: it.Data})
			}
		}
		if progress != nil {
			progress(min(start+batch, len(ids)), len(ids))
		}
	}
	return items, nil
}
