package main

import (
	"testing"

	"github.com/parleychat/parley/configs"
)

// TestOverloadRefusesPendingInvites: with sip.max_pending_invites reached (an INVITE whose 200
// was never ACKed holds the only place), the next INVITE gets an immediate 503 with
// Retry-After, and the refusal is counted.
func TestOverloadRefusesPendingInvites(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.SIP.MaxPendingInvites = 1 })
	offer := string(newMSRPPeer(t).offer(t, "main"))
	lobby := "sip:lobby@example.net"

	held := dialRawSIP(t, d, "tcp")
	held.send(held.request("INVITE", lobby, "192.0.2.7:5999", nil, offer))
	if res := held.response(); res.StatusCode != 200 {
		t.Fatalf("first INVITE: %d", res.StatusCode) // never ACKed: it stays pending
	}
	next := dialRawSIP(t, d, "tcp")
	next.send(next.request("INVITE", lobby, "192.0.2.8:5999", nil, offer))
	res := next.response()
	if res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
		t.Fatalf("INVITE over the pending limit: %d, Retry-After %v; want 503 with Retry-After", res.StatusCode, res.GetHeader("Retry-After"))
	}
}
