package ccmp

import (
	"testing"

	"github.com/parleychat/parley/xcon"
)

// TestMayGiveRoles: who may give whom which role. Administrators any; moderators voice
// (participant) and its removal (observer), to users below moderator; nobody else.
func TestMayGiveRoles(t *testing.T) {
	id := func(n string) string { return "xcon-userid:" + n + "@example.com" }
	c := &xcon.Conference{Entity: "xcon:room@example.com", Users: []*xcon.User{
		{Entity: id("org"), Roles: []string{"administrator", "organizer"}},
		{Entity: id("mod"), Roles: []string{"moderator"}},
		{Entity: id("mod2"), Roles: []string{"moderator"}},
		{Entity: id("part"), Roles: []string{"participant"}},
		{Entity: id("vis"), Roles: []string{"observer"}},
	}}
	cases := []struct {
		by, to string
		roles  []string
		ok     bool
	}{
		{"org", "vis", []string{"participant"}, true},
		{"org", "part", []string{"moderator"}, true},
		{"org", "mod", []string{"observer"}, true},
		{"mod", "vis", []string{"participant"}, true},      // voice
		{"mod", "part", []string{"observer"}, true},        // voice taken
		{"mod", "newcomer", []string{"participant"}, true}, // not listed yet
		{"mod", "vis", []string{"Participant "}, true},
		{"mod", "vis", []string{"moderator"}, false},
		{"mod", "vis", []string{"administrator"}, false},
		{"mod", "vis", []string{"participant", "moderator"}, false},
		{"mod", "vis", nil, false},
		{"mod", "mod2", []string{"observer"}, false},
		{"mod", "org", []string{"observer"}, false},
		{"mod", "mod", []string{"participant"}, false}, // not his own either
		{"part", "vis", []string{"participant"}, false},
		{"vis", "vis", []string{"participant"}, false}, // a visitor never voices himself
		{"stranger", "vis", []string{"participant"}, false},
	}
	for _, k := range cases {
		err := (&Principal{UserID: id(k.by)}).mayGiveRoles(c, id(k.to), k.roles)
		if (err == nil) != k.ok {
			t.Errorf("%s gives %s %v: %v, want ok=%v", k.by, k.to, k.roles, err, k.ok)
		}
		if err != nil && !isCode(err, CodeUnauthorized) {
			t.Errorf("%s gives %s %v: %v, want CCMP 401", k.by, k.to, k.roles, err)
		}
	}
	if err := (&Principal{UserID: id("nobody"), Admin: true}).mayGiveRoles(c, id("mod"), []string{"observer"}); err != nil {
		t.Errorf("a server administrator: %v", err)
	}

	// Through any request: an update that makes part a moderator is refused to a moderator.
	after := c.Clone()
	after.User(id("part")).Roles = []string{"moderator"}
	if err := (&Principal{UserID: id("mod")}).mayChangeRoles(c, after); !isCode(err, CodeUnauthorized) {
		t.Errorf("moderator making a moderator through an update: %v, want 401", err)
	}
	after = c.Clone()
	after.User(id("vis")).Roles = []string{"participant"}
	after.Users = append(after.Users, &xcon.User{Entity: id("plain")})
	if err := (&Principal{UserID: id("mod")}).mayChangeRoles(c, after); err != nil {
		t.Errorf("moderator voicing through an update: %v", err)
	}
}
