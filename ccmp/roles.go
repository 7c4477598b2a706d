package ccmp

import (
	"slices"
	"strings"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/xcon"
)

// Roles (RFC 6501 §4.6.5.2; their rights are policy, RFC 6503 §10.2). A principal's role in a
// room is the highest of its <user><roles> entries there; a principal with Admin is an
// administrator everywhere (the embedded default, loopback, is one).
//
//	administrator  everything, including delete, closing and giving any role. The creator of
//	               a room is recorded as a user with the roles administrator and organizer
//	               (liblinphone's name for the creator; both mean the same here).
//	moderator      change the room and its users, add, change and remove other users,
//	               sidebars; give voice and take it (the roles participant and observer) to
//	               users below moderator; not delete the room, close it, or give or take the
//	               roles moderator and administrator.
//	participant,   read the room and its users; join, change and remove themselves (their
//	observer       nickname, not their roles), subject to who they are to the room, the rule
//	               a SIP join applies (focus.Admits): not on the deny list; in a members-only
//	               room, an allowed-users-list target or a user of the object. Others, and
//	               banned users, read nothing of the room (401). An observer reads and does not
//	               send; in a moderated room a joiner without a role is one (a visitor).
//
// One rule (mayGiveRoles) judges every change of roles, whichever request carries it
// (userRequest, usersRequest, confRequest). Creating a room (and a sidebar by reference, a
// room of its own) is a privilege of its own: administrators and the creators configured
// (focus.MayCreateRoom).
const (
	roleNone = iota
	roleObserver
	roleParticipant
	roleModerator
	roleAdministrator
)

// creatorRoles are the roles recorded for the creator of a room, the same over CCMP and the
// SIP conference factory.
var creatorRoles = focus.CreatorRoles

func roleRank(r string) int {
	switch strings.ToLower(strings.TrimSpace(r)) {
	case "administrator", "organizer":
		return roleAdministrator
	case "moderator":
		return roleModerator
	case "participant", "user":
		return roleParticipant
	case "observer":
		return roleObserver
	}
	return roleNone
}

// role returns the principal's role in c.
func (p *Principal) role(c *xcon.Conference) int {
	if p.Admin {
		return roleAdministrator
	}
	best := roleNone
	if u := c.User(p.UserID); u != nil {
		for _, r := range u.Roles {
			best = max(best, roleRank(r))
		}
	}
	return best
}

func (p *Principal) administers(c *xcon.Conference) bool { return p.role(c) >= roleAdministrator }
func (p *Principal) moderates(c *xcon.Conference) bool   { return p.role(c) >= roleModerator }

// mayGiveRoles tells whether p may give the user entity of c the roles given: an
// administrator gives any; a moderator gives voice or takes it (participant, observer), and
// only to users below moderator; nobody else changes roles (CCMP 401).
func (p *Principal) mayGiveRoles(c *xcon.Conference, entity string, roles []string) error {
	if p.administers(c) {
		return nil
	}
	if !p.moderates(c) {
		return fail(CodeUnauthorized, "only a moderator or administrator of the room may change roles")
	}
	if len(roles) == 0 {
		return fail(CodeUnauthorized, "a moderator gives the role participant (voice) or observer")
	}
	for _, r := range roles {
		if k := roleRank(r); k != roleParticipant && k != roleObserver {
			return fail(CodeUnauthorized, "a moderator gives the role participant (voice) or observer; "+
				strings.TrimSpace(r)+" is given by an administrator of the room")
		}
	}
	if (&Principal{UserID: entity}).role(c) >= roleModerator {
		return fail(CodeUnauthorized, "only an administrator of the room may change the roles of a moderator or administrator")
	}
	return nil
}

// mayChangeRoles applies mayGiveRoles to every role an update changed, from the object it
// started from to the one it made.
func (p *Principal) mayChangeRoles(from, after *xcon.Conference) error {
	for _, u := range after.Users {
		old := from.User(u.Entity)
		if (old == nil && len(u.Roles) == 0) || (old != nil && slices.Equal(old.Roles, u.Roles)) {
			continue
		}
		if err := p.mayGiveRoles(from, u.Entity, u.Roles); err != nil {
			return err
		}
	}
	return nil
}
