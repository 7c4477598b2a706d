package msrp

import (
	"errors"
	"strings"
)

// HeartbeatContentType marks a keepalive SEND that is answered and never delivered.
const HeartbeatContentType = "text/x-msrp-heartbeat"

// errStop ends parsing on a connection that handleFrame has already failed.
var errStop = errors.New("msrp: connection closed")

// handleFrame runs on the read goroutine for every parsed frame (RFC 4975 §7.3).
func (c *conn) handleFrame(m *Message, ferr error) error {
	c.frames++
	if m.IsResponse() {
		c.handleResponse(m)
		return nil
	}
	c.e.stats.messagesIn.Add(1)
	if m.Method == "REPORT" {
		// REPORTs are never answered, not even when malformed (§7.1.2).
		if ferr == nil {
			c.handleReport(m)
		}
		return nil
	}
	if ferr != nil {
		code, _ := CodeOf(ferr)
		if code == StatusTooLarge {
			c.e.stats.tooLarge.Add(1)
		}
		c.e.log.Debug("msrp: bad request", "error", ferr)
		c.respond(m, nil, code, "")
		return nil
	}
	s, code := c.e.matchSession(c, m.ToPath[len(m.ToPath)-1])
	if s == nil {
		if code == 0 {
			return errStop // the connection failed the session's TLS check; the request gets no answer
		}
		if code == StatusNoSuchSession && c.guessing() {
			c.fail(SessionGuessing)
			return errStop
		}
		c.respond(m, nil, code, "")
		return nil
	}
	switch m.Method {
	case "SEND":
		c.handleSend(s, m)
	case "NICKNAME":
		c.deliver(s, m)
	default:
		// AUTH is for relays (RFC 4976); a focus answers it like any unknown method (§12).
		c.respond(m, s, StatusNotImplemented, "")
	}
	return nil
}

func (c *conn) handleSend(s *Session, m *Message) {
	if m.ContentType == "" && len(m.Body) == 0 || isHeartbeat(m.ContentType) {
		// Keepalive or binding SEND (§5.4, §7.1; RFC 7977 §6): answered, never delivered.
		c.respond(m, s, StatusOK, "")
		return
	}
	if m.MessageID == "" {
		// Every SEND carries a Message-ID (§7.1): reports, chunks and duplicates are told by it.
		c.respond(m, s, StatusBadRequest, "SEND without Message-ID")
		return
	}
	// Sizes are checked before anything is allocated (§14.5): the session's advertised max-size and the
	// configured limit; the parser already bounded this chunk by MaxMessageSize.
	limit := s.sizeLimit()
	br := m.ByteRange
	if br.Start == 0 {
		br = ByteRange{Start: 1, End: int64(len(m.Body)), Total: -1}
		if m.Flag == FlagEnd {
			br.Total = br.End
		}
	}
	if m.Flag == FlagEnd && br.Start == 1 && len(c.streams) == 0 && len(c.reasm.inProgress) == 0 {
		// The whole message in one chunk, and no transfer open that it could belong to: the
		// common case, decided without building the transfer key.
		if br.Total > limit || int64(len(m.Body)) > limit {
			c.e.stats.tooLarge.Add(1)
			c.respond(m, s, StatusTooLarge, "")
			return
		}
		c.deliver(s, m)
		return
	}
	key := s.id + "\x00" + m.MessageID // a Message-ID is there (above)
	ch, chunked := s.handler.(ChunkHandler)
	streamed := chunked && !(m.Flag == FlagEnd && br.Start == 1 && !c.inProgress(key)) &&
		(c.streams[key] != nil || c.reasm.inProgress[key] == nil && (br.Total < 0 || br.Total > c.e.cfg().StreamThreshold))
	if sl := s.streamSizeLimit(); streamed && sl > limit {
		limit = sl // the handler holds none of it (SetStreamLimit)
	}
	if br.Total > limit || br.Start-1+int64(len(m.Body)) > limit {
		c.e.stats.tooLarge.Add(1)
		if streamed && c.streams[key] != nil {
			// A streamed message stopped midway reaches its handler as an abort ('#', no data), so that
			// it can let go of what it started; the rest of the message gets 413 too (§10.5).
			delete(c.streams, key)
			stop := m.Clone()
			stop.Body, stop.Flag = nil, FlagAbort
			stop.ByteRange = ByteRange{Start: br.Start, End: br.Start - 1, Total: br.Total}
			_ = ch.HandleChunk(s, stop)
			if m.Flag != FlagEnd {
				c.refuse(key, StatusTooLarge)
			}
		}
		c.respond(m, s, StatusTooLarge, "")
		return
	}
	if m.Flag == FlagEnd && br.Start == 1 && !c.inProgress(key) {
		c.deliver(s, m) // the whole message in one chunk
		return
	}
	if code, ok := c.refused[key]; ok {
		// The application stopped this transfer; the sender must stop too (§10.5).
		if m.Flag == FlagEnd || m.Flag == FlagAbort {
			delete(c.refused, key)
		}
		if code == StatusTooLarge {
			c.e.stats.tooLarge.Add(1)
		}
		c.respond(m, s, code, "")
		return
	}
	if streamed {
		c.stream(s, ch, key, m, limit)
		return
	}
	whole, err := c.reasm.add(key, s, m, limit)
	switch {
	case err != nil:
		code, _ := CodeOf(err)
		if code == StatusTooLarge {
			c.e.stats.tooLarge.Add(1)
		}
		c.respond(m, s, code, "")
	case whole == nil:
		c.respond(m, s, StatusOK, "")
	default:
		c.answer(m, s, s.handler.HandleMessage(s, whole), whole.ByteRange)
	}
}

func (c *conn) inProgress(key string) bool {
	return c.reasm.inProgress[key] != nil || c.streams[key] != nil
}

// deliver hands a complete request to the application. The handler owns what it receives, so the frame,
// which aliases the read buffer, is cloned.
func (c *conn) deliver(s *Session, m *Message) {
	n := int64(len(m.Body))
	c.answer(m, s, s.handler.HandleMessage(s, m.Clone()), ByteRange{Start: 1, End: n, Total: n})
}

// answer responds to a request the handler took, now or, for a *Deferred, once it is settled; a
// SEND's 200 brings the success REPORT for br when asked for (§7.1.3).
func (c *conn) answer(m *Message, s *Session, err error, br ByteRange) {
	report := m.Method == "SEND" && m.SuccessReport == "yes"
	if d, ok := err.(*Deferred); ok {
		c.holdAnswer(m, s, d, 0, "", report, br)
		return
	}
	code, comment := CodeOf(err)
	if c.held.Load() > 0 {
		c.holdAnswer(m, s, nil, code, comment, report, br)
		return
	}
	c.sendAnswer(m, s, code, comment, c)
	if code == StatusOK && report {
		c.successReport(s, m, br, c)
	}
}

// refuse remembers that the application stopped a transfer, so later chunks get the same answer without
// reaching it. The set is small: senders stop after the first error (§10.5).
func (c *conn) refuse(key string, code int) {
	if c.refused == nil || len(c.refused) >= 64 {
		c.refused = make(map[string]int)
	}
	c.refused[key] = code
}

func isHeartbeat(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.EqualFold(strings.TrimSpace(ct), HeartbeatContentType)
}

// respond answers req on this connection, honouring Failure-Report (§7.1.4, §7.2): "no" gets nothing,
// "partial" only errors. To-Path is the leftmost From-Path URI for SEND, the whole From-Path otherwise;
// From-Path is our session URI, or the URI the request addressed when it matched no session.
func (c *conn) respond(req *Message, s *Session, code int, comment string) {
	if c.held.Load() > 0 {
		c.holdAnswer(req, s, nil, code, comment, false, ByteRange{}) // behind a deferred answer: order is kept
		return
	}
	c.sendAnswer(req, s, code, comment, c)
}

// sendAnswer queues a response; wake is the connection whose reader wakes the writer
// (queueFrame), nil for now.
func (c *conn) sendAnswer(req *Message, s *Session, code int, comment string, wake *conn) {
	if req.Method == "REPORT" || req.FailureReport == "no" || req.FailureReport == "partial" && code == StatusOK {
		return
	}
	if len(req.FromPath) == 0 || req.TransactionID == "" {
		return // nowhere to send it
	}
	if comment == "" {
		comment = StatusText(code)
	}
	// Both candidates are on the heap already: a path of our own would be allocated per answer.
	var from []URI
	if s != nil {
		from = s.localPath
	} else if len(req.ToPath) > 0 {
		from = req.ToPath[len(req.ToPath)-1:]
	}
	resp := Message{TransactionID: req.TransactionID, StatusCode: code, Comment: comment, ToPath: req.FromPath, FromPath: from}
	if req.Method == "SEND" {
		resp.ToPath = req.FromPath[:1]
		if s != nil {
			resp.pathHead = c.answerPaths(req, from)
		}
	}
	c.queueFrame(&resp, nil, false, nil, wake)
}

// answerPaths returns the path lines of an answer to a SEND from req's sender to from (a
// session's localPath, never rewritten), written
// once for as long as the sender's From-Path is the parser's same cached slice: the answers on a
// connection go to the same paths, frame after frame. It runs on the read goroutine.
func (c *conn) answerPaths(req *Message, from []URI) []byte {
	if !req.sharedFrom || len(from) == 0 {
		return nil
	}
	a := &c.answerHead
	if a.to != &req.FromPath[0] || a.from != &from[0] {
		a.to, a.from = &req.FromPath[0], &from[0]
		a.lines = appendPathHead(a.lines[:0], req.FromPath[:1], from) // copied out by queueFrame
	}
	return a.lines
}

// handleResponse matches a response to our request by transaction-id (§7.2) and acts on its code (§10):
// 2xx ends the transaction; a failed chunk stops its message (after a 413 the sender MUST stop, and the
// chunk in progress is interrupted with '#', §10.5);
// 481 fails the session (§10.6); every failure, 408 included (treated as our own timeout, §10.4), is
// reported to a DeliveryHandler.
func (c *conn) handleResponse(m *Message) {
	c.mu.Lock()
	i := c.txs.lookup(m.TransactionID)
	if i == noSlot {
		c.mu.Unlock()
		c.untrackedResponse(m)
		return
	}
	slot := &c.txs.slots[i]
	s, waiter, lm := slot.session, slot.waiter, slot.msg
	var mid string
	failed := m.StatusCode/100 != 2
	if failed {
		mid = slot.messageID()
	}
	stop := failed && lm != nil // a chunk failed: so has its message (413 above all, §10.5)
	if stop {
		lm.stop = true
	}
	c.txs.release(i)
	c.mu.Unlock()
	if stop {
		c.cond.Signal()
	}
	if waiter != nil {
		// The frame's strings alias the read buffer: the waiter gets copies (buffered, one send).
		waiter <- m.cloneOwned()
		close(waiter)
	}
	if !failed || s == nil {
		return
	}
	c.e.log.Debug("msrp: request failed", "session", s.id, "message_id", mid, "code", m.StatusCode, "comment", strings.Clone(m.Comment))
	if m.StatusCode == StatusNoSuchSession {
		// The peer no longer knows the session: it has failed (§10.6).
		s.deliveryFailed(mid, m.StatusCode, m.Comment)
		s.closeWith(PeerNoSuchSession, false)
		return
	}
	if waiter == nil {
		s.deliveryFailed(mid, m.StatusCode, m.Comment)
	}
}

// untrackedResponse takes a response that matches no transaction: most often the failure answer to a
// Failure-Report partial request (Session.Send), which names our session in its To-Path (§7.2). A 481 ends
// that session (§10.6); other failures of a message sent whole need nothing more. A 200 to partial is a peer
// answering everything, which costs nothing either.
func (c *conn) untrackedResponse(m *Message) {
	if m.StatusCode/100 == 2 {
		return
	}
	var s *Session
	if len(m.ToPath) > 0 {
		if s = c.e.Session(m.ToPath[len(m.ToPath)-1].SessionID); s != nil && s.boundConn() != c {
			s = nil
		}
	}
	if s == nil {
		c.e.log.Debug("msrp: response to unknown transaction", "tid", m.TransactionID, "code", m.StatusCode)
		return
	}
	c.e.log.Debug("msrp: request failed", "session", s.id, "code", m.StatusCode, "comment", strings.Clone(m.Comment))
	if m.StatusCode == StatusNoSuchSession {
		s.closeWith(PeerNoSuchSession, false)
	}
}

// handleReport takes an incoming REPORT (§7.1.2, §7.3.2). It is never answered. The session must be bound to
// this connection; a failure status is acted on like the response it stands for.
func (c *conn) handleReport(m *Message) {
	to := m.ToPath[len(m.ToPath)-1]
	s := c.e.Session(to.SessionID)
	if s == nil || s.boundConn() != c {
		c.e.log.Debug("msrp: REPORT for no session on this connection dropped", "message_id", m.MessageID)
		return
	}
	if rh, ok := s.handler.(ReportHandler); ok {
		rh.HandleReport(s, m.Clone())
	}
	if m.Status == nil || m.Status.Code/100 == 2 || m.MessageID == "" {
		return
	}
	if m.Status.Code == StatusTooLarge {
		c.stopMessage(s, m.MessageID)
	}
	s.deliveryFailed(m.MessageID, m.Status.Code, m.Status.Comment)
}

// stopMessage stops sending a large message of s by Message-ID (§7.3.2: 413 in a REPORT).
func (c *conn) stopMessage(s *Session, mid string) {
	c.mu.Lock()
	found := false
	for _, lm := range c.large {
		if lm.s == s && lm.m.MessageID == mid {
			lm.stop, found = true, true
		}
	}
	c.mu.Unlock()
	if found {
		c.cond.Signal()
	}
}
