package focus

import (
	"strings"

	"github.com/parleychat/parley/xcon"
)

// Voice: who may send in a room. Roles are RFC 6501's <user><roles> entries (§4.6.5.2); their
// rights are policy. Observers listen. A moderated room (xcon.RoomPolicy.Moderated, XMPP's
// moderated room, XEP-0045 §8.4) has visitors: a joiner without a role of his own is recorded
// with the role observer, which is what conference-info and CCMP show for him, and may read,
// change his nickname and nothing else until a moderator gives him voice, the role
// participant (or a higher one). Voice follows the room's roles only: a server administrator
// dialling in is a visitor too until he gives himself a role over CCMP.

// Refusals of an MSRP SEND for want of voice (MSRP 403 comments).
const (
	refusedObserver = "Observers cannot send messages in this room"
	refusedVisitor  = "Visitors need voice from a moderator in this moderated room"
)

// Roles by rank, as roleRank orders them.
const (
	rankNone = iota
	rankObserver
	rankParticipant
	rankModerator
	rankAdministrator
)

// roleRank orders RFC 6501 roles (the order ccmp's authorization uses too). A role is looked
// up as written first, the usual case, and only then folded: it is read for every message.
func roleRank(role string) int {
	if r := exactRoleRank(role); r != rankNone {
		return r
	}
	return exactRoleRank(strings.ToLower(strings.TrimSpace(role)))
}

func exactRoleRank(role string) int {
	switch role {
	case "administrator", "organizer":
		return rankAdministrator
	case "moderator":
		return rankModerator
	case "participant", "user":
		return rankParticipant
	case "observer":
		return rankObserver
	}
	return rankNone
}

// voiceRefusal tells why the users in rows (a participant's, and the user it proved to be when
// anonymous; nil entries are users the room does not list) may not send, "" when they may: an
// observer role on any of them silences, and in a moderated room one of them needs the role
// participant or higher.
func voiceRefusal(moderated bool, rows ...*xcon.User) string {
	voiced := false
	for _, u := range rows {
		if u == nil {
			continue
		}
		for _, role := range u.Roles {
			switch rank := roleRank(role); {
			case rank == rankObserver:
				if moderated {
					return refusedVisitor
				}
				return refusedObserver
			case rank >= rankParticipant:
				voiced = true
			}
		}
	}
	if moderated && !voiced {
		return refusedVisitor
	}
	return ""
}

// sendRefusal is voiceRefusal for a participant of r, "" when it may send. An anonymous
// participant keeps the role of the user it proved to be.
func (r *Room) sendRefusal(p *Participant) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	rows := []*xcon.User{r.userLocked(p.userID)}
	if p.provenID != p.userID {
		rows = append(rows, r.userLocked(p.provenID))
	}
	return voiceRefusal(r.policy.Moderated, rows...)
}

// joinRoleLocked is the role recorded for a participant the room does not list yet: participant,
// or observer (a visitor) in a moderated room, unless the user it proved to be has voice there.
// Caller holds mu.
func (r *Room) joinRoleLocked(p *Participant) string {
	if !r.policy.Moderated {
		return "participant"
	}
	if p.provenID != p.userID && voiceRefusal(true, r.userLocked(p.provenID)) == "" {
		return "participant"
	}
	return "observer"
}

// voiceVisitorsLocked gives voice to the visitors of a room whose moderation was switched off:
// the users who only dialled in (not provisioned, so no one gave them their role) and hold
// nothing but the role observer a moderated room recorded for them. Caller holds mu; r.conf
// and r.provisioned are the new ones.
func (r *Room) voiceVisitorsLocked() {
	for _, u := range r.conf.Users {
		if r.provisioned[strings.ToLower(u.Entity)] || len(u.Roles) != 1 || roleRank(u.Roles[0]) != rankObserver {
			continue
		}
		u.Roles = []string{"participant"}
	}
}
