package msrp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/peers"
)

// Kamailio's msrp module (configs/kamailio/msrp-relay.cfg) as the relay between two Endpoints.

const (
	relayRealm    = "parley-relay"
	relayUser     = "alice"
	relayPassword = "relay-test-secret"
	relayWait     = 10 * time.Second
)

// kamailioRelay is a running Kamailio MSRP relay on a loopback port.
type kamailioRelay struct {
	URI URI // msrp://127.0.0.1:PORT;tcp
}

// startKamailioRelay runs Kamailio in the foreground with the relay configuration and stops it
// (its whole process group) when the test ends. Without kamailio the test is skipped, or fails
// when PARLEY_REQUIRE_PEERS=1.
func startKamailioRelay(t *testing.T, defines ...string) *kamailioRelay {
	t.Helper()
	port := peers.FreePort(t)
	r := &kamailioRelay{URI: URI{Host: "127.0.0.1", Port: port, Transport: "tcp"}}
	// Ready once a worker answers MSRP: a SEND addressed to the relay itself gets 481.
	peers.Kamailio{Config: "msrp-relay.cfg", ProbeModule: "msrp.so", Listen: []string{"tcp:" + r.URI.HostPort()},
		Defines: defines, Ready: func() bool { return relayAnswers(r.URI) }, Timeout: relayWait}.Start(t)
	return r
}

// relayAnswers reports whether an MSRP request to the relay gets a response.
func relayAnswers(relay URI) bool {
	c, err := net.DialTimeout("tcp", relay.HostPort(), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	probe := Message{Method: "SEND", TransactionID: NewTransactionID(), ToPath: []URI{relay},
		FromPath:  []URI{{Host: "127.0.0.1", Port: 9, SessionID: NewSessionID(), Transport: "tcp"}},
		MessageID: NewMessageID(), ByteRange: ByteRange{Start: 1, End: 0, Total: 0}}
	if _, err := c.Write(probe.AppendTo(nil)); err != nil {
		return false
	}
	p, buf, answered := NewParser(0, 0), make([]byte, 4096), false
	for !answered {
		n, err := c.Read(buf)
		p.Parse(buf[:n], func(m *Message, _ error) error {
			answered = answered || m.IsResponse() && m.TransactionID == probe.TransactionID
			return nil
		})
		if err != nil {
			break
		}
	}
	return answered
}

// relayInbox is a SessionHandler that hands every message to the test.
type relayInbox struct{ msgs chan *Message }

func newRelayInbox() *relayInbox { return &relayInbox{msgs: make(chan *Message, 64)} }

func (r *relayInbox) HandleMessage(_ *Session, m *Message) error { r.msgs <- m; return nil }
func (r *relayInbox) SessionClosed(*Session, CloseReason)        {}

func (r *relayInbox) next(t *testing.T, who string) *Message {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(relayWait):
		t.Fatalf("%s: no message through the relay", who)
		return nil
	}
}

// relayListener starts an Endpoint that is reached directly, on a loopback listener.
func relayListener(t *testing.T) *Endpoint {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := NewEndpoint(Config{AdvertisedHost: "127.0.0.1", AdvertisedPort: ln.Addr().(*net.TCPAddr).Port})
	done := make(chan error, 1)
	go func() { done <- e.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		e.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return e
}

// relayClient starts an Endpoint with no listener: everything it receives comes over the
// connection it opened to its relay.
func relayClient(t *testing.T) *Endpoint {
	e := NewEndpoint(Config{AdvertisedHost: "127.0.0.1", AdvertisedPort: peers.FreePort(t)})
	t.Cleanup(func() { e.Close() })
	return e
}

func TestRelay_Authenticate(t *testing.T) {
	relay := startKamailioRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), relayWait)
	defer cancel()
	e := relayClient(t)

	secure := relay.URI
	secure.Secure = true
	if _, err := e.Authenticate(ctx, secure); err == nil {
		t.Fatal("AUTH over msrps to a TCP-only relay succeeded")
	}
	if _, err := e.Authenticate(ctx, relay.URI); !errors.Is(err, ErrPlainRelay) {
		t.Fatalf("plain msrp: relay without AllowPlainRelay: got %v, want ErrPlainRelay", err)
	}
	var se *StatusError
	if _, err := e.Authenticate(ctx, relay.URI, AllowPlainRelay()); !errors.As(err, &se) || se.Code != StatusUnauthorized {
		t.Fatalf("AUTH without credentials: got %v, want 401", err)
	}
	if _, err := e.Authenticate(ctx, relay.URI, AllowPlainRelay(), WithCredentials(relayUser, "wrong")); !errors.As(err, &se) || se.Code != StatusUnauthorized {
		t.Fatalf("AUTH with a wrong password: got %v, want 401", err)
	}
	if _, err := e.Authenticate(ctx, relay.URI, AllowPlainRelay(), WithCredentials("mallory", relayPassword)); !errors.As(err, &se) || se.Code != StatusUnauthorized {
		t.Fatalf("AUTH as another user: got %v, want 401", err)
	}
	usePath, err := e.Authenticate(ctx, relay.URI, AllowPlainRelay(), WithCredentials(relayUser, relayPassword))
	if err != nil {
		t.Fatalf("AUTH: %v", err)
	}
	if len(usePath) != 1 || usePath[0].Host != "127.0.0.1" || usePath[0].Port != relay.URI.Port || usePath[0].SessionID == "" {
		t.Fatalf("Use-Path %v, want one URI of the relay with a session-id", usePath)
	}
	if st := e.Stats(); st.Connections != 1 {
		t.Fatalf("after AUTH the client holds %d connections, want 1 (the relay's)", st.Connections)
	}
}

func TestRelay_AuthenticateWithoutDigest(t *testing.T) {
	relay := startKamailioRelay(t, "WITHOUT_AUTH")
	ctx, cancel := context.WithTimeout(context.Background(), relayWait)
	defer cancel()
	usePath, err := relayClient(t).Authenticate(ctx, relay.URI, AllowPlainRelay())
	if err != nil || len(usePath) != 1 {
		t.Fatalf("AUTH to a relay without authentication: %v, %v", usePath, err)
	}
}

// TestRelay_Exchange: a client behind the relay and a directly reached peer exchange messages
// both ways. The client connects (to its relay); the peer is passive, as the focus is.
func TestRelay_Exchange(t *testing.T) {
	relay := startKamailioRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), relayWait)
	defer cancel()

	alice := relayClient(t)
	usePath, err := alice.Authenticate(ctx, relay.URI, AllowPlainRelay(), WithCredentials(relayUser, relayPassword))
	if err != nil {
		t.Fatal(err)
	}
	bob := relayListener(t)
	aliceIn, bobIn := newRelayInbox(), newRelayInbox()
	as, bs := alice.NewSession(aliceIn), bob.NewSession(bobIn)

	// The SDP exchange: alice offers the Use-Path and her URI, bob answers his URI.
	alicePath := PathVia(usePath, as.LocalURI())
	bobPath := []URI{bs.LocalURI()}
	bs.SetRemotePath(alicePath)
	as.SetRemotePath(RouteVia(usePath, bobPath))
	if err := as.Connect(ctx); err != nil {
		t.Fatalf("Connect through the relay: %v", err)
	}
	if st := alice.Stats(); st.Connections != 1 {
		t.Fatalf("alice holds %d connections, want 1: Connect must reuse the connection she authenticated on", st.Connections)
	}

	for i := range 3 {
		out := fmt.Sprintf("alice to bob %d", i)
		if err := as.Send("text/plain", []byte(out)); err != nil {
			t.Fatal(err)
		}
		m := bobIn.next(t, "bob")
		if string(m.Body) != out {
			t.Fatalf("bob got %q, want %q", m.Body, out)
		}
		// The relay put itself in front of alice's URI (RFC 4976 §6.4.1).
		if len(m.FromPath) != 2 || !m.FromPath[0].Equal(usePath[0]) || !m.FromPath[1].Equal(as.LocalURI()) {
			t.Fatalf("bob got From-Path %v, want %v", m.FromPath, alicePath)
		}
		if len(m.ToPath) != 1 || !m.ToPath[0].Equal(bs.LocalURI()) {
			t.Fatalf("bob got To-Path %v", m.ToPath)
		}

		back := fmt.Sprintf("bob to alice %d", i)
		if err := bs.Send("text/plain", []byte(back)); err != nil {
			t.Fatal(err)
		}
		m = aliceIn.next(t, "alice")
		if string(m.Body) != back {
			t.Fatalf("alice got %q, want %q", m.Body, back)
		}
		if len(m.FromPath) != 2 || !m.FromPath[0].Equal(usePath[0]) || !m.FromPath[1].Equal(bs.LocalURI()) {
			t.Fatalf("alice got From-Path %v, want relay then bob", m.FromPath)
		}
		if len(m.ToPath) != 1 || !m.ToPath[0].Equal(as.LocalURI()) {
			t.Fatalf("alice got To-Path %v", m.ToPath)
		}
	}
	if st := alice.Stats(); st.TransactionTimeouts != 0 {
		t.Fatalf("alice: %d transactions unanswered", st.TransactionTimeouts)
	}
}

// TestRelay_BothBehindRelay: two clients of the same relay (To-Path: relay/alice, relay/carol, carol).
func TestRelay_BothBehindRelay(t *testing.T) {
	relay := startKamailioRelay(t)
	ctx, cancel := context.WithTimeout(context.Background(), relayWait)
	defer cancel()

	alice, carol := relayClient(t), relayClient(t)
	aliceUse, err := alice.Authenticate(ctx, relay.URI, AllowPlainRelay(), WithCredentials(relayUser, relayPassword))
	if err != nil {
		t.Fatal(err)
	}
	carolUse, err := carol.Authenticate(ctx, relay.URI, AllowPlainRelay(), WithCredentials(relayUser, relayPassword))
	if err != nil {
		t.Fatal(err)
	}
	aliceIn, carolIn := newRelayInbox(), newRelayInbox()
	as, cs := alice.NewSession(aliceIn), carol.NewSession(carolIn)
	alicePath, carolPath := PathVia(aliceUse, as.LocalURI()), PathVia(carolUse, cs.LocalURI())
	as.SetRemotePath(RouteVia(aliceUse, carolPath))
	cs.SetRemotePath(RouteVia(carolUse, alicePath))

	if err := as.Connect(ctx); err != nil {
		t.Fatalf("Connect through the relay twice: %v", err)
	}
	if err := as.Send("text/plain", []byte("hello carol")); err != nil {
		t.Fatal(err)
	}
	if m := carolIn.next(t, "carol"); string(m.Body) != "hello carol" || !m.FromPath[len(m.FromPath)-1].Equal(as.LocalURI()) {
		t.Fatalf("carol got %q from %v", m.Body, m.FromPath)
	}
	if err := cs.Send("text/plain", []byte("hello alice")); err != nil {
		t.Fatal(err)
	}
	if m := aliceIn.next(t, "alice"); string(m.Body) != "hello alice" || !m.FromPath[len(m.FromPath)-1].Equal(cs.LocalURI()) {
		t.Fatalf("alice got %q from %v", m.Body, m.FromPath)
	}
}

// TestRelay_AuthenticateRetries drives Authenticate against a scripted relay: a stale nonce is
// answered again, and Expires is raised to the relay's Min-Expires (RFC 4976 §5.1).
func TestRelay_AuthenticateRetries(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	relay := URI{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Transport: "tcp"}
	use := URI{Host: "127.0.0.1", Port: relay.Port, SessionID: "use1", Transport: "tcp"}
	script := []func(req *Message) (int, []Header){
		func(req *Message) (int, []Header) {
			return 401, []Header{{"WWW-Authenticate", `Digest realm="r", nonce="n1", qop="auth"`}}
		},
		func(req *Message) (int, []Header) {
			return 401, []Header{{"WWW-Authenticate", `Digest realm="r", nonce="n2", qop="auth", stale=true`}}
		},
		func(req *Message) (int, []Header) { return 423, []Header{{"Min-Expires", "600"}} },
		func(req *Message) (int, []Header) {
			return 200, []Header{{"Use-Path", use.String()}, {"Expires", req.Header("Expires")}}
		},
	}
	seen := make(chan *Message, len(script))
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		p, buf, step := NewParser(0, 0), make([]byte, 4096), 0
		for step < len(script) {
			n, err := c.Read(buf)
			p.Parse(buf[:n], func(m *Message, _ error) error {
				req := m.Clone()
				seen <- req
				code, hdrs := script[step](req)
				step++
				resp := Message{TransactionID: req.TransactionID, StatusCode: code, Comment: StatusText(code),
					ToPath: req.FromPath, FromPath: req.ToPath, Headers: hdrs}
				c.Write(resp.AppendTo(nil))
				return nil
			})
			if err != nil {
				return
			}
		}
		io.Copy(io.Discard, c) // the adopted connection stays open until the Endpoint closes
	}()

	ctx, cancel := context.WithTimeout(context.Background(), relayWait)
	defer cancel()
	e := relayClient(t)
	usePath, err := e.Authenticate(ctx, relay, AllowPlainRelay(), WithCredentials("u", "p"), WithExpires(90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(usePath) != 1 || !usePath[0].Equal(use) {
		t.Fatalf("Use-Path %v, want %v", usePath, use)
	}
	var reqs []*Message
	for range script {
		reqs = append(reqs, <-seen)
	}
	if reqs[0].Header("Authorization") != "" || reqs[0].Header("Expires") != "90" {
		t.Errorf("first AUTH: Authorization %q, Expires %q", reqs[0].Header("Authorization"), reqs[0].Header("Expires"))
	}
	if a := reqs[1].Header("Authorization"); !strings.Contains(a, `nonce="n1"`) || !strings.Contains(a, `uri="`+relay.String()+`"`) {
		t.Errorf("answer to the challenge: %q", a)
	}
	if a := reqs[2].Header("Authorization"); !strings.Contains(a, `nonce="n2"`) {
		t.Errorf("answer to the stale nonce: %q", a)
	}
	if reqs[3].Header("Expires") != "600" {
		t.Errorf("after 423: Expires %q, want Min-Expires 600", reqs[3].Header("Expires"))
	}
	for _, r := range reqs {
		if r.Method != "AUTH" || len(r.ToPath) != 1 || !r.ToPath[0].Equal(relay) {
			t.Errorf("request %s to %v", r.Method, r.ToPath)
		}
	}
}
