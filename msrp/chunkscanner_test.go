package msrp

import (
	"strings"
	"testing"
)

func TestChunkScannerSplitsWrites(t *testing.T) {
	// The end-line is found across write boundaries, and a dash run in a body is no end-line.
	body := "a\r\n-------tidX$\r\nnot the end"
	frame := "MSRP tid1 SEND\r\nTo-Path: msrp://h:1/s;ws\r\nFrom-Path: msrp://h.invalid/c;ws\r\nMessage-ID: m\r\nContent-Type: text/plain\r\n\r\n" +
		body + "\r\n-------tid1$\r\n" + "MSRP tid2 200 OK\r\nTo-Path: msrp://h:1/s;ws\r\nFrom-Path: msrp://h.invalid/c;ws\r\n-------tid2$\r\n"
	for step := 1; step <= len(frame); step += 7 {
		var s chunkScanner
		var ends []int
		pos := 0
		for pos < len(frame) {
			part := []byte(frame[pos:min(pos+step, len(frame))])
			for len(part) > 0 {
				n, end := s.scan(part)
				pos += n
				part = part[n:]
				if end {
					ends = append(ends, pos)
				}
			}
		}
		first := strings.Index(frame, "MSRP tid2")
		if len(ends) != 2 || ends[0] != first || ends[1] != len(frame) {
			t.Fatalf("step %d: chunk ends at %v, want [%d %d]", step, ends, first, len(frame))
		}
	}
}
