package focus

import (
	"errors"
	"testing"
	"time"
)

func TestNicknameRegistryScopesAndQuarantine(t *testing.T) {
	now := time.Unix(0, 0)
	sys := newNicknames(ScopeSystem, time.Minute, []string{"Admin"})
	sys.now = func() time.Time { return now }

	mustClaim := func(n *nicknames, room, chat, user, name string, want error) {
		t.Helper()
		if _, err := n.claim(room, chat, user, name); !errors.Is(err, want) {
			t.Fatalf("claim(%s, %s, %s, %q) = %v, want %v", room, chat, user, name, err, want)
		}
	}
	mustClaim(sys, "lobby", "c1", "u:alice", "Alice", nil)
	mustClaim(sys, "ops", "c2", "u:bob", "alice", ErrNicknameTaken)   // system scope: other rooms too
	mustClaim(sys, "ops", "c3", "u:alice", "ALICE", nil)              // the same user elsewhere
	mustClaim(sys, "lobby", "c4", "u:bob", "ａｄｍｉｎ", ErrNicknameTaken) // reserved, fullwidth
	mustClaim(sys, "lobby", "c4", "u:bob", "", ErrNicknameMalformed)
	mustClaim(sys, "lobby", "c4", "u:bob", "\u200b", ErrNicknameMalformed)

	sys.release("lobby", "c1", "Alice")
	sys.release("ops", "c3", "ALICE")
	mustClaim(sys, "lobby", "c5", "u:bob", "Alice", ErrNicknameTaken) // quarantined for alice
	now = now.Add(2 * time.Minute)
	mustClaim(sys, "lobby", "c5", "u:bob", "Alice", nil) // quarantine over

	room := newNicknames(ScopeRoom, 0, nil)
	mustClaim(room, "lobby", "c1", "u:alice", "Alice", nil)
	mustClaim(room, "ops", "c2", "u:bob", "Alice", nil) // another room: free
	mustClaim(room, "lobby", "c3", "u:bob", "alice", ErrNicknameTaken)
}

func TestUseNickname(t *testing.T) {
	cases := []struct {
		in   string
		want string
		err  bool
	}{
		{`"Dave the Diver"`, "Dave the Diver", false},
		{`"say \"hi\""`, `say "hi"`, false},
		{`"back\\slash"`, `back\slash`, false},
		{`Dave`, "Dave", false},
		{`""`, "", false},
		{`"\n"`, "", true},
		{`"open`, "", true},
		{`"a"b"`, "", true},
	}
	for _, c := range cases {
		got, ok, err := useNickname(c.in, true)
		if !ok || (err != nil) != c.err || (!c.err && got != c.want) {
			t.Errorf("useNickname(%q) = %q, %v, %v", c.in, got, ok, err)
		}
	}
	if _, ok, _ := useNickname("", false); ok {
		t.Error("absent header reported present")
	}
}
