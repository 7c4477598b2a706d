package sqlstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/parleychat/parley/xcon"
)

func benchStore(b *testing.B, sync string) *Store {
	b.Helper()
	s := openStore(b, b.TempDir(), WithSynchronous(sync))
	b.Cleanup(func() { s.Close() })
	if err := s.CreateConference(context.Background(), room("lobby")); err != nil {
		b.Fatal(err)
	}
	return s
}

func benchEntry() xcon.LogEntry {
	return xcon.LogEntry{Room: "lobby", Channel: "main", SenderID: "xcon-userid:alice@example.com", SenderNick: "Alice",
		ContentType: "message/cpim", Body: make([]byte, 200)}
}

// BenchmarkStore_AppendLog measures one caller appending batches of
// messages; ns/op is per message.
func BenchmarkStore_AppendLog(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, batch := range []int{1, 64, 512} {
			b.Run(fmt.Sprintf("sync=%s/batch=%d", sync, batch), func(b *testing.B) {
				s := benchStore(b, sync)
				ctx := context.Background()
				entries := make([]xcon.LogEntry, batch)
				for i := range entries {
					entries[i] = benchEntry()
				}
				b.ReportAllocs()
				b.ResetTimer()
				for done := 0; done < b.N; done += batch {
					if err := s.AppendLog(ctx, entries[:min(batch, b.N-done)]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkStore_AppendLogParallel measures many callers appending one
// message each, which the group commit batches into shared transactions.
func BenchmarkStore_AppendLogParallel(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			s := benchStore(b, sync)
			ctx := context.Background()
			b.SetParallelism(64)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				e := []xcon.LogEntry{benchEntry()}
				for pb.Next() {
					if err := s.AppendLog(ctx, e); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

func BenchmarkStore_History(b *testing.B) {
	s := benchStore(b, "NORMAL")
	ctx := context.Background()
	entries := make([]xcon.LogEntry, 10000)
	for i := range entries {
		entries[i] = benchEntry()
	}
	if err := s.AppendLog(ctx, entries); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if h, err := s.History(ctx, "lobby", "main", 50); err != nil || len(h) != 50 {
			b.Fatal(len(h), err)
		}
	}
}

func BenchmarkStore_UpdateConference(b *testing.B) {
	s := benchStore(b, "FULL")
	ctx := context.Background()
	c := room("lobby")
	for i := range 100 {
		u := alice()
		u.Entity = fmt.Sprintf("xcon-userid:user%d@example.com", i)
		u.Nickname = fmt.Sprint("nick", i)
		u.Endpoints[0].Nickname = ""
		c.Users = append(c.Users, u)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c.Version++
		c.Users[c.Version%100].DisplayText = fmt.Sprint("changed ", c.Version) // one user changes per update
		if err := s.UpdateConference(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStore_SaveBindings measures the join/leave write path: one op is
// one participant binding and unbinding, in batches as the focus writes them.
func BenchmarkStore_SaveBindings(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := benchStore(b, "FULL")
			ctx := context.Background()
			changes := make([]xcon.BindingChange, 0, 2*batch)
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += batch {
				changes = changes[:0]
				for i := done; i < min(done+batch, b.N); i++ {
					chatID := fmt.Sprint("chat", i)
					changes = append(changes, xcon.BindingChange{Room: "lobby", Add: &xcon.Binding{ChatID: chatID,
						UserID: fmt.Sprintf("xcon-userid:user%d@example.com", i), Channel: "main", Nickname: fmt.Sprint("nick", i)}})
				}
				for i := done; i < min(done+batch, b.N); i++ {
					changes = append(changes, xcon.BindingChange{Room: "lobby", Remove: fmt.Sprint("chat", i)})
				}
				if err := s.SaveBindings(ctx, changes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
