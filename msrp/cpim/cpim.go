package cpim

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Errors returned by Parse. The switch answers all of them with MSRP 400,
// except ErrNoFrom and ErrAddress, which concern the sender's identity
// (RFC 7701 §6.1: 403).
var (
	ErrSyntax        = errors.New("cpim: malformed message")
	ErrNoFrom        = errors.New("cpim: no From header")
	ErrAddress       = errors.New("cpim: malformed address")
	ErrNoContentType = errors.New("cpim: no Content-Type in the encapsulated MIME headers")
)

// Address is a From, To or cc value: [Formal-name] "<" URI ">"
// [RFC 3862 §4.1–§4.3]. Name is unescaped.
type Address struct {
	Name string
	URI  string
}

// Header is one header line, Name and Value as written (the single space after
// the colon removed, header parameters kept in Value).
type Header struct {
	Name  string
	Value string
}

// Message is a parsed message/cpim object.
type Message struct {
	From     Address
	To       []Address
	CC       []Address
	DateTime string // RFC 3339 timestamp, as written [RFC 3862 §4.4]
	Subject  string // the first Subject, without header parameters [RFC 3862 §4.5]

	// Headers holds every CPIM message header in order, raw, including the
	// ones above, NS and Require [RFC 3862 §3].
	Headers []Header
	// ContentType is the encapsulated MIME Content-Type, required
	// [RFC 3862 §2.4].
	ContentType string
	// ContentHeaders holds every encapsulated MIME header in order; their
	// names compare without case [RFC 3862 §2; RFC 2045].
	ContentHeaders []Header
	// Body is the content. Parse makes it alias the input.
	Body []byte
}

// Header returns the value of the first CPIM message header named name
// (case-sensitive, RFC 3862 §3.1) and whether it was present.
func (m *Message) Header(name string) (string, bool) {
	for _, h := range m.Headers {
		if h.Name == name {
			return h.Value, true
		}
	}
	return "", false
}

// ContentHeader returns the value of the first encapsulated MIME header named
// name, compared without case, and whether it was present.
func (m *Message) ContentHeader(name string) (string, bool) {
	for _, h := range m.ContentHeaders {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// Require lists the header names of every Require header, in order
// [RFC 3862 §4.7]. sipsimple writes "Required"; it is read as well.
func (m *Message) Require() []string {
	var out []string
	for _, h := range m.Headers {
		if h.Name != "Require" && h.Name != "Required" {
			continue
		}
		for name := range strings.SplitSeq(h.Value, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out = append(out, name)
			}
		}
	}
	return out
}

// Namespaces maps each NS prefix to its URI, in declaration order; the empty
// prefix is the default namespace [RFC 3862 §3.4, §4.6]. Malformed NS
// headers are skipped.
func (m *Message) Namespaces() map[string]string {
	var out map[string]string
	for _, h := range m.Headers {
		if h.Name != "NS" {
			continue
		}
		lt := strings.IndexByte(h.Value, '<')
		if lt < 0 || !strings.HasSuffix(h.Value, ">") {
			continue
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[strings.TrimSpace(h.Value[:lt])] = h.Value[lt+1 : len(h.Value)-1]
	}
	return out
}

// Parse reads a message/cpim object. It accepts LF or CRLF line ends and, since
// the RFC 4975 and RFC 7701 examples leave out the blank line, treats a Content-* line inside the CPIM header
// block as the start of the MIME headers. It fails without a From header,
// with a second From, with an address not of the form [name] <URI>, or
// without an encapsulated Content-Type. Body aliases b.
func Parse(b []byte) (*Message, error) {
	end := headerEnd(b)
	if end < 0 {
		return nil, fmt.Errorf("%w: the header block never ends", ErrSyntax)
	}
	// One conversion for all header text; names and values are substrings.
	m := &Message{Headers: make([]Header, 0, 8)}
	if err := m.parse(b, string(b[:end]), end); err != nil {
		return nil, err
	}
	return m, nil
}

// ParseInto is Parse into m, reusing m's slices, with every string aliasing b instead of a
// copy of it: for a relay that parses each message it forwards, b must never change afterwards
// (a forwarded body is shared by its copies and never written, so this holds there).
func ParseInto(m *Message, b []byte) error {
	end := headerEnd(b)
	if end < 0 {
		return fmt.Errorf("%w: the header block never ends", ErrSyntax)
	}
	*m = Message{To: m.To[:0], CC: m.CC[:0], Headers: m.Headers[:0], ContentHeaders: m.ContentHeaders[:0]}
	var head string
	if end > 0 {
		head = unsafe.String(&b[0], end)
	}
	return m.parse(b, head, end)
}

// parse fills m from b, whose header text (b[:end]) is rest.
func (m *Message) parse(b []byte, rest string, end int) error {
	m.Body = b[end:]
	fromSeen := false
	lineNo := 0

	// CPIM message headers [RFC 3862 §3].
	for {
		line, next, _ := nextLine(rest)
		lineNo++
		if line == "" {
			rest = next
			break
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !isHeaderName(line[:colon]) {
			return fmt.Errorf("%w: line %d is not a header: %q", ErrSyntax, lineNo, snippet(line))
		}
		if problem := badText(line); problem != "" {
			return fmt.Errorf("%w: line %d holds %s", ErrSyntax, lineNo, problem)
		}
		if isContentHeaderName(line[:colon]) {
			// The RFC 4975 and 7701 examples leave out the blank line
			// before the MIME headers; this line is one of them.
			break
		}
		h := Header{Name: line[:colon], Value: strings.Trim(line[colon+1:], " \t")}
		m.Headers = append(m.Headers, h)
		if err := m.applyHeader(h, &fromSeen); err != nil {
			return fmt.Errorf("line %d: %w", lineNo, err)
		}
		rest = next
	}
	if !fromSeen {
		return ErrNoFrom
	}

	// Encapsulated MIME headers, ended by a blank line or by the end of the
	// input [RFC 3862 §2].
	for rest != "" {
		line, next, _ := nextLine(rest)
		lineNo++
		rest = next
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// MIME folding [RFC 5322 §2.2.3].
			if len(m.ContentHeaders) == 0 {
				return fmt.Errorf("%w: line %d continues no header", ErrSyntax, lineNo)
			}
			if problem := badText(line); problem != "" {
				return fmt.Errorf("%w: line %d holds %s", ErrSyntax, lineNo, problem)
			}
			last := &m.ContentHeaders[len(m.ContentHeaders)-1]
			last.Value = strings.TrimSpace(last.Value + " " + strings.TrimSpace(line))
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !isHeaderName(line[:colon]) {
			return fmt.Errorf("%w: line %d is not a MIME header: %q", ErrSyntax, lineNo, snippet(line))
		}
		if problem := badText(line); problem != "" {
			return fmt.Errorf("%w: line %d holds %s", ErrSyntax, lineNo, problem)
		}
		m.ContentHeaders = append(m.ContentHeaders, Header{
			Name:  line[:colon],
			Value: strings.TrimSpace(line[colon+1:]),
		})
	}
	for _, h := range m.ContentHeaders {
		if strings.EqualFold(h.Name, "Content-Type") {
			m.ContentType = h.Value
			break
		}
	}
	if m.ContentType == "" {
		return ErrNoContentType
	}
	return nil
}

// headerEnd finds where the content starts: after the blank line that ends
// the MIME headers, or at the end of the input when they run to it. The CPIM
// header block ends at a blank line or at a Content-* line. It returns -1
// when the CPIM header block never ends.
func headerEnd(b []byte) int {
	inMIME := false
	off := 0
	for off < len(b) {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			break
		}
		line := b[off : off+i]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		off += i + 1
		switch {
		case len(line) == 0 && inMIME:
			return off
		case len(line) == 0:
			inMIME = true
		case !inMIME:
			if colon := bytes.IndexByte(line, ':'); colon > 0 && isContentHeaderName(string(line[:colon])) {
				inMIME = true
			}
		}
	}
	if inMIME {
		return len(b)
	}
	return -1
}

// applyHeader fills the typed fields from one CPIM header. Core header names
// are case-sensitive [RFC 3862 §3.1]; the core names in the default
// namespace are the only ones interpreted.
func (m *Message) applyHeader(h Header, fromSeen *bool) error {
	switch h.Name {
	case "From":
		if *fromSeen {
			// From MUST NOT appear twice [RFC 4975 §13; RFC 3862 §3].
			return fmt.Errorf("%w: a second From", ErrSyntax)
		}
		*fromSeen = true
		a, err := ParseAddress(h.Value)
		if err != nil {
			return err
		}
		m.From = a
	case "To":
		a, err := ParseAddress(h.Value)
		if err != nil {
			return err
		}
		m.To = append(m.To, a)
	case "cc":
		a, err := ParseAddress(h.Value)
		if err != nil {
			return err
		}
		m.CC = append(m.CC, a)
	case "DateTime":
		if m.DateTime == "" {
			m.DateTime = h.Value
		}
	case "Subject":
		if m.Subject == "" {
			m.Subject = unescape(stripParams(h.Value))
		}
	}
	return nil
}

// badText tells what makes a header line unfit to relay: a control character other than HTAB
// (a CR or NUL a recipient might split on or truncate at), or bytes that are not UTF-8
// [RFC 3862 §3.1: header values are UTF-8 text].
func badText(line string) string {
	// Eight bytes at a time while all of them are printable ASCII (0x20–0x7e), the usual case;
	// from the first word holding anything else, byte by byte.
	i := 0
	for ; i+8 <= len(line); i += 8 {
		x := uint64(line[i]) | uint64(line[i+1])<<8 | uint64(line[i+2])<<16 | uint64(line[i+3])<<24 |
			uint64(line[i+4])<<32 | uint64(line[i+5])<<40 | uint64(line[i+6])<<48 | uint64(line[i+7])<<56
		below := (x - 0x2020202020202020) &^ x & 0x8080808080808080  // some byte < 0x20
		above := ((x + 0x0101010101010101) | x) & 0x8080808080808080 // some byte >= 0x7f
		if below|above != 0 {
			break
		}
	}
	ascii := true
	for ; i < len(line); i++ {
		c := line[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return "a control character"
		}
		ascii = ascii && c < 0x80
	}
	if !ascii && !utf8.ValidString(line) {
		return "invalid UTF-8"
	}
	return ""
}

// nextLine splits off one line ended by LF or CRLF; the last line may lack
// its end. ok is false when s holds no line end.
func nextLine(s string) (line, rest string, ok bool) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return strings.TrimSuffix(s, "\r"), "", false
	}
	line = s[:i]
	if line != "" && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, s[i+1:], true
}

// stripParams removes leading header parameters (";lang=fr ") from a value
// [RFC 3862 §3.2].
func stripParams(v string) string {
	if !strings.HasPrefix(v, ";") {
		return v
	}
	if sp := strings.IndexByte(v, ' '); sp >= 0 {
		return strings.TrimLeft(v[sp:], " ")
	}
	return ""
}

// isHeaderName accepts a CPIM header name, optionally prefixed with a
// namespace ("MyFeatures.WackyMessageOption") [RFC 3862 §3.1]: visible ASCII
// other than the separators that would make the line ambiguous.
func isHeaderName(b string) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c <= ' ' || c >= 0x7f || c == ':' || c == '"' || c == '<' || c == '>' {
			return false
		}
	}
	return len(b) > 0
}

// isContentHeaderName reports whether a name is a MIME Content-* header.
func isContentHeaderName(b string) bool {
	const prefix = "content-"
	return len(b) > len(prefix) && strings.EqualFold(b[:len(prefix)], prefix)
}

func snippet(b string) string {
	const max = 40
	if len(b) > max {
		return b[:max]
	}
	return b
}
