package sqlstore

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/xcon"
)

// TestLogAnsweredOnlyOnceDurable: with synchronous FULL (the default) a logged message is
// answered only after an fsync of the WAL that began after its commit, while the writer is
// already free for the next batch; without the fsync it is never answered.
func TestLogAnsweredOnlyOnceDurable(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	if err := s.CreateConference(ctx, room("lobby")); err != nil {
		t.Fatal(err)
	}
	before := s.LogStats().Syncs
	release := make(chan struct{})
	var entered atomic.Int32
	s.sync.fsync = func() error {
		entered.Add(1)
		<-release
		return s.sync.syncFile()
	}
	done := make(chan error, 2)
	s.AppendLogAsync([]xcon.LogEntry{{Room: "lobby", Channel: "main", Body: []byte("one")}}, func(err error) { done <- err })
	waitFor(t, func() bool { return entered.Load() == 1 })
	// The first fsync is held: the commit is made (the writer took the next batch meanwhile),
	// but neither message may be answered yet.
	s.AppendLogAsync([]xcon.LogEntry{{Room: "lobby", Channel: "main", Body: []byte("two")}}, func(err error) { done <- err })
	waitFor(t, func() bool { return s.LogStats().Commits == 2 })
	select {
	case err := <-done:
		t.Fatalf("answered (%v) before the WAL was on disk", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if st := s.LogStats(); st.Syncs-before < 2 {
		t.Fatalf("stats %+v: want the second commit covered by an fsync of its own", st)
	}
}

// TestFailedSyncFailsWrites: an fsync failure reaches the logged message and every later write,
// since the page cache may have dropped what it held.
func TestFailedSyncFailsWrites(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	if err := s.CreateConference(ctx, room("lobby")); err != nil {
		t.Fatal(err)
	}
	broken := errors.New("I/O error")
	s.sync.fsync = func() error { return broken }
	done := make(chan error, 1)
	s.AppendLogAsync([]xcon.LogEntry{{Room: "lobby", Channel: "main", Body: []byte("one")}}, func(err error) { done <- err })
	if err := <-done; !errors.Is(err, broken) {
		t.Fatalf("append answered %v, want the fsync error", err)
	}
	if err := s.CreateConference(ctx, room("annex")); !errors.Is(err, broken) {
		t.Fatalf("a later write answered %v, want the fsync error", err)
	}
}

// TestNormalSyncHasNoWALSync: synchronous NORMAL leaves durability to SQLite's checkpoints.
func TestNormalSyncHasNoWALSync(t *testing.T) {
	s := openStore(t, t.TempDir(), WithSynchronous("NORMAL"))
	defer s.Close()
	if s.sync != nil {
		t.Fatal("NORMAL runs the WAL fsync")
	}
	if err := s.CreateConference(context.Background(), room("lobby")); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}
