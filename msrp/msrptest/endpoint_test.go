package msrptest_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/msrptest"
)

type inbox struct{ msgs chan *msrp.Message }

func (i inbox) HandleMessage(_ *msrp.Session, m *msrp.Message) error {
	if m.ContentType == "text/refused" {
		return &msrp.StatusError{Code: msrp.StatusUnsupportedMedia, Comment: "refused"}
	}
	i.msgs <- m
	return nil
}
func (inbox) SessionClosed(*msrp.Session, msrp.CloseReason) {}

// TestPeerAgainstAnEndpoint: the peer binds a session of a real Endpoint serving on a recording
// listener, sends to it and reads what the endpoint sends; the recording holds the same frames.
func TestPeerAgainstAnEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := msrptest.RecordListener(ln)
	ep := msrp.NewEndpoint(msrp.Config{AdvertisedHost: "127.0.0.1", AdvertisedPort: ln.Addr().(*net.TCPAddr).Port})
	go ep.Serve(context.Background(), rec)
	t.Cleanup(func() { ep.Close() })
	in := inbox{msgs: make(chan *msrp.Message, 4)}
	s := ep.NewSession(in)

	p := msrptest.New(t)
	s.SetRemotePath([]msrp.URI{p.Local})
	p.Dial(t, []msrp.URI{s.LocalURI()}, nil)
	p.Bind(t)
	p.Expect(t, p.Send("text/plain", []byte("hello")), 200)
	select {
	case m := <-in.msgs:
		if string(m.Body) != "hello" {
			t.Fatalf("endpoint got %q", m.Body)
		}
	case <-time.After(msrptest.DefaultTimeout):
		t.Fatal("nothing reached the endpoint")
	}
	p.Expect(t, p.Send("text/refused", []byte("x")), msrp.StatusUnsupportedMedia)

	if err := s.Send("text/plain", []byte("back")); err != nil {
		t.Fatal(err)
	}
	if m := p.NextRequest(t); string(m.Body) != "back" || m.ToPath[0].SessionID != p.Local.SessionID {
		t.Fatalf("peer got %q", m.AppendTo(nil))
	}
	// The endpoint wrote the bind's answer, two answers and the SEND; the peer's answer to it
	// was read.
	conn := rec.Conns()[0]
	written := conn.Written(t)
	if len(written) != 4 || written[2].StatusCode != msrp.StatusUnsupportedMedia || written[3].Method != "SEND" {
		t.Fatalf("recorded %d frames written by the endpoint", len(written))
	}
}
