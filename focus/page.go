package focus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/cpim"
	"github.com/parleychat/parley/xcon"
)

// Page mode (RFC 3428): a SIP MESSAGE to a room's URI reaches the focus (RFC 4353: the room URI
// is the focus), which relays it to the room. Its sender, when it is not in the room through
// MSRP, becomes a page-mode member on its first MESSAGE: a participant without a dialog whose
// one chat stream is delivered by out-of-dialog MESSAGEs (Pager) instead of an MSRP session.

// Errors of Page besides the join errors; package sip maps each to one SIP response code.
var (
	ErrTooLarge        = errors.New("focus: message larger than this room allows")   // 413
	ErrUnsupportedType = errors.New("focus: content type not accepted in this room") // 415
	ErrRateLimited     = errors.New("focus: sending too fast")                       // 503 Retry-After
	ErrBadMessage      = errors.New("focus: malformed message")                      // 400
	ErrNotLogged       = errors.New("focus: message relayed but not logged")         // 500

	errPageNotQueued = errors.New("focus: copy not queued for a page-mode member")
)

// DefaultPageIdle is how long a page-mode member stays without sending before it is dropped,
// unless configured otherwise (sip.page_idle).
const DefaultPageIdle = time.Hour

// Defaults of the flow control towards one page-mode member (Config).
const (
	// DefaultPageQueue bounds the MESSAGEs waiting to go to one member; beyond it the oldest is
	// dropped for that member alone (and counted), never slowing the room.
	DefaultPageQueue = 64
	// DefaultPageTimeout bounds the wait for the answer to one MESSAGE (RFC 3261 Timer F).
	DefaultPageTimeout = 32 * time.Second
)

// Pager is what focus needs from the SIP side to reach page-mode members: an out-of-dialog
// MESSAGE (RFC 3428) from the room to the member's contact (to, the signalling side's handle
// from PageRequest.Contact). It returns once the member answered or the request failed.
type Pager interface {
	SendPage(ctx context.Context, room string, to any, contentType string, body []byte) error
}

// SetPager wires in the sender of page-mode MESSAGEs; call it before serving.
func (f *Focus) SetPager(p Pager) { f.pager = p }

// PageRequest is a MESSAGE to a room, reduced to what the runtime needs.
type PageRequest struct {
	Room        string
	Identity    Identity
	ContentType string // text/plain or message/cpim, parameters included
	Body        []byte
	// Contact is the signalling side's handle to reach the sender with MESSAGEs; it replaces
	// the one a page-mode member had, so that a member that moved is reached where it is now.
	Contact any
	// MaxBody is the largest body a MESSAGE to Contact may carry (RFC 3428 §7, RFC 3261
	// §18.1.1); 0 is no limit. Room messages larger than that reach the member as a notice.
	MaxBody int
	// AcceptsCPIM: the MESSAGE's Accept header names message/cpim, so the sender takes the
	// room's messages as CPIM even when it sends text/plain.
	AcceptsCPIM bool
	// NewMember, when set, is asked before the MESSAGE makes a new page-mode member: the
	// signalling side's per-source limit on joins (false: ErrRateLimited).
	NewMember func() bool
}

// PageResult tells the signalling side what a MESSAGE did.
type PageResult struct {
	Joined bool // the sender became a page-mode member with this MESSAGE
	Left   bool // the sender left the room (/leave)
	// Command: the MESSAGE was a command to the focus (/leave), answered 200, relayed to nobody.
	Command bool
}

// pageMember is a page-mode member's delivery: a bounded queue emptied by one goroutine that
// sends each copy as a MESSAGE.
type pageMember struct {
	cpim      atomic.Bool  // it sent message/cpim or accepts it: it gets the CPIM bodies, else their text
	composing atomic.Bool  // it sent is-composing (RFC 3994) bare: it gets others' so
	lastSeen  atomic.Int64 // unix nanoseconds of its last MESSAGE
	maxBody   atomic.Int64 // largest body a MESSAGE to it may carry (PageRequest.MaxBody); 0: no limit
	missed    atomic.Int64 // copies dropped from its full queue since it was last told

	room *Room
	aor  string      // its address: To of its notices
	rate tokenBucket // Config.PageRate

	mu      sync.Mutex
	contact any
	queue   chan pageCopy
	closed  bool
	timer   *time.Timer
}

type pageCopy struct {
	contentType string
	body        []byte
}

// IsPage tells whether the participant is a page-mode member.
func (p *Participant) IsPage() bool { return p.page != nil }

// Page handles a MESSAGE to a room: the sender joins in page mode (unless it is present already,
// through MSRP or in page mode), and its message is relayed to every member as CPIM whose From
// is the sender's identity. A body "/leave" takes a page-mode member out of the room.
func (f *Focus) Page(ctx context.Context, req PageRequest) (PageResult, error) {
	var res PageResult
	if f.shuttingDown() {
		return res, ErrShuttingDown
	}
	room := f.Room(req.Room)
	if room == nil {
		return res, ErrRoomNotFound
	}
	ct := mediaType(req.ContentType)
	isCPIM := ct == "message/cpim"
	if ct != "text/plain" && ct != isComposingType && !isCPIM {
		return res, ErrUnsupportedType
	}
	if int64(len(req.Body)) > room.maxMessageSize() {
		return res, ErrTooLarge
	}
	var msg *cpim.Message
	inner, text := ct, req.Body
	if isCPIM {
		var err error
		if msg, err = cpim.Parse(req.Body); err != nil {
			return res, fmt.Errorf("%w: CPIM: %v", ErrBadMessage, err)
		}
		inner, text = mediaType(msg.ContentType), msg.Body
		if inner == "message/cpim" {
			// Its inner From would reach the others unchecked ("*" in wrapped_types included),
			// as the MSRP switch refuses it too.
			return res, fmt.Errorf("%w: CPIM inside CPIM is not relayed", ErrUnsupportedType)
		}
	}
	if inner == "text/plain" && string(bytes.TrimSpace(text)) == "/leave" {
		res.Left, res.Command = f.pageLeave(room, req.Identity, "You left the room."), true
		return res, nil
	}
	if !allowedType(room.wrappedTypes(), inner) {
		return res, ErrUnsupportedType
	}
	// Checked before the sender joins, so that a refused message makes no member.
	if isCPIM {
		if err := cpimFromIs(msg, req.Identity.AOR); err != nil {
			return res, err
		}
	} else if int64(len(f.wrap(room, req.Identity.DisplayName, req.Identity.AOR, req))) > room.maxMessageSize() {
		return res, ErrTooLarge
	}

	p, err := f.pageSender(room, req, isCPIM)
	if err != nil {
		return res, err
	}
	res.Joined = p.joinedNow
	st := p.participant.fanOut()
	if len(st) == 0 {
		return res, ErrForbidden
	}
	from := st[0]
	sender := p.participant
	if inner == "text/plain" {
		if done := f.pageCommand(from, string(bytes.TrimSpace(text))); done {
			res.Command = true
			return res, nil
		}
	}

	var target *Participant
	body := req.Body
	if isCPIM {
		if err := cpimFromIs(msg, sender.aor.AOR()); err != nil {
			return res, err
		}
		if len(msg.To) != 1 {
			return res, fmt.Errorf("%w: exactly one CPIM To is required", ErrForbidden)
		}
		if name, ok := f.RoomName(msg.To[0].URI); !ok || name != room.name {
			if target = room.participantByURI(msg.To[0].URI); target == nil {
				return res, fmt.Errorf("%w: recipient not in the room", ErrForbidden)
			}
		}
	} else {
		to, content := f.RoomURI(room.name), req.Body
		if name, rest, ok := privateText(inner, text); ok {
			// "/msg NAME TEXT": TEXT to one member only, by nickname, SIP URI or XCON-USERID.
			if target = room.memberNamed(name); target == nil {
				_ = from.send("message/cpim", room.notice(sender.aor.AOR(), "Nobody called "+name+" is in the room."))
				res.Command = true
				return res, nil
			}
			to, content = target.aor.AOR(), []byte(rest)
		}
		body = f.wrapTo(room, sender.displayName, sender.aor.AOR(), to, req.ContentType, content)
		if int64(len(body)) > room.maxMessageSize() {
			return res, ErrTooLarge
		}
	}
	if why := room.sendRefusal(sender); why != "" {
		return res, fmt.Errorf("%w: %s", ErrForbidden, why)
	}
	if inner != isComposingType && !sender.sendRate.allow(f.now()) {
		return res, ErrRateLimited
	}
	if inner == isComposingType {
		if sender.page != nil && !isCPIM {
			sender.page.composing.Store(true) // it sends RFC 3994 bare: it takes it bare
		}
		if !from.composing.allow(f.now()) {
			return res, nil // RFC 3994 state refreshed too often: answered, then dropped
		}
	}
	streams, entry := room.admit(from, target, "message/cpim", inner, body)
	if _, refused := f.distribute(streams, from, from.channel, target, inner, body, nil, false); refused {
		return res, fmt.Errorf("%w: the recipient takes no private messages", ErrForbidden)
	}
	f.metrics.pageReceived.Inc()
	if entry == nil {
		return res, nil
	}
	// The MESSAGE's answer waits for the log's group commit, as an MSRP sender's 200 does.
	done := make(chan error, 1)
	f.store.AppendLogAsync([]xcon.LogEntry{*entry}, func(err error) { done <- err })
	select {
	case err := <-done:
		if err != nil {
			reason := notLoggedReason(err)
			f.log.Error("message not logged", "room", room.name, "reason", reason, "err", err)
			return res, fmt.Errorf("%w: %s", ErrNotLogged, reason)
		}
	case <-ctx.Done():
		return res, ctx.Err()
	}
	return res, nil
}

// pageCommand runs a command a MESSAGE's text gives the room, answering with a notice to the
// sender: "/nick NAME" (the sender's nickname, RFC 8266 rules as NICKNAME; "/nick" alone
// removes it) and "/who" (who is present). It reports whether text was one.
func (f *Focus) pageCommand(st *Stream, text string) bool {
	room, p := st.participant.room, st.participant
	reply := func(s string) { _ = st.send("message/cpim", room.notice(p.aor.AOR(), s)) }
	switch {
	case text == "/who":
		room.mu.Lock()
		roster := room.rosterText()
		room.mu.Unlock()
		reply(roster)
	case text == "/nick":
		room.setNickname(st, "")
		reply("You have no nickname now.")
	case strings.HasPrefix(text, "/nick "):
		name, err := f.nicknames.claim(room.name, st.chatID, p.userID, strings.TrimSpace(text[len("/nick "):]))
		switch {
		case errors.Is(err, ErrNicknameTaken):
			reply("That nickname is reserved or already in use.")
		case err != nil:
			reply("That nickname cannot be used (RFC 8266 nickname rules).")
		default:
			room.setNickname(st, name)
			f.log.Info("nickname set", "room", room.name, "user", p.userID, "chat_id", st.chatID)
			reply("Your nickname is now " + name + ".")
		}
	default:
		return false
	}
	return true
}

// wrap is the CPIM wrapper the focus writes around a MESSAGE's text: From is the identity the
// MESSAGE established (name, aor), To the room.
func (f *Focus) wrap(room *Room, name, aor string, req PageRequest) []byte {
	return f.wrapTo(room, name, aor, f.RoomURI(room.name), req.ContentType, req.Body)
}

// wrapTo is wrap for a message to one recipient (to: its URI) or to the room.
func (f *Focus) wrapTo(room *Room, name, aor, to, contentType string, body []byte) []byte {
	return (&cpim.Message{
		From:        cpim.Address{Name: name, URI: aor},
		To:          []cpim.Address{{URI: to}},
		DateTime:    f.now().UTC().Format(time.RFC3339),
		ContentType: contentType,
		Body:        body,
	}).Marshal()
}

// privateText reads "/msg NAME TEXT" in a text message.
func privateText(inner string, text []byte) (name, rest string, ok bool) {
	if inner != "text/plain" || !bytes.HasPrefix(text, []byte("/msg ")) {
		return "", "", false
	}
	name, rest, ok = strings.Cut(strings.TrimLeft(string(text[len("/msg "):]), " "), " ")
	return name, rest, ok && name != "" && rest != ""
}

// memberNamed finds a participant by the nickname of one of its chat streams, else by SIP AOR
// or XCON-USERID ("/msg NAME").
func (r *Room) memberNamed(name string) *Participant {
	if p := r.participantByName("@" + strings.TrimPrefix(name, "@")); p != nil {
		return p
	}
	return r.participantByURI(name)
}

// cpimFromIs checks that a CPIM message's From is the sender's URI aor (RFC 7701 §6.1), or the
// generic anonymous URI for an anonymous sender.
func cpimFromIs(msg *cpim.Message, aor string) error {
	u, ok := parseSIPURI(msg.From.URI)
	a, okA := parseSIPURI(aor)
	if !ok || !okA || !(sameAddress(u, a) || anonymousPair(u, a)) {
		return fmt.Errorf("%w: CPIM From is not the sender", ErrForbidden)
	}
	return nil
}

// pageSending is the participant a MESSAGE is relayed as.
type pageSending struct {
	participant *Participant
	joinedNow   bool
}

// pageSender finds who sends a MESSAGE: a participant present with the same proven identity
// (an MSRP member first: its MESSAGE is relayed as its own, without a second row), or a new
// page-mode member, admitted as any joiner is.
func (f *Focus) pageSender(room *Room, req PageRequest, isCPIM bool) (pageSending, error) {
	proven, ok := parseSIPURI(req.Identity.Proven())
	if !ok {
		return pageSending{}, ErrForbidden
	}
	// Two first MESSAGEs of one identity at once make one member.
	f.pageJoin.Lock()
	defer f.pageJoin.Unlock()
	if p := room.presentAs(proven); p != nil {
		if p.verified && !req.Identity.Verified {
			// A From header alone never speaks as someone whose identity was proven (Digest, a
			// trusted proxy's P-Asserted-Identity): a forged From from an untrusted source.
			return pageSending{}, fmt.Errorf("%w: this identity is proven in the room, and this MESSAGE does not prove it", ErrForbidden)
		}
		if p.page != nil {
			p.page.touch(f, req, isCPIM)
		}
		// A present participant barred since is refused as the switch refuses it.
		room.mu.Lock()
		denied := room.deniedLocked(p)
		room.mu.Unlock()
		if denied {
			return pageSending{}, ErrForbidden
		}
		return pageSending{participant: p}, nil
	}
	if req.NewMember != nil && !req.NewMember() {
		return pageSending{}, ErrRateLimited
	}
	p, err := f.newParticipant(room, req.Identity, nil)
	if err != nil {
		return pageSending{}, err
	}
	depth := f.cfg.PageQueue
	if depth <= 0 {
		depth = DefaultPageQueue
	}
	p.page = &pageMember{room: room, aor: p.aor.AOR(), rate: newTokenBucket(f.cfg.PageRate, f.cfg.PageBurst),
		contact: req.Contact, queue: make(chan pageCopy, depth)}
	p.page.cpim.Store(isCPIM || req.AcceptsCPIM)
	p.page.maxBody.Store(int64(req.MaxBody))
	p.page.lastSeen.Store(f.now().UnixNano())
	s := &Stream{participant: p, chatID: newChatID(), channel: room.channelFor(""),
		composing: newTokenBucket(isComposingRate, isComposingBurst), page: p.page}
	p.streams = []*Stream{s}
	p.lines = []*Stream{s}
	go f.pageWorker(room.name, p)
	if err := room.add(p); err != nil {
		p.page.close()
		err = f.redirect(err, p.provenID, p.proven, p.admin)
		f.log.Info("page-mode join refused", "room", room.name, "user", p.userID, "reason", err)
		return pageSending{}, err
	}
	f.log.Info("page-mode member joined", "room", room.name, "user", p.userID)
	f.schedulePageIdle(p)
	return pageSending{participant: p, joinedNow: true}, nil
}

// presentAs returns the participant present with proven identity: an MSRP participant before a
// page-mode member, nil for none.
func (r *Room) presentAs(proven sipURI) *Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	var page *Participant
	for _, p := range r.participants {
		if p.left.Load() || !sameAddress(p.proven, proven) {
			continue
		}
		if p.page == nil {
			return p
		}
		if page == nil {
			page = p
		}
	}
	return page
}

// retirePage ends the page-mode membership of an identity that has just joined over MSRP: its
// MESSAGEs are relayed as the MSRP participant's from now on, and the room shows one row.
func (f *Focus) retirePage(joined *Participant) {
	var old []*Participant
	joined.room.mu.Lock()
	for _, p := range joined.room.participants {
		if p.page != nil && p != joined && sameAddress(p.proven, joined.proven) {
			old = append(old, p)
		}
	}
	joined.room.mu.Unlock()
	for _, p := range old {
		if p.room.leave(p, msrp.Local) {
			f.log.Info("page-mode member left", "room", p.room.name, "user", p.userID, "reason", "joined over MSRP")
		}
	}
}

// pageLeave takes the page-mode member with identity out of the room, after telling it text.
// It reports whether there was one.
func (f *Focus) pageLeave(room *Room, identity Identity, text string) bool {
	proven, ok := parseSIPURI(identity.Proven())
	if !ok {
		return false
	}
	p := room.presentAs(proven)
	if p == nil || p.page == nil {
		return false
	}
	f.dropPage(p, text, "left")
	return true
}

// dropPage tells a page-mode member text and takes it out of its room.
func (f *Focus) dropPage(p *Participant, text, why string) {
	p.page.deliver(f, nil, "message/cpim", p.room.notice(p.aor.AOR(), text))
	if p.room.leave(p, msrp.Local) {
		f.log.Info("page-mode member left", "room", p.room.name, "user", p.userID, "reason", why)
	}
}

// schedulePageIdle arms the idle timer of a page-mode member: after Config.PageIdle without a
// MESSAGE from it, it is told so and dropped.
func (f *Focus) schedulePageIdle(p *Participant) {
	idle := f.pageIdle()
	if idle <= 0 {
		return
	}
	pm := p.page
	var check func()
	check = func() {
		if p.left.Load() {
			return
		}
		quiet := f.now().Sub(time.Unix(0, pm.lastSeen.Load()))
		if quiet < idle {
			pm.mu.Lock()
			if !pm.closed {
				pm.timer = time.AfterFunc(idle-quiet, check)
			}
			pm.mu.Unlock()
			return
		}
		f.metrics.pageIdleDropped.Inc()
		f.dropPage(p, "You sent nothing to this room for "+idle.String()+" and were taken out of it; "+
			"send a message to the room to join again.", "idle")
	}
	pm.mu.Lock()
	pm.timer = time.AfterFunc(idle, check)
	pm.mu.Unlock()
}

func (f *Focus) pageIdle() time.Duration { return f.cfg.PageIdle }

// touch records a MESSAGE from the member: it is active, reached at its contact (within that
// path's size limit) from now on, and gets CPIM if this MESSAGE was CPIM or accepts it.
func (pm *pageMember) touch(f *Focus, req PageRequest, isCPIM bool) {
	pm.lastSeen.Store(f.now().UnixNano())
	if isCPIM || req.AcceptsCPIM {
		pm.cpim.Store(true)
	}
	if req.Contact != nil {
		pm.mu.Lock()
		pm.contact = req.Contact
		pm.maxBody.Store(int64(req.MaxBody))
		pm.mu.Unlock()
	}
}

// deliver queues a room message (a CPIM body) for the member, in the form it takes: the CPIM
// body for a member that takes CPIM, else its text/plain content prefixed with the sender's
// nickname or address (room notices unprefixed); is-composing bare to a member that sends it
// bare. What a MESSAGE to the member may not carry (more than its size limit, RFC 3428 §7) or
// a text-only member cannot show (other payloads) reaches it as a notice naming sender, type
// and size instead; delivery notifications do not go to text-only members.
// The room's lock may be held by the caller when from is nil (notices), never otherwise.
func (pm *pageMember) deliver(f *Focus, from *Stream, contentType string, body []byte) bool {
	if mediaType(contentType) != "message/cpim" {
		return false
	}
	msg, err := cpim.Parse(body)
	if err != nil {
		return false
	}
	limit := int(pm.maxBody.Load())
	inner := mediaType(msg.ContentType)
	label := senderLabel(f, from, msg)
	if pm.cpim.Load() {
		if limit > 0 && len(body) > limit {
			if over := len(body) - limit; label == "" && inner == "text/plain" && over < len(msg.Body) {
				// The room's own notice (a long roster): cut, not replaced.
				return pm.enqueue(f, pageCopy{contentType: "message/cpim", body: pm.room.notice(pm.aor, string(cutText(msg.Body, len(msg.Body)-over)))})
			}
			return pm.replace(f, pm.tooLargeNotice(label, msg, len(msg.Body), limit))
		}
		return pm.enqueue(f, pageCopy{contentType: "message/cpim", body: body})
	}
	switch {
	case inner == isComposingType:
		if !pm.composing.Load() || limit > 0 && len(msg.Body) > limit {
			return false
		}
		return pm.enqueue(f, pageCopy{contentType: msg.ContentType, body: msg.Body})
	case inner == imdnType:
		return false // a delivery notification answers an MSRP sender's request; nothing to show
	case inner != "text/plain":
		return pm.replace(f, payloadNotice(label, msg))
	}
	text := msg.Body
	if label != "" {
		text = append([]byte(label+": "), msg.Body...)
	}
	if limit > 0 && len(text) > limit {
		if label == "" { // the room's own notice (a long roster): cut, not replaced
			return pm.enqueue(f, pageCopy{contentType: msg.ContentType, body: cutText(text, limit)})
		}
		return pm.replace(f, pm.tooLargeNotice(label, msg, len(msg.Body), limit))
	}
	return pm.enqueue(f, pageCopy{contentType: msg.ContentType, body: text})
}

// imdnType is an RFC 5438 delivery notification.
const imdnType = "message/imdn+xml"

// replace queues a notice that stands for a room message the member is not sent, and counts it.
func (pm *pageMember) replace(f *Focus, text string) bool {
	f.metrics.pageReplaced.Inc()
	return pm.enqueue(f, pm.noticeCopy(text))
}

// noticeCopy is a notice from the room to the member, in the form it takes.
func (pm *pageMember) noticeCopy(text string) pageCopy {
	if pm.cpim.Load() {
		return pageCopy{contentType: "message/cpim", body: pm.room.notice(pm.aor, text)}
	}
	return pageCopy{contentType: "text/plain;charset=utf-8", body: []byte(text)}
}

// tooLargeNotice stands for a message larger than a MESSAGE to the member may carry.
func (pm *pageMember) tooLargeNotice(label string, msg *cpim.Message, size, limit int) string {
	if label == "" {
		label = "The room"
	}
	what := "a message"
	if name := attachmentName(msg); name != "" {
		what = "the file " + name
	}
	return fmt.Sprintf("%s sent %s of %d bytes (%s), more than a MESSAGE to you may carry (%d bytes); "+
		"join the room over MSRP to read it.", label, what, size, mediaType(msg.ContentType), limit)
}

// payloadNotice stands for a message a text-only member cannot be shown: not text/plain.
func payloadNotice(label string, msg *cpim.Message) string {
	if label == "" {
		label = "The room"
	}
	what := "a message"
	if name := attachmentName(msg); name != "" {
		what = "the file " + name
	}
	return fmt.Sprintf("%s sent %s of %d bytes (%s), which page mode does not carry; join the room over MSRP to receive it.",
		label, what, len(msg.Body), mediaType(msg.ContentType))
}

// fileNotice tells a page-mode member of a file pushed to the room (RFC 5547), which never goes
// to it by MESSAGE.
func fileNotice(label, name, contentType string, size int64) string {
	return fmt.Sprintf("%s sent the file %s (%d bytes, %s), which page mode does not carry; join the room over MSRP to receive it.",
		label, name, size, mediaType(contentType))
}

// attachmentName is the filename of a CPIM message's Content-Disposition, "" for none.
func attachmentName(msg *cpim.Message) string {
	for _, h := range msg.ContentHeaders {
		if strings.EqualFold(h.Name, "Content-Disposition") {
			if _, params, err := mime.ParseMediaType(h.Value); err == nil {
				return params["filename"]
			}
		}
	}
	return ""
}

// cutText shortens text to at most limit bytes, on a UTF-8 boundary, ending with "…".
func cutText(text []byte, limit int) []byte {
	const ellipsis = "…"
	n := max(limit-len(ellipsis), 0)
	for n > 0 && !utf8.RuneStart(text[n]) {
		n--
	}
	return append(slices.Clone(text[:n]), ellipsis...)
}

// enqueue queues one copy unless the member left. A full queue drops its oldest copy for the
// new one (counted, and told to the member before its next MESSAGE): a chat reader wants what
// is said now, and a room busier than page mode can carry must not take the member out.
func (pm *pageMember) enqueue(f *Focus, c pageCopy) bool {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if pm.closed {
		return false
	}
	for {
		select {
		case pm.queue <- c:
			return true
		default:
		}
		// Only enqueue, under mu, adds: once one is taken out (here or by the sender), the
		// next try succeeds.
		select {
		case <-pm.queue:
			pm.missed.Add(1)
			f.metrics.pageDropped.Inc()
		default:
		}
	}
}

// senderLabel is how a text-only member is shown who wrote a message: the sender's nickname,
// else the CPIM From's display name or address; nothing for the room's own notices.
func senderLabel(f *Focus, from *Stream, msg *cpim.Message) string {
	if from != nil {
		r := from.participant.room
		r.mu.Lock()
		nick := from.nickname
		r.mu.Unlock()
		if nick != "" {
			return nick
		}
	}
	if name, ok := f.RoomName(msg.From.URI); ok && name != "" && from == nil {
		return ""
	}
	if msg.From.Name != "" {
		return msg.From.Name
	}
	return strings.TrimPrefix(strings.TrimPrefix(msg.From.URI, "sips:"), "sip:")
}

// close ends the member's delivery once what is queued is sent.
func (pm *pageMember) close() {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if pm.closed {
		return
	}
	pm.closed = true
	if pm.timer != nil {
		pm.timer.Stop()
	}
	close(pm.queue)
}

// pageWorker sends a page-mode member's copies one after the other, at most Config.PageRate a
// second; a failed one is logged and counted, and the room never waits for it. After
// Config.PageMaxFailures failures in a row the member is taken out of its room.
func (f *Focus) pageWorker(room string, p *Participant) {
	pm := p.page
	failing, failures, dropped := false, 0, false
	timeout := f.cfg.PageTimeout
	if timeout <= 0 {
		timeout = DefaultPageTimeout
	}
	send := func(c pageCopy) {
		for d := pm.rate.reserve(time.Now()); d > 0; d = pm.rate.reserve(time.Now()) { // real time: it paces real sends
			time.Sleep(d)
		}
		pm.mu.Lock()
		to := pm.contact
		pm.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := f.pager.SendPage(ctx, room, to, c.contentType, c.body)
		cancel()
		if err == nil {
			failing, failures = false, 0
			f.metrics.pageSent.Inc()
			return
		}
		f.metrics.pageFailed.Inc()
		failures++
		// One line when a member becomes unreachable, not one per message.
		level := slog.LevelDebug
		if !failing {
			level = slog.LevelInfo
		}
		failing = true
		f.log.Log(context.Background(), level, "MESSAGE to a page-mode member failed", "room", room, "user", p.userID, "err", err)
		if limit := f.cfg.PageMaxFailures; limit > 0 && failures >= limit && !p.left.Load() {
			dropped = true
			f.dropUnresponsive(p, failures, err)
		}
	}
	for c := range pm.queue {
		if f.pager == nil || dropped {
			continue // what is left of an unresponsive member's queue goes nowhere
		}
		if n := pm.missed.Swap(0); n > 0 {
			text := fmt.Sprintf("%d earlier messages of the room were not sent to you: they came faster "+
				"than MESSAGEs to you may go.", n)
			p.room.mu.Lock()
			if p.room.policy.Logging {
				text += " The room's history has them."
			}
			p.room.mu.Unlock()
			send(pm.noticeCopy(text))
			if dropped {
				continue
			}
		}
		send(c)
	}
}

// dropUnresponsive takes a page-mode member whose MESSAGEs failed failures times in a row out of
// its room, and tells the others.
func (f *Focus) dropUnresponsive(p *Participant, failures int, err error) {
	r := p.room
	r.mu.Lock()
	name := ""
	if len(p.streams) > 0 {
		name = p.streams[0].nickname
	}
	r.mu.Unlock()
	if name == "" {
		name = strings.TrimPrefix(strings.TrimPrefix(p.aor.AOR(), "sips:"), "sip:")
	}
	if !r.leave(p, msrp.Local) {
		return
	}
	f.metrics.pageUnresponsive.Inc()
	f.log.Info("page-mode member left", "room", r.name, "user", p.userID, "reason", "unresponsive", "failures", failures, "err", err)
	r.announce(name + " stopped answering and was taken out of the room.")
}
