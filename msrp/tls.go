package msrp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// TLS (RFC 4975 §14.2, §14.4; RFC 8122 fingerprints). Peers of a chat focus use self-signed certificates: each
// side puts the fingerprint of its certificate in a=fingerprint, and the certificate presented in the
// handshake must match the one the peer's SDP announced, or the session is torn down at once (§14.4).

// Certificate files written by LoadOrCreateCertificate.
const (
	CertificateFile = "msrp-cert.pem"
	KeyFile         = "msrp-key.pem"
)

// ErrFingerprintMismatch: the peer's certificate does not match the fingerprint from its SDP (RFC 4975 §14.4).
var ErrFingerprintMismatch = errors.New("msrp: peer certificate does not match a=fingerprint")

// ErrNoTLS: an msrps URI, but neither a peer fingerprint nor Config.TLSConfig to verify the peer with, or no
// Config.Certificate to serve with.
var ErrNoTLS = errors.New("msrp: TLS not configured")

// LoadOrCreateCertificate loads CertificateFile and KeyFile from dir, or, when neither exists, creates a
// self-signed ECDSA P-256 certificate, writes both as PEM (the key readable by the owner only) and returns it.
func LoadOrCreateCertificate(dir string) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, CertificateFile), filepath.Join(dir, KeyFile)
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err == nil {
		return cert, nil
	}
	_, errC := os.Stat(certPath)
	_, errK := os.Stat(keyPath)
	if !errors.Is(errC, fs.ErrNotExist) || !errors.Is(errK, fs.ErrNotExist) {
		return tls.Certificate{}, err // one is there but unusable: do not overwrite what the operator put
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "parley msrp"}, // never an MSRP URI (RFC 8591 §8.4)
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// Fingerprint returns the SHA-256 fingerprint of cert's leaf in RFC 8122 form, as written after
// "a=fingerprint:": "sha-256 AB:CD:…".
func Fingerprint(cert tls.Certificate) string {
	if len(cert.Certificate) == 0 {
		return ""
	}
	return fingerprintOf(cert.Certificate[0])
}

func fingerprintOf(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha-256 " + colonHex(sum[:])
}

func colonHex(b []byte) string {
	var sb strings.Builder
	sb.Grow(3 * len(b))
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return sb.String()
}

// matchFingerprint reports whether der hashes to fp ("hash-func SP hex:hex…", RFC 8122 §5; hash-func and hex
// compared case-insensitively). MD5 and MD2 are never accepted (RFC 8122 §5.1).
func matchFingerprint(fp string, der []byte) bool {
	fn, value, ok := strings.Cut(strings.TrimSpace(fp), " ")
	if !ok {
		return false
	}
	var sum []byte
	switch strings.ToLower(fn) {
	case "sha-1":
		s := sha1.Sum(der)
		sum = s[:]
	case "sha-224":
		s := sha256.Sum224(der)
		sum = s[:]
	case "sha-256":
		s := sha256.Sum256(der)
		sum = s[:]
	case "sha-384":
		s := sha512.Sum384(der)
		sum = s[:]
	case "sha-512":
		s := sha512.Sum512(der)
		sum = s[:]
	default:
		return false
	}
	want := colonHex(sum)
	return subtle.ConstantTimeCompare([]byte(strings.ToUpper(strings.TrimSpace(value))), []byte(want)) == 1
}

// SetPeerFingerprint sets the peer's a=fingerprint (RFC 8122). On an msrps session the peer's certificate must
// match it: when we accept the connection, the first request from a certificate that does not match gets no
// answer, and the connection and session are closed as FingerprintMismatch; when we Connect, the handshake
// fails unless the server's certificate matches (it replaces CA verification).
func (s *Session) SetPeerFingerprint(fp string) {
	s.mu.Lock()
	s.peerFP = strings.TrimSpace(fp)
	s.mu.Unlock()
}

func (s *Session) peerFingerprint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peerFP
}

// NewTLSSession is NewSession for an msrps session (RFC 4975 §6: the hop must use TLS): its URI carries
// AdvertisedTLSPort, and only a request arriving over TLS may bind it.
func (e *Endpoint) NewTLSSession(h SessionHandler) *Session { return e.newSession(h, true) }

// ServeTLS is Serve over TLS with Config.Certificate. It requests, without requiring it, a client certificate,
// which a session with a peer fingerprint then checks (RFC 4975 §14.4). Plain and TLS listeners may run side
// by side on one Endpoint.
func (e *Endpoint) ServeTLS(ctx context.Context, ln net.Listener) error {
	if e.cfg().Certificate == nil {
		ln.Close()
		return ErrNoTLS
	}
	return e.Serve(ctx, tls.NewListener(ln, e.serverTLSConfig()))
}

func (e *Endpoint) serverTLSConfig() *tls.Config {
	return &tls.Config{
		// The certificate of the moment: SetCertificate may replace it while the listener serves.
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return e.cfg().Certificate, nil },
		ClientAuth:     tls.RequestClientCert, // self-signed: checked against a=fingerprint, not a CA
		MinVersion:     tls.VersionTLS12,      // RFC 8996
	}
}

// clientTLSConfig verifies the server against fp when given, else through Config.TLSConfig (CA and name).
func (e *Endpoint) clientTLSConfig(hop URI, fp string) (*tls.Config, error) {
	var tc *tls.Config
	switch {
	case fp != "":
		tc = &tls.Config{
			InsecureSkipVerify: true, // replaced by the fingerprint check below (RFC 4975 §14.4)
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 || !matchFingerprint(fp, raw[0]) {
					e.stats.fpMismatches.Add(1)
					return ErrFingerprintMismatch
				}
				return nil
			},
		}
	case e.cfg().TLSConfig != nil:
		tc = e.cfg().TLSConfig.Clone()
	default:
		return nil, ErrNoTLS
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	if tc.ServerName == "" && net.ParseIP(hop.Host) == nil {
		tc.ServerName = hop.Host // SNI (§14.2)
	}
	if e.cfg().Certificate != nil && len(tc.Certificates) == 0 {
		tc.Certificates = []tls.Certificate{*e.cfg().Certificate}
	}
	return tc, nil
}

// peerCertOK checks the certificate the peer presented on c against s's peer fingerprint.
func (c *conn) peerCertOK(fp string) bool {
	if fp == "" {
		return true
	}
	if c.tls == nil {
		return false
	}
	certs := c.tls.ConnectionState().PeerCertificates
	return len(certs) > 0 && matchFingerprint(fp, certs[0].Raw)
}
