package main

import (
	"testing"

	"github.com/parleychat/parley/msrp"
)

// TestNicknames drives NICKNAME (RFC 7701 §7) over the wire: PRECIS-equal names (case,
// fullwidth letters, spacing) conflict across users, a user may reuse its own name, reserved
// and malformed names are refused, and the chosen name lands on the endpoint row.
func TestNicknames(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinLobby(t, d, "alice", "tcp")
	bob := joinLobby(t, d, "bob", "udp")

	nick := func(p *participant, value string, present bool) int {
		t.Helper()
		m := &msrp.Message{Method: "NICKNAME"}
		if present {
			m.Headers = []msrp.Header{{Name: "Use-Nickname", Value: value}}
		}
		tid := p.msrp.write(m)
		return p.msrp.response(t, tid).StatusCode
	}
	steps := []struct {
		who   *participant
		value string
		want  int
	}{
		{alice, `"Alice Liddell"`, 200},
		{bob, `"alice liddell"`, 425},      // case variant
		{bob, `"Ａｌｉｃｅ　Ｌｉｄｄｅｌｌ"`, 425},      // fullwidth letters and space
		{bob, `"  Alice   Liddell "`, 425}, // spacing folded
		{alice, `"ALICE LIDDELL"`, 200},    // the holder may respell its own name
		{bob, `"Moderator"`, 425},          // reserved
		{bob, "\"bad\x01name\"", 400},      // control character: not even a valid MSRP header
		{bob, "\"bad\u200bname\"", 424},    // zero-width space: disallowed by PRECIS
		{bob, `"unterminated`, 424},
		{bob, `"\q"`, 424}, // only \\ and \" are escapes
		{bob, `"Bob \"the builder\""`, 200},
		{bob, `Bob`, 200}, // unquoted, as some clients send it
		{bob, `""`, 200},  // removal (RFC 7701 §7.3)
	}
	for i, s := range steps {
		if got := nick(s.who, s.value, true); got != s.want {
			t.Errorf("step %d: %s NICKNAME %s: got %d, want %d", i, s.who.name, s.value, got, s.want)
		}
	}
	if got := nick(bob, "", false); got != 400 {
		t.Errorf("NICKNAME without Use-Nickname: got %d, want 400", got)
	}
	conf := d.focus.Room("lobby").Snapshot()
	a := conf.User("xcon-userid:alice@example.com")
	if a.Nickname != "ALICE LIDDELL" || a.Endpoints[0].Nickname != "ALICE LIDDELL" {
		t.Errorf("alice's rows: user %q endpoint %q", a.Nickname, a.Endpoints[0].Nickname)
	}
	if b := conf.User("xcon-userid:bob@example.com"); b.Nickname != "" {
		t.Errorf("bob's nickname after removal: %q", b.Nickname)
	}
}
