package xcon

import "testing"

func TestParseSIPAddress(t *testing.T) {
	cases := []struct {
		in   string
		want SIPAddress
		ok   bool
	}{
		{"sip:alice@example.com", SIPAddress{"sip", "alice", "example.com"}, true},
		{"SIP:alice@Example.COM:5060;transport=tcp", SIPAddress{"sip", "alice", "example.com"}, true},
		{`"Alice" <sips:alice@example.com;gr>`, SIPAddress{"sips", "alice", "example.com"}, true},
		{"<sip:lobby@[2001:db8::1]:5062>", SIPAddress{"sip", "lobby", "2001:db8::1"}, true},
		{"sip:alice:secret@example.com", SIPAddress{"sip", "alice", "example.com"}, true},
		{"sip:example.com", SIPAddress{"sip", "", "example.com"}, true},
		{"sip:lobby@127.0.0.1?subject=x", SIPAddress{"sip", "lobby", "127.0.0.1"}, true},
		{"tel:+15551234", SIPAddress{"tel", "+15551234", ""}, true},
		{"im:bob@example.org", SIPAddress{"im", "bob@example.org", ""}, true},
		{"<sip:alice@example.com", SIPAddress{}, false},
		{"alice@example.com", SIPAddress{}, false},
		{"sip:alice@[2001:db8::1", SIPAddress{}, false},
		{"", SIPAddress{}, false},
	}
	for _, c := range cases {
		got, ok := ParseSIPAddress(c.in)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("ParseSIPAddress(%q) = %+v, %v; want %+v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestSameUser(t *testing.T) {
	a, _ := ParseSIPAddress("sip:alice@example.com")
	// The user part is compared as the XCON-USERID holds it, without case: sip:Alice and
	// sip:alice share one user row, so they are one user to every check.
	for _, s := range []string{"sips:alice@EXAMPLE.com", "<sip:alice@example.com:5070;transport=tls>", "sip:Alice@example.com"} {
		b, _ := ParseSIPAddress(s)
		if !a.Same(b) {
			t.Errorf("%s should be the same identity as %s", s, a.AOR())
		}
		if UserIDFromAOR(s) != UserIDFromAOR(a.AOR()) {
			t.Errorf("%s: the same identity but another XCON-USERID", s)
		}
	}
	for _, s := range []string{"sip:alicia@example.com", "sip:alice@example.org", "tel:alice"} {
		b, _ := ParseSIPAddress(s)
		if a.Same(b) {
			t.Errorf("%s should not be the same identity as %s", s, a.AOR())
		}
	}
}

// TestSameUserText: SameUser on text, as the chat client compares roster entries.
func TestSameUserText(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"sip:alice@127.0.0.1", "<sip:alice@127.0.0.1:5060;transport=tcp>", true},
		{"sip:lobby@Example.NET", "sip:lobby@example.net", true},
		{"sip:alice@example.com", "sip:Alice@example.com", true},
		{"sip:alice@example.com", "sips:alice@example.com", true},
		{"xcon-userid:alice@example.com", "sip:alice@example.com", false},
		{"sip:example.com", "sip:example.com", false},
		{"alice", "alice", false},
	} {
		if got := SameUser(tc.a, tc.b); got != tc.want {
			t.Errorf("SameUser(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// TestEqualAddress: Equal is RFC 3261's comparison of the user@host: the user part exact.
func TestEqualAddress(t *testing.T) {
	a, _ := ParseSIPAddress("sip:alice@example.com")
	for s, want := range map[string]bool{
		"sips:alice@EXAMPLE.com": true, "<sip:alice@example.com:5070;transport=tls>": true,
		"sip:Alice@example.com": false, "sip:ALICE@EXAMPLE.COM": false, "sip:alice@example.org": false, "tel:alice": false,
	} {
		b, _ := ParseSIPAddress(s)
		if got := a.Equal(b); got != want {
			t.Errorf("Equal(%s, %s) = %v, want %v", a.AOR(), s, got, want)
		}
	}
}
