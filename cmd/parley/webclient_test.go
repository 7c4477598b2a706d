package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/configs"
	"github.com/parleychat/parley/msrp"
)

// screensDir is where the browser tests leave their screenshots.
func screensDir(t *testing.T) string {
	dir := filepath.Join(os.TempDir(), "parley-webclient-screens")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserPage is one tab of a headless Chromium showing the web client.
type browserPage struct {
	t    *testing.T
	name string
	ctx  context.Context
}

// startBrowser runs Debian's chromium headless (certificate errors ignored, for the self-signed
// HTTPS listener) and returns a context whose tabs are opened with newPage.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := requirePeer(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("ignore-certificate-errors", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1000, 700))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancel := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(browser); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", path, err)
	}
	return browser
}

// newPage opens a tab at url (the first one reuses the browser's own tab).
func newPage(t *testing.T, browser context.Context, name, url string, first bool) *browserPage {
	t.Helper()
	ctx := browser
	if !first {
		var cancel context.CancelFunc
		ctx, cancel = chromedp.NewContext(browser)
		t.Cleanup(cancel)
		// The first run opens the tab, which lives as long as the context of that run: this one,
		// not one of the timeouts of do.
		if err := chromedp.Do(ctx); err != nil {
			t.Fatalf("%s: opening a tab: %v", name, err)
		}
	}
	p := &browserPage{t: t, name: name, ctx: ctx}
	p.do(chromedp.Navigate(url))
	return p
}

func (p *browserPage) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v\npage log:\n%s", p.name, err, p.logText())
	}
}

// logText is the chat log as the page shows it.
func (p *browserPage) logText() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById('log')||{}).innerText + '\n[status] ' + document.getElementById('status').innerText + ' ' + document.getElementById('joinError').innerText`))
	return s
}

// waitFor waits until the JavaScript predicate holds.
func (p *browserPage) waitFor(what, predicate string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		p.t.Fatalf("%s: waiting for %s: %v\npage log:\n%s", p.name, what, err, p.logText())
	}
}

func (p *browserPage) eval(expr string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, expr, err)
	}
	return s
}

func (p *browserPage) join(nick string) {
	p.t.Helper()
	p.do(chromedp.WaitVisible(chromedp.ID("nick")), chromedp.SetValue(chromedp.ID("nick"), nick), chromedp.Click(chromedp.ID("joinButton")))
	p.waitFor("the chat to show", `!document.getElementById('chat').hidden && document.getElementById('status').innerText.startsWith('in ')`)
}

// logHas waits for a line of the log holding text (and the class cls when not empty).
func (p *browserPage) logHas(text, cls string) {
	p.t.Helper()
	sel := "#log .msg"
	if cls != "" {
		sel += "." + cls
	}
	p.waitFor(fmt.Sprintf("%q in the log", text), fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).some(e => e.innerText.includes(%q))`, sel, text))
}

func (p *browserPage) rosterHas(nicks ...string) {
	p.t.Helper()
	var conds []string
	for _, n := range nicks {
		conds = append(conds, fmt.Sprintf(`names.includes(%q)`, n))
	}
	p.waitFor(fmt.Sprintf("roster %v", nicks), `(() => { const names = Array.from(document.querySelectorAll('#roster li')).map(e => e.innerText); return `+strings.Join(conds, " && ")+`; })()`)
}

func (p *browserPage) say(text string) {
	p.t.Helper()
	p.do(chromedp.SendKeys(chromedp.ID("line"), text), chromedp.Click(chromedp.ID("sendButton")))
	p.waitFor("our line to be sent", fmt.Sprintf(`Array.from(document.querySelectorAll('#log .msg.mine')).some(e => e.innerText.includes(%q))`, text))
}

func (p *browserPage) screenshot(step string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("%s: screenshot: %v", p.name, err)
	}
	file := filepath.Join(screensDir(p.t), fmt.Sprintf("%s-%s-%s.png", p.t.Name(), p.name, step))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot %s", file)
}

// TestWebClientInBrowser: the page Parley serves at / joins lobby from a real Chromium over SIP and
// MSRP on WebSocket. Two pages and a terminal client (parley chat) see each other's messages and
// all three nicknames and "… is typing", a private message from one page reaches only the other,
// a file sent from a page (RFC 5547 push) downloads byte for byte in the other and reaches the
// terminal, one sent to a single member reaches only him, and a reloaded page rejoins with its
// nickname and shows the history.
func TestWebClientInBrowser(t *testing.T) {
	d := startTestDaemon(t, nil)
	browserRoom(t, d, "http://"+d.httpAddr.String()+"/")
}

// TestWebClientInBrowserOverTLS: the same page from http.tls_listen (a self-signed certificate),
// over wss:.
func TestWebClientInBrowserOverTLS(t *testing.T) {
	dir := t.TempDir()
	if _, err := msrp.LoadOrCreateCertificate(dir); err != nil {
		t.Fatal(err)
	}
	d := startTestDaemon(t, func(c *configs.Config) {
		c.HTTP.TLSListen = "127.0.0.1:0"
		c.HTTP.TLSCertFile = filepath.Join(dir, msrp.CertificateFile)
		c.HTTP.TLSKeyFile = filepath.Join(dir, msrp.KeyFile)
	})
	browserRoom(t, d, "https://"+d.httpsAddr.String()+"/")
}

func browserRoom(t *testing.T, d *daemon, url string) {
	browser := startBrowser(t)
	carl := joinChat(t, d, "carl")
	ann := newPage(t, browser, "ann", url, true)
	ann.join("ann")
	ann.logHas("logged", "notice") // the room's logging notice
	ben := newPage(t, browser, "ben", url, false)
	ben.join("ben")
	for _, p := range []*browserPage{ann, ben} {
		p.rosterHas("ann", "ben", "carl")
	}
	for i := 0; ; i++ { // the terminal's roster may be a NOTIFY behind the pages'
		carl.say(t, "/who")
		line := carl.expect(t, "* in the room:")
		if strings.Contains(line, "ann (sip:ann-") && strings.Contains(line, "ben (sip:ben-") && strings.Contains(line, "carl") {
			break
		}
		if i == 20 {
			t.Fatalf("carl's /who: %q", line)
		}
		time.Sleep(100 * time.Millisecond)
	}

	ann.say("hello from ann")
	ben.logHas("ann:hello from ann", "")
	carl.expect(t, "<ann> hello from ann")
	carl.say(t, "hi from the terminal")
	ann.logHas("carl:hi from the terminal", "")
	ben.logHas("carl:hi from the terminal", "")

	// Is-composing (RFC 3994): ben types, ann sees it, then ben sends.
	ben.do(chromedp.SendKeys(chromedp.ID("line"), "hi both"))
	ann.waitFor("ben typing", `document.getElementById('typing').innerText.includes('ben is typing')`)
	ben.do(chromedp.Click(chromedp.ID("sendButton")))
	ann.logHas("ben:hi both", "")
	carl.expect(t, "<ben> hi both")
	ann.waitFor("ben no longer typing", `!document.getElementById('typing').innerText.includes('ben')`)

	// A private message: ann clicks ben in the roster.
	ann.do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll('#roster li')).find(e => e.innerText === 'ben')`)))
	ann.waitFor("the private target", `document.getElementById('target').innerText.includes('ben')`)
	ann.say("psst ben only")
	ben.logHas("psst ben only", "private")
	ann.do(chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll('#roster li')).find(e => e.innerText === 'ben')`)))
	ann.waitFor("the room as target", `document.getElementById('target').innerText === ''`)
	ann.say("back to everyone")
	carl.expect(t, "<ann> back to everyone")
	for _, line := range carl.seen {
		if strings.Contains(line, "psst") {
			t.Fatalf("carl saw ann's private message to ben: %q", line)
		}
	}
	ben.screenshot("private")

	// A file from ann to the room (RFC 5547 push): ben downloads it from a Blob link.
	payload := make([]byte, 100_000)
	for i := range payload {
		payload[i] = byte(i*7 + i/251)
	}
	file := filepath.Join(t.TempDir(), "tiles.png")
	if err := os.WriteFile(file, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	ann.do(chromedp.SetUploadFiles(chromedp.ID("file"), []string{file}))
	ann.logHas("sent tiles.png", "")
	ben.waitFor("the file link", `!!document.querySelector('#log a.download[download="tiles.png"]')`)
	got, err := base64.StdEncoding.DecodeString(ben.eval(`fetch(document.querySelector('#log a.download[download="tiles.png"]').href).then(r => r.arrayBuffer()).then(b => { let s = ''; for (const c of new Uint8Array(b)) s += String.fromCharCode(c); return btoa(s); })`))
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("ben downloaded %d bytes (%v), want the %d sent", len(got), err, len(payload))
	}
	carl.expect(t, "tiles.png") // the terminal gets the room's file too
	ben.screenshot("file")

	// A file to ben alone (Subject: his URI): ben gets it, carl does not.
	secret := filepath.Join(t.TempDir(), "secret.bin")
	if err := os.WriteFile(secret, payload[:5000], 0o644); err != nil {
		t.Fatal(err)
	}
	pickBen := chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll('#roster li')).find(e => e.innerText === 'ben')`))
	ann.do(pickBen)
	ann.do(chromedp.SetUploadFiles(chromedp.ID("file"), []string{secret}))
	ann.logHas("sent secret.bin (5000 bytes) to ben", "")
	ben.waitFor("the private file", `!!document.querySelector('#log .msg.private a.download[download="secret.bin"]')`)
	ann.do(pickBen)
	ann.waitFor("the room as target", `document.getElementById('target').innerText === ''`)
	ann.say("after the private file")
	carl.expect(t, "<ann> after the private file")
	for _, line := range carl.seen {
		if strings.Contains(line, "secret.bin") {
			t.Fatalf("carl got ann's file for ben: %q", line)
		}
	}

	// A reload rejoins, with the same identity and nickname, and replays the history.
	ben.do(chromedp.Reload())
	ben.waitFor("the rejoin", `!document.getElementById('chat').hidden && document.getElementById('status').innerText.startsWith('in ') && document.getElementById('status').innerText.includes(' as ben ')`)
	ben.logHas("hello from ann", "history")
	ben.logHas("hi from the terminal", "history")
	ben.rosterHas("ann", "ben", "carl")
	ann.rosterHas("ann", "ben", "carl")
	ann.say("after the reload")
	ben.logHas("ann:after the reload", "")
	ben.screenshot("reloaded")

	// Markup in a message is shown as text, never run.
	carl.say(t, `<img src=x onerror="document.title='owned'"><b>bold?</b>`)
	ann.logHas(`<b>bold?</b>`, "")
	if n := ann.eval(`String(document.querySelectorAll('#log img, #log b').length) + document.title`); n != "0lobby — Parley" {
		t.Fatalf("markup from a message became elements (or ran): %q", n)
	}

	// /nick renames ann in ben's roster and on the lines already shown.
	ann.do(chromedp.SendKeys(chromedp.ID("line"), "/nick Annie"), chromedp.Click(chromedp.ID("sendButton")))
	ann.logHas("you are now Annie", "notice")
	ann.waitFor("the new nickname in the status", `document.getElementById('status').innerText.includes(' as Annie ')`)
	ben.rosterHas("Annie", "ben", "carl")
	ben.logHas("Annie:after the reload", "")
	carl.expect(t, "ann is now known as Annie")
	ann.screenshot("ann")
}

// TestWebClientServed: the page and its files at / where WebSocket is on, /config.json naming
// the domain and lobby, 405 to a POST; with http.web_client false, or http.websocket off, no page.
func TestWebClientServed(t *testing.T) {
	get := func(t *testing.T, method, url string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
	}
	d := startTestDaemon(t, nil)
	base := "http://" + d.httpAddr.String()
	for path, want := range map[string]string{"/": "text/html", "/parley.js": "text/javascript", "/app.js": "text/javascript", "/style.css": "text/css"} {
		if code, ct, _ := get(t, "GET", base+path); code != 200 || !strings.HasPrefix(ct, want) {
			t.Errorf("GET %s: %d %s, want 200 %s", path, code, ct, want)
		}
	}
	if code, _, body := get(t, "GET", base+"/config.json"); code != 200 || body != `{"domain":"example.net","room":"lobby"}` {
		t.Errorf("GET /config.json: %d %s", code, body)
	}
	if code, _, _ := get(t, "POST", base+"/"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", code)
	}
	if code, _, _ := get(t, "GET", base+"/healthz"); code != 200 {
		t.Errorf("GET /healthz beside the page: %d", code)
	}
	for name, edit := range map[string]func(*configs.Config){
		"web_client false": func(c *configs.Config) { c.HTTP.WebClient = false },
		"websocket off":    func(c *configs.Config) { c.HTTP.WebSocket = "off" },
	} {
		d := startTestDaemon(t, edit)
		if code, _, _ := get(t, "GET", "http://"+d.httpAddr.String()+"/"); code != http.StatusNotFound {
			t.Errorf("%s: GET / %d, want 404", name, code)
		}
	}
}

// TestWebClientSignsIn: with sip.auth, the page answers the focus's Digest challenge (MD5, qop
// auth) with the account and password typed in, joining as that account's address; a wrong
// password is refused and says so.
func TestWebClientSignsIn(t *testing.T) {
	d := startTestDaemon(t, func(c *configs.Config) {
		c.SIP.Auth.Users = []configs.SIPUser{{Name: "dora", Password: "pä55 \"word\""}}
	})
	browser := startBrowser(t)
	p := newPage(t, browser, "dora", "http://"+d.httpAddr.String()+"/", true)
	p.do(chromedp.WaitVisible(chromedp.ID("nick")), chromedp.Click(chromedp.CSS("#signin summary")),
		chromedp.SetValue(chromedp.ID("nick"), "Dora"), chromedp.SetValue(chromedp.ID("account"), "dora"),
		chromedp.SetValue(chromedp.ID("password"), "wrong"), chromedp.Click(chromedp.ID("joinButton")))
	p.waitFor("the refusal", `document.getElementById('joinError').innerText.includes('401')`)
	p.do(chromedp.SetValue(chromedp.ID("password"), "pä55 \"word\""), chromedp.Click(chromedp.ID("joinButton")))
	p.waitFor("the chat to show", `!document.getElementById('chat').hidden && document.getElementById('status').innerText.includes('(sip:dora@example.net)')`)
	p.rosterHas("Dora")
	if conf := d.focus.Room("lobby").Snapshot(); conf.User("xcon-userid:dora@example.net") == nil {
		t.Fatal("the signed-in page is not xcon-userid:dora@example.net in the room")
	}
}
