package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
)

// newPeeringPeer is newSIPPeer with a client on host (an IPv6 address, for one) that trusts any
// TLS certificate and hands over the NOTIFYs it receives.
func newPeeringPeer(t *testing.T, user, host string) (*sipPeer, chan *sip.Request) {
	t.Helper()
	ua, client, srv := newTestUA(t, user, host, sipgo.WithUserAgenTLSConfig(&tls.Config{InsecureSkipVerify: true}))
	byes := make(chan struct{}, 16)
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		byes <- struct{}{}
	})
	notifies := make(chan *sip.Request, 256)
	srv.OnNotify(func(req *sip.Request, tx sip.ServerTransaction) {
		notifies <- req // before the 200: the focus sends the next NOTIFY only once this one is answered
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	aor := sip.Uri{Scheme: "sip", User: user, Host: "example.com"}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: host}}
	return &sipPeer{byes: byes, aor: aor, ua: ua, client: client, dialogUA: &sipgo.DialogUA{Client: client, ContactHDR: contact}}, notifies
}

// inviteURI sends an INVITE to target and ACKs a 2xx; it fails the test on anything else.
func inviteURI(t *testing.T, p *sipPeer, target sip.Uri, body []byte) (*sipgo.DialogClientSession, *sip.Response) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	from := &sip.FromHeader{Address: p.aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	dlg, err := p.dialogUA.Invite(ctx, target, body, from, sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatalf("INVITE %s: %v", target.String(), err)
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatalf("INVITE %s: %v", target.String(), err)
	}
	if err := dlg.Ack(ctx); err != nil {
		t.Fatalf("ACK: %v", err)
	}
	return dlg, dlg.InviteResponse
}

// chatBetween checks that a message from one participant reaches the other unchanged.
func chatBetween(t *testing.T, from, to *participant, room string) {
	t.Helper()
	body := cpimBody("sip:"+from.name+"@example.com", "sip:"+room+"@example.net", "hello from "+from.name)
	from.msrp.send("message/cpim", body)
	if got := to.msrp.nextMessage(t); !bytes.Equal(got.Body, body) {
		t.Fatalf("%s received %q, want %q", to.name, got.Body, body)
	}
}

func TestSIPOverTLSJoinsLobby(t *testing.T) {
	for _, scheme := range []string{"sip", "sips"} {
		// A daemon each: the lobby is logged, and a later joiner would get the first one's history.
		d := startTestDaemon(t, func(c *configs.Config) { c.SIP.TLSListen = "127.0.0.1:0" })
		if d.sip.TLSPort() == 0 {
			t.Fatal("no TLS port")
		}
		name := "alice-" + scheme
		peer, _ := newPeeringPeer(t, name, "127.0.0.1")
		alice := &participant{name: name, sip: peer, msrp: newMSRPPeer(t)}
		target := sip.Uri{Scheme: scheme, User: "lobby", Host: "127.0.0.1", Port: d.sip.TLSPort(), UriParams: sip.NewParams()}
		target.UriParams.Add("transport", "tls")
		dlg, res := inviteURI(t, peer, target, alice.msrp.offer(t, "main"))
		alice.dlg = dlg
		c := res.Contact()
		if c == nil || !c.Params.Has("isfocus") || c.Address.Port != d.sip.TLSPort() || c.Address.Scheme != scheme {
			t.Fatalf("200 Contact over TLS: %v", c)
		}
		if tr, _ := c.Address.UriParams.Get("transport"); tr != "tls" {
			t.Fatalf("200 Contact over TLS lacks transport=tls: %v", c)
		}
		alice.msrp.connect(t, res.Body(), 0)
		if n := alice.msrp.nextMessage(t); !bytes.Contains(n.Body, []byte("logged")) {
			t.Fatalf("first message is not the logging notice: %q", n.Body)
		}
		bob := joinLobby(t, d, "bob-"+scheme, "tcp")
		chatBetween(t, alice, bob, "lobby")
		chatBetween(t, bob, alice, "lobby")
	}
}

func TestIPv6ListenersJoin(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback on this host:", err)
	}
	ln.Close()
	d := startTestDaemon(t, func(c *configs.Config) {
		c.SIP.Listen, c.MSRP.Listen, c.SIP.TLSListen = "[::1]:0", "[::1]:0", "[::1]:0"
	})
	for _, tc := range []struct {
		transport string
		port      int
	}{{"udp", d.sip.Port()}, {"tcp", d.sip.Port()}, {"tls", d.sip.TLSPort()}} {
		peer, _ := newPeeringPeer(t, "v6-"+tc.transport, "::1")
		p := &participant{name: "v6-" + tc.transport, sip: peer, msrp: newMSRPPeer(t)}
		p.msrp.Local.Host = "::1"
		target := sip.Uri{Scheme: "sip", User: "lobby", Host: "[::1]", Port: tc.port, UriParams: sip.NewParams()}
		if tc.transport != "udp" {
			target.UriParams.Add("transport", tc.transport)
		}
		dlg, res := inviteURI(t, peer, target, p.msrp.offer(t, "main"))
		p.dlg = dlg
		if c := res.Contact(); c == nil || !strings.Contains(c.Address.String(), "[::1]") {
			t.Fatalf("%s: Contact %v lacks the bracketed IPv6 host", tc.transport, c)
		}
		p.msrp.connect(t, res.Body(), 0)
		if n := p.msrp.nextMessage(t); !bytes.Contains(n.Body, []byte("logged")) {
			t.Fatalf("%s: first message is not the logging notice: %q", tc.transport, n.Body)
		}
	}
	if n := len(d.focus.Room("lobby").Participants()); n != 3 {
		t.Fatalf("participants over IPv6 = %d, want 3", n)
	}
}

func TestAdHocFactoryCreatesRoom(t *testing.T) {
	d := startTestDaemon(t, nil)
	if d.cfg.SIP.Factory != "sip:adhoc@example.net" {
		t.Fatalf("factory = %q", d.cfg.SIP.Factory)
	}
	before := d.focus.Rooms()
	alice := &participant{name: "alice", sip: newSIPPeer(t, "alice", "example.com"), msrp: newMSRPPeer(t)}
	dlg, res, err := alice.sip.invite(t, d, "adhoc", "tcp", alice.msrp.offer(t, "main"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("INVITE to the factory: %v %v", res, err)
	}
	alice.dlg = dlg
	c := res.Contact()
	if c == nil || !c.Params.Has("isfocus") {
		t.Fatalf("200 Contact: %v", c)
	}
	room := c.Address.User
	if len(room) != 10 || slices.Contains(before, room) || !slices.Contains(d.focus.Rooms(), room) {
		t.Fatalf("Contact names %q; rooms before %v, after %v", room, before, d.focus.Rooms())
	}
	alice.msrp.connect(t, res.Body(), 0)
	bob := joinRoom(t, d, room, "bob", "tcp", false)
	chatBetween(t, bob, alice, room)
	chatBetween(t, alice, bob, room)
}

func TestAdHocFactoryRefusesOtherDomains(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.SIP.AdhocAllowed = []string{"partner.example"} })
	before := d.focus.Rooms()
	p := newSIPPeer(t, "mallory", "example.com")
	_, res, _ := p.invite(t, d, "adhoc", "tcp", newMSRPPeer(t).offer(t, "main"))
	if res == nil || res.StatusCode != 403 {
		t.Fatalf("INVITE to the factory from another domain: %v", res)
	}
	if after := d.focus.Rooms(); !slices.Equal(before, after) {
		t.Fatalf("rooms changed: %v -> %v", before, after)
	}
}

func TestOptionsRoomAdvertisesFocus(t *testing.T) {
	d := startTestDaemon(t, nil)
	p := newSIPPeer(t, "alice", "example.com")
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", User: "lobby", Host: "127.0.0.1", Port: d.sip.Port(),
		UriParams: tcpParams()})
	req.SetTransport("TCP")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.client.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("OPTIONS: %v %v", res, err)
	}
	if c := res.Contact(); c == nil || !c.Params.Has("isfocus") || c.Address.User != "lobby" {
		t.Fatalf("Contact: %v", c)
	}
	for name, want := range map[string]string{"Allow-Events": "conference", "Supported": "timer", "Allow": "REFER"} {
		if h := res.GetHeader(name); h == nil || !strings.Contains(h.Value(), want) {
			t.Fatalf("%s: %v, want %s in it", name, h, want)
		}
	}
}

// invitee is a user agent the focus dials out to: it answers the INVITE with an MSRP answer
// saying a=setup:passive and takes the focus's connection on its own listener.
type invitee struct {
	uri      sip.Uri
	msrp     *msrpPeer
	invites  chan *sip.Request
	accepted chan struct{}
}

func newInvitee(t *testing.T, user string) *invitee {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(user))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	sipLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	msrpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	iv := &invitee{msrp: newMSRPPeer(t), invites: make(chan *sip.Request, 4), accepted: make(chan struct{})}
	iv.msrp.Local.Port = msrpLn.Addr().(*net.TCPAddr).Port
	iv.uri = sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: sipLn.Addr().(*net.TCPAddr).Port, UriParams: tcpParams()}
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		iv.invites <- req
		offer, err := sdp.Parse(req.Body())
		if err != nil || len(offer.Media) != 1 {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
			return
		}
		iv.msrp.Remote, _ = msrp.ParsePath(strings.Join(offer.Media[0].Path, " "))
		answer, err := sdp.BuildAnswer(offer, sdp.AnswerParams{Username: user, SessionID: 1, SessionVersion: 1, Address: "127.0.0.1"},
			[]sdp.MediaAnswer{{Port: iv.msrp.Local.Port, Proto: "TCP/MSRP", Path: []string{iv.msrp.Local.String()}, Setup: "passive",
				AcceptTypes: []string{"message/cpim"}, AcceptWrappedTypes: []string{"text/plain", "*"},
				Chatroom: &sdp.Chatroom{Nickname: true, PrivateMessages: true}}})
		if err != nil {
			t.Errorf("invitee answer: %v", err)
			return
		}
		res := sip.NewSDPResponseFromRequest(req, answer)
		res.To().Params.Add("tag", sip.GenerateTagN(10))
		res.AppendHeader(&sip.ContactHeader{Address: iv.uri})
		_ = tx.Respond(res)
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go func() {
		conn, err := msrpLn.Accept()
		if err != nil {
			return
		}
		iv.msrp.attach(conn, nil) // Remote: from the offer
		close(iv.accepted)
	}()
	go func() { _ = srv.ServeTCP(sipLn) }()
	closeWithDaemon(t, func() {
		msrpLn.Close()
		select {
		case <-iv.accepted:
			iv.msrp.Close()
		default:
		}
		sipLn.Close()
		ua.Close()
	})
	return iv
}

func TestReferDialsOut(t *testing.T) {
	d := startTestDaemon(t, nil)
	peer, notifies := newPeeringPeer(t, "alice", "127.0.0.1")
	alice := &participant{name: "alice", sip: peer, msrp: newMSRPPeer(t)}
	dlg, res, err := peer.invite(t, d, "lobby", "tcp", alice.msrp.offer(t, "main"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", res, err)
	}
	alice.dlg = dlg
	alice.msrp.connect(t, res.Body(), 0)
	alice.msrp.nextMessage(t) // the logging notice

	carol := newInvitee(t, "carol")
	refer := sip.NewRequest(sip.REFER, dlg.InviteResponse.Contact().Address)
	refer.SetTransport("TCP")
	refer.AppendHeader(sip.NewHeader("Refer-To", "<"+carol.uri.String()+">"))
	refer.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rres, err := dlg.Do(ctx, refer)
	if err != nil || rres.StatusCode != 202 {
		t.Fatalf("REFER: %v %v", rres, err)
	}

	inv := <-carol.invites
	if from := inv.From(); from == nil || from.Address.User != "lobby" {
		t.Fatalf("dial-out From: %v", inv.From())
	}
	offer, err := sdp.Parse(inv.Body())
	if err != nil || len(offer.Media) != 1 || offer.Media[0].Setup != "actpass" || !offer.Media[0].Accepts("message/cpim") ||
		len(offer.Media[0].Path) != 1 {
		t.Fatalf("dial-out offer: %q (%v)", inv.Body(), err)
	}
	var frags []string
	for len(frags) < 2 {
		select {
		case n := <-notifies:
			if ev := n.GetHeader("Event"); ev == nil || !strings.HasPrefix(ev.Value(), "refer") {
				t.Fatalf("NOTIFY Event: %v", ev)
			}
			if ct := n.ContentType(); ct == nil || !strings.HasPrefix(ct.Value(), "message/sipfrag") {
				t.Fatalf("NOTIFY Content-Type: %v", ct)
			}
			frags = append(frags, strings.TrimSpace(string(n.Body())))
			state := n.GetHeader("Subscription-State").Value()
			if final := strings.HasPrefix(state, "terminated"); final != (len(frags) == 2) {
				t.Fatalf("NOTIFY %d: Subscription-State %s", len(frags), state)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("sipfrag NOTIFYs so far: %q", frags)
		}
	}
	if frags[0] != "SIP/2.0 100 Trying" || frags[1] != "SIP/2.0 200 OK" {
		t.Fatalf("sipfrags %q", frags)
	}

	// The focus connected to carol (she said passive) and bound the session with an empty SEND.
	select {
	case <-carol.accepted:
	case <-time.After(20 * time.Second):
		t.Fatal("the focus did not connect to the invitee")
	}
	// The bodiless SEND that binds (RFC 6135) and the logging notice queued before the
	// connection was up, in either order.
	var bound, notice bool
	for !bound || !notice {
		n := carol.msrp.nextMessage(t)
		switch {
		case n.Method == "SEND" && len(n.Body) == 0 && !bound:
			bound = true
		case bytes.Contains(n.Body, []byte("logged")) && !notice:
			notice = true
		default:
			t.Fatalf("unexpected %s from the focus: %q", n.Method, n.Body)
		}
	}
	body := cpimBody("sip:alice@example.com", "sip:lobby@example.net", "welcome, carol")
	alice.msrp.send("message/cpim", body)
	if got := carol.msrp.nextMessage(t); !bytes.Equal(got.Body, body) {
		t.Fatalf("invitee received %q, want %q", got.Body, body)
	}
	if conf := d.focus.Room("lobby").Snapshot(); conf.User("xcon-userid:carol@127.0.0.1") == nil {
		t.Fatalf("carol is not in the roster")
	}
}

func tcpParams() sip.HeaderParams {
	p := sip.NewParams()
	p.Add("transport", "tcp")
	return p
}

// joinForRefer joins alice to the lobby over TCP, with a user agent that records NOTIFYs.
func joinForRefer(t *testing.T, d *daemon) (*participant, *sipgo.DialogClientSession, chan *sip.Request) {
	t.Helper()
	peer, notifies := newPeeringPeer(t, "alice", "127.0.0.1")
	alice := &participant{name: "alice", sip: peer, msrp: newMSRPPeer(t)}
	dlg, res, err := peer.invite(t, d, "lobby", "tcp", alice.msrp.offer(t, "main"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", res, err)
	}
	alice.dlg = dlg
	alice.msrp.connect(t, res.Body(), 0)
	alice.msrp.nextMessage(t) // the logging notice
	return alice, dlg, notifies
}

func TestReferOutOfDialog(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice, _, notifies := joinForRefer(t, d)
	carol := newInvitee(t, "carol")
	refer := sip.NewRequest(sip.REFER, sip.Uri{Scheme: "sip", User: "lobby", Host: "127.0.0.1", Port: d.sip.Port(), UriParams: tcpParams()})
	refer.SetTransport("TCP")
	from := &sip.FromHeader{Address: alice.sip.aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	refer.AppendHeader(from)
	refer.AppendHeader(sip.NewHeader("Refer-To", "<"+carol.uri.String()+">"))
	refer.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := alice.sip.client.Do(ctx, refer)
	if err != nil || res.StatusCode != 202 || !res.To().Params.Has("tag") {
		t.Fatalf("REFER: %v %v", res, err)
	}
	<-carol.invites
	for _, want := range []string{"SIP/2.0 100 Trying", "SIP/2.0 200 OK"} {
		select {
		case n := <-notifies:
			if got := strings.TrimSpace(string(n.Body())); got != want || n.CallID().Value() != refer.CallID().Value() {
				t.Fatalf("NOTIFY %q in %s, want %q in the REFER's Call-ID", got, n.CallID().Value(), want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no NOTIFY %q", want)
		}
	}
}

func TestReferNeedsModerator(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.SIP.ReferAllowed = "moderators" })
	_, dlg, _ := joinForRefer(t, d)
	refer := sip.NewRequest(sip.REFER, dlg.InviteResponse.Contact().Address)
	refer.SetTransport("TCP")
	refer.AppendHeader(sip.NewHeader("Refer-To", "<sip:carol@127.0.0.1:9;transport=tcp>"))
	refer.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if res, err := dlg.Do(ctx, refer); err != nil || res.StatusCode != 403 {
		t.Fatalf("REFER from a plain participant: %v %v", res, err)
	}
}
