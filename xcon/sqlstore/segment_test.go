package sqlstore

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/xcon"
)

func TestSegmentRoundTrip(t *testing.T) {
	base := time.Unix(1_800_000_000, 123)
	var g segment
	var in []xcon.LogEntry
	for i := 0; i < 5; i++ {
		e := xcon.LogEntry{Room: "r", Seq: int64(40 + i), Channel: "chat", Time: base.Add(time.Duration(-i) * time.Second),
			SenderID: "xcon-userid:a@example.com", SenderNick: "Ä", Recipient: []string{"", "xcon-userid:b@example.com"}[i%2],
			ContentType: "message/cpim", Body: bytes.Repeat([]byte{byte(i)}, i*100)}
		in = append(in, e)
		g.add(&e)
	}
	if g.firstSeq != 40 || g.lastSeq != 44 || g.count != 5 || g.firstAt != base.Add(-4*time.Second).UnixNano() || g.lastAt != base.UnixNano() {
		t.Fatalf("segment bounds: %+v", g)
	}
	out, err := decodeSegment("r", g.firstSeq, g.data)
	if err != nil || len(out) != len(in) {
		t.Fatalf("decode: %d entries, %v", len(out), err)
	}
	for i := range in {
		a, b := in[i], out[i]
		if a.Seq != b.Seq || !a.Time.Equal(b.Time) || a.Channel != b.Channel || a.SenderID != b.SenderID || a.SenderNick != b.SenderNick ||
			a.Recipient != b.Recipient || a.ContentType != b.ContentType || !bytes.Equal(a.Body, b.Body) || b.Body == nil {
			t.Fatalf("entry %d: %+v, want %+v", i, b, a)
		}
	}
	if _, err := decodeSegment("r", 1, g.data[:len(g.data)-1]); err == nil {
		t.Fatal("a truncated segment decoded")
	}
}

func FuzzDecodeSegment(f *testing.F) {
	var g segment
	g.add(&xcon.LogEntry{Seq: 7, Channel: "c", SenderID: "s", ContentType: "t", Body: []byte("hello"), Time: time.Unix(5, 0)})
	f.Add(g.data)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := decodeSegment("r", 1, data)
		if err != nil {
			return
		}
		var again segment
		for i := range entries {
			again.add(&entries[i])
		}
		if len(entries) > 0 && !bytes.Equal(again.data, data) {
			// Varints have several encodings; what decodes must still decode the same way.
			back, err := decodeSegment("r", 1, again.data)
			if err != nil || len(back) != len(entries) {
				t.Fatalf("re-encoded segment: %d entries, %v", len(back), err)
			}
		}
	})
}

// TestPurgeAcrossSegments: each commit is a segment; retention cuts inside and across them.
func TestPurgeAcrossSegments(t *testing.T) { onBackends(t, testPurgeAcrossSegments) }

func testPurgeAcrossSegments(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	defer s.Close()
	if err := s.CreateConference(ctx, room("r")); err != nil {
		t.Fatal(err)
	}
	base := time.Unix(1_800_000_000, 0)
	for c := 0; c < 4; c++ { // four commits of five
		var batch []xcon.LogEntry
		for i := 0; i < 5; i++ {
			k := c*5 + i
			batch = append(batch, xcon.LogEntry{Room: "r", Channel: "chat", Time: base.Add(time.Duration(k) * time.Minute),
				SenderID: "xcon-userid:a@example.com", ContentType: "message/cpim", Body: []byte(fmt.Sprint(k))})
		}
		if err := s.AppendLog(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	var segments int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM log_segments`).Scan(&segments); err != nil || segments != 4 {
		t.Fatalf("%d segments (%v), want 4", segments, err)
	}
	n, err := s.PurgeLog(ctx, "r", base.Add(7*time.Minute), 0) // 0..6 go: one whole segment and two of the next
	if err != nil || n != 7 {
		t.Fatalf("purge by age: %d %v, want 7", n, err)
	}
	n, err = s.PurgeLog(ctx, "r", time.Time{}, 6) // keep 14..19
	if err != nil || n != 7 {
		t.Fatalf("purge by count: %d %v, want 7", n, err)
	}
	got, err := s.History(ctx, "r", "", 100)
	if err != nil || len(got) != 6 || string(got[0].Body) != "14" || string(got[5].Body) != "19" || got[0].Seq != 15 {
		t.Fatalf("left: %d entries %v, first %+v", len(got), err, got)
	}
	got, _ = s.History(ctx, "r", "", 2)
	if len(got) != 2 || string(got[0].Body) != "18" {
		t.Fatalf("last two: %+v", got)
	}
}

// TestLegacyLogRowsMoveToSegments: a database written with one row per message is converted
// when opened, every message kept with its number.
func TestLegacyLogRowsMoveToSegments(t *testing.T) { onBackends(t, testLegacyLogRowsMoveToSegments) }

func testLegacyLogRowsMoveToSegments(t *testing.T, b backend) {
	ctx := context.Background()
	db := b.raw(t)
	old := &Store{d: b.dialect, w: db}
	for _, q := range []string{
		b.dialect.expand(`CREATE TABLE schema_migrations (version {{int64}} PRIMARY KEY, applied_at {{int64}} NOT NULL)`),
		b.dialect.expand(migrations[0]),
		`INSERT INTO schema_migrations VALUES (1, 0)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(q, err)
		}
	}
	if _, err := db.ExecContext(ctx, old.sql(`INSERT INTO conferences (name, entity, version, document, log_seq, created_at, updated_at)
		VALUES ('r', 'xcon:r@example.com', 1, $1, 1500, 0, 0)`), []byte{}); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil) // one transaction: 1,500 commits cost 1,500 fsyncs
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 1500; i++ {
		if _, err := tx.ExecContext(ctx, old.sql(`INSERT INTO message_log VALUES ('r', $1, 'chat', $2, 'xcon-userid:a@example.com', 'A', '', 'message/cpim', $3)`),
			i, int64(i)*1e9, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := b.open(t)
	defer s.Close()
	got, err := s.History(ctx, "r", "", 2000)
	if err != nil || len(got) != 1500 || got[0].Seq != 1 || string(got[1499].Body) != "1500" || got[1499].SenderNick != "A" {
		t.Fatalf("after conversion: %d entries %v", len(got), err)
	}
	if err := s.AppendLog(ctx, []xcon.LogEntry{{Room: "r", Channel: "chat", ContentType: "message/cpim", Body: []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.History(ctx, "r", "", 1)
	if len(got) != 1 || got[0].Seq != 1501 {
		t.Fatalf("next message: %+v", got)
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM message_log`).Scan(&n); err == nil {
		t.Fatal("message_log still there")
	}
}
