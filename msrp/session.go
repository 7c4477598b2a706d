package msrp

import (
	"context"
	"errors"
	"sync"
)

// SessionHandler receives a session's traffic and its end.
type SessionHandler interface {
	// HandleMessage gets every complete incoming SEND (chunks already reassembled, keepalives already answered
	// and dropped) and every NICKNAME. It runs on the connection's read goroutine and must not block for long.
	// The handler owns m (nothing aliases the read buffer). Return nil for 200, or a *StatusError (or an error
	// CodeOf maps) for an error response; Failure-Report decides whether the response is sent.
	HandleMessage(s *Session, m *Message) error
	// SessionClosed is called exactly once when the session ends for any reason. No Endpoint lock is held.
	// It runs on the connection's read goroutine (connection lost), the timer goroutine (bind timeout), the
	// caller of Endpoint.Close, or a new goroutine after Session.Close, so Session.Close may be called while
	// holding locks SessionClosed takes.
	SessionClosed(s *Session, reason CloseReason)
}

// Session is one MSRP session (RFC 4975 §5): our URI, the peer's path and, once bound, the connection.
type Session struct {
	e         *Endpoint
	id        string
	local     URI
	localPath []URI // {local}, shared read-only by every frame we send
	handler   SessionHandler

	mu          sync.Mutex
	remote      []URI
	pathHead    []byte // "To-Path: remote CRLF From-Path: local CRLF", written into every request we send
	conn        *conn
	closed      bool
	preBind     []*Message // Sends before binding, flushed in order on bind (RFC 4975 §5.4)
	preBindSize int
	bindTimer   interface{ Stop() bool }
	userData    any
	maxSize     int64  // a=max-size we advertised (SetMaxSize); 0 = MaxMessageSize
	streamLimit int64  // SetStreamLimit: bound of messages streamed to a ChunkHandler; 0 = sizeLimit
	peerFP      string // a=fingerprint of the peer (SetPeerFingerprint), normalised
}

// ID returns the session-id (the secret part of the URI, RFC 4975 §14.1).
func (s *Session) ID() string { return s.id }

// LocalURI returns our session URI, as written in a=path.
func (s *Session) LocalURI() URI { return s.local }

// SetRemotePath sets the peer's a=path (the To-Path of what we send, RFC 4975 §8.2).
func (s *Session) SetRemotePath(p []URI) {
	cp := append([]URI(nil), p...)
	head := appendPathHead(nil, cp, s.localPath)
	s.mu.Lock()
	s.remote, s.pathHead = cp, head
	s.mu.Unlock()
}

// RemotePath returns the peer's path.
func (s *Session) RemotePath() []URI {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]URI(nil), s.remote...)
}

// Bound reports whether a connection is bound to the session.
func (s *Session) Bound() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// UserData returns the value stored by SetUserData.
func (s *Session) UserData() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userData
}

// SetUserData stores an application value on the session.
func (s *Session) SetUserData(v any) {
	s.mu.Lock()
	s.userData = v
	s.mu.Unlock()
}

// Send queues a new SEND carrying body unchanged: new Message-ID, Byte-Range 1-N/N, Success-Report no (the
// default) and, for a message sent whole, Failure-Report partial: the peer answers only a failure, so a room's
// copies cost their recipients no 200 and the sender no transaction to track (RFC 4975 §7.1.1; RFC 7701 §6.3
// lets the switch choose its report model). A failure still comes back and is acted on (481 ends the session).
// A body over MaxUninterruptible bytes is sent in interruptible chunks (chunk.go), with Failure-Report yes, since
// a chunk's 200 paces the next and its 413 stops the message. It never
// blocks. Before the session is bound the message waits on the session (at most 256 messages and
// MaxPendingBytes); on a bound session it goes to the connection's queue, and if that is over MaxPendingBytes
// the connection is failed as a slow consumer and ErrSlowConsumer returned. body must not be modified
// afterwards: it is shared, not copied (zero copy fan-out). On a bound session Send allocates nothing: the
// identifiers are minted into the pooled frame buffer.
func (s *Session) Send(contentType string, body []byte) error {
	m := Message{Method: "SEND", ContentType: contentType, Body: body, FailureReport: failureReportFor(body)}
	return s.send(&m, true, nil)
}

// failureReportFor is the Failure-Report of a message Send queues: partial when it goes out whole.
func failureReportFor(body []byte) string {
	if len(body) > MaxUninterruptible {
		return ""
	}
	return "partial"
}

// SendFrom is Send for a handler relaying what origin sent: it must be called from origin's
// HandleMessage (on origin's read goroutine). The copy's write is then joined with everything
// else that origin's connection causes while it handles what one read brought in: one
// wake-up and one write per recipient for a burst, instead of one per message.
func (s *Session) SendFrom(origin *Session, contentType string, body []byte) error {
	m := Message{Method: "SEND", ContentType: contentType, Body: body, FailureReport: failureReportFor(body)}
	return s.send(&m, true, origin.boundConn())
}

// SendMessage queues m. An empty MessageID is filled in (on m, so the caller can match reports and
// DeliveryFailed calls); ToPath and FromPath default to the session's; a SEND without Byte-Range gets 1-N/N.
// Transaction-ids are chosen per chunk and are not written back. A SEND with a body over MaxUninterruptible
// bytes is chunked from its Byte-Range start; m.Flag '+' says the caller sends the rest of the message later
// (relaying chunk by chunk). m is not retained; its Body is shared until written.
func (s *Session) SendMessage(m *Message) error {
	if m.Method == "" {
		m.Method = "SEND"
	}
	if m.MessageID == "" && m.Method != "NICKNAME" {
		m.MessageID = NewMessageID()
	}
	return s.send(m, false, nil)
}

// send queues m; wake, when not nil, is the connection whose reader is running the caller and
// wakes our writer when its read is handled (conn.wakeLater).
func (s *Session) send(m *Message, mintMID bool, wake *conn) error {
	if m.Method == "SEND" && m.ByteRange.Start == 0 {
		n := int64(len(m.Body))
		m.ByteRange = ByteRange{Start: 1, End: n, Total: n}
	}
	if m.ContentType != "" && int64(len(m.Body)) > s.e.cfg().MaxMessageSize {
		return ErrTooLarge
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSessionClosed
	}
	if s.conn == nil {
		size := m.Size()
		if len(s.preBind) >= maxPreBindMessages || s.preBindSize+size > s.e.cfg().MaxPendingBytes {
			return ErrSlowConsumer
		}
		cp := *m
		if mintMID {
			cp.MessageID = NewMessageID()
		}
		s.preBind = append(s.preBind, &cp)
		s.preBindSize += size
		return nil
	}
	return s.queueLocked(m, nil, mintMID, wake)
}

// queueLocked fills the paths and queues m on the bound connection: large SENDs to the chunker, the rest as
// frames. s.mu is held, which keeps pre-bind messages ahead of later ones.
func (s *Session) queueLocked(m *Message, waiter chan *Message, mintMID bool, wake *conn) error {
	if len(m.ToPath) == 0 && len(m.FromPath) == 0 && len(s.remote) > 0 {
		m.ToPath, m.FromPath, m.pathHead = s.remote, s.localPath, s.pathHead
	}
	if len(m.ToPath) == 0 {
		if len(s.remote) == 0 {
			return ErrNoRemotePath
		}
		m.ToPath = s.remote
	}
	if len(m.FromPath) == 0 {
		m.FromPath = s.localPath
	}
	if m.Method == "SEND" && m.ContentType != "" &&
		(len(m.Body) > MaxUninterruptible || m.ByteRange.Start > 1 && m.MessageID != "" && s.conn.sending(s, m.MessageID)) {
		// Large, or a later piece of a large message still being sent, which it must not overtake.
		if m.MessageID == "" {
			m.MessageID = NewMessageID()
		}
		return s.conn.queueLarge(newOutMsg(s, m))
	}
	return s.conn.queueFrame(m, s, mintMID && m.MessageID == "", waiter, wake)
}

// bind attaches the session to c on its first request (RFC 4975 §5.4) and flushes queued messages in order.
func (s *Session) bind(c *conn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrSessionClosed
	}
	if s.conn == c {
		return nil
	}
	if s.conn != nil {
		return ErrSessionBoundElsewhere
	}
	if !c.addSession(s) {
		return ErrSessionClosed
	}
	s.conn = c
	if s.bindTimer != nil {
		s.bindTimer.Stop()
	}
	pending := s.preBind
	s.preBind, s.preBindSize = nil, 0
	// The writer sees the whole backlog at once, so short messages interleave with a large one queued
	// before them (RFC 4975 §7.1.1) however the goroutines are scheduled.
	c.cork()
	defer c.uncork()
	for i, m := range pending {
		if err := s.queueLocked(m, nil, false, nil); err != nil {
			if errors.Is(err, ErrNoRemotePath) {
				continue
			}
			clear(pending[i:])
			break
		}
	}
	return nil
}

func (s *Session) bindTimedOut() {
	s.mu.Lock()
	bound := s.conn != nil
	s.mu.Unlock()
	if !bound {
		s.e.stats.bindTO.Add(1)
		s.closeWith(BindTimeout, false)
	}
}

// Connect is for the active side (RFC 4975 §5.4, RFC 6135 §4.2.2): dial the first hop of RemotePath, or
// reuse a connection to the same scheme, host and port, bind, and send a bodiless SEND so the passive side
// binds too. It returns when that SEND is answered: nil for 200, a *StatusError otherwise. For an msrps first
// hop that is the peer itself, the server's certificate is checked against SetPeerFingerprint (RFC 4975
// §14.4) instead of a CA, and Config.Certificate is offered as the client certificate; a relay first hop is
// verified through Config.TLSConfig.
func (s *Session) Connect(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrSessionClosed
	}
	if len(s.remote) == 0 {
		s.mu.Unlock()
		return ErrNoRemotePath
	}
	hop, fp := s.remote[0], s.peerFP
	if len(s.remote) > 1 {
		fp = "" // the first hop is a relay: TLS is hop by hop, verified through Config.TLSConfig (RFC 4976 §5.1)
	}
	s.mu.Unlock()

	var c *conn
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if c, err = s.e.dial(ctx, hop, fp); err != nil {
			return err
		}
		if err = s.bind(c); err != ErrSessionClosed || s.isClosed() {
			break
		}
		// The reused connection closed under us; dial again once.
	}
	if err != nil {
		return err
	}
	waiter := make(chan *Message, 1)
	m := Message{Method: "SEND", MessageID: NewMessageID(), ByteRange: ByteRange{Start: 1, End: 0, Total: 0}}
	s.mu.Lock()
	err = s.queueLocked(&m, waiter, false, nil)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case resp, ok := <-waiter:
		if !ok {
			return ErrTransactionTimeout
		}
		if resp.StatusCode != StatusOK {
			return &StatusError{Code: resp.StatusCode, Comment: resp.Comment}
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Queued returns how many bytes the session has waiting to be written: on its connection's queue (shared
// with the connection's other sessions) once bound, its own pre-bind queue before; -1 once the session is
// closed. A producer relaying a large message piece by piece (SendMessage with Flag '+') paces itself with
// it instead of running into MaxPendingBytes.
func (s *Session) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return -1
	}
	if s.conn == nil {
		return s.preBindSize
	}
	c := s.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return -1
	}
	return c.pending
}

// Sending reports whether part of the large message messageID is still queued on the session's
// connection, not yet handed to its writer. Large messages take turns on the wire, so a producer that
// wants a message to go out whole before its next one waits for this to turn false.
func (s *Session) Sending(messageID string) bool {
	c := s.boundConn()
	return c != nil && c.sending(s, messageID)
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close ends the session. SessionClosed(reason) follows on a new goroutine. The connection stays up for
// other sessions (RFC 4975 §5.4); a connection we dialed is closed when its last session ends.
func (s *Session) Close(reason CloseReason) {
	s.closeWith(reason, true)
}

// closeWith ends the session once. async runs SessionClosed on a new goroutine.
func (s *Session) closeWith(reason CloseReason, async bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	c := s.conn
	s.preBind, s.preBindSize = nil, 0
	if s.bindTimer != nil {
		s.bindTimer.Stop()
	}
	s.mu.Unlock()
	s.e.removeSession(s)
	if c != nil {
		c.removeSession(s)
	}
	s.e.log.Debug("msrp: session closed", "session", s.id, "reason", reason.String())
	if async {
		s.e.wg.Add(1)
		go func() {
			defer s.e.wg.Done()
			s.handler.SessionClosed(s, reason)
		}()
		return
	}
	s.handler.SessionClosed(s, reason)
}
