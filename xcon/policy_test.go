package xcon

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

func TestRoomPolicyRoundTripsAndValidates(t *testing.T) {
	c := &Conference{Entity: "xcon:lobby@example.com", Version: 3}
	c.Description.Media = []Channel{{Label: "chat", Type: "message", Status: "sendrecv"}}
	if _, ok := c.RoomPolicy(); ok {
		t.Fatal("a new object has no policy")
	}
	want := RoomPolicy{Logging: true, History: 20, Successor: "sip:lobby2@example.com", MaxMessageSize: 4096,
		WrappedTypes: []string{"text/plain", "image/png"}, KeepFor: 720 * time.Hour, KeepMessages: 5000, Adhoc: true, Moderated: true}
	c.SetRoomPolicy(RoomPolicy{History: 5})
	c.SetRoomPolicy(want) // replaces, never duplicates
	doc := encode(t, c)
	validate(t, doc)
	back, err := Decode(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := back.RoomPolicy()
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("policy after a round trip: %+v %v, want %+v", got, ok, want)
	}
	if n := len(back.Extras.Elements); n != 1 {
		t.Fatalf("%d extension elements, want 1", n)
	}
}
