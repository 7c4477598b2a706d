package main

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Memory trimming. After a burst of joins the Go runtime keeps the pages the heap held at its
// peak (its goal is twice the live heap, and the scavenger returns free pages slowly), and the
// goroutine stacks that grew while members joined shrink only at collections. A focus holding
// thousands of idle members pays for both in RSS: 10,000 idle members measured 23 to 33 KiB each
// 150 s after joining, depending on whether the scavenger had run. So once per trimEvery, when
// the interval was quiet (few frames received) but something happened since the last trim
// (frames or sessions), the free pages go back to the OS at once and the stacks get their
// collection.
const quietFrameRate = 200 // frames per second, on average over trimEvery, that still count as quiet

var trimEvery = 30 * time.Second // a variable for tests

// memoryTrims is parley_memory_trims_total.
var memoryTrims = prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_memory_trims_total",
	Help: "Times the free heap was returned to the OS after a quiet interval (see trim.go)."})

func (d *daemon) trimMemoryWhenQuiet(ctx context.Context) {
	every := trimEvery
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		st := d.endpoint.Stats()
		lastIn := st.MessagesIn
		trimmedIn, trimmedSessions := st.MessagesIn, st.Sessions
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			st := d.endpoint.Stats()
			quiet := st.MessagesIn-lastIn < uint64(quietFrameRate*every.Seconds())
			changed := st.MessagesIn != trimmedIn || st.Sessions != trimmedSessions
			lastIn = st.MessagesIn
			if !quiet || !changed {
				continue
			}
			start := time.Now()
			debug.FreeOSMemory()
			memoryTrims.Inc()
			trimmedIn, trimmedSessions = st.MessagesIn, st.Sessions
			d.log.Debug("memory returned to the OS", "took", time.Since(start), "sessions", st.Sessions)
		}
	}()
}
