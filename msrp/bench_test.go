package msrp

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

func smallSend() []byte {
	m := &Message{TransactionID: "a7Kq2mZx91", Method: "SEND",
		ToPath:    []URI{{Host: "focus.example.net", Port: 2855, SessionID: "r9Yb3TqLw0cZ2xV", Transport: "tcp"}},
		FromPath:  []URI{{Host: "198.51.100.7", Port: 49152, SessionID: "hJ4kP2sQ8nRt", Transport: "tcp"}},
		MessageID: "m1f3a9c2e7", ContentType: "message/cpim"}
	for len(m.AppendTo(nil)) < 256 {
		m.Body = append(m.Body, 'x')
	}
	m.ByteRange = ByteRange{1, int64(len(m.Body)), int64(len(m.Body))}
	return m.AppendTo(nil)
}

func BenchmarkParser_SmallSend(b *testing.B) {
	frame := smallSend()
	p := NewParser(0, 0)
	fn := func(*Message, error) error { return nil }
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Parse(frame, fn); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParser_LargeBody(b *testing.B) {
	body := []byte(strings.Repeat("0123456789abcdef", 1<<16)) // 1 MiB
	m := &Message{TransactionID: "big1", Method: "SEND", ToPath: []URI{{Host: "h", Port: 1, SessionID: "s", Transport: "tcp"}},
		FromPath: []URI{{Host: "h", Port: 2, SessionID: "t", Transport: "tcp"}}, MessageID: "m",
		ByteRange: ByteRange{1, int64(len(body)), int64(len(body))}, ContentType: "application/octet-stream", Body: body}
	frame := m.AppendTo(nil)
	p := NewParser(0, 2<<20)
	fn := func(*Message, error) error { return nil }
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off < len(frame); off += 64 << 10 {
			if err := p.Parse(frame[off:min(off+64<<10, len(frame))], fn); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkMessage_AppendTo(b *testing.B) {
	var m Message
	NewParser(0, 0).Parse(smallSend(), func(p *Message, _ error) error { m = *p.Clone(); return nil })
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = m.AppendTo(buf[:0])
	}
}

type nopHandler struct{}

func (nopHandler) HandleMessage(*Session, *Message) error { return nil }
func (nopHandler) SessionClosed(*Session, CloseReason)    {}

// BenchmarkSession_SendFanOut sends one shared body to N sessions, each on its own loopback connection
// drained by a reader (the peer never answers, as a client with Failure-Report handling elsewhere would).
func BenchmarkSession_SendFanOut(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("msgSz=256b/subs=%d", n), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			port := ln.Addr().(*net.TCPAddr).Port
			e := NewEndpoint(Config{AdvertisedHost: "127.0.0.1", AdvertisedPort: port, MaxPendingBytes: 64 << 20})
			go e.Serve(context.Background(), ln)
			defer e.Close()
			sessions := make([]*Session, n)
			conns := make([]net.Conn, n)
			for i := range sessions {
				s := e.NewSession(nopHandler{})
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				conns[i] = c
				peer := URI{Host: "127.0.0.1", Port: 40000 + i, SessionID: NewSessionID(), Transport: "tcp"}
				s.SetRemotePath([]URI{peer})
				bind := &Message{TransactionID: "bind" + fmt.Sprint(i), Method: "SEND", ToPath: []URI{s.LocalURI()},
					FromPath: []URI{peer}, MessageID: "b", ByteRange: ByteRange{1, 0, 0}}
				c.Write(bind.AppendTo(nil))
				// Read the 200 so the session is bound before measuring.
				p := NewParser(0, 0)
				buf := make([]byte, 4096)
				got := false
				for !got {
					k, err := c.Read(buf)
					if err != nil {
						b.Fatal(err)
					}
					p.Parse(buf[:k], func(*Message, error) error { got = true; return nil })
				}
				sessions[i] = s
				go io.Copy(io.Discard, c)
			}
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			body := []byte(strings.Repeat("x", 256))
			b.SetBytes(int64(len(body) * n))
			b.ReportAllocs()
			for b.Loop() {
				for _, s := range sessions {
					if err := s.Send("message/cpim", body); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
