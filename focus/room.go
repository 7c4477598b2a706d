package focus

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
	"github.com/parleychat/parley/xcon"
)

// Room is the runtime of one conference object.
type Room struct {
	focus *Focus
	name  string

	mu           sync.Mutex
	conf         *xcon.Conference                // guarded by mu; live users and endpoints included
	participants []*Participant                  // guarded by mu
	policy       xcon.RoomPolicy                 // guarded by mu; cached from conf
	livePolicy   atomic.Pointer[xcon.RoomPolicy] // the same, for the switch to read without mu
	userIdx      map[string]*xcon.User           // guarded by mu: conf.Users by lower-case entity; nil = rebuild
	live         map[string]int                  // guarded by mu: participants per lower-case XCON-USERID
	provisioned  map[string]bool                 // guarded by mu: users of the stored object, kept when they leave
	recent       recent                          // guarded by mu: the log's tail replayed to joiners
	remote       []*xcon.User                    // guarded by mu: members on other nodes (roster.go)
	// storedVersion is the version of the object this room last wrote to the store or read
	// from it; conf.Version runs ahead of it with every join and leave (bump), so another
	// node's change is known by a stored version above this one. Guarded by mu.
	storedVersion uint64
	idleSince     time.Time // guarded by mu: when the room last became empty (or changed, empty)
	removed       bool      // guarded by mu: taken out of the focus; joins are refused

	// streams is the fan-out snapshot: every bound-or-not stream of the room, replaced
	// (never modified) under mu on each join and leave, read without a lock.
	streams atomic.Pointer[[]*Stream]
}

// Participant is one SIP dialog in a room: one identity, one or more MSRP streams.
type Participant struct {
	room        *Room
	userID      string // XCON-USERID
	aor         sipURI
	displayName string
	provenID    string    // XCON-USERID of the proven identity (Identity.Proven): userID unless anonymous
	proven      sipURI    // the proven identity; admission decides on it, the room never shows it
	password    string    // the conference password given at join; checked by add, then forgotten
	admin       bool      // proven to be a server administrator (Config.Administrators)
	invited     bool      // dialled out by the focus: whoever asked for it was admitted, not the invitee
	verified    bool      // its identity was proven by Digest or a trusted proxy, not just a From header
	streams     []*Stream // set at join; then changed only under the room's mu (Modify)
	lines       []*Stream // per m-line of the last offer, nil where refused; guarded by the room's mu
	left        atomic.Bool
	sendRate    tokenBucket // messages per second, when the focus limits it
	page        *pageMember // a page-mode member (RFC 3428): no dialog, its stream is delivered by MESSAGE

	dialog any // the signalling side's handle, from JoinRequest.Dialog; never changes
}

// Stream is one accepted m-line: an MSRP session bound to a row of the conference object.
type Stream struct {
	participant *Participant
	chatID      string // published in CCMP and NOTIFYs; never the MSRP session-id
	label       string // the offered a=label, echoed in SDP
	channel     string // label of the available-media entry this stream joined
	session     *msrp.Session
	offer       sdp.Media       // what the participant accepts (accept-types, accept-wrapped-types, chatroom)
	nickname    string          // enforced form; guarded by the room's mu
	composing   tokenBucket     // is-composing notifications relayed (RFC 3994)
	dialsOut    bool            // the offer said a=setup:passive: the focus connects
	answer      sdp.MediaAnswer // the focus's answer for this stream, repeated on a re-offer
	page        *pageMember     // a page-mode member's stream: no MSRP session, copies go out as MESSAGEs

	file       *sdp.FileSelector            // an RFC 5547 push: this stream carries one file, it is no chat channel
	fileTarget string                       // the participants the file is for, comma-separated ("" = the room)
	fileDone   atomic.Bool                  // the file arrived or was aborted (one file per session, RFC 5547 §8.7)
	xfer       atomic.Pointer[fileTransfer] // the file on its way, from its first chunk
}

func newRoom(f *Focus, name string, conf *xcon.Conference) *Room {
	r := &Room{focus: f, name: name, conf: conf, provisioned: map[string]bool{}, live: map[string]int{}, storedVersion: conf.Version}
	p, _ := conf.RoomPolicy()
	r.setPolicyLocked(p)
	for _, u := range conf.Users {
		r.provisioned[strings.ToLower(u.Entity)] = true
	}
	r.streams.Store(&[]*Stream{})
	return r
}

// Name returns the room's name (the user part of its URIs).
func (r *Room) Name() string { return r.name }

// Snapshot returns a consistent deep copy of the conference object, live rows included.
func (r *Room) Snapshot() *xcon.Conference {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conf.Clone()
}

// Stored returns a deep copy of the part of the conference object that is persisted: the
// provisioned users only (its creator, the users given roles or added over CCMP), none of
// them with the endpoints of their live sessions; people who only dialled in are not in it.
func (r *Room) Stored() *xcon.Conference {
	r.mu.Lock()
	defer r.mu.Unlock()
	return durable(r.conf, r.provisioned)
}

// Participants returns the participants present now.
func (r *Room) Participants() []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.participants)
}

// UserID returns the participant's XCON-USERID.
func (p *Participant) UserID() string { return p.userID }

// AOR returns the participant's address of record, "sip:user@host".
func (p *Participant) AOR() string { return p.aor.AOR() }

// Dialog returns the signalling side's handle given in JoinRequest.Dialog.
func (p *Participant) Dialog() any { return p.dialog }

// Room returns the room the participant is in.
func (p *Participant) Room() *Room { return p.room }

// ChatIDs returns the chat-IDs of the participant's streams, in m-line order.
func (p *Participant) ChatIDs() []string {
	streams := p.liveStreams()
	ids := make([]string, len(streams))
	for i, s := range streams {
		ids[i] = s.chatID
	}
	return ids
}

// add records a participant and its streams in the conference object and the fan-out set.
func (r *Room) add(p *Participant) error {
	now := time.Now()
	var changes []xcon.BindingChange
	r.mu.Lock()
	err := r.admissionLocked(p)
	p.password = ""
	if err != nil {
		r.mu.Unlock()
		return err
	}
	r.participants = append(r.participants, p)
	r.live[strings.ToLower(p.userID)]++
	r.idleSince = time.Time{}
	chat := p.chatStreams()
	changes = append(changes, r.bindLocked(p, chat, now)...)
	r.welcomeLocked(p, chat)
	r.bump()
	r.addStreams(p.fanOut())
	r.mu.Unlock()
	r.focus.bindings.add(changes...)
	r.focus.metrics.participants.Inc()
	r.focus.changed(r.name, true)
	return nil
}

// leave removes a participant (idempotent) and closes its MSRP sessions with reason.
func (r *Room) leave(p *Participant, reason msrp.CloseReason) bool {
	if p.left.Swap(true) {
		return false
	}
	var changes []xcon.BindingChange
	r.mu.Lock()
	r.participants = slices.DeleteFunc(r.participants, func(q *Participant) bool { return q == p })
	r.idleLocked()
	if key := strings.ToLower(p.userID); r.live[key] > 1 {
		r.live[key]--
	} else {
		delete(r.live, key)
	}
	if user := r.userLocked(p.userID); user != nil {
		user.Endpoints = slices.DeleteFunc(user.Endpoints, func(e *xcon.Endpoint) bool {
			return slices.ContainsFunc(p.streams, func(s *Stream) bool { return s.chatID == e.Entity })
		})
		if len(user.Endpoints) == 0 && !r.provisioned[strings.ToLower(user.Entity)] {
			r.conf.Users = slices.DeleteFunc(r.conf.Users, func(u *xcon.User) bool { return u == user })
			delete(r.userIdx, strings.ToLower(user.Entity))
		}
	}
	for _, s := range p.chatStreams() {
		changes = append(changes, xcon.BindingChange{Room: r.name, Remove: s.chatID})
		r.focus.nicknames.release(r.name, s.chatID, s.nickname)
	}
	r.bump()
	r.dropStreams(p)
	streams := slices.Clone(p.streams)
	r.mu.Unlock()
	for _, s := range streams {
		if s.page == nil {
			s.session.Close(reason)
		}
	}
	if p.page != nil {
		p.page.close()
	}
	r.focus.bindings.add(changes...)
	r.focus.metrics.participants.Dec()
	r.focus.changed(r.name, false)
	return true
}

// bump counts one change of the conference object (RFC 6503 §4.2: +1 per change). Caller holds mu.
func (r *Room) bump() {
	r.conf.Version++
	n := uint32(len(r.conf.Users))
	r.conf.State.UserCount = &n
}

// publishStreams replaces the fan-out snapshot with the chat streams of every participant.
// Caller holds mu. Joins and leaves use the cheaper addStreams and dropStreams.
func (r *Room) publishStreams() {
	var all []*Stream
	for _, p := range r.participants {
		all = append(all, p.fanOut()...)
	}
	r.streams.Store(&all)
}

// addStreams publishes a snapshot with streams appended. Caller holds mu.
func (r *Room) addStreams(streams []*Stream) {
	old := *r.streams.Load()
	// Appending past the end of the published snapshot is safe: readers only look at [0:len) of the
	// snapshot they loaded, and no element below len is ever written again (dropStreams copies). So a
	// join is amortized O(1), not a copy of the whole room.
	all := append(old, streams...)
	r.streams.Store(&all)
}

// dropStreams publishes a snapshot without p's streams. Caller holds mu.
func (r *Room) dropStreams(p *Participant) {
	old := *r.streams.Load()
	all := make([]*Stream, 0, len(old))
	for _, s := range old {
		if s.participant != p {
			all = append(all, s)
		}
	}
	r.streams.Store(&all)
}

// bindingLocked is the stream's row of the store's bindings, as of now. Caller holds the
// room's mu (the nickname).
func (s *Stream) bindingLocked(room string, now time.Time) *xcon.Binding {
	p := s.participant
	return &xcon.Binding{Room: room, ChatID: s.chatID, UserID: p.userID, Label: s.label, Channel: s.channel,
		Nickname: s.nickname, Since: now, AOR: p.aor.AOR(), DisplayText: p.displayName}
}

// setNickname records a stream's new nickname (enforced form, "" to remove) on its endpoint
// row and as its user's default, and releases the one it replaces.
func (r *Room) setNickname(s *Stream, nickname string) {
	r.mu.Lock()
	old := s.nickname
	s.nickname = nickname
	if user := r.userLocked(s.participant.userID); user != nil {
		user.Nickname = nickname
		for _, e := range user.Endpoints {
			if e.Entity == s.chatID {
				e.Nickname = nickname
			}
		}
	}
	r.bump()
	row := s.bindingLocked(r.name, time.Now())
	r.mu.Unlock()
	if old != "" && old != nickname {
		r.focus.nicknames.release(r.name, s.chatID, old)
	}
	r.focus.bindings.add(xcon.BindingChange{Room: r.name, Add: row})
	r.focus.changed(r.name, true)
}

// setPolicyLocked caches the room's policy. Caller holds mu (or owns the room exclusively).
func (r *Room) setPolicyLocked(p xcon.RoomPolicy) {
	r.policy = p
	r.livePolicy.Store(&p)
	r.recent.limit = p.History
}

// maxMessageSize is the largest message this room takes: its own limit, capped by the focus's.
func (r *Room) maxMessageSize() int64 {
	limit := r.focus.live.Load().MaxMessageSize
	if p := r.livePolicy.Load(); p.MaxMessageSize > 0 && (limit <= 0 || p.MaxMessageSize < limit) {
		limit = p.MaxMessageSize
	}
	return limit
}

// wrappedTypes is what may travel inside message/cpim in this room (session-chat §3.1).
func (r *Room) wrappedTypes() []string {
	if p := r.livePolicy.Load(); len(p.WrappedTypes) > 0 {
		return p.WrappedTypes
	}
	return r.focus.live.Load().WrappedTypes
}

// rosterText tells a client that is not chat-room aware that it is in a room, and who is
// there (RFC 7701 §11), naming at most rosterTextMax people. Caller holds mu.
func (r *Room) rosterText() string {
	var b strings.Builder
	b.WriteString("You are in the chat room " + r.focus.RoomURI(r.name) + ": what you send goes to everyone here. Present:")
	named := 0
	for _, u := range r.conf.Users {
		if len(u.Endpoints) == 0 {
			continue
		}
		if named++; named > rosterTextMax {
			b.WriteString(" and " + strconv.Itoa(len(r.participants)-rosterTextMax) + " more")
			break
		}
		b.WriteString(" ")
		if u.Nickname != "" {
			b.WriteString(u.Nickname + " ")
		}
		if len(u.AssociatedAORs) > 0 {
			b.WriteString("<" + u.AssociatedAORs[0] + ">")
		}
	}
	return b.String()
}

// rosterTextMax bounds the roster a notice names: a join must not cost the size of the room.
const rosterTextMax = 30

// send queues a message from the room itself on the stream: on its MSRP session, or as a
// MESSAGE to a page-mode member.
func (s *Stream) send(contentType string, body []byte) error {
	if s.page != nil {
		if !s.page.deliver(s.participant.room.focus, nil, contentType, body) {
			return errPageNotQueued
		}
		return nil
	}
	return s.session.Send(contentType, body)
}

// chatStreams returns the participant's chat streams (not its file transfers).
func (p *Participant) chatStreams() []*Stream {
	chat := make([]*Stream, 0, len(p.streams))
	for _, s := range p.streams {
		if s.file == nil {
			chat = append(chat, s)
		}
	}
	return chat
}

// fanOut returns the chat streams the switch delivers to: one per channel, the participant's
// first line bound to it. Lines whose labels name no channel all fall to the default one; a
// message goes once to each user in a channel, not once per such line.
func (p *Participant) fanOut() []*Stream {
	out := make([]*Stream, 0, len(p.streams))
	for _, s := range p.streams {
		if s.file == nil && !slices.ContainsFunc(out, func(o *Stream) bool { return o.channel == s.channel }) {
			out = append(out, s)
		}
	}
	return out
}

// userLocked finds a user of the conference object by XCON-USERID (case-insensitive, RFC 6501
// §3.3.2) through an index, so that joins and leaves do not scan the roster. Caller holds mu;
// whoever replaces conf.Users wholesale sets userIdx to nil.
func (r *Room) userLocked(id string) *xcon.User {
	if r.userIdx == nil {
		r.userIdx = make(map[string]*xcon.User, len(r.conf.Users))
		for _, u := range r.conf.Users {
			r.userIdx[strings.ToLower(u.Entity)] = u
		}
	}
	return r.userIdx[strings.ToLower(id)]
}

// bindLocked makes chat streams rows of the conference object: the user (created on its first
// stream) and one endpoint per chat-ID, returning the binding rows to write. Caller holds mu.
func (r *Room) bindLocked(p *Participant, chat []*Stream, now time.Time) []xcon.BindingChange {
	if len(chat) == 0 {
		return nil
	}
	user := r.userLocked(p.userID)
	if user == nil {
		user = &xcon.User{Entity: p.userID, DisplayText: p.displayName, AssociatedAORs: []string{p.aor.AOR()}, Roles: []string{r.joinRoleLocked(p)}}
		r.conf.Users = append(r.conf.Users, user)
		r.userIdx[strings.ToLower(p.userID)] = user
	} else if len(user.AssociatedAORs) == 0 {
		// A user provisioned over CCMP by his XCON-USERID alone is shown under the SIP address
		// he dials from, as one who only dialled in is, so that his client finds itself in the
		// roster.
		user.AssociatedAORs = []string{p.aor.AOR()}
	}
	changes := make([]xcon.BindingChange, 0, len(chat))
	for _, s := range chat {
		// The nickname allocated to the user (over CCMP, or by an earlier session) is also the
		// chat session's (session-chat §5.1).
		if user.Nickname != "" && s.nickname == "" {
			if _, err := r.focus.nicknames.claim(r.name, s.chatID, p.userID, user.Nickname); err == nil {
				s.nickname = user.Nickname
			}
		}
		e := &xcon.Endpoint{
			Entity:        s.chatID,
			Nickname:      s.nickname,
			Status:        "connected",
			JoiningMethod: "dialed-in",
			Media:         []xcon.Media{{ID: "1", Type: "message", Label: s.channel, Status: "sendrecv"}},
		}
		if s.page != nil {
			e.Extras.Elements = append(e.Extras.Elements, xcon.PageModeElement())
		}
		user.Endpoints = append(user.Endpoints, e)
		changes = append(changes, xcon.BindingChange{Room: r.name, Add: s.bindingLocked(r.name, now)})
	}
	return changes
}

// nickRelease is a nickname a chat stream gave up, released once the room's lock is dropped.
type nickRelease struct{ chatID, nickname string }

// renameStreamsLocked gives the chat streams of every participant whose user's nickname an
// update changed (before holds the nicknames before it, by lower-case XCON-USERID) that
// nickname, on the stream, its endpoint row and its binding row (session-chat §5.1). It returns the
// binding changes to write and the names to release. Caller holds mu; r.conf is the new object.
func (r *Room) renameStreamsLocked(before map[string]string) ([]xcon.BindingChange, []nickRelease) {
	var changes []xcon.BindingChange
	var releases []nickRelease
	now := time.Now()
	for _, p := range r.participants {
		user := r.userLocked(p.userID)
		if user == nil {
			continue
		}
		if old, ok := before[strings.ToLower(p.userID)]; ok && old == user.Nickname {
			continue
		}
		for _, s := range p.chatStreams() {
			if s.nickname == user.Nickname {
				continue
			}
			if user.Nickname != "" {
				if _, err := r.focus.nicknames.claim(r.name, s.chatID, p.userID, user.Nickname); err != nil {
					r.focus.log.Info("nickname not given to a chat session", "room", r.name, "user", p.userID, "err", err)
					continue
				}
			}
			if s.nickname != "" {
				releases = append(releases, nickRelease{s.chatID, s.nickname})
			}
			s.nickname = user.Nickname
			if e := user.Endpoint(s.chatID); e != nil {
				e.Nickname = s.nickname
			}
			changes = append(changes, xcon.BindingChange{Room: r.name, Add: s.bindingLocked(r.name, now)})
		}
	}
	return changes, releases
}

// welcomeLocked queues, on each new chat stream, what a joiner receives before anything else:
// the logging notice (session-chat §5.2), a word to clients that are not chat-room aware (RFC 7701 §11),
// the channel's history (session-chat §5.3) and the files kept for later joiners (session-chat §5.5). Live
// traffic follows once the streams are published. Caller holds mu.
func (r *Room) welcomeLocked(p *Participant, chat []*Stream) {
	// A channel the participant already receives on another line gets no second history.
	held := map[string]bool{}
	for _, s := range p.chatStreams() {
		if !slices.Contains(chat, s) {
			held[s.channel] = true
		}
	}
	for _, s := range chat {
		if r.policy.Logging {
			_ = s.send("message/cpim", r.loggingNotice(p.aor.AOR()))
		}
		if s.offer.Chatroom == nil {
			_ = s.send("message/cpim", r.notice(p.aor.AOR(), r.rosterText()))
		}
		if held[s.channel] {
			continue
		}
		held[s.channel] = true
		if r.policy.Logging {
			n, since := r.replayAmountLocked(p)
			for _, e := range r.recent.replay(s.channel, p.userID, n, since) {
				_ = s.send(e.ContentType, e.Body)
			}
		}
		if r.focus.files == nil || s.page != nil {
			continue
		}
		kept := r.focus.files.forRoom(r.name, s.channel, p.userID)
		kept = slices.DeleteFunc(kept, func(k keptFile) bool {
			return !s.offer.AcceptsWrapped(k.Inner) || s.offer.MaxSize > 0 && k.Size > s.offer.MaxSize
		})
		if len(kept) > 0 {
			go r.focus.replayKept(s, kept)
		}
	}
}
