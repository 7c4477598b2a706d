package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/parleychat/parley/sdp"
)

// TestTwoLinesOneDefaultChannel: a user whose two m-lines have labels that name no channel has
// both lines accepted, both bound to the default channel; the switch delivers each message once
// to that user (on the first line), the history once, and never a message of his back to his
// other line.
func TestTwoLinesOneDefaultChannel(t *testing.T) {
	d := startTestDaemon(t, nil)
	bob := joinLobby(t, d, "bob", "tcp")
	earlier := cpimBody("sip:bob@example.com", "sip:lobby@example.net", "before dave came")
	if r := bob.msrp.response(t, bob.msrp.send("message/cpim", earlier)); r.StatusCode != 200 {
		t.Fatalf("bob: %d", r.StatusCode)
	}

	dave := newSIPPeer(t, "dave", "example.com")
	alpha, beta := newMSRPPeer(t), newMSRPPeer(t)
	var media []sdp.MediaAnswer
	for _, l := range []struct {
		m     *msrpPeer
		label string
	}{{alpha, "alpha"}, {beta, "beta"}} {
		media = append(media, sdp.MediaAnswer{Port: 9, Proto: "TCP/MSRP", Path: []string{l.m.Local.String()}, Label: l.label,
			Setup: "active", AcceptTypes: []string{"message/cpim"}, AcceptWrappedTypes: []string{"text/plain", "*"},
			Chatroom: &sdp.Chatroom{Nickname: true, PrivateMessages: true}})
	}
	offer, err := sdp.BuildOffer(sdp.AnswerParams{Username: "dave", SessionID: 1, SessionVersion: 1, Address: "127.0.0.1"}, media)
	if err != nil {
		t.Fatal(err)
	}
	_, res, err := dave.invite(t, d, "lobby", "tcp", offer)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", res, err)
	}
	ans, err := sdp.Parse(res.Body())
	if err != nil || len(ans.Media) != 2 || ans.Media[0].Port == 0 || ans.Media[1].Port == 0 {
		t.Fatalf("both lines must be accepted: %v %+v", err, ans)
	}
	alpha.connect(t, res.Body(), 0)
	beta.connect(t, res.Body(), 1)
	conf := d.focus.Room("lobby").Snapshot()
	u := conf.User("xcon-userid:dave@example.com")
	if u == nil || len(u.Endpoints) != 2 || u.Endpoints[0].Media[0].Label != u.Endpoints[1].Media[0].Label {
		t.Fatalf("dave's rows: %+v", u)
	}

	for name, m := range map[string]*msrpPeer{"alpha": alpha, "beta": beta} {
		if n := m.nextMessage(t); !bytes.Contains(n.Body, []byte("logged")) {
			t.Fatalf("%s: first message is not the logging notice: %q", name, n.Body)
		}
	}
	if got := alpha.nextMessage(t); !bytes.Equal(got.Body, earlier) {
		t.Fatalf("alpha's history: %q", got.Body)
	}

	hello := cpimBody("sip:bob@example.com", "sip:lobby@example.net", "hello dave")
	psst := cpimBody("sip:bob@example.com", "sip:dave@example.com", "psst")
	for _, body := range [][]byte{hello, psst} {
		if r := bob.msrp.response(t, bob.msrp.send("message/cpim", body)); r.StatusCode != 200 {
			t.Fatalf("bob: %d", r.StatusCode)
		}
		if got := alpha.nextMessage(t); !bytes.Equal(got.Body, body) {
			t.Fatalf("alpha got %q, want %q", got.Body, body)
		}
	}
	fromAlpha := cpimBody("sip:dave@example.com", "sip:lobby@example.net", "said on alpha")
	fromBeta := cpimBody("sip:dave@example.com", "sip:lobby@example.net", "said on beta")
	for _, c := range []struct {
		from *msrpPeer
		body []byte
	}{{alpha, fromAlpha}, {beta, fromBeta}} {
		if r := c.from.response(t, c.from.send("message/cpim", c.body)); r.StatusCode != 200 {
			t.Fatalf("dave: %d", r.StatusCode)
		}
		if got := bob.msrp.nextMessage(t); !bytes.Equal(got.Body, c.body) {
			t.Fatalf("bob got %q, want %q", got.Body, c.body)
		}
	}
	// Whatever else was queued for dave left the focus before bob saw dave's last message.
	sentinel := cpimBody("sip:bob@example.com", "sip:lobby@example.net", "sentinel")
	bob.msrp.send("message/cpim", sentinel)
	if got := alpha.nextMessage(t); !bytes.Equal(got.Body, sentinel) {
		t.Fatalf("alpha got %q before the sentinel (its own message came back?)", got.Body)
	}
	expectQuiet(t, "beta", beta, 300*time.Millisecond)
}

// expectQuiet fails when m receives any request within wait: a guard for what must never arrive,
// checked after a sentinel showed that everything sent before it has been delivered elsewhere.
func expectQuiet(t *testing.T, name string, m *msrpPeer, wait time.Duration) {
	t.Helper()
	for _, f := range m.Stash {
		t.Fatalf("%s got %s %q", name, f.Method, f.Body)
	}
	deadline := time.After(wait)
	for {
		select {
		case f, ok := <-m.Frames:
			if !ok {
				return
			}
			if !f.IsResponse() {
				t.Fatalf("%s got %s %q", name, f.Method, f.Body)
			}
		case <-deadline:
			return
		}
	}
}

// TestTwoLinesFirstLeaves: when the line that received for a channel is removed by a re-INVITE,
// the user's other line on that channel receives from then on.
func TestTwoLinesFirstLeaves(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinLobby(t, d, "alice", "tcp")
	bob := joinLobby(t, d, "bob", "tcp")
	second := newMSRPPeer(t)
	ans := reinviteOK(t, alice, offerLines(t, 2, line{alice.msrp, "main"}, line{second, "side"}))
	if len(ans.Media) != 2 || ans.Media[1].Port == 0 {
		t.Fatalf("answer: %+v", ans.Media)
	}
	second.connect(t, mustBody(t, ans), 1)
	ans = reinviteOK(t, alice, offerLines(t, 3, line{}, line{second, "side"}))
	if len(ans.Media) != 2 || ans.Media[0].Port != 0 || ans.Media[1].Port == 0 {
		t.Fatalf("answer after leaving the first line: %+v", ans.Media)
	}
	bob.msrp.send("message/cpim", cpimBody("sip:bob@example.com", "sip:lobby@example.net", "still there?"))
	waitText(t, second, "still there?")
}
