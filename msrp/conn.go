package msrp

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Read buffer sizing: an idle connection costs 512 bytes, a busy one up to 64 KiB. The buffer
// doubles on a read that fills it and halves on a short read only once no read has filled it
// for shrinkAfter, so that a busy connection, whose reads vary in size, keeps one buffer instead
// of trading it for another every few reads.
const (
	minReadBuffer = 512
	maxReadBuffer = 64 << 10
	shrinkAfter   = time.Second
)

// conn is one MSRP connection: a read goroutine (parser, dispatch) and, while there is traffic, a write
// goroutine (coalesced flushes, chunking of large messages). The writer is started by the first frame
// queued and retires once the connection has been quiet for a janitor period, so an idle member costs one
// goroutine, not two (buffers and goroutines only while there is traffic).
type conn struct {
	e        *Endpoint
	t        Transport
	dialKey  string    // non-empty for connections we opened (reused per RFC 4975 §5.4)
	tls      *tls.Conn // non-nil on TLS connections (RFC 4975 §14.2)
	remoteIP string    // accepted connections: the peer's address, counted against MaxConnsPerIP
	created  time.Time

	mu         sync.Mutex
	cond       sync.Cond
	queue      []outFrame // small frames in order
	spare      []outFrame
	large      []*outMsg   // large SENDs being chunked; large[0] is served next and alone may have a chunk open
	corked     int         // >0 holds the writer while a batch is queued atomically (pre-bind flush)
	flushing   bool        // frames taken from queue are being written outside the lock (writer or writeInline)
	answersDue bool        // Settle released answers the writer is to send (answersReady)
	carry      *carry      // what a writeInline left unwritten: written before anything else
	pending    int         // bytes queued and not yet written
	writing    atomic.Bool // a writer goroutine runs (wake starts one); changed only under mu
	retire     bool        // the janitor asks an idle writer to end
	lastWrite  time.Time   // when the writer last wrote, or started
	closed     bool
	reason     CloseReason
	sessions   map[string]*Session
	txs        txTable
	everBound  bool // some session was bound here (else it is closed after BindTimeout)

	answers answerQueue  // responses held behind a Deferred (deferred.go)
	held    atomic.Int64 // answers.len(), readable without its lock on the read path

	wakeMark  atomic.Uint64 // batch of the reader that last listed this connection (wakeLater)
	idleSince time.Time     // when the last session left; zero while a session is bound

	raw  syscall.RawConn // plain TCP connections: the socket, for writeInline; nil otherwise
	park parkState       // a quiet connection's reader steps out of Read (park.go)

	// Owned by the read goroutine.
	answerHead struct { // path lines of the last answer (answerPaths)
		to, from *URI
		lines    []byte
	}
	batch   uint64  // this read's token (wakeLater)
	wakeups []*conn // connections whose writers wait for the end of this read
	parser  *Parser
	reasm   *reassembler
	streams map[string]*inStream // chunked messages streamed to a ChunkHandler
	refused map[string]int       // (session, Message-ID) refused mid-transfer: later chunks get the same code

	frames       uint64       // frames parsed so far
	headSince    atomic.Int64 // unix nanoseconds when the frame head being read began; 0 between heads
	unknown      int          // 481s answered since unknownSince (MaxUnknownSessions)
	unknownSince time.Time    // start of the current minute of 481s
}

// trackHead notes when the frame head being read began (HeaderTimeout), after a read that may
// have completed frames.
func (c *conn) trackHead(framed bool) {
	switch {
	case !c.parser.InHead():
		if c.headSince.Load() != 0 {
			c.headSince.Store(0)
		}
	case framed || c.headSince.Load() == 0:
		c.headSince.Store(timeNow().UnixNano())
	}
}

// guessing counts a 481 answered on the connection and reports whether it is one too many.
func (c *conn) guessing() bool {
	if c.dialKey != "" || c.e.cfg().MaxUnknownSessions < 0 {
		return false
	}
	if now := timeNow(); c.unknown == 0 || now.Sub(c.unknownSince) > unknownSessionsWindow {
		c.unknown, c.unknownSince = 0, now
	}
	c.unknown++
	return c.unknown > c.e.cfg().MaxUnknownSessions
}

func newConn(e *Endpoint, t Transport, dialKey string) *conn {
	c := &conn{
		e: e, t: t, dialKey: dialKey, created: timeNow(),
		sessions: make(map[string]*Session),
		parser:   newBorrowingParser(e.cfg().MaxHeaderBytes, e.cfg().MaxMessageSize),
		reasm:    newReassembler(e.cfg().MaxMessageSize),
	}
	switch nt := t.(type) {
	case netTransport:
		c.tls, _ = nt.Conn.(*tls.Conn)
		if tc, ok := nt.Conn.(*net.TCPConn); ok {
			c.raw, _ = tc.SyscallConn()
		}
	case interface{ tlsConn() *tls.Conn }: // WebSocket over the HTTP listener's TLS
		c.tls = nt.tlsConn()
	}
	c.txs.init()
	c.cond.L = &c.mu
	c.batch = batchTokens.Add(1)
	return c
}

func (c *conn) start() {
	c.e.wg.Add(1)
	go c.readLoop()
}

// errFull is returned by the queueing functions when the connection is over MaxPendingBytes.
func (c *conn) closedErr() error {
	if c.reason.IsSlowConsumer() {
		return ErrSlowConsumer
	}
	return ErrSessionClosed
}

// fail closes the connection once, recording the first reason. The read goroutine then tears down its
// sessions, so fail may be called from any goroutine, with application locks held.
func (c *conn) fail(reason CloseReason) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.reason = reason
	c.mu.Unlock()
	c.cond.Broadcast()
	go c.releaseAnswers()  // not inline: fail may run under the answer queue's lock (flushAnswers)
	c.e.countClose(reason) // before the peer can see the close
	c.resumeReader()       // a parked reader must see the close and tear the connection down
	c.t.Close()
}

// readLoop reads and parses until the connection fails, or until it parks (park.go): then it
// ends without tearing the connection down, and the next reader goes on with the same parser
// state. consume does the work of one read.
func (c *conn) readLoop() {
	defer c.e.wg.Done()
	parked := false
	defer func() {
		if !parked {
			c.teardown()
		}
	}()
	if c.parser == nil { // resumed after parking
		c.parser = newBorrowingParser(c.e.cfg().MaxHeaderBytes, c.e.cfg().MaxMessageSize)
	}
	r := reader{buf: make([]byte, minReadBuffer), onFrame: c.handleFrame}
	for {
		n, err := c.t.Read(r.buf)
		if n > 0 && !c.consume(&r, n) {
			return
		}
		if err != nil {
			if isDeadline(err) && c.raw != nil {
				if parked = c.readTimedOut(); parked {
					return
				}
				continue
			}
			c.readFailed(err)
			return
		}
	}
}

// reader is the read loop's state: its buffer, sized to the traffic, and when it last filled.
type reader struct {
	buf      []byte
	lastFull time.Time
	onFrame  FrameFunc // one method value for every read
}

// consume parses the n bytes just read into r.buf and resizes the buffer to the traffic; false
// means the connection was failed.
func (c *conn) consume(r *reader, n int) bool {
	c.e.stats.bytesIn.Add(uint64(n))
	c.park.reads.Add(1)
	before := c.frames
	perr := c.parser.Parse(r.buf[:n], r.onFrame)
	c.trackHead(before != c.frames)
	c.flushWakeups()
	c.parser.forget()
	if perr != nil {
		var pe *ProtocolError
		if errors.As(perr, &pe) {
			c.e.log.Warn("msrp: closing connection on protocol violation",
				"remote", c.t.RemoteAddr().String(), "error", perr)
			c.fail(ProtocolViolation)
		}
		return false
	}
	switch {
	case n == len(r.buf):
		r.lastFull = timeNow()
		if len(r.buf) < maxReadBuffer {
			r.buf = make([]byte, 2*len(r.buf))
		}
	case n < len(r.buf)/2 && len(r.buf) > minReadBuffer:
		if now := timeNow(); now.Sub(r.lastFull) > shrinkAfter {
			r.buf = make([]byte, len(r.buf)/2)
			r.lastFull = now // one halving per shrinkAfter
		}
	}
	return true
}

// readFailed fails the connection for a read that ended otherwise than at a deadline.
func (c *conn) readFailed(err error) {
	if errors.Is(err, io.EOF) {
		c.fail(PeerClosed)
	} else {
		c.fail(ReadError)
	}
}

// teardown runs on the read goroutine after the connection failed: every session on it has failed
// (RFC 4975 §5.4) and learns why, with no lock held.
func (c *conn) teardown() {
	c.e.removeConn(c)
	c.mu.Lock()
	reason := c.reason
	sessions := make([]*Session, 0, len(c.sessions))
	for _, s := range c.sessions {
		sessions = append(sessions, s)
	}
	var waiters []chan *Message
	for i := range c.txs.slots {
		if w := c.txs.slots[i].waiter; w != nil {
			waiters = append(waiters, w)
		}
	}
	c.txs = txTable{}
	c.txs.init()
	c.mu.Unlock()
	for _, w := range waiters {
		close(w)
	}
	for _, s := range sessions {
		s.closeWith(reason, false)
	}
}

func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *conn) addSession(s *Session) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.sessions[s.id] = s
	c.everBound = true
	c.idleSince = time.Time{}
	return true
}

// removeSession detaches s; its large messages still queued are dropped (a chunk in progress is closed
// with '#', RFC 4975 §7.1, so the stream stays in sync for the other sessions).
func (c *conn) removeSession(s *Session) {
	c.mu.Lock()
	delete(c.sessions, s.id)
	for _, lm := range c.large {
		if lm.s == s {
			lm.stop = true
		}
	}
	empty := len(c.sessions) == 0 && !c.closed
	if empty {
		c.idleSince = timeNow()
	}
	idle := c.dialKey != "" && empty
	c.mu.Unlock()
	c.cond.Signal()
	if idle {
		// A connection we opened is closed once no session uses it (RFC 4975 §5.4 only forbids closing one in use).
		c.fail(Local)
	}
}

// expiredTx is a transaction the janitor gave up on.
type expiredTx struct {
	session *Session
	mid     string
	waiter  chan *Message
}

// expireTransactions fails transactions whose response has not come TransactionTimeout after their last byte
// was written (RFC 4975 §7.1.1: 30 s). The application learns through DeliveryHandler (as a 408, §10.4).
func (c *conn) expireTransactions(now time.Time, timeout time.Duration) {
	var expired []expiredTx
	c.mu.Lock()
	for i := range c.txs.slots {
		slot := &c.txs.slots[i]
		if !slot.used || slot.sent.IsZero() || now.Sub(slot.sent) <= timeout {
			continue
		}
		if slot.msg != nil {
			slot.msg.stop = true // the rest of that message would fail too
		}
		expired = append(expired, expiredTx{slot.session, slot.messageID(), slot.waiter})
		c.txs.release(int32(i))
	}
	c.mu.Unlock()
	if len(expired) > 0 {
		c.cond.Signal()
	}
	for _, tx := range expired {
		c.e.stats.transactionTimeouts.Add(1)
		if tx.waiter != nil {
			close(tx.waiter)
		}
		c.e.log.Debug("msrp: transaction timed out", "session", tx.session.id, "message_id", tx.mid,
			"transaction_timeout", c.e.cfg().TransactionTimeout)
		tx.session.deliveryFailed(tx.mid, StatusRequestTimeout, "transaction timed out")
	}
}

// checkIdle closes an accepted connection that bound no session within BindTimeout, whose frame head
// takes longer than HeaderTimeout, or that has had no session for IdleTimeout (RFC 4975 §5.4 only
// forbids closing a connection a session still uses).
func (c *conn) checkIdle(now time.Time) {
	if c.dialKey != "" {
		return // ours: closed when its last session ends
	}
	c.mu.Lock()
	var reason CloseReason = -1
	switch {
	case c.closed:
	case !c.everBound && now.Sub(c.created) > c.e.cfg().BindTimeout:
		reason = UnboundTimeout
	case c.e.cfg().HeaderTimeout > 0 && c.headSince.Load() != 0 && now.UnixNano()-c.headSince.Load() > int64(c.e.cfg().HeaderTimeout):
		reason = HeaderTimeout
	case c.everBound && len(c.sessions) == 0 && c.e.cfg().IdleTimeout > 0 && !c.idleSince.IsZero() &&
		now.Sub(c.idleSince) > c.e.cfg().IdleTimeout:
		reason = IdleTimeout
	}
	c.mu.Unlock()
	if reason >= 0 {
		c.fail(reason)
	}
}
