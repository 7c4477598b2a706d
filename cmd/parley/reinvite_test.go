package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/sdp"
)

// line is one m-line of a test offer: a peer's path and label, or a disabled slot (nil peer).
type line struct {
	peer  *msrpPeer
	label string
}

// offerLines builds an offer with one m-line per entry; version is the o= version.
func offerLines(t *testing.T, version uint64, lines ...line) []byte {
	t.Helper()
	var media []sdp.MediaAnswer
	for _, l := range lines {
		if l.peer == nil {
			media = append(media, sdp.MediaAnswer{Reject: true, Proto: "TCP/MSRP"})
			continue
		}
		media = append(media, sdp.MediaAnswer{
			Port: 9, Proto: "TCP/MSRP", Path: []string{l.peer.Local.String()}, Label: l.label, Setup: "active",
			AcceptTypes: []string{"message/cpim"}, AcceptWrappedTypes: []string{"text/plain", "*"},
			Chatroom: &sdp.Chatroom{Nickname: true, PrivateMessages: true},
		})
	}
	b, err := sdp.BuildOffer(sdp.AnswerParams{Username: "peer", SessionID: 1, SessionVersion: version, Address: "127.0.0.1"}, media)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inDialog sends a request of method in the dialog (body nil: none) and returns the final
// response and the request as sent. A 2xx to an INVITE is not acknowledged here (see ack).
func inDialog(t *testing.T, dlg *sipgo.DialogClientSession, method sip.RequestMethod, body []byte, hdrs ...sip.Header) (*sip.Response, *sip.Request) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := sip.NewRequest(method, dlg.InviteResponse.Contact().Address)
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
	}
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	res, err := dlg.Do(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return res, req
}

// ack acknowledges the 2xx to the in-dialog INVITE inv, with body as the answer (nil: none).
func ack(t *testing.T, p *sipPeer, inv *sip.Request, body []byte) {
	t.Helper()
	a := sip.NewRequest(sip.ACK, inv.Recipient)
	a.AppendHeader(sip.HeaderClone(inv.From()))
	a.AppendHeader(sip.HeaderClone(inv.To()))
	a.AppendHeader(sip.HeaderClone(inv.CallID()))
	a.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.ACK})
	mf := sip.MaxForwardsHeader(70)
	a.AppendHeader(&mf)
	if body != nil {
		a.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	a.SetBody(body)
	a.SetTransport(inv.Transport())
	a.SetDestination(inv.Destination())
	if err := p.client.WriteRequest(a, sipgo.ClientRequestAddVia); err != nil {
		t.Fatalf("ACK: %v", err)
	}
}

func reinviteOK(t *testing.T, p *participant, body []byte) *sdp.Session {
	t.Helper()
	dlg := p.dlg.(*sipgo.DialogClientSession)
	res, req := inDialog(t, dlg, sip.INVITE, body)
	if res.StatusCode != 200 {
		t.Fatalf("re-INVITE: %d %s", res.StatusCode, res.Reason)
	}
	ack(t, p.sip, req, nil)
	ans, err := sdp.Parse(res.Body())
	if err != nil {
		t.Fatal(err)
	}
	return ans
}

// waitText reads m's messages until one contains text (notices and history come first).
func waitText(t *testing.T, m *msrpPeer, text string) { t.Helper(); waitTextAmong(t, m, text, 50) }

// waitTextAmong: text is in one of the next n messages m receives.
func waitTextAmong(t *testing.T, m *msrpPeer, text string, n int) {
	t.Helper()
	for range n {
		if n := m.nextMessage(t); bytes.Contains(n.Body, []byte(text)) {
			return
		}
	}
	t.Fatalf("%q never arrived", text)
}

func endpoints(t *testing.T, d *daemon, user string) []string {
	t.Helper()
	u := d.focus.Room("lobby").Snapshot().User("xcon-userid:" + user + "@example.com")
	if u == nil {
		return nil
	}
	var ids []string
	for _, e := range u.Endpoints {
		ids = append(ids, e.Entity)
	}
	return ids
}

// TestReInviteRefresh: the same offer again is a session refresh; the answer is the same
// bytes (same a=path, o= version unchanged, RFC 3264 §8) and nothing else changes.
func TestReInviteRefresh(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			d := startTestDaemon(t, nil)
			alice := joinLobby(t, d, "alice", transport)
			bob := joinLobby(t, d, "bob", "tcp")
			before := endpoints(t, d, "alice")
			first := alice.dlg.(*sipgo.DialogClientSession).InviteResponse.Body()
			dlg := alice.dlg.(*sipgo.DialogClientSession)
			res, req := inDialog(t, dlg, sip.INVITE, alice.msrp.offer(t, "main"))
			if res.StatusCode != 200 {
				t.Fatalf("re-INVITE: %d", res.StatusCode)
			}
			if !bytes.Equal(res.Body(), first) {
				t.Fatalf("refresh answer differs:\n%s\nfirst:\n%s", res.Body(), first)
			}
			if c := res.Contact(); c == nil || !c.Params.Has("isfocus") {
				t.Fatalf("Contact %v", res.Contact())
			}
			ack(t, alice.sip, req, nil)
			if after := endpoints(t, d, "alice"); strings.Join(after, ",") != strings.Join(before, ",") {
				t.Fatalf("chat-IDs changed: %v → %v", before, after)
			}
			bob.msrp.send("message/cpim", cpimBody("sip:bob@example.com", "sip:lobby@example.net", "still here"))
			waitText(t, alice.msrp, "still here")
			// A second refresh after the ACK is answered too (the first exchange is over).
			reinviteOK(t, alice, alice.msrp.offer(t, "main"))
		})
	}
}

// TestReInviteAddsAndRemovesChannel: a new m-line gets a new stream, row and path while the
// old one keeps its path; port 0 on it later removes its row and closes its session.
func TestReInviteAddsAndRemovesChannel(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinLobby(t, d, "alice", "tcp")
	bob := joinLobby(t, d, "bob", "tcp")
	first, _ := sdp.Parse(alice.dlg.(*sipgo.DialogClientSession).InviteResponse.Body())
	second := newMSRPPeer(t)
	ans := reinviteOK(t, alice, offerLines(t, 2, line{alice.msrp, "main"}, line{second, "side"}))
	if len(ans.Media) != 2 || ans.Media[1].Port == 0 {
		t.Fatalf("answer: %+v", ans.Media)
	}
	if ans.Media[0].Path[0] != first.Media[0].Path[0] {
		t.Fatalf("existing stream's path changed: %s → %s", first.Media[0].Path[0], ans.Media[0].Path[0])
	}
	if ans.Media[1].Path[0] == ans.Media[0].Path[0] {
		t.Fatal("new stream shares the old path")
	}
	if ans.Origin.SessionID != first.Origin.SessionID || ans.Origin.SessionVersion != first.Origin.SessionVersion+1 {
		t.Fatalf("o= %+v after %+v", ans.Origin, first.Origin)
	}
	if ids := endpoints(t, d, "alice"); len(ids) != 2 {
		t.Fatalf("endpoints after adding: %v", ids)
	}
	second.connect(t, mustBody(t, ans), 1)
	// The lobby has no "side" channel: the new line falls to main, which alice's first line
	// already carries. It sends into main; what main says reaches alice once, on her first line.
	tid := second.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "from the new line"))
	if r := second.response(t, tid); r.StatusCode != 200 {
		t.Fatalf("SEND on the new stream: %d", r.StatusCode)
	}
	waitText(t, bob.msrp, "from the new line")
	bob.msrp.send("message/cpim", cpimBody("sip:bob@example.com", "sip:lobby@example.net", "to alice"))
	waitText(t, alice.msrp, "to alice")

	// Leave the side channel: port 0 in the same slot.
	ans = reinviteOK(t, alice, offerLines(t, 3, line{alice.msrp, "main"}, line{}))
	if len(ans.Media) != 2 || ans.Media[1].Port != 0 || ans.Media[0].Path[0] != first.Media[0].Path[0] {
		t.Fatalf("answer after leaving: %+v", ans.Media)
	}
	if ids := endpoints(t, d, "alice"); len(ids) != 1 {
		t.Fatalf("endpoints after leaving: %v", ids)
	}
	tid = second.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "gone?"))
	if r := second.response(t, tid); r.StatusCode != 481 {
		t.Fatalf("SEND on the removed stream: %d", r.StatusCode)
	}
	bob.msrp.send("message/cpim", cpimBody("sip:bob@example.com", "sip:lobby@example.net", "main only"))
	waitText(t, alice.msrp, "main only")

	// The refused slot offered again is a new stream.
	third := newMSRPPeer(t)
	ans = reinviteOK(t, alice, offerLines(t, 4, line{alice.msrp, "main"}, line{third, "side"}))
	if ans.Media[1].Port == 0 {
		t.Fatalf("reused slot refused: %+v", ans.Media[1])
	}
	if ids := endpoints(t, d, "alice"); len(ids) != 2 {
		t.Fatalf("endpoints after reusing the slot: %v", ids)
	}
}

func mustBody(t *testing.T, s *sdp.Session) []byte {
	t.Helper()
	media := make([]sdp.MediaAnswer, len(s.Media))
	for i, m := range s.Media {
		media[i] = sdp.MediaAnswer{Reject: m.Port == 0, Port: m.Port, Proto: m.Proto, Path: m.Path, AcceptTypes: m.AcceptTypes}
	}
	b, err := sdp.BuildOffer(sdp.AnswerParams{SessionID: 1, SessionVersion: 1, Address: "127.0.0.1"}, media)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReInviteGlare: a new offer while one is under way gets 491; a lower CSeq gets 500.
func TestReInviteGlare(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinLobby(t, d, "alice", "tcp")
	dlg := alice.dlg.(*sipgo.DialogClientSession)
	// A re-INVITE without SDP: our offer goes in the 200 and the exchange lasts until the ACK.
	res, pending := inDialog(t, dlg, sip.INVITE, nil)
	if res.StatusCode != 200 || len(res.Body()) == 0 {
		t.Fatalf("offerless re-INVITE: %d, body %q", res.StatusCode, res.Body())
	}
	if res2, _ := inDialog(t, dlg, sip.INVITE, alice.msrp.offer(t, "main")); res2.StatusCode != 491 {
		t.Fatalf("re-INVITE during an exchange: %d, want 491", res2.StatusCode)
	}
	res2, last := inDialog(t, dlg, sip.UPDATE, alice.msrp.offer(t, "main"))
	if res2.StatusCode != 491 {
		t.Fatalf("UPDATE during an exchange: %d, want 491", res2.StatusCode)
	}
	ack(t, alice.sip, pending, res.Body())
	// A re-INVITE with a CSeq below the dialog's last.
	old := pending.Clone()
	old.RemoveHeader("Via")
	old.SetBody(alice.msrp.offer(t, "main"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if old.CSeq().SeqNo >= last.CSeq().SeqNo {
		t.Fatalf("CSeq %d not below %d", old.CSeq().SeqNo, last.CSeq().SeqNo)
	}
	res3, err := alice.sip.client.Do(ctx, old, sipgo.ClientRequestAddVia)
	if err != nil {
		t.Fatal(err)
	}
	if res3.StatusCode != 500 {
		t.Fatalf("lower CSeq: %d, want 500", res3.StatusCode)
	}
}

// TestUpdateModifiesSession: UPDATE with SDP adds a stream like a re-INVITE; without SDP it is
// a refresh.
func TestUpdateModifiesSession(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinLobby(t, d, "alice", "udp")
	dlg := alice.dlg.(*sipgo.DialogClientSession)
	second := newMSRPPeer(t)
	res, _ := inDialog(t, dlg, sip.UPDATE, offerLines(t, 2, line{alice.msrp, "main"}, line{second, "side"}))
	if res.StatusCode != 200 {
		t.Fatalf("UPDATE: %d", res.StatusCode)
	}
	ans, err := sdp.Parse(res.Body())
	if err != nil || len(ans.Media) != 2 || ans.Media[1].Port == 0 {
		t.Fatalf("UPDATE answer: %v %s", err, res.Body())
	}
	if ids := endpoints(t, d, "alice"); len(ids) != 2 {
		t.Fatalf("endpoints: %v", ids)
	}
	if res, _ := inDialog(t, dlg, sip.UPDATE, nil); res.StatusCode != 200 || len(res.Body()) != 0 {
		t.Fatalf("bodiless UPDATE: %d %q", res.StatusCode, res.Body())
	}
}

// TestOfferlessInvite: an INVITE without SDP gets our offer in the 200; the answer in the ACK
// joins the participant, who then receives room messages.
func TestOfferlessInvite(t *testing.T) {
	d := startTestDaemon(t, nil)
	bob := joinLobby(t, d, "bob", "tcp")
	peer := newSIPPeer(t, "carol", "example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	target := sip.Uri{Scheme: "sip", User: "lobby", Host: "127.0.0.1", Port: d.sip.Port(), UriParams: sip.NewParams()}
	target.UriParams.Add("transport", "tcp")
	from := &sip.FromHeader{Address: peer.aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	dlg, err := peer.dialogUA.Invite(ctx, target, nil, from)
	if err != nil {
		t.Fatal(err)
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	offer, err := sdp.Parse(dlg.InviteResponse.Body())
	if err != nil || len(offer.Media) != 1 {
		t.Fatalf("offer in the 200: %v %q", err, dlg.InviteResponse.Body())
	}
	if m := offer.Media[0]; m.Setup != "actpass" || len(m.Path) != 1 || !m.Accepts("message/cpim") {
		t.Fatalf("offered m-line: %+v", m)
	}
	m := newMSRPPeer(t)
	answer := offerLines(t, 1, line{m, offer.Media[0].Label})
	a := sip.NewRequest(sip.ACK, dlg.InviteResponse.Contact().Address)
	a.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	a.SetBody(answer)
	if err := dlg.WriteAck(ctx, a); err != nil {
		t.Fatal(err)
	}
	m.connect(t, dlg.InviteResponse.Body(), 0)
	waitText(t, m, "logged")
	if ids := endpoints(t, d, "carol"); len(ids) != 1 {
		t.Fatalf("carol's endpoints: %v", ids)
	}
	bob.msrp.send("message/cpim", cpimBody("sip:bob@example.com", "sip:lobby@example.net", "hello carol"))
	waitText(t, m, "hello carol")
	if err := dlg.Bye(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSessionTimer: Session-Expires below the minimum gets 422 with Min-SE; an accepted one is
// answered with refresher=uac and Require: timer; a refresh keeps the session, and without one
// the focus sends BYE and the participant leaves.
func TestSessionTimer(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.SIP.MinSessionExpires = 3 * time.Second })
	peer := newSIPPeer(t, "alice", "example.com")
	m := newMSRPPeer(t)
	timer := sip.NewHeader("Supported", "timer")
	_, res, _ := peer.inviteAt(t, d.sip.Port(), "lobby", "tcp", m.offer(t, "main"), timer, sip.NewHeader("Session-Expires", "1"))
	if res == nil || res.StatusCode != 422 {
		t.Fatalf("short Session-Expires: %v", res)
	}
	if h := res.GetHeader("Min-SE"); h == nil || h.Value() != "3" {
		t.Fatalf("Min-SE: %v", h)
	}
	dlg, res, err := peer.inviteAt(t, d.sip.Port(), "lobby", "tcp", m.offer(t, "main"), timer, sip.NewHeader("Session-Expires", "3"))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", res, err)
	}
	if h := res.GetHeader("Session-Expires"); h == nil || h.Value() != "3;refresher=uac" {
		t.Fatalf("Session-Expires: %v", h)
	}
	if h := res.GetHeader("Require"); h == nil || h.Value() != "timer" {
		t.Fatalf("Require: %v", h)
	}
	m.connect(t, res.Body(), 0)
	if res, _ := inDialog(t, dlg, sip.UPDATE, nil, timer, sip.NewHeader("Session-Expires", "3")); res.StatusCode != 200 {
		t.Fatalf("refresh: %d", res.StatusCode)
	}
	select {
	case <-peer.byes:
	case <-time.After(20 * time.Second):
		t.Fatal("no BYE after the session expired")
	}
	if ids := endpoints(t, d, "alice"); len(ids) != 0 {
		t.Fatalf("alice still has endpoints: %v", ids)
	}
}

// TestOfferlessInvitePassive: an answer in the ACK saying a=setup:passive makes the focus
// connect to the participant's path.
func TestOfferlessInvitePassive(t *testing.T) {
	d := startTestDaemon(t, nil)
	peer := newSIPPeer(t, "dora", "example.com")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m := newMSRPPeer(t)
	m.Local.Port = ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	target := sip.Uri{Scheme: "sip", User: "lobby", Host: "127.0.0.1", Port: d.sip.Port()}
	from := &sip.FromHeader{Address: peer.aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	dlg, err := peer.dialogUA.Invite(ctx, target, nil, from)
	if err != nil {
		t.Fatal(err)
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	answer, err := sdp.BuildOffer(sdp.AnswerParams{Username: "peer", SessionID: 1, SessionVersion: 1, Address: "127.0.0.1"},
		[]sdp.MediaAnswer{{Port: m.Local.Port, Proto: "TCP/MSRP", Path: []string{m.Local.String()}, Setup: "passive",
			AcceptTypes: []string{"message/cpim"}, AcceptWrappedTypes: []string{"*"}, Chatroom: &sdp.Chatroom{}}})
	if err != nil {
		t.Fatal(err)
	}
	a := sip.NewRequest(sip.ACK, dlg.InviteResponse.Contact().Address)
	a.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	a.SetBody(answer)
	if err := dlg.WriteAck(ctx, a); err != nil {
		t.Fatal(err)
	}
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	m.attach(conn, nil)
	waitText(t, m, "logged")
	if ids := endpoints(t, d, "dora"); len(ids) != 1 {
		t.Fatalf("dora's endpoints: %v", ids)
	}
}

// TestUpdateBeforeAck: an UPDATE that reaches the focus, and is answered, before the ACK of the
// initial INVITE (packets reorder, and sipgo hands each request to its own goroutine) still
// leaves a confirmed dialog once the ACK comes: the focus's BYE goes out at once, not when the
// INVITE transaction times out.
func TestUpdateBeforeAck(t *testing.T) {
	d := startTestDaemon(t, nil)
	raw := dialRawSIP(t, d, "udp")
	call := raw.invite(t, d, "early", "")
	call.send("UPDATE", 2)
	for res := raw.response(); res.CSeq().MethodName != sip.UPDATE; res = raw.response() {
		// retransmissions of the 200 to the INVITE, which is not ACKed yet
	}
	call.send("ACK", 1)
	raw.kickAndAnswerBye(t, d, "xcon-userid:early@example.com")
}
