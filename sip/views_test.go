package sip

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/focus/focustest"
	"github.com/parleychat/parley/xcon/confinfo"
)

// notifySink is a subscription's dialog that answers every NOTIFY 200 and keeps its body.
type notifySink struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (d *notifySink) Do(_ context.Context, req *sip.Request) (*sip.Response, error) {
	d.mu.Lock()
	d.bodies = append(d.bodies, req.Body())
	d.mu.Unlock()
	return sip.NewResponseFromRequest(req, 200, "OK", nil), nil
}

func (d *notifySink) ReadRequest(*sip.Request, sip.ServerTransaction) error { return nil }

// watched is a room with n subscriptions whose NOTIFYs the test sends itself (no notifier
// goroutines), each into a sink of its own.
func watched(t *testing.T, n int) (*focus.Focus, *events, []*subscription, []*notifySink) {
	t.Helper()
	f, _ := focustest.Start(t, focus.RoomSpec{Name: "room"})
	s := &Server{cfg: Config{Domain: focustest.Domain}, log: focustest.Quiet, focus: f, metrics: newMetrics()}
	ev := newEvents(s)
	f.SetWatcher(ev)
	subs := make([]*subscription, n)
	sinks := make([]*notifySink, n)
	for i := range subs {
		sinks[i] = &notifySink{}
		target := sip.Uri{Scheme: "sip", User: fmt.Sprintf("w%d", i), Host: "127.0.0.1", Port: 5060}
		subs[i] = ev.newSubscription(sinks[i], fmt.Sprintf("d%d|", i), "room", target, eventPackage)
		if !ev.add(subs[i]) {
			t.Fatal("subscription refused")
		}
		ev.wg.Done() // no run goroutine
	}
	return f, ev, subs, sinks
}

// notifyAll sends every subscription's NOTIFY, one after the other, as their notifiers would.
func notifyAll(t *testing.T, subs []*subscription, full bool) {
	t.Helper()
	for _, sub := range subs {
		if !sub.notify("", full, sub.expiresAt()) {
			t.Fatal("NOTIFY failed")
		}
	}
}

// A change of the room is looked at and encoded once, however many subscribers it has: one
// snapshot of the conference object and one document for all of them.
func TestNotifySharesOneViewPerChange(t *testing.T) {
	const n = 10
	f, ev, subs, _ := watched(t, n)
	notifyAll(t, subs, true)
	if b, r := ev.built.Load(), ev.rendered.Load(); b != 1 || r != 1 {
		t.Fatalf("first full NOTIFY to %d subscribers: %d views built, %d documents encoded; want 1 and 1", n, b, r)
	}
	focustest.Join(t, f, "room", "alice")
	notifyAll(t, subs, false)
	if b, r := ev.built.Load(), ev.rendered.Load(); b != 2 || r != 2 {
		t.Fatalf("after a join, partial NOTIFY to %d subscribers: %d views built, %d documents encoded; want 2 and 2", n, b, r)
	}
	notifyAll(t, subs, true) // refreshes: the full state of the same view
	if b, r := ev.built.Load(), ev.rendered.Load(); b != 2 || r != 3 {
		t.Fatalf("full NOTIFY of an unchanged room: %d views built, %d documents encoded; want 2 and 3", b, r)
	}
}

// Each subscription counts its own versions (RFC 4575 §5.2) though the documents are shared:
// one more per NOTIFY, from 1, whichever NOTIFYs the others got.
func TestNotifyVersionsPerSubscription(t *testing.T) {
	f, _, subs, sinks := watched(t, 3)
	notifyAll(t, subs, true)
	focustest.Join(t, f, "room", "alice")
	notifyAll(t, subs[:1], false) // only the first hears of alice now
	notifyAll(t, subs[:1], true)  // and refreshes
	focustest.Join(t, f, "room", "bob")
	notifyAll(t, subs, false)
	want := [][]string{
		{"1 full 0", "2 partial 1", "3 full 1", "4 partial 1"}, // bob only: alice it had
		{"1 full 0", "2 partial 2"},
		{"1 full 0", "2 partial 2"},
	}
	for i, sink := range sinks {
		var got []string
		for _, b := range sink.bodies {
			doc, err := confinfo.Unmarshal(b)
			if err != nil {
				t.Fatalf("subscriber %d: %v\n%s", i, err, b)
			}
			got = append(got, fmt.Sprintf("%d %s %d", doc.Version, doc.NotifyState, len(doc.Users)))
		}
		if fmt.Sprint(got) != fmt.Sprint(want[i]) {
			t.Errorf("subscriber %d: NOTIFYs (version, state, users) %v, want %v", i, got, want[i])
		}
	}
}

// Subscribers notified at the same time still share one view and one document.
func TestNotifySharesOneViewConcurrently(t *testing.T) {
	const n = 10
	f, ev, subs, sinks := watched(t, n)
	focustest.Join(t, f, "room", "alice")
	var wg sync.WaitGroup
	for _, sub := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !sub.notify("", true, sub.expiresAt()) {
				t.Error("NOTIFY failed")
			}
		}()
	}
	wg.Wait()
	if b, r := ev.built.Load(), ev.rendered.Load(); b != 1 || r != 1 {
		t.Fatalf("full NOTIFY to %d subscribers at once: %d views built, %d documents encoded; want 1 and 1", n, b, r)
	}
	for i, sink := range sinks {
		doc, err := confinfo.Unmarshal(sink.bodies[0])
		if err != nil || doc.Version != 1 || len(doc.Users) != 1 {
			t.Errorf("subscriber %d: %v, %+v", i, err, doc)
		}
	}
}
