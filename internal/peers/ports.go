package peers

import (
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// Ports handed to a third-party peer are taken below the kernel's ephemeral range (32768 and up
// by default), where every :0 listener and every outgoing connection of the tests running
// beside lands: a peer started on them a little later does not find one taken. Peers' own
// ports come from one range and sipp's media ports from another, so the two never meet.
const (
	peerPortsFrom, peerPortsTo   = 10000, 20000
	mediaPortsFrom, mediaPortsTo = 20000, 32000
)

// FreePort returns a port that was free on 127.0.0.1 for both UDP and TCP a moment ago.
func FreePort(t testing.TB) int { t.Helper(); return FreePorts(t, 1) }

// FreePorts returns P such that P to P+n-1 were free on 127.0.0.1 for both UDP and TCP a moment
// ago.
func FreePorts(t testing.TB, n int) int {
	t.Helper()
	return freeIn(t, peerPortsFrom, peerPortsTo, n, true)
}

// FreeUDPPorts returns P such that P to P+n-1 were free on 127.0.0.1 for UDP a moment ago: where
// sipp binds its RTP and RTCP sockets.
func FreeUDPPorts(t testing.TB, n int) int {
	t.Helper()
	return freeIn(t, mediaPortsFrom, mediaPortsTo, n, false)
}

func freeIn(t testing.TB, from, to, n int, tcp bool) int {
	t.Helper()
	for range 10000 {
		if p := from + rand.IntN(to-from-n); portsFree(p, n, tcp) {
			return p
		}
	}
	t.Fatalf("no %d free ports in a row between %d and %d", n, from, to)
	return 0
}

func portsFree(p, n int, tcp bool) bool {
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range n {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p+i))
		if tcp {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return false
			}
			held = append(held, l)
		}
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		held = append(held, u)
	}
	return true
}
