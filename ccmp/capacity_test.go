package ccmp_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"testing"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/sqlstore"
)

// newServer starts a focus with the room "room" of example.net, its CCMP handler on a loopback
// HTTP listener (whose callers act as administrators), and returns both.
func newServer(t *testing.T) (*focus.Focus, *ccmp.Client) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ep := msrp.NewEndpoint(msrp.Config{AdvertisedHost: "127.0.0.1", AdvertisedPort: ln.Addr().(*net.TCPAddr).Port, Logger: quiet})
	go ep.Serve(ctx, ln)
	t.Cleanup(func() { ep.Close() })
	f, err := focus.New(ctx, focus.Config{Domain: "example.net", MaxMessageSize: 1 << 20, WrappedTypes: []string{"*"}, Logger: quiet},
		store, ep, []focus.RoomSpec{{Name: "room"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Shutdown(context.Background()) })
	srv := httptest.NewServer(ccmp.NewHandler(ccmp.HandlerConfig{Domain: "example.net", Logger: quiet}, f))
	t.Cleanup(srv.Close)
	return f, &ccmp.Client{URL: srv.URL + "/ccmp", UserID: "xcon-userid:admin@example.net"}
}

// joinRoom joins sip:USER@example.com to "room" with one MSRP m-line, as a SIP INVITE does.
func joinRoom(t *testing.T, f *focus.Focus, user string) {
	t.Helper()
	local := msrp.URI{Host: "127.0.0.1", Port: 9, SessionID: msrp.NewSessionID(), Transport: "tcp"}
	offer, err := sdp.Parse([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\n" +
		"a=accept-types:message/cpim\r\na=accept-wrapped-types:*\r\na=path:" + local.String() + "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Join(context.Background(), focus.JoinRequest{Room: "room",
		Identity: focus.Identity{AOR: "sip:" + user + "@example.com"}, Offer: offer}); err != nil {
		t.Fatalf("%s joining: %v", user, err)
	}
}

// addUser adds the user entity to "room" by a CCMP userRequest create.
func addUser(c *ccmp.Client, entity string) error {
	info := etree.NewElement("userInfo")
	info.CreateAttr("xmlns:info", xcon.NS)
	info.CreateAttr("entity", entity)
	_, err := c.Do(context.Background(), &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: "xcon:room@example.net",
		Operation: ccmp.OpCreate, HasBody: true, Info: info})
	return err
}

func codeOf(err error) int {
	var re *ccmp.ResponseError
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}

// TestUserAddFollowsRoomCapacity: a CCMP addition takes the focus's capacity rule, the one a
// SIP join takes: maximum-user-count counts the users present, so users provisioned but away do
// not fill the room, and a room full of users present refuses one more (CCMP 511).
func TestUserAddFollowsRoomCapacity(t *testing.T) {
	f, c := newServer(t)
	two := uint32(2)
	if _, err := f.UpdateRoom(context.Background(), "room", func(conf *xcon.Conference) error {
		conf.Description.MaximumUserCount = &two
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"away1", "away2", "away3"} {
		if err := addUser(c, "xcon-userid:"+u+"@example.com"); err != nil {
			t.Fatalf("adding %s, provisioned but away: %v", u, err)
		}
	}
	joinRoom(t, f, "first")
	joinRoom(t, f, "second")
	if err := f.MayJoin("room", focus.Identity{AOR: "sip:third@example.com"}); !errors.Is(err, focus.ErrRoomFull) {
		t.Fatalf("SIP join to the full room: %v, want ErrRoomFull", err)
	}
	if err := addUser(c, "xcon-userid:third@example.com"); codeOf(err) != ccmp.CodeNoResources {
		t.Fatalf("adding a user to the full room: %v, want CCMP %d", err, ccmp.CodeNoResources)
	}
}
