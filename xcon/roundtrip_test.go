package xcon

import (
	"bytes"
	"testing"
)

func TestDecodeEncodeExamples(t *testing.T) {
	tests := []struct {
		file     string
		validate bool
	}{
		{"90-rfc6504-conference-object-main.xml", true},
		{"91-rfc6504-conference-object-callcenter.xml", true},
		// RFC 6501 §7 fails the non-normative XSD (erratum E6501-MIXER-FLOOR).
		{"92-rfc6501-conference-object-example.xml", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in := readExample(t, tt.file)
			c, err := Decode(bytes.NewReader(in))
			if err != nil {
				t.Fatal(err)
			}
			out := encode(t, c)
			if got, want := canonical(t, out), canonical(t, in); got != want {
				t.Errorf("round trip differs\n--- got\n%s\n--- want\n%s", got, want)
			}
			if tt.validate {
				validate(t, out)
			}
		})
	}
}
