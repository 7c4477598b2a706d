package ua

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/cpim"
)

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
