package xcon

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode checks that Decode never panics and that whatever it accepts
// encodes to a document it accepts again, with a stable second encoding.
// Its seeds are the RFC examples, of up to 17 kB: each input that widens
// coverage is minimised for the whole of -fuzzminimizetime, with no
// executions reported meanwhile; README.md says how to explore regardless.
func FuzzDecode(f *testing.F) {
	dir := filepath.Join(sharedDir(f), "ccmp-examples", "corrected")
	for _, name := range []string{
		"90-rfc6504-conference-object-main.xml",
		"91-rfc6504-conference-object-callcenter.xml",
		"92-rfc6501-conference-object-example.xml",
	} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			f.Add(b)
		}
	}
	var buf bytes.Buffer
	if err := chatRoom().Encode(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="xcon:a@b"><users><user entity="u" xmlns:x="urn:ietf:params:xml:ns:xcon-conference-info" x:nickname="n"/></users></conference-info>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Decode(bytes.NewReader(doc))
		if err != nil {
			return
		}
		var first bytes.Buffer
		if err := c.Encode(&first); err != nil {
			t.Fatal(err)
		}
		c2, err := Decode(bytes.NewReader(first.Bytes()))
		if err != nil {
			t.Fatalf("re-decoding our own output: %v\n%s", err, first.Bytes())
		}
		var second bytes.Buffer
		if err := c2.Encode(&second); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Fatalf("encoding is not stable\nfirst  %s\nsecond %s", first.Bytes(), second.Bytes())
		}
		_ = c.Clone()
	})
}
