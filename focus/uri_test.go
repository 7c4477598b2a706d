package focus

import (
	"testing"

	"github.com/parleychat/parley/xcon"
)

func TestParseSIPURI(t *testing.T) {
	cases := []struct {
		in   string
		want sipURI
		ok   bool
	}{
		{"sip:alice@example.com", sipURI{"sip", "alice", "example.com"}, true},
		{"SIP:alice@Example.COM:5060;transport=tcp", sipURI{"sip", "alice", "example.com"}, true},
		{`"Alice" <sips:alice@example.com;gr>`, sipURI{"sips", "alice", "example.com"}, true},
		{"<sip:lobby@[2001:db8::1]:5062>", sipURI{"sip", "lobby", "2001:db8::1"}, true},
		{"sip:alice:secret@example.com", sipURI{"sip", "alice", "example.com"}, true},
		{"sip:example.com", sipURI{"sip", "", "example.com"}, true},
		{"sip:lobby@127.0.0.1?subject=x", sipURI{"sip", "lobby", "127.0.0.1"}, true},
		{"tel:+15551234", sipURI{"tel", "+15551234", ""}, true},
		{"im:bob@example.org", sipURI{"im", "bob@example.org", ""}, true},
		{"<sip:alice@example.com", sipURI{}, false},
		{"alice@example.com", sipURI{}, false},
		{"sip:alice@[2001:db8::1", sipURI{}, false},
		{"", sipURI{}, false},
	}
	for _, c := range cases {
		got, ok := parseSIPURI(c.in)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseSIPURI(%q) = %+v, %v; want %+v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestSameUser(t *testing.T) {
	a, _ := parseSIPURI("sip:alice@example.com")
	// The user part is compared as the XCON-USERID holds it, without case: sip:Alice and
	// sip:alice share one user row, so they are one user to every check.
	for _, s := range []string{"sips:alice@EXAMPLE.com", "<sip:alice@example.com:5070;transport=tls>", "sip:Alice@example.com"} {
		b, _ := parseSIPURI(s)
		if !sameUser(a, b) {
			t.Errorf("%s should be the same identity as %s", s, a.AOR())
		}
		if xcon.UserIDFromAOR(s) != xcon.UserIDFromAOR(a.AOR()) {
			t.Errorf("%s: the same identity but another XCON-USERID", s)
		}
	}
	for _, s := range []string{"sip:alicia@example.com", "sip:alice@example.org", "tel:alice"} {
		b, _ := parseSIPURI(s)
		if sameUser(a, b) {
			t.Errorf("%s should not be the same identity as %s", s, a.AOR())
		}
	}
}

// TestSameAddress: what a sender presents as himself is compared as RFC 3261 compares URIs.
func TestSameAddress(t *testing.T) {
	a, _ := parseSIPURI("sip:alice@example.com")
	for s, want := range map[string]bool{"sips:alice@EXAMPLE.com": true, "sip:Alice@example.com": false, "sip:ALICE@EXAMPLE.COM": false} {
		b, _ := parseSIPURI(s)
		if got := sameAddress(a, b); got != want {
			t.Errorf("sameAddress(%s, %s) = %v, want %v", a.AOR(), s, got, want)
		}
	}
}

func TestRoomName(t *testing.T) {
	f := &Focus{localHosts: map[string]bool{"example.net": true, "127.0.0.1": true, "::1": true}}
	cases := map[string]string{
		"sip:lobby@example.net":                  "lobby",
		"sip:lobby@127.0.0.1:5060;transport=tcp": "lobby",
		"sips:ops@example.net":                   "ops",
		"<sip:lobby@[::1]:5060>":                 "lobby",
		"sip:lobby@elsewhere.example":            "",
		"sip:example.net":                        "",
		"tel:lobby":                              "",
		"sip:lobby@EXAMPLE.NET;maddr=192.0.2.1":  "lobby",
	}
	for in, want := range cases {
		got, ok := f.RoomName(in)
		if got != want || ok != (want != "") {
			t.Errorf("RoomName(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestAnonymousPair(t *testing.T) {
	mine, _ := parseSIPURI("sip:anon-0123456789abcdef@anonymous.invalid")
	generic, _ := parseSIPURI(`"Anonymous" <sip:anonymous@anonymous.invalid>`)
	alice, _ := parseSIPURI("sip:alice@example.com")
	if !anonymousPair(generic, mine) {
		t.Error("an anonymous participant's generic From refused")
	}
	if anonymousPair(generic, alice) || anonymousPair(alice, mine) {
		t.Error("an anonymous From accepted for a known participant, or the reverse")
	}
}
