package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/peers"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
)

// The room through an RFC 4976 relay: Kamailio's msrp module (configs/kamailio/msrp-relay.cfg)
// between a client and the focus.

const (
	relayUser     = "alice" // the config's default test credentials
	relayPassword = "relay-test-secret"
)

// syncBuffer collects a child process's output for the failure log.
type syncBuffer = peers.Buffer

// startMSRPRelay runs Kamailio in the foreground as an MSRP relay on a free loopback port and
// returns the relay's URI; the whole process group is stopped when the test ends.
func startMSRPRelay(t *testing.T) msrp.URI {
	t.Helper()
	relay := msrp.URI{Host: "127.0.0.1", Port: freePort(t), Transport: "tcp"}
	startKamailio(t, "msrp-relay.cfg", "msrp.so", relay.HostPort(), []string{"tcp:" + relay.HostPort()})
	return relay
}

// startKamailio runs Kamailio in the foreground with configs/kamailio/cfgName, listening on
// listen (-l sockets), from the modules directory holding probeModule, and returns once its TCP
// socket at tcpAddr accepts connections. The whole process group is stopped when the test ends.
func startKamailio(t *testing.T, cfgName, probeModule, tcpAddr string, listen []string, defines ...string) {
	t.Helper()
	peers.Kamailio{Config: cfgName, ProbeModule: probeModule, Listen: listen, Defines: defines, ReadyAddr: tcpAddr}.Start(t)
}

// roomNotice reports whether a CPIM body comes from the room itself.
func roomNotice(body []byte) bool {
	return bytes.Contains(body, []byte("From: <sip:lobby@example.net>"))
}

// relayedInbox receives the relayed client's messages.
type relayedInbox struct{ msgs chan *msrp.Message }

func (r *relayedInbox) HandleMessage(_ *msrp.Session, m *msrp.Message) error { r.msgs <- m; return nil }
func (r *relayedInbox) SessionClosed(*msrp.Session, msrp.CloseReason)        {}

func (r *relayedInbox) next(t *testing.T) *msrp.Message {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(20 * time.Second):
		t.Fatal("no MSRP message reached the relayed client")
		return nil
	}
}

// TestRelayRoom: alice sits behind the relay (AUTH, Use-Path in her a=path, MSRP over her
// connection to the relay); bob is connected directly. Each one's messages reach the other
// through the room, unchanged.
func TestRelayRoom(t *testing.T) {
	relay := startMSRPRelay(t)
	d := startTestDaemon(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	bob := joinLobby(t, d, "bob", "tcp")

	// alice: an MSRP endpoint with no listener of its own; everything comes over the relay.
	alice := msrp.NewEndpoint(msrp.Config{AdvertisedHost: "127.0.0.1", AdvertisedPort: 9})
	closeWithDaemon(t, func() { alice.Close() })
	usePath, err := alice.Authenticate(ctx, relay, msrp.AllowPlainRelay(), msrp.WithCredentials(relayUser, relayPassword))
	if err != nil {
		t.Fatalf("AUTH to the relay: %v", err)
	}
	inbox := &relayedInbox{msgs: make(chan *msrp.Message, 64)}
	s := alice.NewSession(inbox)
	var path []string
	for _, u := range msrp.PathVia(usePath, s.LocalURI()) {
		path = append(path, u.String())
	}
	offer, err := sdp.BuildOffer(sdp.AnswerParams{Username: "alice", SessionID: 1, SessionVersion: 1, Address: "127.0.0.1"},
		[]sdp.MediaAnswer{{
			Port: 9, Proto: "TCP/MSRP", Path: path, Label: "main", Setup: "active",
			AcceptTypes: []string{"message/cpim"}, AcceptWrappedTypes: []string{"text/plain", "*"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	sipAlice := newSIPPeer(t, "alice", "example.com")
	_, res, err := sipAlice.invite(t, d, "lobby", "tcp", offer)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("alice INVITE: %v %v", res, err)
	}
	ans, err := sdp.Parse(res.Body())
	if err != nil {
		t.Fatal(err)
	}
	focusPath, err := msrp.ParsePath(strings.Join(ans.Media[0].Path, " "))
	if err != nil {
		t.Fatal(err)
	}
	s.SetRemotePath(msrp.RouteVia(usePath, focusPath))
	if err := s.Connect(ctx); err != nil {
		t.Fatalf("alice Connect through the relay: %v", err)
	}
	if st := alice.Stats(); st.Connections != 1 {
		t.Fatalf("alice holds %d connections, want only the one to her relay", st.Connections)
	}

	// alice → room → bob.
	fromAlice := cpimBody("sip:alice@example.com", "sip:lobby@example.net", "hello from behind the relay")
	if err := s.Send("message/cpim", fromAlice); err != nil {
		t.Fatal(err)
	}
	for {
		f := bob.msrp.next(t)
		if f.IsResponse() || roomNotice(f.Body) {
			continue
		}
		if f.Method != "SEND" || !bytes.Equal(f.Body, fromAlice) {
			t.Fatalf("bob got %s %q, want alice's message", f.Method, f.Body)
		}
		break
	}

	// bob → room → relay → alice.
	fromBob := cpimBody("sip:bob@example.com", "sip:lobby@example.net", "hello relayed alice")
	bob.msrp.send("message/cpim", fromBob)
	m := inbox.next(t)
	for roomNotice(m.Body) { // the room's own notices (logging, history) come the same way
		m = inbox.next(t)
	}
	if !bytes.Equal(m.Body, fromBob) || m.ContentType != "message/cpim" {
		t.Fatalf("alice got %q (%s), want bob's message", m.Body, m.ContentType)
	}
	// It came through the relay: the relay's Use-Path URI heads the From-Path, the focus ends it.
	if len(m.FromPath) != 2 || !m.FromPath[0].Equal(usePath[0]) || m.FromPath[1].SessionID != focusPath[len(focusPath)-1].SessionID {
		t.Fatalf("alice got From-Path %v, want the relay then the focus %v", m.FromPath, focusPath)
	}
	if st := alice.Stats(); st.TransactionTimeouts != 0 || st.Connections != 1 {
		t.Fatalf("alice: %+v", st)
	}
}
