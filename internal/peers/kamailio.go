package peers

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Kamailio describes a Kamailio run with one of the repository's configurations.
type Kamailio struct {
	Config      string   // file name in configs/kamailio
	ProbeModule string   // a module the configuration loads: picks the modules directory holding it
	Listen      []string // -l sockets, e.g. "tcp:127.0.0.1:5060"
	Defines     []string // -A defines (WITH_DEBUG is added under PARLEY_TEST_LOG)
	Args        []string // further arguments
	// Ready reports whether Kamailio serves; nil: ReadyAddr accepts TCP connections.
	Ready     func() bool
	ReadyAddr string
	Timeout   time.Duration // for Ready; 0: 10 s
}

// modulesDirs are where distributions install Kamailio's modules.
var modulesDirs = []string{"/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/aarch64-linux-gnu/kamailio/modules",
	"/usr/lib/kamailio/modules", "/usr/lib64/kamailio/modules", "/usr/local/lib64/kamailio/modules", "/usr/local/lib/kamailio/modules"}

// KamailioModules returns the first directory holding module (KAMAILIO_MODULES first), or ""
// for Kamailio's built-in default.
func KamailioModules(module string) string {
	for _, d := range append([]string{os.Getenv("KAMAILIO_MODULES")}, modulesDirs...) {
		if _, err := os.Stat(filepath.Join(d, module)); d != "" && err == nil {
			return d
		}
	}
	return ""
}

// Start runs Kamailio in the foreground with k's configuration and returns once it serves; the
// whole process group is stopped when the test ends. Without kamailio the test is skipped (or
// fails under PARLEY_REQUIRE_PEERS=1).
func (k Kamailio) Start(t testing.TB) *Process {
	t.Helper()
	bin := Require(t, "kamailio", "kamailio")
	dir := t.TempDir()
	args := []string{"-f", RepoPath(t, "configs", "kamailio", k.Config), "-DD", "-E", "-Y", dir, "-w", dir}
	for _, l := range k.Listen {
		args = append(args, "-l", l)
	}
	if k.ProbeModule != "" {
		if mods := KamailioModules(k.ProbeModule); mods != "" {
			args = append(args, "-L", mods)
		}
	}
	defines := k.Defines
	if Verbose() {
		defines = append(defines[:len(defines):len(defines)], "WITH_DEBUG")
	}
	for _, d := range defines {
		args = append(args, "-A", d)
	}
	args = append(args, k.Args...)
	p := Start(t, bin, args...)
	ready := k.Ready
	if ready == nil {
		ready = func() bool { return TCPAccepts(k.ReadyAddr) }
	}
	timeout := k.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	p.WaitReady(t, "serving", timeout, ready)
	return p
}

// TCPAccepts reports whether addr accepts a TCP connection.
func TCPAccepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
