package msrp

import (
	"testing"
	"time"
)

// What the tests of package msrp_test reach inside the package, and nothing more.

// Conn is a connection of the endpoint.
type Conn = conn

// BoundConn is the connection s is bound to; nil while it is not.
func (s *Session) BoundConn() *Conn { return s.boundConn() }

// Writing reports whether a writer goroutine runs for c.
func (c *conn) Writing() bool { return c.writing.Load() }

// Fail fails c and every session on it with reason, as the endpoint does.
func (c *conn) Fail(reason CloseReason) { c.fail(reason) }

// ExpireTransactions fails the transactions of c older than timeout at now.
func (c *conn) ExpireTransactions(now time.Time, timeout time.Duration) {
	c.expireTransactions(now, timeout)
}

// Cork holds what c writes until Uncork.
func (c *conn) Cork() { c.cork() }

// Uncork undoes Cork.
func (c *conn) Uncork() { c.uncork() }

// LimitLoopback is cfg with MaxConnsPerIP applied to loopback peers too.
func LimitLoopback(cfg Config) Config {
	cfg.limitLoopback = true
	return cfg
}

// ParkingAvailable reports whether quiet readers park on this system.
var ParkingAvailable = parkingAvailable

// SetReaderParkAfter makes quiet readers park after d until t ends.
func SetReaderParkAfter(t testing.TB, d time.Duration) {
	old := readerParkAfter
	readerParkAfter = d
	t.Cleanup(func() { readerParkAfter = old })
}

// MatchFingerprint is matchFingerprint.
var MatchFingerprint = matchFingerprint
