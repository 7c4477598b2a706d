package sqlstore

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// OpenPostgres opens the store in the PostgreSQL database that dsn names (a libpq connection
// string, keyword/value or postgres:// URL) and brings its schema up to date. The database
// must exist; the schema is created in it on first use (the role needs CREATE on its schema).
//
// The queries, the schema and the message log's segments are the SQLite store's (Dialect
// Postgres). Differences: there is no data directory and no WAL fsync of the store's own
// (WithSynchronous is ignored): a COMMIT is durable when the server says so, which with
// PostgreSQL's default synchronous_commit=on means its WAL is flushed. Writes run on a pool of
// connections rather than one; the log sequence of a room is read with SELECT … FOR NO KEY
// UPDATE, so several writers (processes among them) number one room's messages without gaps
// or duplicates. The log writer's group commit is unchanged: one transaction, one segment row
// per room, per batch.
func OpenPostgres(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{maxBatch: 4096}
	for _, f := range opts {
		f(&o)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message does not repeat the DSN (it may hold a password).
		return nil, fmt.Errorf("sqlstore: store.dsn: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		// An unreachable server fails start-up (and each reconnect) in seconds, not at the
		// TCP timeout; connect_timeout in the DSN overrides it.
		cfg.ConnectTimeout = 10 * time.Second
	}
	db := stdlib.OpenDB(*cfg)
	conns := max(8, 2*runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	where := fmt.Sprintf("database %q on %s:%d", cfg.Database, cfg.Host, cfg.Port)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", where, err)
	}
	// Reads and writes share the pool: PostgreSQL runs them concurrently anyway.
	s := &Store{d: Postgres, w: db, r: db, maxBatch: o.maxBatch, window: o.window, onCommit: o.onCommit, node: o.node}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (%s)", err, where)
	}
	if err := s.prepareStatements(ctx); err != nil {
		db.Close()
		return nil, err
	}
	s.startLogWriter()
	return s, nil
}
