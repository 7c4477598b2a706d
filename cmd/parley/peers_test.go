package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/parleychat/parley/internal/peers"
)

// requirePeer returns the path of a third-party tool, or skips the test with an install hint;
// with PARLEY_REQUIRE_PEERS=1 (as in CI) a missing tool fails the test instead.
func requirePeer(t *testing.T, tool, debianPackage string) string {
	t.Helper()
	return peers.Require(t, tool, debianPackage)
}

// freeSIPPort is freePort for a peer that also takes the next port (baresip listens for TLS on
// its SIP port + 1).
func freeSIPPort(t *testing.T) int { t.Helper(); return peers.FreePorts(t, 2) }

// freePort returns a port that was free on 127.0.0.1 for both UDP and TCP a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	return peers.FreePort(t)
}

// freeMediaPorts returns a port P with P to P+3 free for UDP: sipp binds its audio and video
// RTP and RTCP sockets there. It is taken below the kernel's ephemeral range (where every :0
// listener of the tests lands), so sipp's extra ports cannot fall on one of them.
func freeMediaPorts(t *testing.T) int {
	t.Helper()
	for p := 20000 + 4*rand.IntN(3000); ; p = 20000 + 4*rand.IntN(3000) {
		ok := true
		var held []net.PacketConn
		for i := 0; i < 4 && ok; i++ {
			c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p+i))
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return p
		}
	}
}
