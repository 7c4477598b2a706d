package focus

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/msrp/cpim"
	"github.com/parleychat/parley/xcon"
)

// cpimViews holds parsed CPIM headers for the switch, reused message after message: their
// strings alias the body, which is never written once msrp hands it over, so only the slices
// are recycled.
var cpimViews = sync.Pool{New: func() any { return new(cpim.Message) }}

// HandleMessage is the MSRP switch (RFC 7701 §6): it checks a participant's message against
// the room's rules and relays it, unchanged, as a new MSRP message on every other stream that
// should receive it. It implements msrp.SessionHandler.
func (f *Focus) HandleMessage(s *msrp.Session, m *msrp.Message) error {
	st, ok := s.UserData().(*Stream)
	if !ok {
		return &msrp.StatusError{Code: msrp.StatusNoSuchSession, Comment: "Session not in a room"}
	}
	if st.file != nil {
		return f.handleFile(st, m)
	}
	switch m.Method {
	case "SEND":
	case "NICKNAME":
		return f.handleNickname(st, m)
	default:
		return &msrp.StatusError{Code: msrp.StatusNotImplemented, Comment: "Method not supported by this switch"}
	}
	if mediaType(m.ContentType) != "message/cpim" {
		// RFC 7701 §6.3: everything in a room travels inside CPIM.
		return &msrp.StatusError{Code: msrp.StatusUnsupportedMedia, Comment: "Room messages must be message/cpim"}
	}
	msg := cpimViews.Get().(*cpim.Message)
	defer cpimViews.Put(msg)
	if err := cpim.ParseInto(msg, m.Body); err != nil {
		return &msrp.StatusError{Code: msrp.StatusBadRequest, Comment: "Malformed CPIM"}
	}
	from, ok := parseSIPURI(msg.From.URI)
	if !ok || !(sameAddress(from, st.participant.aor) || anonymousPair(from, st.participant.aor)) {
		// RFC 7701 §6.1: the From must be a URI of the sending participant.
		return &msrp.StatusError{Code: msrp.StatusForbidden, Comment: "CPIM From is not the sender"}
	}
	room := st.participant.room
	if why := room.sendRefusal(st.participant); why != "" {
		return &msrp.StatusError{Code: msrp.StatusForbidden, Comment: why}
	}
	if len(msg.To) != 1 {
		return &msrp.StatusError{Code: msrp.StatusForbidden, Comment: "Exactly one CPIM To is required"} // RFC 7701 §6.1, §6.2
	}
	inner := mediaType(msg.ContentType)
	if !allowedType(room.wrappedTypes(), inner) {
		return &msrp.StatusError{Code: msrp.StatusUnsupportedMedia, Comment: "Wrapped type not allowed in this room"}
	}
	if inner == "message/cpim" {
		// Its inner From would reach the others unchecked ("*" in wrapped_types included).
		return &msrp.StatusError{Code: msrp.StatusUnsupportedMedia, Comment: "CPIM inside CPIM is not relayed"}
	}
	if int64(len(m.Body)) > room.maxMessageSize() {
		return &msrp.StatusError{Code: msrp.StatusTooLarge, Comment: "Message larger than this room allows"}
	}
	if inner != isComposingType && !st.participant.sendRate.allow(f.now()) {
		f.metrics.sendsLimited.Inc()
		return &msrp.StatusError{Code: msrp.StatusForbidden, Comment: "Sending too fast; slow down"}
	}
	if inner == isComposingType && !st.composing.allow(f.now()) {
		return nil // RFC 3994 expects a few per refresh interval: answered, then dropped
	}
	var target *Participant
	if name, ok := f.RoomName(msg.To[0].URI); !ok || name != room.name {
		target = room.participantByURI(msg.To[0].URI)
		if target == nil {
			if id := f.remoteRecipient(room, msg.To[0].URI); id != "" {
				return f.relaySend(st, room, inner, id, m.Body)
			}
			return &msrp.StatusError{Code: msrp.StatusNotFound, Comment: "Recipient not in the room"} // RFC 7701 §6.2
		}
	}

	// The message is ours (msrp hands the handler its own copy), so its body is shared by
	// every recipient's queue as is: byte-for-byte the sender's (RFC 7701 §6.1).
	body := m.Body
	if f.relay != nil && target == nil {
		// Several nodes: every node, this one too, hands it to its members as the relay
		// delivers it, so that all members see the room's messages in one order.
		return f.relaySend(st, room, inner, "", body)
	}
	streams, entry := room.admit(st, target, m.ContentType, inner, body)
	var origin *privateOrigin
	if target != nil {
		origin = &privateOrigin{sender: st, req: m, from: msg.From.URI, to: msg.To[0].URI}
	}
	if _, privateRefused := f.distribute(streams, st, st.channel, target, inner, body, origin, true); privateRefused {
		return &msrp.StatusError{Code: msrp.StatusNoPrivateMessages, Comment: "Private messages not supported"} // RFC 7701 §6.2
	}
	if entry != nil {
		// The sender's 200 waits for the group commit; the copies above did not, and neither
		// does the connection, which reads on while the commit is in flight.
		answer := msrp.Defer()
		f.logThenSettle(*entry, answer)
		return answer
	}
	return nil
}

// logThenSettle queues entry for the log's group commit and settles answer once it is durable:
// 200, or 500 saying why the log could not take it.
func (f *Focus) logThenSettle(entry xcon.LogEntry, answer *msrp.Deferred) {
	f.store.AppendLogAsync([]xcon.LogEntry{entry}, func(err error) {
		if err != nil {
			comment := notLoggedComment(err)
			f.log.Error("message not logged", "room", entry.Room, "reason", comment, "err", err)
			answer.Settle(&msrp.StatusError{Code: 500, Comment: comment})
			return
		}
		answer.Settle(nil)
	})
}

// distribute queues a CPIM body to every stream of channel not the sender's that should get it:
// all of them, or only target's when the message is private; onReader says it runs in from's
// MSRP handler (not for a MESSAGE). It reports how many copies went
// out, and whether a private message found its recipient unable to take private messages.
func (f *Focus) distribute(streams []*Stream, from *Stream, channel string, target *Participant, inner string, body []byte,
	origin *privateOrigin, onReader bool) (recipients int, privateRefused bool) {
	start := time.Now()
	privateRefused = target != nil
	for _, r := range streams {
		// Never back to the sender, on this line or on another of its lines in the channel.
		if (from != nil && r.participant == from.participant) || r.channel != channel {
			continue
		}
		if target != nil {
			if r.participant != target {
				continue
			}
			if r.page == nil && (r.offer.Chatroom == nil || !r.offer.Chatroom.PrivateMessages) {
				continue
			}
			privateRefused = false
		}
		if r.page != nil {
			if r.page.deliver(f, from, "message/cpim", body) {
				recipients++
			}
			continue
		}
		if !r.offer.AcceptsWrapped(inner) {
			continue // RFC 7701 §6.1: skip recipients that cannot take the payload
		}
		if r.offer.MaxSize > 0 && int64(len(body)) > r.offer.MaxSize {
			continue // its a=max-size says it would refuse it (RFC 4975 §8.6)
		}
		if origin != nil {
			// A private copy is tracked so that its failure can be reported to the sender.
			copy := &msrp.Message{ContentType: "message/cpim", Body: body}
			if err := r.session.SendMessage(copy); err != nil {
				f.log.Debug("copy not queued", "chat_id", r.chatID, "err", err)
				continue
			}
			f.private.track(copy.MessageID, *origin, f.now())
			recipients++
			continue
		}
		var err error
		if from != nil && onReader {
			err = r.session.SendFrom(from.session, "message/cpim", body) // we run on from's reader
		} else {
			err = r.session.Send("message/cpim", body)
		}
		if err != nil {
			f.log.Debug("copy not queued", "chat_id", r.chatID, "err", err)
			continue
		}
		recipients++
	}
	f.metrics.messagesRelayed.Inc()
	f.metrics.copiesSent.Add(float64(recipients))
	f.metrics.bytesRelayed.Add(float64(recipients * len(body)))
	f.metrics.fanout.Observe(time.Since(start).Seconds())
	return recipients, privateRefused
}

// admit returns the streams a message goes to and, in a logged room, its log entry, taken
// in one step under the room's lock so that a joiner sees each message exactly once: in its
// history or live (session-chat §5.3).
func (r *Room) admit(from *Stream, target *Participant, contentType, inner string, body []byte) ([]*Stream, *xcon.LogEntry) {
	if !r.loggable(inner) {
		return *r.streams.Load(), nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.policy.Logging {
		return *r.streams.Load(), nil
	}
	e := &xcon.LogEntry{Room: r.name, Channel: from.channel, Time: time.Now(), SenderID: from.participant.userID,
		SenderNick: from.nickname, ContentType: contentType, Body: body}
	if target != nil {
		e.Recipient = target.userID
	}
	if r.policy.History > 0 {
		r.recent.add(*e)
	}
	return *r.streams.Load(), e
}

// loggable tells whether a wrapped type is kept in the log: is-composing and delivery
// notifications are not (they are state, not conversation).
func (r *Room) loggable(inner string) bool {
	return inner != isComposingType && inner != "message/imdn+xml"
}

// SessionClosed learns that an MSRP session ended. When the room did not end it (the
// connection failed, the client never bound it, it was too slow), the participant leaves the room
// and its dialog is ended with a BYE.
func (f *Focus) SessionClosed(s *msrp.Session, reason msrp.CloseReason) {
	st, ok := s.UserData().(*Stream)
	if ok && st.file != nil {
		f.fileSessionClosed(st)
	}
	if !ok || reason == msrp.Local || reason == msrp.Shutdown {
		return
	}
	p := st.participant
	if !p.room.leave(p, reason) {
		return
	}
	f.log.Info("participant dropped", "room", p.room.name, "user", p.userID, "chat_id", st.chatID, "reason", reason.String())
	if f.signaling != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
			defer cancel()
			f.signaling.Disconnect(ctx, p)
		}()
	}
}

// participantByURI finds a participant by SIP AOR or XCON-USERID (RFC 7701 §6.2).
func (r *Room) participantByURI(uri string) *Participant {
	u, ok := parseSIPURI(uri)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.participants {
		if strings.EqualFold(p.userID, strings.TrimSpace(strings.Trim(uri, "<>"))) || (ok && sameUser(u, p.aor)) {
			return p
		}
	}
	return nil
}

const isComposingType = "application/im-iscomposing+xml"

func allowedType(types []string, t string) bool {
	for _, w := range types {
		if w == "*" || strings.EqualFold(w, t) {
			return true
		}
	}
	return false
}

// mediaType returns the lower-case type/subtype of a Content-Type value, parameters dropped:
// what comes before the first ';' (a type and subtype are tokens, so no ';' can be inside).
func mediaType(contentType string) string {
	t, _, _ := strings.Cut(contentType, ";")
	t = strings.TrimSpace(t)
	for i := 0; i < len(t); i++ {
		if c := t[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(t)
		}
	}
	return t
}

// handleNickname answers NICKNAME (RFC 7701 §7): 200, 424 malformed, 425 taken or reserved;
// an empty value removes the stream's nickname (§7.3).
func (f *Focus) handleNickname(st *Stream, m *msrp.Message) error {
	value, present := "", false
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, "Use-Nickname") {
			value, present = h.Value, true
			break
		}
	}
	name, ok, err := useNickname(value, present)
	switch {
	case !ok:
		return &msrp.StatusError{Code: msrp.StatusBadRequest, Comment: "Use-Nickname is required"}
	case err != nil:
		return &msrp.StatusError{Code: msrp.StatusBadNickname, Comment: "Invalid nickname"}
	}
	room := st.participant.room
	if name == "" {
		room.setNickname(st, "")
		return nil
	}
	enforced, err := f.nicknames.claim(room.name, st.chatID, st.participant.userID, name)
	switch {
	case errors.Is(err, ErrNicknameMalformed):
		return &msrp.StatusError{Code: msrp.StatusBadNickname, Comment: "Invalid nickname"}
	case errors.Is(err, ErrNicknameTaken):
		return &msrp.StatusError{Code: msrp.StatusNicknameInUse, Comment: "Nickname reserved or already in use"}
	case err != nil:
		return err
	}
	room.setNickname(st, enforced)
	f.log.Info("nickname set", "room", room.name, "user", st.participant.userID, "chat_id", st.chatID)
	return nil
}

// anonymousPair: a participant made anonymous (RFC 3323, RFC 7701 §5.2) is known by its own
// anonymous URI, which its client never learns; the generic anonymous URI its client writes in
// CPIM From is accepted for it (RFC 3323 §4.1.1.3 names sip:anonymous@anonymous.invalid).
func anonymousPair(from, participant sipURI) bool {
	return participant.Host == anonymousHost && from.Host == anonymousHost
}

// anonymousHost is the host of anonymous URIs (RFC 3323 §4.1.1.3).
const anonymousHost = "anonymous.invalid"

// notLoggedComment is the comment of the 500 that answers a logged room's message the log
// could not take (it was relayed all the same): out of space is cleared by freeing some, and
// the next message is logged again; a log that can no longer be made durable stays so until
// the focus is restarted.
func notLoggedComment(err error) string {
	return "Message relayed but not logged: " + notLoggedReason(err)
}

// notLoggedReason says why the log could not take a message.
func notLoggedReason(err error) string {
	switch {
	case errors.Is(err, xcon.ErrFull):
		return "the log could not be written (no space left)"
	case errors.Is(err, xcon.ErrNotDurable):
		return "the log could not be made durable (restart needed)"
	default:
		return "the log could not be written"
	}
}
