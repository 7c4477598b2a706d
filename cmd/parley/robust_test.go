package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/configs"
)

// rawSIP is a SIP client on a bare socket, so that tests control every byte.
type rawSIP struct {
	t         *testing.T
	conn      net.Conn
	transport string
	r         *bufio.Reader
}

func dialRawSIP(t *testing.T, d *daemon, transport string) *rawSIP {
	t.Helper()
	c, err := net.Dial(transport, d.sipAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawSIP{t: t, conn: c, transport: transport, r: bufio.NewReader(c)}
}

// request builds a request whose top Via claims sentBy (with an empty rport), from headers
// that may be left out or replaced by giving "Name:" in drop or a full line in extra.
func (r *rawSIP) request(method, ruri, sentBy string, drop []string, body string, extra ...string) string {
	lines := []string{
		method + " " + ruri + " SIP/2.0",
		"Via: SIP/2.0/" + strings.ToUpper(r.transport) + " " + sentBy + ";rport;branch=z9hG4bK" + sip.GenerateTagN(12),
		"Max-Forwards: 70",
		"From: <sip:raw@example.com>;tag=" + sip.GenerateTagN(8),
		"To: <" + ruri + ">",
		"Call-ID: " + sip.GenerateTagN(16),
		"CSeq: 1 " + method,
		"Contact: <sip:raw@" + r.conn.LocalAddr().String() + ">",
	}
	var out []string
next:
	for _, l := range lines {
		for _, d := range drop {
			if strings.HasPrefix(l, d) {
				continue next
			}
		}
		out = append(out, l)
	}
	out = append(out, extra...)
	if body != "" {
		out = append(out, "Content-Type: application/sdp")
	}
	out = append(out, "Content-Length: "+strconv.Itoa(len(body)), "", body)
	return strings.Join(out, "\r\n")
}

func (r *rawSIP) send(msg string) {
	if _, err := r.conn.Write([]byte(msg)); err != nil {
		r.t.Fatal(err)
	}
}

// response reads the next final response, failing after a generous timeout.
func (r *rawSIP) response() *sip.Response {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var data []byte
		if r.transport == "udp" {
			buf := make([]byte, 65535)
			n, err := r.conn.Read(buf)
			if err != nil {
				r.t.Fatalf("no response: %v", err)
			}
			data = buf[:n]
		} else {
			data = r.readStream()
		}
		msg, err := sip.ParseMessage(data)
		if err != nil {
			r.t.Fatalf("unparsable response %q: %v", data, err)
		}
		if res, ok := msg.(*sip.Response); ok && res.StatusCode >= 200 {
			return res
		}
	}
}

// readStream reads one message off a TCP stream (headers up to the blank line, then
// Content-Length bytes).
func (r *rawSIP) readStream() []byte {
	var head strings.Builder
	length := 0
	for {
		line, err := r.r.ReadString('\n')
		if err != nil {
			r.t.Fatalf("no response: %v", err)
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r.r, body); err != nil {
		r.t.Fatal(err)
	}
	return append([]byte(head.String()), body...)
}

// TestMalformedRequests: garbage and requests lacking mandatory parts, over UDP and TCP raw
// sockets, get 400 or 488 with a Warning when they can be answered, are dropped when they
// cannot be parsed at all, and never stop the focus: a valid join works afterwards.
func TestMalformedRequests(t *testing.T) {
	d := startTestDaemon(t, nil)
	lobby := "sip:lobby@example.net"
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			// Unparsable: sipgo drops these (over TCP it closes the connection).
			for _, garbage := range []string{
				"\x00\x01\x02 not SIP at all\r\n\r\n",
				"INVITE sip:lobby@example.net SIP/2.0\r\nVia SIP/2.0/UDP 1.2.3.4\r\nno colon here\r\n\r\n",
				"INVITE sip:lobby@example.net SIP/2.0\r\nCSeq: x INVITE\r\nContent-Length: 5\r\n\r\n",
				"INVITE  SIP/2.0\r\n\r\n",
				"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKnothing\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
			} {
				c := dialRawSIP(t, d, transport)
				c.send(garbage)
			}
			cases := []struct {
				name    string
				method  string
				drop    []string
				body    string
				extra   []string
				want    int
				warning string
			}{
				{"no From", "INVITE", []string{"From:"}, "", nil, 400, "From"},
				{"no Call-ID", "OPTIONS", []string{"Call-ID:"}, "", nil, 400, "Call-ID"},
				// sipgo cannot key a transaction without CSeq and answers 400 itself, before any handler.
				{"no CSeq", "INVITE", []string{"CSeq:"}, "", nil, 400, ""},
				{"CSeq method mismatch", "INVITE", []string{"CSeq:"}, "", []string{"CSeq: 1 BYE"}, 400, "CSeq"},
				{"malformed SDP", "INVITE", nil, "v=0\r\nthis is not SDP\r\n", nil, 488, "SDP"},
				{"SDP without media", "INVITE", nil, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n", nil, 488, ""},
			}
			for _, c := range cases {
				raw := dialRawSIP(t, d, transport)
				raw.send(raw.request(c.method, lobby, "192.0.2.7:5999", c.drop, c.body, c.extra...))
				res := raw.response()
				w := res.GetHeader("Warning")
				if res.StatusCode != c.want || (c.warning != "" && (w == nil || !strings.Contains(w.Value(), c.warning))) {
					t.Fatalf("%s: got %d %s (Warning %v), want %d with a Warning about %q", c.name, res.StatusCode, res.Reason, w, c.want, c.warning)
				}
			}
			// Still serving: a real participant joins and leaves.
			p := joinLobby(t, d, "after-"+transport, transport)
			if n := len(d.focus.Room("lobby").Participants()); n != 1 {
				t.Fatalf("%d participants after the malformed requests, want 1", n)
			}
			if err := p.dlg.Bye(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestViaReceivedRport: a response goes back to the packet's source and its top Via gets
// received and rport (RFC 3261 §18.2.1, RFC 3581), though the Via claims another address,
// over UDP and TCP.
func TestViaReceivedRport(t *testing.T) {
	d := startTestDaemon(t, nil)
	for _, transport := range []string{"udp", "tcp"} {
		raw := dialRawSIP(t, d, transport)
		raw.send(raw.request("OPTIONS", "sip:lobby@example.net", "192.0.2.7:5999", nil, ""))
		res := raw.response()
		via := res.Via()
		_, port, _ := net.SplitHostPort(raw.conn.LocalAddr().String())
		received, _ := via.Params.Get("received")
		rport, _ := via.Params.Get("rport")
		if res.StatusCode != 200 || received != "127.0.0.1" || rport != port {
			t.Fatalf("%s: %d, Via %v; want received=127.0.0.1;rport=%s", transport, res.StatusCode, via, port)
		}
		if c := res.Contact(); c == nil || !c.Params.Has("isfocus") {
			t.Fatalf("%s: OPTIONS 200 Contact lacks isfocus: %v", transport, c)
		}
	}
}

// TestRateLimitPerSource: INVITEs beyond sip.invite_rate from one source, and dialogs beyond
// sip.max_dialogs_per_source, get 503 with Retry-After and are counted.
func TestRateLimitPerSource(t *testing.T) {
	t.Run("invite rate", func(t *testing.T) {
		d := startTestDaemon(t, func(c *configs.Config) { c.SIP.InviteRate = 0.001 }) // one token, refilled after ~17 minutes
		codes := []int{}
		for i := 0; i < 3; i++ {
			raw := dialRawSIP(t, d, "udp")
			raw.send(raw.request("INVITE", "sip:nosuchroom@example.net", "127.0.0.1:5999", nil, ""))
			res := raw.response()
			codes = append(codes, res.StatusCode)
			if res.StatusCode == 503 && res.GetHeader("Retry-After") == nil {
				t.Fatal("503 without Retry-After")
			}
		}
		if fmt.Sprint(codes) != "[404 503 503]" {
			t.Fatalf("codes %v, want [404 503 503]", codes)
		}
		// OPTIONS are not limited.
		raw := dialRawSIP(t, d, "udp")
		raw.send(raw.request("OPTIONS", "sip:lobby@example.net", "127.0.0.1:5999", nil, ""))
		if res := raw.response(); res.StatusCode != 200 {
			t.Fatalf("OPTIONS: %d", res.StatusCode)
		}
		if got := metricLine(t, d, `parley_sip_rate_limited_total{method="INVITE"}`); got != "2" {
			t.Fatalf("parley_sip_rate_limited_total = %q, want 2", got)
		}
	})
	t.Run("dialogs per source", func(t *testing.T) {
		d := startTestDaemon(t, func(c *configs.Config) { c.SIP.MaxDialogsPerSource = 1 })
		first := joinRoom(t, d, "lobby", "first", "tcp", true)
		_, res, _ := newSIPPeer(t, "second", "example.com").invite(t, d, "lobby", "udp", newMSRPPeer(t).offer(t, "main"))
		if res == nil || res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
			t.Fatalf("second dialog: %v, want 503 with Retry-After", res)
		}
		if err := first.dlg.Bye(t.Context()); err != nil {
			t.Fatal(err)
		}
		joinRoom(t, d, "lobby", "third", "udp", true) // the place is free again
	})
}

// metricLine returns the value of one sample on /metrics.
func metricLine(t *testing.T, d *daemon, sample string) string {
	t.Helper()
	return metricVia(t, http.DefaultClient, d, sample)
}

// metricVia is metricLine through client.
func metricVia(t *testing.T, client *http.Client, d *daemon, sample string) string {
	t.Helper()
	res, err := client.Get("http://" + d.httpAddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, sample+" "); ok {
			return v
		}
	}
	return ""
}

// kickAndAnswerBye kicks userID from the lobby and returns the BYE the focus sends to this UDP
// socket, answered 200; Kick returns once its BYE is answered, so it runs alongside.
func (r *rawSIP) kickAndAnswerBye(t *testing.T, d *daemon, userID string) *sip.Request {
	t.Helper()
	kicked := make(chan error, 1)
	go func() { kicked <- d.focus.Kick(context.Background(), "lobby", userID, false) }()
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65535)
	for {
		n, err := r.conn.Read(buf)
		if err != nil {
			t.Fatalf("no BYE within 10 s: %v", err)
		}
		msg, err := sip.ParseMessage(buf[:n])
		if err != nil {
			t.Fatalf("unparsable %q: %v", buf[:n], err)
		}
		if bye, ok := msg.(*sip.Request); ok && bye.Method == sip.BYE {
			r.send(sip.NewResponseFromRequest(bye, 200, "OK", nil).String())
			if err := <-kicked; err != nil {
				t.Fatal(err)
			}
			return bye
		} // else a retransmitted 200
	}
}

// rawCall is a dialog a rawSIP socket sets up header by header.
type rawCall struct {
	r                      *rawSIP
	me                     string // this socket's address
	from, to, cid, contact string // header lines; to gains the focus's tag with the 200
	target                 string // the focus's Contact
}

// dialogHeaders are the lines request() leaves to a rawCall.
var dialogHeaders = []string{"From:", "To:", "Call-ID:", "CSeq:", "Contact:"}

// invite calls the lobby as user@example.com (Contact: user at this socket, with contactParams)
// with an MSRP offer and extra header lines, and reads the 200.
func (r *rawSIP) invite(t *testing.T, d *daemon, user, contactParams string, extra ...string) *rawCall {
	t.Helper()
	me, ruri := r.conn.LocalAddr().String(), "sip:lobby@"+d.sipAddr()
	c := &rawCall{r: r, me: me, from: "From: <sip:" + user + "@example.com>;tag=" + sip.GenerateTagN(8),
		to: "To: <" + ruri + ">", cid: "Call-ID: " + sip.GenerateTagN(16), contact: "Contact: <sip:" + user + "@" + me + contactParams + ">"}
	lines := append([]string{c.from, c.to, c.cid, "CSeq: 1 INVITE", c.contact}, extra...)
	r.send(r.request("INVITE", ruri, me, dialogHeaders, string(newMSRPPeer(t).offer(t, "main")), lines...))
	res := r.response()
	if res.StatusCode != 200 || res.Contact() == nil {
		t.Fatalf("INVITE: %d %s", res.StatusCode, res.Reason)
	}
	tag, _ := res.To().Params.Get("tag")
	c.to += ";tag=" + tag
	c.target = res.Contact().Address.String()
	return c
}

// send sends an in-dialog request (no body) with the given CSeq number.
func (c *rawCall) send(method string, cseq int) {
	c.r.send(c.r.request(method, c.target, c.me, dialogHeaders, "", c.from, c.to, c.cid,
		"CSeq: "+strconv.Itoa(cseq)+" "+method, c.contact))
}
