package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

// TestPerKey: a key gets a second's worth at once, then its rate; other keys are not affected;
// idle buckets are dropped once there are many; nil allows all.
func TestPerKey(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(4)
	l.now = func() time.Time { return now }
	for i := range 4 {
		if !l.Allow("a") {
			t.Fatalf("request %d of the first second refused", i)
		}
	}
	if l.Allow("a") {
		t.Fatal("a fifth request in the same instant allowed")
	}
	if !l.Allow("b") {
		t.Fatal("another source was limited by the first")
	}
	now = now.Add(250 * time.Millisecond)
	if !l.Allow("a") || l.Allow("a") {
		t.Fatal("a quarter second should refill exactly one token at 4/s")
	}
	now = now.Add(time.Hour)
	for i := range pruneAbove + 1 {
		l.Allow(fmt.Sprint("k", i))
	}
	if len(l.buckets) > pruneAbove+1 {
		t.Fatalf("%d buckets kept, want idle ones pruned", len(l.buckets))
	}
	var none *PerKey
	if !none.Allow("x") || New(0) != nil {
		t.Fatal("a nil limiter must allow everything, and rate 0 means none")
	}
}
