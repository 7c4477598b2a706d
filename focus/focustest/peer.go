package focustest

import (
	"context"
	"testing"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/msrptest"
	"github.com/parleychat/parley/sdp"
)

// Offer is an SDP offer with one MSRP m-line from path, accepting message/cpim and wrapping
// anything, with private messages: what a chat client sends.
func Offer(t testing.TB, path msrp.URI) *sdp.Session {
	t.Helper()
	offer, err := sdp.Parse([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\n" +
		"a=accept-types:message/cpim\r\na=accept-wrapped-types:*\r\na=path:" + path.String() + "\r\n" +
		"a=setup:active\r\na=chatroom:nickname private-messages\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	return offer
}

// JoinPeer joins sip:USER@example.com to room as Join does, then connects a scripted MSRP peer
// to the focus's path and binds it (RFC 4975 §5.4); the peer ends with the test.
func JoinPeer(t testing.TB, f *focus.Focus, room, user string) *msrptest.Peer {
	t.Helper()
	p := msrptest.New(t)
	_, answers, err := f.Join(context.Background(), focus.JoinRequest{Room: room,
		Identity: focus.Identity{AOR: "sip:" + user + "@example.com"}, Offer: Offer(t, p.Local)})
	if err != nil {
		t.Fatalf("%s joining %s: %v", user, room, err)
	}
	path, err := msrp.ParsePath(answers[0].Path[0])
	if err != nil {
		t.Fatal(err)
	}
	p.Dial(t, path, nil)
	p.Bind(t)
	return p
}
