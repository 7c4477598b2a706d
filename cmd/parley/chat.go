package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/parleychat/parley/ccmp"
	"github.com/parleychat/parley/msrp/cpim"
	"github.com/parleychat/parley/sip/ua"
	"github.com/parleychat/parley/xcon"
)

// chatOptions are the flags of `parley chat`.
type chatOptions struct {
	room      string
	nick      string
	transport string
	from      string
	label     string
	proxy     string
	insecure  bool
	httpURL   string
	onJoin    *int // messages replayed on joining, set over CCMP first; nil: as before
	send      string
	listen    time.Duration
	saveDir   string
	logger    *slog.Logger
}

func chatCommand() *cobra.Command {
	var o chatOptions
	var onJoin int
	cmd := &cobra.Command{
		Use:   "chat sip:ROOM@HOST[:PORT]",
		Short: "Join a room from the terminal: read lines to send, print what the room says",
		Long: `Join a room from the terminal. Lines typed are sent to the room; commands:
  /nick NAME        change nickname
  /msg NICK TEXT    private message
  /who              who is in the room
  /history [N]      the last N messages (over CCMP with --http, else those replayed on join)
  /send FILE        send a file
  /quit             leave`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.room = args[0]
			if cmd.Flags().Changed("history-on-join") {
				o.onJoin = &onJoin
			}
			return runChat(cmd.Context(), o, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.nick, "nick", "", "nickname in the room")
	f.StringVar(&o.transport, "transport", "tcp", "SIP transport: udp, tcp or tls")
	f.BoolVar(&o.insecure, "insecure", false, "over TLS, accept the focus's certificate without checking it (self-signed test setups)")
	f.StringVar(&o.from, "from", "", "SIP identity (default sip:NICK@HOST, or a random user)")
	f.StringVar(&o.label, "label", "", "a=label: the room channel to join")
	f.StringVar(&o.proxy, "proxy", "", "outbound SIP proxy, sip:HOST[:PORT] (the INVITE and SUBSCRIBE go through it)")
	f.StringVar(&o.httpURL, "http", "", "the focus's HTTP base URL, for /history over CCMP (e.g. http://127.0.0.1:8080)")
	f.IntVar(&onJoin, "history-on-join", 0, "how many logged messages to be replayed on joining (0: none; bounded by the room; set over CCMP, needs --http)")
	f.StringVar(&o.send, "send", "", "send this text and exit")
	f.DurationVar(&o.listen, "listen", 0, "print received messages as JSON lines for this long, then exit")
	f.StringVar(&o.saveDir, "save-files", "", "save the files people send into this directory (never overwriting)")
	return cmd
}

// chat is one terminal session in a room.
type chat struct {
	o        chatOptions
	c        *ua.Client
	out      io.Writer
	replayed []ua.Event
}

// runChat joins the room and runs the session until /quit, the end of in, the room ending
// the call, or ctx.
func runChat(ctx context.Context, o chatOptions, in io.Reader, out io.Writer) error {
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	cfg := ua.Config{Room: o.room, Transport: o.transport, From: o.from, Nick: o.nick, Label: o.label,
		Proxy: o.proxy, Insecure: o.insecure, Logger: o.logger}
	jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if o.onJoin != nil {
		if *o.onJoin < 0 {
			return errors.New("--history-on-join must not be negative")
		}
		if err := setHistoryOnJoin(jctx, o, &cfg, out); err != nil {
			return err
		}
	}
	c, err := ua.Join(jctx, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	ch := &chat{o: o, c: c, out: out}
	switch {
	case o.send != "":
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return c.Send(sctx, "", o.send)
	case o.listen > 0:
		return ch.listen(ctx, o.listen)
	}
	return ch.interactive(ctx, in)
}

// setHistoryOnJoin asks the room, over CCMP at --http, to replay *o.onJoin messages to the
// identity cfg joins as (fixed in cfg.From), and says what the room granted.
func setHistoryOnJoin(ctx context.Context, o chatOptions, cfg *ua.Config, out io.Writer) error {
	if o.httpURL == "" {
		return errors.New("--history-on-join is set over CCMP: give --http too")
	}
	id, err := ua.Identity(*cfg)
	if err != nil {
		return err
	}
	cfg.From = id
	client := &ccmp.Client{URL: strings.TrimSuffix(o.httpURL, "/") + "/ccmp", UserID: xcon.UserIDFromAOR(id)}
	got, err := client.SetHistoryOnJoin(ctx, xcon.NameFromURI(o.room), "", xcon.HistoryOnJoin{Count: *o.onJoin})
	if err != nil {
		return fmt.Errorf("--history-on-join: %w", err)
	}
	if got.Count < *o.onJoin {
		fmt.Fprintf(out, "* the room replays at most %d messages on join\n", got.Count)
	}
	return nil
}

// listen prints each message as a JSON line until d has passed.
func (ch *chat) listen(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	enc := json.NewEncoder(ch.out)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			return nil
		case e := <-ch.c.Events():
			switch e.Kind {
			case ua.KindMessage, ua.KindNotice:
				_ = enc.Encode(struct {
					Time    time.Time `json:"time"`
					From    string    `json:"from"`
					Nick    string    `json:"nick"`
					Text    string    `json:"text"`
					Notice  bool      `json:"notice"`
					Private bool      `json:"private,omitempty"`
				}{e.Time, e.From, e.Nick, e.Text, e.Kind == ua.KindNotice, e.Private})
			case ua.KindClosed:
				return errors.New(e.Text)
			}
		}
	}
}

func (ch *chat) interactive(ctx context.Context, in io.Reader) error {
	lines := make(chan string)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
	}()
	ch.printf("* joined %s as %s; /help lists the commands", ch.c.RoomURI(), ch.c.Identity())
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-ch.c.Events():
			if ch.show(e) {
				return nil
			}
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			if quit := ch.command(ctx, line); quit {
				return nil
			}
		}
	}
}

func (ch *chat) printf(format string, args ...any) {
	fmt.Fprintf(ch.out, format+"\n", args...)
}

// show prints an event; it reports whether the session is over.
func (ch *chat) show(e ua.Event) bool {
	at := e.Time.Format("15:04")
	switch e.Kind {
	case ua.KindMessage:
		if e.Replayed {
			ch.replayed = append(ch.replayed, e)
		}
		if e.Private {
			ch.printf("%s <%s> (private) %s", at, e.Nick, e.Text)
		} else {
			ch.printf("%s <%s> %s", at, e.Nick, e.Text)
		}
		if e.Filename != "" && ch.o.saveDir != "" {
			if path, err := saveFile(ch.o.saveDir, e.Filename, e.Body); err != nil {
				ch.printf("error: file not saved: %v", err)
			} else {
				ch.printf("%s * saved %s", at, path)
			}
		}
	case ua.KindNotice:
		if e.Replayed {
			ch.replayed = append(ch.replayed, e)
		}
		ch.printf("%s * %s", at, e.Text)
	case ua.KindJoined:
		ch.printf("%s * %s joined", at, e.Nick)
	case ua.KindLeft:
		ch.printf("%s * %s left", at, e.Nick)
	case ua.KindRenamed:
		ch.printf("%s * %s is now known as %s", at, e.Text, e.Nick)
	case ua.KindNickOK:
		ch.printf("%s * you are now known as %s", at, e.Nick)
	case ua.KindNickFailed:
		ch.printf("nickname refused: %s", (&ua.DeliveryError{Code: e.Code}).Error()[len("not delivered: "):])
	case ua.KindSendFailed:
		ch.printf("error: message %s", (&ua.DeliveryError{Code: e.Code}).Error())
	case ua.KindClosed:
		ch.printf("* %s", e.Text)
		return true
	}
	return false
}

// command runs one input line; it reports whether to quit.
func (ch *chat) command(ctx context.Context, line string) bool {
	line = strings.TrimRight(line, "\r")
	if strings.TrimSpace(line) == "" {
		return false
	}
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		text := strings.TrimPrefix(line, "/")
		ch.send(ctx, "", text, func() { ch.printf("%s <%s> %s", time.Now().Format("15:04"), ch.myNick(), text) })
		return false
	}
	name, rest, _ := strings.Cut(strings.TrimSpace(line[1:]), " ")
	rest = strings.TrimSpace(rest)
	switch name {
	case "quit", "exit":
		return true
	case "help":
		ch.printf("commands: /nick NAME, /msg NICK TEXT, /who, /history [N], /send FILE, /quit")
	case "nick":
		if rest == "" {
			ch.printf("error: usage: /nick NAME")
			return false
		}
		if err := ch.c.SetNickname(rest); err != nil {
			ch.printf("error: %v", err)
		}
	case "msg":
		nick, text, _ := strings.Cut(rest, " ")
		if nick == "" || strings.TrimSpace(text) == "" {
			ch.printf("error: usage: /msg NICK TEXT")
			return false
		}
		aor, ok := ch.c.FindNick(nick)
		if !ok {
			ch.printf("error: no one called %s in the room", nick)
			return false
		}
		ch.send(ctx, aor, text, func() { ch.printf("%s <%s> (to %s) %s", time.Now().Format("15:04"), ch.myNick(), nick, text) })
	case "who":
		var names []string
		for _, m := range ch.c.Roster() {
			n := m.Nick
			if n != m.AOR {
				n += " (" + m.AOR + ")"
			}
			if ch.c.IsSelf(m.AOR) {
				n += " [you]"
			}
			names = append(names, n)
		}
		ch.printf("* in the room: %s", strings.Join(names, ", "))
	case "history":
		n := 20
		if rest != "" {
			v, err := strconv.Atoi(rest)
			if err != nil || v <= 0 {
				ch.printf("error: usage: /history [N]")
				return false
			}
			n = v
		}
		ch.history(ctx, n)
	case "send":
		if rest == "" {
			ch.printf("error: usage: /send FILE")
			return false
		}
		ch.sendFile(ctx, rest)
	default:
		ch.printf("error: unknown command /%s (/help lists them)", name)
	}
	return false
}

func (ch *chat) myNick() string {
	if n := ch.c.Nickname(); n != "" {
		return n
	}
	return ch.c.NickOf(ch.c.Identity())
}

// send sends text to the room (to == "") or privately, and runs echo once the room took it.
func (ch *chat) send(ctx context.Context, to, text string, echo func()) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := ch.c.Send(sctx, to, text); err != nil {
		ch.printf("error: %v", err)
		return
	}
	echo()
}

func (ch *chat) sendFile(ctx context.Context, path string) {
	body, err := os.ReadFile(path)
	if err != nil {
		ch.printf("error: %v", err)
		return
	}
	ct := mime.TypeByExtension(filepath.Ext(path))
	if ct == "" {
		ct = "application/octet-stream"
	}
	name := filepath.Base(path)
	disp := fmt.Sprintf("attachment; filename=%s; size=%d", strconv.Quote(name), len(body))
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := ch.c.SendContent(sctx, "", ct, []cpim.Header{{Name: "Content-Disposition", Value: disp}}, body); err != nil {
		ch.printf("error: %s: %v", name, err)
		return
	}
	ch.printf("%s * sent %s (%s, %d bytes)", time.Now().Format("15:04"), name, ct, len(body))
}

// history prints the last n messages: from the room's log over CCMP with --http, else those
// the room replayed when we joined.
func (ch *chat) history(ctx context.Context, n int) {
	if ch.o.httpURL == "" {
		evs := ch.replayed
		if len(evs) > n {
			evs = evs[len(evs)-n:]
		}
		if len(evs) == 0 {
			ch.printf("* no history was replayed on join (give --http for the room's log)")
			return
		}
		for _, e := range evs {
			ch.printf("%s <%s> %s", e.Time.Format("15:04"), e.Nick, e.Text)
		}
		return
	}
	client := &ccmp.Client{URL: strings.TrimSuffix(ch.o.httpURL, "/") + "/ccmp", UserID: xcon.UserIDFromAOR(ch.c.Identity())}
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	room := ch.c.RoomURI()
	name := strings.TrimPrefix(strings.TrimPrefix(room, "sips:"), "sip:")
	entries, err := client.History(hctx, name, ccmp.HistoryQuery{Channel: ch.o.label, Limit: n})
	if err != nil {
		ch.printf("error: history: %v", err)
		return
	}
	if len(entries) == 0 {
		ch.printf("* the room's log is empty")
	}
	for _, e := range entries {
		text := string(e.Body)
		if strings.HasPrefix(strings.ToLower(e.ContentType), "message/cpim") {
			if m, err := cpim.Parse(e.Body); err == nil {
				text = string(m.Body)
			}
		}
		nick := e.Nickname
		if nick == "" {
			nick = ch.c.NickOf(e.Sender)
		}
		ch.printf("%s <%s> %s", e.Time.Local().Format("15:04"), nick, text)
	}
}

// maxSavedName leaves room for a -N suffix within the 255 bytes file systems allow a name.
const maxSavedName = 200

// saveFile writes a received file into dir under its sender's name reduced to a plain file
// name (no directories, nothing hidden, no control characters or invalid UTF-8, at most
// maxSavedName bytes), adding -1, -2, ... rather than overwriting.
func saveFile(dir, name string, body []byte) (string, error) {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '_'
		}
		return r
	}, strings.ToValidUTF8(name, "_"))
	name = strings.TrimLeft(filepath.Base(filepath.Clean("/"+strings.ReplaceAll(name, "\\", "/"))), ".")
	if len(name) > maxSavedName {
		ext := filepath.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		stem := name[:maxSavedName-len(ext)]
		for !utf8.ValidString(stem) {
			stem = stem[:len(stem)-1]
		}
		name = stem + ext
	}
	if name == "" || name == "/" {
		name = "file"
	}
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 0; i < 1000; i++ {
		candidate := name
		if i > 0 {
			candidate = fmt.Sprintf("%s-%d%s", stem, i, ext)
		}
		path := filepath.Join(dir, candidate)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if _, err := f.Write(body); err != nil {
			f.Close()
			return "", err
		}
		return path, f.Close()
	}
	return "", fmt.Errorf("%s: too many files of that name", name)
}
