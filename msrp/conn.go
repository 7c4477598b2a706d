package msrp

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Read buffer sizing (examples.md §2.2): an idle connection costs 512 bytes, a busy one up to 64 KiB.
const (
	minReadBuffer  = 512
	maxReadBuffer  = 64 << 10
	shortsToShrink = 2
)

// outFrame is one queued frame: a pooled buffer holding the head (start line … blank line) and, after it,
// the end-line; the body between them is shared with the caller and never copied (RFC 7701 §6.1 fan-out).
// Keeping frames whole (rather than a flat byte queue) leaves room for interruptible chunking (§7.1.1).
type outFrame struct {
	buf  *[]byte
	head int // (*buf)[:head] is the head, (*buf)[head:] the CRLF + end-line
	body []byte
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

type txEntry struct {
	session *Session
	queued  time.Time
	waiter  chan *Message // Connect waits for its bodiless SEND; nil otherwise
}

// conn is one MSRP connection: a read goroutine (parser, dispatch) and a write goroutine (coalesced flushes).
type conn struct {
	e       *Endpoint
	t       Transport
	dialKey string // non-empty for connections we opened (reused per RFC 4975 §5.4)

	mu       sync.Mutex
	cond     sync.Cond
	queue    []outFrame
	spare    []outFrame
	pending  int // bytes queued and not yet written
	closed   bool
	reason   CloseReason
	sessions map[string]*Session
	txs      map[string]txEntry

	// Owned by the read goroutine.
	parser *Parser
	reasm  *reassembler
}

func newConn(e *Endpoint, t Transport, dialKey string) *conn {
	c := &conn{
		e: e, t: t, dialKey: dialKey,
		sessions: make(map[string]*Session),
		txs:      make(map[string]txEntry),
		parser:   NewParser(e.cfg.MaxHeaderBytes, e.cfg.MaxMessageSize),
		reasm:    newReassembler(e.cfg.MaxMessageSize),
	}
	c.cond.L = &c.mu
	return c
}

func (c *conn) start() {
	c.e.wg.Add(2)
	go c.writeLoop()
	go c.readLoop()
}

// queue serializes m into a pooled head buffer and queues it with m.Body shared. It never blocks. Over
// MaxPendingBytes the connection is failed as a slow consumer (examples.md §1.5).
func (c *conn) queueMessage(m *Message, tx *txEntry) error {
	bp := framePool.Get().(*[]byte)
	b := m.appendHead((*bp)[:0])
	head := len(b)
	*bp = m.appendEndLine(b)
	f := outFrame{buf: bp, head: head}
	if m.ContentType != "" {
		f.body = m.Body
	}
	size := f.size()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		putFrameBuf(bp)
		if c.reason.IsSlowConsumer() {
			return ErrSlowConsumer
		}
		return ErrSessionClosed
	}
	if c.pending+size > c.e.cfg.MaxPendingBytes {
		c.mu.Unlock()
		putFrameBuf(bp)
		c.fail(SlowConsumerPending)
		return ErrSlowConsumer
	}
	c.pending += size
	c.queue = append(c.queue, f)
	if tx != nil {
		c.txs[m.TransactionID] = *tx
	}
	c.mu.Unlock()
	c.cond.Signal()
	c.e.stats.messagesOut.Add(1)
	return nil
}

// writeLoop is the only writer. It swaps the queue out under the lock and writes it with one writev, so
// producers never wait on the socket (examples.md §1.2).
func (c *conn) writeLoop() {
	defer c.e.wg.Done()
	var vec net.Buffers
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closed {
			c.cond.Wait()
		}
		if c.closed {
			frames := c.queue
			c.queue = nil
			c.mu.Unlock()
			for i := range frames {
				putFrameBuf(frames[i].buf)
			}
			return
		}
		frames := c.queue
		c.queue, c.spare = c.spare[:0], nil
		c.mu.Unlock()

		vec = vec[:0]
		size := 0
		for i := range frames {
			f := &frames[i]
			vec = append(vec, (*f.buf)[:f.head])
			if len(f.body) > 0 {
				vec = append(vec, f.body)
			}
			vec = append(vec, (*f.buf)[f.head:])
			size += f.size()
		}
		bufs := vec
		c.t.SetWriteDeadline(time.Now().Add(c.e.cfg.WriteDeadline))
		n, err := c.t.WriteBuffers(&bufs)
		c.t.SetWriteDeadline(time.Time{})
		c.e.stats.bytesOut.Add(uint64(n))
		for i := range frames {
			putFrameBuf(frames[i].buf)
			frames[i] = outFrame{}
		}
		clear(vec)

		c.mu.Lock()
		c.pending -= size
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
	c.t.Close()
	c.e.countClose(reason)
}

func (c *conn) readLoop() {
	defer c.e.wg.Done()
	defer c.teardown()
	buf := make([]byte, minReadBuffer)
	shorts := 0
	for {
		n, err := c.t.Read(buf)
		if n > 0 {
			c.e.stats.bytesIn.Add(uint64(n))
			if perr := c.parser.Parse(buf[:n], c.handleFrame); perr != nil {
				c.e.log.Warn("msrp: closing connection on protocol violation",
					"remote", c.t.RemoteAddr().String(), "error", perr)
				c.fail(ProtocolViolation)
				return
			}
			switch {
			case n == len(buf) && len(buf) < maxReadBuffer:
				buf = make([]byte, 2*len(buf))
				shorts = 0
			case n < len(buf)/2 && len(buf) > minReadBuffer:
				if shorts++; shorts > shortsToShrink {
					buf = make([]byte, len(buf)/2)
					shorts = 0
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				c.fail(PeerClosed)
			} else {
				c.fail(ReadError)
			}
			return
		}
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
	txs := c.txs
	c.txs = nil
	c.mu.Unlock()
	for _, tx := range txs {
		if tx.waiter != nil {
			close(tx.waiter)
		}
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
	return true
}

func (c *conn) removeSession(s *Session) {
	c.mu.Lock()
	delete(c.sessions, s.id)
	idle := c.dialKey != "" && len(c.sessions) == 0 && !c.closed
	c.mu.Unlock()
	if idle {
		// A connection we opened is closed once no session uses it (RFC 4975 §5.4 only forbids closing one in use).
		c.fail(Local)
	}
}

// expireTransactions drops transactions older than the timeout (RFC 4975 §7.1.1: 30 s).
func (c *conn) expireTransactions(now time.Time, timeout time.Duration) {
	var expired []txEntry
	c.mu.Lock()
	for tid, tx := range c.txs {
		if now.Sub(tx.queued) > timeout {
			expired = append(expired, tx)
			delete(c.txs, tid)
		}
	}
	c.mu.Unlock()
	for _, tx := range expired {
		c.e.stats.transactionTimeouts.Add(1)
		if tx.waiter != nil {
			close(tx.waiter)
		}
		c.e.log.Debug("msrp: transaction timed out", "session", tx.session.id)
	}
}
