package sdp

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"
)

// Every m-line reaches pion as "m=message <port> TCP/MSRP *": pion only
// knows a fixed list of media types and protos, so the real ones are kept
// aside and restored after parsing.
const (
	placeholderMedia = "message"
	placeholderProto = "TCP/MSRP"
)

// mediaLine is the part of an m-line pion is not trusted with.
type mediaLine struct {
	typ     string
	proto   string
	formats []string
}

// Parse reads an SDP offer or answer. It is tolerant of what real clients
// send: LF or CRLF line ends, a missing final newline, blank lines, trailing
// whitespace, a missing t= line, and m-lines with media types or protos
// pion/sdp does not know (TCP/WSS/MSRP, m=image udptl t38), which are kept as
// opaque Media entries. Text that is not SDP, or an MSRP attribute with an
// unreadable value, gives an error wrapping ErrSyntax. Parse never panics.
func Parse(b []byte) (*Session, error) {
	text, lines, err := normalize(b)
	if err != nil {
		return nil, err
	}
	var desc psdp.SessionDescription
	if err := desc.UnmarshalString(text); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	if len(desc.MediaDescriptions) != len(lines) {
		// Cannot happen with a successful parse of normalised text; guard
		// anyway so that a mismatch never indexes out of range.
		return nil, fmt.Errorf("%w: %d m-lines parsed, %d seen", ErrSyntax, len(desc.MediaDescriptions), len(lines))
	}
	return fromPion(&desc, lines)
}

// normalize rewrites b into text pion/sdp accepts: CRLF line ends ending in
// CRLF, no blank lines, a t= line, and a placeholder type and proto on every
// m-line. The real m-line fields are returned in order.
func normalize(b []byte) (string, []mediaLine, error) {
	var out strings.Builder
	out.Grow(len(b) + 32)
	var lines []mediaLine
	sawTiming, inMedia := !needsTiming(b), false
	lineNo := 0
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		lineNo++
		line = bytes.TrimRight(line, " \t\r")
		if len(line) == 0 {
			continue
		}
		if len(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z' {
			return "", nil, fmt.Errorf("%w: line %d is not type=value: %q", ErrSyntax, lineNo, snippet(line))
		}
		if bytes.IndexByte(line, 0) >= 0 || bytes.IndexByte(line, '\r') >= 0 {
			return "", nil, fmt.Errorf("%w: line %d holds a control character", ErrSyntax, lineNo)
		}
		switch line[0] {
		case 'z', 'k', 'a', 'm':
			// t= is required [RFC 4566 §5.9] but some clients leave it
			// out; supply "t=0 0" where it belongs, before these.
			if !inMedia && !sawTiming {
				out.WriteString("t=0 0\r\n")
				sawTiming = true
			}
		}
		if line[0] != 'm' {
			out.Write(line)
			out.WriteString("\r\n")
			continue
		}
		inMedia = true
		fields := strings.Fields(string(line[2:]))
		if len(fields) < 3 {
			return "", nil, fmt.Errorf("%w: line %d: m-line needs media, port and proto: %q", ErrSyntax, lineNo, snippet(line))
		}
		lines = append(lines, mediaLine{typ: fields[0], proto: fields[2], formats: fields[3:]})
		out.WriteString("m=" + placeholderMedia + " ")
		out.WriteString(fields[1])
		out.WriteString(" " + placeholderProto + " *\r\n")
	}
	if !sawTiming {
		out.WriteString("t=0 0\r\n")
	}
	return out.String(), lines, nil
}

// needsTiming reports whether the session section (everything before the
// first m-line) lacks a t= line.
func needsTiming(b []byte) bool {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if bytes.HasPrefix(line, []byte("t=")) {
			return false
		}
		if bytes.HasPrefix(line, []byte("m=")) {
			return true
		}
	}
	return true
}

// snippet bounds what an error quotes from the input.
func snippet(b []byte) []byte {
	const max = 40
	if len(b) > max {
		return b[:max]
	}
	return b
}

func fromPion(desc *psdp.SessionDescription, lines []mediaLine) (*Session, error) {
	s := &Session{
		Origin: Origin{
			Username:       desc.Origin.Username,
			SessionID:      desc.Origin.SessionID,
			SessionVersion: desc.Origin.SessionVersion,
			AddressType:    desc.Origin.AddressType,
			Address:        desc.Origin.UnicastAddress,
		},
		Name:       string(desc.SessionName),
		Connection: connectionAddress(desc.ConnectionInformation),
		Attributes: convertAttributes(desc.Attributes),
		Media:      make([]Media, len(desc.MediaDescriptions)),
	}
	var sessionSetup, sessionDirection, sessionFingerprint string
	for _, a := range s.Attributes {
		switch a.Key {
		case "setup":
			sessionSetup = setupValue(a.Value)
		case "sendrecv", "sendonly", "recvonly", "inactive":
			sessionDirection = a.Key
		case "fingerprint":
			sessionFingerprint = strings.TrimSpace(a.Value)
		}
	}
	for i, md := range desc.MediaDescriptions {
		m := &s.Media[i]
		m.Type = lines[i].typ
		m.Proto = lines[i].proto
		m.Formats = lines[i].formats
		m.Port = md.MediaName.Port.Value
		m.Connection = connectionAddress(md.ConnectionInformation)
		m.Attributes = convertAttributes(md.Attributes)
		if err := m.interpretAttributes(); err != nil {
			return nil, fmt.Errorf("%w: m-line %d: %v", ErrSyntax, i+1, err)
		}
		if m.Setup == "" {
			m.Setup = sessionSetup
		}
		if m.Direction == "" {
			m.Direction = sessionDirection
		}
		if m.Fingerprint == "" {
			m.Fingerprint = sessionFingerprint
		}
	}
	return s, nil
}

func connectionAddress(ci *psdp.ConnectionInformation) string {
	if ci == nil || ci.Address == nil {
		return ""
	}
	return ci.Address.Address
}

func convertAttributes(in []psdp.Attribute) []Attribute {
	if len(in) == 0 {
		return nil
	}
	out := make([]Attribute, len(in))
	for i, a := range in {
		out[i] = Attribute{Key: a.Key, Value: a.Value}
	}
	return out
}

// setupValue lower-cases a=setup; the RFC 4145 §4 values are lower case but
// the comparison costs nothing to make tolerant.
func setupValue(v string) string {
	return strings.ToLower(strings.TrimSpace(v))
}

// interpretAttributes fills the typed fields from m.Attributes. The first
// occurrence of a single-valued attribute wins; list attributes accumulate.
func (m *Media) interpretAttributes() error {
	for _, a := range m.Attributes {
		switch a.Key {
		case "path":
			m.Path = append(m.Path, strings.Fields(a.Value)...)
		case "accept-types":
			m.AcceptTypes = append(m.AcceptTypes, strings.Fields(a.Value)...)
		case "accept-wrapped-types":
			m.AcceptWrappedTypes = append(m.AcceptWrappedTypes, strings.Fields(a.Value)...)
		case "max-size":
			if m.MaxSize != 0 {
				continue
			}
			// max-size = 1*DIGIT [RFC 4975 §8.6]
			v := strings.TrimSpace(a.Value)
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || v[0] == '+' {
				return fmt.Errorf("a=max-size %q is not a number of octets", a.Value)
			}
			m.MaxSize = n
		case "label":
			if m.Label == "" {
				m.Label = strings.TrimSpace(a.Value)
				// label-attribute = "a=label:" pointer, a token [RFC 4574 §5]: the answer echoes it.
				if m.Label != "" && !isLabel(m.Label) {
					return fmt.Errorf("a=label %q is not an RFC 4574 token", a.Value)
				}
			}
		case "setup":
			if m.Setup == "" {
				m.Setup = setupValue(a.Value)
			}
		case "chatroom":
			if m.Chatroom == nil {
				m.Chatroom = parseChatroom(a.Value)
			}
		case "sendrecv", "sendonly", "recvonly", "inactive":
			if m.Direction == "" {
				m.Direction = a.Key
			}
		case "file-selector":
			if m.FileSelector == "" {
				m.FileSelector = strings.TrimSpace(a.Value)
			}
		case "file-transfer-id":
			if m.FileTransferID == "" {
				m.FileTransferID = strings.TrimSpace(a.Value)
			}
		case "fingerprint":
			if m.Fingerprint == "" {
				m.Fingerprint = strings.TrimSpace(a.Value)
			}
		}
	}
	return nil
}

// parseChatroom reads the RFC 7701 §8 token list. "nicknames" is accepted as
// well as "nickname": the RFC's prose and ABNF disagree.
func parseChatroom(v string) *Chatroom {
	c := &Chatroom{}
	for _, tok := range strings.Fields(v) {
		switch strings.ToLower(tok) {
		case "nickname", "nicknames":
			c.Nickname = true
		case "private-messages":
			c.PrivateMessages = true
		default:
			c.Tokens = append(c.Tokens, tok)
		}
	}
	return c
}
