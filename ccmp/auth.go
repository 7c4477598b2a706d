package ccmp

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/digest"
)

// Credentials turn on authentication (RFC 6503 §10): every request must then come from a
// configured user, proven by HTTP Digest (RFC 7616: SHA-256 or MD5, qop=auth), by HTTP Basic
// over TLS only, or by the CCMP <subject> username and password (RFC 6503 §5.1). A request
// with none of them is answered HTTP 401 with a challenge for each scheme offered; wrong
// <subject> credentials are CCMP 424.
//
// Nonces are stateless: a timestamp and an HMAC of it under NonceKey, valid for
// NonceLifetime; an expired one is challenged again with stale=true. A Digest response is
// accepted once: a nonce's next use needs a higher nonce-count (RFC 7616 §3.4.5), else it is
// challenged again as stale. Basic and <subject> passwords travel in the clear without TLS;
// serve CCMP over TLS (HandlerConfig docs).
type Credentials struct {
	Realm         string       // default: the handler's domain
	Users         []Credential // who may use CCMP
	NonceKey      []byte       // HMAC key of nonces; nil: random per process
	NonceLifetime time.Duration
}

// Credential is one user: a name and either its password or its digest HA1.
type Credential struct {
	// Name is the HTTP username. A request acts as the XCON-USERID "xcon-userid:Name" when
	// Name holds an "@", else as "xcon-userid:Name@ANY-DOMAIN" (the user part must match:
	// SIP clients invent their confUserID from their SIP identity, USER@DOMAIN).
	Name     string
	Password string
	// HA1 is hex H(Name:Realm:Password), used when Password is empty: 32 digits for MD5,
	// 64 for SHA-256; only that algorithm then works for the user.
	HA1 string
	// Admin makes the user an administrator of every room.
	Admin bool
}

const defaultNonceLifetime = 5 * time.Minute

type authKey struct{}

// authenticated is what ServeHTTP learnt from the HTTP Authorization header.
type authenticated struct{ name string }

// auth is the credential checker of a handler configured with Credentials.
type auth struct {
	domain string
	users  map[string]Credential // by lowercased name
	digest *digest.Server
}

func newAuth(c *Credentials, domain string) *auth {
	realm, lifetime := c.Realm, c.NonceLifetime
	if realm == "" {
		realm = domain
	}
	if lifetime <= 0 {
		lifetime = defaultNonceLifetime
	}
	a := &auth{domain: domain, users: map[string]Credential{}, digest: digest.NewServer(realm, c.NonceKey, lifetime)}
	for _, u := range c.Users {
		a.users[strings.ToLower(u.Name)] = u
	}
	return a
}

// challenge writes HTTP 401 with one challenge per scheme offered.
func (a *auth) challenge(w http.ResponseWriter, r *http.Request, stale bool) {
	n := a.digest.Nonce()
	for _, alg := range []string{digest.SHA256, digest.MD5} {
		w.Header().Add("WWW-Authenticate", digest.Challenge{Realm: a.digest.Realm(), QOP: []string{"auth"}, Algorithm: alg,
			Nonce: n, Opaque: "ccmp", Stale: stale}.String())
	}
	if r.TLS != nil {
		w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Basic realm=%q, charset="UTF-8"`, a.digest.Realm()))
	}
	http.Error(w, "CCMP needs credentials", http.StatusUnauthorized)
}

// fromHeader checks an Authorization header: the user's name, or stale (right credentials on
// an expired or used nonce of ours: challenge again with stale=true), or neither (wrong
// credentials). User names are compared without case; Digest needs qop auth and the digest-uri
// of this very request.
func (a *auth) fromHeader(r *http.Request) (name string, stale bool) {
	h := r.Header.Get("Authorization")
	scheme, _, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Basic"):
		if r.TLS == nil {
			return "", false // never over plain HTTP
		}
		user, pass, ok := r.BasicAuth()
		if ok && a.password(user, pass) {
			return user, false
		}
	case strings.EqualFold(scheme, "Digest"):
		c, _ := digest.ParseCredentials(h)
		u, known := a.users[strings.ToLower(c.Username)]
		if !known || c.URI != r.URL.RequestURI() {
			return "", false
		}
		err := a.digest.Verify(c, r.Method, digest.Rules{RequireQOP: true, RealmFold: true}, func(alg string) string {
			return digest.AccountHA1(alg, u.Name, a.digest.Realm(), u.Password, u.HA1)
		})
		if err != nil {
			return "", errors.Is(err, digest.ErrStale)
		}
		return u.Name, false
	}
	return "", false
}

// password checks a plain username and password (Basic, or the CCMP subject).
func (a *auth) password(user, pass string) bool {
	u, ok := a.users[strings.ToLower(user)]
	if !ok {
		return false
	}
	if u.Password != "" {
		return subtle.ConstantTimeCompare([]byte(u.Password), []byte(pass)) == 1
	}
	for _, alg := range []string{digest.MD5, digest.SHA256} {
		if len(u.HA1) == digest.HA1Len(alg) &&
			subtle.ConstantTimeCompare([]byte(digest.HA1(alg, u.Name, a.digest.Realm(), pass)), []byte(strings.ToLower(u.HA1))) == 1 {
			return true
		}
	}
	return false
}

// principal maps an authenticated request to a principal (the Authenticator of a handler
// with Credentials): the HTTP-authenticated user, else the CCMP subject (424 when wrong or
// missing). confUserID must be that user's (421 when it names no configured user, 401 when
// it names another); a request without one (a join, RFC 6504 §6.3) acts as the user's.
func (a *auth) principal(r *http.Request, req *Request) (*Principal, error) {
	name := ""
	if v, ok := r.Context().Value(authKey{}).(authenticated); ok {
		name = v.name
	} else if req.Subject != nil && a.password(req.Subject.Username, req.Subject.Password) {
		name = req.Subject.Username
	}
	if name == "" {
		return nil, fail(CodeAuthenticationNeeded, "credentials missing or wrong")
	}
	u := a.users[strings.ToLower(name)]
	p := &Principal{UserID: req.ConfUserID, Name: u.Name, Admin: u.Admin, Authenticated: true}
	if req.ConfUserID == "" {
		p.UserID = a.userID(u)
		return p, nil
	}
	if a.owns(u, req.ConfUserID) {
		return p, nil
	}
	for _, other := range a.users {
		if a.owns(other, req.ConfUserID) {
			return nil, fail(CodeUnauthorized, "confUserID "+req.ConfUserID+" is not the authenticated user's")
		}
	}
	return nil, fail(CodeInvalidConfUserID, "confUserID "+req.ConfUserID+" is no user of this server")
}

func (a *auth) userID(u Credential) string {
	if strings.Contains(u.Name, "@") {
		return "xcon-userid:" + strings.ToLower(u.Name)
	}
	return "xcon-userid:" + strings.ToLower(u.Name) + "@" + a.domain
}

// owns tells whether confUserID is one of u's XCON-USERIDs.
func (a *auth) owns(u Credential, confUserID string) bool {
	id := strings.ToLower(strings.TrimPrefix(strings.ToLower(confUserID), "xcon-userid:"))
	name := strings.ToLower(u.Name)
	if strings.Contains(name, "@") {
		return id == name
	}
	user, _, _ := strings.Cut(id, "@")
	return user == name
}

// withAuth runs HTTP authentication for ServeHTTP. It returns the request to serve (carrying
// the authenticated user) or false after answering 401 itself.
func (h *Handler) withAuth(w http.ResponseWriter, r *http.Request, req *Request) (*http.Request, bool) {
	if h.auth == nil {
		return r, true
	}
	if r.Header.Get("Authorization") != "" {
		name, stale := h.auth.fromHeader(r)
		if name == "" {
			h.rejected.WithLabelValues("unauthenticated").Inc()
			h.auth.challenge(w, r, stale)
			return nil, false
		}
		return r.WithContext(context.WithValue(r.Context(), authKey{}, authenticated{name: name})), true
	}
	if req != nil && req.Subject != nil {
		return r, true // checked by principal: CCMP 424 when wrong
	}
	h.rejected.WithLabelValues("unauthenticated").Inc()
	h.auth.challenge(w, r, false)
	return nil, false
}

// TLSConfig returns the TLS configuration of a CCMP server over HTTPS (RFC 6503 §4.4: TLS is
// mandatory to implement): the certificate and key files, TLS 1.2 or later.
func TLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("ccmp: TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
