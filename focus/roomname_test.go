package focus

import (
	"strings"
	"testing"
)

func TestValidRoomName(t *testing.T) {
	for name, want := range map[string]bool{
		"lobby": true, "Team-3": true, "a.b_c+d": true, strings.Repeat("x", 64): true,
		"": false, strings.Repeat("x", 65): false, "two words": false, "a@b": false, "a;b": false,
		"a/b": false, "café": false, "a%20b": false,
	} {
		if got := ValidRoomName(name); got != want {
			t.Errorf("ValidRoomName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestNewRoomName: a generated name is valid, lower case, starts with a letter and is fresh.
func TestNewRoomName(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		n := NewRoomName()
		if len(n) != 10 || !ValidRoomName(n) || strings.ToLower(n) != n || n[0] < 'a' || n[0] > 'z' {
			t.Fatalf("NewRoomName() = %q", n)
		}
		if seen[n] {
			t.Fatalf("NewRoomName() gave %q twice", n)
		}
		seen[n] = true
	}
}
