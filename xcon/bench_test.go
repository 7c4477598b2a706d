package xcon

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

func roomWithUsers(n int) *Conference {
	c := chatRoom()
	c.Users = nil
	for i := range n {
		c.Users = append(c.Users, &User{
			Entity:      fmt.Sprintf("xcon-userid:user%d@example.com", i),
			Nickname:    fmt.Sprint("user", i),
			DisplayText: fmt.Sprint("User ", i),
			Roles:       []string{"participant"},
			Endpoints: []*Endpoint{{
				Entity: fmt.Sprintf("chat%d", i), Status: "connected", JoiningMethod: "dialed-in",
				Media: []Media{{ID: "1", Type: "message", Label: "main", Status: "sendrecv"}},
			}},
		})
	}
	return c
}

func BenchmarkConference_Encode(b *testing.B) {
	c := roomWithUsers(100)
	var buf bytes.Buffer
	if err := c.Encode(&buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Encode(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConference_Decode(b *testing.B) {
	var buf bytes.Buffer
	if err := roomWithUsers(100).Encode(&buf); err != nil {
		b.Fatal(err)
	}
	doc := buf.Bytes()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(doc)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConference_Clone(b *testing.B) {
	c := roomWithUsers(100)
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Clone()
	}
}
