package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/internal/peers"
)

// startDNS runs dnsmasq on a free loopback port, answering for the .test domain only from the
// given dnsmasq options (--srv-host, --host-record; ready.test among them); it returns the
// server's host:port.
func startDNS(t *testing.T, records ...string) string {
	t.Helper()
	addr, _ := peers.DNS(t, records...)
	return addr
}

// TestDialOutFindsTheNextHopByDNS (RFC 3263 §4): a dial-out to a domain with no port takes the
// domain's SRV records in priority order, failing over from an unreachable target to the next;
// a URI with a port uses A records only, even where SRV records exist.
func TestDialOutFindsTheNextHopByDNS(t *testing.T) {
	carol, dave := newInvitee(t, "carol"), newInvitee(t, "dave")
	dead := freePort(t) // nothing listens there: connections are refused
	dns := startDNS(t,
		"--host-record=ready.test,127.0.0.1",
		"--host-record=dead.example.test,127.0.0.1",
		"--host-record=carol.example.test,127.0.0.1",
		"--host-record=dave.example.test,127.0.0.1",
		// carol's domain: the preferred target is down, the next one is her agent.
		fmt.Sprintf("--srv-host=_sip._tcp.example.test,dead.example.test,%d,1,10", dead),
		fmt.Sprintf("--srv-host=_sip._tcp.example.test,carol.example.test,%d,2,10", carol.uri.Port),
		// SRV for dave's host that must not be used, since his URI has a port.
		fmt.Sprintf("--srv-host=_sip._tcp.dave.example.test,dead.example.test,%d,1,10", dead),
	)
	d := startTestDaemon(t, func(c *configs.Config) { c.SIP.DNSServer = dns })

	d.sip.Invite("lobby", "sip:carol@example.test")
	select {
	case inv := <-carol.invites:
		if inv.Recipient.Host != "example.test" || inv.Transport() != "TCP" {
			t.Fatalf("carol got %s over %s", inv.Recipient.String(), inv.Transport())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the dial-out to sip:carol@example.test did not reach carol through SRV")
	}

	d.sip.Invite("lobby", fmt.Sprintf("sip:dave@dave.example.test:%d;transport=tcp", dave.uri.Port))
	select {
	case inv := <-dave.invites:
		if inv.Recipient.Host != "dave.example.test" {
			t.Fatalf("dave got %s", inv.Recipient.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the dial-out to dave's URI with a port did not reach him through his A record")
	}
}

// TestOutboundProxyFoundByDNS: an outbound proxy named by a domain is located by its SRV records
// too; the dial-out goes to it with a Route, and the Request-URI stays the target's.
func TestOutboundProxyFoundByDNS(t *testing.T) {
	proxy := newInvitee(t, "proxy") // stands in for the proxy: it answers what it receives
	dns := startDNS(t,
		"--host-record=ready.test,127.0.0.1",
		"--host-record=edge.example.test,127.0.0.1",
		fmt.Sprintf("--srv-host=_sip._tcp.proxy.example.test,edge.example.test,%d,1,10", proxy.uri.Port),
	)
	d := startTestDaemon(t, func(c *configs.Config) {
		c.SIP.DNSServer = dns
		c.SIP.OutboundProxy = "sip:proxy.example.test;transport=tcp"
	})
	d.sip.Invite("lobby", "sip:dora@elsewhere.example")
	select {
	case inv := <-proxy.invites:
		route := inv.Route()
		if inv.Recipient.String() != "sip:dora@elsewhere.example" || route == nil || route.Address.Host != "proxy.example.test" {
			t.Fatalf("the proxy got %s with Route %v", inv.Recipient.String(), route)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the dial-out did not reach the outbound proxy found through SRV")
	}
}
