package sip

import (
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/internal/ratelimit"
)

// Limits bound what one source address may ask of the focus. Zero disables a limit. Sources in
// the trusted proxies list are exempt: a proxy speaks for many users, and protects itself.
type Limits struct {
	InviteRate          float64 // dialog-forming INVITEs per second per source IP (burst: one second's worth)
	SubscribeRate       float64 // SUBSCRIBEs per second per source IP
	MaxDialogsPerSource int     // participant dialogs open at once per source IP
	MaxPendingInvites   int     // initial INVITEs being answered at once (503 beyond); 0 = no limit

	// Stream (TCP and TLS) connections, connguard.go.
	MaxConnsPerIP  int           // accepted connections per source IP (trusted proxies exempt); 0 = no limit
	MaxConns       int           // accepted connections in all; 0 = no limit
	MessageTimeout time.Duration // a message must arrive whole within this of its first byte; 0 = none
}

// liveLimits are the limits SetLimits may change while serving.
type liveLimits struct {
	inviteRate, subscribeRate float64
	invite, subscribe         *ratelimit.PerKey // nil: unlimited
	maxPending                int
	maxDialogs                int // MaxDialogsPerSource; 0 = no limit
}

// SetLimits changes InviteRate, SubscribeRate, MaxPendingInvites and MaxDialogsPerSource for
// the requests that come from now on (a rate that changes starts with full buckets; the dialogs
// a source holds are counted whatever the limit, so a lowered one refuses its next dialog and
// ends none).
func (s *Server) SetLimits(l Limits) {
	next := &liveLimits{inviteRate: l.InviteRate, subscribeRate: l.SubscribeRate, maxPending: l.MaxPendingInvites,
		maxDialogs: l.MaxDialogsPerSource}
	cur := s.limits.Load()
	if cur != nil && cur.inviteRate == l.InviteRate {
		next.invite = cur.invite
	} else {
		next.invite = ratelimit.New(l.InviteRate)
	}
	if cur != nil && cur.subscribeRate == l.SubscribeRate {
		next.subscribe = cur.subscribe
	} else {
		next.subscribe = ratelimit.New(l.SubscribeRate)
	}
	s.limits.Store(next)
}

// retryAfter is the Retry-After of a rate-limited request, in seconds.
const retryAfter = "1"

// allows tells whether req's source is within limiter (counting req), without answering.
func (s *Server) allows(l *ratelimit.PerKey, req *sip.Request) bool {
	return l == nil || s.trusted.contains(req.Source()) || l.Allow(sourceHost(req.Source()))
}

// limited answers 503 with Retry-After when req's source has used up its allowance of
// limiter, and reports whether it did.
func (s *Server) limited(req *sip.Request, tx sip.ServerTransaction, l *ratelimit.PerKey, what string) bool {
	if s.allows(l, req) {
		return false
	}
	s.rejectOverload(req, tx, what)
	return true
}

func (s *Server) rejectOverload(req *sip.Request, tx sip.ServerTransaction, what string) {
	s.metrics.rateLimited.WithLabelValues(string(req.Method)).Inc()
	s.log.Debug("request refused by a per-source limit", "method", req.Method, "source", req.Source(), "limit", what)
	s.respond(req, tx, 503, sip.NewHeader("Retry-After", retryAfter), s.warning(what+" exceeded"))
}

// reserveDialog counts a new dialog against its source; false when the source is at the cap.
// The caller releases it with releaseDialog once the dialog is over or never came up.
func (s *Server) reserveDialog(source string) bool {
	if s.trusted.contains(source) {
		return true
	}
	max := s.limits.Load().maxDialogs
	key := sourceHost(source)
	s.mu.Lock()
	defer s.mu.Unlock()
	if max > 0 && s.perSource[key] >= max {
		return false
	}
	s.perSource[key]++
	return true
}

// dialogPlace is a new dialog's place under Limits.MaxDialogsPerSource while it is set up.
type dialogPlace struct {
	s      *Server
	source string
	kept   bool
}

// reserve takes a place for a dialog-forming request's source; false once a 503 has been sent.
func (s *Server) reserve(req *sip.Request, tx sip.ServerTransaction) (*dialogPlace, bool) {
	if !s.reserveDialog(req.Source()) {
		s.rejectOverload(req, tx, "dialogs per source")
		return nil, false
	}
	return &dialogPlace{s: s, source: req.Source()}, true
}

// keep hands the place over to the dialog set up: forget releases it.
func (p *dialogPlace) keep() { p.kept = true }

// release gives the place back unless the dialog kept it.
func (p *dialogPlace) release() {
	if !p.kept {
		p.s.releaseDialog(p.source)
	}
}

func (s *Server) releaseDialog(source string) {
	if s.trusted.contains(source) {
		return
	}
	key := sourceHost(source)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perSource[key]--; s.perSource[key] <= 0 {
		delete(s.perSource, key)
	}
}
