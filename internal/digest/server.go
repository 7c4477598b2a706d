package digest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credentials are the Digest parameters of an Authorization value (RFC 7616 §3.4).
type Credentials struct {
	Username, Realm, Nonce, URI, Response, Algorithm, Cnonce, QOP, Opaque string
	NC                                                                    string // the nonce-count as sent, 8 hex digits
}

// ParseCredentials reads an Authorization value; false when it is not Digest.
func ParseCredentials(header string) (Credentials, bool) {
	scheme, p := Split(header)
	if !strings.EqualFold(scheme, "Digest") {
		return Credentials{}, false
	}
	return Credentials{Username: p["username"], Realm: p["realm"], Nonce: p["nonce"], URI: p["uri"], Response: p["response"],
		Algorithm: p["algorithm"], Cnonce: p["cnonce"], QOP: p["qop"], Opaque: p["opaque"], NC: p["nc"]}, true
}

var (
	// ErrStale: the credentials are right but their nonce expired or was used already; the
	// answer is a new challenge with stale=true (RFC 7616 §3.3), which an honest client answers
	// without asking its user again.
	ErrStale = errors.New("digest: stale nonce")
	// ErrRejected: the credentials do not prove the user.
	ErrRejected = errors.New("digest: credentials rejected")
)

// clockSkew is how far in the future a nonce's time may lie: a clock stepped back a little
// does not turn every nonce stale.
const clockSkew = time.Minute

// Server issues stateless nonces (a timestamp, random bytes and their HMAC under a key of the
// server's) and verifies credentials against them, accepting each (nonce, nonce-count) once.
type Server struct {
	realm    string
	key      []byte
	lifetime time.Duration
	// Now is the clock; tests set it.
	Now func() time.Time

	// Replay guard (RFC 7616 §3.4.5): the highest nonce-count accepted per nonce within its
	// lifetime. Only nonces that authenticated someone are kept, so the map is bounded by
	// genuine use.
	mu        sync.Mutex
	used      map[string]nonceUse
	lastSweep time.Time
}

type nonceUse struct {
	issued time.Time
	count  uint64 // highest nonce-count accepted; 0 for credentials without qop
}

// NewServer returns the nonce issuer and verifier of realm. key is the HMAC key of its nonces
// (nil: random, so that nonces die with the process); lifetime is how long a nonce is good.
func NewServer(realm string, key []byte, lifetime time.Duration) *Server {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	return &Server{realm: realm, key: key, lifetime: lifetime, Now: time.Now, used: map[string]nonceUse{}}
}

// Realm is the protection space the server's challenges name.
func (s *Server) Realm() string { return s.realm }

// Nonce returns a fresh nonce: base64url(8-byte Unix nanoseconds ‖ 8 random bytes ‖ first 16
// bytes of their HMAC-SHA256 with the realm). It is unique per challenge, since replays are
// told by nonce.
func (s *Server) Nonce() string {
	var b [32]byte
	binary.BigEndian.PutUint64(b[:8], uint64(s.Now().UnixNano()))
	_, _ = rand.Read(b[8:16])
	copy(b[16:], s.mac(b[:16]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) mac(b []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	m.Write([]byte(s.realm))
	return m.Sum(nil)[:16]
}

// checkNonce tells whether n is one of ours (ok), whether it is still fresh, and when it was
// issued.
func (s *Server) checkNonce(n string) (issued time.Time, ok, fresh bool) {
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(b) != 32 || !hmac.Equal(s.mac(b[:16]), b[16:]) {
		return time.Time{}, false, false
	}
	issued = time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	age := s.Now().Sub(issued)
	return issued, true, age <= s.lifetime && age >= -clockSkew
}

// firstUse records an accepted (nonce, nonce-count) and reports whether it is new: with qop the
// count must grow, without qop a nonce serves once.
func (s *Server) firstUse(nonce string, issued time.Time, qop bool, nc uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	if now.Sub(s.lastSweep) > s.lifetime {
		for n, u := range s.used {
			if now.Sub(u.issued) > s.lifetime {
				delete(s.used, n)
			}
		}
		s.lastSweep = now
	}
	if u, seen := s.used[nonce]; seen && (!qop || nc <= u.count) {
		return false
	}
	s.used[nonce] = nonceUse{issued: issued, count: nc}
	return true
}

// Rules are what a verifier accepts beyond the hashes.
type Rules struct {
	// RequireQOP refuses the RFC 2069 form without qop (RFC 7616 has no such form).
	RequireQOP bool
	// RealmFold compares the realm without case.
	RealmFold bool
}

// Verify checks credentials for a request of method: ha1 gives the account's HA1 (hex) for an
// algorithm, "" when the account has none for it (unknown user, unsupported algorithm). The
// order follows RFC 7616 §3.3: a nonce's staleness is told (ErrStale) only to credentials whose
// response is right, every other failure is ErrRejected with the reason.
func (s *Server) Verify(c Credentials, method string, rules Rules, ha1 func(alg string) string) error {
	realmOK := c.Realm == s.realm || rules.RealmFold && strings.EqualFold(c.Realm, s.realm)
	switch {
	case !realmOK:
		return fmt.Errorf("%w: realm %q", ErrRejected, c.Realm)
	case c.QOP == "" && rules.RequireQOP, c.QOP != "" && c.QOP != "auth":
		return fmt.Errorf("%w: qop %q not offered", ErrRejected, c.QOP)
	case !Supported(c.Algorithm):
		return fmt.Errorf("%w: algorithm %q not offered", ErrRejected, c.Algorithm)
	}
	var nc uint64
	if c.QOP != "" {
		n, err := strconv.ParseUint(c.NC, 16, 64)
		if err != nil || n == 0 || c.Cnonce == "" {
			return fmt.Errorf("%w: qop %q without a nonce-count and cnonce", ErrRejected, c.QOP)
		}
		nc = n
	}
	issued, ours, fresh := s.checkNonce(c.Nonce)
	if !ours {
		return fmt.Errorf("%w: nonce not issued here", ErrRejected)
	}
	h1 := ha1(c.Algorithm)
	if h1 == "" {
		return fmt.Errorf("%w: no account %q for algorithm %q", ErrRejected, c.Username, c.Algorithm)
	}
	want := Response(c.Algorithm, h1, c.Nonce, c.NC, c.Cnonce, c.QOP, method, c.URI)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(c.Response))) != 1 {
		return fmt.Errorf("%w: wrong response for user %q", ErrRejected, c.Username)
	}
	if !fresh {
		return fmt.Errorf("%w: nonce of user %q expired", ErrStale, c.Username)
	}
	if !s.firstUse(c.Nonce, issued, c.QOP != "", nc) {
		return fmt.Errorf("%w: credentials of user %q replayed (nonce-count %s)", ErrStale, c.Username, c.NC)
	}
	return nil
}

// AccountHA1 is the HA1 of an account for alg: computed from its password when it has one,
// else its stored HA1 (hex) when that is of alg's length; "" otherwise.
func AccountHA1(alg, username, realm, password, storedHA1 string) string {
	if password != "" {
		return HA1(alg, username, realm, password)
	}
	if n := HA1Len(alg); n > 0 && len(storedHA1) == n {
		return strings.ToLower(storedHA1)
	}
	return ""
}
