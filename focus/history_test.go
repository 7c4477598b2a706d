package focus

import (
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/xcon"
)

// replay gives the last n entries a user may see, never more than the tail keeps, and none
// logged before since.
func TestRecentReplayAmount(t *testing.T) {
	r := &recent{limit: 4}
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for i, rcpt := range []string{"", "", "xcon-userid:bob@x", "", "", ""} {
		r.add(xcon.LogEntry{Channel: "c", Seq: int64(i + 1), Time: t0.Add(time.Duration(i) * time.Minute), Recipient: rcpt})
	}
	seqs := func(es []xcon.LogEntry) (out []int64) {
		for _, e := range es {
			out = append(out, e.Seq)
		}
		return out
	}
	for _, c := range []struct {
		n     int
		since time.Time
		user  string
		want  []int64
	}{
		{2, time.Time{}, "xcon-userid:alice@x", []int64{5, 6}},
		{0, time.Time{}, "xcon-userid:alice@x", nil},
		{1000, time.Time{}, "xcon-userid:alice@x", []int64{2, 4, 5, 6}}, // the room's 4, bob's private one not hers
		{3, time.Time{}, "xcon-userid:bob@x", []int64{4, 5, 6}},
		{4, time.Time{}, "xcon-userid:bob@x", []int64{3, 4, 5, 6}},
		{10, t0.Add(4 * time.Minute), "xcon-userid:alice@x", []int64{5, 6}},
	} {
		if got := seqs(r.replay("c", c.user, c.n, c.since)); !slices.Equal(got, c.want) {
			t.Errorf("replay(%d, since %v) for %s: %v, want %v", c.n, c.since, c.user, got, c.want)
		}
	}
}

// TestRecentReusesItsArray: a busy channel's tail keeps the last entries in order while it moves
// them back to the start of one array, allocating nothing once it has grown.
func TestRecentReusesItsArray(t *testing.T) {
	r := &recent{limit: 20}
	seq := int64(0)
	add := func() {
		seq++
		r.add(xcon.LogEntry{Channel: "c", Seq: seq, Time: time.Unix(seq, 0)})
	}
	for range 200 {
		add()
	}
	hundred := func() {
		for range 100 {
			add()
		}
	}
	if n := testing.AllocsPerRun(20, hundred); n != 0 {
		t.Fatalf("100 messages allocate %v times", n)
	}
	got := r.replay("c", "xcon-userid:x@y", 20, time.Time{})
	if len(got) != 20 {
		t.Fatalf("replayed %d entries, want 20", len(got))
	}
	for i, e := range got {
		if want := seq - 19 + int64(i); e.Seq != want {
			t.Fatalf("entry %d is seq %d, want %d", i, e.Seq, want)
		}
	}
	if tail := r.channels["c"]; len(tail.base) > 4*r.limit {
		t.Fatalf("the array holds %d entries for a limit of %d", len(tail.base), r.limit)
	}
}
