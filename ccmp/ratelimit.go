package ccmp

import (
	"net"

	"github.com/parleychat/parley/internal/ratelimit"
)

// sourceLimiter is HandlerConfig.RequestRate per source IP; nil allows everything.
type sourceLimiter struct{ perIP *ratelimit.PerKey }

func newSourceLimiter(rate float64) *sourceLimiter {
	l := ratelimit.New(rate)
	if l == nil {
		return nil
	}
	return &sourceLimiter{perIP: l}
}

// allow takes a token from the bucket of remoteAddr's IP.
func (l *sourceLimiter) allow(remoteAddr string) bool {
	if l == nil {
		return true
	}
	ip, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		ip = remoteAddr
	}
	return l.perIP.Allow(ip)
}

// SetRequestRate changes HandlerConfig.RequestRate for the requests that come from now on;
// a rate that changes starts with full buckets, an unchanged one keeps them.
func (h *Handler) SetRequestRate(rate float64) {
	h.rateMu.Lock()
	defer h.rateMu.Unlock()
	if rate == h.rate {
		return
	}
	h.rate = rate
	h.limiter.Store(newSourceLimiter(rate))
}
