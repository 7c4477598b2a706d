package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// soakSample is one reading of the daemon's process: resident memory (VmRSS of
// /proc/PID/status) and goroutines (go_goroutines of /metrics).
type soakSample struct {
	at         time.Duration
	rssKiB     int64
	goroutines int64
}

func sampleDaemon(t *testing.T, d *runningBinary, start time.Time) soakSample {
	t.Helper()
	s := soakSample{at: time.Since(start).Round(time.Second)}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			s.rssKiB, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	res, err := http.Get("http://" + d.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := bufio.NewScanner(res.Body)
	for lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "go_goroutines "); ok {
			s.goroutines, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if s.rssKiB == 0 || s.goroutines == 0 {
		t.Fatalf("sample without RSS or goroutines: %+v", s)
	}
	return s
}

// Bounds of the soak, after its warm-up: the goroutines of the focus while the same number of
// members is in the room (one leaving, one joining at a time) may exceed the warm-up reading by
// soakGoroutineSlack (connections in their last moments); resident memory may grow by
// soakRSSGrowth of the warm-up reading. Once the run's members have all left, the goroutines are
// back to what they were before the run, within soakGoroutineSlack.
const (
	soakGoroutineSlack = 25
	soakRSSGrowth      = 0.25
)

// TestSoakWithChurnStaysFlat runs `parley bench` for 56 s against the real daemon, at a
// moderate rate into the logged lobby while members leave and are replaced (--churn), and
// samples the daemon's resident memory and goroutines every 5 s. After a 15 s warm-up neither
// may grow beyond the bounds above, and once the members have left the goroutines are back to
// their count before the run. PARLEY_SOAK_DURATION sets another length (the hour-long soak is
// `parley bench -d 1h --churn …` with testdata/bench/soak.sh, see the README).
func TestSoakWithChurnStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for a minute")
	}
	duration := 56 * time.Second // with the build and the start, the test stays within a minute
	if v := os.Getenv("PARLEY_SOAK_DURATION"); v != "" {
		var err error
		if duration, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	const warmUp, every = 15 * time.Second, 5 * time.Second
	bin := buildBinary(t)
	d := startBinary(t, bin, t.TempDir())
	start := time.Now()
	before := sampleDaemon(t, d, start)

	var out, errs bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runBench(context.Background(), &out, &errs, benchOptions{sip: d.sip, room: "lobby", members: 12, senders: 3,
			duration: duration, window: 16, size: 256, rate: 100, churn: 4, json: true, joins: 4})
	}()
	var series []soakSample
	var base *soakSample
	tick := time.NewTicker(every)
	defer tick.Stop()
	var benchErr error
run:
	for {
		select {
		case benchErr = <-done:
			break run
		case <-tick.C:
			s := sampleDaemon(t, d, start)
			series = append(series, s)
			if base == nil && s.at >= warmUp {
				base = &series[len(series)-1]
			}
		}
	}
	if benchErr != nil {
		t.Fatalf("bench: %v\n%s", benchErr, errs.String())
	}
	var results []benchResult
	if err := json.Unmarshal(out.Bytes(), &results); err != nil || len(results) != 1 {
		t.Fatalf("bench results %q: %v", out.String(), err)
	}
	r := results[0]
	var report strings.Builder
	fmt.Fprintf(&report, "before the run: %d KiB, %d goroutines\n", before.rssKiB, before.goroutines)
	for _, s := range series {
		fmt.Fprintf(&report, "%5v  rss %6d KiB  goroutines %4d\n", s.at, s.rssKiB, s.goroutines)
	}
	fmt.Fprintf(&report, "bench: acked/s %.0f, delivered/s %.0f, churned %d (%d failed), errors %d, refused %v",
		r.AckedPerSec, r.DelivPerSec, r.Churned, r.ChurnFailed, r.Errors, r.Refused)
	t.Log("\n" + report.String())
	if r.AckedPerSec <= 0 || r.Errors != 0 || len(r.Refused) != 0 || r.ChurnFailed != 0 || r.Churned < int(duration.Seconds())*4/2 {
		t.Fatalf("the load did not run as asked: %+v", r)
	}
	if base == nil {
		t.Fatalf("the run ended before its warm-up (%v)", warmUp)
	}
	for _, s := range series {
		if s.at <= base.at {
			continue
		}
		if s.goroutines > base.goroutines+soakGoroutineSlack {
			t.Errorf("at %v: %d goroutines, %d after the warm-up: they grow", s.at, s.goroutines, base.goroutines)
		}
		if float64(s.rssKiB) > float64(base.rssKiB)*(1+soakRSSGrowth) {
			t.Errorf("at %v: resident %d KiB, %d KiB after the warm-up: more than %.0f%% growth", s.at, s.rssKiB, base.rssKiB, soakRSSGrowth*100)
		}
	}
	// Everyone has left: what they held is gone.
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := sampleDaemon(t, d, start)
		if after.goroutines <= before.goroutines+soakGoroutineSlack/5 {
			t.Logf("after the run: %d KiB, %d goroutines", after.rssKiB, after.goroutines)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the run: %d goroutines, %d before it: members' goroutines are left behind", after.goroutines, before.goroutines)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
