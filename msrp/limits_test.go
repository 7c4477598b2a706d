package msrp_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/msrptest"
)

// TestConnectionLimits: each limit closes the connection, counts it, and ends nothing else.
func TestConnectionLimits(t *testing.T) {
	tests := []struct {
		name  string
		cfg   msrp.Config
		setup func(t *testing.T, srv *msrp.Endpoint, addr string) *msrptest.Peer // returns the peer that must be closed
		stat  func(msrp.Stats) uint64
	}{
		{"max conns per IP", msrp.LimitLoopback(msrp.Config{MaxConnsPerIP: 2}), func(t *testing.T, srv *msrp.Endpoint, addr string) *msrptest.Peer {
			s := srv.NewSession(newRecorder())
			a, b := dial(t, addr, true), dial(t, addr, true)
			// Both are accepted: a round trip on each proves it.
			a.Write(sendTo(s, "a", "", ""))
			a.ExpectNext(t, "a", 200)
			b.Write(sendTo(s, "b", "", ""))
			b.ExpectNext(t, "b", 506)
			return dial(t, addr, true)
		}, func(s msrp.Stats) uint64 { return s.ConnsRejected }},
		{"max conns", msrp.Config{MaxConns: 1}, func(t *testing.T, srv *msrp.Endpoint, addr string) *msrptest.Peer {
			s := srv.NewSession(newRecorder())
			a := dial(t, addr, true)
			a.Write(sendTo(s, "a", "", ""))
			a.ExpectNext(t, "a", 200)
			return dial(t, addr, true)
		}, func(s msrp.Stats) uint64 { return s.ConnsRejected }},
		{"frame head trickled", msrp.Config{HeaderTimeout: 30 * time.Millisecond}, func(t *testing.T, srv *msrp.Endpoint, addr string) *msrptest.Peer {
			s := srv.NewSession(newRecorder())
			p := dial(t, addr, true)
			p.Write(sendTo(s, "b", "", ""))
			p.ExpectNext(t, "b", 200)
			if _, err := p.Conn.Write([]byte("MSRP c SEND\r\nTo-Pa")); err != nil {
				t.Fatal(err)
			}
			return p
		}, func(s msrp.Stats) uint64 { return s.HeaderTimeouts }},
		{"unbound connection", msrp.Config{BindTimeout: 30 * time.Millisecond}, func(t *testing.T, srv *msrp.Endpoint, addr string) *msrptest.Peer {
			return dial(t, addr, true)
		}, func(s msrp.Stats) uint64 { return s.UnboundClosed }},
		{"idle connection", msrp.Config{IdleTimeout: 30 * time.Millisecond}, func(t *testing.T, srv *msrp.Endpoint, addr string) *msrptest.Peer {
			s := srv.NewSession(newRecorder())
			p := dial(t, addr, true)
			p.Write(sendTo(s, "b", "", ""))
			p.ExpectNext(t, "b", 200)
			s.Close(msrp.Kicked)
			return p
		}, func(s msrp.Stats) uint64 { return s.IdleClosed }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, addr := server(t, tt.cfg)
			p := tt.setup(t, srv, addr)
			p.AwaitClose(t)
			if n := tt.stat(srv.Stats()); n != 1 {
				t.Fatalf("counter %d, want 1", n)
			}
		})
	}
}

// TestConnectionLimits_BoundConnectionStays: a connection with a bound session is neither unbound nor idle.
func TestConnectionLimits_BoundConnectionStays(t *testing.T) {
	rec := newRecorder()
	srv, s, p := boundPair(t, msrp.Config{BindTimeout: 20 * time.Millisecond, IdleTimeout: 20 * time.Millisecond}, rec)
	// Outlive both timeouts by waiting for an unrelated session's bind timeout, several janitor rounds.
	other := srv.NewSession(rec)
	if ev := rec.nextClose(t); ev.s != other || ev.reason != msrp.BindTimeout {
		t.Fatalf("closed %v", ev.reason)
	}
	for i := 0; i < 3; i++ {
		other = srv.NewSession(rec)
		rec.nextClose(t)
	}
	p.Write(sendTo(s, "still", "", ""))
	p.ExpectNext(t, "still", 200)
}

// TestConnectionFailureFailsSessions: when a connection fails, every session on it gets SessionClosed with
// the reason (RFC 4975 §5.4), and only those sessions.
func TestConnectionFailureFailsSessions(t *testing.T) {
	tests := []struct {
		name   string
		breakC func(t *testing.T, p *msrptest.Peer)
		reason msrp.CloseReason
	}{
		{"peer closes", func(t *testing.T, p *msrptest.Peer) { p.Conn.Close() }, msrp.PeerClosed},
		{"garbage", func(t *testing.T, p *msrptest.Peer) { write(t, p, "HELLO\n\n") }, msrp.ProtocolViolation},
		{"header block too long", func(t *testing.T, p *msrptest.Peer) {
			write(t, p, "MSRP abcd SEND\nX: "+string(make([]byte, 20<<10))+"\n")
		}, msrp.ProtocolViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			srv, addr := server(t, msrp.Config{})
			a, b, other := srv.NewSession(rec), srv.NewSession(rec), srv.NewSession(rec)
			p, q := dial(t, addr, true), dial(t, addr, true)
			p.Write(sendTo(a, "a", "", ""))
			p.Write(sendTo(b, "b", "", ""))
			p.ExpectNext(t, "a", 200)
			p.ExpectNext(t, "b", 200)
			q.Write(sendTo(other, "o", "", ""))
			q.ExpectNext(t, "o", 200)
			tt.breakC(t, p)
			got := map[*msrp.Session]msrp.CloseReason{}
			for len(got) < 2 {
				ev := rec.nextClose(t)
				got[ev.s] = ev.reason
			}
			if got[a] != tt.reason || got[b] != tt.reason {
				t.Fatalf("reasons %v %v, want %v", got[a], got[b], tt.reason)
			}
			q.Write(sendTo(other, "o2", "", ""))
			q.ExpectNext(t, "o2", 200)
		})
	}
}

// TestIdleWriterRetires: a connection that has been quiet for a janitor period has no writer goroutine
// (an idle member costs one goroutine); the next frame queued starts one again, in order.
func TestIdleWriterRetires(t *testing.T) {
	rec := newRecorder()
	_, s, p := boundPair(t, msrp.Config{BindTimeout: 20 * time.Millisecond}, rec)
	c := s.BoundConn()
	writing := func() bool { return c.Writing() }
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
			m := p.Next(t)
			if want := fmt.Sprintf("r%d-%d", round, i); m.Method != "SEND" || string(m.Body) != want {
				t.Fatalf("round %d: got %s %q, want SEND %q", round, m.Method, m.Body, want)
			}
		}
		p.Write(sendTo(s, fmt.Sprintf("in%d", round), "", ""))
		p.ExpectNext(t, fmt.Sprintf("in%d", round), 200)
	}
}
