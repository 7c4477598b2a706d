package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/cpim"
	"github.com/parleychat/parley/msrp/msrptest"
	"github.com/parleychat/parley/sdp"
)

// wsSIPClient is a browser's SIP side as RFC 7118 describes it: SIP text over a WebSocket to
// GET /sip, a Via and Contact with a .invalid host that nobody can resolve. Requests from the
// focus (NOTIFY, BYE) must come back over this same connection; they are answered 200.
type wsSIPClient struct {
	t         *testing.T
	name      string
	host      string // the .invalid host
	transport string // ws or wss
	conn      net.Conn
	responses chan *sip.Response
	requests  chan *sip.Request
}

func dialWS(t *testing.T, url, proto string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dialer := ws.Dialer{Protocols: []string{proto}, TLSConfig: &tls.Config{InsecureSkipVerify: true}} // self-signed in tests
	c, _, hs, err := dialer.Dial(ctx, url)
	if err != nil {
		t.Fatalf("websocket %s: %v", url, err)
	}
	if hs.Protocol != proto {
		t.Fatalf("websocket %s: subprotocol %q, want %q", url, hs.Protocol, proto)
	}
	closeWithDaemon(t, func() { c.Close() })
	return c
}

func newWSSIPClient(t *testing.T, d *daemon, name string, secure bool) *wsSIPClient {
	url, transport := "ws://"+d.httpAddr.String()+"/sip", "ws"
	if secure {
		url, transport = "wss://"+d.httpsAddr.String()+"/sip", "wss"
	}
	c := &wsSIPClient{t: t, name: name, host: name + "-k3j9s2.invalid", transport: transport, conn: dialWS(t, url, "sip"),
		responses: make(chan *sip.Response, 64), requests: make(chan *sip.Request, 64)}
	go c.readLoop()
	return c
}

func (c *wsSIPClient) readLoop() {
	p := sip.NewParser()
	for {
		data, _, err := wsutil.ReadServerData(c.conn)
		if err != nil {
			return
		}
		msg, err := p.ParseSIP(data)
		if err != nil {
			c.t.Errorf("%s: unparsable SIP from the focus: %v: %q", c.name, err, data)
			return
		}
		switch m := msg.(type) {
		case *sip.Response:
			c.responses <- m
		case *sip.Request:
			if m.Method != sip.ACK {
				c.write(sip.NewResponseFromRequest(m, 200, "OK", nil).String())
			}
			c.requests <- m
		}
	}
}

func (c *wsSIPClient) write(text string) {
	if err := wsutil.WriteClientMessage(c.conn, ws.OpText, []byte(text)); err != nil {
		c.t.Logf("%s: write: %v", c.name, err)
	}
}

// request sends a request outside or inside a dialog and returns its final response.
func (c *wsSIPClient) request(method, ruri, toTag, fromTag, callID string, cseq int, extra, body string) *sip.Response {
	c.t.Helper()
	to := "<sip:lobby@example.net>"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\nTo: %s\r\n", method, ruri, strings.ToUpper(c.transport), c.host, msrp.NewTransactionID(), to)
	fmt.Fprintf(&b, "From: <sip:%s@example.com>;tag=%s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n", c.name, fromTag, callID, cseq, method)
	fmt.Fprintf(&b, "Contact: <sip:%s@%s;transport=%s>\r\n%sContent-Length: %d\r\n\r\n%s", c.name, c.host, c.transport, extra, len(body), body)
	c.write(b.String())
	if method == "ACK" {
		return nil
	}
	for {
		select {
		case r := <-c.responses:
			if r.StatusCode >= 200 {
				return r
			}
		case <-time.After(20 * time.Second):
			c.t.Fatalf("%s: no final response to %s", c.name, method)
		}
	}
}

// nextRequest returns the next request the focus sent over the WebSocket.
func (c *wsSIPClient) nextRequest(method sip.RequestMethod) *sip.Request {
	c.t.Helper()
	for {
		select {
		case r := <-c.requests:
			if r.Method == method {
				return r
			}
		case <-time.After(20 * time.Second):
			c.t.Fatalf("%s: no %s over the SIP WebSocket", c.name, method)
		}
	}
}

// wsMember is a browser in a room: SIP over one WebSocket, MSRP over another.
// Its MSRP side is the kit's scripted peer over wsWire: Local is its own
// msrp://….invalid/SID;ws, Remote the focus's a=path, Conn the MSRP WebSocket.
type wsMember struct {
	*msrptest.Peer
	sip *wsSIPClient
}

// wsWire carries MSRP over a client WebSocket (RFC 7977): one frame a binary message each way.
type wsWire struct{ net.Conn }

func (w wsWire) ReadMessage() ([]byte, error) {
	data, _, err := wsutil.ReadServerData(w.Conn)
	return data, err
}

func (w wsWire) Write(frame []byte) (int, error) {
	if err := wsutil.WriteClientMessage(w.Conn, ws.OpBinary, frame); err != nil {
		return 0, err
	}
	return len(frame), nil
}

// joinWS joins lobby from a browser: INVITE over the SIP WebSocket with a TCP/WS/MSRP m-line, ACK,
// then the MSRP WebSocket, bound by a bodiless SEND; the logging notice is read.
func joinWS(t *testing.T, d *daemon, name string) *wsMember { return joinWSOver(t, d, name, false) }

// joinWSOver is joinWS over wss: (the HTTPS listener) when secure: TCP/WSS/MSRP and msrps URIs.
func joinWSOver(t *testing.T, d *daemon, name string, secure bool) *wsMember {
	t.Helper()
	c := newWSSIPClient(t, d, name, secure)
	m := &wsMember{Peer: msrptest.New(t), sip: c}
	m.Local = msrp.URI{Host: c.host, SessionID: msrp.NewSessionID(), Transport: "ws", Secure: secure}
	m.WholeFrames = true // the focus sends one whole MSRP frame a WebSocket message
	m.Cleanup = func(fn func()) { closeWithDaemon(t, fn) }
	proto, httpAddr, msrpURL := "TCP/WS/MSRP", d.httpAddr, "ws://"+d.httpAddr.String()+"/msrp"
	if secure {
		proto, httpAddr, msrpURL = "TCP/WSS/MSRP", d.httpsAddr, "wss://"+d.httpsAddr.String()+"/msrp"
	}
	offer := "v=0\r\no=- 1 1 IN IP4 " + c.host + "\r\ns=-\r\nc=IN IP4 " + c.host + "\r\nt=0 0\r\n" +
		"m=message 9 " + proto + " *\r\na=accept-types:message/cpim\r\na=accept-wrapped-types:text/plain *\r\n" +
		"a=path:" + m.Local.String() + "\r\na=setup:active\r\na=chatroom:nickname private-messages\r\na=label:main\r\n"
	callID, tag := msrp.NewMessageID(), msrp.NewMessageID()
	res := c.request("INVITE", "sip:lobby@example.net", "", tag, callID, 1, "Content-Type: application/sdp\r\n", offer)
	if res.StatusCode != 200 {
		t.Fatalf("%s: INVITE over WebSocket: %d %s", name, res.StatusCode, res.Reason)
	}
	contact := res.Contact()
	if contact == nil || !contact.Params.Has("isfocus") || contact.Address.Port != portOf(httpAddr) {
		t.Fatalf("%s: Contact %v, want the HTTP listener's port %d and isfocus", name, contact, portOf(httpAddr))
	}
	if tr, _ := contact.Address.UriParams.Get("transport"); tr != c.transport {
		t.Fatalf("%s: Contact %v, want transport=%s", name, contact, c.transport)
	}
	toTag, _ := res.To().Params.Get("tag")
	c.request("ACK", contact.Address.String(), toTag, tag, callID, 1, "", "")
	ans, err := sdp.Parse(res.Body())
	if err != nil {
		t.Fatal(err)
	}
	am := ans.Media[0]
	if am.Port == 0 || am.Proto != proto || am.Setup != "passive" || len(am.Path) != 1 {
		t.Fatalf("%s: answer m-line %+v", name, am)
	}
	if m.Remote, err = msrp.ParsePath(am.Path[0]); err != nil {
		t.Fatal(err)
	}
	if f := m.Remote[0]; f.Transport != "ws" || f.Secure != secure || f.Port != portOf(httpAddr) {
		t.Fatalf("%s: focus path %s, want msrp(s)://HOST:%d/SID;ws", name, am.Path[0], portOf(httpAddr))
	}
	m.Conn = dialWS(t, msrpURL, "msrp") // the WebSocket itself, for what a test writes raw
	m.Start(wsWire{m.Conn})
	m.Bind(t) // what the focus held for the session comes on binding: kept for Next
	if n := m.nextMessage(t); !bytes.Contains(n.Body, []byte("logged")) {
		t.Fatalf("%s: first message is not the logging notice: %q", name, n.Body)
	}
	return m
}

func (m *wsMember) send(body []byte) string { return m.Send("message/cpim", body) }

func (m *wsMember) nextMessage(t *testing.T) *msrp.Message { t.Helper(); return m.NextRequest(t) }

// TestWebSocketMemberWithTCPMember: a browser (SIP and MSRP over WebSocket, .invalid Contact and
// path) and a softphone (SIP and MSRP over TCP) in lobby: the browser's roster NOTIFYs come over its
// SIP WebSocket, CPIM bodies travel byte for byte both ways, and a second browser that sends garbage
// on its MSRP WebSocket is closed alone.
func TestWebSocketMemberWithTCPMember(t *testing.T) {
	d := startTestDaemon(t, nil)

	wendy := joinWS(t, d, "wendy")
	// The roster over the same SIP WebSocket (RFC 4575 over RFC 7118).
	sub := wendy.sip.request("SUBSCRIBE", "sip:lobby@example.net", "", msrp.NewMessageID(), msrp.NewMessageID(), 1,
		"Event: conference\r\nExpires: 600\r\nAccept: application/conference-info+xml\r\n", "")
	if sub.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE over WebSocket: %d %s", sub.StatusCode, sub.Reason)
	}
	if n := wendy.sip.nextRequest(sip.NOTIFY); !bytes.Contains(n.Body(), []byte("wendy@example.com")) {
		t.Fatalf("first NOTIFY lacks wendy: %s", n.Body())
	}

	bob := joinLobby(t, d, "bob", "tcp")
	for {
		n := wendy.sip.nextRequest(sip.NOTIFY)
		if bytes.Contains(n.Body(), []byte("bob@example.com")) {
			break
		}
	}

	// Browser → softphone and back, CPIM unchanged (RFC 7701 §6.1).
	toBob := cpimBody("sip:wendy@example.com", "sip:lobby@example.net", "hello from a browser — ünïcode")
	wendy.send(toBob)
	if got := bob.msrp.nextMessage(t); !bytes.Equal(got.Body, toBob) {
		t.Fatalf("bob got %q, want %q", got.Body, toBob)
	}
	toWendy := cpimBody("sip:bob@example.com", "sip:lobby@example.net", "hello from a softphone")
	bob.msrp.send("message/cpim", toWendy)
	if got := wendy.nextMessage(t); !bytes.Equal(got.Body, toWendy) || got.ToPath[0].String() != wendy.Local.String() {
		t.Fatalf("wendy got %q to %v, want %q to %s", got.Body, got.ToPath, toWendy, wendy.Local)
	}

	// A second browser sends garbage on its MSRP WebSocket: that connection is closed, nobody else's.
	mallory := joinWS(t, d, "mallory")
	_ = wsutil.WriteClientMessage(mallory.Conn, ws.OpText, []byte("this is not MSRP\r\n\r\n"))
	closed := time.After(20 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-mallory.Frames:
		case <-closed:
			t.Fatal("the MSRP WebSocket that sent garbage was not closed")
		}
	}
	again := cpimBody("sip:wendy@example.com", "sip:lobby@example.net", "still here")
	wendy.send(again)
	if got := bob.msrp.nextMessage(t); !bytes.Equal(got.Body, again) {
		t.Fatalf("after the garbage bob got %q", got.Body)
	}
	back := cpimBody("sip:bob@example.com", "sip:lobby@example.net", "me too")
	bob.msrp.send("message/cpim", back)
	if got := wendy.nextMessage(t); !bytes.Equal(got.Body, back) {
		t.Fatalf("after the garbage wendy got %q", got.Body)
	}
	// A kick ends wendy's dialog with a BYE sent back over her SIP WebSocket (RFC 7118 §5: her
	// Contact's .invalid host is never resolved).
	if err := d.focus.Kick(context.Background(), "lobby", "xcon-userid:wendy@example.com", false); err != nil {
		t.Fatal(err)
	}
	if bye := wendy.sip.nextRequest(sip.BYE); !strings.Contains(bye.Recipient.Host, ".invalid") {
		t.Fatalf("BYE to %s, want wendy's Contact", bye.Recipient.String())
	}
	// The closed connection leaves the gauge once its reader has torn it down: poll briefly.
	wants := []string{"parley_msrp_websocket_connections 1\n", `parley_msrp_errors_total{kind="protocol_violation"} 1` + "\n"}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + d.httpAddr.String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		missing := ""
		for _, want := range wants {
			if !bytes.Contains(metrics, []byte(want)) {
				missing = want
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q", missing)
		}
	}
}

// TestWebSocketUpgradeNeedsSubprotocol: GET /sip and GET /msrp without their subprotocol get 400, and
// a page of another site gets 403.
func TestWebSocketUpgradeNeedsSubprotocol(t *testing.T) {
	d := startTestDaemon(t, nil)
	for _, tc := range []struct {
		path, proto, origin string
		want                int
	}{
		{"/sip", "", "", 400},
		{"/sip", "msrp", "", 400},
		{"/msrp", "sip", "", 400},
		{"/msrp", "", "", 400},
		{"/sip", "sip", "https://evil.example", 403},
		{"/msrp", "msrp", "https://evil.example", 403},
	} {
		req, _ := http.NewRequest("GET", "http://"+d.httpAddr.String()+tc.path, nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		if tc.proto != "" {
			req.Header.Set("Sec-WebSocket-Protocol", tc.proto)
		}
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s with subprotocol %q origin %q: %d, want %d", tc.path, tc.proto, tc.origin, resp.StatusCode, tc.want)
		}
	}
}

// TestSecureWebSocketMember: behind http.tls_listen a browser joins over wss: (SIP transport WSS,
// TCP/WSS/MSRP, the focus's path msrps://HOST:PORT/SID;ws on the HTTPS port) and talks with a TCP
// member; plain ws: is still served on the loopback HTTP listener (http.websocket: auto).
func TestSecureWebSocketMember(t *testing.T) {
	dir := t.TempDir()
	if _, err := msrp.LoadOrCreateCertificate(dir); err != nil { // writes a self-signed pair
		t.Fatal(err)
	}
	d := startTestDaemon(t, func(c *configs.Config) {
		c.HTTP.TLSListen = "127.0.0.1:0"
		c.HTTP.TLSCertFile = filepath.Join(dir, msrp.CertificateFile)
		c.HTTP.TLSKeyFile = filepath.Join(dir, msrp.KeyFile)
	})
	vera := joinWSOver(t, d, "vera", true)
	bob := joinLobby(t, d, "bob", "tcp")
	toBob := cpimBody("sip:vera@example.com", "sip:lobby@example.net", "over wss")
	vera.send(toBob)
	if got := bob.msrp.nextMessage(t); !bytes.Equal(got.Body, toBob) {
		t.Fatalf("bob got %q", got.Body)
	}
	toVera := cpimBody("sip:bob@example.com", "sip:lobby@example.net", "back over wss")
	bob.msrp.send("message/cpim", toVera)
	if got := vera.nextMessage(t); !bytes.Equal(got.Body, toVera) {
		t.Fatalf("vera got %q", got.Body)
	}
	walt := joinWS(t, d, "walt")
	walt.send(cpimBody("sip:walt@example.com", "sip:lobby@example.net", "plain ws too"))
	if got := vera.nextMessage(t); !bytes.Contains(got.Body, []byte("plain ws too")) {
		t.Fatalf("vera got %q", got.Body)
	}

	// Connections by transport: vera on wss, walt on ws, bob's MSRP on tcp; SIP over WebSocket
	// likewise. Once vera's two WebSockets close, her wss ones leave the gauges.
	waitMetrics(t, d, map[string]string{
		`parley_msrp_transport_connections{transport="wss"}`: "1",
		`parley_msrp_transport_connections{transport="ws"}`:  "1",
		`parley_msrp_transport_connections{transport="tcp"}`: "1",
		`parley_msrp_transport_connections{transport="tls"}`: "0",
		`parley_sip_websocket_connections{transport="wss"}`:  "1",
		`parley_sip_websocket_connections{transport="ws"}`:   "1",
	})
	vera.Conn.Close()
	vera.sip.conn.Close()
	waitMetrics(t, d, map[string]string{
		`parley_msrp_transport_connections{transport="wss"}`: "0",
		`parley_msrp_transport_connections{transport="ws"}`:  "1",
		`parley_sip_websocket_connections{transport="wss"}`:  "0",
		`parley_sip_websocket_connections{transport="ws"}`:   "1",
	})
}

// waitMetrics polls /metrics until every sample has its value (a closed connection leaves its
// gauge once its reader has torn it down).
func waitMetrics(t *testing.T, d *daemon, want map[string]string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		wrong := ""
		for sample, v := range want {
			if got := metricLine(t, d, sample); got != v {
				wrong = fmt.Sprintf("%s is %q, want %s", sample, got, v)
			}
		}
		if wrong == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(wrong)
		}
	}
}

// TestWebSocketOff: with http.websocket: off, /sip and /msrp are not served and a TCP/WS/MSRP line is
// refused (nothing else offered: 488).
func TestWebSocketOff(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.HTTP.WebSocket = "off" })
	for _, path := range []string{"/sip", "/msrp"} {
		req, _ := http.NewRequest("GET", "http://"+d.httpAddr.String()+path, nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Sec-WebSocket-Protocol", strings.TrimPrefix(path, "/"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s with http.websocket off: %d, want 404", path, resp.StatusCode)
		}
	}
	p := newSIPPeer(t, "olga", "example.com")
	offer := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=message 9 TCP/WS/MSRP *\r\na=accept-types:message/cpim\r\na=path:msrp://olga.invalid/s1d;ws\r\na=setup:active\r\n"
	_, res, _ := p.invite(t, d, "lobby", "tcp", []byte(offer))
	if res == nil || res.StatusCode != 488 {
		t.Fatalf("TCP/WS/MSRP with WebSocket off: %v, want 488", res)
	}
}

// TestWebSocketMemberGetsChunkedFile: a 1 MiB file pushed to lobby over TCP (RFC 5547) in 64 KiB
// chunks reaches a WebSocket member in several MSRP chunks, one frame per WebSocket message, with Byte-Ranges that
// tile the CPIM message, and reassembles to the file byte for byte.
func TestWebSocketMemberGetsChunkedFile(t *testing.T) {
	d := startTestDaemon(t, nil)
	wendy := joinWS(t, d, "wendy")
	payload := make([]byte, 1<<20)
	for i := range payload {
		payload[i] = byte(i ^ i>>8 ^ i>>16)
	}
	p := openPush(t, d, "lobby", "alice", "big.bin", len(payload), nil)
	if code := p.sendChunks(t, payload, 0, len(payload), 64<<10, int64(len(payload))); code != 200 {
		t.Fatalf("file chunks: %d", code)
	}

	var whole []byte
	chunks := 0
	var mid string
	for {
		f := wendy.nextMessage(t)
		if mid == "" {
			mid = f.MessageID
		}
		if f.MessageID != mid {
			t.Fatalf("chunk of message %s inside %s", f.MessageID, mid)
		}
		if f.ByteRange.Start != int64(len(whole))+1 {
			t.Fatalf("chunk %d starts at %d, want %d", chunks, f.ByteRange.Start, len(whole)+1)
		}
		whole = append(whole, f.Body...)
		chunks++
		if f.Flag == msrp.FlagEnd {
			if f.ByteRange.Total != int64(len(whole)) {
				t.Fatalf("total %d, got %d bytes", f.ByteRange.Total, len(whole))
			}
			break
		}
	}
	if chunks < 2 {
		t.Fatalf("the 1 MiB file came in %d chunk: want it chunked", chunks)
	}
	msg, err := cpim.Parse(whole)
	if err != nil {
		t.Fatal(err)
	}
	if msg.From.URI != "sip:alice@example.com" || !strings.Contains(disposition(msg), "filename=big.bin") || !bytes.Equal(msg.Body, payload) {
		t.Fatalf("wendy got From %s, %s, %d bytes (equal %v)", msg.From.URI, msg.ContentType, len(msg.Body), bytes.Equal(msg.Body, payload))
	}
	t.Logf("1 MiB file in %d chunks over the WebSocket", chunks)
}

func disposition(m *cpim.Message) string {
	v, _ := m.ContentHeader("Content-Disposition")
	return v
}

// TestSlowWebSocketHandshake: a client sending its upgrade request to GET /sip one byte per second
// is cut off by http.read_header_timeout, without an answer, while a browser joining meanwhile is
// served over both WebSockets.
func TestSlowWebSocketHandshake(t *testing.T) {
	const timeout = 2 * time.Second
	d := startTestDaemon(t, func(c *configs.Config) { c.HTTP.ReadHeaderTimeout = timeout })
	slow, err := net.Dial("tcp", d.httpAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	upgrade := "GET /sip HTTP/1.1\r\nHost: " + d.httpAddr.String() + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
	start := time.Now()
	go func() {
		for i := 0; i < len(upgrade); i++ {
			if _, err := slow.Write([]byte{upgrade[i]}); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
	}()
	cut := make(chan []byte, 1)
	go func() {
		slow.SetReadDeadline(time.Now().Add(timeout + 5*time.Second))
		got, _ := io.ReadAll(slow) // until the focus closes, or the deadline
		cut <- got
	}()

	wendy := joinWS(t, d, "wendy") // served while the other trickles
	bob := joinLobby(t, d, "bob", "tcp")
	hello := cpimBody("sip:wendy@example.com", "sip:lobby@example.net", "not held up")
	wendy.send(hello)
	if got := bob.msrp.nextMessage(t); !bytes.Equal(got.Body, hello) {
		t.Fatalf("bob got %q", got.Body)
	}

	got := <-cut
	after := time.Since(start)
	if bytes.Contains(got, []byte("101")) {
		t.Fatalf("the trickled upgrade was answered: %q", got)
	}
	if after > timeout+2*time.Second {
		t.Fatalf("the trickling client was cut off after %v (read_header_timeout %v), or not at all", after, timeout)
	}
	if v := metricLine(t, d, "parley_http_slow_requests_total"); v != "1" {
		t.Fatalf("parley_http_slow_requests_total %q, want 1", v)
	}
}
