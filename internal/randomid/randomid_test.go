package randomid

import (
	"strings"
	"testing"
)

func TestStringUsesOnlyTheAlphabet(t *testing.T) {
	const alphabet = "abc"
	for range 100 {
		s := String(alphabet, 20)
		if len(s) != 20 || strings.Trim(s, alphabet) != "" {
			t.Fatalf("String(%q, 20) = %q", alphabet, s)
		}
	}
}

// TestStringIsUnbiased: with 36 characters, a modulo of raw bytes would give each of the first
// four (256 % 36) one chance in 256 more than the others, about 11% above the rest: here the
// first four and the last four are drawn about as often.
func TestStringIsUnbiased(t *testing.T) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	counts := map[byte]int{}
	s := String(alphabet, 360000)
	for i := range len(s) {
		counts[s[i]]++
	}
	first := counts['a'] + counts['b'] + counts['c'] + counts['d']
	last := counts['6'] + counts['7'] + counts['8'] + counts['9']
	// Each group expects 40000 draws (σ ≈ 200); a modulo would give the first ≈ 4400 more.
	if d := first - last; d > 2000 || d < -2000 {
		t.Fatalf("first four drawn %d times, last four %d: biased", first, last)
	}
}
