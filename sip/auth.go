package sip

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/internal/digest"
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

// authenticator checks Authorization headers against the configured accounts, with the
// stateless nonces and replay guard of internal/digest.
type authenticator struct {
	rooms  map[string]bool // nil: every room
	users  map[string]AuthUser
	digest *digest.Server
}

func newAuthenticator(cfg *AuthConfig) (*authenticator, error) {
	if cfg == nil || len(cfg.Users) == 0 {
		return nil, nil
	}
	if cfg.Realm == "" || strings.ContainsAny(cfg.Realm, "\"\\\r\n") {
		return nil, fmt.Errorf("sip: auth realm %q must be set and contain no quotes", cfg.Realm)
	}
	ttl := cfg.NonceTTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	a := &authenticator{users: map[string]AuthUser{}, digest: digest.NewServer(cfg.Realm, nil, ttl)}
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
	return a, nil
}

// applies reports whether joining room needs authentication.
func (a *authenticator) applies(room string) bool {
	return a != nil && (a.rooms == nil || a.rooms[room])
}

var errNoCredentials = errors.New("no credentials")

// challenge is the WWW-Authenticate value of a 401: MD5 with qop auth (RFC 3261 §22.4).
func (a *authenticator) challenge(stale bool) string {
	return digest.Challenge{Realm: a.digest.Realm(), Nonce: a.digest.Nonce(), Algorithm: digest.MD5, QOP: []string{"auth"}, Stale: stale}.String()
}

// verify returns the authenticated user name of req, or why there is none (digest.ErrStale:
// challenge again with stale=true). User names are compared exactly, as the configured
// accounts name them; the credentials without qop of RFC 2069 are still taken (RFC 3261 §22.4).
func (a *authenticator) verify(req *sip.Request) (string, error) {
	var cred digest.Credentials
	found := false
	for _, h := range req.GetHeaders("Authorization") {
		if c, ok := digest.ParseCredentials(h.Value()); ok && c.Realm == a.digest.Realm() {
			cred, found = c, true
			break
		}
	}
	if !found {
		return "", errNoCredentials
	}
	u, ok := a.users[cred.Username]
	if !ok {
		return "", fmt.Errorf("unknown user %q", cred.Username)
	}
	err := a.digest.Verify(cred, string(req.Method), digest.Rules{}, func(alg string) string {
		if !strings.EqualFold(alg, digest.MD5) && alg != "" {
			return "" // only MD5 is offered
		}
		return digest.AccountHA1(digest.MD5, u.Name, a.digest.Realm(), u.Password, u.HA1)
	})
	if err != nil {
		return "", err
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
	stale := errors.Is(err, digest.ErrStale)
	s.respond(req, tx, 401, sip.NewHeader("WWW-Authenticate", s.auth.challenge(stale)))
	return "", false
}
