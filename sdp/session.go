package sdp

import "strings"

// Session is a parsed offer or answer.
type Session struct {
	// Origin is the o= line [RFC 4566 §5.2].
	Origin Origin
	// Name is the s= line, usually "-".
	Name string
	// Connection is the session-level c= address, if any [RFC 4566 §5.7].
	Connection string
	// Attributes holds every session-level a= line, in order.
	Attributes []Attribute
	// Media holds every m-line, in order, including media types this package
	// does not understand (they are kept so an answer can refuse them in place).
	Media []Media
}

// Origin is the o= line: username, session id, version and the unicast
// address of the originator [RFC 4566 §5.2]. The network type is always IN.
type Origin struct {
	Username       string
	SessionID      uint64
	SessionVersion uint64
	AddressType    string // "IP4" or "IP6"
	Address        string
}

// Attribute is one a= line split at the first colon; Value is empty for a
// property attribute such as a=sendonly.
type Attribute struct {
	Key   string
	Value string
}

// Chatroom is the RFC 7701 §8 a=chatroom attribute. A nil *Chatroom means the
// attribute was absent; a zero Chatroom is a bare a=chatroom (the endpoint
// understands chat rooms but offers neither feature).
type Chatroom struct {
	// Nickname is the "nickname" token (the RFC prose says "nicknames";
	// both spellings are read, "nickname" is written) [RFC 7701 §8].
	Nickname bool
	// PrivateMessages is the "private-messages" token.
	PrivateMessages bool
	// Tokens holds extension tokens, in order, excluding the two above.
	Tokens []string
}

// Media is one m-line and the attributes that matter for MSRP.
type Media struct {
	Type    string // "message", "audio", "image", ...
	Port    int
	Proto   string // "TCP/MSRP", "TCP/TLS/MSRP", "TCP/WSS/MSRP", "RTP/AVP", ...
	Formats []string
	// Connection is the media-level c= address, if any.
	Connection string

	// Path lists the a=path URIs in order; the last one is the peer's own
	// session URI, the first one is where the connection goes [RFC 4975 §8.2].
	Path []string
	// AcceptTypes and AcceptWrappedTypes are the media type lists of
	// [RFC 4975 §8.6], as written (parameters kept).
	AcceptTypes        []string
	AcceptWrappedTypes []string
	// MaxSize is a=max-size, the largest whole message the peer takes; 0 when
	// absent [RFC 4975 §8.6].
	MaxSize int64
	// Label is a=label [RFC 4574 §4].
	Label string
	// Setup is a=setup in lower case: "active", "passive", "actpass",
	// "holdconn" or "" [RFC 6135 §4; RFC 4145 §4]. A session-level a=setup
	// applies when the m-line has none.
	Setup string
	// Chatroom is a=chatroom; nil when absent [RFC 7701 §8].
	Chatroom *Chatroom
	// Direction is "sendrecv", "sendonly", "recvonly", "inactive" or "".
	// A session-level direction applies when the m-line has none
	// [RFC 4566 §6; RFC 4975 §8.9].
	Direction string
	// FileSelector and FileTransferID are the RFC 5547 §6 attributes, raw.
	FileSelector   string
	FileTransferID string
	// Fingerprint is the a=fingerprint value ("sha-256 AB:CD:..."), from the
	// m-line or else the session level [RFC 8122 §5].
	Fingerprint string
	// Attributes holds every media-level a= line, in order.
	Attributes []Attribute
}

// msrpProtos are the transport protocols of MSRP m-lines [RFC 4975 §8.1,
// RFC 7977 §8; TCP/WS/MSRP is what browsers on plain ws: offer].
var msrpProtos = [...]string{"TCP/MSRP", "TCP/TLS/MSRP", "TCP/WSS/MSRP", "TCP/WS/MSRP"}

// IsMSRPProto reports whether proto is one of the MSRP transport protocols.
func IsMSRPProto(proto string) bool {
	for _, p := range msrpProtos {
		if strings.EqualFold(proto, p) {
			return true
		}
	}
	return false
}

// IsMSRP reports whether the m-line is an MSRP stream: media type message and
// an MSRP proto [RFC 4975 §8.1].
func (m *Media) IsMSRP() bool {
	return strings.EqualFold(m.Type, "message") && IsMSRPProto(m.Proto)
}

// IsRejected reports whether the m-line has port 0, the refusal (or disabling)
// of a stream [RFC 3264 §6].
func (m *Media) IsRejected() bool { return m.Port == 0 }

// IsFileTransfer reports whether the m-line carries a=file-selector, even an
// empty one, which makes it an RFC 5547 file transfer rather than a chat
// session [RFC 5547 §5].
func (m *Media) IsFileTransfer() bool {
	return m.Attribute("file-selector") != nil
}

// Attribute returns the first media-level attribute named key, or nil.
func (m *Media) Attribute(key string) *Attribute {
	for i := range m.Attributes {
		if m.Attributes[i].Key == key {
			return &m.Attributes[i]
		}
	}
	return nil
}

// Accepts reports whether mediaType may be sent to this peer as the top-level
// body, using the accept-types matching of RFC 4975 §8.6: "*" accepts
// anything, "type/*" any subtype, type and subtype compare without case, and
// parameters on either side are ignored.
func (m *Media) Accepts(mediaType string) bool {
	return matchTypeList(m.AcceptTypes, mediaType, false)
}

// AcceptsWrapped reports whether mediaType may be sent to this peer inside a
// CPIM envelope: it is listed in accept-wrapped-types, or in accept-types
// other than as a container type (message/cpim, multipart/*). "*" in either
// list accepts anything. An absent accept-wrapped-types never means "nothing":
// many clients send none [RFC 4975 §8.6].
func (m *Media) AcceptsWrapped(mediaType string) bool {
	return matchTypeList(m.AcceptWrappedTypes, mediaType, false) ||
		matchTypeList(m.AcceptTypes, mediaType, true)
}

// matchTypeList reports whether mediaType matches an entry of list. With
// skipContainers, container entries do not count: a peer that accepts
// message/cpim does not thereby accept message/cpim nested inside CPIM.
func matchTypeList(list []string, mediaType string, skipContainers bool) bool {
	typ, sub, ok := splitMediaType(mediaType)
	if !ok {
		return false
	}
	for _, entry := range list {
		if entry == "*" || entry == "*/*" {
			return true
		}
		et, es, ok := splitMediaType(entry)
		if !ok {
			continue
		}
		if skipContainers && isContainerType(et, es) {
			continue
		}
		if !strings.EqualFold(et, typ) {
			continue
		}
		if es == "*" || strings.EqualFold(es, sub) {
			return true
		}
	}
	return false
}

// isContainerType reports whether type/subtype wraps other types
// [RFC 4975 §8.6]: message/cpim and every multipart type.
func isContainerType(typ, sub string) bool {
	return strings.EqualFold(typ, "multipart") ||
		(strings.EqualFold(typ, "message") && strings.EqualFold(sub, "cpim"))
}

// splitMediaType splits "type/subtype;params" into type and subtype without
// allocating. It fails on anything without a non-empty type and subtype.
func splitMediaType(s string) (typ, sub string, ok bool) {
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	slash := strings.IndexByte(s, '/')
	if slash <= 0 || slash == len(s)-1 {
		return "", "", false
	}
	return strings.TrimSpace(s[:slash]), strings.TrimSpace(s[slash+1:]), true
}

// ConnectionAddress returns the c= address that applies to m: its own, or
// else the session-level one [RFC 4566 §5.7].
func (s *Session) ConnectionAddress(m *Media) string {
	if m.Connection != "" {
		return m.Connection
	}
	return s.Connection
}
