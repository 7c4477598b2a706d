package main

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/sdp"
)

// TestFileInterleavedWithChat (session-chat §5.5): a 5 MiB file relayed to a participant does not hold
// back chat lines sent after it: they overtake the file's remaining chunks. Made deterministic
// by order, not time: bob reads nothing until the file and the chat lines are all queued for
// him at the focus; then the chat lines must arrive before the file completes. The file, with
// its Content-Disposition, arrives byte for byte; a participant whose a=max-size is smaller
// is not sent it.
func TestFileInterleavedWithChat(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		c.MSRP.MaxMessageSize = 8 << 20
		c.MSRP.MaxPendingBytes = 64 << 20
		c.Rooms = append(c.Rooms, configs.Room{Name: "files"})
	})
	alice := join(t, d, joinOptions{room: "files", name: "alice", transport: "tcp", label: "main"})
	carol := join(t, d, joinOptions{room: "files", name: "carol", transport: "tcp", label: "main"})
	small := &participant{name: "dora", sip: newSIPPeer(t, "dora", "example.com"), msrp: newMSRPPeer(t)}
	bobPeer := newMSRPPeer(t)
	bobPeer.small = true
	bob := &participant{name: "bob", sip: newSIPPeer(t, "bob", "example.com"), msrp: bobPeer}
	for _, p := range []*participant{bob, small} {
		offer := p.msrp.offer(t, "main")
		if p == small {
			offer = bytes.Replace(offer, []byte("a=path:"), []byte("a=max-size:65536\r\na=path:"), 1)
		}
		_, res, err := p.sip.invite(t, d, "files", "tcp", offer)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s INVITE: %v %v", p.name, res, err)
		}
		if _, err := sdp.Parse(res.Body()); err != nil {
			t.Fatal(err)
		}
		p.msrp.connect(t, res.Body(), 0)
	}
	bob.msrp.pause()

	payload := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16) // 5 MiB
	file := []byte("From: <sip:alice@example.com>\r\nTo: <sip:files@example.net>\r\nDateTime: 2026-11-25T20:00:00Z\r\n\r\n" +
		"Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"blob.bin\"; size=5242880\r\n\r\n")
	file = append(file, payload...)
	if r := alice.msrp.response(t, alice.msrp.send("message/cpim", file)); r.StatusCode != 200 {
		t.Fatalf("file: %d %s", r.StatusCode, r.Comment)
	}
	var lines [][]byte
	for i := 0; i < 3; i++ {
		line := cpimBody("sip:carol@example.com", "sip:files@example.net", fmt.Sprintf("chat line %d", i))
		lines = append(lines, line)
		if r := carol.msrp.response(t, carol.msrp.send("message/cpim", line)); r.StatusCode != 200 {
			t.Fatalf("chat line %d: %d", i, r.StatusCode)
		}
	}
	bob.msrp.resume()

	var order []string
	for len(order) < 4 {
		got := bob.msrp.nextMessage(t)
		switch {
		case bytes.Equal(got.Body, file):
			order = append(order, "file")
		case bytes.Contains(got.Body, []byte("chat line")):
			order = append(order, string(got.Body[bytes.LastIndex(got.Body, []byte("chat line")):]))
		default:
			t.Fatalf("bob got %d unexpected bytes", len(got.Body))
		}
	}
	if order[3] != "file" {
		t.Fatalf("arrival order %v: the chat lines should have overtaken the file", order)
	}
	for i, want := range []string{"chat line 0", "chat line 1", "chat line 2"} {
		if order[i] != want {
			t.Fatalf("arrival order %v", order)
		}
	}
	// dora said a=max-size:65536: she gets the chat lines but never the file.
	for i := 0; i < 3; i++ {
		if got := small.msrp.nextMessage(t); !bytes.Equal(got.Body, lines[i]) {
			t.Fatalf("dora's message %d is %d bytes, not chat line %d", i, len(got.Body), i)
		}
	}
}
