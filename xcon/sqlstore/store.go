package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/text/secure/precis"

	"github.com/parleychat/parley/xcon"
)

// Store implements xcon.Store on SQL.
type Store struct {
	d Dialect
	w *sql.DB // the single writer connection
	r *sql.DB // read-only pool

	logMu       sync.RWMutex // guards logClosed against sends on logReqs
	logClosed   bool
	logReqs     chan *appendRequest
	logDone     chan struct{}
	maxBatch    int
	window      time.Duration // how long a batch that is not full waits for more (WithCommitWindow)
	rebound     sync.Map      // query -> dialect form
	segInsert   *sql.Stmt     // INSERT of a log segment; read-only after Open
	seqSelect   *sql.Stmt     // a room's last log sequence number, read by each group commit
	seqUpdate   *sql.Stmt     // ... and written back
	logCount    logStats
	onCommit    func(time.Duration) // WithCommitObserver; nil for none
	failures    atomic.Uint64       // failed writes (StoreErrors)
	sync        *walSync            // fsyncs the WAL after commits (synchronous FULL); nil otherwise
	checkpoints *checkpointer       // SQLite: checkpoints beside the writer; nil on PostgreSQL

	// Binding writes run for every join and leave: prepared once, since
	// parsing the SQL costs more than executing it.
	bindUpsert, bindDelete *sql.Stmt
	node                   string // WithNode
}

var _ xcon.Store = (*Store)(nil)

// Option adjusts Open.
type Option func(*options)

type options struct {
	synchronous string
	maxBatch    int
	window      time.Duration
	onCommit    func(time.Duration)
	node        string
}

// WithNode names the node (process) this store serves among several sharing the database: the
// bindings it saves are that node's, PurgeBindings removes only them, and Heartbeat and
// PurgeDeadNodes keep the nodes table. Without it the node is "".
func WithNode(name string) Option {
	return func(o *options) { o.node = name }
}

// WithSynchronous sets SQLite's synchronous pragma. The default, "FULL",
// fsyncs the WAL on every commit; "NORMAL" survives a crash of the process
// but may lose the last commits on power loss. Benchmarks use it to measure
// what durability costs.
func WithSynchronous(mode string) Option {
	return func(o *options) { o.synchronous = mode }
}

// WithMaxLogBatch bounds how many log entries one group commit writes.
func WithMaxLogBatch(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxBatch = n
		}
	}
}

// WithCommitWindow lets a group commit that is not full wait up to d for more log entries
// before it is written, so that a light load still shares fsyncs. Zero (the default) writes as
// soon as the writer is free: under load, what arrives during one commit is the next batch.
func WithCommitWindow(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.window = d
		}
	}
}

// WithCommitObserver has fn called with the duration of every group commit of the log, from its
// first insert until it is durable (its fsync included), on the store's goroutines right after:
// a metric's histogram (lock-free) fits; anything that blocks delays the next answers.
func WithCommitObserver(fn func(time.Duration)) Option {
	return func(o *options) { o.onCommit = fn }
}

// Open opens (creating if needed) DIR/parley.db and brings its schema up to
// date.
func Open(ctx context.Context, dir string, opts ...Option) (*Store, error) {
	o := options{synchronous: "FULL", maxBatch: 4096}
	for _, f := range opts {
		f(&o)
	}
	switch strings.ToUpper(o.synchronous) {
	case "OFF", "NORMAL", "FULL", "EXTRA":
	default:
		return nil, fmt.Errorf("sqlstore: synchronous must be OFF, NORMAL, FULL or EXTRA, not %q", o.synchronous)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("sqlstore: create data directory: %w", err)
	}
	path := filepath.Join(dir, "parley.db")
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlstore: data directory %q must not contain '?' or '#'", dir)
	}
	sqliteSync := strings.ToUpper(o.synchronous)
	if sqliteSync == "FULL" {
		sqliteSync = "NORMAL" // FULL's fsync is made by walSync, after COMMIT, overlapping the next one
	}
	common := "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(" + sqliteSync + ")"
	w, err := sql.Open("sqlite", path+common+"&_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(0)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{d: SQLite, w: w, maxBatch: o.maxBatch, window: o.window, onCommit: o.onCommit, node: o.node}
	if strings.EqualFold(o.synchronous, "FULL") {
		s.sync = newWALSync(path)
		go s.sync.run()
	}
	fail := func() {
		if s.sync != nil {
			s.sync.close()
		}
		w.Close()
	}
	if err := w.PingContext(ctx); err != nil {
		fail()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		fail()
		return nil, err
	}
	r, err := sql.Open("sqlite", path+common+"&_pragma=query_only(1)")
	if err != nil {
		fail()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	s.r = r
	if err := s.prepareStatements(ctx); err != nil {
		fail()
		r.Close()
		return nil, err
	}
	ck, err := sql.Open("sqlite", path+common)
	if err != nil {
		fail()
		r.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	s.checkpoints = newCheckpointer(ck, path)
	s.startLogWriter()
	return s, nil
}

func (s *Store) startLogWriter() {
	s.logReqs = make(chan *appendRequest, 1024)
	s.logDone = make(chan struct{})
	go s.logWriter()
}

// Close stops the log writer after it has committed everything queued, then
// closes the database.
func (s *Store) Close() error {
	s.logMu.Lock()
	if s.logClosed {
		s.logMu.Unlock()
		return nil
	}
	s.logClosed = true
	close(s.logReqs)
	s.logMu.Unlock()
	<-s.logDone
	if s.sync != nil {
		s.sync.close()
	}
	s.segInsert.Close()
	s.seqSelect.Close()
	s.seqUpdate.Close()
	s.bindUpsert.Close()
	s.bindDelete.Close()
	var ckErr error
	if s.checkpoints != nil {
		ckErr = s.checkpoints.close()
	}
	if s.r == s.w {
		return errors.Join(ckErr, s.w.Close())
	}
	return errors.Join(ckErr, s.r.Close(), s.w.Close()) // the writer, closed last, checkpoints what is left
}

// prepareStatements prepares, on the writer, the statements the hot paths run.
func (s *Store) prepareStatements(ctx context.Context) error {
	var err error
	if s.segInsert, err = s.w.PrepareContext(ctx, s.sql(insertSegmentSQL)); err != nil {
		return fmt.Errorf("sqlstore: prepare log insert: %w", err)
	}
	if s.seqSelect, err = s.w.PrepareContext(ctx, s.sql(`SELECT log_seq FROM conferences WHERE name = $1`+s.d.RowLock)); err != nil {
		return fmt.Errorf("sqlstore: prepare log sequence read: %w", err)
	}
	if s.seqUpdate, err = s.w.PrepareContext(ctx, s.sql(`UPDATE conferences SET log_seq = $1 WHERE name = $2`)); err != nil {
		return fmt.Errorf("sqlstore: prepare log sequence write: %w", err)
	}
	upsert := s.d.Upsert("bindings", []string{"chat_id", "room", "user_id", "label", "channel", "nickname", "since", "node", "aor", "display"}, []string{"chat_id"})
	if s.d.AbortsTx {
		// A binding whose room is gone must be skipped without failing the transaction.
		upsert = guardedBindingUpsert
	}
	if s.bindUpsert, err = s.w.PrepareContext(ctx, upsert); err != nil {
		return fmt.Errorf("sqlstore: prepare binding upsert: %w", err)
	}
	if s.bindDelete, err = s.w.PrepareContext(ctx, s.sql(`DELETE FROM bindings WHERE chat_id = $1`)); err != nil {
		return fmt.Errorf("sqlstore: prepare binding delete: %w", err)
	}
	return nil
}

// guardedBindingUpsert is the binding upsert of a dialect whose transactions do not survive a
// failed statement (AbortsTx): it inserts nothing when the room is gone instead of failing on
// the foreign key. A room deleted by a concurrent transaction can still fail it; SaveBindings
// then runs the batch again.
const guardedBindingUpsert = `INSERT INTO bindings (chat_id, room, user_id, label, channel, nickname, since, node, aor, display)
	SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::bigint, $8::text, $9::text, $10::text
	WHERE EXISTS (SELECT 1 FROM conferences WHERE name = $2::text)
	ON CONFLICT (chat_id) DO UPDATE SET room = excluded.room, user_id = excluded.user_id, label = excluded.label,
		channel = excluded.channel, nickname = excluded.nickname, since = excluded.since, node = excluded.node,
		aor = excluded.aor, display = excluded.display`

// inTx runs f in a write transaction and returns once the commit is durable.
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) (err error) {
	defer func() { s.countFailure(err) }()
	if err = s.commitTx(ctx, f); err != nil {
		return err
	}
	return s.durable(ctx)
}

// durable waits until every commit made so far is on disk (walSync); at once without it.
func (s *Store) durable(ctx context.Context) error {
	if s.sync == nil {
		return nil
	}
	return s.sync.wait(ctx)
}

// commitTx runs f in a write transaction and commits it; with walSync the commit is not yet
// durable when it returns. A transaction that lost a deadlock or a serialization conflict to
// a concurrent writer (Dialect.IsRetryable) is run again, f included.
func (s *Store) commitTx(ctx context.Context, f func(*sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.commitTxOnce(ctx, f)
		if err != nil && s.d.IsFull != nil && s.d.IsFull(err) {
			// Nothing of the transaction was stored; the caller may say why.
			return fmt.Errorf("%w: %w", xcon.ErrFull, err)
		}
		if err == nil || s.d.IsRetryable == nil || !s.d.IsRetryable(err) || attempt == maxTxAttempts || ctx.Err() != nil {
			return err
		}
	}
}

const maxTxAttempts = 5

func (s *Store) commitTxOnce(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// countFailure counts err when it is a failure of the database, not an answer about the data
// (not found, exists, conflict) nor a caller that gave up.
func (s *Store) countFailure(err error) {
	if err == nil || errors.Is(err, xcon.ErrNotFound) || errors.Is(err, xcon.ErrExists) || errors.Is(err, xcon.ErrConflict) ||
		errors.Is(err, xcon.ErrInvalid) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	s.failures.Add(1)
}

// StoreErrors counts the writes (transactions, log commits among them) that failed in the
// database since Open.
func (s *Store) StoreErrors() uint64 { return s.failures.Load() }

func roomKey(name string) string { return strings.ToLower(name) }

func nicknameKey(nick string) string {
	if k, err := precis.Nickname.CompareKey(nick); err == nil {
		return k
	}
	return strings.ToLower(strings.TrimSpace(nick))
}

// CreateConference stores a new object; xcon.ErrExists if its name is taken.
func (s *Store) CreateConference(ctx context.Context, c *xcon.Conference) error {
	name := c.Name()
	if name == "" {
		return fmt.Errorf("sqlstore: conference %q has no name", c.Entity)
	}
	doc, err := encodeShell(c)
	if err != nil {
		return err
	}
	now := time.Now().UnixNano()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.sql(`INSERT INTO conferences (name, entity, version, document, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)`), name, c.Entity, int64(c.Version), doc, now, now)
		if err != nil {
			if s.d.IsUniqueViolation(err) {
				return fmt.Errorf("sqlstore: conference %q: %w", name, xcon.ErrExists)
			}
			return err
		}
		if err := s.writeUsers(ctx, tx, name, c.Users, nil); err != nil {
			return err
		}
		return s.writeNicknames(ctx, tx, name, c)
	})
	return err
}

// UpdateConference replaces the whole object. Only changed user rows are
// rewritten. A c.Version below the stored one is a stale write: ErrConflict.
func (s *Store) UpdateConference(ctx context.Context, c *xcon.Conference) error {
	name := c.Name()
	doc, err := encodeShell(c)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var stored int64
		err := tx.QueryRowContext(ctx, s.sql(`SELECT version FROM conferences WHERE name = $1`+s.d.RowLock), name).Scan(&stored)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlstore: conference %q: %w", name, xcon.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if int64(c.Version) < stored {
			return fmt.Errorf("sqlstore: conference %q: version %d is older than stored %d: %w", name, c.Version, stored, xcon.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, s.sql(`UPDATE conferences SET entity = $1, version = $2, document = $3, updated_at = $4 WHERE name = $5`),
			c.Entity, int64(c.Version), doc, time.Now().UnixNano(), name); err != nil {
			return err
		}
		existing, err := s.userDocs(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := s.writeUsers(ctx, tx, name, c.Users, existing); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.sql(`DELETE FROM nicknames WHERE room = $1`), name); err != nil {
			return err
		}
		return s.writeNicknames(ctx, tx, name, c)
	})
}

type userRow struct {
	position int64
	document []byte
}

func (s *Store) userDocs(ctx context.Context, tx *sql.Tx, room string) (map[string]userRow, error) {
	rows, err := tx.QueryContext(ctx, s.sql(`SELECT entity, position, document FROM users WHERE room = $1`), room)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := make(map[string]userRow)
	for rows.Next() {
		var e string
		var r userRow
		if err := rows.Scan(&e, &r.position, &r.document); err != nil {
			return nil, err
		}
		m[e] = r
	}
	return m, rows.Err()
}

// writeUsers upserts the users whose row changed and deletes the ones gone.
func (s *Store) writeUsers(ctx context.Context, tx *sql.Tx, room string, users []*xcon.User, existing map[string]userRow) error {
	upsert := s.d.Upsert("users", []string{"room", "entity", "position", "nickname", "display_text", "roles", "document"}, []string{"room", "entity"})
	seen := make(map[string]bool, len(users))
	var buf bytes.Buffer
	for i, u := range users {
		key := strings.ToLower(u.Entity)
		if seen[key] {
			return fmt.Errorf("sqlstore: conference %q lists user %q twice: %w", room, u.Entity, xcon.ErrConflict)
		}
		seen[key] = true
		buf.Reset()
		if err := u.Encode(&buf); err != nil {
			return err
		}
		if old, ok := existing[key]; ok && old.position == int64(i) && bytes.Equal(old.document, buf.Bytes()) {
			continue
		}
		if _, err := tx.ExecContext(ctx, upsert, room, key, int64(i), u.Nickname, u.DisplayText,
			strings.Join(u.Roles, " "), bytes.Clone(buf.Bytes())); err != nil {
			return err
		}
	}
	for key := range existing {
		if !seen[key] {
			if _, err := tx.ExecContext(ctx, s.sql(`DELETE FROM users WHERE room = $1 AND entity = $2`), room, key); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeNicknames records the nicknames the object assigns: each user's own
// (reserved), each endpoint's (in use) and the registered members'
// (reserved). One nickname held by two users is ErrConflict (session-chat §5.1:
// nicknames are unique within the room, compared by RFC 8266 rules).
func (s *Store) writeNicknames(ctx context.Context, tx *sql.Tx, room string, c *xcon.Conference) error {
	type holder struct {
		nick, user string
		reserved   bool
	}
	held := make(map[string]holder)
	var order []string
	add := func(nick, user string, reserved bool) error {
		if nick == "" {
			return nil
		}
		key := nicknameKey(nick)
		user = strings.ToLower(user)
		if h, ok := held[key]; ok {
			if h.user != user {
				return fmt.Errorf("sqlstore: conference %q: nickname %q is held by %s and %s: %w", room, nick, h.user, user, xcon.ErrConflict)
			}
			if reserved && !h.reserved {
				h.reserved = true
				held[key] = h
			}
			return nil
		}
		held[key] = holder{nick, user, reserved}
		order = append(order, key)
		return nil
	}
	for _, u := range c.Users {
		if err := add(u.Nickname, u.Entity, true); err != nil {
			return err
		}
		for _, e := range u.Endpoints {
			if err := add(e.Nickname, u.Entity, false); err != nil {
				return err
			}
		}
	}
	for _, p := range c.PersistentUsers {
		id := p.ID
		if id == "" {
			id = p.Name
		}
		if err := add(p.Nickname, id, true); err != nil {
			return err
		}
	}
	ins := s.sql(`INSERT INTO nicknames (room, compare_key, nickname, user_id, reserved) VALUES ($1, $2, $3, $4, $5)`)
	for _, key := range order {
		h := held[key]
		if _, err := tx.ExecContext(ctx, ins, room, key, h.nick, h.user, h.reserved); err != nil {
			return err
		}
	}
	return nil
}

// NicknameHolder returns the XCON-USERID that holds nickname in room, and
// whether it is reserved to that user rather than merely in use;
// xcon.ErrNotFound if nobody holds it.
func (s *Store) NicknameHolder(ctx context.Context, room, nickname string) (userID string, reserved bool, err error) {
	err = s.r.QueryRowContext(ctx, s.sql(`SELECT user_id, reserved FROM nicknames WHERE room = $1 AND compare_key = $2`),
		roomKey(room), nicknameKey(nickname)).Scan(&userID, &reserved)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, fmt.Errorf("sqlstore: nickname %q in %q: %w", nickname, room, xcon.ErrNotFound)
	}
	return userID, reserved, err
}

// encodeShell encodes the object without its users, which are rows.
func encodeShell(c *xcon.Conference) ([]byte, error) {
	shell := *c
	shell.Users = nil
	var buf bytes.Buffer
	if err := shell.Encode(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Conference loads an object; xcon.ErrNotFound if there is none.
func (s *Store) Conference(ctx context.Context, name string) (*xcon.Conference, error) {
	name = roomKey(name)
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: s.d.Snapshot})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() // read-only: one snapshot for the shell and its users
	var doc []byte
	err = tx.QueryRowContext(ctx, s.sql(`SELECT document FROM conferences WHERE name = $1`), name).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: conference %q: %w", name, xcon.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	c, err := xcon.Decode(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: stored conference %q: %w", name, err)
	}
	rows, err := tx.QueryContext(ctx, s.sql(`SELECT document FROM users WHERE room = $1 ORDER BY position`), name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var ud []byte
		if err := rows.Scan(&ud); err != nil {
			return nil, err
		}
		u, err := xcon.DecodeUser(bytes.NewReader(ud))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: stored user of %q: %w", name, err)
		}
		c.Users = append(c.Users, u)
	}
	return c, rows.Err()
}

// Conferences lists the stored names, sorted.
func (s *Store) Conferences(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT name FROM conferences ORDER BY name`+s.d.ByteOrder)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// DeleteConference removes an object; users, nicknames, bindings and the
// log go with it (ON DELETE CASCADE).
func (s *Store) DeleteConference(ctx context.Context, name string) error {
	name = roomKey(name)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.sql(`DELETE FROM conferences WHERE name = $1`), name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("sqlstore: conference %q: %w", name, xcon.ErrNotFound)
		}
		return nil
	})
}

// SaveBindings applies a batch of binding changes in one transaction;
// xcon.ErrNotFound (and nothing applied) if a change names an unknown room.
func (s *Store) SaveBindings(ctx context.Context, changes []xcon.BindingChange) error {
	if len(changes) == 0 {
		return nil
	}
	now := time.Now()
	save := func(tx *sql.Tx) error {
		// On SQLite the writer pool is one connection, so these reuse the statements prepared on it.
		upsert, del := tx.StmtContext(ctx, s.bindUpsert), tx.StmtContext(ctx, s.bindDelete)
		for _, ch := range changes {
			if ch.Remove != "" {
				if _, err := del.ExecContext(ctx, ch.Remove); err != nil {
					return err
				}
			}
			if b := ch.Add; b != nil {
				room := ch.Room
				if room == "" {
					room = b.Room
				}
				since := b.Since
				if since.IsZero() {
					since = now
				}
				if _, err := upsert.ExecContext(ctx, b.ChatID, roomKey(room), b.UserID, b.Label, b.Channel, b.Nickname, since.UnixNano(), s.node, b.AOR, b.DisplayText); err != nil {
					if s.d.IsForeignKeyViolation(err) && !s.d.AbortsTx {
						// The room was deleted since the change was made, its rows with it: the
						// binding is moot, and must not cost the rest of the batch.
						continue
					}
					return err
				}
			}
		}
		return nil
	}
	for attempt := 1; ; attempt++ {
		err := s.inTx(ctx, save)
		// With AbortsTx the guarded upsert skips rooms already gone; one deleted while the
		// batch ran fails it, and the next attempt skips that room too.
		if err == nil || !s.d.AbortsTx || !s.d.IsForeignKeyViolation(err) || attempt == maxTxAttempts {
			return err
		}
	}
}

// Bindings lists a room's live bindings, oldest first.
func (s *Store) Bindings(ctx context.Context, room string) ([]xcon.Binding, error) {
	room = roomKey(room)
	rows, err := s.r.QueryContext(ctx, s.sql(`SELECT chat_id, user_id, label, channel, nickname, since, node, aor, display
		FROM bindings WHERE room = $1 ORDER BY since, chat_id`+s.d.ByteOrder), room)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []xcon.Binding
	for rows.Next() {
		b := xcon.Binding{Room: room}
		var since int64
		if err := rows.Scan(&b.ChatID, &b.UserID, &b.Label, &b.Channel, &b.Nickname, &since, &b.Node, &b.AOR, &b.DisplayText); err != nil {
			return nil, err
		}
		b.Since = time.Unix(0, since)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, s.roomExists(ctx, room)
	}
	return out, nil
}

func (s *Store) roomExists(ctx context.Context, room string) error {
	var one int
	err := s.r.QueryRowContext(ctx, s.sql(`SELECT 1 FROM conferences WHERE name = $1`), room).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: conference %q: %w", room, xcon.ErrNotFound)
	}
	return err
}

// PurgeBindings removes this node's bindings (WithNode), and those written before nodes had
// names, and reports how many there were: at start-up none of its sessions is connected.
// Other nodes' bindings stay.
func (s *Store) PurgeBindings(ctx context.Context) (int, error) {
	if _, err := s.w.ExecContext(ctx, s.sql(`DELETE FROM live_nicknames WHERE node = $1`), s.node); err != nil {
		return 0, err
	}
	res, err := s.w.ExecContext(ctx, s.sql(`DELETE FROM bindings WHERE node = $1 OR node = ''`), s.node)
	if err != nil {
		return 0, err
	}
	if err := s.durable(ctx); err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
