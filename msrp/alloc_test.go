package msrp

import "testing"

// TestShouldNotAllocate guards the hot paths: parsing a small SEND that arrives in one read costs one
// allocation (the header string), and serializing a frame none.
func TestShouldNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	frame := smallSend()
	p := NewParser(0, 0)
	fn := func(*Message, error) error { return nil }
	var m Message
	NewParser(0, 0).Parse(frame, func(pm *Message, _ error) error { m = *pm.Clone(); return nil })
	buf := make([]byte, 0, 1024)
	tests := []struct {
		name string
		max  float64
		f    func()
	}{
		{"parse small SEND", 1, func() { p.Parse(frame, fn) }},
		// What deliver hands a handler: the message and its body; the paths are the parser's.
		{"parse and clone small SEND", 3, func() { p.Parse(frame, func(pm *Message, _ error) error { pm.Clone(); return nil }) }},
		{"AppendTo", 0, func() { buf = m.AppendTo(buf[:0]) }},
		{"mint identifiers", 0, func() {
			var b [txIDLen]byte
			mintTID(b[:], m.Body, true)
			appendRandomID(b[:0], messageIDLen)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(200, tt.f); n > tt.max {
				t.Fatalf("%v allocations, want at most %v", n, tt.max)
			}
		})
	}
}
