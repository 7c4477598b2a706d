package focus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/msrptest"
	"github.com/parleychat/parley/sdp"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/sqlstore"
)

// BenchmarkSwitch_FanOut measures the whole relay path over loopback TCP: one sender's SENDs
// parsed by the focus, checked, and copied to every other member, whose readers parse each copy
// and answer it 200 as a client would. One op is one message delivered to all recipients. The
// logged variants also wait for the message log: the sender pipelines, and the 200s follow the
// group commits.
func BenchmarkSwitch_FanOut(b *testing.B) {
	for _, logged := range []bool{false, true} {
		for _, members := range []int{2, 100, 1000} {
			b.Run(fmt.Sprintf("logged=%v/members=%d", logged, members), func(b *testing.B) { benchFanOut(b, members-1, logged) })
		}
	}
}

func benchFanOut(b *testing.B, recipients int, logged bool) {
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ep := msrp.NewEndpoint(msrp.Config{AdvertisedHost: "127.0.0.1", AdvertisedPort: ln.Addr().(*net.TCPAddr).Port,
		MaxPendingBytes: 64 << 20, Logger: quiet})
	go ep.Serve(ctx, ln)
	defer ep.Close()
	f, err := focus.New(ctx, focus.Config{Domain: "example.net", MaxMessageSize: 1 << 20, WrappedTypes: []string{"*"}, Logger: quiet},
		store, ep, []focus.RoomSpec{{Name: "bench", Policy: xcon.RoomPolicy{Logging: logged}}})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Shutdown(ctx)

	var delivered atomic.Int64
	target := int64(b.N) * int64(recipients)
	done := make(chan struct{})
	for i := 0; i < recipients; i++ {
		joinRaw(b, f, fmt.Sprintf("r%d", i), func() {
			if delivered.Add(1) == target {
				close(done)
			}
		})
	}
	sender := joinRaw(b, f, "sender", func() {})

	body := []byte("From: <sip:sender@example.com>\r\nTo: <sip:bench@example.net>\r\nDateTime: 2026-11-25T20:00:00Z\r\n\r\n" +
		"Content-Type: text/plain;charset=utf-8\r\n\r\n" + strings.Repeat("x", 120))
	frames := make([][]byte, b.N)
	for i := range frames {
		frames[i] = (&msrp.Message{TransactionID: msrp.NewTransactionID(), Method: "SEND", ToPath: sender.Remote,
			FromPath: []msrp.URI{sender.Local}, MessageID: msrp.NewMessageID(), ContentType: "message/cpim", Body: body,
			ByteRange: msrp.ByteRange{Start: 1, End: int64(len(body)), Total: int64(len(body))}}).AppendTo(nil)
	}
	b.SetBytes(int64(len(body) * recipients))
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for _, fr := range frames {
			if err := sender.WriteRaw(fr); err != nil {
				return
			}
		}
	}()
	<-done
	b.StopTimer()
	b.ReportMetric(float64(target)/b.Elapsed().Seconds(), "copies/s")
}

// joinRaw joins the room with one MSRP m-line and binds the session on a fresh TCP connection:
// the msrptest peer, which answers every SEND with 200 and calls got once per message received.
func joinRaw(b *testing.B, f *focus.Focus, user string, got func()) *msrptest.Peer {
	b.Helper()
	c := msrptest.New(b)
	c.Handle = func(m *msrp.Message) {
		if m.Method == "SEND" {
			got()
		}
	}
	offer, err := sdp.Parse([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\n" +
		"a=accept-types:message/cpim\r\na=accept-wrapped-types:*\r\na=path:" + c.Local.String() + "\r\n"))
	if err != nil {
		b.Fatal(err)
	}
	_, answers, err := f.Join(context.Background(), focus.JoinRequest{Room: "bench",
		Identity: focus.Identity{AOR: "sip:" + user + "@example.com"}, Offer: offer})
	if err != nil {
		b.Fatal(err)
	}
	path, err := msrp.ParsePath(answers[0].Path[0])
	if err != nil {
		b.Fatal(err)
	}
	c.Dial(b, path, nil)
	c.Write(&msrp.Message{Method: "SEND", MessageID: msrp.NewMessageID()})
	return c
}
