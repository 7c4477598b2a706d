package msrp

import "testing"

func TestParseURI(t *testing.T) {
	tests := []struct {
		in   string
		want URI
		ok   bool
	}{
		{"msrp://focus.example.net:2855/r9Yb3TqLw0cZ2xV;tcp", URI{Host: "focus.example.net", Port: 2855, SessionID: "r9Yb3TqLw0cZ2xV", Transport: "tcp"}, true},
		{"MSRPS://bob@Relay.Example:443/a/b=c+d;tcp;x=1;y", URI{Secure: true, User: "bob", Host: "Relay.Example", Port: 443, SessionID: "a/b=c+d", Transport: "tcp", Params: "x=1;y"}, true},
		{"msrp://[2001:db8::1]:2855/s1;tcp", URI{Host: "2001:db8::1", Port: 2855, SessionID: "s1", Transport: "tcp"}, true},
		{"msrp://relay.example;tcp", URI{Host: "relay.example", Transport: "tcp"}, true},
		{"msrp://abc.invalid:1/x;ws", URI{Host: "abc.invalid", Port: 1, SessionID: "x", Transport: "ws"}, true},
		{"msrp://h:2855/s", URI{}, false},    // no transport (§6)
		{"sip://h:2855/s;tcp", URI{}, false}, // wrong scheme
		{"msrp://h:0/s;tcp", URI{}, false},
		{"msrp://h:99999/s;tcp", URI{}, false},
		{"msrp://[::1/s;tcp", URI{}, false},
		{"msrp://h:1/;tcp", URI{}, false},
		{"msrp://h:1/s s;tcp", URI{}, false},
		{"msrp://:1/s;tcp", URI{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseURI(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v", err)
			}
			if !tt.ok {
				return
			}
			if got != tt.want {
				t.Fatalf("got %+v", got)
			}
			again, err := ParseURI(got.String())
			if err != nil || again != got {
				t.Fatalf("round trip %q: %+v %v", got.String(), again, err)
			}
		})
	}
}

func TestURI_Equal(t *testing.T) {
	base, _ := ParseURI("msrp://Host.Example:2855/AbC;tcp")
	tests := []struct {
		other string
		equal bool
	}{
		{"msrp://host.example:2855/AbC;TCP", true},
		{"msrp://user@host.example:2855/AbC;tcp;foo", true},
		{"msrp://host.example:2855/abc;tcp", false}, // session-id is case-sensitive (§6.1)
		{"msrps://host.example:2855/AbC;tcp", false},
		{"msrp://host.example/AbC;tcp", false}, // port present vs absent
		{"msrp://host.example:2856/AbC;tcp", false},
		{"msrp://host.example:2855;tcp", false},
		{"msrp://host.example:2855/AbC;ws", false},
	}
	for _, tt := range tests {
		o, err := ParseURI(tt.other)
		if err != nil {
			t.Fatal(err)
		}
		if base.Equal(o) != tt.equal {
			t.Errorf("%s: Equal = %v", tt.other, !tt.equal)
		}
	}
}

func TestURI_HostPort(t *testing.T) {
	u, _ := ParseURI("msrp://[::1]:2855/s;tcp")
	if u.HostPort() != "[::1]:2855" {
		t.Fatal(u.HostPort())
	}
}

func TestParsePath(t *testing.T) {
	p, err := ParsePath("msrp://r.example:2855/r1;tcp msrp://h:1/s;tcp")
	if err != nil || len(p) != 2 || p[1].SessionID != "s" {
		t.Fatalf("%v %v", p, err)
	}
	if _, err := ParsePath(" "); err == nil {
		t.Fatal("empty path accepted")
	}
	if _, err := ParsePath("msrp://h:1/s;tcp bogus"); err == nil {
		t.Fatal("bad URI accepted")
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		for _, id := range []string{NewSessionID(), NewTransactionID(), NewMessageID()} {
			if seen[id] || !isAlphaNum(id) {
				t.Fatalf("bad or repeated id %q", id)
			}
			seen[id] = true
		}
	}
	if len(NewSessionID()) != 16 || len(NewTransactionID()) != 12 {
		t.Fatal("lengths")
	}
}

func TestBodyEndLineAvoided(t *testing.T) {
	body := []byte("x\r\n-------abcd$\r\n")
	if !bodyHasEndLine(body, []byte("abcd")) || bodyHasEndLine(body, []byte("abce")) {
		t.Fatal("bodyHasEndLine")
	}
}

func TestCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		code int
	}{
		{nil, 200},
		{ErrTooLarge, 413},
		{ErrUnknownSession, 481},
		{&StatusError{Code: 425}, 425},
		{&FrameError{Code: 400}, 400},
		{errString("other"), 403},
	}
	for _, tt := range tests {
		if code, _ := CodeOf(tt.err); code != tt.code {
			t.Errorf("%v → %d", tt.err, code)
		}
	}
}
