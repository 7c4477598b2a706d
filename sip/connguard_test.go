package sip

import "testing"

// TestGuardFraming: the stream scan knows when a message is in progress, whatever the reads'
// boundaries, so that only a message that does not complete meets the deadline.
func TestGuardFraming(t *testing.T) {
	msg := "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP x\r\nl: 5\r\n\r\nhello" +
		"\r\n\r\n" + // keep-alive between messages
		"BYE sip:a@b SIP/2.0\r\nContent-Length:  0 \r\n\r\n" +
		"MESSAGE sip:a@b SIP/2.0\r\nCONTENT-LENGTH: 3\r\n\r\nabc"
	for _, step := range []int{1, 2, 7, len(msg)} {
		c := &guardedConn{state: idle}
		for i := 0; i < len(msg); i += step {
			c.scan([]byte(msg[i:min(i+step, len(msg))]))
		}
		if c.state != idle {
			t.Fatalf("reads of %d bytes: state %d after whole messages, want idle", step, c.state)
		}
		c.scan([]byte("INVITE sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nabc"))
		if c.state != inBody || c.bodyLeft != 7 {
			t.Fatalf("reads of %d bytes: state %d, %d body bytes left; want a body of 7 more", step, c.state, c.bodyLeft)
		}
	}
	c := &guardedConn{state: idle}
	c.scan([]byte("O"))
	if c.state != inHead {
		t.Fatal("the first byte of a message does not start it")
	}
}

func TestGuardAdmit(t *testing.T) {
	s := &Server{cfg: Config{Limits: Limits{MaxConnsPerIP: 2, MaxConns: 4}}}
	s.trusted, _ = parseTrustList([]string{"192.0.2.9"})
	g := &guard{s: s, perIP: map[string]int{}}
	for i, c := range []struct{ ip, want string }{
		{"192.0.2.1", ""}, {"192.0.2.1", ""}, {"192.0.2.1", "max_conns_per_ip"},
		{"192.0.2.9", ""}, {"192.0.2.9", ""}, // a trusted proxy: no per-IP cap
		{"192.0.2.9", "max_conns"}, {"192.0.2.2", "max_conns"},
	} {
		if got := g.admit(c.ip); got != c.want {
			t.Fatalf("%d: %s admitted %q, want %q", i, c.ip, got, c.want)
		}
	}
	g.release("192.0.2.1")
	if got := g.admit("192.0.2.2"); got != "" {
		t.Fatalf("after a release: %q", got)
	}
}
