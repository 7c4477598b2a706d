package sqlstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// walSync makes commits durable by fsyncing the WAL itself, so that the fsync of one group
// commit overlaps the inserts of the next.
//
// With synchronous=FULL SQLite fsyncs the WAL inside COMMIT, and the single writer connection
// waits for the disk before it can start the next transaction: a logged room's rate is one batch
// per (insert + fsync). Here the writer runs synchronous=NORMAL — COMMIT writes the WAL frames
// into the page cache and returns — and this goroutine fsyncs the WAL file afterwards. A caller
// is told its commit is done only once an fsync that began after that commit has returned, which
// is what FULL promises (the WAL is on disk before the commit is acknowledged); recovery after a
// power loss replays the WAL up to the last frame whose checksum holds. Meanwhile the writer is
// already inserting the next batch. SQLite still syncs the WAL and the database file around its
// checkpoints itself (NORMAL does that).
type walSync struct {
	path  string // the database's -wal file
	mu    sync.RWMutex
	shut  bool // reqs is closed
	reqs  chan func(error)
	done  chan struct{}
	syncs atomic.Uint64
	nanos atomic.Uint64

	fsync func() error // the fsync of the WAL; a test may wrap it
	err   error        // the first fsync failure, kept: after one the page cache may have lost writes
}

func newWALSync(dbPath string) *walSync {
	w := &walSync{path: dbPath + "-wal", reqs: make(chan func(error), 4096), done: make(chan struct{})}
	w.fsync = w.syncFile
	return w
}

// syncFile fsyncs the WAL by name, never through a descriptor kept open: SQLite may remove the
// file when its last connection closes and create a new one. No WAL means nothing is waiting in
// one: what it held is in the database file, which SQLite synced when it checkpointed.
func (w *walSync) syncFile() error {
	f, err := os.Open(w.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	err = datasync(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// after calls fn once a commit that has already returned is durable (nil) or cannot be made so,
// in the order the calls were made.
func (w *walSync) after(fn func(error)) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.shut {
		fn(errClosed)
		return
	}
	w.reqs <- fn
}

// wait blocks until every commit that has returned is durable.
func (w *walSync) wait(ctx context.Context) error {
	res := make(chan error, 1)
	w.after(func(err error) { res <- err })
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run takes every request queued while the last fsync ran, fsyncs once for all of them, and
// answers them in order.
func (w *walSync) run() {
	defer close(w.done)
	var batch []func(error)
	for fn := range w.reqs {
		batch = append(batch[:0], fn)
	drain:
		for {
			select {
			case fn, ok := <-w.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, fn)
			default:
				break drain
			}
		}
		if w.err == nil {
			t0 := time.Now()
			if err := w.fsync(); err != nil {
				w.err = errors.Join(errors.New("sqlstore: fsync of the write-ahead log failed; restart once the disk is healthy"), err)
			}
			w.syncs.Add(1)
			w.nanos.Add(uint64(time.Since(t0)))
		}
		for i, fn := range batch {
			fn(w.err)
			batch[i] = nil
		}
	}
}

// close ends run once everything queued is answered.
func (w *walSync) close() {
	w.mu.Lock()
	if !w.shut {
		w.shut = true
		close(w.reqs)
	}
	w.mu.Unlock()
	<-w.done
}
