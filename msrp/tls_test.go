package msrp_test

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/parleychat/parley/msrp"
)

func TestLoadOrCreateCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	a, err := msrp.LoadOrCreateCertificate(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := msrp.LoadOrCreateCertificate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if msrp.Fingerprint(a) != msrp.Fingerprint(b) {
		t.Fatal("second call did not load the stored certificate")
	}
	if !regexp.MustCompile(`^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(msrp.Fingerprint(a)) {
		t.Fatalf("fingerprint %q is not RFC 8122 form", msrp.Fingerprint(a))
	}
	if fi, err := os.Stat(filepath.Join(dir, msrp.KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	der := a.Certificate[0]
	other := "00" // a first byte that differs from the certificate's
	if strings.HasPrefix(msrp.Fingerprint(a)[8:], "00") {
		other = "FF"
	}
	for _, tt := range []struct {
		fp   string
		want bool
	}{
		{msrp.Fingerprint(a), true},
		{"SHA-256 " + msrp.Fingerprint(a)[8:], true},
		{"sha-256 " + other + ":" + msrp.Fingerprint(a)[11:], false},
		{"md5 00", false},
		{"", false},
	} {
		if got := msrp.MatchFingerprint(tt.fp, der); got != tt.want {
			t.Errorf("matchFingerprint(%q) = %v", tt.fp, got)
		}
	}
	os.WriteFile(filepath.Join(dir, msrp.CertificateFile), []byte("junk"), 0o644)
	if _, err := msrp.LoadOrCreateCertificate(dir); err == nil {
		t.Fatal("a broken certificate file was replaced or accepted")
	}
}

// tlsEndpoints starts a server Endpoint with a plain and a TLS listener on host, and a client Endpoint, each
// with its own self-signed certificate.
func tlsEndpoints(t *testing.T, host string) (srv, cli *msrp.Endpoint, srvCert, cliCert tls.Certificate) {
	t.Helper()
	plain, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("no %s loopback: %v", host, err)
	}
	secure, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	if srvCert, err = msrp.LoadOrCreateCertificate(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if cliCert, err = msrp.LoadOrCreateCertificate(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	srv = msrp.NewEndpoint(msrp.Config{AdvertisedHost: host, AdvertisedPort: plain.Addr().(*net.TCPAddr).Port,
		AdvertisedTLSPort: secure.Addr().(*net.TCPAddr).Port, Certificate: &srvCert})
	done := make(chan error, 2)
	go func() { done <- srv.Serve(context.Background(), plain) }()
	go func() { done <- srv.ServeTLS(context.Background(), secure) }()
	cli = msrp.NewEndpoint(msrp.Config{AdvertisedHost: host, AdvertisedPort: 9, Certificate: &cliCert})
	t.Cleanup(func() {
		cli.Close()
		srv.Close()
		for i := 0; i < 2; i++ {
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		}
	})
	return srv, cli, srvCert, cliCert
}

// TestTLS_Fingerprints: msrps sessions over IPv4 and IPv6 loopback, each side checking the other's certificate
// against its a=fingerprint (RFC 4975 §14.4), next to a plain session on the same Endpoint.
func TestTLS_Fingerprints(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			srv, cli, srvCert, cliCert := tlsEndpoints(t, host)
			ctx, cancel := context.WithTimeout(context.Background(), failsafe)
			defer cancel()
			srvRec, cliRec := newRecorder(), newRecorder()

			ss, cs := srv.NewTLSSession(srvRec), cli.NewTLSSession(cliRec)
			if !ss.LocalURI().Secure || ss.LocalURI().Port != srv.Config().AdvertisedTLSPort {
				t.Fatalf("TLS session URI %s", ss.LocalURI())
			}
			ss.SetPeerFingerprint(msrp.Fingerprint(cliCert))
			ss.SetRemotePath([]msrp.URI{cs.LocalURI()})
			cs.SetPeerFingerprint(msrp.Fingerprint(srvCert))
			cs.SetRemotePath([]msrp.URI{ss.LocalURI()})
			if err := cs.Connect(ctx); err != nil {
				t.Fatalf("Connect over TLS: %v", err)
			}
			if err := cs.Send("text/plain", []byte("secret")); err != nil {
				t.Fatal(err)
			}
			if m := srvRec.nextMsg(t); string(m.Body) != "secret" {
				t.Fatalf("got %q", m.Body)
			}
			if err := ss.Send("text/plain", []byte("back")); err != nil {
				t.Fatal(err)
			}
			if m := cliRec.nextMsg(t); string(m.Body) != "back" {
				t.Fatalf("got %q", m.Body)
			}

			// Plain TCP side by side.
			ps, pc := srv.NewSession(srvRec), cli.NewSession(cliRec)
			pc.SetRemotePath([]msrp.URI{ps.LocalURI()})
			if err := pc.Connect(ctx); err != nil {
				t.Fatalf("Connect over TCP: %v", err)
			}
			// An msrps session cannot be reached over plain TCP.
			wrong := cli.NewSession(cliRec)
			u := ss.LocalURI()
			u.Secure = false
			wrong.SetRemotePath([]msrp.URI{u})
			if err := wrong.Connect(ctx); err == nil {
				t.Fatal("msrps session bound over TCP")
			}
		})
	}
}

// TestTLS_FingerprintMismatch: a certificate that does not match a=fingerprint ends the session at once,
// on either side (RFC 4975 §14.4).
func TestTLS_FingerprintMismatch(t *testing.T) {
	other, err := msrp.LoadOrCreateCertificate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("server checks client", func(t *testing.T) {
		srv, cli, srvCert, _ := tlsEndpoints(t, "127.0.0.1")
		srvRec := newRecorder()
		ss, cs := srv.NewTLSSession(srvRec), cli.NewTLSSession(newRecorder())
		ss.SetPeerFingerprint(msrp.Fingerprint(other))
		cs.SetPeerFingerprint(msrp.Fingerprint(srvCert))
		cs.SetRemotePath([]msrp.URI{ss.LocalURI()})
		ctx, cancel := context.WithTimeout(context.Background(), failsafe)
		defer cancel()
		if err := cs.Connect(ctx); err == nil {
			t.Fatal("Connect succeeded with the wrong client certificate")
		}
		if ev := srvRec.nextClose(t); ev.s != ss || ev.reason != msrp.FingerprintMismatch {
			t.Fatalf("server session closed with %v", ev.reason)
		}
		if st := srv.Stats(); st.FingerprintMismatches != 1 {
			t.Fatalf("FingerprintMismatches %d", st.FingerprintMismatches)
		}
	})
	t.Run("client checks server", func(t *testing.T) {
		srv, cli, _, _ := tlsEndpoints(t, "127.0.0.1")
		ss, cs := srv.NewTLSSession(newRecorder()), cli.NewTLSSession(newRecorder())
		cs.SetPeerFingerprint(msrp.Fingerprint(other))
		cs.SetRemotePath([]msrp.URI{ss.LocalURI()})
		ctx, cancel := context.WithTimeout(context.Background(), failsafe)
		defer cancel()
		if err := cs.Connect(ctx); err == nil {
			t.Fatal("Connect accepted a server certificate that does not match")
		}
		if st := cli.Stats(); st.FingerprintMismatches != 1 {
			t.Fatalf("FingerprintMismatches %d", st.FingerprintMismatches)
		}
	})
}
