// Package sqlstore is the SQL implementation of xcon.Store: embedded SQLite
// (modernc.org/sqlite, pure Go) by default (Open), or PostgreSQL through pgx (OpenPostgres).
//
// It owns the database (the file DIR/parley.db, or a PostgreSQL database) and its schema: numbered
// migrations recorded in schema_migrations; the conferences table holding
// each conference object's description and policy as an encoded XML
// document (RFC 6501 §4); users, nicknames and bindings as real rows with indexes, and the
// message log as one segment row per room and group commit. A Dialect isolates what differs between SQL engines
// (placeholders, column types, upsert, constraint-error detection, row locks) so that
// both engines share the queries and the migrations.
//
// Durability: SQLite runs in WAL mode. With the default, synchronous FULL, no
// write is acknowledged before the WAL holding it has been fsynced; the fsync
// is made by the store (walsync.go) right after COMMIT rather than by SQLite
// inside it, so that one batch's fsync overlaps the next batch's inserts.
// AppendLog is group-committed: calls from many goroutines are queued to one
// log writer goroutine, which writes everything queued so far in one
// transaction (one row per room, segment.go); the fsync goroutine then makes
// every commit made so far durable with one fdatasync and releases their
// callers in order. NORMAL (WithSynchronous) skips that fsync: it survives a
// crash of the process but may lose the last commits on power loss. See
// BenchmarkStore_AppendLog.
//
// On PostgreSQL (postgres.go) durability is the server's (synchronous_commit) and writes use a
// pool of connections; the rest below describes SQLite.
//
// Concurrency: a Store is safe for concurrent use. Writes go through a
// single writer connection (SQLite allows one writer at a time; serialising
// in the pool avoids SQLITE_BUSY); reads use a separate pool of read-only
// connections, which WAL lets run concurrently with the writer.
package sqlstore
