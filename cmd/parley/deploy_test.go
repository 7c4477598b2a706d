package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
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
	out := printConfig(t, "--config", file, "--http", "0.0.0.0:8080", "--advertise", "192.0.2.10")
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
	// Round trip: the printed file loads, and printed again is the same text.
	printed := filepath.Join(dir, "printed.yaml")
	if err := os.WriteFile(printed, out, 0o644); err != nil {
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
	for _, want := range []string{"sip.auth.users.password", "sip.auth.users.ha1", "ccmp.auth.users.password", "ccmp.auth.users.ha1"} {
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
