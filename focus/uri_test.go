package focus

import "testing"

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
