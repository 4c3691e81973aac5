package syncml

import (
	"slices"
	"strings"

	"syncml-imap/internal/vobject"
)

// itemIdentity is what makes two items "the same" for duplicate detection
// in a slow sync: the UID property, else identity fields (a contact's
// name; an event's summary and start; a task's summary and due date).
type itemIdentity struct {
	uid    string
	fields string
}

func identity(db string, data []byte) itemIdentity {
	objs := vobject.Parse(data)
	if len(objs) == 0 {
		return itemIdentity{}
	}
	main := objs[0]
	if db == "calendar" && !hasChild(main, "VEVENT") && hasChild(main, "VTODO") {
		db = "tasks" // a to-do sent in a calendar database
	}
	comp := map[string]string{"calendar": "VEVENT", "tasks": "VTODO"}[db]
	if comp != "" {
		main = nil
		for _, c := range objs[0].Children {
			if c.Name == comp && (main == nil || c.Prop("RECURRENCE-ID") == nil) {
				main = c
			}
		}
		if main == nil {
			return itemIdentity{}
		}
	}
	id := itemIdentity{uid: main.PropValue("UID")}
	norm := func(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }
	switch db {
	case "contacts":
		name := main.PropValue("FN")
		if name == "" {
			name = strings.ReplaceAll(main.PropValue("N"), ";", " ")
		}
		id.fields = norm(name)
	case "calendar":
		if s := norm(main.PropValue("SUMMARY")); s != "" {
			id.fields = s + "|" + main.PropValue("DTSTART")
		}
	case "tasks":
		if s := norm(main.PropValue("SUMMARY")); s != "" {
			id.fields = s + "|due|" + main.PropValue("DUE")
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

func sortStrings(s []string) { slices.Sort(s) }

// volatile properties change without the item changing for a person.
var volatile = map[string]bool{
	"VERSION": true, "PRODID": true, "REV": true, "UID": true, "DTSTAMP": true,
	"LAST-MODIFIED": true, "CREATED": true, "SEQUENCE": true,
}

// sameContent reports whether two versions of an item say the same
// thing: the same properties with the same values, whatever their order,
// folding and encoding, ignoring empty properties, bookkeeping (REV,
// DTSTAMP, PRODID...), extensions (X-...), and a DESCRIPTION that only
// repeats the SUMMARY (some clients add it). A device echoing back an
// item it received is then not a change.
func sameContent(a, b []byte) bool {
	return slices.Equal(contentLines(a), contentLines(b))
}

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

// Identity is what makes an item the same as another for duplicate
// detection (slow sync, import): its UID, and its identity fields (a
// contact's name; an event's summary and start; a task's summary and
// due date), each "" when absent. Two items are the same when their UIDs
// are equal, or their fields are.
func Identity(db string, data []byte) (uid, fields string) {
	id := identity(db, data)
	return id.uid, id.fields
}

// SameContent reports whether two versions of an item say the same
// thing (see sameContent).
func SameContent(a, b []byte) bool { return sameContent(a, b) }
