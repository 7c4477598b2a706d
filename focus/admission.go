package focus

import (
	"crypto/subtle"
	"fmt"
	"strings"

	"github.com/parleychat/parley/xcon"
)

// The conference password's refusals (RFC 6501 §4.2.6 conference-password); both are
// ErrForbidden, so that a caller that does not tell them apart answers 403.
var (
	ErrPasswordRequired = fmt.Errorf("%w: a conference password is required", ErrForbidden)
	ErrPasswordInvalid  = fmt.Errorf("%w: wrong conference password", ErrForbidden)
)

// admissionLocked decides whether p may join the room now. Caller holds mu. The order is the one
// a caller can act on: moved, closed, barred, password, full. Who may come in is decided on the
// proven identity; being present already and counting heads go by the one the room shows.
func (r *Room) admissionLocked(p *Participant) error {
	if err := r.accessLocked(p.provenID, p.proven, p.admin); err != nil {
		return err
	}
	// A participant the focus dials out to was asked in by someone admitted (REFER) or by the
	// room's management (CCMP); it cannot know the password.
	if !p.invited {
		if err := r.passwordLocked(p.password, p.password != ""); err != nil {
			return err
		}
	}
	if r.conf.State.Locked != nil && *r.conf.State.Locked && !r.isLive(p.userID) {
		return ErrForbidden // RFC 4575 §5.5: a locked roster takes nobody new
	}
	return r.roomForLocked(p.userID)
}

// roomForLocked is the room's one capacity rule, for SIP joins and CCMP additions alike:
// maximum-user-count (RFC 6501 §4.2.9) bounds the users allowed to join, so the distinct users
// present are counted; a user present already takes no second place, and one provisioned but
// away takes none until he comes. Caller holds mu.
func (r *Room) roomForLocked(userID string) error {
	max := r.conf.Description.MaximumUserCount
	if max != nil && !r.isLive(userID) && uint32(r.liveUsers()) >= *max {
		return ErrRoomFull
	}
	return nil
}

// HasRoomFor tells whether the room has a place for the user userID (an XCON-USERID) now: nil,
// ErrRoomFull or ErrRoomNotFound. CCMP asks it before adding a user, as a SIP join does.
func (f *Focus) HasRoomFor(room, userID string) error {
	r := f.Room(room)
	if r == nil {
		return ErrRoomNotFound
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.roomForLocked(userID)
}

// accessLocked is the room's access rule for a user (by its proven identity) who joins or
// watches the roster: not closed or moved, join-handling allow, and then who the user is to the
// room (excludedLocked); admin is a server administrator. Caller holds mu.
func (r *Room) accessLocked(userID string, aor sipURI, admin bool) error {
	switch {
	case r.removed:
		return ErrRoomNotFound
	case r.policy.Successor != "":
		return r.focus.moved(r.policy.Successor) // session-chat §5.4
	case r.conf.State.Active != nil && !*r.conf.State.Active:
		return ErrForbidden
	case !strings.EqualFold(r.conf.JoinHandling, "allow"):
		// RFC 6501 §4.6.1: absent means block; confirm, authenticate and directed-operator
		// need a moderator or credentials this focus does not ask for yet.
		return ErrForbidden
	}
	return r.excludedLocked(userID, aor, admin)
}

// excludedLocked is the one rule on who a user is to a room, on every door (SIP joins and
// subscriptions, CCMP reads and joins, the log): ErrForbidden for a user on the deny list, or
// for a non-member of a members-only room. Members are the allowed-users-list's targets, the
// users the conference object holds (provisioned, with their roles: its creator and moderators
// among them) and the server's administrators. Caller holds mu.
func (r *Room) excludedLocked(userID string, aor sipURI, admin bool) error {
	switch {
	case r.barredLocked(userID, aor):
		return ErrForbidden
	case r.membersOnly() && !admin && !r.provisioned[strings.ToLower(userID)] &&
		!r.matchesAny(r.conf.AllowedUsers, userID, aor):
		return ErrForbidden
	}
	return nil
}

// Admits tells whether reader may read a room over CCMP (its object, users, sidebars and log):
// server administrators and the room's moderators always, anyone else unless excluded
// (excludedLocked), the same rule a SIP join applies to who the caller is.
// ErrRoomNotFound without the room, ErrForbidden otherwise.
func (f *Focus) Admits(room string, reader Reader) error {
	r := f.Room(room)
	if r == nil {
		return ErrRoomNotFound
	}
	return r.admits(reader)
}

// AdmitsJoin tells whether reader may join a room by itself over CCMP: who it is to the room
// (excludedLocked), as for a SIP join; a banned moderator is refused here too.
func (f *Focus) AdmitsJoin(room string, reader Reader) error {
	r := f.Room(room)
	if r == nil {
		return ErrRoomNotFound
	}
	return r.check(reader, false)
}

func (r *Room) admits(reader Reader) error { return r.check(reader, true) }

// check applies excludedLocked to a CCMP reader; moderators pass when reading.
func (r *Room) check(reader Reader, reading bool) error {
	aor, ok := parseSIPURI("sip:" + userPart(reader.UserID))
	if !ok {
		return ErrForbidden
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if reading && (reader.Admin || r.moderatesLocked(reader.UserID)) {
		return nil
	}
	return r.excludedLocked(xcon.UserIDFromAOR(aor.AOR()), aor, reader.Admin)
}

// barredLocked: the deny list names the user, and the admission policy does not set it aside
// (RFC 6501 §4.6.2: anonymous ignores it). Caller holds mu.
func (r *Room) barredLocked(userID string, aor sipURI) bool {
	return r.matchesAny(r.conf.DenyUsers, userID, aor) && !strings.EqualFold(r.conf.UserAdmissionPolicy, "anonymous")
}

// passwordLocked checks a conference password given (gave) with a join or a watch against the
// room's. Caller holds mu.
func (r *Room) passwordLocked(given string, gave bool) error {
	return checkPassword(r.conf, given, gave)
}

// CheckPassword applies a conference object's password to the one a request carries (nil: none):
// ErrPasswordRequired, ErrPasswordInvalid or nil. Joins and watches check it themselves.
func CheckPassword(c *xcon.Conference, given *string) error {
	if given == nil {
		return checkPassword(c, "", false)
	}
	return checkPassword(c, *given, true)
}

// checkPassword is the one rule for the conference password: the conference-password of a
// conf-uris entry (RFC 6501 §4.2.6); a room without one takes anything.
func checkPassword(c *xcon.Conference, given string, gave bool) error {
	want := ConferencePassword(c)
	switch {
	case want == "":
		return nil
	case !gave:
		return ErrPasswordRequired
	case subtle.ConstantTimeCompare([]byte(given), []byte(want)) != 1:
		return ErrPasswordInvalid
	}
	return nil
}

// ConferencePassword returns a conference object's password: the xcon:conference-password of
// its first conf-uris entry that has one (RFC 6501 §4.2.6), "" for none.
func ConferencePassword(c *xcon.Conference) string {
	for _, u := range c.Description.ConfURIs {
		if u.Password != "" {
			return u.Password
		}
	}
	return ""
}

// MayJoin tells whether identity would be admitted to room now, without joining it: for a
// signalling side that must answer before the participant's media are known (an INVITE
// without SDP).
func (f *Focus) MayJoin(room string, identity Identity) error {
	r := f.Room(room)
	if r == nil {
		return ErrRoomNotFound
	}
	p, err := f.newParticipant(r, identity, nil)
	if err != nil {
		return err
	}
	r.mu.Lock()
	err = r.admissionLocked(p)
	r.mu.Unlock()
	return f.redirect(err, p.provenID, p.proven, p.admin)
}

// MayWatch tells whether identity may subscribe to a room's roster (RFC 4575 subscriptions obey
// the room's ACL): the room must allow subscriptions (RFC 6501 allow-conference-event-subscription),
// then the admission rules except the ones about room for one more (locked, full). Participants
// present may always watch, unless barred since.
func (f *Focus) MayWatch(room string, identity Identity) error {
	var who checkedUser
	err := f.checkUser(room, identity, func(r *Room, u checkedUser) error {
		who = u
		if s := r.conf.State.AllowConferenceEventSubscription; s != nil && !*s {
			return ErrForbidden
		}
		if r.policy.Successor == "" && r.isLive(u.shownID) && !r.barredLocked(u.id, u.aor) {
			return nil
		}
		if err := r.accessLocked(u.id, u.aor, u.admin); err != nil {
			return err
		}
		return r.passwordLocked(u.password, u.password != "")
	})
	return f.redirect(err, who.id, who.aor, who.admin)
}

// checkedUser is an identity as the checks see it: the XCON-USERID the room shows, and the
// proven identity's XCON-USERID and URI.
type checkedUser struct {
	shownID  string
	id       string
	aor      sipURI
	password string
	admin    bool // a server administrator, proven
}

// checkUser runs check on room, under its lock, for identity: ErrRoomNotFound without the room,
// ErrForbidden for an identity that is not a SIP URI.
func (f *Focus) checkUser(room string, identity Identity, check func(r *Room, u checkedUser) error) error {
	r := f.Room(room)
	if r == nil {
		return ErrRoomNotFound
	}
	shown, ok := parseSIPURI(identity.AOR)
	if !ok {
		return ErrForbidden
	}
	proven, ok := parseSIPURI(identity.Proven())
	if !ok {
		return ErrForbidden
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return check(r, checkedUser{shownID: xcon.UserIDFromAOR(shown.AOR()), id: xcon.UserIDFromAOR(proven.AOR()),
		aor: proven, password: identity.Password, admin: f.isAdministrator(CreatorOf(identity))})
}

// membersOnly: a room with an allowed-users-list admits only its targets, unless its admission
// policy opens it (RFC 6501 §4.6.2: openAuthenticated and anonymous ignore the list).
func (r *Room) membersOnly() bool {
	p := strings.ToLower(r.conf.UserAdmissionPolicy)
	return len(r.conf.AllowedUsers) > 0 && p != "openauthenticated" && p != "anonymous"
}

// deniedLocked tells whether a present participant is now barred (deny list): by the identity
// the room shows (a moderator bans what he sees) or by the proven one. Caller holds mu.
func (r *Room) deniedLocked(p *Participant) bool {
	return r.matchesAny(r.conf.DenyUsers, p.userID, p.aor) || r.matchesAny(r.conf.DenyUsers, p.provenID, p.proven)
}

// matchesAny tells whether a user is named by one of targets: by XCON-USERID, by SIP URI, or
// by a domain wildcard "*@example.com" (RFC 6501 §4.6.3).
func (r *Room) matchesAny(targets []xcon.Target, userID string, aor sipURI) bool {
	for _, t := range targets {
		uri := strings.TrimSpace(t.URI)
		switch {
		case strings.EqualFold(uri, userID):
			return true
		case strings.HasPrefix(uri, "*@"):
			if strings.EqualFold(uri[2:], aor.Host) {
				return true
			}
		default:
			if u, ok := parseSIPURI(uri); ok && sameUser(u, aor) {
				return true
			}
		}
	}
	return false
}

// liveUsers counts the distinct users present. Caller holds mu.
func (r *Room) liveUsers() int { return len(r.live) }
