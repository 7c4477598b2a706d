package focus_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/focus/focustest"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/sqlstore"
	"github.com/parleychat/parley/xcon/sqlstore/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop() // the PostgreSQL cluster of the postgres subtests, if one was started
	os.Exit(code)
}

// startOn starts a focus without configured rooms on the store open gives; stop closes both.
func startOn(t *testing.T, open func() xcon.Store) (*focus.Focus, func()) {
	t.Helper()
	store := open()
	f, stop := focustest.Run(t, store)
	return f, func() { stop(); store.Close() }
}

// TestClosedRoomRedirectsAfterRestart: a room closed with a successor is a tombstone of the
// store, on SQLite and on PostgreSQL: a focus started again on it still redirects callers to
// the successor, lists it among the tombstones and protects the successor from deletion.
func TestClosedRoomRedirectsAfterRestart(t *testing.T) {
	run := func(t *testing.T, open func() xcon.Store) {
		ctx := context.Background()
		f, stop := startOn(t, open)
		for _, name := range []string{"old", "new"} {
			if _, err := f.CreateRoom(ctx, &xcon.Conference{Entity: "xcon:" + name + "@example.net", JoinHandling: "allow"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.CloseRoom(ctx, "old", "xcon:new@example.net"); err != nil {
			t.Fatal(err)
		}
		stop()

		f, stop = startOn(t, open)
		defer stop()
		var moved *focus.MovedError
		if err := f.MayJoin("old", focus.Identity{AOR: "sip:ann@example.com"}); !errors.As(err, &moved) ||
			moved.Successor != "sip:new@example.net" || moved.ConfObjID != "xcon:new@example.net" {
			t.Fatalf("joining the closed room after a restart: %v, want a redirect to sip:new@example.net", err)
		}
		if got := f.Tombstones(); !slices.Equal(got, []string{"old"}) {
			t.Fatalf("tombstones after a restart: %v", got)
		}
		if err := f.DeleteRoom(ctx, "new"); !errors.Is(err, focus.ErrSuccessorInUse) {
			t.Fatalf("deleting the successor after a restart: %v, want ErrSuccessorInUse", err)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		run(t, func() xcon.Store {
			s, err := sqlstore.Open(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		run(t, func() xcon.Store {
			s, err := sqlstore.OpenPostgres(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}
