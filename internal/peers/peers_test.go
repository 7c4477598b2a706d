package peers

import (
	"os"
	"path/filepath"
	"testing"
)

// A missing tool skips the test naming the package to install; a present one is found, also
// outside PATH in the system directories.
func TestRequire(t *testing.T) {
	if Required() {
		t.Skip("a missing tool is a failure under PARLEY_REQUIRE_PEERS=1")
	}
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Require(t, "parley-no-such-tool", "parley-no-such-package")
		t.Error("Require returned for a missing tool")
	})
	if !skipped {
		t.Fatal("a missing tool did not skip the test")
	}
	if p := Require(t, "sh", "dash"); filepath.Base(p) != "sh" {
		t.Fatalf("sh found at %q", p)
	}
}

func TestRepoPath(t *testing.T) {
	if _, err := os.Stat(RepoPath(t, "configs", "kamailio", "msrp-relay.cfg")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(Schema(t, ConfInfoSchema)); err != nil {
		t.Fatal(err)
	}
}
