package cpim

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parleychat/parley/internal/corpus"
)

var cpimSeeds = []string{
	"From: <sip:carol@example.org>\r\nTo: <sip:lobby@focus.example.net>\r\nDateTime: 2025-01-10T09:30:00Z\r\n\r\nContent-Type: text/plain;charset=utf-8\r\n\r\nhello room",
	"From: Alice <sip:alice@example.com>\nTo: <sip:room@example.com>\nContent-Type: text/plain\n\nHi",
	"From: \"Bob \\\"b\\\" \\u00e9\" <sip:bob@example.com>\r\ncc: <im:x@y>\r\nNS: F <mid:f@x>\r\nRequire: F.Opt\r\n\r\nContent-Type: image/png\r\n\r\n\x89PNG\x00",
	"From: <a>\r\n\r\nContent-Type: multipart/mixed;\r\n boundary=x\r\n\r\n",
}

// FuzzParse checks that Parse never panics, that Body is a suffix of the
// input (it aliases, never copies), and that a parsed message re-encoded by
// Marshal parses to the same addresses, content type and body.
func FuzzParse(f *testing.F) {
	for _, s := range cpimSeeds {
		f.Add([]byte(s))
	}
	malformed, err := corpus.Load(filepath.Join("..", "..", "testdata", "malformed", "cpim.txt"))
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range malformed {
		f.Add(c.Raw())
	}
	var reused Message // ParseInto keeps reusing it, as the switch does
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if errInto := ParseInto(&reused, b); (errInto == nil) != (err == nil) {
			t.Fatalf("Parse says %v, ParseInto %v", err, errInto)
		}
		if err != nil {
			return
		}
		if !sameMessage(m, &reused) {
			t.Fatalf("ParseInto differs from Parse:\n%+v\n%+v", m, &reused)
		}
		if !bytes.HasSuffix(b, m.Body) {
			t.Fatalf("Body %q is not the tail of the input", m.Body)
		}
		back, err := Parse(m.Marshal())
		if err != nil {
			t.Fatalf("re-encoded message does not parse: %v\n%q", err, m.Marshal())
		}
		if back.From != m.From || len(back.To) != len(m.To) || len(back.CC) != len(m.CC) || !bytes.Equal(back.Body, m.Body) {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, back)
		}
	})
}

// FuzzParseIsComposing checks that ParseIsComposing never panics and always
// yields one of the two states.
func FuzzParseIsComposing(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0" encoding="UTF-8"?><isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><contenttype>text/plain</contenttype><refresh>90</refresh></isComposing>`))
	f.Add([]byte(`<isComposing><state>idle</state><lastactive>2003-01-27T10:43:00Z</lastactive></isComposing>`))
	f.Add([]byte(`<a:isComposing xmlns:a="urn:ietf:params:xml:ns:im-iscomposing"><a:state>x</a:state></a:isComposing>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseIsComposing(b)
		if err != nil {
			return
		}
		if c.State != StateActive && c.State != StateIdle {
			t.Fatalf("state %q", c.State)
		}
		if c.Refresh < 0 {
			t.Fatalf("refresh %d", c.Refresh)
		}
	})
}

// sameMessage compares two parsed messages field by field, an empty slice equal to a nil one.
func sameMessage(a, b *Message) bool {
	same := func(x, y []Address) bool { return slices.Equal(x, y) }
	sameH := func(x, y []Header) bool { return slices.Equal(x, y) }
	return a.From == b.From && same(a.To, b.To) && same(a.CC, b.CC) && a.DateTime == b.DateTime &&
		a.Subject == b.Subject && sameH(a.Headers, b.Headers) && a.ContentType == b.ContentType &&
		sameH(a.ContentHeaders, b.ContentHeaders) && bytes.Equal(a.Body, b.Body)
}
