package sqlstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/xcon"
)

func TestHistoryBetweenAndPurgeLog(t *testing.T) { onBackends(t, testHistoryBetweenAndPurgeLog) }

func testHistoryBetweenAndPurgeLog(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	defer s.Close()
	if err := s.CreateConference(ctx, &xcon.Conference{Entity: "xcon:room@example.com", Version: 1}); err != nil {
		t.Fatal(err)
	}
	base := time.Unix(1_800_000_000, 0)
	var entries []xcon.LogEntry
	for i := 0; i < 10; i++ {
		ch := "en"
		if i%2 == 1 {
			ch = "fr"
		}
		entries = append(entries, xcon.LogEntry{Room: "room", Channel: ch, Time: base.Add(time.Duration(i) * time.Minute),
			SenderID: "xcon-userid:a@example.com", ContentType: "message/cpim", Body: []byte(fmt.Sprint(i))})
	}
	if err := s.AppendLog(ctx, entries); err != nil {
		t.Fatal(err)
	}
	got, err := s.HistoryBetween(ctx, "room", "", base.Add(2*time.Minute), base.Add(6*time.Minute), 100)
	if err != nil || len(got) != 5 || string(got[0].Body) != "2" || string(got[4].Body) != "6" {
		t.Fatalf("minutes 2..6: %d entries %v", len(got), err)
	}
	got, _ = s.HistoryBetween(ctx, "room", "fr", time.Time{}, time.Time{}, 2)
	if len(got) != 2 || string(got[0].Body) != "7" || string(got[1].Body) != "9" {
		t.Fatalf("last two of fr: %+v", got)
	}
	n, err := s.PurgeLog(ctx, "room", base.Add(3*time.Minute), 0)
	if err != nil || n != 3 {
		t.Fatalf("purge by age: %d %v, want 3", n, err)
	}
	n, err = s.PurgeLog(ctx, "room", time.Time{}, 4)
	if err != nil || n != 3 {
		t.Fatalf("purge by count: %d %v, want 3", n, err)
	}
	got, _ = s.History(ctx, "room", "", 100)
	if len(got) != 4 || string(got[0].Body) != "6" {
		t.Fatalf("left after purges: %d, first %q", len(got), got[0].Body)
	}
}
