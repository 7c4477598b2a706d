// Package randomid draws identifiers from crypto/rand without modulo bias: room names, labels
// and XCON-USERIDs the server allocates, SIP tags and nonces.
package randomid

import "crypto/rand"

// String returns n characters drawn uniformly from alphabet (2 to 256 distinct bytes). A random
// byte at or above the largest multiple of len(alphabet) is drawn again: taken modulo the
// length, it would favour the alphabet's first characters.
func String(alphabet string, n int) string {
	size := len(alphabet)
	if size < 2 || size > 256 {
		panic("randomid: the alphabet needs 2 to 256 characters")
	}
	limit := 256 - 256%size
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:]) // never fails (crypto/rand, Go ≥ 1.24)
		for _, c := range buf {
			if int(c) >= limit {
				continue
			}
			out = append(out, alphabet[int(c)%size])
			if len(out) == n {
				break
			}
		}
	}
	return string(out)
}
