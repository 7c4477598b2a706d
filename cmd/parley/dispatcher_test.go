package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestDrainBehindKamailioDispatcher: two foci behind Kamailio's dispatcher
// (configs/kamailio/dispatcher.cfg, round robin); with one of them draining, every new call
// through the proxy lands on the other: the draining focus's 503 makes Kamailio fail over.
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
	startKamailio(t, "dispatcher.cfg", "dispatcher.so", hp, "-l", "udp:"+hp, "-l", "tcp:"+hp,
		"-A", `DS_LIST="`+list+`"`, "-A", `ROOMS_DOMAIN="example.net"`, "-A", "PING_INTERVAL=1")
	a.drain()
	for i := range 4 {
		joinViaProxy(t, port, "user"+strconv.Itoa(i), "example.net", "tcp") // fails on anything but 200
	}
	if na, nb := a.focus.Present(), b.focus.Present(); na != 0 || nb != 4 {
		t.Fatalf("participants: draining focus %d, other %d; want 0 and 4", na, nb)
	}
}
