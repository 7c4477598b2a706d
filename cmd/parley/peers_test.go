package main

import (
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
// RTP and RTCP sockets there.
func freeMediaPorts(t *testing.T) int { t.Helper(); return peers.FreeUDPPorts(t, 4) }
