package sip

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
)

// SIP over WebSocket (RFC 7118) on the HTTP listener: `GET /sip` with `Sec-WebSocket-Protocol: sip`.
//
// sipgo's WebSocket transport accepts connections only from a net.Listener and performs the HTTP
// upgrade itself (transport_ws.go), so it cannot sit behind the HTTP server's mux as it is. The handler
// here checks the request (path, subprotocol; origin policy is the caller's), hijacks the connection,
// and hands it to sipgo through an in-memory listener with the request's bytes put back in front, so
// sipgo's own upgrader answers the handshake and its WS (or WSS, over the HTTP listener's TLS)
// transport owns the connection: parsing, transactions, keepalives.
//
// RFC 7118 §5: a browser's Via and Contact carry a `.invalid` host that cannot be resolved. Responses go
// back over the connection the request came on (sipgo does that for reliable transports), and requests
// the focus sends in a dialog (BYE, NOTIFY) go to the dialog's source address, where sipgo finds the same
// WebSocket connection in its pool: nothing is ever resolved or dialled. The focus's Contact names the
// HTTP listener with transport=ws or wss.

// WebSocketProtocol is the WebSocket subprotocol of SIP (RFC 7118 §4.1).
const WebSocketProtocol = "sip"

// WebSocketHandler returns the handler of `GET /sip` upgrades. secure says the HTTP listener it
// serves is TLS (the transport is then WSS). port is that listener's port, written into the Contact
// of responses to WebSocket clients. Call it before Serve.
func (s *Server) WebSocketHandler(secure bool, port int) http.Handler {
	s.wsMu.Lock()
	defer s.wsMu.Unlock()
	ln := &handoffListener{conns: make(chan net.Conn), done: make(chan struct{})}
	if secure {
		s.wssPort, s.wssLn = port, ln
	} else {
		s.wsPort, s.wsLn = port, ln
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !offersProtocol(r.Header, WebSocketProtocol) {
			http.Error(w, "WebSocket upgrade must offer Sec-WebSocket-Protocol: sip (RFC 7118)", http.StatusBadRequest)
			return
		}
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "a WebSocket upgrade is expected here (RFC 7118)", http.StatusBadRequest)
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "cannot take over this connection", http.StatusInternalServerError)
			return
		}
		var head bytes.Buffer
		fmt.Fprintf(&head, "GET %s HTTP/1.1\r\nHost: %s\r\n", r.URL.RequestURI(), r.Host)
		r.Header.Write(&head)
		head.WriteString("\r\n")
		nc, rw, err := hj.Hijack()
		if err != nil {
			return
		}
		transport := "ws"
		if secure {
			transport = "wss"
		}
		open := s.metrics.wsConns.WithLabelValues(transport)
		open.Inc()
		c := &replayConn{Conn: nc, r: io.MultiReader(&head, io.LimitReader(rw.Reader, int64(rw.Reader.Buffered())), nc), closed: open.Dec}
		if !ln.hand(c) {
			c.Close()
		}
	})
}

func offersProtocol(h http.Header, p string) bool {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for _, t := range strings.Split(v, ",") {
			if strings.TrimSpace(t) == p {
				return true
			}
		}
	}
	return false
}

// serveWebSocket runs sipgo's WS and WSS transports on the handed-off connections.
func (s *Server) serveWebSocket(errc chan<- error) {
	s.wsMu.Lock()
	defer s.wsMu.Unlock()
	if s.wsLn != nil {
		go func() { errc <- s.srv.ServeWS(s.wsLn) }()
	}
	if s.wssLn != nil {
		go func() { errc <- s.srv.ServeWSS(s.wssLn) }()
	}
}

func (s *Server) closeWebSocket() {
	s.wsMu.Lock()
	defer s.wsMu.Unlock()
	for _, ln := range []*handoffListener{s.wsLn, s.wssLn} {
		if ln != nil {
			ln.Close()
		}
	}
}

// wsContactPort is the port of the focus's Contact for a request that came over transport ws or wss.
func (s *Server) wsContactPort(transport string) (int, bool) {
	s.wsMu.Lock()
	defer s.wsMu.Unlock()
	switch strings.ToLower(transport) {
	case "ws":
		return s.wsPort, true
	case "wss":
		return s.wssPort, true
	}
	return 0, false
}

// handoffListener is a net.Listener whose connections come from the HTTP handler.
type handoffListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *handoffListener) hand(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is a placeholder: sipgo only reads its port, which is not the one clients reach (wsContactPort).
func (l *handoffListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero} }

// replayConn reads the request the HTTP server already consumed before the rest of the connection.
// closed runs once, on the first Close.
type replayConn struct {
	net.Conn
	r      io.Reader
	once   sync.Once
	closed func()
}

func (c *replayConn) Close() error {
	c.once.Do(c.closed)
	return c.Conn.Close()
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }
