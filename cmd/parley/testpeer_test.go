package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/msrptest"
	"github.com/parleychat/parley/sdp"
)

// startTestDaemon runs the real daemon in process on loopback ports chosen by the kernel,
// with its database in a temporary directory, and shuts it down when the test ends.
func startTestDaemon(t *testing.T, edit func(*configs.Config)) *daemon {
	t.Helper()
	cfg := configs.Default()
	cfg.SIP.Listen = "127.0.0.1:0"
	cfg.MSRP.Listen = "127.0.0.1:0"
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Domain = "example.net"
	if edit != nil {
		edit(cfg)
	}
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	d, err := startDaemon(context.Background(), cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		runPeerClosers(t)
	})
	return d
}

// Peers close after the daemon has shut down (not before, as t.Cleanup's order would have it),
// so that the focus's BYEs find them still answering.
var peerClosers = struct {
	sync.Mutex
	byTest map[*testing.T][]func()
}{byTest: map[*testing.T][]func(){}}

func closeWithDaemon(t *testing.T, fn func()) {
	peerClosers.Lock()
	defer peerClosers.Unlock()
	peerClosers.byTest[t] = append(peerClosers.byTest[t], fn)
}

func runPeerClosers(t *testing.T) {
	peerClosers.Lock()
	fns := peerClosers.byTest[t]
	delete(peerClosers.byTest, t)
	peerClosers.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// testLogger logs warnings only, or everything with PARLEY_TEST_LOG=1.
func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// sipPeer is a SIP user agent on sipgo, the same library a softphone author would use.
type sipPeer struct {
	byes     chan struct{} // one value per BYE received from the focus
	aor      sip.Uri
	ua       *sipgo.UserAgent
	client   *sipgo.Client
	dialogUA *sipgo.DialogUA
}

// newTestUA builds a sipgo user agent called name, with a client on host and a server for what
// it answers; the agent closes after the daemon.
func newTestUA(t *testing.T, name, host string, opts ...sipgo.UserAgentOption) (*sipgo.UserAgent, *sipgo.Client, *sipgo.Server) {
	t.Helper()
	ua, err := sipgo.NewUA(append([]sipgo.UserAgentOption{sipgo.WithUserAgent(name)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname(host))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	closeWithDaemon(t, func() { ua.Close() })
	return ua, client, srv
}

func newSIPPeer(t *testing.T, user, host string) *sipPeer {
	t.Helper()
	ua, client, srv := newTestUA(t, user, "127.0.0.1")
	// A softphone answers the focus's BYE (room closed, shutdown).
	byes := make(chan struct{}, 16)
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		byes <- struct{}{}
	})
	aor := sip.Uri{Scheme: "sip", User: user, Host: host}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1"}}
	return &sipPeer{byes: byes, aor: aor, ua: ua, client: client, dialogUA: &sipgo.DialogUA{Client: client, ContactHDR: contact}}
}

// invite sends an INVITE with body to the room over transport and waits for the final answer.
// It returns the dialog (established on 2xx) and the final response.
func (p *sipPeer) invite(t *testing.T, d *daemon, room, transport string, body []byte) (*sipgo.DialogClientSession, *sip.Response, error) {
	t.Helper()
	return p.inviteAt(t, d.sip.Port(), room, transport, body)
}

// inviteAt is invite for a focus on 127.0.0.1:port (a daemon in another process).
func (p *sipPeer) inviteAt(t *testing.T, port int, room, transport string, body []byte, extra ...sip.Header) (*sipgo.DialogClientSession, *sip.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	target := sip.Uri{Scheme: "sip", User: room, Host: "127.0.0.1", Port: port, UriParams: sip.NewParams()}
	if transport != "udp" {
		target.UriParams.Add("transport", transport)
	}
	from := &sip.FromHeader{Address: p.aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	hdrs := append([]sip.Header{from, sip.NewHeader("Content-Type", "application/sdp")}, extra...)
	dlg, err := p.dialogUA.Invite(ctx, target, body, hdrs...)
	if err != nil {
		return nil, nil, err
	}
	return answered(t, ctx, dlg)
}

// answered waits for the final response to an INVITE sent on dlg and ACKs a 2xx; it returns the
// final response, and the error of a refusal.
func answered(t *testing.T, ctx context.Context, dlg *sipgo.DialogClientSession) (*sipgo.DialogClientSession, *sip.Response, error) {
	t.Helper()
	var final *sip.Response
	err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		if res.StatusCode >= 200 {
			final = res
		}
		return nil
	}})
	if err != nil {
		return dlg, final, err
	}
	if err := dlg.Ack(ctx); err != nil {
		t.Fatalf("ACK: %v", err)
	}
	return dlg, dlg.InviteResponse, nil
}

// msrpPeer is a participant's MSRP side on a raw TCP socket, so that tests see exactly the
// bytes on the wire: the kit's scripted peer, which answers the focus's SENDs with 200 (or
// Refuse) and records every frame, chunked messages whole, plus the SDP of the offer.
type msrpPeer struct {
	*msrptest.Peer
	t *testing.T

	chatroom                  *sdp.Chatroom // offered a=chatroom; nil: nickname and private-messages
	acceptTypes, wrappedTypes []string      // offered; nil: message/cpim, and text/plain and *
	small                     bool          // a small socket receive buffer: what is not read stays at the focus
}

func newMSRPPeer(t *testing.T) *msrpPeer {
	p := msrptest.New(t)
	p.Reassemble = true
	p.Cleanup = func(fn func()) { closeWithDaemon(t, fn) }
	return &msrpPeer{Peer: p, t: t}
}

// offer returns an SDP offer with one MSRP m-line per label ("" means no a=label).
func (m *msrpPeer) offer(t *testing.T, labels ...string) []byte {
	t.Helper()
	var media []sdp.MediaAnswer
	for _, l := range labels {
		chatroom, accept, wrapped := m.chatroom, m.acceptTypes, m.wrappedTypes
		if chatroom == nil {
			chatroom = &sdp.Chatroom{Nickname: true, PrivateMessages: true}
		}
		if accept == nil {
			accept = []string{"message/cpim"}
		}
		if wrapped == nil {
			wrapped = []string{"text/plain", "*"}
		}
		media = append(media, sdp.MediaAnswer{
			Port: 9, Proto: "TCP/MSRP", Path: []string{m.Local.String()}, Label: l, Setup: "active",
			AcceptTypes: accept, AcceptWrappedTypes: wrapped, Chatroom: chatroom,
		})
	}
	b, err := sdp.BuildOffer(sdp.AnswerParams{Username: "peer", SessionID: 1, SessionVersion: 1, Address: "127.0.0.1"}, media)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// connect opens the TCP connection to the focus path of the answer's m-line index and binds
// the session with a bodiless SEND (RFC 4975 §5.4).
func (m *msrpPeer) connect(t *testing.T, answer []byte, index int) {
	t.Helper()
	ans, err := sdp.Parse(answer)
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	path, err := msrp.ParsePath(strings.Join(ans.Media[index].Path, " "))
	if err != nil {
		t.Fatalf("answer path: %v", err)
	}
	var dialer net.Dialer
	if m.small {
		// Set before connecting, so that the window the handshake announces is already small.
		dialer.Control = func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}
	}
	m.Dial(t, path, &dialer)
	m.Bind(t)
}

// attach makes conn the peer's connection, already open, to remote (nil: Remote as it is) and
// starts reading it.
func (m *msrpPeer) attach(conn net.Conn, remote []msrp.URI) {
	if remote != nil {
		m.Remote = remote
	}
	m.Start(conn)
}

// The kit's names, as the scenarios call them.
func (m *msrpPeer) pause()                                   { m.Pause() }
func (m *msrpPeer) resume()                                  { m.Resume() }
func (m *msrpPeer) stopReading()                             { m.StopReading() }
func (m *msrpPeer) write(msg *msrp.Message) string           { return m.Write(msg) }
func (m *msrpPeer) writeQuiet(msg *msrp.Message)             { m.WriteQuiet(msg) }
func (m *msrpPeer) send(contentType string, b []byte) string { return m.Send(contentType, b) }
func (m *msrpPeer) next(t *testing.T) *msrp.Message          { t.Helper(); return m.Next(t) }
func (m *msrpPeer) nextFromWire(t *testing.T) *msrp.Message  { t.Helper(); return m.NextFromWire(t) }
func (m *msrpPeer) response(t *testing.T, tid string) *msrp.Message {
	t.Helper()
	return m.Response(t, tid)
}
func (m *msrpPeer) nextMessage(t *testing.T) *msrp.Message { t.Helper(); return m.NextRequest(t) }

// cpimBody builds a CPIM message as a client would write it (RFC 3862 §2).
func cpimBody(from, to, text string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\nDateTime: 2026-11-25T20:00:00Z\r\n\r\nContent-Type: text/plain;charset=utf-8\r\n\r\n%s", from, to, text)
	return b.Bytes()
}

func dialTCP(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }
