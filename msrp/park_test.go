package msrp_test

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/msrptest"
)

// quickPark is how long a quiet reader waits before it parks, under quickParking.
const quickPark = 30 * time.Millisecond

// quickParking makes quiet connections park within a few janitor periods for one test.
func quickParking(t *testing.T) {
	if !msrp.ParkingAvailable() {
		t.Skip("msrp: readers park only on Linux (epoll)")
	}
	msrp.SetReaderParkAfter(t, quickPark)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(failsafe)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestQuietReaderParks: the reader of a quiet connection ends and costs no goroutine; the next
// request starts a new one that reads it, round after round, in order.
func TestQuietReaderParks(t *testing.T) {
	quickParking(t)
	rec := newRecorder()
	srv, s, p := boundPair(t, msrp.Config{BindTimeout: 20 * time.Millisecond}, rec)

	for round := 1; round <= 3; round++ {
		waitFor(t, "the reader of a quiet connection never parked", func() bool {
			st := srv.Stats()
			return st.ParkedReaders == 1 && st.ReaderParks == uint64(round)
		})
		for i := 0; i < 3; i++ {
			p.Write(sendTo(s, fmt.Sprintf("r%d-%d", round, i), "text/plain", fmt.Sprintf("body %d-%d", round, i)))
		}
		for i := 0; i < 3; i++ {
			p.ExpectNext(t, fmt.Sprintf("r%d-%d", round, i), 200)
			if m := rec.nextMsg(t); string(m.Body) != fmt.Sprintf("body %d-%d", round, i) {
				t.Fatalf("round %d: got %q", round, m.Body)
			}
		}
		if n := srv.Stats().ParkedReaders; n != 0 {
			t.Fatalf("round %d: %d readers still parked after a request was read", round, n)
		}
	}
}

// TestReaderDoesNotParkInsideAFrame: half a frame, then silence: the reader keeps the rest of the
// frame's bytes coming to the same parser, and does not park while the frame is open.
func TestReaderDoesNotParkInsideAFrame(t *testing.T) {
	quickParking(t)
	rec := newRecorder()
	srv, s, p := boundPair(t, msrp.Config{BindTimeout: 20 * time.Millisecond}, rec)
	waitFor(t, "never parked", func() bool { return srv.Stats().ReaderParks == 1 })
	m := sendTo(s, "half", "text/plain", "split across a quiet spell")
	m.FromPath = []msrp.URI{p.Local}
	frame := m.AppendTo(nil)
	p.Conn.Write(frame[:len(frame)/2])
	time.Sleep(10 * quickPark)
	if st := srv.Stats(); st.ParkedReaders != 0 || st.ReaderParks != 1 {
		t.Fatalf("parked inside a frame: %+v", st)
	}
	p.Conn.Write(frame[len(frame)/2:])
	p.ExpectNext(t, "half", 200)
	if m := rec.nextMsg(t); string(m.Body) != "split across a quiet spell" {
		t.Fatalf("got %q", m.Body)
	}
}

// TestParkedReaderSeesTheEnd: a parked connection still ends properly, whether the peer closes it
// (its sessions learn PeerClosed), the endpoint fails it, or the endpoint shuts down.
func TestParkedReaderSeesTheEnd(t *testing.T) {
	quickParking(t)
	rec := newRecorder()
	srv, _, p := boundPair(t, msrp.Config{BindTimeout: 20 * time.Millisecond}, rec)
	waitFor(t, "never parked", func() bool { return srv.Stats().ParkedReaders == 1 })
	p.Conn.Close()
	if ev := rec.nextClose(t); ev.reason != msrp.PeerClosed {
		t.Fatalf("closed by the peer while parked: %v", ev.reason)
	}
	waitFor(t, "the connection stayed open", func() bool { return srv.Stats().Connections == 0 })

	// Closed from this side, as the janitor closes a connection left without sessions: the
	// connection is torn down and forgotten.
	rec1 := newRecorder()
	srv1, s1, _ := boundPair(t, msrp.Config{BindTimeout: 20 * time.Millisecond}, rec1)
	waitFor(t, "never parked", func() bool { return srv1.Stats().ParkedReaders == 1 })
	s1.BoundConn().Fail(msrp.Local)
	if ev := rec1.nextClose(t); ev.reason != msrp.Local {
		t.Fatalf("failed while parked: %v", ev.reason)
	}
	waitFor(t, "a connection failed while parked was never torn down", func() bool { return srv1.Stats().Connections == 0 })

	rec2 := newRecorder()
	srv2, _, _ := boundPair(t, msrp.Config{BindTimeout: 20 * time.Millisecond}, rec2)
	waitFor(t, "never parked", func() bool { return srv2.Stats().ParkedReaders == 1 })
	closed := make(chan struct{})
	go func() { srv2.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(failsafe):
		t.Fatal("Close hung on a parked connection")
	}
	if ev := rec2.nextClose(t); ev.reason != msrp.Shutdown {
		t.Fatalf("shut down while parked: %v", ev.reason)
	}
}

// TestParkingFreesGoroutines: 200 quiet members hold no reader goroutines, and every one of them is
// read again when it speaks.
func TestParkingFreesGoroutines(t *testing.T) {
	quickParking(t)
	rec := newRecorder()
	base := runtime.NumGoroutine()
	srv, addr := server(t, msrp.Config{BindTimeout: 200 * time.Millisecond})
	const n = 200
	sessions := make([]*msrp.Session, n)
	peers := make([]*msrptest.Peer, n)
	for i := range sessions {
		sessions[i] = srv.NewSession(rec)
		peers[i] = dial(t, addr, true)
		sessions[i].SetRemotePath([]msrp.URI{peers[i].Local})
		peers[i].Write(sendTo(sessions[i], "bind", "", ""))
		peers[i].ExpectNext(t, "bind", 200)
	}
	waitFor(t, "not every quiet reader parked", func() bool { return srv.Stats().ParkedReaders == n })
	// What is left: the peers' own readers (n), the endpoint's janitor and the test's.
	if after := runtime.NumGoroutine(); after > base+n+10 {
		t.Fatalf("%d goroutines with %d readers parked, %d before the endpoint started", after, n, base)
	}
	for i, p := range peers {
		p.Write(sendTo(sessions[i], "again", "text/plain", "x"))
	}
	for _, p := range peers {
		p.ExpectNext(t, "again", 200)
	}
}

// TestBindStartsNoWriter: a member whose session binds with nothing queued for it costs no writer
// goroutine: the 200 goes out from the reader, and the end of the pre-bind batch wakes no one.
func TestBindStartsNoWriter(t *testing.T) {
	rec := newRecorder()
	_, s, _ := boundPair(t, msrp.Config{BindTimeout: time.Minute}, rec)
	if s.BoundConn().Writing() {
		t.Fatal("binding with nothing queued started a writer")
	}
	// With something queued before the bind, the writer is started and sends it.
	srv, addr := server(t, msrp.Config{BindTimeout: time.Minute})
	s2 := srv.NewSession(rec)
	q := dial(t, addr, true)
	s2.SetRemotePath([]msrp.URI{q.Local})
	if err := s2.Send("text/plain", []byte("queued before the bind")); err != nil {
		t.Fatal(err)
	}
	q.Write(sendTo(s2, "bind", "", ""))
	var got []string
	for len(got) < 2 {
		m := q.Next(t)
		got = append(got, m.Method+" "+string(m.Body))
	}
	if !slices.Contains(got, "SEND queued before the bind") {
		t.Fatalf("got %q", got)
	}
}
