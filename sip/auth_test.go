package sip

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	pdigest "github.com/parleychat/parley/internal/digest"
)

// TestDigestNonceLifetime: a nonce of ours verifies within its lifetime, gets pdigest.ErrStale
// after it (and the new challenge says stale=true), and a forged nonce is refused.
func TestDigestNonceLifetime(t *testing.T) {
	a, err := newAuthenticator(&AuthConfig{Realm: "r", NonceTTL: time.Minute, Users: []AuthUser{{Name: "alice", Password: "pw"}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	a.digest.Now = func() time.Time { return now }
	chal, err := digest.ParseChallenge(a.challenge(false))
	if err != nil {
		t.Fatal(err)
	}
	signed := func(nonce, password string) *sip.Request {
		c := *chal
		c.Nonce = nonce
		cred, err := digest.Digest(&c, digest.Options{Method: "INVITE", URI: "sip:lobby@example.net", Username: "alice", Password: password})
		if err != nil {
			t.Fatal(err)
		}
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "lobby", Host: "example.net"})
		req.AppendHeader(sip.NewHeader("Authorization", cred.String()))
		return req
	}
	if user, err := a.verify(signed(chal.Nonce, "pw")); err != nil || user != "alice" {
		t.Fatalf("fresh nonce: %q %v", user, err)
	}
	if _, err := a.verify(signed(chal.Nonce, "wrong")); err == nil {
		t.Fatal("wrong password accepted")
	}
	forged := chal.Nonce[:len(chal.Nonce)-2] + "AA"
	if _, err := a.verify(signed(forged, "pw")); err == nil || errors.Is(err, pdigest.ErrStale) {
		t.Fatalf("forged nonce: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := a.verify(signed(chal.Nonce, "pw")); !errors.Is(err, pdigest.ErrStale) {
		t.Fatalf("expired nonce: %v, want stale", err)
	}
	if c := a.challenge(true); !strings.Contains(strings.ToLower(c), "stale=true") {
		t.Fatalf("challenge %q lacks stale=true", c)
	}
}

// TestDigestReplay: the same credentials are accepted once; with qop=auth the next request on
// the nonce needs a higher nonce-count, without qop a nonce serves once. A replay is answered
// as stale, so an honest client just takes the new nonce.
func TestDigestReplay(t *testing.T) {
	a, err := newAuthenticator(&AuthConfig{Realm: "r", Users: []AuthUser{{Name: "alice", Password: "pw"}}})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(chal *digest.Challenge, nc int) *sip.Request {
		cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: "sip:lobby@example.net", Username: "alice",
			Password: "pw", Cnonce: "c0ffee", Count: nc})
		if err != nil {
			t.Fatal(err)
		}
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "lobby", Host: "example.net"})
		req.AppendHeader(sip.NewHeader("Authorization", cred.String()))
		return req
	}
	chal, err := digest.ParseChallenge(a.challenge(false))
	if err != nil {
		t.Fatal(err)
	}
	first := sign(chal, 1)
	for i, tc := range []struct {
		req    *sip.Request
		replay bool
	}{{first, false}, {first, true}, {sign(chal, 1), true}, {sign(chal, 2), false}, {sign(chal, 2), true}, {sign(chal, 5), false}} {
		_, err := a.verify(tc.req)
		if tc.replay != errors.Is(err, pdigest.ErrStale) || (!tc.replay && err != nil) {
			t.Fatalf("request %d: %v (replay %v)", i, err, tc.replay)
		}
	}
	noQOP, err := digest.ParseChallenge(a.challenge(false))
	if err != nil {
		t.Fatal(err)
	}
	noQOP.QOP = nil
	once := sign(noQOP, 0)
	if _, err := a.verify(once); err != nil {
		t.Fatalf("without qop: %v", err)
	}
	if _, err := a.verify(once); !errors.Is(err, pdigest.ErrStale) {
		t.Fatalf("without qop, replayed: %v", err)
	}
}

func TestSplitAddressList(t *testing.T) {
	got := splitAddressList(`"Doe, John" <sip:j@x.example>, <tel:+1555;p=a,b>`)
	if len(got) != 2 || got[0] != `"Doe, John" <sip:j@x.example>` || got[1] != `<tel:+1555;p=a,b>` {
		t.Fatalf("%q", got)
	}
}

func TestTrustList(t *testing.T) {
	l, err := parseTrustList([]string{"10.0.0.0/8", "192.0.2.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]bool{"10.1.2.3:5060": true, "192.0.2.1:1": true, "192.0.2.2:1": false,
		"[::1]:5060": true, "127.0.0.1:5060": false, "garbage": false} {
		if l.contains(src) != want {
			t.Errorf("%s: %v, want %v", src, !want, want)
		}
	}
	if _, err := parseTrustList([]string{"not-an-ip"}); err == nil {
		t.Fatal("bad entry accepted")
	}
}
