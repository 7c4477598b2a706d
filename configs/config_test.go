package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreTheDocumentedOnes(t *testing.T) {
	c := Default()
	if c.SIP.Listen != "127.0.0.1:5060" || c.MSRP.Listen != "127.0.0.1:2855" || c.HTTP.Listen != "127.0.0.1:8080" {
		t.Fatalf("listen defaults: %s %s %s", c.SIP.Listen, c.MSRP.Listen, c.HTTP.Listen)
	}
	if c.DataDir != "./data" || len(c.Rooms) != 1 || c.Rooms[0].Name != "lobby" {
		t.Fatalf("data dir %q, rooms %+v", c.DataDir, c.Rooms)
	}
	if c.Store.Driver != StoreSQLite || c.Store.DSN != "" {
		t.Fatalf("store %+v, want the embedded SQLite", c.Store)
	}
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if c.Domain != "127.0.0.1" || c.AdvertisedHost != "127.0.0.1" {
		t.Fatalf("domain %q and advertised host %q should default to the SIP listen host", c.Domain, c.AdvertisedHost)
	}
}

func TestLoad(t *testing.T) {
	cases := []struct {
		name, yaml string
		wantErr    string // substring; "" = loads and resolves
		check      func(*testing.T, *Config)
	}{
		{"empty file keeps every default", "", "", func(t *testing.T, c *Config) {
			if c.MSRP.WriteDeadline != 10*time.Second {
				t.Errorf("write_deadline %v", c.MSRP.WriteDeadline)
			}
		}},
		{"one key overrides, others stay", "msrp:\n  listen: 127.0.0.1:3000\n", "", func(t *testing.T, c *Config) {
			if c.MSRP.Listen != "127.0.0.1:3000" || c.MSRP.MaxMessageSize != 1048576 {
				t.Errorf("msrp %+v", c.MSRP)
			}
		}},
		{"wildcard listen picks an interface address", "sip:\n  listen: 0.0.0.0:5060\n", "", func(t *testing.T, c *Config) {
			if c.AdvertisedHost == "0.0.0.0" || c.AdvertisedHost == "" || c.Domain == "0.0.0.0" {
				t.Errorf("advertised %q domain %q", c.AdvertisedHost, c.Domain)
			}
		}},
		{"a moderated room", "rooms:\n  - name: stage\n    moderated: true\n  - name: foyer\n", "", func(t *testing.T, c *Config) {
			if len(c.Rooms) != 2 || !c.Rooms[0].Moderated || c.Rooms[1].Moderated {
				t.Errorf("rooms %+v", c.Rooms)
			}
		}},
		{"unknown key", "msrp:\n  max_mesage_size: 5\n", "max_mesage_size", nil},
		{"wildcard advertised host", "advertised_host: 0.0.0.0\n", "advertised_host", nil},
		{"pending below message size", "msrp:\n  max_pending_bytes: 1000\n", "msrp.max_pending_bytes", nil},
		{"bad duration names the line", "msrp:\n  write_deadline: soon\n", "line 2", nil},
		{"bad room name", "rooms:\n  - name: \"no spaces\"\n", "rooms[0].name", nil},
		{"bad log level", "log:\n  level: loud\n", "log.level", nil},
		{"bad listen", "http:\n  listen: 8080\n", "http.listen", nil},
		{"udp mtu too small", "sip:\n  udp_mtu: 1300\n", "sip.udp_mtu", nil},
		{"postgres store", "store:\n  driver: postgres\n  dsn: host=db dbname=parley\n", "", func(t *testing.T, c *Config) {
			if c.Store.Driver != StorePostgres || c.Store.DSN != "host=db dbname=parley" {
				t.Errorf("store %+v", c.Store)
			}
		}},
		{"postgres store without a dsn", "store:\n  driver: postgres\n", "store.dsn", nil},
		{"unknown store driver", "store:\n  driver: mysql\n", "store.driver", nil},
		{"negative sip connection cap", "sip:\n  max_conns: -1\n", "sip.max_conns", nil},
		{"http read timeout below the header timeout", "http:\n  read_header_timeout: 10s\n  read_timeout: 5s\n", "http.read_timeout", nil},
		{"negative ccmp request rate", "ccmp:\n  request_rate: -1\n", "ccmp.request_rate", nil},
		{"limits defaults", "", "", func(t *testing.T, c *Config) {
			if c.SIP.MaxConnsPerIP != 64 || c.SIP.MaxConns != 10000 || c.SIP.MessageTimeout.Seconds() != 10 ||
				c.MSRP.MaxUnknownSessions != 16 || c.MSRP.MaxConns != 10000 || c.MSRP.HeaderTimeout.Seconds() != 30 ||
				c.HTTP.ReadHeaderTimeout.Seconds() != 10 || c.HTTP.ReadTimeout.Seconds() != 30 || c.HTTP.MaxConnsPerIP != 256 ||
				c.HTTP.MaxConns != 4096 || c.CCMP.RequestRate != 1000 {
				t.Errorf("limits %+v %+v %+v %+v", c.SIP, c.MSRP, c.HTTP, c.CCMP)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "parley.yaml")
			if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path)
			if err == nil {
				err = cfg.Resolve()
			}
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				c.check(t, cfg)
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one naming %q", err, c.wantErr)
			}
		})
	}
}

// TestRoomCreators: room_creators takes the documented kinds of entries and refuses "any" (a
// From header proves nothing) and malformed ones, saying which entry.
func TestRoomCreators(t *testing.T) {
	if len(Default().RoomCreators) != 0 {
		t.Fatalf("default room_creators %v, want none: administrators only", Default().RoomCreators)
	}
	for _, e := range []string{"authenticated", "alice", "alice@example.com", "sip:alice@example.com",
		"xcon-userid:alice@example.com", "*@example.com"} {
		c := Default()
		c.RoomCreators = []string{e}
		if err := c.Resolve(); err != nil {
			t.Errorf("%q refused: %v", e, err)
		}
	}
	for _, e := range []string{"any", "", "*@", "sip:example.com", "a:b", "*", "@example.com"} {
		c := Default()
		c.RoomCreators = []string{"authenticated", e}
		if err := c.Resolve(); err == nil || !strings.Contains(err.Error(), "room_creators[1]") {
			t.Errorf("%q: %v, want a room_creators[1] error", e, err)
		}
	}
}

// TestRoomOwner: a room's owner defaults to the administrator identity, a bare name is a user
// at the domain, and what is neither a SIP URI nor a name is refused.
func TestRoomOwner(t *testing.T) {
	c := Default()
	c.Domain = "example.net"
	c.Rooms = append(c.Rooms, Room{Name: "a", Owner: "boss"}, Room{Name: "b", Owner: "sip:carol@corp.example"}, Room{Name: "c", Owner: "dave@corp.example"})
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	want := []string{"sip:admin@example.net", "sip:boss@example.net", "sip:carol@corp.example", "sip:dave@corp.example"}
	for i, r := range c.Rooms {
		if r.Owner != want[i] {
			t.Errorf("rooms[%d].owner = %q, want %q", i, r.Owner, want[i])
		}
	}
	c = Default()
	c.Domain = "example.net"
	c.CCMP.Auth.Users = []CCMPUser{{Name: "ops", Password: "x"}, {Name: "root", Password: "y", Admin: true}}
	if err := c.Resolve(); err != nil || c.Rooms[0].Owner != "sip:root@example.net" {
		t.Fatalf("owner with a CCMP administrator: %q %v", c.Rooms[0].Owner, err)
	}
	c = Default()
	c.Rooms[0].Owner = "tel:+123"
	if err := c.Resolve(); err == nil || !strings.Contains(err.Error(), "rooms[0].owner") {
		t.Fatalf("bad owner: %v", err)
	}
}

// TestStoreDSNFromEnvironment: PARLEY_STORE_DSN overrides store.dsn (the password stays out of
// the file), and the effective configuration masks it.
func TestStoreDSNFromEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parley.yaml")
	if err := os.WriteFile(path, []byte("store:\n  driver: postgres\n  dsn: host=file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvStoreDSN, "postgres://parley:s3cret@db/parley")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if c.Store.DSN != "postgres://parley:s3cret@db/parley" {
		t.Fatalf("dsn %q, want the environment's", c.Store.DSN)
	}
	out, err := c.EffectiveYAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cret") || !strings.Contains(string(out), "dsn: '"+Masked+"'") && !strings.Contains(string(out), "dsn: \""+Masked+"\"") {
		t.Fatalf("effective configuration does not mask the dsn:\n%s", out)
	}
	if c, err := Load(""); err != nil || c.Store.DSN == "" {
		t.Fatalf("defaults with %s set: %+v %v", EnvStoreDSN, c.Store, err)
	}
}
