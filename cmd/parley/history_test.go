package main

import (
	"github.com/parleychat/parley/configs"

	"bytes"
	"fmt"
	"testing"
)

// TestLoggingAndHistory (seed §5.2, §5.3): a joiner of a logged room gets the logging notice
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
