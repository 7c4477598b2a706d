package msrp

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// MSRP over WebSocket (RFC 7977). A browser cannot accept connections, so it always connects (a=setup
// passive on our side) to the focus's HTTP listener, `GET /msrp` with `Sec-WebSocket-Protocol: msrp`
// (§4.1), and its own URI has a `.invalid` host and the `ws` transport (§5.2.1): nothing is ever dialled
// to it; everything for it goes back over the WebSocket connection its session was bound on. A
// WebSocket connection is otherwise an ordinary MSRP connection of the Endpoint: same parser, limits,
// chunking, reports and counters.
//
// Framing (§5.1): every MSRP chunk we send is one WebSocket message (binary, since a chunk may carry any
// bytes; text messages must be UTF-8). A chunk written in several flushes goes out as one fragmented
// message. Received text and binary messages are both read as MSRP bytes, so a chunk split over several
// messages, or several chunks in one, are read as well.

// WebSocketProtocol is the WebSocket subprotocol of MSRP (RFC 7977 §4.1).
const WebSocketProtocol = "msrp"

// ErrWebSocketMessageTooLarge: a peer sent a WebSocket message larger than a chunk may be; the
// connection is closed with status 1009.
var ErrWebSocketMessageTooLarge = errors.New("msrp: websocket message too large")

// NewWSSession is NewSession for a client reaching us over WebSocket (RFC 7977 §5.2.1): its URI has the
// `ws` transport and the advertised WebSocket port (AdvertisedWSSPort and the msrps scheme when secure,
// the page having been loaded over https). The client connects: the session is bound by its first request.
func (e *Endpoint) NewWSSession(h SessionHandler, secure bool) *Session {
	s := e.newSession(h, secure)
	s.mu.Lock()
	s.local.Transport, s.local.Port = "ws", e.cfg().AdvertisedWSPort
	if secure {
		s.local.Port = e.cfg().AdvertisedWSSPort
	}
	s.localPath = []URI{s.local}
	s.mu.Unlock()
	return s
}

// WebSocketHandler answers `GET /msrp` upgrades (RFC 7977 §4.1): a request that does not offer the
// `msrp` subprotocol gets 400; an accepted connection is served like an accepted TCP connection (over
// the HTTP listener's TLS when there is one: msrps sessions may bind on it). Origin policy is the
// caller's (wrap the handler).
func (e *Endpoint) WebSocketHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !offersProtocol(r.Header, WebSocketProtocol) {
			http.Error(w, "WebSocket upgrade must offer Sec-WebSocket-Protocol: msrp (RFC 7977)", http.StatusBadRequest)
			return
		}
		if e.isClosed() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		u := ws.HTTPUpgrader{
			Timeout:  e.cfg().WriteDeadline,
			Protocol: func(p string) bool { return p == WebSocketProtocol },
		}
		nc, rw, _, err := u.Upgrade(r, w)
		if err != nil {
			if nc != nil {
				nc.Close()
			}
			e.log.Info("msrp: websocket handshake failed", "remote", r.RemoteAddr, "err", err)
			return
		}
		t := newWSTransport(nc, rw.Reader, e.wsMaxMessage())
		t.tooLarge = func() {
			e.stats.wsTooLarge.Add(1)
			e.log.Info("msrp: websocket message too large, closing connection (1009)", "remote", nc.RemoteAddr().String(),
				"max_message_size", e.cfg().MaxMessageSize)
		}
		e.acceptTransport(t, nc)
	})
}

// wsMaxMessage bounds one received WebSocket message: the largest chunk (headers and body) and its
// framing.
func (e *Endpoint) wsMaxMessage() int64 {
	return e.cfg().MaxMessageSize + int64(e.cfg().MaxHeaderBytes) + 1024
}

// offersProtocol reports whether the Sec-WebSocket-Protocol headers list p.
func offersProtocol(h http.Header, p string) bool {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for _, t := range strings.Split(v, ",") {
			if strings.TrimSpace(t) == p {
				return true
			}
		}
	}
	return false
}

// wsTransport is the Transport of one server-side WebSocket connection.
type wsTransport struct {
	nc  net.Conn
	tls *tls.Conn // non-nil when the HTTP listener is TLS
	rd  *wsutil.Reader
	max int64

	tooLarge func() // counts and logs a 1009 close

	inMsg  bool  // reading a data message (read goroutine)
	msgLen int64 // bytes of it so far

	wmu    sync.Mutex // one frame at a time (data from the writer, control frames from the reader)
	out    chunkScanner
	hdrs   []byte
	vec    net.Buffers
	closed bool
}

func newWSTransport(nc net.Conn, br *bufio.Reader, max int64) *wsTransport {
	t := &wsTransport{nc: nc, max: max}
	t.tls, _ = nc.(*tls.Conn)
	var src io.Reader = nc
	if br != nil && br.Buffered() > 0 {
		src = io.MultiReader(io.LimitReader(br, int64(br.Buffered())), nc)
	}
	t.rd = &wsutil.Reader{Source: src, State: ws.StateServerSide, MaxFrameSize: max}
	t.rd.OnIntermediate = t.control
	return t
}

func (t *wsTransport) tlsConn() *tls.Conn { return t.tls }

func (t *wsTransport) RemoteAddr() net.Addr               { return t.nc.RemoteAddr() }
func (t *wsTransport) SetWriteDeadline(d time.Time) error { return t.nc.SetWriteDeadline(d) }

// Read returns the payload of data messages as one byte stream; control frames are answered here.
func (t *wsTransport) Read(p []byte) (int, error) {
	for {
		if !t.inMsg {
			hdr, err := t.rd.NextFrame()
			if err != nil {
				if errors.Is(err, wsutil.ErrFrameTooLarge) {
					t.closeTooLarge()
					return 0, ErrWebSocketMessageTooLarge
				}
				return 0, err
			}
			if hdr.OpCode.IsControl() {
				if err := t.control(hdr, t.rd); err != nil {
					return 0, err
				}
				continue
			}
			if hdr.OpCode != ws.OpText && hdr.OpCode != ws.OpBinary {
				t.closeWith(ws.StatusProtocolError, "unexpected continuation")
				return 0, ws.ErrProtocolContinuationUnexpected
			}
			t.inMsg, t.msgLen = true, 0
		}
		n, err := t.rd.Read(p)
		t.msgLen += int64(n)
		if t.msgLen > t.max {
			t.closeTooLarge()
			return 0, ErrWebSocketMessageTooLarge
		}
		if err == io.EOF {
			t.inMsg = false
			if n > 0 {
				return n, nil
			}
			continue
		}
		if errors.Is(err, wsutil.ErrFrameTooLarge) {
			t.closeTooLarge()
			return n, ErrWebSocketMessageTooLarge
		}
		return n, err
	}
}

func (t *wsTransport) closeTooLarge() {
	if t.tooLarge != nil {
		t.tooLarge()
	}
	t.closeWith(ws.StatusMessageTooBig, "message too large")
}

// control answers a ping with a pong and a close with a close (RFC 6455 §5.5); a close ends the stream.
func (t *wsTransport) control(hdr ws.Header, r io.Reader) error {
	payload := make([]byte, hdr.Length) // at most 125 bytes (checked by the reader)
	if _, err := io.ReadFull(r, payload); err != nil {
		return err
	}
	switch hdr.OpCode {
	case ws.OpPing:
		t.wmu.Lock()
		defer t.wmu.Unlock()
		if t.closed {
			return net.ErrClosed
		}
		t.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		err := ws.WriteFrame(t.nc, ws.NewPongFrame(payload))
		t.nc.SetWriteDeadline(time.Time{})
		return err
	case ws.OpClose:
		code := ws.StatusNormalClosure
		if len(payload) >= 2 {
			code = ws.StatusCode(uint16(payload[0])<<8 | uint16(payload[1]))
		}
		t.closeWith(code, "")
		return io.EOF
	}
	return nil
}

// closeWith sends a close frame (unless a write is in progress) and closes the connection.
func (t *wsTransport) closeWith(code ws.StatusCode, reason string) {
	if t.wmu.TryLock() {
		if !t.closed {
			t.closed = true
			t.nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			ws.WriteFrame(t.nc, ws.NewCloseFrame(ws.NewCloseFrameBody(code, reason)))
		}
		t.wmu.Unlock()
	}
	t.nc.Close()
}

func (t *wsTransport) Close() error {
	t.closeWith(ws.StatusNormalClosure, "")
	return nil
}

// WriteBuffers sends the bytes of bufs, which hold whole MSRP chunks or pieces of one, as WebSocket
// frames: the bytes of one chunk form one message, fragmented when the chunk spans several writes.
func (t *wsTransport) WriteBuffers(bufs *net.Buffers) (int64, error) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.closed {
		return 0, net.ErrClosed
	}
	t.hdrs, t.vec = t.hdrs[:0], t.vec[:0]
	type frame struct {
		hdrAt, hdrLen, first, last int // header bytes in t.hdrs; payload pieces t.vec[first:last]
	}
	var frames []frame
	var cur *frame
	var curLen int64
	var total int64
	flush := func(fin bool) {
		h := ws.Header{Fin: fin, OpCode: ws.OpContinuation, Length: curLen}
		if !t.out.fragmented {
			h.OpCode = ws.OpBinary
		}
		t.out.fragmented = !fin
		at := len(t.hdrs)
		t.hdrs = appendWSHeader(t.hdrs, h)
		cur.hdrAt, cur.hdrLen = at, len(t.hdrs)-at
		cur.last = len(t.vec)
		cur, curLen = nil, 0
	}
	for _, b := range *bufs {
		for len(b) > 0 {
			n, end := t.out.scan(b)
			if cur == nil {
				frames = append(frames, frame{first: len(t.vec)})
				cur = &frames[len(frames)-1]
			}
			t.vec = append(t.vec, b[:n])
			curLen += int64(n)
			total += int64(n)
			b = b[n:]
			if end {
				flush(true)
			}
		}
	}
	if cur != nil {
		flush(false) // the chunk continues in a later write
	}
	out := make(net.Buffers, 0, 2*len(frames)+len(t.vec))
	for _, f := range frames {
		out = append(out, t.hdrs[f.hdrAt:f.hdrAt+f.hdrLen])
		out = append(out, t.vec[f.first:f.last]...)
	}
	*bufs = (*bufs)[:0]
	clear(t.vec)
	_, err := out.WriteTo(t.nc)
	if err != nil {
		return 0, err
	}
	return total, nil
}

// appendWSHeader appends an unmasked (server) frame header (RFC 6455 §5.2).
func appendWSHeader(b []byte, h ws.Header) []byte {
	b0 := byte(h.OpCode)
	if h.Fin {
		b0 |= 0x80
	}
	switch {
	case h.Length < 126:
		return append(b, b0, byte(h.Length))
	case h.Length <= 0xffff:
		return append(b, b0, 126, byte(h.Length>>8), byte(h.Length))
	default:
		b = append(b, b0, 127)
		for i := 7; i >= 0; i-- {
			b = append(b, byte(h.Length>>(8*i)))
		}
		return b
	}
}

// chunkScanner finds where the MSRP chunks we write end: after the end-line `-------TID` flag CRLF
// (RFC 4975 §7.1) whose transaction-id is the one of the chunk's start line. Our own transaction-ids
// never occur as an end-line inside a body (mintTID), so the first match ends the chunk.
type chunkScanner struct {
	fragmented bool   // a message is open (its first frame was sent)
	start      []byte // the start line so far, until its LF
	inStart    bool   // reading a start line (false: between chunks or in the body)
	pattern    []byte // "\r\n-------" + tid, then flag and CRLF
	matched    int    // bytes of pattern + flag + CRLF matched so far
}

// scan consumes b up to the end of the current chunk: it returns how many bytes belong to the chunk and
// whether the chunk ends there.
func (s *chunkScanner) scan(b []byte) (int, bool) {
	for i, c := range b {
		if s.pattern == nil {
			if !s.inStart {
				s.inStart, s.start = true, s.start[:0]
			}
			s.start = append(s.start, c)
			if c == '\n' {
				s.inStart = false
				s.pattern = endPattern(s.start)
				s.matched = 2 // the start line's CRLF may precede the end-line (no headers)
			}
			if len(s.start) > 1024 && s.pattern == nil {
				s.start = s.start[:0] // not MSRP: never written by this package
			}
			continue
		}
		p := s.pattern
		switch {
		case s.matched < len(p):
			if c == p[s.matched] {
				s.matched++
			} else if c == '\r' {
				s.matched = 1
			} else {
				s.matched = 0
			}
		case s.matched == len(p):
			if c == FlagEnd || c == FlagMore || c == FlagAbort {
				s.matched++
			} else if c == '\r' {
				s.matched = 1
			} else {
				s.matched = 0
			}
		case s.matched == len(p)+1:
			if c == '\r' {
				s.matched++
			} else {
				s.matched = 0
			}
		default: // LF ends the chunk
			if c == '\n' {
				s.pattern, s.matched = nil, 0
				return i + 1, true
			}
			s.matched = 0
			if c == '\r' {
				s.matched = 1
			}
		}
	}
	return len(b), false
}

// endPattern is "\r\n-------TID" for the start line "MSRP TID ...\r\n".
func endPattern(line []byte) []byte {
	f := strings.Fields(string(line))
	tid := ""
	if len(f) >= 2 {
		tid = f[1]
	}
	return []byte("\r\n" + endLineDashes + tid)
}
