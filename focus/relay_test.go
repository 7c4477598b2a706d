package focus

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	for _, e := range []Envelope{
		{Node: "a", Serial: 1, Room: "lobby", Channel: "main", SenderID: "xcon-userid:alice@example.com", SenderNick: "alice",
			Inner: "text/plain", Target: "xcon-userid:bob@example.com", Logged: true, Time: time.Unix(0, 1764800000123456789),
			Body: []byte("From: <sip:a@b>\r\n\r\nhi")},
		{Time: time.Unix(0, 0)}, // every field empty
		{Node: "n", Serial: 1<<64 - 1, Room: "r.*>", Time: time.Unix(0, -1), Body: bytes.Repeat([]byte{0}, 300)},
	} {
		got, err := DecodeEnvelope(EncodeEnvelope(&e))
		if err != nil {
			t.Fatalf("%+v: %v", e, err)
		}
		if !sameEnvelope(got, &e) {
			t.Fatalf("round trip:\n%+v\n%+v", got, &e)
		}
	}
}

func TestDecodeEnvelopeRefuses(t *testing.T) {
	// Serial 0 and time 0 take a byte each: the flags are good[3].
	good := EncodeEnvelope(&Envelope{Node: "a", Room: "lobby", Body: []byte("x"), Time: time.Unix(0, 0)})
	if _, err := DecodeEnvelope(good); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":         nil,
		"other version": append([]byte{2}, good[1:]...),
		"cut short":     good[:len(good)-1],
		"trailing byte": append(bytes.Clone(good), 0),
		"unknown flag":  func() []byte { b := bytes.Clone(good); b[3] = 2; return b }(),
		"length beyond": {1, 1, 2, 0, 200},
	} {
		if _, err := DecodeEnvelope(b); !errors.Is(err, ErrEnvelope) {
			t.Errorf("%s: err = %v, want ErrEnvelope", name, err)
		}
	}
}

// FuzzDecodeEnvelope: whatever the relay hands over, decoding never panics, and what decodes
// encodes back to the same bytes (one encoding per envelope).
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(EncodeEnvelope(&Envelope{Node: "a", Serial: 7, Room: "lobby", Channel: "main", SenderID: "u", SenderNick: "n",
		Inner: "text/plain", Logged: true, Time: time.Unix(5, 6), Body: []byte("body")}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEnvelope(b)
		if err != nil {
			return
		}
		back := EncodeEnvelope(e)
		again, err := DecodeEnvelope(back)
		if err != nil || !sameEnvelope(e, again) {
			t.Fatalf("re-encoded envelope reads back as %+v, %v; want %+v", again, err, e)
		}
	})
}

func sameEnvelope(a, b *Envelope) bool {
	return a.Node == b.Node && a.Serial == b.Serial && a.Room == b.Room && a.Channel == b.Channel && a.Target == b.Target &&
		a.SenderID == b.SenderID && a.SenderNick == b.SenderNick && a.Inner == b.Inner && a.Logged == b.Logged &&
		a.Time.Equal(b.Time) && bytes.Equal(a.Body, b.Body)
}

// TestRelayPendingIsBounded: what the origin node remembers of its messages in the relay never
// exceeds pendingLimit, however many are never delivered back.
func TestRelayPendingIsBounded(t *testing.T) {
	p := relayPending{streams: map[uint64]*Stream{}}
	s := &Stream{}
	for range pendingLimit + 1000 {
		p.add(s)
	}
	if n := len(p.streams); n != pendingLimit {
		t.Fatalf("%d remembered, want %d", n, pendingLimit)
	}
	if p.take(1000) != nil || p.take(1001) != s || p.take(1001) != nil {
		t.Fatal("the oldest are forgotten; a serial is taken once")
	}
}
