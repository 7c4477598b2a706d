// Package ua is the participant's side of a Parley room: a SIP user agent that joins a room
// with an MSRP offer, keeps the roster from the conference event package (RFC 4575), and sends
// and receives CPIM messages over an MSRP session (RFC 7701). `parley chat` is built on it.
package ua

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/internal/randomid"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/cpim"
	"github.com/parleychat/parley/sdp"
	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/confinfo"
)

// Config says which room to join and as whom.
type Config struct {
	Room      string // sip:ROOM@HOST[:PORT]
	Transport string // "udp", "tcp" (default) or "tls"
	// Insecure accepts any certificate from the focus over TLS (a self-signed one, as the
	// embedded default makes); otherwise the system's roots must vouch for it.
	Insecure bool
	From     string // our identity; default sip:Nick@HOST, or a random user
	Nick     string // nickname sent after joining; "" for none
	Label    string // a=label of the m-line; "" for none
	// Proxy is an outbound proxy (sip:HOST[:PORT]): requests outside the dialog (INVITE, the
	// first SUBSCRIBE) go to it with a Route header; in-dialog ones follow the dialog's route set.
	Proxy string
	// LocalHost is the address our MSRP listener binds and advertises; default the address
	// that routes to the room's host.
	LocalHost string
	Logger    *slog.Logger
}

// Kind tells what an Event is.
type Kind int

// Event kinds.
const (
	KindMessage    Kind = iota // a message from a participant (Private when addressed to us only)
	KindNotice                 // a message from the room itself
	KindJoined                 // someone joined (Nick, From)
	KindLeft                   // someone left
	KindRenamed                // someone's nickname changed (Nick is the new one, Text the old one)
	KindNickOK                 // our own nickname is now Nick
	KindNickFailed             // our NICKNAME was refused with Code
	KindSendFailed             // a message we sent was refused with Code
	KindClosed                 // the focus ended the session (BYE) or the MSRP session closed
)

// Event is something that happened in the room.
type Event struct {
	Kind        Kind
	Time        time.Time
	From        string // sender's AOR
	Nick        string // sender's nickname from the roster, else the AOR's user part
	Text        string // the text, or a description of non-text content
	ContentType string
	Filename    string // for an attachment
	Body        []byte // an attachment's content
	Size        int
	Private     bool
	Replayed    bool // the message was written before we joined (the room's history)
	Code        int
}

// Member is one participant in the roster.
type Member struct {
	AOR  string
	Nick string // the nickname, else the AOR's user part
	set  bool   // the participant chose a nickname
}

// Client is one participant in one room.
type Client struct {
	route    sip.Header // Route to the outbound proxy, or nil
	cfg      Config
	log      *slog.Logger
	identity string // our AOR
	target   sip.Uri
	joined   time.Time

	ua       *sipgo.UserAgent
	sipc     *sipgo.Client
	dlg      *sipgo.DialogClientSession
	ep       *msrp.Endpoint
	session  *msrp.Session
	events   chan Event
	byeOnce  sync.Once
	byeRecvd chan struct{}

	mu       sync.Mutex
	roomURI  string // the room's SIP URI (the conference-info entity once known)
	roster   *xcon.Conference
	firstDoc chan struct{}
	firstSet bool

	// Messages held until the roster names the room (HandleMessage).
	deliverMu sync.Mutex
	ready     bool
	early     []*cpim.Message
	waiters   map[string]chan int // Message-ID → result code (200 on success REPORT)
	myNick    string

	sub subscription
}

// subscription is our conference-event dialog.
type subscription struct {
	mu                     sync.Mutex
	callID, fromTag, toTag string
	cseq                   uint32
	target                 sip.Uri
	routes                 []string      // the dialog's route set: the 200's Record-Route, reversed
	granted                time.Duration // the Expires of the last 200
}

// Identity returns our AOR.
func (c *Client) Identity() string { return c.identity }

// RoomURI returns the room's SIP URI.
func (c *Client) RoomURI() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.roomURI
}

// Events delivers what happens in the room until the client is closed.
func (c *Client) Events() <-chan Event { return c.events }

// Joined returns when the focus accepted us.
func (c *Client) Joined() time.Time { return c.joined }

// Nickname returns our nickname as the roster has it ("" until one is set).
func (c *Client) Nickname() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.myNick
}

// Identity returns the SIP identity Join would use for cfg: cfg.From, else sip:NICK@HOST of
// the room's host, else a random guest (a new one each call: pass it on as cfg.From).
func Identity(cfg Config) (string, error) {
	var target sip.Uri
	if err := sip.ParseUri(strings.TrimSpace(cfg.Room), &target); err != nil || target.User == "" || target.Host == "" {
		return "", fmt.Errorf("room %q: want sip:ROOM@HOST[:PORT]", cfg.Room)
	}
	return identity(cfg, target.Host), nil
}

func identity(cfg Config, host string) string {
	if cfg.From != "" {
		return cfg.From
	}
	user := cfg.Nick
	if user == "" || !isUserPart(user) {
		user = "guest-" + randomToken(6)
	}
	return "sip:" + strings.ToLower(user) + "@" + host
}

// Join sends the INVITE, connects the MSRP session, subscribes to the roster and, with a
// nickname, sends NICKNAME. The context bounds the whole join.
func Join(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Transport == "" {
		cfg.Transport = "tcp"
	}
	if cfg.Transport != "tcp" && cfg.Transport != "udp" && cfg.Transport != "tls" {
		return nil, fmt.Errorf("transport %q: use udp, tcp or tls", cfg.Transport)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var target sip.Uri
	if err := sip.ParseUri(strings.TrimSpace(cfg.Room), &target); err != nil || target.User == "" || target.Host == "" {
		return nil, fmt.Errorf("room %q: want sip:ROOM@HOST[:PORT]", cfg.Room)
	}
	if target.Scheme == "" {
		target.Scheme = "sip"
	}
	target.UriParams = sip.NewParams()
	target.Headers = nil
	if cfg.Transport != "udp" {
		target.UriParams.Add("transport", cfg.Transport)
	}
	c := &Client{cfg: cfg, log: cfg.Logger, target: target, events: make(chan Event, 4096), byeRecvd: make(chan struct{}),
		firstDoc: make(chan struct{}), waiters: map[string]chan int{},
		roomURI: "sip:" + target.User + "@" + target.Host}
	c.identity = identity(cfg, target.Host)
	var aor sip.Uri
	if err := sip.ParseUri(c.identity, &aor); err != nil || aor.User == "" {
		return nil, fmt.Errorf("identity %q: want sip:USER@HOST", c.identity)
	}
	if cfg.Proxy != "" {
		var proxy sip.Uri
		if err := sip.ParseUri(strings.TrimSpace(cfg.Proxy), &proxy); err != nil || proxy.Host == "" {
			return nil, fmt.Errorf("proxy %q: want sip:HOST[:PORT]", cfg.Proxy)
		}
		if proxy.UriParams == nil {
			proxy.UriParams = sip.NewParams()
		}
		if !proxy.UriParams.Has("lr") {
			proxy.UriParams.Add("lr", "") // loose routing (RFC 3261 §16.12)
		}
		if cfg.Transport != "udp" && !proxy.UriParams.Has("transport") {
			proxy.UriParams.Add("transport", cfg.Transport)
		}
		c.route = sip.NewHeader("Route", "<"+proxy.String()+">")
	}
	localHost := cfg.LocalHost
	if localHost == "" {
		host, port := target.Host, target.Port
		if c.route != nil {
			var proxy sip.Uri
			_ = sip.ParseUri(strings.TrimSpace(cfg.Proxy), &proxy)
			host, port = proxy.Host, proxy.Port // the room's host may be a name only the proxy resolves
		}
		localHost = LocalHostFor(host, port)
	}

	ok := false
	defer func() {
		if !ok {
			c.shutdown()
		}
	}()
	// MSRP: our own endpoint, listening, so that either side may open the connection.
	ln, err := net.Listen("tcp", net.JoinHostPort(localHost, "0"))
	if err != nil {
		return nil, fmt.Errorf("MSRP listener: %w", err)
	}
	c.ep = msrp.NewEndpoint(msrp.Config{AdvertisedHost: localHost, AdvertisedPort: ln.Addr().(*net.TCPAddr).Port, Logger: c.log})
	go c.ep.Serve(context.Background(), ln)
	c.session = c.ep.NewSession(c)

	// SIP: one user agent for the call and the subscription, answering BYE and NOTIFY.
	tlsConf := &tls.Config{ServerName: target.Host, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // --insecure is the user's choice
	if c.ua, err = sipgo.NewUA(sipgo.WithUserAgent("parley-chat"), sipgo.WithUserAgenTLSConfig(tlsConf),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(c.log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(c.log))); err != nil {
		return nil, err
	}
	if c.sipc, err = sipgo.NewClient(c.ua, sipgo.WithClientHostname(localHost), sipgo.WithClientLogger(c.log)); err != nil {
		return nil, err
	}
	srv, err := sipgo.NewServer(c.ua, sipgo.WithServerLogger(c.log))
	if err != nil {
		return nil, err
	}
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		c.byeOnce.Do(func() { close(c.byeRecvd) })
		c.emit(Event{Kind: KindClosed, Time: time.Now(), Text: "the room ended the session"})
	})
	srv.OnNotify(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		c.handleNotify(req)
	})

	offer, err := sdp.BuildOffer(sdp.AnswerParams{Username: "parley", SessionID: uint64(time.Now().Unix()), SessionVersion: 1, Address: localHost},
		[]sdp.MediaAnswer{{Port: c.session.LocalURI().Port, Proto: "TCP/MSRP", Path: []string{c.session.LocalURI().String()},
			Label: cfg.Label, Setup: "actpass", AcceptTypes: []string{"message/cpim"}, AcceptWrappedTypes: []string{"text/plain", "*"},
			Chatroom: &sdp.Chatroom{Nickname: true, PrivateMessages: true}}})
	if err != nil {
		return nil, err
	}
	// Over TCP or TLS our port is the connection's: the transport parameter makes a proxy send
	// what comes back (BYE, NOTIFY) down that connection rather than to a UDP port nobody has.
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: aor.User, Host: localHost, UriParams: sip.NewParams()}}
	if t := strings.ToLower(cfg.Transport); t != "" && t != "udp" {
		contact.Address.UriParams.Add("transport", t)
	}
	dua := &sipgo.DialogUA{Client: c.sipc, ContactHDR: contact}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(10))
	hdrs := []sip.Header{from, sip.NewHeader("Content-Type", "application/sdp")}
	if c.route != nil {
		hdrs = append(hdrs, c.route)
	}
	dlg, err := dua.Invite(ctx, target, offer, hdrs...)
	if err != nil {
		return nil, fmt.Errorf("INVITE %s: %w", cfg.Room, err)
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		var re *sipgo.ErrDialogResponse
		if errors.As(err, &re) {
			return nil, fmt.Errorf("the room refused the call: %d %s", re.Res.StatusCode, re.Res.Reason)
		}
		return nil, fmt.Errorf("INVITE %s: %w", cfg.Room, err)
	}
	if err := dlg.Ack(ctx); err != nil {
		return nil, fmt.Errorf("ACK: %w", err)
	}
	c.dlg = dlg
	c.joined = time.Now()
	ans, err := sdp.Parse(dlg.InviteResponse.Body())
	if err != nil || len(ans.Media) == 0 || ans.Media[0].IsRejected() {
		c.bye()
		return nil, fmt.Errorf("the room's answer has no usable chat stream")
	}
	path, err := msrp.ParsePath(strings.Join(ans.Media[0].Path, " "))
	if err != nil || len(path) == 0 {
		c.bye()
		return nil, fmt.Errorf("the room's answer has no usable MSRP path")
	}
	c.session.SetRemotePath(path)
	if ans.Media[0].Setup != "active" {
		// The focus is passive (or said nothing, RFC 4975's default): we open the connection.
		if err := c.session.Connect(ctx); err != nil {
			c.bye()
			return nil, fmt.Errorf("MSRP connect to %s: %w", path[0].HostPort(), err)
		}
	} // else the focus connects to our listener and binds; what we send waits for it.

	// Roster: subscribe and wait for the first full state, so that nicknames are known.
	if err := c.subscribe(ctx, 3600); err != nil {
		c.log.Warn("roster subscription failed", "err", err)
	} else {
		select {
		case <-c.firstDoc:
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
		go c.refreshLoop()
	}
	c.flushEarly()
	if cfg.Nick != "" {
		if err := c.SetNickname(cfg.Nick); err != nil {
			return nil, err
		}
	}
	ok = true
	return c, nil
}

// isUserPart reports whether s can be the user part of a SIP URI as it is.
func isUserPart(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.!~*'", r)) {
			return false
		}
	}
	return s != ""
}

func randomToken(n int) string { return randomid.String("abcdefghijklmnopqrstuvwxyz0123456789", n) }

// LocalHostFor returns the local address that routes to host:port (no packet is sent), or
// 127.0.0.1; loopback and localhost stay on loopback.
func LocalHostFor(host string, port int) string {
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return host
	}
	if host == "localhost" {
		return "127.0.0.1"
	}
	if port == 0 {
		port = 5060
	}
	conn, err := net.Dial("udp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return "127.0.0.1"
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP.String()
}

// emit queues an event; a reader that fell far behind loses events rather than stalling the
// MSRP connection.
func (c *Client) emit(e Event) {
	select {
	case c.events <- e:
	default:
		c.log.Warn("event dropped: the reader is not keeping up")
	}
}

// HandleMessage implements msrp.SessionHandler. What the focus sends while we join (the
// logging notice, history, kept files) can come before the roster, which names the room: it is
// held until the roster is in (or Join gave up waiting for it), or the room's notices would
// look like private messages from a stranger.
func (c *Client) HandleMessage(_ *msrp.Session, m *msrp.Message) error {
	if m.Method != "SEND" || len(m.Body) == 0 {
		return nil
	}
	msg, err := cpim.Parse(m.Body)
	if err != nil {
		return &msrp.StatusError{Code: 400, Comment: "Malformed CPIM"}
	}
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	if !c.ready {
		c.early = append(c.early, msg)
		return nil
	}
	c.deliver(msg)
	return nil
}

// flushEarly delivers the messages held during the join, in order, and lets later ones through.
func (c *Client) flushEarly() {
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	c.ready = true
	for _, msg := range c.early {
		c.deliver(msg)
	}
	c.early = nil
}

// deliver turns a received message into an Event.
func (c *Client) deliver(msg *cpim.Message) {
	e := Event{Kind: KindMessage, Time: time.Now(), From: normalizeURI(msg.From.URI), ContentType: msg.ContentType}
	if t, err := time.Parse(time.RFC3339, msg.DateTime); err == nil {
		e.Time = t.Local()
		e.Replayed = t.Before(c.joined.Add(-time.Second))
	}
	room := c.RoomURI()
	if sameURI(e.From, room) || sameURI(e.From, "sip:"+c.target.User+"@"+c.target.Host) {
		e.Kind = KindNotice
	}
	for _, to := range msg.To {
		if !sameURI(to.URI, room) && !sameURI(to.URI, "sip:"+c.target.User+"@"+c.target.Host) {
			e.Private = e.Kind == KindMessage
		}
	}
	e.Nick = c.NickOf(e.From)
	e.Size = len(msg.Body)
	disp, _ := msg.ContentHeader("Content-Disposition")
	if name := dispositionParam(disp, "filename"); name != "" || strings.HasPrefix(strings.ToLower(disp), "attachment") {
		e.Filename, e.Body = name, msg.Body
		e.Text = fmt.Sprintf("sent a file: %s (%s, %d bytes)", name, mediaType(msg.ContentType), len(msg.Body))
	} else if mt := mediaType(msg.ContentType); mt == "text/plain" || mt == "" {
		e.Text = string(msg.Body)
	} else if mt == "application/im-iscomposing+xml" {
		return // typing indications are not shown
	} else {
		e.Text = fmt.Sprintf("[%s, %d bytes]", mt, len(msg.Body))
	}
	c.emit(e)
}

// SessionClosed implements msrp.SessionHandler.
func (c *Client) SessionClosed(_ *msrp.Session, r msrp.CloseReason) {
	c.emit(Event{Kind: KindClosed, Time: time.Now(), Text: "chat connection closed: " + r.String()})
	c.mu.Lock()
	for mid, w := range c.waiters {
		w <- 0
		delete(c.waiters, mid)
	}
	c.mu.Unlock()
}

// DeliveryFailed implements msrp.DeliveryHandler: a refused NICKNAME (no Message-ID) or SEND.
func (c *Client) DeliveryFailed(_ *msrp.Session, mid string, code int) {
	if mid == "" {
		c.emit(Event{Kind: KindNickFailed, Time: time.Now(), Code: code})
		return
	}
	c.mu.Lock()
	w := c.waiters[mid]
	delete(c.waiters, mid)
	c.mu.Unlock()
	if w != nil {
		w <- code
		return
	}
	c.emit(Event{Kind: KindSendFailed, Time: time.Now(), Code: code})
}

// HandleReport implements msrp.ReportHandler: the success REPORTs our SENDs ask for.
func (c *Client) HandleReport(_ *msrp.Session, m *msrp.Message) {
	c.mu.Lock()
	w := c.waiters[m.MessageID]
	delete(c.waiters, m.MessageID)
	c.mu.Unlock()
	if w != nil {
		w <- m.Status.Code
	}
}

// SetNickname sends NICKNAME (RFC 7701 §7). The outcome arrives as KindNickOK (through the
// roster) or KindNickFailed.
func (c *Client) SetNickname(nick string) error {
	if strings.TrimSpace(nick) == "" {
		return errors.New("empty nickname")
	}
	return c.session.SendMessage(&msrp.Message{Method: "NICKNAME", Headers: []msrp.Header{{Name: "Use-Nickname", Value: strconv.Quote(nick)}}})
}

// DeliveryError is a message the room refused.
type DeliveryError struct{ Code int }

func (e *DeliveryError) Error() string {
	if e.Code == 0 {
		return "not delivered: the chat connection closed"
	}
	return fmt.Sprintf("not delivered: %d %s", e.Code, reason(e.Code))
}

func reason(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Recipient not in the room"
	case 408:
		return "Timeout"
	case 413:
		return "Too large"
	case 415:
		return "Type not allowed in this room"
	case 424:
		return "Nickname not allowed"
	case 425:
		return "Nickname already in use"
	case 428:
		return "Private messages not supported"
	case 481:
		return "No such session"
	}
	return ""
}

// Send sends text to the room, or privately to the participant whose AOR is to, and waits
// until the room confirms it (success REPORT) or refuses it.
func (c *Client) Send(ctx context.Context, to, text string) error {
	return c.SendContent(ctx, to, "text/plain;charset=utf-8", nil, []byte(text))
}

// SendContent sends a CPIM message with the given content type, extra content headers and
// body, and waits for the room's verdict.
func (c *Client) SendContent(ctx context.Context, to, contentType string, headers []cpim.Header, body []byte) error {
	if to == "" {
		to = c.RoomURI()
	}
	m := &cpim.Message{
		From: cpim.Address{URI: c.identity}, To: []cpim.Address{{URI: to}},
		DateTime: time.Now().UTC().Format(time.RFC3339), ContentType: contentType, ContentHeaders: headers, Body: body,
	}
	mid := msrp.NewMessageID()
	w := make(chan int, 1)
	c.mu.Lock()
	c.waiters[mid] = w
	c.mu.Unlock()
	err := c.session.SendMessage(&msrp.Message{Method: "SEND", MessageID: mid, ContentType: "message/cpim", Body: m.Marshal(),
		Headers: []msrp.Header{{Name: "Success-Report", Value: "yes"}}})
	if err != nil {
		c.mu.Lock()
		delete(c.waiters, mid)
		c.mu.Unlock()
		return err
	}
	select {
	case code := <-w:
		if code/100 != 2 {
			return &DeliveryError{Code: code}
		}
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.waiters, mid)
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Roster returns the participants, ourselves included, in the room's order.
func (c *Client) Roster() []Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return members(c.roster)
}

func members(conf *xcon.Conference) []Member {
	if conf == nil {
		return nil
	}
	var out []Member
	for _, u := range conf.Users {
		m := Member{AOR: userAOR(u), Nick: userNick(u)}
		m.set = m.Nick != ""
		if m.Nick == "" {
			m.Nick = userPart(m.AOR)
		}
		out = append(out, m)
	}
	return out
}

func userAOR(u *xcon.User) string {
	if len(u.AssociatedAORs) > 0 {
		return normalizeURI(u.AssociatedAORs[0])
	}
	return u.Entity
}

func userNick(u *xcon.User) string {
	if u.Nickname != "" {
		return u.Nickname
	}
	for _, e := range u.Endpoints {
		if e.Nickname != "" {
			return e.Nickname
		}
	}
	return ""
}

// NickOf returns the roster nickname of aor, else its user part.
func (c *Client) NickOf(aor string) string {
	for _, m := range c.Roster() {
		if sameURI(m.AOR, aor) {
			return m.Nick
		}
	}
	return userPart(aor)
}

// FindNick returns the AOR of the participant with that nickname (or AOR user part).
func (c *Client) FindNick(nick string) (string, bool) {
	roster := c.Roster()
	for _, m := range roster {
		if m.Nick == nick {
			return m.AOR, true
		}
	}
	for _, m := range roster {
		if strings.EqualFold(m.Nick, nick) || userPart(m.AOR) == nick || sameURI(m.AOR, nick) {
			return m.AOR, true
		}
	}
	return "", false
}

// Close leaves the room: BYE, unsubscribe, and release the sockets.
func (c *Client) Close(ctx context.Context) error {
	var err error
	if c.dlg != nil {
		select {
		case <-c.byeRecvd:
		default:
			err = c.bye()
		}
	}
	c.mu.Lock()
	subscribed := c.firstSet
	c.mu.Unlock()
	if subscribed {
		uctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = c.subscribe(uctx, 0)
		cancel()
	}
	c.shutdown()
	return err
}

func (c *Client) bye() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.byeOnce.Do(func() { close(c.byeRecvd) })
	return c.dlg.Bye(ctx)
}

func (c *Client) shutdown() {
	if c.session != nil {
		c.session.Close(msrp.Local)
	}
	if c.ep != nil {
		_ = c.ep.Close()
	}
	if c.ua != nil {
		_ = c.ua.Close()
	}
}

// subscribe sends SUBSCRIBE (Event: conference) to the room, in the dialog once there is one.
func (c *Client) subscribe(ctx context.Context, expires int) error {
	s := &c.sub
	s.mu.Lock()
	if s.callID == "" {
		s.callID, s.fromTag = sip.GenerateTagN(16), sip.GenerateTagN(10)
	}
	target := c.target
	if s.toTag != "" {
		target = *s.target.Clone()
	}
	req := sip.NewRequest(sip.SUBSCRIBE, target)
	if c.cfg.Transport != "udp" {
		req.SetTransport(strings.ToUpper(c.cfg.Transport))
	}
	if s.toTag == "" {
		if c.route != nil {
			req.AppendHeader(c.route)
		}
	} else {
		for _, r := range s.routes {
			req.AppendHeader(sip.NewHeader("Route", r))
		}
	}
	var aor sip.Uri
	_ = sip.ParseUri(c.identity, &aor)
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", s.fromTag)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: c.target.User, Host: c.target.Host}, Params: sip.NewParams()}
	if s.toTag != "" {
		to.Params.Add("tag", s.toTag)
	}
	s.cseq++
	callID := sip.CallIDHeader(s.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: s.cseq, MethodName: sip.SUBSCRIBE})
	// NOTIFYs come where the room's BYE would: the INVITE's Contact, which has our port.
	contact := &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: aor.User, Host: c.ep.Config().AdvertisedHost}}
	if c.dlg != nil && c.dlg.InviteRequest.Contact() != nil {
		contact = c.dlg.InviteRequest.Contact().Clone()
	}
	req.AppendHeader(contact)
	req.AppendHeader(sip.NewHeader("Accept", confinfo.ContentType))
	req.AppendHeader(sip.NewHeader("Event", "conference"))
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	s.mu.Unlock()
	res, err := c.sipc.Do(ctx, req)
	if err != nil {
		return err
	}
	if !res.IsSuccess() {
		return fmt.Errorf("SUBSCRIBE: %d %s", res.StatusCode, res.Reason)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.granted = time.Duration(expires) * time.Second
	if e := res.GetHeader("Expires"); e != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(e.Value())); err == nil && n >= 0 {
			s.granted = time.Duration(n) * time.Second // the focus may shorten what we asked
		}
	}
	if s.toTag == "" {
		tag, _ := res.To().Params.Get("tag")
		if tag == "" || res.Contact() == nil {
			return errors.New("SUBSCRIBE: 200 without To-tag or Contact")
		}
		s.toTag, s.target = tag, *res.Contact().Address.Clone()
		rrs := res.GetHeaders("Record-Route")
		for i := len(rrs) - 1; i >= 0; i-- { // RFC 3261 §12.1.2: the UAC reverses the list
			s.routes = append(s.routes, rrs[i].Value())
		}
	}
	return nil
}

// refreshLoop renews the subscription before the time the focus granted runs out, until the
// client closes.
func (c *Client) refreshLoop() {
	t := time.NewTimer(c.refreshIn())
	defer t.Stop()
	for {
		select {
		case <-c.byeRecvd:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := c.subscribe(ctx, 3600); err != nil {
				c.log.Warn("roster refresh failed", "err", err)
			}
			cancel()
			t.Reset(c.refreshIn())
		}
	}
}

// refreshIn is when to renew: at four fifths of the grant, but at least 5 s before it ends
// when the grant is short, and never before half of it.
func (c *Client) refreshIn() time.Duration {
	c.sub.mu.Lock()
	g := c.sub.granted
	c.sub.mu.Unlock()
	return max(min(g*4/5, g-5*time.Second), g/2, 100*time.Millisecond)
}

// handleNotify applies a conference-info document and reports the differences as events.
func (c *Client) handleNotify(req *sip.Request) {
	if ev := req.GetHeader("Event"); ev == nil || !strings.HasPrefix(ev.Value(), "conference") {
		return
	}
	if len(req.Body()) == 0 {
		return
	}
	doc, err := confinfo.Unmarshal(req.Body())
	if err != nil {
		c.log.Warn("bad conference-info", "err", err)
		return
	}
	c.mu.Lock()
	prev := c.roster
	next, err := confinfo.Apply(prev, doc)
	if errors.Is(err, confinfo.ErrGap) {
		c.mu.Unlock()
		// Ask for the full state again (RFC 4575 §4.6).
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = c.subscribe(ctx, 3600)
		}()
		return
	}
	if err != nil {
		c.mu.Unlock()
		return
	}
	c.roster = next
	if next.Entity != "" && strings.HasPrefix(next.Entity, "sip") {
		c.roomURI = next.Entity
	}
	first := !c.firstSet
	if first {
		c.firstSet = true
		close(c.firstDoc)
	}
	var events []Event
	now := time.Now()
	before, after := members(prev), members(next)
	for _, m := range after {
		old, found := findMember(before, m.AOR)
		switch {
		case sameURI(m.AOR, c.identity):
			if m.set && m.Nick != c.myNick {
				events = append(events, Event{Kind: KindNickOK, Time: now, From: m.AOR, Nick: m.Nick})
			}
			if m.set {
				c.myNick = m.Nick
			}
		case first:
		case !found:
			events = append(events, Event{Kind: KindJoined, Time: now, From: m.AOR, Nick: m.Nick})
		case old.Nick != m.Nick:
			events = append(events, Event{Kind: KindRenamed, Time: now, From: m.AOR, Nick: m.Nick, Text: old.Nick})
		}
	}
	if !first {
		for _, m := range before {
			if _, found := findMember(after, m.AOR); !found {
				events = append(events, Event{Kind: KindLeft, Time: now, From: m.AOR, Nick: m.Nick})
			}
		}
	}
	if next.NotifyState == confinfo.StateDeleted {
		events = append(events, Event{Kind: KindClosed, Time: now, Text: "the room was deleted"})
	}
	c.mu.Unlock()
	for _, e := range events {
		c.emit(e)
	}
}

func findMember(ms []Member, aor string) (Member, bool) {
	for _, m := range ms {
		if sameURI(m.AOR, aor) {
			return m, true
		}
	}
	return Member{}, false
}

// normalizeURI drops angle brackets and URI parameters.
func normalizeURI(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	if i := strings.IndexAny(s, ";?"); i >= 0 {
		s = s[:i]
	}
	return s
}

// sameURI tells whether two addresses name the same user or room, by the focus's rule
// (xcon.SameUser): scheme, user and host, ports and parameters ignored.
func sameURI(a, b string) bool { return xcon.SameUser(a, b) }

func splitURI(s string) (scheme, user, host string) {
	s = normalizeURI(s)
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", ""
	}
	user, host, ok = strings.Cut(rest, "@")
	if !ok {
		return scheme, "", rest
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return scheme, user, host
}

// userPart returns the user part of a URI, or the URI.
func userPart(uri string) string {
	if _, u, _ := splitURI(uri); u != "" {
		return u
	}
	return uri
}

func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// dispositionParam returns a parameter of a Content-Disposition value.
func dispositionParam(disp, name string) string {
	for p := range strings.SplitSeq(disp, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(k, name) {
			if uq, err := strconv.Unquote(v); err == nil {
				return uq
			}
			return v
		}
	}
	return ""
}

// IsSelf reports whether aor is our identity.
func (c *Client) IsSelf(aor string) bool { return sameURI(aor, c.identity) }
