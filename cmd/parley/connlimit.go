package main

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// connLimit caps the connections the HTTP listeners (plain and TLS together) hold: per source
// IP (http.max_conns_per_ip) and in all (http.max_conns). A connection beyond a cap is closed
// as soon as it is accepted, before a byte of it is read, and counted by limit.
type connLimit struct {
	perIPMax, max int // 0: no limit
	rejected      *prometheus.CounterVec
	slow          prometheus.Counter
	log           *slog.Logger

	mu    sync.Mutex
	perIP map[string]int
	total int
}

func newConnLimit(perIP, total int, log *slog.Logger) *connLimit {
	l := &connLimit{perIPMax: perIP, max: total, log: log, perIP: map[string]int{},
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "parley", Name: "http_connections_rejected_total",
			Help: "HTTP connections closed at accept, by limit (max_conns_per_ip, max_conns)."}, []string{"limit"})}
	l.slow = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "parley", Name: "http_slow_requests_total",
		Help: "HTTP connections closed because a request did not arrive within http.read_header_timeout or http.read_timeout."})
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

	// A read deadline that expires after bytes came since it was set is a request that was too
	// slow (http.read_header_timeout, http.read_timeout); one that expires on a quiet connection
	// is a keep-alive ending, and one set in the past is the server aborting a read.
	deadline atomic.Int64 // unix nanoseconds of the read deadline last set
	read     atomic.Int64 // bytes read since then
}

// inThePast tells the server's read aborts (deadlines set long ago) from real ones.
var inThePast = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

func (c *limitedConn) SetReadDeadline(t time.Time) error {
	c.noteDeadline(t)
	return c.Conn.SetReadDeadline(t)
}

func (c *limitedConn) SetDeadline(t time.Time) error {
	c.noteDeadline(t)
	return c.Conn.SetDeadline(t)
}

func (c *limitedConn) noteDeadline(t time.Time) {
	if t.IsZero() {
		c.deadline.Store(0)
	} else {
		c.deadline.Store(t.UnixNano())
	}
	c.read.Store(0)
}

func (c *limitedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Add(int64(n))
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && c.deadline.Load() > inThePast && c.read.Load() > 0 {
		c.deadline.Store(0) // counted once
		c.l.slow.Inc()
		c.l.log.Info("closing an HTTP connection whose request did not arrive in time", "remote", c.ip)
	}
	return n, err
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.release(c.ip) })
	return c.Conn.Close()
}
