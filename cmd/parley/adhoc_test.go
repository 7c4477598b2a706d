package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/configs"
)

// withFactoryAuth makes every room, the conference factory included, ask for Digest
// credentials (alice/alice-secret, bob/bob-secret), lets alice create rooms, and removes ad-hoc
// rooms after idle.
func withFactoryAuth(idle time.Duration) func(*configs.Config) {
	return func(c *configs.Config) {
		c.RoomCreators = []string{"alice"}
		c.SIP.Auth = configs.SIPAuth{Realm: "parley-test", NonceTTL: time.Minute,
			Users: []configs.SIPUser{{Name: "alice", Password: "alice-secret"}, {Name: "bob", Password: "bob-secret"}}}
		c.SIP.AdhocIdle = idle
	}
}

// inviteAuth sends an INVITE with body to sip:room@example.net as user, answering a Digest
// challenge when password is set, and returns the dialog (ACKed on 2xx) and the final response.
func inviteAuth(t *testing.T, d *daemon, room, user, password string, body []byte) (*sipgo.DialogClientSession, *sip.Response, error) {
	t.Helper()
	p := newListeningPeer(t, user, "example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: room, Host: "example.net"})
	req.SetTransport("TCP")
	req.SetDestination(d.sipAddr())
	req.SetBody(body)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	dlg, err := p.dialogUA.WriteInvite(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	var final *sip.Response
	err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{Username: user, Password: password, OnResponse: func(res *sip.Response) error {
		if res.StatusCode >= 200 {
			final = res
		}
		return nil
	}})
	if err == nil {
		err = dlg.Ack(ctx)
		final = dlg.InviteResponse
	}
	return dlg, final, err
}

// storedRooms lists the rooms in the database (by their lower-case keys).
func storedRooms(t *testing.T, d *daemon) []string {
	t.Helper()
	names, err := d.store.Conferences(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// isStored tells whether the database holds room.
func isStored(t *testing.T, d *daemon, room string) bool {
	return slices.Contains(storedRooms(t, d), strings.ToLower(room))
}

// TestAdHocRefusedCallsLeaveNoRoom: calls to the conference factory that are challenged (401)
// or offer no acceptable stream (488) create no room, in the focus or in the database.
func TestAdHocRefusedCallsLeaveNoRoom(t *testing.T) {
	d := startTestDaemon(t, withFactoryAuth(time.Minute))
	rooms, stored := d.focus.Rooms(), storedRooms(t, d)
	unchanged := func(step string) {
		t.Helper()
		if now := d.focus.Rooms(); !slices.Equal(now, rooms) {
			t.Fatalf("%s: rooms %v, were %v", step, now, rooms)
		}
		if now := storedRooms(t, d); !slices.Equal(now, stored) {
			t.Fatalf("%s: stored rooms %v, were %v", step, now, stored)
		}
	}
	for i := 0; i < 3; i++ {
		if _, res, _ := inviteAuth(t, d, "adhoc", "alice", "", newMSRPPeer(t).offer(t, "main")); res == nil || res.StatusCode != 401 {
			t.Fatalf("INVITE without credentials: %v, want 401", res)
		}
		unchanged("after a 401")
	}
	noCPIM := newMSRPPeer(t)
	noCPIM.acceptTypes = []string{"text/plain"} // RFC 7701 §5.2: such a line is refused
	if _, res, _ := inviteAuth(t, d, "adhoc", "alice", "alice-secret", noCPIM.offer(t, "main")); res == nil || res.StatusCode != 488 {
		t.Fatalf("INVITE without an acceptable stream: %v, want 488", res)
	}
	unchanged("after a 488")
	if _, res, _ := inviteAuth(t, d, "adhoc", "alice", "wrong", newMSRPPeer(t).offer(t, "main")); res == nil || res.StatusCode != 401 {
		t.Fatalf("INVITE with a wrong password: %v, want 401", res)
	}
	unchanged("after wrong credentials")
	// bob is authenticated but may not create rooms (room_creators).
	if _, res, _ := inviteAuth(t, d, "adhoc", "bob", "bob-secret", newMSRPPeer(t).offer(t, "main")); res == nil ||
		res.StatusCode != 403 || res.Reason != "Room Creation Not Allowed" {
		t.Fatalf("INVITE to the factory by a user without the create privilege: %v, want 403", res)
	}
	unchanged("after a caller without the create privilege")
	if v := metricLine(t, d, "parley_adhoc_rooms_removed_total"); v != "0" {
		t.Fatalf("parley_adhoc_rooms_removed_total = %q, want 0: nothing was created", v)
	}
}

// TestAdHocRoomCreatorAndIdleRemoval: the caller admitted through the factory is the new
// room's organizer (stored, so it outlasts his call); the room lives while someone is in it
// and is removed, from the focus and the database, once it has been empty for sip.adhoc_idle.
func TestAdHocRoomCreatorAndIdleRemoval(t *testing.T) {
	const idle = 300 * time.Millisecond
	d := startTestDaemon(t, withFactoryAuth(idle))
	c := ccmpClient(d)
	ctx := context.Background()
	alice := newMSRPPeer(t)
	dlg, res, err := inviteAuth(t, d, "adhoc", "alice", "alice-secret", alice.offer(t, "main"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("INVITE to the factory: %v %v", res, err)
	}
	room := res.Contact().Address.User
	if d.focus.Room(room) == nil || !isStored(t, d, room) {
		t.Fatalf("room %q named in the 200 does not exist (rooms %v, stored %v)", room, d.focus.Rooms(), storedRooms(t, d))
	}
	alice.connect(t, res.Body(), 0)
	const creator = "xcon-userid:alice@example.net" // the Digest user at the domain
	conf, err := c.Room(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	if u := conf.User(creator); u == nil || !slices.Contains(u.Roles, "organizer") || len(u.Endpoints) != 1 {
		t.Fatalf("creator's row: %+v", u)
	}

	// Bob stays on after alice leaves: the room is not idle.
	_, bobRes, err := inviteAuth(t, d, room, "bob", "bob-secret", newMSRPPeer(t).offer(t, "main"))
	if err != nil || bobRes.StatusCode != 200 {
		t.Fatalf("bob joining the ad-hoc room: %v %v", bobRes, err)
	}
	if err := dlg.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * idle)
	if d.focus.Room(room) == nil {
		t.Fatal("the ad-hoc room was removed while bob is in it")
	}
	if u := d.focus.Room(room).Snapshot().User(creator); u == nil || !slices.Contains(u.Roles, "organizer") {
		t.Fatalf("creator's row after his call: %+v", u)
	}

	// Bob leaves: empty for idle, the room goes.
	for _, p := range d.focus.Room(room).Participants() {
		if err := d.focus.Kick(ctx, room, p.UserID(), false); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for d.focus.Room(room) != nil || isStored(t, d, room) {
		if time.Now().After(deadline) {
			t.Fatalf("empty ad-hoc room %s still there after %v (idle %v)", room, 10*time.Second, idle)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The counter goes up once the removal is complete (the room's kept files too), a moment
	// after the room has left memory and the store.
	for v := metricLine(t, d, "parley_adhoc_rooms_removed_total"); v != "1"; v = metricLine(t, d, "parley_adhoc_rooms_removed_total") {
		if time.Now().After(deadline) {
			t.Fatalf("parley_adhoc_rooms_removed_total = %q, want 1", v)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := inviteCode(t, d, room, "carol"); code != 404 {
		t.Fatalf("INVITE to the removed room: %d", code)
	}
	// The removal is in the audit, and logged nothing to keep.
	if rows, err := d.focus.Audit(ctx, room, 1); err != nil || len(rows) != 1 || rows[0].Principal != "focus" ||
		rows[0].Request != "idle" || rows[0].Operation != "delete" || rows[0].Target != "log empty" {
		t.Fatalf("audit row of the removal: %+v %v", rows, err)
	}
}

// TestAdHocPrivacyDecidedOnOwnIdentity: sip.adhoc_allowed is applied to the caller's own
// identity, not to the anonymous URI a privacy request (RFC 3323) shows: an allowed caller who
// hides creates his room, and stays anonymous in it (the creator's row too); a caller of a
// domain not allowed does not get past the rule by hiding.
func TestAdHocPrivacyDecidedOnOwnIdentity(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		c.SIP.AdhocAllowed = []string{"example.com"}
		c.SIP.AdhocIdle = time.Minute
	})
	privacy := sip.NewHeader("Privacy", "id")
	stored := storedRooms(t, d)
	if _, res := inviteDirect(t, d, newListeningPeer(t, "mallory", "evil.test"), "adhoc", "tcp", privacy); res.StatusCode != 403 {
		t.Fatalf("anonymous INVITE to the factory from a domain not allowed: %d, want 403", res.StatusCode)
	}
	if now := storedRooms(t, d); !slices.Equal(now, stored) {
		t.Fatalf("stored rooms %v after a refused creation, were %v", now, stored)
	}

	_, res := inviteDirect(t, d, newListeningPeer(t, "alice", "example.com"), "adhoc", "tcp", privacy)
	if res.StatusCode != 200 {
		t.Fatalf("anonymous INVITE to the factory from an allowed domain: %d, want 200", res.StatusCode)
	}
	room := res.Contact().Address.User
	r := d.focus.Room(room)
	if r == nil || !isStored(t, d, room) {
		t.Fatalf("room %q named in the 200 does not exist", room)
	}
	users := r.Snapshot().Users
	if len(users) != 1 {
		t.Fatalf("users %+v, want the anonymous creator only", users)
	}
	u := users[0]
	if !strings.HasPrefix(u.Entity, "xcon-userid:anon-") || !strings.HasSuffix(u.Entity, "@anonymous.invalid") ||
		strings.Contains(strings.Join(u.AssociatedAORs, " "), "example.com") || u.DisplayText != "Anonymous" {
		t.Fatalf("creator's row shows %s %q %v", u.Entity, u.DisplayText, u.AssociatedAORs)
	}
	if !slices.Contains(u.Roles, "organizer") || len(u.Endpoints) != 1 {
		t.Fatalf("creator's row: roles %v, %d endpoints", u.Roles, len(u.Endpoints))
	}
}
