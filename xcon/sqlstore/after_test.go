package sqlstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/xcon"
)

// TestHistoryAfter: the page right after a time, oldest first, and the next page after the
// last message's seq, also across commits (segments).
func TestHistoryAfter(t *testing.T) { onBackends(t, testHistoryAfter) }

func testHistoryAfter(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	defer s.Close()
	if err := s.CreateConference(ctx, &xcon.Conference{Entity: "xcon:room@example.com", Version: 1}); err != nil {
		t.Fatal(err)
	}
	base := time.Unix(1_800_000_000, 0)
	for i := 0; i < 10; i++ {
		e := []xcon.LogEntry{{Room: "room", Channel: "en", Time: base.Add(time.Duration(i) * time.Minute),
			SenderID: "xcon-userid:a@example.com", ContentType: "message/cpim", Body: []byte(fmt.Sprint(i))}}
		if err := s.AppendLog(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.HistoryAfter(ctx, "room", "", base.Add(2*time.Minute), 0, 3)
	if err != nil || len(got) != 3 || string(got[0].Body) != "2" || string(got[2].Body) != "4" {
		t.Fatalf("since minute 2: %v %+v", err, got)
	}
	got, err = s.HistoryAfter(ctx, "room", "en", base.Add(2*time.Minute), got[2].Seq, 100)
	if err != nil || len(got) != 5 || string(got[0].Body) != "5" || string(got[4].Body) != "9" {
		t.Fatalf("after the cursor: %v %+v", err, got)
	}
	if got, err := s.HistoryAfter(ctx, "room", "fr", time.Time{}, 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("other channel: %v %+v", err, got)
	}
	if _, err := s.HistoryAfter(ctx, "nosuch", "", time.Time{}, 0, 10); err == nil {
		t.Fatal("unknown room: no error")
	}
}
