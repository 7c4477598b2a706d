// Package natstest runs a real NATS server with JetStream inside a test binary (nats-server is
// a Go module), listening on a loopback port of its own, its store in the test's temporary
// directory.
package natstest

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a running NATS server that a test may stop and start again, on the same port with
// the same store.
type Server struct {
	*server.Server
	opts *server.Options
}

// Start starts a server that stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{opts: &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true}}
	s.run(t)
	s.opts.Port = s.Addr().(*net.TCPAddr).Port // a restart takes the same port
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) run(t testing.TB) {
	t.Helper()
	srv, err := server.NewServer(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		t.Fatal("natstest: the NATS server did not start within 10 s")
	}
	s.Server = srv
}

// Stop shuts the server down and waits until it is gone.
func (s *Server) Stop() {
	s.Shutdown()
	s.WaitForShutdown()
}

// Restart starts the stopped server again, with what its store kept.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.run(t)
}

// URL starts a server (Start) and returns its client URL.
func URL(t testing.TB) string {
	t.Helper()
	return Start(t).ClientURL()
}
