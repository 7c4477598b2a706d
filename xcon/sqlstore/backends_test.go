package sqlstore

import (
	"context"
	"os"
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
	name string
	open func(t testing.TB, opts ...Option) *Store
}

// onBackends runs test on SQLite and on PostgreSQL (pgtest: a fresh database, skipped without
// a server, failed under PARLEY_REQUIRE_PEERS=1).
func onBackends(t *testing.T, test func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		test(t, backend{"sqlite", func(t testing.TB, opts ...Option) *Store { return openStore(t, dir, opts...) }})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		test(t, backend{"postgres", func(t testing.TB, opts ...Option) *Store {
			t.Helper()
			s, err := OpenPostgres(context.Background(), dsn, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}})
	})
}
