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
