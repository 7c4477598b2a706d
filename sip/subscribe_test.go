package sip_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/focus/focustest"
	"github.com/parleychat/parley/sip"
	"github.com/parleychat/parley/xcon"
)

// startFocus serves the room "room" of example.net: a focus (focustest) and its SIP server on
// loopback. It returns the focus and the SIP port.
func startFocus(t *testing.T) (*focus.Focus, int) {
	t.Helper()
	f, _ := focustest.Start(t, focus.RoomSpec{Name: "room"})
	s, err := sip.New(sip.Config{Listen: "127.0.0.1:0", AdvertisedHost: "127.0.0.1", Domain: focustest.Domain, Logger: focustest.Quiet}, f)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { _ = s.Serve(ctx); close(served) }()
	t.Cleanup(func() { cancel(); <-served; s.Close() })
	return f, s.Port()
}

// subscribe sends from a UDP socket of its own an initial SUBSCRIBE to the conference event
// package of uri as sip:USER@example.com, and returns the status code of the answer.
func subscribe(t *testing.T, port int, uri, user string) int {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	local := conn.LocalAddr().String()
	id := fmt.Sprintf("%d", time.Now().UnixNano())
	req := "SUBSCRIBE " + uri + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + id + ";rport\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:" + user + "@example.com>;tag=" + id + "\r\n" +
		"To: <" + uri + ">\r\n" +
		"Call-ID: " + id + "@" + local + "\r\n" +
		"CSeq: 1 SUBSCRIBE\r\n" +
		"Contact: <sip:" + user + "@" + local + ">\r\n" +
		"Event: conference\r\n" +
		"Expires: 60\r\n" +
		"Accept: application/conference-info+xml\r\n" +
		"Content-Length: 0\r\n\r\n"
	if _, err := conn.WriteTo([]byte(req), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("SUBSCRIBE %s as %s: no answer: %v", uri, user, err)
		}
		var code int
		if _, err := fmt.Sscanf(string(buf[:n]), "SIP/2.0 %d", &code); err == nil && code >= 200 {
			return code
		}
		// A provisional answer, or the first NOTIFY overtaking the 200 (RFC 6665 §4.1.2.4
		// allows it): the final answer is still to come.
	}
}

// TestSubscribeFollowsFocusPolicy: whether a conference-event SUBSCRIBE is taken is the focus's
// decision (focus.MayWatch), the room's state and lists as CCMP or a moderator left them; the
// SIP side only translates it into a status code.
func TestSubscribeFollowsFocusPolicy(t *testing.T) {
	no := false
	for _, c := range []struct {
		name   string
		change func(c *xcon.Conference)
		uri    string
		user   string
		want   int
	}{
		{name: "open room", uri: "sip:room@example.net", user: "ann", want: 200},
		{name: "no such room", uri: "sip:nowhere@example.net", user: "ann", want: 404},
		{name: "subscriptions off", change: func(c *xcon.Conference) { c.State.AllowConferenceEventSubscription = &no },
			uri: "sip:room@example.net", user: "ann", want: 403},
		{name: "inactive room", change: func(c *xcon.Conference) { c.State.Active = &no },
			uri: "sip:room@example.net", user: "ann", want: 403},
		{name: "denied under another spelling", change: func(c *xcon.Conference) { c.DenyUsers = []xcon.Target{{URI: "sip:Ann@EXAMPLE.com"}} },
			uri: "sip:room@example.net", user: "ann", want: 403},
		{name: "members-only room, a member", change: func(c *xcon.Conference) { c.AllowedUsers = []xcon.Target{{URI: "sip:ann@example.com"}} },
			uri: "sip:room@example.net", user: "ann", want: 200},
		{name: "members-only room, a stranger", change: func(c *xcon.Conference) { c.AllowedUsers = []xcon.Target{{URI: "sip:ann@example.com"}} },
			uri: "sip:room@example.net", user: "bert", want: 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, port := startFocus(t)
			if c.change != nil {
				if _, err := f.UpdateRoom(context.Background(), "room", func(conf *xcon.Conference) error { c.change(conf); return nil }); err != nil {
					t.Fatal(err)
				}
			}
			if got := subscribe(t, port, c.uri, c.user); got != c.want {
				t.Fatalf("SUBSCRIBE %s as %s: %d, want %d", c.uri, c.user, got, c.want)
			}
		})
	}
}
