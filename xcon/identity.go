package xcon

import "strings"

// SIPAddress is the part of a SIP or SIPS URI that identifies a user or a room: scheme, user
// and host. Ports, parameters and headers are left out on purpose: a Request-URI or a CPIM To
// names a room when these three match, and an address of record is compared the same way.
type SIPAddress struct {
	Scheme string // "sip" or "sips", lower case; another scheme's name for other URIs
	User   string // as given; Equal compares it exactly, Same without case
	Host   string // lower case, IPv6 without brackets; "" for other schemes
}

// ParseSIPAddress accepts "sip:user@host:port;params?headers", optionally inside <...> and
// after a display name. Other schemes (tel:, im:, urn:, xcon-userid:) come back with User
// holding the rest, so that equality still works for them.
func ParseSIPAddress(s string) (SIPAddress, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return SIPAddress{}, false
		}
		s = s[i+1 : i+j]
	}
	colon := strings.IndexByte(s, ':')
	if colon <= 0 {
		return SIPAddress{}, false
	}
	u := SIPAddress{Scheme: strings.ToLower(s[:colon])}
	rest := s[colon+1:]
	if u.Scheme != "sip" && u.Scheme != "sips" {
		u.User = rest
		return u, rest != ""
	}
	if i := strings.IndexAny(rest, ";?"); i >= 0 {
		rest = rest[:i]
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		u.User = rest[:at]
		if i := strings.IndexByte(u.User, ':'); i >= 0 { // user:password is deprecated; never part of identity
			u.User = u.User[:i]
		}
		rest = rest[at+1:]
	}
	host := rest
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return SIPAddress{}, false
		}
		host = host[1:end]
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	u.Host = strings.ToLower(host)
	return u, u.Host != ""
}

// AOR returns the canonical address-of-record form "sip:user@host".
func (u SIPAddress) AOR() string {
	if u.Scheme != "sip" && u.Scheme != "sips" {
		return u.Scheme + ":" + u.User
	}
	host := u.Host
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	if u.User == "" {
		return u.Scheme + ":" + host
	}
	return u.Scheme + ":" + u.User + "@" + host
}

// Two questions are asked of addresses, and each has its one rule here:
//
//   - Equal: is this the very address, as RFC 3261 §19.1.4 compares SIP URIs (user part
//     case-sensitive, host without case)? For what a sender presents as himself (the CPIM From
//     of a message, a page-mode member's proven address): recipients compare it that way, so
//     another spelling would show them someone else.
//   - Same: is this the same user to a room? By the rule of the XCON-USERID the address maps to
//     (UserIDFromAOR), under which a room keeps a user's row, roles, nickname and membership:
//     host and user part without case, because stored XCON-USERIDs have always been case-folded
//     (RFC 6501 §4.6.5), so two spellings of one user part already share one row, and an access
//     check that told them apart would let a user barred under one spelling come back under
//     another as the same member. For the deny and allowed lists, addressing a participant and
//     finding a roster entry.
//
// In both, sip and sips name the same user (RFC 3261 §19.1.4 says they differ as URIs, but a
// sender's CPIM From routinely says sip: over a TLS leg).

func baseScheme(s string) string {
	if s == "sips" {
		return "sip"
	}
	return s
}

// Equal tells whether two addresses are the same address (see above): user part exact.
func (u SIPAddress) Equal(o SIPAddress) bool {
	return baseScheme(u.Scheme) == baseScheme(o.Scheme) && u.Host == o.Host && u.User == o.User
}

// Same tells whether two addresses name the same user to a room (see above): user part
// without case, as in its XCON-USERID.
func (u SIPAddress) Same(o SIPAddress) bool {
	return baseScheme(u.Scheme) == baseScheme(o.Scheme) && u.Host == o.Host && strings.ToLower(u.User) == strings.ToLower(o.User)
}

// SameUser tells whether two addresses, as text, name the same user (SIPAddress.Same); false
// when either is not an address or has no user part.
func SameUser(a, b string) bool {
	x, ok := ParseSIPAddress(a)
	y, okY := ParseSIPAddress(b)
	return ok && okY && x.User != "" && x.Same(y)
}
