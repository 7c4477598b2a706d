package msrp

import (
	"net"
	"strconv"
	"strings"
)

// URI is an MSRP or MSRPS URI (RFC 4975 §6):
//
//	MSRP-URI = msrp-scheme "://" authority ["/" session-id] ";" transport *( ";" URI-parameter )
//
// The zero Port means the authority carried no port.
type URI struct {
	Secure    bool   // scheme "msrps": the hop MUST use TLS (§6)
	User      string // optional userinfo; ignored by Equal (§6.1)
	Host      string // hostname or IP literal, IPv6 without brackets
	Port      int    // 0 when absent
	SessionID string // may contain '/' (RFC 4975 §6, §9)
	Transport string // "tcp", "ws" (RFC 7977), "dc" (RFC 8873) or any other token
	Params    string // URI parameters after the transport, without the leading ';'
}

// ParseURI parses one MSRP URI. The returned fields are substrings of s.
func ParseURI(s string) (URI, error) {
	var u URI
	rest, ok := cutPrefixFold(s, "msrps://")
	if ok {
		u.Secure = true
	} else if rest, ok = cutPrefixFold(s, "msrp://"); !ok {
		return URI{}, uriError(s, "scheme is not msrp or msrps")
	}
	// Authority ends at the first '/' or ';' (§6).
	end := strings.IndexAny(rest, "/;")
	if end < 0 {
		return URI{}, uriError(s, "missing ;transport")
	}
	authority := rest[:end]
	rest = rest[end:]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		u.User = authority[:at]
		authority = authority[at+1:]
	}
	if err := parseHostPort(&u, authority); err != nil {
		return URI{}, uriError(s, err.Error())
	}
	if rest[0] == '/' {
		semi := strings.IndexByte(rest, ';')
		if semi < 0 {
			return URI{}, uriError(s, "missing ;transport")
		}
		u.SessionID = rest[1:semi]
		if u.SessionID == "" || !isSessionID(u.SessionID) {
			return URI{}, uriError(s, "bad session-id")
		}
		rest = rest[semi:]
	}
	// rest starts with ';'.
	rest = rest[1:]
	transport, params, _ := strings.Cut(rest, ";")
	if transport == "" || !isAlphaNum(transport) {
		return URI{}, uriError(s, "bad transport")
	}
	u.Transport = transport
	for i := 0; i < len(params); i++ {
		if c := params[i]; c <= ' ' || c >= 0x7f {
			return URI{}, uriError(s, "bad URI parameter")
		}
	}
	u.Params = params
	return u, nil
}

func parseHostPort(u *URI, a string) error {
	if a == "" {
		return errString("empty host")
	}
	var host, port string
	if a[0] == '[' {
		close := strings.IndexByte(a, ']')
		if close < 0 {
			return errString("unterminated IPv6 literal")
		}
		host = a[1:close]
		if net.ParseIP(host) == nil || !strings.Contains(host, ":") {
			return errString("bad IPv6 literal")
		}
		after := a[close+1:]
		if after != "" {
			if after[0] != ':' {
				return errString("junk after IPv6 literal")
			}
			port = after[1:]
			if port == "" {
				return errString("empty port")
			}
		}
	} else {
		h, p, hasPort := strings.Cut(a, ":")
		host = h
		if hasPort {
			if p == "" {
				return errString("empty port")
			}
			port = p
		}
		if host == "" {
			return errString("empty host")
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !isAlnumByte(c) && c != '-' && c != '.' && c != '_' && c != '%' {
				return errString("bad host character")
			}
		}
	}
	u.Host = host
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 || n > 65535 || port[0] == '+' || port[0] == '0' {
			return errString("bad port")
		}
		u.Port = n
	}
	return nil
}

// ParsePath parses a space-separated list of URIs (SDP a=path, To-Path, From-Path; RFC 4975 §8.2, §9).
func ParsePath(s string) ([]URI, error) {
	return appendPath(nil, s)
}

// appendPath appends the URIs of s to dst; the parser uses it to reuse a backing array.
func appendPath(dst []URI, s string) ([]URI, error) {
	n := 0
	for {
		for len(s) > 0 && s[0] == ' ' {
			s = s[1:]
		}
		if s == "" {
			break
		}
		tok := s
		if i := strings.IndexByte(s, ' '); i >= 0 {
			tok, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		u, err := ParseURI(tok)
		if err != nil {
			return dst, err
		}
		dst = append(dst, u)
		n++
	}
	if n == 0 {
		return dst, errString("empty path")
	}
	return dst, nil
}

// String formats u as it appears on the wire.
func (u URI) String() string {
	return string(u.AppendTo(make([]byte, 0, 64)))
}

// AppendTo appends the wire form of u to b.
func (u URI) AppendTo(b []byte) []byte {
	if u.Secure {
		b = append(b, "msrps://"...)
	} else {
		b = append(b, "msrp://"...)
	}
	if u.User != "" {
		b = append(b, u.User...)
		b = append(b, '@')
	}
	if strings.IndexByte(u.Host, ':') >= 0 {
		b = append(b, '[')
		b = append(b, u.Host...)
		b = append(b, ']')
	} else {
		b = append(b, u.Host...)
	}
	if u.Port != 0 {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(u.Port), 10)
	}
	if u.SessionID != "" {
		b = append(b, '/')
		b = append(b, u.SessionID...)
	}
	b = append(b, ';')
	if u.Transport == "" {
		b = append(b, "tcp"...)
	} else {
		b = append(b, u.Transport...)
	}
	if u.Params != "" {
		b = append(b, ';')
		b = append(b, u.Params...)
	}
	return b
}

// Equal compares two URIs by RFC 4975 §6.1: scheme and host ignoring case, ports equal (absent never equals
// present), session-id case-sensitive, transport ignoring case. Userinfo and other parameters are ignored.
func (u URI) Equal(v URI) bool {
	return u.Secure == v.Secure &&
		strings.EqualFold(u.Host, v.Host) &&
		u.Port == v.Port &&
		u.SessionID == v.SessionID &&
		strings.EqualFold(u.transport(), v.transport())
}

func (u URI) transport() string {
	if u.Transport == "" {
		return "tcp"
	}
	return u.Transport
}

// HostPort returns "host:port" for net.Dial, bracketing IPv6 literals.
func (u URI) HostPort() string {
	return net.JoinHostPort(u.Host, strconv.Itoa(u.Port))
}

func appendPathTo(b []byte, p []URI) []byte {
	for i, u := range p {
		if i > 0 {
			b = append(b, ' ')
		}
		b = u.AppendTo(b)
	}
	return b
}

func pathEqual(a, b []URI) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func isAlnumByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isAlphaNum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnumByte(s[i]) {
			return false
		}
	}
	return true
}

// isSessionID: session-id = 1*( unreserved / "+" / "=" / "/" ), with percent-encoding tolerated (§9).
func isSessionID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlnumByte(c) {
			continue
		}
		switch c {
		case '-', '.', '_', '~', '+', '=', '/', '%':
			continue
		}
		return false
	}
	return true
}

// cloneOwned returns u with its strings copied, for a URI parsed from a borrowed buffer.
func (u URI) cloneOwned() URI {
	u.User, u.Host, u.SessionID = strings.Clone(u.User), strings.Clone(u.Host), strings.Clone(u.SessionID)
	u.Transport, u.Params = strings.Clone(u.Transport), strings.Clone(u.Params)
	return u
}
