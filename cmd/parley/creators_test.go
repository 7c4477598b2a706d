package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/xcon"
)

// TestRoomCreatorsDecideOnProvenIdentity: creating a room through the conference factory takes
// the create privilege on the caller's proven identity (here a P-Asserted-Identity from a
// trusted proxy): a listed creator creates, hidden or not; a caller merely claiming to be one in
// his From header, behind the proxy, does not (the proxy speaks for the world, so it is no local
// operator either); nor does an asserted identity nobody listed. A refusal leaves no room.
func TestRoomCreatorsDecideOnProvenIdentity(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		c.SIP.TrustedProxies = []string{"127.0.0.1"}
		c.RoomCreators = []string{"sip:carol@corp.example"}
	})
	pai := func(uri string) sip.Header { return sip.NewHeader("P-Asserted-Identity", "<"+uri+">") }
	stored := storedRooms(t, d)
	for _, c := range []struct {
		name string
		peer string
		hdrs []sip.Header
	}{
		{"From claims a creator", "carol", nil},
		{"asserted, not listed", "mallory", []sip.Header{pai("sip:mallory@corp.example")}},
		{"asserted, not listed, hidden", "mallory", []sip.Header{pai("sip:mallory@corp.example"), sip.NewHeader("Privacy", "id")}},
	} {
		_, res := inviteDirect(t, d, newListeningPeer(t, c.peer, "corp.example"), "adhoc", "tcp", c.hdrs...)
		if res.StatusCode != 403 || res.Reason != "Room Creation Not Allowed" {
			t.Errorf("%s: %d %s, want 403 Room Creation Not Allowed", c.name, res.StatusCode, res.Reason)
		}
	}
	if now := storedRooms(t, d); !slices.Equal(now, stored) {
		t.Fatalf("refused creations left rooms: %v, were %v", now, stored)
	}
	for _, hdrs := range [][]sip.Header{{pai("sip:carol@corp.example")}, {pai("sip:carol@corp.example"), sip.NewHeader("Privacy", "id")}} {
		_, res := inviteDirect(t, d, newListeningPeer(t, "someone", "elsewhere.test"), "adhoc", "tcp", hdrs...)
		if res.StatusCode != 200 || d.focus.Room(res.Contact().Address.User) == nil {
			t.Errorf("listed creator (%d headers): %d %s, want 200 and a room", len(hdrs), res.StatusCode, res.Reason)
		}
	}
}

// TestRoomCreatorsOverCCMPAndSIPAlike: with authentication on, one rule decides on both doors:
// a CCMP administrator creates over CCMP, and the SIP Digest user of the same name creates
// through the factory; a listed creator does both; an authenticated user who is neither gets
// CCMP 401 and SIP 403, for rooms and sidebars by reference alike.
func TestRoomCreatorsOverCCMPAndSIPAlike(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		c.SIP.Auth = configs.SIPAuth{Realm: "parley-test", NonceTTL: time.Minute, Users: []configs.SIPUser{
			{Name: "root", Password: "root-pw"}, {Name: "carol", Password: "carol-pw"}, {Name: "dan", Password: "dan-pw"}}}
		c.CCMP.Auth.Users = []configs.CCMPUser{{Name: "root", Password: "root-pw", Admin: true},
			{Name: "carol", Password: "carol-pw"}, {Name: "dan", Password: "dan-pw"}}
		c.RoomCreators = []string{"carol"}
	})
	ctx := context.Background()
	for _, c := range []struct {
		user     string
		ccmp     int
		sip      int
		sidebars int
	}{{"root", 200, 200, 200}, {"carol", 200, 200, 200}, {"dan", 401, 403, 401}} {
		cl := &ccmp.Client{URL: "http://" + d.httpAddr.String() + "/ccmp", UserID: "xcon-userid:" + c.user + "@example.net", Username: c.user, Secret: c.user + "-pw"}
		resp, _, err := cl.Exchange(ctx, &ccmp.Request{Type: ccmp.TypeConf, Operation: ccmp.OpCreate, ConfUserID: cl.UserID, HasBody: true})
		if err != nil || resp.Code != c.ccmp {
			t.Errorf("%s: CCMP create %v %v, want %d", c.user, resp, err, c.ccmp)
		}
		// A sidebar by reference of the lobby, as a moderator of it (root owns it already).
		if _, err := d.focus.UpdateRoom(ctx, "lobby", func(conf *xcon.Conference) error {
			if u := conf.User(cl.UserID); u != nil {
				u.Roles = append(u.Roles, "moderator")
				return nil
			}
			conf.Users = append(conf.Users, &xcon.User{Entity: cl.UserID, Roles: []string{"moderator"}})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		resp, _, err = cl.Exchange(ctx, &ccmp.Request{Type: ccmp.TypeSidebarByRef, ConfObjID: "xcon:lobby@example.net",
			Operation: ccmp.OpCreate, ConfUserID: cl.UserID, HasBody: true})
		if err != nil || resp.Code != c.sidebars {
			t.Errorf("%s: sidebar by reference %v %v, want %d", c.user, resp, err, c.sidebars)
		}
		_, res, _ := inviteAuth(t, d, "adhoc", c.user, c.user+"-pw", newMSRPPeer(t).offer(t, "main"))
		if res == nil || res.StatusCode != c.sip {
			t.Errorf("%s: INVITE to the factory %v, want %d", c.user, res, c.sip)
		}
	}
}
