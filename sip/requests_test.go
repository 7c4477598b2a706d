package sip_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/xcon"
)

// sipClient sends hand-written requests to the focus from a real UDP or TCP socket of its own
// and reads the answers, as a transaction's client side.
type sipClient struct {
	t         *testing.T
	transport string // UDP or TCP
	conn      net.Conn
	rd        *bufio.Reader
	local     string
}

func dialSIP(t *testing.T, transport string, port int) *sipClient {
	t.Helper()
	c, err := net.Dial(strings.ToLower(transport), "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &sipClient{t: t, transport: transport, conn: c, rd: bufio.NewReader(c), local: c.LocalAddr().String()}
}

// sipAnswer is a response: its status code, headers by lower-case name, and body.
type sipAnswer struct {
	code    int
	headers map[string]string
	body    string
}

// sipCall is what the requests of one call repeat: the Request-URI, the caller's user, the
// Call-ID and From tag (id), and the To header, which carries the focus's tag once a 2xx has
// set the dialog up (RFC 3261 §12.1.2).
type sipCall struct {
	uri, user, id, to string
}

// newCall is a call from sip:USER@example.com to uri, no request sent yet.
func newCall(uri, user string) *sipCall {
	return &sipCall{uri: uri, user: user, id: strconv.FormatInt(time.Now().UnixNano(), 36), to: "<" + uri + ">"}
}

// request sends method to uri as sip:USER@example.com with the extra header lines and body, and
// returns the final answer; a 2xx to an INVITE is ACKed.
func (c *sipClient) request(method, uri, user, extra, body string) sipAnswer {
	c.t.Helper()
	return c.send(newCall(uri, user), method, 1, extra, body)
}

// send sends method with CSeq cseq in call, and returns the final answer; a 2xx to an INVITE
// is ACKed, and the first one's To is the call's from then on.
func (c *sipClient) send(call *sipCall, method string, cseq int, extra, body string) sipAnswer {
	c.t.Helper()
	head := func(m string) string {
		return m + " " + call.uri + " SIP/2.0\r\n" +
			"Via: SIP/2.0/" + c.transport + " " + c.local + ";branch=z9hG4bK" + call.id + m + strconv.Itoa(cseq) + ";rport\r\n" +
			"Max-Forwards: 70\r\nFrom: <sip:" + call.user + "@example.com>;tag=" + call.id + "\r\nTo: " + call.to + "\r\n" +
			"Call-ID: " + call.id + "@" + c.local + "\r\nCSeq: " + strconv.Itoa(cseq) + " " + m + "\r\n" +
			"Contact: <sip:" + call.user + "@" + c.local + ";transport=" + strings.ToLower(c.transport) + ">\r\n"
	}
	msg := head(method) + extra + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if _, err := c.conn.Write([]byte(msg)); err != nil {
		c.t.Fatal(err)
	}
	for {
		a := c.read()
		if a.code < 200 {
			continue
		}
		if method == "INVITE" && a.code < 300 {
			if !strings.Contains(call.to, ";tag=") {
				call.to = a.headers["to"]
			}
			ack := head("ACK") + "Content-Length: 0\r\n\r\n"
			if _, err := c.conn.Write([]byte(ack)); err != nil {
				c.t.Fatal(err)
			}
		}
		return a
	}
}

// read reads one response (a request from the focus fails the test).
func (c *sipClient) read() sipAnswer {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var text string
	if c.transport == "UDP" {
		buf := make([]byte, 65535)
		n, err := c.conn.Read(buf)
		if err != nil {
			c.t.Fatalf("no answer: %v", err)
		}
		text = string(buf[:n])
	} else {
		var b strings.Builder
		length := 0
		for {
			line, err := c.rd.ReadString('\n')
			if err != nil {
				c.t.Fatalf("no answer: %v", err)
			}
			b.WriteString(line)
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
			if line == "\r\n" {
				break
			}
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(c.rd, body); err != nil {
			c.t.Fatal(err)
		}
		text = b.String() + string(body)
	}
	a := sipAnswer{headers: map[string]string{}}
	if _, err := fmt.Sscanf(text, "SIP/2.0 %d", &a.code); err != nil {
		c.t.Fatalf("not a response: %q", text)
	}
	head, body, _ := strings.Cut(text, "\r\n\r\n")
	a.body = body
	for _, line := range strings.Split(head, "\r\n")[1:] {
		if k, v, ok := strings.Cut(line, ":"); ok {
			a.headers[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return a
}

// chatOffer is an SDP offer with one MSRP m-line.
const chatOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=message 9 TCP/MSRP *\r\na=accept-types:message/cpim\r\na=accept-wrapped-types:*\r\n" +
	"a=path:msrp://127.0.0.1:9/s1;tcp\r\na=setup:active\r\n"

// TestRequestsToTheFocus: requests outside a dialog, over UDP and TCP, and the status code the
// SIP side answers each with: the focus's decision (join, admission) translated, or the SIP
// layer's own (methods, extensions, bodies).
func TestRequestsToTheFocus(t *testing.T) {
	no, one := false, uint32(1)
	sdpType := "Content-Type: application/sdp\r\n"
	for _, c := range []struct {
		name    string
		change  func(c *xcon.Conference)
		present bool // ann is in the room first (over UDP)
		method  string
		uri     string
		extra   string
		body    string
		want    int
		header  string // a header the answer must carry
	}{
		{name: "join", method: "INVITE", uri: "sip:room@example.net", extra: sdpType, body: chatOffer, want: 200, header: "contact"},
		{name: "no such room", method: "INVITE", uri: "sip:nowhere@example.net", extra: sdpType, body: chatOffer, want: 404},
		{name: "no MSRP line", method: "INVITE", uri: "sip:room@example.net", extra: sdpType,
			body: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", want: 488},
		{name: "not SDP", method: "INVITE", uri: "sip:room@example.net", extra: "Content-Type: text/plain\r\n", body: "hello", want: 415, header: "accept"},
		{name: "inactive room", change: func(c *xcon.Conference) { c.State.Active = &no },
			method: "INVITE", uri: "sip:room@example.net", extra: sdpType, body: chatOffer, want: 403},
		{name: "full room", present: true, change: func(c *xcon.Conference) { c.Description.MaximumUserCount = &one },
			method: "INVITE", uri: "sip:room@example.net", extra: sdpType, body: chatOffer, want: 486},
		{name: "denied", change: func(c *xcon.Conference) { c.DenyUsers = []xcon.Target{{URI: "sip:bob@example.com"}} },
			method: "INVITE", uri: "sip:room@example.net", extra: sdpType, body: chatOffer, want: 403},
		{name: "unknown extension required", method: "INVITE", uri: "sip:room@example.net", extra: sdpType + "Require: no-such-ext\r\n",
			body: chatOffer, want: 420, header: "unsupported"},
		{name: "options", method: "OPTIONS", uri: "sip:room@example.net", want: 200, header: "accept"},
		{name: "BYE outside a dialog", method: "BYE", uri: "sip:room@example.net", want: 481},
		{name: "unsupported method", method: "PUBLISH", uri: "sip:room@example.net", want: 405, header: "allow"},
	} {
		for _, transport := range []string{"UDP", "TCP"} {
			t.Run(c.name+"/"+transport, func(t *testing.T) {
				f, port := startFocus(t)
				if c.present {
					if a := dialSIP(t, "UDP", port).request("INVITE", "sip:room@example.net", "ann", sdpType, chatOffer); a.code != 200 {
						t.Fatalf("ann joins: %d", a.code)
					}
				}
				if c.change != nil {
					if _, err := f.UpdateRoom(context.Background(), "room", func(conf *xcon.Conference) error { c.change(conf); return nil }); err != nil {
						t.Fatal(err)
					}
				}
				a := dialSIP(t, transport, port).request(c.method, c.uri, "bob", c.extra, c.body)
				if a.code != c.want {
					t.Fatalf("%s %s: %d, want %d", c.method, c.uri, a.code, c.want)
				}
				if c.header != "" && a.headers[c.header] == "" {
					t.Fatalf("%s %s: %d without %s: %v", c.method, c.uri, a.code, c.header, a.headers)
				}
			})
		}
	}
}
