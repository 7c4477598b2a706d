package main

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestFloorPercent(t *testing.T) {
	for _, c := range []struct {
		floor, live uint64
		want        int
	}{
		{32 << 20, 0, 3100},        // before the first collection: as if 1 MiB were live
		{32 << 20, 2 << 20, 1500},  // goal 2 MiB × 16 = the floor
		{32 << 20, 16 << 20, 100},  // half the floor: Go's default
		{32 << 20, 100 << 20, 100}, // thousands of members
		{1 << 40, 1 << 20, 100_000},
	} {
		if got := floorPercent(c.floor, c.live); got != c.want {
			t.Errorf("floorPercent(%d, %d) = %d, want %d", c.floor, c.live, got, c.want)
		}
	}
}

// TestHeapFloorFollowsCollections: with a floor far above this test binary's live heap, GOGC is
// raised at once, and the floor sees every collection after (each cycle's finalizer arms the
// next); stopping gives Go's default back.
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
	if p := current(); p <= 100 {
		t.Fatalf("GOGC %d with a 1 GiB floor, want more than 100", p)
	}
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
