package main

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestFloorPercent(t *testing.T) {
	for _, c := range []struct {
		floor, live, roots uint64
		want               int
	}{
		{16 << 20, 0, 0, 100},               // before the first collection
		{16 << 20, 1 << 20, 0, 400},         // Go's minimum heap (4 MiB × GOGC/100) would pass the floor above 400
		{16 << 20, 3 << 20, 1 << 20, 325},   // goal 3 MiB + 4 MiB × 3.25 = the floor: the roots count too
		{16 << 20, 8 << 20, 0, 100},         // Go's default reaches the floor
		{16 << 20, 100 << 20, 1 << 20, 100}, // thousands of members
		{1 << 40, 1 << 20, 0, 100_000},      // bounded
		{4 << 20, 1 << 10, 0, 100},          // a floor at Go's minimum heap changes nothing
	} {
		if got := floorPercent(c.floor, c.live, c.roots); got != c.want {
			t.Errorf("floorPercent(%d, %d, %d) = %d, want %d", c.floor, c.live, c.roots, got, c.want)
		}
	}
}

// TestHeapFloorFollowsCollections: with a floor far above this test binary's live heap, GOGC is
// raised from the first collection on, and the floor sees every collection after (each cycle's
// finalizer arms the next); stopping gives Go's default back.
func TestHeapFloorFollowsCollections(t *testing.T) {
	t.Setenv("GOGC", "")
	current := func() int {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	h, stop := newHeapFloor(1 << 30)
	defer func() {
		stop()
		if p := current(); p != 100 {
			t.Errorf("GOGC %d after stop, want 100", p)
		}
	}()
	before := h.cycles.Load()
	deadline := time.Now().Add(5 * time.Second)
	for h.cycles.Load() < before+10 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond) // the finalizer runs on its own goroutine
	}
	if n := h.cycles.Load() - before; n < 10 {
		t.Fatalf("the floor saw %d of the collections, want every one", n)
	}
	if p := current(); p <= 100 {
		t.Fatalf("GOGC %d after collections, want the floor's", p)
	}
}
