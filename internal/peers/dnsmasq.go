package peers

import (
	"context"
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
