package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/xcon"
)

// TestLoggingAndHistory (session-chat §5.2, §5.3): a joiner of a logged room gets the logging notice
// first, then the last N messages of its channel with their CPIM bodies unchanged, then live
// traffic, with nothing missing or repeated at the boundary; private messages are replayed only
// to their sender and recipient.
func TestLoggingAndHistory(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { n := 3; c.Rooms[0].History = &n })
	alice := joinLobby(t, d, "alice", "tcp")
	bob := joinLobby(t, d, "bob", "tcp")

	var sent [][]byte
	for i := 0; i < 5; i++ {
		body := cpimBody("sip:alice@example.com", "sip:lobby@example.net", fmt.Sprintf("before %d", i))
		sent = append(sent, body)
		if r := alice.msrp.response(t, alice.msrp.send("message/cpim", body)); r.StatusCode != 200 {
			t.Fatalf("send %d: %d", i, r.StatusCode)
		}
	}
	private := cpimBody("sip:alice@example.com", "sip:bob@example.com", "just for bob")
	if r := alice.msrp.response(t, alice.msrp.send("message/cpim", private)); r.StatusCode != 200 {
		t.Fatalf("private: %d", r.StatusCode)
	}
	for range 6 {
		bob.msrp.nextMessage(t)
	}

	carol := joinLobby(t, d, "carol", "udp") // checks the logging notice comes first
	for i, want := range sent[2:] {          // history depth 3, private message not for carol
		if got := carol.msrp.nextMessage(t); !bytes.Equal(got.Body, want) {
			t.Fatalf("history %d: got %q, want %q", i, got.Body, want)
		}
	}
	live := cpimBody("sip:alice@example.com", "sip:lobby@example.net", "live")
	alice.msrp.send("message/cpim", live)
	if got := carol.msrp.nextMessage(t); !bytes.Equal(got.Body, live) {
		t.Fatalf("after history carol got %q, want the live message", got.Body)
	}

	// Bob rejoins: his replay includes the private message addressed to him.
	bob2 := joinLobby(t, d, "bob", "tcp")
	var replay [][]byte
	for range 3 {
		replay = append(replay, bob2.msrp.nextMessage(t).Body)
	}
	if !bytes.Equal(replay[0], sent[4]) || !bytes.Equal(replay[1], private) || !bytes.Equal(replay[2], live) {
		t.Fatalf("bob's replay: %q", replay)
	}
}

// TestHistorySurvivesRestart: what was logged before a restart is replayed after it.
func TestHistorySurvivesRestart(t *testing.T) {
	cfg := testConfig(t)
	d := startConfigured(t, cfg)
	alice := joinLobby(t, d, "alice", "tcp")
	body := cpimBody("sip:alice@example.com", "sip:lobby@example.net", "remember me")
	if r := alice.msrp.response(t, alice.msrp.send("message/cpim", body)); r.StatusCode != 200 {
		t.Fatalf("send: %d", r.StatusCode)
	}
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}

	d2 := startConfigured(t, cfg)
	defer d2.shutdown()
	bob := joinLobby(t, d2, "bob", "tcp")
	if got := bob.msrp.nextMessage(t); !bytes.Equal(got.Body, body) {
		t.Fatalf("after restart bob got %q", got.Body)
	}
}

// TestCCMPHistoryVisibility: the CCMP history extension shows each reader what the replay on
// join would: public messages to anyone the room admits, a private message only to its sender
// and recipient (a room administrator who is neither does not see it; a server administrator
// does), and nothing to a banned user or, in a members-only room, to a non-member (CCMP 401, the code of every refusal by policy).
func TestCCMPHistoryVisibility(t *testing.T) {
	names := []string{"root", "alice", "bob", "carol", "dave", "mallory"}
	d := startTestDaemon(t, func(c *configs.Config) {
		c.CCMP.Auth.Realm = "parley-test"
		for _, n := range names {
			c.CCMP.Auth.Users = append(c.CCMP.Auth.Users, configs.CCMPUser{Name: n, Password: n + "-pw", Admin: n == "root"})
		}
	})
	ctx := context.Background()
	as := func(name string) *ccmp.Client {
		return &ccmp.Client{URL: "http://" + d.httpAddr.String() + "/ccmp", UserID: "xcon-userid:" + name + "@example.com",
			Username: name, Secret: name + "-pw"}
	}
	// dave administers the room but takes no part in the conversation.
	userInfo := etreeDelta(t, `<userInfo xmlns:info="urn:ietf:params:xml:ns:conference-info" entity="xcon-userid:dave@example.com">`+
		`<info:roles><info:entry>administrator</info:entry></info:roles></userInfo>`)
	if _, err := as("root").Do(ctx, &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: "xcon:lobby@example.net", Operation: ccmp.OpCreate,
		HasBody: true, Info: userInfo}); err != nil {
		t.Fatalf("provision dave: %v", err)
	}

	alice := joinLobby(t, d, "alice", "tcp")
	bob := joinLobby(t, d, "bob", "tcp")
	public := cpimBody("sip:alice@example.com", "sip:lobby@example.net", "hello all")
	private := cpimBody("sip:alice@example.com", "sip:bob@example.com", "just for bob")
	for _, body := range [][]byte{public, private} {
		if r := alice.msrp.response(t, alice.msrp.send("message/cpim", body)); r.StatusCode != 200 {
			t.Fatalf("send: %d", r.StatusCode)
		}
		bob.msrp.nextMessage(t)
	}
	if err := d.focus.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	history := func(who string) ([][]byte, int) {
		t.Helper()
		got, err := as(who).History(ctx, "lobby", ccmp.HistoryQuery{Limit: 10})
		var rerr *ccmp.ResponseError
		if errors.As(err, &rerr) {
			return nil, rerr.Code
		}
		if err != nil {
			t.Fatalf("%s: history: %v", who, err)
		}
		var bodies [][]byte
		for _, e := range got {
			bodies = append(bodies, e.Body)
		}
		return bodies, 200
	}
	expect := func(who string, wantCode int, want ...[]byte) {
		t.Helper()
		got, code := history(who)
		if code != wantCode || len(got) != len(want) {
			t.Fatalf("%s: history %d with %d messages %q, want %d with %d", who, code, len(got), got, wantCode, len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%s: message %d is %q, want %q", who, i, got[i], want[i])
			}
		}
	}
	expect("carol", 200, public) // not in the room, but the room is open
	expect("dave", 200, public)
	expect("alice", 200, public, private)
	expect("bob", 200, public, private)
	expect("root", 200, public, private)
	// A limit counts the messages the reader may see, not those it may not.
	if got, err := as("carol").History(ctx, "lobby", ccmp.HistoryQuery{Limit: 1}); err != nil || len(got) != 1 || !bytes.Equal(got[0].Body, public) {
		t.Fatalf("carol, limit 1: %v %+v", err, got)
	}

	update(t, d, "lobby", func(c *xcon.Conference) error {
		c.DenyUsers = []xcon.Target{{URI: "sip:mallory@example.com"}}
		return nil
	})
	expect("mallory", 401)
	update(t, d, "lobby", func(c *xcon.Conference) error {
		c.AllowedUsers = []xcon.Target{{URI: "sip:alice@example.com"}, {URI: "sip:bob@example.com"}}
		return nil
	})
	expect("carol", 401)
	expect("bob", 200, public, private)
	expect("dave", 200, public)
}
