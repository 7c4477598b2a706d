package sip

import (
	"errors"
	"strconv"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/focus"
)

// reasonPhrases are the reason phrases of the responses the focus sends (RFC 3261 §21, RFC 4028
// §6, RFC 6665 §8.3): the one table, which respond and newResponse read.
var reasonPhrases = map[int]string{
	200: "OK",
	202: "Accepted",
	302: "Moved Temporarily",
	400: "Bad Request",
	401: "Unauthorized",
	403: "Forbidden",
	404: "Not Found",
	405: "Method Not Allowed",
	406: "Not Acceptable",
	413: "Request Entity Too Large",
	415: "Unsupported Media Type",
	420: "Bad Extension",
	422: "Session Interval Too Small",
	423: "Interval Too Brief",
	481: "Call/Transaction Does Not Exist",
	486: "Busy Here",
	488: "Not Acceptable Here",
	489: "Bad Event",
	491: "Request Pending",
	500: "Server Internal Error",
	503: "Service Unavailable",
	505: "Version Not Supported",
}

// reasonPhrase is the reason phrase of a status code (reasonPhrases); a code missing from the
// table gets the phrase of its class's x00 code.
func reasonPhrase(code int) string {
	if r, ok := reasonPhrases[code]; ok {
		return r
	}
	return reasonPhrases[code/100*100]
}

// newResponse builds a response to req with the code's reason phrase.
func newResponse(req *sip.Request, code int) *sip.Response {
	return sip.NewResponseFromRequest(req, code, reasonPhrase(code), nil)
}

// respond sends a response built from req, with the code's reason phrase and the headers
// every response of ours carries.
func (s *Server) respond(req *sip.Request, tx sip.ServerTransaction, code int, hdrs ...sip.Header) {
	s.respondAs(req, tx, code, reasonPhrase(code), hdrs...)
}

// respondAs is respond with a reason phrase of its own (a refusal that says why in it).
func (s *Server) respondAs(req *sip.Request, tx sip.ServerTransaction, code int, reason string, hdrs ...sip.Header) {
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

// joinErrorResponse is the one table from focus outcomes to SIP responses: the code, and the
// reason phrase, which names the trouble for the refusals a 403 alone would not tell apart.
func joinErrorResponse(err error) (int, string) {
	var moved *focus.MovedError
	code, reason := 500, ""
	switch {
	case errors.Is(err, focus.ErrRoomNotFound):
		code = 404
	case errors.Is(err, focus.ErrNotAcceptable):
		code = 488
	case errors.Is(err, focus.ErrRoomFull):
		code = 486
	case errors.Is(err, focus.ErrPasswordRequired):
		code, reason = 403, "Conference Password Required"
	case errors.Is(err, focus.ErrPasswordInvalid):
		code, reason = 403, "Wrong Conference Password"
	case errors.Is(err, focus.ErrCreateForbidden):
		code, reason = 403, "Room Creation Not Allowed"
	case errors.Is(err, focus.ErrForbidden):
		code = 403
	case errors.As(err, &moved):
		code = 302
	case errors.Is(err, focus.ErrShuttingDown):
		code = 503
	}
	if reason == "" {
		reason = reasonPhrase(code)
	}
	return code, reason
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
	s.respondAs(req, tx, code, reason, hdrs...)
}
