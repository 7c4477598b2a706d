package msrp

import (
	"strings"
)

// HeartbeatContentType marks a keepalive SEND that is answered and never delivered.
const HeartbeatContentType = "text/x-msrp-heartbeat"

// handleFrame runs on the read goroutine for every parsed frame (RFC 4975 §7.3).
func (c *conn) handleFrame(m *Message, ferr error) error {
	if m.IsResponse() {
		c.handleResponse(m)
		return nil
	}
	c.e.stats.messagesIn.Add(1)
	if m.Method == "REPORT" {
		// REPORTs are never answered (§7.1.2); we ask for none, so one is only logged.
		c.e.log.Debug("msrp: REPORT dropped", "message_id", m.MessageID, "status", m.Status)
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
	if m.Flag == FlagEnd && m.ByteRange.Start <= 1 {
		if len(c.reasm.inProgress) == 0 || c.reasm.inProgress[s.id+"\x00"+m.MessageID] == nil {
			c.deliver(s, m)
			return
		}
	}
	if m.MessageID == "" {
		c.respond(m, s, StatusBadRequest, "chunk without Message-ID")
		return
	}
	whole, err := c.reasm.add(s.id+"\x00"+m.MessageID, m)
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
		code, comment := CodeOf(s.handler.HandleMessage(s, whole))
		c.respond(m, s, code, comment)
	}
}

// deliver hands a complete request to the application. The handler owns what it receives, so the frame,
// which aliases the read buffer, is cloned.
func (c *conn) deliver(s *Session, m *Message) {
	code, comment := CodeOf(s.handler.HandleMessage(s, m.Clone()))
	c.respond(m, s, code, comment)
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
	if req.Method == "REPORT" || req.FailureReport == "no" || req.FailureReport == "partial" && code == StatusOK {
		return
	}
	if len(req.FromPath) == 0 || req.TransactionID == "" {
		return // nowhere to send it
	}
	if comment == "" {
		comment = StatusText(code)
	}
	var from [1]URI
	if s != nil {
		from[0] = s.local
	} else if len(req.ToPath) > 0 {
		from[0] = req.ToPath[len(req.ToPath)-1]
	}
	resp := Message{TransactionID: req.TransactionID, StatusCode: code, Comment: comment, ToPath: req.FromPath, FromPath: from[:]}
	if req.Method == "SEND" {
		resp.ToPath = req.FromPath[:1]
	}
	c.queueMessage(&resp, nil)
}

// handleResponse matches a response to our request by transaction-id (§7.2).
func (c *conn) handleResponse(m *Message) {
	c.mu.Lock()
	tx, ok := c.txs[m.TransactionID]
	if ok {
		delete(c.txs, m.TransactionID)
	}
	c.mu.Unlock()
	if !ok {
		c.e.log.Debug("msrp: response to unknown transaction", "tid", m.TransactionID, "code", m.StatusCode)
		return
	}
	if tx.waiter != nil {
		tx.waiter <- m.Clone() // buffered, one send
		close(tx.waiter)
	}
	if m.StatusCode == StatusOK {
		return
	}
	c.e.log.Debug("msrp: request failed", "session", tx.session.id, "code", m.StatusCode, "comment", m.Comment)
	if m.StatusCode == StatusNoSuchSession {
		// The peer no longer knows the session: it has failed (§10.6).
		tx.session.closeWith(PeerNoSuchSession, false)
	}
}
