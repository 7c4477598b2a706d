// Package digest is HTTP Digest access authentication (RFC 7616, and RFC 2617's qop-less form
// RFC 3261 §22.4 still allows) as SIP, CCMP and MSRP relays speak it: the header syntax, the
// hashes, a client's answer to a challenge and a server's stateless nonces with their replay
// guard. It knows nothing of the protocols that carry it.
package digest

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
)

// Algorithms this package computes (RFC 7616 §6.1); SHA-512-256 is not offered by any peer here.
const (
	MD5    = "MD5"
	SHA256 = "SHA-256"
)

func hasher(alg string) func() hash.Hash {
	switch strings.ToUpper(alg) {
	case "", MD5:
		return md5.New
	case SHA256:
		return sha256.New
	}
	return nil
}

// Supported tells whether alg is one this package computes; "" is MD5 (RFC 7616 §3.3).
func Supported(alg string) bool { return hasher(alg) != nil }

// HA1Len is the length in hex digits of an HA1 of alg, 0 for an algorithm not supported.
func HA1Len(alg string) int {
	if h := hasher(alg); h != nil {
		return 2 * h().Size()
	}
	return 0
}

func hexHash(newHash func() hash.Hash, s string) string {
	h := newHash()
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// HA1 is H(username:realm:password) in lower-case hex (RFC 7616 §3.4.2); "" for an algorithm
// not supported.
func HA1(alg, username, realm, password string) string {
	nh := hasher(alg)
	if nh == nil {
		return ""
	}
	return hexHash(nh, username+":"+realm+":"+password)
}

// Response is the request-digest of RFC 7616 §3.4.1 for qop "auth", or of RFC 2069 (RFC 2617
// §3.2.2.1) when qop is "", from the hex ha1; "" for an algorithm not supported.
func Response(alg, ha1, nonce, nc, cnonce, qop, method, uri string) string {
	nh := hasher(alg)
	if nh == nil {
		return ""
	}
	ha2 := hexHash(nh, method+":"+uri)
	if qop == "" {
		return hexHash(nh, strings.ToLower(ha1)+":"+nonce+":"+ha2)
	}
	return hexHash(nh, strings.ToLower(ha1)+":"+nonce+":"+nc+":"+cnonce+":"+qop+":"+ha2)
}

// Split separates an Authorization or WWW-Authenticate value into its scheme and its
// auth-params.
func Split(header string) (scheme string, params map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	return scheme, ParseParams(rest)
}

// ParseParams reads comma-separated auth-params (RFC 7235 §2.1): names lower-cased, quoted
// values unquoted (a backslash escapes the next character). A malformed rest is dropped.
func ParseParams(s string) map[string]string {
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

// quote makes s a quoted-string (RFC 7230 §3.2.6): backslash and quote escaped.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Challenge is a Digest challenge, the value of a WWW-Authenticate header (RFC 7616 §3.3).
type Challenge struct {
	Realm     string
	Nonce     string
	Opaque    string
	Algorithm string // "" is MD5
	QOP       []string
	Stale     bool
}

// ParseChallenge reads a WWW-Authenticate value; false when it is not a Digest challenge with
// a nonce.
func ParseChallenge(header string) (Challenge, bool) {
	scheme, p := Split(header)
	if !strings.EqualFold(scheme, "Digest") || p["nonce"] == "" {
		return Challenge{}, false
	}
	c := Challenge{Realm: p["realm"], Nonce: p["nonce"], Opaque: p["opaque"], Algorithm: p["algorithm"],
		Stale: strings.EqualFold(p["stale"], "true")}
	if q, ok := p["qop"]; ok {
		c.QOP = []string{}
		for _, v := range strings.Split(q, ",") {
			if v = strings.TrimSpace(v); v != "" {
				c.QOP = append(c.QOP, strings.ToLower(v))
			}
		}
	}
	return c, true
}

// OffersAuth tells whether the challenge offers qop "auth".
func (c Challenge) OffersAuth() bool {
	for _, q := range c.QOP {
		if q == "auth" {
			return true
		}
	}
	return false
}

// String is the header value: Digest realm, qop, algorithm, nonce, opaque and stale.
func (c Challenge) String() string {
	var b strings.Builder
	b.WriteString("Digest realm=" + quote(c.Realm))
	if len(c.QOP) > 0 {
		b.WriteString(", qop=" + quote(strings.Join(c.QOP, ",")))
	}
	if c.Algorithm != "" {
		b.WriteString(", algorithm=" + c.Algorithm)
	}
	b.WriteString(", nonce=" + quote(c.Nonce))
	if c.Opaque != "" {
		b.WriteString(", opaque=" + quote(c.Opaque))
	}
	if c.Stale {
		b.WriteString(", stale=true")
	}
	return b.String()
}

// Authorize answers the challenge for one request (method, digest-uri) as username with
// password: the Authorization value. With qop "auth" offered it is used, with nonce-count 1
// (each challenge is answered once) and cnonce; else the RFC 2069 form. "" when the challenge's
// algorithm is not supported, or it offers qop values of which none is "auth".
func (c Challenge) Authorize(username, password, method, uri, cnonce string) string {
	alg := c.Algorithm
	if alg == "" {
		alg = MD5
	}
	if !Supported(alg) || len(c.QOP) > 0 && !c.OffersAuth() {
		return ""
	}
	ha1 := HA1(alg, username, c.Realm, password)
	var b strings.Builder
	b.WriteString("Digest username=" + quote(username) + ", realm=" + quote(c.Realm) + ", nonce=" + quote(c.Nonce) +
		", uri=" + quote(uri) + ", algorithm=" + alg)
	if c.OffersAuth() {
		const nc = "00000001"
		b.WriteString(", qop=auth, nc=" + nc + ", cnonce=" + quote(cnonce) +
			", response=" + quote(Response(alg, ha1, c.Nonce, nc, cnonce, "auth", method, uri)))
	} else {
		b.WriteString(", response=" + quote(Response(alg, ha1, c.Nonce, "", "", "", method, uri)))
	}
	if c.Opaque != "" {
		b.WriteString(", opaque=" + quote(c.Opaque))
	}
	return b.String()
}
