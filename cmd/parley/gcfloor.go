package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// The collector's floor. Go sets the heap goal at twice the live heap (GOGC=100). A focus with
// a few busy rooms has a live heap of a few MiB while every relayed message allocates its body
// and head, so at 300,000 messages a second it collects every few milliseconds: GOGC=400 made the
// 2-member row of the README's table 19 % faster. After each collection the floor sets GOGC so
// that the next goal is gc_heap_floor bytes (not more: the goal counts the stacks and globals
// too); once Go's own goal reaches the floor GOGC is 100 again, so a focus holding thousands of
// members keeps its memory per member (and the quiet-time trim, trim.go, still returns what is
// free). Until the first collection GOGC is 100. GOGC in the environment wins.

// gcPercent is parley_gc_percent.
var gcPercent = prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_gc_percent",
	Help: "The GOGC the collector runs with: raised while Go's own heap goal would be below gc_heap_floor."})

type heapFloor struct {
	floor   uint64
	percent int              // as last set
	heap    []metrics.Sample // live heap, then the roots: stacks and globals
	stopped atomic.Bool
	cycles  atomic.Uint64 // collections seen
}

// gcCycle is garbage made on purpose: its finalizer runs once the collection that found it
// unreachable has ended, and makes the next one. It holds a pointer, so it is never batched
// with other small objects (whose finalizers may never run).
type gcCycle struct{ h *heapFloor }

// startHeapFloor keeps the heap goal at floor bytes, or at Go's own goal when that is larger,
// until stop is called; floor 0, or GOGC set in the environment, leaves the collector alone. One
// floor serves the process (GOGC is the process's): a second daemon in it, as in tests, shares
// the first one's, which ends with the last of them.
func startHeapFloor(floor uint64) (stop func()) {
	floors.Lock()
	defer floors.Unlock()
	if floors.users == 0 {
		_, floors.stop = newHeapFloor(floor)
	}
	floors.users++
	var once sync.Once
	return func() {
		once.Do(func() {
			floors.Lock()
			defer floors.Unlock()
			if floors.users--; floors.users == 0 {
				floors.stop()
			}
		})
	}
}

var floors struct {
	sync.Mutex
	users int
	stop  func()
}

func newHeapFloor(floor uint64) (*heapFloor, func()) {
	if floor == 0 || os.Getenv("GOGC") != "" {
		gogc := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		if metrics.Read(gogc); gogc[0].Value.Kind() == metrics.KindUint64 {
			gcPercent.Set(float64(gogc[0].Value.Uint64()))
		}
		return nil, func() {}
	}
	h := &heapFloor{floor: floor, percent: 100, heap: []metrics.Sample{{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}}
	h.adjust()
	h.next()
	return h, func() {
		h.stopped.Store(true)
		debug.SetGCPercent(100)
		gcPercent.Set(100)
	}
}

func (h *heapFloor) next() {
	runtime.SetFinalizer(&gcCycle{h: h}, func(c *gcCycle) {
		if c.h.stopped.Load() {
			return
		}
		c.h.adjust()
		c.h.next()
	})
}

func (h *heapFloor) adjust() {
	h.cycles.Add(1)
	metrics.Read(h.heap)
	var v [3]uint64
	for i := range h.heap {
		if h.heap[i].Value.Kind() == metrics.KindUint64 {
			v[i] = h.heap[i].Value.Uint64()
		}
	}
	if p := floorPercent(h.floor, v[0], v[1]+v[2]); p != h.percent {
		h.percent = p
		debug.SetGCPercent(p)
		gcPercent.Set(float64(p))
	}
}

// floorPercent is the GOGC that puts the heap goal at floor. Go's goal is live + (live + roots)
// × GOGC/100 (roots: the stacks and globals it scans), and at least 4 MiB × GOGC/100, its
// minimum heap, which alone bounds GOGC for a small live heap. It is 100 (Go's default) once
// that default reaches the floor, and before the first collection, when live is not known (0).
func floorPercent(floor, live, roots uint64) int {
	const minimumHeap = 4 << 20 // the runtime's defaultHeapMinimum, scaled by GOGC/100
	base := live + roots
	if live == 0 || live+base >= floor || floor <= minimumHeap {
		return 100
	}
	p := min((floor-live)*100/base, floor*100/minimumHeap, 100_000)
	return max(int(p), 100)
}
