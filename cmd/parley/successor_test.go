package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/internal/peers"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/confinfo"
)

// TestCloseNeedsAnExistingSuccessor: closing over CCMP names another open room of the server,
// by SIP URI or XCON-URI; a successor that does not exist, or the room itself, is refused with
// 404 and the room stays open. Every answer about the closed room then carries the successor's
// XCON-URI in <parley:successor>, and validates against the CCMP schema.
func TestCloseNeedsAnExistingSuccessor(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { withRoom("old")(c); withRoom("new")(c) })
	c := ccmpClient(d)
	ctx := context.Background()
	var re *ccmp.ResponseError
	for _, bad := range []string{"sip:nowhere@example.net", "xcon:nowhere@example.net", "sip:old@example.net", "sip:new@elsewhere.org"} {
		if _, err := c.CloseRoom(ctx, "old", bad); !errors.As(err, &re) || re.Code != 404 {
			t.Fatalf("close with successor %s: %v, want CCMP 404", bad, err)
		}
	}
	if code, _ := inviteCode(t, d, "old", "alice"); code != 200 {
		t.Fatalf("INVITE after refused closes: %d, want 200 (the room is still open)", code)
	}
	resp, err := c.Do(ctx, &ccmp.Request{Type: ccmp.TypeExtended, ConfObjID: "xcon:old@example.net", Operation: ccmp.OpUpdate,
		HasBody: true, ExtensionName: ccmp.ExtensionName, Extensions: []*etree.Element{closeOp("xcon:new@example.net")}})
	if err != nil {
		t.Fatalf("close with the successor's XCON-URI: %v", err)
	}
	if el := parleyChild(resp.Extensions, "closed"); el == nil || strings.TrimSpace(el.Text()) != "xcon:new@example.net" ||
		el.SelectAttrValue("successor", "") != "sip:new@example.net" {
		t.Fatalf("close answer lacks <parley:closed successor=SIP>XCON</parley:closed>: %+v", resp.Extensions)
	}
	if code, contact := inviteCode(t, d, "old", "bob"); code != 302 || contact != "sip:new@example.net" {
		t.Fatalf("INVITE to the closed room: %d Contact %q, want 302 to sip:new@example.net", code, contact)
	}
	if _, err := c.Room(ctx, "old"); !errors.As(err, &re) || re.Code != 404 ||
		re.Successor != "xcon:new@example.net" || re.SuccessorSIP != "sip:new@example.net" {
		t.Fatalf("retrieve of the closed room: %#v, want 404 with <parley:successor> xcon:new@example.net", err)
	}
	peer := newCCMPPeer(t, d)
	r := peer.retrieve("xcon:old@example.net") // validated against ccmp.xsd
	if el := parleyChild(r.Extensions, "successor"); r.Code != 404 || el == nil || strings.TrimSpace(el.Text()) != "xcon:new@example.net" {
		t.Fatalf("raw answer for the closed room: %d %+v", r.Code, r.Extensions)
	}
}

// TestRedirectOnlyForThoseTheSuccessorAdmits: a caller the successor would refuse (on its
// deny list, or not a member of a members-only successor) gets 403 from the closed room, not a
// redirect he cannot use; the others get the 302. A subscriber to the closed room is refused
// the same way.
func TestRedirectOnlyForThoseTheSuccessorAdmits(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { withRoom("old")(c); withRoom("new")(c) })
	update(t, d, "new", func(c *xcon.Conference) error {
		c.DenyUsers = []xcon.Target{{URI: "sip:mallory@example.com"}}
		return nil
	})
	if err := d.focus.CloseRoom(context.Background(), "old", "sip:new@example.net"); err != nil {
		t.Fatal(err)
	}
	if code, contact := inviteCode(t, d, "old", "alice"); code != 302 || contact != "sip:new@example.net" {
		t.Fatalf("admitted caller: %d %q, want 302 to sip:new@example.net", code, contact)
	}
	if code, contact := inviteCode(t, d, "old", "mallory"); code != 403 || contact != "" {
		t.Fatalf("caller banned from the successor: %d Contact %q, want 403 without a redirect", code, contact)
	}
	if res := newSubscriber(t, "mallory", "tcp").subscribe(t, d, "old", 600); res.StatusCode != 403 {
		t.Fatalf("subscriber banned from the successor: %d, want 403", res.StatusCode)
	}
	update(t, d, "new", func(c *xcon.Conference) error {
		c.AllowedUsers = []xcon.Target{{URI: "sip:alice@example.com"}}
		return nil
	})
	if code, _ := inviteCode(t, d, "old", "erin"); code != 403 {
		t.Fatalf("non-member of a members-only successor: %d, want 403", code)
	}
	if code, contact := inviteCode(t, d, "old", "alice"); code != 302 || contact != "sip:new@example.net" {
		t.Fatalf("member of the members-only successor: %d %q, want 302", code, contact)
	}
}

// TestWatchersToldTheSuccessor: a conference-event subscriber of a room that is closed gets a
// last NOTIFY (terminated, noresource) whose conference-state names the successor in
// <parley:successor>, valid against the RFC 4575 schema.
func TestWatchersToldTheSuccessor(t *testing.T) {
	xmllint := peers.Xmllint(t)
	d := startTestDaemon(t, func(c *configs.Config) { withRoom("old")(c); withRoom("new")(c) })
	alice := joinPlain(t, d, "old", "alice")
	w := newSubscriber(t, "watcher", "tcp")
	if res := w.subscribe(t, d, "old", 600); res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %d", res.StatusCode)
	}
	if n := w.next(t, xmllint); n.doc.NotifyState != "full" {
		t.Fatalf("first NOTIFY:\n%s", n.body)
	}
	if err := d.focus.CloseRoom(context.Background(), "old", "sip:new@example.net"); err != nil {
		t.Fatal(err)
	}
	expectRemoved(t, alice, "sip:new@example.net")
	for {
		n := w.next(t, xmllint)
		if !strings.HasPrefix(n.state, "terminated") {
			continue
		}
		if n.state != "terminated;reason=noresource" || confinfo.Successor(n.doc) != "sip:new@example.net" {
			t.Fatalf("last NOTIFY of the closed room: %s, successor %q\n%s", n.state, confinfo.Successor(n.doc), n.body)
		}
		if len(n.doc.Users) != 0 || n.doc.State.Active == nil || *n.doc.State.Active {
			t.Fatalf("last NOTIFY shows the closed room active or peopled:\n%s", n.body)
		}
		break
	}
}

// TestClosedRoomSurvivesRestart: after a restart the closed room still redirects to its
// successor (302), is not listed, answers CCMP with the successor, and its successor still
// cannot be deleted (425) until the closed room is.
func TestClosedRoomSurvivesRestart(t *testing.T) {
	cfg := testConfig(t)
	d := startConfigured(t, cfg)
	c := ccmpClient(d)
	ctx := context.Background()
	for _, name := range []string{"old", "new"} {
		if _, err := c.CreateRoom(ctx, ccmp.RoomSpec{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CloseRoom(ctx, "old", "sip:new@example.net"); err != nil {
		t.Fatal(err)
	}
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}

	d2 := startConfigured(t, cfg)
	defer d2.shutdown()
	c = ccmpClient(d2)
	if code, contact := inviteCode(t, d2, "old", "bob"); code != 302 || contact != "sip:new@example.net" {
		t.Fatalf("INVITE to the closed room after restart: %d Contact %q, want 302 to sip:new@example.net", code, contact)
	}
	var re *ccmp.ResponseError
	if _, err := c.Room(ctx, "old"); !errors.As(err, &re) || re.Code != 404 || re.Successor != "xcon:new@example.net" {
		t.Fatalf("retrieve of the closed room after restart: %v, want 404 naming xcon:new@example.net", err)
	}
	rooms, err := c.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms {
		if r.URI == "xcon:old@example.net" {
			t.Fatal("closed room listed after restart")
		}
	}
	if err := c.DeleteRoom(ctx, "new"); !errors.As(err, &re) || re.Code != 425 {
		t.Fatalf("delete of the successor after restart: %v, want CCMP 425", err)
	}
	if err := d2.focus.DeleteRoom(ctx, "new"); err == nil {
		t.Fatal("focus deleted the successor of a closed room")
	}
	if err := c.DeleteRoom(ctx, "old"); err != nil {
		t.Fatalf("delete of the closed room: %v", err)
	}
	if err := c.DeleteRoom(ctx, "new"); err != nil {
		t.Fatalf("delete of the former successor once nothing redirects to it: %v", err)
	}
}

// TestCCMPRoomSurvivesRestart: a room created over CCMP from a blueprint, with its password,
// logging, subject and a later policy change (members only, a ban, a size limit), is the same
// object after a restart and is enforced the same way.
func TestCCMPRoomSurvivesRestart(t *testing.T) {
	cfg := testConfig(t)
	d := startConfigured(t, cfg)
	c := ccmpClient(d)
	ctx := context.Background()
	if _, err := c.CreateRoom(ctx, ccmp.RoomSpec{Name: "talk", Blueprint: "chat-multilingual", DisplayText: "Small talk",
		Subject: "weather", Password: "8601", Logging: true, History: 7}); err != nil {
		t.Fatal(err)
	}
	c.Password = "8601"
	delta := etreeDelta(t, `<confInfo xmlns:info="urn:ietf:params:xml:ns:conference-info" xmlns:xcon="urn:ietf:params:xml:ns:xcon-conference-info">
	  <info:conference-description><info:maximum-user-count>5</info:maximum-user-count></info:conference-description>
	  <info:users><xcon:allowed-users-list><xcon:target uri="sip:dave@example.com" method="dial-in"/></xcon:allowed-users-list>
	  <xcon:deny-users-list><xcon:target uri="sip:mallory@example.com"/></xcon:deny-users-list></info:users></confInfo>`)
	if _, err := c.UpdateRoom(ctx, "talk", delta); err != nil {
		t.Fatal(err)
	}
	before, err := c.Room(ctx, "talk")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}

	d2 := startConfigured(t, cfg)
	defer d2.shutdown()
	c = ccmpClient(d2)
	var re *ccmp.ResponseError
	if _, err := c.Room(ctx, "talk"); !errors.As(err, &re) || re.Code != 423 {
		t.Fatalf("retrieve without the password after restart: %v, want CCMP 423", err)
	}
	c.Password = "8601"
	after, err := c.Room(ctx, "talk")
	if err != nil {
		t.Fatal(err)
	}
	var b1, b2 bytes.Buffer
	if err := before.Encode(&b1); err != nil {
		t.Fatal(err)
	}
	if err := after.Encode(&b2); err != nil {
		t.Fatal(err)
	}
	if b1.String() != b2.String() {
		t.Fatalf("the room changed across the restart:\nbefore %s\nafter  %s", b1.String(), b2.String())
	}
	policy, _ := after.RoomPolicy()
	if !policy.Logging || policy.History != 7 || after.Description.Subject != "weather" || after.Description.DisplayText != "Small talk" ||
		len(after.Description.Media) < 2 || after.Description.MaximumUserCount == nil || *after.Description.MaximumUserCount != 5 {
		t.Fatalf("after restart: policy %+v, description %+v", policy, after.Description)
	}
	listed := false
	rooms, err := c.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms {
		listed = listed || r.URI == "xcon:talk@example.net"
	}
	if !listed {
		t.Fatal("the room created over CCMP is not listed after restart")
	}
	peer := newSIPPeer(t, "dave", "example.com")
	if _, res := invitePin(t, d2, peer, "talk", "", newMSRPPeer(t).offer(t, "en")); res.StatusCode != 403 {
		t.Fatalf("member without the password after restart: %d, want 403", res.StatusCode)
	}
	if _, res := invitePin(t, d2, newSIPPeer(t, "erin", "example.com"), "talk", "8601", newMSRPPeer(t).offer(t, "en")); res.StatusCode != 403 {
		t.Fatalf("non-member of the members-only room after restart: %d, want 403", res.StatusCode)
	}
	if _, res := invitePin(t, d2, newSIPPeer(t, "dave", "example.com"), "talk", "8601", newMSRPPeer(t).offer(t, "en")); res.StatusCode != 200 {
		t.Fatalf("member with the password after restart: %d, want 200", res.StatusCode)
	}
}

// closeOp is the parley extension's <close successor="..."/>.
func closeOp(successor string) *etree.Element {
	op := etree.NewElement("parley:close")
	op.CreateAttr("xmlns:parley", ccmp.NSParley)
	op.CreateAttr("successor", successor)
	return op
}

// parleyChild returns the element of the parley extension's namespace called tag, or nil.
func parleyChild(els []*etree.Element, tag string) *etree.Element {
	for _, e := range els {
		if e.Tag == tag && e.NamespaceURI() == ccmp.NSParley {
			return e
		}
	}
	return nil
}
