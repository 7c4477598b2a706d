package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/xcon"
)

// TestAuditRetention: audit rows older than audit_retention are deleted by the purge loop
// (which runs at start), younger ones kept, with a log line.
func TestAuditRetention(t *testing.T) {
	cfg := testConfig(t)
	d := startConfigured(t, cfg)
	ctx := context.Background()
	if _, err := runRoom(t, d, "create", "ledger"); err != nil {
		t.Fatal(err)
	}
	old := xcon.AuditEntry{Room: "ledger", Time: time.Now().Add(-2 * time.Hour), Principal: "root", Request: "conf", Operation: "update", Code: 200}
	if err := d.store.AppendAudit(ctx, old); err != nil {
		t.Fatal(err)
	}
	if rows, _ := d.focus.Audit(ctx, "ledger", 10); len(rows) != 2 {
		t.Fatalf("audit before the retention applies: %+v", rows)
	}
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}
	cfg.AuditRetention = time.Hour
	var log syncBuffer
	again, err := startDaemon(ctx, cfg, slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	defer again.shutdown()
	eventually(t, "the old audit row purged", func() bool {
		rows, _ := again.focus.Audit(ctx, "ledger", 10)
		return len(rows) == 1
	})
	rows, _ := again.focus.Audit(ctx, "ledger", 10)
	if rows[0].Operation != "create" || time.Since(rows[0].Time) > time.Minute {
		t.Fatalf("row kept: %+v", rows[0])
	}
	eventually(t, "log line", func() bool {
		return strings.Contains(log.String(), `msg="audit retention applied" subsystem=focus purged=1 audit_retention=1h0m0s`)
	})
}

// TestShutdownWaitsForPurge: a focus stopped right after its start lets the log retention of
// its rooms finish or stop cleanly before the store closes: it never logs that the retention
// failed.
func TestShutdownWaitsForPurge(t *testing.T) {
	ctx := context.Background()
	for i := range 5 {
		cfg := testConfig(t)
		for j := range 40 {
			cfg.Rooms = append(cfg.Rooms, configRoomKeep(fmt.Sprintf("kept%d", j)))
		}
		var log syncBuffer
		d, err := startDaemon(ctx, cfg, slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo})))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.shutdown(); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(log.String(), "retention not applied") {
			t.Fatalf("run %d: retention failed at shutdown:\n%s", i, log.String())
		}
	}
}

func configRoomKeep(name string) configs.Room {
	return configs.Room{Name: name, Logging: true, KeepFor: time.Hour, KeepMessages: 10}
}
