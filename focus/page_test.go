package focus_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/focus"
)

// pages is a focus.Pager that records what each member (named by its contact) is sent.
type pages struct {
	mu  sync.Mutex
	got map[string][]string // contact → "content-type|body"
}

func (p *pages) SendPage(_ context.Context, _ string, to any, contentType string, body []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got[to.(string)] = append(p.got[to.(string)], contentType+"|"+string(body))
	return nil
}

// wait returns what contact was sent once one copy contains want.
func (p *pages) wait(t *testing.T, contact, want string) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		p.mu.Lock()
		for _, c := range p.got[contact] {
			if strings.Contains(c, want) {
				p.mu.Unlock()
				return c
			}
		}
		p.mu.Unlock()
	}
	t.Fatalf("%s was not sent %q: %v", contact, want, p.got[contact])
	return ""
}

func page(f *focus.Focus, who, contentType, body string) (focus.PageResult, error) {
	return f.Page(context.Background(), focus.PageRequest{Room: "room", Identity: focus.Identity{AOR: "sip:" + who + "@example.com"},
		ContentType: contentType, Body: []byte(body), Contact: who})
}

// TestPageForms: a text member gets the text with its sender in front, a CPIM member the CPIM
// body; the focus wraps text/plain with the sender as From; bad input is refused by kind.
func TestPageForms(t *testing.T) {
	f, _ := newTestFocus(t)
	p := &pages{got: map[string][]string{}}
	f.SetPager(p)

	if res, err := page(f, "tom", "text/plain", "hello"); err != nil || !res.Joined {
		t.Fatalf("tom's first MESSAGE: %+v %v", res, err)
	}
	cpimBody := "From: <sip:cat@example.com>\r\nTo: <sip:room@example.net>\r\n\r\nContent-Type: text/plain\r\n\r\nfrom cat"
	if res, err := page(f, "cat", "message/cpim", cpimBody); err != nil || !res.Joined {
		t.Fatalf("cat's first MESSAGE: %+v %v", res, err)
	}
	if res, err := page(f, "tom", "text/plain", "from tom"); err != nil || res.Joined {
		t.Fatalf("tom's second MESSAGE: %+v %v", res, err)
	}
	if got := p.wait(t, "cat", "from tom"); !strings.HasPrefix(got, "message/cpim|") || !strings.Contains(got, "From: <sip:tom@example.com>") {
		t.Fatalf("cat got %q", got)
	}
	if got := p.wait(t, "tom", "from cat"); got != "text/plain|cat@example.com: from cat" {
		t.Fatalf("tom got %q", got)
	}
	if n := len(f.Room("room").Participants()); n != 2 {
		t.Fatalf("%d participants, want 2", n)
	}

	for _, c := range []struct {
		ct, body string
		want     error
	}{
		{"application/pdf", "x", focus.ErrUnsupportedType},
		{"message/cpim", "not cpim", focus.ErrBadMessage},
		{"message/cpim", strings.Replace(cpimBody, "cat@", "tom@", 1), focus.ErrForbidden},
		{"text/plain", string(bytes.Repeat([]byte("x"), 2<<20)), focus.ErrTooLarge},
	} {
		if _, err := page(f, "cat", c.ct, c.body); !errors.Is(err, c.want) {
			t.Errorf("%s %.20q: %v, want %v", c.ct, c.body, err, c.want)
		}
	}

	if res, err := page(f, "tom", "text/plain", " /leave\r\n"); err != nil || !res.Left || !res.Command {
		t.Fatalf("/leave: %+v %v", res, err)
	}
	p.wait(t, "tom", "You left the room")
	if n := len(f.Room("room").Participants()); n != 1 {
		t.Fatalf("%d participants after /leave, want 1", n)
	}
}

// TestPageConcurrentFirstMessages: first MESSAGEs of one identity at once make one member.
func TestPageConcurrentFirstMessages(t *testing.T) {
	f, _ := newTestFocus(t)
	f.SetPager(&pages{got: map[string][]string{}})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := page(f, "tom", "text/plain", "hi"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := len(f.Room("room").Participants()); n != 1 {
		t.Fatalf("%d participants for one identity, want 1", n)
	}
}

// TestPageCommands: /nick sets a page-mode member's nickname, which text members then see in
// front of its messages; a taken one is refused with a notice; /who lists who is present.
func TestPageCommands(t *testing.T) {
	f, _ := newTestFocus(t)
	p := &pages{got: map[string][]string{}}
	f.SetPager(p)
	for _, who := range []string{"tom", "dog"} {
		if _, err := page(f, who, "text/plain", "hello"); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := page(f, "tom", "text/plain", "/nick Tommy"); err != nil || !res.Command {
		t.Fatalf("/nick: %+v %v", res, err)
	}
	p.wait(t, "tom", "Your nickname is now Tommy.")
	if _, err := page(f, "tom", "text/plain", "named now"); err != nil {
		t.Fatal(err)
	}
	if got := p.wait(t, "dog", "named now"); got != "text/plain|Tommy: named now" {
		t.Fatalf("dog got %q", got)
	}
	if _, err := page(f, "dog", "text/plain", "/nick tommy"); err != nil {
		t.Fatal(err)
	}
	p.wait(t, "dog", "already in use")
	if _, err := page(f, "dog", "text/plain", "/who"); err != nil {
		t.Fatal(err)
	}
	p.wait(t, "dog", "Present: Tommy <sip:tom@example.com>")
	if u := f.Room("room").Snapshot().User("xcon-userid:tom@example.com"); u == nil || u.Nickname != "Tommy" || u.Endpoints[0].Nickname != "Tommy" {
		t.Fatalf("tom's row: %+v", u)
	}
}

// TestPageComposing: is-composing (RFC 3994) in a MESSAGE is relayed, wrapped, to CPIM members
// and bare to members that send it bare themselves; never logged as conversation.
func TestPageComposing(t *testing.T) {
	f, _ := newTestFocus(t)
	p := &pages{got: map[string][]string{}}
	f.SetPager(p)
	const composing = `<?xml version="1.0"?><isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state></isComposing>`
	if _, err := page(f, "dog", "text/plain", "hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := page(f, "cat", "message/cpim", "From: <sip:cat@example.com>\r\nTo: <sip:room@example.net>\r\n\r\nContent-Type: text/plain\r\n\r\nhi"); err != nil {
		t.Fatal(err)
	}
	if _, err := page(f, "tom", "application/im-iscomposing+xml", composing); err != nil {
		t.Fatal(err)
	}
	if got := p.wait(t, "cat", "isComposing"); !strings.HasPrefix(got, "message/cpim|") || !strings.Contains(got, "<sip:tom@example.com>") {
		t.Fatalf("cat got %q", got)
	}
	if _, err := page(f, "dog", "application/im-iscomposing+xml", composing); err != nil {
		t.Fatal(err)
	}
	if got := p.wait(t, "tom", "isComposing"); got != "application/im-iscomposing+xml|"+composing {
		t.Fatalf("tom got %q", got)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.got["dog"] {
		if strings.Contains(c, "isComposing") {
			t.Fatalf("dog, which had sent no is-composing then, got %q", c)
		}
	}
}

// TestPagePrivate: "/msg NAME TEXT" in a MESSAGE reaches that member only, as a private CPIM
// message To it; an unknown name is answered with a notice.
func TestPagePrivate(t *testing.T) {
	f, _ := newTestFocus(t)
	p := &pages{got: map[string][]string{}}
	f.SetPager(p)
	for _, who := range []string{"tom", "dog", "cat"} {
		if _, err := page(f, who, "text/plain", "hello"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := page(f, "dog", "text/plain", "/nick Rex"); err != nil {
		t.Fatal(err)
	}
	if res, err := page(f, "tom", "text/plain", "/msg rex just for you"); err != nil || res.Command {
		t.Fatalf("/msg: %+v %v", res, err)
	}
	if got := p.wait(t, "dog", "just for you"); got != "text/plain|tom@example.com: just for you" {
		t.Fatalf("dog got %q", got)
	}
	if _, err := page(f, "tom", "text/plain", "/msg sip:cat@example.com by address"); err != nil {
		t.Fatal(err)
	}
	p.wait(t, "cat", "by address")
	if _, err := page(f, "tom", "text/plain", "/msg nobody hello?"); err != nil {
		t.Fatal(err)
	}
	p.wait(t, "tom", "Nobody called nobody")
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.got["cat"] {
		if strings.Contains(c, "just for you") {
			t.Fatalf("cat got dog's private message: %q", c)
		}
	}
}

// TestAnnounceReachesPageMembers: a notice to every room (a drain's) goes to a page-mode member
// as a MESSAGE, since it has no MSRP session.
func TestAnnounceReachesPageMembers(t *testing.T) {
	f, _ := newTestFocus(t)
	p := &pages{got: map[string][]string{}}
	f.SetPager(p)
	if res, err := page(f, "tom", "text/plain", "hello"); err != nil || !res.Joined {
		t.Fatalf("tom's first MESSAGE: %+v %v", res, err)
	}
	if n := f.Announce("this focus is going down"); n != 1 {
		t.Fatalf("announced to %d participants, want 1", n)
	}
	p.wait(t, "tom", "this focus is going down")
}
