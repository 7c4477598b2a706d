package sdp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// MediaAnswer describes one m-line of an answer (or of an offer built with
// BuildOffer).
type MediaAnswer struct {
	// Reject refuses the offered stream: port 0 with the offered media type,
	// proto and formats and no attributes [RFC 3264 §6]. All other fields
	// are ignored.
	Reject bool
	// Port is the m-line port; it must equal the port of our own path URI
	// [RFC 4975 §8.1].
	Port int
	// Proto defaults to the offered proto in an answer.
	Proto string

	Path               []string
	AcceptTypes        []string
	AcceptWrappedTypes []string
	MaxSize            int64 // 0 = omit a=max-size
	Label              string
	Setup              string // "active", "passive", "actpass" or ""
	Chatroom           *Chatroom
	Direction          string // "sendrecv", "sendonly", "recvonly", "inactive" or ""
	FileSelector       string
	FileTransferID     string
	Fingerprint        string // "sha-256 AB:CD:..." for TCP/TLS/MSRP [RFC 8122 §5]
	// Attributes are written after the typed ones, in order.
	Attributes []Attribute
}

// AnswerParams identify the session and the focus: the o= line and the c=
// address.
type AnswerParams struct {
	Username       string // o= username; "-" when empty
	SessionID      uint64
	SessionVersion uint64
	// Address is the advertised host for o= and c=: an IPv4 or IPv6 literal
	// (IP6 is chosen automatically, brackets are removed) or a host name.
	Address string
}

// BuildAnswer writes the answer to offer: one m-line per offered m-line, in
// order [RFC 3264 §6], CRLF line ends, t=0 0. media must have exactly one
// entry per offered m-line. An accepted m-line keeps the offered media type;
// its attributes are written in the order label, setup, accept-types,
// accept-wrapped-types, max-size, path, chatroom, direction, file-selector,
// file-transfer-id, fingerprint, then MediaAnswer.Attributes.
func BuildAnswer(offer *Session, p AnswerParams, media []MediaAnswer) ([]byte, error) {
	if offer == nil {
		return nil, fmt.Errorf("%w: no offer", ErrInvalidAnswer)
	}
	if len(media) != len(offer.Media) {
		return nil, fmt.Errorf("%w: %d answer m-lines for %d offered", ErrInvalidAnswer, len(media), len(offer.Media))
	}
	desc, err := newDescription(p, len(media))
	if err != nil {
		return nil, err
	}
	for i := range media {
		offered := &offer.Media[i]
		md, err := answerMedia(offered.Type, offered.Proto, offered.Formats, &media[i])
		if err != nil {
			return nil, fmt.Errorf("m-line %d: %w", i+1, err)
		}
		desc.MediaDescriptions = append(desc.MediaDescriptions, md)
	}
	return desc.Marshal()
}

// BuildOffer writes an offer with the focus's own m-lines, for dial-out and
// for the terminal client. Every entry must use an MSRP proto; its media type
// is message. Reject gives a disabled stream (port 0) [RFC 3264 §5.1].
func BuildOffer(p AnswerParams, media []MediaAnswer) ([]byte, error) {
	desc, err := newDescription(p, len(media))
	if err != nil {
		return nil, err
	}
	for i := range media {
		if !IsMSRPProto(media[i].Proto) {
			return nil, fmt.Errorf("%w: m-line %d: proto %q is not MSRP", ErrInvalidAnswer, i+1, media[i].Proto)
		}
		md, err := answerMedia("message", media[i].Proto, []string{"*"}, &media[i])
		if err != nil {
			return nil, fmt.Errorf("m-line %d: %w", i+1, err)
		}
		desc.MediaDescriptions = append(desc.MediaDescriptions, md)
	}
	return desc.Marshal()
}

func newDescription(p AnswerParams, nMedia int) (*psdp.SessionDescription, error) {
	addr, addrType, err := advertisedAddress(p.Address)
	if err != nil {
		return nil, err
	}
	user := p.Username
	if user == "" {
		user = "-"
	}
	if !isToken(user) {
		return nil, fmt.Errorf("%w: o= username %q", ErrInvalidAnswer, user)
	}
	return &psdp.SessionDescription{
		Origin: psdp.Origin{
			Username:       user,
			SessionID:      p.SessionID,
			SessionVersion: p.SessionVersion,
			NetworkType:    "IN",
			AddressType:    addrType,
			UnicastAddress: addr,
		},
		SessionName: "-",
		ConnectionInformation: &psdp.ConnectionInformation{
			NetworkType: "IN",
			AddressType: addrType,
			Address:     &psdp.Address{Address: addr},
		},
		// pion omits t= when TimeDescriptions is empty and then cannot
		// read its own output; t=0 0 is a permanent session [RFC 4566 §5.9].
		TimeDescriptions:  []psdp.TimeDescription{{}},
		MediaDescriptions: make([]*psdp.MediaDescription, 0, nMedia),
	}, nil
}

// advertisedAddress checks the host for o= and c= and picks IN IP4 or IN IP6
// [RFC 4566 §5.7]. A host name is written with IP4, as is customary.
func advertisedAddress(host string) (addr, addrType string, err error) {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" || !isToken(host) {
		return "", "", fmt.Errorf("%w: advertised address %q", ErrInvalidAnswer, host)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.IsUnspecified() {
			// A wildcard listen address is never reachable; the caller
			// must advertise a real host (design: advertised addresses).
			return "", "", fmt.Errorf("%w: advertised address %q is a wildcard", ErrInvalidAnswer, host)
		}
		if ip.Is6() && !ip.Is4In6() {
			return ip.String(), "IP6", nil
		}
		return ip.Unmap().String(), "IP4", nil
	}
	if strings.ContainsRune(host, ':') {
		return "", "", fmt.Errorf("%w: advertised address %q", ErrInvalidAnswer, host)
	}
	return host, "IP4", nil
}

func answerMedia(typ, proto string, formats []string, a *MediaAnswer) (*psdp.MediaDescription, error) {
	if a.Reject {
		// A refused stream echoes the offer with port 0 and nothing else
		// [RFC 3264 §6].
		if len(formats) == 0 {
			formats = []string{"*"}
		}
		return &psdp.MediaDescription{MediaName: mediaName(typ, 0, proto, formats)}, nil
	}
	if a.Proto != "" {
		proto = a.Proto
	}
	if !isToken(typ) || !isToken(proto) {
		return nil, fmt.Errorf("%w: media %q proto %q", ErrInvalidAnswer, typ, proto)
	}
	if a.Port <= 0 || a.Port > 65535 {
		return nil, fmt.Errorf("%w: port %d", ErrInvalidAnswer, a.Port)
	}
	attrs, err := a.attributes(IsMSRPProto(proto))
	if err != nil {
		return nil, err
	}
	if IsMSRPProto(proto) {
		formats = []string{"*"} // fmt is always "*" for MSRP [RFC 4975 §8.1]
	}
	return &psdp.MediaDescription{
		MediaName:  mediaName(typ, a.Port, proto, formats),
		Attributes: attrs,
	}, nil
}

func mediaName(typ string, port int, proto string, formats []string) psdp.MediaName {
	return psdp.MediaName{
		Media:   typ,
		Port:    psdp.RangedPort{Value: port},
		Protos:  strings.Split(proto, "/"),
		Formats: formats,
	}
}

// attributes lists the a= lines of an accepted m-line in the documented order.
func (a *MediaAnswer) attributes(msrp bool) ([]psdp.Attribute, error) {
	if msrp {
		// Both are MANDATORY on an MSRP m-line [RFC 4975 §8.2, §8.6].
		if len(a.Path) == 0 {
			return nil, fmt.Errorf("%w: MSRP m-line without a=path", ErrInvalidAnswer)
		}
		if len(a.AcceptTypes) == 0 {
			return nil, fmt.Errorf("%w: MSRP m-line without a=accept-types", ErrInvalidAnswer)
		}
	}
	attrs := make([]psdp.Attribute, 0, 8+len(a.Attributes))
	add := func(k, v string) { attrs = append(attrs, psdp.Attribute{Key: k, Value: v}) }

	if a.Label != "" {
		if !isLabel(a.Label) {
			return nil, fmt.Errorf("%w: label %q is not an RFC 4574 token", ErrInvalidAnswer, a.Label)
		}
		add("label", a.Label)
	}
	switch a.Setup {
	case "":
	case "active", "passive", "actpass":
		add("setup", a.Setup)
	default:
		// holdconn MUST NOT be sent for MSRP [RFC 6135 §4.2.1].
		return nil, fmt.Errorf("%w: setup %q", ErrInvalidAnswer, a.Setup)
	}
	if v, err := joinTokens("accept-types", a.AcceptTypes); err != nil {
		return nil, err
	} else if v != "" {
		add("accept-types", v)
	}
	if v, err := joinTokens("accept-wrapped-types", a.AcceptWrappedTypes); err != nil {
		return nil, err
	} else if v != "" {
		add("accept-wrapped-types", v)
	}
	if a.MaxSize < 0 {
		return nil, fmt.Errorf("%w: max-size %d", ErrInvalidAnswer, a.MaxSize)
	}
	if a.MaxSize > 0 {
		add("max-size", strconv.FormatInt(a.MaxSize, 10))
	}
	if v, err := joinTokens("path", a.Path); err != nil {
		return nil, err
	} else if v != "" {
		add("path", v)
	}
	if a.Chatroom != nil {
		v, err := a.Chatroom.value()
		if err != nil {
			return nil, err
		}
		add("chatroom", v)
	}
	switch a.Direction {
	case "":
	case "sendrecv", "sendonly", "recvonly", "inactive":
		add(a.Direction, "")
	default:
		return nil, fmt.Errorf("%w: direction %q", ErrInvalidAnswer, a.Direction)
	}
	for _, kv := range [...][2]string{
		{"file-selector", a.FileSelector},
		{"file-transfer-id", a.FileTransferID},
		{"fingerprint", a.Fingerprint},
	} {
		if kv[1] == "" {
			continue
		}
		if !isLineSafe(kv[1]) {
			return nil, fmt.Errorf("%w: %s %q", ErrInvalidAnswer, kv[0], kv[1])
		}
		add(kv[0], kv[1])
	}
	for _, extra := range a.Attributes {
		if !isToken(extra.Key) || !isLineSafe(extra.Value) {
			return nil, fmt.Errorf("%w: attribute %q", ErrInvalidAnswer, extra.Key)
		}
		add(extra.Key, extra.Value)
	}
	return attrs, nil
}

// value renders a=chatroom: "nickname" then "private-messages" then the
// extension tokens, only those set [RFC 7701 §8]; "" is a bare a=chatroom.
func (c *Chatroom) value() (string, error) {
	tokens := make([]string, 0, 2+len(c.Tokens))
	if c.Nickname {
		tokens = append(tokens, "nickname")
	}
	if c.PrivateMessages {
		tokens = append(tokens, "private-messages")
	}
	tokens = append(tokens, c.Tokens...)
	return joinTokens("chatroom", tokens)
}

// joinTokens joins a space-separated attribute value, refusing entries that
// would change the line structure.
func joinTokens(attr string, list []string) (string, error) {
	for _, v := range list {
		if v == "" || !isToken(v) {
			return "", fmt.Errorf("%w: %s entry %q", ErrInvalidAnswer, attr, v)
		}
	}
	return strings.Join(list, " "), nil
}

// isToken reports whether s is non-empty and free of whitespace and control
// characters, so it can stand as one SDP field.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// isLineSafe reports whether s can be an attribute value: no CR, LF or NUL.
func isLineSafe(s string) bool {
	return !strings.ContainsAny(s, "\r\n\x00")
}

// isLabel checks the RFC 4574 §4 token: 1*(%x21 / %x23-27 / %x2A-2B /
// %x2D-2E / %x30-39 / %x41-5A / %x5E-7E).
func isLabel(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0x21, c >= 0x23 && c <= 0x27, c == 0x2a, c == 0x2b,
			c == 0x2d, c == 0x2e, c >= 0x30 && c <= 0x39,
			c >= 0x41 && c <= 0x5a, c >= 0x5e && c <= 0x7e:
		default:
			return false
		}
	}
	return true
}
