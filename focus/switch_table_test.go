package focus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/focus/focustest"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
	"github.com/parleychat/parley/xcon"
)

// cpimFrom is a CPIM message from sip:FROM@example.com to each of to, wrapping inner.
func cpimFrom(from string, inner string, text string, to ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: <sip:%s@example.com>\r\n", from)
	for _, t := range to {
		fmt.Fprintf(&b, "To: <%s>\r\n", t)
	}
	fmt.Fprintf(&b, "DateTime: 2026-11-25T20:00:00Z\r\n\r\nContent-Type: %s\r\n\r\n%s", inner, text)
	return b.Bytes()
}

// TestHandleMessageRules: the switch's rules (RFC 7701 §6) on what alice sends over a real MSRP
// connection, one SEND a row: its answer, and whether bob, in the room with private messages,
// gets the body byte for byte.
func TestHandleMessageRules(t *testing.T) {
	const room = "sip:room@example.net"
	for _, c := range []struct {
		name        string
		contentType string
		body        []byte
		code        int
		bobGets     bool
	}{
		{"room message", "message/cpim", cpimFrom("alice", "text/plain", "hi all", room), 200, true},
		{"private message", "message/cpim", cpimFrom("alice", "text/plain", "hi bob", "sip:bob@example.com"), 200, true},
		{"not CPIM", "text/plain", []byte("hi"), msrp.StatusUnsupportedMedia, false},
		{"malformed CPIM", "message/cpim", []byte("no headers at all"), msrp.StatusBadRequest, false},
		{"From another user", "message/cpim", cpimFrom("mallory", "text/plain", "hi", room), msrp.StatusForbidden, false},
		{"two To", "message/cpim", cpimFrom("alice", "text/plain", "hi", room, "sip:bob@example.com"), msrp.StatusForbidden, false},
		{"no To", "message/cpim", cpimFrom("alice", "text/plain", "hi"), msrp.StatusForbidden, false},
		{"CPIM in CPIM", "message/cpim", cpimFrom("alice", "message/cpim", "From: <sip:x@example.com>\r\n\r\n", room), msrp.StatusUnsupportedMedia, false},
		{"private to a stranger", "message/cpim", cpimFrom("alice", "text/plain", "hi", "sip:nobody@example.com"), msrp.StatusNotFound, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, _ := newTestFocus(t)
			bob := focustest.JoinPeer(t, f, "room", "bob")
			alice := focustest.JoinPeer(t, f, "room", "alice")
			tid := alice.Send(c.contentType, c.body)
			alice.Expect(t, tid, c.code)
			// A marker from alice, always relayed, tells what bob got before it.
			marker := cpimFrom("alice", "text/plain", "marker", room)
			alice.Expect(t, alice.Send("message/cpim", marker), 200)
			var got [][]byte
			for {
				m := bob.NextRequest(t)
				if m.Method != "SEND" || len(m.Body) == 0 || bytes.Contains(m.Body, []byte("From: <sip:room@example.net>")) {
					continue // the room's own notices
				}
				if bytes.Equal(m.Body, marker) {
					break
				}
				got = append(got, m.Body)
			}
			if c.bobGets != (len(got) == 1 && bytes.Equal(got[0], c.body)) || (!c.bobGets && len(got) != 0) {
				t.Fatalf("bob got %q, want the body: %v", got, c.bobGets)
			}
		})
	}
}

// TestJoinRules: Join's answer to an offer (one m-line a row) and to the room's state: the
// error, and for an admitted offer, which lines got a port.
func TestJoinRules(t *testing.T) {
	no, one := false, uint32(1)
	line := func(proto, accept string) string {
		return "m=message 9 " + proto + " *\r\na=accept-types:" + accept + "\r\na=path:msrp://127.0.0.1:9/s1;tcp\r\n"
	}
	msrpLine := line("TCP/MSRP", "message/cpim")
	for _, c := range []struct {
		name     string
		lines    []string // m-lines of the offer
		change   func(c *xcon.Conference)
		present  string // a user in the room first
		password string
		want     error
		accepted []bool // per line, when admitted
	}{
		{name: "one MSRP line", lines: []string{msrpLine}, accepted: []bool{true}},
		{name: "audio only", lines: []string{"m=audio 4000 RTP/AVP 0\r\n"}, want: focus.ErrNotAcceptable},
		{name: "no message/cpim", lines: []string{line("TCP/MSRP", "text/plain")}, want: focus.ErrNotAcceptable},
		{name: "TLS unconfigured", lines: []string{line("TCP/TLS/MSRP", "message/cpim")}, want: focus.ErrNotAcceptable},
		{name: "audio and MSRP", lines: []string{"m=audio 4000 RTP/AVP 0\r\n", msrpLine}, accepted: []bool{false, true}},
		{name: "inactive room", lines: []string{msrpLine}, change: func(c *xcon.Conference) { c.State.Active = &no }, want: focus.ErrForbidden},
		{name: "join-handling block", lines: []string{msrpLine}, change: func(c *xcon.Conference) { c.JoinHandling = "block" }, want: focus.ErrForbidden},
		{name: "locked roster", lines: []string{msrpLine}, change: func(c *xcon.Conference) { yes := true; c.State.Locked = &yes }, want: focus.ErrForbidden},
		{name: "full", lines: []string{msrpLine}, present: "first", change: func(c *xcon.Conference) { c.Description.MaximumUserCount = &one }, want: focus.ErrRoomFull},
		{name: "denied", lines: []string{msrpLine}, change: func(c *xcon.Conference) { c.DenyUsers = []xcon.Target{{URI: "sip:ann@example.com"}} }, want: focus.ErrForbidden},
		{name: "password missing", lines: []string{msrpLine}, change: setPassword("s3cret"), want: focus.ErrPasswordRequired},
		{name: "password wrong", lines: []string{msrpLine}, change: setPassword("s3cret"), password: "guess", want: focus.ErrPasswordInvalid},
		{name: "password right", lines: []string{msrpLine}, change: setPassword("s3cret"), password: "s3cret", accepted: []bool{true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := roomIn(t, c.present, c.change)
			text := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
			for _, l := range c.lines {
				text += l
			}
			offer, err := sdp.Parse([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			before := f.Present()
			p, answers, err := f.Join(context.Background(), focus.JoinRequest{Room: "room",
				Identity: focus.Identity{AOR: "sip:ann@example.com", Password: c.password}, Offer: offer})
			if !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
				t.Fatalf("Join: %v, want %v", err, c.want)
			}
			if err != nil {
				if n := f.Present(); n != before {
					t.Fatalf("a refused join left %d participants, want %d", n, before)
				}
				return
			}
			defer f.Leave(p)
			if len(answers) != len(c.lines) {
				t.Fatalf("%d answers for %d lines", len(answers), len(c.lines))
			}
			for i, a := range answers {
				if (a.Port != 0) != c.accepted[i] {
					t.Errorf("line %d answered port %d, want accepted=%v", i, a.Port, c.accepted[i])
				}
			}
		})
	}
	f, _ := newTestFocus(t)
	if _, _, err := f.Join(context.Background(), focus.JoinRequest{Room: "nowhere", Identity: focus.Identity{AOR: "sip:ann@example.com"},
		Offer: focustest.Offer(t, msrp.URI{Host: "127.0.0.1", Port: 9, SessionID: "s1", Transport: "tcp"})}); !errors.Is(err, focus.ErrRoomNotFound) {
		t.Fatalf("Join of no room: %v", err)
	}
}

func setPassword(pw string) func(c *xcon.Conference) {
	return func(c *xcon.Conference) {
		c.Description.ConfURIs = append(c.Description.ConfURIs, xcon.URIEntry{URI: "sip:room@example.net", Password: pw})
	}
}

// roomIn is a focus whose room "room" holds present (when not "") and then takes change (when
// not nil): the state a table row describes.
func roomIn(t *testing.T, present string, change func(c *xcon.Conference)) *focus.Focus {
	t.Helper()
	f, _ := newTestFocus(t)
	if present != "" {
		joinSDP(t, f, present)
	}
	if change != nil {
		if _, err := f.UpdateRoom(context.Background(), "room", func(conf *xcon.Conference) error { change(conf); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return f
}
