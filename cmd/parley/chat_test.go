package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/configs"
)

// chatUser is one `parley chat` running in process: its stdin is a pipe the test writes,
// its stdout is split into lines the test waits on.
type chatUser struct {
	name  string
	in    *io.PipeWriter
	lines chan string
	done  chan error
	seen  []string // every line read so far
}

// lineWriter turns writes into whole lines.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // incomplete: keep for the next write
			return len(p), nil
		}
		w.lines <- strings.TrimSuffix(line, "\n")
	}
}

// startChat runs a chat client for room with extra flags set on top of defaults.
func startChat(t *testing.T, d *daemon, name string, o chatOptions) *chatUser {
	t.Helper()
	if o.room == "" {
		o.room = fmt.Sprintf("sip:lobby@127.0.0.1:%d", d.sip.Port())
	}
	o.logger = testLogger()
	inR, inW := io.Pipe()
	u := &chatUser{name: name, in: inW, lines: make(chan string, 1024), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { u.done <- runChat(ctx, o, inR, &lineWriter{lines: u.lines}) }()
	t.Cleanup(func() {
		inW.Close()
		select {
		case <-u.done:
		case <-time.After(20 * time.Second):
			t.Errorf("%s: chat did not end after its input closed", name)
		}
		cancel()
	})
	return u
}

// expect waits for a line containing want and returns it; a generous timeout guards against
// hanging, it is not a timing assertion.
func (u *chatUser) expect(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line := <-u.lines:
			u.seen = append(u.seen, line)
			if strings.Contains(line, want) {
				return line
			}
		case err := <-u.done:
			t.Fatalf("%s: chat ended (%v) while waiting for %q; saw:\n%s", u.name, err, want, strings.Join(u.seen, "\n"))
		case <-timeout:
			t.Fatalf("%s: no line with %q; saw:\n%s", u.name, want, strings.Join(u.seen, "\n"))
		}
	}
}

func (u *chatUser) say(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(u.in, line+"\n"); err != nil {
		t.Fatalf("%s: %v", u.name, err)
	}
}

// joinChat starts a client with --nick name and waits until the room confirmed the nickname.
func joinChat(t *testing.T, d *daemon, name string) *chatUser {
	t.Helper()
	u := startChat(t, d, name, chatOptions{nick: name})
	u.expect(t, "* joined sip:lobby@example.net as sip:"+name+"@127.0.0.1")
	u.expect(t, "you are now known as "+name)
	return u
}

// TestChatTwoClientsTalk: a line typed at one client shows at the other as "HH:MM <nick> text",
// both ways, and arrivals and nickname changes are announced.
func TestChatTwoClientsTalk(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinChat(t, d, "alice")
	bob := joinChat(t, d, "bob")
	alice.expect(t, "* bob joined")

	alice.say(t, "hello bob")
	alice.expect(t, "<alice> hello bob") // the local echo once the room took it
	line := bob.expect(t, "hello bob")
	if !strings.HasSuffix(line, " <alice> hello bob") || len(line) != len("15:04 <alice> hello bob") {
		t.Fatalf("bob shows %q, want HH:MM <alice> hello bob", line)
	}
	bob.say(t, "hi alice")
	if line := alice.expect(t, "hi alice"); !strings.HasSuffix(line, "<bob> hi alice") {
		t.Fatalf("alice shows %q", line)
	}

	bob.say(t, "/nick Cheshire Cat")
	bob.expect(t, "you are now known as Cheshire Cat")
	alice.expect(t, "* bob is now known as Cheshire Cat")
	bob.say(t, "grin")
	if line := alice.expect(t, "grin"); !strings.HasSuffix(line, "<Cheshire Cat> grin") {
		t.Fatalf("after /nick alice shows %q", line)
	}

	bob.say(t, "/quit")
	alice.expect(t, "* Cheshire Cat left")
}

// TestChatNicknameConflict: a nickname someone else holds is refused with 425, shown plainly,
// and the client keeps its own. Bob signals over UDP.
func TestChatNicknameConflict(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinChat(t, d, "alice")
	bob := startChat(t, d, "bob", chatOptions{nick: "bob", transport: "udp"})
	bob.expect(t, "you are now known as bob")
	bob.say(t, "/nick alice")
	if line := bob.expect(t, "nickname refused"); !strings.Contains(line, "425") {
		t.Fatalf("conflict shown as %q, want 425", line)
	}
	bob.say(t, "still bob")
	if line := alice.expect(t, "still bob"); !strings.HasSuffix(line, "<bob> still bob") {
		t.Fatalf("alice shows %q", line)
	}
}

// TestChatPrivateMessageAndWho: /who lists the others; /msg reaches only its target.
func TestChatPrivateMessageAndWho(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinChat(t, d, "alice")
	bob := joinChat(t, d, "bob")
	carol := joinChat(t, d, "carol")
	alice.expect(t, "* carol joined")

	alice.say(t, "/who")
	who := alice.expect(t, "* in the room:")
	for _, want := range []string{"alice (sip:alice@127.0.0.1) [you]", "bob (sip:bob@127.0.0.1)", "carol (sip:carol@127.0.0.1)"} {
		if !strings.Contains(who, want) {
			t.Fatalf("/who: %q lacks %q", who, want)
		}
	}

	alice.say(t, "/msg bob psst, just for you")
	alice.expect(t, "(to bob) psst")
	if line := bob.expect(t, "psst"); !strings.HasSuffix(line, "<alice> (private) psst, just for you") {
		t.Fatalf("bob shows %q", line)
	}
	// Carol gets the next public message, and nothing before it.
	alice.say(t, "everyone now")
	carol.expect(t, "<alice> everyone now")
	for _, l := range carol.seen {
		if strings.Contains(l, "psst") {
			t.Fatalf("carol saw the private message: %q", l)
		}
	}

	alice.say(t, "/msg nobody hi")
	alice.expect(t, "error: no one called nobody")
}

// TestChatSendFileAndScripts: /send carries a file as an attachment; --send and --listen
// serve scripts.
func TestChatSendFileAndScripts(t *testing.T) {
	d := startTestDaemon(t, nil)
	alice := joinChat(t, d, "alice")
	bob := joinChat(t, d, "bob")

	f := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(f, []byte("twelve bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	alice.say(t, "/send "+f)
	alice.expect(t, "* sent notes.txt")
	if line := bob.expect(t, "notes.txt"); !strings.Contains(line, "<alice> sent a file: notes.txt (text/plain, 12 bytes)") {
		t.Fatalf("bob shows %q", line)
	}
	// carol, joining later, is given the file the room kept, and saves it; the room's notices
	// before it are notices, not private messages, though they may come before the roster.
	saved := t.TempDir()
	carol := startChat(t, d, "carol", chatOptions{nick: "carol", saveDir: saved})
	carol.expect(t, "* This room is logged")
	if line := carol.expect(t, "notes.txt"); !strings.HasSuffix(line, "<alice> sent a file: notes.txt (text/plain, 12 bytes)") {
		t.Fatalf("carol shows %q", line)
	}
	carol.expect(t, "* saved "+filepath.Join(saved, "notes.txt"))
	if b, err := os.ReadFile(filepath.Join(saved, "notes.txt")); err != nil || string(b) != "twelve bytes" {
		t.Fatalf("saved file: %q %v", b, err)
	}

	listener := &lineWriter{lines: make(chan string, 64)}
	listenDone := make(chan error, 1)
	listenCtx, stopListening := context.WithCancel(context.Background())
	defer stopListening()
	go func() {
		listenDone <- runChat(listenCtx, chatOptions{room: fmt.Sprintf("sip:lobby@127.0.0.1:%d", d.sip.Port()),
			from: "sip:robot@127.0.0.1", listen: time.Minute, logger: testLogger()}, strings.NewReader(""), listener)
	}()
	bob.expect(t, "* robot joined") // the listener is in before the script speaks

	if err := runChat(context.Background(), chatOptions{room: fmt.Sprintf("sip:lobby@127.0.0.1:%d", d.sip.Port()),
		nick: "script", send: "from a script", logger: testLogger()}, strings.NewReader(""), io.Discard); err != nil {
		t.Fatalf("--send: %v", err)
	}
	if line := alice.expect(t, "from a script"); !strings.HasSuffix(line, "from a script") {
		t.Fatalf("alice shows %q", line)
	}
	var got struct {
		From, Nick, Text string
		Notice           bool
	}
	timeout := time.After(20 * time.Second)
	for got.Text != "from a script" {
		select {
		case line := <-listener.lines:
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatalf("--listen line %q: %v", line, err)
			}
		case <-timeout:
			t.Fatal("--listen printed no line for the script's message")
		}
	}
	if got.From != "sip:script@127.0.0.1" || got.Notice {
		t.Fatalf("--listen: %+v", got)
	}
	stopListening()
	if err := <-listenDone; err != nil {
		t.Fatalf("--listen: %v", err)
	}
}

// TestChatRefreshesShortSubscriptions: when the focus grants a short roster subscription, the
// client renews it in time (halfway through a 2 s grant) and still sees joins seconds later.
func TestChatRefreshesShortSubscriptions(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		c.SIP.Subscriptions.MinExpires, c.SIP.Subscriptions.MaxExpires = time.Second, 2*time.Second
	})
	alice := joinChat(t, d, "alice")
	time.Sleep(5 * time.Second) // two and a half grants: without renewals the subscription is gone
	joinChat(t, d, "bob")
	alice.expect(t, "* bob joined")
}

// TestSaveFileNames: a received file lands in the directory under a plain name whatever the
// sender called it, and never over an existing file.
func TestSaveFileNames(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ sent, want string }{
		{"notes.txt", "notes.txt"}, {"notes.txt", "notes-1.txt"}, {"../../etc/passwd", "passwd"},
		{`..\..\boot.ini`, "boot.ini"}, {".bashrc", "bashrc"}, {"", "file"}, {"/", "file-1"}, {"..", "file-2"},
		{"/etc/shadow", "shadow"}, {"evil\x00/../../x.txt", "x.txt"}, {"a\x00b.txt", "a_b.txt"}, {"line\nbreak", "line_break"},
		{"\xff\xfe.txt", "_.txt"}, {strings.Repeat("n", 300) + ".txt", strings.Repeat("n", 196) + ".txt"},
		{"C:\\Windows\\win.ini", "win.ini"}, {"..\x00", "_"},
	} {
		path, err := saveFile(dir, c.sent, []byte(c.sent))
		if err != nil || path != filepath.Join(dir, c.want) {
			t.Fatalf("%q saved as %q (%v), want %q", c.sent, path, err, c.want)
		}
		if b, _ := os.ReadFile(path); string(b) != c.sent {
			t.Fatalf("%q: content %q", c.sent, b)
		}
	}
}
