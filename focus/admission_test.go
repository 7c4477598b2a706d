package focus_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/xcon"
)

// TestMembersOfAMembersOnlyRoom: the one rule on who a user is to a room, as SIP joins and
// subscriptions (MayJoin, MayWatch) and CCMP (Admits) see it. Members are the allowed list's
// targets and the object's users, whatever their role; the deny list wins over both; a privacy
// request is judged on the caller's own identity.
func TestMembersOfAMembersOnlyRoom(t *testing.T) {
	f, _ := newTestFocus(t)
	if _, err := f.UpdateRoom(context.Background(), "room", func(c *xcon.Conference) error {
		c.AllowedUsers = []xcon.Target{{URI: "sip:listed@example.com"}, {URI: "sip:banned-mod@example.com"}}
		c.DenyUsers = []xcon.Target{{URI: "xcon-userid:banned-mod@example.com"}}
		c.Users = append(c.Users,
			&xcon.User{Entity: "xcon-userid:mod@example.com", Roles: []string{"moderator"}},
			&xcon.User{Entity: "xcon-userid:prov@example.com", Roles: []string{"participant"}},
			&xcon.User{Entity: "xcon-userid:banned-mod@example.com", Roles: []string{"moderator"}})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user string
		ok   bool
	}{{"listed", true}, {"mod", true}, {"prov", true}, {"stranger", false}, {"banned-mod", false}} {
		aor := "sip:" + c.user + "@example.com"
		for _, id := range []focus.Identity{{AOR: aor}, {AOR: "sip:anon-1@anonymous.invalid", Authenticated: aor}} {
			if err := f.MayJoin("room", id); (err == nil) != c.ok || (err != nil && !errors.Is(err, focus.ErrForbidden)) {
				t.Errorf("%s joins (%s): %v, want allowed=%v", c.user, id.AOR, err, c.ok)
			}
			if err := f.MayWatch("room", id); (err == nil) != c.ok {
				t.Errorf("%s watches (%s): %v, want allowed=%v", c.user, id.AOR, err, c.ok)
			}
		}
		// Over CCMP the room's moderators read whatever the lists say.
		want := c.ok || c.user == "banned-mod"
		reader := focus.Reader{UserID: "xcon-userid:" + c.user + "@example.com"}
		if err := f.Admits("room", reader); (err == nil) != want {
			t.Errorf("%s reads over CCMP: %v, want allowed=%v", c.user, err, want)
		}
		if err := f.AdmitsJoin("room", reader); (err == nil) != c.ok {
			t.Errorf("%s joins over CCMP: %v, want allowed=%v", c.user, err, c.ok)
		}
	}
	if err := f.Admits("room", focus.Reader{UserID: "xcon-userid:stranger@example.com", Admin: true}); err != nil {
		t.Errorf("server administrator reads: %v", err)
	}
}
