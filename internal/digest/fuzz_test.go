package digest

import (
	"strings"
	"testing"
	"time"
)

// FuzzChallenge: whatever WWW-Authenticate a peer sends, the parse never panics, and a
// challenge it accepts is answered with credentials that quote its values safely: no CR, LF or
// unescaped quote of the peer's reaches the Authorization header.
func FuzzChallenge(f *testing.F) {
	for _, s := range []string{
		`Digest realm="relay.example.net", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", qop="auth", opaque="5ccc069c403ebaf9f0171e9517f40e41"`,
		`Digest realm=relay, nonce=abc`, `Digest realm="r", nonce="n", algorithm=SHA-256`, `Digest realm="r\"x", nonce="n\\"`,
		`Digest nonce="n", qop="auth-int"`, `Digest nonce="n` + "\r\nInjected: yes" + `"`, `Basic realm="r"`, `Digest`, `Digest ,,,=,=",`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ch, ok := ParseChallenge(v)
		if !ok {
			return
		}
		if ch.Nonce == "" {
			t.Fatalf("accepted a challenge without a nonce: %q", v)
		}
		h := ch.Authorize("alice", "pw", "AUTH", "msrps://relay.example.net:2855/;tcp", "cn")
		if h == "" {
			return // an algorithm or qop not spoken here
		}
		if !strings.HasPrefix(h, "Digest ") {
			t.Fatalf("authorization %q", h)
		}
		if strings.ContainsAny(ch.Realm+ch.Nonce+ch.Opaque, "\r\n") {
			return // cannot come off the wire: header parsers refuse control characters in values
		}
		if strings.ContainsAny(h, "\r\n") {
			t.Fatalf("CR or LF in %q", h)
		}
		back, ok := ParseCredentials(h)
		if !ok || back.Realm != ch.Realm || back.Nonce != ch.Nonce || back.Opaque != ch.Opaque {
			t.Fatalf("credentials %q do not quote the challenge %+v back: %+v", h, ch, back)
		}
	})
}

// FuzzVerify: whatever Authorization value a caller sends, Verify never panics and never
// accepts it without the password (the nonce must also be the server's).
func FuzzVerify(f *testing.F) {
	s := NewServer("example.net", nil, time.Minute)
	nonce := s.Nonce()
	for _, v := range []string{
		`Digest username="alice", realm="example.net", nonce="` + nonce + `", uri="sip:lobby@example.net", response="00000000000000000000000000000000"`,
		`Digest username="alice", realm="example.net", nonce="` + nonce + `", uri="sip:lobby@example.net", qop=auth, nc=00000001, cnonce="c", response="0"`,
		`Digest username="bob", realm="example.net", nonce="` + nonce + `", uri="x", algorithm=SHA-256, response=""`,
		`Digest username=alice,realm=example.net,nonce=,qop=auth-int,nc=-1`, `Digest ,,,=,=",`, `Basic YWxpY2U6cHc=`, `Digest`,
		`Digest username="a\"b", realm="example.net\\", nonce="` + "\x00" + `"`,
	} {
		f.Add(v)
	}
	account := func(alg string) string { return AccountHA1(alg, "alice", "example.net", "pw", "") }
	f.Fuzz(func(t *testing.T, v string) {
		_ = ParseParams(v)
		c, ok := ParseCredentials(v)
		if !ok {
			return
		}
		if err := s.Verify(c, "INVITE", Rules{}, account); err == nil {
			t.Fatalf("verified %q", v)
		}
	})
}
