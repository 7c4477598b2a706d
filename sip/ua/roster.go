package ua

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/xcon"
	"github.com/parleychat/parley/xcon/confinfo"
)

// subscription is our conference-event dialog.
type subscription struct {
	mu                     sync.Mutex
	callID, fromTag, toTag string
	cseq                   uint32
	target                 sip.Uri
	routes                 []string      // the dialog's route set: the 200's Record-Route, reversed
	granted                time.Duration // the Expires of the last 200
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
