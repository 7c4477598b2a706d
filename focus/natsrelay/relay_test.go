package natsrelay

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/natstest"
	"github.com/parleychat/parley/xcon/sqlstore/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop() // the PostgreSQL cluster of the bus comparison benchmark, if one was started
	os.Exit(code)
}

// recorder is a Handler that keeps what it is handed.
type recorder struct {
	mu     sync.Mutex
	msgs   []string
	events []string
	got    chan struct{} // a token per message
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 1<<16)} }

func (r *recorder) Deliver(env []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, string(env))
	r.mu.Unlock()
	r.got <- struct{}{}
}

func (r *recorder) HandleEvent(e []byte) {
	r.mu.Lock()
	r.events = append(r.events, string(e))
	r.mu.Unlock()
}

func (r *recorder) wait(t testing.TB, n int) []string {
	t.Helper()
	for range n {
		select {
		case <-r.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("not delivered within 10 s: %d of %d", len(r.snapshot()), n)
		}
	}
	return r.snapshot()
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

func open(t testing.TB, url, node string, h Handler) *Relay {
	t.Helper()
	r, err := Open(context.Background(), Config{URL: url, Node: node}, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// TestTwoNodesSeeOneOrder: what two nodes publish at once, to two rooms (one of them named with
// the characters subjects reserve), reaches both nodes, each room's messages in the same order on
// both; every done is called, in publish order, with nil.
func TestTwoNodesSeeOneOrder(t *testing.T) {
	url := natstest.URL(t)
	ha, hb := newRecorder(), newRecorder()
	a, b := open(t, url, "a", ha), open(t, url, "b", hb)
	rooms := []string{"lobby", "a.b>*"}
	const each = 500
	var wg sync.WaitGroup
	var orderErr error
	var mu sync.Mutex
	for _, node := range []struct {
		name string
		r    *Relay
	}{{"a", a}, {"b", b}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := 0
			var done sync.WaitGroup
			for i := range each {
				done.Add(1)
				room := rooms[i%2]
				node.r.Publish(room, fmt.Appendf(nil, "%s|%s|%d", room, node.name, i), func(err error) {
					mu.Lock()
					if err != nil || next != i {
						orderErr = fmt.Errorf("node %s publish %d: done #%d, err %v", node.name, i, next, err)
					}
					next++
					mu.Unlock()
					done.Done()
				})
			}
			done.Wait()
		}()
	}
	wg.Wait()
	if orderErr != nil {
		t.Fatal(orderErr)
	}
	gotA, gotB := ha.wait(t, 2*each), hb.wait(t, 2*each)
	for _, room := range rooms {
		inA, inB := ofRoom(gotA, room), ofRoom(gotB, room)
		if len(inA) != each || strings.Join(inA, ",") != strings.Join(inB, ",") {
			t.Fatalf("room %q: %d messages on a, %d on b, or in another order", room, len(inA), len(inB))
		}
	}
}

func ofRoom(msgs []string, room string) []string {
	var out []string
	for _, m := range msgs {
		if strings.HasPrefix(m, room+"|") {
			out = append(out, m)
		}
	}
	return out
}

// TestAnnounceReachesEveryNode: a change goes to every node connected, the announcer too.
func TestAnnounceReachesEveryNode(t *testing.T) {
	url := natstest.URL(t)
	ha, hb := newRecorder(), newRecorder()
	a, _ := open(t, url, "a", ha), open(t, url, "b", hb)
	if err := a.Announce("room.with>dots", []byte(`{"kind":"kick"}`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ha.mu.Lock()
		na := len(ha.events)
		ha.mu.Unlock()
		hb.mu.Lock()
		nb := len(hb.events)
		hb.mu.Unlock()
		if na == 1 && nb == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events seen: a %d, b %d, want 1 each", na, nb)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPublishFailsWhileTheServerIsDown: with NATS gone, a publish is answered with an error at
// once (no reconnect buffer), and after Close every publish gets one too.
func TestPublishFailsWhileTheServerIsDown(t *testing.T) {
	srv := natstest.Start(t)
	h := newRecorder()
	r, err := Open(context.Background(), Config{URL: srv.ClientURL(), Node: "a"}, h)
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for deadline := time.Now().Add(5 * time.Second); r.nc.IsConnected(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the client did not see the server go within 5 s")
		}
	}
	errs := make(chan error, 1)
	start := time.Now()
	r.Publish("lobby", []byte("lost"), func(err error) { errs <- err })
	if err := <-errs; err == nil {
		t.Fatal("publish with the server down: nil, want an error")
	}
	if waited := time.Since(start); waited > ackTimeout {
		t.Fatalf("the failure took %v, the ack timeout is %v", waited, ackTimeout)
	}
	r.Close()
	r.Publish("lobby", []byte("late"), func(err error) { errs <- err })
	if err := <-errs; err != errClosed {
		t.Fatalf("publish after Close: %v, want %v", err, errClosed)
	}
}

func TestSubjectHidesReservedCharacters(t *testing.T) {
	for _, room := range []string{"a.b", "a>b", "a*b", "a b", "ÿ"} {
		s := Subject(room)
		if tail := strings.TrimPrefix(s, SubjectPrefix); strings.ContainsAny(tail, ".>* \t") || tail == s {
			t.Fatalf("Subject(%q) = %q", room, s)
		}
	}
}
