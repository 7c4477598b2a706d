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
	"github.com/parleychat/parley/sdp"
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

// dialog ties a SIP dialog to the participant it created.
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
				s.respond(req, tx, 400, "Bad Request", s.warning(problem))
			}
			return
		}
		if req.SipVersion != "SIP/2.0" {
			if !req.IsAck() {
				s.respond(req, tx, 505, "Version Not Supported", s.warning("this focus speaks SIP/2.0"))
			}
			return
		}
		if tags := unsupportedRequire(req); len(tags) > 0 && !req.IsAck() && req.Method != sip.CANCEL {
			s.respond(req, tx, 420, "Bad Extension", sip.NewHeader("Unsupported", strings.Join(tags, ", ")),
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
		s.respond(req, tx, 503, "Service Unavailable", sip.NewHeader("Retry-After", *retry), s.warning("draining for a restart"))
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

// respond sends a response built from req, with the headers every response of ours carries.
func (s *Server) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	s.decorate(res)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	s.metrics.responses.WithLabelValues(string(req.Method), strconv.Itoa(code)).Inc()
	if err := tx.Respond(res); err != nil {
		s.log.Debug("response not sent", "method", req.Method, "code", code, "err", err)
	}
}

func (s *Server) decorate(res *sip.Response) {
	res.AppendHeader(s.hdrServer)
	if res.StatusCode == 405 || res.StatusCode/100 == 2 {
		res.AppendHeader(s.hdrAllow)
		res.AppendHeader(hdrAllowEvents)
	}
}

// warning builds a Warning header (RFC 3261 §20.43) telling the peer what was wrong.
func (s *Server) warning(text string) sip.Header {
	return sip.NewHeader("Warning", "399 "+s.cfg.AdvertisedHost+" "+strconv.Quote(text))
}

// contact is the focus's Contact for a room: the room URI at our address, with isfocus
// (RFC 4579 §4.2) and the transport the request came over.
func (s *Server) contact(room, transport string, scheme ...string) *sip.ContactHeader {
	uri := s.contactURI(room, transport, append(scheme, "")[0])
	params := sip.NewParams()
	params.Add("isfocus", "")
	return &sip.ContactHeader{Address: uri, Params: params}
}

func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		s.onReInvite(req, tx)
		return
	}
	start := time.Now()
	room, ok := s.focus.RoomName(req.Recipient.String())
	authRoom, adhoc := room, s.isFactory(req)
	if adhoc {
		if room, ok = s.adhocName(req, tx); !ok {
			return
		}
		authRoom = s.peer.factory.User // sip.auth.rooms may name the factory
	}
	if !ok || (!adhoc && s.focus.Room(room) == nil) {
		s.respond(req, tx, 404, "Not Found", s.warning("no such room"))
		return
	}
	authUser, ok := s.authenticate(req, tx, authRoom)
	if !ok {
		return
	}
	if len(req.Body()) == 0 {
		s.onOfferlessInvite(req, tx, room, authUser, start)
		return
	}
	interval, ok := s.sessionInterval(req, tx)
	if !ok {
		return
	}
	body := req.Body()
	if !isSDP(req) || (req.GetHeader("Content-Encoding") != nil && !strings.EqualFold(req.GetHeader("Content-Encoding").Value(), "identity")) {
		// RFC 3261 §8.2.3: a body the focus cannot read is 415, with what it reads.
		s.respond(req, tx, 415, "Unsupported Media Type", s.hdrAccept, sip.NewHeader("Accept-Encoding", "identity"),
			s.warning("an SDP offer with MSRP m-lines is required"))
		return
	}
	offer, err := sdp.Parse(body)
	if err != nil {
		s.log.Info("INVITE with malformed SDP", "source", req.Source(), "err", err)
		s.respond(req, tx, 488, "Not Acceptable Here", s.warning("malformed SDP: "+err.Error()))
		return
	}
	ident, err := s.identity(req, authUser)
	if err != nil {
		s.respond(req, tx, 400, "Bad Request", s.warning(err.Error()))
		return
	}
	if adhoc && !s.adhocAllowed(ident.Proven()) { // the caller's own identity, even when he hides it
		s.respond(req, tx, 403, "Forbidden", s.warning("this caller may not create rooms"))
		return
	}
	if adhoc {
		// Answered before the dialog is set up; JoinAdhoc applies the same rule.
		if err := s.focus.MayCreateRoom(focus.CreatorOf(ident)); err != nil {
			s.refuse(req, tx, err)
			return
		}
	}
	if !s.reserveDialog(req.Source()) {
		s.rejectOverload(req, tx, "dialogs per source")
		return
	}
	reserved := true
	defer func() {
		if reserved {
			s.releaseDialog(req.Source())
		}
	}()

	contact := s.contact(room, req.Transport(), req.Recipient.Scheme)
	dialogUA := &sipgo.DialogUA{Client: s.client, ContactHDR: *contact, RewriteContact: true}
	dlg, err := dialogUA.ReadInvite(req, tx)
	if err != nil {
		s.respond(req, tx, 400, "Bad Request", s.warning(err.Error()))
		return
	}
	d := newDialog(dlg, s.client, contact, req.Source())
	jr := focus.JoinRequest{Room: room, Identity: ident, Offer: offer, Dialog: d, FileTo: fileRecipient(req)}
	var p *focus.Participant
	var answers []sdp.MediaAnswer
	if adhoc {
		p, answers, err = s.focus.JoinAdhoc(context.Background(), room, s.cfg.Peering.AdhocRoom, jr)
	} else {
		p, answers, err = s.focus.Join(context.Background(), jr)
	}
	// leave undoes the join when the dialog does not come up; an ad-hoc room goes with it.
	leave := func() {
		s.focus.Leave(p)
		if adhoc {
			s.focus.DiscardAdhoc(context.Background(), room)
		}
	}
	if err != nil {
		s.refuse(req, tx, err)
		return
	}
	answer, err := sdp.BuildAnswer(offer, s.answerParams(), answers)
	if err != nil {
		leave()
		s.log.Error("SDP answer not built", "room", room, "err", err)
		s.respond(req, tx, 500, "Server Internal Error")
		return
	}
	d.participant, d.answer = p, answer
	s.mu.Lock()
	s.dialogs[d.id] = d
	s.mu.Unlock()
	reserved = false // forget releases it now

	res := sip.NewSDPResponseFromRequest(dlg.InviteRequest, answer)
	res.AppendHeader(contact)
	res.AppendHeader(sip.NewHeader("Supported", "timer"))
	s.refreshed(d, req, res, interval)
	s.decorate(res)
	s.metrics.responses.WithLabelValues("INVITE", "200").Inc()
	s.metrics.inviteSeconds.Observe(time.Since(start).Seconds())
	err = dlg.WriteResponse(res)
	established := dlg.LoadState() >= sip.DialogStateEstablished
	d.setupDone()
	if err != nil {
		// CANCEL won the race, or the ACK never came (RFC 3261 §13.3.1.4: end the session).
		s.log.Info("dialog not established", "room", room, "user", p.UserID(), "err", err)
		s.forget(d.id)
		leave()
		if established {
			ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
			defer cancel()
			_ = d.bye(ctx)
		}
	}
}

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	// ACKs are never answered; one for a dialog we do not know (after a non-2xx, or a
	// retransmission) is ignored.
	if s.ackHandled(req, tx) {
		return
	}
	if d := s.lookup(req); d != nil {
		if err := d.readAck(req, tx); err != nil {
			s.log.Debug("ACK ignored", "err", err)
		}
	}
}

func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	d := s.lookup(req)
	if d == nil {
		if s.dialOutBye(req, tx) {
			return
		}
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	// Leave first, so that the room no longer lists the participant once the 200 is out.
	s.forget(d.id)
	s.focus.Leave(d.participant)
	if err := d.readBye(req, tx); err != nil {
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist", s.warning(err.Error()))
		return
	}
	s.metrics.responses.WithLabelValues("BYE", "200").Inc()
}

// onCancel sees only CANCELs that matched no INVITE transaction (sipgo answers the others).
func (s *Server) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
}

// onOptions answers capability queries and proxies' keepalives; the Contact carries isfocus
// (RFC 4579 §4.3), for a room's URI or the focus's own address.
// caller is the prologue of a request outside any dialog addressed to a room: the room (404 if
// none), the caller authenticated for it (a Digest challenge when sip.auth asks for one) and
// its identity (400 when the request's identity headers are unusable). ok is false once a
// response has been sent.
func (s *Server) caller(req *sip.Request, tx sip.ServerTransaction) (room string, ident focus.Identity, ok bool) {
	room, ok = s.focus.RoomName(req.Recipient.String())
	if !ok || s.focus.Room(room) == nil {
		s.respond(req, tx, 404, "Not Found", s.warning("no such room"))
		return "", focus.Identity{}, false
	}
	authUser, ok := s.authenticate(req, tx, room)
	if !ok {
		return "", focus.Identity{}, false
	}
	ident, err := s.identity(req, authUser)
	if err != nil {
		s.respond(req, tx, 400, "Bad Request", s.warning(err.Error()))
		return "", focus.Identity{}, false
	}
	return room, ident, true
}

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	room := ""
	if req.Recipient.User != "" {
		room, _ = s.focus.RoomName(req.Recipient.String())
	}
	s.respond(req, tx, 200, "OK", s.hdrAccept, s.hdrSupported, s.contact(room, req.Transport(), req.Recipient.Scheme))
}

func (s *Server) onUnsupported(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(req, tx, 405, "Method Not Allowed")
}

// Disconnect ends a participant's dialog with a BYE (focus.Signaling).
func (s *Server) Disconnect(ctx context.Context, p *focus.Participant) {
	if o, ok := p.Dialog().(*dialOut); ok {
		s.disconnectDialOut(ctx, o)
		return
	}
	d, ok := p.Dialog().(*dialog)
	if !ok || d.ending.Swap(true) {
		return
	}
	// The dialog stays known until the BYE is done: an ACK still on its way must find it, or
	// the BYE would wait for the INVITE transaction to time out.
	defer s.forget(d.id)
	if err := d.bye(ctx); err != nil {
		s.log.Info("BYE failed", "user", p.UserID(), "err", err)
	}
}

func (s *Server) lookup(req *sip.Request) *dialog {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialogs[id]
}

// forget drops a dialog and releases its place under the per-source cap (once).
func (s *Server) forget(id string) {
	s.mu.Lock()
	d := s.dialogs[id]
	delete(s.dialogs, id)
	s.mu.Unlock()
	if d != nil {
		s.releaseDialog(d.sourceKey)
	}
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

func (s *Server) answerParams() sdp.AnswerParams {
	s.mu.Lock()
	s.sdpVer++
	v := s.sdpVer
	s.mu.Unlock()
	return sdp.AnswerParams{Username: "parley", SessionID: v, SessionVersion: v, Address: s.cfg.AdvertisedHost}
}

func isSDP(req *sip.Request) bool {
	ct := req.ContentType()
	return ct == nil || strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct.Value())), "application/sdp")
}

// joinErrorResponse is the one table from focus outcomes to SIP responses.
func joinErrorResponse(err error) (int, string) {
	var moved *focus.MovedError
	switch {
	case errors.Is(err, focus.ErrRoomNotFound):
		return 404, "Not Found"
	case errors.Is(err, focus.ErrNotAcceptable):
		return 488, "Not Acceptable Here"
	case errors.Is(err, focus.ErrRoomFull):
		return 486, "Busy Here"
	case errors.Is(err, focus.ErrPasswordRequired):
		return 403, "Conference Password Required"
	case errors.Is(err, focus.ErrPasswordInvalid):
		return 403, "Wrong Conference Password"
	case errors.Is(err, focus.ErrCreateForbidden):
		return 403, "Room Creation Not Allowed"
	case errors.Is(err, focus.ErrForbidden):
		return 403, "Forbidden"
	case errors.As(err, &moved):
		return 302, "Moved Temporarily"
	case errors.Is(err, focus.ErrShuttingDown):
		return 503, "Service Unavailable"
	}
	return 500, "Server Internal Error"
}

// refuse answers a request the focus refused (err from Join, MayJoin, MayWatch): the code of
// joinErrorResponse, the successor as Contact of a 302, and a Warning saying why.
func (s *Server) refuse(req *sip.Request, tx sip.ServerTransaction, err error) {
	code, reason := joinErrorResponse(err)
	var hdrs []sip.Header
	var moved *focus.MovedError
	if errors.As(err, &moved) {
		hdrs = append(hdrs, sip.NewHeader("Contact", "<"+moved.Successor+">"))
	}
	text := err.Error()
	switch {
	case errors.Is(err, focus.ErrPasswordRequired):
		text = "a conference password is required: dial the room's URI with ;" + pinParam + "=PASSWORD"
	case errors.Is(err, focus.ErrPasswordInvalid):
		text = "wrong conference password (the ;" + pinParam + "= parameter of the room's URI)"
	case errors.Is(err, focus.ErrCreateForbidden):
		text = "creating rooms needs the create privilege (room_creators) and an authenticated identity"
	}
	hdrs = append(hdrs, s.warning(text))
	s.respond(req, tx, code, reason, hdrs...)
}

// fileRecipient reads whom a file pushed in this INVITE (RFC 5547) is for: the INVITE's Subject
// may name participants, comma-separated, each by SIP URI, XCON-USERID or "@nickname" (the
// group of participants of session-chat §5.5); a subject in words means the whole room.
func fileRecipient(req *sip.Request) string {
	h := req.GetHeader("Subject")
	if h == nil {
		return ""
	}
	v := strings.TrimSpace(h.Value())
	for _, item := range strings.Split(v, ",") {
		l := strings.ToLower(strings.TrimLeft(strings.TrimSpace(item), "<"))
		if !strings.HasPrefix(l, "sip:") && !strings.HasPrefix(l, "sips:") && !strings.HasPrefix(l, "xcon-userid:") &&
			!(strings.HasPrefix(l, "@") && len(l) > 1) {
			return "" // a subject in words, not a list of recipients
		}
	}
	return v
}
