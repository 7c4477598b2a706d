package main

import (
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/cpim"

	"bytes"
	"testing"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/sdp"
)

// TestPrivateMessages (RFC 7701 §6.2): a To naming a participant by SIP AOR or by XCON-USERID
// reaches only that participant; unknown recipients get 404, recipients without private-message
// support 428, and a message with two To headers 403.
func TestPrivateMessages(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinLobby(t, d, "alice", "tcp")
	bob := joinLobby(t, d, "bob", "udp")
	carol := join(t, d, joinOptions{room: "lobby", name: "carol", transport: "tcp", label: "main", logged: true,
		chatroom: &sdp.Chatroom{Nickname: true}}) // no private-messages token

	send := func(body []byte) int {
		t.Helper()
		return alice.msrp.response(t, alice.msrp.send("message/cpim", body)).StatusCode
	}
	byAOR := cpimBody("sip:alice@example.com", "sip:bob@example.com", "psst by AOR")
	byUserID := cpimBody("sip:alice@example.com", "xcon-userid:bob@example.com", "psst by xcon-userid")
	for _, body := range [][]byte{byAOR, byUserID} {
		if code := send(body); code != 200 {
			t.Fatalf("private message: %d", code)
		}
		if got := bob.msrp.nextMessage(t); !bytes.Equal(got.Body, body) {
			t.Fatalf("bob got %q", got.Body)
		}
	}
	cases := []struct {
		name string
		body []byte
		want int
	}{
		{"unknown recipient", cpimBody("sip:alice@example.com", "sip:nobody@example.com", "hello?"), 404},
		{"recipient without private messages", cpimBody("sip:alice@example.com", "sip:carol@example.com", "psst"), 428},
		{"two recipients", []byte("From: <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\nTo: <sip:carol@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nhi"), 403},
	}
	for _, c := range cases {
		if code := send(c.body); code != c.want {
			t.Errorf("%s: got %d, want %d", c.name, code, c.want)
		}
	}
	// Carol saw none of the private traffic: her next message is the public sentinel.
	sentinel := cpimBody("sip:alice@example.com", "sip:lobby@example.net", "sentinel")
	send(sentinel)
	if got := carol.msrp.nextMessage(t); !bytes.Equal(got.Body, sentinel) {
		t.Fatalf("carol got %q before the sentinel", got.Body)
	}
}

// TestChannels: in a room with two labelled channels a stream joins the channel its label
// names, or the first channel when the label names none; messages stay in their channel.
func TestChannels(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		c.Rooms = append(c.Rooms, configs.Room{Name: "intl", Channels: []configs.Channel{
			{Label: "en", Language: "en"}, {Label: "fr", Language: "fr"}}})
	})
	opts := func(name, label string) joinOptions {
		return joinOptions{room: "intl", name: name, transport: "tcp", label: label}
	}
	alice := join(t, d, opts("alice", "en"))
	bob := join(t, d, opts("bob", "fr"))
	carol := join(t, d, opts("carol", "en"))
	dave := join(t, d, opts("dave", "other")) // no such channel: joins en, keeps its label

	conf := d.focus.Room("intl").Snapshot()
	if ch := conf.User("xcon-userid:dave@example.com").Endpoints[0].Media[0].Label; ch != "en" {
		t.Fatalf("dave's endpoint channel %q, want en", ch)
	}
	hello := cpimBody("sip:alice@example.com", "sip:intl@example.net", "hello")
	alice.msrp.send("message/cpim", hello)
	for _, p := range []*participant{carol, dave} {
		if got := p.msrp.nextMessage(t); !bytes.Equal(got.Body, hello) {
			t.Fatalf("%s got %q", p.name, got.Body)
		}
	}
	bonjour := cpimBody("sip:bob@example.com", "sip:intl@example.net", "bonjour")
	if code := bob.msrp.response(t, bob.msrp.send("message/cpim", bonjour)).StatusCode; code != 200 {
		t.Fatalf("bob: %d", code)
	}
	sentinel := cpimBody("sip:carol@example.com", "sip:intl@example.net", "sentinel")
	carol.msrp.send("message/cpim", sentinel)
	if got := alice.msrp.nextMessage(t); !bytes.Equal(got.Body, sentinel) {
		t.Fatalf("alice (en) got %q: the fr channel leaked", got.Body)
	}
}

// TestOfferWithoutAcceptWrappedTypes (RFC 4975 §8.6, RFC 7701 §6.1): a participant whose offer
// has no accept-wrapped-types still receives what its accept-types list inside CPIM, and is
// skipped for other wrapped types.
func TestOfferWithoutAcceptWrappedTypes(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinLobby(t, d, "alice", "tcp")
	old := join(t, d, joinOptions{room: "lobby", name: "olga", transport: "udp", label: "main", logged: true,
		acceptTypes: []string{"message/cpim", "text/plain"}, wrappedTypes: []string{}})
	offer := old.msrp.offer(t, "main")
	if bytes.Contains(offer, []byte("accept-wrapped-types")) {
		t.Fatalf("the test offer should have no accept-wrapped-types:\n%s", offer)
	}
	html := []byte("From: <sip:alice@example.com>\r\nTo: <sip:lobby@example.net>\r\n\r\nContent-Type: text/html\r\n\r\n<p>skipped</p>")
	plain := cpimBody("sip:alice@example.com", "sip:lobby@example.net", "plain text reaches olga")
	for _, body := range [][]byte{html, plain} {
		if r := alice.msrp.response(t, alice.msrp.send("message/cpim", body)); r.StatusCode != 200 {
			t.Fatalf("send: %d", r.StatusCode)
		}
	}
	if got := old.msrp.nextMessage(t).Body; !bytes.Equal(got, plain) {
		t.Fatalf("olga got %q, want only the text/plain message", got)
	}
}

// TestPrivateFailureReport (RFC 7701 §6.2): when the recipient refuses the copy of a private
// message after the sender was answered 200, the sender gets a failure REPORT about its
// message whose body is a CPIM wrapper with the original From and To.
func TestPrivateFailureReport(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinLobby(t, d, "alice", "tcp")
	bob := joinLobby(t, d, "bob", "tcp")
	bob.msrp.Refuse.Store(403)

	body := cpimBody("sip:alice@example.com", "sip:bob@example.com", "psst")
	id := msrp.NewMessageID()
	tid := alice.msrp.write(&msrp.Message{Method: "SEND", MessageID: id, ContentType: "message/cpim", Body: body,
		ByteRange: msrp.ByteRange{Start: 1, End: int64(len(body)), Total: int64(len(body))}})
	if r := alice.msrp.response(t, tid); r.StatusCode != 200 {
		t.Fatalf("private message: %d", r.StatusCode) // queued for bob: 200 before bob refuses
	}
	report := alice.msrp.nextMessage(t)
	if report.Method != "REPORT" || report.Status == nil || report.Status.Code != 403 || report.MessageID != id {
		t.Fatalf("got %s %+v about %q, want a REPORT with status 403 about %q", report.Method, report.Status, report.MessageID, id)
	}
	msg, err := cpim.Parse(report.Body)
	if err != nil || report.ContentType != "message/cpim" || msg.From.URI != "sip:alice@example.com" ||
		len(msg.To) != 1 || msg.To[0].URI != "sip:bob@example.com" {
		t.Fatalf("REPORT body %q (%v): want a CPIM wrapper From alice To bob", report.Body, err)
	}
}
