package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/sqlstore/pgtest"
)

// TestPostgresSharedByTwoStores: two stores (two processes, as nodes sharing one database
// would be) open a fresh database at the same moment, each applying the migrations once
// between them, then log to one room concurrently: the room's messages are numbered 1..N
// without gaps or duplicates, and each store reads what the other wrote.
func TestPostgresSharedByTwoStores(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	stores := make([]*Store, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = OpenPostgres(ctx, dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	if err := stores[0].CreateConference(ctx, room("lobby")); err != nil {
		t.Fatal(err)
	}
	const writers, each = 6, 25
	var mu sync.Mutex
	var all []int64
	for _, s := range stores {
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					e := []xcon.LogEntry{{Room: "lobby", Channel: "main", Body: fmt.Appendf(nil, "%d-%d", w, i)},
						{Room: "lobby", Channel: "fr", Body: fmt.Appendf(nil, "%d-%d fr", w, i)}}
					if err := s.AppendLog(ctx, e); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					all = append(all, e[0].Seq, e[1].Seq)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	slices.Sort(all)
	n := 2 * writers * each * len(stores)
	if len(all) != n {
		t.Fatalf("%d sequence numbers, want %d", len(all), n)
	}
	for i, v := range all {
		if v != int64(i+1) {
			t.Fatalf("sequence numbers are not 1..%d without gaps or duplicates: position %d has %d", n, i, v)
		}
	}
	for i, s := range stores {
		got, err := s.History(ctx, "lobby", "", n+10)
		if err != nil || len(got) != n || got[0].Seq != 1 || got[n-1].Seq != int64(n) {
			t.Fatalf("store %d reads %d entries (%v)", i, len(got), err)
		}
	}
	var version int
	if err := stores[1].r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("%d migrations recorded (%v), want %d", version, err, len(migrations))
	}
}

// TestPostgresListsSortByBytes: in a database whose locale sorts as people do (ICU en-US:
// punctuation before digits, "-" before "+"), rooms are still listed in byte order, as on SQLite.
func TestPostgresListsSortByBytes(t *testing.T) {
	ctx := context.Background()
	dsn, err := pgtest.DSNWith(t, `TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`)
	if err != nil {
		t.Skipf("this PostgreSQL has no ICU en-US locale: %v", err)
	}
	s, err := OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, n := range []string{"a_b", "a0", "a+b", "a-b"} {
		if err := s.CreateConference(ctx, room(n)); err != nil {
			t.Fatal(err)
		}
	}
	var human []string
	rows, err := s.r.QueryContext(ctx, `SELECT name FROM conferences ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		human = append(human, n)
	}
	rows.Close()
	if slices.Equal(human, []string{"a+b", "a-b", "a0", "a_b"}) {
		t.Fatalf("the database's own order is byte order (%v): the test shows nothing", human)
	}
	if got, err := s.Conferences(ctx); err != nil || !slices.Equal(got, []string{"a+b", "a-b", "a0", "a_b"}) {
		t.Fatalf("Conferences = %v, %v; want byte order", got, err)
	}
}

// TestPostgresConcurrentPurges: two stores applying one room's retention at once both succeed,
// and between them delete each message once.
func TestPostgresConcurrentPurges(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	a, err := OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.CreateConference(ctx, room("r")); err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 10; c++ { // ten segments of three
		batch := []xcon.LogEntry{{Room: "r", Channel: "chat"}, {Room: "r", Channel: "chat"}, {Room: "r", Channel: "chat"}}
		if err := a.AppendLog(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	var purged [2]int64
	var errs [2]error
	var wg sync.WaitGroup
	for i, s := range []*Store{a, b} {
		wg.Go(func() { purged[i], errs[i] = s.PurgeLog(ctx, "r", time.Time{}, 4) }) // keeps a segment and a third
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || purged[0]+purged[1] != 26 {
		t.Fatalf("purges: %v %v, %d + %d deleted, want 26 in all", errs[0], errs[1], purged[0], purged[1])
	}
	got, err := b.History(ctx, "r", "", 100)
	if err != nil || len(got) != 4 || got[0].Seq != 27 {
		t.Fatalf("left: %d entries %v", len(got), err)
	}
}
