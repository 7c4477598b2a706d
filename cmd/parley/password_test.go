package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/xcon"
)

// invitePin sends p's INVITE with body to sip:room@127.0.0.1:PORT;transport=tcp, with the pin
// parameter when pin is not "", and returns the dialog and the final response.
func invitePin(t *testing.T, d *daemon, p *sipPeer, room, pin string, body []byte) (*sipgo.DialogClientSession, *sip.Response) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	target := sip.Uri{Scheme: "sip", User: room, Host: "127.0.0.1", Port: d.sip.Port(), UriParams: tcpParams()}
	if pin != "" {
		target.UriParams.Add("pin", pin)
	}
	from := &sip.FromHeader{Address: p.aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	dlg, err := p.dialogUA.Invite(ctx, target, body, from, sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatalf("INVITE: %v", err)
	}
	_, res, _ := answered(t, ctx, dlg)
	if res == nil {
		t.Fatal("INVITE: no final response")
	}
	return dlg, res
}

// warningOf returns the text of a response's Warning header, "" without one.
func warningOf(res *sip.Response) string {
	if h := res.GetHeader("Warning"); h != nil {
		return h.Value()
	}
	return ""
}

// TestSIPConferencePassword: a room with a conference password (RFC 6501 conference-password,
// the one CCMP asks for) takes a SIP join only with that password as the Request-URI's pin
// parameter: without it 403 saying a password is required, with a wrong one 403; with it the
// caller joins and chats, the parameter not hiding the room. The same holds for an INVITE without
// SDP (refused before the 200), a SUBSCRIBE to the conference event package and a REFER outside
// a dialog; a participant inside the room may still REFER, and the focus dials its invitee in.
func TestSIPConferencePassword(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice, dlg, notifies := joinForRefer(t, d) // before the room gets its password
	update(t, d, "lobby", func(c *xcon.Conference) error {
		c.Description.ConfURIs[0].Password = "8601"
		return nil
	})

	bob := newSIPPeer(t, "bob", "example.com")
	_, res := invitePin(t, d, bob, "lobby", "", newMSRPPeer(t).offer(t, "main"))
	if res.StatusCode != 403 || !strings.Contains(warningOf(res), "conference password is required") {
		t.Fatalf("INVITE without the password: %d %q, want 403 saying a password is required", res.StatusCode, warningOf(res))
	}
	_, res = invitePin(t, d, bob, "lobby", "1234", newMSRPPeer(t).offer(t, "main"))
	if res.StatusCode != 403 || !strings.Contains(warningOf(res), "wrong conference password") {
		t.Fatalf("INVITE with a wrong password: %d %q, want 403", res.StatusCode, warningOf(res))
	}
	if code := rawInvite(t, d, "sip:lobby@example.net"); code != 403 {
		t.Fatalf("INVITE without SDP and without the password: %d, want 403", code)
	}
	m := newMSRPPeer(t)
	_, res = invitePin(t, d, bob, "lobby", "8601", m.offer(t, "main"))
	if res.StatusCode != 200 {
		t.Fatalf("INVITE with the password: %d %q", res.StatusCode, warningOf(res))
	}
	m.connect(t, res.Body(), 0)
	m.nextMessage(t) // the logging notice
	body := cpimBody("sip:bob@example.com", "sip:lobby@example.net", "8601 works")
	if r := m.response(t, m.send("message/cpim", body)); r.StatusCode != 200 {
		t.Fatalf("send: %d", r.StatusCode)
	}
	if got := alice.msrp.nextMessage(t); string(got.Body) != string(body) {
		t.Fatalf("alice got %q", got.Body)
	}

	watcher := newSubscriber(t, "carol", "tcp")
	if res := watcher.subscribe(t, d, "lobby", 60); res.StatusCode != 403 {
		t.Fatalf("SUBSCRIBE without the password: %d, want 403", res.StatusCode)
	}
	watcher.pin = "8601"
	if res := watcher.subscribe(t, d, "lobby", 0); res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE with the password: %d", res.StatusCode)
	}

	// A REFER outside the dialog proves no more than an INVITE: it needs the password too.
	refer := sip.NewRequest(sip.REFER, sip.Uri{Scheme: "sip", User: "lobby", Host: "127.0.0.1", Port: d.sip.Port(), UriParams: tcpParams()})
	refer.SetTransport("TCP")
	from := &sip.FromHeader{Address: alice.sip.aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	refer.AppendHeader(from)
	refer.AppendHeader(sip.NewHeader("Refer-To", "<sip:dave@127.0.0.1:9;transport=tcp>"))
	refer.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if res, err := alice.sip.client.Do(ctx, refer); err != nil || res.StatusCode != 403 {
		t.Fatalf("REFER outside the dialog without the password: %v %v, want 403", res, err)
	}

	// Inside her dialog alice was admitted already; the invitee is the focus's guest.
	carol := newInvitee(t, "carol")
	inDialog := sip.NewRequest(sip.REFER, dlg.InviteResponse.Contact().Address)
	inDialog.SetTransport("TCP")
	inDialog.AppendHeader(sip.NewHeader("Refer-To", "<"+carol.uri.String()+">"))
	inDialog.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1"}})
	if res, err := dlg.Do(ctx, inDialog); err != nil || res.StatusCode != 202 {
		t.Fatalf("REFER in the dialog: %v %v", res, err)
	}
	for final := ""; final == ""; {
		select {
		case n := <-notifies:
			if strings.HasPrefix(n.GetHeader("Subscription-State").Value(), "terminated") {
				final = strings.TrimSpace(string(n.Body()))
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no final sipfrag NOTIFY")
		}
		if final != "" && final != "SIP/2.0 200 OK" {
			t.Fatalf("dial-out: %q", final)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for d.focus.Room("lobby").Snapshot().User("xcon-userid:carol@127.0.0.1") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the invitee is not in the room")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
