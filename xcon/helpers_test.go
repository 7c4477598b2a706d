package xcon

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/peers"
)

// repoRoot is the directory holding go.mod.
func repoRoot(t testing.TB) string { return peers.RepoRoot(t) }

// sharedDir is the RFC material kept in the repository's testdata/spec.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "testdata", "spec")
	if _, err := os.Stat(filepath.Join(dir, "schemas", "xcon-conference-info.xsd")); err != nil {
		t.Fatalf("RFC schemas not found at %s: %v", dir, err)
	}
	return dir
}

func schemaPath(t testing.TB, name string) string {
	return filepath.Join(sharedDir(t), "schemas", name)
}

func examplePath(t testing.TB, name string) string {
	return filepath.Join(sharedDir(t), "ccmp-examples", "corrected", name)
}

// validate checks doc against the RFC 6501 XSD (which imports RFC 4575's)
// with xmllint.
func validate(t testing.TB, doc []byte) {
	t.Helper()
	peers.Validate(t, peers.ConfInfoSchema, doc)
}

// canonical renders a document in a form that ignores what XML does not
// distinguish: prefixes, namespace declaration placement, attribute order,
// comments, processing instructions and whitespace around values.
func canonical(t testing.TB, doc []byte) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	var b strings.Builder
	var text strings.Builder
	flush := func() {
		if s := strings.TrimSpace(text.String()); s != "" {
			b.WriteString("T:" + s + "\n")
		}
		text.Reset()
	}
	depth := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("canonical: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			flush()
			var attrs []string
			for _, a := range tk.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				attrs = append(attrs, "{"+a.Name.Space+"}"+a.Name.Local+"="+strings.TrimSpace(a.Value))
			}
			slices.Sort(attrs)
			b.WriteString(strings.Repeat(" ", depth) + "{" + tk.Name.Space + "}" + tk.Name.Local + " " + strings.Join(attrs, " ") + "\n")
			depth++
		case xml.EndElement:
			flush()
			depth--
		case xml.CharData:
			text.Write(tk)
		}
	}
	return b.String()
}

func readExample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(examplePath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encode(t testing.TB, c *Conference) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func xmlName(space, local string) xml.Name { return xml.Name{Space: space, Local: local} }
