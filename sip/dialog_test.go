package sip

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestDialogBuildsInDialogRequests: a request of ours in a confirmed dialog carries the dialog's
// From (our tag), To (theirs), Call-ID, a CSeq one above the last, the route set as Route headers
// in order, our Contact, and goes to the first route (RFC 3261 §12.2.1.1) or, with no route set,
// to where the INVITE came from.
func TestDialogBuildsInDialogRequests(t *testing.T) {
	inv := sip.NewRequest(sip.INVITE, sip.Uri{User: "lobby", Host: "chat.example.com"})
	inv.AppendHeader(sip.NewHeader("Via", "SIP/2.0/TCP 192.0.2.7:5060;branch=z9hG4bK1"))
	inv.AppendHeader(sip.NewHeader("From", "<sip:alice@example.com>;tag=theirs"))
	inv.AppendHeader(sip.NewHeader("To", "<sip:lobby@chat.example.com>;tag=ours"))
	inv.AppendHeader(sip.NewHeader("Call-ID", "call-1"))
	inv.AppendHeader(sip.NewHeader("CSeq", "7 INVITE"))
	inv.AppendHeader(sip.NewHeader("Contact", "<sip:alice@198.51.100.9:5070;transport=tcp>"))
	inv.AppendHeader(sip.NewHeader("Record-Route", "<sip:proxy1.example.com;lr>"))
	inv.AppendHeader(sip.NewHeader("Record-Route", "<sip:proxy2.example.com;lr>"))
	inv.SetTransport("TCP")
	inv.SetSource("192.0.2.7:5060")
	parsed, err := sip.ParseMessage([]byte(inv.String()))
	if err != nil {
		t.Fatal(err)
	}
	req := parsed.(*sip.Request)
	req.SetTransport("TCP")
	req.SetSource("192.0.2.7:5060")

	contact := &sip.ContactHeader{Address: sip.Uri{User: "lobby", Host: "chat.example.com"}}
	d := newDialogFrom(req, "dlg-1", nil, contact, "192.0.2.7")
	for i, wantSeq := range []uint32{8, 9} {
		bye := sip.NewRequest(sip.BYE, *d.target.Clone())
		d.build(bye)
		if got := bye.CSeq(); got.SeqNo != wantSeq || got.MethodName != sip.BYE {
			t.Fatalf("request %d: CSeq %v, want %d BYE", i, got, wantSeq)
		}
		if tag, _ := bye.From().Params.Get("tag"); tag != "ours" || bye.From().Address.User != "lobby" {
			t.Fatalf("From %v, want ours", bye.From())
		}
		if tag, _ := bye.To().Params.Get("tag"); tag != "theirs" || bye.To().Address.User != "alice" {
			t.Fatalf("To %v, want theirs", bye.To())
		}
		if bye.CallID().Value() != "call-1" || bye.Contact() == nil || bye.Contact().Address.User != "lobby" {
			t.Fatalf("Call-ID %v Contact %v", bye.CallID(), bye.Contact())
		}
		routes := bye.GetHeaders("Route")
		if len(routes) != 2 || routes[0].Value() != "<sip:proxy1.example.com;lr>" || routes[1].Value() != "<sip:proxy2.example.com;lr>" {
			t.Fatalf("Route %v, want the route set in order", routes)
		}
		if host, _, _ := strings.Cut(bye.Destination(), ":"); host != "proxy1.example.com" || bye.Transport() != "TCP" {
			t.Fatalf("sent to %s over %s, want the first route over TCP", bye.Destination(), bye.Transport())
		}
		if bye.Recipient.Host != "198.51.100.9" {
			t.Fatalf("Request-URI %v, want the remote target", bye.Recipient)
		}
	}

	// Without a route set the request goes where the INVITE came from (a client behind NAT).
	for req.GetHeader("Record-Route") != nil {
		req.RemoveHeader("Record-Route")
	}
	d = newDialogFrom(req, "dlg-2", nil, contact, "192.0.2.7")
	bye := sip.NewRequest(sip.BYE, *d.target.Clone())
	d.build(bye)
	if bye.Route() != nil || bye.Destination() != "192.0.2.7:5060" {
		t.Fatalf("sent to %s (Route %v), want the INVITE's source", bye.Destination(), bye.Route())
	}
}
