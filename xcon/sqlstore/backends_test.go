package sqlstore

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/parleychat/parley/xcon/sqlstore/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop() // the PostgreSQL cluster of the postgres subtests, if one was started
	os.Exit(code)
}

// backend is one engine under test. open opens the store on this subtest's database, the
// same database each time it is called (a reopen).
type backend struct {
	name    string
	dialect Dialect
	open    func(t testing.TB, opts ...Option) *Store
	raw     func(t testing.TB) *sql.DB // the same database without the store
}

// onBackends runs test on SQLite and on PostgreSQL (pgtest: a fresh database, skipped without
// a server, failed under PARLEY_REQUIRE_PEERS=1).
func onBackends(t *testing.T, test func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		test(t, backend{"sqlite", SQLite, func(t testing.TB, opts ...Option) *Store { return openStore(t, dir, opts...) },
			func(t testing.TB) *sql.DB {
				db, err := sql.Open("sqlite", filepath.Join(dir, "parley.db")+"?_pragma=foreign_keys(1)")
				if err != nil {
					t.Fatal(err)
				}
				return db
			}})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		test(t, backend{"postgres", Postgres, func(t testing.TB, opts ...Option) *Store {
			t.Helper()
			s, err := OpenPostgres(context.Background(), dsn, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, func(t testing.TB) *sql.DB {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			return db
		}})
	})
}
