package sqlstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/xcon"
)

// TestBackupWhileOpen: a backup taken while the store is open holds its rooms and log, opens as
// a store of its own, and is not written over a file that exists.
func TestBackupWhileOpen(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	if err := s.CreateConference(ctx, room("lobby")); err != nil {
		t.Fatal(err)
	}
	entry := xcon.LogEntry{Room: "lobby", Channel: "chat", Time: time.Now(), SenderID: "xcon-userid:alice@example.com",
		ContentType: "text/plain", Body: []byte("kept")}
	if err := s.AppendLog(ctx, []xcon.LogEntry{entry}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "restore")
	target := filepath.Join(dir, "parley.db")
	if err := s.Backup(ctx, target); err != nil {
		t.Fatal(err)
	}
	if err := s.Backup(ctx, target); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second backup to the same file: %v", err)
	}
	restored := openStore(t, dir)
	if names, err := restored.Conferences(ctx); err != nil || len(names) != 1 || names[0] != "lobby" {
		t.Fatalf("rooms of the backup: %v %v", names, err)
	}
	if h, err := restored.History(ctx, "lobby", "chat", 10); err != nil || len(h) != 1 || string(h[0].Body) != "kept" {
		t.Fatalf("log of the backup: %v %v", h, err)
	}
}
