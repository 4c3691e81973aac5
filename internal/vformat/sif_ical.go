package vformat

import "syncml-imap/internal/vobject"

// The iCalendar object a SIF-E appointment or SIF-T task becomes: what the
// two converters write alike.

// sifBeginCalendar opens the object: the calendar, zone's VTIMEZONE (nil:
// none), and the component comp (VEVENT, VTODO) stamped with opts' clock.
func sifBeginCalendar(l *sifLines, comp string, zone *sifZone, opts *SIFOptions) {
	l.add("BEGIN", "VCALENDAR")
	l.add("VERSION", "2.0")
	l.add("PRODID", sifProdID)
	if zone != nil {
		zone.vtimezone(l)
	}
	l.add("BEGIN", comp)
	l.add("DTSTAMP", opts.dtstamp())
}

// sifEndCalendar closes what sifBeginCalendar opened.
func sifEndCalendar(l *sifLines, comp string) {
	l.add("END", comp)
	l.add("END", "VCALENDAR")
}

// sifWriteDescriptive writes what describes the item: SUMMARY, LOCATION
// (an appointment's; a task has none), DESCRIPTION, CATEGORIES, CLASS and
// PRIORITY.
func sifWriteDescriptive(l *sifLines, n *sifNode, location bool) {
	l.text("SUMMARY", sifText(n.get("Subject")))
	if location {
		l.text("LOCATION", sifText(n.get("Location")))
	}
	l.text("DESCRIPTION", sifText(n.getRaw("Body")))
	if cats := sifCategories(n.get("Categories")); len(cats) > 0 {
		l.add("CATEGORIES", vobject.JoinText(cats, ','))
	}
	sifWriteClassPriority(l, n)
}

// sifWriteClassPriority writes CLASS and PRIORITY from Sensitivity and
// Importance.
func sifWriteClassPriority(l *sifLines, n *sifNode) {
	sifWriteClass(l, n)
	switch n.num("Importance", 1) {
	case 0:
		l.add("PRIORITY", "9")
	case 2:
		l.add("PRIORITY", "1")
	}
}
