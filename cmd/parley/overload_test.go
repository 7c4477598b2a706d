package main

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/configs"
)

// TestOverloadRefusesPendingInvites: with sip.max_pending_invites reached (an INVITE whose 200
// was never ACKed holds the only place), the next INVITE gets an immediate 503 with
// Retry-After, and the refusal is counted. Over UDP the 503 is stateless, sent before parsing:
// it still carries the request's Via (with received and rport filled), From, Call-ID and CSeq,
// and a To tag. Once the place is free, INVITEs are taken again.
func TestOverloadRefusesPendingInvites(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.SIP.MaxPendingInvites = 1 })
	offer := string(newMSRPPeer(t).offer(t, "main"))
	lobby := "sip:lobby@example.net"

	held := dialRawSIP(t, d, "tcp")
	held.send(held.request("INVITE", lobby, "192.0.2.7:5999", nil, offer))
	first := held.response()
	if first.StatusCode != 200 {
		t.Fatalf("first INVITE: %d", first.StatusCode) // not ACKed yet: it stays pending
	}
	next := dialRawSIP(t, d, "tcp")
	next.send(next.request("INVITE", lobby, "192.0.2.8:5999", nil, offer))
	res := next.response()
	if res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
		t.Fatalf("INVITE over the pending limit: %d, Retry-After %v; want 503 with Retry-After", res.StatusCode, res.GetHeader("Retry-After"))
	}

	udp := dialRawSIP(t, d, "udp")
	invite := udp.request("INVITE", lobby, "192.0.2.9:5999", nil, offer)
	udp.send(invite)
	res = udp.response()
	tag, _ := res.To().Params.Get("tag")
	via := res.Via()
	received, _ := via.Params.Get("received")
	rport, _ := via.Params.Get("rport")
	if res.StatusCode != 503 || res.GetHeader("Retry-After") == nil || tag == "" || received != "127.0.0.1" ||
		rport != strings.TrimPrefix(udp.conn.LocalAddr().String(), "127.0.0.1:") ||
		!strings.Contains(invite, "Call-ID: "+res.CallID().Value()+"\r\n") || res.CSeq().Value() != "1 INVITE" {
		t.Fatalf("stateless 503 over UDP:\n%s", res)
	}
	if n := metricLine(t, d, "parley_sip_invites_shed_total"); n != "1" {
		t.Fatalf("parley_sip_invites_shed_total %q, want 1", n)
	}

	// The ACK frees the place (once its handler is done): INVITEs over UDP are taken again.
	ack := func(r *rawSIP, res *sip.Response, sentBy string) {
		toTag, _ := res.To().Params.Get("tag")
		r.send(r.request("ACK", res.Contact().Address.String(), sentBy, []string{"From:", "To:", "Call-ID:", "CSeq:"}, "",
			"From: "+res.From().Value(), "To: <"+lobby+">;tag="+toTag, "Call-ID: "+res.CallID().Value(), "CSeq: 1 ACK"))
	}
	ack(held, first, "192.0.2.7:5999")
	deadline := time.Now().Add(10 * time.Second)
	for {
		invite := udp.request("INVITE", lobby, "192.0.2.9:5999", nil, offer)
		udp.send(invite)
		res := udp.response()
		if res.StatusCode == 200 {
			// It now holds the only place. Its retransmission reaches its transaction: no 503.
			udp.send(invite)
			udp.conn.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
			buf := make([]byte, 65535)
			for {
				n, err := udp.conn.Read(buf)
				if err != nil {
					break // quiet: nothing but 200 retransmissions came
				}
				if strings.HasPrefix(string(buf[:n]), "SIP/2.0 503") {
					t.Fatalf("a retransmitted INVITE being answered was shed:\n%s", buf[:n])
				}
			}
			ack(udp, res, "192.0.2.9:5999")
			break
		}
		if res.StatusCode != 503 || time.Now().After(deadline) {
			t.Fatalf("INVITE after the ACK: %d %s", res.StatusCode, res.Reason)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
