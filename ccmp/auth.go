package ccmp

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
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
	realm    string
	domain   string
	users    map[string]Credential // by lowercased name
	key      []byte
	lifetime time.Duration
	now      func() time.Time

	// Replay guard: the highest nonce-count accepted per nonce still alive. Only nonces that
	// authenticated someone are kept, so the map is bounded by genuine use.
	mu        sync.Mutex
	counts    map[string]nonceCount
	lastSweep time.Time
}

type nonceCount struct {
	issued time.Time
	nc     uint64
}

func newAuth(c *Credentials, domain string) *auth {
	a := &auth{realm: c.Realm, domain: domain, users: map[string]Credential{}, key: c.NonceKey,
		lifetime: c.NonceLifetime, now: time.Now, counts: map[string]nonceCount{}}
	if a.realm == "" {
		a.realm = domain
	}
	if len(a.key) == 0 {
		a.key = make([]byte, 32)
		_, _ = rand.Read(a.key)
	}
	if a.lifetime <= 0 {
		a.lifetime = defaultNonceLifetime
	}
	for _, u := range c.Users {
		a.users[strings.ToLower(u.Name)] = u
	}
	return a
}

// nonce returns a fresh nonce, unique per challenge (a replayed response is recognised by its
// nonce): base64url(8-byte unix nanoseconds ‖ 8 random bytes ‖ first 16 bytes of their HMAC).
func (a *auth) nonce() string {
	var b [32]byte
	binary.BigEndian.PutUint64(b[:8], uint64(a.now().UnixNano()))
	_, _ = rand.Read(b[8:16])
	copy(b[16:], a.mac(b[:16]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (a *auth) mac(b []byte) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write(b)
	m.Write([]byte(a.realm))
	return m.Sum(nil)[:16]
}

// checkNonce tells whether n is ours (ok), whether it is still fresh, and when it was issued.
func (a *auth) checkNonce(n string) (ok, fresh bool, issued time.Time) {
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(b) != 32 || !hmac.Equal(a.mac(b[:16]), b[16:]) {
		return false, false, time.Time{}
	}
	at := time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	return true, a.now().Sub(at) <= a.lifetime && !at.After(a.now().Add(time.Minute)), at
}

// firstUse records an accepted (nonce, nonce-count) and reports whether the count is higher
// than any accepted before for that nonce.
func (a *auth) firstUse(nonce string, issued time.Time, nc uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if now.Sub(a.lastSweep) > a.lifetime {
		for n, c := range a.counts {
			if now.Sub(c.issued) > a.lifetime {
				delete(a.counts, n)
			}
		}
		a.lastSweep = now
	}
	if c, seen := a.counts[nonce]; seen && nc <= c.nc {
		return false
	}
	a.counts[nonce] = nonceCount{issued: issued, nc: nc}
	return true
}

// challenge writes HTTP 401 with one challenge per scheme offered.
func (a *auth) challenge(w http.ResponseWriter, r *http.Request, stale bool) {
	n := a.nonce()
	extra := ""
	if stale {
		extra = ", stale=true"
	}
	for _, alg := range []string{"SHA-256", "MD5"} {
		w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Digest realm=%q, qop="auth", algorithm=%s, nonce=%q, opaque=%q%s`,
			a.realm, alg, n, "ccmp", extra))
	}
	if r.TLS != nil {
		w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Basic realm=%q, charset="UTF-8"`, a.realm))
	}
	http.Error(w, "CCMP needs credentials", http.StatusUnauthorized)
}

// fromHeader checks an Authorization header: the user's name, or stale (an expired nonce of
// ours, challenge again with stale=true), or neither (wrong credentials).
func (a *auth) fromHeader(r *http.Request) (name string, stale bool) {
	h := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(h, " ")
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
		p := parseAuthParams(rest)
		if !strings.EqualFold(p["realm"], a.realm) || p["qop"] != "auth" || p["uri"] != r.URL.RequestURI() {
			return "", false
		}
		ok, fresh, issued := a.checkNonce(p["nonce"])
		if !ok {
			return "", false
		}
		u, known := a.users[strings.ToLower(p["username"])]
		if !known {
			return "", false
		}
		want, ok := digestResponse(u, a.realm, r.Method, p)
		if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(p["response"]))) != 1 {
			return "", false
		}
		if !fresh {
			return "", true
		}
		if nc, err := strconv.ParseUint(p["nc"], 16, 64); err != nil || !a.firstUse(p["nonce"], issued, nc) {
			return "", true // a replay: challenge again, as stale so that an honest client just retries
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
	for _, alg := range []string{"MD5", "SHA-256"} {
		if h := ha1(u, a.realm, alg, pass); h != "" && subtle.ConstantTimeCompare([]byte(h), []byte(strings.ToLower(u.HA1))) == 1 {
			return true
		}
	}
	return false
}

func hasher(alg string) func() hash.Hash {
	switch strings.ToUpper(alg) {
	case "", "MD5":
		return md5.New
	case "SHA-256":
		return sha256.New
	}
	return nil
}

func hexHash(newHash func() hash.Hash, s string) string {
	h := newHash()
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// ha1 is H(user:realm:password) for alg with the given password ("" means the user's), or
// the configured HA1 when it is of that algorithm; "" when there is none.
func ha1(u Credential, realm, alg, password string) string {
	nh := hasher(alg)
	if nh == nil {
		return ""
	}
	if password == "" {
		password = u.Password
	}
	if password != "" {
		return hexHash(nh, u.Name+":"+realm+":"+password)
	}
	if len(u.HA1) == 2*nh().Size() {
		return strings.ToLower(u.HA1)
	}
	return ""
}

// digestResponse computes the expected response of RFC 7616 §3.4.1 for qop=auth.
func digestResponse(u Credential, realm, method string, p map[string]string) (string, bool) {
	nh := hasher(p["algorithm"])
	h1 := ha1(u, realm, p["algorithm"], "")
	if nh == nil || h1 == "" || p["cnonce"] == "" || p["nc"] == "" {
		return "", false
	}
	h2 := hexHash(nh, method+":"+p["uri"])
	return hexHash(nh, h1+":"+p["nonce"]+":"+p["nc"]+":"+p["cnonce"]+":"+p["qop"]+":"+h2), true
}

// parseAuthParams reads the comma-separated auth-params of a challenge or credentials.
func parseAuthParams(s string) map[string]string {
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		rest = strings.TrimSpace(rest)
		var v string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				b.WriteByte(rest[i])
			}
			v, rest = b.String(), rest[min(i+1, len(rest)):]
		} else {
			v, rest, _ = strings.Cut(rest, ",")
			v = strings.TrimSpace(v)
			rest = "," + rest
		}
		out[k] = v
		rest = strings.TrimSpace(rest)
		s = strings.TrimPrefix(rest, ",")
	}
	return out
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
