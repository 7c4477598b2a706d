package digest

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256, from the password and
// from the HA1 alone.
func TestResponseRFC7616(t *testing.T) {
	const (
		realm  = "http-auth@example.org"
		nonce  = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
		cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
	)
	for alg, want := range map[string]string{MD5: "8ca523f5e9506fed4657c9700eebdbec",
		SHA256: "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"} {
		h1 := HA1(alg, "Mufasa", realm, "Circle of Life")
		if got := Response(alg, h1, nonce, "00000001", cnonce, "auth", "GET", "/dir/index.html"); got != want {
			t.Errorf("%s: %s, want %s", alg, got, want)
		}
		if got := AccountHA1(alg, "Mufasa", realm, "", strings.ToUpper(h1)); got != h1 {
			t.Errorf("%s: the stored HA1 gives %s, want %s", alg, got, h1)
		}
	}
	if AccountHA1(SHA256, "Mufasa", realm, "", HA1(MD5, "Mufasa", realm, "x")) != "" {
		t.Error("an MD5 HA1 used for SHA-256")
	}
}

// TestAuthorizeRFC2617: RFC 2617 §3.5's example, with qop auth and in the RFC 2069 form.
func TestAuthorizeRFC2617(t *testing.T) {
	ch, ok := ParseChallenge(`Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`)
	if !ok || ch.Realm != "testrealm@host.com" || ch.Nonce != "dcd98b7102dd2f0e8b11d0f600bfb0c093" || !ch.OffersAuth() || ch.Opaque != "5ccc069c403ebaf9f0171e9517f40e41" {
		t.Fatalf("parsed %+v, %v", ch, ok)
	}
	v := ch.Authorize("Mufasa", "Circle Of Life", "GET", "/dir/index.html", "0a4f113b")
	for _, want := range []string{`username="Mufasa"`, `realm="testrealm@host.com"`, `uri="/dir/index.html"`, `qop=auth`, `nc=00000001`,
		`cnonce="0a4f113b"`, `response="6629fae49393a05397450978507c4ef1"`, `opaque="5ccc069c403ebaf9f0171e9517f40e41"`} {
		if !strings.Contains(v, want) {
			t.Errorf("Authorization %q lacks %s", v, want)
		}
	}
	ch = Challenge{Realm: "testrealm@host.com", Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093"}
	if v := ch.Authorize("Mufasa", "Circle Of Life", "GET", "/dir/index.html", "x"); !strings.Contains(v, `response="670fd8c2df070c60b045671b8b24ff02"`) || strings.Contains(v, "qop") {
		t.Errorf("RFC 2069 response: %s", v)
	}
	for _, bad := range []string{`Basic realm="x"`, `Digest realm="x"`} {
		if _, ok := ParseChallenge(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
	for _, unanswerable := range []string{`Digest nonce="n", algorithm=SHA-512-256`, `Digest nonce="n", qop="auth-int"`} {
		ch, _ := ParseChallenge(unanswerable)
		if v := ch.Authorize("a", "b", "GET", "/", "c"); v != "" {
			t.Errorf("answered %q with %q", unanswerable, v)
		}
	}
}

// TestServerVerify: a server's own challenge answered by Authorize verifies once; a replay, an
// expired nonce and a forged one are told apart, and the staleness of a nonce is told only to
// credentials whose response is right (RFC 7616 §3.3).
func TestServerVerify(t *testing.T) {
	s := NewServer("parley", nil, time.Minute)
	now := time.Unix(1_800_000_000, 0)
	s.Now = func() time.Time { return now }
	account := func(alg string) string { return AccountHA1(alg, "alice", "parley", "pw", "") }
	answer := func(ch Challenge, password, cnonce string) Credentials {
		c, ok := ParseCredentials(ch.Authorize("alice", password, "INVITE", "sip:lobby@example.net", cnonce))
		if !ok {
			t.Fatal("Authorize gave no Digest credentials")
		}
		return c
	}
	for _, alg := range []string{MD5, SHA256} {
		ch := Challenge{Realm: "parley", Nonce: s.Nonce(), Algorithm: alg, QOP: []string{"auth"}}
		good := answer(ch, "pw", "c1")
		if err := s.Verify(good, "INVITE", Rules{RequireQOP: true}, account); err != nil {
			t.Fatalf("%s: fresh credentials: %v", alg, err)
		}
		if err := s.Verify(good, "INVITE", Rules{}, account); !errors.Is(err, ErrStale) {
			t.Fatalf("%s: replayed: %v, want stale", alg, err)
		}
		if err := s.Verify(good, "BYE", Rules{}, account); !errors.Is(err, ErrRejected) {
			t.Fatalf("%s: another method: %v, want rejected", alg, err)
		}
		if err := s.Verify(answer(ch, "wrong", "c2"), "INVITE", Rules{}, account); !errors.Is(err, ErrRejected) {
			t.Fatalf("%s: wrong password: %v", alg, err)
		}
	}
	ch := Challenge{Realm: "parley", Nonce: s.Nonce(), QOP: []string{"auth"}}
	forged := answer(Challenge{Realm: "parley", Nonce: ch.Nonce[:len(ch.Nonce)-2] + "AA", QOP: []string{"auth"}}, "pw", "c")
	if err := s.Verify(forged, "INVITE", Rules{}, account); !errors.Is(err, ErrRejected) {
		t.Fatalf("forged nonce: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if err := s.Verify(answer(ch, "pw", "c3"), "INVITE", Rules{}, account); !errors.Is(err, ErrStale) {
		t.Fatalf("expired nonce: %v, want stale", err)
	}
	if err := s.Verify(answer(ch, "wrong", "c4"), "INVITE", Rules{}, account); !errors.Is(err, ErrRejected) {
		t.Fatalf("expired nonce, wrong password: %v, want rejected, not stale", err)
	}
	once := answer(Challenge{Realm: "parley", Nonce: s.Nonce()}, "pw", "")
	if err := s.Verify(once, "INVITE", Rules{RequireQOP: true}, account); !errors.Is(err, ErrRejected) {
		t.Fatalf("without qop where it is required: %v", err)
	}
	if err := s.Verify(once, "INVITE", Rules{}, account); err != nil {
		t.Fatalf("without qop: %v", err)
	}
	if err := s.Verify(once, "INVITE", Rules{}, account); !errors.Is(err, ErrStale) {
		t.Fatalf("without qop, replayed: %v, want stale", err)
	}
	upper := answer(Challenge{Realm: "PARLEY", Nonce: s.Nonce(), QOP: []string{"auth"}}, "pw", "c")
	upper.Realm = "PARLEY"
	if err := s.Verify(upper, "INVITE", Rules{}, account); !errors.Is(err, ErrRejected) {
		t.Fatalf("another realm: %v", err)
	}
}
