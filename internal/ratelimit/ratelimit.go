// Package ratelimit is the per-source token bucket every listener uses to limit one source
// without slowing the others (SIP INVITE and SUBSCRIBE rates, CCMP requests).
package ratelimit

import (
	"sync"
	"time"
)

// PerKey keeps one token bucket per key (a source IP): up to a second's worth of requests at
// once, refilled at rate per second. Idle buckets are dropped as it grows. A nil *PerKey allows
// everything.
type PerKey struct {
	rate float64
	now  func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter of rate per second per key, or nil (no limit) when rate <= 0.
func New(rate float64) *PerKey {
	if rate <= 0 {
		return nil
	}
	return &PerKey{rate: rate, now: time.Now, buckets: map[string]*bucket{}}
}

// pruneAbove is the number of buckets above which full (idle) ones are dropped.
const pruneAbove = 4096

// Allow takes a token from key's bucket, and reports whether there was one.
func (l *PerKey) Allow(key string) bool {
	if l == nil {
		return true
	}
	now, burst := l.now(), max(l.rate, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= pruneAbove {
			for k, o := range l.buckets {
				if o.tokens+now.Sub(o.last).Seconds()*l.rate >= burst {
					delete(l.buckets, k)
				}
			}
		}
		b = &bucket{tokens: burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
