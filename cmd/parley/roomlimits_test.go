package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestRoomUpdateLimits: `parley room update` lowers a room's message size (a member's next
// larger SEND gets 413, a smaller one still 200) and sets its log retention (the next purge
// keeps only the newest messages); show prints them, and they are in the stored object, so
// they outlive a restart. Bad values are refused by the command and by CCMP (400).
func TestRoomUpdateLimits(t *testing.T) {
	cfg := testConfig(t)
	d := startConfigured(t, cfg)
	ctx := context.Background()
	if _, err := runRoom(t, d, "create", "limits", "--logging", "--history", "0"); err != nil {
		t.Fatal(err)
	}
	alice := joinRoom(t, d, "limits", "alice", "tcp", true)
	joinRoom(t, d, "limits", "bob", "tcp", true)
	send := func(text string) int {
		tid := alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:limits@example.net", text))
		return alice.msrp.response(t, tid).StatusCode
	}
	big := strings.Repeat("x", 3000)
	if code := send(big); code != 200 {
		t.Fatalf("3000 bytes before the limit: %d", code)
	}
	out, err := runRoom(t, d, "update", "limits", "--max-message-size", "1000", "--keep-messages", "2")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"max size  1000 bytes per message", "log kept  the newest 2"} {
		if !strings.Contains(out, w) {
			t.Fatalf("update's show lacks %q:\n%s", w, out)
		}
	}
	if code := send(big); code != 413 {
		t.Fatalf("3000 bytes after --max-message-size 1000: %d, want 413", code)
	}
	for i := range 3 {
		if code := send(fmt.Sprintf("small %d", i)); code != 200 {
			t.Fatalf("small message %d: %d", i, code)
		}
	}
	d.focus.PurgeLogs(ctx)
	h, err := d.store.History(ctx, "limits", "", 10)
	if err != nil || len(h) != 2 || !strings.Contains(string(h[1].Body), "small 2") {
		t.Fatalf("log after --keep-messages 2 and a purge: %d entries, %v", len(h), err)
	}
	if out, err := runRoom(t, d, "update", "limits", "--keep-for", "720h", "--keep-messages", "0"); err != nil || !strings.Contains(out, "log kept  for 720h0m0s") {
		t.Fatalf("--keep-for: %v\n%s", err, out)
	}

	for _, c := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"update", "limits", "--max-message-size", "-1"}, "--max-message-size must not be negative"},
		{[]string{"update", "limits", "--keep-for", "-1h"}, "--keep-for must not be negative"},
		{[]string{"update", "limits", "--keep-messages", "-3"}, "--keep-messages must not be negative"},
	} {
		if _, err := runRoom(t, d, c.args...); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Fatalf("%v: error %v, want %q", c.args, err, c.wantErr)
		}
	}
	for _, attr := range []string{`max-message-size="lots"`, `keep-for="forever"`, `keep-messages="-1"`} {
		delta := etreeDelta(t, `<confInfo xmlns:policy="urn:parleychat:params:xml:ns:room-policy"><policy:room-policy `+attr+`/></confInfo>`)
		if _, err := ccmpClient(d).UpdateRoom(ctx, "limits", delta); err == nil || !strings.Contains(err.Error(), "CCMP 400") ||
			!strings.Contains(err.Error(), "room-policy") {
			t.Fatalf("%s: %v, want CCMP 400 naming room-policy", attr, err)
		}
	}

	// The limits are the room's stored policy: a focus started again on the same data has them.
	if err := d.shutdown(); err != nil {
		t.Fatal(err)
	}
	again := startConfigured(t, cfg)
	defer again.shutdown()
	out, err = runRoom(t, again, "show", "limits")
	if err != nil || !strings.Contains(out, "max size  1000 bytes per message") || !strings.Contains(out, "log kept  for 720h0m0s") {
		t.Fatalf("show after a restart: %v\n%s", err, out)
	}
	alice = joinRoom(t, again, "limits", "alice", "tcp", true)
	joinRoom(t, again, "limits", "bob", "tcp", true)
	tid := alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:limits@example.net", big))
	if code := alice.msrp.response(t, tid).StatusCode; code != 413 {
		t.Fatalf("3000 bytes after a restart: %d, want 413", code)
	}
}
