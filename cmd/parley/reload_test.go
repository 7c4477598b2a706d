package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/xcon"
)

// fileDaemon runs the daemon on a configuration file whose text is yaml plus loopback
// listeners and a data directory, as serve does: a reload reads the file again. Its log goes
// to the returned buffer too.
type fileDaemon struct {
	*daemon
	path string
	dir  string
	log  *syncBuffer
}

func startFromFile(t *testing.T, yaml string) *fileDaemon {
	t.Helper()
	fd := &fileDaemon{dir: t.TempDir(), log: &syncBuffer{}}
	fd.path = filepath.Join(fd.dir, "parley.yaml")
	fd.write(t, yaml)
	load := func() (*configs.Config, error) {
		c, err := configs.Load(fd.path)
		if err != nil {
			return nil, err
		}
		if err := c.Resolve(); err != nil {
			return nil, fmt.Errorf("configuration:\n%w", err)
		}
		return c, nil
	}
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(fd.log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	d, err := startDaemon(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	d.admin.load = load
	fd.daemon = d
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", fd.log)
		}
		runPeerClosers(t)
	})
	return fd
}

// write replaces the file with yaml under the test's listeners and data directory.
func (fd *fileDaemon) write(t *testing.T, yaml string) {
	t.Helper()
	base := fmt.Sprintf("domain: example.net\ndata_dir: %s\n", filepath.Join(fd.dir, "data"))
	for _, key := range []string{"sip", "msrp", "http"} {
		if !strings.Contains(yaml, key+":") {
			base += key + ": {listen: \"127.0.0.1:0\"}\n"
		}
	}
	if err := os.WriteFile(fd.path, []byte(base+yaml), 0o600); err != nil {
		t.Fatal(err)
	}
}

// signalSelf sends sig to this process while the daemon's signal loop runs; the test holds
// the signal too, so that it never takes its default action.
func signalSelf(t *testing.T, d *daemon, sig os.Signal) (stop func() error) {
	t.Helper()
	held := make(chan os.Signal, 1)
	signal.Notify(held, sig)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.serveSignals(ctx) }()
	time.Sleep(50 * time.Millisecond) // the loop's signal.Notify
	if err := syscall.Kill(os.Getpid(), sig.(syscall.Signal)); err != nil {
		t.Fatal(err)
	}
	<-held
	// stop ends the loop, which shuts the daemon down.
	return func() error {
		defer signal.Stop(held)
		cancel()
		return <-done
	}
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 3s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func adminCall(t *testing.T, d *daemon, cmd func() *cobra.Command, args ...string) (string, error) {
	t.Helper()
	c := cmd()
	c.SilenceErrors, c.SilenceUsage = true, true
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetArgs(append([]string{"--http", "http://" + d.httpAddr.String()}, args...))
	err := c.ExecuteContext(context.Background())
	return out.String(), err
}

const lobbyYAML = "rooms:\n  - {name: lobby, logging: true}\n"

// TestReloadAddsRoomAndLimit: SIGHUP reads the file again; a room added there is dialable at
// once, a lower msrp.max_message_size refuses the next larger message of a participant who
// joined before, and a changed key that is not live is reported as needing a restart.
func TestReloadAddsRoomAndLimit(t *testing.T) {
	fd := startFromFile(t, lobbyYAML)
	alice := joinLobby(t, fd.daemon, "alice", "tcp")
	joinLobby(t, fd.daemon, "bob", "tcp")
	big := strings.Repeat("x", 3000)
	send := func() int {
		tid := alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", big))
		return alice.msrp.response(t, tid).StatusCode
	}
	if code := send(); code != 200 {
		t.Fatalf("3000 bytes before the reload: %d", code)
	}

	fd.write(t, "msrp: {listen: \"127.0.0.1:0\", max_message_size: 2048}\nlog: {level: warn}\n"+
		"rooms:\n  - {name: lobby, logging: true}\n  - {name: annex}\n")
	stop := signalSelf(t, fd.daemon, syscall.SIGHUP)
	eventually(t, "room annex created", func() bool { return fd.focus.Room("annex") != nil })
	// The room exists before the reload has swapped the limits in: wait for its end.
	eventually(t, "reload done", func() bool { return strings.Contains(fd.log.String(), "configuration reloaded") })
	joinRoom(t, fd.daemon, "annex", "carol", "tcp", false)
	if code := send(); code != 413 {
		t.Fatalf("3000 bytes after max_message_size 2048: %d, want 413", code)
	}
	// log.level is no live key: the reload says it waits for a restart.
	if !strings.Contains(fd.log.String(), "configuration reloaded") || !strings.Contains(fd.log.String(), "need_restart=log.level") {
		t.Errorf("reload not logged, or log.level not named as needing a restart:\n%s", fd.log)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestReloadSIPRate: a sip.invite_rate set by a reload refuses the next INVITE beyond it.
func TestReloadSIPRate(t *testing.T) {
	fd := startFromFile(t, lobbyYAML)
	defer fd.shutdown()
	fd.write(t, lobbyYAML+"sip: {listen: \"127.0.0.1:0\", invite_rate: 0.001}\n")
	if out, err := adminCall(t, fd.daemon, reloadCommand); err != nil {
		t.Fatalf("parley reload: %q %v", out, err)
	}
	codes := []int{}
	for _, name := range []string{"alice", "bob"} {
		_, res, _ := newSIPPeer(t, name, "example.com").invite(t, fd.daemon, "lobby", "tcp", newMSRPPeer(t).offer(t, "main"))
		if res == nil {
			t.Fatalf("%s: no answer", name)
		}
		codes = append(codes, res.StatusCode)
	}
	if codes[0] != 200 || codes[1] != 503 {
		t.Fatalf("INVITEs after invite_rate 0.001: %v, want [200 503]", codes)
	}
}

// TestReloadRefusesBrokenFile: a file that does not validate is refused, by SIGHUP (logged) and
// by `parley reload` (the error returned); the configuration and the rooms stay, and the
// daemon goes on serving.
func TestReloadRefusesBrokenFile(t *testing.T) {
	fd := startFromFile(t, lobbyYAML)
	fd.write(t, "msrp: {listen: \"127.0.0.1:0\", max_message_size: -5}\nrooms:\n  - {name: lobby, logging: true}\n  - {name: annex}\n")
	stop := signalSelf(t, fd.daemon, syscall.SIGHUP)
	eventually(t, "refusal logged", func() bool { return strings.Contains(fd.log.String(), "reload refused") })
	if !strings.Contains(fd.log.String(), "max_message_size") {
		t.Errorf("the refusal does not name the key:\n%s", fd.log)
	}
	if _, err := adminCall(t, fd.daemon, reloadCommand); err == nil || !strings.Contains(err.Error(), "max_message_size") {
		t.Fatalf("parley reload of a broken file: %v", err)
	}
	if fd.focus.Room("annex") != nil || fd.current().MSRP.MaxMessageSize != fd.cfg.MSRP.MaxMessageSize {
		t.Fatal("the broken file was applied in part")
	}
	alice := joinLobby(t, fd.daemon, "alice", "tcp")
	joinLobby(t, fd.daemon, "bob", "tcp")
	tid := alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", strings.Repeat("x", 3000)))
	if code := alice.msrp.response(t, tid).StatusCode; code != 200 {
		t.Fatalf("message after the refused reload: %d", code)
	}
	if err := stop(); err != nil { // shuts the daemon down
		t.Fatal(err)
	}
}

// TestCertificateRotation: new TLS handshakes, on MSRP, HTTPS and SIP, see the certificate that
// replaced the files; a reload says which it re-read.
func TestCertificateRotation(t *testing.T) {
	certPoll = 50 * time.Millisecond
	defer func() { certPoll = time.Second }()
	first, second := t.TempDir(), t.TempDir()
	if _, err := msrp.LoadOrCreateCertificate(first); err != nil {
		t.Fatal(err)
	}
	if _, err := msrp.LoadOrCreateCertificate(second); err != nil {
		t.Fatal(err)
	}
	certDir := t.TempDir()
	certPath, keyPath := filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")
	install := func(from string) {
		for src, dst := range map[string]string{msrp.CertificateFile: certPath, msrp.KeyFile: keyPath} {
			data, err := os.ReadFile(filepath.Join(from, src))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst+".new", data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(dst+".new", dst); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(first)
	fd := startFromFile(t, fmt.Sprintf("msrp: {listen: \"127.0.0.1:0\", tls_listen: \"127.0.0.1:0\", tls_cert_file: %[1]s, tls_key_file: %[2]s}\n"+
		"http: {listen: \"127.0.0.1:0\", tls_listen: \"127.0.0.1:0\", tls_cert_file: %[1]s, tls_key_file: %[2]s}\n"+
		"sip: {listen: \"127.0.0.1:0\", tls_listen: \"127.0.0.1:0\", tls_cert_file: %[1]s, tls_key_file: %[2]s}\n", certPath, keyPath))
	defer fd.shutdown()
	seen := func(addr string) string {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return string(c.ConnectionState().PeerCertificates[0].Raw)
	}
	want := func(dir string) string {
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, msrp.CertificateFile), filepath.Join(dir, msrp.KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		return string(c.Certificate[0])
	}
	sipTLS := fmt.Sprintf("127.0.0.1:%d", fd.sip.TLSPort())
	for _, addr := range []string{fd.msrpTLSAddr.String(), fd.httpsAddr.String(), sipTLS} {
		if seen(addr) != want(first) {
			t.Fatalf("%s: not the first certificate", addr)
		}
	}
	install(second)
	for _, addr := range []string{fd.msrpTLSAddr.String(), fd.httpsAddr.String(), sipTLS} {
		eventually(t, addr+" presents the new certificate", func() bool { return seen(addr) == want(second) })
	}
	install(first)
	out, err := adminCall(t, fd.daemon, reloadCommand)
	if err != nil || !strings.Contains(out, "msrp.tls_cert_file") || !strings.Contains(out, "http.tls_cert_file") {
		// The poll may have been first: then the reload found nothing new, and says so.
		if err != nil || seen(fd.msrpTLSAddr.String()) != want(first) {
			t.Fatalf("reload after putting the first certificate back: %q %v", out, err)
		}
	}
	if seen(fd.msrpTLSAddr.String()) != want(first) {
		t.Fatal("MSRP: not the first certificate again after the reload")
	}
}

// TestReloadCertificatesAllOrNothing: a reload whose MSRP pair loads but whose HTTPS pair does
// not is refused whole: the MSRP listener keeps presenting its certificate until a reload that
// loads both replaces both.
func TestReloadCertificatesAllOrNothing(t *testing.T) {
	certPoll = time.Hour // only reloads read the files here
	defer func() { certPoll = time.Second }()
	first, second := t.TempDir(), t.TempDir()
	for _, dir := range []string{first, second} {
		if _, err := msrp.LoadOrCreateCertificate(dir); err != nil {
			t.Fatal(err)
		}
	}
	msrpDir, httpDir := t.TempDir(), t.TempDir()
	put := func(from, to string) {
		for _, f := range []string{msrp.CertificateFile, msrp.KeyFile} {
			data, err := os.ReadFile(filepath.Join(from, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(to, f), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(first, msrpDir)
	put(first, httpDir)
	fd := startFromFile(t, fmt.Sprintf("msrp: {listen: \"127.0.0.1:0\", tls_listen: \"127.0.0.1:0\", tls_cert_file: %s, tls_key_file: %s}\n"+
		"http: {listen: \"127.0.0.1:0\", tls_listen: \"127.0.0.1:0\", tls_cert_file: %s, tls_key_file: %s}\n",
		filepath.Join(msrpDir, msrp.CertificateFile), filepath.Join(msrpDir, msrp.KeyFile),
		filepath.Join(httpDir, msrp.CertificateFile), filepath.Join(httpDir, msrp.KeyFile)))
	defer fd.shutdown()
	seen := func(addr string) string {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return string(c.ConnectionState().PeerCertificates[0].Raw)
	}
	want := func(dir string) string {
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, msrp.CertificateFile), filepath.Join(dir, msrp.KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		return string(c.Certificate[0])
	}
	fingerprint := fd.focus.TLSFingerprint()
	put(second, msrpDir)
	if err := os.WriteFile(filepath.Join(httpDir, msrp.KeyFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := adminCall(t, fd.daemon, reloadCommand); err == nil || !strings.Contains(err.Error(), "http.tls_cert_file") {
		t.Fatalf("reload with a broken HTTPS pair: %v, want a refusal naming http.tls_cert_file", err)
	}
	if seen(fd.msrpTLSAddr.String()) != want(first) || fd.focus.TLSFingerprint() != fingerprint {
		t.Fatal("MSRP certificate replaced by a refused reload")
	}
	if seen(fd.httpsAddr.String()) != want(first) {
		t.Fatal("HTTPS certificate changed by a refused reload")
	}
	put(second, httpDir)
	out, err := adminCall(t, fd.daemon, reloadCommand)
	if err != nil || !strings.Contains(out, "msrp.tls_cert_file") || !strings.Contains(out, "http.tls_cert_file") {
		t.Fatalf("reload with both pairs good: %q %v", out, err)
	}
	if seen(fd.msrpTLSAddr.String()) != want(second) || seen(fd.httpsAddr.String()) != want(second) || fd.focus.TLSFingerprint() == fingerprint {
		t.Fatal("the certificates of a successful reload are not in use")
	}
}

// TestReloadChangesRooms: SIGHUP applies what changed in a room's entry to the running room as
// a CCMP update would: a new version, NOTIFYs, the logging notice to members, the new user
// limit at the next INVITE; settings the file did not change keep what CCMP set; every change
// is in the audit with principal config.
func TestReloadChangesRooms(t *testing.T) {
	rooms := "rooms:\n  - {name: lobby, logging: true}\n  - {name: stage, display_text: Stage, subject: Old}\n"
	fd := startFromFile(t, rooms)
	ctx := context.Background()
	if _, err := runRoom(t, fd.daemon, "update", "stage", "--title", "Set over CCMP"); err != nil {
		t.Fatal(err)
	}
	w := newSubscriber(t, "watcher", "tcp")
	if res := w.subscribe(t, fd.daemon, "stage", 600); res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %d", res.StatusCode)
	}
	w.waitRoster(t, "the first roster", func(c *xcon.Conference) bool { return c.Description.Subject == "Old" })
	alice := joinRoom(t, fd.daemon, "stage", "alice", "tcp", false)
	version := fd.focus.Room("stage").Snapshot().Version

	fd.write(t, "rooms:\n  - {name: lobby, logging: true}\n"+
		"  - {name: stage, display_text: Stage, subject: New, logging: true, history: 5, moderated: true, max_users: 1}\n")
	stop := signalSelf(t, fd.daemon, syscall.SIGHUP)
	eventually(t, "reload logged", func() bool { return strings.Contains(fd.log.String(), "configuration reloaded") })
	c := fd.focus.Room("stage").Snapshot()
	p, _ := c.RoomPolicy()
	if c.Description.Subject != "New" || !p.Logging || p.History != 5 || !p.Moderated ||
		c.Description.MaximumUserCount == nil || *c.Description.MaximumUserCount != 1 || c.Version <= version {
		t.Fatalf("stage after the reload: subject %q policy %+v max %v version %d (was %d)", c.Description.Subject, p,
			c.Description.MaximumUserCount, c.Version, version)
	}
	if c.Description.DisplayText != "Set over CCMP" {
		t.Fatalf("display_text unchanged in the file but reset to %q", c.Description.DisplayText)
	}
	if n := alice.msrp.nextMessage(t); !strings.Contains(string(n.Body), "logged") {
		t.Fatalf("member not told the room is logged now: %q", n.Body)
	}
	w.waitRoster(t, "the new subject", func(c *xcon.Conference) bool { return c.Description.Subject == "New" })
	if code, _ := inviteCode(t, fd.daemon, "stage", "bob"); code != 486 {
		t.Fatalf("second user after max_users 1: %d, want 486", code)
	}
	rows, err := fd.focus.Audit(ctx, "stage", 10)
	if err != nil || len(rows) < 3 {
		t.Fatalf("audit: %+v %v", rows, err)
	}
	if first, last := rows[0], rows[len(rows)-1]; first.Principal != "config" || first.Operation != "create" ||
		last.Principal != "config" || last.Request != "config" || last.Operation != "update" ||
		last.Target != "subject,logging,history,moderated,max_users" || last.Code != 200 {
		t.Fatalf("audit rows: first %+v last %+v", first, last)
	}
	if !strings.Contains(fd.log.String(), `msg="config change" principal=config room=stage operation=update target=subject,logging,history,moderated,max_users code=200`) {
		t.Fatalf("no log line for the change:\n%s", fd.log)
	}
	// A reload that finds the entries as they were changes nothing.
	out, err := adminCall(t, fd.daemon, reloadCommand)
	if err != nil || strings.Contains(out, "rooms changed") {
		t.Fatalf("second reload: %q %v", out, err)
	}
	if v := fd.focus.Room("stage").Snapshot().Version; v != c.Version {
		t.Fatalf("version after a reload without changes: %d, want %d", v, c.Version)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestReloadDialogAndCCMPLimits: sip.max_dialogs_per_source and ccmp.request_rate are live: a
// lowered dialog limit refuses the next INVITE of a source that holds dialogs from before the
// reload (they were counted), and a CCMP rate applies to the next request (HTTP 429).
func TestReloadDialogAndCCMPLimits(t *testing.T) {
	fd := startFromFile(t, lobbyYAML+"sip: {listen: \"127.0.0.1:0\", max_dialogs_per_source: 0}\n") // no limit at first
	defer fd.shutdown()
	joinLobby(t, fd.daemon, "alice", "tcp")
	fd.write(t, lobbyYAML+"sip: {listen: \"127.0.0.1:0\", max_dialogs_per_source: 1}\nccmp: {request_rate: 0.001}\n")
	out, err := adminCall(t, fd.daemon, reloadCommand)
	if err != nil || strings.Contains(out, "max_dialogs_per_source") || strings.Contains(out, "request_rate") {
		t.Fatalf("parley reload: %q %v (the keys are live: no restart needed)", out, err)
	}
	if code, _ := inviteCode(t, fd.daemon, "lobby", "bob"); code != 503 {
		t.Fatalf("second dialog from the source after max_dialogs_per_source 1: %d, want 503", code)
	}
	var codes []int
	for range 2 {
		res, err := http.Post("http://"+fd.httpAddr.String()+"/ccmp", "application/ccmp+xml", strings.NewReader("<x/>"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		codes = append(codes, res.StatusCode)
	}
	if codes[0] == 429 || codes[1] != 429 {
		t.Fatalf("CCMP after request_rate 0.001: HTTP %v, want the second 429", codes)
	}
}
