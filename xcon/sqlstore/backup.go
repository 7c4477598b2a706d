package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrBackupUnsupported: the store cannot back itself up (PostgreSQL: use pg_dump).
var ErrBackupUnsupported = errors.New("sqlstore: online backup is for SQLite; back up PostgreSQL with pg_dump")

// Backup writes a consistent copy of the SQLite database to path (VACUUM INTO) while the store
// keeps serving: every transaction committed before it started, none after. path must not exist
// yet; its directory is created. Put the copy as parley.db into a data directory to restore it.
func (s *Store) Backup(ctx context.Context, path string) error {
	if s.d.Name != SQLite.Name {
		return ErrBackupUnsupported
	}
	if path == "" {
		return errors.New("sqlstore: backup: no file named")
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("sqlstore: backup: %s exists already; name a new file", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	// A reader of the WAL, so that the writer (and the log) go on meanwhile; readers are
	// query_only, which VACUUM INTO refuses, so this one is not for the time of the copy.
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only=0"); err != nil {
		return fmt.Errorf("sqlstore: backup: %w", err)
	}
	_, err = conn.ExecContext(ctx, "VACUUM INTO ?", path)
	if _, qerr := conn.ExecContext(context.Background(), "PRAGMA query_only=1"); qerr != nil {
		conn.Raw(func(any) error { return driver.ErrBadConn }) // not back to the pool writable
	}
	if err != nil {
		return fmt.Errorf("sqlstore: backup to %s: %w", path, err)
	}
	return nil
}
