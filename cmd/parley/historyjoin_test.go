package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/xcon"
)

// historyJoinConfig is a daemon whose lobby replays 10 messages and whose CCMP users are
// names (password NAME-pw) of example.com, the SIP domain the test peers call from; root is a
// server administrator.
func historyJoinConfig(t *testing.T) *configs.Config {
	t.Helper()
	cfg := configs.Default()
	cfg.SIP.Listen, cfg.MSRP.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Domain = "example.net"
	depth := 10
	cfg.Rooms[0].History = &depth
	cfg.CCMP.Auth.Users = nil
	for _, n := range []string{"root", "alice", "bob", "carol"} {
		cfg.CCMP.Auth.Users = append(cfg.CCMP.Auth.Users, configs.CCMPUser{Name: n + "@example.com", Password: n + "-pw", Admin: n == "root"})
	}
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// historyOnJoinUser is a userInfo that asks for count messages on join (and max-age, if any).
func historyOnJoinUser(t *testing.T, who, attrs string) *ccmp.Request {
	t.Helper()
	return &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: "xcon:lobby@example.net", Operation: ccmp.OpUpdate,
		Info: etreeDelta(t, `<userInfo xmlns:parley="`+xcon.NSParley+`" entity="xcon-userid:`+who+`@example.com">`+
			`<parley:history-on-join `+attrs+`/></userInfo>`)}
}

// setOnJoin sends req as who (the request validated against ccmp.xsd, the answer too)
// and returns the answer's code and the setting its userInfo shows.
func setOnJoin(t *testing.T, p *ccmpPeer, who string, req *ccmp.Request) (int, xcon.HistoryOnJoin) {
	t.Helper()
	c := &ccmp.Client{URL: p.url, UserID: "xcon-userid:" + who + "@example.com", Username: who + "@example.com", Secret: who + "-pw"}
	req.ConfUserID, req.HasBody = c.UserID, true
	var b bytes.Buffer
	if err := req.Encode(&b); err != nil {
		t.Fatal(err)
	}
	p.validate(b.Bytes())
	if !bytes.Contains(b.Bytes(), []byte("history-on-join")) {
		t.Fatalf("request lost the setting:\n%s", b.Bytes())
	}
	resp := p.exchange(c, req)
	if resp.Code != 200 {
		return resp.Code, xcon.HistoryOnJoin{}
	}
	if resp.Info == nil {
		t.Fatalf("%s: userResponse without userInfo", who)
	}
	u, err := xcon.DecodeUserElement(resp.Info)
	if err != nil {
		t.Fatal(err)
	}
	h, ok := u.HistoryOnJoin()
	if !ok {
		t.Fatalf("%s: userResponse shows no history-on-join: %+v", who, u.Extras)
	}
	return resp.Code, h
}

// expectReplay joins the lobby as name over SIP and MSRP and checks that the history replayed
// (after the logging notice) is exactly want, by the live message from that follows it.
func expectReplay(t *testing.T, d *daemon, name string, from *participant, want [][]byte) *participant {
	t.Helper()
	p := joinLobby(t, d, name, "tcp")
	for i, w := range want {
		if got := p.msrp.nextMessage(t); !bytes.Equal(got.Body, w) {
			t.Fatalf("%s: history %d of %d is %q, want %q", name, i, len(want), got.Body, w)
		}
	}
	live := cpimBody("sip:"+from.name+"@example.com", "sip:lobby@example.net", "live after "+name+"'s join")
	if r := from.msrp.response(t, from.msrp.send("message/cpim", live)); r.StatusCode != 200 {
		t.Fatalf("live send: %d", r.StatusCode)
	}
	if got := p.msrp.nextMessage(t); !bytes.Equal(got.Body, live) {
		t.Fatalf("%s: after %d messages of history got %q, want the live message", name, len(want), got.Body)
	}
	return p
}

// TestHistoryOnJoinPerUser (session-chat §5.3: the requester chooses how much history it gets on join,
// bounded by the room's policy): a user sets over CCMP (userRequest update, a
// <parley:history-on-join count="N"/> on his <user>, valid against the RFC schemas) how many
// messages he is replayed when he joins over SIP/MSRP: 2 gives the last 2 he may see, 0 none,
// 1000 is clamped to the room's depth (10), which the userResponse shows. A moderator or
// administrator may set it for another user; another participant may not (401). The setting
// is stored with the user and survives a restart.
func TestHistoryOnJoinPerUser(t *testing.T) {
	cfg := historyJoinConfig(t)
	d := startConfigured(t, cfg)
	p := newCCMPPeer(t, d)

	carol := joinLobby(t, d, "carol", "tcp")
	dave := joinLobby(t, d, "dave", "tcp")
	var public [][]byte // what alice may see, in logging order
	send := func(body []byte) {
		t.Helper()
		if r := carol.msrp.response(t, carol.msrp.send("message/cpim", body)); r.StatusCode != 200 {
			t.Fatalf("carol's send: %d", r.StatusCode)
		}
		dave.msrp.nextMessage(t)
	}
	for i := range 9 {
		body := cpimBody("sip:carol@example.com", "sip:lobby@example.net", fmt.Sprintf("message %d", i))
		public = append(public, body)
		send(body)
	}
	send(cpimBody("sip:carol@example.com", "sip:dave@example.com", "message 9, for dave only")) // 10 logged
	last := func(n int) [][]byte { return public[len(public)-n:] }

	// alice is not in the room yet: userRequest create of herself, with the setting.
	create := historyOnJoinUser(t, "alice", `count="2"`)
	create.Operation = ccmp.OpCreate
	if code, h := setOnJoin(t, p, "alice", create); code != 200 || h.Count != 2 {
		t.Fatalf("alice sets 2: %d %+v", code, h)
	}
	alice := expectReplay(t, d, "alice", carol, last(2))
	public = append(public, cpimBody("sip:carol@example.com", "sip:lobby@example.net", "live after alice's join"))
	dave.msrp.nextMessage(t)
	_ = alice.dlg.Bye(context.Background())

	if code, h := setOnJoin(t, p, "alice", historyOnJoinUser(t, "alice", `count="0"`)); code != 200 || h.Count != 0 {
		t.Fatalf("alice sets 0: %d %+v", code, h)
	}
	alice = expectReplay(t, d, "alice", carol, nil)
	public = append(public, cpimBody("sip:carol@example.com", "sip:lobby@example.net", "live after alice's join"))
	dave.msrp.nextMessage(t)
	_ = alice.dlg.Bye(context.Background())

	if code, h := setOnJoin(t, p, "alice", historyOnJoinUser(t, "alice", `count="1000"`)); code != 200 || h.Count != 10 {
		t.Fatalf("alice asks 1000: %d %+v, want it clamped to the room's 10", code, h)
	}
	alice = expectReplay(t, d, "alice", carol, last(10))
	public = append(public, cpimBody("sip:carol@example.com", "sip:lobby@example.net", "live after alice's join"))
	dave.msrp.nextMessage(t)
	_ = alice.dlg.Bye(context.Background())

	// Malformed settings are refused and change nothing.
	for _, attrs := range []string{`count="-1"`, `count="many"`, `count="2" max-age="soon"`} {
		if code, _ := setOnJoin(t, p, "alice", historyOnJoinUser(t, "alice", attrs)); code != 400 {
			t.Errorf("alice sets %s: %d, want 400", attrs, code)
		}
	}
	// Another participant may not choose for alice; the server's administrator may, for bob.
	if code, _ := setOnJoin(t, p, "carol", historyOnJoinUser(t, "alice", `count="5"`)); code != 401 {
		t.Errorf("carol setting alice's history: %d, want 401", code)
	}
	bobCreate := historyOnJoinUser(t, "bob", `count="1"`)
	bobCreate.Operation = ccmp.OpCreate
	if code, h := setOnJoin(t, p, "root", bobCreate); code != 200 || h.Count != 1 {
		t.Fatalf("root sets bob's 1: %d %+v", code, h)
	}
	if code, h := setOnJoin(t, p, "alice", historyOnJoinUser(t, "alice", `count="3"`)); code != 200 || h.Count != 3 {
		t.Fatalf("alice sets 3: %d %+v", code, h)
	}
	// A usersRequest delta is bounded the same way: root gives carol 99, she is stored with 10.
	root := &ccmp.Client{URL: p.url, UserID: "xcon-userid:root@example.com", Username: "root@example.com", Secret: "root-pw"}
	users := p.exchange(root, &ccmp.Request{Type: ccmp.TypeUsers, ConfObjID: "xcon:lobby@example.net", Operation: ccmp.OpUpdate,
		Info: etreeDelta(t, `<usersInfo xmlns:info="urn:ietf:params:xml:ns:conference-info" xmlns:parley="`+xcon.NSParley+`">`+
			`<info:user entity="xcon-userid:carol@example.com"><parley:history-on-join count="99"/></info:user></usersInfo>`)})
	if users.Code != 200 {
		t.Fatalf("usersRequest update: %d %s", users.Code, users.Reason)
	}
	if u := d.focus.Room("lobby").Snapshot().User("xcon-userid:carol@example.com"); u == nil {
		t.Fatal("carol is gone")
	} else if h, ok := u.HistoryOnJoin(); !ok || h.Count != 10 {
		t.Fatalf("carol's setting from usersRequest: %+v %v, want 10", h, ok)
	}
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}

	// After a restart both settings hold: in the stored object and on the wire.
	d = startConfigured(t, cfg)
	defer d.shutdown()
	p = newCCMPPeer(t, d)
	c := &ccmp.Client{URL: p.url, UserID: "xcon-userid:alice@example.com", Username: "alice@example.com", Secret: "alice-pw"}
	r := p.exchange(c, &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: "xcon:lobby@example.net", Operation: ccmp.OpRetrieve})
	if u, err := xcon.DecodeUserElement(r.Info); err != nil || r.Code != 200 {
		t.Fatalf("alice's user after restart: %d %v", r.Code, err)
	} else if h, ok := u.HistoryOnJoin(); !ok || h.Count != 3 {
		t.Fatalf("alice's setting after restart: %+v %v, want 3", h, ok)
	}
	carol = joinLobby(t, d, "carol", "tcp")
	for range 10 {
		carol.msrp.nextMessage(t) // carol's 10, the room's depth
	}
	expectReplay(t, d, "alice", carol, last(3))
	// bob's 1 is the newest: the message sent after alice's join.
	expectReplay(t, d, "bob", carol, [][]byte{cpimBody("sip:carol@example.com", "sip:lobby@example.net", "live after alice's join")})
}

// TestHistoryOnJoinMaxAge: a maximum age with the count replays only messages logged within
// it; and `parley room history-on-join` sets the count (clamped by the room) for oneself.
func TestHistoryOnJoinMaxAge(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { n := 5; c.Rooms[0].History = &n })
	p := newCCMPPeer(t, d)
	carol := joinLobby(t, d, "carol", "tcp")
	old := cpimBody("sip:carol@example.com", "sip:lobby@example.net", "old")
	if r := carol.msrp.response(t, carol.msrp.send("message/cpim", old)); r.StatusCode != 200 {
		t.Fatalf("send: %d", r.StatusCode)
	}

	out, err := runRoomUser(t, d, "xcon-userid:alice@example.com", "history-on-join", "lobby", "50")
	if err != nil || !strings.Contains(out, "xcon-userid:alice@example.com gets 5 messages on joining lobby (asked 50") {
		t.Fatalf("parley room history-on-join: %v\n%s", err, out)
	}
	expectReplay(t, d, "alice", carol, [][]byte{old})

	// One hour back: the message sent just now is younger, so it is still replayed; a
	// millisecond back, after a pause, nothing is.
	req := &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: "xcon:lobby@example.net", Operation: ccmp.OpUpdate, HasBody: true,
		ConfUserID: "xcon-userid:admin@example.net",
		Info: etreeDelta(t, `<userInfo xmlns:parley="`+xcon.NSParley+`" entity="xcon-userid:bob@example.com">`+
			`<parley:history-on-join count="5" max-age="1h"/></userInfo>`)}
	req.Operation = ccmp.OpCreate
	if r := p.do(req); r.Code != 200 {
		t.Fatalf("setting bob's: %d %s", r.Code, r.Reason)
	}
	want := [][]byte{old, cpimBody("sip:carol@example.com", "sip:lobby@example.net", "live after alice's join")}
	bob := expectReplay(t, d, "bob", carol, want)
	_ = bob.dlg.Bye(context.Background())
	req.Operation = ccmp.OpUpdate
	req.Info = etreeDelta(t, `<userInfo xmlns:parley="`+xcon.NSParley+`" entity="xcon-userid:bob@example.com">`+
		`<parley:history-on-join count="5" max-age="1ms"/></userInfo>`)
	if r := p.do(req); r.Code != 200 {
		t.Fatalf("setting bob's: %d %s", r.Code, r.Reason)
	}
	expectReplay(t, d, "bob", carol, nil)
}

// runRoomUser runs `parley room ARGS…` against the daemon as user (no credentials).
func runRoomUser(t *testing.T, d *daemon, user string, args ...string) (string, error) {
	t.Helper()
	cmd := roomCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append(args, "--server", "http://"+d.httpAddr.String(), "--user", user))
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// TestChatHistoryOnJoin: `parley chat --history-on-join N --http URL` sets the amount over
// CCMP for the identity it joins as, and then gets just that much history; asking more than
// the room replays says so.
func TestChatHistoryOnJoin(t *testing.T) {
	d := startTestDaemon(t, nil)
	carol := joinLobby(t, d, "carol", "tcp")
	say := func(text string) {
		t.Helper()
		if r := carol.msrp.response(t, carol.msrp.send("message/cpim", cpimBody("sip:carol@example.com", "sip:lobby@example.net", text))); r.StatusCode != 200 {
			t.Fatalf("send: %d", r.StatusCode)
		}
	}
	for i := range 4 {
		say(fmt.Sprintf("earlier %d", i))
	}
	alice := startChat(t, d, "alice", chatOptions{nick: "alice", httpURL: "http://" + d.httpAddr.String(), onJoin: ptr(1)})
	alice.expect(t, "joined sip:lobby@example.net as sip:alice@127.0.0.1")
	alice.expect(t, "earlier 3")
	say("live one")
	alice.expect(t, "live one")
	for _, line := range alice.seen {
		if strings.Contains(line, "earlier 2") {
			t.Fatalf("alice asked for 1 message and got more:\n%s", strings.Join(alice.seen, "\n"))
		}
	}
	bob := startChat(t, d, "bob", chatOptions{nick: "bob", httpURL: "http://" + d.httpAddr.String(), onJoin: ptr(1000)})
	bob.expect(t, fmt.Sprintf("the room replays at most %d messages on join", configs.DefaultHistory))
	bob.expect(t, "live one")
}
