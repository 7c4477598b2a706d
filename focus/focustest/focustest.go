// Package focustest starts a real focus for the tests of the packages that drive it (focus,
// sip, ccmp): a SQLite or PostgreSQL store, an MSRP endpoint on a loopback port, rooms of the
// domain example.net, and joins over a real SDP offer.
package focustest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/sqlstore"
)

// Domain is the rooms' domain.
const Domain = "example.net"

// Quiet is a logger that drops everything.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// OpenSQLite opens the SQLite store of dir (t.TempDir() when ""); t closes it at the end.
func OpenSQLite(t testing.TB, dir string) xcon.Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	store, err := sqlstore.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// Run starts a focus on store with rooms and its MSRP endpoint on a loopback port. stop shuts
// both down (the store stays open), for a test that starts a focus again on the same store.
func Run(t testing.TB, store xcon.Store, rooms ...focus.RoomSpec) (f *focus.Focus, stop func()) {
	t.Helper()
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := msrp.NewEndpoint(msrp.Config{AdvertisedHost: "127.0.0.1", AdvertisedPort: ln.Addr().(*net.TCPAddr).Port, Logger: Quiet})
	go ep.Serve(ctx, ln)
	f, err = focus.New(ctx, focus.Config{Domain: Domain, MaxMessageSize: 1 << 20, WrappedTypes: []string{"*"}, Logger: Quiet},
		store, ep, rooms)
	if err != nil {
		ep.Close()
		t.Fatal(err)
	}
	return f, func() { f.Shutdown(ctx); ep.Close() }
}

// Start is Run on a fresh SQLite store, stopped when t ends; it returns the store too.
func Start(t testing.TB, rooms ...focus.RoomSpec) (*focus.Focus, xcon.Store) {
	t.Helper()
	store := OpenSQLite(t, "")
	f, stop := Run(t, store, rooms...)
	t.Cleanup(stop)
	return f, store
}

// Join joins sip:USER@example.com to room with one MSRP m-line (not connected), as a SIP
// INVITE does.
func Join(t testing.TB, f *focus.Focus, room, user string) {
	t.Helper()
	local := msrp.URI{Host: "127.0.0.1", Port: 9, SessionID: msrp.NewSessionID(), Transport: "tcp"}
	offer, err := sdp.Parse([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\n" +
		"a=accept-types:message/cpim\r\na=accept-wrapped-types:*\r\na=path:" + local.String() + "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Join(context.Background(), focus.JoinRequest{Room: room,
		Identity: focus.Identity{AOR: "sip:" + user + "@example.com"}, Offer: offer}); err != nil {
		t.Fatalf("%s joining %s: %v", user, room, err)
	}
}
