package msrp

import (
	"crypto/rand"
	"sync"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Identifier lengths in base62 characters (≈5.95 bits each).
const (
	sessionIDLen     = 16 // ≈95 bits; RFC 4975 §14.1 asks for ≥ 80
	transactionIDLen = 12 // ≈71 bits; RFC 4975 §7.1 asks for ≥ 64
	messageIDLen     = 12 // ≈71 bits
)

// randomPool amortises crypto/rand reads: ids are minted per message per recipient on the fan-out path.
var randomPool struct {
	sync.Mutex
	buf [1024]byte
	off int
}

func init() { randomPool.off = len(randomPool.buf) }

// appendRandomID appends n base62 characters drawn from crypto/rand with rejection sampling (no modulo bias).
func appendRandomID(b []byte, n int) []byte {
	randomPool.Lock()
	for n > 0 {
		if randomPool.off == len(randomPool.buf) {
			rand.Read(randomPool.buf[:]) // never fails (crypto/rand, Go ≥ 1.24)
			randomPool.off = 0
		}
		c := randomPool.buf[randomPool.off]
		randomPool.off++
		if c >= 248 { // 248 = 4*62
			continue
		}
		b = append(b, base62[c%62])
		n--
	}
	randomPool.Unlock()
	return b
}

func randomID(n int) string {
	var a [32]byte
	return string(appendRandomID(a[:0], n))
}

// NewSessionID returns a random base62 session-id of 16 characters (≥ 80 bits, RFC 4975 §14.1).
func NewSessionID() string { return randomID(sessionIDLen) }

// NewTransactionID returns a random base62 transaction-id (≥ 64 bits, RFC 4975 §7.1).
func NewTransactionID() string { return randomID(transactionIDLen) }

// NewMessageID returns a random base62 Message-ID (RFC 4975 §7.1.1: unique across time and endpoints).
func NewMessageID() string { return randomID(messageIDLen) }
