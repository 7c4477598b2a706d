package xcon

import (
	"errors"
	"strings"
	"testing"
)

// TestDecodeRefusesWhatCCMPRefuses: the conference object and CCMP share one
// reader, so a document CCMP refuses as not well-formed or carrying a DTD is
// refused by Decode too.
func TestDecodeRefusesWhatCCMPRefuses(t *testing.T) {
	const open = `<conference-info xmlns="` + NS + `" entity="xcon:a@example.com">`
	// Prefixes are resolved by the decoder, not by ReadRoot.
	for _, tt := range []struct{ name, doc, want string }{
		{"doctype", `<?xml version="1.0"?><!DOCTYPE conference-info []>` + open + `</conference-info>`, "DOCTYPE"},
		{"external entity", `<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + open + `<conference-description><display-text>&x;</display-text></conference-description></conference-info>`, "DOCTYPE"},
		{"mismatched end tag", open + `<conference-description><display-text>x</subject></conference-description></conference-info>`, "element"},
		{"repeated attribute", `<conference-info xmlns="` + NS + `" entity="xcon:a@example.com" entity="xcon:b@example.com"/>`, "repeated"},
		{"two roots", open + `</conference-info>` + open + `</conference-info>`, "root"},
		{"text after the root", open + `</conference-info>trailing`, "outside"},
		{"too deep", open + strings.Repeat("<x>", MaxDepth) + strings.Repeat("</x>", MaxDepth) + `</conference-info>`, "deeper"},
		{"undeclared prefix", open + `<p:x/></conference-info>`, "prefix"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.doc))
			if err == nil {
				t.Fatal("accepted")
			}
			var se *SyntaxError
			if !errors.Is(err, ErrInvalid) || !errors.As(err, &se) {
				t.Fatalf("error %v is not a SyntaxError wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if _, err := ReadRoot([]byte(tt.doc)); err == nil && tt.name != "undeclared prefix" {
				t.Error("ReadRoot accepted what Decode refused")
			}
		})
	}
	// A trailing newline, comments and processing instructions stay acceptable.
	if _, err := Decode(strings.NewReader(`<?xml version="1.0"?>` + open + `<!-- c --></conference-info>` + "\n<?pi x?>\n")); err != nil {
		t.Fatal(err)
	}
}
