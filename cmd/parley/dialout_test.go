package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
)

// TestCCMPDialOutPolicy (RFC 6503 §3.2): with ccmp.dial_out on, adding a dial-out target to a
// room's allowed-users-list makes the focus call it into the room (through sip.outbound_proxy);
// the CCMP answer does not wait.
func TestCCMPDialOutPolicy(t *testing.T) {
	carol := newInvitee(t, "carol")
	d := startTestDaemon(t, func(c *configs.Config) {
		c.CCMP.DialOut = true
		c.Rooms = append(c.Rooms, configs.Room{Name: "call"})
		// Calls the focus originates go through the outbound proxy; here carol's agent stands in
		// for it, since the target is stored by its address of record (no port).
		c.SIP.OutboundProxy = carol.uri.String()
	})
	c := &ccmp.Client{URL: "http://" + d.httpAddr.String() + "/ccmp", UserID: "xcon-userid:admin@example.net"}
	delta := etreeDelta(t, fmt.Sprintf(`<confInfo xmlns:info="urn:ietf:params:xml:ns:conference-info" xmlns:xcon="urn:ietf:params:xml:ns:xcon-conference-info">
	  <info:users><xcon:allowed-users-list><xcon:target uri="%s" method="dial-out"/></xcon:allowed-users-list></info:users></confInfo>`, carol.uri.String()))
	if _, err := c.UpdateRoom(context.Background(), "call", delta); err != nil {
		t.Fatal(err)
	}
	select {
	case <-carol.invites:
	case <-time.After(20 * time.Second):
		t.Fatal("the focus did not call the dial-out target")
	}
	select {
	case <-carol.accepted: // the answer said passive: the focus connected to carol
	case <-time.After(20 * time.Second):
		t.Fatal("the focus did not open the MSRP connection to the dialled-out user")
	}
}
