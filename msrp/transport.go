package msrp

import (
	"io"
	"net"
	"time"
)

// Transport is the byte stream one MSRP connection runs over. TCP and TLS use NewNetTransport; a WebSocket
// transport (RFC 7977) implements the same seam.
type Transport interface {
	io.Reader
	// WriteBuffers writes every buffer in order (writev on TCP). It may consume bufs.
	WriteBuffers(bufs *net.Buffers) (int64, error)
	SetWriteDeadline(t time.Time) error
	Close() error
	RemoteAddr() net.Addr
}

// NewNetTransport adapts a net.Conn (TCP or TLS).
func NewNetTransport(c net.Conn) Transport { return netTransport{c} }

type netTransport struct{ net.Conn }

func (t netTransport) WriteBuffers(bufs *net.Buffers) (int64, error) { return bufs.WriteTo(t.Conn) }
