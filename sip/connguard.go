package sip

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// Connection limits of the SIP TCP and TLS listeners. sipgo reads a stream connection for as
// long as its peer keeps it open and sets no deadline a client trickling one byte at a time
// would ever hit, so the listeners handed to sipgo are wrapped: an accepted connection beyond
// Limits.MaxConnsPerIP or Limits.MaxConns is closed at once, and a message (the first one
// counted from the connection's accept, so a TLS handshake too) must arrive whole within
// Limits.MessageTimeout of its first byte, or its connection is closed. Between messages a
// connection may stay idle: the focus sends NOTIFYs and BYEs over it. Sources in the trusted
// proxies list are exempt from the per-IP cap, never from the deadline.

// guard counts the accepted stream connections of one server (TCP and TLS together).
type guard struct {
	s     *Server
	mu    sync.Mutex
	perIP map[string]int
	total int
}

// guardListener is a net.Listener whose connections the guard admits and watches.
type guardListener struct {
	net.Listener
	g         *guard
	transport string // metric label: tcp, tls
}

func (s *Server) guardListener(ln net.Listener, transport string) net.Listener {
	return &guardListener{Listener: ln, g: s.guard, transport: transport}
}

// Accept returns the next admitted connection; refused ones are closed here and never reach sipgo
// (whose accept loop ends on the first error it sees).
func (l *guardListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := ""
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip = a.IP.String()
		}
		if reason := l.g.admit(ip); reason != "" {
			l.g.s.metrics.connsRejected.WithLabelValues(l.transport, reason).Inc()
			l.g.s.log.Debug("SIP connection refused", "transport", l.transport, "remote", ip, "limit", reason)
			c.Close()
			continue
		}
		return &guardedConn{Conn: c, l: l, ip: ip, timeout: l.g.s.cfg.Limits.MessageTimeout, start: time.Now(), state: inHead}, nil
	}
}

// admit takes a slot for ip; it names the limit that refused it, "" when admitted.
func (g *guard) admit(ip string) string {
	lim := g.s.cfg.Limits
	exempt := ip == "" || g.s.trusted.contains(ip)
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case lim.MaxConns > 0 && g.total >= lim.MaxConns:
		return "max_conns"
	case !exempt && lim.MaxConnsPerIP > 0 && g.perIP[ip] >= lim.MaxConnsPerIP:
		return "max_conns_per_ip"
	}
	g.total++
	g.perIP[ip]++
	return ""
}

func (g *guard) release(ip string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
	if g.perIP[ip]--; g.perIP[ip] <= 0 {
		delete(g.perIP, ip)
	}
}

// Where a guardedConn's stream is: between messages, in a message's start line and headers,
// or in its body.
const (
	idle = iota
	inHead
	inBody
)

// guardedConn follows the framing of the SIP stream it reads (RFC 3261 §18.3: headers up to
// an empty line, then Content-Length bytes of body) just closely enough to know when a message
// is in progress, and holds the read deadline of that message.
type guardedConn struct {
	net.Conn
	l       *guardListener
	ip      string
	timeout time.Duration
	once    sync.Once

	// Read on sipgo's one reading goroutine only.
	state    int
	start    time.Time // the message in progress began (or the connection was accepted)
	line     []byte    // the header line being read, its first maxLineKept bytes
	bodyLeft int
	length   int
	deadline bool // a read deadline is set
}

// maxLineKept is how much of a header line the scan keeps: enough for a Content-Length.
const maxLineKept = 64

func (c *guardedConn) Read(b []byte) (int, error) {
	if c.timeout > 0 {
		switch {
		case c.state != idle:
			c.Conn.SetReadDeadline(c.start.Add(c.timeout))
			c.deadline = true
		case c.deadline:
			c.Conn.SetReadDeadline(time.Time{})
			c.deadline = false
		}
	}
	n, err := c.Conn.Read(b)
	c.scan(b[:n])
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.l.g.s.metrics.connsClosed.WithLabelValues(c.l.transport, "message_timeout").Inc()
		c.l.g.s.log.Info("closing a SIP connection whose message did not arrive in time",
			"transport", c.l.transport, "remote", c.RemoteAddr().String(), "message_timeout", c.timeout)
	}
	return n, err
}

// scan advances the framing state over p.
func (c *guardedConn) scan(p []byte) {
	for len(p) > 0 {
		switch c.state {
		case idle:
			if p[0] == '\r' || p[0] == '\n' { // keep-alives (RFC 5626 §3.5.1)
				p = p[1:]
				continue
			}
			c.state, c.start, c.line, c.length = inHead, time.Now(), c.line[:0], 0
		case inHead:
			b := p[0]
			p = p[1:]
			if b != '\n' {
				if len(c.line) < maxLineKept {
					c.line = append(c.line, b)
				}
				continue
			}
			line := c.line
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			c.line = c.line[:0]
			if len(line) > 0 {
				if n, ok := contentLength(line); ok {
					c.length = n
				}
				continue
			}
			if c.length > 0 {
				c.state, c.bodyLeft = inBody, c.length
			} else {
				c.state = idle
			}
		case inBody:
			k := min(c.bodyLeft, len(p))
			c.bodyLeft -= k
			p = p[k:]
			if c.bodyLeft == 0 {
				c.state = idle
			}
		}
	}
}

// contentLength reads a Content-Length (or compact l) header line.
func contentLength(line []byte) (int, bool) {
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return 0, false
	}
	name = bytes.TrimSpace(name)
	if !bytes.EqualFold(name, []byte("l")) && !bytes.EqualFold(name, []byte("content-length")) {
		return 0, false
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(value)))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// Close gives the connection's slot back, once.
func (c *guardedConn) Close() error {
	c.once.Do(func() { c.l.g.release(c.ip) })
	return c.Conn.Close()
}
