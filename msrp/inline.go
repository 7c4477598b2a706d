package msrp

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// maxInlineWrites bounds the connections a reader writes to itself after one read; beyond, their
// writers are woken and write in parallel (a room's fan-out).
const maxInlineWrites = 4

// carry is the rest of a write that writeInline began: the bytes the socket did not take, and
// the frames they belong to (still counted in pending).
type carry struct {
	rest   net.Buffers
	frames []outFrame
	size   int
}

// inlineScratch is writeInline's buffer list, shared through a pool rather than kept per
// connection: an idle member pays nothing for it.
type inlineScratch struct {
	vec net.Buffers
	iov iovecs
}

var inlineScratches = sync.Pool{New: func() any { return new(inlineScratch) }}

// writeInline writes what is queued on d from c's read goroutine with one writev that does not
// wait: the frames c's handlers just queued go out without handing them to d's writer goroutine
// and waking it, which is most of what a relayed message costs in latency when the room is quiet.
// What the socket does not take at once is left to d's writer (carry), as is everything on a
// connection that is not plain TCP, is corked, is sending a large message or is being written.
// It reports whether it dealt with d's queue.
func (c *conn) writeInline(d *conn) bool {
	if d.raw == nil {
		return false
	}
	d.mu.Lock()
	if d.closed || d.flushing || d.carry != nil || d.corked > 0 || len(d.large) > 0 || len(d.queue) == 0 ||
		3*len(d.queue) > maxIovecs {
		d.mu.Unlock()
		return false
	}
	frames := d.queue
	d.queue, d.spare = d.spare[:0], nil
	d.flushing = true
	d.mu.Unlock()

	sc := inlineScratches.Get().(*inlineScratch)
	defer inlineScratches.Put(sc)
	vec, size := appendFrames(sc.vec[:0], frames)
	n, err := writevNow(d.raw, vec, &sc.iov)
	now := timeNow()
	if n > 0 {
		d.e.stats.bytesOut.Add(uint64(n))
	}

	d.mu.Lock()
	d.flushing = false
	d.lastWrite = now
	switch {
	case err != nil:
		d.mu.Unlock()
		clear(vec)
		sc.vec = vec[:0]
		releaseFrames(frames)
		d.fail(WriteError)
		return true
	case n == size:
		d.pending -= size
		for i := range frames {
			d.txs.stamp(frames[i].tx, now)
		}
		more := len(d.queue) > 0 || len(d.large) > 0
		d.mu.Unlock()
		releaseFrames(frames)
		d.mu.Lock()
		if d.spare == nil {
			d.spare = frames[:0]
		}
		d.mu.Unlock()
		if more {
			d.wake()
		}
	default:
		// The socket is full: d's writer finishes this write, then goes on in order.
		d.carry = &carry{rest: unwritten(vec, n), frames: frames, size: size}
		d.mu.Unlock()
		d.wake()
	}
	clear(vec)
	sc.vec = vec[:0]
	return true
}

// writeCarry is the writer finishing what writeInline left: it waits for the socket (with the
// write deadline) and then releases the frames. Called with d.mu held, it returns with d.mu not
// held, false when the connection failed.
func (c *conn) writeCarry() bool {
	cr := c.carry
	c.carry = nil
	c.flushing = true
	c.mu.Unlock()
	frames, size := cr.frames, cr.size
	c.t.SetWriteDeadline(timeNow().Add(c.e.cfg().WriteDeadline))
	n, err := c.t.WriteBuffers(&cr.rest)
	c.t.SetWriteDeadline(time.Time{})
	c.e.stats.bytesOut.Add(uint64(n))
	now := timeNow()
	c.mu.Lock()
	c.flushing = false
	c.pending -= size
	c.lastWrite = now
	if err == nil {
		for i := range frames {
			c.txs.stamp(frames[i].tx, now)
		}
	}
	c.mu.Unlock()
	releaseFrames(frames)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.fail(SlowConsumerDeadline)
		} else {
			c.fail(WriteError)
		}
		return false
	}
	return true
}

// appendFrames appends the pieces of frames to vec (head, shared body, end-line) and returns
// their size.
func appendFrames(vec net.Buffers, frames []outFrame) (net.Buffers, int) {
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
	return vec, size
}

func releaseFrames(frames []outFrame) {
	for i := range frames {
		putFrameBuf(frames[i].buf)
		frames[i] = outFrame{}
	}
}

// unwritten returns a copy of vec without its first n bytes.
func unwritten(vec net.Buffers, n int) net.Buffers {
	for len(vec) > 0 && n >= len(vec[0]) {
		n -= len(vec[0])
		vec = vec[1:]
	}
	rest := append(net.Buffers(nil), vec...)
	if len(rest) > 0 {
		rest[0] = rest[0][n:]
	}
	return rest
}
