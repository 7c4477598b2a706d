package main

import (
	"strconv"
	"testing"
	"time"
)

// TestMemoryTrimmedWhenQuiet: the free heap goes back to the OS after a quiet interval in which
// something happened (here a join), and not again while nothing does.
func TestMemoryTrimmedWhenQuiet(t *testing.T) {
	trimEvery = 100 * time.Millisecond
	d := startTestDaemon(t, nil)
	trimEvery = 30 * time.Second // read by the daemon at start
	trims := func() int {
		v, _ := strconv.ParseFloat(metricLine(t, d, "parley_memory_trims_total"), 64)
		return int(v)
	}
	waitTrim := func(after int) int {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if n := trims(); n > after {
				return n
			}
		}
		t.Fatalf("no trim after %d", after)
		return 0
	}
	settle := func() { // until no frame or session changes for 300 ms, then one interval more
		t.Helper()
		last := d.endpoint.Stats()
		for stable := time.Now(); time.Since(stable) < 300*time.Millisecond; time.Sleep(20 * time.Millisecond) {
			if st := d.endpoint.Stats(); st.MessagesIn != last.MessagesIn || st.Sessions != last.Sessions {
				last, stable = st, time.Now()
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	before := trims()
	joinRoom(t, d, "lobby", "alice", "udp", true)
	waitTrim(before)
	settle()
	n := trims()
	time.Sleep(time.Second) // ten quiet intervals with nothing new
	if got := trims(); got != n {
		t.Fatalf("%d trims while nothing happened, want none", got-n)
	}
	joinRoom(t, d, "lobby", "bob", "udp", true)
	waitTrim(n)
}
