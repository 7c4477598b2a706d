package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
)

// faultMember is a member of a fault workload: its dialog and its MSRP connection. Unlike
// msrpPeer it never calls t.Fatal, so it can run in goroutines while the focus is killed under
// it: every failure is an error returned to the workload, which then stops.
type faultMember struct {
	dlg    *sipgo.DialogClientSession
	conn   net.Conn
	local  msrp.URI
	remote []msrp.URI
	wmu    sync.Mutex
	bind   string
	bound  chan *msrp.Message
	answer func(tid string, code int, comment string) // responses to this member's requests
	closed chan struct{}                              // closed when the connection's reader ends
	got    chan []byte                                // bodies of the focus's SENDs, while not full
}

// newFaultUA is one SIP user agent (TCP) for a whole fault test: every round dials the focus's
// new port through it. It answers the focus's BYEs and NOTIFYs.
func newFaultUA(t *testing.T) *sipgo.Client {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	agent, err := sipgo.NewUA(sipgo.WithUserAgent("parley-fault"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Close() })
	client, err := sipgo.NewClient(agent, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(agent, sipgo.WithServerLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	ok := func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	}
	srv.OnBye(ok)
	srv.OnNotify(ok)
	return client
}

// faultJoin INVITEs room at the focus on 127.0.0.1:port over TCP as sip:user@example.com with
// one MSRP m-line (a chat line, or with push set an RFC 5547 sendonly push line), connects the
// answered path and binds it. answer gets the responses to the member's own SENDs.
func faultJoin(ctx context.Context, client *sipgo.Client, port int, room, user string, push *sdp.MediaAnswer,
	answer func(tid string, code int, comment string)) (*faultMember, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m := &faultMember{local: msrp.URI{Host: "127.0.0.1", Port: 9, SessionID: msrp.NewSessionID(), Transport: "tcp"},
		bound: make(chan *msrp.Message, 1), answer: answer, closed: make(chan struct{}), got: make(chan []byte, 256)}
	line := sdp.MediaAnswer{Port: 9, Proto: "TCP/MSRP", Setup: "active", AcceptTypes: []string{"message/cpim"},
		AcceptWrappedTypes: []string{"*"}, Chatroom: &sdp.Chatroom{Nickname: true, PrivateMessages: true}}
	if push != nil {
		line = *push
	}
	line.Path = []string{m.local.String()}
	offer, err := sdp.BuildOffer(sdp.AnswerParams{Username: user, SessionID: 1, SessionVersion: 1, Address: "127.0.0.1"},
		[]sdp.MediaAnswer{line})
	if err != nil {
		return nil, err
	}
	target := sip.Uri{Scheme: "sip", User: room, Host: "127.0.0.1", Port: port, UriParams: sip.NewParams()}
	target.UriParams.Add("transport", "tcp")
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", UriParams: sip.NewParams()}}
	contact.Address.UriParams.Add("transport", "tcp")
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "example.com"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	dlg, err := (&sipgo.DialogUA{Client: client, ContactHDR: contact}).Invite(ctx, target, offer, from,
		sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		return nil, err
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return nil, err
	}
	if err := dlg.Ack(ctx); err != nil {
		return nil, err
	}
	m.dlg = dlg
	ans, err := sdp.Parse(dlg.InviteResponse.Body())
	if err != nil || len(ans.Media) == 0 || ans.Media[0].IsRejected() {
		return nil, fmt.Errorf("no MSRP line in the answer: %v", err)
	}
	if m.remote, err = msrp.ParsePath(strings.Join(ans.Media[0].Path, " ")); err != nil {
		return nil, err
	}
	if m.conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", m.remote[0].HostPort()); err != nil {
		return nil, err
	}
	go m.readLoop()
	m.bind = msrp.NewTransactionID()
	if err := m.write(&msrp.Message{TransactionID: m.bind, Method: "SEND", MessageID: msrp.NewMessageID(),
		ByteRange: msrp.ByteRange{Start: 1, End: 0, Total: 0}}); err != nil {
		m.conn.Close()
		return nil, err
	}
	select {
	case r := <-m.bound:
		if r == nil || r.StatusCode != 200 {
			m.conn.Close()
			return nil, fmt.Errorf("bind answered %v", r)
		}
	case <-ctx.Done():
		m.conn.Close()
		return nil, ctx.Err()
	}
	return m, nil
}

// write sends one request on the member's session, addressed to the focus's path.
func (m *faultMember) write(msg *msrp.Message) error {
	if msg.TransactionID == "" {
		msg.TransactionID = msrp.NewTransactionID()
	}
	msg.ToPath, msg.FromPath = m.remote, []msrp.URI{m.local}
	b := msg.AppendTo(nil)
	m.wmu.Lock()
	defer m.wmu.Unlock()
	_, err := m.conn.Write(b)
	return err
}

// sendCPIM sends one whole CPIM message with the given transaction-id.
func (m *faultMember) sendCPIM(tid string, body []byte) error {
	return m.write(&msrp.Message{TransactionID: tid, Method: "SEND", MessageID: msrp.NewMessageID(), ContentType: "message/cpim",
		Body: body, ByteRange: msrp.ByteRange{Start: 1, End: int64(len(body)), Total: int64(len(body))}})
}

func (m *faultMember) readLoop() {
	defer close(m.closed)
	defer close(m.bound)
	p := msrp.NewParser(0, 16<<20)
	buf := make([]byte, 64<<10)
	var out []byte
	for {
		n, err := m.conn.Read(buf)
		out = out[:0]
		if n > 0 {
			perr := p.Parse(buf[:n], func(f *msrp.Message, _ error) error {
				switch {
				case f.IsResponse() && f.TransactionID == m.bind:
					m.bound <- f.Clone()
				case f.IsResponse():
					if m.answer != nil {
						m.answer(f.TransactionID, f.StatusCode, f.Comment)
					}
				case f.Method == "SEND" && f.FailureReport != "no" && len(f.FromPath) > 0:
					select {
					case m.got <- bytes.Clone(f.Body):
					default:
					}
					out = (&msrp.Message{TransactionID: f.TransactionID, StatusCode: 200, Comment: "OK",
						ToPath: f.FromPath[:1], FromPath: []msrp.URI{m.local}}).AppendTo(out)
				}
				return nil
			})
			if len(out) > 0 {
				m.wmu.Lock()
				_, werr := m.conn.Write(out)
				m.wmu.Unlock()
				if werr != nil {
					err = werr
				}
			}
			if perr != nil && err == nil {
				err = perr
			}
		}
		if err != nil {
			return
		}
	}
}

// leave ends the call with a BYE and closes the MSRP connection.
func (m *faultMember) leave(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := m.dlg.Bye(ctx)
	m.conn.Close()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
