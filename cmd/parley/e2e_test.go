package main

import (
	"time"

	"bytes"
	"context"
	"fmt"
	"github.com/parleychat/parley/configs"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
)

type participant struct {
	name string
	sip  *sipPeer
	msrp *msrpPeer
	dlg  interface{ Bye(context.Context) error }
	sent [][]byte
}

// joinLobby joins the default lobby, which is logged.
func joinLobby(t *testing.T, d *daemon, name, transport string) *participant {
	t.Helper()
	return joinRoom(t, d, "lobby", name, transport, true)
}

// joinRoom joins room as name@example.com over transport; in a logged room the logging notice
// must be the first message received.
func joinRoom(t *testing.T, d *daemon, room, name, transport string, logged bool) *participant {
	t.Helper()
	return join(t, d, joinOptions{room: room, name: name, transport: transport, logged: logged, label: "main"})
}

type joinOptions struct {
	room, name, transport, label string
	logged                       bool
	chatroom                     *sdp.Chatroom // nil: nickname and private-messages
	acceptTypes                  []string      // nil: message/cpim
	wrappedTypes                 []string      // nil: text/plain and *
	extra                        []sip.Header  // more headers of the INVITE
}

func join(t *testing.T, d *daemon, o joinOptions) *participant {
	t.Helper()
	name, room, transport, logged := o.name, o.room, o.transport, o.logged
	p := &participant{name: name, sip: newSIPPeer(t, name, "example.com"), msrp: newMSRPPeer(t)}
	p.msrp.chatroom, p.msrp.acceptTypes, p.msrp.wrappedTypes = o.chatroom, o.acceptTypes, o.wrappedTypes
	dlg, res, err := p.sip.inviteAt(t, d.sip.Port(), room, transport, p.msrp.offer(t, o.label), o.extra...)
	if err != nil {
		t.Fatalf("%s INVITE: %v", name, err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("%s INVITE: %d", name, res.StatusCode)
	}
	if c := res.Contact(); c == nil || !c.Params.Has("isfocus") {
		t.Fatalf("%s: 200 Contact lacks isfocus: %v", name, res.Contact())
	}
	ans, err := sdp.Parse(res.Body())
	if err != nil {
		t.Fatal(err)
	}
	m := ans.Media[0]
	if m.Label != o.label || m.Setup != "passive" || len(m.AcceptTypes) != 1 || m.AcceptTypes[0] != "message/cpim" {
		t.Fatalf("%s: answer m-line %+v", name, m)
	}
	p.msrp.connect(t, res.Body(), 0)
	p.dlg = dlg
	if !logged {
		return p
	}
	if n := p.msrp.nextMessage(t); !bytes.Contains(n.Body, []byte("From: <sip:"+room+"@example.net>")) || !bytes.Contains(n.Body, []byte("logged")) {
		t.Fatalf("%s: first message is not the logging notice: %q", name, n.Body)
	}
	return p
}

// TestLobbyThreeParticipants is the foundation's end-to-end check: three participants (one
// over UDP, two over TCP) join lobby over real SIP and MSRP, each receives exactly the others'
// messages in order with the CPIM bodies unchanged, and the rows go on BYE.
func TestLobbyThreeParticipants(t *testing.T) {
	d := startTestDaemon(t, nil)
	peers := []*participant{
		joinLobby(t, d, "alice", "udp"),
		joinLobby(t, d, "bob", "tcp"),
		joinLobby(t, d, "carol", "tcp"),
	}

	conf := d.focus.Room("lobby").Snapshot()
	if len(present(conf.Users)) != 3 {
		t.Fatalf("users in lobby = %d, want 3", len(present(conf.Users)))
	}
	for _, p := range peers {
		u := conf.User("xcon-userid:" + p.name + "@example.com")
		if u == nil || len(u.Endpoints) != 1 {
			t.Fatalf("%s: user row %+v", p.name, u)
		}
		if u.Endpoints[0].Entity == "" || strings.Contains(p.msrp.Remote[0].SessionID, u.Endpoints[0].Entity) {
			t.Fatalf("%s: chat-ID %q must exist and differ from the MSRP session-id", p.name, u.Endpoints[0].Entity)
		}
	}
	if err := d.focus.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rows, err := d.store.Bindings(context.Background(), "lobby"); err != nil || len(rows) != 3 {
		t.Fatalf("binding rows = %d (%v), want 3", len(rows), err)
	}

	const perSender = 5
	for i := 0; i < perSender; i++ {
		for _, p := range peers {
			body := cpimBody("sip:"+p.name+"@example.com", "sip:lobby@example.net", fmt.Sprintf("%s says %d — ünïcode\r\nsecond line", p.name, i))
			p.sent = append(p.sent, body)
			p.msrp.send("message/cpim", body)
		}
	}
	// A final sentinel from each sender: once a participant has both others' sentinels, every
	// earlier message of theirs has arrived (one ordered path per sender), and nothing else may.
	for _, p := range peers {
		body := cpimBody("sip:"+p.name+"@example.com", "sip:lobby@example.net", "sentinel "+p.name)
		p.sent = append(p.sent, body)
		p.msrp.send("message/cpim", body)
	}

	for _, p := range peers {
		got := map[string][][]byte{}
		sentinels := 0
		for sentinels < len(peers)-1 {
			f := p.msrp.next(t)
			if f.IsResponse() {
				if f.StatusCode != 200 {
					t.Fatalf("%s: response %d %s", p.name, f.StatusCode, f.Comment)
				}
				continue
			}
			if f.Method != "SEND" || f.ContentType != "message/cpim" {
				t.Fatalf("%s: unexpected %s %q", p.name, f.Method, f.ContentType)
			}
			if len(f.ToPath) != 1 || f.ToPath[0].SessionID != p.msrp.Local.SessionID {
				t.Fatalf("%s: copy addressed to %v", p.name, f.ToPath)
			}
			sender := senderOf(t, f.Body)
			if sender == p.name {
				t.Fatalf("%s received its own message back", p.name)
			}
			got[sender] = append(got[sender], f.Body)
			if bytes.Contains(f.Body, []byte("sentinel ")) {
				sentinels++
			}
		}
		for _, q := range peers {
			if q == p {
				continue
			}
			if len(got[q.name]) != len(q.sent) {
				t.Fatalf("%s got %d messages from %s, want %d", p.name, len(got[q.name]), q.name, len(q.sent))
			}
			for i := range q.sent {
				if !bytes.Equal(got[q.name][i], q.sent[i]) {
					t.Fatalf("%s: message %d from %s altered or out of order:\n got %q\nwant %q", p.name, i, q.name, got[q.name][i], q.sent[i])
				}
			}
		}
	}

	for _, p := range peers {
		if err := p.dlg.Bye(context.Background()); err != nil {
			t.Fatalf("%s BYE: %v", p.name, err)
		}
	}
	if conf := d.focus.Room("lobby").Snapshot(); len(present(conf.Users)) != 0 {
		t.Fatalf("users after BYE = %d", len(present(conf.Users)))
	}
	if err := d.focus.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rows, err := d.store.Bindings(context.Background(), "lobby"); err != nil || len(rows) != 0 {
		t.Fatalf("binding rows after BYE = %d (%v)", len(rows), err)
	}
}

// senderOf returns the user part of the CPIM From of a relayed body.
func senderOf(t *testing.T, body []byte) string {
	t.Helper()
	_, rest, ok := bytes.Cut(body, []byte("From: <sip:"))
	if !ok {
		t.Fatalf("no CPIM From in %q", body)
	}
	user, _, _ := bytes.Cut(rest, []byte("@"))
	return string(user)
}

// TestSwitchRejects checks the switch's refusals on the wire: bare text/plain 415, a CPIM From
// that is not the sender 403, keepalives answered and not relayed, unknown session 481.
func TestSwitchRejects(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinLobby(t, d, "alice", "tcp")
	bob := joinLobby(t, d, "bob", "tcp")

	cases := []struct {
		name, contentType string
		body              []byte
		want              int
	}{
		{"bare text/plain", "text/plain", []byte("hello"), 415},
		{"CPIM From of someone else", "message/cpim", cpimBody("sip:bob@example.com", "sip:lobby@example.net", "spoof"), 403},
		{"heartbeat", "text/x-msrp-heartbeat", []byte("ping"), 200},
	}
	for _, c := range cases {
		tid := alice.msrp.send(c.contentType, c.body)
		if r := alice.msrp.response(t, tid); r.StatusCode != c.want {
			t.Errorf("%s: got %d %s, want %d", c.name, r.StatusCode, r.Comment, c.want)
		}
	}
	// Bob must see none of the above: the next thing he receives is the sentinel.
	tid := alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "sentinel"))
	if r := alice.msrp.response(t, tid); r.StatusCode != 200 {
		t.Fatalf("sentinel: %d", r.StatusCode)
	}
	if f := bob.msrp.nextMessage(t); !bytes.Contains(f.Body, []byte("sentinel")) {
		t.Fatalf("bob received %q before the sentinel", f.Body)
	}

	stranger := newMSRPPeer(t)
	conn, err := dialTCP(alice.msrp.Remote[0].HostPort())
	if err != nil {
		t.Fatal(err)
	}
	stranger.attach(conn, []msrp.URI{{Host: "127.0.0.1", Port: alice.msrp.Remote[0].Port, SessionID: msrp.NewSessionID(), Transport: "tcp"}})
	tid = stranger.send("message/cpim", cpimBody("sip:eve@example.com", "sip:lobby@example.net", "hi"))
	if r := stranger.response(t, tid); r.StatusCode != 481 {
		t.Fatalf("unknown session: got %d, want 481", r.StatusCode)
	}
}

// TestHTTPHealthAndMetrics checks /healthz and that /metrics carries real figures.
func TestHTTPHealthAndMetrics(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinLobby(t, d, "alice", "udp")
	bob := joinLobby(t, d, "bob", "tcp")
	tid := alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "hi"))
	alice.msrp.response(t, tid)
	bob.msrp.nextMessage(t)

	get := func(path string) string {
		res, err := http.Get("http://" + d.httpAddr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, res.StatusCode)
		}
		return string(b)
	}
	get("/healthz")
	metrics := get("/metrics")
	for _, want := range []string{
		"parley_rooms 1",
		"parley_participants 2",
		`parley_sip_requests_total{method="INVITE"} 2`,
		`parley_sip_responses_total{code="200",method="INVITE"} 2`,
		"parley_msrp_messages_relayed_total 1",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestChunkedMessageRelayedWhole: a message sent in three chunks (RFC 4975 §5.1) reaches the
// others as one message whose CPIM body is the reassembled original.
func TestChunkedMessageRelayedWhole(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinLobby(t, d, "alice", "tcp")
	bob := joinLobby(t, d, "bob", "udp")

	body := cpimBody("sip:alice@example.com", "sip:lobby@example.net", strings.Repeat("chunky text ", 500))
	id := msrp.NewMessageID()
	total := int64(len(body))
	cuts := []int64{0, 2000, 4100, total}
	for i := 0; i+1 < len(cuts); i++ {
		flag := byte('+')
		if i == len(cuts)-2 {
			flag = '$'
		}
		tid := alice.msrp.write(&msrp.Message{Method: "SEND", MessageID: id, ContentType: "message/cpim",
			Body: body[cuts[i]:cuts[i+1]], Flag: flag, ByteRange: msrp.ByteRange{Start: cuts[i] + 1, End: cuts[i+1], Total: total}})
		if r := alice.msrp.response(t, tid); r.StatusCode != 200 {
			t.Fatalf("chunk %d: %d %s", i, r.StatusCode, r.Comment)
		}
	}
	f := bob.msrp.nextMessage(t)
	if !bytes.Equal(f.Body, body) {
		t.Fatalf("bob got %d bytes, want the %d-byte original", len(f.Body), len(body))
	}
}

// TestSlowRecipientDoesNotBlockRoom: a participant that stops reading costs the room nothing
// but its own bounded queue; it is then dropped (BYE), while the others get every message.
func TestSlowRecipientDoesNotBlockRoom(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		c.MSRP.MaxMessageSize = 16 << 10
		c.MSRP.MaxPendingBytes = 1 << 20
		c.Rooms[0].Logging = false // this test is about queues, not about waiting for the log
	})
	alice := joinRoom(t, d, "lobby", "alice", "tcp", false)
	bob := joinRoom(t, d, "lobby", "bob", "tcp", false)
	stalled := joinRoom(t, d, "lobby", "carol", "udp", false)
	stalled.msrp.stopReading()

	// Far more than loopback socket buffers hold, so carol's queue must overflow.
	const messages = 3000
	text := strings.Repeat("x", 8000)
	// Alice sends at the pace bob reads (batches of 100), as a chat client would, so only
	// carol's queue grows.
	for batch := 0; batch < messages; batch += 100 {
		for i := batch; i < batch+100; i++ {
			alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", fmt.Sprintf("%d %s", i, text)))
		}
		for i := batch; i < batch+100; i++ {
			f := bob.msrp.nextMessage(t)
			if !bytes.Contains(f.Body, []byte(fmt.Sprintf("\r\n\r\n%d x", i))) {
				t.Fatalf("bob's message %d is %q", i, f.Body[len(f.Body)-20:])
			}
		}
	}
	select {
	case <-stalled.sip.byes:
	case <-time.After(20 * time.Second):
		t.Fatal("the stalled participant was never dropped")
	}
	if p := d.focus.Room("lobby").Participants(); len(p) != 2 {
		t.Fatalf("participants after the drop: %d, want 2", len(p))
	}
}
