package sqlstore

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/xcon"
)

// TestCommitObserverAndStoreErrors: the commit observer sees every group commit, with its
// duration; answers about the data (exists, not found) are not store errors.
func TestCommitObserverAndStoreErrors(t *testing.T) { onBackends(t, testCommitObserverAndStoreErrors) }

func testCommitObserverAndStoreErrors(t *testing.T, b backend) {
	ctx := context.Background()
	var commits atomic.Int64
	var total atomic.Int64
	s := b.open(t, WithCommitObserver(func(d time.Duration) {
		commits.Add(1)
		total.Add(int64(d))
	}))
	defer s.Close()
	if err := s.CreateConference(ctx, room("lobby")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.AppendLog(ctx, []xcon.LogEntry{{Room: "lobby", Channel: "main", Body: []byte{byte('a' + i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := commits.Load(); got != int64(s.LogStats().Commits) || got != 3 || total.Load() <= 0 {
		t.Fatalf("observer saw %d commits (%v), the store counts %d", got, time.Duration(total.Load()), s.LogStats().Commits)
	}
	if err := s.CreateConference(ctx, room("lobby")); !errors.Is(err, xcon.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	if err := s.DeleteConference(ctx, "nowhere"); !errors.Is(err, xcon.ErrNotFound) {
		t.Fatalf("delete of nothing: %v", err)
	}
	if n := s.StoreErrors(); n != 0 {
		t.Fatalf("store errors %d after answers about the data", n)
	}
	s.w.Close() // the database goes away under the store
	if err := s.UpdateConference(ctx, room("lobby")); err == nil {
		t.Fatal("update on a closed database succeeded")
	}
	if n := s.StoreErrors(); n != 1 {
		t.Fatalf("store errors %d after a failed write, want 1", n)
	}
}
