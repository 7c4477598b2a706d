package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// TestBinaryServeAndSIGTERM builds the real binary, runs `parley serve` the way an operator
// does, checks /healthz, and stops it with SIGTERM: it must exit 0 within shutdown_timeout.
func TestBinaryServeAndSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "parley")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "serve", "--sip", "127.0.0.1:0", "--msrp", "127.0.0.1:0", "--http", "127.0.0.1:0",
		"--data", filepath.Join(dir, "data"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	serving := regexp.MustCompile(`msg="parley serving".* http=(\S+) .*rooms=lobby`)
	lines := bufio.NewScanner(stderr)
	var httpAddr string
	for lines.Scan() {
		if m := serving.FindStringSubmatch(lines.Text()); m != nil {
			httpAddr = m[1]
			break
		}
	}
	if httpAddr == "" {
		t.Fatal("no 'parley serving' line with the lobby room")
	}
	go func() {
		for lines.Scan() { // keep draining so the daemon never blocks on its log
		}
	}()
	res, err := http.Get("http://" + httpAddr + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", res, err)
	}
	res.Body.Close()

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("SIGTERM to exit took %v", took)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "parley.db")); err != nil {
		t.Fatalf("database file: %v", err)
	}
}
