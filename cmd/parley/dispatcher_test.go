package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDrainBehindKamailioDispatcher: two foci behind Kamailio's dispatcher
// (configs/kamailio/cluster.cfg, round robin). With one of them draining, every new call
// through the proxy lands on the other: an INVITE the draining focus answers 503 fails over,
// and once the dispatcher's OPTIONS probe got its 503 the draining focus is sent no INVITE at all.
func TestDrainBehindKamailioDispatcher(t *testing.T) {
	a, b := startTestDaemon(t, nil), startTestDaemon(t, nil)
	dir := t.TempDir()
	list := filepath.Join(dir, "dispatcher.list")
	entries := fmt.Sprintf("1 sip:127.0.0.1:%d;transport=tcp\n1 sip:127.0.0.1:%d;transport=tcp\n", a.sip.Port(), b.sip.Port())
	if err := os.WriteFile(list, []byte(entries), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	hp := "127.0.0.1:" + strconv.Itoa(port)
	startKamailio(t, "cluster.cfg", "dispatcher.so", hp, []string{"udp:" + hp, "tcp:" + hp},
		`DS_LIST="`+list+`"`, `ROOMS_DOMAIN="example.net"`, "PING_INTERVAL=1")
	a.drain()
	for i := range 2 {
		joinViaProxy(t, port, "user"+strconv.Itoa(i), "example.net", "tcp") // fails on anything but 200
	}
	eventually(t, "the dispatcher's OPTIONS probe answered 503 by the draining focus", func() bool {
		return sipMetric(t, a, "parley_sip_responses_total", `method="OPTIONS"`, `code="503"`) >= 1
	})
	invites := sipMetric(t, a, "parley_sip_requests_total", `method="INVITE"`)
	for i := 2; i < 4; i++ {
		joinViaProxy(t, port, "user"+strconv.Itoa(i), "example.net", "tcp")
	}
	if n := sipMetric(t, a, "parley_sip_requests_total", `method="INVITE"`); n != invites {
		t.Errorf("the draining focus got %v INVITEs after its probe failed, want none", n-invites)
	}
	if na, nb := a.focus.Present(), b.focus.Present(); na != 0 || nb != 4 {
		t.Fatalf("participants: draining focus %d, other %d; want 0 and 4", na, nb)
	}
}

// sipMetric is the value of the sample of metric on d's /metrics whose labels contain every
// one of labels; 0 when there is none.
func sipMetric(t *testing.T, d *daemon, metric string, labels ...string) float64 {
	t.Helper()
	res, err := http.Get("http://" + d.httpAddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		all := true
		for _, l := range labels {
			all = all && strings.Contains(line, l)
		}
		if !all {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		return v
	}
	return 0
}
