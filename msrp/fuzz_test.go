package msrp

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParser feeds data in two pieces split at split, so the carry-over path runs every time, and checks that
// every accepted frame serializes and re-parses to an equal frame.
func FuzzParser(f *testing.F) {
	for _, c := range [][]byte{capBodilessSend, capFakeEndLine, capBodyCRLF, capResponse, capResponseNoComment,
		capReport, capExtension, capStarRange} {
		f.Add(c, uint16(len(c)/2))
		f.Add(c, uint16(7))
	}
	f.Add(wire("MSRP t1 SEND\nTo-Path: msrp://h:1/s;tcp\nFrom-Path: msrp://h:2/s;tcp\nX\n-------t1$\n"), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		s := int(split) % (len(data) + 1)
		p := NewParser(512, 256)
		var frames []*Message
		collect := func(m *Message, ferr error) error {
			if ferr == nil {
				frames = append(frames, m.Clone())
			} else {
				var fe *FrameError
				if !errors.As(ferr, &fe) {
					t.Fatalf("frame error of type %T", ferr)
				}
			}
			return nil
		}
		if err := p.Parse(data[:s], collect); err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("unexpected error type %T", err)
			}
			return
		}
		p.Parse(data[s:], collect)
		// The connection's parser lets response heads alias the input: frames copied out during
		// the callback must be the same, though the input is overwritten after each call.
		bp := newBorrowingParser(512, 256)
		var borrowed []*Message
		for _, part := range [][]byte{data[:s], data[s:]} {
			buf := append([]byte(nil), part...)
			bp.Parse(buf, func(m *Message, ferr error) error {
				if ferr == nil {
					borrowed = append(borrowed, m.cloneOwned())
				}
				return nil
			})
			clear(buf)
		}
		if len(borrowed) != len(frames) {
			t.Fatalf("borrowing parser: %d frames, want %d", len(borrowed), len(frames))
		}
		for i := range frames {
			if !messagesEqual(frames[i], borrowed[i]) {
				t.Fatalf("borrowing parser, frame %d: %q, want %q", i, borrowed[i].AppendTo(nil), frames[i].AppendTo(nil))
			}
		}
		for _, m := range frames {
			out := m.AppendTo(nil)
			if len(out) != m.Size() {
				t.Fatalf("Size %d != len %d", m.Size(), len(out))
			}
			var again []*Message
			err := NewParser(0, 0).Parse(out, func(m2 *Message, ferr error) error {
				if ferr != nil {
					t.Fatalf("re-parse frame error %v of %q", ferr, out)
				}
				again = append(again, m2.Clone())
				return nil
			})
			if err != nil || len(again) != 1 || !messagesEqual(m, again[0]) {
				t.Fatalf("round trip failed (%v, %d frames):\n%q", err, len(again), out)
			}
		}
	})
}

// FuzzReassembler feeds arbitrary chunk sequences; a completed message must have exactly the declared length
// and nothing may exceed the size limit.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{0, 5, 10, '+', 5, 5, 10, '$'})
	f.Add([]byte{5, 5, 10, '$', 0, 5, 10, '+'})
	f.Add([]byte{0, 3, 255, '+', 3, 0, 255, '#'})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const limit = 64
		r := newReassembler(limit)
		body := make([]byte, 512)
		for i := range body {
			body[i] = byte(i)
		}
		for len(ops) >= 4 {
			start, n, total, flag := int64(ops[0])+1, int64(ops[1]), int64(ops[2]), ops[3]
			ops = ops[4:]
			if total == 255 {
				total = -1
			}
			if flag != '$' && flag != '+' && flag != '#' {
				flag = '+'
			}
			end := int64(-1)
			if flag == '$' {
				end = start + n - 1
			}
			m := &Message{Method: "SEND", MessageID: "m", ContentType: "x/y", Flag: flag,
				ByteRange: ByteRange{start, end, total}, Body: body[start-1 : start-1+n]}
			whole, err := r.add("k", nil, m, limit)
			if err != nil {
				continue
			}
			if whole != nil {
				if int64(len(whole.Body)) > limit || whole.ByteRange.Total != int64(len(whole.Body)) {
					t.Fatalf("bad whole message %+v", whole.ByteRange)
				}
				for i, c := range whole.Body {
					if c != byte(i) {
						t.Fatalf("byte %d = %d", i, c)
					}
				}
			}
		}
	})
}

// FuzzChunker cuts any body into chunks the way the connection writer does (any quantum, interrupted after any
// piece), parses the wire bytes and reassembles them: the result must equal the input (RFC 4975 §7.1.1).
func FuzzChunker(f *testing.F) {
	f.Add([]byte("hello world"), uint16(3), []byte{1, 0, 1})
	f.Add(bytes.Repeat([]byte("-------abc$\r\n"), 400), uint16(2048), []byte{0, 1})
	f.Add([]byte("\r\n-------"), uint16(0), []byte{})
	f.Fuzz(func(t *testing.T, body []byte, quantum uint16, interrupts []byte) {
		if len(body) == 0 {
			return
		}
		q := int(quantum)%8192 + 1
		path := []URI{{Host: "h", Port: 1, SessionID: "s", Transport: "tcp"}}
		lm := newOutMsg(nil, &Message{Method: "SEND", ToPath: path, FromPath: path, MessageID: "fz",
			ContentType: "application/octet-stream", Body: body})
		var out []byte
		chunks := 0
		for i := 0; !lm.done(); i++ {
			if !lm.open {
				var tb [txIDLen]byte
				out = lm.openChunk(out, lm.mintTID(tb[:]), noTx)
				chunks++
			}
			out = append(out, lm.nextPiece(q)...)
			if lm.done() {
				out = lm.closeChunk(out, lm.last)
			} else if i < len(interrupts) && interrupts[i]&1 == 1 {
				out = lm.closeChunk(out, FlagMore)
			}
		}
		r := newReassembler(int64(len(body)))
		var whole *Message
		frames := 0
		p := NewParser(0, int64(len(body)))
		collect := func(m *Message, ferr error) error {
			if ferr != nil {
				t.Fatalf("frame error %v", ferr)
			}
			frames++
			if m.ByteRange.End != -1 {
				t.Fatalf("chunk with range-end %d, want '*'", m.ByteRange.End)
			}
			w, err := r.add("k", nil, m, 0)
			if err != nil {
				t.Fatalf("reassembly: %v", err)
			}
			if w != nil {
				whole = w
			}
			return nil
		}
		split := len(out) / 2
		if err := p.Parse(out[:split], collect); err != nil {
			t.Fatal(err)
		}
		if err := p.Parse(out[split:], collect); err != nil {
			t.Fatal(err)
		}
		if frames != chunks || whole == nil || !bytes.Equal(whole.Body, body) {
			t.Fatalf("%d frames of %d chunks; reassembled %v", frames, chunks, whole != nil)
		}
	})
}
