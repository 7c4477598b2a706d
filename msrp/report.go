package msrp

// Optional interfaces a SessionHandler may implement, REPORT generation (RFC 4975 §7.1.2–§7.1.4) and the
// streaming delivery of large incoming messages.

// ChunkHandler is implemented by a SessionHandler that takes large incoming messages chunk by chunk (a switch
// relaying a file in bounded memory, RFC 7701 §6.1) instead of reassembled. A chunked message whose declared
// total is '*' or above Config.StreamThreshold is streamed; smaller ones, and messages that arrive whole in
// one chunk, still go to HandleMessage.
//
// HandleChunk is called on the connection's read goroutine once per chunk, in arrival order (which need not
// be Byte-Range order, §7.3.1). m is owned by the handler. m.ByteRange is the range this chunk carries:
// Start as sent, End computed from the data received (a sender may interrupt a chunk, §7.3.1), Total as
// declared (-1 for '*'). m.Flag is '+' (more follows), '$' (the sender's last chunk) or '#' (the sender
// aborted; m.Body is whatever came before the interruption). Sizes were checked against the session's
// max-size and MaxMessageSize (or the stream limit) before the call; a message stopped midway for its size
// reaches the handler as a '#' chunk without data. The return value answers the chunk like HandleMessage's: nil
// for 200; any error (413 to stop the transfer, §10.5) ends the transfer, and the later chunks of that
// Message-ID get the same code without reaching the handler. A success REPORT, when asked for, is sent once
// every byte has arrived and been accepted.
type ChunkHandler interface {
	HandleChunk(s *Session, m *Message) error
}

// DeliveryHandler is implemented by a SessionHandler that wants to know when a message it sent failed:
// an error response (403, 404, 408, 413, 415, 423, 425, 428, 481, …, RFC 4975 §10), a failure REPORT
// (§7.1.2), or no response within TransactionTimeout after the request's last byte (code 408, as §10.4
// treats a relay's 408). For a chunked message it may be called once per failed chunk. It runs on the
// connection's read goroutine or the Endpoint's timer goroutine, with no lock held, and must not block.
type DeliveryHandler interface {
	DeliveryFailed(s *Session, messageID string, code int)
}

// ReportHandler is implemented by a SessionHandler that wants every REPORT received on its session, success
// REPORTs included (§7.1.3). m is owned by the handler. REPORTs are never answered.
type ReportHandler interface {
	HandleReport(s *Session, m *Message)
}

func (s *Session) deliveryFailed(mid string, code int, comment string) {
	if dh, ok := s.handler.(DeliveryHandler); ok {
		dh.DeliveryFailed(s, mid, code)
	}
}

// SetMaxSize sets the a=max-size we advertised for this session (RFC 4975 §8.6): incoming messages whose
// Byte-Range total or data go beyond it get 413. Zero or less means MaxMessageSize only.
func (s *Session) SetMaxSize(n int64) {
	s.mu.Lock()
	s.maxSize = n
	s.mu.Unlock()
}

// SetStreamLimit lets a message streamed to the session's ChunkHandler (see ChunkHandler) be up to n bytes,
// beyond MaxMessageSize and the session's max-size, which still bound reassembled messages and every single
// chunk: a handler that writes each chunk through (a switch relaying a file, a file store) holds none of it.
// Zero or less means the same limit as reassembled messages.
func (s *Session) SetStreamLimit(n int64) {
	s.mu.Lock()
	s.streamLimit = n
	s.mu.Unlock()
}

func (s *Session) streamSizeLimit() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streamLimit
}

func (s *Session) sizeLimit() int64 {
	s.mu.Lock()
	n := s.maxSize
	s.mu.Unlock()
	if lim := s.e.cfg().MaxMessageSize; n <= 0 || n > lim {
		return lim
	}
	return n
}

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

// inStream tracks a chunked message streamed to a ChunkHandler: which bytes arrived, nothing of the data.
type inStream struct {
	owner  *Session
	total  int64 // -1 until known
	length int64 // -1 until the '$' chunk fixes it
	have   []span
}

// stream hands one chunk to the ChunkHandler after the same Byte-Range checks reassembly makes.
func (c *conn) stream(s *Session, ch ChunkHandler, key string, m *Message, limit int64) {
	st := c.streams[key]
	if m.Flag == FlagAbort {
		delete(c.streams, key)
		cl := m.Clone()
		cl.ByteRange = chunkRange(m)
		code, comment := CodeOf(ch.HandleChunk(s, cl))
		c.respond(m, s, code, comment)
		return
	}
	if st == nil {
		if len(c.streams) >= maxReassemblies {
			c.pruneStreams()
		}
		if len(c.streams) >= maxReassemblies {
			c.e.stats.tooLarge.Add(1)
			c.respond(m, s, StatusTooLarge, "too many messages in progress")
			return
		}
		if c.streams == nil {
			c.streams = make(map[string]*inStream)
		}
		st = &inStream{owner: s, total: -1, length: -1}
		c.streams[key] = st
	}
	br := chunkRange(m)
	from, to := br.Start-1, br.Start-1+int64(len(m.Body))
	if ferr := st.check(br, m.Flag, from, to, limit); ferr != nil {
		delete(c.streams, key)
		c.respond(m, s, ferr.Code, ferr.Reason)
		return
	}
	cl := m.Clone()
	cl.ByteRange = br
	code, comment := CodeOf(ch.HandleChunk(s, cl))
	if code != StatusOK {
		delete(c.streams, key)
		if m.Flag != FlagEnd {
			c.refuse(key, code)
		}
		if code == StatusTooLarge {
			c.e.stats.tooLarge.Add(1)
		}
		c.respond(m, s, code, comment)
		return
	}
	st.have = addSpan(st.have, span{from, to})
	c.respond(m, s, StatusOK, "")
	if st.length >= 0 && len(st.have) == 1 && st.have[0].from == 0 && st.have[0].to >= st.length || st.length == 0 {
		delete(c.streams, key)
		c.successReport(s, m, ByteRange{Start: 1, End: st.length, Total: st.length}, c)
	}
}

// chunkRange is the Byte-Range a chunk actually carries: range-end from the data received (§7.3.1).
func chunkRange(m *Message) ByteRange {
	br := m.ByteRange
	if br.Start == 0 {
		br = ByteRange{Start: 1, Total: -1}
	}
	br.End = br.Start - 1 + int64(len(m.Body))
	return br
}

// check applies the reassembly rules (§7.1.1, §7.3.1) to a streamed chunk covering [from, to).
func (st *inStream) check(br ByteRange, flag byte, from, to, limit int64) *FrameError {
	if br.Total > limit || to > limit {
		return &FrameError{Code: StatusTooLarge, Reason: "message exceeds the size limit"}
	}
	if br.Total >= 0 {
		if st.total >= 0 && st.total != br.Total || st.length > br.Total || to > br.Total {
			return &FrameError{Code: StatusBadRequest, Header: "Byte-Range", Reason: "total changed between chunks"}
		}
		st.total = br.Total
	}
	if flag == FlagEnd {
		if st.total >= 0 && to != st.total || st.length >= 0 && st.length != to {
			return &FrameError{Code: StatusBadRequest, Header: "Byte-Range", Reason: "last chunk does not end the message"}
		}
		st.length = to
	}
	if st.length >= 0 && to > st.length {
		return &FrameError{Code: StatusBadRequest, Header: "Byte-Range", Reason: "chunk past the end of the message"}
	}
	return nil
}

// pruneStreams drops streams and reassemblies of sessions that have ended.
func (c *conn) pruneStreams() {
	for k, st := range c.streams {
		if st.owner.isClosed() {
			delete(c.streams, k)
		}
	}
	for k, ra := range c.reasm.inProgress {
		if ra.owner != nil && ra.owner.isClosed() {
			delete(c.reasm.inProgress, k)
		}
	}
}
