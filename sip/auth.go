package sip

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// AuthConfig turns on SIP Digest authentication (RFC 3261 §22, MD5 with qop=auth) of INVITEs.
type AuthConfig struct {
	Realm    string
	Users    []AuthUser
	Rooms    []string      // rooms that require it; empty means every room
	NonceTTL time.Duration // how long a nonce is accepted; an older one gets stale=true
}

// AuthUser is one account: a plaintext password or the hex HA1 = MD5(name:realm:password).
type AuthUser struct {
	Name     string
	Password string
	HA1      string
}

// authenticator issues stateless nonces (a timestamp, random bytes and their HMAC under a
// per-process key), remembers the nonce-counts used (replay guard) and
// checks Authorization headers against the configured accounts.
type authenticator struct {
	realm string
	ttl   time.Duration
	rooms map[string]bool // nil: every room
	users map[string]AuthUser
	key   [32]byte
	now   func() time.Time

	// Replay guard (RFC 2617 §3.2.2, RFC 7616 §3.4): the highest nonce-count accepted per nonce
	// within its lifetime. Only nonces that authenticated someone are kept.
	mu        sync.Mutex
	used      map[string]nonceUse
	lastSweep time.Time
}

type nonceUse struct {
	issued time.Time
	count  int // highest nc accepted; 0 for credentials without qop
}

func newAuthenticator(cfg *AuthConfig) (*authenticator, error) {
	if cfg == nil || len(cfg.Users) == 0 {
		return nil, nil
	}
	if cfg.Realm == "" || strings.ContainsAny(cfg.Realm, "\"\\\r\n") {
		return nil, fmt.Errorf("sip: auth realm %q must be set and contain no quotes", cfg.Realm)
	}
	a := &authenticator{realm: cfg.Realm, ttl: cfg.NonceTTL, users: map[string]AuthUser{}, now: time.Now,
		used: map[string]nonceUse{}}
	if a.ttl <= 0 {
		a.ttl = 5 * time.Minute
	}
	for _, u := range cfg.Users {
		if u.Name == "" || (u.Password == "") == (u.HA1 == "") {
			return nil, fmt.Errorf("sip: auth user %q needs a name and exactly one of password and ha1", u.Name)
		}
		a.users[u.Name] = u
	}
	if len(cfg.Rooms) > 0 {
		a.rooms = map[string]bool{}
		for _, r := range cfg.Rooms {
			a.rooms[r] = true
		}
	}
	if _, err := rand.Read(a.key[:]); err != nil {
		return nil, err
	}
	return a, nil
}

// applies reports whether joining room needs authentication.
func (a *authenticator) applies(room string) bool {
	return a != nil && (a.rooms == nil || a.rooms[room])
}

// nonce is base64url(8-byte Unix nanoseconds || 8 random bytes || first 16 bytes of
// HMAC-SHA256(key, time||random||realm)): unique per challenge, since replays are told by nonce.
func (a *authenticator) nonce(t time.Time) string {
	var b [32]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixNano()))
	_, _ = rand.Read(b[8:16])
	copy(b[16:], a.mac(b[:16]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (a *authenticator) mac(b []byte) []byte {
	m := hmac.New(sha256.New, a.key[:])
	m.Write(b)
	m.Write([]byte(a.realm))
	return m.Sum(nil)[:16]
}

var (
	errNoCredentials = errors.New("no credentials")
	errStaleNonce    = errors.New("stale nonce")
)

// checkNonce returns when a nonce of ours within its lifetime was issued; errStaleNonce for an
// expired one.
func (a *authenticator) checkNonce(n string) (time.Time, error) {
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(b) != 32 || !hmac.Equal(b[16:], a.mac(b[:16])) {
		return time.Time{}, errors.New("nonce not issued here")
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	if age := a.now().Sub(issued); age < 0 || age > a.ttl {
		return time.Time{}, errStaleNonce
	}
	return issued, nil
}

// firstUse records an accepted (nonce, nc) and reports whether it is new: with qop the count
// must grow, without qop a nonce serves once. A replayed request gets stale=true, on which an
// honest client simply answers the new challenge.
func (a *authenticator) firstUse(nonce string, issued time.Time, qop bool, nc int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if now.Sub(a.lastSweep) > a.ttl {
		for n, u := range a.used {
			if now.Sub(u.issued) > a.ttl {
				delete(a.used, n)
			}
		}
		a.lastSweep = now
	}
	u, seen := a.used[nonce]
	if seen && (!qop || nc <= u.count) {
		return false
	}
	a.used[nonce] = nonceUse{issued: issued, count: nc}
	return true
}

// challenge is the WWW-Authenticate value of a 401.
func (a *authenticator) challenge(stale bool) string {
	c := digest.Challenge{Realm: a.realm, Nonce: a.nonce(a.now()), Algorithm: "MD5", QOP: []string{"auth"}, Stale: stale}
	return c.String()
}

// verify returns the authenticated user name of req, or why there is none.
func (a *authenticator) verify(req *sip.Request) (string, error) {
	var cred *digest.Credentials
	for _, h := range req.GetHeaders("Authorization") {
		c, err := digest.ParseCredentials(h.Value())
		if err == nil && c.Realm == a.realm {
			cred = c
			break
		}
	}
	if cred == nil {
		return "", errNoCredentials
	}
	u, ok := a.users[cred.Username]
	if !ok {
		return "", fmt.Errorf("unknown user %q", cred.Username)
	}
	if alg := strings.ToUpper(cred.Algorithm); alg != "" && alg != "MD5" {
		return "", fmt.Errorf("algorithm %q not offered", cred.Algorithm)
	}
	if cred.QOP != "" && cred.QOP != "auth" {
		return "", fmt.Errorf("qop %q not offered", cred.QOP)
	}
	issued, err := a.checkNonce(cred.Nonce)
	if err != nil {
		return "", err
	}
	if cred.QOP != "" && cred.Nc <= 0 {
		return "", fmt.Errorf("qop %q without a nonce-count", cred.QOP)
	}
	chal := digest.Challenge{Realm: a.realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm}
	if cred.QOP != "" {
		chal.QOP = []string{cred.QOP}
	}
	want, err := digest.Digest(&chal, digest.Options{Method: string(req.Method), URI: cred.URI, Username: u.Name,
		Password: u.Password, A1: strings.ToLower(u.HA1), Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(want.Response), []byte(strings.ToLower(cred.Response))) != 1 {
		return "", fmt.Errorf("wrong response for user %q", cred.Username)
	}
	if !a.firstUse(cred.Nonce, issued, cred.QOP != "", cred.Nc) {
		return "", fmt.Errorf("%w: credentials of user %q replayed (nonce-count %d)", errStaleNonce, cred.Username, cred.Nc)
	}
	return u.Name, nil
}

// authenticate answers 401 (and returns false) unless req carries valid credentials; on
// success it returns the user name.
func (s *Server) authenticate(req *sip.Request, tx sip.ServerTransaction, room string) (string, bool) {
	if !s.auth.applies(room) {
		return "", true
	}
	user, err := s.auth.verify(req)
	if err == nil {
		return user, true
	}
	if !errors.Is(err, errNoCredentials) {
		s.log.Info("authentication failed", "room", room, "source", req.Source(), "err", err)
	}
	stale := errors.Is(err, errStaleNonce)
	s.respond(req, tx, 401, "Unauthorized", sip.NewHeader("WWW-Authenticate", s.auth.challenge(stale)))
	return "", false
}
