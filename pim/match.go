package pim

import (
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strings"

	"syncml-imap/internal/vobject"
)

// Identity is what makes an item the same as another for duplicate
// detection (slow sync, import): its UID, and its identity fields (a
// contact's name; an event's summary and start; a task's summary and
// due date), each "" when absent. Two items are the same when their UIDs
// are equal, or their fields are.
type Identity struct {
	UID    string
	Fields string
}

// IdentityOf returns the identity of an item of database db.
func IdentityOf(db Kind, data []byte) Identity {
	objs := vobject.Parse(data)
	if len(objs) == 0 {
		return Identity{}
	}
	main := objs[0]
	if db == Calendar && !hasChild(main, "VEVENT") && hasChild(main, "VTODO") {
		db = "tasks" // a to-do sent in a calendar database
	}
	comp := map[Kind]string{Calendar: "VEVENT", Tasks: "VTODO"}[db]
	if comp != "" {
		main = nil
		for _, c := range objs[0].Children {
			if c.Name == comp && (main == nil || c.Prop("RECURRENCE-ID") == nil) {
				main = c
			}
		}
		if main == nil {
			return Identity{}
		}
	}
	id := Identity{UID: main.PropValue("UID")}
	norm := func(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }
	switch db {
	case "contacts":
		name := main.PropValue("FN")
		if name == "" {
			name = strings.ReplaceAll(main.PropValue("N"), ";", " ")
		}
		id.Fields = norm(name)
	case "calendar":
		if s := norm(main.PropValue("SUMMARY")); s != "" {
			id.Fields = s + "|" + main.PropValue("DTSTART")
		}
	case "tasks":
		if s := norm(main.PropValue("SUMMARY")); s != "" {
			id.Fields = s + "|due|" + main.PropValue("DUE")
		}
	}
	return id
}

func hasChild(o *vobject.Object, name string) bool {
	for _, c := range o.Children {
		if c.Name == name {
			return true
		}
	}
	return false
}

// volatile properties change without the item changing for a person.
var volatile = map[string]bool{
	"VERSION": true, "PRODID": true, "REV": true, "UID": true, "DTSTAMP": true,
	"LAST-MODIFIED": true, "CREATED": true, "SEQUENCE": true,
}

// Volatile reports whether a property (by upper-case name) is bookkeeping
// that changes without the item changing for a person: merges and
// same-content checks pass over it.
func Volatile(name string) bool { return volatile[name] }

// SameContent reports whether two versions of an item say the same
// thing: the same properties with the same values, whatever their order,
// folding and encoding, ignoring empty properties, bookkeeping (REV,
// DTSTAMP, PRODID...), extensions (X-...), and a DESCRIPTION that only
// repeats the SUMMARY (some clients add it). A device echoing back an
// item it received is then not a change.
func SameContent(a, b []byte) bool {
	return slices.Equal(contentLines(a), contentLines(b))
}

// contentLines is what SameContent compares: the item's properties in a
// normal form, without what it passes over, sorted.
func contentLines(data []byte) []string {
	var out []string
	var walk func(o *vobject.Object)
	walk = func(o *vobject.Object) {
		out = append(out, "BEGIN:"+o.Name)
		summary := o.PropValue("SUMMARY")
		for _, p := range o.Props {
			v := strings.TrimSpace(p.Value)
			if volatile[p.Name] || strings.HasPrefix(p.Name, "X-") || strings.Trim(v, "; ") == "" {
				continue
			}
			if p.Name == "DESCRIPTION" && vobject.UnescapeText(v) == summary {
				continue
			}
			var params []string
			for k, pv := range p.Params {
				if k == "ENCODING" || k == "CHARSET" {
					continue
				}
				params = append(params, k+"="+strings.ToUpper(pv))
			}
			slices.Sort(params)
			out = append(out, p.Name+";"+strings.Join(params, ";")+":"+v)
		}
		for _, c := range o.Children {
			walk(c)
		}
	}
	for _, o := range vobject.Parse(data) {
		walk(o)
	}
	slices.Sort(out)
	return out
}

// ContentVersion names an item's content, for telling later whether it
// is still the version a device has: a digest of what SameContent
// compares, so bookkeeping a store adds (UID, REV) does not count.
func ContentVersion(data []byte) string {
	if data == nil {
		return ""
	}
	sum := sha256.Sum256([]byte(strings.Join(contentLines(data), "\n")))
	return base64.RawStdEncoding.EncodeToString(sum[:12])
}

// sameContentScan bounds the items of one identity Match compares.
const sameContentScan = 32

// IdentityIndex finds, for an item a device or a file brings, the stored
// item it is the same as (see Identity), each stored item at most once:
// the slow sync's duplicate detection and the import's.
type IdentityIndex struct {
	kind     Kind
	byUID    map[string][]string
	byFields map[string][]string
	data     map[string][]byte
	taken    map[string]bool
}

// NewIdentityIndex returns an empty index of items of kind.
func NewIdentityIndex(kind Kind) *IdentityIndex {
	return &IdentityIndex{kind: kind, byUID: map[string][]string{}, byFields: map[string][]string{},
		data: map[string][]byte{}, taken: map[string]bool{}}
}

// Add indexes stored item id; nil data (an item gone) is not indexed.
func (x *IdentityIndex) Add(id string, data []byte) {
	if data == nil {
		return
	}
	k := IdentityOf(x.kind, data)
	if k.UID != "" {
		x.byUID[k.UID] = append(x.byUID[k.UID], id)
	}
	if k.Fields != "" {
		x.byFields[k.Fields] = append(x.byFields[k.Fields], id)
	}
	x.data[id] = data
}

// Take marks item id as standing for something already (a device's
// mapped item, an earlier record): Match passes over it.
func (x *IdentityIndex) Take(id string) { x.taken[id] = true }

// Empty reports whether no item with an identity is indexed: nothing
// can match, and the caller need not read what it brings.
func (x *IdentityIndex) Empty() bool { return len(x.byUID) == 0 && len(x.byFields) == 0 }

// HasUID returns the first item indexed with uid, taken or not ("" when
// none).
func (x *IdentityIndex) HasUID(uid string) string {
	if uid == "" || len(x.byUID[uid]) == 0 {
		return ""
	}
	return x.byUID[uid][0]
}

// Match returns, and takes, the first free item with data's UID, else
// one with its identity fields (MatchFields); "" when there is none.
func (x *IdentityIndex) Match(data []byte) string {
	k := IdentityOf(x.kind, data)
	if id := x.MatchUID(k.UID); id != "" {
		return id
	}
	return x.MatchFields(k.Fields, data)
}

// MatchUID returns, and takes, the first free item with uid.
func (x *IdentityIndex) MatchUID(uid string) string {
	if uid == "" {
		return ""
	}
	for _, id := range x.byUID[uid] {
		if !x.taken[id] {
			x.taken[id] = true
			return id
		}
	}
	return ""
}

// MatchFields returns, and takes, a free item with identity fields
// fields: one with the same content as data first (among the first
// sameContentScan free ones: many items of one name must not make a slow
// sync quadratic), else the first.
func (x *IdentityIndex) MatchFields(fields string, data []byte) string {
	if fields == "" {
		return ""
	}
	free := 0
	for _, id := range x.byFields[fields] {
		if !x.taken[id] {
			free++
		}
	}
	first, scanned := "", 0
	for _, id := range x.byFields[fields] {
		if x.taken[id] {
			continue
		}
		if free == 1 {
			// The only candidate: no comparison can change the answer
			// (and the caller compares the contents itself).
			first = id
			break
		}
		if scanned++; scanned > sameContentScan {
			break
		}
		if SameContent(x.data[id], data) {
			first = id
			break
		}
		if first == "" {
			first = id
		}
	}
	if first != "" {
		x.taken[first] = true
	}
	return first
}
