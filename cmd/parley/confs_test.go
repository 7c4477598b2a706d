package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/xcon"
)

// TestConfsListsOnlyAdmittedRooms: confsRequest (over HTTP, answers valid against ccmp.xsd)
// lists a members-only room to its members, its moderators and server administrators, and not
// to a non-member, who would be refused at every other door (SIP 403, CCMP 401); a room that
// bans a user is not listed to him. Open rooms are listed to everyone.
func TestConfsListsOnlyAdmittedRooms(t *testing.T) {
	names := []string{"root", "mem", "mod", "stranger", "eve"}
	d := startTestDaemon(t, func(c *configs.Config) {
		c.CCMP.Auth.Users = nil
		for _, n := range names {
			c.CCMP.Auth.Users = append(c.CCMP.Auth.Users, configs.CCMPUser{Name: n, Password: n + "-pw", Admin: n == "root"})
		}
	})
	p := newCCMPPeer(t, d)
	as := func(who string) *ccmp.Client {
		return &ccmp.Client{URL: p.url, UserID: "xcon-userid:" + who + "@example.net", Username: who, Secret: who + "-pw"}
	}
	ctx := context.Background()
	if _, err := as("root").CreateRoom(ctx, ccmp.RoomSpec{Name: "secret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := as("root").CreateRoom(ctx, ccmp.RoomSpec{Name: "noeve"}); err != nil {
		t.Fatal(err)
	}
	update(t, d, "secret", func(c *xcon.Conference) error {
		c.AllowedUsers = []xcon.Target{{URI: "xcon-userid:mem@example.net", Method: "dial-in"}}
		c.Users = append(c.Users, &xcon.User{Entity: "xcon-userid:mod@example.net", Roles: []string{"moderator"}})
		return nil
	})
	update(t, d, "noeve", func(c *xcon.Conference) error {
		c.DenyUsers = []xcon.Target{{URI: "sip:eve@example.net"}}
		return nil
	})
	const lobby, secret, noeve = "xcon:lobby@example.net", "xcon:secret@example.net", "xcon:noeve@example.net"
	for _, c := range []struct {
		who                   string
		wantSecret, wantNoEve bool
	}{
		{"root", true, true},
		{"mem", true, true},
		{"mod", true, true},
		{"stranger", false, true},
		{"eve", false, false},
	} {
		got := confsURIs(t, p, as(c.who))
		if !slices.Contains(got, lobby) || slices.Contains(got, secret) != c.wantSecret || slices.Contains(got, noeve) != c.wantNoEve {
			t.Errorf("%s: confsRequest lists %v; want lobby, %s %v, %s %v", c.who, got, secret, c.wantSecret, noeve, c.wantNoEve)
		}
	}
	// The same decision as the other doors: the stranger may not read the room either.
	r := p.exchange(as("stranger"), &ccmp.Request{Type: ccmp.TypeConf, ConfObjID: secret, Operation: ccmp.OpRetrieve})
	if r.Code != 401 {
		t.Errorf("stranger retrieving %s: %d, want 401", secret, r.Code)
	}
}

// exchange sends req as c (its confUserID and credentials) and returns the answer, which must
// validate against ccmp.xsd.
func (p *ccmpPeer) exchange(c *ccmp.Client, req *ccmp.Request) *ccmp.Response {
	p.t.Helper()
	req.ConfUserID, req.HasBody = c.UserID, true
	resp, raw, err := c.Exchange(context.Background(), req)
	if err != nil {
		p.t.Fatalf("%s %s as %s: %v", req.Type, req.Operation, c.UserID, err)
	}
	p.validate(raw)
	return resp
}

// TestRoomListMarksSidebars: `parley room list` tells a sidebar from a room: its line says
// whose sidebar it is, and --json gives sidebar_of; rooms of their own carry neither.
func TestRoomListMarksSidebars(t *testing.T) {
	d := startTestDaemon(t, nil)
	name := createSidebarByRef(t, newCCMPPeer(t, d))
	sb := "xcon:" + name + "@example.net"
	out, err := runRoom(t, d, "list")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) > 0 && fields[0] == sb:
			seen++
			if !strings.HasSuffix(strings.TrimSpace(line), "sidebar of xcon:lobby@example.net") {
				t.Errorf("sidebar line %q does not say whose sidebar it is", line)
			}
		case len(fields) > 0 && fields[0] == "xcon:lobby@example.net":
			seen++
			if strings.Contains(line, "sidebar") {
				t.Errorf("lobby line %q is marked as a sidebar", line)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("room list shows %d of the lobby and its sidebar:\n%s", seen, out)
	}
	out, err = runRoom(t, d, "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rooms []ccmp.RoomInfo
	if err := json.Unmarshal([]byte(out), &rooms); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, r := range rooms {
		want := ""
		if r.URI == sb {
			want = "xcon:lobby@example.net"
		}
		if r.SidebarOf != want {
			t.Errorf("%s: sidebar_of %q, want %q", r.URI, r.SidebarOf, want)
		}
	}
	if !strings.Contains(out, `"sidebar_of": "xcon:lobby@example.net"`) {
		t.Errorf("--json output has no sidebar_of:\n%s", out)
	}
}
