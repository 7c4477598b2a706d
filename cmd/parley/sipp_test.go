package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSIPpScenarios drives the real daemon with sipp (Debian package sip-tester), the de facto
// SIP conformance and load tool, over UDP and TCP, with the scenarios in testdata/sipp.
func TestSIPpScenarios(t *testing.T) {
	sipp := requirePeer(t, "sipp", "sip-tester")
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

func runSIPp(t *testing.T, sipp string, d *daemon, scenario, transport string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipp,
		"-sf", filepath.Join("testdata", "sipp", scenario),
		"-t", transport, "-m", "1", "-s", "lobby",
		"-i", "127.0.0.1", "-p", fmt.Sprint(freePort(t)), "-mp", fmt.Sprint(freePort(t)),
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
