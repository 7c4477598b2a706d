package msrp

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config (each is also a key under msrp.* in the daemon's configuration).
const (
	DefaultMaxPendingBytes    = 8 << 20
	DefaultWriteDeadline      = 10 * time.Second
	DefaultBindTimeout        = 30 * time.Second // RFC 4976 §6.1 uses 30 s for relays; no RFC sets one for endpoints
	DefaultTransactionTimeout = 30 * time.Second // RFC 4975 §7.1.1
	maxPreBindMessages        = 256
)

// Config configures an Endpoint. Zero values select the defaults.
type Config struct {
	AdvertisedHost     string        // host written into session URIs (never a wildcard address)
	AdvertisedPort     int           // port written into session URIs
	MaxMessageSize     int64         // whole-message (and so chunk) limit, 413 above it; default 1 MiB
	MaxHeaderBytes     int           // start line + headers; default 16 KiB; more closes the connection
	MaxPendingBytes    int           // per-connection outbound queue bound; default 8 MiB
	WriteDeadline      time.Duration // per flush; default 10 s
	BindTimeout        time.Duration // session created but never bound; default 30 s
	TransactionTimeout time.Duration // no response to our request; default 30 s
	TLSConfig          *tls.Config   // client configuration for dialing msrps URIs
	Logger             *slog.Logger
}

func (c *Config) setDefaults() {
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxPendingBytes <= 0 {
		c.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if c.WriteDeadline <= 0 {
		c.WriteDeadline = DefaultWriteDeadline
	}
	if c.BindTimeout <= 0 {
		c.BindTimeout = DefaultBindTimeout
	}
	if c.TransactionTimeout <= 0 {
		c.TransactionTimeout = DefaultTransactionTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Stats are cumulative counters and current gauges, read for metrics.
type Stats struct {
	MessagesIn, MessagesOut uint64 // requests received; frames queued
	BytesIn, BytesOut       uint64
	Sessions, Connections   int64
	SlowConsumersPending    uint64
	SlowConsumersDeadline   uint64
	ProtocolViolations      uint64
	TooLarge                uint64 // 413s answered
	BindTimeouts            uint64
	TransactionTimeouts     uint64
	UnknownSessions         uint64 // 481s answered
	BoundElsewhere          uint64 // 506s answered
}

type counters struct {
	messagesIn, messagesOut, bytesIn, bytesOut              atomic.Uint64
	sessions, connections                                   atomic.Int64
	slowPending, slowDeadline, violations, tooLarge, bindTO atomic.Uint64
	transactionTimeouts, unknownSessions, boundElsewhere    atomic.Uint64
}

// Endpoint owns MSRP listeners, connections and sessions. The focus (passive side) and clients (active side)
// use the same type. All methods are safe for concurrent use.
type Endpoint struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	sessions  map[string]*Session
	conns     map[*conn]struct{}
	dialed    map[string]*conn
	listeners map[net.Listener]struct{}
	closed    bool
	done      chan struct{}

	wg          sync.WaitGroup
	janitorOnce sync.Once
	stats       counters
}

// NewEndpoint returns an Endpoint; it starts nothing until Serve, Connect or a session is created.
func NewEndpoint(cfg Config) *Endpoint {
	cfg.setDefaults()
	return &Endpoint{
		cfg: cfg, log: cfg.Logger,
		sessions:  make(map[string]*Session),
		conns:     make(map[*conn]struct{}),
		dialed:    make(map[string]*conn),
		listeners: make(map[net.Listener]struct{}),
		done:      make(chan struct{}),
	}
}

// Config returns the effective configuration (defaults applied).
func (e *Endpoint) Config() Config { return e.cfg }

// Serve accepts MSRP connections on ln until ctx is cancelled or Close is called; then it returns nil.
func (e *Endpoint) Serve(ctx context.Context, ln net.Listener) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		ln.Close()
		return nil
	}
	e.listeners[ln] = struct{}{}
	e.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer func() {
		e.mu.Lock()
		delete(e.listeners, ln)
		e.mu.Unlock()
	}()
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || e.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(backoff)
				backoff = min(2*backoff, time.Second)
				continue
			}
			return err
		}
		backoff = 5 * time.Millisecond
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		e.ServeTransport(NewNetTransport(nc))
	}
}

// ServeTransport runs an accepted connection (any Transport) until it fails. It does not block.
func (e *Endpoint) ServeTransport(t Transport) {
	e.addConn(newConn(e, t, ""))
}

func (e *Endpoint) addConn(c *conn) bool {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		c.t.Close()
		return false
	}
	e.conns[c] = struct{}{}
	if c.dialKey != "" {
		e.dialed[c.dialKey] = c
	}
	e.mu.Unlock()
	e.stats.connections.Add(1)
	e.janitorOnce.Do(func() { e.wg.Add(1); go e.janitor() })
	c.start()
	return true
}

func (e *Endpoint) removeConn(c *conn) {
	e.mu.Lock()
	if _, ok := e.conns[c]; ok {
		delete(e.conns, c)
		e.stats.connections.Add(-1)
	}
	if c.dialKey != "" && e.dialed[c.dialKey] == c {
		delete(e.dialed, c.dialKey)
	}
	e.mu.Unlock()
}

func (e *Endpoint) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// janitor expires unanswered transactions; one goroutine per Endpoint, not one per message.
func (e *Endpoint) janitor() {
	defer e.wg.Done()
	period := max(e.cfg.TransactionTimeout/4, 10*time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-e.done:
			return
		case now := <-t.C:
			e.mu.Lock()
			conns := make([]*conn, 0, len(e.conns))
			for c := range e.conns {
				conns = append(conns, c)
			}
			e.mu.Unlock()
			for _, c := range conns {
				c.expireTransactions(now, e.cfg.TransactionTimeout)
			}
		}
	}
}

// NewSession creates a session with a fresh random id whose URI uses the advertised host and port. It must be
// bound (by the peer's first request, or by Connect) within BindTimeout.
func (e *Endpoint) NewSession(h SessionHandler) *Session {
	s := &Session{e: e, handler: h}
	e.mu.Lock()
	for {
		s.id = NewSessionID()
		if e.sessions[s.id] == nil {
			break
		}
	}
	s.local = URI{Host: e.cfg.AdvertisedHost, Port: e.cfg.AdvertisedPort, SessionID: s.id, Transport: "tcp"}
	s.localPath = []URI{s.local}
	closed := e.closed
	if !closed {
		e.sessions[s.id] = s
		e.stats.sessions.Add(1)
	}
	e.mu.Unlock()
	s.mu.Lock()
	if closed {
		s.closed = true
	} else {
		s.bindTimer = time.AfterFunc(e.cfg.BindTimeout, s.bindTimedOut)
	}
	s.mu.Unlock()
	return s
}

// Session returns the live session with this id, or nil.
func (e *Endpoint) Session(id string) *Session {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sessions[id]
}

// matchSession finds the session addressed by the last To-Path URI (RFC 4975 §7.3; the last URI is ours
// when relays are involved, RFC 4976 §3) and binds it to c on first use (§5.4). It keys on session-id and
// checks the scheme, but not the host, so a focus behind NAT or an SBC still matches (digest §1.9 item 5).
func (e *Endpoint) matchSession(c *conn, to URI) (*Session, int) {
	e.mu.Lock()
	s := e.sessions[to.SessionID]
	e.mu.Unlock()
	if s == nil || s.local.Secure != to.Secure {
		e.stats.unknownSessions.Add(1)
		return nil, StatusNoSuchSession
	}
	switch err := s.bind(c); err {
	case nil:
		return s, StatusOK
	case ErrSessionBoundElsewhere:
		e.stats.boundElsewhere.Add(1)
		return nil, StatusSessionBoundOnConn
	default:
		e.stats.unknownSessions.Add(1)
		return nil, StatusNoSuchSession
	}
}

func (e *Endpoint) removeSession(s *Session) {
	e.mu.Lock()
	if e.sessions[s.id] == s {
		delete(e.sessions, s.id)
		e.stats.sessions.Add(-1)
	}
	e.mu.Unlock()
}

func (e *Endpoint) countClose(r CloseReason) {
	switch r {
	case SlowConsumerPending:
		e.stats.slowPending.Add(1)
	case SlowConsumerDeadline:
		e.stats.slowDeadline.Add(1)
	case ProtocolViolation:
		e.stats.violations.Add(1)
	}
	if r.IsSlowConsumer() {
		e.log.Warn("msrp: slow consumer, closing connection", "reason", r.String(),
			"max_pending_bytes", e.cfg.MaxPendingBytes, "write_deadline", e.cfg.WriteDeadline)
	}
}

// dial returns a connection to the first hop, reusing one to the same scheme, host and port (RFC 4975 §5.4).
func (e *Endpoint) dial(ctx context.Context, hop URI) (*conn, error) {
	key := "msrp://"
	if hop.Secure {
		key = "msrps://"
	}
	key += hop.HostPort()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrEndpointClosed
	}
	if c := e.dialed[key]; c != nil && !c.isClosed() {
		e.mu.Unlock()
		return c, nil
	}
	e.mu.Unlock()
	if hop.Port == 0 {
		return nil, &URIError{URI: hop.String(), Reason: "no port to dial"}
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", hop.HostPort())
	if err != nil {
		return nil, err
	}
	if hop.Secure {
		if e.cfg.TLSConfig == nil {
			nc.Close()
			return nil, errors.New("msrp: msrps URI but no TLS configuration")
		}
		tc := e.cfg.TLSConfig.Clone()
		if tc.ServerName == "" {
			tc.ServerName = hop.Host
		}
		tlsConn := tls.Client(nc, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		nc = tlsConn
	}
	e.mu.Lock()
	if c := e.dialed[key]; c != nil && !c.isClosed() { // lost a race with another Connect
		e.mu.Unlock()
		nc.Close()
		return c, nil
	}
	e.mu.Unlock()
	c := newConn(e, NewNetTransport(nc), key)
	if !e.addConn(c) {
		return nil, ErrEndpointClosed
	}
	return c, nil
}

// Close closes listeners and connections; every session gets SessionClosed(Shutdown). It waits for the
// Endpoint's goroutines and callbacks, so it must not be called from a SessionHandler.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.wg.Wait()
		return nil
	}
	e.closed = true
	close(e.done)
	lns := make([]net.Listener, 0, len(e.listeners))
	for ln := range e.listeners {
		lns = append(lns, ln)
	}
	conns := make([]*conn, 0, len(e.conns))
	for c := range e.conns {
		conns = append(conns, c)
	}
	sessions := make([]*Session, 0, len(e.sessions))
	for _, s := range e.sessions {
		sessions = append(sessions, s)
	}
	e.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	for _, s := range sessions {
		s.closeWith(Shutdown, false)
	}
	for _, c := range conns {
		c.fail(Shutdown)
	}
	e.wg.Wait()
	return nil
}

// Stats returns a snapshot of the counters.
func (e *Endpoint) Stats() Stats {
	s := &e.stats
	return Stats{
		MessagesIn: s.messagesIn.Load(), MessagesOut: s.messagesOut.Load(),
		BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
		Sessions: s.sessions.Load(), Connections: s.connections.Load(),
		SlowConsumersPending: s.slowPending.Load(), SlowConsumersDeadline: s.slowDeadline.Load(),
		ProtocolViolations: s.violations.Load(), TooLarge: s.tooLarge.Load(), BindTimeouts: s.bindTO.Load(),
		TransactionTimeouts: s.transactionTimeouts.Load(), UnknownSessions: s.unknownSessions.Load(),
		BoundElsewhere: s.boundElsewhere.Load(),
	}
}
