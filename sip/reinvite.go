package sip

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/sdp"
)

// Session modification in an established dialog: re-INVITE (RFC 3261 §14) and UPDATE
// (RFC 3311) carry new offers for the participant's streams; an INVITE without SDP gets our
// offer in the 200 and its answer in the ACK (RFC 3261 §13.2.1); session timers (RFC 4028)
// end a dialog whose refreshes stop.

// DefaultMinSessionExpires is the smallest session interval the focus accepts (RFC 4028 §4:
// never below 90 s unless configured so).
const DefaultMinSessionExpires = 90 * time.Second

// modState is a dialog's offer/answer and session timer state.
type modState struct {
	mu       sync.Mutex
	pending  bool                     // an offer/answer exchange is under way (RFC 3261 §14.2, RFC 3311 §5.2)
	acks     map[uint32]chan struct{} // re-INVITEs whose 2xx awaits its ACK, by CSeq; closed when it comes
	offer    *focus.Offer             // our offer in the 200 to an INVITE without SDP, answered in the ACK
	ackBody  []byte                   // the ACK's body, for that offer
	timer    *time.Timer              // session expiry (RFC 4028); nil without session timers
	interval time.Duration            // the negotiated session interval
}

// onReInvite handles an INVITE inside a dialog: a new offer (or none) for the participant's
// streams.
func (s *Server) onReInvite(req *sip.Request, tx sip.ServerTransaction) {
	d := s.participantDialog(req, tx)
	if d == nil {
		return
	}
	if !s.beginModify(d, req, tx) {
		return
	}
	interval, ok := s.sessionInterval(req, tx)
	if !ok {
		s.endModify(d)
		return
	}
	answer, ok := s.reanswer(d, req, tx)
	if !ok {
		s.endModify(d)
		return
	}
	res := sip.NewSDPResponseFromRequest(req, answer)
	res.AppendHeader(s.contact(d.participant.Room().Name(), req.Transport()))
	res.AppendHeader(s.hdrSupported)
	s.refreshed(d, req, res, interval)
	s.decorate(res)
	cseq, acked := req.CSeq().SeqNo, make(chan struct{})
	d.mod.mu.Lock()
	if d.mod.acks == nil {
		d.mod.acks = map[uint32]chan struct{}{}
	}
	d.mod.acks[cseq] = acked
	d.mod.mu.Unlock()
	s.metrics.responses.WithLabelValues("INVITE", "200").Inc()
	// An offer answered in the 2xx completes the exchange (RFC 6337 §3.1) — cleared before the
	// 200 leaves, so that the peer's next offer never meets a stale 491; our own offer in the
	// 2xx waits for the answer in the ACK.
	offered := len(req.Body()) == 0
	if !offered {
		s.endModify(d)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("response not sent", "method", req.Method, "code", 200, "err", err)
	}
	// The INVITE server transaction does not retransmit a 2xx (RFC 6026 §7.1): over UDP the
	// focus does, T1 doubling to T2, until the ACK arrives or 64*T1 has passed.
	go func() {
		defer func() {
			d.mod.mu.Lock()
			delete(d.mod.acks, cseq)
			d.mod.mu.Unlock()
			if offered {
				s.endModify(d)
			}
		}()
		reliable := !strings.EqualFold(req.Transport(), "udp")
		wait, deadline := sip.T1, time.NewTimer(64*sip.T1)
		defer deadline.Stop()
		for {
			tick := time.NewTimer(wait)
			select {
			case <-acked:
				tick.Stop()
				return
			case <-deadline.C:
				tick.Stop()
				s.log.Info("no ACK for the 2xx to a re-INVITE", "user", d.participant.UserID())
				return
			case <-tick.C:
				if !reliable {
					_ = tx.Respond(res)
				}
				wait = min(2*wait, sip.T2)
			}
		}
	}()
}

// onUpdate handles UPDATE (RFC 3311): an offer applied like a re-INVITE's, or, without a
// body, a session refresh.
func (s *Server) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	d := s.participantDialog(req, tx)
	if d == nil {
		return
	}
	if !s.beginModify(d, req, tx) {
		return
	}
	defer s.endModify(d)
	interval, ok := s.sessionInterval(req, tx)
	if !ok {
		return
	}
	var res *sip.Response
	if len(req.Body()) == 0 {
		res = newResponse(req, 200)
	} else {
		answer, ok := s.reanswer(d, req, tx)
		if !ok {
			return
		}
		res = sip.NewSDPResponseFromRequest(req, answer)
	}
	res.AppendHeader(s.contact(d.participant.Room().Name(), req.Transport()))
	res.AppendHeader(s.hdrSupported)
	s.refreshed(d, req, res, interval)
	s.decorate(res)
	s.metrics.responses.WithLabelValues("UPDATE", "200").Inc()
	s.endModify(d) // before the 200 leaves: the peer may send its next offer at once
	if err := tx.Respond(res); err != nil {
		s.log.Debug("response not sent", "method", req.Method, "code", 200, "err", err)
	}
}

// beginModify checks that a new offer may start: 491 while another exchange is under way
// (RFC 3261 §14.2, RFC 3311 §5.2), 500 for a CSeq lower than the dialog's last (RFC 3261
// §12.2.2). On true the exchange is marked under way; endModify clears it.
func (s *Server) beginModify(d *dialog, req *sip.Request, tx sip.ServerTransaction) bool {
	d.mod.mu.Lock()
	if err := d.read(req, tx); err != nil {
		d.mod.mu.Unlock()
		s.respond(req, tx, 500, sip.NewHeader("Retry-After", strconv.Itoa(rand.IntN(10))),
			s.warning("CSeq lower than the dialog's last"))
		return false
	}
	if d.mod.pending {
		d.mod.mu.Unlock()
		s.respond(req, tx, 491)
		return false
	}
	d.mod.pending = true
	d.mod.mu.Unlock()
	return true
}

func (s *Server) endModify(d *dialog) {
	d.mod.mu.Lock()
	d.mod.pending = false
	d.mod.mu.Unlock()
}

// reanswer applies the request's offer, if any, and returns the SDP for the 200: the answer,
// or, for a request without SDP, the current session as our offer. The o= version grows only
// when the SDP changes (RFC 3264 §8). On false a response has been sent.
func (s *Server) reanswer(d *dialog, req *sip.Request, tx sip.ServerTransaction) ([]byte, bool) {
	d.mod.mu.Lock()
	current := d.answer
	d.mod.mu.Unlock()
	body := req.Body()
	if len(body) == 0 {
		return current, true
	}
	if !isSDP(req) {
		s.respond(req, tx, 415, s.hdrAccept)
		return nil, false
	}
	offer, err := sdp.Parse(body)
	if err != nil {
		s.respond(req, tx, 488, s.warning("malformed SDP: "+err.Error()))
		return nil, false
	}
	answers, err := s.focus.Modify(context.Background(), d.participant, offer)
	if err != nil {
		if errors.Is(err, focus.ErrNotInRoom) {
			s.respond(req, tx, 481)
		} else {
			code, reason := joinErrorResponse(err)
			s.respondAs(req, tx, code, reason, s.warning(err.Error()))
		}
		return nil, false
	}
	params := s.answerParams()
	if old, err := sdp.Parse(current); err == nil {
		params.SessionID, params.SessionVersion = old.Origin.SessionID, old.Origin.SessionVersion
	}
	answer, err := sdp.BuildAnswer(offer, params, answers)
	if err == nil && !bytes.Equal(answer, current) {
		params.SessionVersion++
		answer, err = sdp.BuildAnswer(offer, params, answers)
	}
	if err != nil {
		s.log.Error("SDP answer not built", "err", err)
		s.respond(req, tx, 500)
		return nil, false
	}
	d.mod.mu.Lock()
	d.answer = answer
	d.mod.mu.Unlock()
	return answer, true
}

// ackHandled takes the ACKs of session modification: the one for a re-INVITE's 2xx, and the
// one carrying the answer to our offer in an INVITE without SDP. It reports whether the ACK
// was one of those.
func (s *Server) ackHandled(req *sip.Request, tx sip.ServerTransaction) bool {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return false
	}
	if v, ok := s.offerless.Load(id); ok {
		d := v.(*dialog)
		d.mod.mu.Lock()
		if d.mod.ackBody == nil {
			d.mod.ackBody = append([]byte{}, req.Body()...)
		}
		d.mod.mu.Unlock()
		if err := d.readAck(req, tx); err != nil {
			s.log.Debug("ACK ignored", "err", err)
		}
		return true
	}
	d := s.lookup(req)
	if d == nil {
		return false
	}
	d.mod.mu.Lock()
	defer d.mod.mu.Unlock()
	acked, ok := d.mod.acks[req.CSeq().SeqNo]
	if !ok {
		return false
	}
	close(acked)
	delete(d.mod.acks, req.CSeq().SeqNo)
	return true
}

// onOfferlessInvite answers an initial INVITE without SDP: our offer goes in the 200 and the
// participant joins with the answer the ACK carries; an ACK without one ends the dialog.
func (s *Server) onOfferlessInvite(req *sip.Request, tx sip.ServerTransaction, room string, ident focus.Identity, start time.Time) {
	// The participant joins only with the ACK's answer, after our 200: refuse now whom the
	// room would refuse then.
	if err := s.focus.MayJoin(room, ident); err != nil {
		s.refuse(req, tx, err)
		return
	}
	interval, ok := s.sessionInterval(req, tx)
	if !ok {
		return
	}
	place, ok := s.reserve(req, tx)
	if !ok {
		return
	}
	defer place.release()
	offer, err := s.focus.NewOffer(room)
	if err != nil {
		code, reason := joinErrorResponse(err)
		s.respondAs(req, tx, code, reason, s.warning(err.Error()))
		return
	}
	body, err := sdp.BuildOffer(s.answerParams(), []sdp.MediaAnswer{offer.Media()})
	if err != nil {
		offer.Discard()
		s.log.Error("SDP offer not built", "room", room, "err", err)
		s.respond(req, tx, 500)
		return
	}
	contact := s.contact(room, req.Transport())
	dialogUA := &sipgo.DialogUA{Client: s.client, ContactHDR: *contact, RewriteContact: true}
	dlg, err := dialogUA.ReadInvite(req, tx)
	if err != nil {
		offer.Discard()
		s.respond(req, tx, 400, s.warning(err.Error()))
		return
	}
	d := newDialog(dlg, s.client, contact, req.Source())
	d.answer = body
	d.mod.offer = offer
	s.offerless.Store(d.id, d)
	established, err := s.accept(dlg, d, req, contact, body, interval, start)
	s.offerless.Delete(d.id)
	d.mod.mu.Lock()
	ackBody := d.mod.ackBody
	d.mod.mu.Unlock()
	var p *focus.Participant
	if err == nil {
		var answer *sdp.Session
		if answer, err = sdp.Parse(ackBody); err == nil {
			p, err = s.focus.JoinAnswer(context.Background(), focus.JoinRequest{Room: room, Identity: ident, Offer: answer, Dialog: d}, offer)
		}
	} else {
		offer.Discard()
	}
	if err != nil {
		s.stopTimer(d)
		s.log.Info("dialog not established", "room", room, "err", err)
		if established {
			ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
			defer cancel()
			_ = d.bye(ctx)
		}
		return
	}
	d.participant = p
	s.mu.Lock()
	s.dialogs[d.id] = d
	s.mu.Unlock()
	place.keep() // forget releases it now
}

// sessionInterval reads Session-Expires (RFC 4028 §9): 0 when the request asks for no session
// timer, and 422 with our Min-SE (false) when the interval is below our minimum.
func (s *Server) sessionInterval(req *sip.Request, tx sip.ServerTransaction) (time.Duration, bool) {
	h := req.GetHeader("Session-Expires")
	if h == nil {
		h = req.GetHeader("x")
	}
	if h == nil {
		return 0, true
	}
	v, _, _ := strings.Cut(h.Value(), ";")
	secs, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || secs <= 0 {
		s.respond(req, tx, 400, s.warning("malformed Session-Expires"))
		return 0, false
	}
	minSE := s.minSessionExpires()
	if time.Duration(secs)*time.Second < minSE {
		s.respond(req, tx, 422,
			sip.NewHeader("Min-SE", strconv.Itoa(int(minSE/time.Second))))
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

func (s *Server) minSessionExpires() time.Duration {
	if s.cfg.MinSessionExpires > 0 {
		return s.cfg.MinSessionExpires
	}
	return DefaultMinSessionExpires
}

// refreshed answers a session timer request (RFC 4028 §9): when the client supports timers,
// it refreshes (refresher=uac) and the 2xx says Session-Expires with Require: timer; the
// focus ends the dialog if no refresh comes in time (§10). A request without a timer turns it
// off (§9).
func (s *Server) refreshed(d *dialog, req *sip.Request, res *sip.Response, interval time.Duration) {
	if interval == 0 || !supportsTimer(req) {
		s.stopTimer(d)
		return
	}
	res.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(interval/time.Second))+";refresher=uac"))
	res.AppendHeader(sip.NewHeader("Require", "timer"))
	// §10: without a refresh, BYE at the interval less min(32 s, interval/3).
	after := interval - min(32*time.Second, interval/3)
	d.mod.mu.Lock()
	defer d.mod.mu.Unlock()
	d.mod.interval = interval
	if d.mod.timer != nil {
		d.mod.timer.Stop()
	}
	d.mod.timer = time.AfterFunc(after, func() { s.sessionExpired(d) })
}

func (s *Server) stopTimer(d *dialog) {
	d.mod.mu.Lock()
	if d.mod.timer != nil {
		d.mod.timer.Stop()
	}
	d.mod.mu.Unlock()
}

// sessionExpired ends a dialog whose refresh did not come (RFC 4028 §10): the participant
// leaves the room and the dialog ends with a BYE.
func (s *Server) sessionExpired(d *dialog) {
	s.mu.Lock()
	known := s.dialogs[d.id] == d
	s.mu.Unlock()
	if !known || d.participant == nil {
		return
	}
	s.log.Info("session expired without a refresh", "user", d.participant.UserID())
	s.focus.Leave(d.participant)
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	s.Disconnect(ctx, d.participant)
}

func supportsTimer(req *sip.Request) bool {
	for _, name := range []string{"Supported", "k", "Require"} {
		for _, h := range req.GetHeaders(name) {
			for _, opt := range strings.Split(h.Value(), ",") {
				if strings.EqualFold(strings.TrimSpace(opt), "timer") {
					return true
				}
			}
		}
	}
	return false
}
