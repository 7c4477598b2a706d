package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/xcon"
)

// TestIdleRoomsCollected: with room_idle set, a room created over CCMP that nobody is in and
// nothing changed for that long is deleted (a CCMP retrieve is 404), its log written to
// data_dir/collected (room_idle_log keep), with an audit row and a log line; a room with a
// member stays until he leaves; the rooms of parley.yaml stay however idle.
func TestIdleRoomsCollected(t *testing.T) {
	fd := startFromFile(t, "room_idle: 700ms\nrooms:\n  - {name: lobby, logging: true}\n  - {name: hall}\n")
	d := fd.daemon
	ctx := context.Background()
	for _, args := range [][]string{{"create", "quiet", "--logging", "--history", "0"}, {"create", "busy"}} {
		if _, err := runRoom(t, d, args...); err != nil {
			t.Fatal(err)
		}
	}
	alice := joinRoom(t, d, "quiet", "alice", "tcp", true)
	bob := joinRoom(t, d, "quiet", "bob", "tcp", true)
	carol := joinRoom(t, d, "busy", "carol", "tcp", false)
	tid := alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:quiet@example.net", "remember me"))
	if r := alice.msrp.response(t, tid); r.StatusCode != 200 {
		t.Fatalf("message: %d", r.StatusCode)
	}
	for _, p := range []*participant{alice, bob} {
		if err := p.dlg.Bye(ctx); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "quiet collected", func() bool { return d.focus.Room("quiet") == nil })
	if _, err := ccmpClient(d).Room(ctx, "quiet"); err == nil || !strings.Contains(err.Error(), "CCMP 404") {
		t.Fatalf("retrieve of a collected room: %v, want CCMP 404", err)
	}
	files, _ := filepath.Glob(filepath.Join(fd.dir, "data", "collected", "quiet-*.json"))
	if len(files) != 1 {
		t.Fatalf("kept logs of quiet: %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var kept struct {
		Room     string `json:"room"`
		ConfInfo string `json:"conf_info"`
		Log      []struct {
			Sender string `json:"sender"`
			Body   []byte `json:"body"`
		} `json:"log"`
	}
	if err := json.Unmarshal(data, &kept); err != nil {
		t.Fatal(err)
	}
	if kept.Room != "xcon:quiet@example.net" || !strings.Contains(kept.ConfInfo, `entity="xcon:quiet@example.net"`) || len(kept.Log) != 1 ||
		!strings.Contains(string(kept.Log[0].Body), "remember me") || kept.Log[0].Sender != "xcon-userid:alice@example.com" {
		t.Fatalf("kept log: %s", data)
	}
	out, err := runRoom(t, d, "audit", "quiet", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []xcon.AuditEntry
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if last := rows[len(rows)-1]; last.Principal != "focus" || last.Request != "idle" || last.Operation != "delete" ||
		last.Code != 200 || !strings.HasPrefix(last.Target, "log kept in ") {
		t.Fatalf("audit row of the collection: %+v", last)
	}
	// The line follows the audit row, so it may be a moment behind it.
	collected := `msg="idle room collected" subsystem=focus room=quiet idle=700ms log="kept in `
	eventually(t, "the collection's log line", func() bool { return strings.Contains(fd.log.String(), collected) })

	// busy has carol: it stays however long, and goes once she has left.
	time.Sleep(time.Second)
	for _, name := range []string{"busy", "lobby", "hall"} {
		if d.focus.Room(name) == nil {
			t.Fatalf("%s collected", name)
		}
	}
	if err := carol.dlg.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "busy collected after its last member left", func() bool { return d.focus.Room("busy") == nil })
	if files, _ := filepath.Glob(filepath.Join(fd.dir, "data", "collected", "busy-*.json")); len(files) != 0 {
		t.Fatalf("a room that logged nothing left a file: %v", files)
	}
	// The rooms of the file are never collected, however long empty.
	time.Sleep(time.Second)
	for _, name := range []string{"lobby", "hall"} {
		if d.focus.Room(name) == nil {
			t.Fatalf("room %s of parley.yaml collected", name)
		}
	}
}

// TestIdleRoomLogPurged: with room_idle_log purge, a collected room's log goes with it and
// nothing is written; a change made to an empty room starts its idle time again.
func TestIdleRoomLogPurged(t *testing.T) {
	fd := startFromFile(t, "room_idle: 800ms\nroom_idle_log: purge\n")
	d := fd.daemon
	ctx := context.Background()
	if _, err := runRoom(t, d, "create", "brief", "--logging", "--history", "0"); err != nil {
		t.Fatal(err)
	}
	alice := joinRoom(t, d, "brief", "alice", "tcp", true)
	joinRoom(t, d, "brief", "bob", "tcp", true)
	tid := alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:brief@example.net", "forget me"))
	if r := alice.msrp.response(t, tid); r.StatusCode != 200 {
		t.Fatalf("message: %d", r.StatusCode)
	}
	d.focus.Kick(ctx, "brief", "xcon-userid:alice@example.com", false)
	d.focus.Kick(ctx, "brief", "xcon-userid:bob@example.com", false)
	// Changed while empty, at half its idle time: it stays past the first deadline.
	time.Sleep(400 * time.Millisecond)
	if _, err := runRoom(t, d, "update", "brief", "--subject", "still wanted"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	if d.focus.Room("brief") == nil {
		t.Fatal("a room changed 600ms ago collected after room_idle 800ms")
	}
	eventually(t, "brief collected", func() bool { return d.focus.Room("brief") == nil })
	// The room leaves the focus first; its store rows go next, and the audit row follows them.
	eventually(t, "the collection's audit row", func() bool {
		rows, err := d.focus.Audit(ctx, "brief", 1)
		return err == nil && len(rows) == 1 && rows[0].Target == "log purged"
	})
	if h, _ := d.store.HistoryAfter(ctx, "brief", "", time.Time{}, 0, 10); len(h) != 0 {
		t.Fatalf("log of a collected room with room_idle_log purge: %d messages", len(h))
	}
	if files, _ := filepath.Glob(filepath.Join(fd.dir, "data", "collected", "*")); len(files) != 0 {
		t.Fatalf("room_idle_log purge wrote %v", files)
	}
	// A new room of that name starts with no log.
	if _, err := runRoom(t, d, "create", "brief", "--logging"); err != nil {
		t.Fatal(err)
	}
	if h, _ := d.store.HistoryAfter(ctx, "brief", "", time.Time{}, 0, 10); len(h) != 0 {
		t.Fatalf("new room brief has %d old messages", len(h))
	}
}
