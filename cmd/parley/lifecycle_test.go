package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/internal/peers"
)

// TestShutdownByesEveryone: shutting down sends every participant a BYE (in parallel, within
// shutdown_timeout) and closes the database.
func TestShutdownByesEveryone(t *testing.T) {
	cfg := testConfig(t)
	d := startConfigured(t, cfg)
	alice := joinLobby(t, d, "alice", "udp")
	bob := joinLobby(t, d, "bob", "tcp")

	start := time.Now()
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > cfg.ShutdownTimeout {
		t.Fatalf("shutdown took %v, more than shutdown_timeout %v", took, cfg.ShutdownTimeout)
	}
	for _, p := range []*participant{alice, bob} {
		select {
		case <-p.sip.byes:
		default:
			t.Errorf("%s received no BYE before shutdown returned", p.name)
		}
	}
	if _, err := d.store.Conferences(context.Background()); err == nil {
		t.Error("database still open after shutdown")
	}
}

// TestRestartKeepsLobby: the lobby is created on first start and found again on the next;
// nobody is shown connected after a restart.
func TestRestartKeepsLobby(t *testing.T) {
	cfg := testConfig(t)
	d := startConfigured(t, cfg)
	joinLobby(t, d, "alice", "tcp")
	if err := d.focus.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rows, err := d.store.Bindings(context.Background(), "lobby"); err != nil || len(rows) != 1 {
		t.Fatalf("bindings while alice is in: %d %v", len(rows), err)
	}
	// Simulate a crash: the bindings of a live participant are left behind in the database.
	d.store.Close()
	d.stopServing()
	d.endpoint.Close()
	d.sip.Close()

	d2 := startConfigured(t, cfg)
	defer d2.shutdown()
	names, err := d2.store.Conferences(context.Background())
	if err != nil || len(names) != 1 || names[0] != "lobby" {
		t.Fatalf("rooms after restart: %v %v", names, err)
	}
	if rows, err := d2.store.Bindings(context.Background(), "lobby"); err != nil || len(rows) != 0 {
		t.Fatalf("bindings after restart: %d %v", len(rows), err)
	}
	if users := present(d2.focus.Room("lobby").Snapshot().Users); len(users) != 0 {
		t.Fatalf("users after restart: %d", len(users))
	}
}

func testConfig(t *testing.T) *configs.Config {
	cfg := configs.Default()
	cfg.SIP.Listen, cfg.MSRP.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Domain = "example.net"
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startConfigured(t *testing.T, cfg *configs.Config) *daemon {
	t.Helper()
	d, err := startDaemon(context.Background(), cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runPeerClosers(t) })
	return d
}

// TestShutdownEndsSubscriptions: on shutdown every conference-event subscriber gets a final
// NOTIFY, terminated with reason probation (RFC 6665 §4.1.3: subscribe again later).
func TestShutdownEndsSubscriptions(t *testing.T) {
	xmllint := peers.Xmllint(t)
	d := startConfigured(t, testConfig(t))
	joinLobby(t, d, "alice", "tcp")
	for _, transport := range []string{"udp", "tcp"} {
		w := newSubscriber(t, "watcher-"+transport, transport)
		if res := w.subscribe(t, d, "lobby", 600); res.StatusCode != 200 {
			t.Fatalf("SUBSCRIBE over %s: %d", transport, res.StatusCode)
		}
		w.next(t, xmllint) // full state
		defer func() {
			for {
				n := w.next(t, xmllint)
				if strings.HasPrefix(n.state, "terminated") {
					if n.state != "terminated;reason=probation" {
						t.Errorf("%s: final Subscription-State %q", w.name, n.state)
					}
					return
				}
			}
		}()
	}
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}
}
