package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/peers"
)

// TestRoomCreateFromFile: a YAML room in the shape of a parley.yaml rooms[] entry becomes a
// room with that title, subject, policy and channels; a bad entry is refused with the reason.
func TestRoomCreateFromFile(t *testing.T) {
	d := startTestDaemon(t, nil)
	dir := t.TempDir()
	good := filepath.Join(dir, "room.yaml")
	os.WriteFile(good, []byte("name: plaza\ndisplay_text: The Plaza\nsubject: Weekly meetup\nlogging: true\nhistory: 7\nmoderated: true\n"+
		"keep_messages: 100\nowner: sip:olga@example.com\nchannels:\n  - {label: en, language: en}\n  - {label: de, language: de}\n"), 0o600)
	if _, err := runRoom(t, d, "create", "--from-file", good); err != nil {
		t.Fatal(err)
	}
	out, err := runRoom(t, d, "show", "plaza", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r roomJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.URI != "xcon:plaza@example.net" || r.DisplayText != "The Plaza" || r.Subject != "Weekly meetup" ||
		!r.Policy.Logging || r.Policy.History != 7 || !r.Policy.Moderated || r.Policy.KeepMessages != 100 ||
		len(r.Channels) != 2 || r.Channels[0].Label != "en" || r.Channels[1].Language != "de" {
		t.Fatalf("room from file: %+v", r)
	}
	if u := d.focus.Room("plaza").Snapshot().User("xcon-userid:olga@example.com"); u == nil || !slices.Contains(u.Roles, "administrator") {
		t.Fatalf("owner: %+v", u)
	}
	if p, _ := d.focus.Room("plaza").Snapshot().RoomPolicy(); !p.Logging || p.History != 7 {
		t.Fatalf("focus's policy: %+v", p)
	}

	for _, c := range []struct{ yaml, args, wantErr string }{
		{"name: other\n", "x", `differs from the room named on the command line`},
		{"name: plaza2\nhistory: 5000\n", "", "history: 5000 is not between 0 and 1000"},
		{"name: plaza3\ncolour: red\n", "", "field colour not found"},
		{"name: bad name\n", "", "not a valid room name"},
	} {
		f := filepath.Join(dir, "bad.yaml")
		os.WriteFile(f, []byte(c.yaml), 0o600)
		args := []string{"create", "--from-file", f}
		if c.args != "" {
			args = []string{"create", c.args, "--from-file", f}
		}
		if _, err := runRoom(t, d, args...); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Fatalf("%q: error %v, want %q", c.yaml, err, c.wantErr)
		}
	}
	// NAME on the command line names a file without a name.
	noName := filepath.Join(dir, "noname.yaml")
	os.WriteFile(noName, []byte("subject: unnamed\n"), 0o600)
	if out, err := runRoom(t, d, "create", "square", "--from-file", noName); err != nil || !strings.Contains(out, "created xcon:square@example.net") {
		t.Fatalf("create square: %v\n%s", err, out)
	}
}

// TestRoomUpdate: only the flags given change; show reflects them and the focus applies them.
func TestRoomUpdate(t *testing.T) {
	d := startTestDaemon(t, nil)
	if _, err := runRoom(t, d, "create", "forum", "--title", "Forum", "--subject", "old"); err != nil {
		t.Fatal(err)
	}
	if _, err := runRoom(t, d, "update", "forum", "--subject", "New subject", "--logging", "on", "--history", "3"); err != nil {
		t.Fatal(err)
	}
	out, err := runRoom(t, d, "show", "forum")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"title    Forum", "subject  New subject", "logging  true (history 3)", "mode     open"} {
		if !strings.Contains(out, w) {
			t.Fatalf("show after update lacks %q:\n%s", w, out)
		}
	}
	if p, _ := d.focus.Room("forum").Snapshot().RoomPolicy(); !p.Logging || p.History != 3 {
		t.Fatalf("focus's policy: %+v", p)
	}
	if _, err := runRoom(t, d, "update", "forum", "--logging", "off", "--moderated", "on", "--title", "Agora", "--max-users", "1"); err != nil {
		t.Fatal(err)
	}
	out, _ = runRoom(t, d, "show", "forum")
	for _, w := range []string{"title    Agora", "subject  New subject", "logging  false (history 3)", "mode     moderated"} {
		if !strings.Contains(out, w) {
			t.Fatalf("show after second update lacks %q:\n%s", w, out)
		}
	}
	if m := d.focus.Room("forum").Snapshot().Description.MaximumUserCount; m == nil || *m != 1 {
		t.Fatalf("maximum-user-count: %v", m)
	}
	joinPlain(t, d, "forum", "alice")
	if code, _ := inviteCode(t, d, "forum", "bob"); code != 486 {
		t.Fatalf("second user in a room of one: %d, want 486", code)
	}
	if _, err := runRoom(t, d, "update", "forum", "--max-users", "0"); err != nil {
		t.Fatal(err)
	}
	if m := d.focus.Room("forum").Snapshot().Description.MaximumUserCount; m != nil {
		t.Fatalf("maximum-user-count after --max-users 0: %v", *m)
	}
	for _, c := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"update", "forum"}, "nothing to change"},
		{[]string{"update", "forum", "--logging", "maybe"}, `--logging: "maybe": want on or off`},
		{[]string{"update", "forum", "--history", "-1"}, "--history must be from 0"},
		{[]string{"update", "nowhere", "--subject", "x"}, "CCMP 404"},
	} {
		if _, err := runRoom(t, d, c.args...); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Fatalf("%v: error %v, want %q", c.args, err, c.wantErr)
		}
	}
}

// TestRoomBanUnban: a banned user's INVITE gets 403, and 200 again once unbanned.
func TestRoomBanUnban(t *testing.T) {
	d := startTestDaemon(t, withRoom("mod"))
	if code, _ := inviteCode(t, d, "mod", "mallory"); code != 200 {
		t.Fatalf("before the ban: %d, want 200", code)
	}
	if out, err := runRoom(t, d, "ban", "mod", "sip:mallory@example.com"); err != nil || !strings.Contains(out, "banned xcon-userid:mallory@example.com in mod") {
		t.Fatalf("ban: %v\n%s", err, out)
	}
	if out, _ := runRoom(t, d, "show", "mod"); !strings.Contains(out, "denied   xcon-userid:mallory@example.com") {
		t.Fatalf("show after ban:\n%s", out)
	}
	if code, _ := inviteCode(t, d, "mod", "mallory"); code != 403 {
		t.Fatalf("banned user's INVITE: %d, want 403", code)
	}
	if code, _ := inviteCode(t, d, "mod", "bob"); code != 200 {
		t.Fatalf("someone else's INVITE: %d, want 200", code)
	}
	if _, err := runRoom(t, d, "unban", "mod", "sip:mallory@example.com"); err != nil {
		t.Fatal(err)
	}
	if n := len(d.focus.Room("mod").Snapshot().DenyUsers); n != 0 {
		t.Fatalf("deny list after unban: %d entries", n)
	}
	if code, _ := inviteCode(t, d, "mod", "mallory"); code != 200 {
		t.Fatalf("unbanned user's INVITE: %d, want 200", code)
	}
	if _, err := runRoom(t, d, "unban", "mod", "sip:mallory@example.com"); err == nil || !strings.Contains(err.Error(), "not on the deny list") {
		t.Fatalf("second unban: %v", err)
	}
}

// TestRoomExport: the export holds the room's object and every logged message in order,
// read over several pages.
func TestRoomExport(t *testing.T) {
	d := startTestDaemon(t, nil)
	defer func(n int) { exportPage = n }(exportPage)
	exportPage = 2
	if _, err := runRoom(t, d, "create", "minutes", "--logging", "--subject", "Minutes"); err != nil {
		t.Fatal(err)
	}
	alice := joinRoom(t, d, "minutes", "alice", "tcp", true)
	bob := joinRoom(t, d, "minutes", "bob", "tcp", true)
	const n = 5
	for i := range n {
		body := cpimBody("sip:alice@example.com", "sip:minutes@example.net", "line "+string(rune('a'+i)))
		if r := alice.msrp.response(t, alice.msrp.send("message/cpim", body)); r.StatusCode != 200 {
			t.Fatalf("send %d: %d", i, r.StatusCode)
		}
		bob.msrp.nextMessage(t)
	}
	if err := d.focus.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "minutes.json")
	if _, err := runRoom(t, d, "export", "minutes", "--out", file); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var e roomExport
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	if e.Room.URI != "xcon:minutes@example.net" || e.Room.Subject != "Minutes" || !e.Room.Policy.Logging ||
		!strings.Contains(e.ConfInfo, `entity="xcon:minutes@example.net"`) || !strings.Contains(e.ConfInfo, "<info:subject>Minutes</info:subject>") {
		t.Fatalf("exported object: %+v\n%s", e.Room, e.ConfInfo)
	}
	if len(e.Log) != n {
		t.Fatalf("exported %d messages, want %d", len(e.Log), n)
	}
	for i, m := range e.Log {
		if want := "line " + string(rune('a'+i)); messageText(m) != want || m.Sender != "xcon-userid:alice@example.com" {
			t.Fatalf("message %d: %q from %s, want %q", i, messageText(m), m.Sender, want)
		}
	}
}

// TestRoomCreateFromXCONFile: --from-file also takes an XCON conference-info document (RFC
// 6501, told by its XML root), valid against the RFC schemas, sent as the confRequest's
// confInfo: the room has its title, subject, user limit, channels and Parley policy. A NAME
// must agree with its entity, or names a document without one; another root is refused.
func TestRoomCreateFromXCONFile(t *testing.T) {
	xmllint := peers.Xmllint(t)
	doc := filepath.Join("testdata", "rooms", "atrium.xml")
	if out, err := exec.Command(xmllint, "--nonet", "--noout", "--schema", peers.Schema(t, peers.ConfInfoSchema), doc).CombinedOutput(); err != nil {
		t.Fatalf("%s does not validate: %v\n%s", doc, err, out)
	}
	d := startTestDaemon(t, nil)
	if out, err := runRoom(t, d, "create", "--from-file", doc); err != nil || !strings.Contains(out, "created xcon:atrium@example.net") {
		t.Fatalf("create from %s: %v\n%s", doc, err, out)
	}
	c := d.focus.Room("atrium").Snapshot()
	p, _ := c.RoomPolicy()
	if c.Description.DisplayText != "The Atrium" || c.Description.Subject != "Design review" || c.Description.MaximumUserCount == nil ||
		*c.Description.MaximumUserCount != 5 || len(c.Description.Media) != 1 || c.Description.Media[0].Label != "en" ||
		!p.Logging || p.History != 4 {
		t.Fatalf("room from the XCON document: %+v policy %+v", c.Description, p)
	}
	if _, err := runRoom(t, d, "create", "other", "--from-file", doc); err == nil || !strings.Contains(err.Error(), "differs from the room named") {
		t.Fatalf("NAME against the entity: %v", err)
	}
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	unnamed := filepath.Join(dir, "unnamed.xml")
	os.WriteFile(unnamed, []byte(strings.Replace(string(data), `entity="xcon:atrium@example.net"`, `entity="xcon:AUTO_GENERATE_1"`, 1)), 0o600)
	if out, err := runRoom(t, d, "create", "patio", "--from-file", unnamed); err != nil || !strings.Contains(out, "created xcon:patio@example.net") {
		t.Fatalf("NAME for a document without one: %v\n%s", err, out)
	}
	if out, err := runRoom(t, d, "create", "--from-file", unnamed); err != nil || !strings.Contains(out, "created xcon:") {
		t.Fatalf("server-chosen name: %v\n%s", err, out)
	}
	if _, err := runRoom(t, d, "create", "--from-file", doc); err == nil || !strings.Contains(err.Error(), "CCMP 409") {
		t.Fatalf("the same document again: %v, want CCMP 409", err)
	}
	wrong := filepath.Join(dir, "wrong.xml")
	os.WriteFile(wrong, []byte(`<?xml version="1.0"?><room xmlns="urn:example:rooms" name="x"/>`), 0o600)
	if _, err := runRoom(t, d, "create", "--from-file", wrong); err == nil || !strings.Contains(err.Error(), "not an XCON conference-info document") {
		t.Fatalf("another XML root: %v", err)
	}
}
