package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/msrp/cpim"
	"github.com/parleychat/parley/sdp"
)

// pushFile INVITEs the room with one RFC 5547 push m-line (sendonly, a=file-selector) and
// sends the file on the session the focus answers with.
func pushFile(t *testing.T, d *daemon, from, name string, payload []byte, extra ...sip.Header) *sdp.Media {
	t.Helper()
	m := newMSRPPeer(t)
	offer, err := sdp.BuildOffer(sdp.AnswerParams{Username: from, SessionID: 1, SessionVersion: 1, Address: "127.0.0.1"},
		[]sdp.MediaAnswer{{Port: 9, Proto: "TCP/MSRP", Path: []string{m.Local.String()}, Setup: "active", Direction: "sendonly",
			AcceptTypes:    []string{"image/png"},
			FileSelector:   `name:"` + name + `" type:image/png size:` + itoa(len(payload)),
			FileTransferID: "vBnG916bdberum2fFEABfhh5ULR9f8Lr"}})
	if err != nil {
		t.Fatal(err)
	}
	_, res, err := newSIPPeer(t, from, "example.com").inviteAt(t, d.sip.Port(), "files", "tcp", offer, extra...)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("file INVITE: %v %v", res, err)
	}
	ans, err := sdp.Parse(res.Body())
	if err != nil {
		t.Fatal(err)
	}
	a := ans.Media[0]
	m.connect(t, res.Body(), 0)
	if r := m.response(t, m.send("image/png", payload)); r.StatusCode != 200 {
		t.Fatalf("file SEND: %d %s", r.StatusCode, r.Comment)
	}
	return &a
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestFilePushToRoom (session-chat §5.5, RFC 5547): a file pushed to the room URI is answered recvonly
// with the selector and transfer id copied, reaches the room's participants as a CPIM message
// from the sender with Content-Disposition, is kept for later joiners, can be addressed to one
// participant (Subject: its URI), and creates no roster row.
func TestFilePushToRoom(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.Rooms = append(c.Rooms, configs.Room{Name: "files"}) })
	bob := join(t, d, joinOptions{room: "files", name: "bob", transport: "tcp", label: "main"})
	carol := join(t, d, joinOptions{room: "files", name: "carol", transport: "udp", label: "main"})

	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 1, 2, 3}, 3000)...)
	a := pushFile(t, d, "alice", "cat.png", png)
	if a.Direction != "recvonly" || a.FileTransferID != "vBnG916bdberum2fFEABfhh5ULR9f8Lr" || !strings.Contains(a.FileSelector, `name:"cat.png"`) ||
		len(a.AcceptTypes) != 1 || a.AcceptTypes[0] != "image/png" || a.Chatroom != nil {
		t.Fatalf("answer m-line: %+v", a)
	}
	check := func(who *participant, body []byte) {
		t.Helper()
		msg, err := cpim.Parse(body)
		if err != nil {
			t.Fatalf("%s: %v", who.name, err)
		}
		cd, _ := msg.ContentHeader("Content-Disposition")
		if msg.From.URI != "sip:alice@example.com" || msg.ContentType != "image/png" || !bytes.Equal(msg.Body, png) ||
			!strings.Contains(cd, `filename=cat.png`) || !strings.Contains(cd, "size=12008") {
			t.Fatalf("%s got From %s, %s, disposition %q, %d bytes", who.name, msg.From.URI, msg.ContentType, cd, len(msg.Body))
		}
	}
	check(bob, bob.msrp.nextMessage(t).Body)
	check(carol, carol.msrp.nextMessage(t).Body)

	dave := join(t, d, joinOptions{room: "files", name: "dave", transport: "tcp", label: "main"})
	check(dave, dave.msrp.nextMessage(t).Body) // kept for later joiners

	pushFile(t, d, "alice", "secret.png", png[:100], sip.NewHeader("Subject", "sip:bob@example.com"))
	if got := bob.msrp.nextMessage(t).Body; !bytes.Contains(got, []byte("secret.png")) {
		t.Fatalf("bob did not get the private file: %.120q", got)
	}
	sentinel := cpimBody("sip:bob@example.com", "sip:files@example.net", "sentinel")
	bob.msrp.send("message/cpim", sentinel)
	if got := carol.msrp.nextMessage(t).Body; !bytes.Equal(got, sentinel) {
		t.Fatalf("carol got %.120q before the sentinel: the private file leaked", got)
	}
	if conf := d.focus.Room("files").Snapshot(); conf.User("xcon-userid:alice@example.com") != nil {
		t.Fatal("a file push created a roster row")
	}
}
