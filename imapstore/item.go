package imapstore

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"fmt"
	"strings"
	"time"

	"syncml-imap/internal/folderpath"
	"syncml-imap/internal/vformat"
	"syncml-imap/internal/vobject"
)

// Kind is what a folder holds: one of the base kinds below, or a
// sub-folder of a base kind's folder (see Kind.Sub).
type Kind string

const (
	KindContacts Kind = "contacts" // vCards
	KindCalendar Kind = "calendar" // iCalendar VEVENTs
	KindTasks    Kind = "tasks"    // iCalendar VTODOs
)

// Kinds lists every base kind of item folder.
var Kinds = []Kind{KindContacts, KindCalendar, KindTasks}

// Sub returns the kind of a sub-folder of k's folder: the base kind, "/",
// and the sub-folder's path with "/" between its levels, whatever
// hierarchy delimiter the IMAP server uses. KindContacts.Sub("Family") is
// "contacts/Family", the folder "Contacts/Family" on a server whose
// delimiter is "/" and "Contacts.Family" on one whose delimiter is ".";
// KindContacts.Sub("Friends/School") and
// KindContacts.Sub("Friends").Sub("School") are the same kind.
//
// A sub-folder kind holds what its base kind holds and works the same
// everywhere a Kind is taken. Sub does not check name: a path that
// folderpath.Check refuses (an empty level, "." or "..", a control
// character, an IMAP wildcard) makes a kind every operation refuses with
// ErrInvalidKind before it sends anything to the server.
func (k Kind) Sub(name string) Kind {
	return k + "/" + Kind(name)
}

// Base returns the base kind of a sub-folder kind, and k itself for a base
// kind.
func (k Kind) Base() Kind {
	base, _, _ := strings.Cut(string(k), "/")
	return Kind(base)
}

// SubPath returns the sub-folder path of a sub-folder kind, levels
// separated by "/"; "" for a base kind.
func (k Kind) SubPath() string {
	_, sub, _ := strings.Cut(string(k), "/")
	return sub
}

// MediaType is the canonical media type of the kind's items.
func (k Kind) MediaType() string {
	if k.Base() == KindContacts {
		return "text/vcard"
	}
	return "text/calendar"
}

// component is the vobject component that makes one item of this kind.
func (k Kind) component() string {
	switch k.Base() {
	case KindContacts:
		return "VCARD"
	case KindTasks:
		return "VTODO"
	default:
		return "VEVENT"
	}
}

func (k Kind) fileExt() string {
	if k.Base() == KindContacts {
		return ".vcf"
	}
	return ".ics"
}

// check says why k names no item folder (nil when it names one). It
// needs no server: what depends on the server's hierarchy delimiter is
// checked when the folder is named (see Account.itemFolder).
func (k Kind) check() error {
	switch k.Base() {
	case KindContacts, KindCalendar, KindTasks:
	default:
		return fmt.Errorf("%w %q: unknown base kind", ErrInvalidKind, k)
	}
	if !strings.Contains(string(k), "/") {
		return nil
	}
	if err := folderpath.Check(k.SubPath()); err != nil {
		return fmt.Errorf("%w %q: %v", ErrInvalidKind, k, err)
	}
	return nil
}

// storedForm returns data in the one form the store keeps for its kind: a
// vCard of any version but 3.0 (a Thunderbird 4.0 card a mail client
// dropped into the folder, a 2.1 card of an old export) becomes 3.0, as
// vformat.VCard21To30 converts it, so every device is sent a card it
// takes and nothing 3.0 can carry is lost. Calendars are kept as they
// are. version is data's VERSION; ok reports a change.
func storedForm(kind Kind, data []byte, version string) (out []byte, ok bool) {
	if inStoredForm(kind, version) {
		return data, false
	}
	out, err := vformat.VCard21To30(data)
	if err != nil {
		return data, false
	}
	return out, true
}

// inStoredForm reports whether an item of kind with this VERSION is in
// the store's form (see storedForm).
func inStoredForm(kind Kind, version string) bool {
	return kind.Base() != KindContacts || strings.TrimSpace(version) == "3.0"
}

// Item is one contact, event or task as the store keeps it.
type Item struct {
	// ID is the stable item ID (the SyncML GUID). Empty on Put means a new
	// item; the store assigns one.
	ID string
	// Data is the vCard or iCalendar object, as given to Put; a vCard
	// of another version than 3.0 is stored (and read) as 3.0.
	Data []byte
	// Version is the object's VERSION ("3.0", "4.0", "2.0", ...), read from
	// Data.
	Version string
	// Modified is the last modification time: REV / LAST-MODIFIED / DTSTAMP
	// of the object when present, else when it was stored.
	Modified time.Time
	// StoreVersion names this version of the item in the store (not the
	// object's VERSION, see Version): "<UIDVALIDITY>.<UID>" of the message
	// that holds it, so it changes with every write of the item and never
	// otherwise (flags do not change it). Get and Put fill it in; Put
	// leaves it empty on a server without UIDPLUS (no APPENDUID).
	StoreVersion string
}

// itemInfo is what the store reads out of an object to present it.
type itemInfo struct {
	UID      string
	Version  string
	Subject  string
	Summary  []string // "Field: value" lines for the text/plain part
	Filename string
	Modified time.Time
}

// inspectItem reads what the store needs from an item's data. It never
// fails: a field it cannot find is left empty.
func inspectItem(kind Kind, data []byte) itemInfo {
	return inspectObjects(kind, vobject.Parse(data))
}

// inspectObjects is inspectItem on data already parsed.
func inspectObjects(kind Kind, objs []*vobject.Object) itemInfo {
	kind = kind.Base() // a sub-folder holds what its base kind holds
	var info itemInfo
	var root, main *vobject.Object
	if len(objs) > 0 {
		root = objs[0]
	}
	if kind == KindContacts {
		main = root
	} else if root != nil {
		for _, c := range root.Children {
			if c.Name == kind.component() {
				// The master of a recurring set has no RECURRENCE-ID.
				if main == nil || (main.Prop("RECURRENCE-ID") != nil && c.Prop("RECURRENCE-ID") == nil) {
					main = c
				}
			}
		}
	}
	if root != nil {
		info.Version = root.PropValue("VERSION")
	}
	if main == nil {
		info.Subject = "(unnamed " + strings.TrimSuffix(string(kind), "s") + ")"
		info.Filename = "item" + kind.fileExt()
		return info
	}
	info.UID = main.PropValue("UID")
	switch kind {
	case KindContacts:
		info.Subject, info.Summary = contactSummary(main)
		info.Modified = parseVTime(main.PropValue("REV"))
	default:
		info.Subject, info.Summary = calendarSummary(kind, main)
		info.Modified = parseVTime(main.PropValue("LAST-MODIFIED"))
		if info.Modified.IsZero() {
			info.Modified = parseVTime(main.PropValue("DTSTAMP"))
		}
	}
	info.Filename = safeFilename(info.Subject) + kind.fileExt()
	return info
}

func contactSummary(c *vobject.Object) (string, []string) {
	name := c.PropValue("FN")
	if name == "" {
		// N is family;given;additional;prefix;suffix
		parts := strings.Split(c.PropValue("N"), ";")
		var order []string
		for _, i := range []int{3, 1, 2, 0, 4} {
			if i < len(parts) && strings.TrimSpace(parts[i]) != "" {
				order = append(order, strings.TrimSpace(parts[i]))
			}
		}
		name = strings.Join(order, " ")
	}
	org := strings.TrimRight(strings.ReplaceAll(c.PropValue("ORG"), ";", ", "), ", ")
	subject := firstNonEmpty(name, org, c.PropValue("EMAIL"), c.PropValue("TEL"), "(unnamed contact)")
	var lines []string
	add := func(label, v string) {
		if v = strings.TrimSpace(v); v != "" {
			lines = append(lines, label+": "+v)
		}
	}
	add("Name", name)
	add("Organization", org)
	add("Title", c.PropValue("TITLE"))
	for _, p := range c.Props {
		switch p.Name {
		case "EMAIL":
			add("E-mail"+typeSuffix(p), vobject.UnescapeText(p.Value))
		case "TEL":
			add("Phone"+typeSuffix(p), vobject.UnescapeText(p.Value))
		case "ADR":
			add("Address"+typeSuffix(p), joinNonEmpty(strings.Split(vobject.UnescapeText(p.Value), ";"), ", "))
		}
	}
	add("Birthday", c.PropValue("BDAY"))
	add("Note", firstLine(c.PropValue("NOTE"), 200))
	return subject, lines
}

func calendarSummary(kind Kind, c *vobject.Object) (string, []string) {
	summary := firstNonEmpty(c.PropValue("SUMMARY"), "(no title)")
	var lines []string
	add := func(label, v string) {
		if v = strings.TrimSpace(v); v != "" {
			lines = append(lines, label+": "+v)
		}
	}
	add("Summary", summary)
	subject := summary
	if kind == KindTasks {
		due := displayVTime(c.Prop("DUE"))
		if due != "" {
			subject += " (due " + due + ")"
		}
		add("Due", due)
		add("Start", displayVTime(c.Prop("DTSTART")))
		add("Status", c.PropValue("STATUS"))
		add("Priority", c.PropValue("PRIORITY"))
		add("Completed", displayVTime(c.Prop("COMPLETED")))
	} else {
		start := displayVTime(c.Prop("DTSTART"))
		if start != "" {
			subject += " — " + start
		}
		add("Start", start)
		add("End", displayVTime(c.Prop("DTEND")))
		add("Location", c.PropValue("LOCATION"))
		add("Repeats", c.PropValue("RRULE"))
	}
	add("Description", firstLine(c.PropValue("DESCRIPTION"), 200))
	return subject, lines
}

func typeSuffix(p vobject.Line) string {
	if t := p.Params["TYPE"]; t != "" {
		return " (" + strings.ToLower(strings.ReplaceAll(t, ",", ", ")) + ")"
	}
	return ""
}

// displayVTime renders a DATE or DATE-TIME property for people: the date,
// the time when there is one, and its zone (UTC or TZID).
func displayVTime(p *vobject.Line) string {
	if p == nil {
		return ""
	}
	v := strings.TrimSpace(p.Value)
	t := parseVTime(v)
	if t.IsZero() {
		return v
	}
	if len(strings.TrimSuffix(strings.ReplaceAll(v, "-", ""), "Z")) <= 8 {
		return t.Format("2006-01-02")
	}
	s := t.Format("2006-01-02 15:04")
	switch {
	case strings.HasSuffix(v, "Z"):
		s += " UTC"
	case p.Params["TZID"] != "":
		s += " " + p.Params["TZID"]
	}
	return s
}

// parseVTime parses the common vCard/iCalendar date and date-time forms.
// A value without zone is read as UTC; the result is for display and
// ordering, not for calendar arithmetic.
func parseVTime(v string) time.Time {
	v = strings.TrimSpace(v)
	for _, layout := range []string{
		"20060102T150405Z", "20060102T150405", "2006-01-02T15:04:05Z07:00",
		"2006-01-02T15:04:05Z", "2006-01-02T15:04:05", "20060102T1504Z", "20060102", "2006-01-02",
	} {
		if t, err := time.Parse(layout, v); err == nil {
			return t
		}
	}
	return time.Time{}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func joinNonEmpty(vs []string, sep string) string {
	var keep []string
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			keep = append(keep, v)
		}
	}
	return strings.Join(keep, sep)
}

func firstLine(s string, max int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}

// safeFilename keeps a name readable but harmless as an attachment name.
func safeFilename(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20, r == 0x7f, strings.ContainsRune(`/\:*?"<>|`, r):
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	name := strings.TrimSpace(b.String())
	if r := []rune(name); len(r) > 60 {
		name = string(r[:60])
	}
	if name == "" || name == "." || name == ".." {
		name = "item"
	}
	return name
}

// newGUID returns a random (version 4) UUID.
func newGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("imapstore: crypto/rand failed: %v", err)) // cannot happen on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

// derivedGUID returns a name-based (version 5 style) UUID, so that the same
// foreign object adopted twice (say after a crash) gets the same item ID and
// collapses into one item instead of two. The whole kind goes into the
// name, sub-folder path included, so the same vCard dropped into two
// folders becomes two items with IDs of their own: a device that syncs
// several sub-folders into one address book needs IDs unique across them.
func derivedGUID(kind Kind, key []byte) string {
	h := sha1.New()
	h.Write([]byte("syncml-imap/" + string(kind) + "\x00"))
	h.Write(key)
	var b [16]byte
	copy(b[:], h.Sum(nil))
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	const digits = "0123456789abcdef"
	var out [36]byte
	n := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[n] = '-'
			n++
		}
		out[n], out[n+1] = digits[c>>4], digits[c&15]
		n += 2
	}
	return string(out[:])
}

// validGUID reports whether s can be a header value and an IMAP search
// string: printable ASCII without spaces, bounded length.
func validGUID(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\' {
			return false
		}
	}
	return true
}

// checkItem verifies that data is one object of the kind: a VCARD for
// contacts, a VCALENDAR with at least one VEVENT (VTODO) for the calendar
// (tasks), all with one UID. It says why not.
func checkItem(kind Kind, data []byte) error {
	return checkObjects(kind, vobject.Parse(data))
}

// checkObjects is checkItem on data already parsed.
func checkObjects(kind Kind, objs []*vobject.Object) error {
	kind = kind.Base()
	if len(objs) == 0 {
		return fmt.Errorf("no %s object found", kind.component())
	}
	if len(objs) > 1 {
		return fmt.Errorf("%d objects where one was expected", len(objs))
	}
	root := objs[0]
	if kind == KindContacts {
		if root.Name != "VCARD" {
			return fmt.Errorf("got %s, want VCARD", root.Name)
		}
		return nil
	}
	if root.Name != "VCALENDAR" {
		return fmt.Errorf("got %s, want VCALENDAR", root.Name)
	}
	uids := map[string]bool{}
	n := 0
	for _, c := range root.Children {
		switch c.Name {
		case kind.component():
			n++
			uids[c.PropValue("UID")] = true
		case "VEVENT", "VTODO", "VJOURNAL":
			return fmt.Errorf("%s in a %s item", c.Name, kind)
		}
	}
	if n == 0 {
		return fmt.Errorf("VCALENDAR without %s", kind.component())
	}
	if len(uids) > 1 {
		return fmt.Errorf("%d different UIDs in one item", len(uids))
	}
	return nil
}

// splitObjects cuts a file that may hold many objects (an address book
// export, a calendar export) into one item per object. For calendars, the
// components sharing a UID (a recurring event and its exceptions) stay
// together, with the VCALENDAR's own properties (minus METHOD) and the
// VTIMEZONEs they refer to. Objects of another kind are left out.
func splitObjects(kind Kind, data []byte) [][]byte {
	kind = kind.Base()
	var out [][]byte
	for _, root := range vobject.Parse(data) {
		if kind == KindContacts {
			if root.Name == "VCARD" {
				out = append(out, joinLines(root.Lines))
			}
			continue
		}
		if root.Name != "VCALENDAR" {
			continue
		}
		var zones []*vobject.Object
		var order []string
		groups := map[string][]*vobject.Object{}
		for i, c := range root.Children {
			switch c.Name {
			case "VTIMEZONE":
				zones = append(zones, c)
			case kind.component():
				uid := c.PropValue("UID")
				if uid == "" {
					uid = fmt.Sprintf("\x00%d", i) // no UID: each stands alone
				}
				if _, seen := groups[uid]; !seen {
					order = append(order, uid)
				}
				groups[uid] = append(groups[uid], c)
			}
		}
		for _, uid := range order {
			var b bytes.Buffer
			b.WriteString("BEGIN:VCALENDAR\r\n")
			for _, p := range root.Props {
				if p.Name != "METHOD" {
					b.WriteString(p.Orig)
				}
			}
			for _, z := range zones {
				if refersToZone(groups[uid], z.PropValue("TZID")) {
					b.Write(joinLines(z.Lines))
				}
			}
			for _, c := range groups[uid] {
				b.Write(joinLines(c.Lines))
			}
			b.WriteString("END:VCALENDAR\r\n")
			out = append(out, b.Bytes())
		}
	}
	return out
}

func refersToZone(comps []*vobject.Object, tzid string) bool {
	if tzid == "" {
		return false
	}
	for _, c := range comps {
		for _, l := range c.Lines {
			if strings.Contains(l, "TZID="+tzid) || strings.Contains(l, `TZID="`+tzid+`"`) {
				return true
			}
		}
	}
	return false
}

// joinLines concatenates lines kept as they stood (see vobject.Line.Orig).
func joinLines(lines []string) []byte {
	return []byte(strings.Join(lines, ""))
}
