package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
)

// endpointPeer is a participant whose MSRP side is an msrp.Endpoint (the project's own MSRP
// stack acting as a client), for flows where the client listens or speaks TLS.
type endpointPeer struct {
	ep       *msrp.Endpoint
	session  *msrp.Session
	messages chan []byte
	closed   chan msrp.CloseReason
}

func (p *endpointPeer) HandleMessage(_ *msrp.Session, m *msrp.Message) error {
	p.messages <- m.Body
	return nil
}

func (p *endpointPeer) SessionClosed(_ *msrp.Session, r msrp.CloseReason) { p.closed <- r }

func newEndpointPeer(t *testing.T, withTLS bool) *endpointPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := msrp.Config{AdvertisedHost: "127.0.0.1", AdvertisedPort: ln.Addr().(*net.TCPAddr).Port}
	if withTLS {
		cert, err := msrp.LoadOrCreateCertificate(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificate = &cert
	}
	p := &endpointPeer{ep: msrp.NewEndpoint(cfg), messages: make(chan []byte, 64), closed: make(chan msrp.CloseReason, 4)}
	if withTLS {
		go p.ep.ServeTLS(context.Background(), ln)
		p.session = p.ep.NewTLSSession(p)
	} else {
		go p.ep.Serve(context.Background(), ln)
		p.session = p.ep.NewSession(p)
	}
	closeWithDaemon(t, func() { p.ep.Close() })
	return p
}

func (p *endpointPeer) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-p.messages:
		return b
	case r := <-p.closed:
		t.Fatalf("session closed: %v", r)
	case <-time.After(20 * time.Second):
		t.Fatal("no message")
	}
	return nil
}

// TestPassiveClientIsConnectedTo (RFC 6135): an offer with a=setup:passive is answered active,
// and the focus opens the connection and binds the session itself.
func TestPassiveClientIsConnectedTo(t *testing.T) {
	d := startTestDaemon(t, nil)
	peer := newEndpointPeer(t, false)
	offer, err := sdp.BuildOffer(sdp.AnswerParams{Username: "p", SessionID: 1, SessionVersion: 1, Address: "127.0.0.1"},
		[]sdp.MediaAnswer{{Port: peer.session.LocalURI().Port, Proto: "TCP/MSRP", Path: []string{peer.session.LocalURI().String()},
			Setup: "passive", AcceptTypes: []string{"message/cpim"}, AcceptWrappedTypes: []string{"*"},
			Chatroom: &sdp.Chatroom{Nickname: true, PrivateMessages: true}}})
	if err != nil {
		t.Fatal(err)
	}
	_, res, err := newSIPPeer(t, "pat", "example.com").invite(t, d, "lobby", "tcp", offer)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", res, err)
	}
	ans, _ := sdp.Parse(res.Body())
	if ans.Media[0].Setup != "active" {
		t.Fatalf("answer a=setup:%s, want active", ans.Media[0].Setup)
	}
	// The logging notice can only arrive once the focus has connected and bound the session.
	if got := peer.next(t); !bytes.Contains(got, []byte("logged")) {
		t.Fatalf("first message %q", got)
	}
}

// TestTLSJoin: TCP/TLS/MSRP with a=fingerprint (RFC 4975 §14, RFC 8122): the answer carries the
// focus's fingerprint, the client checks the focus's certificate against it, and the focus
// checks the client's certificate against the offer's; a wrong one is refused.
func TestTLSJoin(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.MSRP.TLSListen = "127.0.0.1:0" })
	for _, tc := range []struct {
		name      string
		wrongFP   bool
		wantJoins bool
	}{{"matching fingerprints", false, true}, {"offer names another certificate", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			peer := newEndpointPeer(t, true)
			fp := peer.ep.Config().Certificate
			fingerprint := msrp.Fingerprint(*fp)
			if tc.wrongFP {
				other, _ := msrp.LoadOrCreateCertificate(t.TempDir())
				fingerprint = msrp.Fingerprint(other)
			}
			offer, err := sdp.BuildOffer(sdp.AnswerParams{Username: "p", SessionID: 1, SessionVersion: 1, Address: "127.0.0.1"},
				[]sdp.MediaAnswer{{Port: peer.session.LocalURI().Port, Proto: "TCP/TLS/MSRP", Path: []string{peer.session.LocalURI().String()},
					Setup: "active", AcceptTypes: []string{"message/cpim"}, AcceptWrappedTypes: []string{"*"}, Fingerprint: fingerprint,
					Chatroom: &sdp.Chatroom{Nickname: true, PrivateMessages: true}}})
			if err != nil {
				t.Fatal(err)
			}
			_, res, err := newSIPPeer(t, "tess", "example.com").invite(t, d, "lobby", "tcp", offer)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("INVITE: %v %v", res, err)
			}
			ans, _ := sdp.Parse(res.Body())
			m := ans.Media[0]
			if m.Proto != "TCP/TLS/MSRP" || !strings.HasPrefix(m.Path[0], "msrps://") || !strings.HasPrefix(m.Fingerprint, "sha-256 ") {
				t.Fatalf("answer m-line: %s %v %q", m.Proto, m.Path, m.Fingerprint)
			}
			path, _ := msrp.ParsePath(strings.Join(m.Path, " "))
			peer.session.SetRemotePath(path)
			peer.session.SetPeerFingerprint(m.Fingerprint)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = peer.session.Connect(ctx)
			if !tc.wantJoins {
				if err == nil {
					select {
					case <-peer.closed:
					case b := <-peer.messages:
						t.Fatalf("a client with the wrong certificate received %q", b)
					case <-time.After(20 * time.Second):
						t.Fatal("the focus accepted a certificate that does not match the offer")
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("TLS connect: %v", err)
			}
			if got := peer.next(t); !bytes.Contains(got, []byte("logged")) {
				t.Fatalf("first message over TLS %q", got)
			}
		})
	}
}
