package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/configs"
)

// TestDrainWaitsForMembers: `parley drain` refuses new INVITEs, SUBSCRIBEs and OPTIONS probes
// with 503 and Retry-After, makes /healthz answer 503, tells the members with a notice from
// their room, and is over as soon as the last one has left.
func TestDrainWaitsForMembers(t *testing.T) {
	cfg := testConfig(t)
	cfg.DrainTimeout = 10 * time.Second
	d := startConfigured(t, cfg)
	defer d.shutdown()
	alice := joinLobby(t, d, "alice", "tcp")

	out, err := adminCall(t, d, drainCommand)
	if err != nil || !strings.Contains(out, "draining: 1 participants") {
		t.Fatalf("parley drain: %q %v", out, err)
	}
	if n := alice.msrp.nextMessage(t); !bytes.Contains(n.Body, []byte("From: <sip:lobby@example.net>")) || !bytes.Contains(n.Body, []byte("restarting")) {
		t.Fatalf("alice got %q, not the room's drain notice", n.Body)
	}
	bob := newSIPPeer(t, "bob", "example.com")
	_, res, _ := bob.invite(t, d, "lobby", "tcp", newMSRPPeer(t).offer(t, "main"))
	if res == nil || res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
		t.Fatalf("INVITE while draining: %v", res)
	}
	for _, method := range []sip.RequestMethod{sip.OPTIONS, sip.SUBSCRIBE} {
		req := sip.NewRequest(method, sip.Uri{Scheme: "sip", User: "lobby", Host: "127.0.0.1", Port: d.sip.Port(), UriParams: tcpParams()})
		req.SetTransport("TCP")
		if method == sip.SUBSCRIBE {
			req.AppendHeader(sip.NewHeader("Event", "conference"))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		res, err := bob.client.Do(ctx, req)
		cancel()
		if err != nil || res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
			t.Fatalf("%s while draining: %v %v", method, res, err)
		}
	}
	if res, err := http.Get("http://" + d.httpAddr.String() + "/healthz"); err != nil || res.StatusCode != 503 {
		t.Fatalf("/healthz while draining: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	select {
	case <-d.admin.drained:
		t.Fatal("drain over while alice is still in")
	case <-time.After(200 * time.Millisecond):
	}
	// Alice is still in her dialog: it goes on while draining.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := alice.dlg.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.admin.drained:
	case <-time.After(3 * time.Second):
		t.Fatal("drain not over 3s after the last member left")
	}
}

// TestDrainTimeoutShutsDown: on SIGUSR2 the focus drains; a member who stays is ended after
// drain_timeout, when the daemon shuts down as on SIGTERM (his BYE).
func TestDrainTimeoutShutsDown(t *testing.T) {
	cfg := testConfig(t)
	cfg.DrainTimeout = 500 * time.Millisecond
	d := startConfigured(t, cfg)
	alice := joinLobby(t, d, "alice", "tcp")
	start := time.Now()
	stop := signalSelf(t, d, syscall.SIGUSR2)
	select {
	case <-alice.sip.byes:
	case <-time.After(3 * time.Second):
		t.Fatal("no BYE within 3s of a drain with drain_timeout 500ms")
	}
	if took := time.Since(start); took < cfg.DrainTimeout {
		t.Fatalf("shut down after %v, before drain_timeout", took)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.store.Conferences(context.Background()); err == nil {
		t.Error("database still open: the daemon did not shut down")
	}
}

// TestBackupAndRestore: `parley backup` copies the database while the focus serves; a focus
// started on the copy's directory has the rooms and the log. A backup is never written over an
// existing file.
func TestBackupAndRestore(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		c.Rooms = append(c.Rooms, configs.Room{Name: "annex"})
	})
	alice := joinLobby(t, d, "alice", "tcp")
	joinLobby(t, d, "bob", "tcp")
	tid := alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "kept in the backup"))
	if r := alice.msrp.response(t, tid); r.StatusCode != 200 {
		t.Fatalf("message: %d", r.StatusCode)
	}
	restoreDir := t.TempDir()
	file := filepath.Join(restoreDir, "parley.db")
	eventually(t, "message logged", func() bool {
		h, _ := d.store.History(context.Background(), "lobby", "", 10)
		return len(h) == 1
	})
	if out, err := adminCall(t, d, backupCommand, file); err != nil || !strings.Contains(out, file) {
		t.Fatalf("parley backup: %q %v", out, err)
	}
	if _, err := adminCall(t, d, backupCommand, file); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second backup to the same file: %v", err)
	}

	cfg := testConfig(t)
	cfg.DataDir = restoreDir
	restored, err := startDaemon(context.Background(), cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer restored.shutdown()
	if rooms := restored.focus.Rooms(); strings.Join(rooms, ",") != "annex,lobby" {
		t.Fatalf("rooms of the restored focus: %v", rooms)
	}
	h, err := restored.store.History(context.Background(), "lobby", "", 10)
	if err != nil || len(h) != 1 || !bytes.Contains(h[0].Body, []byte("kept in the backup")) {
		t.Fatalf("log of the restored focus: %v %v", h, err)
	}
}

// TestBackupRefusedForPostgres: with store.driver postgres the backup is refused, naming pg_dump.
func TestBackupRefusedForPostgres(t *testing.T) {
	d := startTestDaemon(t, nil)
	d.cfg.Store.Driver = configs.StorePostgres // what the command looks at; the store itself stays SQLite
	defer func() { d.cfg.Store.Driver = configs.StoreSQLite }()
	if _, err := adminCall(t, d, backupCommand, filepath.Join(t.TempDir(), "x.db")); err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Fatalf("backup with driver postgres: %v", err)
	}
}
