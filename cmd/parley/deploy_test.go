package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/parleychat/parley/configs"
)

// printConfig runs `parley serve --print-config args...` and returns what it printed.
func printConfig(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := serveCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs(append([]string{"--print-config"}, args...))
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("serve --print-config %v: %v", args, err)
	}
	return out.Bytes()
}

// TestPrintConfig: `parley serve --print-config` prints defaults, file and flags together,
// secrets masked, and what it prints loads again into the same configuration.
func TestPrintConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "parley.yaml")
	if err := os.WriteFile(file, []byte(`
domain: chat.example.org
sip:
  auth:
    realm: chat
    users: [{name: alice, password: alice-pw}, {name: bob, ha1: 0123456789abcdef0123456789abcdef}]
ccmp:
  auth:
    users: [{name: root, password: root-pw, admin: true}]
rooms:
  - name: lobby
  - name: desk
    owner: boss
    keep_for: 48h
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// The environment overrides the file, the flags override the environment.
	t.Setenv("PARLEY_CONFIG", file)
	t.Setenv("PARLEY_ADVERTISE", "192.0.2.10")
	t.Setenv("PARLEY_HTTP", "127.0.0.1:9")
	out := printConfig(t, "--http", "0.0.0.0:8080")
	os.Unsetenv("PARLEY_ADVERTISE")
	os.Unsetenv("PARLEY_HTTP")
	os.Unsetenv("PARLEY_CONFIG")
	for _, secret := range []string{"alice-pw", "root-pw", "0123456789abcdef"} {
		if bytes.Contains(out, []byte(secret)) {
			t.Fatalf("secret %q printed:\n%s", secret, out)
		}
	}
	for _, want := range []string{"domain: chat.example.org", "listen: 0.0.0.0:8080", "advertised_host: 192.0.2.10",
		"password: '***'", "ha1: '***'", "keep_for: 48h0m0s", "owner: sip:boss@chat.example.org", "owner: sip:root@chat.example.org",
		"listen: 127.0.0.1:2855"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("printed configuration lacks %q:\n%s", want, out)
		}
	}
	// Round trip: the printed file loads, and printed again is the same text. A masked HA1 is no
	// digest (the loader refuses it), so the digest goes back in first, as an operator would.
	printed := filepath.Join(dir, "printed.yaml")
	restored := bytes.Replace(out, []byte("ha1: '***'"), []byte("ha1: 0123456789abcdef0123456789abcdef"), 1)
	if err := os.WriteFile(printed, restored, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(printed)
	if err != nil {
		t.Fatalf("printed configuration does not load: %v\n%s", err, out)
	}
	if err := cfg.Resolve(); err != nil {
		t.Fatalf("printed configuration does not resolve: %v", err)
	}
	if len(cfg.SIP.Auth.Users) != 2 || cfg.SIP.Auth.Users[0].Password != configs.Masked || cfg.CCMP.Auth.Users[0].Name != "root" ||
		!cfg.CCMP.Auth.Users[0].Admin || cfg.Rooms[1].KeepFor.Hours() != 48 || cfg.HTTP.Listen != "0.0.0.0:8080" {
		t.Fatalf("printed configuration loads as %+v", cfg)
	}
	if again := printConfig(t, "--config", printed); !bytes.Equal(again, out) {
		t.Fatalf("printed twice differs:\n%s\n---\n%s", out, again)
	}
}

// TestPrintConfigMasksEverySecret: every key of the configuration that holds a secret
// (configs.SecretKey) is printed masked, wherever it sits, and none is left out.
func TestPrintConfigMasksEverySecret(t *testing.T) {
	cfg := configs.Default()
	var secrets, keys []string
	var fill func(v reflect.Value, path string)
	fill = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
				f := v.Field(i)
				if f.Kind() == reflect.String && configs.SecretKey(key) {
					s := fmt.Sprintf("secret-value-%d", len(secrets))
					f.SetString(s)
					secrets = append(secrets, s)
					keys = append(keys, path+key)
					continue
				}
				fill(f, path+key+".")
			}
		case reflect.Slice:
			if v.Type().Elem().Kind() == reflect.Struct {
				v.Set(reflect.Append(v, reflect.New(v.Type().Elem()).Elem()))
				fill(v.Index(v.Len()-1), path)
			}
		}
	}
	fill(reflect.ValueOf(cfg).Elem(), "")
	for _, want := range []string{"sip.auth.users.password", "sip.auth.users.ha1", "ccmp.auth.users.password", "ccmp.auth.users.ha1", "store.dsn"} {
		if !slices.Contains(keys, want) {
			t.Errorf("secret key %s not found among %v", want, keys)
		}
	}
	out, err := cfg.EffectiveYAML()
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range secrets {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("%s printed in clear", keys[i])
		}
	}
	if n := bytes.Count(out, []byte("'"+configs.Masked+"'")); n != len(secrets) {
		t.Errorf("%d masked values printed, want %d:\n%s", n, len(secrets), out)
	}
}

// TestHealthCommand: `parley health` succeeds against a serving focus and fails where none is.
func TestHealthCommand(t *testing.T) {
	d := startTestDaemon(t, nil)
	health := func(url string) error {
		cmd := healthCommand()
		cmd.SetOut(io.Discard)
		cmd.SetArgs([]string{"--http", url, "--timeout", "2s"})
		return cmd.ExecuteContext(context.Background())
	}
	if err := health("http://" + d.httpAddr.String()); err != nil {
		t.Fatalf("health of a serving focus: %v", err)
	}
	// Without --http, the port of the configuration serve would read: PARLEY_HTTP here, its
	// wildcard host meaning loopback.
	_, port, _ := net.SplitHostPort(d.httpAddr.String())
	t.Setenv("PARLEY_HTTP", "0.0.0.0:"+port)
	cmd := healthCommand()
	cmd.SetOut(io.Discard)
	cmd.SetArgs(nil)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("health from PARLEY_HTTP: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := health("http://" + addr); err == nil {
		t.Fatal("health succeeded with nothing listening")
	}
	d.ready.Store(false) // stopping: /healthz answers 503
	err = health("http://" + d.httpAddr.String() + "/healthz")
	d.ready.Store(true)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("health of a stopping focus: %v", err)
	}
}

// TestDeployFiles checks what the image and the unit promise operators: a static binary for a
// non-root user with its data in /data and a health check, and a hardened unit.
func TestDeployFiles(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	dockerfile := read("../../configs/docker/Dockerfile")
	for _, want := range []string{"CGO_ENABLED=0", "\nUSER 65532:65532", "\nVOLUME /data", "\nHEALTHCHECK ", `CMD ["/usr/local/bin/parley", "health"]`,
		"COPY configs/docker/parley.yaml /etc/parley/parley.yaml", "\nENV PARLEY_CONFIG=/etc/parley/parley.yaml"} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if n := strings.Count(dockerfile, "\nFROM "); n < 2 {
		t.Errorf("Dockerfile has %d stages, want a build stage and a runtime stage", n)
	}
	// The image's configuration is valid and puts the database in the volume.
	out := printConfig(t, "--config", "../../configs/docker/parley.yaml")
	for _, want := range []string{"data_dir: /data", "listen: 0.0.0.0:5060", "listen: 0.0.0.0:8080"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("image configuration lacks %q", want)
		}
	}
	unit := read("../../configs/systemd/parley.service")
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=parley", "ProtectSystem=strict", "NoNewPrivileges=yes",
		"PrivateTmp=yes", "RestrictAddressFamilies=", "CapabilityBoundingSet=\n", "#AmbientCapabilities=CAP_NET_BIND_SERVICE",
		"--data /var/lib/parley", "RestartPreventExitStatus=1"} {
		if !strings.Contains(unit, want) {
			t.Errorf("parley.service lacks %q", want)
		}
	}
}

// TestSystemdUnitVerifies runs systemd-analyze verify on configs/systemd/parley.service (with
// ExecStart pointing at an executable that exists here).
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (Debian package systemd); the unit is not verified")
	}
	unit, err := os.ReadFile("../../configs/systemd/parley.service")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "parley.service")
	if err := os.WriteFile(file, bytes.ReplaceAll(unit, []byte("/usr/local/bin/parley"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(analyze, "verify", file)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=warning")
	out, err := cmd.CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("parley.service")) {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestDockerImageBuilds builds configs/docker/Dockerfile with docker or podman when one is
// installed and its daemon answers, and runs the image's --print-config.
func TestDockerImageBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a container image")
	}
	var tool string
	for _, name := range []string{"docker", "podman"} {
		if p, err := exec.LookPath(name); err == nil {
			if err := exec.Command(p, "info").Run(); err == nil {
				tool = p
				break
			}
		}
	}
	if tool == "" {
		t.Skip("no docker or podman with a running daemon here; the image is not built")
	}
	tag := fmt.Sprintf("parley-test:%d", os.Getpid())
	build := exec.Command(tool, "build", "-f", "configs/docker/Dockerfile", "-t", tag, ".")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s build: %v\n%s", tool, err, out)
	}
	t.Cleanup(func() { exec.Command(tool, "rmi", "-f", tag).Run() })
	out, err := exec.Command(tool, "run", "--rm", tag, "serve", "--config", "/etc/parley/parley.yaml", "--print-config").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("data_dir: /data")) {
		t.Fatalf("%s run --print-config: %v\n%s", tool, err, out)
	}
}
