package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/msrp"
)

// rawSIPRequest is a request out of dialog from the socket at local, with its Call-ID.
func rawSIPRequest(method, local, transport string, body []byte, extra ...string) (string, string) {
	callID := sip.GenerateTagN(16)
	lines := []string{method + " sip:lobby@example.net SIP/2.0",
		"Via: SIP/2.0/" + strings.ToUpper(transport) + " " + local + ";rport;branch=z9hG4bK" + sip.GenerateTagN(12),
		"Max-Forwards: 70", "From: <sip:flood@example.com>;tag=" + sip.GenerateTagN(8), "To: <sip:lobby@example.net>",
		"Call-ID: " + callID, "CSeq: 1 " + method, "Contact: <sip:flood@" + local + ">"}
	lines = append(lines, extra...)
	if body != nil {
		lines = append(lines, "Content-Type: application/sdp")
	}
	lines = append(lines, "Content-Length: "+strconv.Itoa(len(body)), "", "")
	return strings.Join(lines, "\r\n") + string(body), callID
}

// sipOptionsOverStream sends an OPTIONS on conn and returns the status code of its answer.
func sipOptionsOverStream(conn net.Conn, transport string) (int, error) {
	req, _ := rawSIPRequest("OPTIONS", conn.LocalAddr().String(), transport, nil)
	if _, err := conn.Write([]byte(req)); err != nil {
		return 0, err
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	data, err := readSIPStream(bufio.NewReader(conn))
	if err != nil {
		return 0, err
	}
	m, err := sip.ParseMessage(data)
	if err != nil {
		return 0, err
	}
	res, ok := m.(*sip.Response)
	if !ok {
		return 0, fmt.Errorf("not a response: %q", data)
	}
	return res.StatusCode, nil
}

// msrpUnknownSend is a SEND to a made-up session of the listener at addr.
func msrpUnknownSend(addr net.Addr, secure bool) ([]byte, string) {
	tid := msrp.NewTransactionID()
	port := addr.(*net.TCPAddr).Port
	to := msrp.URI{Secure: secure, Host: "127.0.0.1", Port: port, SessionID: msrp.NewSessionID(), Transport: "tcp"}
	from := msrp.URI{Secure: secure, Host: "127.0.0.1", Port: 9, SessionID: msrp.NewSessionID(), Transport: "tcp"}
	m := &msrp.Message{TransactionID: tid, Method: "SEND", MessageID: msrp.NewMessageID(), ToPath: []msrp.URI{to},
		FromPath: []msrp.URI{from}, ContentType: "text/plain", Body: []byte("hi"), ByteRange: msrp.ByteRange{Start: 1, End: 2, Total: 2}}
	return m.AppendTo(nil), tid
}

// msrpStatusOverStream sends a SEND to a made-up session on conn and returns the answer's code.
func msrpStatusOverStream(conn net.Conn, addr net.Addr, secure bool) (int, error) {
	req, tid := msrpUnknownSend(addr, secure)
	if _, err := conn.Write(req); err != nil {
		return 0, err
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return 0, err
	}
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "MSRP" || f[1] != tid {
		return 0, fmt.Errorf("answer %q", line)
	}
	return strconv.Atoi(f[2])
}

// TestSlowlorisEveryListener: on every listener (SIP TCP and TLS, MSRP TCP and TLS, HTTP) a
// client sending one byte every 300 ms is disconnected by the listener's deadline, and another
// client of the same listener is answered while it trickles.
func TestSlowlorisEveryListener(t *testing.T) {
	const deadline = time.Second
	d := startTestDaemon(t, func(c *configs.Config) {
		c.SIP.TLSListen, c.MSRP.TLSListen = "127.0.0.1:0", "127.0.0.1:0"
		c.SIP.MessageTimeout = deadline
		c.MSRP.BindTimeout = deadline
		c.HTTP.ReadHeaderTimeout, c.HTTP.ReadTimeout = deadline, deadline
	})
	sipTLS := "127.0.0.1:" + strconv.Itoa(d.sip.TLSPort())
	insecure := &tls.Config{InsecureSkipVerify: true}
	dialer := func(addr string, secure bool) func() (net.Conn, error) {
		if secure {
			return func() (net.Conn, error) { return tls.Dial("tcp", addr, insecure) }
		}
		return func() (net.Conn, error) { return net.Dial("tcp", addr) }
	}
	httpProbe := func(net.Conn) error {
		res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + d.httpAddr.String() + "/healthz")
		if err != nil {
			return err
		}
		res.Body.Close()
		return wantCode(200)(res.StatusCode, nil)
	}
	cases := []struct {
		name     string
		dial     func() (net.Conn, error)
		preamble string // written at once, before the trickle
		trickle  string
		// grace: how much later than the deadline the cut may come (MSRP's janitor looks
		// once per bind_timeout).
		grace time.Duration
		probe func(conn net.Conn) error
	}{
		{"sip tcp", dialer(d.sipAddr(), false), "", "OPTIONS sip:lobby@example.net SIP/2.0\r\nVia: ", time.Second,
			func(conn net.Conn) error { return want(sipOptionsOverStream(conn, "tcp")) }},
		{"sip tls", dialer(sipTLS, true), "", "OPTIONS sip:lobby@example.net SIP/2.0\r\nVia: ", time.Second,
			func(conn net.Conn) error { return want(sipOptionsOverStream(conn, "tls")) }},
		{"msrp tcp", dialer(d.msrpAddr.String(), false), "", "MSRP a1b2c3 SEND\r\nTo-Path: ", 2 * time.Second,
			func(conn net.Conn) error { return wantCode(481)(msrpStatusOverStream(conn, d.msrpAddr, false)) }},
		{"msrp tls", dialer(d.msrpTLSAddr.String(), true), "", "MSRP a1b2c3 SEND\r\nTo-Path: ", 2 * time.Second,
			func(conn net.Conn) error { return wantCode(481)(msrpStatusOverStream(conn, d.msrpTLSAddr, true)) }},
		{"http", dialer(d.httpAddr.String(), false), "", "GET /healthz HTTP/1.1\r\nHost: x\r\n", time.Second, httpProbe},
		{"http body", dialer(d.httpAddr.String(), false),
			"POST /ccmp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ccmp+xml\r\nContent-Length: 1000\r\n\r\n", "<ccmp", time.Second, httpProbe},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			slow, err := c.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer slow.Close()
			if _, err := slow.Write([]byte(c.preamble)); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			cut := make(chan time.Duration, 1)
			go func() {
				slow.SetReadDeadline(time.Now().Add(deadline + c.grace + 3*time.Second))
				_, err := io.Copy(io.Discard, slow)
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					cut <- -1
					return
				}
				cut <- time.Since(start)
			}()
			go func() {
				for i := 0; ; i++ {
					if _, err := slow.Write([]byte{c.trickle[i%len(c.trickle)]}); err != nil {
						return
					}
					time.Sleep(300 * time.Millisecond)
				}
			}()
			time.Sleep(deadline / 2)
			other, err := c.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if err := c.probe(other); err != nil {
				t.Fatalf("another client while one trickles: %v", err)
			}
			switch after := <-cut; {
			case after < 0:
				t.Fatalf("the trickling client was still connected after %v", deadline+c.grace+3*time.Second)
			case after > deadline+c.grace+500*time.Millisecond:
				t.Fatalf("the trickling client was cut off after %v, deadline %v", after, deadline)
			}
		})
	}
	t.Cleanup(func() {
		if v := metricLine(t, d, `parley_sip_connections_closed_total{reason="message_timeout",transport="tcp"}`); v != "1" {
			t.Errorf("SIP TCP message timeouts counted: %q, want 1", v)
		}
		if v := metricLine(t, d, `parley_sip_connections_closed_total{reason="message_timeout",transport="tls"}`); v != "1" {
			t.Errorf("SIP TLS message timeouts counted: %q, want 1", v)
		}
		if v := metricLine(t, d, "parley_http_slow_requests_total"); v != "2" {
			t.Errorf("slow HTTP requests counted: %q, want 2", v)
		}
		if v := metricLine(t, d, `parley_msrp_errors_total{kind="unbound_closed"}`); v != "2" {
			t.Errorf("MSRP unbound connections closed: %q, want 2", v)
		}
	})
}

func want(code int, err error) error { return wantCode(200)(code, err) }

func wantCode(w int) func(int, error) error {
	return func(code int, err error) error {
		if err != nil {
			return err
		}
		if code != w {
			return fmt.Errorf("answered %d, want %d", code, w)
		}
		return nil
	}
}

// TestSIPConnectionCaps: connections beyond sip.max_conns_per_ip from one address are closed at
// once and counted, while another address (127.0.0.2: all of 127/8 is loopback) is served.
func TestSIPConnectionCaps(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.SIP.MaxConnsPerIP = 3 })
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", d.sipAddr())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if err := want(sipOptionsOverStream(c, "tcp")); err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
	}
	over, err := net.Dial("tcp", d.sipAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	if code, err := sipOptionsOverStream(over, "tcp"); err == nil {
		t.Fatalf("a fourth connection from one address was answered %d", code)
	}
	if v := metricLine(t, d, `parley_sip_connections_rejected_total{limit="max_conns_per_ip",transport="tcp"}`); v != "1" {
		t.Fatalf("refusals counted: %q, want 1", v)
	}
	other, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).Dial("tcp", d.sipAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := want(sipOptionsOverStream(other, "tcp")); err != nil {
		t.Fatalf("another address: %v", err)
	}
	held[0].Close() // a slot comes free
	held = held[1:]
	deadline := time.Now().Add(5 * time.Second)
	for {
		again, err := net.Dial("tcp", d.sipAddr())
		if err != nil {
			t.Fatal(err)
		}
		err = want(sipOptionsOverStream(again, "tcp"))
		again.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection admitted after one closed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFloodFromOneSource: a flood of INVITEs and of SUBSCRIBEs from 127.0.0.1 beyond
// sip.invite_rate and sip.subscribe_rate gets 503 with Retry-After and is counted, while an INVITE
// from 127.0.0.2 in the middle of it joins.
func TestFloodFromOneSource(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.SIP.InviteRate, c.SIP.SubscribeRate = 5, 5 })
	flooder, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer flooder.Close()
	focus, _ := net.ResolveUDPAddr("udp", d.sipAddr())
	const n = 40
	for _, method := range []string{"INVITE", "SUBSCRIBE"} {
		var extra []string
		if method == "SUBSCRIBE" {
			extra = []string{"Event: conference", "Expires: 0"}
		}
		for i := 0; i < n; i++ {
			req, _ := rawSIPRequest(method, flooder.LocalAddr().String(), "udp", nil, extra...)
			if _, err := flooder.WriteTo([]byte(req), focus); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Another source, meanwhile, joins.
	other, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	invite, callID := rawSIPRequest("INVITE", other.LocalAddr().String(), "udp", newMSRPPeer(t).offerBytes())
	if _, err := other.WriteTo([]byte(invite), focus); err != nil {
		t.Fatal(err)
	}
	other.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 65535)
	for {
		k, _, err := other.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no answer to the other source's INVITE: %v", err)
		}
		m, err := sip.ParseMessage(buf[:k])
		if err != nil {
			t.Fatal(err)
		}
		res, ok := m.(*sip.Response)
		if !ok || res.CallID().Value() != callID || res.StatusCode < 200 {
			continue
		}
		if res.StatusCode != 200 {
			t.Fatalf("the other source's INVITE: %d", res.StatusCode)
		}
		ack := ackAndBye(res, map[string]string{"T": "UDP", "LOCAL": other.LocalAddr().String()})
		ack, _, _ = strings.Cut(ack, "BYE ")
		_, _ = other.WriteTo([]byte(ack), focus)
		break
	}
	// The flood's answers: the first second's worth passes the limit, the rest is refused.
	counts := map[string]int{}
	var mu sync.Mutex
	flooder.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		k, _, err := flooder.ReadFrom(buf)
		if err != nil {
			break
		}
		m, err := sip.ParseMessage(buf[:k])
		if err != nil {
			continue
		}
		if res, ok := m.(*sip.Response); ok && res.StatusCode == 503 {
			if res.GetHeader("Retry-After") == nil {
				t.Fatalf("503 without Retry-After: %s", res)
			}
			mu.Lock()
			counts[string(res.CSeq().MethodName)]++
			mu.Unlock()
		}
		if counts["INVITE"] >= n-10 && counts["SUBSCRIBE"] >= n-10 {
			break
		}
	}
	for _, method := range []string{"INVITE", "SUBSCRIBE"} {
		if counts[method] < n-10 {
			t.Errorf("%s flood: %d refused with 503, want at least %d", method, counts[method], n-10)
		}
		if v, _ := strconv.Atoi(metricLine(t, d, `parley_sip_rate_limited_total{method="`+method+`"}`)); v < n-10 {
			t.Errorf("%s refusals counted: %d", method, v)
		}
	}
}

// guessSessions pipelines n SENDs to random session-ids of the MSRP listener on one connection
// and returns how many answers came with each status code, and whether the focus closed it.
func guessSessions(t *testing.T, d *daemon, n int) (map[int]int, bool) {
	t.Helper()
	conn, err := net.Dial("tcp", d.msrpAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var batch []byte
	for i := 0; i < n; i++ {
		req, _ := msrpUnknownSend(d.msrpAddr, false)
		batch = append(batch, req...)
	}
	go func() { _, _ = conn.Write(batch) }()
	codes := map[int]int{}
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReaderSize(conn, 64<<10)
	answers := 0
	for answers < n {
		line, err := r.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("%d of %d guesses answered before the reads timed out", answers, n)
			}
			return codes, true
		}
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "MSRP" {
			code, _ := strconv.Atoi(f[2])
			codes[code]++
			answers++
		}
	}
	return codes, false
}

// TestGuessedSessionIDs: 100,000 SENDs to random session-ids, pipelined over four connections,
// get only 481s and never reach the session of the room's members, who keep chatting; a member's
// session-id replayed after he left gets 481 too; with
// msrp.max_unknown_sessions a connection that keeps guessing is closed, and counted.
func TestGuessedSessionIDs(t *testing.T) {
	t.Run("100000 guesses", func(t *testing.T) {
		d := startTestDaemon(t, func(c *configs.Config) { c.MSRP.MaxUnknownSessions = -1 })
		alice, bob := joinLobby(t, d, "alice", "tcp"), joinLobby(t, d, "bob", "tcp")
		const conns, each = 4, 25000
		var wg sync.WaitGroup
		results := make([]map[int]int, conns)
		for i := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes, closed := guessSessions(t, d, each)
				if closed {
					t.Errorf("connection %d closed after %v", i, codes)
				}
				results[i] = codes
			}()
		}
		wg.Wait()
		for i, codes := range results {
			if len(codes) != 1 || codes[481] != each {
				t.Fatalf("connection %d: answers %v, want %d × 481", i, codes, each)
			}
		}
		tid := alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "after the guesses"))
		if r := alice.msrp.response(t, tid); r.StatusCode != 200 {
			t.Fatalf("alice after the guesses: %d", r.StatusCode)
		}
		if f := bob.msrp.nextMessage(t); !strings.Contains(string(f.Body), "after the guesses") {
			t.Fatalf("bob received %q", f.Body)
		}
		if v := metricLine(t, d, `parley_msrp_errors_total{kind="unknown_session"}`); v != strconv.Itoa(conns*each) {
			t.Fatalf("481s counted: %s", v)
		}
	})
	t.Run("replayed", func(t *testing.T) {
		// The session-id of a member who left opens nothing any more.
		d := startTestDaemon(t, nil)
		bob := joinLobby(t, d, "bob", "tcp")
		old := bob.msrp.Remote[0]
		if err := bob.dlg.Bye(t.Context()); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for d.endpoint.Session(old.SessionID) != nil && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		conn, err := net.Dial("tcp", d.msrpAddr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		m := &msrp.Message{TransactionID: "replay1", Method: "SEND", MessageID: msrp.NewMessageID(), ToPath: []msrp.URI{old},
			FromPath: []msrp.URI{bob.msrp.Local}, ContentType: "message/cpim",
			Body: cpimBody("sip:bob@example.com", "sip:lobby@example.net", "replayed")}
		m.ByteRange = msrp.ByteRange{Start: 1, End: int64(len(m.Body)), Total: int64(len(m.Body))}
		if _, err := conn.Write(m.AppendTo(nil)); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if line, err := bufio.NewReader(conn).ReadString('\n'); err != nil || !strings.HasPrefix(line, "MSRP replay1 481") {
			t.Fatalf("a replayed session-id: %q %v, want 481", line, err)
		}
	})
	t.Run("limit", func(t *testing.T) {
		d := startTestDaemon(t, func(c *configs.Config) { c.MSRP.MaxUnknownSessions = 16 })
		alice, bob := joinLobby(t, d, "alice", "tcp"), joinLobby(t, d, "bob", "tcp")
		// One guess at a time: sixteen 481s, then the connection closes.
		conn, err := net.Dial("tcp", d.msrpAddr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		answered := 0
	guesses:
		for i := 0; i < 100; i++ {
			req, tid := msrpUnknownSend(d.msrpAddr, false)
			if _, err := conn.Write(req); err != nil {
				break
			}
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					break guesses
				}
				if f := strings.Fields(line); len(f) >= 3 && f[0] == "MSRP" && f[1] == tid {
					if f[2] != "481" {
						t.Fatalf("guess %d answered %q", i, line)
					}
					answered++
				}
				if strings.HasPrefix(line, "-------"+tid) {
					break
				}
			}
		}
		if answered != 16 {
			t.Fatalf("a guessing connection had %d 481s before it was closed, want 16", answered)
		}
		// Pipelined guesses: the connection closes after at most as many answers, all 481.
		codes, closed := guessSessions(t, d, 1000)
		if !closed || codes[481] > 16 || len(codes) > 1 {
			t.Fatalf("pipelined guesses: answers %v, closed %v", codes, closed)
		}
		if v := metricLine(t, d, `parley_msrp_errors_total{kind="guessing_closed"}`); v != "2" {
			t.Fatalf("guessing connections closed: %q, want 2", v)
		}
		tid := alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "still here"))
		if r := alice.msrp.response(t, tid); r.StatusCode != 200 {
			t.Fatalf("alice: %d", r.StatusCode)
		}
		if f := bob.msrp.nextMessage(t); !strings.Contains(string(f.Body), "still here") {
			t.Fatalf("bob received %q", f.Body)
		}
	})
}

// clientFrom is an HTTP client whose connections leave from ip.
func clientFrom(ip string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext}}
}

// metricFrom is metricLine over a client from ip.
func metricFrom(t *testing.T, d *daemon, ip, sample string) string {
	t.Helper()
	return metricVia(t, clientFrom(ip), d, sample)
}

// TestCCMPFloodFromOneSource: CCMP requests from 127.0.0.1 beyond ccmp.request_rate get 429
// with Retry-After and are counted, while 127.0.0.2 is answered.
func TestCCMPFloodFromOneSource(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.CCMP.RequestRate = 5 })
	url := "http://" + d.httpAddr.String() + "/ccmp"
	const n = 30
	limited := 0
	for i := 0; i < n; i++ {
		res, err := http.Post(url, "application/ccmp+xml", strings.NewReader("<x/>"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			if res.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			limited++
		}
	}
	if limited < n-10 {
		t.Fatalf("%d of %d requests refused, want at least %d", limited, n, n-10)
	}
	client := &ccmp.Client{URL: url, UserID: "xcon-userid:admin@example.net", HTTP: clientFrom("127.0.0.2")}
	if rooms, err := client.Rooms(t.Context()); err != nil || len(rooms) != 1 {
		t.Fatalf("another source during the flood: %v %v", rooms, err)
	}
	if v, _ := strconv.Atoi(metricLine(t, d, `parley_ccmp_rejected_total{reason="rate"}`)); v != limited {
		t.Fatalf("refusals counted: %d, want %d", v, limited)
	}
}

// TestHTTPConnectionCaps: HTTP connections beyond http.max_conns_per_ip from one address are
// closed at once and counted, while another address is served.
func TestHTTPConnectionCaps(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.HTTP.MaxConnsPerIP = 3 })
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", d.httpAddr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	over, err := net.Dial("tcp", d.httpAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	_, _ = over.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	over.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ne net.Error
	if b, err := io.ReadAll(over); len(b) > 0 || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a fourth connection from one address: %q %v, want it closed unanswered", b, err)
	}
	if v := metricFrom(t, d, "127.0.0.2", `parley_http_connections_rejected_total{limit="max_conns_per_ip"}`); v != "1" {
		t.Fatalf("refusals counted: %q, want 1", v)
	}
	res, err := clientFrom("127.0.0.2").Get("http://" + d.httpAddr.String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("another address: %d", res.StatusCode)
	}
}

// TestSendFloodFromOneMember: a member sending faster than message_rate gets 403s for the
// excess, counted, while another member of the room is relayed meanwhile.
func TestSendFloodFromOneMember(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.MessageRate, c.MessageBurst = 5, 5 })
	alice, bob := joinLobby(t, d, "alice", "tcp"), joinLobby(t, d, "bob", "tcp")
	const n = 30
	tids := map[string]bool{}
	for i := 0; i < n; i++ {
		tids[alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "flood "+strconv.Itoa(i)))] = true
	}
	tid := bob.msrp.send("message/cpim", cpimBody("sip:bob@example.com", "sip:lobby@example.net", "meanwhile"))
	if r := bob.msrp.response(t, tid); r.StatusCode != 200 {
		t.Fatalf("bob during alice's flood: %d %s", r.StatusCode, r.Comment)
	}
	codes := map[int]int{}
	for answered := 0; answered < n; {
		f := alice.msrp.nextFromWire(t)
		if f.IsResponse() && tids[f.TransactionID] {
			codes[f.StatusCode]++
			answered++
		}
	}
	if codes[403] < n-10 || codes[200]+codes[403] != n {
		t.Fatalf("alice's flood answered %v, want at least %d × 403, the rest 200", codes, n-10)
	}
	if v, _ := strconv.Atoi(metricLine(t, d, "parley_msrp_rate_limited_total")); v != codes[403] {
		t.Fatalf("refusals counted: %d, want %d", v, codes[403])
	}
}

// TestMSRPConnectionCap: an MSRP connection beyond msrp.max_conns is closed at once and counted,
// while the member already connected keeps chatting. (The per-IP cap spares loopback peers, a
// co-located proxy or relay; msrp's own tests cover it.)
func TestMSRPConnectionCap(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.MSRP.MaxConns = 2 })
	alice := joinRoom(t, d, "lobby", "alice", "tcp", true)
	second, err := net.Dial("tcp", d.msrpAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := wantCode(481)(msrpStatusOverStream(second, d.msrpAddr, false)); err != nil {
		t.Fatalf("a second connection: %v", err)
	}
	third, err := net.Dial("tcp", d.msrpAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if code, err := msrpStatusOverStream(third, d.msrpAddr, false); err == nil {
		t.Fatalf("a third connection was answered %d", code)
	}
	if v := metricLine(t, d, `parley_msrp_errors_total{kind="conns_rejected"}`); v != "1" {
		t.Fatalf("refusals counted: %q, want 1", v)
	}
	tid := alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "still here"))
	if r := alice.msrp.response(t, tid); r.StatusCode != 200 {
		t.Fatalf("alice: %d", r.StatusCode)
	}
}

// TestSlowlorisBoundMember: a member that has bound its session and then trickles a frame one
// byte every 300 ms is cut off by msrp.header_timeout, while another member keeps chatting.
func TestSlowlorisBoundMember(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.MSRP.HeaderTimeout = time.Second })
	mallory, alice := joinLobby(t, d, "mallory", "tcp"), joinLobby(t, d, "alice", "tcp")
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		trickle := "MSRP slow SEND\r\nTo-Path: "
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			if err := mallory.msrp.WriteRaw([]byte{trickle[i%len(trickle)]}); err != nil {
				return
			}
		}
	}()
	tid := alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "meanwhile"))
	if r := alice.msrp.response(t, tid); r.StatusCode != 200 {
		t.Fatalf("alice while mallory trickles: %d", r.StatusCode)
	}
	for {
		select {
		case _, ok := <-mallory.msrp.Frames:
			if ok {
				continue
			}
			if after := time.Since(start); after > 3*time.Second {
				t.Fatalf("cut off after %v, header_timeout 1s", after)
			}
			if v := metricLine(t, d, `parley_msrp_errors_total{kind="header_timeout"}`); v != "1" {
				t.Fatalf("header timeouts counted: %q, want 1", v)
			}
			return
		case <-time.After(5 * time.Second):
			t.Fatal("the trickling member was still connected after 5 s")
		}
	}
}

// TestSIPConnectionKeptBetweenMessages: sip.message_timeout times messages, not connections: a
// connection quiet for longer between messages, or whose message comes in pieces within the
// deadline, is still answered.
func TestSIPConnectionKeptBetweenMessages(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) { c.SIP.MessageTimeout = time.Second })
	conn, err := net.Dial("tcp", d.sipAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := want(sipOptionsOverStream(conn, "tcp")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := want(sipOptionsOverStream(conn, "tcp")); err != nil {
		t.Fatalf("after a quiet second and a half: %v", err)
	}
	req, _ := rawSIPRequest("OPTIONS", conn.LocalAddr().String(), "tcp", nil)
	for _, piece := range []string{req[:10], req[10:40], req[40:]} {
		if _, err := conn.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if data, err := readSIPStream(bufio.NewReader(conn)); err != nil || !strings.HasPrefix(string(data), "SIP/2.0 200") {
		t.Fatalf("a message in pieces: %q %v", data, err)
	}
}
