package main

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/msrp"
)

// TestCCMPOverHTTPSWithDigest: with http.tls_listen and ccmp.auth.users configured, the daemon
// serves CCMP over HTTPS and a client must authenticate (HTTP Digest) to use it.
func TestCCMPOverHTTPSWithDigest(t *testing.T) {
	dir := t.TempDir()
	if _, err := msrp.LoadOrCreateCertificate(dir); err != nil { // writes a self-signed pair
		t.Fatal(err)
	}
	d := startTestDaemon(t, func(c *configs.Config) {
		c.HTTP.TLSListen = "127.0.0.1:0"
		c.HTTP.TLSCertFile = filepath.Join(dir, msrp.CertificateFile)
		c.HTTP.TLSKeyFile = filepath.Join(dir, msrp.KeyFile)
		c.CCMP.Auth.Users = []configs.CCMPUser{{Name: "admin@example.net", Password: "s3cret", Admin: true}}
	})
	httpsClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // self-signed in this test
	client := &ccmp.Client{URL: "https://" + d.httpsAddr.String() + "/ccmp", UserID: "xcon-userid:admin@example.net", HTTP: httpsClient}
	ctx := context.Background()
	if _, err := client.Rooms(ctx); err == nil {
		t.Fatal("CCMP without credentials was answered")
	}
	client.Username, client.Secret = "admin@example.net", "s3cret"
	rooms, err := client.Rooms(ctx)
	if err != nil {
		t.Fatalf("authenticated CCMP over HTTPS: %v", err)
	}
	if len(rooms) != 1 {
		t.Fatalf("rooms: %+v", rooms)
	}
	client.Secret = "wrong"
	var rerr *ccmp.ResponseError
	if _, err := client.Rooms(ctx); err == nil || errors.As(err, &rerr) && rerr.Code == 200 {
		t.Fatalf("a wrong password was accepted: %v", err)
	}
}
