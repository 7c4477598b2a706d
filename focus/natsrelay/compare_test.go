package natsrelay

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/parleychat/parley/internal/natstest"
	"github.com/parleychat/parley/xcon/sqlstore/pgtest"
)

// The two buses the design could use, measured the same way: one node publishes b.N room
// messages of 256 bytes, pipelined, and two nodes receive them all (the figure is messages per
// second delivered to each node); "one-at-a-time" publishes the next message only when both have
// the last one (the figure is the time per message, the bus's added latency). The PostgreSQL
// side is LISTEN/NOTIFY as it would be used: the envelope in base64 (a payload is text), up to
// 64 NOTIFYs per pipelined batch, on the throwaway test cluster (fsync off; the embedded NATS
// server does not fsync each message either).
//
//	go test ./focus/natsrelay -run '^$' -bench Bus -benchtime 20000x
func BenchmarkBus(b *testing.B) {
	payload := []byte(strings.Repeat("x", 256))
	b.Run("nats-jetstream/pipelined", func(b *testing.B) { benchNATS(b, payload, false) })
	b.Run("nats-jetstream/one-at-a-time", func(b *testing.B) { benchNATS(b, payload, true) })
	b.Run("postgres-notify/pipelined", func(b *testing.B) { benchNotify(b, payload, false) })
	b.Run("postgres-notify/one-at-a-time", func(b *testing.B) { benchNotify(b, payload, true) })
}

func benchNATS(b *testing.B, payload []byte, oneAtATime bool) {
	url := natstest.URL(b)
	pub := open(b, url, "a", newRecorder())
	ha, hb := newRecorder(), newRecorder()
	open(b, url, "b", ha)
	open(b, url, "c", hb)
	failed := make(chan error, 1)
	done := func(err error) {
		if err != nil {
			select {
			case failed <- err:
			default:
			}
		}
	}
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pub.Publish("lobby", payload, done)
		if oneAtATime {
			ha.wait(b, 1)
			hb.wait(b, 1)
		}
	}
	if !oneAtATime {
		ha.wait(b, b.N)
		hb.wait(b, b.N)
	}
	b.StopTimer()
	select {
	case err := <-failed:
		b.Fatal(err)
	default:
	}
	report(b)
}

func benchNotify(b *testing.B, payload []byte, oneAtATime bool) {
	ctx := context.Background()
	dsn := pgtest.DSN(b)
	pub, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close(ctx)
	var listeners []chan struct{}
	for range 2 {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "LISTEN parley_room"); err != nil {
			b.Fatal(err)
		}
		got := make(chan struct{}, 1<<20)
		lctx, cancel := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			for {
				if _, err := conn.WaitForNotification(lctx); err != nil {
					return
				}
				got <- struct{}{}
			}
		}()
		defer func() { cancel(); <-stopped; conn.Close(ctx) }()
		listeners = append(listeners, got)
	}
	// Each payload differs, as envelopes do (they carry a serial): PostgreSQL delivers identical
	// NOTIFYs of one transaction once.
	text := func(i int) string {
		return strconv.Itoa(i) + ":" + base64.StdEncoding.EncodeToString(payload)
	}
	wait := func(n int) {
		for _, got := range listeners {
			for range n {
				select {
				case <-got:
				case <-time.After(10 * time.Second):
					b.Fatal("NOTIFY not received within 10 s")
				}
			}
		}
	}
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	if oneAtATime {
		for i := 0; i < b.N; i++ {
			if _, err := pub.Exec(ctx, "SELECT pg_notify('parley_room', $1)", text(i)); err != nil {
				b.Fatal(err)
			}
			wait(1)
		}
	} else {
		for sent := 0; sent < b.N; {
			batch := &pgx.Batch{}
			for ; batch.Len() < 64 && sent < b.N; sent++ {
				batch.Queue("SELECT pg_notify('parley_room', $1)", text(sent))
			}
			if err := pub.SendBatch(ctx, batch).Close(); err != nil {
				b.Fatal(err)
			}
		}
		wait(b.N)
	}
	b.StopTimer()
	report(b)
}

func report(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "msgs/s")
	}
}
