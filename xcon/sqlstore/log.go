package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/xcon"
)

// errClosed is returned by AppendLog after Close.
var errClosed = errors.New("sqlstore: store is closed")

type appendRequest struct {
	entries []xcon.LogEntry
	done    func(error) // called once, on the writer goroutine, when the batch is durable or failed
}

// AppendLog queues entries for the log writer and waits until they are
// committed. Calls arriving while a commit is in progress are written
// together in the next transaction, so one fsync serves them all (group
// commit). Seq is assigned per room and written back into entries.
//
// If ctx ends first AppendLog returns ctx.Err(), but the entries may still
// be committed.
func (s *Store) AppendLog(ctx context.Context, entries []xcon.LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	// The writer works on a copy, so a caller that gives up (ctx) may reuse
	// its slice at once; numbers are copied back on success.
	own := slices.Clone(entries)
	result := make(chan error, 1)
	if err := s.enqueueLog(ctx, &appendRequest{entries: own, done: func(err error) { result <- err }}); err != nil {
		return err
	}
	select {
	case err := <-result:
		if err == nil {
			for i := range entries {
				entries[i].Seq, entries[i].Time = own[i].Seq, own[i].Time
			}
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AppendLogAsync queues entries for the next group commit and returns at once; done gets the
// outcome once they are durable, on the store's writer or fsync goroutine, in the order the
// calls were made. The
// store owns entries from now on. It waits only while the writer's queue is full.
func (s *Store) AppendLogAsync(entries []xcon.LogEntry, done func(error)) {
	if len(entries) == 0 {
		done(nil)
		return
	}
	if err := s.enqueueLog(context.Background(), &appendRequest{entries: entries, done: done}); err != nil {
		done(err)
	}
}

func (s *Store) enqueueLog(ctx context.Context, req *appendRequest) error {
	s.logMu.RLock()
	defer s.logMu.RUnlock()
	if s.logClosed {
		return errClosed
	}
	select {
	case s.logReqs <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LogStats are the group commit's counters since Open: commits, entries written, and the time
// spent committing (inserts and fsync).
type LogStats struct {
	Commits, Entries uint64
	CommitTime       time.Duration // inserts and COMMIT (with synchronous FULL, the fsync is counted apart)
	Syncs            uint64        // fsyncs of the WAL made after commits (synchronous FULL)
	SyncTime         time.Duration
}

type logStats struct{ commits, entries, nanos atomic.Uint64 }

// LogStats returns the group commit's counters, for metrics.
func (s *Store) LogStats() LogStats {
	st := LogStats{Commits: s.logCount.commits.Load(), Entries: s.logCount.entries.Load(),
		CommitTime: time.Duration(s.logCount.nanos.Load())}
	if s.sync != nil {
		st.Syncs, st.SyncTime = s.sync.syncs.Load(), time.Duration(s.sync.nanos.Load())
	}
	return st
}

// logWriter owns all log inserts. It takes whatever is queued (up to
// maxBatch entries) and commits it in one transaction.
func (s *Store) logWriter() {
	defer close(s.logDone)
	var batch []*appendRequest
	var window *time.Timer
	for req := range s.logReqs {
		batch = append(batch[:0], req)
		n := len(req.entries)
		var windowEnd <-chan time.Time
		if s.window > 0 {
			if window == nil {
				window = time.NewTimer(s.window)
			} else {
				window.Reset(s.window)
			}
			windowEnd = window.C
		}
	drain:
		for n < s.maxBatch {
			select {
			case r, ok := <-s.logReqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
				n += len(r.entries)
				continue
			default:
			}
			if windowEnd == nil {
				break
			}
			select {
			case r, ok := <-s.logReqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
				n += len(r.entries)
			case <-windowEnd:
				windowEnd = nil
				break drain
			}
		}
		if windowEnd != nil {
			window.Stop() // since Go 1.23 a stopped timer delivers nothing stale after Reset
		}
		s.commitLog(batch, n)
		clear(batch)
	}
}

// commitLog writes a batch of n entries and answers its requests once it is durable; the
// counters include it before anyone is answered.
func (s *Store) commitLog(batch []*appendRequest, n int) {
	t0 := time.Now()
	// Background context: callers may give up waiting, but a batch that
	// other callers share must not be aborted by one of them.
	ctx := context.Background()
	failed := make(map[*appendRequest]error)
	err := s.commitTx(ctx, func(tx *sql.Tx) error {
		clear(failed)
		next, err := s.lockSeqs(ctx, tx, batch)
		if err != nil {
			return err
		}
		used := make(map[string]bool)
		for _, req := range batch {
			if err := assignSeqs(req, next, used); err != nil {
				failed[req] = err
			}
		}
		if err := s.insertLog(ctx, tx, batch, failed); err != nil {
			return err
		}
		upd := tx.StmtContext(ctx, s.seqUpdate)
		for _, room := range sortedKeys(used) {
			if _, err := upd.ExecContext(ctx, next[room], room); err != nil {
				return err
			}
		}
		return nil
	})
	s.logCount.commits.Add(1)
	s.logCount.entries.Add(uint64(n))
	if s.checkpoints != nil {
		s.checkpoints.committed()
	}
	s.logCount.nanos.Add(uint64(time.Since(t0)))
	s.countFailure(err)
	answer := func(reqs []*appendRequest, syncErr error) {
		s.countFailure(syncErr)
		if err == nil && syncErr == nil && s.onCommit != nil {
			s.onCommit(time.Since(t0))
		}
		for _, req := range reqs {
			switch {
			case err != nil:
				req.done(fmt.Errorf("sqlstore: append log: %w", err))
			case syncErr != nil:
				req.done(fmt.Errorf("sqlstore: append log: %w", syncErr))
			default:
				req.done(failed[req])
			}
		}
	}
	if s.sync == nil {
		answer(batch, nil)
		return
	}
	// Answered once the WAL is on disk; the writer goes on with the next batch meanwhile (the
	// caller reuses batch, so the answer keeps its own copy).
	reqs := slices.Clone(batch)
	s.sync.after(func(syncErr error) { answer(reqs, syncErr) })
}

// lockSeqs reads (and, where writers run concurrently, locks: Dialect.RowLock) the last log
// sequence number of every room the batch names, in name order, so that two writers
// committing to the same rooms take their locks in the same order and cannot deadlock. Rooms
// that do not exist are absent from the map.
func (s *Store) lockSeqs(ctx context.Context, tx *sql.Tx, batch []*appendRequest) (map[string]int64, error) {
	want := make(map[string]bool)
	for _, req := range batch {
		for i := range req.entries {
			want[roomKey(req.entries[i].Room)] = true
		}
	}
	next := make(map[string]int64, len(want))
	sel := tx.StmtContext(ctx, s.seqSelect)
	for _, room := range sortedKeys(want) {
		var seq int64
		err := sel.QueryRowContext(ctx, room).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		next[room] = seq
	}
	return next, nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// assignSeqs numbers a request's entries, advancing next (room -> last seq assigned) and
// marking the rooms used; a request naming an unknown room fails as a whole and consumes no
// numbers.
func assignSeqs(req *appendRequest, next map[string]int64, used map[string]bool) error {
	for i := range req.entries {
		room := roomKey(req.entries[i].Room)
		if _, ok := next[room]; !ok {
			return fmt.Errorf("sqlstore: append log: conference %q: %w", room, xcon.ErrNotFound)
		}
	}
	now := time.Now()
	for i := range req.entries {
		e := &req.entries[i]
		room := roomKey(e.Room)
		next[room]++
		used[room] = true
		e.Seq = next[room]
		if e.Time.IsZero() {
			e.Time = now
		}
	}
	return nil
}

// insertLog writes the batch as one segment per room (segment.go): a handful of rows however
// many messages the commit carries.
func (s *Store) insertLog(ctx context.Context, tx *sql.Tx, batch []*appendRequest, failed map[*appendRequest]error) error {
	segs := map[string]*segment{}
	var order []string
	need := map[string]int{} // each segment's encoded size, so that its buffer is allocated once
	for _, req := range batch {
		if failed[req] != nil {
			continue
		}
		for i := range req.entries {
			need[roomKey(req.entries[i].Room)] += encodedSize(&req.entries[i])
		}
	}
	for _, req := range batch {
		if failed[req] != nil {
			continue
		}
		for i := range req.entries {
			e := &req.entries[i]
			room := roomKey(e.Room)
			g := segs[room]
			if g == nil {
				g = &segment{data: make([]byte, 0, need[room])}
				segs[room] = g
				order = append(order, room)
			}
			g.add(e)
		}
	}
	stmt := tx.StmtContext(ctx, s.segInsert)
	for _, room := range order {
		g := segs[room]
		if _, err := stmt.ExecContext(ctx, room, g.firstSeq, g.lastSeq, g.firstAt, g.lastAt, g.count, g.data); err != nil {
			return err
		}
	}
	return nil
}

const insertSegmentSQL = `INSERT INTO log_segments (room, first_seq, last_seq, first_at, last_at, entries, data)
	VALUES ($1, $2, $3, $4, $5, $6, $7)`

// insertSegment writes one segment outside the hot path (migrations, purges).
func (s *Store) insertSegment(ctx context.Context, tx *sql.Tx, room string, g *segment) error {
	_, err := tx.ExecContext(ctx, s.sql(insertSegmentSQL), room, g.firstSeq, g.lastSeq, g.firstAt, g.lastAt, g.count, g.data)
	return err
}

// History returns the last limit messages of a room's channel (every channel
// when channel is ""), oldest first. limit <= 0 returns nothing.
func (s *Store) History(ctx context.Context, room, channel string, limit int) ([]xcon.LogEntry, error) {
	return s.HistoryBetween(ctx, room, channel, time.Time{}, time.Time{}, limit)
}

// HistoryBetween returns the messages of a room's channel ("" = every channel) logged in
// [from, to] (a zero bound is open), oldest first, at most limit: the newest ones when more
// match (session-chat §5.3). Segments are read newest first until limit entries match.
func (s *Store) HistoryBetween(ctx context.Context, room, channel string, from, to time.Time, limit int) ([]xcon.LogEntry, error) {
	room = roomKey(room)
	if limit <= 0 {
		return nil, s.roomExists(ctx, room)
	}
	lo, hi := int64(0), int64(1<<63-1)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if !to.IsZero() {
		hi = to.UnixNano()
	}
	rows, err := s.r.QueryContext(ctx, s.sql(`SELECT first_seq, data FROM log_segments
		WHERE room = $1 AND last_at >= $2 AND first_at <= $3 ORDER BY first_seq DESC`), room, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []xcon.LogEntry
	for len(out) < limit && rows.Next() {
		var first int64
		var data []byte
		if err := rows.Scan(&first, &data); err != nil {
			return nil, err
		}
		entries, err := decodeSegment(room, first, data)
		if err != nil {
			return nil, fmt.Errorf("%w (room %q, seq %d)", err, room, first)
		}
		for i := len(entries) - 1; i >= 0 && len(out) < limit; i-- {
			e := &entries[i]
			at := e.Time.UnixNano()
			if (channel == "" || e.Channel == channel) && at >= lo && at <= hi {
				out = append(out, *e)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, s.roomExists(ctx, room)
	}
	slices.Reverse(out)
	return out, nil
}

// PurgeLog applies a room's retention: it deletes messages logged before before (zero: no age
// limit) and all but the newest keep (0: no count limit), returning how many went. Segments
// wholly past the limits are deleted; one that straddles a limit is written again without the
// entries that go.
func (s *Store) PurgeLog(ctx context.Context, room string, before time.Time, keep int) (int64, error) {
	room = roomKey(room)
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		if s.d.RowLock != "" {
			// Purges of one room (two processes applying its retention) run one after the
			// other: both rewriting one segment would collide on its key.
			var seq int64
			err := tx.StmtContext(ctx, s.seqSelect).QueryRowContext(ctx, room).Scan(&seq)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, s.sql(`SELECT first_seq, first_at, last_at, entries, data FROM log_segments
			WHERE room = $1 ORDER BY first_seq DESC`), room)
		if err != nil {
			return err
		}
		type change struct {
			first int64
			keep  []xcon.LogEntry // nil: delete the segment
		}
		var changes []change
		kept := 0
		cut := before.UnixNano()
		for rows.Next() {
			var first, firstAt, lastAt int64
			var count int
			var data []byte
			if err := rows.Scan(&first, &firstAt, &lastAt, &count, &data); err != nil {
				rows.Close()
				return err
			}
			countFull := keep > 0 && kept >= keep
			switch {
			case countFull || !before.IsZero() && lastAt < cut:
				n += int64(count) // every entry goes
				changes = append(changes, change{first: first})
				continue
			case (keep <= 0 || kept+count <= keep) && (before.IsZero() || firstAt >= cut):
				kept += count // every entry stays
				continue
			}
			entries, err := decodeSegment(room, first, data)
			if err != nil {
				rows.Close()
				return err
			}
			var stay []xcon.LogEntry
			for i := len(entries) - 1; i >= 0; i-- {
				e := entries[i]
				if (keep > 0 && kept >= keep) || (!before.IsZero() && e.Time.UnixNano() < cut) {
					n++
					continue
				}
				kept++
				stay = append(stay, e)
			}
			if len(stay) == len(entries) {
				continue
			}
			slices.Reverse(stay)
			changes = append(changes, change{first, stay})
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		del := s.sql(`DELETE FROM log_segments WHERE room = $1 AND first_seq = $2`)
		for _, c := range changes {
			if _, err := tx.ExecContext(ctx, del, room, c.first); err != nil {
				return err
			}
			if len(c.keep) == 0 {
				continue
			}
			var g segment
			for i := range c.keep {
				g.add(&c.keep[i])
			}
			if err := s.insertSegment(ctx, tx, room, &g); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}
