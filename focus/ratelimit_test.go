package focus

import (
	"testing"
	"time"
)

func TestTokenBucket(t *testing.T) {
	now := time.Unix(100, 0)
	b := newTokenBucket(0.5, 3) // one every 2 s, 3 at once
	for i := 0; i < 3; i++ {
		if !b.allow(now) {
			t.Fatalf("burst event %d refused", i)
		}
	}
	if b.allow(now) {
		t.Fatal("fourth event at once allowed")
	}
	if b.allow(now.Add(time.Second)) {
		t.Fatal("allowed after 1 s, the refill needs 2 s")
	}
	if !b.allow(now.Add(3 * time.Second)) {
		t.Fatal("refused after the refill")
	}
	var off tokenBucket
	for i := 0; i < 100; i++ {
		if !off.allow(now) {
			t.Fatal("a zero bucket limits nothing")
		}
	}
}
