package focus

import (
	"errors"
	"strings"

	"github.com/parleychat/parley/msrp"
	"github.com/parleychat/parley/sdp"
)

// DialOut is a participant the focus invites into a room (a REFER to the room, RFC 4579 §5.5)
// between the focus's offer and the invitee's answer.
type DialOut struct {
	participant *Participant
	stream      *Stream
}

// DialOutOffer prepares the focus's side of an INVITE to target: a participant of room that is
// not in it yet, with one MSRP session, and the m-line to offer for it (a=setup:actpass, the
// session's a=path, accept-types message/cpim). dialog is the signalling side's handle
// (Participant.Dialog). Call DialOutAnswered with the answer, or DialOutFailed.
func (f *Focus) DialOutOffer(room string, target Identity, dialog any) (*DialOut, sdp.MediaAnswer, error) {
	if f.shuttingDown() {
		return nil, sdp.MediaAnswer{}, ErrShuttingDown
	}
	r := f.Room(room)
	if r == nil || r.Successor() != "" {
		return nil, sdp.MediaAnswer{}, ErrRoomNotFound
	}
	if aor, ok := parseSIPURI(target.AOR); !ok || (aor.Scheme != "sip" && aor.Scheme != "sips") {
		return nil, sdp.MediaAnswer{}, ErrForbidden
	}
	p, err := f.newParticipant(r, target, dialog)
	if err != nil {
		return nil, sdp.MediaAnswer{}, err
	}
	p.invited = true
	s := &Stream{participant: p, chatID: newChatID(), channel: r.channelFor(""),
		composing: newTokenBucket(isComposingRate, isComposingBurst)}
	s.session = f.endpoint.NewSession(f)
	s.session.SetUserData(s)
	s.session.SetMaxSize(r.maxMessageSize())
	p.streams = []*Stream{s}
	offer := sdp.MediaAnswer{
		Port:               s.session.LocalURI().Port,
		Proto:              "TCP/MSRP",
		Path:               []string{s.session.LocalURI().String()},
		AcceptTypes:        []string{"message/cpim"},
		AcceptWrappedTypes: r.wrappedTypes(),
		MaxSize:            r.maxMessageSize(),
		Setup:              "actpass", // RFC 6135 §4.2: the answerer picks
		Chatroom:           &sdp.Chatroom{Nickname: true, PrivateMessages: true},
	}
	return &DialOut{participant: p, stream: s}, offer, nil
}

// DialOutAnswered applies the invitee's SDP answer and adds the participant to the room. When
// the answer says a=setup:passive the focus connects and binds the session (RFC 6135); when it
// says active (or nothing), the focus waits for the invitee to connect.
func (f *Focus) DialOutAnswered(d *DialOut, answer *sdp.Session) (*Participant, error) {
	s := d.stream
	var m *sdp.Media
	for i := range answer.Media {
		if answer.Media[i].Port != 0 && answer.Media[i].IsMSRP() {
			m = &answer.Media[i]
			break
		}
	}
	if m == nil || m.Proto != "TCP/MSRP" || !m.Accepts("message/cpim") || len(m.Path) == 0 {
		f.DialOutFailed(d)
		return nil, ErrNotAcceptable
	}
	path, err := msrp.ParsePath(strings.Join(m.Path, " "))
	if err != nil {
		f.DialOutFailed(d)
		return nil, ErrNotAcceptable
	}
	s.offer = keptOffer(m, false)
	s.session.SetRemotePath(path)
	s.dialsOut = m.Setup == "passive"
	if err := d.participant.room.add(d.participant); err != nil {
		f.DialOutFailed(d)
		return nil, err
	}
	f.log.Info("participant dialled out", "room", d.participant.room.name, "user", d.participant.userID)
	if s.dialsOut {
		go f.connectOut(s)
	}
	return d.participant, nil
}

// DialOutFailed releases what DialOutOffer prepared when the invitee did not answer with 2xx.
func (f *Focus) DialOutFailed(d *DialOut) { d.stream.session.Close(msrp.Local) }

// ErrNotInvited is returned by MayInvite when the user may not bring others into the room.
var ErrNotInvited = errors.New("focus: the user may not invite others into this room")

// MayInvite tells whether identity may ask the focus to invite others into the room (a REFER
// outside the participant's dialog, RFC 4579 §5.5): it must be present, and give the room's
// conference password as a join would (its From proves nothing more). See MayInviteFrom.
func (f *Focus) MayInvite(room string, identity Identity, anyone bool) error {
	return f.checkUser(room, identity, func(r *Room, c checkedUser) error {
		if err := r.passwordLocked(c.password, c.password != ""); err != nil {
			return err
		}
		return r.mayInviteLocked(c.shownID, anyone)
	})
}

// MayInviteFrom is MayInvite for a participant's REFER inside its own dialog: it was admitted
// with the password, if any.
func (f *Focus) MayInviteFrom(p *Participant, anyone bool) error {
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.left.Load() {
		return ErrNotInvited
	}
	return r.mayInviteLocked(p.userID, anyone)
}

// mayInviteLocked is the rule on who brings others in: with anyone set every participant
// present may; otherwise the user needs the role moderator or administrator, or
// allow-invite-users-dynamically (RFC 6501 §4.6.5) in the conference object. Caller holds mu.
func (r *Room) mayInviteLocked(userID string, anyone bool) error {
	if !r.isLive(userID) {
		return ErrNotInvited
	}
	if anyone {
		return nil
	}
	u := r.conf.User(userID)
	if u == nil {
		return ErrNotInvited
	}
	if u.AllowInviteUsersDynamically != nil && *u.AllowInviteUsersDynamically {
		return nil
	}
	for _, role := range u.Roles {
		if strings.EqualFold(role, "moderator") || strings.EqualFold(role, "administrator") {
			return nil
		}
	}
	return ErrNotInvited
}

// Inviter is implemented by a Signaling that can call a user into a room on the focus's own
// initiative (dial-out, RFC 4579 §5.5 without a REFER).
type Inviter interface {
	Invite(room, target string)
}

// Invite makes the focus call target (a SIP URI) into room, asynchronously: the caller never
// waits on signalling. It reports false when the signalling side cannot dial out.
func (f *Focus) Invite(room, target string) bool {
	inv, ok := f.signaling.(Inviter)
	if !ok || f.Room(room) == nil {
		return false
	}
	inv.Invite(room, target)
	return true
}
