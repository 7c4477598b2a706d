package ccmp

import (
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/xcon"
)

// What SIP conferencing clients (liblinphone's conference scheduler) send and need back,
// applied to every client alike:
//
//   - allowed-users-list targets given as SIP URIs are stored as the XCON-USERIDs those
//     addresses map to, and each becomes a user of the room (that entity, the SIP URI as
//     associated-aor, role participant) unless it is one already; the list echoes the
//     XCON-USERIDs. Dial-out targets are recorded, not called: dialling out is a policy this
//     server does not apply, so a CCMP answer never waits on a call.
//   - every user carries a SIP associated-aor (sip:USER@DOMAIN of its XCON-USERID when none
//     was given, the room's domain for an XCON-USERID without one); the creator is a user with
//     the roles administrator and organizer.
//   - an update may resend the whole confInfo, AUTO_GENERATE placeholders included: the
//     placeholder entity names the room, and an available-media entry labelled
//     AUTO_GENERATE_n is the entry of the same type at the same position among that type's
//     entries (a new one only when there is no such entry), so nothing is duplicated; a
//     <users state="full"> with the allowed list keeps every user present or provisioned.
//   - an iCalendar in conference-time starts right at BEGIN:VCALENDAR, keeps CRLF line ends
//     (RFC 5545 §3.1), written as &#xD;&#xA; so that no XML parser folds them, and has a VEVENT
//     with a DTSTART (the time of the create or update that lacked one): calendar.go.
//   - a room made from a confInfo inherits from the default blueprint what it leaves out:
//     join-handling, and a chat channel when it has no message or text channel.

// normalizeTargets rewrites the SIP targets of the allowed-users-list elements under el into
// XCON-USERIDs, in place; it returns each XCON-USERID with its SIP URI.
func normalizeTargets(el *etree.Element) map[string]string {
	out := map[string]string{}
	var walk func(e *etree.Element, inAllowed bool)
	walk = func(e *etree.Element, inAllowed bool) {
		ns, _ := nsOf(e)
		if ns == xcon.NSXcon && e.Tag == "allowed-users-list" {
			inAllowed = true
		}
		if inAllowed && ns == xcon.NSXcon && e.Tag == "target" {
			if a := e.SelectAttr("uri"); a != nil {
				if uri := strings.TrimSpace(a.Value); isSIPURI(uri) {
					id := xcon.UserIDFromAOR(uri)
					out[strings.ToLower(id)] = sipAOR(uri)
					a.Value = id
				}
			}
		}
		for _, c := range e.ChildElements() {
			walk(c, inAllowed)
		}
	}
	walk(el, false)
	return out
}

// isSIPURI: a SIP or SIPS URI naming a user (xcon.ParseSIPAddress).
func isSIPURI(s string) bool {
	a, ok := xcon.ParseSIPAddress(s)
	return ok && (a.Scheme == "sip" || a.Scheme == "sips") && a.User != ""
}

// sipAOR strips display name, angle brackets and parameters from a SIP URI.
func sipAOR(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	if i := strings.IndexAny(s, ";?"); i >= 0 {
		s = s[:i]
	}
	return s
}

// provision makes every allowed-users-list target a user of c and gives every user a SIP
// associated-aor. sips maps XCON-USERIDs to the SIP URIs they were given as.
func provision(c *xcon.Conference, sips map[string]string) {
	for _, t := range c.AllowedUsers {
		if strings.HasPrefix(t.URI, "*@") || !validUserID(t.URI) || c.User(t.URI) != nil {
			continue
		}
		c.Users = append(c.Users, &xcon.User{Entity: t.URI, Roles: []string{"participant"}})
	}
	for _, u := range c.Users {
		if slices.ContainsFunc(u.AssociatedAORs, isSIPURI) {
			continue
		}
		aor := sips[strings.ToLower(u.Entity)]
		if aor == "" {
			id := strings.TrimPrefix(strings.ToLower(u.Entity), "xcon-userid:")
			if !strings.Contains(id, "@") {
				// A bare user (xcon-userid:marie) is a user of the room's domain.
				_, host, ok := strings.Cut(c.Entity, "@")
				if !ok || id == "" || host == "" {
					continue
				}
				id += "@" + strings.ToLower(host)
			}
			aor = "sip:" + id
		}
		u.AssociatedAORs = append(u.AssociatedAORs, aor)
	}
	normalizeCalendar(c, time.Now())
}

func isChat(typ string) bool { return typ == "message" || typ == "text" }

// inherit fills in what a room made from a confInfo leaves out, from the default blueprint.
func inherit(c, blueprint *xcon.Conference) {
	if c.JoinHandling == "" {
		c.JoinHandling = blueprint.JoinHandling
	}
	if !slices.ContainsFunc(c.Description.Media, func(m xcon.Channel) bool { return isChat(m.Type) }) {
		for _, m := range blueprint.Description.Media {
			if c.Channel(m.Label) == nil {
				c.Description.Media = append(c.Description.Media, m)
			}
		}
	}
	for i := range c.Description.Media {
		m := &c.Description.Media[i]
		if m.Status == "" || isChat(m.Type) {
			m.Status = "sendrecv"
		}
	}
}

// matchPlaceholders binds the AUTO_GENERATE placeholders of a resent confInfo to what they
// already stand for in cur: the entity to the room, each available-media label to the entry
// of the same type at the same position among the entries of that type.
func matchPlaceholders(ag *autogen, info *etree.Element, cur *xcon.Conference) error {
	if ph, err := ag.identifier(info.SelectAttrValue("entity", "")); err != nil {
		return err
	} else if ph != "" {
		info.CreateAttr("entity", cur.Entity)
	}
	seen := map[string]int{}
	for _, desc := range info.ChildElements() {
		if ns, _ := nsOf(desc); ns != xcon.NS || desc.Tag != "conference-description" {
			continue
		}
		for _, am := range desc.ChildElements() {
			if ns, _ := nsOf(am); ns != xcon.NS || am.Tag != "available-media" {
				continue
			}
			for _, e := range am.ChildElements() {
				typ := ""
				if t := e.SelectElement("type"); t != nil {
					typ = textOf(t)
				}
				n := seen[typ]
				seen[typ]++
				label := strings.TrimSpace(e.SelectAttrValue("label", ""))
				if !placeholder.MatchString(label) || placeholder.FindString(label) != label {
					continue
				}
				k := 0
				for _, m := range cur.Description.Media {
					if m.Type != typ {
						continue
					}
					if k == n {
						ag.set(label, m.Label)
						break
					}
					k++
				}
			}
		}
	}
	return nil
}

// escapeCR writes every carriage return of an encoded document as a character reference,
// which etree's writer does not do: an XML parser would turn a raw CR into a LF.
func escapeCR(b []byte) []byte {
	if !slices.Contains(b, '\r') {
		return b
	}
	return []byte(strings.ReplaceAll(string(b), "\r", "&#xD;"))
}
