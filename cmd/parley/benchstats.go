package main

import (
	"math/bits"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// benchStats is what every peer of a load run adds to: counters and a latency histogram, all
// atomic so that readers on many goroutines never wait on each other.
type benchStats struct {
	epoch                           time.Time // stamps are nanoseconds since epoch
	sent, acked, deliveries, errors atomic.Int64
	latency                         histogram

	mu    sync.Mutex
	codes map[int]int64 // refused SENDs by status code
}

func newBenchStats() *benchStats { return &benchStats{codes: map[int]int64{}, epoch: time.Now()} }

func (s *benchStats) delivered(d time.Duration) {
	s.deliveries.Add(1)
	s.latency.record(d)
}

func (s *benchStats) refused(code int) {
	s.errors.Add(1)
	s.mu.Lock()
	s.codes[code]++
	s.mu.Unlock()
}

func (s *benchStats) refusals() map[int]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int]int64, len(s.codes))
	for k, v := range s.codes {
		out[k] = v
	}
	return out
}

// histogram is log-linear over nanoseconds: 16 buckets per power of two (about 4% wide), so
// percentiles need no stored samples and recording is one atomic add.
type histogram struct {
	counts [1024]atomic.Int64
}

const subBuckets = 16

func bucketOf(ns uint64) int {
	if ns < 2*subBuckets {
		return int(ns)
	}
	e := bits.Len64(ns) - 5 // ns>>e is in [16, 31]
	return 2*subBuckets + (e-1)*subBuckets + int(ns>>uint(e)) - subBuckets
}

// bucketValue is the middle of a bucket, in nanoseconds.
func bucketValue(i int) time.Duration {
	if i < 2*subBuckets {
		return time.Duration(i)
	}
	e := (i-2*subBuckets)/subBuckets + 1
	m := uint64((i-2*subBuckets)%subBuckets + subBuckets)
	return time.Duration(m<<uint(e) + (uint64(1)<<uint(e))/2)
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := bucketOf(uint64(d))
	if i >= len(h.counts) {
		i = len(h.counts) - 1
	}
	h.counts[i].Add(1)
}

// percentiles returns the latency at each quantile q (0 < q ≤ 1).
func (h *histogram) percentiles(qs ...float64) []time.Duration {
	var counts [len(histogram{}.counts)]int64
	var total int64
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
	}
	out := make([]time.Duration, len(qs))
	if total == 0 {
		return out
	}
	order := make([]int, len(qs))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return qs[order[a]] < qs[order[b]] })
	var seen int64
	k := 0
	for i := range counts {
		seen += counts[i]
		for k < len(order) && float64(seen) >= qs[order[k]]*float64(total) {
			out[order[k]] = bucketValue(i)
			k++
		}
	}
	return out
}
