package msrp

import (
	"errors"
	"os"
	"sync/atomic"
	"time"
)

// Parking the reader of a quiet connection.
//
// A member who has joined and says nothing still owns a goroutine parked in Read, and with it a
// stack of 4 KiB or more that the runtime never shrinks while the goroutine waits (it shrinks
// only a stack less than a quarter used). Across ten thousand idle members that is the largest
// single cost of a member. So, on plain TCP, the janitor asks the reader of a connection that has
// read nothing for readerParkAfter to step out of Read (a read deadline in the past); between
// frames the reader registers the socket with the process's parking poller (one epoll set, one
// goroutine: park_linux.go) and ends. When the socket becomes readable, or the connection is
// failed, a new reader starts where the old one stopped: the parser and any reassembly in progress
// are the connection's, not the goroutine's. TLS and WebSocket connections keep their readers,
// since their transports may hold decrypted bytes the socket no longer shows.

// readerParkAfter is how long a connection reads nothing before its reader is parked.
var readerParkAfter = 5 * time.Second

const (
	readerRunning int32 = iota
	readerParked
)

// parkState is the reader's side of parking, on the conn.
type parkState struct {
	state     atomic.Int32  // readerRunning or readerParked
	requested atomic.Bool   // the janitor set a past read deadline to make the reader park
	reads     atomic.Uint64 // reads so far, so that the janitor can tell a quiet connection
	seen      uint64        // janitor only: reads at its last look
	quietFrom time.Time     // janitor only: when reads last changed
	token     uint32        // the connection's key in the poller, fixed at its first park
}

// parkIfQuiet, from the janitor, asks the reader of a connection that has read nothing for
// readerParkAfter to park.
func (c *conn) parkIfQuiet(now time.Time) {
	if c.raw == nil || !parkingAvailable() || c.park.state.Load() != readerRunning || c.park.requested.Load() {
		return
	}
	if r := c.park.reads.Load(); r != c.park.seen || c.park.quietFrom.IsZero() {
		c.park.seen, c.park.quietFrom = r, now
		return
	}
	if now.Sub(c.park.quietFrom) < readerParkAfter {
		return
	}
	d, ok := c.t.(interface{ SetReadDeadline(time.Time) error })
	if !ok {
		return
	}
	c.park.requested.Store(true)
	c.park.quietFrom = now        // a reader inside a frame declines: ask again after another quiet spell
	d.SetReadDeadline(time.Now()) // wall clock: the deadline is the kernel's poller's, not timeNow's
}

// readTimedOut handles a read that ended at a deadline. It returns true when the reader has parked
// (its goroutine must end without tearing the connection down), false to read on. The deadline is
// cleared either way, so that the next reader, or this one, reads on.
func (c *conn) readTimedOut() (parked bool) {
	c.t.(interface{ SetReadDeadline(time.Time) error }).SetReadDeadline(time.Time{})
	if !c.park.requested.Swap(false) || c.parser.InFrame() || c.isClosed() {
		return false
	}
	// Between frames the parser holds nothing but caches: the next reader makes a new one.
	p := c.parser
	c.parser = nil
	if c.parkReader() {
		return true
	}
	c.parser = p
	return false
}

// resumeReader starts a new reader for a parked connection: the socket became readable or the
// connection failed. Only one caller wins.
func (c *conn) resumeReader() {
	if !c.park.state.CompareAndSwap(readerParked, readerRunning) {
		return
	}
	c.forgetParked()
	c.e.stats.parkedReaders.Add(-1)
	c.e.wg.Add(1)
	go c.readLoop()
}

// isDeadline reports whether a read ended at its deadline.
func isDeadline(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
