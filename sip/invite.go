package sip

import (
	"context"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/sdp"
)

func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		s.onReInvite(req, tx)
		return
	}
	start := time.Now()
	a, ok := s.admit(req, tx, true)
	if !ok {
		return
	}
	room, adhoc, ident := a.room, a.adhoc, a.ident
	if len(req.Body()) == 0 {
		s.onOfferlessInvite(req, tx, room, ident, start)
		return
	}
	interval, ok := s.sessionInterval(req, tx)
	if !ok {
		return
	}
	body := req.Body()
	if !isSDP(req) || (req.GetHeader("Content-Encoding") != nil && !strings.EqualFold(req.GetHeader("Content-Encoding").Value(), "identity")) {
		// RFC 3261 §8.2.3: a body the focus cannot read is 415, with what it reads.
		s.respond(req, tx, 415, s.hdrAccept, sip.NewHeader("Accept-Encoding", "identity"),
			s.warning("an SDP offer with MSRP m-lines is required"))
		return
	}
	offer, err := sdp.Parse(body)
	if err != nil {
		s.log.Info("INVITE with malformed SDP", "source", req.Source(), "err", err)
		s.respond(req, tx, 488, s.warning("malformed SDP: "+err.Error()))
		return
	}
	if adhoc && !s.adhocAllowed(ident.Proven()) { // the caller's own identity, even when he hides it
		s.respond(req, tx, 403, s.warning("this caller may not create rooms"))
		return
	}
	if adhoc {
		// Answered before the dialog is set up; JoinAdhoc applies the same rule.
		if err := s.focus.MayCreateRoom(focus.CreatorOf(ident)); err != nil {
			s.refuse(req, tx, err)
			return
		}
	}
	place, ok := s.reserve(req, tx)
	if !ok {
		return
	}
	defer place.release()

	contact := s.contact(room, req.Transport(), req.Recipient.Scheme)
	dialogUA := &sipgo.DialogUA{Client: s.client, ContactHDR: *contact, RewriteContact: true}
	dlg, err := dialogUA.ReadInvite(req, tx)
	if err != nil {
		s.respond(req, tx, 400, s.warning(err.Error()))
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
		s.respond(req, tx, 500)
		return
	}
	d.participant, d.answer = p, answer
	s.mu.Lock()
	s.dialogs[d.id] = d
	s.mu.Unlock()
	place.keep() // forget releases it now

	established, err := s.accept(dlg, d, req, contact, answer, interval, start)
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

// accept sends the 2xx of an initial INVITE with body (our answer, or our offer to an INVITE without
// one) and waits for its ACK (sipgo retransmits it until then). It reports whether the dialog got
// established, and the error that ended the wait, if any.
func (s *Server) accept(dlg *sipgo.DialogServerSession, d *dialog, req *sip.Request, contact *sip.ContactHeader,
	body []byte, interval time.Duration, start time.Time) (established bool, err error) {
	res := sip.NewSDPResponseFromRequest(dlg.InviteRequest, body)
	res.AppendHeader(contact)
	res.AppendHeader(s.hdrSupported)
	s.refreshed(d, req, res, interval)
	s.decorate(res)
	s.metrics.responses.WithLabelValues("INVITE", "200").Inc()
	s.metrics.inviteSeconds.Observe(time.Since(start).Seconds())
	err = dlg.WriteResponse(res)
	established = dlg.LoadState() >= sip.DialogStateEstablished
	d.setupDone()
	return established, err
}
