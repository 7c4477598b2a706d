package sip

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzDigestCredentials: whatever Authorization headers a caller sends, the Digest check never
// panics and never authenticates without the password (the nonce must also be ours).
func FuzzDigestCredentials(f *testing.F) {
	a, err := newAuthenticator(&AuthConfig{Realm: "example.net", Users: []AuthUser{{Name: "alice", Password: "pw"},
		{Name: "bob", HA1: "0123456789abcdef0123456789abcdef"}}})
	if err != nil {
		f.Fatal(err)
	}
	nonce := a.digest.Nonce()
	for _, s := range []string{
		`Digest username="alice", realm="example.net", nonce="` + nonce + `", uri="sip:lobby@example.net", response="00000000000000000000000000000000"`,
		`Digest username="alice", realm="example.net", nonce="` + nonce + `", uri="sip:lobby@example.net", qop=auth, nc=00000001, cnonce="c", response="0"`,
		`Digest username="bob", realm="example.net", nonce="` + nonce + `", uri="x", algorithm=SHA-256, response=""`,
		`Digest username=alice,realm=example.net,nonce=,qop=auth-int,nc=-1`, `Digest ,,,=,=",`, `Basic YWxpY2U6cHc=`, `Digest`,
		`Digest username="a\"b", realm="example.net\\", nonce="` + "\x00" + `"`,
	} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, h1, h2 string) {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "lobby", Host: "example.net"})
		req.AppendHeader(sip.NewHeader("Authorization", h1))
		if h2 != "" {
			req.AppendHeader(sip.NewHeader("Authorization", h2))
		}
		if user, err := a.verify(req); err == nil {
			t.Fatalf("authenticated %q from %q, %q", user, h1, h2)
		}
	})
}
