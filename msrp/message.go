package msrp

import (
	"bytes"
	"strconv"
	"strings"
)

// Header is one header line other than the ones Message has fields for (RFC 4975 §9, §12: unknown headers are
// kept and ignored).
type Header struct {
	Name  string
	Value string
}

// ByteRange is the Byte-Range header value (RFC 4975 §7.1.1, §9): range-start "-" range-end "/" total.
// Positions start at 1; End and Total are -1 for '*'. The zero value (Start 0) means the header is absent.
type ByteRange struct {
	Start int64
	End   int64
	Total int64
}

// Status is the REPORT Status header (RFC 4975 §7.1.2, §9): namespace SP status-code [SP comment].
type Status struct {
	Namespace int // 000 for RFC 4975 codes
	Code      int
	Comment   string
}

// Message is one MSRP request or response frame, i.e. one chunk (RFC 4975 §7). Method is "" for a response.
type Message struct {
	TransactionID string
	Method        string // SEND, REPORT, NICKNAME, AUTH, …; "" for a response (§7.2)
	StatusCode    int    // responses
	Comment       string // responses; optional
	ToPath        []URI  // §9; first header
	FromPath      []URI  // §9; second header
	MessageID     string
	ByteRange     ByteRange // Start 0 = absent
	Status        *Status   // REPORT only (§7.1.2)
	SuccessReport string    // "" when absent (meaning "no", §7.1.1)
	FailureReport string    // "" when absent (meaning "yes", §7.1.1)
	ContentType   string    // "" = bodiless request (§7.1)
	Headers       []Header  // every other header in wire order (MIME headers, extensions, Use-Nickname, …)
	Body          []byte
	Flag          byte // continuation flag '$', '+', '#' (§7.1); 0 is written as '$'

	// sharedTo and sharedFrom say ToPath and FromPath are the parser's cached, read-only slices
	// (pathCache): Clone shares them instead of copying, and Reset lets go of them instead of
	// reusing them.
	sharedTo, sharedFrom bool
	// pathHead, when set, is ToPath and FromPath already written as header lines (a session's
	// own paths, or the paths of its last answer): serializing a head then copies it.
	pathHead []byte
}

// Continuation flags (RFC 4975 §7.1).
const (
	FlagEnd       = '$'
	FlagMore      = '+'
	FlagAbort     = '#'
	endLineDashes = "-------"
)

// IsResponse reports whether m is a transaction response.
func (m *Message) IsResponse() bool { return m.Method == "" }

// Header returns the value of the first header named name (case-insensitive), looking in Headers and in the
// fields Message has for the core headers.
func (m *Message) Header(name string) string {
	for i := range m.Headers {
		if strings.EqualFold(m.Headers[i].Name, name) {
			return m.Headers[i].Value
		}
	}
	switch {
	case strings.EqualFold(name, "Message-ID"):
		return m.MessageID
	case strings.EqualFold(name, "Content-Type"):
		return m.ContentType
	case strings.EqualFold(name, "Success-Report"):
		return m.SuccessReport
	case strings.EqualFold(name, "Failure-Report"):
		return m.FailureReport
	}
	return ""
}

// Reset clears m keeping the backing arrays of its slices.
func (m *Message) Reset() {
	to, from := m.ToPath[:0], m.FromPath[:0]
	if m.sharedTo {
		to = nil
	}
	if m.sharedFrom {
		from = nil
	}
	*m = Message{ToPath: to, FromPath: from, Headers: m.Headers[:0]}
}

// Clone returns a deep copy of m that shares no memory with it, except path slices the parser
// handed out read-only (they are never written, only replaced).
func (m *Message) Clone() *Message {
	c := *m
	if !m.sharedTo {
		c.ToPath = append([]URI(nil), m.ToPath...)
	}
	if !m.sharedFrom {
		c.FromPath = append([]URI(nil), m.FromPath...)
	}
	if m.Headers != nil {
		c.Headers = append([]Header(nil), m.Headers...)
	}
	if m.Body != nil {
		c.Body = append([]byte(nil), m.Body...)
	}
	if m.Status != nil {
		s := *m.Status
		c.Status = &s
	}
	return &c
}

// cloneOwned is Clone for a frame whose strings may alias the read buffer (a borrowed response
// head, Parser.borrow): every string is copied too.
func (m *Message) cloneOwned() *Message {
	c := m.Clone()
	c.ToPath, c.FromPath = append([]URI(nil), m.ToPath...), append([]URI(nil), m.FromPath...)
	c.sharedTo, c.sharedFrom = false, false
	c.TransactionID, c.Method, c.Comment = strings.Clone(c.TransactionID), strings.Clone(c.Method), strings.Clone(c.Comment)
	c.MessageID, c.ContentType = strings.Clone(c.MessageID), strings.Clone(c.ContentType)
	c.SuccessReport, c.FailureReport = strings.Clone(c.SuccessReport), strings.Clone(c.FailureReport)
	for _, p := range [][]URI{c.ToPath, c.FromPath} {
		for i := range p {
			p[i] = p[i].cloneOwned()
		}
	}
	for i := range c.Headers {
		c.Headers[i] = Header{Name: strings.Clone(c.Headers[i].Name), Value: strings.Clone(c.Headers[i].Value)}
	}
	if c.Status != nil {
		c.Status.Comment = strings.Clone(c.Status.Comment)
	}
	return c
}

func (m *Message) flag() byte {
	if m.Flag == 0 {
		return FlagEnd
	}
	return m.Flag
}

// AppendTo appends the wire form of m to b: start line, To-Path, From-Path, Message-ID, reports, Byte-Range,
// Status, the other headers, Content-Type last, then the body and the end-line (RFC 4975 §7.1, §9). It chooses
// no identifiers and does not check the body for the end-line (see Session.Send). A body is written only when
// ContentType is set.
func (m *Message) AppendTo(b []byte) []byte {
	b = m.appendHead(b)
	if m.ContentType != "" {
		b = append(b, m.Body...)
	}
	return m.appendEndLine(b)
}

// appendHead appends everything up to and including the blank line before the body (or the last header line
// of a bodiless frame).
func (m *Message) appendHead(b []byte) []byte { return m.appendHeadIDs(b, nil, nil, m.ByteRange) }

// appendHeadIDs is appendHead with the transaction-id and the Message-ID given as bytes (nil: m's fields) and
// the Byte-Range br, so the send path can mint identifiers straight into the frame buffer (no strings).
func (m *Message) appendHeadIDs(b, tid, mid []byte, br ByteRange) []byte {
	b = append(b, "MSRP "...)
	if tid != nil {
		b = append(b, tid...)
	} else {
		b = append(b, m.TransactionID...)
	}
	b = append(b, ' ')
	if m.Method != "" {
		b = append(b, m.Method...)
	} else {
		b = appendStatusCode(b, m.StatusCode)
		if m.Comment != "" {
			b = append(b, ' ')
			b = append(b, m.Comment...)
		}
	}
	b = append(b, "\r\n"...)
	if m.pathHead != nil {
		b = append(b, m.pathHead...)
	} else {
		b = appendPathHead(b, m.ToPath, m.FromPath)
	}
	if mid != nil {
		b = append(b, "Message-ID: "...)
		b = append(b, mid...)
		b = append(b, "\r\n"...)
	} else if m.MessageID != "" {
		b = appendHeader(b, "Message-ID", m.MessageID)
	}
	if m.SuccessReport != "" {
		b = appendHeader(b, "Success-Report", m.SuccessReport)
	}
	if m.FailureReport != "" {
		b = appendHeader(b, "Failure-Report", m.FailureReport)
	}
	if br.Start > 0 {
		b = append(b, "Byte-Range: "...)
		b = br.AppendTo(b)
		b = append(b, "\r\n"...)
	}
	if m.Status != nil {
		b = append(b, "Status: "...)
		b = m.Status.AppendTo(b)
		b = append(b, "\r\n"...)
	}
	for _, h := range m.Headers {
		b = appendHeader(b, h.Name, h.Value)
	}
	if m.ContentType != "" {
		b = appendHeader(b, "Content-Type", m.ContentType)
		b = append(b, "\r\n"...)
	}
	return b
}

// appendPathHead appends the To-Path and From-Path header lines.
func appendPathHead(b []byte, to, from []URI) []byte {
	b = append(b, "To-Path: "...)
	b = appendPathTo(b, to)
	b = append(b, "\r\nFrom-Path: "...)
	b = appendPathTo(b, from)
	return append(b, "\r\n"...)
}

// appendEndLine appends the CRLF that closes a body (when there is one) and the end-line (RFC 4975 §7.1).
func (m *Message) appendEndLine(b []byte) []byte {
	if m.ContentType != "" {
		b = append(b, "\r\n"...)
	}
	b = append(b, endLineDashes...)
	b = append(b, m.TransactionID...)
	return append(b, m.flag(), '\r', '\n')
}

// appendChunkEnd appends the CRLF closing a chunk's data and its end-line with transaction-id tid.
func appendChunkEnd(b, tid []byte, flag byte) []byte {
	b = append(b, "\r\n"...)
	b = append(b, endLineDashes...)
	b = append(b, tid...)
	return append(b, flag, '\r', '\n')
}

// Size returns len(m.AppendTo(nil)) without building it.
func (m *Message) Size() int {
	n := len("MSRP  \r\nTo-Path: \r\nFrom-Path: \r\n") + len(m.TransactionID)
	if m.Method != "" {
		n += len(m.Method)
	} else {
		n += 3
		if m.Comment != "" {
			n += 1 + len(m.Comment)
		}
	}
	n += pathSize(m.ToPath) + pathSize(m.FromPath)
	if m.MessageID != "" {
		n += len("Message-ID: \r\n") + len(m.MessageID)
	}
	if m.SuccessReport != "" {
		n += len("Success-Report: \r\n") + len(m.SuccessReport)
	}
	if m.FailureReport != "" {
		n += len("Failure-Report: \r\n") + len(m.FailureReport)
	}
	if m.ByteRange.Start > 0 {
		var a [64]byte
		n += len("Byte-Range: \r\n") + len(m.ByteRange.AppendTo(a[:0]))
	}
	if m.Status != nil {
		n += len("Status: 000 000\r\n")
		if m.Status.Comment != "" {
			n += 1 + len(m.Status.Comment)
		}
	}
	for _, h := range m.Headers {
		n += len(h.Name) + len(h.Value) + 4
	}
	if m.ContentType != "" {
		n += len("Content-Type: \r\n\r\n\r\n") + len(m.ContentType) + len(m.Body)
	}
	return n + len(endLineDashes) + len(m.TransactionID) + 3
}

func pathSize(p []URI) int {
	var a [256]byte
	n := 0
	for i, u := range p {
		if i > 0 {
			n++
		}
		n += len(u.AppendTo(a[:0]))
	}
	return n
}

func appendHeader(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

func appendStatusCode(b []byte, code int) []byte {
	if code < 0 || code > 999 {
		code = 0
	}
	return append(b, byte('0'+code/100), byte('0'+code/10%10), byte('0'+code%10))
}

// AppendTo appends "start-end/total" with '*' for -1.
func (r ByteRange) AppendTo(b []byte) []byte {
	b = strconv.AppendInt(b, r.Start, 10)
	b = append(b, '-')
	if r.End < 0 {
		b = append(b, '*')
	} else {
		b = strconv.AppendInt(b, r.End, 10)
	}
	b = append(b, '/')
	if r.Total < 0 {
		return append(b, '*')
	}
	return strconv.AppendInt(b, r.Total, 10)
}

func (r ByteRange) String() string { return string(r.AppendTo(nil)) }

// ParseByteRange parses a Byte-Range value and checks it for sanity (RFC 4975 §7.1.1, §14.5): start ≥ 1,
// end ≥ start-1, end ≤ total when both are known.
func ParseByteRange(s string) (ByteRange, error) {
	startS, rest, ok := strings.Cut(s, "-")
	if !ok {
		return ByteRange{}, errString("missing '-'")
	}
	endS, totalS, ok := strings.Cut(rest, "/")
	if !ok {
		return ByteRange{}, errString("missing '/'")
	}
	var r ByteRange
	var err error
	if r.Start, err = parseCount(startS); err != nil || r.Start < 1 {
		return ByteRange{}, errString("bad range-start")
	}
	if r.End, err = parseCountOrStar(endS); err != nil {
		return ByteRange{}, errString("bad range-end")
	}
	if r.Total, err = parseCountOrStar(totalS); err != nil {
		return ByteRange{}, errString("bad total")
	}
	if r.End >= 0 && r.End < r.Start-1 {
		return ByteRange{}, errString("range-end before range-start")
	}
	if r.Total >= 0 && (r.End > r.Total || r.Start-1 > r.Total) {
		return ByteRange{}, errString("range beyond total")
	}
	return r, nil
}

// parseCount parses 1*DIGIT with an overflow guard (values above 2^53 are nonsense for MSRP).
func parseCount(s string) (int64, error) {
	if s == "" || len(s) > 15 {
		return 0, errString("bad number")
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errString("bad number")
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

func parseCountOrStar(s string) (int64, error) {
	if s == "*" {
		return -1, nil
	}
	return parseCount(s)
}

// AppendTo appends "NNN NNN[ comment]".
func (s Status) AppendTo(b []byte) []byte {
	b = appendStatusCode(b, s.Namespace)
	b = append(b, ' ')
	b = appendStatusCode(b, s.Code)
	if s.Comment != "" {
		b = append(b, ' ')
		b = append(b, s.Comment...)
	}
	return b
}

// ParseStatus parses a Status header value (RFC 4975 §9).
func ParseStatus(v string) (Status, error) {
	if len(v) < 7 || v[3] != ' ' || !isDigits3(v[:3]) || !isDigits3(v[4:7]) {
		return Status{}, errString("want namespace SP status-code")
	}
	s := Status{Namespace: atoi3(v[:3]), Code: atoi3(v[4:7])}
	if len(v) > 7 {
		if v[7] != ' ' {
			return Status{}, errString("junk after status-code")
		}
		s.Comment = v[8:]
	}
	return s, nil
}

func isDigits3(s string) bool {
	return len(s) == 3 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'
}

func atoi3(s string) int { return int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0') }

// bodyHasEndLine reports whether body contains "-------"+tid, which could end the frame early
// (RFC 4975 §7.1: the sender MUST pick another transaction-id).
func bodyHasEndLine(body []byte, tid []byte) bool {
	for {
		i := bytes.Index(body, []byte(endLineDashes))
		if i < 0 {
			return false
		}
		rest := body[i+len(endLineDashes):]
		if bytes.HasPrefix(rest, tid) {
			return true
		}
		body = body[i+1:]
	}
}
