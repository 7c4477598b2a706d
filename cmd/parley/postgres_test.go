package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/xcon/sqlstore/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop() // the PostgreSQL cluster of the postgres store tests, if one was started
	os.Exit(code)
}

// TestPostgresStoreSurvivesRestart: with store.driver postgres, a room created over CCMP and a
// message logged in it are in the database, not in data_dir: after a restart the room is
// listed with its policy and a joiner is replayed the message.
func TestPostgresStoreSurvivesRestart(t *testing.T) {
	cfg := testConfig(t)
	cfg.Store = configs.Store{Driver: configs.StorePostgres, DSN: pgtest.DSN(t)}
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d := startConfigured(t, cfg)
	c := ccmpClient(d)
	if _, err := c.CreateRoom(ctx, ccmp.RoomSpec{Name: "talk", DisplayText: "Small talk", Subject: "weather", Logging: true, History: 5}); err != nil {
		t.Fatal(err)
	}
	alice := joinRoom(t, d, "talk", "alice", "tcp", true)
	body := cpimBody("sip:alice@example.com", "sip:talk@example.net", "kept in postgres")
	if r := alice.msrp.response(t, alice.msrp.send("message/cpim", body)); r.StatusCode != 200 {
		t.Fatalf("send: %d", r.StatusCode)
	}
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "parley.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("data_dir holds a SQLite database with store.driver postgres: %v", err)
	}

	d2 := startConfigured(t, cfg)
	defer d2.shutdown()
	c = ccmpClient(d2)
	room, err := c.Room(ctx, "talk")
	if err != nil {
		t.Fatalf("room after restart: %v", err)
	}
	if p, _ := room.RoomPolicy(); !p.Logging || p.History != 5 || room.Description.Subject != "weather" {
		t.Fatalf("after restart: policy %+v, description %+v", p, room.Description)
	}
	listed := false
	rooms, err := c.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms {
		listed = listed || r.URI == "xcon:talk@example.net"
	}
	if !listed {
		t.Fatalf("the room is not listed after restart: %+v", rooms)
	}
	bob := joinRoom(t, d2, "talk", "bob", "tcp", true)
	if got := bob.msrp.nextMessage(t); !bytes.Equal(got.Body, body) {
		t.Fatalf("after restart bob got %q, want the logged message", got.Body)
	}
}
