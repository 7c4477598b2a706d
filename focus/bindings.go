package focus

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/xcon"
)

// bindingWriter writes binding rows in batches behind the join path: who is connected now is
// kept in memory, and a crash loses at most the last batch, which start-up purges anyway.
type bindingWriter struct {
	store xcon.Store
	log   *slog.Logger

	mu      sync.Mutex
	pending []xcon.BindingChange

	saved atomic.Pointer[func(rooms []string)] // told the rooms of each batch written

	kick  chan struct{}
	syncs chan chan error
	stop  chan struct{}
	done  chan struct{}
}

func newBindingWriter(store xcon.Store, log *slog.Logger) *bindingWriter {
	w := &bindingWriter{store: store, log: log, kick: make(chan struct{}, 1), syncs: make(chan chan error),
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

func (w *bindingWriter) add(changes ...xcon.BindingChange) {
	if len(changes) == 0 {
		return
	}
	w.mu.Lock()
	w.pending = append(w.pending, changes...)
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// bindingBatchWindow is how long changes gather before they are written: a burst of joins
// becomes one transaction (one fsync) instead of one each.
const bindingBatchWindow = 100 * time.Millisecond

func (w *bindingWriter) loop() {
	defer close(w.done)
	var window <-chan time.Time
	for {
		select {
		case <-w.kick:
			if window == nil {
				window = time.After(bindingBatchWindow)
			}
		case <-window:
			window = nil
			w.flush()
		case reply := <-w.syncs:
			window = nil
			reply <- w.flush()
		case <-w.stop:
			w.flush()
			return
		}
	}
}

func (w *bindingWriter) flush() error {
	w.mu.Lock()
	batch := w.pending
	w.pending = nil
	w.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := w.store.SaveBindings(context.Background(), batch)
	if err != nil {
		w.log.Error("binding rows not written", "rows", len(batch), "err", err)
		return err
	}
	if saved := w.saved.Load(); saved != nil {
		var rooms []string
		for _, ch := range batch {
			room := ch.Room
			if room == "" && ch.Add != nil {
				room = ch.Add.Room
			}
			if !slices.Contains(rooms, room) {
				rooms = append(rooms, room)
			}
		}
		(*saved)(rooms)
	}
	return nil
}

// onSaved has fn told the rooms of every batch written from now on.
func (w *bindingWriter) onSaved(fn func(rooms []string)) { w.saved.Store(&fn) }

// sync returns once every change added before the call is written.
func (w *bindingWriter) sync(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case w.syncs <- reply:
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *bindingWriter) close(ctx context.Context) error {
	close(w.stop)
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
