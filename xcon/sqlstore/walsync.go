package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/xcon"
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

// maxSyncsInFlight is how many fsyncs of the WAL may run at once. A commit that returns while
// one runs need not wait for it to end before its own begins: an fdatasync flushes whatever the
// file holds when it starts, and the disk serves overlapping ones faster than one after the other.
const maxSyncsInFlight = 2

// syncFlight is one fsync and the requests it answers.
type syncFlight struct {
	batch []func(error)
	err   error
}

// run gathers the requests queued meanwhile, starts an fsync for them as soon as fewer than
// maxSyncsInFlight run, and answers them in order: when an fsync returns, every request queued
// before it began is durable, those of earlier fsyncs still running included (it began after
// their commits returned too).
func (w *walSync) run() {
	defer close(w.done)
	results := make(chan *syncFlight, maxSyncsInFlight)
	var flying []*syncFlight // in the order they began
	var pending []func(error)
	reqs := w.reqs
	for reqs != nil || len(flying) > 0 || len(pending) > 0 {
		if len(pending) > 0 && (w.err != nil || len(flying) < maxSyncsInFlight) {
			if w.err != nil && len(flying) == 0 {
				answerAll(pending, w.err) // nothing may be promised after a failure
				pending = nil
				continue
			}
			if w.err == nil {
				f := &syncFlight{batch: pending}
				pending = nil
				flying = append(flying, f)
				go w.syncFor(f, results)
				continue
			}
		}
		select {
		case fn, ok := <-reqs:
			if !ok {
				reqs = nil
				continue
			}
			pending = append(pending, fn)
		drain:
			for {
				select {
				case fn, ok := <-reqs:
					if !ok {
						reqs = nil
						break drain
					}
					pending = append(pending, fn)
				default:
					break drain
				}
			}
		case f := <-results:
			if f.err != nil && w.err == nil {
				w.err = fmt.Errorf("%w: sqlstore: fsync of the write-ahead log failed; restart once the disk is healthy: %w", xcon.ErrNotDurable, f.err)
			}
			// Earlier fsyncs still running are answered now and forgotten when they return.
			i := slices.Index(flying, f)
			for _, g := range flying[:i+1] {
				if g.batch != nil {
					answerAll(g.batch, w.err) // w.err, once set, also fails what a later fsync "covered"
					g.batch = nil
				}
			}
			flying = slices.Delete(flying, i, i+1)
		}
	}
}

// syncFor runs one fsync for f and reports it on results.
func (w *walSync) syncFor(f *syncFlight, results chan<- *syncFlight) {
	t0 := time.Now()
	f.err = w.fsync()
	w.syncs.Add(1)
	w.nanos.Add(uint64(time.Since(t0)))
	results <- f
}

func answerAll(batch []func(error), err error) {
	for _, fn := range batch {
		fn(err)
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
