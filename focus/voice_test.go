package focus

import (
	"testing"

	"github.com/parleychat/parley/xcon"
)

func TestVoiceRefusal(t *testing.T) {
	user := func(roles ...string) *xcon.User { return &xcon.User{Entity: "xcon-userid:u@example.com", Roles: roles} }
	cases := []struct {
		name      string
		moderated bool
		rows      []*xcon.User
		want      string
	}{
		{"participant, open room", false, []*xcon.User{user("participant")}, ""},
		{"unlisted, open room", false, []*xcon.User{nil}, ""},
		{"observer, open room", false, []*xcon.User{user("observer")}, refusedObserver},
		{"unlisted, moderated", true, []*xcon.User{nil}, refusedVisitor},
		{"no roles, moderated", true, []*xcon.User{user()}, refusedVisitor},
		{"unknown role, moderated", true, []*xcon.User{user("visitor")}, refusedVisitor},
		{"observer, moderated", true, []*xcon.User{user("observer")}, refusedVisitor},
		{"voiced, moderated", true, []*xcon.User{user("participant")}, ""},
		{"moderator, moderated", true, []*xcon.User{user("moderator")}, ""},
		{"creator, moderated", true, []*xcon.User{user("administrator", "organizer")}, ""},
		// An anonymous participant: its own row and the one of the user it proved to be.
		{"anonymous row unlisted, proven voiced", true, []*xcon.User{nil, user("participant")}, ""},
		{"anonymous row voiced, proven silenced", true, []*xcon.User{user("participant"), user("observer")}, refusedVisitor},
	}
	for _, c := range cases {
		if got := voiceRefusal(c.moderated, c.rows...); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
