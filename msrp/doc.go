// Package msrp implements the Message Session Relay Protocol as an endpoint (RFC 4975), with the parts of
// RFC 4976 an endpoint needs (multi-hop paths), RFC 6135 connection setup, RFC 7977 keepalives and RFC 8122
// certificate fingerprints. It knows nothing of rooms: the focus programs against Endpoint, Session and
// SessionHandler (plus the optional ChunkHandler, DeliveryHandler and ReportHandler).
//
// What it owns:
//   - URIs (RFC 4975 §6, §6.1): ParseURI, ParsePath, URI.Equal, URI.HostPort; IPv6 literals in brackets.
//   - Framing (§7, §9): Message, its AppendTo/Size serializer and the streaming Parser. Header and framing
//     errors are two types: *FrameError (delimited frame, answer 400/413, keep the connection) and
//     *ProtocolError (stream broken, close the connection as ProtocolViolation).
//   - Sessions and binding (§5.4, §7.3): the first request whose last To-Path URI names a session binds it to
//     its connection; unknown sessions get 481, a second connection 506. Matching keys on the session-id and
//     the scheme only, so a focus behind NAT still matches. An msrps session binds only over TLS.
//   - Outgoing chunking (§5.1, §7.1.1, chunk.go): a SEND body over MaxUninterruptible (2048) bytes is cut by
//     the connection's writer into interruptible chunks (range-end '*', a new transaction-id each, resumed at
//     the first unsent byte). The writer sends at most Config.ChunkQuantum bytes of one large message per
//     flush; queued frames (responses, REPORTs, short messages) interrupt the chunk in progress ('+') and go
//     first, and concurrent large messages take turns. A 413 for the message (response or REPORT) ends the
//     chunk in progress with '#' and stops it (§10.5, §7.3.2). No goroutine per message.
//   - Transactions (§7.1.1, §7.2): responses go back on the request's connection, honouring Failure-Report
//     (§7.1.4); REPORTs are never answered. Our requests are tracked per connection (txtable.go) and fail
//     TransactionTimeout after their last byte was written. Failure responses (408 counts as a timeout, §10.4),
//     failure REPORTs and timeouts reach the application through DeliveryHandler; 481 fails the session.
//   - REPORTs (§7.1.2–§7.1.4, report.go): a success REPORT for every SEND that asked (Success-Report yes),
//     covering the bytes received; Session.SendReport for errors found after a 200.
//   - Incoming messages (§7.3.1, §14.5): chunks are reassembled per (session, Message-ID), out of order and
//     interleaved, checked against the session's max-size (Session.SetMaxSize) and MaxMessageSize before any
//     allocation; '#' aborts. A handler implementing ChunkHandler receives large chunked messages (total '*'
//     or above StreamThreshold) chunk by chunk instead, in bounded memory, and may stop a transfer midway;
//     Session.SetStreamLimit lets such a message exceed MaxMessageSize. A handler relaying it sends each
//     piece with SendMessage (same Message-ID, its Byte-Range, '+' until the last); the pieces of one message
//     go out in order (outMsg.then), and Session.Queued and Session.Sending let a producer pace itself.
//   - Connections: one read goroutine and one write goroutine per connection; dialed connections are reused
//     per scheme, host, port and peer fingerprint (§5.4). Limits, each with a Config field, a Stats counter
//     and a log line naming the setting: MaxConnsPerIP (accept), BindTimeout (a session, or an accepted
//     connection, that binds nothing), IdleTimeout (an accepted connection without sessions), MaxPendingBytes
//     and WriteDeadline (slow consumers). A failed connection fails all its sessions with the reason.
//   - TLS (§14, RFC 8122, tls.go): Endpoint.ServeTLS next to Serve, NewTLSSession for msrps URIs,
//     LoadOrCreateCertificate (self-signed ECDSA P-256, PEM files), Fingerprint; each side checks the peer's
//     certificate against Session.SetPeerFingerprint instead of a CA, and a mismatch closes the connection
//     and the session as FingerprintMismatch without answering the request.
//
// Allocation: parsing a frame that arrives within one read costs one allocation (the header string); the
// Message handed to FrameFunc aliases the read buffer and is reused. Frames given to a handler are owned by
// it (one clone per delivered message or chunk). Session.Send on a bound session allocates nothing: the
// transaction-id and Message-ID are minted straight into a pooled head buffer, the transaction is tracked in
// a recycled slot of the connection's table (its index is part of the transaction-id, so matching a response
// needs no map and no string), and the body is shared, never copied, so it must not be modified after the
// call. SendMessage allocates the Message-ID string it writes back. A large message costs one small object
// plus one pooled head per chunk.
//
// Concurrency: Endpoint and Session methods are safe for concurrent use. Each connection has exactly one
// writer goroutine; producers hold the connection lock only to append to its queue, and the writer holds it
// only to swap the queue out and plan the next piece of a large message (coalesced writev flushes). Send never
// blocks: a connection whose queue passes MaxPendingBytes, or whose flush passes WriteDeadline, is closed as a
// slow consumer and only its own sessions end. HandleMessage, HandleChunk and HandleReport run on the
// connection's read goroutine; DeliveryFailed there or on the Endpoint's timer goroutine; SessionClosed is
// called once per session, never with an Endpoint lock held. Lock order: Session before connection; the
// Endpoint lock is never held while taking another.
package msrp
