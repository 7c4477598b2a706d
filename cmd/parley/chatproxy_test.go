package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/configs"
)

// TestChatThroughProxy: `parley chat --proxy` reaches a room by its domain through a SIP proxy
// (Kamailio in front of the focus) and its message reaches a participant who joined directly.
func TestChatThroughProxy(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.HostAliases = []string{proxyAlias} })
	proxy := startSIPProxy(t, d.sip.Port())
	bob := startChat(t, d, "bob", chatOptions{nick: "bob"})
	bob.expect(t, "known as bob")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	err := runChat(ctx, chatOptions{room: "sip:lobby@example.net", proxy: fmt.Sprintf("sip:127.0.0.1:%d", proxy),
		from: "sip:alice@example.com", send: "hello through the proxy", logger: testLogger()}, strings.NewReader(""), &out)
	if err != nil {
		t.Fatalf("chat --send through the proxy: %v", err)
	}
	bob.expect(t, "hello through the proxy")
}

// TestChatOverTLS: `parley chat --transport tls` joins over SIP TLS (the daemon's self-signed
// certificate accepted with --insecure) and talks with a client on TCP.
func TestChatOverTLS(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.SIP.TLSListen = "127.0.0.1:0" })
	bob := startChat(t, d, "bob", chatOptions{nick: "bob"})
	bob.expect(t, "known as bob")
	alice := startChat(t, d, "alice", chatOptions{nick: "alice", transport: "tls", insecure: true,
		room: fmt.Sprintf("sip:lobby@127.0.0.1:%d", d.sip.TLSPort())})
	alice.expect(t, "known as alice")
	alice.say(t, "hello over TLS")
	bob.expect(t, "<alice> hello over TLS")
	bob.say(t, "hello back")
	alice.expect(t, "<bob> hello back")
}

// TestChatRosterThroughProxy: a chat client behind the proxy gets the roster too: its SUBSCRIBE
// goes through the proxy and the NOTIFYs find their way back to it, so it shows bob by the
// nickname only the roster carries.
func TestChatRosterThroughProxy(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.HostAliases = []string{proxyAlias} })
	proxy := startSIPProxy(t, d.sip.Port())
	bob := startChat(t, d, "bob", chatOptions{nick: "Bobby"})
	bob.expect(t, "known as Bobby")
	alice := startChat(t, d, "alice", chatOptions{room: "sip:lobby@example.net", proxy: fmt.Sprintf("sip:127.0.0.1:%d", proxy),
		from: "sip:alice@example.com"})
	alice.say(t, "/who")
	alice.expect(t, "Bobby")
	bob.say(t, "hello alice")
	alice.expect(t, "<Bobby> hello alice")
}
