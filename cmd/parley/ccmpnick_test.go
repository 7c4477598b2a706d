package main

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/confinfo"
)

// waitRoster reads the subscriber's NOTIFYs, applied to its roster, until ok holds for it.
func (s *subscriber) waitRoster(t *testing.T, what string, ok func(*xcon.Conference) bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for s.roster == nil || !ok(s.roster) {
		select {
		case req := <-s.notifies:
			doc, err := confinfo.Unmarshal(req.Body())
			if err != nil {
				t.Fatalf("NOTIFY body: %v\n%s", err, req.Body())
			}
			if s.roster, err = confinfo.Apply(s.roster, doc); err != nil {
				t.Fatalf("applying version %d: %v\n%s", doc.Version, err, req.Body())
			}
		case <-deadline:
			t.Fatalf("%s: no NOTIFY shows %s", s.name, what)
		}
	}
}

// endpointNick returns the nickname of the first endpoint of the user with aor in c.
func endpointNick(c *xcon.Conference, aor string) string {
	for _, u := range c.Users {
		for _, a := range u.AssociatedAORs {
			if a == aor && len(u.Endpoints) > 0 {
				return u.Endpoints[0].Nickname
			}
		}
	}
	return ""
}

// bindingNick returns the nickname of userID's binding row in room.
func bindingNick(t *testing.T, d *daemon, room, userID string) string {
	t.Helper()
	if err := d.focus.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := d.store.Bindings(context.Background(), room)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range rows {
		if b.UserID == userID {
			return b.Nickname
		}
	}
	t.Fatalf("no binding row of %s in %s", userID, room)
	return ""
}

// TestCCMPNicknameReachesChatSessions: a nickname set over CCMP for a connected user is the
// nickname of his chat session (session-chat §5.1): on his endpoint, in the binding rows, in the log
// and in the conference event NOTIFY, and it is stored. A preferred nickname that is taken
// gets another one allocated unless the request asks for the exact name (then 409); a
// provisioned user's nickname goes with him into the room.
func TestCCMPNicknameReachesChatSessions(t *testing.T) {
	d := startTestDaemon(t, nil)
	c := ccmpClient(d)
	ctx := context.Background()
	const aliceID, bobID, carolID = "xcon-userid:alice@example.com", "xcon-userid:bob@example.com", "xcon-userid:carol@example.com"
	alice := joinLobby(t, d, "alice", "tcp")
	bob := joinLobby(t, d, "bob", "tcp")
	w := newSubscriber(t, "watcher", "tcp")
	if res := w.subscribe(t, d, "lobby", 600); res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %d", res.StatusCode)
	}
	w.waitRoster(t, "alice and bob", func(c *xcon.Conference) bool { return len(c.Users) == 2 })

	if got, err := c.Nick(ctx, "lobby", aliceID, "Alice"); err != nil || got != "Alice" {
		t.Fatalf("nick: %q %v", got, err)
	}
	u := d.focus.Room("lobby").Snapshot().User(aliceID)
	if u == nil || u.Nickname != "Alice" || len(u.Endpoints) != 1 || u.Endpoints[0].Nickname != "Alice" {
		t.Fatalf("alice's row: %+v", u)
	}
	if got := bindingNick(t, d, "lobby", aliceID); got != "Alice" {
		t.Fatalf("alice's binding row has nickname %q", got)
	}
	w.waitRoster(t, "alice's endpoint nickname", func(c *xcon.Conference) bool {
		return endpointNick(c, "sip:alice@example.com") == "Alice"
	})
	stored, err := d.store.Conference(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	if s := stored.User(aliceID); s == nil || s.Nickname != "Alice" {
		t.Fatalf("alice's nickname is not stored: %+v", s)
	}

	// What she says is logged under that nickname.
	body := cpimBody("sip:alice@example.com", "sip:lobby@example.net", "hello as Alice")
	if r := alice.msrp.response(t, alice.msrp.send("message/cpim", body)); r.StatusCode != 200 {
		t.Fatalf("send: %d", r.StatusCode)
	}
	if got := bob.msrp.nextMessage(t); !bytes.Equal(got.Body, body) {
		t.Fatalf("bob received %q", got.Body)
	}
	entries, err := c.History(ctx, "lobby", ccmp.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 || entries[len(entries)-1].Sender != aliceID || entries[len(entries)-1].Nickname != "Alice" {
		t.Fatalf("log: %+v", entries)
	}

	// Taken: another nickname is allocated, unless the exact one is required.
	var re *ccmp.ResponseError
	if _, err := c.NickExact(ctx, "lobby", bobID, "alice"); !errors.As(err, &re) || re.Code != 409 {
		t.Fatalf("exact taken nickname: %v, want CCMP 409", err)
	}
	got, err := c.Nick(ctx, "lobby", bobID, "alice")
	if err != nil || got == "" || sameNick(got, "Alice") {
		t.Fatalf("taken nickname: allocated %q %v, want another one", got, err)
	}
	if e := d.focus.Room("lobby").Snapshot().User(bobID).Endpoints[0]; e.Nickname != got {
		t.Fatalf("bob's endpoint nickname %q, want %q", e.Nickname, got)
	}
	w.waitRoster(t, "bob's endpoint nickname", func(c *xcon.Conference) bool {
		return endpointNick(c, "sip:bob@example.com") == got
	})

	// Provisioned with a nickname, then dialling in: the chat session takes it.
	provision(t, c, "lobby", carolID, "Caz")
	joinLobby(t, d, "carol", "udp")
	if u := d.focus.Room("lobby").Snapshot().User(carolID); len(u.Endpoints) != 1 || u.Endpoints[0].Nickname != "Caz" {
		t.Fatalf("carol's row after joining: %+v", u)
	}
	if got := bindingNick(t, d, "lobby", carolID); got != "Caz" {
		t.Fatalf("carol's binding row has nickname %q", got)
	}
	tid := bob.msrp.write(nicknameRequest("Caz"))
	if r := bob.msrp.response(t, tid); r.StatusCode != 425 {
		t.Fatalf("bob takes carol's nickname: %d, want 425", r.StatusCode)
	}
}

func sameNick(a, b string) bool {
	return bytes.EqualFold([]byte(a), []byte(b))
}
