package backup

import (
	"fmt"
	"strings"
	"syncml-imap/pim"
)

// Format is the form of an exported file.
type Format string

const (
	FormatVCard30 Format = "vcard30" // vCard 3.0 (RFC 2426), .vcf: contacts' default
	FormatVCard21 Format = "vcard21" // vCard 2.1, .vcf: old phones, Outlook
	FormatICal20  Format = "ical20"  // iCalendar 2.0 (RFC 5545), .ics: calendar and tasks' default
	FormatVCal10  Format = "vcal10"  // vCalendar 1.0, .vcs: old phones, Outlook
)

// Formats lists every format.
var Formats = []Format{FormatVCard30, FormatVCard21, FormatICal20, FormatVCal10}

// DefaultFormat is the format a database is exported in unless told
// otherwise: vCard 3.0 for contacts, iCalendar 2.0 for the others.
func DefaultFormat(db pim.Kind) Format {
	if db == "contacts" {
		return FormatVCard30
	}
	return FormatICal20
}

// Ext is the usual file name extension of the format.
func (f Format) Ext() string {
	switch f {
	case FormatVCard30, FormatVCard21:
		return ".vcf"
	case FormatVCal10:
		return ".vcs"
	}
	return ".ics"
}

func (f Format) contacts() bool { return f == FormatVCard30 || f == FormatVCard21 }

// CheckFormat tells whether items of db can be written in format f.
func CheckFormat(db pim.Kind, f Format) error {
	switch db {
	case "contacts", "calendar", "tasks":
	default:
		return fmt.Errorf("backup: unknown database %q (contacts, calendar or tasks)", db)
	}
	var fits []string
	for _, g := range Formats {
		if g.contacts() == (db == "contacts") {
			fits = append(fits, string(g))
		}
	}
	for _, g := range fits {
		if Format(g) == f {
			return nil
		}
	}
	return fmt.Errorf("backup: format %q does not fit %s (%s)", f, db, strings.Join(fits, " or "))
}

// Noun names n items of db for reports: "1 contact", "3 events", "2 tasks".
func Noun(db pim.Kind, n int) string {
	word := Word(db)
	if n != 1 {
		word += "s"
	}
	return fmt.Sprintf("%d %s", n, word)
}

// Word names one record of db: "contact", "event", "task" ("item" for
// another kind).
func Word(db pim.Kind) string {
	if w := map[pim.Kind]string{pim.Contacts: "contact", pim.Calendar: "event", pim.Tasks: "task"}[db.Base()]; w != "" {
		return w
	}
	return "item"
}
