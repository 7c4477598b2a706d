package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/internal/peers"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/confinfo"
)

// subscriber is a conference-event subscriber on sipgo: it sends SUBSCRIBEs, answers every
// NOTIFY with 200 and keeps the roster the NOTIFYs describe, as a chat client would.
type subscriber struct {
	name, transport string
	pin             string // the room's conference password, as the Request-URI's pin parameter
	client          *sipgo.Client
	notifies        chan *sip.Request

	// The subscription dialog, once the first 200 came.
	callID, fromTag, toTag string
	cseq                   uint32
	target                 sip.Uri // the focus's Contact

	roster *xcon.Conference // the local state, NOTIFYs applied (RFC 4575 §4.6)
}

func newSubscriber(t *testing.T, name, transport string) *subscriber {
	t.Helper()
	_, client, srv := newTestUA(t, name, "127.0.0.1")
	s := &subscriber{name: name, transport: transport, client: client, notifies: make(chan *sip.Request, 1024),
		callID: sip.GenerateTagN(16), fromTag: sip.GenerateTagN(10)}
	srv.OnNotify(func(req *sip.Request, tx sip.ServerTransaction) {
		s.notifies <- req // before the 200, which lets the focus send the next
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	return s
}

// subscribe sends a SUBSCRIBE for room (in the dialog once there is one) with the given
// Expires (-1: none) and extra headers, and returns the final response.
func (s *subscriber) subscribe(t *testing.T, d *daemon, room string, expires int, hdrs ...sip.Header) *sip.Response {
	t.Helper()
	target := sip.Uri{Scheme: "sip", User: room, Host: "127.0.0.1", Port: d.sip.Port(), UriParams: sip.NewParams()}
	if s.pin != "" {
		target.UriParams.Add("pin", s.pin)
	}
	if s.toTag != "" {
		target = *s.target.Clone()
	}
	req := sip.NewRequest(sip.SUBSCRIBE, target)
	if s.transport != "udp" {
		req.SetTransport(s.transport)
	}
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: s.name, Host: "example.com"}, Params: sip.NewParams()}
	from.Params.Add("tag", s.fromTag)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: room, Host: "example.net"}, Params: sip.NewParams()}
	if s.toTag != "" {
		to.Params.Add("tag", s.toTag)
	}
	s.cseq++
	callID := sip.CallIDHeader(s.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: s.cseq, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: s.name, Host: "127.0.0.1"}})
	req.AppendHeader(sip.NewHeader("Accept", confinfo.ContentType))
	if !hasHeader(hdrs, "Event") {
		req.AppendHeader(sip.NewHeader("Event", "conference"))
	}
	if expires >= 0 {
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	}
	for _, h := range hdrs {
		req.AppendHeader(h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.client.Do(ctx, req)
	if err != nil {
		t.Fatalf("%s SUBSCRIBE: %v", s.name, err)
	}
	if res.IsSuccess() && s.toTag == "" {
		tag, _ := res.To().Params.Get("tag")
		if tag == "" || res.Contact() == nil {
			t.Fatalf("200 to SUBSCRIBE without To-tag or Contact:\n%s", res)
		}
		s.toTag, s.target = tag, *res.Contact().Address.Clone()
	}
	return res
}

func hasHeader(hdrs []sip.Header, name string) bool {
	for _, h := range hdrs {
		if strings.EqualFold(h.Name(), name) {
			return true
		}
	}
	return false
}

// notification is one NOTIFY as received and checked.
type notification struct {
	state string // Subscription-State
	doc   *xcon.Conference
	body  string
}

// next waits for the next NOTIFY, checks its headers and validates its body against the RFC
// schemas, applies it to the local roster, and returns it.
func (s *subscriber) next(t *testing.T, xmllint string) notification {
	t.Helper()
	var req *sip.Request
	select {
	case req = <-s.notifies:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no NOTIFY", s.name)
	}
	if ev := req.GetHeader("Event"); ev == nil || ev.Value() != "conference" {
		t.Fatalf("NOTIFY Event: %v", ev)
	}
	if ct := req.ContentType(); ct == nil || ct.Value() != confinfo.ContentType {
		t.Fatalf("NOTIFY Content-Type: %v", ct)
	}
	if tag, _ := req.From().Params.Get("tag"); tag != s.toTag || req.CallID().Value() != s.callID {
		t.Fatalf("NOTIFY outside the subscription dialog: From-tag %q Call-ID %q", tag, req.CallID().Value())
	}
	if tag, _ := req.To().Params.Get("tag"); tag != s.fromTag {
		t.Fatalf("NOTIFY To-tag %q, want %q", tag, s.fromTag)
	}
	st := req.GetHeader("Subscription-State")
	if st == nil {
		t.Fatal("NOTIFY without Subscription-State")
	}
	validateConfInfo(t, xmllint, req.Body())
	doc, err := confinfo.Unmarshal(req.Body())
	if err != nil {
		t.Fatalf("NOTIFY body: %v\n%s", err, req.Body())
	}
	if doc.Entity != "sip:lobby@example.net" && !strings.HasPrefix(doc.Entity, "sip:") {
		t.Fatalf("document entity %q is not the room's SIP URI", doc.Entity)
	}
	if s.roster, err = confinfo.Apply(s.roster, doc); err != nil {
		t.Fatalf("applying version %d: %v\n%s", doc.Version, err, req.Body())
	}
	return notification{state: st.Value(), doc: doc, body: string(req.Body())}
}

// validateConfInfo checks a NOTIFY body against RFC 4575's schema as extended by RFC 6501.
func validateConfInfo(t *testing.T, xmllint string, body []byte) {
	t.Helper()
	peers.ValidateWith(t, xmllint, peers.ConfInfoSchema, body)
}

// rosterUser returns the local roster's user with the AOR, or nil.
func (s *subscriber) rosterUser(aor string) *xcon.User {
	for _, u := range s.roster.Users {
		for _, a := range u.AssociatedAORs {
			if a == aor {
				return u
			}
		}
	}
	return nil
}

func nickname(t *testing.T, p *participant, nick string) {
	t.Helper()
	tid := p.msrp.write(&msrp.Message{Method: "NICKNAME", Headers: []msrp.Header{{Name: "Use-Nickname", Value: strconv.Quote(nick)}}})
	if r := p.msrp.response(t, tid); r.StatusCode != 200 {
		t.Fatalf("%s NICKNAME %q: %d", p.name, nick, r.StatusCode)
	}
}

// TestSubscribeConferenceEvents is the conference event package end to end over UDP and TCP:
// a full NOTIFY listing who is present with AOR and nickname, partial NOTIFYs on join,
// nickname and leave, versions counted per subscription, refresh and unsubscribe; every body
// validates against the RFC schemas, and the roster the subscriber builds from the partials
// is the room's.
func TestSubscribeConferenceEvents(t *testing.T) {
	xmllint := peers.Xmllint(t)
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			d := startTestDaemon(t, nil)
			alice := joinLobby(t, d, "alice", "tcp")
			nickname(t, alice, "White Rabbit")
			carol := joinLobby(t, d, "carol", "udp")
			dave := joinLobby(t, d, "dave", "tcp")
			nickname(t, dave, "Dormouse")

			w := newSubscriber(t, "watcher", transport)
			res := w.subscribe(t, d, "lobby", 600)
			if res.StatusCode != 200 {
				t.Fatalf("SUBSCRIBE: %d %s", res.StatusCode, res.Reason)
			}
			if e := res.GetHeader("Expires"); e == nil || e.Value() != "600" {
				t.Fatalf("200 Expires: %v", e)
			}
			n := w.next(t, xmllint)
			if !strings.HasPrefix(n.state, "active;expires=") || n.doc.NotifyState != "full" || n.doc.Version != 1 {
				t.Fatalf("first NOTIFY: %s, state %q version %d", n.state, n.doc.NotifyState, n.doc.Version)
			}
			if n.doc.Entity != "sip:lobby@example.net" {
				t.Fatalf("entity %q, want the room's SIP URI", n.doc.Entity)
			}
			if transport == "udp" && len(n.body) <= 1300 {
				t.Fatalf("the full NOTIFY was meant to exceed sipgo's default UDP limit; it has %d bytes", len(n.body))
			}
			if len(w.roster.Users) != 3 || w.roster.State.UserCount == nil || *w.roster.State.UserCount != 3 {
				t.Fatalf("full state lists %d users (user-count %v), want 3", len(w.roster.Users), w.roster.State.UserCount)
			}
			a := w.rosterUser("sip:alice@example.com")
			if a == nil || a.Nickname != "White Rabbit" || a.Entity != "xcon-userid:alice@example.com" ||
				len(a.Endpoints) != 1 || a.Endpoints[0].Nickname != "White Rabbit" || a.Endpoints[0].Status != "connected" {
				t.Fatalf("alice in the full NOTIFY: %+v\n%s", a, n.body)
			}
			if conf := d.focus.Room("lobby").Snapshot(); a.Endpoints[0].Entity != conf.User(a.Entity).Endpoints[0].Entity {
				t.Fatal("endpoint entity is not alice's chat-ID")
			}

			// Join: a partial with only bob, not held back.
			bob := joinLobby(t, d, "bob", "udp")
			n = w.next(t, xmllint)
			if n.doc.NotifyState != "partial" || n.doc.Version != 2 || len(n.doc.Users) != 1 ||
				n.doc.Users[0].Entity != "xcon-userid:bob@example.com" || n.doc.Users[0].NotifyState != "full" {
				t.Fatalf("NOTIFY after bob joined:\n%s", n.body)
			}
			// Nickname: bob again, with his new name.
			nickname(t, bob, "Cheshire Cat")
			n = w.next(t, xmllint)
			if n.doc.NotifyState != "partial" || n.doc.Version != 3 || len(n.doc.Users) != 1 || n.doc.Users[0].Nickname != "Cheshire Cat" {
				t.Fatalf("NOTIFY after bob's NICKNAME:\n%s", n.body)
			}
			if u := w.rosterUser("sip:bob@example.com"); u == nil || u.Nickname != "Cheshire Cat" {
				t.Fatalf("bob in the roster: %+v", u)
			}
			// Leave: bob deleted.
			if err := bob.dlg.Bye(context.Background()); err != nil {
				t.Fatal(err)
			}
			n = w.next(t, xmllint)
			if n.doc.NotifyState != "partial" || n.doc.Version != 4 || len(n.doc.Users) != 1 ||
				n.doc.Users[0].Entity != "xcon-userid:bob@example.com" || n.doc.Users[0].NotifyState != "deleted" {
				t.Fatalf("NOTIFY after bob left:\n%s", n.body)
			}
			// The roster built from full + partials is the room's.
			if got, want := len(w.roster.Users), 3; got != want || w.rosterUser("sip:bob@example.com") != nil {
				t.Fatalf("roster after the partials: %d users", got)
			}
			want := confinfo.View(d.focus.Room("lobby").Snapshot(), "sip:lobby@example.net", confinfo.Options{})
			for _, u := range want.Users {
				if r := w.rosterUser(u.AssociatedAORs[0]); r == nil || r.Nickname != u.Nickname || len(r.Endpoints) != len(u.Endpoints) {
					t.Fatalf("roster user %s: %+v, room has %+v", u.Entity, r, u)
				}
			}

			// Coalescing: carol's leave waits for more changes; dave's nickname, which is urgent,
			// goes at once and takes the leave along in the same partial.
			if err := carol.dlg.Bye(context.Background()); err != nil {
				t.Fatal(err)
			}
			nickname(t, dave, "Hatter")
			n = w.next(t, xmllint)
			if n.doc.NotifyState != "partial" || n.doc.Version != 5 || len(n.doc.Users) != 2 {
				t.Fatalf("NOTIFY after carol left and dave renamed himself, want both in one partial:\n%s", n.body)
			}
			if w.rosterUser("sip:carol@example.com") != nil || w.rosterUser("sip:dave@example.com").Nickname != "Hatter" {
				t.Fatalf("roster after the coalesced partial: %d users", len(w.roster.Users))
			}

			// Refresh: 200 and a full NOTIFY with the next version.
			if res := w.subscribe(t, d, "lobby", 300); res.StatusCode != 200 {
				t.Fatalf("refresh: %d", res.StatusCode)
			}
			n = w.next(t, xmllint)
			if !strings.HasPrefix(n.state, "active;expires=") || n.doc.NotifyState != "full" || n.doc.Version != 6 {
				t.Fatalf("NOTIFY after refresh: %s state %q version %d", n.state, n.doc.NotifyState, n.doc.Version)
			}
			if exp, _ := strconv.Atoi(strings.TrimPrefix(n.state, "active;expires=")); exp <= 0 || exp > 300 {
				t.Fatalf("refreshed expiry %d", exp)
			}
			// Unsubscribe: 200, a final NOTIFY, and the dialog is gone.
			if res := w.subscribe(t, d, "lobby", 0); res.StatusCode != 200 {
				t.Fatalf("unsubscribe: %d", res.StatusCode)
			}
			n = w.next(t, xmllint)
			if n.state != "terminated;reason=timeout" || n.doc.Version != 7 {
				t.Fatalf("final NOTIFY: %s version %d", n.state, n.doc.Version)
			}
			nickname(t, dave, "March Hare") // no NOTIFY may follow the end
			select {
			case req := <-w.notifies:
				t.Fatalf("NOTIFY after unsubscribe:\n%s", req)
			default:
			}
		})
	}
}

// TestSubscribeRefusals: unknown event package 489, unknown room 404, too short 423 with
// Min-Expires, a barred user 403, an unknown dialog 481; and a deleted room ends its
// subscriptions with noresource.
func TestSubscribeRefusals(t *testing.T) {
	xmllint := peers.Xmllint(t)
	d := startTestDaemon(t, nil)
	if _, err := d.focus.UpdateRoom(context.Background(), "lobby", func(c *xcon.Conference) error {
		c.DenyUsers = append(c.DenyUsers, xcon.Target{URI: "sip:mallory@example.com"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	w := newSubscriber(t, "watcher", "udp")
	if res := w.subscribe(t, d, "lobby", 600, sip.NewHeader("Event", "presence")); res.StatusCode != 489 ||
		res.GetHeader("Allow-Events") == nil || res.GetHeader("Allow-Events").Value() != "conference" {
		t.Fatalf("unknown package: %d, Allow-Events %v", res.StatusCode, res.GetHeader("Allow-Events"))
	}
	if res := w.subscribe(t, d, "nowhere", 600); res.StatusCode != 404 {
		t.Fatalf("unknown room: %d", res.StatusCode)
	}
	if res := w.subscribe(t, d, "lobby", 5); res.StatusCode != 423 || res.GetHeader("Min-Expires") == nil {
		t.Fatalf("short expiry: %d, Min-Expires %v", res.StatusCode, res.GetHeader("Min-Expires"))
	}
	if res := newSubscriber(t, "mallory", "tcp").subscribe(t, d, "lobby", 600); res.StatusCode != 403 {
		t.Fatalf("barred user: %d", res.StatusCode)
	}
	stray := newSubscriber(t, "stray", "udp")
	stray.toTag, stray.target = "no-such-dialog", sip.Uri{Scheme: "sip", User: "lobby", Host: "127.0.0.1", Port: d.sip.Port()}
	if res := stray.subscribe(t, d, "lobby", 600); res.StatusCode != 481 {
		t.Fatalf("SUBSCRIBE in an unknown dialog: %d", res.StatusCode)
	}

	// Above the maximum, the 200 shortens the expiry; then the room is deleted.
	res := w.subscribe(t, d, "lobby", 999999)
	if res.StatusCode != 200 || res.GetHeader("Expires").Value() != "3600" {
		t.Fatalf("long expiry: %d, Expires %v", res.StatusCode, res.GetHeader("Expires"))
	}
	if n := w.next(t, xmllint); n.doc.NotifyState != "full" || len(n.doc.Users) != 0 {
		t.Fatalf("full NOTIFY of an empty room:\n%s", n.body)
	}
	if err := d.focus.DeleteRoom(context.Background(), "lobby"); err != nil {
		t.Fatal(err)
	}
	n := w.next(t, xmllint)
	if n.state != "terminated;reason=noresource" || n.doc.NotifyState != "deleted" || n.doc.Version != 2 {
		t.Fatalf("NOTIFY after the room was deleted: %s\n%s", n.state, n.body)
	}
	if res := w.subscribe(t, d, "lobby", 600); res.StatusCode != 481 {
		t.Fatalf("refresh after noresource: %d", res.StatusCode)
	}
}

// TestSubscribeInInviteDialog: a participant may subscribe inside its INVITE dialog (RFC 6665
// §4.5.2); NOTIFYs come in that dialog.
func TestSubscribeInInviteDialog(t *testing.T) {
	xmllint := peers.Xmllint(t)
	d := startTestDaemon(t, nil)
	alice := joinLobby(t, d, "alice", "tcp")
	dlg := alice.dlg.(*sipgo.DialogClientSession)
	notifies := make(chan *sip.Request, 1024)
	srv, err := sipgo.NewServer(alice.sip.ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnNotify(func(req *sip.Request, tx sip.ServerTransaction) {
		notifies <- req // before the 200, which lets the focus send the next
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	req := sip.NewRequest(sip.SUBSCRIBE, dlg.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Event", "conference"))
	req.AppendHeader(sip.NewHeader("Expires", "600"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := dlg.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("in-dialog SUBSCRIBE: %v %v", res, err)
	}
	select {
	case n := <-notifies:
		validateConfInfo(t, xmllint, n.Body())
		if n.CallID().Value() != dlg.InviteRequest.CallID().Value() || !strings.Contains(string(n.Body()), "sip:alice@example.com") {
			t.Fatalf("NOTIFY in the INVITE dialog:\n%s", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no NOTIFY in the INVITE dialog")
	}
}

// TestSIPpSubscribe drives the event package with sipp over UDP and TCP: SUBSCRIBE, the full
// NOTIFY answered, unsubscribe, the final NOTIFY answered (testdata/sipp/subscribe.xml).
func TestSIPpSubscribe(t *testing.T) {
	sipp := peers.Sipp(t)
	d := startTestDaemon(t, nil)
	for _, transport := range []string{"u1", "t1"} {
		t.Run(transport, func(t *testing.T) {
			runSIPp(t, sipp, d, "subscribe.xml", transport)
		})
	}
}
