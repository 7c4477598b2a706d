package ccmp

import (
	"net"
	"sync"
	"time"
)

// sourceLimiter keeps one token bucket per source IP (HandlerConfig.RequestRate): up to a
// second's worth of requests at once, refilled at rate per second. Idle buckets are dropped as
// it grows. A nil limiter allows everything.
type sourceLimiter struct {
	rate float64
	now  func() time.Time

	mu      sync.Mutex
	buckets map[string]*sourceBucket
}

type sourceBucket struct {
	tokens float64
	last   time.Time
}

func newSourceLimiter(rate float64) *sourceLimiter {
	if rate <= 0 {
		return nil
	}
	return &sourceLimiter{rate: rate, now: time.Now, buckets: map[string]*sourceBucket{}}
}

// limiterPruneAbove is the number of buckets above which full (idle) ones are dropped.
const limiterPruneAbove = 4096

// allow takes a token from the bucket of remoteAddr's IP.
func (l *sourceLimiter) allow(remoteAddr string) bool {
	if l == nil {
		return true
	}
	ip, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		ip = remoteAddr
	}
	now, burst := l.now(), max(l.rate, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[ip]
	if b == nil {
		if len(l.buckets) >= limiterPruneAbove {
			for k, o := range l.buckets {
				if o.tokens+now.Sub(o.last).Seconds()*l.rate >= burst {
					delete(l.buckets, k)
				}
			}
		}
		b = &sourceBucket{tokens: burst, last: now}
		l.buckets[ip] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
