package pim

import (
	"slices"
	"strings"

	"syncml-imap/internal/vobject"
)

// Field merge of a device's edit onto the stored item: what a device
// cannot hold is never removed from the mailbox by its edit.

// PropHold is what a device holds of one property (or sub-component) of
// its items, as its front learns it (SyncML: the DevInf's CTCap and what
// the device has sent): whether it holds it (Known: there is anything to
// go on at all), and the limits it truncates to (0: none given).
type PropHold struct {
	Supported, Known  bool
	MaxOccur, MaxSize int
	// Types are the TYPE values the device lists for the property; nil:
	// it lists none (then it may hold any).
	Types []string
}

// MainObject is an item's card, or its calendar's event or task that is
// not an exception; nil when it has none.
func MainObject(data []byte) *vobject.Object {
	objs := vobject.Parse(data)
	if len(objs) == 0 {
		return nil
	}
	if objs[0].Name == "VCALENDAR" {
		return MainComponent(objs[0])
	}
	return objs[0]
}

// NamesOf lists the properties and sub-components of a canonical item's
// main object (MainObject) as COMPONENT:NAME (VCARD:TEL, VEVENT:VALARM),
// to learn what a device holds.
func NamesOf(obj *vobject.Object) []string {
	if obj == nil {
		return nil
	}
	var out []string
	for _, p := range obj.Props {
		if p.Name != "BEGIN" && p.Name != "END" {
			out = append(out, obj.Name+":"+p.Name)
		}
	}
	for _, k := range obj.Children {
		out = append(out, obj.Name+":"+k.Name)
	}
	return out
}

// AddNames returns the sorted set of names with more added; the same
// slice when nothing is new (the common case: a device sends the same
// properties again and again).
func AddNames(set []string, more []string) []string {
	var grown []string
	for _, n := range more {
		if _, ok := slices.BinarySearch(set, n); !ok && !slices.Contains(grown, n) {
			grown = append(grown, n)
		}
	}
	if len(grown) == 0 {
		return set
	}
	out := slices.Concat(set, grown)
	slices.Sort(out)
	return out
}

// MergeKept restores what a device did not send back. Both versions are
// canonical; for calendars the event or task is merged.
//   - A property the stored version has and the device's lacks is kept,
//     unless the device holds it (then leaving it out
//     is a real deletion): a missing field is not a cleared field.
//   - A device at its stated limits (MaxOccur instances, MaxSize length)
//     truncated: the stored extra instances and the longer value stay.
func MergeKept(stored, device []byte, info func(string) PropHold) []byte {
	so, do := vobject.Parse(stored), vobject.Parse(device)
	if len(so) == 0 || len(do) == 0 || so[0].Name != do[0].Name {
		return device
	}
	if so[0].Name != "VCALENDAR" {
		return []byte(mergeObject(so[0], do[0], info))
	}
	sc, dc := MainComponent(so[0]), MainComponent(do[0])
	if sc == nil || dc == nil || sc.Name != dc.Name {
		return device
	}
	whole := strings.Join(do[0].Lines, "")
	return []byte(strings.Replace(whole, strings.Join(dc.Lines, ""), mergeObject(sc, dc, info), 1))
}

func mergeObject(s, d *vobject.Object, info func(string) PropHold) string {
	devByName := map[string][]vobject.Line{}
	for _, p := range d.Props {
		devByName[p.Name] = append(devByName[p.Name], p)
	}
	storedCount := map[string]int{}
	for _, p := range s.Props {
		storedCount[p.Name]++
	}
	var add []string
	replace := map[string]string{} // device line (Orig) → stored line
	for _, p := range s.Props {
		if p.Name == "BEGIN" || p.Name == "END" || Volatile(p.Name) {
			continue
		}
		dev := devByName[p.Name]
		pi := info(p.Name)
		switch {
		case len(dev) == 0:
			if !(pi.Known && pi.Supported) {
				add = append(add, p.Orig)
			}
		case len(dev) == 1 && dev[0].Raw != p.Raw && sameDate(dev[0].Value, p.Value):
			// The device wrote the date its own way (16040415 for
			// 1604-04-15) and dropped parameters it does not know
			// (X-APPLE-OMIT-YEAR, a birthday without a year): the stored
			// line says the same and more.
			replace[dev[0].Orig] = p.Orig
		case containsValue(dev, p.Value):
			// The same value; a type the device cannot hold (SyncEvolution
			// lists no PREF for EMAIL) is no change: the stored line stays.
			if d := lineWithValue(dev, p.Value); d != nil && d.Raw != p.Raw && dropsTypes(p, *d, pi.Types) {
				replace[d.Orig] = p.Orig
			}
		case pi.MaxOccur > 0 && len(dev) >= pi.MaxOccur && storedCount[p.Name] > len(dev):
			add = append(add, p.Orig) // an instance beyond the device's limit
		case pi.MaxSize > 0 && len(dev) == 1 && len(dev[0].Value) >= pi.MaxSize &&
			len(p.Value) > len(dev[0].Value) && strings.HasPrefix(p.Value, dev[0].Value):
			replace[dev[0].Orig] = p.Orig // the device cut the text short
		}
	}
	// Sub-components (alarms) the device dropped and does not claim.
	var kids []string
	for _, sc := range s.Children {
		found := false
		for _, dc := range d.Children {
			found = found || dc.Name == sc.Name
		}
		if pi := info(sc.Name); !found && !(pi.Known && pi.Supported) {
			kids = append(kids, strings.Join(sc.Lines, ""))
		}
	}
	// The device's own lines, with the kept ones before its END. Lines of
	// its sub-components are written as they are.
	var b strings.Builder
	for i, l := range d.Lines {
		if i == len(d.Lines)-1 {
			b.WriteString(strings.Join(add, ""))
			b.WriteString(strings.Join(kids, ""))
		}
		if r, ok := replace[l]; ok {
			l = r
		}
		b.WriteString(l)
	}
	return b.String()
}

// sameDate reports whether a and b are one date (YYYY-MM-DD or YYYYMMDD).
func sameDate(a, b string) bool {
	a, b = strings.ReplaceAll(a, "-", ""), strings.ReplaceAll(b, "-", "")
	if len(a) != 8 || a != b {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] < '0' || a[i] > '9' {
			return false
		}
	}
	return true
}

func lineWithValue(lines []vobject.Line, v string) *vobject.Line {
	for i := range lines {
		if lines[i].Value == v {
			return &lines[i]
		}
	}
	return nil
}

// dropsTypes reports whether the device's line d lacks only types of the
// stored line s that the device does not list (held, of all it lists):
// it says the same as s, less what it cannot hold.
func dropsTypes(s, d vobject.Line, held []string) bool {
	if len(held) == 0 {
		return false
	}
	split := func(l vobject.Line) map[string]bool {
		out := map[string]bool{}
		for _, t := range strings.Split(l.Params["TYPE"], ",") {
			if t = strings.ToUpper(strings.TrimSpace(t)); t != "" {
				out[t] = true
			}
		}
		return out
	}
	st, dt := split(s), split(d)
	lost := false
	for t := range st {
		if dt[t] {
			continue
		}
		if slices.ContainsFunc(held, func(h string) bool { return strings.EqualFold(h, t) }) {
			return false // a type the device holds and took off: an edit
		}
		lost = true
	}
	for t := range dt {
		if !st[t] {
			return false // the device added a type: an edit
		}
	}
	return lost
}

func containsValue(lines []vobject.Line, v string) bool {
	for _, l := range lines {
		if l.Value == v {
			return true
		}
	}
	return false
}
