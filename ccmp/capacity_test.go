package ccmp_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/focus/focustest"
	"github.com/parleychat/parley/xcon"
)

// newServer starts a focus with the room "room" of example.net (focustest) and its CCMP
// handler on a loopback HTTP listener, whose callers act as administrators.
func newServer(t *testing.T) (*focus.Focus, *ccmp.Client) {
	t.Helper()
	return newServerWith(t, nil)
}

// newServerWith is newServer whose handler decides who is asking with auth (nil: the embedded
// default, under which every request from loopback is an administrator's).
func newServerWith(t *testing.T, auth ccmp.Authenticator) (*focus.Focus, *ccmp.Client) {
	t.Helper()
	f, _ := focustest.Start(t, focus.RoomSpec{Name: "room"})
	srv := httptest.NewServer(ccmp.NewHandler(ccmp.HandlerConfig{Domain: focustest.Domain, Logger: focustest.Quiet, Authenticate: auth}, f))
	t.Cleanup(srv.Close)
	return f, &ccmp.Client{URL: srv.URL + "/ccmp", UserID: "xcon-userid:admin@example.net"}
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
	focustest.Join(t, f, "room", "first")
	focustest.Join(t, f, "room", "second")
	if err := f.MayJoin("room", focus.Identity{AOR: "sip:third@example.com"}); !errors.Is(err, focus.ErrRoomFull) {
		t.Fatalf("SIP join to the full room: %v, want ErrRoomFull", err)
	}
	if err := addUser(c, "xcon-userid:third@example.com"); codeOf(err) != ccmp.CodeNoResources {
		t.Fatalf("adding a user to the full room: %v, want CCMP %d", err, ccmp.CodeNoResources)
	}
}
