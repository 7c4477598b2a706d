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

// TestRoomPolicyRules: the focus's one rule list, as SIP joins (MayJoin), roster subscriptions
// (MayWatch) and CCMP additions (HasRoomFor) see it, one room state per row.
func TestRoomPolicyRules(t *testing.T) {
	no := false
	one := uint32(1)
	id := func(aor string) focus.Identity { return focus.Identity{AOR: aor} }
	for _, c := range []struct {
		name    string
		present string // a user joined before the checks
		change  func(c *xcon.Conference)
		who     string
		join    error // MayJoin's answer; nil: admitted
		watch   error // MayWatch's
		room    error // HasRoomFor's, for the user's XCON-USERID
	}{
		{name: "open room", who: "sip:ann@example.com"},
		{name: "subscriptions off", change: func(c *xcon.Conference) { c.State.AllowConferenceEventSubscription = &no },
			who: "sip:ann@example.com", watch: focus.ErrForbidden},
		{name: "inactive room", change: func(c *xcon.Conference) { c.State.Active = &no },
			who: "sip:ann@example.com", join: focus.ErrForbidden, watch: focus.ErrForbidden},
		{name: "full room", present: "first", change: func(c *xcon.Conference) { c.Description.MaximumUserCount = &one },
			who: "sip:second@example.com", join: focus.ErrRoomFull, room: focus.ErrRoomFull},
		{name: "full room, user present", present: "first", change: func(c *xcon.Conference) { c.Description.MaximumUserCount = &one },
			who: "sip:first@example.com"},
		{name: "denied under another spelling of the user part",
			change: func(c *xcon.Conference) { c.DenyUsers = []xcon.Target{{URI: "sip:Bob@example.com"}} },
			who:    "sip:bob@example.com", join: focus.ErrForbidden, watch: focus.ErrForbidden},
		{name: "denied under another spelling of the host",
			change: func(c *xcon.Conference) { c.DenyUsers = []xcon.Target{{URI: "sip:carol@EXAMPLE.com"}} },
			who:    "sip:carol@example.com", join: focus.ErrForbidden, watch: focus.ErrForbidden},
		{name: "allowed under another spelling of the user part",
			change: func(c *xcon.Conference) { c.AllowedUsers = []xcon.Target{{URI: "sip:Dora@example.com"}} },
			who:    "sip:dora@example.com"},
		{name: "another user of a members-only room",
			change: func(c *xcon.Conference) { c.AllowedUsers = []xcon.Target{{URI: "sip:dora@example.com"}} },
			who:    "sip:dorian@example.com", join: focus.ErrForbidden, watch: focus.ErrForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := roomIn(t, c.present, c.change)
			if err := f.MayJoin("room", id(c.who)); !errors.Is(err, c.join) || (err == nil) != (c.join == nil) {
				t.Errorf("MayJoin(%s) = %v, want %v", c.who, err, c.join)
			}
			if err := f.MayWatch("room", id(c.who)); !errors.Is(err, c.watch) || (err == nil) != (c.watch == nil) {
				t.Errorf("MayWatch(%s) = %v, want %v", c.who, err, c.watch)
			}
			if err := f.HasRoomFor("room", xcon.UserIDFromAOR(c.who)); !errors.Is(err, c.room) || (err == nil) != (c.room == nil) {
				t.Errorf("HasRoomFor(%s) = %v, want %v", c.who, err, c.room)
			}
		})
	}
	f, _ := newTestFocus(t)
	if err := f.HasRoomFor("nowhere", "xcon-userid:ann@example.com"); !errors.Is(err, focus.ErrRoomNotFound) {
		t.Errorf("HasRoomFor of no room: %v", err)
	}
}
