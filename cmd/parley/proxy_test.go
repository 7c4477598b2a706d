package main

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/sdp"
)

// The focus behind a record-routing proxy: Kamailio with configs/kamailio/proxy.cfg between
// the participants and the daemon.

const proxyAlias = "rooms.example.org" // a host_aliases entry the proxy forwards unchanged

// startSIPProxy runs Kamailio in the foreground as the proxy in front of the focus on
// 127.0.0.1:focusPort, listening on UDP and TCP on one free loopback port, which it returns.
func startSIPProxy(t *testing.T, focusPort int) int {
	t.Helper()
	port := freePort(t)
	startSIPProxyOn(t, port, focusPort)
	return port
}

// startSIPProxyOn is startSIPProxy on a given port.
func startSIPProxyOn(t *testing.T, port, focusPort int) {
	t.Helper()
	hp := "127.0.0.1:" + strconv.Itoa(port)
	startKamailio(t, "proxy.cfg", "rr.so", hp, []string{"udp:" + hp, "tcp:" + hp},
		`FOCUS="sip:127.0.0.1:`+strconv.Itoa(focusPort)+`"`, `ROOMS_DOMAIN="example.net"`, `ROOMS_ALIAS="`+proxyAlias+`"`)
}

// listeningPeer is a softphone with its own UDP and TCP listeners, so that requests routed
// to its Contact (the focus's BYE through the proxy) reach it.
type listeningPeer struct {
	*sipPeer
	port     int
	requests chan *sip.Request // every BYE and OPTIONS received
}

func newListeningPeer(t *testing.T, user, host string) *listeningPeer {
	t.Helper()
	ua, client, srv := newTestUA(t, user, "127.0.0.1")
	p := &listeningPeer{requests: make(chan *sip.Request, 16)}
	answer := func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		p.requests <- req
	}
	srv.OnBye(answer)
	srv.OnOptions(answer)
	p.port = freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(p.port)
	udp, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeUDP(udp)
	go srv.ServeTCP(tcp)
	closeWithDaemon(t, func() { udp.Close(); tcp.Close() })
	aor := sip.Uri{Scheme: "sip", User: user, Host: host}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: p.port}}
	p.sipPeer = &sipPeer{byes: make(chan struct{}, 16), aor: aor, ua: ua, client: client,
		dialogUA: &sipgo.DialogUA{Client: client, ContactHDR: contact}}
	return p
}

// inviteVia sends an INVITE for sip:room@domain to the proxy on 127.0.0.1:proxyPort over
// transport, with extra headers, and returns the dialog (ACKed on 2xx) and the final response.
func (p *listeningPeer) inviteVia(t *testing.T, proxyPort int, room, domain, transport string, body []byte, extra ...sip.Header) (*sipgo.DialogClientSession, *sip.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: room, Host: domain})
	req.SetTransport(strings.ToUpper(transport))
	req.SetDestination("127.0.0.1:" + strconv.Itoa(proxyPort))
	req.SetBody(body)
	contact := sip.Uri{Scheme: "sip", User: p.aor.User, Host: "127.0.0.1", Port: p.port, UriParams: sip.NewParams()}
	if transport != "udp" {
		contact.UriParams.Add("transport", transport)
	}
	from := &sip.FromHeader{Address: p.aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: room, Host: domain}})
	req.AppendHeader(&sip.ContactHeader{Address: contact})
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	for _, h := range extra {
		req.AppendHeader(h)
	}
	dlg, err := p.dialogUA.WriteInvite(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	return answered(t, ctx, dlg)
}

// joinViaProxy joins the logged lobby through the proxy and binds the MSRP session directly
// to the focus's a=path.
func joinViaProxy(t *testing.T, proxyPort int, name, domain, transport string) (*listeningPeer, *participant) {
	t.Helper()
	peer := newListeningPeer(t, name, "example.com")
	p := &participant{name: name, sip: peer.sipPeer, msrp: newMSRPPeer(t)}
	dlg, res, err := peer.inviteVia(t, proxyPort, "lobby", domain, transport, p.msrp.offer(t, "main"))
	if err != nil || res == nil || res.StatusCode != 200 {
		t.Fatalf("%s INVITE through the proxy over %s: %v %v", name, transport, res, err)
	}
	if c := res.Contact(); c == nil || !c.Params.Has("isfocus") {
		t.Fatalf("%s: 200 Contact lacks isfocus: %v", name, res.Contact())
	}
	if rr := res.GetHeaders("Record-Route"); len(rr) == 0 || !strings.Contains(rr[0].Value(), ":"+strconv.Itoa(proxyPort)) {
		t.Fatalf("%s: 200 does not record-route the proxy: %v", name, rr)
	}
	p.msrp.connect(t, res.Body(), 0)
	p.dlg = dlg
	if n := p.msrp.nextMessage(t); !bytes.Contains(n.Body, []byte("logged")) {
		t.Fatalf("%s: first message is not the logging notice: %q", name, n.Body)
	}
	return peer, p
}

// TestProxyJoinMessageBye: participants join through Kamailio (one by the rooms' domain, one
// by a host alias), exchange a message over MSRP straight to the focus, one leaves with a BYE
// through the proxy, and the focus's BYE to the other (a kick) follows the record-routed route
// set through the proxy, over UDP and over TCP.
func TestProxyJoinMessageBye(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			d := startTestDaemon(t, func(c *configs.Config) { c.HostAliases = []string{proxyAlias} })
			proxy := startSIPProxy(t, d.sip.Port())

			_, alice := joinViaProxy(t, proxy, "alice", "example.net", transport)
			bobPeer, bob := joinViaProxy(t, proxy, "bob", proxyAlias, transport)
			// alice sees bob arrive; drain the roster notice, if any, before the real message.
			body := cpimBody("sip:alice@example.com", "sip:lobby@example.net", "hello through a proxy")
			alice.msrp.send("message/cpim", body)
			for {
				m := bob.msrp.nextMessage(t)
				if bytes.Equal(m.Body, body) {
					break
				}
				if !roomNotice(m.Body) {
					t.Fatalf("bob: unexpected message %q", m.Body)
				}
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := alice.dlg.Bye(ctx); err != nil {
				t.Fatalf("alice BYE through the proxy: %v", err)
			}
			if d.focus.Room("lobby").Snapshot().User("xcon-userid:alice@example.com") != nil {
				t.Fatal("alice still listed after her BYE")
			}

			if err := d.focus.Kick(ctx, "lobby", "xcon-userid:bob@example.com", false); err != nil {
				t.Fatal(err)
			}
			select {
			case req := <-bobPeer.requests:
				if req.Method != sip.BYE {
					t.Fatalf("bob got %s, want BYE", req.Method)
				}
				// The proxy's Via on top, the focus's below: the BYE took the route set.
				vias := req.GetHeaders("Via")
				if len(vias) < 2 || !strings.Contains(vias[0].Value(), ":"+strconv.Itoa(proxy)) ||
					!strings.Contains(vias[len(vias)-1].Value(), ":"+strconv.Itoa(d.sip.Port())) {
					t.Fatalf("focus BYE did not come through the proxy; Via: %v", vias)
				}
				if !strings.EqualFold(req.Transport(), transport) {
					t.Fatalf("focus BYE arrived over %s, want %s", req.Transport(), transport)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("no BYE from the focus through the proxy")
			}
			if n := len(d.focus.Room("lobby").Participants()); n != 0 {
				t.Fatalf("%d participants left", n)
			}
		})
	}
}

// TestProxyOutbound: a request the focus originates outside dialogs goes through
// sip.outbound_proxy (a preloaded Route), which relays it to the Request-URI.
func TestProxyOutbound(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			proxyPort := freePort(t)
			d := startTestDaemon(t, func(c *configs.Config) {
				c.SIP.OutboundProxy = "sip:127.0.0.1:" + strconv.Itoa(proxyPort) + ";transport=" + transport
			})
			// The proxy's port was chosen before the daemon; start it on that port.
			startSIPProxyOn(t, proxyPort, d.sip.Port())
			peer := newListeningPeer(t, "carol", "example.com")
			target := sip.Uri{Scheme: "sip", User: "carol", Host: "127.0.0.1", Port: peer.port, UriParams: sip.NewParams()}
			target.UriParams.Add("transport", transport)
			req := sip.NewRequest(sip.OPTIONS, target)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := d.sip.Do(ctx, req)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("OPTIONS through the outbound proxy: %v %v", res, err)
			}
			got := <-peer.requests
			if vias := got.GetHeaders("Via"); len(vias) != 2 || !strings.Contains(vias[0].Value(), ":"+strconv.Itoa(proxyPort)) {
				t.Fatalf("OPTIONS did not come through the outbound proxy; Via: %v", vias)
			}
		})
	}
}

// TestAliasRequestURI: a Request-URI naming the focus by a host alias reaches the room; an
// unknown host does not.
func TestAliasRequestURI(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.HostAliases = []string{"chat.example.org"} })
	peer := newSIPPeer(t, "dora", "example.com")
	m := newMSRPPeer(t)
	for _, c := range []struct {
		host string
		want int
	}{{"chat.example.org", 200}, {"CHAT.example.org", 200}, {"elsewhere.example.org", 404}} {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "lobby", Host: c.host})
		req.SetDestination("127.0.0.1:" + strconv.Itoa(d.sip.Port()))
		req.SetBody(m.offer(t, "main"))
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		dlg, err := peer.dialogUA.WriteInvite(ctx, req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{})
		res := dlg.InviteResponse
		if c.want == 200 {
			if err != nil || res == nil || res.StatusCode != 200 {
				t.Fatalf("%s: %v %v", c.host, res, err)
			}
			if ans, err := sdp.Parse(res.Body()); err != nil || len(ans.Media) != 1 {
				t.Fatalf("%s: answer %v", c.host, err)
			}
			_ = dlg.Ack(ctx)
			_ = dlg.Bye(ctx)
		} else if res == nil || res.StatusCode != c.want {
			t.Fatalf("%s: got %v (%v), want %d", c.host, res, err, c.want)
		}
		cancel()
	}
}

// TestStrictRouterInRouteSet (RFC 3261 §12.2.1.1): when the first hop of the route set is a
// strict router (its Record-Route URI has no lr), the focus's in-dialog requests put the router's
// URI in the Request-URI and the remote target last in Route. A raw UDP socket plays both the
// RFC 2543 proxy and the user agent behind it.
func TestStrictRouterInRouteSet(t *testing.T) {
	d := startTestDaemon(t, nil)
	raw := dialRawSIP(t, d, "udp")
	me := raw.conn.LocalAddr().String()
	call := raw.invite(t, d, "strict", ";ua", "Record-Route: <sip:"+me+">")
	call.send("ACK", 1)
	bye := raw.kickAndAnswerBye(t, d, "xcon-userid:strict@example.com")
	routes := bye.GetHeaders("Route")
	if bye.Recipient.String() != "sip:"+me || len(routes) != 1 || routes[0].Value() != "<sip:strict@"+me+";ua>" {
		t.Fatalf("BYE through a strict router:\n%s", bye)
	}
}
