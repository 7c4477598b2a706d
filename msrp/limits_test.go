package msrp

import (
	"fmt"
	"testing"
	"time"
)

// TestConnectionLimits: each limit closes the connection, counts it, and ends nothing else.
func TestConnectionLimits(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		setup func(t *testing.T, srv *Endpoint, addr string) *rawPeer // returns the peer that must be closed
		stat  func(Stats) uint64
	}{
		{"max conns per IP", Config{MaxConnsPerIP: 2, limitLoopback: true}, func(t *testing.T, srv *Endpoint, addr string) *rawPeer {
			s := srv.NewSession(newRecorder())
			a, b := dialRaw(t, addr, true), dialRaw(t, addr, true)
			// Both are accepted: a round trip on each proves it.
			a.send(sendTo(s, "a", "", ""))
			a.expectResponse("a", 200)
			b.send(sendTo(s, "b", "", ""))
			b.expectResponse("b", 506)
			return dialRaw(t, addr, true)
		}, func(s Stats) uint64 { return s.ConnsRejected }},
		{"max conns", Config{MaxConns: 1}, func(t *testing.T, srv *Endpoint, addr string) *rawPeer {
			s := srv.NewSession(newRecorder())
			a := dialRaw(t, addr, true)
			a.send(sendTo(s, "a", "", ""))
			a.expectResponse("a", 200)
			return dialRaw(t, addr, true)
		}, func(s Stats) uint64 { return s.ConnsRejected }},
		{"frame head trickled", Config{HeaderTimeout: 30 * time.Millisecond}, func(t *testing.T, srv *Endpoint, addr string) *rawPeer {
			s := srv.NewSession(newRecorder())
			p := dialRaw(t, addr, true)
			p.send(sendTo(s, "b", "", ""))
			p.expectResponse("b", 200)
			if _, err := p.c.Write([]byte("MSRP c SEND\r\nTo-Pa")); err != nil {
				t.Fatal(err)
			}
			return p
		}, func(s Stats) uint64 { return s.HeaderTimeouts }},
		{"unbound connection", Config{BindTimeout: 30 * time.Millisecond}, func(t *testing.T, srv *Endpoint, addr string) *rawPeer {
			return dialRaw(t, addr, true)
		}, func(s Stats) uint64 { return s.UnboundClosed }},
		{"idle connection", Config{IdleTimeout: 30 * time.Millisecond}, func(t *testing.T, srv *Endpoint, addr string) *rawPeer {
			s := srv.NewSession(newRecorder())
			p := dialRaw(t, addr, true)
			p.send(sendTo(s, "b", "", ""))
			p.expectResponse("b", 200)
			s.Close(Kicked)
			return p
		}, func(s Stats) uint64 { return s.IdleClosed }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, addr := server(t, tt.cfg)
			p := tt.setup(t, srv, addr)
			select {
			case <-p.eof:
			case <-time.After(failsafe):
				t.Fatal("connection not closed")
			}
			if n := tt.stat(srv.Stats()); n != 1 {
				t.Fatalf("counter %d, want 1", n)
			}
		})
	}
}

// TestConnectionLimits_BoundConnectionStays: a connection with a bound session is neither unbound nor idle.
func TestConnectionLimits_BoundConnectionStays(t *testing.T) {
	rec := newRecorder()
	srv, s, p := boundPair(t, Config{BindTimeout: 20 * time.Millisecond, IdleTimeout: 20 * time.Millisecond}, rec)
	// Outlive both timeouts by waiting for an unrelated session's bind timeout, several janitor rounds.
	other := srv.NewSession(rec)
	if ev := rec.nextClose(t); ev.s != other || ev.reason != BindTimeout {
		t.Fatalf("closed %v", ev.reason)
	}
	for i := 0; i < 3; i++ {
		other = srv.NewSession(rec)
		rec.nextClose(t)
	}
	p.send(sendTo(s, "still", "", ""))
	p.expectResponse("still", 200)
}

// TestConnectionFailureFailsSessions: when a connection fails, every session on it gets SessionClosed with
// the reason (RFC 4975 §5.4), and only those sessions.
func TestConnectionFailureFailsSessions(t *testing.T) {
	tests := []struct {
		name   string
		breakC func(p *rawPeer)
		reason CloseReason
	}{
		{"peer closes", func(p *rawPeer) { p.c.Close() }, PeerClosed},
		{"garbage", func(p *rawPeer) { p.write("HELLO\n\n") }, ProtocolViolation},
		{"header block too long", func(p *rawPeer) { p.write("MSRP abcd SEND\nX: " + string(make([]byte, 20<<10)) + "\n") }, ProtocolViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			srv, addr := server(t, Config{})
			a, b, other := srv.NewSession(rec), srv.NewSession(rec), srv.NewSession(rec)
			p, q := dialRaw(t, addr, true), dialRaw(t, addr, true)
			p.send(sendTo(a, "a", "", ""))
			p.send(sendTo(b, "b", "", ""))
			p.expectResponse("a", 200)
			p.expectResponse("b", 200)
			q.send(sendTo(other, "o", "", ""))
			q.expectResponse("o", 200)
			tt.breakC(p)
			got := map[*Session]CloseReason{}
			for len(got) < 2 {
				ev := rec.nextClose(t)
				got[ev.s] = ev.reason
			}
			if got[a] != tt.reason || got[b] != tt.reason {
				t.Fatalf("reasons %v %v, want %v", got[a], got[b], tt.reason)
			}
			q.send(sendTo(other, "o2", "", ""))
			q.expectResponse("o2", 200)
		})
	}
}

// TestIdleWriterRetires: a connection that has been quiet for a janitor period has no writer goroutine
// (an idle member costs one goroutine); the next frame queued starts one again, in order.
func TestIdleWriterRetires(t *testing.T) {
	rec := newRecorder()
	_, s, p := boundPair(t, Config{BindTimeout: 20 * time.Millisecond}, rec)
	c := s.boundConn()
	writing := func() bool { return c.writing.Load() }
	for round := 0; round < 3; round++ {
		deadline := time.Now().Add(2 * time.Second)
		for writing() {
			if time.Now().After(deadline) {
				t.Fatal("the writer of a quiet connection never retired")
			}
			time.Sleep(5 * time.Millisecond)
		}
		for i := 0; i < 3; i++ {
			if err := s.Send("text/plain", []byte(fmt.Sprintf("r%d-%d", round, i))); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 3; i++ {
			m := p.next()
			if want := fmt.Sprintf("r%d-%d", round, i); m.Method != "SEND" || string(m.Body) != want {
				t.Fatalf("round %d: got %s %q, want SEND %q", round, m.Method, m.Body, want)
			}
		}
		p.send(sendTo(s, fmt.Sprintf("in%d", round), "", ""))
		p.expectResponse(fmt.Sprintf("in%d", round), 200)
	}
}
