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
			id.fields = s + "|" + main.PropValue("DUE")
		}
	}
	return id
}

func sortStrings(s []string) { slices.Sort(s) }
