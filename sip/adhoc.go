package sip

import (
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// setupPeering binds the TLS listener and reads the conference factory URI.
func (s *Server) setupPeering() error {
	s.peer.dialOut.byID = map[string]*dialOut{}
	if f := s.cfg.Peering.Factory; f != "" {
		var u sip.Uri
		if err := sip.ParseUri(strings.Trim(f, "<>"), &u); err != nil || u.User == "" || u.Host == "" {
			return fmt.Errorf("sip: conference factory %q is not a SIP URI with a user part", f)
		}
		s.peer.factory = &u
	}
	return s.listenTLS()
}

// isFactory tells whether an INVITE is addressed to the conference factory URI: its user part,
// at the factory's host or at a host of this focus.
func (s *Server) isFactory(req *sip.Request) bool {
	f := s.peer.factory
	if f == nil || req.Recipient.User != f.User {
		return false
	}
	if s.focus.Room(f.User) != nil {
		return false // a room of that name (created over CCMP, say) wins over the factory
	}
	if strings.EqualFold(strings.Trim(req.Recipient.Host, "[]"), strings.Trim(f.Host, "[]")) {
		return true
	}
	_, local := s.focus.RoomName(req.Recipient.String())
	return local
}

// adhocName vets an INVITE to the conference factory (RFC 4579 §5.1) and returns the name
// the room it creates will have. Nothing is created here: the room comes into being with its
// creator's admission (focus.JoinAdhoc), so that a call refused on the way (401, 488, ...)
// leaves nothing behind. It answers the request itself when it refuses.
func (s *Server) adhocName(req *sip.Request, tx sip.ServerTransaction) (string, bool) {
	if len(req.Body()) == 0 || !isSDP(req) {
		s.respond(req, tx, 488, s.warning("an SDP offer with MSRP m-lines is required"))
		return "", false
	}
	return s.focus.NewAdhocName(), true
}

// adhocAllowed applies Peering.AdhocAllowed to the caller's address of record: the proven one
// (focus.Identity.Proven), never the anonymous URI a privacy request shows.
func (s *Server) adhocAllowed(aor string) bool {
	allowed := s.cfg.Peering.AdhocAllowed
	if len(allowed) == 0 {
		return true
	}
	var u sip.Uri
	if err := sip.ParseUri(aor, &u); err != nil {
		return false
	}
	for _, d := range allowed {
		if strings.EqualFold(d, "any") || strings.EqualFold(d, u.Host) {
			return true
		}
	}
	return false
}
