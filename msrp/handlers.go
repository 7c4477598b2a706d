package msrp

// Optional interfaces a SessionHandler may implement.

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
