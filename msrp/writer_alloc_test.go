package msrp

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
)

// TestWriterReusesItsBuffers guards the writer goroutine's hot path: a message queued on a bound
// session and written by the connection's writer costs no allocation once the writer runs (its
// iovec list and frame buffers are kept from one write to the next).
func TestWriterReusesItsBuffers(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := NewEndpoint(Config{AdvertisedHost: "127.0.0.1", AdvertisedPort: ln.Addr().(*net.TCPAddr).Port, MaxPendingBytes: 1 << 20})
	go e.Serve(context.Background(), ln)
	defer e.Close()
	s := e.NewSession(nopHandler{})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer := URI{Host: "127.0.0.1", Port: 40000, SessionID: NewSessionID(), Transport: "tcp"}
	s.SetRemotePath([]URI{peer})
	bind := &Message{TransactionID: "bind", Method: "SEND", ToPath: []URI{s.LocalURI()}, FromPath: []URI{peer},
		MessageID: "b", ByteRange: ByteRange{1, 0, 0}}
	if _, err := c.Write(bind.AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	p := NewParser(0, 0)
	buf := make([]byte, 64<<10)
	readFrame := func() {
		for got := false; !got; {
			k, err := c.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			p.Parse(buf[:k], func(*Message, error) error { got = true; return nil })
		}
	}
	readFrame() // the bind's 200
	body := []byte(strings.Repeat("x", 256))
	if err := s.Send("message/cpim", body); err != nil { // the writer starts
		t.Fatal(err)
	}
	// Every SEND of this session has the same size (fixed-length identifiers): the first one says
	// it, and the others are read whole without a parser, so that only the sending side counts.
	size := 0
	for size < 5 || string(buf[size-3:size]) != "$\r\n" {
		k, err := c.Read(buf[size:])
		if err != nil {
			t.Fatal(err)
		}
		size += k
	}
	frame := buf[:size]
	send := func() {
		if err := s.Send("message/cpim", body); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, frame); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(frame, []byte("MSRP ")) || !bytes.HasSuffix(frame, []byte("$\r\n")) {
			t.Fatalf("not one whole SEND: %q", frame)
		}
	}
	if n := testing.AllocsPerRun(200, send); n > 0 {
		t.Fatalf("%v allocations per message written, want none", n)
	}
}
