package msrp

// REPORT generation (RFC 4975 §7.1.2–§7.1.4).

func (s *Session) boundConn() *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// SendReport sends a REPORT about req, a request the session received (as given to HandleMessage or
// HandleChunk): a success REPORT for code 200, a failure REPORT otherwise (RFC 4975 §7.1.2–§7.1.4), for
// errors found after the request was already answered 200. It honours req's report headers: it does nothing
// and returns nil when req asked for no such REPORT (Success-Report absent or no; Failure-Report no). The
// Byte-Range covers the data received in req (§7.1.4); To-Path is req's whole From-Path (§7.1.3).
func (s *Session) SendReport(req *Message, code int, comment string) error {
	return s.SendReportBody(req, code, comment, "", nil)
}

// SendReportBody is SendReport with a body, for the REPORTs that carry one: RFC 7701 §6.2 has a
// switch's failure REPORT about a private message carry a CPIM wrapper with the original From
// and To. contentType "" sends no body.
func (s *Session) SendReportBody(req *Message, code int, comment, contentType string, body []byte) error {
	if code == StatusOK && req.SuccessReport != "yes" || code != StatusOK && req.FailureReport == "no" {
		return nil
	}
	if req.Method != "SEND" || req.MessageID == "" || len(req.FromPath) == 0 {
		return &StatusError{Code: StatusBadRequest, Comment: "REPORTs are about SENDs with a Message-ID"}
	}
	br := chunkRange(req)
	if req.ByteRange.Start == 0 || br.Total < 0 && req.Flag == FlagEnd && br.Start == 1 {
		br.Total = br.End // a whole message
	}
	c := s.boundConn()
	if c == nil {
		if s.isClosed() {
			return ErrSessionClosed
		}
		return ErrNotBound
	}
	return c.sendReport(s, req, br, code, comment, contentType, body, nil)
}

// successReport sends the success REPORT a SEND asked for, covering the bytes received (§7.1.3).
func (c *conn) successReport(s *Session, req *Message, br ByteRange, wake *conn) {
	if req.SuccessReport != "yes" {
		return
	}
	c.sendReport(s, req, br, StatusOK, "", "", nil, wake)
}

func (c *conn) sendReport(s *Session, req *Message, br ByteRange, code int, comment, contentType string, body []byte, wake *conn) error {
	if comment == "" {
		comment = StatusText(code)
	}
	st := Status{Code: code, Comment: comment}
	r := Message{Method: "REPORT", ToPath: req.FromPath, FromPath: s.localPath, MessageID: req.MessageID,
		ByteRange: br, Status: &st, ContentType: contentType, Body: body}
	return c.queueFrame(&r, s, false, nil, wake)
}
