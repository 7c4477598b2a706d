package focus

import (
	"strings"
)

// sipURI is the part of a SIP or SIPS URI that identifies a user or a room: scheme, user and
// host. Ports, parameters and headers are ignored on purpose: a Request-URI or a CPIM To names a
// room when these three match (design.md, Conventions), and an AOR is compared the same way.
type sipURI struct {
	Scheme string // "sip" or "sips", lower case
	User   string // case-sensitive (RFC 3261 §19.1.4)
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

// sameIdentity compares two identities: sip and sips name the same user (RFC 3261 §19.1.4
// says they differ as URIs, but the sender's CPIM From routinely says sip: over a TLS leg).
func sameIdentity(a, b sipURI) bool {
	scheme := func(s string) string {
		if s == "sips" {
			return "sip"
		}
		return s
	}
	return scheme(a.Scheme) == scheme(b.Scheme) && a.User == b.User && a.Host == b.Host
}
