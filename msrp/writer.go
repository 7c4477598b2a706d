package msrp

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The write side of a connection: frames queued whole, large messages cut into chunks, and the
// writer goroutine that flushes them.

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
	var vec, bufs net.Buffers // kept from one write to the next: declared here, they escape once
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
		var size int
		vec, size = appendFrames(vec, frames)
		size += w.pieceBytes
		for _, p := range [...][]byte{w.head, w.piece, w.post} {
			if len(p) > 0 {
				vec = append(vec, p)
			}
		}
		bufs = vec
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
