package ccmp

import (
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/xcon"
)

// The iCalendar object (RFC 5545) of an RFC 6501 conference-time entry, as iCalendar readers
// (liblinphone's ICS grammar) need it: the text starts right at BEGIN:VCALENDAR, every line
// ends in CRLF, the last one too, and it holds a VEVENT with a DTSTART. The line ends are
// written as &#xD;&#xA; (escapeCR), since an XML parser turns a raw CR into a LF.

// calendarText gives an iCalendar text its exact form: no whitespace before the first line or
// after the last, CRLF line ends (a line that begins with a blank stays a folded continuation).
func calendarText(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n") + "\r\n"
}

// calendarWithStart makes sure every VEVENT of an iCalendar text has a DTSTART (the room's
// creation or change: start), and that the calendar has a VEVENT (UID uid) at all. Texts that
// are not an iCalendar object are returned as they are.
func calendarWithStart(s, uid string, start time.Time) string {
	lines := strings.Split(calendarText(s), "\r\n")
	if len(lines) == 0 || !strings.EqualFold(strings.TrimSpace(lines[0]), "BEGIN:VCALENDAR") {
		return s
	}
	stamp := start.UTC().Format("20060102T150405Z")
	var out []string
	inEvent, hasStart, events := false, false, 0
	for _, l := range lines {
		name := strings.ToUpper(l)
		if i := strings.IndexAny(name, ":;"); i >= 0 {
			name = name[:i]
		}
		switch {
		case strings.EqualFold(l, "BEGIN:VEVENT"):
			inEvent, hasStart = true, false
			events++
		case inEvent && name == "DTSTART":
			hasStart = true
		case inEvent && strings.EqualFold(l, "END:VEVENT"):
			if !hasStart {
				out = append(out, "DTSTART:"+stamp)
			}
			inEvent = false
		case strings.EqualFold(l, "END:VCALENDAR") && events == 0:
			out = append(out, "BEGIN:VEVENT", "UID:"+uid, "DTSTAMP:"+stamp, "DTSTART:"+stamp, "END:VEVENT")
		}
		out = append(out, l)
	}
	return strings.Join(out, "\r\n")
}

// calendarBases calls fix on every iCalendar text (conference-time/entry/base) of c.
func calendarBases(c *xcon.Conference, fix func(string) string) {
	ct := c.Description.ConferenceTime
	if ct == nil {
		return
	}
	for _, entry := range ct.Children {
		for _, base := range entry.Children {
			if base.Name.Space == xcon.NSXcon && base.Name.Local == "base" {
				base.Text = fix(base.Text)
			}
		}
	}
}

// normalizeCalendar is applied to the object of a room being created or changed: each
// iCalendar text gets its exact form and a start.
func normalizeCalendar(c *xcon.Conference, now time.Time) {
	calendarBases(c, func(s string) string { return calendarWithStart(s, c.Entity, now) })
}

// encodeCalendars gives every iCalendar text of an encoded conference object (any element
// base under a conference-time of the XCON namespace) its exact form, so that what was
// stored (where the XML parser trims it) goes out as it must.
func encodeCalendars(el *etree.Element) {
	if el.Tag == "conference-time" {
		if ns, _ := nsOf(el); ns == xcon.NSXcon {
			for _, entry := range el.ChildElements() {
				for _, base := range entry.ChildElements() {
					if base.Tag == "base" {
						base.SetText(calendarText(base.Text()))
					}
				}
			}
			return
		}
	}
	for _, k := range el.ChildElements() {
		encodeCalendars(k)
	}
}
