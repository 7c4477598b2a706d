package msrptest

import (
	"bytes"
	"net"
	"sync"
	"testing"

	"github.com/parleychat/parley/msrp"
)

// RecordingConn is a net.Conn that keeps every byte read and written, for a test to read back
// as frames.
type RecordingConn struct {
	net.Conn
	mu      sync.Mutex
	read    bytes.Buffer
	written bytes.Buffer
}

// Record wraps c.
func Record(c net.Conn) *RecordingConn { return &RecordingConn{Conn: c} }

func (r *RecordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.read.Write(p[:n])
	r.mu.Unlock()
	return n, err
}

// Write records p as it goes out, not after: the far end may read it, and the test look for it
// here, before the write returns.
func (r *RecordingConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.written.Write(p)
	n, err := r.Conn.Write(p)
	r.written.Truncate(r.written.Len() - (len(p) - n))
	return n, err
}

// Written is the frames written so far.
func (r *RecordingConn) Written(t testing.TB) []*msrp.Message {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	return Frames(t, r.written.Bytes())
}

// ReadFrames is the frames read so far.
func (r *RecordingConn) ReadFrames(t testing.TB) []*msrp.Message {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	return Frames(t, r.read.Bytes())
}

// Frames parses b into frames, failing the test on a malformed one; a frame cut at the end is
// left out.
func Frames(t testing.TB, b []byte) []*msrp.Message {
	t.Helper()
	var out []*msrp.Message
	if err := msrp.NewParser(0, 64<<20).Parse(b, func(m *msrp.Message, ferr error) error {
		if ferr != nil {
			return ferr
		}
		out = append(out, m.Clone())
		return nil
	}); err != nil {
		t.Fatalf("recorded frames: %v", err)
	}
	return out
}

// RecordingListener is a net.Listener whose connections record, for a server under test to
// serve on.
type RecordingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*RecordingConn
}

// RecordListener wraps ln.
func RecordListener(ln net.Listener) *RecordingListener { return &RecordingListener{Listener: ln} }

func (l *RecordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rc := Record(c)
	l.mu.Lock()
	l.conns = append(l.conns, rc)
	l.mu.Unlock()
	return rc, nil
}

// Conns is the connections accepted so far, in order.
func (l *RecordingListener) Conns() []*RecordingConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*RecordingConn(nil), l.conns...)
}
