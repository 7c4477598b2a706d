package sip

import (
	"context"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/focus"
)

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
		s.respond(req, tx, 481)
		return
	}
	if d.setupSession() == nil && d.read(req, tx) != nil {
		// A stale BYE ends nothing: 500, and the dialog goes on (RFC 3261 §12.2.2).
		s.respond(req, tx, 500, s.warning("CSeq lower than the dialog's last"))
		return
	}
	// Leave first, so that the room no longer lists the participant once the 200 is out.
	s.forget(d.id)
	s.focus.Leave(d.participant)
	if err := d.readBye(req, tx); err != nil {
		s.respond(req, tx, 481, s.warning(err.Error()))
		return
	}
	s.metrics.responses.WithLabelValues("BYE", "200").Inc()
}

// onCancel sees only CANCELs that matched no INVITE transaction (sipgo answers the others).
func (s *Server) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(req, tx, 481)
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

// participantDialog is the prologue of a request inside a participant's dialog: the dialog,
// or nil once a 481 has been sent (RFC 3261 §12.2.2).
func (s *Server) participantDialog(req *sip.Request, tx sip.ServerTransaction) *dialog {
	d := s.lookup(req)
	if d == nil || d.participant == nil {
		s.respond(req, tx, 481)
		return nil
	}
	return d
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
