package syncml

import "syncml-imap/pim"

// DefaultAliases maps the database names real devices use to the
// canonical ones. Lookups ignore case, a leading "./" and a trailing "/".
var DefaultAliases = map[string]pim.Kind{
	"contacts": "contacts", "contact": "contacts", "card": "contacts", "cards": "contacts",
	"addressbook": "contacts", "address": "contacts", "vcard": "contacts", "pab": "contacts",
	"calendar": "calendar", "cal": "calendar", "event": "calendar", "events": "calendar",
	"vcalendar": "calendar", "scal": "calendar",
	"tasks": "tasks", "task": "tasks", "todo": "tasks", "todos": "tasks", "stask": "tasks",
}

// contentType is the media type and version items of db are sent in.
func contentType(db pim.Kind) (string, string) {
	if db == pim.Contacts {
		return "text/vcard", "3.0"
	}
	return "text/calendar", "2.0"
}
