// Package peers finds and runs the third-party programs the tests talk to: Kamailio, sipp,
// xmllint with the RFC schemas, dnsmasq and the softphones.
//
// A missing program skips the test with the Debian package to install; with
// PARLEY_REQUIRE_PEERS=1 (as in CI) it fails the test instead.
package peers

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Required reports whether a missing program fails the test instead of skipping it.
func Required() bool { return os.Getenv("PARLEY_REQUIRE_PEERS") == "1" }

// Verbose reports whether the tests log everything (PARLEY_TEST_LOG set).
func Verbose() bool { return os.Getenv("PARLEY_TEST_LOG") != "" }

// Missing skips the test because of what, or fails it under PARLEY_REQUIRE_PEERS=1.
func Missing(t testing.TB, what, debianPackage string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s not found and PARLEY_REQUIRE_PEERS=1: apt-get install %s", what, debianPackage)
	}
	t.Skipf("%s not found: apt-get install %s (or set PARLEY_REQUIRE_PEERS=1 to make this a failure)", what, debianPackage)
}

// Require returns the path of tool, looked up on PATH and then in the system directories that a
// non-root PATH leaves out; when it is nowhere, the test is skipped naming debianPackage (or
// fails under PARLEY_REQUIRE_PEERS=1).
func Require(t testing.TB, tool, debianPackage string) string {
	t.Helper()
	if path, err := exec.LookPath(tool); err == nil {
		return path
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(dir, tool); isExecutable(p) {
			return p
		}
	}
	Missing(t, tool, debianPackage)
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Sipp returns the path of sipp.
func Sipp(t testing.TB) string { return Require(t, "sipp", "sip-tester") }

// RepoRoot is the directory holding the module's go.mod, found from the test's directory up.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// RepoPath is a path inside the repository, from its root.
func RepoPath(t testing.TB, elem ...string) string {
	t.Helper()
	return filepath.Join(append([]string{RepoRoot(t)}, elem...)...)
}

// Buffer collects a child process's output for the failure log; it is safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Process is a program started by the tests, in a process group of its own.
type Process struct {
	Cmd    *exec.Cmd
	Output *Buffer       // stdout and stderr
	Exited chan struct{} // closed once the process has been waited for
}

// Start runs bin with args in a process group of its own, its output collected, and stops the
// whole group when the test ends (logging the output when the test failed or PARLEY_TEST_LOG is
// set).
func Start(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	p := &Process{Cmd: exec.Command(bin, args...), Output: &Buffer{}, Exited: make(chan struct{})}
	p.Cmd.Stdout, p.Cmd.Stderr = p.Output, p.Output
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // programs that fork workers: stop them all
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.Cmd.Wait(); close(p.Exited) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() || Verbose() {
			t.Logf("%s %v:\n%s", filepath.Base(bin), args, p.Output.String())
		}
	})
	return p
}

// Stop stops the process with SIGTERM to its main process, which stops its workers. A worker
// still starting up can miss that signal (Kamailio 5.6) and keep the main process waiting, so the
// group is signalled again while waiting, and killed if it is still there after a few seconds.
func (p *Process) Stop() {
	pid := p.Cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGTERM)
	retry := time.NewTicker(100 * time.Millisecond)
	defer retry.Stop()
	giveUp := time.After(5 * time.Second)
	for {
		select {
		case <-p.Exited:
			return
		case <-retry.C:
			syscall.Kill(-pid, syscall.SIGTERM)
		case <-giveUp:
			syscall.Kill(-pid, syscall.SIGKILL)
			<-p.Exited
			return
		}
	}
}

// WaitReady polls ready every 20 ms until it holds, failing the test when the process exits
// first or after timeout (a bounded wait while the program binds its sockets, not a timing
// assumption).
func (p *Process) WaitReady(t testing.TB, what string, timeout time.Duration, ready func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !ready() {
		select {
		case <-p.Exited:
			t.Fatalf("%s exited before %s:\n%s", filepath.Base(p.Cmd.Path), what, p.Output.String())
		case <-deadline:
			t.Fatalf("%s not %s after %s:\n%s", filepath.Base(p.Cmd.Path), what, timeout, p.Output.String())
		case <-tick.C:
		}
	}
}
