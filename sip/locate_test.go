package sip

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestStrictRoute (RFC 3261 §12.2.1.1): only a dialog request whose first Route lacks lr is
// rewritten: the router's URI (without method) becomes the Request-URI, the rest of the route set
// follows, and the remote target goes last.
func TestStrictRoute(t *testing.T) {
	build := func(inDialog bool, routes ...string) *sip.Request {
		req := sip.NewRequest(sip.BYE, sip.Uri{Scheme: "sip", User: "bob", Host: "192.0.2.9", Port: 5070})
		to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "bob", Host: "example.com"}, Params: sip.NewParams()}
		if inDialog {
			to.Params.Add("tag", "t1")
		}
		req.AppendHeader(to)
		for _, r := range routes {
			req.AppendHeader(sip.NewHeader("Route", r))
		}
		return req
	}
	req := build(true, "<sip:old.example.net;method=BYE>", "<sip:next.example.net;lr>")
	if !strictRoute(req) {
		t.Fatal("strict router not recognised")
	}
	var got []string
	for _, h := range req.GetHeaders("Route") {
		got = append(got, h.Value())
	}
	if req.Recipient.String() != "sip:old.example.net" || len(got) != 2 || got[0] != "<sip:next.example.net;lr>" ||
		got[1] != "<sip:bob@192.0.2.9:5070>" {
		t.Fatalf("Request-URI %s, Route %q", req.Recipient.String(), got)
	}
	for name, req := range map[string]*sip.Request{
		"loose router":   build(true, "<sip:proxy.example.net;lr>"),
		"no route set":   build(true),
		"outside dialog": build(false, "<sip:proxy.example.net>"),
	} {
		before := req.String()
		if strictRoute(req) || req.String() != before {
			t.Errorf("%s: rewritten to\n%s", name, req)
		}
	}
}

// TestLocateLeavesAddressesAlone: a next hop given as an IPv4 or IPv6 address (sipgo keeps the
// brackets of the latter) needs no DNS; only a domain name is looked up.
func TestLocateLeavesAddressesAlone(t *testing.T) {
	l := &locator{dns: newResolver("127.0.0.1:9"), log: slog.New(slog.DiscardHandler)} // nothing answers there
	for _, target := range []string{"sip:bob@127.0.0.1:5070", "sip:bob@[::1]:5070;transport=tcp", "sip:bob@[2001:db8::1]"} {
		var u sip.Uri
		if err := sip.ParseUri(target, &u); err != nil {
			t.Fatal(err)
		}
		hops, err := l.locate(t.Context(), sip.NewRequest(sip.INVITE, u), false)
		if err != nil || hops != nil {
			t.Errorf("%s: hops %v, err %v", target, hops, err)
		}
	}
	var u sip.Uri
	_ = sip.ParseUri("sip:bob@unresolvable.invalid:5070", &u)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if _, err := l.locate(ctx, sip.NewRequest(sip.INVITE, u), false); err == nil {
		t.Error("a domain no DNS server answers for was located")
	}
}
