package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/internal/peers"
)

// TestSIPpScenarios drives the real daemon with sipp (Debian package sip-tester), the de facto
// SIP conformance and load tool, over UDP and TCP, with the scenarios in testdata/sipp.
func TestSIPpScenarios(t *testing.T) {
	sipp := peers.Sipp(t)
	d := startTestDaemon(t, nil)
	cases := []struct{ scenario, transport string }{
		{"join-label.xml", "u1"},
		{"join-label.xml", "t1"},
		{"join-audio-two-labels.xml", "u1"},
		{"join-audio-two-labels.xml", "t1"},
	}
	for _, c := range cases {
		t.Run(c.scenario+"/"+c.transport, func(t *testing.T) {
			runSIPp(t, sipp, d, c.scenario, c.transport)
			// Every participant left again: nobody stays in the room after the scenario's BYE.
			if n := len(d.focus.Room("lobby").Participants()); n != 0 {
				t.Fatalf("%d participants left in lobby after BYE", n)
			}
		})
	}
}

// TestSIPpRefusalsAndFactory: sipp sees 404 for an unknown room, 302 to the successor for a
// closed one, and a new room from the conference factory, over UDP and TCP.
func TestSIPpRefusalsAndFactory(t *testing.T) {
	sipp := peers.Sipp(t)
	d := startTestDaemon(t, func(c *configs.Config) { withRoom("old")(c); withRoom("new")(c) })
	if err := d.focus.CloseRoom(context.Background(), "old", "sip:new@example.net"); err != nil {
		t.Fatal(err)
	}
	for _, transport := range []string{"u1", "t1"} {
		runSIPpService(t, sipp, d, "not-found.xml", transport, "nosuchroom")
		runSIPpService(t, sipp, d, "moved.xml", transport, "old")
		before := len(d.focus.Rooms())
		runSIPpService(t, sipp, d, "factory.xml", transport, "adhoc")
		if after := len(d.focus.Rooms()); after != before+1 {
			t.Fatalf("the factory INVITE over %s made %d rooms, want 1", transport, after-before)
		}
	}
}

func runSIPp(t *testing.T, sipp string, d *daemon, scenario, transport string) {
	t.Helper()
	runSIPpService(t, sipp, d, scenario, transport, "lobby")
}

func runSIPpService(t *testing.T, sipp string, d *daemon, scenario, transport, service string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipp,
		"-sf", filepath.Join("testdata", "sipp", scenario),
		"-t", transport, "-m", "1", "-s", service,
		"-i", "127.0.0.1", "-p", fmt.Sprint(freePort(t)), "-mp", fmt.Sprint(freeMediaPorts(t)),
		"-timeout", "30s", "-timeout_error", "-nostdin", "-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		fmt.Sprintf("127.0.0.1:%d", d.sip.Port()))
	cmd.Dir = "."
	out, err := cmd.CombinedOutput()
	if err != nil {
		errs, _ := exec.Command("cat", filepath.Join(dir, "errors.log")).Output()
		t.Fatalf("sipp %s over %s failed: %v\n%s\n%s", scenario, transport, err, errs, tail(out, 3000))
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
