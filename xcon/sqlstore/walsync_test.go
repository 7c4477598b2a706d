package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
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
	// The fsyncs overlap: the one that answered may not be the last to be counted.
	waitFor(t, func() bool { return s.LogStats().Syncs-before >= 2 })
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
	if err := <-done; !errors.Is(err, broken) || !errors.Is(err, xcon.ErrNotDurable) || errors.Is(err, xcon.ErrFull) {
		t.Fatalf("append answered %v, want the fsync error, not durable", err)
	}
	if err := s.CreateConference(ctx, room("annex")); !errors.Is(err, broken) || !errors.Is(err, xcon.ErrNotDurable) {
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

// TestLaterSyncAnswersEarlierCommits: fsyncs overlap, and one that returns answers every commit
// made before it began, in order, although an earlier fsync is still running.
func TestLaterSyncAnswersEarlierCommits(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	if err := s.CreateConference(ctx, room("lobby")); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var unblock sync.Once
	defer unblock.Do(func() { close(release) }) // before Close, which waits for the fsyncs
	var calls atomic.Int32
	s.sync.fsync = func() error {
		if calls.Add(1) == 1 {
			<-release // the first fsync hangs on the disk
		}
		return s.sync.syncFile()
	}
	done := make(chan string, 2)
	s.AppendLogAsync([]xcon.LogEntry{{Room: "lobby", Channel: "main", Body: []byte("one")}}, func(err error) { done <- "one" })
	waitFor(t, func() bool { return calls.Load() == 1 })
	s.AppendLogAsync([]xcon.LogEntry{{Room: "lobby", Channel: "main", Body: []byte("two")}}, func(err error) { done <- "two" })
	for _, want := range []string{"one", "two"} {
		select {
		case got := <-done:
			if got != want {
				t.Fatalf("answered %q, want %q first", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q not answered while the first fsync hangs: the second fsync did not cover it", want)
		}
	}
	unblock.Do(func() { close(release) })
	if calls.Load() < 2 {
		t.Fatalf("%d fsyncs, want a second one started while the first ran", calls.Load())
	}
}

// TestCheckpointsBesideTheWriter: the writer never checkpoints (wal_autocheckpoint 0), so a
// WAL that grows past the threshold is copied into the database file by the checkpointer while
// the store serves.
func TestCheckpointsBesideTheWriter(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	defer s.Close()
	if err := s.CreateConference(ctx, room("lobby")); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 16<<10)
	for range 4 * walCheckpointBytes / len(body) {
		if err := s.AppendLog(ctx, []xcon.LogEntry{{Room: "lobby", Channel: "main", ContentType: "text/plain", Body: body}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool {
		st, err := os.Stat(filepath.Join(dir, "parley.db"))
		return err == nil && st.Size() > walCheckpointBytes
	})
}
