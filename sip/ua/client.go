// Package ua is the participant's side of a Parley room: a SIP user agent that joins a room
// with an MSRP offer, keeps the roster from the conference event package (RFC 4575), and sends
// and receives CPIM messages over an MSRP session (RFC 7701). `parley chat` is built on it.
package ua

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/internal/randomid"
	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/cpim"
	"github.com/parleychat/parley/xcon"
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

func randomToken(n int) string { return randomid.String("abcdefghijklmnopqrstuvwxyz0123456789", n) }

// emit queues an event; a reader that fell far behind loses events rather than stalling the
// MSRP connection.
func (c *Client) emit(e Event) {
	select {
	case c.events <- e:
	default:
		c.log.Warn("event dropped: the reader is not keeping up")
	}
}

func (e *DeliveryError) Error() string {
	if e.Code == 0 {
		return "not delivered: the chat connection closed"
	}
	return fmt.Sprintf("not delivered: %d %s", e.Code, reason(e.Code))
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

// IsSelf reports whether aor is our identity.
func (c *Client) IsSelf(aor string) bool { return sameURI(aor, c.identity) }
