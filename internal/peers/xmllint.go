package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Xmllint returns the path of xmllint.
func Xmllint(t testing.TB) string { return Require(t, "xmllint", "libxml2-utils") }

// Schema is the path of one of the RFC schemas kept in testdata/spec/schemas.
func Schema(t testing.TB, name string) string {
	t.Helper()
	p := RepoPath(t, "testdata", "spec", "schemas", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("RFC schema not found: %v", err)
	}
	return p
}

// ConfInfoSchema is the RFC 6501 schema, which imports RFC 4575's conference-info.
const ConfInfoSchema = "xcon-conference-info.xsd"

// Validate checks doc against the schema (a name in testdata/spec/schemas) with xmllint,
// without network access, and fails the test when xmllint rejects it. Without xmllint the test
// is skipped (or fails under PARLEY_REQUIRE_PEERS=1).
func Validate(t testing.TB, schema string, doc []byte) {
	t.Helper()
	ValidateWith(t, Xmllint(t), schema, doc)
}

// ValidateWith is Validate with xmllint already found.
func ValidateWith(t testing.TB, xmllint, schema string, doc []byte) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(xmllint, "--noout", "--nonet", "--schema", Schema(t, schema), f).CombinedOutput(); err != nil {
		t.Fatalf("xmllint rejects the document against %s: %v\n%s\ndocument:\n%s", schema, err, out, doc)
	}
}
