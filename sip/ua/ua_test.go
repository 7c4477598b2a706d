package ua

import "testing"

func TestDispositionParam(t *testing.T) {
	d := `attachment; filename="my notes.txt"; size=12`
	if got := dispositionParam(d, "filename"); got != "my notes.txt" {
		t.Errorf("filename %q", got)
	}
	if got := dispositionParam(d, "size"); got != "12" {
		t.Errorf("size %q", got)
	}
}
