package pim

import "strings"

// Kind is the kind of items a database holds, and names it: one of the
// base kinds below, or a sub-folder of a base kind's folder (see Sub), as
// imapstore names its folders. Fronts map their own names (a SyncML
// LocURI, a DAV collection, an ActiveSync folder) onto kinds.
type Kind string

const (
	Contacts Kind = "contacts" // vCard 3.0 items
	Calendar Kind = "calendar" // iCalendar 2.0 VEVENTs
	Tasks    Kind = "tasks"    // iCalendar 2.0 VTODOs
)

// Kinds lists the base kinds, in the order fronts serve them.
var Kinds = []Kind{Contacts, Calendar, Tasks}

// Sub is the kind of the sub-folder path (levels separated by "/") of
// k's folder: "contacts/Family" holds contacts.
func (k Kind) Sub(path string) Kind { return k + "/" + Kind(path) }

// Base is the base kind of k: k itself, or that of the folder k is a
// sub-folder of.
func (k Kind) Base() Kind {
	base, _, _ := strings.Cut(string(k), "/")
	return Kind(base)
}
