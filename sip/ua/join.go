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
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
)

// Identity returns our AOR.
func (c *Client) Identity() string { return c.identity }

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
