package focus

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
	"github.com/parleychat/parley/xcon"
)

// ErrNotInRoom is returned by Modify for a participant that has left.
var ErrNotInRoom = errors.New("focus: participant is not in the room") // 481

// Modify applies a new offer from a joined participant (re-INVITE or UPDATE, RFC 3264 §8): an
// m-line that keeps its stream is answered as before (same a=path, RFC 4975 §8.4); an m-line
// with port 0, or one that is no longer MSRP, ends its stream (row removed, MSRP session
// closed); a new m-line, or a refused slot offered again, gets a new stream and row. The answers hold one entry per offered m-line.
func (f *Focus) Modify(ctx context.Context, p *Participant, offer *sdp.Session) ([]sdp.MediaAnswer, error) {
	room := p.room
	room.mu.Lock()
	lines := slices.Clone(p.lines)
	room.mu.Unlock()
	if p.left.Load() {
		return nil, ErrNotInRoom
	}

	answers := make([]sdp.MediaAnswer, len(offer.Media))
	next := make([]*Stream, len(offer.Media))
	labels := map[string]bool{}
	var removed, added []*Stream
	for i := range offer.Media {
		m := &offer.Media[i]
		var old *Stream
		if i < len(lines) {
			old = lines[i]
		}
		switch {
		case old == nil:
			continue // decided below, once the labels of the kept lines are known
		case m.Port == 0:
			removed = append(removed, old)
			answers[i] = sdp.MediaAnswer{Reject: true}
		case !m.IsMSRP():
			// The media type of a stream may change in place (RFC 3264 §8.3.3): the chat stream
			// ends, and the new line is answered below as a new one would be (refused, port 0).
			removed = append(removed, old)
			lines[i] = nil
		default:
			next[i], answers[i] = old, old.answer
			if old.label != "" && old.file == nil {
				labels[old.label] = true
			}
			// The path in a re-offer is the one valid now (RFC 4975 §8.4).
			if path, err := msrp.ParsePath(strings.Join(m.Path, " ")); err == nil && len(path) > 0 {
				old.session.SetRemotePath(path)
			}
		}
	}
	for i := len(offer.Media); i < len(lines); i++ {
		if lines[i] != nil {
			removed = append(removed, lines[i]) // an m-line the offer dropped (RFC 3264 §8 forbids it)
		}
	}
	for i := range offer.Media {
		if next[i] != nil || (i < len(lines) && lines[i] != nil) {
			continue
		}
		s, answer := f.acceptLine(p, i, &offer.Media[i], labels, "", nil)
		answers[i] = answer
		if s != nil {
			next[i] = s
			added = append(added, s)
		}
	}
	if err := room.modify(p, next, added, removed); err != nil {
		for _, s := range added {
			s.session.Close(msrp.Local)
		}
		return nil, err
	}
	if len(added) > 0 || len(removed) > 0 {
		f.log.Info("participant's streams changed", "room", room.name, "user", p.userID, "added", len(added), "removed", len(removed))
	}
	for _, s := range added {
		if s.dialsOut {
			go f.connectOut(s)
		}
	}
	return answers, nil
}

// modify replaces p's lines with next: rows for added streams, none for removed ones, whose
// MSRP sessions are closed.
func (r *Room) modify(p *Participant, next, added, removed []*Stream) error {
	if len(added) == 0 && len(removed) == 0 {
		return nil
	}
	now := time.Now()
	var changes []xcon.BindingChange
	r.mu.Lock()
	if p.left.Load() {
		r.mu.Unlock()
		return ErrNotInRoom
	}
	p.lines = next
	var streams []*Stream
	for _, s := range next {
		if s != nil {
			streams = append(streams, s)
		}
	}
	p.streams = streams
	user := r.userLocked(p.userID)
	gone := map[string]bool{}
	for _, s := range removed {
		gone[s.chatID] = true
		if s.file == nil {
			changes = append(changes, xcon.BindingChange{Room: r.name, Remove: s.chatID})
			r.focus.nicknames.release(r.name, s.chatID, s.nickname)
		}
	}
	if user != nil && len(gone) > 0 {
		user.Endpoints = slices.DeleteFunc(user.Endpoints, func(e *xcon.Endpoint) bool { return gone[e.Entity] })
	}
	var chat []*Stream
	for _, s := range added {
		if s.file == nil {
			chat = append(chat, s)
		}
	}
	changes = append(changes, r.bindLocked(p, chat, now)...)
	r.welcomeLocked(p, chat)
	r.bump()
	r.publishStreams()
	r.mu.Unlock()
	for _, s := range removed {
		s.session.Close(msrp.Local)
	}
	r.focus.bindings.add(changes...)
	r.focus.changed(r.name, true)
	return nil
}

// liveStreams returns the participant's streams now (a copy).
func (p *Participant) liveStreams() []*Stream {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	return slices.Clone(p.streams)
}

// Offer is the focus's own offer to a participant whose INVITE carried none (RFC 3261 §13.2.1):
// one MSRP m-line to the room's first chat channel. The answer arrives in the ACK (JoinAnswer).
type Offer struct {
	room    *Room
	session *msrp.Session
	media   sdp.MediaAnswer
}

// NewOffer prepares an offer for the room; call Discard if it is never answered.
func (f *Focus) NewOffer(room string) (*Offer, error) {
	if f.shuttingDown() {
		return nil, ErrShuttingDown
	}
	r := f.Room(room)
	if r == nil {
		return nil, ErrRoomNotFound
	}
	sess := f.endpoint.NewSession(f)
	return &Offer{room: r, session: sess, media: sdp.MediaAnswer{
		Port:               sess.LocalURI().Port,
		Proto:              "TCP/MSRP",
		Path:               []string{sess.LocalURI().String()},
		AcceptTypes:        []string{"message/cpim"},
		AcceptWrappedTypes: r.wrappedTypes(),
		MaxSize:            r.maxMessageSize(),
		Label:              r.channelFor(""),
		Setup:              "actpass", // RFC 6135 §4: the answer picks the direction
		Chatroom:           &sdp.Chatroom{Nickname: true, PrivateMessages: true},
	}}, nil
}

// Media returns the offered m-line, for sdp.BuildOffer.
func (o *Offer) Media() sdp.MediaAnswer { return o.media }

// Discard releases an offer that will not be answered.
func (o *Offer) Discard() { o.session.Close(msrp.Local) }

// JoinAnswer admits a participant whose SDP answer (req.Offer) answers o: as Join, with the
// MSRP session o advertised. An answer saying a=setup:passive makes the focus connect.
func (f *Focus) JoinAnswer(ctx context.Context, req JoinRequest, o *Offer) (*Participant, error) {
	if req.Offer == nil || len(req.Offer.Media) == 0 {
		o.Discard()
		return nil, ErrNotAcceptable
	}
	req.Offer.Media = req.Offer.Media[:1]
	p, _, err := f.join(ctx, req, o)
	if err != nil {
		o.Discard() // Close is idempotent: join may have closed it already
		return nil, err
	}
	p.room.mu.Lock()
	for _, s := range p.streams {
		answer := o.media
		answer.Setup = s.answer.Setup // active or passive, from the answer's a=setup
		s.answer = answer
	}
	p.room.mu.Unlock()
	return p, nil
}
