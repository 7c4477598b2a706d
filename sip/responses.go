package sip

import (
	"errors"
	"strconv"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/focus"
)

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
