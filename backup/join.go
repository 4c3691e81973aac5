package backup

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"syncml-imap/internal/vformat"
	"syncml-imap/internal/vobject"
	"syncml-imap/pim"
)

const prodID = "-//syncml-imap//backup//EN"

// Join writes items of the stored form as one file in format f:
//   - vcard30: the vCards one after another, each 3.0 (a 2.1 or 4.0
//     card in the mailbox, written there before it was stored as 3.0 or
//     by another program, is converted: the label says what is inside);
//   - vcard21: the vCards converted to 2.1 (vformat.VCard30To21);
//   - ical20: ONE VCALENDAR with every event and to-do, detached
//     recurrences included, and the VTIMEZONEs they need once each (by
//     TZID; the first item's definition wins);
//   - vcal10: vCalendar 1.0 (vformat.ICal20ToVCal10, times in UTC). One
//     VCALENDAR, or one per time zone when recurring items of several
//     zones need their own TZ/DAYLIGHT to repeat at the right hour.
//
// Lines end in CRLF. An item that is not of the format's kind or cannot
// be converted is left out and returned as a Problem naming its ID; the
// error is the writer's.
func Join(w io.Writer, f Format, items []*Item) ([]*Problem, error) {
	switch f {
	case FormatVCard30, FormatVCard21:
		return joinVCards(w, f, items)
	case FormatICal20:
		return joinICal(w, items)
	case FormatVCal10:
		return joinVCal(w, items)
	}
	return nil, fmt.Errorf("backup: unknown format %q", f)
}

func leftOut(it *Item, format string, args ...any) *Problem {
	return &Problem{ID: it.ID, Line: it.Line, Msg: fmt.Sprintf(format, args...) + ", left out"}
}

func joinVCards(w io.Writer, f Format, items []*Item) ([]*Problem, error) {
	var problems []*Problem
	for _, it := range items {
		if err := checkObject("contacts", it.Data); err != nil {
			problems = append(problems, leftOut(it, "not a vCard (%v)", err))
			continue
		}
		var out []byte
		var err error
		if f == FormatVCard21 {
			out, err = vformat.VCard30To21(it.Data)
		} else {
			out, err = vformat.VCard21To30(it.Data)
		}
		if err != nil {
			problems = append(problems, leftOut(it, "cannot convert (%v)", err))
			continue
		}
		if _, err := w.Write(out); err != nil {
			return problems, err
		}
	}
	return problems, nil
}

// calendarParts reads an iCalendar item: its VTIMEZONEs and its other
// components (events, to-dos and their detached recurrences), each as
// the CRLF-terminated lines it stands in.
func calendarParts(it *Item) (zones map[string][]byte, zoneOrder []string, comps [][]byte, err error) {
	db := it.DB
	if db != "tasks" {
		db = "calendar"
	}
	if err := checkObject(db, it.Data); err != nil {
		// A to-do kept with the events (or the other way round) is
		// still a calendar item.
		if err2 := checkObject(map[pim.Kind]pim.Kind{pim.Calendar: pim.Tasks, pim.Tasks: pim.Calendar}[db], it.Data); err2 != nil {
			return nil, nil, nil, err
		}
	}
	zones = map[string][]byte{}
	for _, c := range vobject.Parse(it.Data)[0].Children {
		data := []byte(strings.Join(c.Lines, ""))
		if c.Name == "VTIMEZONE" {
			tzid := c.PropValue("TZID")
			if _, ok := zones[tzid]; !ok {
				zones[tzid] = data
				zoneOrder = append(zoneOrder, tzid)
			}
			continue
		}
		comps = append(comps, data)
	}
	return zones, zoneOrder, comps, nil
}

func joinICal(w io.Writer, items []*Item) ([]*Problem, error) {
	var problems []*Problem
	zones := map[string][]byte{}
	var zoneOrder []string
	var body bytes.Buffer
	for _, it := range items {
		z, order, comps, err := calendarParts(it)
		if err != nil {
			problems = append(problems, leftOut(it, "not an iCalendar item (%v)", err))
			continue
		}
		for _, tzid := range order {
			if _, ok := zones[tzid]; !ok {
				zones[tzid] = z[tzid]
				zoneOrder = append(zoneOrder, tzid)
			}
		}
		for _, c := range comps {
			body.Write(c)
		}
	}
	var out bytes.Buffer
	out.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:" + prodID + "\r\n")
	// RFC 5545 lets components come in any order; zones first is what
	// most readers expect.
	for _, tzid := range zoneOrder {
		out.Write(zones[tzid])
	}
	if _, err := w.Write(out.Bytes()); err != nil {
		return problems, err
	}
	if _, err := w.Write(body.Bytes()); err != nil {
		return problems, err
	}
	_, err := io.WriteString(w, "END:VCALENDAR\r\n")
	return problems, err
}

// vcalSection is one VCALENDAR of a vCalendar 1.0 file: the items whose
// TZ/DAYLIGHT lines (none, or of the same zone) let them share it.
type vcalSection struct {
	key      string   // TZ and the DAYLIGHT lines without their dates
	tz       string   // the TZ line
	daylight []string // the DAYLIGHT lines of every item, each once
	comps    bytes.Buffer
}

func joinVCal(w io.Writer, items []*Item) ([]*Problem, error) {
	var problems []*Problem
	var sections []*vcalSection
	var loose bytes.Buffer // items without TZ/DAYLIGHT: they fit any section
	for _, it := range items {
		if _, _, _, err := calendarParts(it); err != nil {
			problems = append(problems, leftOut(it, "not an iCalendar item (%v)", err))
			continue
		}
		out, err := vformat.ICal20ToVCal10(it.Data, nil)
		if err != nil {
			problems = append(problems, leftOut(it, "cannot convert to vCalendar 1.0 (%v)", err))
			continue
		}
		tz, daylight, comps := vcalSplit(out)
		if tz == "" && len(daylight) == 0 {
			loose.Write(comps)
			continue
		}
		// The DAYLIGHT lines of one zone differ only in their dates (one
		// line per year the item spans).
		key := tz
		for _, d := range daylight {
			f := strings.Split(d, ";")
			if len(f) >= 6 {
				f[2], f[3] = "", ""
			}
			if sig := strings.Join(f, ";"); !strings.Contains(key, "|"+sig) {
				key += "|" + sig
			}
		}
		var sec *vcalSection
		for _, s := range sections {
			if s.key == key {
				sec = s
			}
		}
		if sec == nil {
			sec = &vcalSection{key: key, tz: tz}
			sections = append(sections, sec)
		}
		for _, d := range daylight {
			if !slices.Contains(sec.daylight, d) {
				sec.daylight = append(sec.daylight, d)
			}
		}
		sec.comps.Write(comps)
	}
	if len(sections) == 0 {
		sections = append(sections, &vcalSection{})
	}
	sections[0].comps.Write(loose.Bytes())
	for _, s := range sections {
		var b bytes.Buffer
		b.WriteString("BEGIN:VCALENDAR\r\nVERSION:1.0\r\nPRODID:" + prodID + "\r\n")
		if s.tz != "" {
			b.WriteString(s.tz + "\r\n")
		}
		slices.Sort(s.daylight)
		for _, d := range s.daylight {
			b.WriteString(d + "\r\n")
		}
		b.Write(s.comps.Bytes())
		b.WriteString("END:VCALENDAR\r\n")
		if _, err := w.Write(b.Bytes()); err != nil {
			return problems, err
		}
	}
	return problems, nil
}

// vcalSplit cuts the converter's vCalendar 1.0 output into its TZ and
// DAYLIGHT lines and its components (CRLF-terminated, as they stood).
// BEGIN/END:VCALENDAR, VERSION and PRODID are written once per section.
func vcalSplit(data []byte) (tz string, daylight []string, comps []byte) {
	objs := vobject.Parse(data)
	if len(objs) == 0 {
		return "", nil, nil
	}
	for _, p := range objs[0].Props {
		switch p.Name {
		case "TZ":
			tz = p.Raw
		case "DAYLIGHT":
			daylight = append(daylight, p.Raw)
		}
	}
	var c bytes.Buffer
	for _, o := range objs[0].Children {
		for _, l := range o.Lines {
			c.WriteString(l)
		}
	}
	return tz, daylight, c.Bytes()
}
