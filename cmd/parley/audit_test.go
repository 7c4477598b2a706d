package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/xcon"
)

// TestRoomAudit: CCMP changes over HTTP with Digest credentials (a create, an update, a user
// added and a refused delete) are each one `msg="ccmp change"` line of the daemon's log and one
// row of `parley room audit`, with principal, remote address and code; reads are not audited;
// a non-moderator is refused the audit (401); the rows outlive the room, for a server
// administrator.
func TestRoomAudit(t *testing.T) {
	cfg := configs.Default()
	cfg.SIP.Listen, cfg.MSRP.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Domain = "example.net"
	cfg.CCMP.Auth.Users = []configs.CCMPUser{{Name: "root", Password: "root-pw", Admin: true}, {Name: "stranger", Password: "stranger-pw"}}
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	var logBuf syncBuffer
	d, err := startDaemon(context.Background(), cfg, slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	ctx := context.Background()
	client := func(user string) *ccmp.Client {
		return &ccmp.Client{URL: "http://" + d.httpAddr.String() + "/ccmp", UserID: "xcon-userid:" + user + "@example.net",
			Username: user, Secret: user + "-pw"}
	}
	root := client("root")
	if _, err := root.CreateRoom(ctx, ccmp.RoomSpec{Name: "audited"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Room(ctx, "audited"); err != nil { // a retrieve: not audited
		t.Fatal(err)
	}
	on := etreeDelta(t, `<confInfo xmlns:p="urn:parleychat:params:xml:ns:room-policy"><p:room-policy logging="true" history="5"/></confInfo>`)
	if _, err := root.UpdateRoom(ctx, "audited", on); err != nil {
		t.Fatal(err)
	}
	zed := &xcon.User{Entity: "xcon-userid:zed@example.com", Roles: []string{"participant"}}
	if _, err := root.Do(ctx, &ccmp.Request{Type: ccmp.TypeUser, ConfObjID: ccmp.RoomURI("audited"), Operation: ccmp.OpCreate,
		HasBody: true, Info: zed.Element("userInfo")}); err != nil {
		t.Fatal(err)
	}
	if err := client("stranger").DeleteRoom(ctx, "audited"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("stranger's delete: %v, want CCMP 401", err)
	}

	run := func(user string, args ...string) (string, error) {
		t.Helper()
		t.Setenv("PARLEY_CCMP_SECRET", user+"-pw")
		cmd := roomCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append(args, "--server", "http://"+d.httpAddr.String(), "--user", "xcon-userid:"+user+"@example.net", "--login", user))
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err := cmd.ExecuteContext(ctx)
		return out.String(), err
	}
	out, err := run("root", "audit", "audited")
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "TIME") {
		t.Fatalf("audit table:\n%s", out)
	}
	for i, want := range [][]string{
		{"root", "127.0.0.1", "conf", "create", "200"},
		{"root", "127.0.0.1", "conf", "update", "200"},
		{"root", "127.0.0.1", "user", "create", "xcon-userid:zed@example.com", "200"},
		{"stranger", "127.0.0.1", "conf", "delete", "401"},
	} {
		if got := strings.Fields(lines[i+1])[2:]; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("row %d: %q, want %q\n%s", i, got, want, out)
		}
	}

	out, err = run("root", "audit", "audited", "--limit", "2", "--json")
	if err != nil {
		t.Fatalf("audit --json: %v\n%s", err, out)
	}
	var rows []xcon.AuditEntry
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rows) != 2 || rows[0].Request != "user" || rows[0].Target != zed.Entity || rows[1].Principal != "stranger" || rows[1].Code != 401 ||
		rows[1].Room != "audited" || time.Since(rows[1].Time) > time.Minute || rows[0].ID >= rows[1].ID {
		t.Fatalf("audit --json --limit 2: %+v", rows)
	}

	if _, err := run("stranger", "audit", "audited"); err == nil || !strings.Contains(err.Error(), "CCMP 401") {
		t.Fatalf("stranger's audit: %v, want CCMP 401", err)
	}

	log := logBuf.String()
	for _, want := range []string{
		`msg="ccmp change" subsystem=ccmp principal=root remote=127.0.0.1 room=audited request=conf operation=create target="" code=200`,
		`msg="ccmp change" subsystem=ccmp principal=root remote=127.0.0.1 room=audited request=conf operation=update target="" code=200`,
		`msg="ccmp change" subsystem=ccmp principal=root remote=127.0.0.1 room=audited request=user operation=create target=xcon-userid:zed@example.com code=200`,
		`msg="ccmp change" subsystem=ccmp principal=stranger remote=127.0.0.1 room=audited request=conf operation=delete target="" code=401`,
	} {
		if !strings.Contains(log, want) {
			t.Fatalf("log lacks %s:\n%s", want, log)
		}
	}
	if n := strings.Count(log, `msg="ccmp change"`); n != 4 {
		t.Fatalf("%d ccmp change lines, want 4:\n%s", n, log)
	}

	// The audit outlives the room: a server administrator reads it after the delete.
	if err := root.DeleteRoom(ctx, "audited"); err != nil {
		t.Fatal(err)
	}
	after, err := root.Audit(ctx, "audited", 0)
	if err != nil || len(after) != 5 || after[4].Operation != "delete" || after[4].Code != 200 {
		t.Fatalf("audit after delete: %+v, %v", after, err)
	}
	if _, err := client("stranger").Audit(ctx, "audited", 0); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("stranger's audit of a deleted room: %v, want CCMP 404", err)
	}

	// A close with a successor is a change of the closed room (the extension's close).
	for _, name := range []string{"old", "new"} {
		if _, err := root.CreateRoom(ctx, ccmp.RoomSpec{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := root.CloseRoom(ctx, "old", "sip:new@example.net"); err != nil {
		t.Fatal(err)
	}
	closed, err := root.Audit(ctx, "old", 10)
	if err != nil || len(closed) != 2 || closed[1].Request != "extended:close" || closed[1].Operation != "update" || closed[1].Code != 200 {
		t.Fatalf("audit of a closed room: %+v, %v", closed, err)
	}
}
