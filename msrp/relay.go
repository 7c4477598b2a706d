package msrp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client side of RFC 4976 relays. A client behind a relay:
//
//  1. calls Endpoint.Authenticate with its relay's URI and gets the Use-Path (RFC 4976 §5);
//  2. advertises PathVia(usePath, s.LocalURI()) as its SDP a=path, so peers send to the relay;
//  3. when it learns the peer's a=path, calls s.SetRemotePath(RouteVia(usePath, peerPath)):
//     To-Path is then the Use-Path followed by the peer's path, and Connect opens (or reuses)
//     the connection to the relay, the connection the client authenticated on (RFC 4976 §5.1).
//
// From-Path stays our own URI alone: each relay prepends its URI as it forwards (§6.4.1). On the
// way in, the last To-Path URI names our session and a SEND is answered to the leftmost From-Path
// URI (the relay, hop by hop), which the rest of the package already does for any path length.

// ErrPlainRelay: Authenticate was given an msrp: relay URI without AllowPlainRelay.
var ErrPlainRelay = errors.New("msrp: relay URI is not msrps (TLS); pass AllowPlainRelay to permit TCP")

// maxAuthRounds bounds the AUTH exchange: a first try, an answer to the challenge, and one more
// for a stale nonce or an adjusted Expires.
const maxAuthRounds = 4

// Authenticate sends AUTH to relay (RFC 4976 §5) on a connection reused by later sessions to the
// same scheme, host and port, answers a 401 challenge with Digest when WithCredentials was given,
// and returns the Use-Path of the 200 response. A refusal comes back as a *StatusError (401 when
// the relay wants credentials we lack or rejects ours, 423 for Expires out of bounds, …).
//
// Each call opens a new connection, which stays open afterwards: the relay delivers incoming
// frames for the Use-Path on it, and it becomes the Endpoint's connection to that relay, which
// Session.Connect reuses. Sessions already bound to an earlier connection keep it, so use the
// Use-Path of the latest call for new sessions. The AUTH's From-Path is a fresh URI on the
// advertised host and port.
func (e *Endpoint) Authenticate(ctx context.Context, relay URI, opts ...AuthOption) (usePath []URI, err error) {
	var o authOptions
	for _, opt := range opts {
		opt(&o)
	}
	if !relay.Secure && !o.allowPlain {
		return nil, ErrPlainRelay
	}
	if relay.Port == 0 {
		return nil, &URIError{URI: relay.String(), Reason: "relay URI needs a port"}
	}
	nc, err := e.dialRelay(ctx, relay)
	if err != nil {
		return nil, fmt.Errorf("msrp: AUTH to %s: %w", relay, err)
	}
	adopted := false
	defer func() {
		if !adopted {
			nc.Close()
		}
	}()
	// From-Path of an AUTH is a URI of ours (RFC 4976 §5); it names no session.
	host := e.cfg().AdvertisedHost
	if host == "" {
		host = "localhost"
	}
	from := URI{Secure: relay.Secure, Host: host, Port: e.cfg().AdvertisedPort, SessionID: NewSessionID(), Transport: "tcp"}
	rt := relayExchange{nc: nc, parser: NewParser(e.cfg().MaxHeaderBytes, e.cfg().MaxMessageSize), timeout: e.cfg().TransactionTimeout}

	var authorization string
	expires := o.expires
	answered := false
	for round := 0; round < maxAuthRounds; round++ {
		m := Message{Method: "AUTH", TransactionID: NewTransactionID(), ToPath: []URI{relay}, FromPath: []URI{from}}
		if authorization != "" {
			m.Headers = append(m.Headers, Header{Name: "Authorization", Value: authorization})
		}
		if expires > 0 {
			m.Headers = append(m.Headers, Header{Name: "Expires", Value: strconv.FormatInt(int64((expires+time.Second-1)/time.Second), 10)})
		}
		resp, err := rt.roundTrip(ctx, &m)
		if err != nil {
			return nil, fmt.Errorf("msrp: AUTH to %s: %w", relay, err)
		}
		switch resp.StatusCode {
		case StatusOK:
			usePath, err := parseUsePath(relay, resp)
			if err != nil {
				return nil, err
			}
			// The relay delivers frames for this Use-Path on this connection: it becomes the
			// Endpoint's connection to the relay, which Session.Connect reuses.
			if !e.addConn(newConn(e, NewNetTransport(nc), dialKey(relay))) {
				return nil, ErrEndpointClosed
			}
			adopted = true
			return usePath, nil
		case StatusUnauthorized:
			if authorization, err = o.authorize(relay, resp, answered); err != nil {
				return nil, err
			}
			answered = true
		case StatusOutOfBounds:
			lo, hi := headerSeconds(resp, "Min-Expires"), headerSeconds(resp, "Max-Expires")
			switch {
			case lo > 0 && expires < lo:
				expires = lo
			case hi > 0 && (expires == 0 || expires > hi):
				expires = hi
			default:
				return nil, &StatusError{Code: resp.StatusCode, Comment: resp.Comment}
			}
		default:
			return nil, &StatusError{Code: resp.StatusCode, Comment: resp.Comment}
		}
	}
	return nil, fmt.Errorf("msrp: AUTH to %s: no 200 after %d attempts", relay, maxAuthRounds)
}

// PathVia returns the a=path of a session whose client is behind relays: the Use-Path, in the
// order the relay returned it, then the session's own URI (RFC 4976 §5.1). Peers connect to its
// first URI, the relay.
func PathVia(usePath []URI, local URI) []URI {
	p := make([]URI, 0, len(usePath)+1)
	return append(append(p, usePath...), local)
}

// RouteVia returns what a client behind relays gives Session.SetRemotePath: the Use-Path, then
// the peer's a=path (RFC 4976 §5.1). Every request then carries it as To-Path, and Connect dials
// its first URI, the relay.
func RouteVia(usePath, peerPath []URI) []URI {
	p := make([]URI, 0, len(usePath)+len(peerPath))
	return append(append(p, usePath...), peerPath...)
}

// dialKey is the key under which Endpoint.dial keeps and reuses connections (scheme, host, port).
func dialKey(hop URI) string {
	if hop.Secure {
		return "msrps://" + hop.HostPort()
	}
	return "msrp://" + hop.HostPort()
}

// dialRelay opens a new connection to the relay: TCP, then TLS for an msrps URI.
func (e *Endpoint) dialRelay(ctx context.Context, relay URI) (net.Conn, error) {
	if e.isClosed() {
		return nil, ErrEndpointClosed
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", relay.HostPort())
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	if !relay.Secure {
		return nc, nil
	}
	if e.cfg().TLSConfig == nil {
		nc.Close()
		return nil, errors.New("msrp: msrps relay URI but no TLS configuration")
	}
	cfg := e.cfg().TLSConfig.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = relay.Host // the relay's certificate must name it (RFC 4976 §5.1)
	}
	tlsConn := tls.Client(nc, cfg)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return tlsConn, nil
}

// relayExchange runs the AUTH transactions on a connection before the Endpoint adopts it. Nothing
// else can arrive on it yet: the relay has not handed out a Use-Path.
type relayExchange struct {
	nc      net.Conn
	parser  *Parser
	buf     []byte
	timeout time.Duration
}

// roundTrip writes req and reads until the response with its transaction-id (RFC 4975 §7.2).
func (x *relayExchange) roundTrip(ctx context.Context, req *Message) (*Message, error) {
	deadline := time.Now().Add(x.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	x.nc.SetDeadline(deadline)
	// Cancelling ctx interrupts the read, but never after we return: the connection may be adopted.
	var mu sync.Mutex
	finished := false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !finished {
			x.nc.SetDeadline(time.Now())
		}
	})
	defer func() {
		stop()
		mu.Lock()
		finished = true
		mu.Unlock()
		x.nc.SetDeadline(time.Time{})
	}()

	if _, err := x.nc.Write(req.AppendTo(nil)); err != nil {
		return nil, ctxErr(ctx, err)
	}
	if x.buf == nil {
		x.buf = make([]byte, 4096)
	}
	var resp *Message
	for resp == nil {
		n, err := x.nc.Read(x.buf)
		if n > 0 {
			perr := x.parser.Parse(x.buf[:n], func(m *Message, ferr error) error {
				if resp == nil && ferr == nil && m.IsResponse() && m.TransactionID == req.TransactionID {
					resp = m.Clone()
				}
				return nil
			})
			if perr != nil {
				return nil, perr
			}
		}
		if resp == nil && err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
				return nil, ErrTransactionTimeout
			}
			return nil, ctxErr(ctx, err)
		}
	}
	return resp, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func parseUsePath(relay URI, resp *Message) ([]URI, error) {
	v := resp.Header("Use-Path")
	if v == "" {
		return nil, fmt.Errorf("msrp: AUTH to %s: 200 without Use-Path", relay)
	}
	p, err := ParsePath(v)
	if err != nil {
		return nil, fmt.Errorf("msrp: AUTH to %s: bad Use-Path %q: %w", relay, v, err)
	}
	for _, u := range p {
		if u.Port == 0 { // RFC 4976 §4.2; a peer could not dial it
			return nil, fmt.Errorf("msrp: AUTH to %s: Use-Path URI %s has no port", relay, u)
		}
	}
	return p, nil
}

func headerSeconds(m *Message, name string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(m.Header(name)))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
