package pim

import "syncml-imap/internal/vobject"

// MainComponent is the VEVENT or VTODO of a calendar object that is not
// an exception (no RECURRENCE-ID); nil when it holds none.
func MainComponent(cal *vobject.Object) *vobject.Object {
	var main *vobject.Object
	for _, c := range cal.Children {
		if (c.Name == "VEVENT" || c.Name == "VTODO") && (main == nil || c.Prop("RECURRENCE-ID") == nil) {
			main = c
		}
	}
	return main
}
