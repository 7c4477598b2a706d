package msrp

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
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

// outFrame is one queued frame that is written whole: a pooled buffer holding the head (start line … blank
// line) and, after it, the end-line; the body between them is shared with the caller and never copied
// (RFC 7701 §6.1 fan-out). Large SENDs are not frames but outMsgs, cut into chunks by the writer.
type outFrame struct {
	buf  *[]byte
	head int // (*buf)[:head] is the head, (*buf)[head:] the CRLF + end-line
	body []byte
	tx   txRef // transaction to stamp once written
}

func (f *outFrame) size() int { return len(*f.buf) + len(f.body) }

var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func putFrameBuf(b *[]byte) {
	if cap(*b) > 8<<10 {
		return // an unusually long path list; let it go
	}
	*b = (*b)[:0]
	framePool.Put(b)
}

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

// startWriterLocked notes that a writer runs and returns true when the caller must start it (go
// c.writeLoop()) once c.mu is released. Caller holds c.mu.
func (c *conn) startWriterLocked() bool {
	if c.writing.Load() || c.closed {
		return false
	}
	c.writing.Store(true)
	c.retire, c.lastWrite = false, timeNow()
	c.e.wg.Add(1)
	return true
}

// wake hands queued work to the writer: it starts one, or signals the one running. The work was
// queued under mu before, so a writer seen running cannot retire without seeing it (it retires
// only under mu with nothing queued): the lock-free check is safe.
func (c *conn) wake() {
	if c.writing.Load() {
		c.cond.Signal()
		return
	}
	c.mu.Lock()
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
		return
	}
	c.cond.Signal()
}

// retireIdleWriter asks the writer to end when nothing has been written for quiet (the janitor).
func (c *conn) retireIdleWriter(now time.Time, quiet time.Duration) {
	c.mu.Lock()
	idle := c.writing.Load() && !c.retire && len(c.queue) == 0 && len(c.large) == 0 && now.Sub(c.lastWrite) > quiet
	if idle {
		c.retire = true
	}
	c.mu.Unlock()
	if idle {
		c.cond.Signal()
	}
}

// errFull is returned by the queueing functions when the connection is over MaxPendingBytes.
func (c *conn) closedErr() error {
	if c.reason.IsSlowConsumer() {
		return ErrSlowConsumer
	}
	return ErrSessionClosed
}

// queueFrame serializes m into a pooled head buffer and queues it with m.Body shared. It never blocks. Over
// MaxPendingBytes the connection is failed as a slow consumer. An empty TransactionID is
// minted into the buffer (random part + table slot, txtable.go); mintMID mints the Message-ID the same way.
// Requests other than REPORT, and without Failure-Report no, are tracked for their response (§7.1.1).
func (c *conn) queueFrame(m *Message, s *Session, mintMID bool, waiter chan *Message, wake *conn) error {
	hasBody := m.ContentType != ""
	var tidb [txIDLen]byte
	var tid []byte
	if m.TransactionID == "" || hasBody && bodyHasEndLine(m.Body, []byte(m.TransactionID)) {
		tid = mintTID(tidb[:], m.Body, hasBody)
	}
	var midb [messageIDLen]byte
	var mid []byte
	if mintMID {
		mid = appendRandomID(midb[:0], messageIDLen)
	}
	bp := framePool.Get().(*[]byte)
	b := m.appendHeadIDs((*bp)[:0], tid, mid, m.ByteRange)
	head := len(b)
	if tid != nil {
		b = appendEndLine(b, hasBody, tid, m.flag())
	} else {
		b = m.appendEndLine(b)
	}
	*bp = b
	f := outFrame{buf: bp, head: head, tx: noTx}
	if hasBody {
		f.body = m.Body
	}
	size := f.size()
	// A request is tracked when a 200 is due (§7.1.1): with Failure-Report no or partial none comes, and a
	// failure answered to partial is matched by its session instead (handleResponse).
	track := m.Method != "" && m.Method != "REPORT" && m.FailureReport != "no" && m.FailureReport != "partial"

	c.mu.Lock()
	if c.closed {
		err := c.closedErr()
		c.mu.Unlock()
		putFrameBuf(bp)
		return err
	}
	if c.pending+size > c.e.cfg().MaxPendingBytes {
		c.mu.Unlock()
		putFrameBuf(bp)
		c.fail(SlowConsumerPending)
		return ErrSlowConsumer
	}
	if track {
		i := c.txs.alloc()
		if i != noSlot {
			slot := &c.txs.slots[i]
			slot.session, slot.waiter = s, waiter
			if tid != nil {
				copy(slot.tid[:], tid)
				// Patch the slot into the start line and the end-line.
				encodeSlot((*bp)[len("MSRP ")+txRandLen:], i)
				end := head + len(endLineDashes)
				if hasBody {
					end += 2
				}
				encodeSlot((*bp)[end+txRandLen:], i)
			} else {
				slot.foreign = m.TransactionID
				if c.txs.foreign == nil {
					c.txs.foreign = make(map[string]int32)
				}
				c.txs.foreign[m.TransactionID] = i
			}
			if mid != nil {
				copy(slot.mid[:], mid)
			} else {
				slot.midStr = m.MessageID
			}
			f.tx = txRef{i, slot.gen}
		}
	}
	c.pending += size
	c.queue = append(c.queue, f)
	start := wake == nil && c.startWriterLocked()
	c.mu.Unlock()
	switch {
	case start:
		go c.writeLoop()
	case wake != nil:
		wake.wakeLater(c)
	default:
		c.cond.Signal()
	}
	c.e.stats.messagesOut.Add(1)
	return nil
}

// batchTokens numbers the read batches of every connection (wakeLater).
var batchTokens atomic.Uint64

// wakeLater notes that the handlers run by c's reader queued frames on d: d's writer is woken
// once c has handled everything one read brought (flushWakeups), so a burst of SENDs costs each
// recipient one wake-up and one write, not one per message. It runs on c's
// read goroutine only. d may be listed twice when readers interleave; a second wake-up is free.
func (c *conn) wakeLater(d *conn) {
	if d.wakeMark.Swap(c.batch) != c.batch {
		c.wakeups = append(c.wakeups, d)
	}
}

// flushWakeups wakes the writers of the connections c's handlers queued frames on, and starts a
// new batch.
func (c *conn) flushWakeups() {
	inline := len(c.wakeups) <= maxInlineWrites
	for i, d := range c.wakeups {
		if !inline || !c.writeInline(d) {
			d.wake()
		}
		c.wakeups[i] = nil
	}
	c.wakeups = c.wakeups[:0]
	c.batch = batchTokens.Add(1)
}

// mintTID draws a transaction-id into b (txIDLen bytes, slot part "zzzz" = untracked until patched) whose
// end-line does not occur in body (RFC 4975 §7.1).
func mintTID(b []byte, body []byte, hasBody bool) []byte {
	for {
		appendRandomID(b[:0], txRandLen)
		if !hasBody || !bodyHasEndLine(body, b[:txRandLen]) {
			break
		}
	}
	copy(b[txRandLen:], "zzzz")
	return b[:txIDLen]
}

func appendEndLine(b []byte, hasBody bool, tid []byte, flag byte) []byte {
	if hasBody {
		b = append(b, "\r\n"...)
	}
	b = append(b, endLineDashes...)
	b = append(b, tid...)
	return append(b, flag, '\r', '\n')
}

// queueLarge queues a SEND whose body is cut into chunks by the writer (RFC 4975 §7.1.1). The body counts
// against MaxPendingBytes until written.
func (c *conn) queueLarge(lm *outMsg) error {
	size := len(lm.body) - lm.off
	c.mu.Lock()
	if c.closed {
		err := c.closedErr()
		c.mu.Unlock()
		return err
	}
	if c.pending+size > c.e.cfg().MaxPendingBytes {
		c.mu.Unlock()
		c.fail(SlowConsumerPending)
		return ErrSlowConsumer
	}
	c.pending += size
	if prev := c.largeOf(lm.s, lm.m.MessageID); prev != nil {
		prev.then = append(prev.then, lm)
	} else {
		c.large = append(c.large, lm)
	}
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	} else {
		c.cond.Signal()
	}
	c.e.stats.messagesOut.Add(1)
	return nil
}

// largeOf returns the large message of s with Message-ID mid still queued, or nil. Caller holds c.mu.
func (c *conn) largeOf(s *Session, mid string) *outMsg {
	for _, lm := range c.large {
		if lm.s == s && lm.m.MessageID == mid {
			return lm
		}
	}
	return nil
}

// sending reports whether a piece of message mid of s is still queued as a large message.
func (c *conn) sending(s *Session, mid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.largeOf(s, mid) != nil
}

// cork holds the writer until uncork, so that a batch queued in between is seen at once.
func (c *conn) cork() {
	c.mu.Lock()
	c.corked++
	c.mu.Unlock()
}

// uncork releases the writer. It is woken, or started, only when the batch left it something to
// do: a member who binds with nothing waiting costs no writer goroutine (whose descriptor the
// runtime keeps for good once it existed, so ten thousand joins at once would leave ten thousand).
func (c *conn) uncork() {
	c.mu.Lock()
	c.corked--
	work := c.corked == 0 && (c.answersDue || c.carry != nil || len(c.queue) > 0 || len(c.large) > 0)
	c.mu.Unlock()
	if work {
		c.wake()
	}
}

// writePlan is what the writer sends of large messages in one flush, built under the lock into buffers the
// writer owns: the end-line of an interrupted chunk (pre, before the queued frames), then the head of a new
// chunk, a piece of body, and the final end-line when the piece completes the message.
type writePlan struct {
	preBuf, headBuf, postBuf []byte
	pre, head, piece, post   []byte
	preTx, postTx            txRef
	pieceBytes               int // pending bytes released by this flush for large messages
}

// planLarge decides, under c.mu, what the writer does with large messages in this flush (RFC 4975 §7.1.1):
// a chunk in progress is interrupted ('+') when frames are waiting, or when another large message waits and
// this chunk has had its quantum; a message whose peer answered 413 is interrupted with '#' and dropped;
// otherwise at most ChunkQuantum bytes of the current message are written.
func (c *conn) planLarge(w *writePlan, framesWaiting bool) {
	w.pre, w.head, w.piece, w.post = nil, nil, nil, nil
	w.preTx, w.postTx, w.pieceBytes = noTx, noTx, 0
	quantum := c.e.cfg().ChunkQuantum
	if len(c.large) > 0 && c.large[0].open {
		lm := c.large[0]
		switch {
		case lm.stop:
			w.pre, w.preTx = lm.closeChunk(w.preBuf[:0], FlagAbort), lm.tx
			c.dropLarge(0)
		case framesWaiting || len(c.large) > 1 && lm.chunkBytes >= quantum:
			w.pre, w.preTx = lm.closeChunk(w.preBuf[:0], FlagMore), lm.tx
			copy(c.large, c.large[1:])
			c.large[len(c.large)-1] = lm // round robin
		}
		if w.pre != nil {
			w.preBuf = w.pre[:0]
		}
	}
	for i := 0; i < len(c.large); {
		if c.large[i].stop && !c.large[i].open {
			c.dropLarge(i)
			continue
		}
		i++
	}
	if len(c.large) == 0 {
		return
	}
	lm := c.large[0]
	if !lm.open {
		tx := noTx
		var tidb [txIDLen]byte
		tid := lm.mintTID(tidb[:])
		if lm.m.FailureReport != "no" {
			if i := c.txs.alloc(); i != noSlot {
				slot := &c.txs.slots[i]
				slot.session, slot.msg, slot.midStr = lm.s, lm, lm.m.MessageID
				copy(slot.tid[:], tid)
				encodeSlot(tid[txRandLen:], i)
				tx = txRef{i, slot.gen}
			}
		}
		w.head = lm.openChunk(w.headBuf[:0], tid, tx)
		w.headBuf = w.head[:0]
	}
	w.piece = lm.nextPiece(quantum)
	w.pieceBytes = len(w.piece)
	if lm.done() {
		w.post, w.postTx = lm.closeChunk(w.postBuf[:0], lm.last), lm.tx
		w.postBuf = w.post[:0]
		c.large = c.large[1:]
		if len(lm.then) > 0 {
			// The message's next piece takes its turn behind the others (round robin).
			next := lm.then[0]
			next.then, next.stop = lm.then[1:], next.stop || lm.stop
			lm.then = nil
			c.large = append(c.large, next)
		}
		if len(c.large) == 0 {
			c.large = nil
		}
	}
}

// dropLarge removes large[i], releasing its unsent bytes from the pending count.
func (c *conn) dropLarge(i int) {
	lm := c.large[i]
	c.pending -= len(lm.body) - lm.off
	for _, more := range lm.then {
		c.pending -= len(more.body) - more.off
	}
	lm.then = nil
	lm.open = false
	c.large = append(c.large[:i], c.large[i+1:]...)
}

// writeLoop is the only writer. It swaps the frame queue out under the lock, adds at most one quantum of a
// large message, and writes everything with one writev, so producers never wait on the socket
// and short frames never wait behind a large message for more than one quantum (RFC 4975 §7.1.1).
func (c *conn) writeLoop() {
	defer c.e.wg.Done()
	var vec net.Buffers
	var w writePlan
	for {
		c.mu.Lock()
		for !c.closed && !c.answersDue && (c.flushing || c.carry == nil && (c.corked > 0 || len(c.queue) == 0 && len(c.large) == 0)) {
			if c.retire && !c.flushing && c.carry == nil && len(c.queue) == 0 && len(c.large) == 0 {
				c.writing.Store(false)
				c.retire = false
				c.mu.Unlock()
				return
			}
			c.cond.Wait()
		}
		c.retire = false
		if c.closed {
			c.writing.Store(false)
			frames, carried := c.queue, c.carry
			c.queue, c.large, c.carry = nil, nil, nil
			c.mu.Unlock()
			releaseFrames(frames)
			if carried != nil {
				releaseFrames(carried.frames)
			}
			return
		}
		if c.answersDue {
			// Queued by flushAnswers (queueFrame does not wait), then written below.
			c.answersDue = false
			c.mu.Unlock()
			c.flushAnswers(nil)
			continue
		}
		if c.carry != nil {
			if !c.writeCarry() {
				return
			}
			continue
		}
		c.flushing = true
		frames := c.queue
		c.queue, c.spare = c.spare[:0], nil
		c.planLarge(&w, len(frames) > 0)
		c.mu.Unlock()

		vec = vec[:0]
		if len(w.pre) > 0 {
			vec = append(vec, w.pre)
		}
		vec, size := appendFrames(vec, frames)
		size += w.pieceBytes
		for _, p := range [...][]byte{w.head, w.piece, w.post} {
			if len(p) > 0 {
				vec = append(vec, p)
			}
		}
		bufs := vec
		c.t.SetWriteDeadline(time.Now().Add(c.e.cfg().WriteDeadline))
		n, err := c.t.WriteBuffers(&bufs)
		c.t.SetWriteDeadline(time.Time{})
		c.e.stats.bytesOut.Add(uint64(n))
		now := timeNow()

		c.mu.Lock()
		c.flushing = false
		c.pending -= size
		c.lastWrite = now
		if err == nil {
			c.txs.stamp(w.preTx, now)
			c.txs.stamp(w.postTx, now)
			for i := range frames {
				c.txs.stamp(frames[i].tx, now)
			}
		}
		c.mu.Unlock()
		releaseFrames(frames)
		clear(vec)
		c.mu.Lock()
		c.spare = frames[:0]
		c.mu.Unlock()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.fail(SlowConsumerDeadline)
			} else {
				c.fail(WriteError)
			}
			return
		}
	}
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

// readLoop reads and parses until the connection fails. Its own frame is kept small and the work is
// done in consume: an idle member's goroutine sits parked in Read, and the runtime shrinks a parked
// stack only when less than a quarter of it is in use, so a fat frame here would pin 4 KiB per idle
// connection instead of 2 (TestIdleReaderStackShrinks).
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
//
//go:noinline
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

//go:noinline
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
