package msrp

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
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
	DefaultChunkQuantum       = 64 << 10         // bytes of one large message per flush before others may go
	DefaultStreamThreshold    = 64 << 10         // chunked messages above this go to a ChunkHandler
	DefaultMaxConnsPerIP      = 64
	DefaultIdleTimeout        = 5 * time.Minute // RFC 4976 §5.4 keeps client connections to a foreign relay 5 min
	DefaultMaxUnknownSessions = 16
	DefaultMaxConns           = 10000
	DefaultHeaderTimeout      = 30 * time.Second
	unknownSessionsWindow     = time.Minute
	maxPreBindMessages        = 256
)

// Config configures an Endpoint. Zero values select the defaults.
type Config struct {
	AdvertisedHost     string        // host written into session URIs (never a wildcard address)
	AdvertisedPort     int           // port written into msrp session URIs
	AdvertisedTLSPort  int           // port written into msrps session URIs (NewTLSSession); default AdvertisedPort
	AdvertisedWSPort   int           // port written into msrp ;ws session URIs (NewWSSession, RFC 7977)
	AdvertisedWSSPort  int           // port written into msrps ;ws session URIs (NewWSSession over TLS)
	MaxMessageSize     int64         // whole-message (and so chunk) limit, 413 above it; default 1 MiB
	MaxHeaderBytes     int           // start line + headers; default 16 KiB; more closes the connection
	MaxPendingBytes    int           // per-connection outbound queue bound; default 8 MiB
	WriteDeadline      time.Duration // per flush; default 10 s
	BindTimeout        time.Duration // session, or accepted connection, that binds nothing; default 30 s
	TransactionTimeout time.Duration // no response, counted from our request's last byte; default 30 s
	// ChunkQuantum is how many bytes of one large message the writer sends before queued frames and other
	// large messages get their turn (RFC 4975 §7.1.1 fairness); default 64 KiB, at least MaxUninterruptible.
	ChunkQuantum int
	// StreamThreshold: with a ChunkHandler, a chunked message whose Byte-Range total is '*' or larger than
	// this is streamed chunk by chunk instead of reassembled; default 64 KiB.
	StreamThreshold int64
	// MaxConnsPerIP bounds accepted connections from one source address; default 64, -1 for no limit.
	// Loopback peers (a co-located SBC or WebSocket gateway) are not limited.
	MaxConnsPerIP int
	// MaxConns bounds connections in all, loopback peers and our own included: an accepted one beyond it
	// is closed at once (counted as ConnsRejected); default 10000, -1 for no limit.
	MaxConns int
	// IdleTimeout closes an accepted connection on which no session has been bound for this long; default
	// 5 min, -1 never. A connection that never binds a session is closed after BindTimeout instead.
	IdleTimeout time.Duration
	// MaxUnknownSessions is how many requests naming no session (481) one accepted connection may send
	// in a minute; one more closes it, so that session-ids cannot be guessed at line rate. Default 16,
	// -1 for no limit. Loopback peers are limited too.
	MaxUnknownSessions int
	// HeaderTimeout closes a connection on which a frame's start line and headers have not all arrived
	// this long after their first byte (a bound peer trickling a frame); default 30 s, -1 never.
	HeaderTimeout time.Duration
	TLSConfig     *tls.Config      // client configuration for dialing msrps URIs without a peer fingerprint
	Certificate   *tls.Certificate // our certificate for ServeTLS and as the client certificate (RFC 4975 §14.4)
	Logger        *slog.Logger

	limitLoopback bool // tests: apply MaxConnsPerIP to loopback peers too
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
	if c.ChunkQuantum <= 0 {
		c.ChunkQuantum = DefaultChunkQuantum
	}
	c.ChunkQuantum = max(c.ChunkQuantum, MaxUninterruptible)
	if c.StreamThreshold <= 0 {
		c.StreamThreshold = DefaultStreamThreshold
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.HeaderTimeout == 0 {
		c.HeaderTimeout = DefaultHeaderTimeout
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxUnknownSessions == 0 {
		c.MaxUnknownSessions = DefaultMaxUnknownSessions
	}
	if c.AdvertisedTLSPort == 0 {
		c.AdvertisedTLSPort = c.AdvertisedPort
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Transports names the transports a connection is counted under: MSRP over TCP, over TLS, over
// WebSocket (RFC 7977) and over WebSocket on TLS.
var Transports = [...]string{"tcp", "tls", "ws", "wss"}

// transportIndex is the index in Transports of c's transport.
func (c *conn) transportIndex() int {
	i := 0
	if _, ok := c.t.(*wsTransport); ok {
		i = 2
	}
	if c.tls != nil {
		i++
	}
	return i
}

func (s *counters) transports() (out [len(Transports)]int64) {
	for i := range out {
		out[i] = s.byTransport[i].Load()
	}
	return out
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
	ConnsRejected           uint64 // accepted connections closed at once: MaxConnsPerIP or MaxConns reached
	UnboundClosed           uint64 // connections closed for binding no session within BindTimeout
	IdleClosed              uint64 // connections closed after IdleTimeout without a session
	GuessingClosed          uint64 // connections closed for more than MaxUnknownSessions 481s in a minute
	HeaderTimeouts          uint64 // connections closed for a frame head slower than HeaderTimeout
	FingerprintMismatches   uint64 // TLS peers whose certificate did not match a=fingerprint
	WebSocketConnections    int64  // of Connections, those over WebSocket (RFC 7977)
	// ConnectionsByTransport splits Connections by transport, in the order of Transports.
	ConnectionsByTransport [len(Transports)]int64
	WebSocketTooLarge      uint64 // WebSocket connections closed (1009) for a message larger than a chunk may be
	ParkedReaders          int64  // connections whose reader is parked while they are quiet (park.go)
	ReaderParks            uint64 // times a quiet connection's reader was parked
}

type counters struct {
	messagesIn, messagesOut, bytesIn, bytesOut              atomic.Uint64
	sessions, connections                                   atomic.Int64
	slowPending, slowDeadline, violations, tooLarge, bindTO atomic.Uint64
	transactionTimeouts, unknownSessions, boundElsewhere    atomic.Uint64
	connsRejected, unboundClosed, idleClosed, fpMismatches  atomic.Uint64
	guessingClosed, headerTimeouts                          atomic.Uint64
	wsConns                                                 atomic.Int64
	byTransport                                             [len(Transports)]atomic.Int64
	wsTooLarge                                              atomic.Uint64
	parkedReaders                                           atomic.Int64
	readerParks                                             atomic.Uint64
}

// Endpoint owns MSRP listeners, connections and sessions. The focus (passive side) and clients (active side)
// use the same type. All methods are safe for concurrent use.
type Endpoint struct {
	config   atomic.Pointer[Config] // swapped whole by SetLimits and SetCertificate
	configMu sync.Mutex             // serialises the swaps
	log      *slog.Logger

	mu        sync.Mutex
	sessions  map[string]*Session
	conns     map[*conn]struct{}
	dialed    map[string]*conn
	listeners map[net.Listener]struct{}
	perIP     map[string]int // accepted connections per source address (MaxConnsPerIP)
	closed    bool
	done      chan struct{}

	wg           sync.WaitGroup
	janitorOnce  sync.Once
	stats        counters
	lastLimitLog atomic.Int64 // unix nanoseconds of the last MaxConnsPerIP log line (one per second)
}

// NewEndpoint returns an Endpoint; it starts nothing until Serve, Connect or a session is created.
func NewEndpoint(cfg Config) *Endpoint {
	cfg.setDefaults()
	e := &Endpoint{
		log:       cfg.Logger,
		sessions:  make(map[string]*Session),
		conns:     make(map[*conn]struct{}),
		dialed:    make(map[string]*conn),
		listeners: make(map[net.Listener]struct{}),
		perIP:     make(map[string]int),
		done:      make(chan struct{}),
	}
	e.config.Store(&cfg)
	return e
}

// Limits are the settings of an Endpoint that may change while it serves (zero keeps the
// current value). MaxMessageSize and MaxHeaderBytes bound the parsers of new connections and
// every message sent from now on; MaxPendingBytes, WriteDeadline, MaxConnsPerIP and
// IdleTimeout apply from the next check.
type Limits struct {
	MaxMessageSize  int64
	MaxHeaderBytes  int
	MaxPendingBytes int
	WriteDeadline   time.Duration
	MaxConnsPerIP   int
	IdleTimeout     time.Duration
}

// SetLimits changes the live limits.
func (e *Endpoint) SetLimits(l Limits) {
	e.swap(func(c *Config) {
		c.MaxMessageSize, c.MaxHeaderBytes, c.MaxPendingBytes = l.MaxMessageSize, l.MaxHeaderBytes, l.MaxPendingBytes
		c.WriteDeadline, c.MaxConnsPerIP, c.IdleTimeout = l.WriteDeadline, l.MaxConnsPerIP, l.IdleTimeout
	})
}

// SetCertificate replaces the certificate that new TLS handshakes present (ServeTLS, and as the
// client certificate); connections up already keep theirs.
func (e *Endpoint) SetCertificate(cert *tls.Certificate) {
	e.swap(func(c *Config) { c.Certificate = cert })
}

func (e *Endpoint) swap(change func(*Config)) {
	e.configMu.Lock()
	defer e.configMu.Unlock()
	next := *e.cfg()
	change(&next)
	next.setDefaults()
	e.config.Store(&next)
}

// Config returns the effective configuration (defaults applied).
func (e *Endpoint) Config() Config { return *e.cfg() }

func (e *Endpoint) cfg() *Config { return e.config.Load() }

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
		raw := nc
		if tc, ok := nc.(*tls.Conn); ok {
			raw = tc.NetConn()
		}
		if tc, ok := raw.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		e.accept(nc)
	}
}

// accept runs an accepted connection unless its source address already has MaxConnsPerIP.
func (e *Endpoint) accept(nc net.Conn) { e.acceptTransport(NewNetTransport(nc), nc) }

// acceptTransport runs t, accepted on nc (TCP, TLS or WebSocket), unless the endpoint already has
// MaxConns connections or its source address MaxConnsPerIP.
func (e *Endpoint) acceptTransport(t Transport, nc net.Conn) {
	if e.cfg().MaxConns > 0 {
		e.mu.Lock()
		over := len(e.conns) >= e.cfg().MaxConns
		e.mu.Unlock()
		if over {
			e.stats.connsRejected.Add(1)
			nc.Close()
			if now := time.Now().UnixNano(); now-e.lastLimitLog.Load() > int64(time.Second) {
				e.lastLimitLog.Store(now)
				e.log.Warn("msrp: connection refused: too many connections", "max_conns", e.cfg().MaxConns)
			}
			return
		}
	}
	ip := ""
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok && (!a.IP.IsLoopback() || e.cfg().limitLoopback) {
		ip = a.IP.String()
	}
	if ip != "" && e.cfg().MaxConnsPerIP > 0 {
		e.mu.Lock()
		over := e.perIP[ip] >= e.cfg().MaxConnsPerIP
		if !over {
			e.perIP[ip]++
		}
		e.mu.Unlock()
		if over {
			// Counted before the close so whoever sees the EOF also sees the count.
			e.stats.connsRejected.Add(1)
			nc.Close()
			if now := time.Now().UnixNano(); now-e.lastLimitLog.Load() > int64(time.Second) {
				e.lastLimitLog.Store(now)
				e.log.Warn("msrp: connection refused: too many connections from one address",
					"remote", ip, "max_conns_per_ip", e.cfg().MaxConnsPerIP)
			}
			return
		}
	} else {
		ip = ""
	}
	c := newConn(e, t, "")
	c.remoteIP = ip
	e.addConn(c)
}

// ServeTransport runs an accepted connection (any Transport) until it fails. It does not block.
func (e *Endpoint) ServeTransport(t Transport) {
	e.addConn(newConn(e, t, ""))
}

func (e *Endpoint) addConn(c *conn) bool {
	e.mu.Lock()
	if e.closed {
		if c.remoteIP != "" {
			e.releaseIP(c.remoteIP)
		}
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
	if _, ok := c.t.(*wsTransport); ok {
		e.stats.wsConns.Add(1)
	}
	e.stats.byTransport[c.transportIndex()].Add(1)
	e.janitorOnce.Do(func() { e.wg.Add(1); go e.janitor() })
	c.start()
	return true
}

func (e *Endpoint) removeConn(c *conn) {
	e.mu.Lock()
	if _, ok := e.conns[c]; ok {
		delete(e.conns, c)
		e.stats.connections.Add(-1)
		if _, ok := c.t.(*wsTransport); ok {
			e.stats.wsConns.Add(-1)
		}
		e.stats.byTransport[c.transportIndex()].Add(-1)
		if c.remoteIP != "" {
			e.releaseIP(c.remoteIP)
		}
	}
	if c.dialKey != "" && e.dialed[c.dialKey] == c {
		delete(e.dialed, c.dialKey)
	}
	e.mu.Unlock()
}

// releaseIP gives back a MaxConnsPerIP slot; e.mu is held.
func (e *Endpoint) releaseIP(ip string) {
	if e.perIP[ip] <= 1 {
		delete(e.perIP, ip)
	} else {
		e.perIP[ip]--
	}
}

func (e *Endpoint) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// janitor expires unanswered transactions and closes connections that never bind or stay idle; one
// goroutine per Endpoint, not one per message or connection. It checks four times per shortest timeout.
func (e *Endpoint) janitor() {
	defer e.wg.Done()
	period := min(e.cfg().TransactionTimeout, e.cfg().BindTimeout)
	if e.cfg().IdleTimeout > 0 {
		period = min(period, e.cfg().IdleTimeout)
	}
	if e.cfg().HeaderTimeout > 0 {
		period = min(period, e.cfg().HeaderTimeout)
	}
	period = max(period/4, 5*time.Millisecond)
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
				c.expireTransactions(now, e.cfg().TransactionTimeout)
				c.checkIdle(now)
				c.retireIdleWriter(now, period)
				c.parkIfQuiet(now)
			}
		}
	}
}

// NewSession creates a session with a fresh random id whose URI uses the advertised host and port. It must be
// bound (by the peer's first request, or by Connect) within BindTimeout.
func (e *Endpoint) NewSession(h SessionHandler) *Session { return e.newSession(h, false) }

func (e *Endpoint) newSession(h SessionHandler, secure bool) *Session {
	s := &Session{e: e, handler: h}
	e.mu.Lock()
	for {
		s.id = NewSessionID()
		if e.sessions[s.id] == nil {
			break
		}
	}
	s.local = URI{Host: e.cfg().AdvertisedHost, Port: e.cfg().AdvertisedPort, SessionID: s.id, Transport: "tcp"}
	if secure {
		s.local.Secure, s.local.Port = true, e.cfg().AdvertisedTLSPort
	}
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
		s.bindTimer = time.AfterFunc(e.cfg().BindTimeout, s.bindTimedOut)
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
// checks the scheme, but not the host, so a focus behind NAT or an SBC still matches (RFC 4975 §7.3 compares session-ids).
func (e *Endpoint) matchSession(c *conn, to URI) (*Session, int) {
	// Sessions already bound here are found without the endpoint's lock, which every
	// connection shares: the common case costs only this connection's own lock.
	c.mu.Lock()
	s := c.sessions[to.SessionID]
	c.mu.Unlock()
	if s != nil && s.local.Secure == to.Secure {
		return s, StatusOK
	}
	e.mu.Lock()
	s = e.sessions[to.SessionID]
	e.mu.Unlock()
	if s == nil || s.local.Secure != to.Secure || s.local.Secure && c.tls == nil {
		// An msrps session binds only over TLS (RFC 4975 §6).
		e.stats.unknownSessions.Add(1)
		return nil, StatusNoSuchSession
	}
	if s.local.Secure && s.boundConn() != c && !c.peerCertOK(s.peerFingerprint()) {
		// RFC 4975 §14.4: the certificate must match the peer's a=fingerprint, or the session is torn
		// down at once. The request gets no answer (code 0).
		e.stats.fpMismatches.Add(1)
		e.log.Warn("msrp: peer certificate does not match a=fingerprint, closing connection",
			"remote", c.t.RemoteAddr().String(), "session", s.id)
		c.fail(FingerprintMismatch)
		s.closeWith(FingerprintMismatch, false)
		return nil, 0
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
	switch r {
	case UnboundTimeout:
		e.stats.unboundClosed.Add(1)
		e.log.Info("msrp: closing connection that bound no session", "bind_timeout", e.cfg().BindTimeout)
	case IdleTimeout:
		e.stats.idleClosed.Add(1)
		e.log.Info("msrp: closing idle connection", "idle_timeout", e.cfg().IdleTimeout)
	case HeaderTimeout:
		e.stats.headerTimeouts.Add(1)
		e.log.Info("msrp: closing connection whose frame head did not arrive in time", "header_timeout", e.cfg().HeaderTimeout)
	case SessionGuessing:
		e.stats.guessingClosed.Add(1)
		e.log.Warn("msrp: closing connection that named too many unknown sessions",
			"max_unknown_sessions", e.cfg().MaxUnknownSessions)
	}
	if r.IsSlowConsumer() {
		e.log.Warn("msrp: slow consumer, closing connection", "reason", r.String(),
			"max_pending_bytes", e.cfg().MaxPendingBytes, "write_deadline", e.cfg().WriteDeadline)
	}
}

// dial returns a connection to the first hop, reusing one to the same scheme, host and port (RFC 4975 §5.4);
// an msrps connection verified against a peer fingerprint is reused only for that fingerprint.
func (e *Endpoint) dial(ctx context.Context, hop URI, fp string) (*conn, error) {
	key := "msrp://"
	if hop.Secure {
		key = "msrps://"
	}
	key += hop.HostPort()
	if hop.Secure && fp != "" {
		key += " " + strings.ToUpper(fp)
	}
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
	var tc *tls.Config
	if hop.Secure {
		var err error
		if tc, err = e.clientTLSConfig(hop, fp); err != nil {
			return nil, err
		}
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", hop.HostPort())
	if err != nil {
		return nil, err
	}
	if tcp, ok := nc.(*net.TCPConn); ok {
		tcp.SetNoDelay(true)
	}
	if tc != nil {
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
		BoundElsewhere: s.boundElsewhere.Load(), ConnsRejected: s.connsRejected.Load(),
		UnboundClosed: s.unboundClosed.Load(), IdleClosed: s.idleClosed.Load(), FingerprintMismatches: s.fpMismatches.Load(),
		GuessingClosed: s.guessingClosed.Load(), HeaderTimeouts: s.headerTimeouts.Load(),
		ConnectionsByTransport: s.transports(),
		WebSocketConnections:   s.wsConns.Load(), WebSocketTooLarge: s.wsTooLarge.Load(),
		ParkedReaders: s.parkedReaders.Load(), ReaderParks: s.readerParks.Load(),
	}
}
