package xcon

import (
	"encoding/xml"
	"strings"
)

// Namespaces of the conference object (RFC 4575 §4.2, RFC 6501 §3.2).
const (
	NS      = "urn:ietf:params:xml:ns:conference-info"
	NSXcon  = "urn:ietf:params:xml:ns:xcon-conference-info"
	NSXML   = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS = "http://www.w3.org/2000/xmlns/"
)

// Conference is one conference object: a room, a blueprint or a sidebar.
// Optional scalars are pointers or empty strings so that absent stays absent
// across a round trip.
type Conference struct {
	Entity  string // XCON-URI, "xcon:NAME@DOMAIN" (RFC 6501 §3.3)
	Version uint64 // root version attribute; RFC 6503 §5.2: +1 per change
	// NotifyState is the RFC 4575 §4.4 state attribute ("full", "partial",
	// "deleted"); RFC 6501 §4.1 does not use it, so it is usually "".
	NotifyState string

	Description Description
	HostInfo    *HostInfo
	State       ConferenceState
	Users       []*User

	// The <users> container (RFC 4575 §5.6, RFC 6501 §4.6).
	UsersState          string // state attribute of <users>
	JoinHandling        string // xcon:join-handling; "" = absent = block (RFC 6501 §4.6.1)
	UserAdmissionPolicy string // xcon:user-admission-policy (RFC 6501 §4.6.2)
	AllowedUsers        []Target
	PersistentUsers     []PersistentUser // xcon:allowed-users-list/persistent-list
	DenyUsers           []Target
	UsersExtras         Extras

	SidebarsByRef []URIEntry    // RFC 4575 §5.9.1
	SidebarsByVal []*Conference // RFC 4575 §5.9.2; each Entity is the sidebar's
	// FloorInformation is xcon:floor-information (RFC 6501 §4.5), kept as data.
	FloorInformation *Element

	Extras Extras
}

// Description is <conference-description> (RFC 4575 §5.3, RFC 6501 §4.2).
type Description struct {
	Lang             string // xml:lang
	DisplayText      string
	Subject          string
	FreeText         string
	Keywords         []string
	ConfURIs         []URIEntry
	ServiceURIs      []URIEntry
	MaximumUserCount *uint32
	Media            []Channel // available-media entries

	Language       string // xcon:language
	AllowSidebars  *bool  // xcon:allow-sidebars
	CloningParent  string // xcon:cloning-parent
	SidebarParent  string // xcon:sidebar-parent
	ConferenceTime *Element

	Extras Extras
}

// URIEntry is an entry of a uris-type container (RFC 4575 §5.3.1).
type URIEntry struct {
	URI         string
	DisplayText string
	Purpose     string
	Modified    *Execution
	// Password is xcon:conference-password, meaningful under conf-uris only
	// (RFC 6501 §4.2.6).
	Password string
	Extras   Extras
}

// Execution is the RFC 4575 execution-type (referred, joining-info, ...).
type Execution struct {
	When   string // xs:dateTime, kept as written
	Reason string
	By     string
}

// Channel is an available-media entry (RFC 4575 §5.3.4). An entry of type
// "message" is a chat channel; Label equals the SDP a=label (RFC 4574).
type Channel struct {
	Label       string
	Type        string
	Status      string
	DisplayText string
	// Language of the channel, carried as xcon:language inside the entry
	// (session-chat §3.2: one session per language).
	Language   string
	MixingMode string // xcon:mixing-mode
	Extras     Extras
}

// HostInfo is <host-info> (RFC 4575 §5.4).
type HostInfo struct {
	DisplayText string
	WebPage     string
	URIs        []URIEntry
	Extras      Extras
}

// ConferenceState is <conference-state> (RFC 4575 §5.5, RFC 6501 §4.4).
type ConferenceState struct {
	UserCount *uint32
	Active    *bool
	Locked    *bool
	// AllowConferenceEventSubscription is xcon:allow-conference-event-subscription
	// (absent means true).
	AllowConferenceEventSubscription *bool
	Extras                           Extras
}

// Target is an xcon:target of the allowed or deny users list (RFC 6501 §4.6.3).
type Target struct {
	URI    string
	Method string // dial-in, dial-out, refer; "" in the deny list
}

// PersistentUser is a registered member (RFC 6501 §4.6.3 persistent-list).
type PersistentUser struct {
	Name     string
	Nickname string
	ID       string
	Email    []string
}

// User is <user> (RFC 4575 §5.6, RFC 6501 §4.6.5).
type User struct {
	Entity      string // XCON-USERID, "xcon-userid:alice@example.com"
	Nickname    string // xcon:nickname, the user's default nickname in this room
	NotifyState string // RFC 4575 state attribute; "" = absent

	DisplayText    string
	AssociatedAORs []string
	// AORDetails holds display-text, purpose, ... of associated-aors entries,
	// matched to AssociatedAORs by URI; most users have none.
	AORDetails    []URIEntry
	Roles         []string
	Languages     []string
	CascadedFocus string
	Endpoints     []*Endpoint

	ProvideAnonymity            string // xcon:provide-anonymity
	AllowReferUsersDynamically  *bool
	AllowInviteUsersDynamically *bool
	AllowRemoveUsersDynamically *bool
	Extras                      Extras
}

// Endpoint is <endpoint> (RFC 4575 §5.7); for chat its entity is the chat-ID.
type Endpoint struct {
	Entity      string // the chat-ID
	Nickname    string // xcon:nickname per chat-ID (session-chat figure 4)
	NotifyState string

	DisplayText         string
	Referred            *Execution
	Status              string // "connected", ...
	JoiningMethod       string // "dialed-in", ...
	JoiningInfo         *Execution
	DisconnectionMethod string
	DisconnectionInfo   *Execution
	Media               []Media
	CallInfo            *CallInfo
	Extras              Extras
}

// Media is an endpoint's <media> (RFC 4575 §5.8).
type Media struct {
	ID          string
	DisplayText string
	Type        string // "message" for MSRP
	Label       string // the channel label (available-media entry label)
	SrcID       string
	Status      string
	Extras      Extras
}

// CallInfo is <call-info> (RFC 4575 §5.7.1). SIP is nil when the element
// carries something other than a SIP dialog id; that content is in Extras.
type CallInfo struct {
	SIP    *SIPDialogID
	Extras Extras
}

// SIPDialogID identifies the SIP dialog of an endpoint.
type SIPDialogID struct {
	DisplayText string
	CallID      string
	FromTag     string
	ToTag       string
	Extras      Extras
}

// Extras is what this package does not model: attributes and child elements
// that it keeps so that a decoded object re-encodes without loss. Extension
// elements are written after the modelled children, where the XSDs place
// their xs:any wildcards.
type Extras struct {
	Attrs    []xml.Attr // Name.Space is a namespace URI
	Elements []*Element
}

// Element is an XML element kept as data. Names carry namespace URIs, not
// prefixes, so an Element means the same wherever it is re-encoded.
type Element struct {
	Name     xml.Name
	Attrs    []xml.Attr
	Text     string // character data, trimmed; mixed content is concatenated
	Children []*Element
}

// Name returns the room name: "lobby" for "xcon:lobby@example.com".
// XCON-URIs compare case-insensitively (RFC 6501 §3.3.2), so it is lowercased.
func (c *Conference) Name() string {
	return NameFromURI(c.Entity)
}

// NameFromURI returns the lowercased conf-object-id of an XCON-URI, or of a
// SIP URI naming the room ("sip:lobby@example.com").
func NameFromURI(uri string) string {
	s := uri
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	return strings.ToLower(s)
}

// User returns the user with the given XCON-USERID (compared
// case-insensitively, RFC 6501 §4.6.5), or nil.
func (c *Conference) User(entity string) *User {
	for _, u := range c.Users {
		if strings.EqualFold(u.Entity, entity) {
			return u
		}
	}
	return nil
}

// Channel returns the available-media entry with the given label, or nil.
func (c *Conference) Channel(label string) *Channel {
	for i := range c.Description.Media {
		if c.Description.Media[i].Label == label {
			return &c.Description.Media[i]
		}
	}
	return nil
}

// Endpoint returns the endpoint with the given chat-ID, or nil.
func (u *User) Endpoint(entity string) *Endpoint {
	for _, e := range u.Endpoints {
		if e.Entity == entity {
			return e
		}
	}
	return nil
}

// UserIDFromAOR derives the XCON-USERID of a signalling identity:
// "sip:Alice@Example.com;x=y" becomes "xcon-userid:alice@example.com".
// Display names, angle brackets, URI parameters, headers and ports are
// dropped; the result is lowercased because XCON-USERIDs compare
// case-insensitively (RFC 6501 §4.6.5). The user@domain form follows the
// RFC 6503/6504 examples.
func UserIDFromAOR(aor string) string {
	s := strings.TrimSpace(aor)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		switch strings.ToLower(s[:i]) {
		case "sip", "sips", "tel", "im", "pres", "mailto", "xmpp", "xcon-userid":
			s = s[i+1:]
		}
	}
	if i := strings.IndexAny(s, ";?"); i >= 0 {
		s = s[:i]
	}
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		host := s[at+1:]
		if strings.HasPrefix(host, "[") { // IPv6 reference
			if j := strings.IndexByte(host, ']'); j >= 0 {
				host = host[:j+1]
			}
		} else if j := strings.IndexByte(host, ':'); j >= 0 {
			host = host[:j]
		}
		s = s[:at+1] + host
	}
	return "xcon-userid:" + strings.ToLower(s)
}
