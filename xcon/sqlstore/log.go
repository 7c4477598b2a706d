package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
// outcome once they are durable, on the writer goroutine, in the order the calls were made. The
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
		s.commitLog(batch)
		clear(batch)
	}
}

func (s *Store) commitLog(batch []*appendRequest) {
	// Background context: callers may give up waiting, but a batch that
	// other callers share must not be aborted by one of them.
	ctx := context.Background()
	failed := make(map[*appendRequest]error)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		clear(failed)
		next := make(map[string]int64) // room -> last seq assigned
		var rooms []string
		for _, req := range batch {
			if err := s.assignSeqs(ctx, tx, req, next, &rooms); err != nil {
				if !errors.Is(err, xcon.ErrNotFound) {
					return err
				}
				failed[req] = err
			}
		}
		if err := s.insertLog(ctx, tx, batch, failed); err != nil {
			return err
		}
		upd := s.sql(`UPDATE conferences SET log_seq = $1 WHERE name = $2`)
		for _, room := range rooms {
			if _, err := tx.ExecContext(ctx, upd, next[room], room); err != nil {
				return err
			}
		}
		return nil
	})
	for _, req := range batch {
		if err != nil {
			req.done(fmt.Errorf("sqlstore: append log: %w", err))
		} else {
			req.done(failed[req])
		}
	}
}

// assignSeqs numbers a request's entries; a request naming an unknown room
// fails as a whole and consumes no numbers.
func (s *Store) assignSeqs(ctx context.Context, tx *sql.Tx, req *appendRequest, next map[string]int64, rooms *[]string) error {
	for i := range req.entries {
		room := roomKey(req.entries[i].Room)
		if _, ok := next[room]; ok {
			continue
		}
		var seq int64
		err := tx.QueryRowContext(ctx, s.sql(`SELECT log_seq FROM conferences WHERE name = $1`+s.d.RowLock), room).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlstore: append log: conference %q: %w", room, xcon.ErrNotFound)
		}
		if err != nil {
			return err
		}
		next[room] = seq
		*rooms = append(*rooms, room)
	}
	now := time.Now()
	for i := range req.entries {
		e := &req.entries[i]
		room := roomKey(e.Room)
		next[room]++
		e.Seq = next[room]
		if e.Time.IsZero() {
			e.Time = now
		}
	}
	return nil
}

const (
	logColumns = 9
	// maxRowsPerInsert stays far below SQLite's 32766 bound variables.
	maxRowsPerInsert = 256 // a power of two
)

// insertLog writes the batch with multi-row INSERTs whose row counts are
// powers of two, so that a handful of prepared statements (cached on the
// writer connection) cover every batch size and SQLite parses nothing in
// the hot path.
func (s *Store) insertLog(ctx context.Context, tx *sql.Tx, batch []*appendRequest, failed map[*appendRequest]error) error {
	var rows []*xcon.LogEntry
	for _, req := range batch {
		if failed[req] != nil {
			continue
		}
		for i := range req.entries {
			rows = append(rows, &req.entries[i])
		}
	}
	args := make([]any, 0, min(len(rows), maxRowsPerInsert)*logColumns)
	for len(rows) > 0 {
		n := maxRowsPerInsert
		for n > len(rows) {
			n /= 2
		}
		stmt := s.logStmts[n]
		args = args[:0]
		for _, e := range rows[:n] {
			body := e.Body
			if body == nil {
				body = []byte{}
			}
			args = append(args, roomKey(e.Room), e.Seq, e.Channel, e.Time.UnixNano(), e.SenderID, e.SenderNick, e.Recipient, e.ContentType, body)
		}
		if _, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// prepareLogInserts prepares the INSERTs of 1, 2, 4, ... maxRowsPerInsert
// rows on the writer connection. It must run outside any transaction: the
// writer pool has one connection, which a transaction holds.
func (s *Store) prepareLogInserts(ctx context.Context) error {
	s.logStmts = make(map[int]*sql.Stmt)
	for n := 1; n <= maxRowsPerInsert; n *= 2 {
		var b strings.Builder
		b.WriteString(`INSERT INTO message_log (room, seq, channel, at, sender_id, sender_nick, recipient, content_type, body) VALUES `)
		p := 1
		for r := 0; r < n; r++ {
			if r > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			for c := 0; c < logColumns; c++ {
				if c > 0 {
					b.WriteByte(',')
				}
				b.WriteString("$" + strconv.Itoa(p))
				p++
			}
			b.WriteByte(')')
		}
		st, err := s.w.PrepareContext(ctx, s.sql(b.String()))
		if err != nil {
			return fmt.Errorf("sqlstore: prepare log insert: %w", err)
		}
		s.logStmts[n] = st
	}
	return nil
}

// History returns the last limit messages of a room's channel (every channel
// when channel is ""), oldest first. limit <= 0 returns nothing.
func (s *Store) History(ctx context.Context, room, channel string, limit int) ([]xcon.LogEntry, error) {
	return s.HistoryBetween(ctx, room, channel, time.Time{}, time.Time{}, limit)
}

// HistoryBetween returns the messages of a room's channel ("" = every channel) logged in
// [from, to] (a zero bound is open), oldest first, at most limit: the newest ones when more
// match (seed §5.3).
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
	q := `SELECT seq, channel, at, sender_id, sender_nick, recipient, content_type, body FROM message_log
		WHERE room = $1 AND ($2 = '' OR channel = $3) AND at >= $4 AND at <= $5 ORDER BY seq DESC LIMIT $6`
	rows, err := s.r.QueryContext(ctx, s.sql(q), room, channel, channel, lo, hi, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []xcon.LogEntry
	for rows.Next() {
		e := xcon.LogEntry{Room: room}
		var at int64
		if err := rows.Scan(&e.Seq, &e.Channel, &at, &e.SenderID, &e.SenderNick, &e.Recipient, &e.ContentType, &e.Body); err != nil {
			return nil, err
		}
		e.Time = time.Unix(0, at)
		out = append(out, e)
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
// limit) and all but the newest keep (0: no count limit), returning how many went.
func (s *Store) PurgeLog(ctx context.Context, room string, before time.Time, keep int) (int64, error) {
	room = roomKey(room)
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if !before.IsZero() {
			res, err := tx.ExecContext(ctx, s.sql(`DELETE FROM message_log WHERE room = $1 AND at < $2`), room, before.UnixNano())
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		if keep > 0 {
			res, err := tx.ExecContext(ctx, s.sql(`DELETE FROM message_log WHERE room = $1 AND seq <=
				(SELECT seq FROM message_log WHERE room = $2 ORDER BY seq DESC LIMIT 1 OFFSET $3)`), room, room, keep)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	return n, err
}
