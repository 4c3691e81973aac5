package dav

import (
	"encoding/base64"
	"net/url"
	"path"
	"strings"

	"syncml-imap/pim"
)

// The tree a user sees, under the handler's prefix:
//
//	/                       the root: it names the user's principal
//	/<user>/                the principal: it names the two home sets
//	/<user>/contacts/       the address book home set
//	/<user>/contacts/default/  the Contacts folder, an address book
//	/<user>/calendars/      the calendar home set
//	/<user>/calendars/events/  the Calendar folder (VEVENT)
//	/<user>/calendars/tasks/   the Tasks folder (VTODO)
//
// and in a collection, one resource per item, <name>.vcf or <name>.ics.

// level is what a path names.
type level int

const (
	levelRoot level = iota
	levelPrincipal
	levelHome
	levelCollection
	levelObject
)

// Home set names under a principal.
const (
	homeContacts  = "contacts"
	homeCalendars = "calendars"
)

// collection is one DAV collection: a folder of the mailbox.
type collection struct {
	home, name string
	kind       pim.Kind
	display    string
	// comp is the iCalendar component it holds, "" for an address book.
	comp string
}

// collections lists what every user has, in the order PROPFIND lists
// them: the Contacts folder, then each of contactFolders (sub-folder
// paths of it, "Family", "Friends/School") as an address book of its
// own, then the Calendar and Tasks folders. A sub-folder's collection is
// its path where that is plain, else "~" and the path in base64url.
func collections(contactFolders []string) []collection {
	out := []collection{{home: homeContacts, name: "default", kind: pim.Contacts, display: "Contacts"}}
	for _, f := range contactFolders {
		name := f
		if !plain(f) || f == "default" {
			name = "~" + b64.EncodeToString([]byte(f))
		}
		out = append(out, collection{home: homeContacts, name: name, kind: pim.Contacts.Sub(f), display: f})
	}
	return append(out,
		collection{home: homeCalendars, name: "events", kind: pim.Calendar, display: "Calendar", comp: "VEVENT"},
		collection{home: homeCalendars, name: "tasks", kind: pim.Tasks, display: "Tasks", comp: "VTODO"})
}

func (c *collection) ext() string {
	if c.comp == "" {
		return ".vcf"
	}
	return ".ics"
}

func (c *collection) contentType() string {
	if c.comp == "" {
		return "text/vcard; charset=utf-8"
	}
	return "text/calendar; charset=utf-8; component=" + strings.ToLower(c.comp)
}

// resource is a parsed request path.
type resource struct {
	level level
	user  string
	home  string
	coll  *collection
	// name is the object's last path segment, id the item's ID.
	name, id string
}

// parsePath reads p (the request's decoded path, prefix removed) in a
// tree of colls. ok is false for a path that names nothing of the tree.
func parsePath(p string, colls []collection) (res resource, ok bool) {
	p = strings.Trim(path.Clean("/"+p), "/")
	if p == "" {
		return resource{level: levelRoot}, true
	}
	segs := strings.Split(p, "/")
	res.user = segs[0]
	res.level = levelPrincipal
	if len(segs) == 1 {
		return res, true
	}
	res.home = segs[1]
	if res.home != homeContacts && res.home != homeCalendars {
		return res, false
	}
	res.level = levelHome
	if len(segs) == 2 {
		return res, true
	}
	for i := range colls {
		if c := &colls[i]; c.home == res.home && c.name == segs[2] {
			res.coll = c
		}
	}
	if res.coll == nil {
		return res, false
	}
	res.level = levelCollection
	if len(segs) == 3 {
		return res, true
	}
	if len(segs) > 4 {
		return res, false
	}
	res.level = levelObject
	res.name = segs[3]
	res.id, ok = idOf(res.name, res.coll.ext())
	return res, ok
}

// An item's resource name is its ID and the collection's extension when
// the ID is plain, which every ID this program makes is. A DAV client
// may choose any name: one that is not an ID so made becomes the ID "~"
// and the name in base64url; an ID from elsewhere that is not plain
// (a mail client's item, say) is named "~~", its base64url and the
// extension. Both ways are exact inverses, so the name a client chose
// is the name it reads back.

// maxIDLen is imapstore's bound on an item ID.
const maxIDLen = 200

// plain reports whether s can stand as it is in a path segment and in
// an item ID.
func plain(s string) bool {
	if s == "" || s[0] == '~' || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == '@', c == '+', c == '=':
		default:
			return false
		}
	}
	return true
}

var b64 = base64.RawURLEncoding

// idOf is the item ID of resource name in a collection of extension ext.
func idOf(name, ext string) (string, bool) {
	if rest, ok := strings.CutPrefix(name, "~~"); ok {
		if enc, ok := strings.CutSuffix(rest, ext); ok {
			if id, err := b64.DecodeString(enc); err == nil && len(id) > 0 && !plain(string(id)) {
				return string(id), true
			}
		}
	}
	if stem, ok := strings.CutSuffix(name, ext); ok && plain(stem) && len(stem) <= maxIDLen {
		return stem, true
	}
	id := "~" + b64.EncodeToString([]byte(name))
	return id, name != "" && len(id) <= maxIDLen
}

// nameOf is the resource name of item id in a collection of extension
// ext.
func nameOf(id, ext string) string {
	if enc, ok := strings.CutPrefix(id, "~"); ok && !strings.HasPrefix(enc, "~") {
		if name, err := b64.DecodeString(enc); err == nil {
			if back, ok := idOf(string(name), ext); ok && back == id {
				return string(name)
			}
		}
	}
	if plain(id) {
		return id + ext
	}
	return "~~" + b64.EncodeToString([]byte(id)) + ext
}

// hrefs build the paths of the tree under prefix, unescaped (as
// r.URL.Path and go-webdav's Path fields are); escape writes one into a
// response.
type hrefs struct{ prefix string }

func (h hrefs) root() string                  { return h.prefix + "/" }
func (h hrefs) principal(user string) string  { return h.prefix + "/" + user + "/" }
func (h hrefs) home(user, home string) string { return h.principal(user) + home + "/" }
func (h hrefs) collection(user string, c *collection) string {
	return h.home(user, c.home) + c.name + "/"
}
func (h hrefs) object(user string, c *collection, id string) string {
	return h.collection(user, c) + nameOf(id, c.ext())
}

func escape(p string) string { return (&url.URL{Path: p}).EscapedPath() }
