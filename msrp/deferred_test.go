package msrp_test

import (
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/msrp"
)

// TestDeferredAnswersKeepOrder: a handler that answers later does not stop the connection from
// reading; answers leave in request order once the deferred one is settled, the success REPORT
// after its 200, and an error settles as its code.
func TestDeferredAnswersKeepOrder(t *testing.T) {
	var mu sync.Mutex
	pending := map[string]*msrp.Deferred{}
	got := make(chan string, 16)
	rec := newRecorder()
	rec.reply = func(m *msrp.Message) error {
		got <- string(m.Body)
		if m.ContentType == "text/x-later" {
			d := msrp.Defer()
			mu.Lock()
			pending[string(m.Body)] = d
			mu.Unlock()
			return d
		}
		return nil
	}
	srv, addr := server(t, msrp.Config{})
	s := srv.NewSession(rec)
	p := dial(t, addr, true)
	first := sendTo(s, "t1", "text/x-later", "one")
	first.Headers = []msrp.Header{{Name: "Success-Report", Value: "yes"}}
	p.Write(first)
	p.Write(sendTo(s, "t2", "text/plain", "two"))
	p.Write(sendTo(s, "t3", "text/x-later", "three"))
	for _, want := range []string{"one", "two", "three"} {
		select {
		case b := <-got:
			if b != want {
				t.Fatalf("handler got %q, want %q", b, want)
			}
		case <-time.After(failsafe):
			t.Fatalf("the connection stopped reading before %q", want)
		}
	}
	select {
	case m := <-p.Frames:
		t.Fatalf("an answer left before the deferred one was settled: %q", m.AppendTo(nil))
	case <-time.After(50 * time.Millisecond):
	}
	mu.Lock()
	one, three := pending["one"], pending["three"]
	mu.Unlock()
	three.Settle(&msrp.StatusError{Code: 500, Comment: "not logged"}) // settled first, sent last
	one.Settle(nil)
	p.ExpectNext(t, "t1", 200)
	if r := p.Next(t); r.Method != "REPORT" || r.MessageID != "mid-t1" || r.Status == nil || r.Status.Code != 200 {
		t.Fatalf("want the success REPORT of t1, got %q", r.AppendTo(nil))
	}
	p.ExpectNext(t, "t2", 200)
	if r := p.ExpectNext(t, "t3", 500); r.Comment != "not logged" {
		t.Fatalf("comment %q", r.Comment)
	}
}
