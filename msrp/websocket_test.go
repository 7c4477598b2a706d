package msrp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/parleychat/parley/msrp"
)

// wsServer serves e's WebSocket handler at /msrp on a loopback HTTP server and returns its host:port.
func wsServer(t *testing.T, cfg msrp.Config) (*msrp.Endpoint, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdvertisedHost = "127.0.0.1"
	cfg.AdvertisedWSPort = ln.Addr().(*net.TCPAddr).Port
	e := msrp.NewEndpoint(cfg)
	mux := http.NewServeMux()
	mux.Handle("/msrp", e.WebSocketHandler())
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() { e.Close(); srv.Close() })
	return e, ln.Addr().String()
}

func wsDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	defer cancel()
	c, _, hs, err := ws.Dialer{Protocols: []string{msrp.WebSocketProtocol}}.Dial(ctx, "ws://"+addr+"/msrp")
	if err != nil {
		t.Fatal(err)
	}
	if hs.Protocol != msrp.WebSocketProtocol {
		t.Fatalf("negotiated subprotocol %q, want msrp", hs.Protocol)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wsFrames reads one WebSocket message and parses it; it must hold exactly one MSRP frame.
func wsFrame(t *testing.T, c net.Conn) *msrp.Message {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(failsafe))
	data, op, err := wsutil.ReadServerData(c)
	if err != nil {
		t.Fatalf("reading a websocket message: %v", err)
	}
	if op != ws.OpBinary {
		t.Fatalf("opcode %v, want binary", op)
	}
	var got []*msrp.Message
	p := msrp.NewParser(0, 8<<20)
	if err := p.Parse(data, func(m *msrp.Message, ferr error) error {
		if ferr != nil {
			return ferr
		}
		got = append(got, m.Clone())
		return nil
	}); err != nil {
		t.Fatalf("parse %q: %v", snippetOf(data), err)
	}
	if len(got) != 1 || p.InFrame() {
		t.Fatalf("websocket message holds %d whole MSRP frames (partial: %v), want exactly 1: %q", len(got), p.InFrame(), snippetOf(data))
	}
	return got[0]
}

func snippetOf(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

const browserPath = "msrp://kj3hs9d2.invalid/cl1ent5id;ws"

func sendFrame(to msrp.URI, tid, body string) []byte {
	return fmt.Appendf(nil, "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: m%s\r\nByte-Range: 1-%d/%d\r\nContent-Type: text/plain\r\n\r\n%s\r\n-------%s$\r\n",
		tid, to.String(), browserPath, tid, len(body), len(body), body, tid)
}

func TestWebSocketSessionBothWays(t *testing.T) {
	e, addr := wsServer(t, msrp.Config{MaxMessageSize: 1 << 20, ChunkQuantum: 16 << 10})
	rec := newRecorder()
	s := e.NewWSSession(rec, false)
	local := s.LocalURI()
	if local.Transport != "ws" || local.Secure || local.Port != e.Config().AdvertisedWSPort {
		t.Fatalf("session URI %s: want msrp://…:%d/…;ws", local, e.Config().AdvertisedWSPort)
	}
	if !strings.HasSuffix(local.String(), ";ws") {
		t.Fatalf("session URI %s does not end in ;ws", local)
	}
	peer, err := msrp.ParsePath(browserPath)
	if err != nil {
		t.Fatal(err)
	}
	s.SetRemotePath(peer)
	c := wsDial(t, addr)

	// One SEND split over two text messages (RFC 7977 §5.1 readers take a stream).
	frame := sendFrame(local, "tx1", "hello over websocket")
	half := len(frame) / 2
	for _, part := range [][]byte{frame[:half], frame[half:]} {
		if err := wsutil.WriteClientMessage(c, ws.OpText, part); err != nil {
			t.Fatal(err)
		}
	}
	if m := rec.nextMsg(t); string(m.Body) != "hello over websocket" {
		t.Fatalf("delivered %q", m.Body)
	}
	if r := wsFrame(t, c); r.StatusCode != 200 || r.TransactionID != "tx1" {
		t.Fatalf("response %d %s, want 200 for tx1", r.StatusCode, r.TransactionID)
	}

	// Two SENDs in one binary message.
	two := append(sendFrame(local, "tx2", "two"), sendFrame(local, "tx3", "three")...)
	if err := wsutil.WriteClientMessage(c, ws.OpBinary, two); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"two", "three"} {
		if m := rec.nextMsg(t); string(m.Body) != want {
			t.Fatalf("delivered %q, want %q", m.Body, want)
		}
	}
	for _, tid := range []string{"tx2", "tx3"} {
		if r := wsFrame(t, c); r.TransactionID != tid {
			t.Fatalf("response for %s, want %s", r.TransactionID, tid)
		}
	}

	// The other way: a short message, then one larger than a flush quantum, while a short one is queued
	// behind it. Every WebSocket message is one chunk; the chunks reassemble to the bodies sent.
	big := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16)
	if err := s.Send("text/plain", []byte("short")); err != nil {
		t.Fatal(err)
	}
	if err := s.Send("application/octet-stream", big); err != nil {
		t.Fatal(err)
	}
	if err := s.Send("text/plain", []byte("after")); err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{}
	var order []string
	done := 0
	for done < 3 {
		m := wsFrame(t, c)
		if m.Method != "SEND" {
			t.Fatalf("got %q, want SEND", m.Method)
		}
		if m.ToPath[0].String() != browserPath {
			t.Fatalf("To-Path %v, want %s", m.ToPath, browserPath)
		}
		if len(bodies[m.MessageID]) == 0 {
			order = append(order, m.MessageID)
		}
		bodies[m.MessageID] = append(bodies[m.MessageID], m.Body...)
		// Answer every chunk, as a client does.
		resp := fmt.Appendf(nil, "MSRP %s 200 OK\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------%s$\r\n", m.TransactionID, browserPath, local, m.TransactionID)
		if err := wsutil.WriteClientMessage(c, ws.OpText, resp); err != nil {
			t.Fatal(err)
		}
		if m.Flag == msrp.FlagEnd {
			done++
		}
	}
	// Short messages may overtake the large one (RFC 4975 §7.1.1), never each other.
	var got []string
	for _, mid := range order {
		if bytes.Equal(bodies[mid], big) {
			got = append(got, "big")
		} else {
			got = append(got, string(bodies[mid]))
		}
	}
	if g := strings.Join(got, " "); g != "short big after" && g != "short after big" {
		t.Fatalf("messages arrived as %q", g)
	}

	// A ping is answered with a pong.
	if err := wsutil.WriteClientMessage(c, ws.OpPing, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(failsafe))
	h, err := ws.ReadHeader(c)
	if err != nil || h.OpCode != ws.OpPong {
		t.Fatalf("after ping: %v %v, want pong", h.OpCode, err)
	}
}

func TestWebSocketNeedsSubprotocol(t *testing.T) {
	_, addr := wsServer(t, msrp.Config{})
	for _, proto := range []string{"", "sip", "msrpx, chat"} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/msrp", nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		if proto != "" {
			req.Header.Set("Sec-WebSocket-Protocol", proto)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("subprotocol %q: status %d, want 400", proto, resp.StatusCode)
		}
	}
}

// closeCode reads until the server's close frame and returns its status code.
func closeCode(t *testing.T, c net.Conn) ws.StatusCode {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(failsafe))
	for {
		h, err := ws.ReadHeader(c)
		if err != nil {
			t.Fatalf("connection ended without a close frame: %v", err)
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(c, payload); err != nil {
			t.Fatal(err)
		}
		if h.OpCode == ws.OpClose {
			if len(payload) < 2 {
				return ws.StatusNoStatusRcvd
			}
			return ws.StatusCode(uint16(payload[0])<<8 | uint16(payload[1]))
		}
	}
}

func TestWebSocketOversizedMessageClosesThatConnection(t *testing.T) {
	e, addr := wsServer(t, msrp.Config{MaxMessageSize: 4096, MaxHeaderBytes: 4096})
	recA, recB := newRecorder(), newRecorder()
	a, b := e.NewWSSession(recA, false), e.NewWSSession(recB, false)
	peer, _ := msrp.ParsePath(browserPath)
	a.SetRemotePath(peer)
	b.SetRemotePath(peer)
	ca, cb := wsDial(t, addr), wsDial(t, addr)
	for _, x := range []struct {
		c net.Conn
		s *msrp.Session
		r *recorder
	}{{ca, a, recA}, {cb, b, recB}} {
		if err := wsutil.WriteClientMessage(x.c, ws.OpText, sendFrame(x.s.LocalURI(), "t"+x.s.ID()[:4], "hi")); err != nil {
			t.Fatal(err)
		}
		x.r.nextMsg(t)
		wsFrame(t, x.c)
	}
	if err := wsutil.WriteClientMessage(ca, ws.OpBinary, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	if code := closeCode(t, ca); code != ws.StatusMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	if ev := <-recA.closed; ev.s != a {
		t.Fatal("wrong session closed")
	}
	if st := e.Stats(); st.WebSocketTooLarge != 1 || st.WebSocketConnections != 1 {
		t.Fatalf("stats: %d closed too large, %d websocket connections; want 1 and 1", st.WebSocketTooLarge, st.WebSocketConnections)
	}
	// The other connection and its session go on.
	if err := wsutil.WriteClientMessage(cb, ws.OpText, sendFrame(b.LocalURI(), "after", "still here")); err != nil {
		t.Fatal(err)
	}
	if m := recB.nextMsg(t); string(m.Body) != "still here" {
		t.Fatalf("delivered %q", m.Body)
	}
}

func TestWebSocketGarbageIsAProtocolViolation(t *testing.T) {
	e, addr := wsServer(t, msrp.Config{})
	c := wsDial(t, addr)
	if err := wsutil.WriteClientMessage(c, ws.OpText, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(failsafe))
	for {
		if _, _, err := wsutil.ReadServerData(c); err != nil {
			var ce wsutil.ClosedError
			if !errors.As(err, &ce) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("connection not closed: %v", err)
			}
			break
		}
	}
	deadline := time.Now().Add(failsafe)
	for e.Stats().ProtocolViolations != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("protocol violations %d, want 1", e.Stats().ProtocolViolations)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A WebSocket peer that stops reading is dropped as a slow consumer, alone (RFC 7977 members are
// ordinary connections: msrp.max_pending_bytes and msrp.write_deadline apply).
func TestWebSocketPeerThatStopsReadingIsDroppedAlone(t *testing.T) {
	e, addr := wsServer(t, msrp.Config{MaxPendingBytes: 256 << 10, WriteDeadline: 200 * time.Millisecond})
	recA, recB := newRecorder(), newRecorder()
	a, b := e.NewWSSession(recA, false), e.NewWSSession(recB, false)
	peer, _ := msrp.ParsePath(browserPath)
	a.SetRemotePath(peer)
	b.SetRemotePath(peer)
	ca, cb := wsDial(t, addr), wsDial(t, addr)
	for _, x := range []struct {
		c net.Conn
		s *msrp.Session
		r *recorder
	}{{ca, a, recA}, {cb, b, recB}} {
		if err := wsutil.WriteClientMessage(x.c, ws.OpText, sendFrame(x.s.LocalURI(), "t"+x.s.ID()[:4], "hi")); err != nil {
			t.Fatal(err)
		}
		x.r.nextMsg(t)
		wsFrame(t, x.c)
	}
	// ca never reads again.
	body := bytes.Repeat([]byte("x"), 16<<10)
	deadline := time.Now().Add(failsafe)
	for a.Send("text/plain", body) == nil {
		if time.Now().After(deadline) {
			t.Fatal("a peer that does not read was never dropped")
		}
	}
	if ev := <-recA.closed; ev.s != a || !ev.reason.IsSlowConsumer() {
		t.Fatalf("closed %v for %v, want a slow consumer", ev.s == a, ev.reason)
	}
	if err := b.Send("text/plain", []byte("for b")); err != nil {
		t.Fatal(err)
	}
	if m := wsFrame(t, cb); string(m.Body) != "for b" {
		t.Fatalf("b got %q", m.Body)
	}
}
