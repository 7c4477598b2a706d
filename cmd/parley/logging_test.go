package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/internal/peers"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/confinfo"
)

// TestLoggingSwitchedMidSession (session-chat §5.2): logging switched on over CCMP while people are in
// the room tells each of them with the room's notice, before anything said afterwards; the
// conference event package shows the room's logged state in conference-state (valid against
// RFC 4575's schema and RFC 6501's), and a joiner's CCMP userResponse carries it. Switched off
// again, everyone present is told that too.
func TestLoggingSwitchedMidSession(t *testing.T) {
	xmllint := peers.Xmllint(t)
	d := startTestDaemon(t, withRoom("quiet"))
	c := ccmpClient(d)
	p := newCCMPPeer(t, d)
	ctx := context.Background()

	watcher := newSubscriber(t, "watcher", "tcp")
	if res := watcher.subscribe(t, d, "quiet", 600); !res.IsSuccess() {
		t.Fatalf("SUBSCRIBE: %d", res.StatusCode)
	}
	if n := watcher.next(t, xmllint); !loggedIs(t, xmllint, n, false) {
		t.Fatalf("full state of an unlogged room does not say so:\n%s", n.body)
	}
	alice := joinRoom(t, d, "quiet", "alice", "tcp", false)
	bob := joinRoom(t, d, "quiet", "bob", "tcp", false)

	setLogging := func(on bool) {
		t.Helper()
		v := "false"
		if on {
			v = "true"
		}
		delta := etreeDelta(t, `<confInfo xmlns:p="urn:parleychat:params:xml:ns:room-policy"><p:room-policy logging="`+v+`" history="5"/></confInfo>`)
		if _, err := c.UpdateRoom(ctx, "quiet", delta); err != nil {
			t.Fatal(err)
		}
	}
	setLogging(true)
	for _, who := range []*participant{alice, bob} {
		n := who.msrp.nextMessage(t)
		if !bytes.Contains(n.Body, []byte("From: <sip:quiet@example.net>")) || !bytes.Contains(n.Body, []byte("is logged")) {
			t.Fatalf("%s: first message after logging was switched on is not the room's notice: %q", who.name, n.Body)
		}
	}
	awaitLogged(t, watcher, xmllint, true)

	// Said after the switch: logged, so the next joiner has it in its history.
	said := cpimBody("sip:alice@example.com", "sip:quiet@example.net", "now on the record")
	if r := alice.msrp.response(t, alice.msrp.send("message/cpim", said)); r.StatusCode != 200 {
		t.Fatalf("send: %d", r.StatusCode)
	}
	if got := bob.msrp.nextMessage(t); !bytes.Equal(got.Body, said) {
		t.Fatalf("bob got %q", got.Body)
	}
	carol := joinRoom(t, d, "quiet", "carol", "tcp", true)
	if got := carol.msrp.nextMessage(t); !bytes.Equal(got.Body, said) {
		t.Fatalf("carol's history: %q", got.Body)
	}

	r := p.do(&ccmp.Request{Type: ccmp.TypeUser, Operation: ccmp.OpCreate, ConfObjID: "xcon:quiet@example.net",
		ConfUserID: "xcon-userid:dave@example.com", HasBody: true})
	if r.Code != 200 {
		t.Fatalf("dave's CCMP join: %d %s", r.Code, r.Reason)
	}
	if logged, ok := responseLogged(r); !ok || !logged {
		t.Fatalf("dave's userResponse does not say the room is logged: %+v", r.Extensions)
	}

	setLogging(false)
	for _, who := range []*participant{alice, bob, carol} {
		if n := who.msrp.nextMessage(t); !bytes.Contains(n.Body, []byte("no longer logged")) {
			t.Fatalf("%s: after logging was switched off got %q", who.name, n.Body)
		}
	}
	awaitLogged(t, watcher, xmllint, false)
	r = p.do(&ccmp.Request{Type: ccmp.TypeUser, Operation: ccmp.OpCreate, ConfObjID: "xcon:quiet@example.net",
		ConfUserID: "xcon-userid:erin@example.com", HasBody: true})
	if logged, ok := responseLogged(r); r.Code != 200 || !ok || logged {
		t.Fatalf("erin's userResponse: %d %+v", r.Code, r.Extensions)
	}
}

// loggedIs checks that a NOTIFY states the logged state want, and validates it against RFC
// 4575's own schema too (next validated it against RFC 6501's).
func loggedIs(t *testing.T, xmllint string, n notification, want bool) bool {
	t.Helper()
	peers.ValidateWith(t, xmllint, "conference-info.xsd", []byte(n.body)) // RFC 4575
	logged, ok := confinfo.Logged(n.doc)
	return ok && logged == want
}

// awaitLogged reads NOTIFYs (joins and leaves come first) until one states the logged state
// want, and checks the subscriber's roster says so too.
func awaitLogged(t *testing.T, s *subscriber, xmllint string, want bool) {
	t.Helper()
	for i := 0; i < 20; i++ {
		if n := s.next(t, xmllint); loggedIs(t, xmllint, n, want) {
			if logged, _ := confinfo.Logged(s.roster); logged != want {
				t.Fatalf("the subscriber's roster says logged=%v", logged)
			}
			return
		}
	}
	t.Fatalf("no NOTIFY stated logged=%v", want)
}

// responseLogged reads the logged state from a userResponse's extensions.
func responseLogged(r *ccmp.Response) (logged, ok bool) {
	for _, e := range r.Extensions {
		if e.Tag == "logging" && e.NamespaceURI() == xcon.NSParley {
			return strings.TrimSpace(e.Text()) == "true", true
		}
	}
	return false, false
}
