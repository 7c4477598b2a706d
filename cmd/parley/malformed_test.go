package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/internal/corpus"
	"github.com/parleychat/parley/msrp"
)

const malformedDir = "../../testdata/malformed"

// recordMalformed (PARLEY_MALFORMED_RECORD=1) logs every case's actual answer instead of
// failing on a difference: for writing new cases.
var recordMalformed = os.Getenv("PARLEY_MALFORMED_RECORD") != ""

// TestMalformedCorpus replays testdata/malformed against the running daemon over real sockets
// (SIP over UDP and TCP, SDP inside INVITEs, MSRP and CPIM on joined sessions, CCMP and
// conference-info over HTTP) and checks each case's exact answer, while two innocent members of
// the same room go on chatting: after every batch each sends a message and receives the other's.
func TestMalformedCorpus(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		c.Rooms[0].Logging = false // attackers join all the time: no history replays
		c.Rooms = append(c.Rooms, configs.Room{Name: "sandbox"})
		c.MSRP.MaxConnsPerIP = 1000
		c.ShutdownTimeout = time.Second // raw callers that were let in are gone by then
	})
	alice := joinRoom(t, d, "lobby", "alice", "tcp", false)
	bob := joinRoom(t, d, "lobby", "bob", "udp", false)
	round := 0
	innocent := func(after string) {
		t.Helper()
		round++
		for _, pair := range [][2]*participant{{alice, bob}, {bob, alice}} {
			from, to := pair[0], pair[1]
			text := fmt.Sprintf("still here %d after %s", round, after)
			tid := from.msrp.send("message/cpim", cpimBody("sip:"+from.name+"@example.com", "sip:lobby@example.net", text))
			if r := from.msrp.response(t, tid); r.StatusCode != 200 {
				t.Fatalf("after %s: %s's message answered %d %s", after, from.name, r.StatusCode, r.Comment)
			}
			for {
				f := to.msrp.nextMessage(t)
				if bytes.Contains(f.Body, []byte(text)) {
					break
				}
				// What attackers got relayed passes by; an innocent's message must be this one.
				if bytes.Contains(f.Body, []byte("still here ")) {
					t.Fatalf("after %s: %s received %q, want %q", after, to.name, f.Body, text)
				}
			}
		}
		res, err := http.Get("http://" + d.httpAddr.String() + "/healthz")
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("after %s: /healthz %v %v", after, res, err)
		}
		res.Body.Close()
	}
	innocent("joining")

	total := 0
	check := func(c *corpus.Case, got string) {
		t.Helper()
		total++
		if recordMalformed {
			t.Logf("RECORD %s:%d %s => %s", c.File, c.Line, c.Name, got)
			return
		}
		if want := c.Get("want"); !matchAnswer(c, got) {
			t.Errorf("%s: got %s, want %s", c, got, want)
		}
	}
	batch := func(file string, run func(*corpus.Case)) {
		cases, err := corpus.Load(filepath.Join(malformedDir, file))
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			run(c)
			if i%25 == 24 {
				innocent(c.String())
			}
		}
		innocent(file)
	}

	// SIP cases are independent (a socket each), so they run eight at a time; what is dropped
	// costs a wait for an answer that never comes.
	parallel := func(file, transports string, replay func(*corpus.Case, string) string) {
		cases, err := corpus.Load(filepath.Join(malformedDir, file))
		if err != nil {
			t.Fatal(err)
		}
		type job struct {
			c         *corpus.Case
			transport string
			got       string
		}
		var jobs []*job
		for _, c := range cases {
			for _, tr := range strings.Fields(or(c.Get("via"), transports)) {
				jobs = append(jobs, &job{c: withTransport(c, tr), transport: tr})
			}
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for _, j := range jobs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				j.got = replay(j.c, j.transport)
			}()
		}
		wg.Wait()
		for _, j := range jobs {
			check(j.c, j.got)
		}
		innocent(file)
	}
	parallel("sip.txt", "udp tcp", func(c *corpus.Case, tr string) string { return replaySIP(t, d, c, tr, nil) })
	parallel("sdp.txt", "tcp", func(c *corpus.Case, tr string) string { return replaySDP(t, d, c, tr) })
	mallory := joinRoom(t, d, "lobby", "mallory", "tcp", false)
	batch("cpim.txt", func(c *corpus.Case) { check(c, replayCPIM(t, mallory, c)) })
	n := 0
	batch("msrp.txt", func(c *corpus.Case) {
		n++
		check(c, replayMSRP(t, d, c, fmt.Sprintf("m%d", n)))
	})
	batch("ccmp.txt", func(c *corpus.Case) { check(c, replayCCMP(t, d, c)) })
	batch("confinfo.txt", func(c *corpus.Case) { check(c, replayCCMP(t, d, c)) })
	t.Logf("%d answers checked", total)
}

// TestMalformedConfig loads each case of testdata/malformed/config.yaml.txt as an operator's file
// and checks the error: it must name the key, and the line where the YAML decoder knows it.
func TestMalformedConfig(t *testing.T) {
	cases, err := corpus.Load(filepath.Join(malformedDir, "config.txt"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range cases {
		in, err := c.Input(map[string]string{})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "parley.yaml")
		if err := os.WriteFile(path, in, 0o600); err != nil {
			t.Fatal(err)
		}
		got := "ok"
		cfg, err := configs.Load(path)
		if err == nil {
			err = cfg.Resolve()
		}
		if err != nil {
			got = "error " + strings.ReplaceAll(err.Error(), "\n", " | ")
		}
		if recordMalformed {
			t.Logf("RECORD %s:%d %s => %s", c.File, c.Line, c.Name, got)
			continue
		}
		if !matchAnswer(c, got) {
			t.Errorf("%s: got %s, want %s %s", c, got, c.Get("want"), c.Get("error"))
		}
	}
	t.Logf("%d config cases", len(cases))
}

// matchAnswer compares an answer ("400 Warning text", "drop", "closed", "http 413 …",
// "ccmp 400 reason", "error …") with the case's want (the first words must equal) and every
// substring it names under warning, comment, reason or error.
func matchAnswer(c *corpus.Case, got string) bool {
	ok := false
	for _, want := range strings.Split(c.Get("want"), " | ") { // alternatives, when a race decides
		ok = ok || got == want || strings.HasPrefix(got, want+" ")
	}
	if !ok {
		return false
	}
	if got == "closed" || got == "drop" || got == "silent" || got == "timeout" {
		return true // nothing to hold a substring
	}
	for _, k := range []string{"warning", "comment", "reason", "error"} {
		if v := c.Get(k); v != "" {
			for _, sub := range strings.Split(v, "\n") {
				if !strings.Contains(got, sub) {
					return false
				}
			}
		}
	}
	return true
}

// withTransport returns c with the want of that transport (want-udp, want-tcp) when it has one.
func withTransport(c *corpus.Case, transport string) *corpus.Case {
	w, ok := c.Keys["want-"+transport]
	if !ok {
		return c
	}
	x := *c
	x.Keys = map[string]string{}
	for k, v := range c.Keys {
		x.Keys[k] = v
	}
	x.Keys["want"] = w
	x.Name += " (" + transport + ")"
	return &x
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// sipVars are the variables a SIP case may use: fresh branch, tag and Call-ID, the socket's
// address, and the standard header lines built from them.
func sipVars(d *daemon, conn net.Conn, transport string) map[string]string {
	local := conn.LocalAddr().String()
	v := map[string]string{
		"T": strings.ToUpper(transport), "LOCAL": local, "FOCUS": d.sipAddr(),
		"BRANCH": "z9hG4bK" + sip.GenerateTagN(12), "TAG": sip.GenerateTagN(8), "CALLID": sip.GenerateTagN(16),
		"ROOM": "sip:lobby@example.net",
	}
	v["VIA"] = "Via: SIP/2.0/" + v["T"] + " " + local + ";rport;branch=" + v["BRANCH"]
	v["FROM"] = "From: <sip:mallory@example.com>;tag=" + v["TAG"]
	v["TO"] = "To: <sip:lobby@example.net>"
	v["CID"] = "Call-ID: " + v["CALLID"]
	v["MF"] = "Max-Forwards: 70"
	v["CONTACT"] = "Contact: <sip:mallory@" + local + ">"
	v["SDP"] = string(newMSRPPeer(nil).offerBytes())
	return v
}

// offerBytes is offer without a test to fail (the offer of one m-line labelled main).
func (m *msrpPeer) offerBytes() []byte {
	return []byte("v=0\r\no=mallory 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=message 9 TCP/MSRP *\r\na=accept-types:message/cpim\r\na=accept-wrapped-types:text/plain *\r\n" +
		"a=path:" + m.Local.String() + "\r\na=label:main\r\na=setup:active\r\na=chatroom:nickname private-messages\r\n")
}

// fillContentLength replaces {{CL}}, left in place by the expansion, with the body's length.
func fillContentLength(msg []byte) []byte {
	if !bytes.Contains(msg, []byte("{{CL}}")) {
		return msg
	}
	_, body, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	return bytes.ReplaceAll(msg, []byte("{{CL}}"), []byte(strconv.Itoa(len(body))))
}

// replaySIP sends one case on a fresh socket and returns the answer: "CODE Warning-value" for a
// final response, "drop" when the focus ignores it (a probe OPTIONS sent after it is answered
// first), "closed" when it closes the TCP connection, "silent" when nothing comes at all.
func replaySIP(t *testing.T, d *daemon, c *corpus.Case, transport string, body []byte) string {
	t.Helper()
	conn, err := net.Dial(transport, d.sipAddr())
	if err != nil {
		return "dial error " + err.Error()
	}
	defer conn.Close()
	vars := sipVars(d, conn, transport)
	vars["CL"] = "{{CL}}"
	if body != nil {
		vars["BODY"] = string(body)
		vars["BODYLEN"] = strconv.Itoa(len(body))
	}
	msg, err := c.Input(vars)
	if err != nil {
		return "corpus error " + err.Error()
	}
	msg = fillContentLength(msg)
	if _, err := conn.Write(msg); err != nil {
		return "closed"
	}
	probeID := "probe-" + sip.GenerateTagN(12)
	probe := strings.Join([]string{"OPTIONS sip:lobby@example.net SIP/2.0",
		"Via: SIP/2.0/" + vars["T"] + " " + vars["LOCAL"] + ";rport;branch=z9hG4bK" + sip.GenerateTagN(12),
		"Max-Forwards: 70", "From: <sip:probe@example.com>;tag=" + sip.GenerateTagN(8), "To: <sip:lobby@example.net>",
		"Call-ID: " + probeID, "CSeq: 1 OPTIONS", "Content-Length: 0", "", ""}, "\r\n")
	if transport == "udp" {
		time.Sleep(20 * time.Millisecond) // the case first, then the probe
	}
	if c.Get("probe") != "no" {
		_, _ = conn.Write([]byte(probe))
	}
	r := bufio.NewReader(conn)
	deadline := time.Now().Add(5 * time.Second)
	probed := false
	timedOut := func() string {
		if probed {
			return "drop"
		}
		return "silent"
	}
	for {
		conn.SetReadDeadline(deadline)
		var data []byte
		if transport == "udp" {
			buf := make([]byte, 65535)
			n, err := conn.Read(buf)
			if err != nil {
				return timedOut()
			}
			data = buf[:n]
		} else {
			data, err = readSIPStream(r)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					return timedOut()
				}
				return "closed"
			}
		}
		m, err := sip.ParseMessage(data)
		if err != nil {
			return fmt.Sprintf("unparsable %q", data)
		}
		res, ok := m.(*sip.Response)
		if !ok || res.StatusCode < 200 {
			continue
		}
		if res.CallID() != nil && res.CallID().Value() == probeID {
			// The probe came after the case: an answer to the case would come before long.
			probed, deadline = true, time.Now().Add(500*time.Millisecond)
			continue
		}
		if res.StatusCode == 200 && res.CSeq() != nil && res.CSeq().MethodName == sip.INVITE {
			_, _ = conn.Write([]byte(ackAndBye(res, vars)))
		}
		got := strconv.Itoa(res.StatusCode)
		if w := res.GetHeader("Warning"); w != nil {
			got += " " + w.Value()
		}
		return got
	}
}

// ackAndBye ends a dialog a case set up after all.
func ackAndBye(res *sip.Response, vars map[string]string) string {
	target := res.Contact().Address.String()
	lines := func(method string, cseq int) string {
		return strings.Join([]string{method + " " + target + " SIP/2.0",
			"Via: SIP/2.0/" + vars["T"] + " " + vars["LOCAL"] + ";rport;branch=z9hG4bK" + sip.GenerateTagN(12),
			"Max-Forwards: 70", res.From().String(), res.To().String(), res.CallID().String(),
			fmt.Sprintf("CSeq: %d %s", cseq, method), "Content-Length: 0", "", ""}, "\r\n")
	}
	return lines("ACK", 1) + lines("BYE", 2)
}

func readSIPStream(r *bufio.Reader) ([]byte, error) {
	var head bytes.Buffer
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && (strings.EqualFold(strings.TrimSpace(k), "Content-Length") || strings.TrimSpace(k) == "l") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(head.Bytes(), body...), nil
}

// replaySDP sends the case's SDP as the body of an INVITE to the lobby.
func replaySDP(t *testing.T, d *daemon, c *corpus.Case, transport string) string {
	t.Helper()
	body, err := c.Input(map[string]string{"PATH": "msrp://127.0.0.1:9/sdpcase" + sip.GenerateTagN(8) + ";tcp"})
	if err != nil {
		return "corpus error " + err.Error()
	}
	wrap := &corpus.Case{File: c.File, Name: c.Name, Line: c.Line, Keys: c.Keys}
	return replaySIP(t, d, wrapInvite(wrap, c.Get("content-type")), transport, body)
}

var (
	inviteMu        sync.Mutex
	inviteTemplates = map[string]*corpus.Case{}
)

// wrapInvite returns a case whose input is an INVITE to the lobby carrying {{BODY}}.
func wrapInvite(c *corpus.Case, contentType string) *corpus.Case {
	ct := or(contentType, "application/sdp")
	inviteMu.Lock()
	defer inviteMu.Unlock()
	if w, ok := inviteTemplates[ct]; ok {
		return w
	}
	dir, _ := os.MkdirTemp("", "invite")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "t.txt")
	os.WriteFile(path, []byte("=== sdp-invite\n---\nINVITE sip:lobby@example.net SIP/2.0\n{{VIA}}\n{{MF}}\n{{FROM}}\n{{TO}}\n{{CID}}\nCSeq: 1 INVITE\n{{CONTACT}}\nContent-Type: "+ct+"\nContent-Length: {{BODYLEN}}\n\n{{BODY}}\\c\n"), 0o600)
	cs, err := corpus.Load(path)
	if err != nil {
		panic(err)
	}
	inviteTemplates[ct] = cs[0]
	return cs[0]
}

// replayCPIM sends the case's input as the CPIM body of a SEND of mallory's (content type
// message/cpim unless the case says type) and returns the response code and comment.
func replayCPIM(t *testing.T, p *participant, c *corpus.Case) string {
	t.Helper()
	body, err := c.Input(map[string]string{"ME": "sip:mallory@example.com", "ROOM": "sip:lobby@example.net",
		"BOB": "sip:bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	tid := p.msrp.send(or(c.Get("type"), "message/cpim"), body)
	r := p.msrp.response(t, tid)
	return strconv.Itoa(r.StatusCode) + " " + r.Comment
}

// replayMSRP joins a fresh member, writes the case's bytes on its bound MSRP connection (then a
// bodiless probe SEND unless probe: no) and returns the answer to the case's transaction:
// "CODE comment", "silent" when the probe is answered first, "closed" when the focus closes the
// connection, "timeout" when nothing comes.
func replayMSRP(t *testing.T, d *daemon, c *corpus.Case, name string) string {
	t.Helper()
	p := joinRoom(t, d, "lobby", name, "tcp", false)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.dlg.Bye(ctx)
		p.msrp.Conn.Close()
	}()
	tid := msrp.NewTransactionID()
	cpim := string(cpimBody("sip:"+name+"@example.com", "sip:lobby@example.net", "hi from "+name))
	vars := map[string]string{"TID": tid, "MID": msrp.NewMessageID(), "TOPATH": p.msrp.Remote[0].String(),
		"FROMPATH": p.msrp.Local.String(), "CPIM": cpim, "CPIMLEN": strconv.Itoa(len(cpim)),
		"OTHER": msrp.URI{Host: "127.0.0.1", Port: p.msrp.Remote[0].Port, SessionID: msrp.NewSessionID(), Transport: "tcp"}.String()}
	in, err := c.Input(vars)
	if err != nil {
		t.Fatal(err)
	}
	if werr := p.msrp.WriteRaw(in); werr != nil {
		return "closed"
	}
	probe := ""
	if c.Get("probe") != "no" {
		probe = msrp.NewTransactionID()
		_ = p.msrp.WriteRaw((&msrp.Message{TransactionID: probe, Method: "SEND", MessageID: msrp.NewMessageID(),
			ToPath: p.msrp.Remote, FromPath: []msrp.URI{p.msrp.Local}, ByteRange: msrp.ByteRange{Start: 1, End: 0, Total: 0}}).AppendTo(nil))
	}
	if c.Get("tid") != "" {
		tid = c.Get("tid") // a case that cannot use a fresh one
	}
	wait := 5 * time.Second
	if w, err := time.ParseDuration(c.Get("wait")); err == nil {
		wait = w
	}
	timeout := time.After(wait)
	for {
		select {
		case f, ok := <-p.msrp.Frames:
			if !ok {
				return "closed"
			}
			if !f.IsResponse() {
				continue
			}
			switch f.TransactionID {
			case tid:
				return strings.TrimSpace(strconv.Itoa(f.StatusCode) + " " + f.Comment)
			case probe:
				return "silent"
			}
		case <-timeout:
			return "timeout"
		}
	}
}

// ccmpWrap is the CCMP request a conference-info case's confInfo travels in.
const ccmpWrap = `<?xml version="1.0" encoding="UTF-8"?>
<ccmp:ccmpRequest xmlns:ccmp="urn:ietf:params:xml:ns:xcon-ccmp" xmlns:info="urn:ietf:params:xml:ns:conference-info"
 xmlns:xcon="urn:ietf:params:xml:ns:xcon-conference-info" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <ccmpRequest xsi:type="ccmp:ccmp-conf-request-message-type">
  <confUserID>xcon-userid:admin@example.com</confUserID>
  %s<operation>%s</operation>
  <ccmp:confRequest>%s</ccmp:confRequest>
 </ccmpRequest>
</ccmp:ccmpRequest>`

// replayCCMP posts the case's input to /ccmp (with the case's content-type) and returns "http
// CODE body" for an HTTP refusal or "ccmp CODE reason" for a CCMP answer. A case with wrap:
// update or wrap: create is a confInfo put in a confRequest of that operation on sandbox.
func replayCCMP(t *testing.T, d *daemon, c *corpus.Case) string {
	t.Helper()
	name := "r" + strings.ToLower(sip.GenerateTagN(8))
	in, err := c.Input(map[string]string{"SANDBOX": "xcon:sandbox@example.net", "NEW": "xcon:" + name + "@example.net",
		"LOBBY": "xcon:lobby@example.net", "DOMAIN": "example.net"})
	if err != nil {
		t.Fatal(err)
	}
	switch c.Get("wrap") {
	case "update":
		in = []byte(fmt.Sprintf(ccmpWrap, "<confObjID>xcon:sandbox@example.net</confObjID>", "update", in))
	case "create":
		in = []byte(fmt.Sprintf(ccmpWrap, "", "create", in))
	}
	req, err := http.NewRequest("POST", "http://"+d.httpAddr.String()+"/ccmp", bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if ct := or(c.Get("content-type"), "application/ccmp+xml"); ct != "none" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "http error " + err.Error()
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return fmt.Sprintf("http %d %s", res.StatusCode, strings.TrimSpace(string(raw)))
	}
	resp, err := ccmp.DecodeResponse(bytes.NewReader(raw))
	if err != nil {
		return fmt.Sprintf("undecodable %v %q", err, raw)
	}
	return strings.TrimSpace(fmt.Sprintf("ccmp %d %s", resp.Code, resp.Reason))
}
