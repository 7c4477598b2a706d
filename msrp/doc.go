// Package msrp implements the Message Session Relay Protocol as an endpoint (RFC 4975), with the parts of
// RFC 4976 an endpoint needs (multi-hop paths), RFC 6135 connection setup and RFC 7977 keepalives. It knows
// nothing of rooms: the focus programs against Endpoint, Session and SessionHandler.
//
// What it owns:
//   - URIs (RFC 4975 §6, §6.1): ParseURI, ParsePath, URI.Equal, URI.HostPort.
//   - Framing (§7, §9): Message, its AppendTo/Size serializer and the streaming Parser. Header and framing
//     errors are two types: *FrameError (delimited frame, answer 400/413, keep the connection) and
//     *ProtocolError (stream broken, close the connection as ProtocolViolation).
//   - Sessions and binding (§5.4, §7.3): the first request whose last To-Path URI names a session binds it to
//     its connection; unknown sessions get 481, a second connection 506. Matching keys on the session-id and
//     the scheme only, so a focus behind NAT still matches.
//   - Transactions (§7.2): responses go back on the request's connection, honouring Failure-Report (§7.1.4);
//     REPORTs are never answered; our own requests are matched by transaction-id and expire after
//     Config.TransactionTimeout (§7.1.1). A 481 answer fails the session.
//   - Reassembly (§7.3.1, §14.5): chunks are collected per (session, Message-ID), out of order and
//     interleaved, checked against MaxMessageSize before any allocation; '#' aborts.
//   - Connections: one read goroutine and one write goroutine per connection; dialed connections are reused
//     per scheme, host and port (§5.4).
//
// Allocation: parsing a frame that arrives within one read costs one allocation (the header string); the
// Message handed to FrameFunc aliases the read buffer and is reused. Frames given to SessionHandler are owned
// by the handler (one clone per delivered message). Sending builds the frame head into a pooled buffer and
// shares the body: Session.Send never copies the body, so it must not be modified after the call.
//
// Concurrency: Endpoint and Session methods are safe for concurrent use. Each connection has exactly one
// writer goroutine; producers hold the connection lock only to append to its queue, and the writer holds it
// only to swap the queue out (coalesced writev flushes). Send never blocks: a connection whose queue passes
// MaxPendingBytes, or whose flush passes WriteDeadline, is closed as a slow consumer and only its own sessions
// end. SessionHandler.HandleMessage runs on the connection's read goroutine; SessionClosed is called once per
// session, never with an Endpoint lock held. Lock order: Session before connection; the Endpoint lock is
// never held while taking another.
package msrp
