package main

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/xcon"
)

// provision adds a user to room over CCMP (userRequest/create by an administrator) with a
// nickname and roles.
func provision(t *testing.T, c *ccmp.Client, room, entity, nickname string, roles ...string) {
	t.Helper()
	u := &xcon.User{Entity: entity, Nickname: nickname, Roles: roles}
	if _, err := c.Do(context.Background(), &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: ccmp.RoomURI(room),
		Operation: ccmp.OpCreate, HasBody: true, Info: u.Element("userInfo")}); err != nil {
		t.Fatalf("provision %s in %s: %v", entity, room, err)
	}
}

// touchRoom changes a room's subject over CCMP (confRequest/update with a delta).
func touchRoom(t *testing.T, c *ccmp.Client, room, subject string) {
	t.Helper()
	delta := etreeDelta(t, `<confInfo xmlns:info="urn:ietf:params:xml:ns:conference-info">
	  <info:conference-description><info:subject>`+subject+`</info:subject></info:conference-description></confInfo>`)
	if _, err := c.UpdateRoom(context.Background(), room, delta); err != nil {
		t.Fatalf("update %s: %v", room, err)
	}
}

// wantUser checks that conf lists entity with the nickname and the roles given.
func wantUser(t *testing.T, where string, conf *xcon.Conference, entity, nickname string, roles ...string) {
	t.Helper()
	u := conf.User(entity)
	if u == nil {
		t.Fatalf("%s: %s is not listed", where, entity)
	}
	if u.Nickname != nickname || !slices.Equal(u.Roles, roles) {
		t.Fatalf("%s: %s has nickname %q roles %v, want %q %v", where, entity, u.Nickname, u.Roles, nickname, roles)
	}
}

// TestProvisionedUserSurvivesUpdatesWhileConnected: a user provisioned over CCMP with a
// nickname and a role, who is connected while the room is updated twice, is still listed in
// the room and in the stored object, nickname and role included, once he leaves.
func TestProvisionedUserSurvivesUpdatesWhileConnected(t *testing.T) {
	d := startTestDaemon(t, nil)
	c := ccmpClient(d)
	ctx := context.Background()
	if _, err := c.CreateRoom(ctx, ccmp.RoomSpec{Name: "club"}); err != nil {
		t.Fatal(err)
	}
	const bob = "xcon-userid:bob@example.com"
	provision(t, c, "club", bob, "Bobby", "moderator")
	p := joinRoom(t, d, "club", "bob", "tcp", false)
	touchRoom(t, c, "club", "first")
	touchRoom(t, c, "club", "second")
	if err := p.dlg.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	wantUser(t, "room after leaving", d.focus.Room("club").Snapshot(), bob, "Bobby", "moderator")
	stored, err := d.store.Conference(ctx, "club")
	if err != nil {
		t.Fatal(err)
	}
	wantUser(t, "stored object after leaving", stored, bob, "Bobby", "moderator")
	users, err := c.Users(ctx, "club")
	if err != nil {
		t.Fatal(err)
	}
	wantUser(t, "CCMP users", &xcon.Conference{Users: users}, bob, "Bobby", "moderator")
}

// TestProvisionedUsersSurviveRestart: users provisioned over CCMP keep their roles and
// nicknames across a restart, the one connected through updates and at shutdown included; a
// user who only dialled in is not listed after it, and a provisioned nickname stays reserved.
func TestProvisionedUsersSurviveRestart(t *testing.T) {
	cfg := testConfig(t)
	d := startConfigured(t, cfg)
	c := ccmpClient(d)
	ctx := context.Background()
	if _, err := c.CreateRoom(ctx, ccmp.RoomSpec{Name: "club"}); err != nil {
		t.Fatal(err)
	}
	const bob, carol, alice = "xcon-userid:bob@example.com", "xcon-userid:carol@example.com", "xcon-userid:alice@example.com"
	provision(t, c, "club", bob, "Bobby", "moderator")
	provision(t, c, "club", carol, "Caz", "observer")
	joinRoom(t, d, "club", "bob", "tcp", false)
	joinRoom(t, d, "club", "alice", "tcp", false)
	touchRoom(t, c, "club", "first")
	touchRoom(t, c, "club", "second")
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}

	d2 := startConfigured(t, cfg)
	defer d2.shutdown()
	conf := d2.focus.Room("club").Snapshot()
	wantUser(t, "after restart", conf, bob, "Bobby", "moderator")
	wantUser(t, "after restart", conf, carol, "Caz", "observer")
	if u := conf.User(alice); u != nil {
		t.Fatalf("after restart: alice, who only dialled in, is listed: %+v", u)
	}
	for _, u := range conf.Users {
		if len(u.Endpoints) != 0 {
			t.Fatalf("after restart: %s shown connected", u.Entity)
		}
	}
	dave := joinRoom(t, d2, "club", "dave", "tcp", false)
	tid := dave.msrp.write(nicknameRequest("Bobby"))
	if r := dave.msrp.response(t, tid); r.StatusCode != 425 {
		t.Fatalf("dave takes bob's provisioned nickname after restart: %d, want 425", r.StatusCode)
	}
}

// nicknameRequest is a NICKNAME request for nick (RFC 7701 §7.1).
func nicknameRequest(nick string) *msrp.Message {
	return &msrp.Message{Method: "NICKNAME", Headers: []msrp.Header{{Name: "Use-Nickname", Value: strconv.Quote(nick)}}}
}
