package msrp

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// TestRelayedCopiesSurviveAFullSocket: copies relayed from one connection's reader (SendFrom,
// whose writes wait for the end of each read) to a recipient that does not read fill its
// socket and its queue; once it reads, everything arrives intact and in order.
func TestRelayedCopiesSurviveAFullSocket(t *testing.T) {
	const count = 8000
	body := func(i int) string { return fmt.Sprintf("%05d:%01800d", i, i) }
	rec := newRecorder()
	rec.msgs = make(chan *Message, count+8)
	var from, to *Session
	rec.reply = func(m *Message) error {
		if m.ContentType == "text/plain" {
			if err := to.SendFrom(from, "text/plain", m.Body); err != nil {
				t.Errorf("SendFrom: %v", err)
			}
		}
		return nil
	}
	srv, addr := server(t, Config{MaxPendingBytes: 64 << 20})
	from, to = srv.NewSession(rec), srv.NewSession(rec)
	to.SetRemotePath([]URI{{Host: "127.0.0.1", Port: 40001, SessionID: "b", Transport: "tcp"}})

	b := dialRaw(t, addr, false) // reads nothing yet, into a small window
	b.c.(*net.TCPConn).SetReadBuffer(64 << 10)
	b.send(sendTo(to, "bind", "", ""))
	a := dialRaw(t, addr, true)
	a.send(sendTo(from, "bind", "", ""))
	a.expectResponse("bind", 200)
	for i := 0; i < count; i++ {
		a.send(sendTo(from, fmt.Sprint("t", i), "text/plain", body(i)))
		a.expectResponse(fmt.Sprint("t", i), 200)
	}
	// Now b reads: the bind's 200, then every copy in order.
	parser := NewParser(0, 0)
	buf := make([]byte, 64<<10)
	next := 0
	for next < count {
		b.c.SetReadDeadline(time.Now().Add(failsafe))
		n, err := b.c.Read(buf)
		if err != nil {
			t.Fatalf("after %d copies: %v", next, err)
		}
		perr := parser.Parse(buf[:n], func(m *Message, ferr error) error {
			if ferr != nil {
				t.Fatalf("copy %d: %v", next, ferr)
			}
			if m.Method != "SEND" {
				return nil
			}
			if got := string(m.Body); got != body(next) {
				t.Fatalf("copy %d: %.20q…, want %.20q…", next, got, body(next))
			}
			next++
			// Answer, or the copies' transactions would time out.
			out := (&Message{TransactionID: m.TransactionID, StatusCode: 200, ToPath: m.FromPath[:1], FromPath: m.ToPath}).AppendTo(nil)
			if _, err := b.c.Write(out); err != nil {
				t.Fatal(err)
			}
			return nil
		})
		if perr != nil {
			t.Fatalf("stream broken after %d copies: %v", next, perr)
		}
	}
}
