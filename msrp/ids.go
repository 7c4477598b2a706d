package msrp

import "github.com/parleychat/parley/internal/randomid"

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Identifier lengths in base62 characters (≈5.95 bits each).
const (
	sessionIDLen     = 16 // ≈95 bits; RFC 4975 §14.1 asks for ≥ 80
	transactionIDLen = 12 // ≈71 bits; RFC 4975 §7.1 asks for ≥ 64
	messageIDLen     = 12 // ≈71 bits
)

// appendRandomID appends n base62 characters, unbiased (internal/randomid).
func appendRandomID(b []byte, n int) []byte { return randomid.Append(b, base62, n) }

func randomID(n int) string { return randomid.String(base62, n) }

// NewSessionID returns a random base62 session-id of 16 characters (≥ 80 bits, RFC 4975 §14.1).
func NewSessionID() string { return randomID(sessionIDLen) }

// NewTransactionID returns a random base62 transaction-id (≥ 64 bits, RFC 4975 §7.1).
func NewTransactionID() string { return randomID(transactionIDLen) }

// NewMessageID returns a random base62 Message-ID (RFC 4975 §7.1.1: unique across time and endpoints).
func NewMessageID() string { return randomID(messageIDLen) }
