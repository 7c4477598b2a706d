package msrp

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
)

// quickParking makes quiet connections park within a few janitor periods for one test.
func quickParking(t *testing.T) {
	if !parkingAvailable() {
		t.Skip("msrp: readers park only on Linux (epoll)")
	}
	old := readerParkAfter
	readerParkAfter = 30 * time.Millisecond
	t.Cleanup(func() { readerParkAfter = old })
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
	srv, s, p := boundPair(t, Config{BindTimeout: 20 * time.Millisecond}, rec)

	for round := 1; round <= 3; round++ {
		waitFor(t, "the reader of a quiet connection never parked", func() bool {
			st := srv.Stats()
			return st.ParkedReaders == 1 && st.ReaderParks == uint64(round)
		})
		for i := 0; i < 3; i++ {
			p.send(sendTo(s, fmt.Sprintf("r%d-%d", round, i), "text/plain", fmt.Sprintf("body %d-%d", round, i)))
		}
		for i := 0; i < 3; i++ {
			p.expectResponse(fmt.Sprintf("r%d-%d", round, i), 200)
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
	srv, s, p := boundPair(t, Config{BindTimeout: 20 * time.Millisecond}, rec)
	waitFor(t, "never parked", func() bool { return srv.Stats().ReaderParks == 1 })
	m := sendTo(s, "half", "text/plain", "split across a quiet spell")
	m.FromPath = []URI{p.uri}
	frame := m.AppendTo(nil)
	p.c.Write(frame[:len(frame)/2])
	time.Sleep(10 * readerParkAfter)
	if st := srv.Stats(); st.ParkedReaders != 0 || st.ReaderParks != 1 {
		t.Fatalf("parked inside a frame: %+v", st)
	}
	p.c.Write(frame[len(frame)/2:])
	p.expectResponse("half", 200)
	if m := rec.nextMsg(t); string(m.Body) != "split across a quiet spell" {
		t.Fatalf("got %q", m.Body)
	}
}

// TestParkedReaderSeesTheEnd: a parked connection still ends properly, whether the peer closes it
// (its sessions learn PeerClosed), the endpoint fails it, or the endpoint shuts down.
func TestParkedReaderSeesTheEnd(t *testing.T) {
	quickParking(t)
	rec := newRecorder()
	srv, _, p := boundPair(t, Config{BindTimeout: 20 * time.Millisecond}, rec)
	waitFor(t, "never parked", func() bool { return srv.Stats().ParkedReaders == 1 })
	p.c.Close()
	if ev := rec.nextClose(t); ev.reason != PeerClosed {
		t.Fatalf("closed by the peer while parked: %v", ev.reason)
	}
	waitFor(t, "the connection stayed open", func() bool { return srv.Stats().Connections == 0 })

	// Closed from this side, as the janitor closes a connection left without sessions: the
	// connection is torn down and forgotten.
	rec1 := newRecorder()
	srv1, s1, _ := boundPair(t, Config{BindTimeout: 20 * time.Millisecond}, rec1)
	waitFor(t, "never parked", func() bool { return srv1.Stats().ParkedReaders == 1 })
	s1.boundConn().fail(Local)
	if ev := rec1.nextClose(t); ev.reason != Local {
		t.Fatalf("failed while parked: %v", ev.reason)
	}
	waitFor(t, "a connection failed while parked was never torn down", func() bool { return srv1.Stats().Connections == 0 })

	rec2 := newRecorder()
	srv2, _, _ := boundPair(t, Config{BindTimeout: 20 * time.Millisecond}, rec2)
	waitFor(t, "never parked", func() bool { return srv2.Stats().ParkedReaders == 1 })
	closed := make(chan struct{})
	go func() { srv2.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(failsafe):
		t.Fatal("Close hung on a parked connection")
	}
	if ev := rec2.nextClose(t); ev.reason != Shutdown {
		t.Fatalf("shut down while parked: %v", ev.reason)
	}
}

// TestParkingFreesGoroutines: 200 quiet members hold no reader goroutines, and every one of them is
// read again when it speaks.
func TestParkingFreesGoroutines(t *testing.T) {
	quickParking(t)
	rec := newRecorder()
	base := runtime.NumGoroutine()
	srv, addr := server(t, Config{BindTimeout: 200 * time.Millisecond})
	const n = 200
	sessions := make([]*Session, n)
	peers := make([]*rawPeer, n)
	for i := range sessions {
		sessions[i] = srv.NewSession(rec)
		peers[i] = dialRaw(t, addr, true)
		sessions[i].SetRemotePath([]URI{peers[i].uri})
		peers[i].send(sendTo(sessions[i], "bind", "", ""))
		peers[i].expectResponse("bind", 200)
	}
	waitFor(t, "not every quiet reader parked", func() bool { return srv.Stats().ParkedReaders == n })
	// What is left: the peers' own readers (n), the endpoint's janitor and the test's.
	if after := runtime.NumGoroutine(); after > base+n+10 {
		t.Fatalf("%d goroutines with %d readers parked, %d before the endpoint started", after, n, base)
	}
	for i, p := range peers {
		p.send(sendTo(sessions[i], "again", "text/plain", "x"))
	}
	for _, p := range peers {
		p.expectResponse("again", 200)
	}
}

// TestBindStartsNoWriter: a member whose session binds with nothing queued for it costs no writer
// goroutine: the 200 goes out from the reader, and the end of the pre-bind batch wakes no one.
func TestBindStartsNoWriter(t *testing.T) {
	rec := newRecorder()
	_, s, _ := boundPair(t, Config{BindTimeout: time.Minute}, rec)
	if s.boundConn().writing.Load() {
		t.Fatal("binding with nothing queued started a writer")
	}
	// With something queued before the bind, the writer is started and sends it.
	srv, addr := server(t, Config{BindTimeout: time.Minute})
	s2 := srv.NewSession(rec)
	q := dialRaw(t, addr, true)
	s2.SetRemotePath([]URI{q.uri})
	if err := s2.Send("text/plain", []byte("queued before the bind")); err != nil {
		t.Fatal(err)
	}
	q.send(sendTo(s2, "bind", "", ""))
	var got []string
	for len(got) < 2 {
		m := q.next()
		got = append(got, m.Method+" "+string(m.Body))
	}
	if !slices.Contains(got, "SEND queued before the bind") {
		t.Fatalf("got %q", got)
	}
}
