package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/focus"
)

// allowedMethods is what the focus answers (Allow header, RFC 3261 §20.5).
var allowedMethods = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, SUBSCRIBE, NOTIFY, REFER, MESSAGE"

// Config is the signalling side's part of the configuration.
type Config struct {
	Listen         string // host:port for UDP and TCP
	AdvertisedHost string // host for Contact, Via and the SDP answer
	UserAgent      string // Server and User-Agent header value
	UDPMTU         int    // raises sipgo's UDP size limit (it refuses messages above UDPMTU-200)
	Domain         string // the rooms' domain: an authenticated user joins as sip:USER@DOMAIN
	// OutboundProxy is the SIP URI of the proxy that requests the focus originates outside
	// dialogs go through (Do); "" sends them straight to their Request-URI.
	OutboundProxy string
	// DNSServer is the host:port of the DNS server that finds the next hop of requests the focus
	// sends to domain names (RFC 3263); "" uses the system's resolver.
	DNSServer string
	// TrustedProxies are the IPs and CIDR networks whose P-Asserted-Identity is believed, and
	// which Limits do not apply to.
	TrustedProxies []string
	Auth           *AuthConfig // nil or no users: no authentication
	Limits         Limits
	Events         EventsConfig  // the conference event package (subscribe.go)
	Peering        PeeringConfig // SIP over TLS, ad-hoc rooms, REFER (tls.go, adhoc.go, refer.go)
	Logger         *slog.Logger

	// MinSessionExpires is the smallest Session-Expires accepted (RFC 4028); 0 means 90 s.
	MinSessionExpires time.Duration

	// PageMaxBody is the largest body of a MESSAGE to a page-mode member over TCP or TLS; over
	// UDP the whole MESSAGE stays within pageUDPMax bytes. 0 means DefaultPageMaxBody.
	PageMaxBody int
}

// Server is the focus's SIP user agent server.
type Server struct {
	pendingInvites  atomic.Int64           // initial INVITEs in their handler (answer not yet ACKed)
	drainRetry      atomic.Pointer[string] // Retry-After while draining; nil while taking calls
	pendingBranches sync.Map               // their top Via branches (shed.go lets their retransmissions by)
	cfg             Config
	log             *slog.Logger
	focus           *focus.Focus
	ua              *sipgo.UserAgent
	srv             *sipgo.Server
	client          *sipgo.Client
	metrics         *Metrics
	events          *events // conference event subscriptions (subscribe.go, notify.go)
	peer            peering // SIP over TLS, ad-hoc rooms, dial-out (tls.go, adhoc.go, refer.go)

	udp   net.PacketConn
	tcp   net.Listener
	port  int
	guard *guard // stream connection limits (connguard.go)

	// SIP over WebSocket (websocket.go): connections handed over by the HTTP listener(s).
	wsMu            sync.Mutex
	wsLn, wssLn     *handoffListener
	wsPort, wssPort int

	trusted  trustList
	auth     *authenticator             // nil: no authentication
	outbound *sip.Uri                   // nil: no outbound proxy
	limits   atomic.Pointer[liveLimits] // the rate limits and MaxPendingInvites of the moment (SetLimits)

	// Headers every response of a kind carries, built once (read-only once built).
	hdrServer, hdrAllow, hdrAccept, hdrSupported sip.Header

	mu        sync.Mutex
	dialogs   map[string]*dialog // by dialog ID
	perSource map[string]int     // open dialogs by source IP (Limits.MaxDialogsPerSource)
	sdpVer    uint64             // o= session id source; guarded by mu
	offerless sync.Map           // dialog ID → *dialog whose 200 carries our offer, until its ACK (reinvite.go)
}

// New binds the UDP and TCP listeners on cfg.Listen (one port for both; port 0 picks one) and
// prepares the handlers. Serve starts answering.
func New(cfg Config, f *focus.Focus) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.UDPMTU > sip.UDPMTUSize {
		// sipgo drops UDP messages above UDPMTUSize-200 without sending them, responses
		// included; a 200 answering several m-lines behind a proxy is larger than that.
		sip.UDPMTUSize = cfg.UDPMTU
	}
	s := &Server{cfg: cfg, log: cfg.Logger, focus: f, dialogs: map[string]*dialog{}, perSource: map[string]int{},
		metrics: newMetrics(), sdpVer: uint64(time.Now().Unix()),
		hdrServer: sip.NewHeader("Server", cfg.UserAgent), hdrAllow: sip.NewHeader("Allow", allowedMethods),
		hdrAccept: sip.NewHeader("Accept", "application/sdp"), hdrSupported: sip.NewHeader("Supported", "timer")}
	s.SetLimits(cfg.Limits)
	s.guard = &guard{s: s, perIP: map[string]int{}}
	var err error
	if s.trusted, err = parseTrustList(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	if s.auth, err = newAuthenticator(cfg.Auth); err != nil {
		return nil, err
	}
	if cfg.OutboundProxy != "" {
		var u sip.Uri
		if err := sip.ParseUri(strings.Trim(cfg.OutboundProxy, "<>"), &u); err != nil || u.Host == "" {
			return nil, fmt.Errorf("sip: outbound proxy %q is not a SIP URI", cfg.OutboundProxy)
		}
		if u.UriParams == nil {
			u.UriParams = sip.NewParams()
		}
		u.UriParams.Add("lr", "")
		s.outbound = &u
	}
	if err := s.listen(); err != nil {
		return nil, err
	}
	if err := s.setupPeering(); err != nil {
		s.closeListeners()
		return nil, err
	}
	dns := newResolver(cfg.DNSServer)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(cfg.UserAgent), sipgo.WithUserAgentHostname(cfg.AdvertisedHost),
		sipgo.WithUserAgenTLSConfig(cfg.Peering.tlsClientConfig()), sipgo.WithUserAgentDNSResolver(dns),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerReadFilter(s.shedFilter)))
	if err != nil {
		s.closeListeners()
		return nil, err
	}
	s.ua = ua
	s.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(s.log))
	if err != nil {
		s.closeListeners()
		return nil, err
	}
	s.client, err = sipgo.NewClient(ua, sipgo.WithClientHostname(cfg.AdvertisedHost), sipgo.WithClientPort(s.port),
		sipgo.WithClientLogger(s.log))
	if err != nil {
		s.closeListeners()
		return nil, err
	}
	s.client.TxRequester = &locator{dns: dns, ua: ua, log: s.log}
	s.srv.OnInvite(s.counted(s.onInvite))
	s.srv.OnAck(s.counted(s.onAck))
	s.srv.OnBye(s.counted(s.onBye))
	s.srv.OnCancel(s.counted(s.onCancel))
	s.srv.OnOptions(s.counted(s.onOptions))
	s.srv.OnUpdate(s.counted(s.onUpdate))
	s.srv.OnRefer(s.counted(s.onRefer))
	s.srv.OnMessage(s.counted(s.onMessage)) // page mode (page.go)
	s.srv.OnNoRoute(s.counted(s.onUnsupported))
	// The conference event package (RFC 4575): SUBSCRIBE, NOTIFY and the focus's room changes.
	s.events = newEvents(s)
	s.events.register()
	f.SetWatcher(s.events)
	return s, nil
}

// listen binds TCP first (to learn the port when it is 0) and then UDP on the same port.
func (s *Server) listen() error {
	host, _, err := net.SplitHostPort(s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("sip: listen address %q: %w", s.cfg.Listen, err)
	}
	for attempt := 0; attempt < 10; attempt++ {
		tcp, err := net.Listen("tcp", s.cfg.Listen)
		if err != nil {
			return fmt.Errorf("sip: listen tcp %s: %w", s.cfg.Listen, err)
		}
		port := tcp.Addr().(*net.TCPAddr).Port
		udp, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			tcp.Close()
			if strings.HasSuffix(s.cfg.Listen, ":0") {
				continue // the kernel's TCP port was taken on UDP: pick another
			}
			return fmt.Errorf("sip: listen udp %s: %w", s.cfg.Listen, err)
		}
		s.tcp, s.udp, s.port = tcp, udp, port
		return nil
	}
	return fmt.Errorf("sip: no port free for both UDP and TCP on %s", host)
}

func (s *Server) closeListeners() {
	s.closeWebSocket()
	s.tcp.Close()
	s.udp.Close()
	if s.peer.tls != nil {
		s.peer.tls.Close()
	}
}

// Port returns the port the SIP listeners are bound to.
func (s *Server) Port() int { return s.port }

// Metrics returns the signalling side's Prometheus collectors.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Serve answers SIP on UDP and TCP until ctx is cancelled.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 5)
	s.serveWebSocket(errc)
	go func() { errc <- s.srv.ServeUDP(s.udp) }()
	go func() { errc <- s.srv.ServeTCP(s.guardListener(s.tcp, "tcp")) }()
	if s.peer.tls != nil {
		go func() { errc <- s.srv.ServeTLS(s.guardListener(s.peer.tls, "tls")) }()
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	s.closeListeners()
	if first != nil && !errors.Is(first, net.ErrClosed) && ctx.Err() == nil {
		return fmt.Errorf("sip: %w", first)
	}
	return nil
}

// EndSubscriptions ends every conference-event subscription with a terminated NOTIFY, for a
// shutdown; it returns when they are sent or ctx ends.
func (s *Server) EndSubscriptions(ctx context.Context) { s.events.end(ctx) }

// Close releases the transport and transaction layers, after Serve has returned.
func (s *Server) Close() error {
	s.events.close()
	return s.ua.Close()
}

// counted wraps a handler to count requests by method (no room or user labels). It also
// answers what no handler should see: requests lacking a mandatory header (400), and
// dialog-forming INVITEs and SUBSCRIBEs beyond their source's rate (503).
func (s *Server) counted(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		s.metrics.requests.WithLabelValues(string(req.Method)).Inc()
		if problem := malformed(req); problem != "" {
			s.log.Info("malformed request", "method", req.Method, "source", req.Source(), "problem", problem)
			if !req.IsAck() {
				s.respond(req, tx, 400, s.warning(problem))
			}
			return
		}
		if req.SipVersion != "SIP/2.0" {
			if !req.IsAck() {
				s.respond(req, tx, 505, s.warning("this focus speaks SIP/2.0"))
			}
			return
		}
		if tags := unsupportedRequire(req); len(tags) > 0 && !req.IsAck() && req.Method != sip.CANCEL {
			s.respond(req, tx, 420, sip.NewHeader("Unsupported", strings.Join(tags, ", ")),
				s.warning("unsupported extension required: "+strings.Join(tags, ", ")))
			return
		}
		if to := req.To(); !to.Params.Has("tag") {
			if s.refusedDraining(req, tx) {
				return
			}
			switch req.Method {
			case sip.INVITE:
				limits := s.limits.Load()
				if s.limited(req, tx, limits.invite, "INVITE rate per source") {
					return
				}
				// Overload: INVITEs still waiting for their answer or ACK beyond the limit are
				// refused at once, cheaply, so that retransmissions cannot pile up and the focus
				// keeps completing the calls it has taken (RFC 3261 §21.5.4).
				if max := limits.maxPending; max > 0 && s.pendingInvites.Load() >= int64(max) {
					s.rejectOverload(req, tx, "pending INVITEs")
					return
				}
				s.pendingInvites.Add(1)
				defer s.pendingInvites.Add(-1)
				// Its retransmissions must reach its transaction, not the stateless shedding.
				if branch, ok := req.Via().Params.Get("branch"); ok && branch != "" {
					s.pendingBranches.Store(branch, struct{}{})
					defer s.pendingBranches.Delete(branch)
				}
			case sip.SUBSCRIBE:
				if s.limited(req, tx, s.limits.Load().subscribe, "SUBSCRIBE rate per source") {
					return
				}
			}
		}
		h(req, tx)
	}
}

// Drain makes the focus stop taking calls: from now on every dialog-forming INVITE, every
// initial SUBSCRIBE and every out-of-dialog OPTIONS (a load balancer's keepalive probe, which
// then marks this node down) is answered 503 with Retry-After retryAfter. Dialogs up already
// go on: their in-dialog requests are answered as before.
func (s *Server) Drain(retryAfter time.Duration) {
	v := strconv.Itoa(max(1, int(retryAfter.Round(time.Second)/time.Second)))
	s.drainRetry.Store(&v)
}

// Draining tells whether Drain was called.
func (s *Server) Draining() bool { return s.drainRetry.Load() != nil }

func (s *Server) refusedDraining(req *sip.Request, tx sip.ServerTransaction) bool {
	retry := s.drainRetry.Load()
	if retry == nil {
		return false
	}
	switch req.Method {
	case sip.INVITE, sip.SUBSCRIBE, sip.OPTIONS:
		s.respond(req, tx, 503, sip.NewHeader("Retry-After", *retry), s.warning("draining for a restart"))
		return true
	}
	return false
}

// malformed names the first mandatory header (RFC 3261 §8.1.1) a request lacks or gets wrong,
// "" when there is none. sipgo drops what it cannot parse at all; this catches what it parses
// but a handler could not answer sensibly.
func malformed(req *sip.Request) string {
	switch {
	case req.Via() == nil:
		return "no Via header"
	case req.From() == nil:
		return "no From header"
	case req.To() == nil:
		return "no To header"
	case req.CallID() == nil || req.CallID().Value() == "":
		return "no Call-ID header"
	case req.CSeq() == nil:
		return "no CSeq header"
	case req.CSeq().MethodName != req.Method:
		return "CSeq method differs from the request method"
	case req.Recipient.Host == "":
		return "Request-URI without a host"
	}
	return malformedHeaders(req)
}

// admission is what the prologue of a request outside any dialog addressed to a room found.
type admission struct {
	room  string         // the room's name; for an INVITE to the conference factory, the new room's
	adhoc bool           // the request is an INVITE to the conference factory (RFC 4579 §5.1)
	r     *focus.Room    // the room; nil for an ad-hoc room, which does not exist yet
	ident focus.Identity // the caller
}

// admit is the one prologue of a request outside any dialog addressed to a room (INVITE,
// SUBSCRIBE, REFER, MESSAGE): the room (404 if none), the caller authenticated for it (a
// Digest challenge when sip.auth asks for one) and its identity (400 when the request's
// identity headers are unusable). With factory, an INVITE to the conference factory URI is
// admitted for the ad-hoc room it creates, authenticated as for a room named like the factory
// (sip.auth.rooms may name it). ok is false once a response has been sent.
func (s *Server) admit(req *sip.Request, tx sip.ServerTransaction, factory bool) (a admission, ok bool) {
	room, ok := s.focus.RoomName(req.Recipient.String())
	authRoom := room
	a.adhoc = factory && s.isFactory(req)
	if a.adhoc {
		if room, ok = s.adhocName(req, tx); !ok {
			return admission{}, false
		}
		authRoom = s.peer.factory.User
	} else if ok {
		a.r = s.focus.Room(room)
	}
	if !ok || (!a.adhoc && a.r == nil) {
		s.respond(req, tx, 404, s.warning("no such room"))
		return admission{}, false
	}
	authUser, ok := s.authenticate(req, tx, authRoom)
	if !ok {
		return admission{}, false
	}
	ident, err := s.identity(req, authUser)
	if err != nil {
		s.respond(req, tx, 400, s.warning(err.Error()))
		return admission{}, false
	}
	a.room, a.ident = room, ident
	return a, true
}

// onOptions answers capability queries and proxies' keepalives; the Contact carries isfocus
// (RFC 4579 §4.3), for a room's URI or the focus's own address.
func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	room := ""
	if req.Recipient.User != "" {
		room, _ = s.focus.RoomName(req.Recipient.String())
	}
	s.respond(req, tx, 200, s.hdrAccept, s.hdrSupported, s.contact(room, req.Transport(), req.Recipient.Scheme))
}

func (s *Server) onUnsupported(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(req, tx, 405)
}

// Do sends a request outside any dialog (dial-out, for instance) and returns its final
// response. With an outbound proxy configured, the request is preloaded with a Route to it
// (RFC 3261 §8.1.2) unless it already has a route.
func (s *Server) Do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	if s.outbound != nil && req.Route() == nil {
		req.PrependHeader(&sip.RouteHeader{Address: *s.outbound.Clone()})
		if t, ok := s.outbound.UriParams.Get("transport"); ok && t != "" {
			req.SetTransport(strings.ToUpper(t))
		}
	}
	return s.client.Do(ctx, req)
}
