package backup

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"syncml-imap/internal/vobject"
	"syncml-imap/pim"
)

// Outcome is what Import did with a record of the file.
type Outcome int

const (
	// Imported: written to the mailbox (in a dry run: would be).
	Imported Outcome = iota
	// Unchanged: the mailbox has the item already, with the same content;
	// skipped.
	Unchanged
	// Differs: the mailbox has an item that is the same by UID or
	// identity fields but says something else; skipped (an import never
	// replaces).
	Differs
	// Duplicate: the record repeats an earlier one of the file; skipped.
	Duplicate
)

// Record is a record of the file and what became of it.
type Record struct {
	*Item
	Outcome Outcome
	// Name names the record for a report: a contact's FN (or N), an
	// event's or to-do's SUMMARY; "" when it has none.
	Name string
	// Of is, for a Duplicate, the line of the record it repeats.
	Of int
	// Same is, for a Duplicate, whether it also has the same content.
	Same bool
	// Existing is, for Unchanged and Differs, the ID of the mailbox item.
	Existing string
}

// ImportOptions are Import's options; nil means the defaults.
type ImportOptions struct {
	// DryRun reads the mailbox and compares, but writes nothing.
	DryRun bool
	// BatchSize is how many items are read per Get and written per Put
	// (one IMAP MULTIAPPEND); 0 = DefaultBatchSize.
	BatchSize int
	// Progress, when set, is called after each batch: stage is "read
	// DB" (the mailbox's items, to compare) or "write DB".
	Progress func(stage string, done, total int)
}

// ImportData is what Import found and did.
type ImportData struct {
	DryRun   bool
	Records  []*Record  // the file's records of the databases imported into, in file order
	Problems []*Problem // records left out as bad, and warnings
	Written  int        // records written (less than Count(Imported) when a write failed)
}

// Count counts the records of db ("" = all) with outcome o.
func (d *ImportData) Count(db pim.Kind, o Outcome) int {
	n := 0
	for _, r := range d.Records {
		if r.Outcome == o && (db == "" || r.DB == db) {
			n++
		}
	}
	return n
}

// Bad counts the problems that left a record out.
func (d *ImportData) Bad() int {
	n := 0
	for _, p := range d.Problems {
		if !p.Warning {
			n++
		}
	}
	return n
}

// DBs lists the databases the file's records go to, in the usual order.
func (d *ImportData) DBs() []pim.Kind {
	var dbs []pim.Kind
	for _, db := range pim.Kinds {
		if slices.ContainsFunc(d.Records, func(r *Record) bool { return r.DB == db }) {
			dbs = append(dbs, db)
		}
	}
	return dbs
}

// Import reads a file (see Split) into db of the mailbox. With db
// "contacts" the file's vCards are taken; with "calendar" or "tasks" its
// events and to-dos, each into its own database (events into calendar,
// to-dos into tasks, whichever of the two is named). Records of the
// other family are left out as bad, with a hint.
//
// A record is skipped when the mailbox has it already, by the rules of
// a slow sync: an item with the same UID, else one with the same
// identity fields (pim.Identity). A mailbox item found by its fields
// stands for one record at most (one with the same content is taken
// first), and a UID the mailbox has is never imported again. A record is
// also skipped when it repeats an earlier record of the file: the same
// UID (same content or not: the first is kept), or the same identity
// fields and the same content (pim.SameContent). Two records with the
// same name but different content are two items (two people called John
// Smith).
//
// New records are written BatchSize at a time. On a write error the
// ImportData says how many were written.
func Import(ctx context.Context, st Store, db pim.Kind, file []byte, opts *ImportOptions) (*ImportData, error) {
	if opts == nil {
		opts = &ImportOptions{}
	}
	if db != "contacts" && db != "calendar" && db != "tasks" {
		return nil, fmt.Errorf("backup: unknown database %q (contacts, calendar or tasks)", db)
	}
	batch := opts.BatchSize
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	sd := Split(file)
	d := &ImportData{DryRun: opts.DryRun, Problems: sd.Problems}
	for _, it := range sd.Items {
		if (it.DB == "contacts") != (db == "contacts") {
			hint := "-db calendar"
			what := map[pim.Kind]string{pim.Calendar: "an event", pim.Tasks: "a to-do"}[it.DB]
			if it.DB == "contacts" {
				hint, what = "-db contacts", "a contact"
			}
			d.Problems = append(d.Problems, &Problem{Line: it.Line, Msg: fmt.Sprintf("%s in a %s import, skipped (import it with %s)", what, db, hint)})
			continue
		}
		d.Records = append(d.Records, &Record{Item: it, Name: nameOf(it)})
	}
	slices.SortStableFunc(d.Problems, func(a, b *Problem) int { return a.Line - b.Line })

	for _, db := range d.DBs() {
		var progress func(int, int)
		if opts.Progress != nil {
			progress = func(done, total int) { opts.Progress("read "+string(db), done, total) }
		}
		existing, err := readAll(ctx, st, db, batch, progress)
		if err != nil {
			return d, err
		}
		classify(db, d.Records, existing)
	}
	if opts.DryRun {
		return d, nil
	}
	for _, db := range d.DBs() {
		var todo []*Record
		for _, r := range d.Records {
			if r.DB == db && r.Outcome == Imported {
				todo = append(todo, r)
			}
		}
		for start := 0; start < len(todo); start += batch {
			chunk := todo[start:min(start+batch, len(todo))]
			items := make([]*pim.Item, len(chunk))
			for i, r := range chunk {
				items[i] = &pim.Item{Data: r.Data}
			}
			if err := st.Put(ctx, db, items...); err != nil {
				return d, fmt.Errorf("backup: write %s (line %d on): %w", db, chunk[0].Line, err)
			}
			for i, r := range chunk {
				r.ID = items[i].ID
			}
			d.Written += len(chunk)
			if opts.Progress != nil {
				opts.Progress("write "+string(db), start+len(chunk), len(todo))
			}
		}
	}
	return d, nil
}

// identified is a record or a mailbox item with its identity.
type identified struct {
	uid, fields string
	data        []byte
}

// classify sets the outcome of db's records against the items the
// mailbox has.
func classify(db pim.Kind, records []*Record, existing []*Item) {
	// The mailbox, indexed as a slow sync does.
	idx, byID := pim.NewIdentityIndex(db), map[string]*Item{}
	for _, it := range existing {
		idx.Add(it.ID, it.Data)
		byID[it.ID] = it
	}
	// The file's records seen so far.
	seenUID, seenFields := map[string]*Record{}, map[string][]*Record{}
	for _, r := range records {
		if r.DB != db {
			continue
		}
		id := pim.IdentityOf(db, r.Data)
		uid, fields := id.UID, id.Fields
		if first := seenUID[uid]; uid != "" && first != nil {
			r.Outcome, r.Of, r.Same = Duplicate, first.Line, pim.SameContent(first.Data, r.Data)
			continue
		}
		if fields != "" {
			if i := slices.IndexFunc(seenFields[fields], func(e *Record) bool { return pim.SameContent(e.Data, r.Data) }); i >= 0 {
				r.Outcome, r.Of, r.Same = Duplicate, seenFields[fields][i].Line, true
				continue
			}
		}
		if uid != "" {
			seenUID[uid] = r
		}
		if fields != "" {
			seenFields[fields] = append(seenFields[fields], r)
		}

		// The first free item with the UID, else with the fields (one
		// with the same content first). A UID the mailbox has is never
		// imported again, even when its item stands for another record
		// already: that would make two items with one UID.
		var matchID string
		if first := idx.HasUID(uid); first != "" {
			if matchID = idx.MatchUID(uid); matchID == "" {
				matchID = first
			}
		} else {
			matchID = idx.MatchFields(fields, r.Data)
		}
		match := byID[matchID]
		if match == nil {
			r.Outcome = Imported
			continue
		}
		r.Existing = match.ID
		if pim.SameContent(match.Data, r.Data) {
			r.Outcome = Unchanged
		} else {
			r.Outcome = Differs
		}
	}
}

// nameOf is what a report calls an item: a contact's FN (or N), an
// event's or to-do's SUMMARY.
func nameOf(it *Item) string {
	objs := vobject.Parse(it.Data)
	if len(objs) == 0 {
		return ""
	}
	o := objs[0]
	if it.DB == "contacts" {
		if fn := o.PropValue("FN"); fn != "" {
			return fn
		}
		if n := o.Prop("N"); n != nil {
			// Family;Given;Additional;Prefix;Suffix, in reading order.
			p := append(vobject.SplitText(n.Value, ';'), "", "", "", "", "")
			return joinNonEmpty([]string{p[3], p[1], p[2], p[0], p[4]})
		}
		return ""
	}
	for _, c := range o.Children {
		if (c.Name == "VEVENT" || c.Name == "VTODO") && c.Prop("RECURRENCE-ID") == nil {
			return c.PropValue("SUMMARY")
		}
	}
	for _, c := range o.Children {
		if c.Name == "VEVENT" || c.Name == "VTODO" {
			return c.PropValue("SUMMARY")
		}
	}
	return ""
}

func joinNonEmpty(parts []string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}
