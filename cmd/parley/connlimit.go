package main

import (
	"log/slog"
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// connLimit caps the connections the HTTP listeners (plain and TLS together) hold: per source
// IP (http.max_conns_per_ip) and in all (http.max_conns). A connection beyond a cap is closed
// as soon as it is accepted, before a byte of it is read, and counted by limit.
type connLimit struct {
	perIPMax, max int // 0: no limit
	rejected      *prometheus.CounterVec
	log           *slog.Logger

	mu    sync.Mutex
	perIP map[string]int
	total int
}

func newConnLimit(perIP, total int, log *slog.Logger) *connLimit {
	l := &connLimit{perIPMax: perIP, max: total, log: log, perIP: map[string]int{},
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Name: "http_connections_rejected_total",
			Help: "HTTP connections closed at accept, by limit (max_conns_per_ip, max_conns)."}, []string{"limit"})}
	l.rejected.WithLabelValues("max_conns_per_ip")
	l.rejected.WithLabelValues("max_conns")
	return l
}

// wrap returns ln with its connections counted against the caps.
func (l *connLimit) wrap(ln net.Listener) net.Listener { return &limitedListener{Listener: ln, l: l} }

func (l *connLimit) admit(ip string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.max > 0 && l.total >= l.max:
		return "max_conns"
	case l.perIPMax > 0 && l.perIP[ip] >= l.perIPMax:
		return "max_conns_per_ip"
	}
	l.total++
	l.perIP[ip]++
	return ""
}

func (l *connLimit) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

type limitedListener struct {
	net.Listener
	l *connLimit
}

// Accept returns the next admitted connection; refused ones are closed here (an error would
// end http.Server's accept loop).
func (ln *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := ""
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip = a.IP.String()
		}
		if limit := ln.l.admit(ip); limit != "" {
			ln.l.rejected.WithLabelValues(limit).Inc()
			ln.l.log.Debug("HTTP connection refused", "remote", ip, "limit", limit)
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, l: ln.l, ip: ip}, nil
	}
}

type limitedConn struct {
	net.Conn
	l    *connLimit
	ip   string
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.release(c.ip) })
	return c.Conn.Close()
}
