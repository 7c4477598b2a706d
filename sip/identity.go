package sip

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/internal/randomid"
)

// anonymousHost is the host of every anonymous participant's URI (RFC 3323 §4.1.1.3).
const anonymousHost = "anonymous.invalid"

// trustList is a set of addresses and networks (sip.trusted_proxies).
type trustList []netip.Prefix

// parseTrustList accepts IP addresses and CIDR networks.
func parseTrustList(entries []string) (trustList, error) {
	var l trustList
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if p, err := netip.ParsePrefix(e); err == nil {
			l = append(l, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(strings.Trim(e, "[]"))
		if err != nil {
			return nil, fmt.Errorf("sip: trusted proxy %q is neither an IP address nor a CIDR network", e)
		}
		a = a.Unmap()
		l = append(l, netip.PrefixFrom(a, a.BitLen()))
	}
	return l, nil
}

// contains reports whether the host of source (host:port or a bare host) is in the list.
func (l trustList) contains(source string) bool {
	if len(l) == 0 {
		return false
	}
	a, ok := sourceAddr(source)
	if !ok {
		return false
	}
	for _, p := range l {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// sourceAddr parses the IP of a packet source ("ip:port").
func sourceAddr(source string) (netip.Addr, bool) {
	host := source
	if h, _, err := net.SplitHostPort(source); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// sourceHost is the IP of a packet source as a string, the key of per-source limits.
func sourceHost(source string) string {
	if a, ok := sourceAddr(source); ok {
		return a.String()
	}
	return source
}

// identity decides who a joining participant is, in this order:
//  1. an authenticated Digest user name (when authentication applies): sip:USER@DOMAIN;
//  2. P-Asserted-Identity (RFC 3325), only from a trusted proxy; from anywhere else it is
//     ignored and logged;
//  3. the From URI.
//
// A privacy request (RFC 3323: Privacy id, header or user, or an anonymous From) then replaces
// the identity the room shows with a fresh anonymous URI of its own, so that nothing of the
// caller shows in the room and two anonymous participants are still told apart. The identity
// found above goes along as Authenticated: admission (deny list, allowed list) decides on it.
func (s *Server) identity(req *sip.Request, authUser string) (focus.Identity, error) {
	from := req.From()
	if from == nil {
		return focus.Identity{}, fmt.Errorf("no From header")
	}
	ident := focus.Identity{AOR: from.Address.String(), DisplayName: from.DisplayName, Password: conferencePassword(req)}
	pai := s.assertedIdentity(req)
	switch {
	case authUser != "":
		ident.AOR = "sip:" + authUser + "@" + s.cfg.Domain
		ident.Verified = true
	case pai != nil:
		ident.AOR = pai.Address.String()
		ident.Verified = true
		if pai.DisplayName != "" {
			ident.DisplayName = pai.DisplayName
		}
	default:
		ident.Local = s.localOperator(req.Source())
	}
	if wantsPrivacy(req, from) {
		s.log.Info("participant joins anonymously", "identity", ident.AOR, "source", req.Source())
		anon := anonymousIdentity()
		anon.Authenticated, anon.Password = ident.AOR, ident.Password
		anon.Verified, anon.Local = ident.Verified, ident.Local
		return anon, nil
	}
	return ident, nil
}

// localOperator tells whether a caller is the embedded default's operator: SIP authentication
// is off and the request comes from this host, not through a trusted proxy (which speaks for
// callers from anywhere).
func (s *Server) localOperator(source string) bool {
	if s.auth != nil || s.trusted.contains(source) {
		return false
	}
	a, ok := sourceAddr(source)
	return ok && a.IsLoopback()
}

// pinParam is the Request-URI parameter that carries a room's conference password
// (sip:room@example.com;pin=1234): any softphone can dial it, and proxies route on the rest of
// the URI, which names the room whatever its parameters.
const pinParam = "pin"

// conferencePassword is the password the caller gave for the room (the pin parameter of the
// Request-URI), "" for none.
func conferencePassword(req *sip.Request) string {
	if req.Recipient.UriParams == nil {
		return ""
	}
	pin, _ := req.Recipient.UriParams.Get(pinParam)
	return pin
}

// assertedIdentity returns the SIP or SIPS URI of a P-Asserted-Identity from a trusted proxy,
// nil when there is none or it is not to be believed.
func (s *Server) assertedIdentity(req *sip.Request) *sip.ToHeader {
	hdrs := req.GetHeaders("P-Asserted-Identity")
	if len(hdrs) == 0 {
		return nil
	}
	if !s.trusted.contains(req.Source()) {
		s.log.Info("P-Asserted-Identity from an untrusted source ignored", "source", req.Source(),
			"asserted", hdrs[0].Value())
		return nil
	}
	// One or two values (a SIP and a tel URI, RFC 3325 §9.1), possibly in one header.
	for _, h := range hdrs {
		for _, v := range splitAddressList(h.Value()) {
			var a sip.ToHeader
			name, err := sip.ParseAddressValue(v, &a.Address, nil)
			if err != nil {
				continue
			}
			if a.Address.Scheme == "sip" || a.Address.Scheme == "sips" {
				a.DisplayName = name
				return &a
			}
		}
	}
	s.log.Info("P-Asserted-Identity without a SIP URI ignored", "source", req.Source(), "asserted", hdrs[0].Value())
	return nil
}

// splitAddressList splits a header value holding name-addrs at the commas outside quotes
// and angle brackets.
func splitAddressList(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '<' && !quoted:
			depth++
		case c == '>' && !quoted && depth > 0:
			depth--
		case c == ',' && !quoted && depth == 0:
			out = append(out, strings.TrimSpace(v[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(v[start:]))
}

// wantsPrivacy reports whether the caller asked not to be identified: a Privacy header with
// id (RFC 3325 §9.3), header or user (RFC 3323 §4.2), or an anonymous From (RFC 3323 §4.1.1.3:
// "Anonymous" display name, user anonymous, or host anonymous.invalid).
func wantsPrivacy(req *sip.Request, from *sip.FromHeader) bool {
	for _, h := range req.GetHeaders("Privacy") {
		for _, v := range strings.FieldsFunc(h.Value(), func(r rune) bool { return r == ';' || r == ',' || r == ' ' }) {
			switch strings.ToLower(v) {
			case "id", "header", "user":
				return true
			}
		}
	}
	return strings.EqualFold(from.DisplayName, "anonymous") || strings.EqualFold(from.Address.User, "anonymous") ||
		strings.EqualFold(from.Address.Host, anonymousHost)
}

// anonymousIdentity is a URI no one else has: the focus derives the xcon-userid and the CPIM
// From check from it.
func anonymousIdentity() focus.Identity {
	return focus.Identity{AOR: "sip:anon-" + randomid.String("0123456789abcdef", 16) + "@" + anonymousHost, DisplayName: "Anonymous"}
}
