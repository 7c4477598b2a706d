package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleychat/parley/configs"
)

// baresipPeer is baresip (Debian's package baresip), a page-mode softphone run headless: no
// audio, its ctrl_tcp module takes commands (JSON in netstrings), and its cons module's TCP
// console shows what its user would see, every MESSAGE received among it
// (`sip:lobby@example.net: "alice@example.com: hi"`). Its MESSAGEs go to its current contact,
// the room.
type baresipPeer struct {
	name  string
	cmd   *exec.Cmd
	ctrl  string
	out   *syncBuffer
	lines chan string // the console's lines
}

// startBaresip runs baresip as NAME on 127.0.0.1:sipPort: its account is aor, it sends to room
// (a SIP URI), through outbound (a SIP URI; "" for none), over UDP.
func startBaresip(t *testing.T, name string, sipPort int, aor, room, outbound string) *baresipPeer {
	t.Helper()
	bin := requirePeer(t, "baresip", "baresip")
	dir := t.TempDir()
	ctrlPort, consPort := freePort(t), freePort(t)
	account := "<" + aor + ">;regint=0;answermode=manual"
	if outbound != "" {
		account += `;outbound="` + outbound + `"`
	}
	files := map[string]string{
		"accounts": account + "\n",
		"config": strings.Join([]string{
			"sip_listen 127.0.0.1:" + strconv.Itoa(sipPort),
			"module_path " + baresipModules(),
			"module account.so", "module contact.so", "module menu.so", "module ctrl_tcp.so", "module cons.so",
			"ctrl_tcp_listen 127.0.0.1:" + strconv.Itoa(ctrlPort),
			"cons_listen 127.0.0.1:" + strconv.Itoa(consPort),
			"audio_player none", "audio_source none", "audio_alert none",
		}, "\n") + "\n",
		"contacts":        "<" + room + ">\n",
		"current_contact": "<" + room + ">\n",
	}
	for f, text := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b := &baresipPeer{name: name, ctrl: "127.0.0.1:" + strconv.Itoa(ctrlPort), out: &syncBuffer{}, lines: make(chan string, 256)}
	b.cmd = exec.Command(bin, "-f", dir, "-s") // -s: its SIP trace, shown when a test fails
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { b.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(b.cmd.Process.Pid, syscall.SIGCONT)
		_ = b.cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("baresip %s:\n%s", name, tail([]byte(b.out.String()), 6000))
		}
	})
	var cons net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(consPort))
		if err == nil {
			cons = c
			break
		}
		select {
		case <-exited:
			t.Fatalf("baresip exited:\n%s", b.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip's console does not answer: %v\n%s", err, b.out.String())
		}
	}
	t.Cleanup(func() { cons.Close() })
	go func() {
		sc := bufio.NewScanner(cons)
		for sc.Scan() {
			for _, l := range strings.Split(sc.Text(), "\r") {
				if l = strings.TrimSpace(l); l != "" {
					b.lines <- l
				}
			}
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", b.ctrl); err == nil {
			c.Close()
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("baresip's ctrl_tcp does not answer: %v\n%s", err, b.out.String())
		}
	}
	return b
}

// baresipModules is where Debian puts baresip's modules.
func baresipModules() string {
	for _, d := range []string{"/usr/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules", "/usr/local/lib/baresip/modules"} {
		if _, err := os.Stat(filepath.Join(d, "ctrl_tcp.so")); err == nil {
			return d
		}
	}
	return "/usr/lib/baresip/modules"
}

// command runs one command of baresip's command interface (ctrl_tcp) and checks it was taken.
func (b *baresipPeer) command(t *testing.T, command, params string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", b.ctrl, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", b.name, err)
	}
	defer c.Close()
	req, _ := json.Marshal(map[string]string{"command": command, "params": params, "token": "t"})
	if _, err := fmt.Fprintf(c, "%d:%s,", len(req), req); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	size, err := r.ReadString(':')
	if err != nil {
		t.Fatalf("%s %s: no answer: %v", b.name, command, err)
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(size, ":"))
	body := make([]byte, n)
	if _, err := r.Read(body); err != nil {
		t.Fatal(err)
	}
	var res struct {
		OK   bool   `json:"ok"`
		Data string `json:"data"`
	}
	if err := json.Unmarshal(body, &res); err != nil || !res.OK {
		t.Fatalf("%s %s %q: %s", b.name, command, params, body)
	}
}

// say sends text to the room as baresip's user does: /message TEXT, to the current contact.
func (b *baresipPeer) say(t *testing.T, text string) {
	t.Helper()
	b.command(t, "message", text)
}

// shown waits until baresip shows a MESSAGE from the room whose text is want.
func (b *baresipPeer) shown(t *testing.T, want string) {
	t.Helper()
	line := `sip:lobby@example.net: "` + want + `"`
	deadline := time.After(15 * time.Second)
	for {
		select {
		case l := <-b.lines:
			if l == line {
				return
			}
		case <-deadline:
			t.Fatalf("baresip %s did not show %s", b.name, line)
		}
	}
}

// shownContaining waits until baresip shows a MESSAGE from the room containing want.
func (b *baresipPeer) shownContaining(t *testing.T, want string) string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case l := <-b.lines:
			if strings.HasPrefix(l, `sip:lobby@example.net: "`) && strings.Contains(l, want) {
				return l
			}
		case <-deadline:
			t.Fatalf("baresip %s did not show a MESSAGE containing %q", b.name, want)
		}
	}
}

// notShown checks that baresip showed no MESSAGE containing text (what arrived meanwhile is read).
func (b *baresipPeer) notShown(t *testing.T, text string) {
	t.Helper()
	deadline := time.After(500 * time.Millisecond)
	for {
		select {
		case l := <-b.lines:
			if strings.Contains(l, text) {
				t.Fatalf("baresip %s showed %s", b.name, l)
			}
		case <-deadline:
			return
		}
	}
}

// TestBaresipPageMode: two baresip softphones (page mode, SIP MESSAGE over UDP) and an MSRP
// member in lobby, directly and through Kamailio (configs/kamailio/proxy.cfg). Each sees the
// others' messages with the right identity; private messages go both ways (/msg NICK TEXT and
// a CPIM To); a nickname set with /nick shows; a baresip that stops answering (SIGSTOP) is
// taken out of the room alone, with a notice, while the others keep chatting.
func TestBaresipPageMode(t *testing.T) {
	for _, via := range []string{"direct", "kamailio"} {
		t.Run(via, func(t *testing.T) {
			requirePeer(t, "baresip", "baresip")
			d := startTestDaemon(t, func(c *configs.Config) {
				c.SIP.PageTimeout, c.SIP.PageMaxFailures = time.Second, 2
			})
			room, outbound := "sip:lobby@127.0.0.1:"+strconv.Itoa(d.sip.Port()), ""
			from := "127.0.0.1:" + strconv.Itoa(d.sip.Port()) // where the room's MESSAGEs come from
			// Straight to the focus, a MESSAGE without Contact is answered where it came from, so
			// the softphones have addresses of record in example.com. Through the proxy, the
			// room's MESSAGEs go by the proxy to the member's address of record, which has no
			// registrar here: the softphones' own address stands for what a registrar would find.
			// beaAOR and benAOR are the identities the room shows (an address of record has no port).
			beaPort, benPort := freeSIPPort(t), freeSIPPort(t)
			beaAOR, benAOR := "sip:bea@example.com", "sip:ben@example.com"
			beaAccount, benAccount := beaAOR, benAOR
			if via == "kamailio" {
				proxy := startSIPProxy(t, d.sip.Port())
				room, outbound = "sip:lobby@example.net", "sip:127.0.0.1:"+strconv.Itoa(proxy)
				from = "127.0.0.1:" + strconv.Itoa(proxy)
				beaAOR, benAOR = "sip:bea@127.0.0.1", "sip:ben@127.0.0.1"
				beaAccount, benAccount = beaAOR+":"+strconv.Itoa(beaPort), benAOR+":"+strconv.Itoa(benPort)
			}
			alice := joinLobby(t, d, "alice", "tcp")
			bea := startBaresip(t, "bea", beaPort, beaAccount, room, outbound)
			ben := startBaresip(t, "ben", benPort, benAccount, room, outbound)
			benName := strings.TrimPrefix(benAOR, "sip:")

			bea.say(t, "hello from bea")
			bea.shownContaining(t, "This room is logged")
			if got := cpimUntil(t, alice, "hello from bea"); !bytes.Contains(got, []byte("From: <"+beaAOR+">")) {
				t.Fatalf("alice got %q", got)
			}
			if u := pageUser(d, "lobby", beaAOR); u == nil || !u.Endpoints[0].PageMode() {
				t.Fatalf("bea's row: %+v", u)
			}
			ben.say(t, "ben here")
			ben.shownContaining(t, "This room is logged")
			if got := cpimUntil(t, alice, "ben here"); !bytes.Contains(got, []byte("From: <"+benAOR+">")) {
				t.Fatalf("alice got %q", got)
			}
			bea.shown(t, benName+": ben here")

			alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "hi both"))
			bea.shown(t, "alice@example.com: hi both")
			ben.shown(t, "alice@example.com: hi both")

			// A nickname, then private messages by it, both ways.
			bea.say(t, "/nick bea")
			bea.shown(t, "Your nickname is now bea.")
			bea.say(t, "with a nickname")
			ben.shown(t, "bea: with a nickname")
			cpimUntil(t, alice, "with a nickname")
			ben.say(t, "/msg bea just for you")
			bea.shown(t, benName+": just for you")
			bea.say(t, "/msg sip:alice@example.com psst")
			if got := cpimUntil(t, alice, "psst"); !bytes.Contains(got, []byte("To: <sip:alice@example.com>")) || !bytes.Contains(got, []byte("From: <"+beaAOR+">")) {
				t.Fatalf("alice got %q", got)
			}
			alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", beaAOR, "only bea reads this"))
			bea.shown(t, "alice@example.com: only bea reads this")
			ben.notShown(t, "just for you")
			ben.notShown(t, "only bea reads this")
			ben.notShown(t, "psst")

			// ben stops answering: its MESSAGEs time out and it is taken out, alone.
			if err := syscall.Kill(ben.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			sent := time.Now()
			alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "anyone there"))
			bea.shown(t, "alice@example.com: anyone there")
			if e := time.Since(sent); e > 900*time.Millisecond {
				t.Fatalf("bea got alice's line after %v", e)
			}
			bea.say(t, "I am")
			cpimUntil(t, alice, "I am")
			notice := benName + " stopped answering and was taken out of the room."
			bea.shown(t, notice)
			cpimUntil(t, alice, notice)
			if pageUser(d, "lobby", benAOR) != nil {
				t.Fatal("ben is still in the room")
			}
			if pageUser(d, "lobby", beaAOR) == nil {
				t.Fatal("bea was taken out too")
			}
			bea.say(t, "still chatting")
			cpimUntil(t, alice, "still chatting")
			alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "so am I"))
			bea.shown(t, "alice@example.com: so am I")

			// baresip's SIP trace: every MESSAGE it got came from the focus, or through the proxy.
			trace := bea.out.String()
			if !strings.Contains(trace, "UDP "+from+" -> 127.0.0.1:"+strconv.Itoa(beaPort)) {
				t.Fatalf("bea got no MESSAGE from %s", from)
			}
			for _, l := range strings.Split(trace, "\n") {
				if strings.HasSuffix(l, " -> 127.0.0.1:"+strconv.Itoa(beaPort)) && !strings.HasPrefix(l, "UDP "+from+" ") {
					t.Fatalf("bea got a datagram not from %s: %s", from, l)
				}
			}
		})
	}
}

// linphonecPeer is linphonec (Debian's package linphone-cli), liblinphone's console softphone, a
// page-mode member driven over its standard input (`chat ADDRESS TEXT`); it prints each MESSAGE
// it receives as `Message received from ADDRESS: TEXT`. Its MESSAGEs go to the room through a
// route set to the focus (a room URI with a port is not kept by its chat rooms).
type linphonecPeer struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *syncBuffer
	lines chan string
}

func startLinphonec(t *testing.T, name string, focusPort int) *linphonecPeer {
	t.Helper()
	bin := requirePeer(t, "linphonec", "linphone-cli")
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".local", "share", "linphone"), 0o700); err != nil {
		t.Fatal(err)
	}
	focus := "<sip:127.0.0.1:" + strconv.Itoa(focusPort)
	rc := strings.Join([]string{
		"[sip]", "sip_port=" + strconv.Itoa(freePort(t)), "sip_tcp_port=0", "sip_tls_port=0", "default_proxy=0",
		"[proxy_0]", "reg_proxy=" + focus + ">", "reg_route=" + focus + ";lr>",
		`reg_identity="` + name + `" <sip:` + name + `@example.com>`, "reg_sendregister=0", "publish=0", "quality_reporting_enabled=0",
		"[sound]", "playback_dev_id=", "capture_dev_id=", "[video]", "enabled=0",
	}, "\n") + "\n"
	cfg := filepath.Join(home, "linphonerc")
	if err := os.WriteFile(cfg, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	l := &linphonecPeer{out: &syncBuffer{}, lines: make(chan string, 256)}
	l.cmd = exec.Command(bin, "-c", cfg, "-d", "0")
	l.cmd.Env = append(os.Environ(), "HOME="+home)
	l.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var err error
	if l.in, err = l.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := l.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	l.cmd.Stderr = l.out
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(l.out, sc.Text())
			if _, msg, ok := strings.Cut(sc.Text(), "Message received from "); ok {
				l.lines <- msg
			}
		}
		l.cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(l.cmd.Process.Pid, syscall.SIGCONT)
		_ = l.cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("linphonec %s:\n%s", name, tail([]byte(l.out.String()), 4000))
		}
	})
	return l
}

// say sends text to the room: `chat sip:lobby@example.net TEXT`.
func (l *linphonecPeer) say(t *testing.T, text string) {
	t.Helper()
	if _, err := fmt.Fprintf(l.in, "chat sip:lobby@example.net %s\n", text); err != nil {
		t.Fatal(err)
	}
}

// shown waits until linphonec prints a MESSAGE from the room whose text is want.
func (l *linphonecPeer) shown(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-l.lines:
			if m == "sip:lobby@example.net: "+want {
				return
			}
		case <-deadline:
			t.Fatalf("linphonec did not show %q", want)
		}
	}
}

// TestLinphonecPageMode: linphonec and baresip, both page mode, with an MSRP member in lobby:
// the messages of each reach the others with the sender's identity or nickname, private
// messages go both ways between the softphones, and a linphonec that stops answering (SIGSTOP)
// is taken out alone while baresip and the MSRP member keep chatting.
func TestLinphonecPageMode(t *testing.T) {
	requirePeer(t, "linphonec", "linphone-cli")
	requirePeer(t, "baresip", "baresip")
	d := startTestDaemon(t, func(c *configs.Config) {
		c.SIP.PageTimeout, c.SIP.PageMaxFailures = time.Second, 2
	})
	alice := joinLobby(t, d, "alice", "tcp")
	lin := startLinphonec(t, "lin", d.sip.Port())
	time.Sleep(time.Second) // linphonec reads its standard input once it is up
	lin.say(t, "hello from linphonec")
	lin.shown(t, "This room is logged: what you send here is recorded and may be shown to people who join later.")
	if got := cpimUntil(t, alice, "hello from linphonec"); !bytes.Contains(got, []byte("From: <sip:lin@example.com>")) {
		t.Fatalf("alice got %q", got)
	}
	bea := startBaresip(t, "bea", freeSIPPort(t), "sip:bea@example.com", "sip:lobby@127.0.0.1:"+strconv.Itoa(d.sip.Port()), "")
	bea.say(t, "bea joins")
	bea.shownContaining(t, "This room is logged")
	lin.shown(t, "bea@example.com: bea joins")
	cpimUntil(t, alice, "bea joins")

	alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "hi softphones"))
	lin.shown(t, "alice@example.com: hi softphones")
	bea.shown(t, "alice@example.com: hi softphones")

	lin.say(t, "/nick lin")
	lin.shown(t, "Your nickname is now lin.")
	lin.say(t, "/msg sip:bea@example.com a secret")
	bea.shown(t, "lin: a secret")
	bea.say(t, "/msg lin another")
	lin.shown(t, "bea@example.com: another")
	lin.say(t, "to everyone")
	bea.shown(t, "lin: to everyone")
	if got := cpimUntil(t, alice, "to everyone"); bytes.Contains(got, []byte("secret")) || bytes.Contains(got, []byte("another")) {
		t.Fatalf("alice got %q", got)
	}

	if err := syscall.Kill(lin.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	alice.msrp.send("message/cpim", cpimBody("sip:alice@example.com", "sip:lobby@example.net", "still there?"))
	bea.shown(t, "alice@example.com: still there?")
	bea.say(t, "yes")
	cpimUntil(t, alice, "\r\n\r\nyes")
	bea.shown(t, "lin stopped answering and was taken out of the room.")
	cpimUntil(t, alice, "lin stopped answering and was taken out of the room.")
	if pageUser(d, "lobby", "sip:lin@example.com") != nil || pageUser(d, "lobby", "sip:bea@example.com") == nil {
		t.Fatal("linphonec not taken out alone")
	}
	bea.say(t, "carry on")
	cpimUntil(t, alice, "carry on")
}
