package msrp_test

import (
	"strings"
	"testing"

	"github.com/parleychat/parley/msrp"
)

// chunkRecorder is a recorder that also takes chunks (ChunkHandler); refuse picks a chunk to answer 413.
type chunkRecorder struct {
	*recorder
	chunks chan *msrp.Message
	refuse func(m *msrp.Message) error
}

func (r *chunkRecorder) HandleChunk(s *msrp.Session, m *msrp.Message) error {
	r.chunks <- m
	if r.refuse != nil {
		return r.refuse(m)
	}
	return nil
}

// TestChunkHandler_Streams: a chunked message above StreamThreshold (or of unknown size) reaches a
// ChunkHandler chunk by chunk, out of order as sent, each with the range its data covers; the success REPORT
// follows the last missing byte; small chunked and whole messages are still delivered whole.
func TestChunkHandler_Streams(t *testing.T) {
	rec := &chunkRecorder{recorder: newRecorder(), chunks: make(chan *msrp.Message, 64)}
	_, s, p := boundPair(t, msrp.Config{StreamThreshold: 10}, rec)
	type want struct {
		br   msrp.ByteRange
		flag byte
		body string
	}
	tests := []struct {
		name   string
		frames []*msrp.Message
		want   []want
		report msrp.ByteRange // success REPORT expected once complete; zero: none
	}{
		{"known total, out of order", []*msrp.Message{
			chunk(s, "a1", "MA", msrp.ByteRange{1, -1, 16}, '+', "0123"),
			chunk(s, "a2", "MA", msrp.ByteRange{9, 16, 16}, '$', "89abcdef"),
			chunk(s, "a3", "MA", msrp.ByteRange{5, -1, 16}, '+', "4567"),
		}, []want{{msrp.ByteRange{1, 4, 16}, '+', "0123"}, {msrp.ByteRange{9, 16, 16}, '$', "89abcdef"}, {msrp.ByteRange{5, 8, 16}, '+', "4567"}},
			msrp.ByteRange{1, 16, 16}},
		{"unknown total", []*msrp.Message{
			chunk(s, "b1", "MB", msrp.ByteRange{1, -1, -1}, '+', "xy"),
			chunk(s, "b2", "MB", msrp.ByteRange{3, 4, 4}, '$', "zw"),
		}, []want{{msrp.ByteRange{1, 2, -1}, '+', "xy"}, {msrp.ByteRange{3, 4, 4}, '$', "zw"}}, msrp.ByteRange{1, 4, 4}},
		{"aborted", []*msrp.Message{
			chunk(s, "c1", "MC", msrp.ByteRange{1, -1, 100}, '+', "abc"),
			chunk(s, "c2", "MC", msrp.ByteRange{4, -1, 100}, '#', "d"),
		}, []want{{msrp.ByteRange{1, 3, 100}, '+', "abc"}, {msrp.ByteRange{4, 4, 100}, '#', "d"}}, msrp.ByteRange{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, m := range tt.frames {
				m.SuccessReport = "yes" // every chunk carries the same report headers (§7.1.1)
				p.Write(m)
				p.ExpectNext(t, m.TransactionID, 200)
			}
			if tt.report.Start != 0 {
				if r := p.Next(t); r.Method != "REPORT" || r.ByteRange != tt.report || r.Status.Code != 200 {
					t.Fatalf("want success REPORT %v, got %q", tt.report, r.AppendTo(nil))
				}
			}
			for _, w := range tt.want {
				m := <-rec.chunks
				if m.ByteRange != w.br || m.Flag != w.flag || string(m.Body) != w.body {
					t.Fatalf("chunk %v %q %q, want %v %q %q", m.ByteRange, m.Flag, m.Body, w.br, w.flag, w.body)
				}
			}
		})
	}
	// A small chunked message (total ≤ threshold) is reassembled.
	p.Write(chunk(s, "d1", "MD", msrp.ByteRange{1, -1, 6}, '+', "abc"))
	p.ExpectNext(t, "d1", 200)
	p.Write(chunk(s, "d2", "MD", msrp.ByteRange{4, 6, 6}, '$', "def"))
	p.ExpectNext(t, "d2", 200)
	if m := rec.nextMsg(t); string(m.Body) != "abcdef" {
		t.Fatalf("reassembled %q", m.Body)
	}
	select {
	case m := <-rec.chunks:
		t.Fatalf("small message streamed: %+v", m.ByteRange)
	default:
	}
}

// TestChunkHandler_StopMidway: the handler refuses a chunk with 413; that chunk and every later chunk of the
// message get 413 (RFC 4975 §10.5) without reaching the handler.
func TestChunkHandler_StopMidway(t *testing.T) {
	rec := &chunkRecorder{recorder: newRecorder(), chunks: make(chan *msrp.Message, 64)}
	rec.refuse = func(m *msrp.Message) error {
		if m.ByteRange.Start > 1 {
			return &msrp.StatusError{Code: msrp.StatusTooLarge, Comment: "Enough"}
		}
		return nil
	}
	srv, s, p := boundPair(t, msrp.Config{StreamThreshold: 10}, rec)
	p.Write(chunk(s, "s1", "MS", msrp.ByteRange{1, -1, -1}, '+', "first"))
	p.ExpectNext(t, "s1", 200)
	p.Write(chunk(s, "s2", "MS", msrp.ByteRange{6, -1, -1}, '+', "second"))
	if r := p.ExpectNext(t, "s2", 413); r.Comment != "Enough" {
		t.Fatalf("comment %q", r.Comment)
	}
	p.Write(chunk(s, "s3", "MS", msrp.ByteRange{12, -1, -1}, '+', "third"))
	p.ExpectNext(t, "s3", 413)
	if n := len(rec.chunks); n != 2 {
		t.Fatalf("handler saw %d chunks, want 2", n)
	}
	if st := srv.Stats(); st.TooLarge != 2 {
		t.Fatalf("TooLarge %d", st.TooLarge)
	}
}

// TestMaxSize: the session's advertised max-size bounds what it accepts, whole or chunked, streamed or
// reassembled, before anything is allocated (RFC 4975 §8.6, §14.5).
func TestMaxSize(t *testing.T) {
	tests := []struct {
		name  string
		h     func() msrp.SessionHandler
		frame func(s *msrp.Session) *msrp.Message
		code  int
	}{
		{"whole over max-size", func() msrp.SessionHandler { return newRecorder() }, func(s *msrp.Session) *msrp.Message {
			return sendTo(s, "w", "text/plain", strings.Repeat("x", 101))
		}, 413},
		{"whole at max-size", func() msrp.SessionHandler { return newRecorder() }, func(s *msrp.Session) *msrp.Message {
			return sendTo(s, "w", "text/plain", strings.Repeat("x", 100))
		}, 200},
		{"declared total over", func() msrp.SessionHandler { return newRecorder() }, func(s *msrp.Session) *msrp.Message {
			return chunk(s, "t", "M1", msrp.ByteRange{1, -1, 5000}, '+', "x")
		}, 413},
		{"chunk past max-size", func() msrp.SessionHandler { return newRecorder() }, func(s *msrp.Session) *msrp.Message {
			return chunk(s, "p", "M2", msrp.ByteRange{99, -1, -1}, '+', "xyz")
		}, 413},
		{"streamed, declared total over", func() msrp.SessionHandler {
			return &chunkRecorder{recorder: newRecorder(), chunks: make(chan *msrp.Message, 4)}
		}, func(s *msrp.Session) *msrp.Message {
			return chunk(s, "st", "M3", msrp.ByteRange{1, -1, 101}, '+', "x")
		}, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s, p := boundPair(t, msrp.Config{StreamThreshold: 10}, tt.h())
			s.SetMaxSize(100)
			m := tt.frame(s)
			p.Write(m)
			p.ExpectNext(t, m.TransactionID, tt.code)
		})
	}
}

// TestStreamLimit: SetStreamLimit lets a streamed message go beyond MaxMessageSize and the session's
// max-size (the handler holds none of it), while a reassembled one stays bounded, and the stream limit
// itself still gets 413.
func TestStreamLimit(t *testing.T) {
	rec := &chunkRecorder{recorder: newRecorder(), chunks: make(chan *msrp.Message, 64)}
	_, s, p := boundPair(t, msrp.Config{StreamThreshold: 10, MaxMessageSize: 100}, rec)
	p.Write(chunk(s, "n1", "MN", msrp.ByteRange{1, -1, 300}, '+', "abc"))
	p.ExpectNext(t, "n1", 413) // no stream limit yet: MaxMessageSize
	s.SetMaxSize(50)
	s.SetStreamLimit(400)
	for i := int64(0); i < 4; i++ {
		flag, end := byte('+'), int64(-1)
		if i == 3 {
			flag, end = '$', 300
		}
		tid := "t" + string(rune('1'+i))
		p.Write(chunk(s, tid, "MT", msrp.ByteRange{1 + 75*i, end, 300}, flag, strings.Repeat("abcd"[i:i+1], 75)))
		p.ExpectNext(t, tid, 200)
		<-rec.chunks
	}
	p.Write(chunk(s, "u1", "MU", msrp.ByteRange{1, -1, 500}, '+', "abc"))
	p.ExpectNext(t, "u1", 413) // beyond the stream limit
	// Of unknown size, stopped once past it: the handler hears of it as an abort.
	p.Write(chunk(s, "w1", "MW", msrp.ByteRange{1, -1, -1}, '+', strings.Repeat("w", 100)))
	p.ExpectNext(t, "w1", 200)
	<-rec.chunks
	for i, start := range []int64{101, 201, 301, 401} {
		tid := "w" + string(rune('2'+i))
		p.Write(chunk(s, tid, "MW", msrp.ByteRange{start, -1, -1}, '+', strings.Repeat("w", 100)))
		if start < 400 {
			p.ExpectNext(t, tid, 200)
			<-rec.chunks
		} else {
			p.ExpectNext(t, tid, 413)
		}
	}
	if m := <-rec.chunks; m.Flag != msrp.FlagAbort || len(m.Body) != 0 {
		t.Fatalf("handler got %q with %d bytes, want an abort", m.Flag, len(m.Body))
	}
	p.Write(chunk(s, "w9", "MW", msrp.ByteRange{501, -1, -1}, '+', "more"))
	p.ExpectNext(t, "w9", 413)
	select {
	case m := <-rec.chunks:
		t.Fatalf("a chunk after the stop reached the handler: %v", m.ByteRange)
	default:
	}
	p.Write(chunk(s, "v1", "MV", msrp.ByteRange{1, -1, 10}, '+', "abc"))
	p.ExpectNext(t, "v1", 200)
	p.Write(chunk(s, "v2", "MV", msrp.ByteRange{4, -1, 60}, '+', "def"))
	p.ExpectNext(t, "v2", 413) // reassembled (total 10 at first): max-size 50 still holds
}

// TestQueued: Queued counts what waits before binding and -1 once closed.
func TestQueued(t *testing.T) {
	e := msrp.NewEndpoint(msrp.Config{AdvertisedHost: "127.0.0.1", AdvertisedPort: 9})
	defer e.Close()
	s := e.NewSession(newRecorder())
	s.SetRemotePath([]msrp.URI{{Host: "127.0.0.1", Port: 9, SessionID: "peer", Transport: "tcp"}})
	if n := s.Queued(); n != 0 {
		t.Fatalf("Queued %d", n)
	}
	if err := s.Send("text/plain", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if n := s.Queued(); n <= 5 {
		t.Fatalf("Queued %d after a send", n)
	}
	s.Close(msrp.Local)
	if n := s.Queued(); n != -1 {
		t.Fatalf("Queued %d after close", n)
	}
}

// TestRelayedPiecesInOrder: pieces of one message queued one after another (a switch relaying
// chunk by chunk) go out in Byte-Range order, even a small last piece, while another large
// message takes turns with them.
func TestRelayedPiecesInOrder(t *testing.T) {
	rec := newRecorder()
	_, s, p := boundPair(t, msrp.Config{ChunkQuantum: 2048}, rec)
	c := s.BoundConn()
	c.Cork()
	total := int64(5000 + 5000 + 100)
	pieces := []struct {
		n    int
		flag byte
	}{{5000, '+'}, {5000, '+'}, {100, '$'}}
	start := int64(1)
	for i, pc := range pieces {
		body := []byte(strings.Repeat(string(rune('a'+i)), pc.n))
		if err := s.SendMessage(&msrp.Message{MessageID: "MA", ContentType: "text/plain", Body: body, Flag: pc.flag,
			ByteRange: msrp.ByteRange{Start: start, End: start - 1 + int64(pc.n), Total: total}}); err != nil {
			t.Fatal(err)
		}
		start += int64(pc.n)
		if i == 0 {
			if err := s.SendMessage(&msrp.Message{MessageID: "MB", ContentType: "text/plain", Body: []byte(strings.Repeat("z", 9000))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.Uncork()
	next := int64(1)
	var got []byte
	for next <= total {
		m := p.Next(t)
		if m.Method != "SEND" || m.MessageID != "MA" {
			continue
		}
		if m.ByteRange.Start != next {
			t.Fatalf("chunk of MA starts at %d, want %d", m.ByteRange.Start, next)
		}
		next += int64(len(m.Body))
		got = append(got, m.Body...)
		if next > total && m.Flag != '$' {
			t.Fatalf("last chunk flag %q", m.Flag)
		}
	}
	if want := strings.Repeat("a", 5000) + strings.Repeat("b", 5000) + strings.Repeat("c", 100); string(got) != want {
		t.Fatal("pieces reassembled out of order")
	}
}
