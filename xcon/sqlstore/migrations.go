package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parleychat/parley/xcon"
)

// migrations are applied in order, each in its own transaction, and recorded
// in schema_migrations; never edit a released one, append a new one.
var migrations = []string{
	// 1: conference objects, users, nicknames, live bindings, message log.
	`CREATE TABLE conferences (
		name       TEXT PRIMARY KEY,          -- lowercased conf-object-id
		entity     TEXT NOT NULL,             -- XCON-URI as given
		version    {{int64}} NOT NULL,        -- RFC 6503 §5.2 version
		document   {{blob}} NOT NULL,         -- conference-info without <user> elements
		log_seq    {{int64}} NOT NULL DEFAULT 0,
		created_at {{int64}} NOT NULL,
		updated_at {{int64}} NOT NULL
	);
	CREATE TABLE users (
		room         TEXT NOT NULL REFERENCES conferences(name) ON DELETE CASCADE,
		entity       TEXT NOT NULL,           -- lowercased XCON-USERID
		position     {{int64}} NOT NULL,      -- order within <users>
		nickname     TEXT NOT NULL,
		display_text TEXT NOT NULL,
		roles        TEXT NOT NULL,           -- space separated
		document     {{blob}} NOT NULL,       -- the encoded <user> element
		PRIMARY KEY (room, entity)
	);
	CREATE TABLE nicknames (
		room        TEXT NOT NULL REFERENCES conferences(name) ON DELETE CASCADE,
		compare_key TEXT NOT NULL,            -- RFC 8266 comparison key
		nickname    TEXT NOT NULL,
		user_id     TEXT NOT NULL,
		reserved    {{bool}} NOT NULL,        -- assigned to the user, not just in use
		PRIMARY KEY (room, compare_key)
	);
	CREATE INDEX nicknames_user ON nicknames (room, user_id);
	CREATE TABLE bindings (
		chat_id  TEXT PRIMARY KEY,
		room     TEXT NOT NULL REFERENCES conferences(name) ON DELETE CASCADE,
		user_id  TEXT NOT NULL,
		label    TEXT NOT NULL,
		channel  TEXT NOT NULL,
		nickname TEXT NOT NULL,
		since    {{int64}} NOT NULL
	);
	CREATE INDEX bindings_room ON bindings (room, since);
	CREATE TABLE message_log (
		room         TEXT NOT NULL REFERENCES conferences(name) ON DELETE CASCADE,
		seq          {{int64}} NOT NULL,
		channel      TEXT NOT NULL,
		at           {{int64}} NOT NULL,       -- Unix nanoseconds
		sender_id    TEXT NOT NULL,
		sender_nick  TEXT NOT NULL,
		recipient    TEXT NOT NULL,
		content_type TEXT NOT NULL,
		body         {{blob}} NOT NULL,
		PRIMARY KEY (room, seq)
	){{clustered}};
	CREATE INDEX message_log_channel ON message_log (room, channel, seq);`,
	// 2: the message log in segments, one row per room and group commit (segment.go); the rows
	// of message_log move into them (migrationCode[2]) and the table goes.
	`CREATE TABLE log_segments (
		room      TEXT NOT NULL REFERENCES conferences(name) ON DELETE CASCADE,
		first_seq {{int64}} NOT NULL,
		last_seq  {{int64}} NOT NULL,
		first_at  {{int64}} NOT NULL,             -- Unix nanoseconds, earliest entry
		last_at   {{int64}} NOT NULL,             -- latest entry
		entries   {{int64}} NOT NULL,             -- how many
		data      {{blob}} NOT NULL,
		PRIMARY KEY (room, first_seq)
	);`,
	// 3: the audit log of CCMP changes; no reference to conferences, as its rows outlive the room.
	`CREATE TABLE audit_log (
		id        {{autoid}},
		room      TEXT NOT NULL,
		at        {{int64}} NOT NULL,             -- Unix nanoseconds
		principal TEXT NOT NULL,
		remote    TEXT NOT NULL,
		request   TEXT NOT NULL,
		operation TEXT NOT NULL,
		target    TEXT NOT NULL,
		code      {{int64}} NOT NULL
	);
	CREATE INDEX audit_log_room ON audit_log (room, id);`,
	// 4: audit retention deletes by age.
	`CREATE INDEX audit_log_at ON audit_log (at);`,
	// 5: several nodes on one database: each binding names the node that holds its session
	// ('' for those written before nodes had names) and the user's address and display name
	// (the other nodes' roster shows them), each node says it is alive in nodes, so
	// that the others can purge the bindings of one that died, and the nicknames the sessions
	// of each node hold are in live_nicknames, so that they are unique across the nodes.
	`ALTER TABLE bindings ADD COLUMN node TEXT NOT NULL DEFAULT '';
	ALTER TABLE bindings ADD COLUMN aor TEXT NOT NULL DEFAULT '';
	ALTER TABLE bindings ADD COLUMN display TEXT NOT NULL DEFAULT '';
	CREATE INDEX bindings_node ON bindings (node);
	CREATE TABLE nodes (
		name TEXT PRIMARY KEY,
		seen {{int64}} NOT NULL                   -- Unix nanoseconds of its last heartbeat
	);
	CREATE TABLE live_nicknames (
		name_key TEXT NOT NULL,                   -- the focus's scoped comparison key, hex
		node     TEXT NOT NULL,
		user_id  TEXT NOT NULL,
		nickname TEXT NOT NULL,
		released {{int64}} NOT NULL,              -- 0 while held; else when the node's last session let go
		PRIMARY KEY (name_key, node)
	);
	CREATE INDEX live_nicknames_node ON live_nicknames (node);`,
}

// migrationCode holds the steps of a migration that SQL alone cannot do, run after its SQL in
// the same transaction.
var migrationCode = map[int]func(ctx context.Context, s *Store, tx *sql.Tx) error{
	2: moveLogRowsToSegments,
}

// moveLogRowsToSegments re-encodes the rows of the per-message table as segments of at most
// segmentMigrateSize entries, then drops the table.
func moveLogRowsToSegments(ctx context.Context, s *Store, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT room, seq, channel, at, sender_id, sender_nick, recipient, content_type, body
		FROM message_log ORDER BY room, seq`)
	if err != nil {
		return err
	}
	var segs []segment
	var rooms []string
	for rows.Next() {
		var e xcon.LogEntry
		var at int64
		if err := rows.Scan(&e.Room, &e.Seq, &e.Channel, &at, &e.SenderID, &e.SenderNick, &e.Recipient, &e.ContentType, &e.Body); err != nil {
			rows.Close()
			return err
		}
		e.Time = time.Unix(0, at)
		if n := len(segs); n == 0 || rooms[n-1] != e.Room || segs[n-1].count >= segmentMigrateSize {
			segs, rooms = append(segs, segment{}), append(rooms, e.Room)
		}
		segs[len(segs)-1].add(&e)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	for i := range segs {
		if err := s.insertSegment(ctx, tx, rooms[i], &segs[i]); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `DROP TABLE message_log`)
	return err
}

const segmentMigrateSize = 1024

// migrate applies the migrations not yet recorded, one transaction each. Every transaction
// first takes the dialect's migration lock and reads the version again, so that processes
// opening one database together (nodes sharing a PostgreSQL) apply each migration once.
func (s *Store) migrate(ctx context.Context) error {
	for {
		v, done := 0, false
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			if s.d.MigrationLock != "" {
				if _, err := tx.ExecContext(ctx, s.d.MigrationLock); err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			if _, err := tx.ExecContext(ctx, s.d.expand(`CREATE TABLE IF NOT EXISTS schema_migrations (
				version    {{int64}} PRIMARY KEY,
				applied_at {{int64}} NOT NULL)`)); err != nil {
				return fmt.Errorf("schema_migrations: %w", err)
			}
			var current int
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
				return fmt.Errorf("schema version: %w", err)
			}
			if current > len(migrations) {
				return fmt.Errorf("database schema version %d is newer than this program (%d); upgrade parley", current, len(migrations))
			}
			if current == len(migrations) {
				done = true
				return nil
			}
			v = current + 1
			if _, err := tx.ExecContext(ctx, s.d.expand(migrations[v-1])); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			if code := migrationCode[v]; code != nil {
				if err := code(ctx, s, tx); err != nil {
					return fmt.Errorf("migration %d: %w", v, err)
				}
			}
			_, err := tx.ExecContext(ctx, s.sql(`INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`), v, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlstore: %w", err)
		}
		if done {
			return nil
		}
	}
}
