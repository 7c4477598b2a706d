package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parleychat/parley/ccmp"
)

// dashboardStrings returns every string of the Grafana dashboard's JSON: PromQL expressions,
// variable queries, descriptions.
func dashboardStrings(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../configs/grafana/parley.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("configs/grafana/parley.json: %v", err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	return out
}

// TestMetricsDashboardNamesExported: every metric the Grafana dashboard (configs/grafana/
// parley.json) names is on the /metrics of a running daemon after a join, a message and a CCMP
// request; the latency histograms have samples; no metric is labelled by room or user.
func TestMetricsDashboardNamesExported(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinLobby(t, d, "alice", "udp")
	bob := joinLobby(t, d, "bob", "tcp")
	tid := alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "hi"))
	if r := alice.msrp.response(t, tid); r.StatusCode != 200 {
		t.Fatalf("SEND: %d", r.StatusCode)
	}
	bob.msrp.nextMessage(t)
	c := &ccmp.Client{URL: "http://" + d.httpAddr.String() + "/ccmp", UserID: "xcon-userid:admin@example.com"}
	if _, err := c.Do(t.Context(), &ccmp.Request{Type: ccmp.TypeConf, ConfObjID: "xcon:lobby@example.net",
		Operation: ccmp.OpRetrieve, HasBody: true}); err != nil {
		t.Fatal(err)
	}

	res, err := http.Get("http://" + d.httpAddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	samples := map[string]float64{} // metric name (with _bucket, _sum, _count) -> sum of its samples
	labels := map[string]bool{}
	line := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)`)
	label := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)
	for _, l := range strings.Split(string(body), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[3], 64)
		samples[m[1]] += v
		for _, lm := range label.FindAllStringSubmatch(m[2], -1) {
			if strings.HasPrefix(m[1], "parley_") {
				labels[lm[1]] = true
			}
		}
	}

	name := regexp.MustCompile(`\bparley_[a-z0-9_]*[a-z0-9]`)
	var names []string
	for _, s := range dashboardStrings(t) {
		for _, n := range name.FindAllString(s, -1) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	if len(names) < 20 {
		t.Fatalf("the dashboard names only %d metrics: %v", len(names), names)
	}
	for _, n := range names {
		if _, ok := samples[n]; !ok {
			if _, ok := samples[n+"_bucket"]; !ok {
				t.Errorf("the dashboard names %s, which /metrics does not export", n)
			}
		}
	}
	for _, h := range []string{"parley_log_commit_duration_seconds", "parley_sip_invite_seconds", "parley_ccmp_request_seconds",
		"parley_msrp_fanout_seconds"} {
		if samples[h+"_count"] < 1 {
			t.Errorf("histogram %s has no samples after a join, a message and a CCMP request", h)
		}
		if !slices.Contains(names, h+"_bucket") {
			t.Errorf("the dashboard does not chart %s", h)
		}
	}
	if samples["parley_sip_invite_seconds_count"] != 2 {
		t.Errorf("parley_sip_invite_seconds_count = %v, want 2 (two joins)", samples["parley_sip_invite_seconds_count"])
	}
	for _, l := range []string{"room", "conference", "user", "chat_id", "nickname"} {
		if labels[l] {
			t.Errorf("a metric is labelled by %q; per-room figures belong to CCMP", l)
		}
	}
}
