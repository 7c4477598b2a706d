package xcon

import (
	"encoding/xml"
	"slices"
	"strconv"
	"strings"
	"time"
)

// NSParley is the namespace of Parley's own extension of the conference object: the room
// policies RFC 6501 has no element for. It travels as <parley:room-policy> at the end of
// <conference-info>, where RFC 4575's schema admits elements of other namespaces, so documents
// stay valid and other implementations ignore it (RFC 6501 §6).
const NSParley = "urn:parleychat:params:xml:ns:room-policy"

// RoomPolicy is a chat room's policy beyond RFC 6501 (session-chat §3.1, §5.2–§5.4).
type RoomPolicy struct {
	Logging   bool   // messages are logged and joiners are told so (session-chat §5.2)
	History   int    // messages replayed to a joiner, logged rooms only (session-chat §5.3)
	Successor string // set when the room was closed with an alternate venue (session-chat §5.4): its SIP URI

	// Message policy (session-chat §3.1); zero values mean the focus's defaults.
	MaxMessageSize int64    // largest message accepted in this room
	WrappedTypes   []string // types allowed inside message/cpim

	// Log retention; zero values keep everything.
	KeepFor      time.Duration // logged messages older than this are purged
	KeepMessages int           // only the newest this many logged messages are kept

	// Adhoc marks a room made by the conference factory (RFC 4579 §5.1): it is removed once it
	// has been empty for the focus's idle time.
	Adhoc bool

	// Moderated: a joiner without a role of his own in the room joins as a visitor (recorded
	// with the role observer), who reads but may not send until a moderator gives him voice
	// (the role participant), as in an XMPP moderated room (XEP-0045 §8.4).
	Moderated bool
}

const roomPolicyLocal = "room-policy"

// RoomPolicy returns the policy stored in the object; ok is false when it has none.
func (c *Conference) RoomPolicy() (p RoomPolicy, ok bool) {
	for _, e := range c.Extras.Elements {
		if e.Name.Space != NSParley || e.Name.Local != roomPolicyLocal {
			continue
		}
		for _, a := range e.Attrs {
			switch a.Name.Local {
			case "logging":
				p.Logging = a.Value == "true" || a.Value == "1"
			case "history":
				p.History, _ = strconv.Atoi(a.Value)
			case "successor":
				p.Successor = a.Value
			case "max-message-size":
				p.MaxMessageSize, _ = strconv.ParseInt(a.Value, 10, 64)
			case "wrapped-types":
				p.WrappedTypes = strings.Fields(a.Value)
			case "keep-for":
				p.KeepFor, _ = time.ParseDuration(a.Value)
			case "keep-messages":
				p.KeepMessages, _ = strconv.Atoi(a.Value)
			case "adhoc":
				p.Adhoc = a.Value == "true" || a.Value == "1"
			case "moderated":
				p.Moderated = a.Value == "true" || a.Value == "1"
			}
		}
		return p, true
	}
	return RoomPolicy{}, false
}

// SetRoomPolicy stores p in the object, replacing any earlier policy.
func (c *Conference) SetRoomPolicy(p RoomPolicy) {
	c.Extras.Elements = slices.DeleteFunc(slices.Clone(c.Extras.Elements), func(e *Element) bool {
		return e.Name.Space == NSParley && e.Name.Local == roomPolicyLocal
	})
	e := &Element{Name: xml.Name{Space: NSParley, Local: roomPolicyLocal}, Attrs: []xml.Attr{
		{Name: xml.Name{Local: "logging"}, Value: strconv.FormatBool(p.Logging)},
		{Name: xml.Name{Local: "history"}, Value: strconv.Itoa(p.History)},
	}}
	if p.Successor != "" {
		e.Attrs = append(e.Attrs, xml.Attr{Name: xml.Name{Local: "successor"}, Value: p.Successor})
	}
	if p.MaxMessageSize > 0 {
		e.Attrs = append(e.Attrs, xml.Attr{Name: xml.Name{Local: "max-message-size"}, Value: strconv.FormatInt(p.MaxMessageSize, 10)})
	}
	if len(p.WrappedTypes) > 0 {
		e.Attrs = append(e.Attrs, xml.Attr{Name: xml.Name{Local: "wrapped-types"}, Value: strings.Join(p.WrappedTypes, " ")})
	}
	if p.KeepFor > 0 {
		e.Attrs = append(e.Attrs, xml.Attr{Name: xml.Name{Local: "keep-for"}, Value: p.KeepFor.String()})
	}
	if p.KeepMessages > 0 {
		e.Attrs = append(e.Attrs, xml.Attr{Name: xml.Name{Local: "keep-messages"}, Value: strconv.Itoa(p.KeepMessages)})
	}
	if p.Adhoc {
		e.Attrs = append(e.Attrs, xml.Attr{Name: xml.Name{Local: "adhoc"}, Value: "true"})
	}
	if p.Moderated {
		e.Attrs = append(e.Attrs, xml.Attr{Name: xml.Name{Local: "moderated"}, Value: "true"})
	}
	c.Extras.Elements = append(c.Extras.Elements, e)
}
