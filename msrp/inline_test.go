package msrp

import (
	"bytes"
	"net"
	"testing"
)

// TestUnwritten: what a partial writev leaves is the rest of the bytes, wherever it stopped.
func TestUnwritten(t *testing.T) {
	vec := net.Buffers{[]byte("head1"), []byte("body"), []byte("end1"), []byte("head2")}
	whole := bytes.Join(vec, nil)
	for n := 0; n < len(whole); n++ {
		rest := unwritten(vec, n)
		if got := bytes.Join(rest, nil); !bytes.Equal(got, whole[n:]) {
			t.Fatalf("after %d bytes: %q, want %q", n, got, whole[n:])
		}
	}
	if got := bytes.Join(vec, nil); !bytes.Equal(got, whole) {
		t.Fatalf("vec itself changed: %q", got)
	}
}
