package msrp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// wire turns a readable capture (LF line ends) into CRLF wire bytes.
func wire(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

type parsed struct {
	msg *Message
	err error
}

func parseAll(t testing.TB, p *Parser, chunks ...[]byte) ([]parsed, error) {
	t.Helper()
	var out []parsed
	for _, c := range chunks {
		err := p.Parse(c, func(m *Message, ferr error) error {
			out = append(out, parsed{m.Clone(), ferr})
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

var (
	capBodilessSend = wire(`MSRP Zb81xQ3e SEND
To-Path: msrp://focus.example.net:2855/r9Yb3TqLw0cZ2xV;tcp
From-Path: msrp://198.51.100.7:49152/hJ4kP2sQ8nRt;tcp
Message-ID: k0Qv7aPz
Byte-Range: 1-0/0
-------Zb81xQ3e$
`)
	capFakeEndLine = wire(`MSRP a7Kq2mZx91 SEND
To-Path: msrp://focus.example.net:2855/r9Yb3TqLw0cZ2xV;tcp
From-Path: msrp://198.51.100.7:49152/hJ4kP2sQ8nRt;tcp
Message-ID: m1f3a9c2e7
Byte-Range: 1-22/22
Content-Type: text/plain

abc
-------xyz$
tail
-------a7Kq2mZx91$
`)
	capBodyCRLF = wire(`MSRP tid42 SEND
To-Path: msrp://h:1/s1;tcp
From-Path: msrp://h:2/s2;tcp
Message-ID: mid1
Content-Type: text/plain

line


-------tid42$
`)
	capResponse = wire(`MSRP a7Kq2mZx91 200 OK
To-Path: msrp://198.51.100.7:49152/hJ4kP2sQ8nRt;tcp
From-Path: msrp://focus.example.net:2855/r9Yb3TqLw0cZ2xV;tcp
-------a7Kq2mZx91$
`)
	capResponseNoComment = wire(`MSRP a7Kq 481
To-Path: msrp://198.51.100.7:49152/hJ4kP2sQ8nRt;tcp
From-Path: msrp://focus.example.net:2855/r9Yb3TqLw0cZ2xV;tcp
-------a7Kq$
`)
	capReport = wire(`MSRP dkei38sd REPORT
To-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp
From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp
Message-ID: 12339sdqwer
Byte-Range: 1-106/106
Status: 000 200 OK
-------dkei38sd$
`)
	capExtension = wire(`MSRP nick01 NICKNAME
to-path: msrp://[2001:db8::1]:2855/a/b=c;tcp
FROM-PATH: msrp://relay.example:2855/r1;tcp msrp://bob@198.51.100.7:49152/hJ4k;tcp;foo=bar
Use-Nickname: "Alice"
X-Custom:   spaced
-------nick01$
`)
	capStarRange = wire(`MSRP c0ffee11aa SEND
To-Path: msrp://focus.example.net:2855/r9Yb3TqLw0cZ2xV;tcp
From-Path: msrp://198.51.100.7:49152/hJ4kP2sQ8nRt;tcp
Message-ID: m77b0d41
Byte-Range: 1-*/*
Content-Disposition: inline
Content-Type: message/cpim

part
-------c0ffee11aa+
`)
)

func TestParser_Captures(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		check func(t *testing.T, m *Message)
	}{
		{"bodiless SEND", capBodilessSend, func(t *testing.T, m *Message) {
			if m.Method != "SEND" || m.TransactionID != "Zb81xQ3e" || m.ContentType != "" || len(m.Body) != 0 ||
				m.ByteRange != (ByteRange{1, 0, 0}) || m.Flag != '$' || m.MessageID != "k0Qv7aPz" {
				t.Errorf("got %+v", m)
			}
			if m.ToPath[0].SessionID != "r9Yb3TqLw0cZ2xV" || m.FromPath[0].Port != 49152 {
				t.Errorf("paths %+v %+v", m.ToPath, m.FromPath)
			}
		}},
		{"body with fake end-line", capFakeEndLine, func(t *testing.T, m *Message) {
			if string(m.Body) != "abc\r\n-------xyz$\r\ntail" {
				t.Errorf("body %q", m.Body)
			}
		}},
		{"body ending in CRLF", capBodyCRLF, func(t *testing.T, m *Message) {
			if string(m.Body) != "line\r\n\r\n" {
				t.Errorf("body %q", m.Body)
			}
		}},
		{"response with comment", capResponse, func(t *testing.T, m *Message) {
			if !m.IsResponse() || m.StatusCode != 200 || m.Comment != "OK" {
				t.Errorf("got %+v", m)
			}
		}},
		{"response without comment", capResponseNoComment, func(t *testing.T, m *Message) {
			if m.StatusCode != 481 || m.Comment != "" {
				t.Errorf("got %+v", m)
			}
		}},
		{"REPORT with Status", capReport, func(t *testing.T, m *Message) {
			if m.Method != "REPORT" || m.Status == nil || *m.Status != (Status{0, 200, "OK"}) {
				t.Errorf("got %+v", m)
			}
		}},
		{"extension headers and case", capExtension, func(t *testing.T, m *Message) {
			if m.Header("use-nickname") != `"Alice"` || m.Header("x-custom") != "spaced" || len(m.Headers) != 2 {
				t.Errorf("headers %+v", m.Headers)
			}
			if m.ToPath[0].Host != "2001:db8::1" || m.ToPath[0].SessionID != "a/b=c" {
				t.Errorf("to %+v", m.ToPath)
			}
			if len(m.FromPath) != 2 || m.FromPath[1].User != "bob" || m.FromPath[1].Params != "foo=bar" {
				t.Errorf("from %+v", m.FromPath)
			}
		}},
		{"Byte-Range with star", capStarRange, func(t *testing.T, m *Message) {
			if m.ByteRange != (ByteRange{1, -1, -1}) || m.Flag != '+' || string(m.Body) != "part" ||
				m.Header("Content-Disposition") != "inline" || m.ContentType != "message/cpim" {
				t.Errorf("got %+v", m)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole, then split at every byte offset: the split path must give the same frame.
			for split := 0; split <= len(tt.in); split++ {
				p := NewParser(0, 0)
				got, err := parseAll(t, p, tt.in[:split], tt.in[split:])
				if err != nil {
					t.Fatalf("split %d: %v", split, err)
				}
				if len(got) != 1 || got[0].err != nil {
					t.Fatalf("split %d: got %d frames, %v", split, len(got), got)
				}
				tt.check(t, got[0].msg)
				if p.InFrame() {
					t.Fatalf("split %d: parser still in a frame", split)
				}
				// Round trip: serialize and compare bytes after re-parse.
				out := got[0].msg.AppendTo(nil)
				if len(out) != got[0].msg.Size() {
					t.Fatalf("Size %d, AppendTo %d", got[0].msg.Size(), len(out))
				}
				again, err := parseAll(t, NewParser(0, 0), out)
				if err != nil || len(again) != 1 || !messagesEqual(again[0].msg, got[0].msg) {
					t.Fatalf("round trip: %v\n%q", err, out)
				}
			}
		})
	}
}

func TestParser_ManyFramesOneRead(t *testing.T) {
	all := bytes.Join([][]byte{capBodilessSend, capFakeEndLine, capResponse, capReport, capStarRange}, nil)
	for step := 1; step <= 7; step++ {
		p := NewParser(0, 0)
		var chunks [][]byte
		for i := 0; i < len(all); i += step {
			chunks = append(chunks, all[i:min(i+step, len(all))])
		}
		got, err := parseAll(t, p, chunks...)
		if err != nil || len(got) != 5 {
			t.Fatalf("step %d: %d frames, %v", step, len(got), err)
		}
	}
}

func TestParser_FrameErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		code int
	}{
		{"bad header line", "MSRP t1 SEND\nTo-Path: msrp://h:1/s;tcp\nFrom-Path: msrp://h:2/s;tcp\nno colon here\n-------t1$\n", 400},
		{"missing From-Path", "MSRP t1 SEND\nTo-Path: msrp://h:1/s;tcp\n-------t1$\n", 400},
		{"bad URI", "MSRP t1 SEND\nTo-Path: http://h:1/s\nFrom-Path: msrp://h:2/s;tcp\n-------t1$\n", 400},
		{"bad Byte-Range", "MSRP t1 SEND\nTo-Path: msrp://h:1/s;tcp\nFrom-Path: msrp://h:2/s;tcp\nByte-Range: 5-2/10\n-------t1$\n", 400},
		{"range beyond total", "MSRP t1 SEND\nTo-Path: msrp://h:1/s;tcp\nFrom-Path: msrp://h:2/s;tcp\nByte-Range: 1-20/10\n-------t1$\n", 400},
		{"body without Content-Type", "MSRP t1 SEND\nTo-Path: msrp://h:1/s;tcp\nFrom-Path: msrp://h:2/s;tcp\n\nxx\n-------t1$\n", 400},
		{"chunk over limit", "MSRP t1 SEND\nTo-Path: msrp://h:1/s;tcp\nFrom-Path: msrp://h:2/s;tcp\nContent-Type: text/plain\n\n" + strings.Repeat("x", 200) + "\n-------t1$\n", 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := wire(tt.in)
			for split := 0; split <= len(in); split++ {
				p := NewParser(0, 100)
				next := wire("MSRP t2 200 OK\nTo-Path: msrp://h:1/s;tcp\nFrom-Path: msrp://h:2/s;tcp\n-------t2$\n")
				got, err := parseAll(t, p, in[:split], in[split:], next)
				if err != nil {
					t.Fatalf("split %d: %v", split, err)
				}
				var fe *FrameError
				if len(got) != 2 || !errors.As(got[0].err, &fe) || fe.Code != tt.code || got[1].err != nil {
					t.Fatalf("split %d: got %+v", split, got)
				}
				if got[0].msg.TransactionID != "t1" {
					t.Fatalf("tid %q", got[0].msg.TransactionID)
				}
			}
		})
	}
}

func TestParser_ProtocolErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"not MSRP", "HTTP/1.1 200 OK\n\n"},
		{"bad tid", "MSRP t!1 SEND\n"},
		{"lower-case method", "MSRP t1 send\n"},
		{"bad status", "MSRP t1 20 OK\n"},
		{"malformed end-line", "MSRP t1 SEND\nTo-Path: msrp://h:1/s;tcp\nFrom-Path: msrp://h:2/s;tcp\n-------t1$x\n"},
		{"header block too long", "MSRP t1 SEND\nX: " + strings.Repeat("a", 300) + "\n"},
		{"no CRLF within limit", "MSRP t1 SEND" + strings.Repeat("a", 300)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewParser(256, 0)
			_, err := parseAll(t, p, wire(tt.in))
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v", err)
			}
			if p.Parse([]byte("MSRP"), func(*Message, error) error { return nil }) == nil {
				t.Fatal("parser not sticky after a protocol error")
			}
		})
	}
}

func messagesEqual(a, b *Message) bool {
	if a.TransactionID != b.TransactionID || a.Method != b.Method || a.StatusCode != b.StatusCode ||
		a.Comment != b.Comment || a.MessageID != b.MessageID || a.ByteRange != b.ByteRange ||
		a.SuccessReport != b.SuccessReport || a.FailureReport != b.FailureReport || a.ContentType != b.ContentType ||
		!bytes.Equal(a.Body, b.Body) || a.flag() != b.flag() || !pathEqual(a.ToPath, b.ToPath) ||
		!pathEqual(a.FromPath, b.FromPath) || len(a.Headers) != len(b.Headers) {
		return false
	}
	if (a.Status == nil) != (b.Status == nil) || a.Status != nil && *a.Status != *b.Status {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i] != b.Headers[i] {
			return false
		}
	}
	return true
}

// TestSharedPathsStayIntact checks the read-only sharing of cached path slices: a clone keeps
// its paths while the parser goes on to other values, to a repeated To-Path inside one head,
// and back; and an append by a holder never writes into the cache.
func TestSharedPathsStayIntact(t *testing.T) {
	frame := func(to string, extraTo string) []byte {
		h := "MSRP t1 SEND\r\nTo-Path: " + to + "\r\n"
		if extraTo != "" {
			h += "To-Path: " + extraTo + "\r\n"
		}
		return []byte(h + "From-Path: msrp://b.example.com:2855/s2;tcp\r\nMessage-ID: m1\r\n-------t1$\r\n")
	}
	const x, y = "msrp://a.example.com:2855/s1;tcp", "msrp://c.example.com:2855/s3;tcp"
	p := NewParser(0, 0)
	var kept []*Message
	parse := func(b []byte) {
		t.Helper()
		if err := p.Parse(b, func(m *Message, err error) error {
			if err == nil {
				kept = append(kept, m.Clone())
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	parse(frame(x, ""))
	parse(frame(x, "")) // a cache hit: shares the first frame's slice
	parse(frame(y, ""))
	// A repeated To-Path (the frame is refused, but its head is parsed), long enough to bypass the
	// cache, must not be written into x's cached slice.
	parse(frame(x, strings.TrimSpace(strings.Repeat(y+" ", 40))))
	parse(frame(x, ""))
	grown := append(kept[0].ToPath, URI{Host: "d.example.com"}) // must copy, not write into the cache
	_ = grown
	parse(frame(x, ""))
	want := map[int]string{0: x, 1: x, 2: y}
	for i, h := range want {
		if got := string(appendPathTo(nil, kept[i].ToPath)); got != h {
			t.Errorf("frame %d: To-Path is now %q, want %q", i, got, h)
		}
	}
	if last := kept[len(kept)-1]; string(appendPathTo(nil, last.ToPath)) != x {
		t.Errorf("last frame: To-Path %q, want %q", string(appendPathTo(nil, last.ToPath)), x)
	}
}

// TestByteClasses: the lookup tables say what the grammar says, byte for byte (RFC 4975 §9).
func TestByteClasses(t *testing.T) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		ident := isAlnumByte(b) || b == '.' || b == '-' || b == '+' || b == '%' || b == '='
		token := isAlnumByte(b) || strings.IndexByte("-.!%*_+`'~", b) >= 0
		value := !(b < ' ' && b != '\t' || b == 0x7f)
		if got := byteClass[c]&classIdent != 0; got != ident {
			t.Errorf("%q ident %v", b, got)
		}
		if got := isToken(string(b)); got != token {
			t.Errorf("%q token %v", b, got)
		}
		if got := isHeaderValue(string(b)); got != value {
			t.Errorf("%q value %v", b, got)
		}
	}
	for _, name := range []string{"to-path", "TO-PATH", "Message-Id", "content-type", "X-Other", "Status"} {
		if got := knownHeader(name); !strings.EqualFold(got, name) {
			t.Errorf("knownHeader(%q) = %q", name, got)
		}
	}
}

// TestForgetDropsTheLastFrame: between reads, with no frame open, the parser holds nothing of
// the last frame (an idle connection's memory); with a frame open it keeps its state.
func TestForgetDropsTheLastFrame(t *testing.T) {
	p := newBorrowingParser(0, 0)
	frame := smallSend()
	if err := p.Parse(frame, func(*Message, error) error { return nil }); err != nil {
		t.Fatal(err)
	}
	p.forget()
	if p.msg.TransactionID != "" || p.msg.MessageID != "" || p.msg.ToPath != nil {
		t.Fatalf("the last frame is still held: %+v", p.msg)
	}
	if err := p.Parse(frame[:len(frame)-20], func(*Message, error) error { return nil }); err != nil {
		t.Fatal(err)
	}
	p.forget()
	if p.msg.TransactionID == "" {
		t.Fatal("forget dropped the frame being read")
	}
}
