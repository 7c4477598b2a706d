package ccmp

import (
	"strings"

	"github.com/parleychat/parley/focus"
	"github.com/parleychat/parley/xcon"
)

// Roles (RFC 6501 §4.6.5.2; their rights are policy, RFC 6503 §10.2). A principal's role in a
// room is the highest of its <user><roles> entries there; a principal with Admin is an
// administrator everywhere (the embedded default, loopback, is one).
//
//	administrator  everything, including delete, closing and changing roles. The creator of
//	               a room is recorded as a user with the roles administrator and organizer
//	               (liblinphone's name for the creator; both mean the same here).
//	moderator      change the room and its users, add, change and remove other users,
//	               sidebars; not delete the room, close it or change roles.
//	participant,   read the room and its users; join, change and remove themselves (their
//	observer       nickname, not their roles), subject to who they are to the room, the rule
//	               a SIP join applies (focus.Admits): not on the deny list; in a members-only
//	               room, an allowed-users-list target or a user of the object. Others, and
//	               banned users, read nothing of the room (401).
//
// Creating a room (and a sidebar by reference, a room of its own) is a privilege of its own:
// administrators and the creators configured (focus.MayCreateRoom).
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
