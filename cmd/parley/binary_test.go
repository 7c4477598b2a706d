package main

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
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
	bin := buildBinary(t)
	dir := t.TempDir()
	p := startBinary(t, bin, filepath.Join(dir, "data"))
	cmd := p.cmd
	res, err := http.Get("http://" + p.http + "/healthz")
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

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "parley")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runningBinary is `parley serve` in its own process, on loopback ports it chose.
type runningBinary struct {
	cmd             *exec.Cmd
	sip, msrp, http string

	logMu sync.Mutex
	logs  []string // the lines it logged after the serving line
}

// logged reports whether a line the daemon logged since it started serving contains every one
// of parts.
func (p *runningBinary) logged(parts ...string) bool {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	for _, l := range p.logs {
		all := true
		for _, part := range parts {
			all = all && strings.Contains(l, part)
		}
		if all {
			return true
		}
	}
	return false
}

// loggedSoon is logged, waiting up to 10 s for the line: the daemon's stderr is read by
// another goroutine, so a line written before an answer may reach the test after it.
func (p *runningBinary) loggedSoon(parts ...string) bool {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if p.logged(parts...) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

func startBinary(t *testing.T, bin, dataDir string) *runningBinary {
	t.Helper()
	return startBinaryWith(t, bin, dataDir, nil)
}

// startBinaryWith is startBinary with more environment variables and flags.
func startBinaryWith(t *testing.T, bin, dataDir string, env []string, args ...string) *runningBinary {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--sip", "127.0.0.1:0", "--msrp", "127.0.0.1:0", "--http", "127.0.0.1:0",
		"--data", dataDir, "--domain", "example.net"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	serving := regexp.MustCompile(`msg="parley serving".* sip=(\S+) msrp=(\S+) http=(\S+) .*rooms=\S*\blobby\b`)
	lines := bufio.NewScanner(stderr)
	slow := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() }) // a start that hangs fails the test
	defer slow.Stop()
	p := &runningBinary{cmd: cmd}
	for lines.Scan() {
		if m := serving.FindStringSubmatch(lines.Text()); m != nil {
			p.sip, p.msrp, p.http = m[1], m[2], m[3]
			break
		}
	}
	if p.http == "" {
		t.Fatal("no 'parley serving' line with the lobby room")
	}
	go func() {
		for lines.Scan() { // keep draining so the daemon never blocks on its log
			p.logMu.Lock()
			if len(p.logs) < 10000 {
				p.logs = append(p.logs, lines.Text())
			}
			p.logMu.Unlock()
		}
	}()
	return p
}

func (p *runningBinary) sipPort(t *testing.T) int {
	_, port, err := net.SplitHostPort(p.sip)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

// TestServeFailingAfterTheStoreOpensSaysWhy: a listener that cannot be bound once the database
// is open (here the MSRP port, taken) ends `parley serve` with its error and exit code 1, the
// database closed, never with a panic.
func TestServeFailingAfterTheStoreOpensSaysWhy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	out, err := exec.Command(bin, "serve", "--sip", "127.0.0.1:0", "--msrp", taken.Addr().String(), "--http", "127.0.0.1:0",
		"--data", filepath.Join(t.TempDir(), "data")).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "msrp.listen: listen tcp "+taken.Addr().String()) ||
		strings.Contains(string(out), "panic") {
		t.Fatalf("serve with the MSRP port taken: %v\n%s", err, out)
	}
}
