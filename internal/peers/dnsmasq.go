package peers

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
	"time"
)

// DNS runs dnsmasq on a free loopback port, answering for the .test domain only from the given
// dnsmasq options (--srv-host, --host-record), and returns the server's host:port once it
// resolves ready.test (which the records must name). Without dnsmasq the test is skipped (or fails under PARLEY_REQUIRE_PEERS=1).
func DNS(t testing.TB, records ...string) (string, *Process) {
	t.Helper()
	bin := Require(t, "dnsmasq", "dnsmasq-base")
	port := FreePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := append([]string{"--keep-in-foreground", "--conf-file=/dev/null", "--port=" + strconv.Itoa(port),
		"--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts", "--pid-file",
		"--local=/test/", "--log-facility=-", "--log-queries"}, records...)
	p := Start(t, bin, args...)
	r := Resolver(addr)
	p.WaitReady(t, "answering on "+addr, 10*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := r.LookupHost(ctx, "ready.test")
		return err == nil
	})
	return addr, p
}

// Resolver is a resolver that asks only the DNS server at addr.
func Resolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// FreePort returns a port that was free on 127.0.0.1 for both UDP and TCP a moment ago.
func FreePort(t testing.TB) int { t.Helper(); return FreePorts(t, 1) }

// FreePorts returns P such that P to P+n-1 were free on 127.0.0.1 for both UDP and TCP a moment
// ago. They are taken between 10000 and 20000, below the kernel's ephemeral range (32768 and
// up by default) where every :0 listener and every outgoing connection of the tests running
// beside lands: a peer started on them a little later does not find one taken. (sipp's media
// ports are taken from 20000 up.)
func FreePorts(t testing.TB, n int) int {
	t.Helper()
	for range 10000 {
		p := 10000 + rand.IntN(10000-n)
		if portsFree(p, n) {
			return p
		}
	}
	t.Fatalf("no %d free ports in a row between 10000 and 20000", n)
	return 0
}

func portsFree(p, n int) bool {
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range n {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p+i))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		held = append(held, l)
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		held = append(held, u)
	}
	return true
}
