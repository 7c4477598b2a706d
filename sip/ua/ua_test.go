package ua

import "testing"

func TestSameURI(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"sip:alice@127.0.0.1", "<sip:alice@127.0.0.1:5060;transport=tcp>", true},
		{"sip:lobby@Example.NET", "sip:lobby@example.net", true},
		{"sip:alice@example.com", "sip:Alice@example.com", true},
		{"sip:alice@example.com", "sips:alice@example.com", true},
		{"xcon-userid:alice@example.com", "sip:alice@example.com", false},
	} {
		if got := sameURI(tc.a, tc.b); got != tc.want {
			t.Errorf("sameURI(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestDispositionParam(t *testing.T) {
	d := `attachment; filename="my notes.txt"; size=12`
	if got := dispositionParam(d, "filename"); got != "my notes.txt" {
		t.Errorf("filename %q", got)
	}
	if got := dispositionParam(d, "size"); got != "12" {
		t.Errorf("size %q", got)
	}
}
