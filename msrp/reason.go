package msrp

// CloseReason says why a session or connection ended. It is carried to SessionClosed, logs and metrics.
type CloseReason int

const (
	PeerClosed           CloseReason = iota // the peer closed the connection (EOF)
	ReadError                               // reading the connection failed
	WriteError                              // writing the connection failed
	SlowConsumerPending                     // outbound queue over MaxPendingBytes
	SlowConsumerDeadline                    // one flush took longer than WriteDeadline
	ProtocolViolation                       // unparseable framing (RFC 4975 §7.1); the stream cannot resync
	BindTimeout                             // no request bound the session within BindTimeout (RFC 4975 §5.4)
	Kicked                                  // the application removed the participant
	RoomClosed                              // the application closed the room
	Shutdown                                // Endpoint.Close
	Local                                   // any other local decision (e.g. BYE)
	PeerNoSuchSession                       // the peer answered 481 to our request (RFC 4975 §10.6)
	UnboundTimeout                          // an accepted connection bound no session within BindTimeout
	IdleTimeout                             // an accepted connection had no session for IdleTimeout (RFC 4976 §6.5)
	FingerprintMismatch                     // the peer's TLS certificate does not match its a=fingerprint (RFC 4975 §14.4)
	SessionGuessing                         // an accepted connection earned more than MaxUnknownSessions 481s in a minute
	HeaderTimeout                           // a frame's start line and headers took longer than HeaderTimeout
)

var reasonNames = [...]string{
	"peer-closed", "read-error", "write-error", "slow-consumer-pending", "slow-consumer-deadline",
	"protocol-violation", "bind-timeout", "kicked", "room-closed", "shutdown", "local", "peer-no-such-session",
	"unbound-timeout", "idle-timeout", "fingerprint-mismatch", "session-guessing", "header-timeout",
}

func (r CloseReason) String() string {
	if r >= 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// IsSlowConsumer reports whether r is one of the slow-consumer reasons.
func (r CloseReason) IsSlowConsumer() bool {
	return r == SlowConsumerPending || r == SlowConsumerDeadline
}
