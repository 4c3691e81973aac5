package vformat

// vCalendar 1.0 <-> iCalendar 2.0.
//
// Both directions go through one model (vcalItem): vcal_in.go reads
// vCalendar 1.0 into it, vcal_ical.go reads and writes iCalendar 2.0,
// vcal_out.go writes vCalendar 1.0. Decisions, where the formats leave
// room:
//
//   - Times. A vCalendar 1.0 local time (no "Z") is in the device's zone:
//     the one its TZ/DAYLIGHT describe (matched to an IANA zone when the
//     switches agree, else fitted to yearly rules; without DAYLIGHT the
//     fixed offset, Etc/GMT-1 or a zone such as Asia/Kolkata for an offset
//     Etc/ has no name for), or VCalOptions.Zone
//     (VCal10ToICal20WithOptions); stored with TZID and a VTIMEZONE.
//     Without either it stays floating. UTC times stay UTC, except in
//     recurring items when the device zone is known: a phone repeats at
//     the same local time, so the series is anchored in that zone (else
//     occurrences after a daylight-saving switch would move an hour).
//     Towards the device, times are local in VCalOptions.Zone (with TZ and
//     DAYLIGHT for the years concerned) or UTC; a recurring item whose
//     zone is known then also gets that zone's TZ/DAYLIGHT so that it
//     comes back anchored the same way.
//   - All-day events are DTSTART/DTEND;VALUE=DATE, DTEND exclusive, when
//     stored. Recognised spellings (the returned form): "date" (date-only
//     values), "midnight" (local T000000 to T000000 of the day after the
//     last; also UTC values that are local midnights of the device zone),
//     "utc-midnight" (T000000Z to T240000Z or T000000Z), "same" (equal
//     start and end at local midnight or equal dates) and "end-of-day"
//     (T000000 to T235959 or T2359 of the last day). X-FUNAMBOL-ALLDAY,
//     X-MICROSOFT-CDO-ALLDAYEVENT and Symbian's X-EPOCAGENDAENTRYTYPE:EVENT
//     also mark an event all-day. ICal20ToVCal10 writes opts.AllDayForm.
//     A task's DUE (and DTSTART) is stored as VALUE=DATE when written as a
//     date, at local midnight (how vCalendar 1.0 devices write a date:
//     "midnight"), or DTSTART at local midnight and DUE at 23:59(:59) of
//     the due day ("end-of-day"); a due date is that day, not the day
//     after. UTC values count only with a hint. Back, a due date is
//     written in opts.AllDayForm: the date, local T000000, T000000Z, or
//     T235959 in the end-of-day form when the task has a start date.
//   - RRULE: see vcal_rrule.go. An iCalendar rule vCalendar 1.0 cannot
//     express (BYHOUR, BYWEEKNO, BYSETPOS over several days, ...) is left
//     out: the device gets the first occurrence only (the stored rule is
//     kept by the sync layer's merge when the device sends the item back
//     without one). Weekdays and days of month follow the start when it is
//     written in a view (UTC or local) that falls on another date.
//   - Alarms: AALARM -> ACTION:AUDIO, DALARM -> DISPLAY (an AALARM and a
//     DALARM at the same time are one DISPLAY alarm), MALARM -> EMAIL,
//     PALARM -> DISPLAY. With a DTSTART (tasks: DUE) the trigger is
//     relative, counted in days and time on the item's wall clock, so it
//     keeps its place across a daylight-saving switch; else absolute.
//     Back: DISPLAY -> DALARM and AALARM, AUDIO -> AALARM, EMAIL -> MALARM.
//   - PRIORITY: vCalendar 1.0 phones use 1 high, 2 normal, 3 low (0 none);
//     stored as 1, 5, 9 (RFC 5545: 1-4 high, 5 medium, 6-9 low), 4..9
//     taken as already on the iCalendar scale. Back: 1-4 -> 1, 5 -> 2,
//     6-9 -> 3, 0 -> 0.
//   - STATUS: tasks NEEDS ACTION <-> NEEDS-ACTION, COMPLETED, ACCEPTED <->
//     IN-PROCESS, DECLINED <-> CANCELLED (SENT, TENTATIVE, CONFIRMED,
//     DELEGATED -> NEEDS-ACTION); events TENTATIVE, CONFIRMED, DECLINED <->
//     CANCELLED.
//   - TRANSP is written as the specification's 0 (opaque) / 1
//     (transparent); OPAQUE/TRANSPARENT are read too.
//   - Text: QUOTED-PRINTABLE, BASE64 and CHARSET (any the WHATWG index
//     knows; none and invalid UTF-8 = Windows-1252) are decoded; vCalendar
//     1.0 folding keeps the white space. Written as QUOTED-PRINTABLE with
//     CHARSET=UTF-8 when not ASCII, with line breaks, or long.
//     CATEGORIES and RESOURCES are ";"-separated (commas read too).
//   - Detached recurrences (RECURRENCE-ID) go to the device as EXDATEs of
//     the master plus their own VEVENTs carrying RECURRENCE-ID, which is
//     read back.
//   - X- properties of the device are kept in the stored form (not the
//     all-day hints); the stored form's are not sent to devices.
//   - DTSTAMP, which RFC 5545 requires, is the item's own DTSTAMP,
//     LAST-MODIFIED or DCREATED (in that order), else the time of
//     conversion (VCalOptions.Now). It is not sent to devices.

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// VCalOptions says how a device takes vCalendar 1.0.
type VCalOptions struct {
	// Zone is the device's time zone when known (from its TZ/DAYLIGHT or
	// config), used to express times; nil = UTC.
	Zone *time.Location
	// AllDayForm is how this device spells all-day events: "date"
	// (DTSTART:20261224, VALUE=DATE), "midnight" (T000000 to T000000 next
	// day, local), "utc-midnight" (T000000Z/T240000Z), "same" (equal start
	// and end), "end-of-day" (T000000 to T235959 of the last day); "" =
	// "date". ICal20ToVCal10 uses it.
	AllDayForm string
	// Now is the clock for the DTSTAMP (RFC 5545 3.8.7.2, required) of an
	// item that has no DTSTAMP, LAST-MODIFIED or DCREATED to take it from;
	// nil = time.Now. VCal10ToICal20WithOptions uses it.
	Now func() time.Time
}

// now reads opts' clock.
func (opts *VCalOptions) now() time.Time {
	if opts != nil && opts.Now != nil {
		return opts.Now()
	}
	return time.Now()
}

// All-day forms.
const (
	VCalAllDayDate        = "date"
	VCalAllDayMidnight    = "midnight"
	VCalAllDayUTCMidnight = "utc-midnight"
	VCalAllDaySame        = "same"
	VCalAllDayEndOfDay    = "end-of-day"
)

// VCalErrNoCalendar is returned when the input holds no VCALENDAR.
var VCalErrNoCalendar = errors.New("vformat: no VCALENDAR object")

// vcalErrInternal wraps a recovered panic (a bug; the fuzz tests fail on it).
var vcalErrInternal = errors.New("vformat: internal error in calendar conversion")

const vcalProdID = "-//syncml-imap//vformat//EN"

// VCal10ToICal20 converts a vCalendar 1.0 object with VEVENTs and/or
// VTODOs to iCalendar 2.0 as stored, and tells which all-day form the
// input used ("" when it had no all-day event). It fails only when there
// is no VCALENDAR.
func VCal10ToICal20(in []byte) (out []byte, allDayForm string, err error) {
	return VCal10ToICal20WithOptions(in, nil)
}

// VCal10ToICal20WithOptions is VCal10ToICal20 for a device whose zone is
// known from its configuration: opts.Zone is taken for local times when
// the item has no TZ, or has one that agrees with it (an item's own
// TZ/DAYLIGHT that disagree win). opts.AllDayForm is not used.
func VCal10ToICal20WithOptions(in []byte, opts *VCalOptions) (out []byte, allDayForm string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, allDayForm, err = nil, "", fmt.Errorf("%w: %v", vcalErrInternal, r)
		}
	}()
	cals := vcalFindCalendars(vcalParse(in, true))
	if len(cals) == 0 {
		return nil, "", VCalErrNoCalendar
	}
	var items []*vcalItem
	for _, cal := range cals {
		zone := vcalDeviceZone(cal, opts)
		for _, c := range cal.comps {
			if c.name != "VEVENT" && c.name != "VTODO" {
				continue
			}
			it, form := vcalReadItem(c, zone)
			if allDayForm == "" {
				allDayForm = form
			}
			items = append(items, it)
		}
	}
	vcalLinkExceptions(items)
	// DTSTAMP is when the item last changed, as the device's own
	// LAST-MODIFIED or DCREATED tell (icalWriteItem takes them in that
	// order); without them, now.
	for _, it := range items {
		if it.stamp.isZero() && it.modified.isZero() && it.created.isZero() {
			it.stamp = vcalDT{wall: opts.now().UTC(), kind: vcalUTC}
		}
	}
	return icalWrite(items), allDayForm, nil
}

// ICal20ToVCal10 converts the stored iCalendar 2.0 to vCalendar 1.0 for a
// device (see VCalOptions and the package notes in vcal.go). It fails only
// when there is no VCALENDAR.
func ICal20ToVCal10(in []byte, opts *VCalOptions) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: %v", vcalErrInternal, r)
		}
	}()
	cals := vcalFindCalendars(vcalParse(in, false))
	if len(cals) == 0 {
		return nil, VCalErrNoCalendar
	}
	if opts == nil {
		opts = &VCalOptions{}
	}
	tzs := map[string]*vcalZone{}
	for _, cal := range cals {
		for _, c := range cal.comps {
			if c.name == "VTIMEZONE" {
				if z := icalZoneFromVTimezone(c); z != nil && z.id != "" {
					tzs[z.id] = z
				}
			}
		}
	}
	var items []*vcalItem
	for _, cal := range cals {
		for _, c := range cal.comps {
			if c.name == "VEVENT" || c.name == "VTODO" {
				items = append(items, icalReadItem(c, tzs))
			}
		}
	}
	return vcalWrite(items, opts), nil
}

// vcalFindCalendars returns the VCALENDAR blocks, also nested ones.
func vcalFindCalendars(comps []*vcalComp) []*vcalComp {
	var out []*vcalComp
	for _, c := range comps {
		if c.name == "VCALENDAR" {
			out = append(out, c)
			continue
		}
		out = append(out, vcalFindCalendars(c.comps)...)
	}
	return out
}

// vcalItem is an event or task in neither format.
type vcalItem struct {
	kind                         string // VEVENT, VTODO
	uid, summary, description    string
	location, class, status, url string
	transp, sequence, percent    string
	categories, resources        []string
	priority                     int
	hasPriority                  bool
	start, end, due, completed   vcalDT
	created, modified, stamp     vcalDT
	recurrenceID                 vcalDT
	allDay                       bool // start/end are dates, end exclusive
	rule                         *vcalRecur
	exdates, rdates              []vcalDT
	alarms                       []vcalAlarm
	organizer                    *vcalPerson
	attendees                    []vcalPerson
	xprops                       []*vcalProp // X- properties of the device (vCal in), raw
}

// vcalAlarm is one reminder.
type vcalAlarm struct {
	action     string // AUDIO, DISPLAY, EMAIL
	abs        vcalDT // absolute trigger
	relDays    int    // relative trigger: nominal days ...
	relExact   time.Duration
	hasRel     bool
	relEnd     bool // relative to the end (DTEND/DUE)
	snooze     time.Duration
	repeat     int
	text       string
	attach     string
	email      string
	fromAAlarm bool
}

// vcalPerson is an organizer or attendee.
type vcalPerson struct {
	name, email, role, partstat, expect string
	rsvp                                string // "TRUE", "FALSE" or ""
}

// vcalLinkExceptions ties detached recurrences to their master: the
// master loses the EXDATE written for the exception (devices echo it), and
// when the series was anchored anew the RECURRENCE-ID follows to that
// day's occurrence (a series has at most one a day in vCalendar 1.0).
func vcalLinkExceptions(items []*vcalItem) {
	// The masters of each UID, so that many items do not make every
	// exception look at every item. An exception whose RECURRENCE-ID
	// comes out zero (year 1) counts as a master from then on, as it
	// always did: the plain search over all items takes over.
	masters := make(map[string][]*vcalItem)
	for _, m := range items {
		if m.recurrenceID.isZero() {
			masters[m.uid] = append(masters[m.uid], m)
		}
	}
	searchAll := false
	for _, ex := range items {
		if ex.recurrenceID.isZero() {
			continue
		}
		cands := masters[ex.uid]
		if searchAll {
			cands = items
		}
		for _, m := range cands {
			if m == ex || m.uid != ex.uid || !m.recurrenceID.isZero() {
				continue
			}
			day := func(d vcalDT) time.Time {
				w := d.wall
				if u, ok := d.instant(); ok && m.start.kind == vcalZoned {
					w = m.start.zone.toWall(u)
				} else if ok && m.start.kind == vcalUTC {
					w = u
				}
				return vcalDateOf(w)
			}
			rid := day(ex.recurrenceID)
			keep := m.exdates[:0]
			for _, e := range m.exdates {
				if !vcalSameTime(e, ex.recurrenceID) && !(m.rule != nil && day(e).Equal(rid)) {
					keep = append(keep, e)
				}
			}
			m.exdates = keep
			if m.rule != nil && !m.start.isZero() {
				r := m.start
				r.wall = rid.Add(m.start.wall.Sub(vcalDateOf(m.start.wall)))
				ex.recurrenceID = r
			}
		}
		searchAll = searchAll || ex.recurrenceID.isZero()
	}
}

// vcalSameTime compares two values as instants when both have one, else
// by wall clock.
func vcalSameTime(a, b vcalDT) bool {
	ua, oka := a.instant()
	ub, okb := b.instant()
	if oka && okb {
		return ua.Equal(ub)
	}
	if a.kind == vcalDate || b.kind == vcalDate {
		return vcalDateOf(a.wall).Equal(vcalDateOf(b.wall))
	}
	return a.wall.Equal(b.wall)
}

// vcalMapPriorityIn maps a vCalendar 1.0 priority to RFC 5545.
func vcalMapPriorityIn(p int) int {
	switch {
	case p <= 0:
		return 0
	case p == 1:
		return 1
	case p == 2:
		return 5
	case p == 3:
		return 9
	case p <= 9:
		return p
	}
	return 9
}

// vcalMapPriorityOut maps an RFC 5545 priority to vCalendar 1.0.
func vcalMapPriorityOut(p int) int {
	switch {
	case p <= 0:
		return 0
	case p <= 4:
		return 1
	case p == 5:
		return 2
	}
	return 3
}

func vcalMapStatusIn(kind, s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.ReplaceAll(s, "_", " ")
	if kind == "VTODO" {
		switch s {
		case "NEEDS ACTION", "NEEDS-ACTION", "SENT", "TENTATIVE", "CONFIRMED", "DELEGATED":
			return "NEEDS-ACTION"
		case "COMPLETED", "DONE":
			return "COMPLETED"
		case "ACCEPTED", "IN PROCESS", "IN-PROCESS", "IN PROGRESS":
			return "IN-PROCESS"
		case "DECLINED", "CANCELLED", "CANCELED":
			return "CANCELLED"
		}
		return ""
	}
	switch s {
	case "TENTATIVE", "NEEDS ACTION", "NEEDS-ACTION", "SENT":
		return "TENTATIVE"
	case "CONFIRMED", "ACCEPTED":
		return "CONFIRMED"
	case "DECLINED", "CANCELLED", "CANCELED":
		return "CANCELLED"
	}
	return ""
}

func vcalMapStatusOut(kind, s string) string {
	switch strings.ToUpper(s) {
	case "NEEDS-ACTION":
		if kind == "VTODO" {
			return "NEEDS ACTION"
		}
	case "COMPLETED":
		return "COMPLETED"
	case "IN-PROCESS":
		return "ACCEPTED"
	case "CANCELLED":
		return "DECLINED"
	case "TENTATIVE":
		return "TENTATIVE"
	case "CONFIRMED":
		return "CONFIRMED"
	}
	return ""
}

var vcalPartstatIn = map[string]string{
	"NEEDS ACTION": "NEEDS-ACTION", "NEEDS-ACTION": "NEEDS-ACTION", "SENT": "NEEDS-ACTION",
	"ACCEPTED": "ACCEPTED", "CONFIRMED": "ACCEPTED", "DECLINED": "DECLINED", "TENTATIVE": "TENTATIVE",
	"DELEGATED": "DELEGATED", "COMPLETED": "COMPLETED",
}

var vcalPartstatOut = map[string]string{
	"NEEDS-ACTION": "NEEDS ACTION", "ACCEPTED": "ACCEPTED", "DECLINED": "DECLINED",
	"TENTATIVE": "TENTATIVE", "DELEGATED": "DELEGATED", "COMPLETED": "COMPLETED", "IN-PROCESS": "ACCEPTED",
}

var vcalExpectIn = map[string]string{"REQUIRE": "REQ-PARTICIPANT", "REQUEST": "OPT-PARTICIPANT", "FYI": "NON-PARTICIPANT", "IMMEDIATE": "REQ-PARTICIPANT"}
var vcalExpectOut = map[string]string{"REQ-PARTICIPANT": "REQUIRE", "OPT-PARTICIPANT": "REQUEST", "NON-PARTICIPANT": "FYI", "CHAIR": "REQUIRE"}
