package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/focus"
)

// Page mode (RFC 3428): a MESSAGE to a room's URI is a message to the room (RFC 4353: the room
// URI is the focus). The sender is admitted as a page-mode member on its first MESSAGE (package
// focus decides, with the same rules as a join) and the room's messages reach it as MESSAGEs
// outside any dialog, at pageContact.

// pageContact is where a page-mode member is reached: its Contact (or its From URI when its
// MESSAGE had none) as Request-URI; with sip.outbound_proxy set, through it (Do); else through
// the Record-Route or Path proxies its MESSAGE came by; else at its Contact when its MESSAGE came
// straight from the address its Via names (no NAT, and a Contact to go to), and otherwise at the
// address and over the transport its MESSAGE came from, as a dialog's requests go to the
// INVITE's source (RewriteContact).
type pageContact struct {
	target    sip.Uri
	aor       sip.Uri // To of the MESSAGEs: the member's address of record (its From)
	routes    []sip.Uri
	source    string // "" when the Contact is to be used as it is
	transport string
}

func (s *Server) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	a, ok := s.admit(req, tx, false)
	if !ok {
		return
	}
	room, ident := a.room, a.ident
	ct := "text/plain"
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	ctx, cancel := context.WithTimeout(context.Background(), pageAnswerTimeout)
	defer cancel()
	contact := pageContactOf(req)
	res, err := s.focus.Page(ctx, focus.PageRequest{Room: room, Identity: ident, ContentType: ct, Body: req.Body(),
		Contact: contact, MaxBody: s.pageMaxBody(room, contact), AcceptsCPIM: acceptsCPIM(req),
		// A MESSAGE that makes a member is a join: it counts against the INVITE rate per source.
		NewMember: func() bool { return s.allows(s.limits.Load().invite, req) }})
	if err != nil {
		s.refusePage(req, tx, room, err)
		return
	}
	if res.Command {
		s.respond(req, tx, 200)
		return
	}
	// RFC 3428 §7: a relay that cannot know whether the message reached its recipients
	// answers 202.
	s.respond(req, tx, 202)
}

// pageAnswerTimeout bounds the wait for the log before a MESSAGE is answered (Timer F).
const pageAnswerTimeout = 30 * time.Second

// refusePage answers a MESSAGE the focus refused: the join refusals as for an INVITE, and the
// message's own (413, 415, 503 with Retry-After, 400, 500).
func (s *Server) refusePage(req *sip.Request, tx sip.ServerTransaction, room string, err error) {
	if errors.Is(err, focus.ErrRateLimited) {
		s.log.Debug("MESSAGE refused", "room", room, "source", req.Source(), "reason", err)
	} else {
		s.log.Info("MESSAGE refused", "room", room, "source", req.Source(), "reason", err)
	}
	switch {
	case errors.Is(err, focus.ErrTooLarge):
		s.respond(req, tx, 413, s.warning(err.Error()))
	case errors.Is(err, focus.ErrUnsupportedType):
		s.respond(req, tx, 415, sip.NewHeader("Accept", "text/plain, message/cpim, application/im-iscomposing+xml"),
			s.warning(err.Error()))
	case errors.Is(err, focus.ErrRateLimited):
		// SIP's 429 is Provide Referrer Identity (RFC 3892): too fast is 503 with Retry-After
		// (RFC 3261 §21.5.4), as the per-source limits answer.
		s.metrics.rateLimited.WithLabelValues(string(req.Method)).Inc()
		s.respond(req, tx, 503, sip.NewHeader("Retry-After", retryAfter), s.warning(err.Error()))
	case errors.Is(err, focus.ErrBadMessage):
		s.respond(req, tx, 400, s.warning(err.Error()))
	case errors.Is(err, focus.ErrNotLogged):
		s.respond(req, tx, 500, s.warning(strings.TrimPrefix(err.Error(), "focus: ")))
	case errors.Is(err, context.DeadlineExceeded):
		s.respond(req, tx, 500, s.warning("message relayed but not logged"))
	default:
		s.refuse(req, tx, err)
	}
}

// pageContactOf reads from a MESSAGE where its sender is reached.
func pageContactOf(req *sip.Request) *pageContact {
	c := &pageContact{source: req.Source(), transport: req.Transport()}
	if from := req.From(); from != nil {
		c.aor = *from.Address.Clone()
		c.target = *from.Address.Clone()
	}
	if h := req.Contact(); h != nil && h.Address.Host != "" {
		c.target = *h.Address.Clone()
		// Over UDP from the address its Via names, so not behind a NAT: its Contact is reachable.
		// Over TCP or TLS the connection it opened is reused (RFC 3261 §18, RFC 5923).
		if via := req.Via(); via != nil && strings.EqualFold(via.Transport, "UDP") && sameHostPort(via.Host, via.Port, req.Source()) {
			c.source = ""
		}
	}
	for _, h := range req.GetHeaders("Record-Route") {
		for _, v := range splitAddressList(h.Value()) {
			var u sip.Uri
			if err := sip.ParseUri(strings.Trim(strings.TrimSpace(v), "<>"), &u); err == nil {
				c.routes = append(c.routes, u)
			}
		}
	}
	if len(c.routes) == 0 {
		for _, h := range req.GetHeaders("Path") { // RFC 3327
			for _, v := range splitAddressList(h.Value()) {
				var u sip.Uri
				if err := sip.ParseUri(strings.Trim(strings.TrimSpace(v), "<>"), &u); err == nil {
					c.routes = append(c.routes, u)
				}
			}
		}
	}
	return c
}

// sameHostPort tells whether host:port (port 0: 5060) is the address addr.
func sameHostPort(host string, port int, addr string) bool {
	if port == 0 {
		port = 5060
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port)) == addr
}

// DefaultPageMaxBody is the largest body of a MESSAGE to a page-mode member over TCP or TLS
// unless configured otherwise (sip.page_max_body): RFC 3428 §7 keeps page mode to short
// messages, and MSRP sessions are for the rest.
const DefaultPageMaxBody = 4096

// pageUDPMax bounds a whole MESSAGE sent over UDP: RFC 3261 §18.1.1 (and RFC 3428 §7) ask for a
// congestion-controlled transport above 1300 bytes when the path MTU is unknown.
const pageUDPMax = 1300

// pageHeaderReserve is what the client layer adds to a request before sending it (Via with its
// branch, Call-ID, CSeq, Max-Forwards, Content-Length), counted generously.
const pageHeaderReserve = 256

// pageMaxBody is the largest body a MESSAGE from room to c may carry: sip.page_max_body, and
// over UDP what the headers leave of pageUDPMax.
func (s *Server) pageMaxBody(room string, c *pageContact) int {
	limit := s.cfg.PageMaxBody
	if limit <= 0 {
		limit = DefaultPageMaxBody
	}
	req := s.pageRequest(room, c, "message/cpim", nil)
	if s.outbound != nil && req.Route() == nil {
		req.PrependHeader(&sip.RouteHeader{Address: *s.outbound.Clone()})
		if t, ok := s.outbound.UriParams.Get("transport"); ok && t != "" {
			req.SetTransport(strings.ToUpper(t))
		}
	}
	if strings.EqualFold(req.Transport(), "UDP") {
		limit = min(limit, pageUDPMax-len(req.String())-pageHeaderReserve)
	}
	return max(limit, 0)
}

// acceptsCPIM tells whether a MESSAGE's Accept header names message/cpim (or message/*).
func acceptsCPIM(req *sip.Request) bool {
	for _, h := range req.GetHeaders("Accept") {
		for _, v := range strings.Split(h.Value(), ",") {
			t, _, _ := strings.Cut(v, ";")
			switch strings.ToLower(strings.TrimSpace(t)) {
			case "message/cpim", "message/*":
				return true
			}
		}
	}
	return false
}

// pageRequest builds the MESSAGE from room to c: outside any dialog, From the room URI, To the
// member's address, through its routes, to where its MESSAGE came from when that is where it
// is reached.
func (s *Server) pageRequest(room string, c *pageContact, contentType string, body []byte) *sip.Request {
	req := sip.NewRequest(sip.MESSAGE, *c.target.Clone())
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: room, Host: s.cfg.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: *c.aor.Clone(), Params: sip.NewParams()})
	for _, r := range c.routes {
		req.AppendHeader(&sip.RouteHeader{Address: *r.Clone()})
	}
	req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	req.AppendHeader(sip.NewHeader("User-Agent", s.cfg.UserAgent))
	req.SetBody(body)
	if len(c.routes) == 0 && s.outbound == nil && c.source != "" {
		req.SetTransport(strings.ToUpper(c.transport))
		req.SetDestination(c.source)
	}
	return req
}

// SendPage sends a room's message to a page-mode member (focus.Pager): a MESSAGE from the room
// URI outside any dialog, answered 2xx or an error.
func (s *Server) SendPage(ctx context.Context, room string, to any, contentType string, body []byte) error {
	c, ok := to.(*pageContact)
	if !ok {
		return fmt.Errorf("sip: no contact for this page-mode member")
	}
	res, err := s.Do(ctx, s.pageRequest(room, c, contentType, body))
	switch {
	case err != nil:
		return err
	case res == nil: // the transaction ended without a response (shutdown)
		return fmt.Errorf("sip: MESSAGE got no response")
	case !res.IsSuccess():
		return fmt.Errorf("sip: MESSAGE answered %d %s", res.StatusCode, res.Reason)
	}
	return nil
}
