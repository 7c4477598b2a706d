package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// requirePeer returns the path of a third-party tool, or skips the test with an install hint;
// with PARLEY_REQUIRE_PEERS=1 (as in CI) a missing tool fails the test instead.
func requirePeer(t *testing.T, tool, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err == nil {
		return path
	}
	if os.Getenv("PARLEY_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s not found and PARLEY_REQUIRE_PEERS=1: apt-get install %s", tool, debianPackage)
	}
	t.Skipf("%s not found: apt-get install %s (or set PARLEY_REQUIRE_PEERS=1 to make this a failure)", tool, debianPackage)
	return ""
}

// freePort returns a port that was free on 127.0.0.1 for both UDP and TCP a moment ago.
// freeSIPPort is freePort for a peer that also takes the next port (baresip listens for TLS on
// its SIP port + 1).
func freeSIPPort(t *testing.T) int {
	t.Helper()
	for {
		p := freePort(t)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p+1))
		l.Close()
		if err == nil {
			u.Close()
			return p
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", l.Addr().String())
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
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
