package sqlstore

import (
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect is what differs between the SQL engines the store can run on.
// Queries are written with PostgreSQL-style $N placeholders, each number
// used once and in order; Rebind converts them for engines that want "?".
type Dialect struct {
	Name string
	// Types substituted for {{blob}}, {{int64}} and {{bool}} in migrations.
	Blob, Int64, Bool string
	// AutoID is an integer primary key the database numbers itself ({{autoid}}).
	AutoID string
	// Clustered is appended to CREATE TABLE for tables that should be
	// stored in primary-key order ({{clustered}}).
	Clustered string
	// KeyLock is a statement that takes a transaction-scoped lock on the text $1, so that
	// writers deciding on a row that may not exist yet (a live nickname) run one after the
	// other; "" on SQLite, whose writer is alone anyway.
	KeyLock string
	// RowLock is appended to a SELECT that reads a row the transaction will
	// update: " FOR UPDATE" where several writers may run at once
	// (PostgreSQL); "" on SQLite, whose writer holds the database lock from
	// BEGIN IMMEDIATE.
	RowLock string
	// ByteOrder follows a text column in ORDER BY to sort by bytes, as SQLite's default
	// (BINARY) collation does, whatever the database's locale: ` COLLATE "C"` on PostgreSQL.
	ByteOrder string
	// QuestionMarks makes Rebind turn $N into ?.
	QuestionMarks bool
	// Snapshot is the isolation level of a read-only transaction that must see one state of
	// the database across several statements (a conference and its users). SQLite's read
	// transactions are snapshots already; PostgreSQL's default (read committed) takes a new
	// snapshot per statement.
	Snapshot sql.IsolationLevel
	// AbortsTx: after a failed statement the transaction can only be rolled back
	// (PostgreSQL). A statement that may fail on purpose (a binding whose room is gone) is
	// then written so that it does not fail.
	AbortsTx bool
	// MigrationLock, run first in every migration transaction, keeps two processes that open
	// one database at once from applying the same migration twice ("" when the transaction's
	// own lock does that, as SQLite's BEGIN IMMEDIATE).
	MigrationLock string
	// IsUniqueViolation reports a primary-key or unique-index violation.
	IsUniqueViolation func(error) bool
	// IsForeignKeyViolation reports a reference to a missing row.
	IsForeignKeyViolation func(error) bool
	// IsRetryable reports an error after which the whole transaction may simply be run again
	// (a deadlock or serialization failure between concurrent writers); nil: none is.
	IsRetryable func(error) bool
	// IsFull reports a write that failed for want of space (the disk, a quota).
	IsFull func(error) bool
}

// SQLite is the dialect of modernc.org/sqlite.
var SQLite = Dialect{
	Name:  "sqlite",
	Blob:  "BLOB",
	Int64: "INTEGER",
	Bool:  "INTEGER",
	// AUTOINCREMENT: numbers are never reused, so the audit stays in insertion order.
	AutoID: "INTEGER PRIMARY KEY AUTOINCREMENT",
	// The log is read and written in (room, seq) order; without a rowid
	// SQLite keeps one b-tree instead of a table plus a key index.
	Clustered: " WITHOUT ROWID",
	// SQLite treats $N as a named parameter and resolves names by linear
	// search, so a 2,000-parameter INSERT spends most of its time there;
	// "?" is positional.
	QuestionMarks: true,
	IsUniqueViolation: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE)
	},
	IsForeignKeyViolation: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	},
	IsFull: func(err error) bool {
		var e *sqlite.Error
		return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_FULL // ENOSPC on a write of the WAL or the database
	},
}

// Postgres is the dialect of PostgreSQL through pgx (github.com/jackc/pgx/v5/stdlib).
var Postgres = Dialect{
	Name:   "postgres",
	Blob:   "BYTEA",
	Int64:  "BIGINT",
	Bool:   "BOOLEAN",
	AutoID: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
	// Several writers (connections of one process, or several processes) may run at once.
	// NO KEY UPDATE is the lock an UPDATE of non-key columns (log_seq, version) takes anyway:
	// it serialises the writers of one room without blocking the foreign-key checks
	// (KEY SHARE) of inserts that reference the room, as FOR UPDATE would.
	RowLock:   " FOR NO KEY UPDATE",
	ByteOrder: ` COLLATE "C"`,
	Snapshot:  sql.LevelRepeatableRead,
	AbortsTx:  true,
	// A transaction-scoped advisory lock; the key is arbitrary but fixed ("parley" in ASCII).
	MigrationLock: `SELECT pg_advisory_xact_lock(112971233340281)`,
	KeyLock:       `SELECT pg_advisory_xact_lock(hashtextextended($1, 112971233340281))`,
	IsUniqueViolation: func(err error) bool {
		return pgCode(err) == "23505" // unique_violation
	},
	IsForeignKeyViolation: func(err error) bool {
		return pgCode(err) == "23503" // foreign_key_violation
	},
	IsRetryable: func(err error) bool {
		c := pgCode(err)
		return c == "40001" || c == "40P01" // serialization_failure, deadlock_detected
	},
	IsFull: func(err error) bool {
		return pgCode(err) == "53100" // disk_full
	},
}

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Rebind adapts a query written with $N placeholders.
func (d Dialect) Rebind(q string) string {
	if !d.QuestionMarks {
		return q
	}
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] == '$' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9' {
			// Plain "?" binds by position with no name lookup at all; queries written for
			// this store therefore use each $N once, in order.
			b.WriteByte('?')
			for i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9' {
				i++
			}
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// Upsert builds "INSERT ... ON CONFLICT (key) DO UPDATE SET col = excluded.col",
// the syntax SQLite (3.24+) and PostgreSQL (9.5+) share.
func (d Dialect) Upsert(table string, cols, key []string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (")
	for i := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(i+1))
	}
	b.WriteString(") ON CONFLICT (" + strings.Join(key, ", ") + ") DO UPDATE SET ")
	first := true
	for _, c := range cols {
		if isKey(c, key) {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(c + " = excluded." + c)
	}
	return d.Rebind(b.String())
}

func isKey(c string, key []string) bool {
	for _, k := range key {
		if k == c {
			return true
		}
	}
	return false
}

func (d Dialect) expand(ddl string) string {
	return strings.NewReplacer("{{blob}}", d.Blob, "{{int64}}", d.Int64, "{{bool}}", d.Bool, "{{autoid}}", d.AutoID, "{{clustered}}", d.Clustered).Replace(ddl)
}

// sql returns q rebound for the store's dialect, caching the result: the
// queries are a fixed set of literals.
func (s *Store) sql(q string) string {
	if v, ok := s.rebound.Load(q); ok {
		return v.(string)
	}
	r := s.d.Rebind(q)
	s.rebound.Store(q, r)
	return r
}
