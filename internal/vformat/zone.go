package vformat

// The zone model of this package (vcalZone, vcal_tz.go) for callers
// outside it that read times of stored iCalendar items.

import (
	"strings"
	"time"

	"syncml-imap/internal/vobject"
)

// Zone is the time zone a TZID names in an iCalendar item, as the
// converters of this package read it: the item's VTIMEZONE in full
// (every STANDARD and DAYLIGHT observance with its RRULE, RDATEs, UNTIL
// and COUNT), or an IANA zone. A nil *Zone is UTC.
type Zone struct {
	m *vcalZone
}

// LookupZone finds the zone tzid names in cal (a VCALENDAR): cal's
// VTIMEZONE of that TZID, which RFC 5545 3.6.5 makes the definition,
// else the IANA zone of that name (also at the end of a path such as
// /mozilla.org/20050126_1/Europe/Berlin). It returns nil (UTC) for UTC
// and for a TZID it cannot resolve.
func LookupZone(cal *vobject.Object, tzid string) *Zone {
	tzid = strings.TrimSpace(tzid)
	if tzid == "" {
		return nil
	}
	if cal != nil {
		for _, c := range cal.Children {
			if c.Name == "VTIMEZONE" && strings.TrimSpace(c.PropValue("TZID")) == tzid {
				if m := zoneOfVTimezone(c); m != nil {
					return &Zone{m: m}
				}
			}
		}
	}
	if loc := vcalLoadIANA(tzid); loc != nil && loc != time.UTC {
		return &Zone{m: &vcalZone{id: tzid, loc: loc}}
	}
	return nil
}

// zoneOfVTimezone reads a VTIMEZONE object into the zone model; nil when
// it has no usable observance.
func zoneOfVTimezone(o *vobject.Object) *vcalZone {
	return icalZoneFromVTimezone(vcalCompOf(o))
}

// Instant is the instant of a wall clock time of the zone, the wall
// clock given in the fields of a UTC time.Time. A wall time a change to
// daylight time skips is read in the offset before it, one that repeats
// at the change back is its first occurrence (RFC 5545 3.3.5).
func (z *Zone) Instant(wall time.Time) time.Time {
	if z == nil {
		return wall.UTC()
	}
	return z.m.toUTC(wall)
}

// Wall is the zone's wall clock at instant t, in the fields of a UTC
// time.Time.
func (z *Zone) Wall(t time.Time) time.Time {
	if z == nil {
		return t.UTC()
	}
	return z.m.toWall(t)
}

// Offset is the zone's UTC offset at instant t, in seconds east.
func (z *Zone) Offset(t time.Time) int {
	if z == nil {
		return 0
	}
	return z.m.offsetAt(t)
}
