package sip

import (
	"context"
	"errors"
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

// A participant's REFER to the room (RFC 4579 §5.5, RFC 3515) makes the focus invite the
// Refer-To target: the focus answers 202, dials out with an MSRP offer and reports the
// INVITE's progress in message/sipfrag NOTIFYs of the implicit subscription (Event: refer).

// dialOutTimeout bounds a dial-out from the INVITE to the final response (a ringing target
// that nobody answers).
const dialOutTimeout = 60 * time.Second

// dialOuts are the dialogs the focus started (it is the UAC), by dialog ID.
type dialOuts struct {
	mu   sync.Mutex
	byID map[string]*dialOut
}

// dialOut is a participant the focus invited: Participant.Dialog of a dialled-out participant.
type dialOut struct {
	session     *sipgo.DialogClientSession
	participant *focus.Participant
	ending      atomic.Bool
}

// referSubscription sends the NOTIFYs of a REFER's implicit subscription.
type referSubscription struct {
	send      func(ctx context.Context, req *sip.Request) (*sip.Response, error)
	target    sip.Uri // the referrer's Contact (rewritten to its source, as the dialog's)
	transport string
	event     string
	extra     []sip.Header // From, To, Call-ID of an out-of-dialog REFER's dialog
	cseq      uint32
}

func (s *Server) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	h := req.GetHeader("Refer-To")
	if h == nil {
		s.respond(req, tx, 400, s.warning("no Refer-To header"))
		return
	}
	var target sip.Uri
	if _, err := sip.ParseAddressValue(h.Value(), &target, nil); err != nil ||
		(target.Scheme != "sip" && target.Scheme != "sips") || target.Host == "" {
		s.respond(req, tx, 400, s.warning("Refer-To is not a SIP URI"))
		return
	}
	if m, ok := target.UriParams.Get("method"); ok && !strings.EqualFold(m, "INVITE") {
		s.respond(req, tx, 403, s.warning("the focus only invites"))
		return
	}
	contact := req.Contact()
	if contact == nil {
		s.respond(req, tx, 400, s.warning("no Contact header"))
		return
	}
	sub := &referSubscription{target: *contact.Address.Clone(), transport: req.Transport(), event: "refer"}
	// Like the INVITE dialogs' Contacts: the referrer is reached where its request came from.
	if host, port, err := sip.ParseAddr(req.Source()); err == nil {
		sub.target.Host, sub.target.Port = host, port
	}
	var room string
	var referrer focus.Identity
	var allowed error
	res := newResponse(req, 202)
	if to := req.To(); to.Params.Has("tag") {
		d := s.participantDialog(req, tx)
		if d == nil {
			return
		}
		room = d.participant.Room().Name()
		referrer = focus.Identity{AOR: d.participant.AOR()}
		allowed = s.focus.MayInviteFrom(d.participant, s.cfg.Peering.ReferAnyone)
		sub.send = d.Do
		sub.target, sub.transport = *d.target.Clone(), d.transport
		// RFC 3515 §2.4.6: several REFERs may share the dialog; id tells their NOTIFYs apart.
		sub.event = "refer;id=" + strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)
	} else {
		a, ok := s.admit(req, tx, false)
		if !ok {
			return
		}
		room, referrer = a.room, a.ident
		allowed = s.focus.MayInvite(room, referrer, s.cfg.Peering.ReferAnyone)
		// The REFER creates a dialog of its own (RFC 3515 §2.4.4): our To-tag, its Call-ID.
		tag := sip.GenerateTagN(16)
		res.To().Params.Add("tag", tag)
		from := &sip.FromHeader{DisplayName: req.To().DisplayName, Address: *req.To().Address.Clone(), Params: sip.NewParams()}
		from.Params.Add("tag", tag)
		to := &sip.ToHeader{DisplayName: req.From().DisplayName, Address: *req.From().Address.Clone(), Params: req.From().Params.Clone()}
		sub.extra = []sip.Header{from, to, sip.HeaderClone(req.CallID())}
		sub.send = func(ctx context.Context, req *sip.Request) (*sip.Response, error) { return s.client.Do(ctx, req) }
		res.AppendHeader(s.contact(room, req.Transport(), req.Recipient.Scheme))
	}
	switch {
	case errors.Is(allowed, focus.ErrPasswordRequired), errors.Is(allowed, focus.ErrPasswordInvalid):
		s.refuse(req, tx, allowed)
		return
	case allowed != nil:
		s.respond(req, tx, 403, s.warning("this participant may not invite others"))
		return
	}
	s.decorate(res)
	s.metrics.responses.WithLabelValues("REFER", "202").Inc()
	if err := tx.Respond(res); err != nil {
		s.log.Debug("response not sent", "method", req.Method, "code", 202, "err", err)
		return
	}
	s.log.Info("REFER accepted", "room", room, "by", referrer.AOR, "target", target.Addr())
	go s.dialOut(room, target, referrer, sub)
}

// notify sends one sipfrag NOTIFY; final ends the implicit subscription.
func (s *Server) referNotify(sub *referSubscription, status string, final bool) {
	req := sip.NewRequest(sip.NOTIFY, *sub.target.Clone())
	req.SetTransport(sub.transport)
	for _, h := range sub.extra {
		req.AppendHeader(sip.HeaderClone(h))
	}
	if sub.extra != nil {
		sub.cseq++
		req.AppendHeader(&sip.CSeqHeader{SeqNo: sub.cseq, MethodName: sip.NOTIFY})
	}
	req.AppendHeader(sip.NewHeader("Event", sub.event))
	state := "active;expires=60"
	if final {
		state = "terminated;reason=noresource"
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte("SIP/2.0 " + status + "\r\n"))
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	res, err := sub.send(ctx, req)
	switch {
	case err != nil:
		s.log.Info("REFER NOTIFY failed", "err", err)
	case res == nil: // sipgo's client may end a transaction with neither
		s.log.Info("REFER NOTIFY got no response")
	case !res.IsSuccess():
		s.log.Info("REFER NOTIFY refused", "code", res.StatusCode)
	}
}

// dialOut invites target into room on referrer's behalf and reports to the referrer.
func (s *Server) dialOut(room string, target sip.Uri, referrer focus.Identity, sub *referSubscription) {
	s.referNotify(sub, "100 Trying", false)
	status := s.inviteOut(room, target, referrer)
	s.referNotify(sub, status, true)
}

// inviteOut sends the INVITE with the focus's MSRP offer and, on 200, ACKs, applies the answer
// and adds the target to the room. It returns the status line for the final sipfrag.
func (s *Server) inviteOut(room string, target sip.Uri, referrer focus.Identity) string {
	aor := sip.Uri{Scheme: target.Scheme, User: target.User, Host: target.Host}
	o := &dialOut{}
	prepared, media, err := s.focus.DialOutOffer(room, focus.Identity{AOR: aor.String()}, o)
	if err != nil {
		code, reason := joinErrorResponse(err)
		return strconv.Itoa(code) + " " + reason
	}
	offer, err := sdp.BuildOffer(s.answerParams(), []sdp.MediaAnswer{media})
	if err != nil {
		s.focus.DialOutFailed(prepared)
		s.log.Error("SDP offer not built", "room", room, "err", err)
		return "500 Server Internal Error"
	}
	req := sip.NewRequest(sip.INVITE, *target.Clone())
	req.SetBody(offer)
	transport := "udp"
	if t, ok := target.UriParams.Get("transport"); ok && t != "" {
		transport = strings.ToLower(t)
	} else if target.Scheme == "sips" {
		transport = "tls"
	}
	req.SetTransport(strings.ToUpper(transport))
	if s.outbound != nil {
		req.PrependHeader(&sip.RouteHeader{Address: *s.outbound.Clone()})
		if t, ok := s.outbound.UriParams.Get("transport"); ok && t != "" {
			transport = strings.ToLower(t)
			req.SetTransport(strings.ToUpper(t))
		}
	}
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: room, Host: s.cfg.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.AppendHeader(sip.NewHeader("Referred-By", "<"+referrer.AOR+">"))
	req.AppendHeader(s.hdrAllow)
	req.AppendHeader(sip.NewHeader("Supported", "timer"))
	req.AppendHeader(sip.NewHeader("User-Agent", s.cfg.UserAgent))
	ua := &sipgo.DialogUA{Client: s.client, ContactHDR: *s.contact(room, transport, target.Scheme)}

	ctx, cancel := context.WithTimeout(context.Background(), dialOutTimeout)
	defer cancel()
	sess, err := ua.WriteInvite(ctx, req)
	if err == nil {
		err = sess.WaitAnswer(ctx, sipgo.AnswerOptions{})
	}
	if err != nil {
		s.focus.DialOutFailed(prepared)
		var refused *sipgo.ErrDialogResponse
		if errors.As(err, &refused) {
			return strconv.Itoa(refused.Res.StatusCode) + " " + refused.Res.Reason
		}
		s.log.Info("dial-out failed", "room", room, "target", aor.String(), "err", err)
		return "408 Request Timeout"
	}
	if err := sess.Ack(ctx); err != nil {
		s.log.Info("ACK of a dial-out not sent", "room", room, "err", err)
	}
	o.session = sess
	s.peer.dialOut.mu.Lock()
	s.peer.dialOut.byID[sess.ID] = o
	s.peer.dialOut.mu.Unlock()
	status := strconv.Itoa(sess.InviteResponse.StatusCode) + " " + sess.InviteResponse.Reason
	answer, err := sdp.Parse(sess.InviteResponse.Body())
	if err == nil {
		o.participant, err = s.focus.DialOutAnswered(prepared, answer)
	} else {
		s.focus.DialOutFailed(prepared)
	}
	if err != nil {
		s.log.Info("dial-out answer not usable", "room", room, "target", aor.String(), "err", err)
		s.disconnectDialOut(ctx, o)
		return "488 Not Acceptable Here"
	}
	return status
}

// dialOutBye answers a BYE in a dialog the focus started; false when the dialog is not one.
func (s *Server) dialOutBye(req *sip.Request, tx sip.ServerTransaction) bool {
	id, err := sip.DialogIDFromRequestUAC(req)
	if err != nil {
		return false
	}
	s.peer.dialOut.mu.Lock()
	o := s.peer.dialOut.byID[id]
	delete(s.peer.dialOut.byID, id)
	s.peer.dialOut.mu.Unlock()
	if o == nil {
		return false
	}
	o.ending.Store(true)
	if o.participant != nil {
		s.focus.Leave(o.participant)
	}
	if err := o.session.ReadBye(req, tx); err != nil {
		s.respond(req, tx, 481, s.warning(err.Error()))
		return true
	}
	s.metrics.responses.WithLabelValues("BYE", "200").Inc()
	return true
}

// disconnectDialOut ends a dialled-out participant's dialog with a BYE.
func (s *Server) disconnectDialOut(ctx context.Context, o *dialOut) {
	if o.ending.Swap(true) || o.session == nil {
		return
	}
	defer func() {
		s.peer.dialOut.mu.Lock()
		delete(s.peer.dialOut.byID, o.session.ID)
		s.peer.dialOut.mu.Unlock()
	}()
	if err := o.session.Bye(ctx); err != nil {
		s.log.Info("BYE failed", "err", err)
	}
}

// Invite implements focus.Inviter: the focus calls target into room on its own initiative (the
// CCMP dial-out policy), the same dial-out as for a REFER but with no one to report to.
func (s *Server) Invite(room, target string) {
	var uri sip.Uri
	if err := sip.ParseUri(strings.TrimSpace(target), &uri); err != nil || uri.Host == "" {
		s.log.Info("dial-out target is not a SIP URI", "room", room, "target", target)
		return
	}
	go s.inviteOut(room, uri, focus.Identity{AOR: s.focus.RoomURI(room)})
}
