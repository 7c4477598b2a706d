package sip

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/internal/corpus"
)

// FuzzStatelessOverload: whatever bytes arrive, the scan never panics, and a 503 it builds is a
// response sipgo parses, for the request's Call-ID and CSeq, with a To tag.
func FuzzStatelessOverload(f *testing.F) {
	f.Add([]byte("INVITE sip:lobby@example.net SIP/2.0\r\nVia: SIP/2.0/UDP h;BRANCH=z9hG4bKq, SIP/2.0/UDP g;branch=z9\r\n" +
		"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 2 INVITE\r\n\r\n"))
	f.Add([]byte("INVITE sip:lobby@example.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1\r\n" +
		"From: <sip:a@example.com>;tag=1\r\nTo: <sip:lobby@example.net>\r\nCall-ID: abc\r\nCSeq: 1 INVITE\r\n" +
		"Content-Length: 0\r\n\r\n"))
	f.Add([]byte("INVITE sip:lobby@example.net SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK2, SIP/2.0/UDP g;branch=z9hG4bK3\r\n" +
		"f: <sip:a@example.com>;tag=1\r\nt: <sip:lobby@example.net>\r\ni: x\r\nCSeq: 7 INVITE\r\n\r\nv=0\r\n"))
	f.Add([]byte("INVITE sip:x SIP/2.0\r\nTo: <sip:x>;tag=already\r\n\r\n"))
	cases, err := corpus.Load(filepath.Join("..", "testdata", "malformed", "sip.txt"))
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		f.Add(c.Raw()) // the malformed-input corpus, its variables left unexpanded
	}
	s := &Server{cfg: Config{UserAgent: "Parley", AdvertisedHost: "127.0.0.1"}}
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5099}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, _ := s.statelessOverload(data, src)
		if res == nil {
			return
		}
		req, err := sip.ParseMessage(data)
		if err != nil {
			return // answered though sipgo would not parse it: the 503 is still well-formed below
		}
		msg, err := sip.ParseMessage(res)
		if err != nil {
			t.Fatalf("503 not parsable: %v\n%s", err, res)
		}
		r, ok := msg.(*sip.Response)
		if !ok || r.StatusCode != 503 || r.CallID() == nil || r.To() == nil || !r.To().Params.Has("tag") {
			t.Fatalf("not a 503 with a To tag:\n%s", res)
		}
		if q, ok := req.(*sip.Request); ok && q.CallID() != nil && q.CallID().Value() != r.CallID().Value() {
			t.Fatalf("Call-ID %q answered as %q", q.CallID().Value(), r.CallID().Value())
		}
	})
}

func TestTopBranch(t *testing.T) {
	for via, want := range map[string]string{
		"SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1;received=x": "z9hG4bK1",
		"SIP/2.0/UDP h;BRANCH=z9hG4bKq, SIP/2.0/UDP g;branch=z9":      "z9hG4bKq",
		"SIP/2.0/UDP h;branch=z9hG4bKa ;ttl=1":                        "z9hG4bKa",
		"SIP/2.0/UDP h, SIP/2.0/UDP g;branch=z9":                      "",
	} {
		if got := topBranch([]byte(via)); got != want {
			t.Errorf("%q: %q, want %q", via, got, want)
		}
	}
}
