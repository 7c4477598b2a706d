package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/xcon"
)

func withRoom(name string) func(*configs.Config) {
	return func(c *configs.Config) { c.Rooms = append(c.Rooms, configs.Room{Name: name}) }
}

func joinPlain(t *testing.T, d *daemon, room, name string) *participant {
	t.Helper()
	return join(t, d, joinOptions{room: room, name: name, transport: "tcp", label: "main"})
}

// inviteCode returns the final response code of an INVITE of name to room.
func inviteCode(t *testing.T, d *daemon, room, name string) (int, string) {
	t.Helper()
	peer := newSIPPeer(t, name, "example.com")
	_, res, _ := peer.invite(t, d, room, "tcp", newMSRPPeer(t).offer(t, "main"))
	if res == nil {
		t.Fatalf("%s: no final response", name)
	}
	contact := ""
	if c := res.Contact(); c != nil {
		contact = c.Address.String()
	}
	return res.StatusCode, contact
}

func update(t *testing.T, d *daemon, room string, fn func(*xcon.Conference) error) {
	t.Helper()
	if _, err := d.focus.UpdateRoom(context.Background(), room, fn); err != nil {
		t.Fatal(err)
	}
}

// expectRemoved waits for the notice and the BYE a removed participant gets.
func expectRemoved(t *testing.T, p *participant, noticeText string) {
	t.Helper()
	if n := p.msrp.nextMessage(t); !bytes.Contains(n.Body, []byte(noticeText)) {
		t.Fatalf("%s: notice %q lacks %q", p.name, n.Body, noticeText)
	}
	select {
	case <-p.sip.byes:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no BYE", p.name)
	}
}

func TestObserverCannotSend(t *testing.T) {
	d := startTestDaemon(t, withRoom("mod"))
	alice := joinPlain(t, d, "mod", "alice")
	update(t, d, "mod", func(c *xcon.Conference) error {
		c.User("xcon-userid:alice@example.com").Roles = []string{"observer"}
		return nil
	})
	r := alice.msrp.response(t, alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:mod@example.net", "hi")))
	if r.StatusCode != 403 {
		t.Fatalf("observer sending: %d %s", r.StatusCode, r.Comment)
	}
}

func TestKickAndBan(t *testing.T) {
	d := startTestDaemon(t, withRoom("mod"))
	alice := joinPlain(t, d, "mod", "alice")
	joinPlain(t, d, "mod", "bob")
	if err := d.focus.Kick(context.Background(), "mod", "xcon-userid:alice@example.com", true); err != nil {
		t.Fatal(err)
	}
	expectRemoved(t, alice, "removed")
	if code, _ := inviteCode(t, d, "mod", "alice"); code != 403 {
		t.Fatalf("banned user's INVITE: %d, want 403", code)
	}
	if n := len(d.focus.Room("mod").Participants()); n != 1 {
		t.Fatalf("%d participants after the kick, want 1", n)
	}
}

func TestAdmissionPolicies(t *testing.T) {
	d := startTestDaemon(t, withRoom("mod"))
	joinPlain(t, d, "mod", "alice")
	joinPlain(t, d, "mod", "bob")

	max := uint32(2)
	update(t, d, "mod", func(c *xcon.Conference) error { c.Description.MaximumUserCount = &max; return nil })
	if code, _ := inviteCode(t, d, "mod", "carol"); code != 486 {
		t.Fatalf("full room: %d, want 486", code)
	}
	update(t, d, "mod", func(c *xcon.Conference) error {
		c.Description.MaximumUserCount = nil
		c.AllowedUsers = []xcon.Target{{URI: "sip:dave@example.com", Method: "dial-in"}, {URI: "xcon-userid:alice@example.com", Method: "dial-in"}}
		return nil
	})
	if code, _ := inviteCode(t, d, "mod", "erin"); code != 403 {
		t.Fatalf("members-only room, stranger: %d, want 403", code)
	}
	if code, _ := inviteCode(t, d, "mod", "dave"); code != 200 {
		t.Fatalf("members-only room, member: %d, want 200", code)
	}
	locked := true
	update(t, d, "mod", func(c *xcon.Conference) error { c.AllowedUsers = nil; c.State.Locked = &locked; return nil })
	if code, _ := inviteCode(t, d, "mod", "frank"); code != 403 {
		t.Fatalf("locked room: %d, want 403", code)
	}
}

func TestCloseWithSuccessorAndDelete(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { withRoom("old")(c); withRoom("gone")(c); withRoom("new")(c) })
	alice := joinPlain(t, d, "old", "alice")
	if err := d.focus.CloseRoom(context.Background(), "old", "sip:new@example.net"); err != nil {
		t.Fatal(err)
	}
	expectRemoved(t, alice, "sip:new@example.net")
	code, contact := inviteCode(t, d, "old", "bob")
	if code != 302 || contact != "sip:new@example.net" {
		t.Fatalf("INVITE to a closed room: %d Contact %q, want 302 to sip:new@example.net", code, contact)
	}
	for _, name := range d.focus.Rooms() {
		if name == "old" {
			t.Fatal("a closed room is still listed")
		}
	}

	carol := joinPlain(t, d, "gone", "carol")
	if err := d.focus.DeleteRoom(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	expectRemoved(t, carol, "deleted")
	if code, _ := inviteCode(t, d, "gone", "dave"); code != 404 {
		t.Fatalf("INVITE to a deleted room: %d, want 404", code)
	}
}

func TestMessagePolicyAndIsComposing(t *testing.T) {
	d := startTestDaemon(t, withRoom("mod"))
	update(t, d, "mod", func(c *xcon.Conference) error {
		c.SetRoomPolicy(xcon.RoomPolicy{MaxMessageSize: 300, WrappedTypes: []string{"text/plain", "application/im-iscomposing+xml"}})
		return nil
	})
	alice := joinPlain(t, d, "mod", "alice")
	bob := joinPlain(t, d, "mod", "bob")
	send := func(body []byte) int {
		return alice.msrp.response(t, alice.msrp.send("message/cpim", body)).StatusCode
	}
	if code := send(cpimBody("sip:alice@example.com", "sip:mod@example.net", string(bytes.Repeat([]byte("x"), 400)))); code != 413 {
		t.Fatalf("over the room's size: %d, want 413", code)
	}
	html := []byte("From: <sip:alice@example.com>\r\nTo: <sip:mod@example.net>\r\n\r\nContent-Type: text/html\r\n\r\n<b>hi</b>")
	if code := send(html); code != 415 {
		t.Fatalf("type not allowed in the room: %d, want 415", code)
	}
	composing := []byte("From: <sip:alice@example.com>\r\nTo: <sip:mod@example.net>\r\n\r\nContent-Type: application/im-iscomposing+xml\r\n\r\n" +
		`<?xml version="1.0" encoding="UTF-8"?><isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state></isComposing>`)
	for i := 0; i < 20; i++ {
		if code := send(composing); code != 200 {
			t.Fatalf("is-composing %d: %d, want 200 even when dropped", i, code)
		}
	}
	sentinel := cpimBody("sip:alice@example.com", "sip:mod@example.net", "sentinel")
	send(sentinel)
	relayed := 0
	for {
		got := bob.msrp.nextMessage(t)
		if bytes.Equal(got.Body, sentinel) {
			break
		}
		relayed++
	}
	if relayed == 0 || relayed >= 20 {
		t.Fatalf("%d of 20 rapid is-composing notifications relayed; want some, rate-limited", relayed)
	}
	t.Logf("%d of 20 is-composing relayed", relayed)
}
