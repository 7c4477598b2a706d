package msrp_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/msrptest"
)

// boundPair is a server session bound to a raw peer that reads.
func boundPair(t *testing.T, cfg msrp.Config, h msrp.SessionHandler) (*msrp.Endpoint, *msrp.Session, *msrptest.Peer) {
	t.Helper()
	srv, addr := server(t, cfg)
	s := srv.NewSession(h)
	p := dial(t, addr, true)
	s.SetRemotePath([]msrp.URI{p.Local})
	p.Write(sendTo(s, "bind", "", ""))
	p.ExpectNext(t, "bind", 200)
	return srv, s, p
}

// TestReports_Success: Success-Report yes gets a success REPORT covering the bytes received, after the 200,
// with the whole From-Path as To-Path (RFC 4975 §7.1.2, §7.1.3); no or absent gets none.
func TestReports_Success(t *testing.T) {
	relayed := []msrp.URI{{Host: "relay.example", Port: 2855, SessionID: "r1", Transport: "tcp"}}
	tests := []struct {
		name   string
		frames func(s *msrp.Session, from []msrp.URI) []*msrp.Message
		report bool
		total  int64
	}{
		{"whole message", func(s *msrp.Session, from []msrp.URI) []*msrp.Message {
			m := sendTo(s, "w1", "text/plain", "hello")
			m.SuccessReport, m.MessageID = "yes", "MW"
			return []*msrp.Message{m}
		}, true, 5},
		{"chunked message", func(s *msrp.Session, from []msrp.URI) []*msrp.Message {
			a := chunk(s, "c1", "MC", msrp.ByteRange{1, -1, 8}, '+', "abcd")
			b := chunk(s, "c2", "MC", msrp.ByteRange{5, 8, 8}, '$', "efgh")
			a.SuccessReport, b.SuccessReport = "yes", "yes"
			return []*msrp.Message{a, b}
		}, true, 8},
		{"Success-Report no", func(s *msrp.Session, from []msrp.URI) []*msrp.Message {
			m := sendTo(s, "n1", "text/plain", "hello")
			m.SuccessReport, m.MessageID = "no", "MN"
			return []*msrp.Message{m}
		}, false, 0},
		{"absent", func(s *msrp.Session, from []msrp.URI) []*msrp.Message {
			return []*msrp.Message{sendTo(s, "a1", "text/plain", "hello")}
		}, false, 0},
	}
	rec := newRecorder()
	_, s, p := boundPair(t, msrp.Config{}, rec)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := append([]msrp.URI{p.Local}, relayed...)
			frames := tt.frames(s, from)
			for _, m := range frames {
				m.FromPath = from
				p.Write(m)
				p.ExpectNext(t, m.TransactionID, 200)
			}
			rec.nextMsg(t)
			p.Write(sendTo(s, "sync", "", ""))
			next := p.Next(t)
			if !tt.report {
				if !next.IsResponse() || next.TransactionID != "sync" {
					t.Fatalf("unexpected %q", next.AppendTo(nil))
				}
				return
			}
			if next.Method != "REPORT" || next.MessageID != frames[0].MessageID || next.Status == nil ||
				next.Status.Code != 200 || next.ByteRange != (msrp.ByteRange{1, tt.total, tt.total}) {
				t.Fatalf("want success REPORT, got %q", next.AppendTo(nil))
			}
			if len(next.ToPath) != 2 || !next.ToPath[1].Equal(relayed[0]) || next.SuccessReport != "" || next.FailureReport != "" {
				t.Fatalf("REPORT To-Path %v (want the whole From-Path), report headers %q %q", next.ToPath, next.SuccessReport, next.FailureReport)
			}
			p.ExpectNext(t, "sync", 200)
		})
	}
}

// TestReports_SendReport: the application reports an error found after the 200 (RFC 4975 §7.1.4); the
// request's Failure-Report decides whether anything is sent.
func TestReports_SendReport(t *testing.T) {
	rec := newRecorder()
	srv, s, p := boundPair(t, msrp.Config{}, rec)
	tests := []struct {
		name          string
		failureReport string
		sent          bool
	}{
		{"default yes", "", true},
		{"partial", "partial", true},
		{"no", "no", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sendTo(s, "r"+string(rune('a'+i)), "text/plain", "later refused")
			m.FailureReport = tt.failureReport
			p.Write(m)
			if tt.failureReport == "" {
				p.ExpectNext(t, m.TransactionID, 200)
			}
			got := rec.nextMsg(t)
			if err := s.SendReport(got, msrp.StatusForbidden, "Refused after all"); err != nil {
				t.Fatal(err)
			}
			p.Write(sendTo(s, "sync", "", ""))
			next := p.Next(t)
			if tt.sent {
				if next.Method != "REPORT" || next.Status.Code != 403 || next.Status.Comment != "Refused after all" ||
					next.MessageID != m.MessageID || next.ByteRange != (msrp.ByteRange{1, 13, 13}) {
					t.Fatalf("want failure REPORT, got %q", next.AppendTo(nil))
				}
				next = p.Next(t)
			}
			if !next.IsResponse() || next.TransactionID != "sync" {
				t.Fatalf("unexpected %q", next.AppendTo(nil))
			}
		})
	}
	// A REPORT is not a transaction: nobody answers it, and success REPORTs are only sent when asked for.
	m := sendTo(s, "plain", "text/plain", "x")
	p.Write(m)
	p.ExpectNext(t, "plain", 200)
	if err := s.SendReport(rec.nextMsg(t), msrp.StatusOK, ""); err != nil {
		t.Fatal(err)
	}
	unbound := srv.NewSession(rec)
	if err := unbound.SendReport(m, 403, ""); !errors.Is(err, msrp.ErrNotBound) {
		t.Fatalf("SendReport on an unbound session: %v", err)
	}
}

// TestResponses_Codes: every failure code we may receive is reported to the DeliveryHandler with the
// Message-ID (RFC 4975 §10); 481 also fails the session (§10.6); REPORTs we receive are never answered.
func TestResponses_Codes(t *testing.T) {
	codes := []int{400, 403, 404, 408, 413, 415, 423, 425, 428, 501, 481}
	for _, code := range codes {
		t.Run(msrp.StatusText(code), func(t *testing.T) {
			rec := newRecorder()
			_, s, p := boundPair(t, msrp.Config{}, rec)
			m := &msrp.Message{ContentType: "text/plain", Body: []byte("to be refused")}
			if err := s.SendMessage(m); err != nil {
				t.Fatal(err)
			}
			req := p.Next(t)
			if req.Method != "SEND" || req.MessageID != m.MessageID {
				t.Fatalf("got %q", req.AppendTo(nil))
			}
			p.Write(&msrp.Message{TransactionID: req.TransactionID, StatusCode: code, ToPath: req.FromPath[:1]})
			f := rec.nextFailure(t)
			if f.s != s || f.mid != m.MessageID || f.code != code {
				t.Fatalf("DeliveryFailed %+v", f)
			}
			if code == 481 {
				if ev := rec.nextClose(t); ev.reason != msrp.PeerNoSuchSession {
					t.Fatalf("closed with %v", ev.reason)
				}
				return
			}
			// A failure REPORT is reported the same way and not answered.
			write(t, p, "MSRP rp1 REPORT\nTo-Path: "+s.LocalURI().String()+"\nFrom-Path: "+p.Local.String()+
				"\nMessage-ID: "+m.MessageID+"\nByte-Range: 1-13/13\nStatus: 000 "+fmt.Sprintf("%03d", code)+" Later\n-------rp1$\n")
			if f := rec.nextFailure(t); f.mid != m.MessageID || f.code != code {
				t.Fatalf("DeliveryFailed from REPORT %+v", f)
			}
			p.Write(sendTo(s, "sync", "", ""))
			p.ExpectNext(t, "sync", 200)
		})
	}
}

// TestTransactions_Timeout: a request without a response fails TransactionTimeout after its last byte was
// written (RFC 4975 §7.1.1) and the application is told with 408; a request still queued does not time out.
func TestTransactions_Timeout(t *testing.T) {
	rec := newRecorder()
	srv, addr, gates := gatedServer(t, msrp.Config{TransactionTimeout: time.Hour})
	s := srv.NewSession(rec)
	p := dial(t, addr, true)
	s.SetRemotePath([]msrp.URI{p.Local})
	g := <-gates
	p.Write(sendTo(s, "bind", "", ""))
	p.ExpectNext(t, "bind", 200)
	g.close()
	m := &msrp.Message{ContentType: "text/plain", Body: []byte("unanswered")}
	if err := s.SendMessage(m); err != nil {
		t.Fatal(err)
	}
	g.waitEntered(t)
	c := s.BoundConn()
	later := time.Now().Add(2 * time.Hour)
	c.ExpireTransactions(later, time.Hour) // still in the writer's hands: not expired
	select {
	case f := <-rec.failed:
		t.Fatalf("queued request expired: %+v", f)
	default:
	}
	g.open()
	if got := p.Next(t); got.MessageID != m.MessageID {
		t.Fatalf("got %q", got.AppendTo(nil))
	}
	// The writer stamps the request after the write returns; a response-free round trip orders us after it.
	p.Write(sendTo(s, "sync", "", ""))
	p.ExpectNext(t, "sync", 200)
	c.ExpireTransactions(later, time.Hour)
	if f := rec.nextFailure(t); f.mid != m.MessageID || f.code != msrp.StatusRequestTimeout {
		t.Fatalf("DeliveryFailed %+v", f)
	}
	if st := srv.Stats(); st.TransactionTimeouts != 1 {
		t.Fatalf("TransactionTimeouts %d", st.TransactionTimeouts)
	}
}

// TestTransactions_TimeoutJanitor: the Endpoint's own timer expires an unanswered request.
func TestTransactions_TimeoutJanitor(t *testing.T) {
	rec := newRecorder()
	_, s, p := boundPair(t, msrp.Config{TransactionTimeout: 30 * time.Millisecond}, rec)
	if err := s.SendMessage(&msrp.Message{ContentType: "text/plain", Body: []byte("nobody answers")}); err != nil {
		t.Fatal(err)
	}
	p.Next(t)
	if f := rec.nextFailure(t); f.code != msrp.StatusRequestTimeout || f.s != s {
		t.Fatalf("DeliveryFailed %+v", f)
	}
}

// TestSendAsksForFailuresOnly: what Send queues whole carries Failure-Report partial and is not
// tracked: no 200 is due, so none times out; a 200 sent anyway is ignored, and a 481 still ends
// the session (RFC 4975 §7.1.1, §10.6). A chunked message keeps Failure-Report yes.
func TestSendAsksForFailuresOnly(t *testing.T) {
	rec := newRecorder()
	srv, s, p := boundPair(t, msrp.Config{TransactionTimeout: 30 * time.Millisecond}, rec)
	if err := s.Send("text/plain", []byte("one")); err != nil {
		t.Fatal(err)
	}
	m := p.Next(t)
	if m.FailureReport != "partial" {
		t.Fatalf("Failure-Report %q, want partial", m.FailureReport)
	}
	p.Write(&msrp.Message{TransactionID: m.TransactionID, StatusCode: 200, ToPath: m.FromPath[:1], FromPath: m.ToPath})
	time.Sleep(100 * time.Millisecond) // past the transaction timeout
	select {
	case f := <-rec.failed:
		t.Fatalf("a partial request was tracked: %+v", f)
	default:
	}
	if st := srv.Stats(); st.TransactionTimeouts != 0 {
		t.Fatalf("TransactionTimeouts %d", st.TransactionTimeouts)
	}
	if err := s.Send("text/plain", bytes.Repeat([]byte("x"), msrp.MaxUninterruptible+1)); err != nil {
		t.Fatal(err)
	}
	if big := p.Next(t); big.FailureReport != "" {
		t.Fatalf("chunk of a large message: Failure-Report %q, want none (yes)", big.FailureReport)
	}
	if err := s.Send("text/plain", []byte("two")); err != nil {
		t.Fatal(err)
	}
	m = p.Next(t)
	for m.MessageID == "" || string(m.Body) != "two" {
		m = p.Next(t)
	}
	p.Write(&msrp.Message{TransactionID: m.TransactionID, StatusCode: msrp.StatusNoSuchSession, ToPath: m.FromPath[:1], FromPath: m.ToPath})
	select {
	case r := <-rec.closed:
		if r.reason != msrp.PeerNoSuchSession || r.s != s {
			t.Fatalf("session closed with %+v, want %v", r, msrp.PeerNoSuchSession)
		}
	case <-time.After(failsafe):
		t.Fatal("a 481 to a partial request did not end the session")
	}
}
