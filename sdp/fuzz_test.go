package sdp

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/parleychat/parley/internal/corpus"
)

// FuzzParse checks that Parse never panics, and that whatever it accepts can
// be answered and the answer parses again with the same number of m-lines.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.sdp"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nm=message 1 TCP/MSRP *"))
	malformed, err := corpus.Load(filepath.Join("..", "testdata", "malformed", "sdp.txt"))
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range malformed {
		f.Add(c.Raw())
	}
	f.Add([]byte("v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nt=0 0\r\nm=x 0 y\r\na=chatroom\r\na=max-size:0\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		for i := range s.Media {
			s.Media[i].Accepts("text/plain")
			s.Media[i].AcceptsWrapped("text/plain")
		}
		answers := make([]MediaAnswer, len(s.Media))
		for i := range answers {
			answers[i].Reject = true
		}
		out, err := BuildAnswer(s, AnswerParams{Address: "192.0.2.1"}, answers)
		if err != nil {
			// Offered tokens are whitespace-free by construction, so a
			// refusal of every line must always build.
			t.Fatalf("BuildAnswer: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("answer does not parse: %v\n%q", err, out)
		}
		if len(again.Media) != len(s.Media) {
			t.Fatalf("%d m-lines in answer, %d offered", len(again.Media), len(s.Media))
		}
	})
}
