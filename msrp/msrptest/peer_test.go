package msrptest_test

import (
	"net"
	"testing"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/msrptest"
)

// pair connects two peers over loopback TCP, the accepting side's connection recorded.
func pair(t *testing.T) (dialer, acceptor *msrptest.Peer, rec *msrptest.RecordingListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	rec = msrptest.RecordListener(ln)
	acceptor = msrptest.New(t)
	acceptor.Local.Port = ln.Addr().(*net.TCPAddr).Port
	dialer = msrptest.New(t)
	accepted := make(chan struct{})
	go func() { acceptor.Accept(t, rec); close(accepted) }()
	dialer.Dial(t, []msrp.URI{acceptor.Local}, nil)
	<-accepted
	acceptor.Remote = []msrp.URI{dialer.Local}
	return dialer, acceptor, rec
}

func TestPeerAnswersAndReassembles(t *testing.T) {
	a, b, rec := pair(t)
	b.Reassemble = true // before any frame arrives
	a.Bind(t)
	if f := b.NextRequest(t); f.Method != "SEND" || len(f.Body) != 0 || f.FromPath[0].SessionID != a.Local.SessionID {
		t.Fatalf("bind arrived as %q", f.AppendTo(nil))
	}

	// A chunked SEND arrives whole, once.
	mid := msrp.NewMessageID()
	a.Write(&msrp.Message{Method: "SEND", MessageID: mid, ContentType: "text/plain", Body: []byte("hel"), Flag: msrp.FlagMore,
		ByteRange: msrp.ByteRange{Start: 1, End: 3, Total: 5}})
	a.Write(&msrp.Message{Method: "SEND", MessageID: mid, ContentType: "text/plain", Body: []byte("lo"),
		ByteRange: msrp.ByteRange{Start: 4, End: 5, Total: 5}})
	if f := b.NextRequest(t); string(f.Body) != "hello" || f.MessageID != mid {
		t.Fatalf("reassembled %q (%s), want hello", f.Body, f.MessageID)
	}
	if n := b.SendBytes.Load(); n != 5 {
		t.Fatalf("SendBytes %d, want 5", n)
	}

	b.Refuse.Store(403)
	tid := a.Send("text/plain", []byte("no"))
	a.Expect(t, tid, 403)

	b.Report(mid, 5, 200, "OK")
	if f := a.Await(t, "REPORT", func(m *msrp.Message) bool { return m.Method == "REPORT" }); f.Status == nil || f.Status.Code != 200 || f.MessageID != mid {
		t.Fatalf("REPORT %q", f.AppendTo(nil))
	}

	// What the accepting side read and wrote, as frames: the bind, two chunks and the SEND; three
	// 200s, the 403 and the REPORT.
	conns := rec.Conns()
	if len(conns) != 1 {
		t.Fatalf("%d connections recorded", len(conns))
	}
	if got := conns[0].ReadFrames(t); len(got) != 4 || got[3].TransactionID != tid {
		t.Fatalf("recorded %d frames read", len(got))
	}
	written := conns[0].Written(t)
	if len(written) != 5 || written[3].StatusCode != 403 || written[4].Method != "REPORT" {
		t.Fatalf("recorded %d frames written", len(written))
	}
}

// wsLike is a wire read a message at a time, each message a list of frames.
type wsLike struct {
	net.Conn
	msgs chan []byte
}

func (w *wsLike) ReadMessage() ([]byte, error) {
	m, ok := <-w.msgs
	if !ok {
		return nil, net.ErrClosed
	}
	return m, nil
}

func TestPeerWholeFramesOverAMessageWire(t *testing.T) {
	c1, c2 := net.Pipe()
	t.Cleanup(func() { c2.Close() })
	w := &wsLike{Conn: c1, msgs: make(chan []byte, 2)}
	p := msrptest.New(t)
	p.WholeFrames, p.Quiet = true, true
	p.Start(w)
	send := msrptest.SEND("text/plain", []byte("one"))
	send.TransactionID, send.ToPath, send.FromPath = "t1", []msrp.URI{p.Local}, []msrp.URI{p.Local}
	w.msgs <- send.AppendTo(nil)
	if f := p.Next(t); f.TransactionID != "t1" || string(f.Body) != "one" {
		t.Fatalf("got %q", f.AppendTo(nil))
	}
}

// TestPeerExpectNextAndAwaitClose: ExpectNext takes only the frame that comes next; a peer with
// NoReading leaves its connection to the test; AwaitClose sees the far end go.
func TestPeerExpectNextAndAwaitClose(t *testing.T) {
	a, b, _ := pair(t)
	a.ExpectNext(t, a.Send("text/plain", []byte("one")), 200) // b answers it
	b.NextRequest(t)

	c1, c2 := net.Pipe()
	raw := msrptest.New(t)
	raw.NoReading = true
	raw.Start(c1)
	far := msrptest.New(t)
	far.Quiet = true
	far.Start(c2)
	go raw.Send("text/plain", []byte("read by the test"))
	if f := far.Next(t); string(f.Body) != "read by the test" {
		t.Fatalf("got %q", f.AppendTo(nil))
	}
	if len(raw.Frames) != 0 {
		t.Fatal("a peer with NoReading read")
	}
	raw.Close()
	far.AwaitClose(t)
}
