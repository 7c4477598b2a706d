package ccmp

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/digest"
)

// TestPasswordOfAnHA1Account: a user configured by HA1 alone is proven by the password the
// HA1 was made of, over Basic or the CCMP subject, and by no other, the empty one included.
func TestPasswordOfAnHA1Account(t *testing.T) {
	for _, alg := range []string{digest.MD5, digest.SHA256} {
		a := newAuth(&Credentials{Realm: "parley", Users: []Credential{{Name: "alice", HA1: digest.HA1(alg, "alice", "parley", "pw")}}}, "example.net")
		for pass, want := range map[string]bool{"pw": true, "": false, "PW": false} {
			if got := a.password("alice", pass); got != want {
				t.Errorf("%s HA1, password %q: %v, want %v", alg, pass, got, want)
			}
		}
	}
}

func TestDigestNoncesAndSchemes(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := newAuth(&Credentials{Realm: "parley", Users: []Credential{{Name: "alice", Password: "pw"}}, NonceLifetime: time.Minute}, "example.net")
	a.digest.Now = func() time.Time { return now }
	c := &Client{URL: "http://x/ccmp", Username: "alice", Secret: "pw"}
	challenge := func(tlsOn bool) *http.Response {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/ccmp", nil)
		if tlsOn {
			r.TLS = &tls.ConnectionState{}
		}
		a.challenge(w, r, false)
		return w.Result()
	}
	res := challenge(false)
	if res.StatusCode != 401 || len(res.Header.Values("WWW-Authenticate")) != 2 {
		t.Fatalf("challenge over http: %d %v", res.StatusCode, res.Header.Values("WWW-Authenticate"))
	}
	authz := c.authorization(res)
	req := httptest.NewRequest("POST", "/ccmp", nil)
	req.Header.Set("Authorization", authz)
	if name, stale := a.fromHeader(req); name != "alice" || stale {
		t.Fatalf("fresh digest: %q %v (%s)", name, stale, authz)
	}
	now = now.Add(2 * time.Minute)
	if name, stale := a.fromHeader(req); name != "" || !stale {
		t.Fatalf("expired nonce: %q %v", name, stale)
	}
	c.Secret = "wrong"
	now = now.Add(-2 * time.Minute)
	req.Header.Set("Authorization", c.authorization(res))
	if name, stale := a.fromHeader(req); name != "" || stale {
		t.Fatalf("wrong password: %q %v", name, stale)
	}
	// Basic: offered and taken over TLS only.
	if n := len(challenge(true).Header.Values("WWW-Authenticate")); n != 3 {
		t.Fatalf("challenges over TLS: %d", n)
	}
	req = httptest.NewRequest("POST", "/ccmp", nil)
	req.SetBasicAuth("alice", "pw")
	if name, _ := a.fromHeader(req); name != "" {
		t.Fatal("Basic accepted over plain HTTP")
	}
	req.TLS = &tls.ConnectionState{}
	if name, _ := a.fromHeader(req); name != "alice" {
		t.Fatal("Basic refused over TLS")
	}
}

// TestDigestReplayRefused: the same Digest response is accepted once; sent again it is
// challenged as stale (RFC 7616 §3.4.5), so a captured request cannot be replayed.
func TestDigestReplayRefused(t *testing.T) {
	a := newAuth(&Credentials{Realm: "parley", Users: []Credential{{Name: "alice", Password: "pw"}}}, "example.net")
	c := &Client{URL: "http://x/ccmp", Username: "alice", Secret: "pw"}
	w := httptest.NewRecorder()
	a.challenge(w, httptest.NewRequest("POST", "/ccmp", nil), false)
	authz := c.authorization(w.Result())
	for i, want := range []string{"alice", ""} {
		req := httptest.NewRequest("POST", "/ccmp", nil)
		req.Header.Set("Authorization", authz)
		name, stale := a.fromHeader(req)
		if name != want || stale != (want == "") {
			t.Fatalf("use %d: %q stale=%v, want %q", i+1, name, stale, want)
		}
	}
}
