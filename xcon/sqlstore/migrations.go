package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
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
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, s.d.expand(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version    {{int64}} PRIMARY KEY,
		applied_at {{int64}} NOT NULL)`)); err != nil {
		return fmt.Errorf("sqlstore: schema_migrations: %w", err)
	}
	var current int
	if err := s.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("sqlstore: schema version: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("sqlstore: database schema version %d is newer than this program (%d); upgrade parley", current, len(migrations))
	}
	for v := current + 1; v <= len(migrations); v++ {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, s.d.expand(migrations[v-1])); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, s.sql(`INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`), v, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlstore: migration %d: %w", v, err)
		}
	}
	return nil
}
