package msrp_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/parleychat/parley/msrp"
)

// TestRelayedCopiesSurviveAFullSocket: copies relayed from one connection's reader (SendFrom,
// whose writes wait for the end of each read) to a recipient that does not read fill its
// socket and its queue; once it reads, everything arrives intact and in order.
func TestRelayedCopiesSurviveAFullSocket(t *testing.T) {
	const count = 8000
	body := func(i int) string { return fmt.Sprintf("%05d:%01800d", i, i) }
	rec := newRecorder()
	rec.msgs = make(chan *msrp.Message, count+8)
	var from, to *msrp.Session
	rec.reply = func(m *msrp.Message) error {
		if m.ContentType == "text/plain" {
			if err := to.SendFrom(from, "text/plain", m.Body); err != nil {
				t.Errorf("SendFrom: %v", err)
			}
		}
		return nil
	}
	srv, addr := server(t, msrp.Config{MaxPendingBytes: 64 << 20})
	from, to = srv.NewSession(rec), srv.NewSession(rec)
	to.SetRemotePath([]msrp.URI{{Host: "127.0.0.1", Port: 40001, SessionID: "b", Transport: "tcp"}})

	b := dial(t, addr, false) // reads nothing yet, into a small window
	b.Conn.(*net.TCPConn).SetReadBuffer(64 << 10)
	b.Write(sendTo(to, "bind", "", ""))
	a := dial(t, addr, true)
	a.Write(sendTo(from, "bind", "", ""))
	a.ExpectNext(t, "bind", 200)
	for i := 0; i < count; i++ {
		a.Write(sendTo(from, fmt.Sprint("t", i), "text/plain", body(i)))
		a.ExpectNext(t, fmt.Sprint("t", i), 200)
	}
	// Now b reads: the bind's 200, then every copy in order.
	parser := msrp.NewParser(0, 0)
	buf := make([]byte, 64<<10)
	next := 0
	for next < count {
		b.Conn.SetReadDeadline(time.Now().Add(failsafe))
		n, err := b.Conn.Read(buf)
		if err != nil {
			t.Fatalf("after %d copies: %v", next, err)
		}
		perr := parser.Parse(buf[:n], func(m *msrp.Message, ferr error) error {
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
			out := (&msrp.Message{TransactionID: m.TransactionID, StatusCode: 200, ToPath: m.FromPath[:1], FromPath: m.ToPath}).AppendTo(nil)
			if _, err := b.Conn.Write(out); err != nil {
				t.Fatal(err)
			}
			return nil
		})
		if perr != nil {
			t.Fatalf("stream broken after %d copies: %v", next, perr)
		}
	}
}
