package sip

import (
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/parleychat/parley/xcon/confinfo"
)

// The conference event package (RFC 4575 over RFC 6665): SUBSCRIBE to a room's URI, inside
// or outside the INVITE dialog, and NOTIFYs of the room's roster. sipgo has no subscription
// dialogs, so a SUBSCRIBE is read with DialogUA.ReadInvite (which is method-agnostic: it
// computes the dialog ID and adds our To-tag), answered on its transaction, and NOTIFYs go
// out through the dialog session, which fills in tags, CSeq and the route set.

// eventPackage is the only event package the focus serves.
const eventPackage = "conference"

// hdrAllowEvents goes on every 2xx and 405 with Allow (RFC 6665 §7.2.2).
var hdrAllowEvents = sip.NewHeader("Allow-Events", eventPackage)

// EventsConfig tunes the conference event package. Zero values take the defaults.
type EventsConfig struct {
	DefaultExpires   time.Duration // a SUBSCRIBE without Expires (RFC 4575 §3.3); default 3600 s
	MinExpires       time.Duration // shorter requests get 423 Interval Too Brief; default 60 s
	MaxExpires       time.Duration // longer requests are shortened to it; default 3600 s
	Coalesce         time.Duration // how long a leave or role change waits for more changes; default 1 s
	MaxSubscriptions int           // subscriptions held at once (503 beyond); default 10000
}

func (c EventsConfig) withDefaults() EventsConfig {
	if c.DefaultExpires <= 0 {
		c.DefaultExpires = time.Hour
	}
	if c.MinExpires <= 0 {
		c.MinExpires = time.Minute
	}
	if c.MinExpires > time.Hour {
		c.MinExpires = time.Hour // RFC 6665 §4.2.1.1: never 423 for an hour or more
	}
	if c.MaxExpires <= 0 {
		c.MaxExpires = time.Hour
	}
	if c.MaxExpires < c.MinExpires {
		c.MaxExpires = c.MinExpires
	}
	if c.DefaultExpires > c.MaxExpires {
		c.DefaultExpires = c.MaxExpires
	}
	if c.Coalesce <= 0 {
		c.Coalesce = time.Second
	}
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = 10000
	}
	return c
}

// events holds the subscriptions of one server and hears the focus's room changes
// (focus.RoomWatcher).
type events struct {
	s      *Server
	cfg    EventsConfig
	anonym []byte // keys the pseudonyms of anonymous users (confinfo.Options)

	ctx    context.Context // ends every NOTIFY transaction on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	subs   map[string]*subscription          // by dialog ID and Event id
	rooms  map[string]map[*subscription]bool // by room name
	views  map[string]*roomViews             // by room name, while the room has subscriptions (views.go)
	closed bool

	built, rendered atomic.Int64 // views built and documents encoded (views.go)
}

func newEvents(s *Server) *events {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	ctx, cancel := context.WithCancel(context.Background())
	return &events{s: s, cfg: s.cfg.Events.withDefaults(), anonym: key, ctx: ctx, cancel: cancel,
		subs: map[string]*subscription{}, rooms: map[string]map[*subscription]bool{}, views: map[string]*roomViews{}}
}

// register installs the SUBSCRIBE and NOTIFY handlers. NOTIFY is answered because the focus
// never subscribes to anything: no NOTIFY can match a subscription of ours (RFC 6665 §4.1.3).
func (ev *events) register() {
	ev.s.srv.OnSubscribe(ev.s.counted(ev.onSubscribe))
	ev.s.srv.OnNotify(ev.s.counted(func(req *sip.Request, tx sip.ServerTransaction) {
		ev.s.respondAs(req, tx, 481, "Subscription Does Not Exist")
	}))
}

// RoomChanged marks the room's view out of date and its subscriptions for a partial NOTIFY
// (focus.RoomWatcher).
func (ev *events) RoomChanged(room string, urgent bool) {
	ev.changedView(room)
	for _, sub := range ev.ofRoom(room) {
		sub.changed(urgent)
	}
}

// RoomGone ends the room's subscriptions with reason noresource (focus.RoomWatcher, RFC 4575
// §3.3).
func (ev *events) RoomGone(room string) {
	for _, sub := range ev.ofRoom(room) {
		sub.terminate("noresource")
	}
}

func (ev *events) ofRoom(room string) []*subscription {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	subs := make([]*subscription, 0, len(ev.rooms[room]))
	for sub := range ev.rooms[room] {
		subs = append(subs, sub)
	}
	return subs
}

// end terminates every subscription with a final NOTIFY, reason probation (RFC 6665 §4.1.3: the
// subscriber should subscribe again later, when the focus is back), refuses new ones, and waits
// for the NOTIFYs until ctx ends.
func (ev *events) end(ctx context.Context) {
	ev.mu.Lock()
	ev.closed = true
	subs := make([]*subscription, 0, len(ev.subs))
	for _, sub := range ev.subs {
		subs = append(subs, sub)
	}
	ev.mu.Unlock()
	for _, sub := range subs {
		sub.terminate("probation")
	}
	done := make(chan struct{})
	go func() { ev.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// close stops every subscription without NOTIFYs (the listeners are gone by then) and waits
// for their goroutines.
func (ev *events) close() {
	ev.mu.Lock()
	ev.closed = true
	ev.mu.Unlock()
	ev.cancel()
	ev.wg.Wait()
}

// add records a new subscription and starts its notifier; false when the server is closing
// or full.
func (ev *events) add(sub *subscription) bool {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.closed || len(ev.subs) >= ev.cfg.MaxSubscriptions {
		return false
	}
	ev.subs[sub.key] = sub
	if ev.rooms[sub.room] == nil {
		ev.rooms[sub.room] = map[*subscription]bool{}
		ev.views[sub.room] = &roomViews{}
	}
	ev.rooms[sub.room][sub] = true
	ev.s.metrics.subscriptions.Inc()
	ev.wg.Add(1) // released by run, which start begins once the 200 is out
	return true
}

func (ev *events) remove(sub *subscription) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.subs[sub.key] != sub {
		return
	}
	delete(ev.subs, sub.key)
	delete(ev.rooms[sub.room], sub)
	if len(ev.rooms[sub.room]) == 0 {
		delete(ev.rooms, sub.room)
		delete(ev.views, sub.room)
	}
	ev.s.metrics.subscriptions.Dec()
}

func (ev *events) lookup(key string) *subscription {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.subs[key]
}

func (ev *events) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	s := ev.s
	pkg, id, ok := eventHeader(req)
	if !ok || pkg != eventPackage {
		s.respond(req, tx, 489, hdrAllowEvents)
		return
	}
	if !acceptsConferenceInfo(req) {
		s.respond(req, tx, 406, sip.NewHeader("Accept", confinfo.ContentType),
			s.warning("this package's body is "+confinfo.ContentType))
		return
	}
	expires, ok := ev.expires(req)
	if !ok {
		s.respond(req, tx, 400, s.warning("malformed Expires"))
		return
	}
	if expires > 0 && expires < ev.cfg.MinExpires {
		s.respond(req, tx, 423,
			sip.NewHeader("Min-Expires", strconv.Itoa(int(ev.cfg.MinExpires/time.Second))))
		return
	}
	if to := req.To(); to != nil && to.Params.Has("tag") {
		ev.inDialog(req, tx, id, expires)
		return
	}
	if req.Contact() == nil {
		s.respond(req, tx, 400, s.warning("a Contact is required"))
		return
	}
	// The subscriber is identified and authenticated as a participant joining would be.
	a, ok := s.admit(req, tx, false)
	if !ok {
		return
	}
	room, r := a.room, a.r // r tells, once answered, whether the room went meanwhile
	// Whoever may join the room may watch it (RFC 4575 §3.5, RFC 6501 §4.6): the focus's rule.
	if err := s.focus.MayWatch(room, a.ident); err != nil {
		s.refuse(req, tx, err)
		return
	}
	contact := s.contact(room, req.Transport())
	dialogUA := &sipgo.DialogUA{Client: s.client, ContactHDR: *contact, RewriteContact: true}
	dlg, err := dialogUA.ReadInvite(req, tx)
	if err != nil {
		s.respond(req, tx, 400, s.warning(err.Error()))
		return
	}
	sub := ev.newSubscription(dlg, dlg.ID+"|"+id, room, req.Contact().Address, eventValue(id))
	sub.expires = time.Now().Add(expires)
	if expires == 0 {
		sub.end = "timeout" // a fetch: one NOTIFY with the state, then the end (RFC 6665 §4.4.3)
	}
	res := newResponse(dlg.InviteRequest, 200)
	res.AppendHeader(contact)
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	dlg.InviteResponse = res
	if !ev.add(sub) {
		s.respond(req, tx, 503, sip.NewHeader("Retry-After", "60"),
			s.warning("too many subscriptions"))
		return
	}
	ev.reply(req, tx, res)
	go sub.run()
	if s.focus.Room(room) != r {
		sub.terminate("noresource") // the room went while we answered
	}
}

// inDialog handles a SUBSCRIBE with a To-tag: a refresh or an unsubscribe of one of our
// subscriptions, or a new subscription reusing an INVITE dialog (RFC 6665 §4.5.2).
func (ev *events) inDialog(req *sip.Request, tx sip.ServerTransaction, id string, expires time.Duration) {
	s := ev.s
	dialogID, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		s.respond(req, tx, 481)
		return
	}
	if sub := ev.lookup(dialogID + "|" + id); sub != nil {
		if err := sub.dlg.ReadRequest(req, tx); err != nil {
			s.respond(req, tx, 500, sip.NewHeader("Retry-After", "1"),
				s.warning("CSeq out of order"))
			return
		}
		res := newResponse(req, 200)
		res.AppendHeader(s.contact(sub.room, req.Transport()))
		res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
		ev.reply(req, tx, res)
		sub.refresh(expires)
		return
	}
	d := s.participantDialog(req, tx)
	if d == nil {
		return
	}
	// The participant is in the room, so it may watch it (RFC 4575 §3.5).
	if err := d.read(req, tx); err != nil {
		s.respond(req, tx, 500, sip.NewHeader("Retry-After", "1"), s.warning("CSeq out of order"))
		return
	}
	room := d.participant.Room().Name()
	sub := ev.newSubscription(d, dialogID+"|"+id, room, d.target, eventValue(id))
	sub.expires = time.Now().Add(expires)
	if expires == 0 {
		sub.end = "timeout"
	}
	if !ev.add(sub) {
		s.respond(req, tx, 503, sip.NewHeader("Retry-After", "60"), s.warning("too many subscriptions"))
		return
	}
	res := newResponse(req, 200)
	res.AppendHeader(s.contact(room, req.Transport()))
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	ev.reply(req, tx, res)
	go sub.run()
	if s.focus.Room(room) == nil {
		sub.terminate("noresource")
	}
}

func (ev *events) reply(req *sip.Request, tx sip.ServerTransaction, res *sip.Response) {
	ev.s.decorate(res)
	ev.s.metrics.responses.WithLabelValues(string(req.Method), strconv.Itoa(res.StatusCode)).Inc()
	if err := tx.Respond(res); err != nil {
		ev.s.log.Debug("response not sent", "method", req.Method, "code", res.StatusCode, "err", err)
	}
}

// expires returns the subscription duration granted for req: its Expires, or the default,
// capped at the maximum (RFC 6665 §4.2.1.1: the 200 may shorten, never lengthen).
func (ev *events) expires(req *sip.Request) (time.Duration, bool) {
	h := req.GetHeader("Expires")
	if h == nil {
		return ev.cfg.DefaultExpires, true
	}
	n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil {
		return 0, false
	}
	d := time.Duration(n) * time.Second
	if d > ev.cfg.MaxExpires {
		d = ev.cfg.MaxExpires
	}
	return d, true
}

// eventHeader returns the event package (lower case) and the id parameter of the Event
// header (long or compact form "o").
func eventHeader(req *sip.Request) (pkg, id string, ok bool) {
	h := req.GetHeader("Event")
	if h == nil {
		h = req.GetHeader("o")
	}
	if h == nil {
		return "", "", false
	}
	parts := strings.Split(h.Value(), ";")
	pkg = strings.ToLower(strings.TrimSpace(parts[0]))
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "id") {
			id = strings.TrimSpace(v)
		}
	}
	return pkg, id, pkg != ""
}

// eventValue is the Event header of our NOTIFYs: the package and the subscription's id.
func eventValue(id string) string {
	if id == "" {
		return eventPackage
	}
	return eventPackage + ";id=" + id
}

// acceptsConferenceInfo: an Accept header, when present, must allow the package's body
// (RFC 4575 §3.4).
func acceptsConferenceInfo(req *sip.Request) bool {
	var accepts []string
	for _, h := range req.GetHeaders("Accept") {
		accepts = append(accepts, strings.Split(h.Value(), ",")...)
	}
	if len(accepts) == 0 {
		return true
	}
	for _, a := range accepts {
		mt, _, _ := strings.Cut(a, ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case confinfo.ContentType, "application/*", "*/*", "":
			return true
		}
	}
	return false
}

func (ev *events) newSubscription(dlg inDialog, key, room string, target sip.Uri, event string) *subscription {
	sub := &subscription{
		ev:     ev,
		key:    key,
		room:   room,
		entity: ev.s.focus.RoomURI(room),
		event:  event,
		dlg:    dlg,
		target: *target.Clone(),
		log:    ev.s.log.With("room", room, "subscription", key),
		kick:   make(chan struct{}, 1),
		full:   true,
	}
	sub.wake() // the first NOTIFY, with full state, goes as soon as run starts
	return sub
}
