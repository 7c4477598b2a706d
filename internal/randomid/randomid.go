// Package randomid draws identifiers from crypto/rand without modulo bias: MSRP session-ids,
// transaction-ids and Message-IDs, room names, labels and XCON-USERIDs the server allocates,
// user names a client makes up.
package randomid

import (
	"crypto/rand"
	"sync"
)

// pool amortises crypto/rand reads: MSRP mints ids per message per recipient on the fan-out
// path.
var pool struct {
	sync.Mutex
	buf [1024]byte
	off int
}

func init() { pool.off = len(pool.buf) }

// Append appends n characters drawn uniformly from alphabet (2 to 256 distinct bytes) to b. A
// random byte at or above the largest multiple of len(alphabet) is drawn again: taken modulo
// the length, it would favour the alphabet's first characters.
func Append(b []byte, alphabet string, n int) []byte {
	size := len(alphabet)
	if size < 2 || size > 256 {
		panic("randomid: the alphabet needs 2 to 256 characters")
	}
	limit := 256 - 256%size
	pool.Lock()
	for n > 0 {
		if pool.off == len(pool.buf) {
			_, _ = rand.Read(pool.buf[:]) // never fails (crypto/rand, Go ≥ 1.24)
			pool.off = 0
		}
		c := pool.buf[pool.off]
		pool.off++
		if int(c) >= limit {
			continue
		}
		b = append(b, alphabet[int(c)%size])
		n--
	}
	pool.Unlock()
	return b
}

// String returns n characters drawn uniformly from alphabet, as Append.
func String(alphabet string, n int) string {
	var a [32]byte
	return string(Append(a[:0], alphabet, n))
}
