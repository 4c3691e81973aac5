package pim

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"syncml-imap/internal/vobject"
)

// View is the store as one database of a session sees it. Most
// databases are one store database. A device's calendar database may also
// carry its tasks (phones keep events and to-dos in one vCalendar
// datastore), which live in the tasks folder; a device's contacts may be
// the union of some sub-folders of the contacts folder (its policy).
type View interface {
	Changes(ctx context.Context, since []byte) (*Changes, error)
	Get(ctx context.Context, ids ...string) ([]*Item, error)
	Put(ctx context.Context, items ...*Item) error
	Delete(ctx context.Context, ids ...string) (missing []string, err error)
	Advance(ctx context.Context, base []byte, own []string) ([]byte, error)
	// Databases are the store databases behind the view.
	Databases() []Kind
	// Head is the head of a sync point of the view (QuickStore), nil
	// when the store has none; Unchanged checks one against the store.
	Head(point []byte) []byte
	Unchanged(ctx context.Context, head []byte) (bool, error)
	// PointDelta is what turns point old into new (PointDeltas); false
	// when the store cannot tell, so that new is kept whole.
	PointDelta(old, new []byte) ([]byte, bool)
	ApplyPointDelta(old []byte, deltas [][]byte) ([]byte, error)
}

// PolicyView is the view of database db that a device with policy p
// syncs: the contact sub-folders the policy names, the calendar with the
// tasks when carryTasks, else the store database itself.
func PolicyView(st Store, db Kind, p *Policy, carryTasks bool) View {
	switch {
	case db == Contacts && len(p.ContactFolders) > 0:
		return foldersView(st, db, p.ContactFolders)
	case db == Calendar:
		return calendarView(st, carryTasks)
	}
	return plainView{st, db}
}

// DatabaseView is database db of st as it is, without a policy's folders
// or carried tasks.
func DatabaseView(st Store, db Kind) View { return plainView{st, db} }

// plainView is one store database.
type plainView struct {
	st Store
	db Kind
}

func (v plainView) Databases() []Kind { return []Kind{v.db} }

func (v plainView) Head(point []byte) []byte {
	if q, ok := v.st.(QuickStore); ok && point != nil {
		return q.PointHead(v.db, point)
	}
	return nil
}

func (v plainView) Unchanged(ctx context.Context, head []byte) (bool, error) {
	if q, ok := v.st.(QuickStore); ok && head != nil {
		return q.Unchanged(ctx, v.db, head)
	}
	return false, nil
}

func (v plainView) Changes(ctx context.Context, since []byte) (*Changes, error) {
	return v.st.Changes(ctx, v.db, since)
}
func (v plainView) Get(ctx context.Context, ids ...string) ([]*Item, error) {
	return v.st.Get(ctx, v.db, ids...)
}
func (v plainView) Put(ctx context.Context, items ...*Item) error {
	return v.st.Put(ctx, v.db, items...)
}
func (v plainView) Delete(ctx context.Context, ids ...string) ([]string, error) {
	return v.st.Delete(ctx, v.db, ids...)
}
func (v plainView) Advance(ctx context.Context, base []byte, own []string) ([]byte, error) {
	return v.st.Advance(ctx, v.db, base, own)
}

func (v plainView) PointDelta(old, new []byte) ([]byte, bool) {
	pd, ok := v.st.(PointDeltas)
	if !ok || old == nil || new == nil {
		return nil, false
	}
	delta, err := pd.PointDelta(v.db, old, new)
	return delta, err == nil
}

func (v plainView) ApplyPointDelta(old []byte, deltas [][]byte) ([]byte, error) {
	pd, ok := v.st.(PointDeltas)
	if !ok {
		return nil, ErrSyncPointInvalid
	}
	return pd.ApplyPointDelta(v.db, old, deltas...)
}

// viewPart is one store database of a unionView. Its items' IDs carry
// prefix (store IDs are UUIDs, so no prefix of one part is another's ID).
// listed: its changes are listed (a part that is not only takes writes).
type viewPart struct {
	db     Kind
	prefix string
	listed bool
}

// unionView is several store databases as one: IDs are prefixed per part,
// the sync point holds each part's, new items go where route says.
type unionView struct {
	st    Store
	parts []viewPart
	// route picks the part a new item goes to (index into parts).
	route func(data []byte) int
}

// calendarView is the calendar database of a device that may send to-dos
// in it: new to-dos go to the tasks database (their IDs get taskPrefix),
// changes and deletes go where the item lives. carry lists the tasks
// database's changes too, so the mailbox's tasks reach the device.
func calendarView(st Store, carry bool) *unionView {
	return &unionView{st: st,
		parts: []viewPart{{db: "calendar", listed: true}, {db: "tasks", prefix: taskPrefix, listed: carry}},
		route: func(data []byte) int {
			if IsTaskOnly(data) {
				return 1
			}
			return 0
		}}
}

// foldersView is a device's contacts when its policy names sub-folders:
// their union; new contacts go to the first.
func foldersView(st Store, db Kind, folders []string) *unionView {
	v := &unionView{st: st, route: func([]byte) int { return 0 }}
	for _, f := range folders {
		v.parts = append(v.parts, viewPart{db: db.Sub(f), prefix: f + "/", listed: true})
	}
	return v
}

// TaskCarrier is a calendar view that can carry the tasks database too,
// for a device that keeps its to-dos among its events.
type TaskCarrier interface{ CarryTasks() }

// taskPrefix marks, in a calendar view, the IDs of items of the tasks
// database.
const taskPrefix = "task/"

// CarryTasks starts listing the tasks of a calendar view.
func (v *unionView) CarryTasks() {
	for i := range v.parts {
		if v.parts[i].db == Tasks {
			v.parts[i].listed = true
		}
	}
}

// IsTaskOnly reports whether an item is a to-do and no event.
func IsTaskOnly(data []byte) bool {
	objs := vobject.Parse(data)
	if len(objs) == 0 {
		return false
	}
	return !hasChild(objs[0], "VEVENT") && hasChild(objs[0], "VTODO")
}

// part returns the part an ID belongs to and the store ID; -1 when the
// ID names no part.
func (v *unionView) part(id string) (int, string) {
	for i, p := range v.parts {
		if p.prefix == "" {
			if !strings.Contains(id, "/") {
				return i, id
			}
			continue
		}
		if rest, ok := strings.CutPrefix(id, p.prefix); ok && !strings.Contains(rest, "/") {
			return i, rest
		}
	}
	return -1, ""
}

// byPart splits IDs per part, remembering positions; IDs of no part are
// left out.
func (v *unionView) byPart(ids []string) (store [][]string, at [][]int) {
	store, at = make([][]string, len(v.parts)), make([][]int, len(v.parts))
	for i, id := range ids {
		if p, sid := v.part(id); p >= 0 {
			store[p], at[p] = append(store[p], sid), append(at[p], i)
		}
	}
	return store, at
}

func prefixed(prefix string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = prefix + id
	}
	return out
}

// pointMagic starts a sync point of several databases. A store's own
// point never starts with a NUL byte followed by this text.
const pointMagic = "\x00syncml-imap union\x01"

// joinPoints encodes one point per part.
func joinPoints(points [][]byte) []byte {
	b := []byte(pointMagic)
	b = binary.AppendUvarint(b, uint64(len(points)))
	for _, p := range points {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

// splitPoint undoes joinPoints for n parts; a plain store point is the
// first part's (a view that had one part then), nil gives n nils.
func splitPoint(p []byte, n int) ([][]byte, error) {
	out := make([][]byte, n)
	rest, ok := bytes.CutPrefix(p, []byte(pointMagic))
	if !ok {
		if n > 0 {
			out[0] = p
		}
		return out, nil
	}
	count, k := binary.Uvarint(rest)
	if k <= 0 || count > uint64(len(rest)) {
		return nil, ErrSyncPointInvalid
	}
	rest = rest[k:]
	for i := uint64(0); i < count; i++ {
		l, k := binary.Uvarint(rest)
		if k <= 0 || l > uint64(len(rest)-k) {
			return nil, ErrSyncPointInvalid
		}
		if int(i) < n && l > 0 {
			out[i] = rest[k : k+int(l)]
		}
		rest = rest[k+int(l):]
	}
	return out, nil
}

func (v *unionView) Databases() []Kind {
	var out []Kind
	for _, p := range v.parts {
		out = append(out, p.db)
	}
	return out
}

// Head joins the heads of the listed parts' points; nil unless every
// listed part has one.
func (v *unionView) Head(point []byte) []byte {
	q, ok := v.st.(QuickStore)
	if !ok || point == nil {
		return nil
	}
	points, err := splitPoint(point, len(v.parts))
	if err != nil {
		return nil
	}
	heads := make([][]byte, len(v.parts))
	for i, p := range v.parts {
		if !p.listed {
			continue
		}
		if heads[i] = q.PointHead(p.db, points[i]); heads[i] == nil {
			return nil
		}
	}
	return joinPoints(heads)
}

// Unchanged: every listed part is unchanged (a part not listed has no
// changes to send).
func (v *unionView) Unchanged(ctx context.Context, head []byte) (bool, error) {
	q, ok := v.st.(QuickStore)
	if !ok || head == nil {
		return false, nil
	}
	heads, err := splitPoint(head, len(v.parts))
	if err != nil {
		return false, nil
	}
	for i, p := range v.parts {
		if !p.listed {
			continue
		}
		if heads[i] == nil {
			return false, nil
		}
		if same, err := q.Unchanged(ctx, p.db, heads[i]); err != nil || !same {
			return false, err
		}
	}
	return true, nil
}

func (v *unionView) Changes(ctx context.Context, since []byte) (*Changes, error) {
	sinces, err := splitPoint(since, len(v.parts))
	if err != nil {
		return nil, err
	}
	out := &Changes{}
	points := make([][]byte, len(v.parts))
	for i, p := range v.parts {
		if !p.listed {
			points[i] = sinces[i]
			continue
		}
		ch, err := v.st.Changes(ctx, p.db, sinces[i])
		if err != nil { // ErrSyncPointInvalid included: the caller starts over with a slow sync
			return nil, err
		}
		out.Added = append(out.Added, prefixed(p.prefix, ch.Added)...)
		out.Modified = append(out.Modified, prefixed(p.prefix, ch.Modified)...)
		out.Deleted = append(out.Deleted, prefixed(p.prefix, ch.Deleted)...)
		points[i] = ch.Point
	}
	out.Point = joinPoints(points)
	return out, nil
}

func (v *unionView) Get(ctx context.Context, ids ...string) ([]*Item, error) {
	store, at := v.byPart(ids)
	out := make([]*Item, len(ids))
	for i, p := range v.parts {
		if len(store[i]) == 0 {
			continue
		}
		got, err := v.st.Get(ctx, p.db, store[i]...)
		if err != nil {
			return nil, err
		}
		for j, it := range got {
			if it != nil {
				it = &Item{ID: p.prefix + it.ID, Data: it.Data, Version: it.Version}
			}
			out[at[i][j]] = it
		}
	}
	return out, nil
}

// Put stores each item in its part (new items where route says); the
// new IDs come back prefixed.
func (v *unionView) Put(ctx context.Context, items ...*Item) error {
	batches := make([][]*Item, len(v.parts))
	callers := make([][]*Item, len(v.parts)) // the caller's, to fill in their IDs
	for _, it := range items {
		p, sid := v.part(it.ID)
		if it.ID == "" {
			p = v.route(it.Data)
		}
		if p < 0 {
			return fmt.Errorf("pim: item ID %q belongs to no folder of this view", it.ID)
		}
		batches[p] = append(batches[p], &Item{ID: sid, Data: it.Data})
		callers[p] = append(callers[p], it)
	}
	for i, p := range v.parts {
		if len(batches[i]) == 0 {
			continue
		}
		if err := v.st.Put(ctx, p.db, batches[i]...); err != nil {
			return err
		}
		for j, it := range batches[i] {
			callers[i][j].ID, callers[i][j].Version = p.prefix+it.ID, it.Version
		}
	}
	return nil
}

func (v *unionView) Delete(ctx context.Context, ids ...string) ([]string, error) {
	store, _ := v.byPart(ids)
	var missing []string
	for i, p := range v.parts {
		if len(store[i]) == 0 {
			continue
		}
		m, err := v.st.Delete(ctx, p.db, store[i]...)
		if err != nil {
			return nil, err
		}
		missing = append(missing, prefixed(p.prefix, m)...)
	}
	return missing, nil
}

// PointDelta joins the parts' deltas; a part whose point did not change
// has an empty one.
func (v *unionView) PointDelta(old, new []byte) ([]byte, bool) {
	pd, ok := v.st.(PointDeltas)
	olds, err1 := splitPoint(old, len(v.parts))
	news, err2 := splitPoint(new, len(v.parts))
	if !ok || err1 != nil || err2 != nil || !bytes.HasPrefix(old, []byte(pointMagic)) || !bytes.HasPrefix(new, []byte(pointMagic)) {
		return nil, false
	}
	deltas := make([][]byte, len(v.parts))
	for i, p := range v.parts {
		switch {
		case bytes.Equal(olds[i], news[i]):
		case olds[i] == nil || news[i] == nil:
			return nil, false
		default:
			d, err := pd.PointDelta(p.db, olds[i], news[i])
			if err != nil {
				return nil, false
			}
			deltas[i] = d
		}
	}
	return joinPoints(deltas), true
}

func (v *unionView) ApplyPointDelta(old []byte, deltas [][]byte) ([]byte, error) {
	pd, ok := v.st.(PointDeltas)
	olds, err := splitPoint(old, len(v.parts))
	if !ok || err != nil {
		return nil, ErrSyncPointInvalid
	}
	parts := make([][][]byte, len(v.parts)) // each part's deltas
	for _, delta := range deltas {
		ds, err := splitPoint(delta, len(v.parts))
		if err != nil {
			return nil, ErrSyncPointInvalid
		}
		for i, d := range ds {
			if d != nil {
				parts[i] = append(parts[i], d)
			}
		}
	}
	news := make([][]byte, len(v.parts))
	for i, p := range v.parts {
		news[i] = olds[i]
		if len(parts[i]) > 0 {
			n, err := pd.ApplyPointDelta(p.db, olds[i], parts[i]...)
			if err != nil {
				return nil, err
			}
			news[i] = n
		}
	}
	return joinPoints(news), nil
}

// Advance folds the session's own writes into each listed part's point.
// A part listed since this session has a nil base: its point then holds
// the device's own items, and the rest stays to be sent.
func (v *unionView) Advance(ctx context.Context, base []byte, own []string) ([]byte, error) {
	bases, err := splitPoint(base, len(v.parts))
	if err != nil {
		bases = make([][]byte, len(v.parts))
	}
	mine, _ := v.byPart(own)
	points := make([][]byte, len(v.parts))
	for i, p := range v.parts {
		if !p.listed {
			continue
		}
		if points[i], err = v.st.Advance(ctx, p.db, bases[i], mine[i]); err != nil {
			return nil, err
		}
	}
	return joinPoints(points), nil
}

// VersionedView is a View whose store keeps item versions (Versioner):
// a session that writes an item only at the version it read, and knows
// the version its listing saw, never overwrites unseen what another
// writer (a DAV client, a mail client, another session) changed
// meanwhile. See AsVersioned.
type VersionedView interface {
	View
	// PointVersions are the versions the items had at point (a point
	// of the view), by ID; items the view cannot name at a version
	// (ErrUnversioned) are left out.
	PointVersions(point []byte) (map[string]string, error)
	// Versions are the versions items ids are at now ("" or absent:
	// gone), listed as Versioner.Versions does.
	Versions(ctx context.Context, ids []string) (map[string]string, error)
	// PutVersions stores items (IDs set) each only if it is at its want
	// ("": none), as Versioner.PutVersions; errs[i] may also be
	// ErrUnversioned (an exception, an item the device holds split: the
	// caller writes it with Put, which joins them).
	PutVersions(ctx context.Context, items []*Item, wants []string) (errs []error, err error)
	// DeleteVersion removes item id only if it is at want.
	DeleteVersion(ctx context.Context, id, want string) error
}

// ErrUnversioned is a VersionedView's answer for an item it cannot write
// or name at a version (an exception a recurring item holds): the caller
// writes it with Put, last writer wins.
var ErrUnversioned = errors.New("pim: item written without versions")

// AsVersioned is v as a VersionedView, nil when v or its store keeps no
// versions (then writes are last-writer-wins).
func AsVersioned(v View) VersionedView {
	switch w := v.(type) {
	case *recurView:
		if AsVersioned(w.View) != nil {
			return w
		}
	case plainView:
		if _, ok := w.st.(Versioner); ok {
			return w
		}
	case *unionView:
		if _, ok := w.st.(Versioner); ok {
			return w
		}
	}
	return nil
}

func (v plainView) PointVersions(point []byte) (map[string]string, error) {
	if point == nil {
		return map[string]string{}, nil
	}
	return v.st.(Versioner).PointVersions(v.db, point)
}

func (v plainView) Versions(ctx context.Context, _ []string) (map[string]string, error) {
	vs, _, err := v.st.(Versioner).Versions(ctx, v.db)
	return vs, err
}

func (v plainView) PutVersions(ctx context.Context, items []*Item, wants []string) ([]error, error) {
	return v.st.(Versioner).PutVersions(ctx, v.db, items, wants)
}

func (v plainView) DeleteVersion(ctx context.Context, id, want string) error {
	return v.st.(Versioner).DeleteVersion(ctx, v.db, id, want)
}

func (v *unionView) PointVersions(point []byte) (map[string]string, error) {
	out := map[string]string{}
	if point == nil {
		return out, nil
	}
	points, err := splitPoint(point, len(v.parts))
	if err != nil {
		return nil, err
	}
	for i, p := range v.parts {
		if points[i] == nil {
			continue
		}
		vs, err := v.st.(Versioner).PointVersions(p.db, points[i])
		if err != nil {
			return nil, err
		}
		for id, ver := range vs {
			out[p.prefix+id] = ver
		}
	}
	return out, nil
}

func (v *unionView) Versions(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	byPart, _ := v.byPart(ids)
	for i, sids := range byPart {
		if len(sids) == 0 {
			continue
		}
		vs, _, err := v.st.(Versioner).Versions(ctx, v.parts[i].db)
		if err != nil {
			return nil, err
		}
		for _, sid := range sids {
			if ver, ok := vs[sid]; ok {
				out[v.parts[i].prefix+sid] = ver
			}
		}
	}
	return out, nil
}

func (v *unionView) PutVersions(ctx context.Context, items []*Item, wants []string) ([]error, error) {
	if len(items) != len(wants) {
		return nil, fmt.Errorf("pim: PutVersions: %d items, %d versions", len(items), len(wants))
	}
	errs := make([]error, len(items))
	ins := make([][]*Item, len(v.parts))
	ws := make([][]string, len(v.parts))
	at := make([][]int, len(v.parts))
	for i, it := range items {
		p, sid := v.part(it.ID)
		if p < 0 || it.ID == "" {
			errs[i] = fmt.Errorf("%w: item ID %q belongs to no folder of this view", ErrInvalidItem, it.ID)
			continue
		}
		ins[p], ws[p], at[p] = append(ins[p], &Item{ID: sid, Data: it.Data}), append(ws[p], wants[i]), append(at[p], i)
	}
	for p := range v.parts {
		if len(ins[p]) == 0 {
			continue
		}
		got, err := v.st.(Versioner).PutVersions(ctx, v.parts[p].db, ins[p], ws[p])
		if err != nil {
			return nil, err
		}
		for k, i := range at[p] {
			if errs[i] = got[k]; got[k] == nil {
				items[i].Data, items[i].Version = ins[p][k].Data, ins[p][k].Version
			}
		}
	}
	return errs, nil
}

func (v *unionView) DeleteVersion(ctx context.Context, id, want string) error {
	p, sid := v.part(id)
	if p < 0 {
		return fmt.Errorf("%w: item ID %q belongs to no folder of this view", ErrNotFound, id)
	}
	return v.st.(Versioner).DeleteVersion(ctx, v.parts[p].db, sid, want)
}
