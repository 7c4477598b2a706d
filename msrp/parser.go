package msrp

import (
	"bytes"
	"strings"
	"unsafe"
)

// Parser states. MSRP has no length prefix (RFC 4975 §7.1), so the parser works line by line through the start
// line and headers, then scans the body for the end-line:
//
//	stateStartLine  "MSRP" SP transact-id SP (method / status-code [SP comment]) CRLF
//	stateHeaders    *(header CRLF), ending in either
//	                  end-line                      → bodiless frame complete
//	                  CRLF (blank line)             → stateBody
//	stateBody       data, ending in CRLF "-------" transact-id flag CRLF
//	stateDiscard    as stateBody, but the body is over the chunk limit: bytes are dropped, the frame is
//	                reported with a 413 FrameError once the end-line arrives
//	stateFailed     a ProtocolError was returned; the stream cannot be resynchronised
type parserState uint8

const (
	stateStartLine parserState = iota
	stateHeaders
	stateBody
	stateDiscard
	stateFailed
)

var stateNames = [...]string{"start-line", "headers", "body", "discard", "failed"}

func (s parserState) String() string { return stateNames[s] }

// Default parser limits.
const (
	DefaultMaxHeaderBytes = 16 << 10 // start line + headers
	DefaultMaxMessageSize = 1 << 20  // whole message, and therefore any chunk
	maxTransactionIDLen   = 32       // ident = ALPHANUM 3*31ident-char (§9)
	shrinkBufferAbove     = 64 << 10 // carry-over buffers larger than this are released when empty
)

// FrameFunc receives each frame. err is nil or a *FrameError (the frame was delimited but is not acceptable:
// answer err's code). A non-nil return stops Parse, which returns it.
//
// Aliasing: m and its slices (ToPath, FromPath, Headers, Body) are reused by the Parser and Body aliases the
// caller's read buffer; they are valid only until fn returns. Strings are immutable copies and may be kept.
// Use m.Clone() to keep the whole frame.
type FrameFunc func(m *Message, err error) error

// Parser is a streaming MSRP frame parser. Feed it bytes as they are read; it calls back once per complete
// frame. Only a frame that straddles two reads is copied (into the Parser's own buffer, sized from Byte-Range
// when known); a whole frame inside one read is parsed in place with one allocation (the header string).
// A Parser is not safe for concurrent use.
type Parser struct {
	maxHeader int
	maxBody   int64

	state     parserState
	buf       []byte // carried-over unconsumed bytes
	scan      int    // resume scanning here (relative to the unconsumed start)
	lineStart int    // start of the header line being read
	tidStart  int    // transaction-id position inside the start line
	tidEnd    int
	endPat    []byte // CRLF "-------" tid, reused
	msg       Message
	frameErr  *FrameError
	dropped   int64 // body bytes dropped in stateDiscard
	offset    int64 // stream offset of the unconsumed start
	err       error // sticky ProtocolError
	paths     pathCache
	// borrow lets a response's head alias the input instead of being copied: responses have no
	// body and are delivered at once, and the connection's handler keeps none of their strings.
	// Only the connection sets it; a Parser from NewParser copies every head.
	borrow bool
}

// pathCache remembers the last To-Path and From-Path values and their parsed URIs: on one
// connection they repeat frame after frame, and parsing URIs is the costliest part of a head.
// A cached slice is never written again (a new value gets a new slice), so frames share it.
type pathCache struct {
	to, from         string
	toURIs, fromURIs []URI
}

// parse returns the URIs of value: the cached read-only slice when value is the last one seen
// (shared true), else dst with them appended.
func (c *pathCache) parse(dst []URI, value string, last *string, uris *[]URI) (_ []URI, shared bool, _ error) {
	if value == *last && value != "" {
		return *uris, true, nil
	}
	if len(value) > 1024 {
		dst, err := appendPath(dst, value)
		return dst, false, err
	}
	value = strings.Clone(value) // the head may alias the input (Parser.borrow)
	fresh, err := appendPath(nil, value)
	if err != nil {
		dst, err = appendPath(dst, value)
		return dst, false, err
	}
	fresh = fresh[:len(fresh):len(fresh)] // an append by a holder copies
	*last, *uris = value, fresh
	return fresh, true, nil
}

// NewParser returns a Parser that allows maxHeaderBytes of start line plus headers (a longer header block is a
// ProtocolError) and maxBodyBytes per chunk body (a longer body is reported as a 413 FrameError).
// Zero selects the defaults.
func NewParser(maxHeaderBytes int, maxBodyBytes int64) *Parser {
	if maxHeaderBytes <= 0 {
		maxHeaderBytes = DefaultMaxHeaderBytes
	}
	if maxBodyBytes <= 0 {
		maxBodyBytes = DefaultMaxMessageSize
	}
	return &Parser{maxHeader: maxHeaderBytes, maxBody: maxBodyBytes}
}

// newBorrowingParser is the connection's parser: response heads alias the read buffer.
func newBorrowingParser(maxHeaderBytes int, maxBodyBytes int64) *Parser {
	p := NewParser(maxHeaderBytes, maxBodyBytes)
	p.borrow = true
	return p
}

// forget lets go of the last frame's strings when no frame is open, so that an idle connection
// keeps nothing of what it last read; the connection calls it once per read, not per frame.
func (p *Parser) forget() {
	if p.state == stateStartLine && len(p.buf) == 0 {
		p.msg.Reset()
	}
}

// Buffered returns the number of bytes held for an incomplete frame.
func (p *Parser) Buffered() int { return len(p.buf) }

// InFrame reports whether a frame has started but not ended (used to tell a clean EOF from a truncated frame).
func (p *Parser) InFrame() bool { return len(p.buf) > 0 || p.state != stateStartLine || p.dropped > 0 }

// InHead reports whether a frame's start line or headers have begun and not ended.
func (p *Parser) InHead() bool {
	return p.state == stateHeaders || p.state == stateStartLine && len(p.buf) > 0
}

// Parse consumes data, calling fn for every complete frame. It returns a *ProtocolError when the stream is
// broken (the caller must close the connection), or the error fn returned.
func (p *Parser) Parse(data []byte, fn FrameFunc) error {
	if p.err != nil {
		return p.err
	}
	work := data
	fromBuf := len(p.buf) > 0
	if fromBuf {
		p.buf = append(p.buf, data...)
		work = p.buf
	}
	off := 0
	for off < len(work) {
		n, done, err := p.step(work[off:], fn)
		off += n
		p.offset += int64(n)
		if err != nil {
			if _, fatal := err.(*ProtocolError); fatal {
				p.state, p.err, p.buf = stateFailed, err, nil
				return err
			}
			p.carry(work, off, fromBuf)
			return err
		}
		if !done {
			break
		}
	}
	p.carry(work, off, fromBuf)
	return nil
}

// carry keeps work[off:] for the next call.
func (p *Parser) carry(work []byte, off int, fromBuf bool) {
	rest := work[off:]
	switch {
	case len(rest) == 0:
		if cap(p.buf) > shrinkBufferAbove {
			p.buf = nil
		} else {
			p.buf = p.buf[:0]
		}
	case fromBuf:
		p.buf = p.buf[:copy(p.buf, rest)]
	default:
		need := len(rest)
		if want := p.expectedFrameBytes(); want > need {
			need = want
		}
		if cap(p.buf) < need {
			p.buf = make([]byte, 0, need)
		}
		p.buf = append(p.buf[:0], rest...)
	}
}

// expectedFrameBytes sizes the carry-over buffer from a sane Byte-Range so a large chunk is copied once.
func (p *Parser) expectedFrameBytes() int {
	if p.state != stateBody {
		return 0
	}
	br := p.msg.ByteRange
	if br.Start < 1 || br.End < br.Start {
		return 0
	}
	n := br.End - br.Start + 1
	if n > p.maxBody {
		return 0
	}
	return int(n) + len(p.endPat) + 3
}

// step advances over work (the unconsumed bytes). It returns how many bytes were consumed and whether a
// frame was completed (or progress made so that the loop should continue).
func (p *Parser) step(work []byte, fn FrameFunc) (consumed int, progressed bool, err error) {
	switch p.state {
	case stateStartLine, stateHeaders:
		return p.stepHead(work, fn)
	case stateBody, stateDiscard:
		return p.stepBody(work, fn)
	}
	return 0, false, p.err
}

func (p *Parser) stepHead(work []byte, fn FrameFunc) (int, bool, error) {
	for {
		i := bytes.Index(work[p.scan:], crlf)
		if i < 0 {
			if len(work) > p.maxHeader {
				return 0, false, p.protocolError(work, p.lineStart, "header block exceeds limit")
			}
			// Resume one byte back in case this read ended between CR and LF.
			p.scan = max(p.lineStart, len(work)-1)
			return 0, false, nil
		}
		lineStart := p.lineStart
		lineEnd := p.scan + i
		if lineEnd > p.maxHeader {
			return 0, false, p.protocolError(work, lineStart, "header block exceeds limit")
		}
		p.scan = lineEnd + 2
		p.lineStart = p.scan
		line := work[lineStart:lineEnd]
		if p.state == stateStartLine {
			if err := p.checkStartLine(work, line); err != nil {
				return 0, false, err
			}
			p.state = stateHeaders
			continue
		}
		if len(line) == 0 {
			// Blank line: the body follows (§7.1).
			return p.finishHead(work, lineStart-2, p.scan, true, 0, fn)
		}
		if bytes.HasPrefix(line, dashes) {
			tid := work[p.tidStart:p.tidEnd]
			if rest := line[len(dashes):]; bytes.HasPrefix(rest, tid) {
				if len(rest) != len(tid)+1 || !isFlag(rest[len(tid)]) {
					return 0, false, p.protocolError(work, lineStart, "malformed end-line")
				}
				return p.finishHead(work, lineStart-2, p.scan, false, rest[len(tid)], fn)
			}
		}
	}
}

var (
	crlf   = []byte("\r\n")
	dashes = []byte(endLineDashes)
)

func isFlag(c byte) bool { return c == FlagEnd || c == FlagMore || c == FlagAbort }

func (p *Parser) checkStartLine(work, line []byte) error {
	if !bytes.HasPrefix(line, []byte("MSRP ")) {
		return p.protocolError(work, 0, "start line does not begin with MSRP")
	}
	rest := line[5:]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 1 || sp > maxTransactionIDLen || !isIdent(rest[:sp]) {
		return p.protocolError(work, 0, "bad transaction-id")
	}
	p.tidStart, p.tidEnd = 5, 5+sp
	rest = rest[sp+1:]
	if len(rest) == 0 {
		return p.protocolError(work, 0, "missing method or status")
	}
	if rest[0] >= '0' && rest[0] <= '9' {
		if len(rest) < 3 || !isDigits3(string(rest[:3])) || (len(rest) > 3 && rest[3] != ' ') {
			return p.protocolError(work, 0, "bad status-code")
		}
		for _, c := range rest[3:] {
			if c < ' ' && c != '\t' || c == 0x7f {
				return p.protocolError(work, 0, "control character in comment")
			}
		}
		return nil
	}
	for _, c := range rest {
		if c < 'A' || c > 'Z' {
			return p.protocolError(work, 0, "bad method")
		}
	}
	return nil
}

// isIdent: ident-char = ALPHANUM / "." / "-" / "+" / "%" / "=" (§9), first character ALPHANUM.
func isIdent(b []byte) bool {
	if len(b) == 0 || !isAlnumByte(b[0]) {
		return false
	}
	for _, c := range b[1:] {
		if byteClass[c]&classIdent == 0 {
			return false
		}
	}
	return true
}

// Byte classes of the MSRP grammar (RFC 4975 §9), looked up once per byte on every frame head.
const (
	classIdent = 1 << iota // ident-char: ALPHANUM / "." / "-" / "+" / "%" / "="
	classToken             // token: ALPHANUM / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
	classValue             // a header value byte: anything but a control character other than HTAB
)

var byteClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		if isAlnumByte(b) || strings.IndexByte(".-+%=", b) >= 0 {
			t[c] |= classIdent
		}
		if isAlnumByte(b) || strings.IndexByte("-.!%*_+`'~", b) >= 0 {
			t[c] |= classToken
		}
		if !(b < ' ' && b != '\t' || b == 0x7f) {
			t[c] |= classValue
		}
	}
	return t
}()

// finishHead parses the header block work[:headEnd] into p.msg (one string allocation) and either completes a
// bodiless frame or enters stateBody. next is where the body (or the next frame) starts.
func (p *Parser) finishHead(work []byte, headEnd, next int, hasBody bool, flag byte, fn FrameFunc) (int, bool, error) {
	var head string
	if p.borrow && !hasBody && work[p.tidEnd+1] >= '0' && work[p.tidEnd+1] <= '9' {
		head = unsafe.String(&work[0], headEnd) // a response, handled before work is reused
	} else {
		head = string(work[:headEnd])
	}
	p.msg.Reset()
	p.frameErr = parseHead(&p.msg, head, &p.paths)
	tid := p.msg.TransactionID
	p.endPat = append(append(append(p.endPat[:0], '\r', '\n'), endLineDashes...), tid...)
	p.scan = 0
	p.lineStart = 0
	if !hasBody {
		p.msg.Flag = flag
		err := p.deliver(fn)
		p.resetFrame()
		return next, true, err
	}
	if p.frameErr == nil && p.msg.ContentType == "" {
		p.frameErr = &FrameError{Code: StatusBadRequest, Header: "Content-Type", Reason: "body without Content-Type"}
	}
	p.state = stateBody
	return next, true, nil
}

func (p *Parser) deliver(fn FrameFunc) error {
	if p.frameErr != nil {
		return fn(&p.msg, p.frameErr)
	}
	return fn(&p.msg, nil)
}

func (p *Parser) resetFrame() {
	p.state = stateStartLine
	p.scan = 0
	p.lineStart = 0
	p.frameErr = nil
	p.dropped = 0
}

// stepBody scans work (body bytes onward) for CRLF "-------" tid flag CRLF (RFC 4975 §7.1).
func (p *Parser) stepBody(work []byte, fn FrameFunc) (int, bool, error) {
	pat := p.endPat
	for {
		i := bytes.Index(work[p.scan:], pat)
		if i < 0 {
			break
		}
		at := p.scan + i
		tail := at + len(pat)
		if len(work) < tail+3 {
			p.scan = at
			return p.needMore(work)
		}
		if isFlag(work[tail]) && work[tail+1] == '\r' && work[tail+2] == '\n' {
			p.msg.Flag = work[tail]
			if p.state == stateBody && int64(at) > p.maxBody && p.frameErr == nil {
				p.frameErr = &FrameError{Code: StatusTooLarge, Reason: "chunk exceeds the message size limit"}
			}
			if p.state == stateDiscard || p.frameErr != nil && p.frameErr.Code == StatusTooLarge {
				p.msg.Body = nil
			} else {
				p.msg.Body = work[:at:at]
			}
			err := p.deliver(fn)
			p.msg.Body = nil
			p.resetFrame()
			return tail + 3, true, err
		}
		// "-------tid" followed by something other than a flag and CRLF is body data (§7.1).
		p.scan = at + 1
	}
	// Resume where a partial end-line could still begin.
	if s := len(work) - len(pat) - 2; s > p.scan {
		p.scan = s
	}
	return p.needMore(work)
}

// needMore enforces the chunk limit while waiting for the end-line; over the limit, the body is dropped
// (keeping only what may hold a partial end-line) and the frame will get a 413.
func (p *Parser) needMore(work []byte) (int, bool, error) {
	if p.state == stateBody && int64(p.scan) <= p.maxBody {
		return 0, false, nil
	}
	if p.state == stateBody {
		p.state = stateDiscard
		if p.frameErr == nil {
			p.frameErr = &FrameError{Code: StatusTooLarge, Reason: "chunk exceeds the message size limit"}
		}
	}
	drop := p.scan
	p.dropped += int64(drop)
	p.scan = 0
	return drop, false, nil
}

func (p *Parser) protocolError(work []byte, at int, reason string) error {
	end := at + 40
	if end > len(work) {
		end = len(work)
	}
	if at > end {
		at = end
	}
	return &ProtocolError{State: p.state.String(), Offset: p.offset + int64(at), Snippet: string(work[at:end]), Reason: reason}
}

// parseHead fills m from a complete header block (start line + header lines, no trailing CRLF). Every string
// field is a substring of head.
func parseHead(m *Message, head string, paths *pathCache) *FrameError {
	line, rest, _ := strings.Cut(head, "\r\n")
	// The start line was validated byte by byte already.
	line = line[5:]
	tid, what, _ := strings.Cut(line, " ")
	m.TransactionID = tid
	if what[0] >= '0' && what[0] <= '9' {
		m.StatusCode = atoi3(what)
		if len(what) > 4 {
			m.Comment = what[4:]
		}
	} else {
		m.Method = what
	}
	var ferr *FrameError
	fail := func(name, reason string) {
		if ferr == nil {
			ferr = &FrameError{Code: StatusBadRequest, Header: name, Reason: reason}
		}
	}
	haveTo, haveFrom := false, false
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\r\n")
		colon := strings.IndexByte(line, ':')
		if colon < 1 || !isToken(line[:colon]) {
			fail("", "malformed header line")
			continue
		}
		name := line[:colon]
		value := strings.TrimLeft(line[colon+1:], " \t")
		if !isHeaderValue(value) {
			fail(name, "control character in value")
			continue
		}
		var err error
		switch knownHeader(name) {
		case "To-Path":
			dst := m.ToPath[:0]
			if m.sharedTo { // a repeated To-Path must not write into the cached slice
				dst = nil
			}
			m.ToPath, m.sharedTo, err = paths.parse(dst, value, &paths.to, &paths.toURIs)
			haveTo = true
		case "From-Path":
			dst := m.FromPath[:0]
			if m.sharedFrom {
				dst = nil
			}
			m.FromPath, m.sharedFrom, err = paths.parse(dst, value, &paths.from, &paths.fromURIs)
			haveFrom = true
		case "Message-ID":
			if value == "" {
				err = errString("empty")
			}
			m.MessageID = value
		case "Byte-Range":
			var br ByteRange
			br, err = ParseByteRange(value)
			if err == nil && m.ByteRange.Start != 0 && br != m.ByteRange {
				err = errString("repeated with another range") // which one would the body follow?
			}
			m.ByteRange = br
		case "Status":
			var st Status
			st, err = ParseStatus(value)
			if err == nil {
				m.Status = &st
			}
		case "Success-Report":
			if value != "yes" && value != "no" {
				err = errString("want yes or no")
			}
			m.SuccessReport = value
		case "Failure-Report":
			if value != "yes" && value != "no" && value != "partial" {
				err = errString("want yes, no or partial")
			}
			m.FailureReport = value
		case "Content-Type":
			if value == "" {
				err = errString("empty")
			}
			m.ContentType = value
		default:
			m.Headers = append(m.Headers, Header{Name: name, Value: value})
		}
		if err != nil {
			fail(name, err.Error())
		}
	}
	if !haveTo || !haveFrom {
		fail("", "To-Path and From-Path are mandatory")
	}
	return ferr
}

// isToken: header names are tokens (RFC 4975 §9 hname).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if byteClass[s[i]]&classToken == 0 {
			return false
		}
	}
	return true
}

func isHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if byteClass[s[i]]&classValue == 0 {
			return false
		}
	}
	return true
}

// knownHeader returns the canonical spelling of a header Message has a field for, or name: the
// spelling RFC 4975 uses comes first, and only another case is compared without case (§9:
// header names are case-insensitive).
func knownHeader(name string) string {
	switch name {
	case "To-Path", "From-Path", "Message-ID", "Byte-Range", "Status", "Success-Report", "Failure-Report", "Content-Type":
		return name
	}
	for _, k := range [...]string{"To-Path", "From-Path", "Message-ID", "Byte-Range", "Status", "Success-Report", "Failure-Report", "Content-Type"} {
		if strings.EqualFold(name, k) {
			return k
		}
	}
	return name
}
