package main

import (
	"bytes"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/configs"
)

// unloggedRoom adds the unlogged room "files" (no logging notice, no history): what a page-mode
// member gets there is its roster line and the room's traffic.
func unloggedRoom(c *configs.Config) { c.Rooms = append(c.Rooms, configs.Room{Name: "files"}) }

// waitMetric waits until sample on /metrics has value want.
func waitMetric(t *testing.T, d *daemon, sample, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if got := metricLine(t, d, sample); got == want {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("%s = %q, want %s", sample, got, want)
		}
	}
}

// cpimUntil reads the MSRP member's SENDs until one contains want.
func cpimUntil(t *testing.T, p *participant, want string) []byte {
	t.Helper()
	for i := 0; i < 10; i++ {
		if b := nextCPIM(t, p); bytes.Contains(b, []byte(want)) {
			return b
		}
	}
	t.Fatalf("%s: no SEND containing %q", p.name, want)
	return nil
}

// TestPageModeFlowControl: MESSAGEs to a page-mode member go out one at a time, at most
// sip.page_rate a second after a burst of sip.page_burst, and at most sip.page_queue wait: while
// the member takes its time to answer, the oldest waiting are dropped (counted) and the member
// is told how many before the newest; the MSRP member gets every line at once meanwhile.
func TestPageModeFlowControl(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		unloggedRoom(c)
		c.SIP.PageRate, c.SIP.PageBurst, c.SIP.PageQueue = 10, 2, 4
	})
	alice := joinRoom(t, d, "files", "alice", "tcp", false)
	bob := joinRoom(t, d, "files", "bob", "tcp", false)
	peter := newPageClient(t, "peter", "tcp")
	if res := peter.say(t, d, "files", "hi"); res.StatusCode != 202 {
		t.Fatalf("MESSAGE: %d", res.StatusCode)
	}
	peter.nextText(t, "files", "You are in the chat room")
	cpimUntil(t, alice, "\r\n\r\nhi")
	cpimUntil(t, bob, "\r\n\r\nhi")
	time.Sleep(300 * time.Millisecond) // the bucket fills again

	gate := make(chan struct{})
	peter.hold.Store(&gate)
	start := time.Now()
	for i := 0; i < 10; i++ {
		alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:files@example.net", fmt.Sprint("line ", i)))
	}
	for i := 0; i < 10; i++ {
		if got := nextCPIM(t, bob); !bytes.Contains(got, []byte(fmt.Sprint("line ", i))) {
			t.Fatalf("bob got %q", got)
		}
	}
	if e := time.Since(start); e > 2*time.Second {
		t.Fatalf("bob's ten lines took %v while the page-mode member held its answers", e)
	}
	time.Sleep(200 * time.Millisecond) // the focus has queued every copy for peter
	peter.hold.Store(nil)
	released := time.Now()
	close(gate)

	var lines []int
	missed := 0
	var last time.Time
	for len(lines) == 0 || lines[len(lines)-1] != 9 {
		m := peter.next(t, "files")
		body := string(m.Body())
		if n, ok := strings.CutPrefix(body, "alice@example.com: line "); ok {
			i, _ := strconv.Atoi(n)
			lines = append(lines, i)
			last = time.Now()
			continue
		}
		mm := regexp.MustCompile(`^(\d+) earlier messages of the room were not sent to you`).FindStringSubmatch(body)
		if mm == nil || missed != 0 {
			t.Fatalf("peter got %q (lines so far %v)", body, lines)
		}
		missed, _ = strconv.Atoi(mm[1])
	}
	// One in flight when the member stopped answering (line 0, unless the focus had not taken
	// it from the queue yet), four waiting (the newest), the rest dropped and told.
	inFlight := len(lines) == 5 && lines[0] == 0
	if missed == 0 || len(lines)+missed != 10 || !inFlight && len(lines) != 4 || fmt.Sprint(lines[len(lines)-4:]) != "[6 7 8 9]" {
		t.Fatalf("peter got lines %v and a notice of %d missed", lines, missed)
	}
	waitMetric(t, d, "parley_page_messages_dropped_total", strconv.Itoa(missed))
	// After the held one: the notice and a line at once (the burst of 2), then three lines at
	// 10 a second.
	if e := last.Sub(released); e < 250*time.Millisecond {
		t.Fatalf("the last four MESSAGEs and the notice went out within %v: not rate limited", e)
	}
	peter.quiet(t)
}

// TestPageModeUnresponsive: page-mode members whose clients answer 408, 480 or 503, and one that stops
// answering at all (sip.page_timeout), are taken out of the room after sip.page_max_failures
// failed MESSAGEs in a row, each with a notice to the others; the MSRP members and the other
// page-mode member get every message at once meanwhile, and the failures are counted.
func TestPageModeUnresponsive(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		unloggedRoom(c)
		c.SIP.PageMaxFailures, c.SIP.PageTimeout = 2, time.Second
	})
	alice := joinRoom(t, d, "files", "alice", "tcp", false)
	bob := joinRoom(t, d, "files", "bob", "tcp", false)
	peter := newPageClient(t, "peter", "tcp")
	if res := peter.say(t, d, "files", "hi"); res.StatusCode != 202 {
		t.Fatalf("peter's MESSAGE: %d", res.StatusCode)
	}
	peter.nextText(t, "files", "You are in the chat room")
	cpimUntil(t, alice, "\r\n\r\nhi")
	cpimUntil(t, bob, "\r\n\r\nhi")

	// 408, 480 or 503 to everything: its roster line and alice's next line fail, and it is out.
	var paula *pageClient
	for i, code := range []int{408, 480, 503} {
		name := fmt.Sprint("paula", code)
		paula = newPageClient(t, name, "udp")
		paula.refuse.Store(int32(code))
		if res := paula.say(t, d, "files", "hello"); res.StatusCode != 202 {
			t.Fatalf("%s's MESSAGE: %d", name, res.StatusCode)
		}
		cpimUntil(t, alice, "\r\n\r\nhello")
		cpimUntil(t, bob, "\r\n\r\nhello")
		peter.nextText(t, "files", name+"@example.com: hello")
		line := fmt.Sprint("line ", code)
		alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:files@example.net", line))
		cpimUntil(t, bob, "\r\n\r\n"+line)
		peter.nextText(t, "files", "alice@example.com: "+line)
		notice := name + "@example.com stopped answering and was taken out of the room"
		if n := cpimUntil(t, alice, "stopped answering"); !bytes.Contains(n, []byte(notice)) ||
			!bytes.Contains(n, []byte("From: <sip:files@example.net>")) {
			t.Fatalf("alice got %q", n)
		}
		cpimUntil(t, bob, notice)
		peter.nextText(t, "files", notice)
		if pageUser(d, "files", "sip:"+name+"@example.com") != nil {
			t.Fatalf("%s is still in the room", name)
		}
		waitMetric(t, d, "parley_page_members_unresponsive_dropped_total", fmt.Sprint(i+1))
	}

	// No answer at all, over UDP: each MESSAGE is given up after page_timeout; the room does
	// not wait for them.
	sam := newPageClient(t, "sam", "udp")
	sam.refuse.Store(-1)
	if res := sam.say(t, d, "files", "sam here"); res.StatusCode != 202 {
		t.Fatalf("sam's MESSAGE: %d", res.StatusCode)
	}
	cpimUntil(t, bob, "sam here")
	cpimUntil(t, alice, "sam here")
	peter.nextText(t, "files", "sam@example.com: sam here")
	sent := time.Now()
	alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:files@example.net", "two"))
	cpimUntil(t, bob, "\r\n\r\ntwo")
	peter.nextText(t, "files", "alice@example.com: two")
	if e := time.Since(sent); e > 900*time.Millisecond {
		t.Fatalf("bob and peter got alice's line after %v: the silent member held them up", e)
	}
	cpimUntil(t, alice, "sam@example.com stopped answering")
	if e := time.Since(sent); e < time.Second {
		t.Fatalf("sam dropped after %v, before its MESSAGEs timed out", e)
	}
	peter.nextText(t, "files", "sam@example.com stopped answering")
	if pageUser(d, "files", "sip:sam@example.com") != nil {
		t.Fatal("sam is still in the room")
	}
	waitMetric(t, d, "parley_page_members_unresponsive_dropped_total", "4")
	if pageUser(d, "files", "sip:peter@example.com") == nil {
		t.Fatal("peter, who answers, was dropped")
	}
	// Its next MESSAGE joins it again.
	paula.refuse.Store(0)
	if res := paula.say(t, d, "files", "back"); res.StatusCode != 202 || pageUser(d, "files", "sip:paula503@example.com") == nil {
		t.Fatalf("paula's MESSAGE after the drop: %d", res.StatusCode)
	}
}

// TestPageModeLargeMessages: no MESSAGE to a page-mode member is larger than it may be (RFC 3428
// §7): over TCP sip.page_max_body (4096), over UDP 1300 bytes in all (RFC 3261 §18.1.1); a
// larger message, a payload a text-only member cannot show, and a file pushed to the room reach
// it as a notice naming sender, type, size and file name. A member that sends CPIM, or whose
// Accept names message/cpim, gets CPIM bodies (notices too); one whose Accept is text/plain
// gets text.
func TestPageModeLargeMessages(t *testing.T) {
	d := startTestDaemon(t, unloggedRoom)
	alice := joinRoom(t, d, "files", "alice", "tcp", false)
	tess := newPageClient(t, "tess", "tcp")     // text over TCP
	ursula := newPageClient(t, "ursula", "udp") // text over UDP
	cora := newPageClient(t, "cora", "tcp")     // sends CPIM
	andy := newPageClient(t, "andy", "tcp")     // text, Accept: message/cpim
	andy.accept = "message/cpim, text/plain"    // as a CPIM-capable client says
	tess.accept = "text/plain"                  // as baresip says
	for _, c := range []*pageClient{tess, ursula, andy} {
		if res := c.say(t, d, "files", "hi from "+c.name); res.StatusCode != 202 {
			t.Fatalf("%s: %d", c.name, res.StatusCode)
		}
		c.nextText(t, "files", "You are in the chat room")
	}
	if res := cora.send(t, d, "files", "message/cpim", cpimBody("sip:cora@example.com", "sip:files@example.net", "hi from cora")); res.StatusCode != 202 {
		t.Fatalf("cora: %d", res.StatusCode)
	}
	cora.nextText(t, "files", "You are in the chat room")
	time.Sleep(500 * time.Millisecond)
	for _, c := range []*pageClient{tess, ursula, andy, cora} {
		for len(c.got) > 0 { // the others' greetings
			<-c.got
		}
	}
	cpimForm := func(c *pageClient, m *sip.Request) {
		t.Helper()
		if ct := m.ContentType().Value(); ct != "message/cpim" || !bytes.HasPrefix(m.Body(), []byte("From: ")) {
			t.Fatalf("%s got %s %q, want CPIM", c.name, ct, m.Body())
		}
	}
	textForm := func(c *pageClient, m *sip.Request) {
		t.Helper()
		if ct := m.ContentType().Value(); !strings.HasPrefix(ct, "text/plain") {
			t.Fatalf("%s got %s %q, want text", c.name, ct, m.Body())
		}
	}

	// 3000 bytes: whole over TCP, a notice over UDP.
	mid := strings.Repeat("m", 3000)
	alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:files@example.net", mid))
	if m := tess.next(t, "files"); string(m.Body()) != "alice@example.com: "+mid {
		t.Fatalf("tess got %d bytes", len(m.Body()))
	}
	if m := cora.next(t, "files"); !bytes.HasSuffix(m.Body(), []byte("\r\n\r\n"+mid)) {
		t.Fatalf("cora got %q", m.Body())
	}
	m := andy.next(t, "files")
	cpimForm(andy, m)
	if !bytes.HasSuffix(m.Body(), []byte("\r\n\r\n"+mid)) {
		t.Fatalf("andy got %q", m.Body())
	}
	// Nothing the UDP member is sent is over 1300 bytes.
	udpNext := func() *sip.Request {
		t.Helper()
		m := ursula.next(t, "files")
		if n := len(m.String()); n > 1300 {
			t.Fatalf("a MESSAGE of %d bytes over UDP", n)
		}
		return m
	}
	m = udpNext()
	textForm(ursula, m)
	mm := regexp.MustCompile(`^alice@example\.com sent a message of 3000 bytes \(text/plain\), more than a MESSAGE to you may carry \((\d+) bytes\)`).FindSubmatch(m.Body())
	if mm == nil {
		t.Fatalf("ursula got %q", m.Body())
	}
	// A message just within the UDP member's limit reaches it whole, and still within 1300 bytes.
	limit, _ := strconv.Atoi(string(mm[1]))
	if limit < 500 || limit > 1300 {
		t.Fatalf("body limit over UDP %d", limit)
	}
	fits := strings.Repeat("u", limit-len("alice@example.com: "))
	alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:files@example.net", fits))
	if m := udpNext(); string(m.Body()) != "alice@example.com: "+fits {
		t.Fatalf("ursula got %q", m.Body())
	}
	for _, c := range []*pageClient{tess, cora, andy} {
		c.nextText(t, "files", fits)
	}

	// 5000 bytes: a notice over TCP too; in CPIM from the room to CPIM members.
	big := strings.Repeat("b", 5000)
	alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:files@example.net", big))
	notice := "alice@example.com sent a message of 5000 bytes (text/plain), more than a MESSAGE to you may carry (4096 bytes)"
	m = tess.next(t, "files")
	textForm(tess, m)
	if !bytes.HasPrefix(m.Body(), []byte(notice)) {
		t.Fatalf("tess got %q", m.Body())
	}
	for _, c := range []*pageClient{cora, andy} {
		m := c.next(t, "files")
		cpimForm(c, m)
		if !bytes.Contains(m.Body(), []byte("From: <sip:files@example.net>")) || !bytes.Contains(m.Body(), []byte(notice)) {
			t.Fatalf("%s got %q", c.name, m.Body())
		}
	}
	if m := udpNext(); !bytes.Contains(m.Body(), []byte("sent a message of 5000 bytes")) {
		t.Fatalf("ursula got %q", m.Body())
	}

	// A payload that is not text: a notice to text-only members, unchanged to CPIM ones.
	png := "From: <sip:alice@example.com>\r\nTo: <sip:files@example.net>\r\n\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\nabcdefgh"
	alice.msrp.send("message/cpim", []byte(png))
	if m := udpNext(); !bytes.HasPrefix(m.Body(), []byte("alice@example.com sent a message of 16 bytes (image/png)")) {
		t.Fatalf("ursula got %q", m.Body())
	}
	for _, c := range []*pageClient{tess} {
		if m := c.next(t, "files"); string(m.Body()) != "alice@example.com sent a message of 16 bytes (image/png), which page mode does not carry; join the room over MSRP to receive it." {
			t.Fatalf("%s got %q", c.name, m.Body())
		}
	}
	for _, c := range []*pageClient{cora, andy} {
		if m := c.next(t, "files"); string(m.Body()) != png {
			t.Fatalf("%s got %q", c.name, m.Body())
		}
	}

	// A file pushed to the room (RFC 5547) never goes by MESSAGE: every page-mode member is told.
	file := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 1, 2, 3}, 3000)...)
	pushFile(t, d, "fred", "cat.png", file)
	cpimUntil(t, alice, "filename=cat.png")
	for _, c := range []*pageClient{tess, ursula, cora, andy} {
		m := c.next(t, "files")
		if c == ursula && len(m.String()) > 1300 {
			t.Fatalf("a MESSAGE of %d bytes over UDP", len(m.String()))
		}
		if !bytes.Contains(m.Body(), []byte("fred@example.com sent the file cat.png (12008 bytes, image/png), which page mode does not carry")) {
			t.Fatalf("%s got %q", c.name, m.Body())
		}
	}
	// ursula 4, tess 3, cora and andy 2 each.
	waitMetric(t, d, "parley_page_messages_replaced_total", "11")
	for _, c := range []*pageClient{tess, ursula, cora, andy} {
		c.quiet(t)
	}
}

// rawMessage sends a MESSAGE to room over UDP from a socket on localIP, with From from and the
// extra header lines given, and returns the final response's status line and whole text.
func rawMessage(t *testing.T, d *daemon, localIP, room, from, extra, text string) (int, string) {
	t.Helper()
	c, err := net.ListenPacket("udp", localIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := c.LocalAddr().(*net.UDPAddr).Port
	id := sip.GenerateTagN(12)
	msg := fmt.Sprintf("MESSAGE sip:%s@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK%s;rport\r\n"+
		"Max-Forwards: 70\r\nFrom: <%s>;tag=%s\r\nTo: <sip:%s@example.net>\r\nCall-ID: %s@%s\r\nCSeq: 1 MESSAGE\r\n%s"+
		"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
		room, d.sip.Port(), localIP, port, id, from, id, room, id, localIP, extra, len(text), text)
	dst, _ := net.ResolveUDPAddr("udp", d.sipAddr())
	if _, err := c.WriteTo([]byte(msg), dst); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	for {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no answer to the MESSAGE from %s: %v", localIP, err)
		}
		res := string(buf[:n])
		var code int
		if _, err := fmt.Sscanf(res, "SIP/2.0 %d", &code); err != nil {
			t.Fatalf("answer %q", res)
		}
		if code >= 200 {
			return code, res
		}
	}
}

// TestPageModeForgedFrom: with a trusted proxy asserting who its users are, a MESSAGE from
// another source whose From names such a proven member is a forgery: 403 with a Warning, and
// nothing reaches the room. A P-Asserted-Identity from an untrusted source is not believed:
// the sender is its From.
func TestPageModeForgedFrom(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		unloggedRoom(c)
		c.SIP.TrustedProxies = []string{"127.0.0.1"}
	})
	alice := join(t, d, joinOptions{room: "files", name: "alice", transport: "tcp", label: "main",
		extra: []sip.Header{sip.NewHeader("P-Asserted-Identity", "<sip:alice@example.com>")}})
	bob := joinRoom(t, d, "files", "bob", "tcp", false)

	code, res := rawMessage(t, d, "127.0.0.2", "files", "sip:alice@example.com", "", "I am alice")
	if code != 403 || !strings.Contains(res, "Warning:") || !strings.Contains(res, "does not prove it") {
		t.Fatalf("forged From: %s", res)
	}
	// An assertion from a source that is not a trusted proxy names nobody: mallory is mallory.
	code, res = rawMessage(t, d, "127.0.0.2", "files", "sip:mallory@example.com", "P-Asserted-Identity: <sip:alice@example.com>\r\n", "asserted")
	if code != 202 {
		t.Fatalf("MESSAGE with an untrusted assertion: %s", res)
	}
	for _, p := range []*participant{alice, bob} {
		got := nextCPIM(t, p)
		if !bytes.Contains(got, []byte("From: <sip:mallory@example.com>")) || !bytes.Contains(got, []byte("asserted")) {
			t.Fatalf("%s got %q, want mallory's message and nothing before it", p.name, got)
		}
	}
	if u := pageUser(d, "files", "sip:alice@example.com"); u == nil || len(u.Endpoints) != 1 || u.Endpoints[0].PageMode() {
		t.Fatalf("alice's row: %+v", u)
	}
	// The proven member's own MESSAGE through its proxy is relayed as hers.
	code, res = rawMessage(t, d, "127.0.0.1", "files", "sip:alice@example.com", "P-Asserted-Identity: <sip:alice@example.com>\r\n", "really alice")
	if code != 202 {
		t.Fatalf("alice's MESSAGE through the trusted proxy: %s", res)
	}
	if got := nextCPIM(t, bob); !bytes.Contains(got, []byte("From: <sip:alice@example.com>")) || !bytes.Contains(got, []byte("really alice")) {
		t.Fatalf("bob got %q", got)
	}
}

// TestPageModeLongRoster: the room's own notice that would be larger than a member's MESSAGEs
// may be (the roster line of a joiner, with sip.page_max_body at its least) is cut to fit, in
// text and in CPIM, instead of being replaced or sent whole.
func TestPageModeLongRoster(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		unloggedRoom(c)
		c.SIP.PageMaxBody = 256
	})
	for i := 0; i < 8; i++ {
		c := newPageClient(t, fmt.Sprint("member-with-a-long-name-", i), "tcp")
		if res := c.say(t, d, "files", "hi"); res.StatusCode != 202 {
			t.Fatalf("%s: %d", c.name, res.StatusCode)
		}
	}
	late := newPageClient(t, "late", "tcp")
	if res := late.say(t, d, "files", "hi"); res.StatusCode != 202 {
		t.Fatalf("late: %d", res.StatusCode)
	}
	m := late.next(t, "files")
	if b := m.Body(); len(b) > 256 || !bytes.HasPrefix(b, []byte("You are in the chat room sip:files@example.net")) || !bytes.HasSuffix(b, []byte("…")) {
		t.Fatalf("late's roster line (%d bytes): %q", len(b), b)
	}
	cpimLate := newPageClient(t, "cpimlate", "tcp")
	if res := cpimLate.send(t, d, "files", "message/cpim", cpimBody("sip:cpimlate@example.com", "sip:files@example.net", "hi")); res.StatusCode != 202 {
		t.Fatalf("cpimlate: %d", res.StatusCode)
	}
	m = cpimLate.next(t, "files")
	if b := m.Body(); len(b) > 256 || m.ContentType().Value() != "message/cpim" || !bytes.Contains(b, []byte("\r\n\r\nYou are in the chat room")) ||
		!bytes.HasSuffix(b, []byte("…")) {
		t.Fatalf("cpimlate's roster line (%d bytes): %q", len(b), b)
	}
	waitMetric(t, d, "parley_page_messages_replaced_total", "0")
}
