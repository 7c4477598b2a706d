package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/xcon"
)

// inviteDirect sends an INVITE for sip:room@example.net straight to the focus, with extra
// headers, and returns the final response (the dialog is ACKed on 2xx).
func inviteDirect(t *testing.T, d *daemon, p *listeningPeer, room, transport string, extra ...sip.Header) (*sipgo.DialogClientSession, *sip.Response) {
	t.Helper()
	dlg, res, err := p.inviteVia(t, d.sip.Port(), room, "example.net", transport, newMSRPPeer(t).offer(t, "main"), extra...)
	if res == nil {
		t.Fatalf("INVITE: no final response (%v)", err)
	}
	return dlg, res
}

func lobbyUsers(d *daemon) []string {
	var ids []string
	for _, u := range present(d.focus.Room("lobby").Snapshot().Users) {
		ids = append(ids, u.Entity)
	}
	return ids
}

// present are the users with a session in the room (not those only recorded in it, such as a
// provisioned room's owner).
func present(users []*xcon.User) []*xcon.User {
	var out []*xcon.User
	for _, u := range users {
		if len(u.Endpoints) > 0 {
			out = append(out, u)
		}
	}
	return out
}

// TestIdentityAssertedByTrustedProxy: a P-Asserted-Identity decides the identity only when it
// comes from a trusted proxy address; from anywhere else the From URI does.
func TestIdentityAssertedByTrustedProxy(t *testing.T) {
	pai := sip.NewHeader("P-Asserted-Identity", `"Real Name" <sip:real@corp.example>, <tel:+15551234567>`)
	for _, c := range []struct {
		name    string
		trusted []string
		want    string
	}{
		{"trusted", []string{"192.0.2.1", "127.0.0.0/8"}, "xcon-userid:real@corp.example"},
		{"untrusted", []string{"192.0.2.0/24"}, "xcon-userid:alice@example.com"},
		{"no proxies", nil, "xcon-userid:alice@example.com"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := startTestDaemon(t, func(cfg *configs.Config) { cfg.SIP.TrustedProxies = c.trusted })
			_, res := inviteDirect(t, d, newListeningPeer(t, "alice", "example.com"), "lobby", "udp", pai)
			if res.StatusCode != 200 {
				t.Fatalf("INVITE: %d", res.StatusCode)
			}
			if ids := lobbyUsers(d); len(ids) != 1 || ids[0] != c.want {
				t.Fatalf("users %v, want [%s]", ids, c.want)
			}
		})
	}
}

// TestPrivacyAnonymous: Privacy id or header, or an anonymous From, makes the participant
// anonymous, each with a URI of its own; nothing of the caller's identity is in the room.
func TestPrivacyAnonymous(t *testing.T) {
	d := startTestDaemon(t, func(cfg *configs.Config) { cfg.SIP.TrustedProxies = []string{"127.0.0.1"} })
	cases := []struct {
		user  string
		extra []sip.Header
	}{
		{"alice", []sip.Header{sip.NewHeader("Privacy", "id")}},
		{"bob", []sip.Header{sip.NewHeader("Privacy", "header;critical"), sip.NewHeader("P-Asserted-Identity", "<sip:bob@corp.example>")}},
		{"anonymous", nil}, // From: sip:anonymous@example.com
	}
	for _, c := range cases {
		_, res := inviteDirect(t, d, newListeningPeer(t, c.user, "example.com"), "lobby", "tcp", c.extra...)
		if res.StatusCode != 200 {
			t.Fatalf("%s: INVITE %d", c.user, res.StatusCode)
		}
	}
	// A Privacy: none caller keeps its identity.
	if _, res := inviteDirect(t, d, newListeningPeer(t, "carol", "example.com"), "lobby", "udp", sip.NewHeader("Privacy", "none")); res.StatusCode != 200 {
		t.Fatalf("carol: INVITE %d", res.StatusCode)
	}
	seen := map[string]bool{}
	anonymous := 0
	for _, id := range lobbyUsers(d) {
		if seen[id] {
			t.Fatalf("two participants share %s", id)
		}
		seen[id] = true
		switch {
		case strings.HasPrefix(id, "xcon-userid:anon-") && strings.HasSuffix(id, "@anonymous.invalid"):
			anonymous++
		case id == "xcon-userid:carol@example.com":
		default:
			t.Fatalf("identity %s leaked into the room", id)
		}
	}
	if anonymous != 3 {
		t.Fatalf("%d anonymous participants, want 3 (users %v)", anonymous, lobbyUsers(d))
	}
	for _, u := range d.focus.Room("lobby").Snapshot().Users {
		if strings.HasPrefix(u.Entity, "xcon-userid:anon-") && (u.DisplayText != "Anonymous" || strings.Contains(strings.Join(u.AssociatedAORs, " "), "example.com")) {
			t.Fatalf("anonymous user row shows %q %v", u.DisplayText, u.AssociatedAORs)
		}
	}
}

// TestDigestAuthentication: with sip.auth users, a room that requires authentication answers
// 401 with a challenge, accepts the right password (or HA1) and takes the user name as the
// identity; a wrong password is refused; a room outside sip.auth.rooms needs nothing.
func TestDigestAuthentication(t *testing.T) {
	ha1 := md5.Sum([]byte("bob:parley-test:bob-secret"))
	d := startTestDaemon(t, func(cfg *configs.Config) {
		cfg.SIP.Auth = configs.SIPAuth{Realm: "parley-test", NonceTTL: time.Minute, Rooms: []string{"lobby"},
			Users: []configs.SIPUser{{Name: "alice", Password: "alice-secret"}, {Name: "bob", HA1: hex.EncodeToString(ha1[:])}}}
		cfg.Rooms = append(cfg.Rooms, configs.Room{Name: "open", Channels: []configs.Channel{{Label: "main"}}})
	})

	// No credentials: 401 with a Digest challenge.
	_, res := inviteDirect(t, d, newListeningPeer(t, "mallory", "example.com"), "lobby", "udp")
	chal := res.GetHeader("WWW-Authenticate")
	if res.StatusCode != 401 || chal == nil || !strings.Contains(chal.Value(), `realm="parley-test"`) || !strings.Contains(chal.Value(), "qop=") {
		t.Fatalf("unauthenticated INVITE: %d %v", res.StatusCode, chal)
	}

	for _, c := range []struct{ user, password, transport string }{{"alice", "alice-secret", "udp"}, {"bob", "bob-secret", "tcp"}} {
		res, err := inviteWithAuth(t, d, c.user, c.password, c.transport)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s with the right password: %v %v", c.user, res, err)
		}
	}
	if res, _ := inviteWithAuth(t, d, "alice", "wrong", "udp"); res == nil || res.StatusCode != 401 {
		t.Fatalf("wrong password: %v, want 401", res)
	}
	ids := lobbyUsers(d)
	if len(ids) != 2 || !strings.Contains(strings.Join(ids, " "), "xcon-userid:alice@example.net") ||
		!strings.Contains(strings.Join(ids, " "), "xcon-userid:bob@example.net") {
		t.Fatalf("authenticated identities %v", ids)
	}

	// A room not listed in sip.auth.rooms lets anyone in.
	if _, res := inviteDirect(t, d, newListeningPeer(t, "mallory", "example.com"), "open", "udp"); res.StatusCode != 200 {
		t.Fatalf("open room: %d", res.StatusCode)
	}
}

// inviteWithAuth joins lobby as user (From sip:user@example.com) answering the challenge.
func inviteWithAuth(t *testing.T, d *daemon, user, password, transport string) (*sip.Response, error) {
	t.Helper()
	p := newListeningPeer(t, user, "elsewhere.example")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "lobby", Host: "example.net"})
	req.SetTransport(strings.ToUpper(transport))
	req.SetDestination(d.sipAddr())
	req.SetBody(newMSRPPeer(t).offer(t, "main"))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	dlg, err := p.dialogUA.WriteInvite(ctx, req)
	if err != nil {
		return nil, err
	}
	err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{Username: user, Password: password})
	if err == nil {
		err = dlg.Ack(ctx)
	}
	return dlg.InviteResponse, err
}

func (d *daemon) sipAddr() string { return "127.0.0.1:" + strconv.Itoa(d.sip.Port()) }

// joinWith joins room as name@example.com over TCP with extra INVITE headers; on 200 it binds
// the MSRP session. It returns the participant (nil unless 200) and the final response.
func joinWith(t *testing.T, d *daemon, room, name string, extra ...sip.Header) (*participant, *sip.Response) {
	t.Helper()
	p := &participant{name: name, sip: newSIPPeer(t, name, "example.com"), msrp: newMSRPPeer(t)}
	dlg, res, _ := p.sip.inviteAt(t, d.sip.Port(), room, "tcp", p.msrp.offer(t, "main"), extra...)
	if res == nil {
		t.Fatalf("%s: no final response", name)
	}
	if res.StatusCode != 200 {
		return nil, res
	}
	p.msrp.connect(t, res.Body(), 0)
	p.dlg = dlg
	return p, res
}

// TestPrivacyKeepsAdmission: anonymity (Privacy: id) changes what the room shows, not who gets
// in. A banned user asking for privacy is still refused, on INVITE and SUBSCRIBE; a member of a
// members-only room asking for it is still admitted, shown anonymously, and sends under the
// anonymous URI; barring the member later removes its anonymous participant.
func TestPrivacyKeepsAdmission(t *testing.T) {
	d := startTestDaemon(t, withRoom("club"))
	privacy := sip.NewHeader("Privacy", "id")
	update(t, d, "club", func(c *xcon.Conference) error {
		c.DenyUsers = []xcon.Target{{URI: "sip:mallory@example.com"}}
		return nil
	})
	if _, res := joinWith(t, d, "club", "mallory", privacy); res.StatusCode != 403 {
		t.Fatalf("banned user with Privacy: id: INVITE %d, want 403", res.StatusCode)
	}
	if res := newSubscriber(t, "mallory", "tcp").subscribe(t, d, "club", 60, privacy); res.StatusCode != 403 {
		t.Fatalf("banned user with Privacy: id: SUBSCRIBE %d, want 403", res.StatusCode)
	}

	update(t, d, "club", func(c *xcon.Conference) error {
		c.AllowedUsers = []xcon.Target{{URI: "sip:alice@example.com"}}
		return nil
	})
	if _, res := joinWith(t, d, "club", "carol", privacy); res.StatusCode != 403 {
		t.Fatalf("non-member with Privacy: id: INVITE %d, want 403", res.StatusCode)
	}
	alice, res := joinWith(t, d, "club", "alice", privacy)
	if alice == nil {
		t.Fatalf("member with Privacy: id: INVITE %d, want 200", res.StatusCode)
	}
	users := present(d.focus.Room("club").Snapshot().Users)
	if len(users) != 1 || !strings.HasSuffix(users[0].Entity, "@anonymous.invalid") ||
		strings.Contains(strings.Join(users[0].AssociatedAORs, " "), "alice") {
		t.Fatalf("the anonymous member shows as %+v", users)
	}
	// The CPIM From check goes by the URI the room shows: the generic anonymous one passes, the
	// member's own would unmask it and is refused.
	if r := alice.msrp.response(t, alice.msrp.send("message/cpim",
		cpimBody("sip:anonymous@anonymous.invalid", "sip:club@example.net", "hi"))); r.StatusCode != 200 {
		t.Fatalf("anonymous send: %d %s", r.StatusCode, r.Comment)
	}
	if r := alice.msrp.response(t, alice.msrp.send("message/cpim",
		cpimBody("sip:alice@example.com", "sip:club@example.net", "it's me"))); r.StatusCode != 403 {
		t.Fatalf("anonymous participant sending as itself: %d, want 403", r.StatusCode)
	}

	update(t, d, "club", func(c *xcon.Conference) error {
		c.DenyUsers = append(c.DenyUsers, xcon.Target{URI: "xcon-userid:alice@example.com"})
		return nil
	})
	expectRemoved(t, alice, "removed")
}
