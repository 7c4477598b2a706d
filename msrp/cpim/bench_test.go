package cpim

import "testing"

// benchMessage is a 256-byte CPIM object of the shape clients send to a room.
var benchMessage = func() []byte {
	head := "From: \"Carol\" <sip:carol@example.org>\r\n" +
		"To: <sip:lobby@focus.example.net>\r\n" +
		"DateTime: 2025-01-10T09:30:00Z\r\n" +
		"NS: imdn <urn:ietf:params:imdn>\r\n" +
		"imdn.Message-ID: 34jk324j\r\n" +
		"\r\n" +
		"Content-Type: text/plain;charset=utf-8\r\n" +
		"\r\n"
	body := make([]byte, 256-len(head))
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	return append([]byte(head), body...)
}()

func BenchmarkParse(b *testing.B) {
	if len(benchMessage) != 256 {
		b.Fatalf("message is %d bytes", len(benchMessage))
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		if _, err := Parse(benchMessage); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMessage_Marshal(b *testing.B) {
	m, err := Parse(benchMessage)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Marshal()
	}
}

func BenchmarkParseIsComposing(b *testing.B) {
	doc := []byte(`<?xml version="1.0" encoding="UTF-8"?><isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><contenttype>text/plain</contenttype><refresh>90</refresh></isComposing>`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseIsComposing(doc); err != nil {
			b.Fatal(err)
		}
	}
}
