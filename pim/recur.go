package pim

// Recurring events with exceptions.
//
// The mailbox keeps a recurring event as iCalendar and CalDAV do: one
// item holding the master VEVENT and its exceptions, VEVENTs of the same
// UID with a RECURRENCE-ID (Google's and Apple's exports look so). A
// SyncML item is one event: devices merge a second VEVENT into the first
// or drop it. So a device's calendar shows such an item as several:
//
//   - the master, under the item's ID;
//   - each exception under the item's ID, recurSep and its key (the
//     RECURRENCE-ID's value, letters and digits only).
//
// A device that announces RECURRENCE-ID (or Synthesis' X-RECURRENCE-ID
// for vCalendar 1.0) gets the exceptions as they are, which is how
// SyncEvolution, Synthesis and Funambol clients send and take detached
// recurrences. Any other device gets the master with an EXDATE for each
// exception's date and each exception as an event of its own (no
// RECURRENCE-ID, a derived UID): every occurrence shows once, on its
// day.
//
// Whatever a device sends goes back into the one item: an edited master
// replaces the master only (the EXDATEs added for it are taken out
// again), an edited exception replaces that exception only (its UID and
// RECURRENCE-ID restored), a deleted exception becomes an EXDATE of the
// master. So no edit of a device removes the master or an exception. A
// new exception from a device (RECURRENCE-ID and the UID of an item this
// session read) joins that item; one whose master the session did not
// read is stored as an item of its own, as it came.
//
// Items without a master (a single invited occurrence) or without
// exceptions are sent as they are.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"syncml-imap/internal/vobject"
)

// recurSep separates an item's ID from an exception's key in a device's
// calendar. Store IDs never hold it.
const recurSep = "~"

// RecurID splits a device-side ID into the item's ID and the exception's
// key ("" for the item itself).
func RecurID(id string) (base, key string) {
	if i := strings.LastIndex(id, recurSep); i >= 0 {
		return id[:i], id[i+len(recurSep):]
	}
	return id, ""
}

// recurKey is an exception's key: its RECURRENCE-ID value, letters and
// digits only.
func recurKey(ev *vobject.Object) string {
	return strings.Map(keyRune, ev.PropValue("RECURRENCE-ID"))
}

func keyRune(r rune) rune {
	if r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
		return r
	}
	return -1
}

// retag is a property line under another name, its parameters kept
// (but RANGE, which only RECURRENCE-ID has).
func retag(l *vobject.Line, name string) string {
	head, value := l.Raw, ""
	if i := vobject.IndexUnquoted(l.Raw, ':'); i >= 0 {
		head, value = l.Raw[:i], l.Raw[i+1:]
	}
	params := vobject.SplitUnquoted(head, ';')[1:]
	out := name
	for _, p := range params {
		if !strings.HasPrefix(strings.ToUpper(p), "RANGE=") {
			out += ";" + p
		}
	}
	return out + ":" + value
}

// recurSet is a calendar item read for splitting.
type recurSet struct {
	root   *vobject.Object
	master *vobject.Object
	exc    []*vobject.Object // in the item's order
}

// parseRecur reads a calendar item; ok when it has a master and at least
// one exception (else it is sent as it is).
func parseRecur(data []byte) (rs recurSet, ok bool) {
	objs := vobject.Parse(data)
	if len(objs) == 0 || objs[0].Name != "VCALENDAR" {
		return rs, false
	}
	rs.root = objs[0]
	for _, c := range rs.root.Children {
		if c.Name != "VEVENT" && c.Name != "VTODO" {
			continue
		}
		if c.Prop("RECURRENCE-ID") == nil {
			if rs.master == nil {
				rs.master = c
			}
			continue
		}
		rs.exc = append(rs.exc, c)
	}
	return rs, rs.master != nil && len(rs.exc) > 0
}

func (rs recurSet) keys() []string {
	var out []string
	for _, e := range rs.exc {
		out = append(out, recurKey(e))
	}
	return out
}

func (rs recurSet) exception(key string) *vobject.Object {
	for _, e := range rs.exc {
		if recurKey(e) == key {
			return e
		}
	}
	return nil
}

// calendarWith writes a calendar with root's properties, its time zones
// (and extra ones, for TZIDs root lacks) and the given components.
func calendarWith(root *vobject.Object, extraZones []*vobject.Object, comps ...string) []byte {
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\n")
	for _, p := range root.Props {
		if p.Name != "BEGIN" && p.Name != "END" {
			b.WriteString(p.Orig)
		}
	}
	have := map[string]bool{}
	for _, c := range root.Children {
		if c.Name != "VEVENT" && c.Name != "VTODO" {
			b.WriteString(strings.Join(c.Lines, ""))
			have[c.PropValue("TZID")] = true
		}
	}
	for _, z := range extraZones {
		if z.Name == "VTIMEZONE" && !have[z.PropValue("TZID")] {
			b.WriteString(strings.Join(z.Lines, ""))
			have[z.PropValue("TZID")] = true
		}
	}
	for _, c := range comps {
		b.WriteString(c)
	}
	b.WriteString("END:VCALENDAR\r\n")
	return []byte(b.String())
}

func objText(o *vobject.Object) string { return strings.Join(o.Lines, "") }

// editLines rewrites a component's own property lines: edit returns a
// line's replacement (which may be empty) and true, or false to keep it;
// add is written before its END. Sub-components stay as they are.
func editLines(o *vobject.Object, edit func(vobject.Line) (string, bool), add ...string) string {
	var b strings.Builder
	lines, depth := o.Lines, 0
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case i == 0:
			b.WriteString(l)
			continue
		case i == len(lines)-1:
			for _, a := range add {
				vobject.WriteFolded(&b, a)
			}
			b.WriteString(l)
			continue
		}
		up := strings.ToUpper(l)
		if strings.HasPrefix(up, "BEGIN:") {
			depth++
		}
		if depth > 0 {
			if strings.HasPrefix(up, "END:") {
				depth--
			}
			b.WriteString(l)
			continue
		}
		chunk := l // the property and its folded continuation lines
		for i+1 < len(lines)-1 && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			chunk += lines[i]
		}
		if ls := vobject.Lines([]byte(chunk)); len(ls) == 1 {
			if r, ok := edit(ls[0]); ok {
				b.WriteString(r)
				continue
			}
		}
		b.WriteString(chunk)
	}
	return b.String()
}

func keepLines(vobject.Line) (string, bool) { return "", false }

// deviceForm is the item as the device sees it: the master (key "") or
// one exception; nil when the key names none. Devices that hold
// exceptions get them as stored; others get the master with EXDATEs and
// the exceptions as events of their own.
func (rs recurSet) deviceForm(key string, capable bool) []byte {
	if key == "" {
		m := objText(rs.master)
		if !capable {
			var ex []string
			for _, e := range rs.exc {
				ex = append(ex, retag(e.Prop("RECURRENCE-ID"), "EXDATE"))
			}
			m = editLines(rs.master, keepLines, ex...)
		}
		return calendarWith(rs.root, nil, m)
	}
	e := rs.exception(key)
	if e == nil {
		return nil
	}
	if capable {
		return calendarWith(rs.root, nil, objText(e))
	}
	uid := "UID:" + e.PropValue("UID") + "-" + key
	text := editLines(e, func(l vobject.Line) (string, bool) {
		switch l.Name {
		case "UID", "RECURRENCE-ID", "RRULE", "RDATE", "EXDATE", "EXRULE":
			return "", true
		}
		return "", false
	}, uid)
	return calendarWith(rs.root, nil, text)
}

// withMaster is the stored item with the device's master: the stored
// exceptions stay; the EXDATEs deviceForm added for them are taken out.
func (rs recurSet) withMaster(device []byte) []byte {
	objs := vobject.Parse(device)
	if len(objs) == 0 || objs[0].Name != "VCALENDAR" {
		return nil
	}
	m := MainComponent(objs[0])
	if m == nil || m.Prop("RECURRENCE-ID") != nil {
		return nil
	}
	rids := map[string]bool{}
	for _, e := range rs.exc {
		rids[e.PropValue("RECURRENCE-ID")] = true
	}
	master := editLines(m, func(l vobject.Line) (string, bool) {
		if l.Name != "EXDATE" {
			return "", false
		}
		var keep []string
		for _, v := range strings.Split(l.Value, ",") {
			if !rids[strings.TrimSpace(v)] {
				keep = append(keep, v)
			}
		}
		if len(keep) == len(strings.Split(l.Value, ",")) {
			return "", false
		}
		if len(keep) == 0 {
			return "", true
		}
		head := l.Raw[:vobject.IndexUnquoted(l.Raw, ':')]
		var b strings.Builder
		vobject.WriteFolded(&b, head+":"+strings.Join(keep, ","))
		return b.String(), true
	})
	comps := []string{master}
	for _, e := range rs.exc {
		comps = append(comps, objText(e))
	}
	return calendarWith(objs[0], rs.root.Children, comps...)
}

// withException is the stored item with exception key as the device sent
// it (its UID and RECURRENCE-ID restored for a device that does not hold
// exceptions); a new key is added.
func (rs recurSet) withException(key string, device []byte) []byte {
	objs := vobject.Parse(device)
	if len(objs) == 0 || objs[0].Name != "VCALENDAR" {
		return nil
	}
	dev := MainComponent(objs[0])
	for _, c := range objs[0].Children {
		if (c.Name == "VEVENT" || c.Name == "VTODO") && recurKey(c) == key {
			dev = c
		}
	}
	if dev == nil {
		return nil
	}
	text := objText(dev)
	if old := rs.exception(key); old != nil && old.Prop("UID") != nil {
		// The exception keeps its identity whatever the device made of it:
		// one that holds no exceptions got it with a derived UID and no
		// RECURRENCE-ID.
		text = editLines(dev, func(l vobject.Line) (string, bool) {
			switch l.Name {
			case "UID", "RECURRENCE-ID", "RRULE", "RDATE", "EXDATE", "EXRULE":
				return "", true
			}
			return "", false
		}, old.Prop("UID").Raw, old.Prop("RECURRENCE-ID").Raw)
	}
	comps := []string{objText(rs.master)}
	done := false
	for _, e := range rs.exc {
		if recurKey(e) == key {
			comps, done = append(comps, text), true
			continue
		}
		comps = append(comps, objText(e))
	}
	if !done {
		comps = append(comps, text)
	}
	return calendarWith(rs.root, objs[0].Children, comps...)
}

// withoutException is the stored item without exception key, whose date
// becomes an EXDATE of the master (the occurrence was deleted).
func (rs recurSet) withoutException(key string) []byte {
	e := rs.exception(key)
	if e == nil {
		return nil
	}
	master := editLines(rs.master, keepLines, retag(e.Prop("RECURRENCE-ID"), "EXDATE"))
	comps := []string{master}
	for _, x := range rs.exc {
		if x != e {
			comps = append(comps, objText(x))
		}
	}
	return calendarWith(rs.root, nil, comps...)
}

// recurView shows a calendar database's recurring items with exceptions
// as several device items (see the top of this file).
type recurView struct {
	View
	// capable tells whether the device holds exceptions; asked when
	// items are sent (its DevInf may come after the view is made).
	capable func() bool
	// uids: the item ID of each UID this session read, to join a new
	// exception to its item.
	uids map[string]string
	// cache holds what a small scan read (a sync with a few changes), so
	// that sending those items does not read them again; any write
	// drops it.
	cache map[string][]byte
	// versions: the version of each stored item read or written
	// (VersionedView).
	versions map[string]string
}

// NewRecurView shows inner's recurring items with exceptions as several
// device items; capable reports, when first needed, whether the device
// holds exceptions as items of their own (RECURRENCE-ID).
func NewRecurView(inner View, capable func() bool) View {
	return &recurView{View: inner, capable: capable, uids: map[string]string{}, versions: map[string]string{}}
}

// CarryTasks passes on to a calendar view that carries tasks.
func (v *recurView) CarryTasks() {
	if c, ok := v.View.(TaskCarrier); ok {
		c.CarryTasks()
	}
}

const recurReadBatch = 200

// scan reads items and returns the exception keys of those that have
// any; it notes every UID.
func (v *recurView) scan(ctx context.Context, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	v.cache = nil
	if len(ids) <= recurReadBatch {
		v.cache = map[string][]byte{}
	}
	for len(ids) > 0 {
		n := min(len(ids), recurReadBatch)
		items, err := v.View.Get(ctx, ids[:n]...)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if it == nil {
				continue
			}
			if v.cache != nil {
				v.cache[it.ID] = it.Data
			}
			v.versions[it.ID] = it.Version
			if rs, ok := parseRecur(it.Data); ok {
				out[it.ID] = rs.keys()
				v.uids[rs.master.PropValue("UID")] = it.ID
			} else if objs := vobject.Parse(it.Data); len(objs) > 0 {
				if m := MainComponent(objs[0]); m != nil && m.Prop("RECURRENCE-ID") == nil {
					v.uids[m.PropValue("UID")] = it.ID
				}
			}
		}
		ids = ids[n:]
	}
	return out, nil
}

func (v *recurView) Changes(ctx context.Context, since []byte) (*Changes, error) {
	ch, err := v.View.Changes(ctx, since)
	if err != nil {
		return nil, err
	}
	subs, err := v.scan(ctx, append(append([]string(nil), ch.Added...), ch.Modified...))
	if err != nil {
		return nil, err
	}
	if len(subs) == 0 {
		return ch, nil
	}
	expand := func(ids []string) []string {
		var out []string
		for _, id := range ids {
			out = append(out, id)
			for _, k := range subs[id] {
				out = append(out, id+recurSep+k)
			}
		}
		return out
	}
	out := *ch
	out.Added, out.Modified = expand(ch.Added), expand(ch.Modified)
	return &out, nil
}

// bases reads the stored items behind device IDs, by item ID.
func (v *recurView) bases(ctx context.Context, ids []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	var want []string
	seen := map[string]bool{}
	for _, id := range ids {
		b, _ := RecurID(id)
		if b == "" || seen[b] {
			continue
		}
		seen[b] = true
		if data, ok := v.cache[b]; ok {
			out[b] = data
		} else {
			want = append(want, b)
		}
	}
	if len(want) == 0 {
		return out, nil
	}
	items, err := v.View.Get(ctx, want...)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if it != nil {
			out[it.ID] = it.Data
			v.versions[it.ID] = it.Version
		}
	}
	return out, nil
}

func (v *recurView) Get(ctx context.Context, ids ...string) ([]*Item, error) {
	stored, err := v.bases(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*Item, len(ids))
	for i, id := range ids {
		base, key := RecurID(id)
		data, ok := stored[base]
		if !ok {
			continue
		}
		rs, split := parseRecur(data)
		switch {
		case !split && key == "":
			out[i] = &Item{ID: id, Data: data, Version: v.versions[base]}
		case split:
			if d := rs.deviceForm(key, v.capable()); d != nil {
				out[i] = &Item{ID: id, Data: d}
			}
		}
	}
	return out, nil
}

// rewrites collects new versions of stored items, one per item however
// many of its parts a call changes.
type rewrites struct {
	stored map[string][]byte
	items  []*Item
	at     map[string]int
}

// current is the item's data with the rewrites so far.
func (r *rewrites) current(id string) ([]byte, bool) {
	if j, ok := r.at[id]; ok {
		return r.items[j].Data, true
	}
	data, ok := r.stored[id]
	return data, ok
}

func (r *rewrites) set(id string, data []byte) {
	if j, ok := r.at[id]; ok {
		r.items[j].Data = data
		return
	}
	r.at[id] = len(r.items)
	r.items = append(r.items, &Item{ID: id, Data: data})
}

// Put writes what a device sent into the stored items: a master or an
// exception into its item, a new exception of a known UID into that
// item, anything else as it is.
func (v *recurView) Put(ctx context.Context, items ...*Item) error {
	var ids []string
	for _, it := range items {
		if it.ID != "" {
			ids = append(ids, it.ID)
		} else if uid, rid := newException(it.Data); rid != "" && v.uids[uid] != "" {
			ids = append(ids, v.uids[uid])
		}
	}
	stored, err := v.bases(ctx, ids)
	if err != nil {
		return err
	}
	var plain []*Item
	var callers []*Item
	var keys []string
	joined := &rewrites{stored: stored, at: map[string]int{}}
	for _, it := range items {
		base, key := RecurID(it.ID)
		if it.ID == "" {
			if uid, rid := newException(it.Data); rid != "" && v.uids[uid] != "" {
				base, key = v.uids[uid], strings.Map(keyRune, rid)
			}
		}
		data, ok := joined.current(base)
		var rs recurSet
		var split bool
		if ok {
			rs, split = parseRecur(data)
		}
		var merged []byte
		switch {
		case ok && key != "" && rs.master != nil:
			merged = rs.withException(key, it.Data)
		case ok && split:
			merged = rs.withMaster(it.Data)
		}
		if merged == nil {
			if key != "" && it.ID != "" {
				// An exception whose item is gone or has no master: stored
				// as an item of its own, as it came.
				it.ID = ""
			}
			plain = append(plain, it)
			continue
		}
		joined.set(base, merged)
		callers, keys = append(callers, it), append(keys, base+recurSep+key)
	}
	v.cache = nil
	all := append(plain, joined.items...)
	if err := v.View.Put(ctx, all...); err != nil {
		return err
	}
	for _, it := range all {
		v.versions[it.ID] = it.Version
	}
	for i, it := range callers {
		if b, k := RecurID(keys[i]); k == "" {
			it.ID = b
		} else {
			it.ID = keys[i]
		}
	}
	return nil
}

// PointVersions implements VersionedView: the stored items' versions (an
// exception the view shows as an item of its own has none).
func (v *recurView) PointVersions(point []byte) (map[string]string, error) {
	return AsVersioned(v.View).PointVersions(point)
}

// Versions implements VersionedView for the stored items.
func (v *recurView) Versions(ctx context.Context, ids []string) (map[string]string, error) {
	return AsVersioned(v.View).Versions(ctx, ids)
}

// PutVersions implements VersionedView for items stored as they are
// shown: not one whose exceptions the device holds as items of their own,
// nor an exception (ErrUnversioned).
func (v *recurView) PutVersions(ctx context.Context, items []*Item, wants []string) ([]error, error) {
	if len(items) != len(wants) {
		return nil, fmt.Errorf("pim: PutVersions: %d items, %d versions", len(items), len(wants))
	}
	errs := make([]error, len(items))
	var ids []string
	for i, it := range items {
		if _, key := RecurID(it.ID); key != "" || it.ID == "" {
			errs[i] = ErrUnversioned
		} else if _, rid := newException(it.Data); rid != "" {
			errs[i] = ErrUnversioned
		} else {
			ids = append(ids, it.ID)
		}
	}
	stored, err := v.bases(ctx, ids)
	if err != nil {
		return nil, err
	}
	var in []*Item
	var ws []string
	var at []int
	for i, it := range items {
		if errs[i] != nil {
			continue
		}
		if data, ok := stored[it.ID]; ok {
			if _, split := parseRecur(data); split {
				errs[i] = ErrUnversioned
				continue
			}
		}
		in, ws, at = append(in, it), append(ws, wants[i]), append(at, i)
	}
	if len(in) == 0 {
		return errs, nil
	}
	v.cache = nil
	got, err := AsVersioned(v.View).PutVersions(ctx, in, ws)
	if err != nil {
		return nil, err
	}
	for k, i := range at {
		if errs[i] = got[k]; got[k] == nil {
			v.versions[in[k].ID] = in[k].Version
		}
	}
	return errs, nil
}

// DeleteVersion implements VersionedView for an item stored as it is
// shown (a deleted exception changes its item: ErrUnversioned).
func (v *recurView) DeleteVersion(ctx context.Context, id, want string) error {
	if _, key := RecurID(id); key != "" {
		return ErrUnversioned
	}
	v.cache = nil
	return AsVersioned(v.View).DeleteVersion(ctx, id, want)
}

// newException returns the UID and RECURRENCE-ID of an item that is one
// exception only.
func newException(data []byte) (uid, rid string) {
	objs := vobject.Parse(data)
	if len(objs) == 0 || objs[0].Name != "VCALENDAR" {
		return "", ""
	}
	var comps []*vobject.Object
	for _, c := range objs[0].Children {
		if c.Name == "VEVENT" || c.Name == "VTODO" {
			comps = append(comps, c)
		}
	}
	if len(comps) != 1 {
		return "", ""
	}
	return comps[0].PropValue("UID"), comps[0].PropValue("RECURRENCE-ID")
}

// Delete deletes items; a deleted exception becomes an EXDATE of its
// item's master.
func (v *recurView) Delete(ctx context.Context, ids ...string) ([]string, error) {
	var whole, parts []string
	for _, id := range ids {
		if _, key := RecurID(id); key == "" {
			whole = append(whole, id)
		} else {
			parts = append(parts, id)
		}
	}
	var missing []string
	if len(whole) > 0 {
		v.cache = nil
		m, err := v.View.Delete(ctx, whole...)
		if err != nil {
			return nil, err
		}
		missing = m
	}
	var rest []string
	for _, id := range parts {
		if b, _ := RecurID(id); !slices.Contains(whole, b) {
			rest = append(rest, id)
		}
	}
	stored, err := v.bases(ctx, rest)
	if err != nil {
		return nil, err
	}
	puts := &rewrites{stored: stored, at: map[string]int{}}
	for _, id := range rest {
		base, key := RecurID(id)
		data, ok := puts.current(base)
		rs, split := parseRecur(data)
		var out []byte
		if ok && split {
			out = rs.withoutException(key)
		}
		if out == nil {
			missing = append(missing, id)
			continue
		}
		puts.set(base, out)
	}
	if len(puts.items) > 0 {
		v.cache = nil
		if err := v.View.Put(ctx, puts.items...); err != nil {
			return nil, err
		}
	}
	return missing, nil
}

// Advance folds the session's writes in, by item.
func (v *recurView) Advance(ctx context.Context, base []byte, own []string) ([]byte, error) {
	var items []string
	for _, id := range own {
		if b, _ := RecurID(id); !slices.Contains(items, b) {
			items = append(items, b)
		}
	}
	return v.View.Advance(ctx, base, items)
}
