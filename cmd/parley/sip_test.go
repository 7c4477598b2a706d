package main

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/sdp"
)

// TestInviteRefusals checks the INVITE outcomes a softphone sees before any MSRP flows.
func TestInviteRefusals(t *testing.T) {
	d := startTestDaemon(t, nil)
	peer := newSIPPeer(t, "alice", "example.com")
	m := newMSRPPeer(t)
	audioOnly := []byte("v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
	noCPIM := []byte("v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\n" +
		"a=accept-types:text/plain\r\na=path:msrp://127.0.0.1:9/abcdefghijk;tcp\r\n")
	cases := []struct {
		name, room, transport string
		body                  []byte
		want                  int
	}{
		{"unknown room", "nosuchroom", "udp", m.offer(t, "main"), 404},
		{"audio only", "lobby", "tcp", audioOnly, 488},
		{"MSRP without message/cpim", "lobby", "udp", noCPIM, 488},
		{"malformed SDP", "lobby", "tcp", []byte("this is not SDP\r\n"), 488},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, res, err := peer.invite(t, d, c.room, c.transport, c.body)
			if res == nil {
				t.Fatalf("no final response (%v)", err)
			}
			if res.StatusCode != c.want {
				t.Fatalf("got %d %s, want %d", res.StatusCode, res.Reason, c.want)
			}
		})
	}
	if n := len(d.focus.Room("lobby").Participants()); n != 0 {
		t.Fatalf("refused INVITEs left %d participants", n)
	}
}

// TestTwoLabelledLinesOneUser checks session-chat figure 3: one identity offering two labelled MSRP
// m-lines (and audio) keeps one xcon-userid and gets one chat-ID per accepted m-line, and a
// second join of the same identity keeps that xcon-userid too.
func TestTwoLabelledLinesOneUser(t *testing.T) {
	d := startTestDaemon(t, nil)
	peer := newSIPPeer(t, "dave", "example.com")
	m := newMSRPPeer(t)
	offer := []byte(string(m.offer(t, "alpha", "beta")))
	dlg, res, err := peer.invite(t, d, "lobby", "udp", offer)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", res, err)
	}
	ans, err := sdp.Parse(res.Body())
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Media) != 2 || ans.Media[0].Label != "alpha" || ans.Media[1].Label != "beta" {
		t.Fatalf("answer media: %+v", ans.Media)
	}
	if ans.Media[0].Path[0] == ans.Media[1].Path[0] {
		t.Fatal("two m-lines share one MSRP session URI")
	}
	second := newMSRPPeer(t)
	dlg2, res2, err := peer.invite(t, d, "lobby", "tcp", second.offer(t, ""))
	if err != nil || res2.StatusCode != 200 {
		t.Fatalf("second INVITE: %v %v", res2, err)
	}
	conf := d.focus.Room("lobby").Snapshot()
	if len(present(conf.Users)) != 1 {
		t.Fatalf("users = %d, want 1", len(present(conf.Users)))
	}
	u := conf.User("xcon-userid:dave@example.com")
	if u == nil || len(u.Endpoints) != 3 {
		t.Fatalf("dave's endpoints: %+v", u)
	}
	seen := map[string]bool{}
	for _, e := range u.Endpoints {
		if seen[e.Entity] {
			t.Fatalf("chat-ID %s used twice", e.Entity)
		}
		seen[e.Entity] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dlg.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if u := d.focus.Room("lobby").Snapshot().User("xcon-userid:dave@example.com"); u == nil || len(u.Endpoints) != 1 {
		t.Fatalf("after the first BYE dave should keep one endpoint: %+v", u)
	}
	if err := dlg2.Bye(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestOptions checks the OPTIONS answer proxies use as a keepalive.
func TestOptions(t *testing.T) {
	d := startTestDaemon(t, nil)
	peer := newSIPPeer(t, "probe", "example.com")
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", User: "lobby", Host: "127.0.0.1", Port: d.sip.Port()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := peer.client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.GetHeader("Allow") == nil {
		t.Fatalf("OPTIONS: %d, Allow %v", res.StatusCode, res.GetHeader("Allow"))
	}
}
