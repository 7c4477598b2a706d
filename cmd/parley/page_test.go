package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/internal/peers"
	"github.com/parleychat/parley/xcon"
)

// pageClient is a page-mode (RFC 3428) softphone on sipgo: it sends MESSAGEs to a room and
// answers the MESSAGEs the focus sends it with 200, keeping them.
type pageClient struct {
	name, transport string
	password        string // answers a Digest challenge as user name when set
	client          *sipgo.Client
	got             chan *sip.Request
	refuse          atomic.Int32 // when set, the client answers the focus's MESSAGEs with this code; -1: not at all
	hold            atomic.Pointer[chan struct{}]
	accept          string // the Accept header of its MESSAGEs, when set
}

func newPageClient(t *testing.T, name, transport string) *pageClient {
	t.Helper()
	_, client, srv := newTestUA(t, name, "127.0.0.1")
	c := &pageClient{name: name, transport: transport, client: client, got: make(chan *sip.Request, 64)}
	srv.OnMessage(func(req *sip.Request, tx sip.ServerTransaction) {
		if h := c.hold.Load(); h != nil {
			<-*h // answered once the test releases it
		}
		switch code := int(c.refuse.Load()); {
		case code < 0:
			return // a client that has stopped answering
		case code != 0:
			_ = tx.Respond(sip.NewResponseFromRequest(req, code, "Refused", nil))
			return
		}
		// Kept before it is answered: the focus sends the next MESSAGE on the 200, and its
		// handler must not overtake this one on the way into got.
		c.got <- req
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	return c
}

// send sends a MESSAGE with body to room and returns the final response.
func (c *pageClient) send(t *testing.T, d *daemon, room, contentType string, body []byte) *sip.Response {
	t.Helper()
	target := sip.Uri{Scheme: "sip", User: room, Host: "127.0.0.1", Port: d.sip.Port(), UriParams: sip.NewParams()}
	if c.transport != "udp" {
		target.UriParams.Add("transport", c.transport)
	}
	req := sip.NewRequest(sip.MESSAGE, target)
	if c.transport != "udp" {
		req.SetTransport(strings.ToUpper(c.transport))
	}
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: c.name, Host: "example.com"}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: room, Host: "example.net"}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	if c.accept != "" {
		req.AppendHeader(sip.NewHeader("Accept", c.accept))
	}
	req.SetBody(body)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.client.Do(ctx, req)
	if err == nil && res.StatusCode == 401 && c.password != "" {
		res, err = c.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: c.name, Password: c.password})
	}
	if err != nil {
		t.Fatalf("%s MESSAGE: %v", c.name, err)
	}
	return res
}

func (c *pageClient) say(t *testing.T, d *daemon, room, text string) *sip.Response {
	t.Helper()
	return c.send(t, d, room, "text/plain;charset=utf-8", []byte(text))
}

// next waits for the next MESSAGE from the focus and checks that it comes from the room.
func (c *pageClient) next(t *testing.T, room string) *sip.Request {
	t.Helper()
	select {
	case req := <-c.got:
		if req.From() == nil || req.From().Address.User != room || req.From().Address.Host != "example.net" {
			t.Fatalf("%s: MESSAGE not from the room: From %v", c.name, req.From())
		}
		if req.To() == nil || req.To().Address.User != c.name {
			t.Fatalf("%s: MESSAGE To %v", c.name, req.To())
		}
		return req
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: no MESSAGE from the focus", c.name)
	}
	return nil
}

// nextText waits for the next MESSAGE whose body contains want, skipping others (notices).
func (c *pageClient) nextText(t *testing.T, room, want string) *sip.Request {
	t.Helper()
	for i := 0; i < 8; i++ {
		req := c.next(t, room)
		if bytes.Contains(req.Body(), []byte(want)) {
			return req
		}
	}
	t.Fatalf("%s: no MESSAGE containing %q", c.name, want)
	return nil
}

// quiet checks that no MESSAGE reaches the client for a moment.
func (c *pageClient) quiet(t *testing.T) {
	t.Helper()
	select {
	case req := <-c.got:
		t.Fatalf("%s: unexpected MESSAGE %q", c.name, req.Body())
	case <-time.After(300 * time.Millisecond):
	}
}

// pageUser returns the room's live user with aor, or nil.
func pageUser(d *daemon, room, aor string) *xcon.User {
	for _, u := range present(d.focus.Room(room).Snapshot().Users) {
		for _, a := range u.AssociatedAORs {
			if a == aor {
				return u
			}
		}
	}
	return nil
}

// nextCPIM reads the MSRP peer's next SEND (responses skipped).
func nextCPIM(t *testing.T, p *participant) []byte {
	t.Helper()
	for {
		f := p.msrp.next(t)
		if f.IsResponse() {
			continue
		}
		if f.ContentType != "message/cpim" {
			t.Fatalf("%s: SEND of %q", p.name, f.ContentType)
		}
		return f.Body
	}
}

// TestPageModeMember: a MESSAGE softphone and an MSRP member in lobby (logged). The first
// MESSAGE makes its sender a page-mode member (a row with the page-mode mark, in the roster),
// answered 202; the MSRP member gets it as CPIM from the sender's identity; the MSRP member's
// message reaches the page-mode member as a MESSAGE; the MSRP member's own MESSAGE is relayed
// as its own without a second row; /leave takes the page-mode member out.
func TestPageModeMember(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			xmllint := peers.Xmllint(t)
			d := startTestDaemon(t, nil)
			alice := joinLobby(t, d, "alice", "tcp")
			w := newSubscriber(t, "watcher", "tcp")
			if res := w.subscribe(t, d, "lobby", 600); res.StatusCode != 200 {
				t.Fatalf("SUBSCRIBE: %d", res.StatusCode)
			}
			w.next(t, xmllint)

			paula := newPageClient(t, "paula", transport)
			if res := paula.say(t, d, "lobby", "hello room"); res.StatusCode != 202 {
				t.Fatalf("first MESSAGE: %d %s", res.StatusCode, res.Reason)
			}
			// The logging notice comes first, as it does for an MSRP joiner.
			if n := paula.next(t, "lobby"); !bytes.Contains(n.Body(), []byte("logged")) ||
				!strings.HasPrefix(n.ContentType().Value(), "text/plain") {
				t.Fatalf("first MESSAGE to paula: %s %q", n.ContentType().Value(), n.Body())
			}
			got := nextCPIM(t, alice)
			if !bytes.Contains(got, []byte("From: <sip:paula@example.com>")) || !bytes.Contains(got, []byte("\r\n\r\nhello room")) ||
				!bytes.Contains(got, []byte("To: <sip:lobby@example.net>")) {
				t.Fatalf("alice got %q", got)
			}

			u := pageUser(d, "lobby", "sip:paula@example.com")
			if u == nil || len(u.Endpoints) != 1 || u.Endpoints[0].Status != "connected" || !u.Endpoints[0].PageMode() ||
				u.Entity != "xcon-userid:paula@example.com" || u.Endpoints[0].Entity == "" {
				t.Fatalf("paula's row: %+v", u)
			}
			n := w.next(t, xmllint)
			if pu := w.rosterUser("sip:paula@example.com"); pu == nil || !strings.Contains(n.body, "page-mode") {
				t.Fatalf("roster after paula's MESSAGE:\n%s", n.body)
			}

			// The MSRP member's message reaches paula, shown with who wrote it.
			alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "hi paula"))
			m := paula.nextText(t, "lobby", "hi paula")
			if string(m.Body()) != "alice@example.com: hi paula" || !strings.HasPrefix(m.ContentType().Value(), "text/plain") {
				t.Fatalf("paula got %s %q", m.ContentType().Value(), m.Body())
			}

			// alice also sends MESSAGE: relayed as hers, no second row, not back to her.
			alicePage := newPageClient(t, "alice", transport)
			if res := alicePage.say(t, d, "lobby", "by page"); res.StatusCode != 202 {
				t.Fatalf("alice's MESSAGE: %d", res.StatusCode)
			}
			if m := paula.nextText(t, "lobby", "by page"); string(m.Body()) != "alice@example.com: by page" {
				t.Fatalf("paula got %q", m.Body())
			}
			if a := pageUser(d, "lobby", "sip:alice@example.com"); a == nil || len(a.Endpoints) != 1 || a.Endpoints[0].PageMode() {
				t.Fatalf("alice's row after her MESSAGE: %+v", a)
			}
			if n := len(present(d.focus.Room("lobby").Snapshot().Users)); n != 2 {
				t.Fatalf("%d users present, want 2", n)
			}
			alicePage.quiet(t)

			// A later MESSAGE from paula joins nobody new and reaches alice.
			if res := paula.say(t, d, "lobby", "second"); res.StatusCode != 202 {
				t.Fatalf("second MESSAGE: %d", res.StatusCode)
			}
			if got := nextCPIM(t, alice); !bytes.Contains(got, []byte("\r\n\r\nsecond")) {
				t.Fatalf("alice got %q", got)
			}
			// The page messages are in the log, as MSRP ones are, by their senders' ids, before
			// their 202 (the log accepted them first).
			log, err := d.store.History(context.Background(), "lobby", "", 10)
			if err != nil {
				t.Fatal(err)
			}
			var logged []string
			for _, e := range log {
				if bytes.Contains(e.Body, []byte("hello room")) || bytes.Contains(e.Body, []byte("by page")) || bytes.Contains(e.Body, []byte("second")) {
					logged = append(logged, e.SenderID)
				}
			}
			if strings.Join(logged, " ") != "xcon-userid:paula@example.com xcon-userid:alice@example.com xcon-userid:paula@example.com" {
				t.Fatalf("logged page messages by %v", logged)
			}

			// A private message from the page-mode member to the MSRP member.
			if res := paula.say(t, d, "lobby", "/msg sip:alice@example.com psst"); res.StatusCode != 202 {
				t.Fatalf("/msg: %d", res.StatusCode)
			}
			if got := nextCPIM(t, alice); !bytes.Contains(got, []byte("To: <sip:alice@example.com>")) || !bytes.Contains(got, []byte("\r\n\r\npsst")) {
				t.Fatalf("alice got %q", got)
			}

			// A page-mode member that joins over MSRP keeps one row: the MSRP one.
			bobPage := newPageClient(t, "bob", transport)
			if res := bobPage.say(t, d, "lobby", "bob by page"); res.StatusCode != 202 {
				t.Fatalf("bob's MESSAGE: %d", res.StatusCode)
			}
			joinLobby(t, d, "bob", "tcp")
			b := pageUser(d, "lobby", "sip:bob@example.com")
			if b == nil || len(b.Endpoints) != 1 || b.Endpoints[0].PageMode() {
				t.Fatalf("bob's row after joining over MSRP: %+v", b)
			}
			// The roster comes to show bob with his MSRP endpoint alone.
			for {
				if r := w.rosterUser("sip:bob@example.com"); r != nil && len(r.Endpoints) == 1 && r.Endpoints[0].Entity == b.Endpoints[0].Entity {
					break
				}
				w.next(t, xmllint)
			}

			if res := paula.say(t, d, "lobby", "/leave"); res.StatusCode != 200 {
				t.Fatalf("/leave: %d", res.StatusCode)
			}
			paula.nextText(t, "lobby", "You left the room")
			if u := pageUser(d, "lobby", "sip:paula@example.com"); u != nil {
				t.Fatalf("paula still in the room after /leave: %+v", u)
			}
			n = w.next(t, xmllint)
			if !strings.Contains(n.body, `state="deleted"`) || w.rosterUser("sip:paula@example.com") != nil {
				t.Fatalf("roster after /leave:\n%s", n.body)
			}
		})
	}
}

// TestPageModeRefusals: a banned identity gets 403 with a Warning and joins nothing; unknown
// types 415, bodies over the room's limit 413, a CPIM From that is not the sender 403, CPIM
// inside CPIM 415; none of
// it reaches the MSRP member. A member banned while present is told and dropped.
func TestPageModeRefusals(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		c.MSRP.MaxMessageSize = 2048
		c.MessageRate, c.MessageBurst = 0.001, 3
	})
	if _, err := d.focus.UpdateRoom(context.Background(), "lobby", func(c *xcon.Conference) error {
		c.DenyUsers = append(c.DenyUsers, xcon.Target{URI: "sip:mallory@example.com"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	alice := joinLobby(t, d, "alice", "tcp")

	mallory := newPageClient(t, "mallory", "udp")
	res := mallory.say(t, d, "lobby", "let me in")
	if res.StatusCode != 403 || res.GetHeader("Warning") == nil {
		t.Fatalf("banned MESSAGE: %d, Warning %v", res.StatusCode, res.GetHeader("Warning"))
	}
	if pageUser(d, "lobby", "sip:mallory@example.com") != nil {
		t.Fatal("a banned sender got a row")
	}

	paula := newPageClient(t, "paula", "udp")
	if res := paula.send(t, d, "lobby", "application/octet-stream", []byte("x")); res.StatusCode != 415 {
		t.Fatalf("unknown type: %d", res.StatusCode)
	}
	if res := paula.say(t, d, "lobby", strings.Repeat("x", 4000)); res.StatusCode != 413 {
		t.Fatalf("too large: %d", res.StatusCode)
	}
	if res := paula.send(t, d, "lobby", "message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "forged")); res.StatusCode != 403 {
		t.Fatalf("forged CPIM From: %d", res.StatusCode)
	}
	nested := "From: <sip:paula@example.com>\r\nTo: <sip:lobby@example.net>\r\n\r\nContent-Type: message/cpim\r\n\r\n" +
		string(cpimBody("sip:alice@example.com", "sip:lobby@example.net", "nested"))
	if res := paula.send(t, d, "lobby", "message/cpim", []byte(nested)); res.StatusCode != 415 || res.GetHeader("Warning") == nil {
		t.Fatalf("CPIM inside CPIM: %d", res.StatusCode)
	}
	if pageUser(d, "lobby", "sip:paula@example.com") != nil {
		t.Fatal("refused MESSAGEs made paula a member")
	}
	if res := paula.say(t, d, "nowhere", "hello"); res.StatusCode != 404 {
		t.Fatalf("unknown room: %d", res.StatusCode)
	}
	// A CPIM member gets CPIM back, unchanged.
	if res := paula.send(t, d, "lobby", "message/cpim", cpimBody("sip:paula@example.com", "sip:lobby@example.net", "cpim hello")); res.StatusCode != 202 {
		t.Fatalf("CPIM MESSAGE: %d", res.StatusCode)
	}
	if got := nextCPIM(t, alice); !bytes.Contains(got, []byte("cpim hello")) || bytes.Contains(got, []byte("forged")) ||
		bytes.Contains(got, []byte("let me in")) || bytes.Contains(got, []byte("nested")) {
		t.Fatalf("alice got %q", got)
	}
	sent := cpimBody("sip:alice@example.com", "sip:lobby@example.net", "to a CPIM member")
	alice.msrp.send("message/cpim", sent)
	if m := paula.nextText(t, "lobby", "to a CPIM member"); !bytes.Equal(m.Body(), sent) || m.ContentType().Value() != "message/cpim" {
		t.Fatalf("paula got %s %q", m.ContentType().Value(), m.Body())
	}

	// Banned while present: told, dropped, refused from then on.
	if _, err := d.focus.UpdateRoom(context.Background(), "lobby", func(c *xcon.Conference) error {
		c.DenyUsers = append(c.DenyUsers, xcon.Target{URI: "sip:paula@example.com"})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	paula.nextText(t, "lobby", "removed")
	if pageUser(d, "lobby", "sip:paula@example.com") != nil {
		t.Fatal("banned page-mode member still in the room")
	}
	if res := paula.say(t, d, "lobby", "again"); res.StatusCode != 403 {
		t.Fatalf("after the ban: %d", res.StatusCode)
	}

	// Past the participant message rate: 503 with Retry-After (SIP's 429 is something else).
	quick := newPageClient(t, "quick", "tcp")
	for i := 0; i < 3; i++ {
		if res := quick.say(t, d, "lobby", "fast"); res.StatusCode != 202 {
			t.Fatalf("MESSAGE %d within the burst: %d", i, res.StatusCode)
		}
	}
	if res := quick.say(t, d, "lobby", "too fast"); res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
		t.Fatalf("past the rate: %d, Retry-After %v", res.StatusCode, res.GetHeader("Retry-After"))
	}
}

// TestPageModeIdleAndKick: a page-mode member that sends nothing for sip.page_idle is told so
// and dropped; one kicked over the focus's management API (CCMP's kick) is told and dropped.
func TestPageModeIdleAndKick(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.SIP.PageIdle = 1500 * time.Millisecond })
	paula := newPageClient(t, "paula", "tcp")
	if res := paula.say(t, d, "lobby", "hello"); res.StatusCode != 202 {
		t.Fatalf("MESSAGE: %d", res.StatusCode)
	}
	if pageUser(d, "lobby", "sip:paula@example.com") == nil {
		t.Fatal("paula not in the room")
	}
	m := paula.nextText(t, "lobby", "sent nothing")
	if !bytes.Contains(m.Body(), []byte("1.5s")) {
		t.Fatalf("idle notice %q", m.Body())
	}
	deadline := time.Now().Add(5 * time.Second)
	for pageUser(d, "lobby", "sip:paula@example.com") != nil {
		if time.Now().After(deadline) {
			t.Fatal("idle page-mode member not dropped")
		}
		time.Sleep(20 * time.Millisecond)
	}

	peter := newPageClient(t, "peter", "udp")
	if res := peter.say(t, d, "lobby", "hello"); res.StatusCode != 202 {
		t.Fatalf("MESSAGE: %d", res.StatusCode)
	}
	if err := d.focus.Kick(context.Background(), "lobby", "xcon-userid:peter@example.com", false); err != nil {
		t.Fatal(err)
	}
	peter.nextText(t, "lobby", "removed")
	if pageUser(d, "lobby", "sip:peter@example.com") != nil {
		t.Fatal("kicked page-mode member still in the room")
	}
}

// TestSIPpPageMode: SIPp as a page-mode client beside an MSRP member in lobby. One SIPp sends
// the MESSAGEs (its Contact names the other's port), the other answers the room's MESSAGEs
// with 200 and keeps them: the logging notice, the roster line, the MSRP member's message
// with its sender in front, and the notice after /leave.
func TestSIPpPageMode(t *testing.T) {
	sipp := peers.Sipp(t)
	d := startTestDaemon(t, nil)
	alice := joinLobby(t, d, "alice", "tcp")
	dir := t.TempDir()
	inbox, trace := freePort(t), filepath.Join(dir, "inbox.log")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	uas := exec.CommandContext(ctx, sipp, "-sf", filepath.Join("testdata", "sipp", "page-inbox.xml"), "-t", "u1", "-m", "4",
		"-i", "127.0.0.1", "-p", fmt.Sprint(inbox), "-mp", fmt.Sprint(freeMediaPorts(t)), "-timeout", "30s", "-timeout_error",
		"-nostdin", "-trace_msg", "-message_file", trace)
	var uasOut bytes.Buffer
	uas.Stdout, uas.Stderr = &uasOut, &uasOut
	if err := uas.Start(); err != nil {
		t.Fatal(err)
	}
	uasDone := make(chan error, 1)
	go func() { uasDone <- uas.Wait() }()
	time.Sleep(300 * time.Millisecond) // the inbox binds its port

	send := func(scenario, text string) {
		t.Helper()
		out, err := exec.CommandContext(ctx, sipp, "-sf", filepath.Join("testdata", "sipp", scenario),
			"-t", "u1", "-m", "1", "-s", "lobby", "-i", "127.0.0.1", "-p", fmt.Sprint(freePort(t)), "-mp", fmt.Sprint(freeMediaPorts(t)),
			"-key", "text", text, "-key", "inbox", fmt.Sprint(inbox),
			"-timeout", "20s", "-timeout_error", "-nostdin", fmt.Sprintf("127.0.0.1:%d", d.sip.Port())).CombinedOutput()
		if err != nil {
			t.Fatalf("sipp MESSAGE %q: %v\n%s", text, err, tail(out, 3000))
		}
	}
	inboxHas := func(want string) bool {
		b, _ := os.ReadFile(trace)
		return bytes.Contains(b, []byte(want))
	}

	send("page-message.xml", "hello from sipp")
	got := nextCPIM(t, alice)
	if !bytes.Contains(got, []byte("<sip:sipp@example.com>")) || !bytes.Contains(got, []byte("hello from sipp")) {
		t.Fatalf("alice got %q", got)
	}
	if u := pageUser(d, "lobby", "sip:sipp@example.com"); u == nil || !u.Endpoints[0].PageMode() {
		t.Fatalf("SIPp's row: %+v", u)
	}
	alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "hi sipp"))
	for deadline := time.Now().Add(15 * time.Second); !inboxHas("alice@example.com: hi sipp"); {
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(trace)
			t.Fatalf("the inbox did not get alice's message:\n%s\n%s", tail(b, 3000), tail(uasOut.Bytes(), 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	send("page-leave.xml", "/leave")
	select {
	case err := <-uasDone:
		if err != nil {
			t.Fatalf("sipp inbox: %v\n%s", err, tail(uasOut.Bytes(), 3000))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sipp inbox did not get four MESSAGEs")
	}
	for _, want := range []string{"logged", "You are in the chat room", "You left the room", "From: <sip:lobby@example.net>"} {
		if !inboxHas(want) {
			b, _ := os.ReadFile(trace)
			t.Fatalf("inbox lacks %q:\n%s", want, tail(b, 4000))
		}
	}
	if pageUser(d, "lobby", "sip:sipp@example.com") != nil {
		t.Fatal("SIPp still in the room after /leave")
	}
}

// TestPageModeAdmission: page-mode joins pass the same admission as INVITEs: Digest where
// sip.auth applies (401, then the user's identity at the domain), a moderated room's visitor
// joins but may not send (403), a full room 486.
func TestPageModeAdmission(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		c.SIP.Auth = configs.SIPAuth{Realm: "parley-test", NonceTTL: time.Minute, Rooms: []string{"lobby"},
			Users: []configs.SIPUser{{Name: "alice", Password: "alice-secret"}}}
		c.Rooms = append(c.Rooms, configs.Room{Name: "stage", Moderated: true}, configs.Room{Name: "small"})
	})
	anon := newPageClient(t, "alice", "udp")
	if res := anon.say(t, d, "lobby", "no credentials"); res.StatusCode != 401 || res.GetHeader("WWW-Authenticate") == nil {
		t.Fatalf("without credentials: %d", res.StatusCode)
	}
	if pageUser(d, "lobby", "sip:alice@example.com") != nil || pageUser(d, "lobby", "sip:alice@example.net") != nil {
		t.Fatal("an unauthenticated sender got a row")
	}
	alice := newPageClient(t, "alice", "udp")
	alice.password = "alice-secret"
	if res := alice.say(t, d, "lobby", "with credentials"); res.StatusCode != 202 {
		t.Fatalf("with credentials: %d", res.StatusCode)
	}
	if u := pageUser(d, "lobby", "sip:alice@example.net"); u == nil || u.Entity != "xcon-userid:alice@example.net" {
		t.Fatalf("the Digest user's row: %+v", u)
	}

	vis := newPageClient(t, "vis", "tcp")
	res := vis.say(t, d, "stage", "may I speak")
	if res.StatusCode != 403 || res.GetHeader("Warning") == nil {
		t.Fatalf("visitor's MESSAGE: %d %v", res.StatusCode, res.GetHeader("Warning"))
	}
	if u := pageUser(d, "stage", "sip:vis@example.com"); u == nil || len(u.Roles) != 1 || u.Roles[0] != "observer" {
		t.Fatalf("the visitor's row: %+v", u)
	}

	one := uint32(1)
	if _, err := d.focus.UpdateRoom(context.Background(), "small", func(c *xcon.Conference) error {
		c.Description.MaximumUserCount = &one
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	first, second := newPageClient(t, "first", "udp"), newPageClient(t, "second", "udp")
	if res := first.say(t, d, "small", "in"); res.StatusCode != 202 {
		t.Fatalf("first in the small room: %d", res.StatusCode)
	}
	if res := second.say(t, d, "small", "in too"); res.StatusCode != 486 {
		t.Fatalf("second in the full room: %d", res.StatusCode)
	}
	if pageUser(d, "small", "sip:second@example.com") != nil {
		t.Fatal("a row past maximum-user-count")
	}
}

// listen gives the client its own UDP and TCP listeners and returns the port: the Contact of
// MESSAGEs sent through a proxy.
func (c *pageClient) listen(t *testing.T, srv *sipgo.Server) int {
	t.Helper()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	udp, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeUDP(udp)
	go srv.ServeTCP(tcp)
	closeWithDaemon(t, func() { udp.Close(); tcp.Close() })
	return port
}

// TestProxyPageMode: a page-mode client behind Kamailio (configs/kamailio/proxy.cfg): its
// MESSAGE reaches the room through the proxy, which record-routes it, and the room's MESSAGEs
// come back through the proxy to its Contact, over UDP and TCP.
func TestProxyPageMode(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			d := startTestDaemon(t, nil)
			proxyPort := startSIPProxy(t, d.sip.Port())
			alice := joinLobby(t, d, "alice", "tcp")

			_, client, srv := newTestUA(t, "paula", "127.0.0.1")
			paula := &pageClient{name: "paula", transport: transport, client: client, got: make(chan *sip.Request, 64)}
			srv.OnMessage(func(req *sip.Request, tx sip.ServerTransaction) {
				_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
				paula.got <- req
			})
			port := paula.listen(t, srv)

			req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", User: "lobby", Host: "example.net"})
			req.SetTransport(strings.ToUpper(transport))
			req.SetDestination("127.0.0.1:" + strconv.Itoa(proxyPort))
			from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "paula", Host: "example.com"}, Params: sip.NewParams()}
			from.Params.Add("tag", sip.GenerateTagN(10))
			req.AppendHeader(from)
			req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "lobby", Host: "example.net"}, Params: sip.NewParams()})
			contact := sip.Uri{Scheme: "sip", User: "paula", Host: "127.0.0.1", Port: port, UriParams: sip.NewParams()}
			if transport != "udp" {
				contact.UriParams.Add("transport", transport)
			}
			req.AppendHeader(&sip.ContactHeader{Address: contact})
			req.AppendHeader(sip.NewHeader("Content-Type", "text/plain"))
			req.SetBody([]byte("through the proxy"))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := client.Do(ctx, req)
			if err != nil || res.StatusCode != 202 {
				t.Fatalf("MESSAGE through the proxy: %v %v", res, err)
			}
			if got := nextCPIM(t, alice); !bytes.Contains(got, []byte("<sip:paula@example.com>")) || !bytes.Contains(got, []byte("through the proxy")) {
				t.Fatalf("alice got %q", got)
			}
			alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "back through it"))
			m := paula.nextText(t, "lobby", "back through it")
			if string(m.Body()) != "alice@example.com: back through it" {
				t.Fatalf("paula got %q", m.Body())
			}
			if via := m.Via(); via == nil || via.Port != proxyPort {
				t.Fatalf("the room's MESSAGE did not come through the proxy: top Via %v", via)
			}
		})
	}
}

// TestPageModeJoinRate: a MESSAGE that makes a new member is a join and counts against
// sip.invite_rate per source (503 with Retry-After past it); a member's own MESSAGEs do not.
func TestPageModeJoinRate(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.SIP.InviteRate = 1 })
	first, second := newPageClient(t, "first", "udp"), newPageClient(t, "second", "udp")
	if res := first.say(t, d, "lobby", "in"); res.StatusCode != 202 {
		t.Fatalf("first: %d", res.StatusCode)
	}
	if res := second.say(t, d, "lobby", "in too"); res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
		t.Fatalf("second new member from the source at once: %d", res.StatusCode)
	}
	if pageUser(d, "lobby", "sip:second@example.com") != nil {
		t.Fatal("a row past the join rate")
	}
	if res := first.say(t, d, "lobby", "still here"); res.StatusCode != 202 {
		t.Fatalf("first's next MESSAGE: %d", res.StatusCode)
	}
}
