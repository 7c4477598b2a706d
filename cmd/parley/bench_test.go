package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/parleychat/parley/configs"
)

// TestBenchAgainstFocus runs `parley bench` against the daemon: members join over SIP and MSRP,
// every message sent is acknowledged and delivered to every other member, nothing is lost, and
// --direct measures the bound in the same run.
func TestBenchAgainstFocus(t *testing.T) {
	d := startTestDaemon(t, nil)
	for _, room := range []string{"lobby"} { // logged: the 200s follow the group commits
		var out, errs bytes.Buffer
		o := benchOptions{sip: d.sipAddr(), room: room, members: 3, senders: 2, duration: 500 * time.Millisecond,
			window: 8, size: 256, direct: true, json: true, joins: 4}
		if err := runBench(context.Background(), &out, &errs, o); err != nil {
			t.Fatalf("bench: %v\n%s", err, errs.String())
		}
		var results []benchResult
		if err := json.Unmarshal(out.Bytes(), &results); err != nil || len(results) != 2 {
			t.Fatalf("results %q: %v", out.String(), err)
		}
		direct, focus := results[0], results[1]
		if direct.Mode != "direct" || direct.AckedPerSec <= 0 || direct.Lost != 0 {
			t.Fatalf("direct: %+v", direct)
		}
		if focus.Mode != "focus" || focus.Members != 3 || focus.AckedPerSec <= 0 || focus.Errors != 0 || focus.Lost != 0 ||
			focus.DelivPerSec < 1.5*focus.AckedPerSec || focus.P50 <= 0 || focus.Ratio == nil {
			t.Fatalf("focus: %+v", focus)
		}
	}
}

// TestBenchRefusesForeignMSRPPaths: the load tool connects only to the address it was given.
func TestBenchRefusesForeignMSRPPaths(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.AdvertisedHost = "127.0.0.2" })
	var out, errs bytes.Buffer
	err := runBench(context.Background(), &out, &errs, benchOptions{sip: d.sipAddr(), room: "lobby", members: 1, senders: 1,
		duration: 100 * time.Millisecond, window: 1, size: 256, joins: 1})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("is not an address of --sip")) {
		t.Fatalf("bench with an MSRP path elsewhere: %v", err)
	}
}

func TestHistogramPercentiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	q := h.percentiles(0.5, 0.99, 1)
	for i, want := range []time.Duration{500 * time.Microsecond, 990 * time.Microsecond, 1000 * time.Microsecond} {
		if d := q[i] - want; d < -want/16 || d > want/16 {
			t.Fatalf("quantile %d: %v, want %v within 6%%", i, q[i], want)
		}
	}
}
