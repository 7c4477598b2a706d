package msrp

import (
	"errors"
	"fmt"
	"strconv"
)

// Errors callers map to wire codes through CodeOf (status.go).
var (
	// ErrSlowConsumer: the session's connection exceeded MaxPendingBytes or WriteDeadline and was closed.
	ErrSlowConsumer = errors.New("msrp: slow consumer")
	// ErrSessionClosed: the session has ended; nothing more can be sent on it.
	ErrSessionClosed = errors.New("msrp: session closed")
	// ErrTooLarge: a message or chunk exceeds MaxMessageSize (413, RFC 4975 §10.5).
	ErrTooLarge = errors.New("msrp: message too large")
	// ErrUnknownSession: the To-Path names no session of ours (481, RFC 4975 §7.3).
	ErrUnknownSession = errors.New("msrp: no such session")
	// ErrSessionBoundElsewhere: the session is bound to another connection (506, RFC 4975 §5.4).
	ErrSessionBoundElsewhere = errors.New("msrp: session bound to another connection")
	// ErrNoRemotePath: Connect or Send needs the peer's a=path first.
	ErrNoRemotePath = errors.New("msrp: remote path not set")
	// ErrEndpointClosed: the Endpoint has been closed.
	ErrEndpointClosed = errors.New("msrp: endpoint closed")
	// ErrNotBound: the session has no connection yet (SendReport needs one).
	ErrNotBound = errors.New("msrp: session not bound")
	// ErrTransactionTimeout: no response arrived within TransactionTimeout (RFC 4975 §7.1.1, 30 s).
	ErrTransactionTimeout = errors.New("msrp: transaction timed out")
)

// ProtocolError is a framing fault after which the byte stream cannot be resynchronised (unparseable start line,
// header block over MaxHeaderBytes, malformed end-line). The connection must be closed: nothing after the fault can be framed (RFC 4975 §7.1).
type ProtocolError struct {
	State   string // parser state at the fault
	Offset  int64  // stream offset of the fault
	Snippet string // a few bytes of header text (never body text)
	Reason  string
}

func (e *ProtocolError) Error() string {
	return "msrp: parse error in " + e.State + " at byte " + strconv.FormatInt(e.Offset, 10) + ": " +
		e.Reason + ": " + strconv.Quote(e.Snippet)
}

// FrameError is a fault inside a correctly delimited frame (bad header, missing mandatory header, chunk over the
// size limit). The stream stays in sync: the receiver answers Code (400 or 413) and carries on (RFC 4975 §7.3).
type FrameError struct {
	Code   int
	Header string // offending header name, if any
	Reason string
}

func (e *FrameError) Error() string {
	if e.Header != "" {
		return fmt.Sprintf("msrp: %d: %s: %s", e.Code, e.Header, e.Reason)
	}
	return fmt.Sprintf("msrp: %d: %s", e.Code, e.Reason)
}

// Is lets errors.Is(err, ErrTooLarge) hold for a 413 frame error.
func (e *FrameError) Is(target error) bool { return target == ErrTooLarge && e.Code == 413 }

type errString string

func (e errString) Error() string { return string(e) }

// URIError reports an unparseable MSRP URI.
type URIError struct {
	URI    string
	Reason string
}

func (e *URIError) Error() string { return "msrp: bad URI " + strconv.Quote(e.URI) + ": " + e.Reason }

func uriError(s, reason string) error { return &URIError{URI: s, Reason: reason} }
