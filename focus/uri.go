package focus

import (
	"strings"
)

// sipURI is the part of a SIP or SIPS URI that identifies a user or a room: scheme, user and
// host. Ports, parameters and headers are ignored on purpose: a Request-URI or a CPIM To names a
// room when these three match (design.md, Conventions), and an AOR is compared the same way.
type sipURI struct {
	Scheme string // "sip" or "sips", lower case
	User   string // as given; sameAddress compares it exactly, sameUser without case
	Host   string // lower case, IPv6 without brackets
}

// parseSIPURI accepts "sip:user@host:port;params?headers", optionally inside <...> and after
// a display name. Other schemes (tel:, im:, urn:) are returned with User holding the rest so that
// equality still works for them.
func parseSIPURI(s string) (sipURI, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return sipURI{}, false
		}
		s = s[i+1 : i+j]
	}
	colon := strings.IndexByte(s, ':')
	if colon <= 0 {
		return sipURI{}, false
	}
	u := sipURI{Scheme: strings.ToLower(s[:colon])}
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
			return sipURI{}, false
		}
		host = host[1:end]
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	u.Host = strings.ToLower(host)
	return u, u.Host != ""
}

// AOR returns the canonical address-of-record form "sip:user@host".
func (u sipURI) AOR() string {
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

// Two questions are asked of addresses, each with its one rule:
//
//   - sameAddress: is this the very address, as RFC 3261 §19.1.4 compares SIP URIs (user part
//     case-sensitive, host without case)? For what a sender presents as himself (the CPIM From
//     of a message, a page-mode member's proven address): recipients compare it that way, so
//     another spelling would show them someone else.
//   - sameUser: is this the same user to the room? By the rule of the XCON-USERID the address
//     maps to (xcon.UserIDFromAOR), under which the user's row, roles, nickname and membership
//     are kept: host and user part without case, because stored XCON-USERIDs have always been
//     case-folded, so two spellings of one user part already share one row, and an access check
//     that told them apart would let a user barred under one spelling come back under another
//     as the same member. For the deny and allowed lists and for addressing a participant.
//
// In both, sip and sips name the same user (RFC 3261 §19.1.4 says they differ as URIs, but the
// sender's CPIM From routinely says sip: over a TLS leg).

func baseScheme(s string) string {
	if s == "sips" {
		return "sip"
	}
	return s
}

func sameAddress(a, b sipURI) bool {
	return baseScheme(a.Scheme) == baseScheme(b.Scheme) && a.Host == b.Host && a.User == b.User
}

func sameUser(a, b sipURI) bool {
	return baseScheme(a.Scheme) == baseScheme(b.Scheme) && a.Host == b.Host && strings.ToLower(a.User) == strings.ToLower(b.User)
}
